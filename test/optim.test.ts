/**
 * nabla/optim: each optimiser's first steps against the published update
 * rules written out below in plain JS (no nabla inside the references),
 * schedules against their formulas, clipping against a hand-computed norm,
 * jit and vmap of a training step, and convex problems driven to their
 * known optimum.
 *
 * Tolerances: float64 runs are compared with 1e-13·(1 + |x|) (a few dozen
 * roundings of order 1e-16 each, the references doing the same arithmetic
 * in a possibly different order); float32 runs with 2e-6·(1 + |x|) (float32
 * epsilon 1.2e-7 times the same few dozen operations, with headroom for the
 * division by small bias corrections).
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import * as nb from "../src/index.js";
import * as optim from "../src/optim/index.js";
import { expectClose, vals } from "./support/assert.js";

const TOL64 = 1e-13;
const TOL32 = 2e-6;

// ---------------------------------------------------------------------------
// The problem the first-steps tests run: g_i(p) = p_i³ − 1 + i/2, so gradients
// change with the parameters and the references must feed updates back.

const P0 = [0.5, -1.5, 2];
const gradJs = (p: number[]): number[] => p.map((x, i) => x * x * x - 1 + i / 2);
const gradNb = (p: nb.NDArray): nb.NDArray =>
  nb.add(nb.sub(nb.mul(nb.mul(p, p), p), 1), nb.astype(nb.mul(nb.arange(p.size), 0.5), p.dtype));

/** Three steps of `opt` on the problem above; the parameters after each step. */
function runNabla(opt: optim.GradientTransformation<any>, dtype: "float32" | "float64", steps = 3): nb.NDArray[] {
  let p = nb.array(P0, { dtype });
  let s = opt.init(p);
  const out: nb.NDArray[] = [];
  for (let k = 0; k < steps; k++) {
    const [u, s2] = opt.update(gradNb(p), s, p);
    expect((u as nb.NDArray).dtype).toBe(dtype);
    p = optim.applyUpdates(p, u as nb.NDArray);
    s = s2;
    out.push(p);
  }
  return out;
}

/** Runs a plain-JS reference rule `step(p, g, t)` (t = 1, 2, 3) that mutates its own state and returns new params. */
function runReference(step: (p: number[], g: number[], t: number) => number[], steps = 3): number[][] {
  let p = [...P0];
  const out: number[][] = [];
  for (let t = 1; t <= steps; t++) {
    p = step(p, gradJs(p), t);
    out.push(p);
  }
  return out;
}

function expectSequence(opt: () => optim.GradientTransformation<any>, reference: () => number[][]): void {
  const ref = reference();
  const got64 = runNabla(opt(), "float64");
  got64.forEach((p, k) => expectClose(p, ref[k]!, [3], TOL64));
  const got32 = runNabla(opt(), "float32");
  got32.forEach((p, k) => {
    expect(p.dtype).toBe("float32");
    expectClose(p, ref[k]!, [3], TOL32);
  });
}

const zeros3 = (): number[] => [0, 0, 0];

describe("first three steps against the published rules", () => {
  it("sgd: p ← p − lr·g", () => {
    const lr = 0.1;
    expectSequence(
      () => optim.sgd(lr),
      () => runReference((p, g) => p.map((x, i) => x - lr * g[i]!)),
    );
  });

  it("sgd with momentum (optax trace): m ← g + μ·m, p ← p − lr·m", () => {
    const [lr, mu] = [0.1, 0.9];
    expectSequence(
      () => optim.sgd(lr, { momentum: mu }),
      () => {
        const m = zeros3();
        return runReference((p, g) =>
          p.map((x, i) => {
            m[i] = g[i]! + mu * m[i]!;
            return x - lr * m[i]!;
          }),
        );
      },
    );
  });

  it("sgd with Nesterov momentum (optax): m ← g + μ·m, p ← p − lr·(g + μ·m)", () => {
    const [lr, mu] = [0.05, 0.8];
    expectSequence(
      () => optim.sgd(lr, { momentum: mu, nesterov: true }),
      () => {
        const m = zeros3();
        return runReference((p, g) =>
          p.map((x, i) => {
            m[i] = g[i]! + mu * m[i]!;
            return x - lr * (g[i]! + mu * m[i]!);
          }),
        );
      },
    );
  });

  /** Kingma & Ba, Algorithm 1, with ε outside the root (and optax's ε_root inside). */
  const adamReference = (lr: (t: number) => number, b1: number, b2: number, eps: number, epsRoot = 0, wd = 0) => {
    const m = zeros3();
    const v = zeros3();
    return runReference((p, g, t) =>
      p.map((x, i) => {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
        const mHat = m[i]! / (1 - b1 ** t);
        const vHat = v[i]! / (1 - b2 ** t);
        return x - lr(t) * (mHat / (Math.sqrt(vHat + epsRoot) + eps) + wd * x);
      }),
    );
  };

  it("adam with the defaults b1 = 0.9, b2 = 0.999, eps = 1e-8", () => {
    expectSequence(
      () => optim.adam(0.01),
      () => adamReference(() => 0.01, 0.9, 0.999, 1e-8),
    );
  });

  it("adam with a large eps (placement outside the root) and epsRoot (inside)", () => {
    expectSequence(
      () => optim.adam(0.1, { b1: 0.5, b2: 0.8, eps: 0.3, epsRoot: 0.05 }),
      () => adamReference(() => 0.1, 0.5, 0.8, 0.3, 0.05),
    );
  });

  it("adam with a schedule: the learning rate of step t is the schedule at count t − 1", () => {
    // exponentialDecay(0.2, 1, 0.5): lr at count c is 0.2·0.5^c
    expectSequence(
      () => optim.adam(optim.exponentialDecay(0.2, 1, 0.5)),
      () => adamReference((t) => 0.2 * 0.5 ** (t - 1), 0.9, 0.999, 1e-8),
    );
  });

  it("adamw (Loshchilov & Hutter; optax): decoupled decay wd·p scaled by the learning rate", () => {
    expectSequence(
      () => optim.adamw(0.05, { weightDecay: 0.3 }),
      () => adamReference(() => 0.05, 0.9, 0.999, 1e-8, 0, 0.3),
    );
  });

  it("adamw's default weightDecay is 1e-4", () => {
    expectSequence(
      () => optim.adamw(0.05),
      () => adamReference(() => 0.05, 0.9, 0.999, 1e-8, 0, 1e-4),
    );
  });

  /** Tieleman & Hinton as optax: ν starts at 0, ε inside the root, momentum traced after the lr scaling. */
  const rmspropReference = (
    lr: number,
    d: number,
    eps: number,
    opts: { centered?: boolean; mom?: number; nesterov?: boolean },
  ) => {
    const v = zeros3();
    const mg = zeros3();
    const tr = zeros3();
    return runReference((p, g) =>
      p.map((x, i) => {
        v[i] = d * v[i]! + (1 - d) * g[i]! * g[i]!;
        mg[i] = d * mg[i]! + (1 - d) * g[i]!;
        const ms = opts.centered ? v[i]! - mg[i]! * mg[i]! : v[i]!;
        let u = (-lr * g[i]!) / Math.sqrt(ms + eps);
        if (opts.mom !== undefined) {
          tr[i] = u + opts.mom * tr[i]!;
          u = opts.nesterov ? u + opts.mom * tr[i]! : tr[i]!;
        }
        return x + u;
      }),
    );
  };

  it("rmsprop (decay 0.9, eps 1e-8, initial scale 0)", () => {
    expectSequence(
      () => optim.rmsprop(0.01),
      () => rmspropReference(0.01, 0.9, 1e-8, {}),
    );
  });

  it("rmsprop with a large eps (inside the root), centered", () => {
    expectSequence(
      () => optim.rmsprop(0.02, { decay: 0.7, eps: 0.2, centered: true }),
      () => rmspropReference(0.02, 0.7, 0.2, { centered: true }),
    );
  });

  it("rmsprop with momentum, plain and Nesterov", () => {
    expectSequence(
      () => optim.rmsprop(0.02, { decay: 0.8, momentum: 0.6 }),
      () => rmspropReference(0.02, 0.8, 1e-8, { mom: 0.6 }),
    );
    expectSequence(
      () => optim.rmsprop(0.02, { decay: 0.8, momentum: 0.6, nesterov: true }),
      () => rmspropReference(0.02, 0.8, 1e-8, { mom: 0.6, nesterov: true }),
    );
  });

  it("adagrad (Duchi et al.; optax: accumulator starts at 0.1, eps 1e-7 inside the root)", () => {
    for (const [init, eps] of [
      [0.1, 1e-7],
      [0.5, 0.25],
    ] as const) {
      expectSequence(
        () => (init === 0.1 ? optim.adagrad(0.3) : optim.adagrad(0.3, { initialAccumulatorValue: init, eps })),
        () => {
          const s: number[] = [init, init, init];
          return runReference((p, g) =>
            p.map((x, i) => {
              s[i] = s[i]! + g[i]! * g[i]!;
              return x - (0.3 * g[i]!) / Math.sqrt(s[i]! + eps);
            }),
          );
        },
      );
    }
  });

  it("adagrad gives a zero update where the accumulator is zero (no NaN)", () => {
    const opt = optim.adagrad(0.1, { initialAccumulatorValue: 0 });
    const [u] = opt.update(nb.array([0, 2]), opt.init(nb.zeros([2])));
    expectClose(u, [0, -0.1 * (2 / Math.sqrt(4 + 1e-7))], [2], TOL64);
  });

  it("chain(clipByGlobalNorm, sgd) clips before the step", () => {
    const maxNorm = 0.5;
    expectSequence(
      () => optim.chain(optim.clipByGlobalNorm(maxNorm), optim.sgd(0.1)),
      () =>
        runReference((p, g) => {
          const n = Math.hypot(...g);
          const c = n < maxNorm ? 1 : maxNorm / n;
          return p.map((x, i) => x - 0.1 * c * g[i]!);
        }),
    );
  });
});

describe("states", () => {
  it("are typed from the parameters, and hold a 0-d int32 count and moments shaped like the parameters", () => {
    const params = { w: nb.zeros([2, 3]), b: [nb.zeros([3]), 1.5] as [nb.NDArray, number] };
    const s = optim.adam(0.1).init(params);
    expectTypeOf(s.mu).toEqualTypeOf<{ w: nb.NDArray; b: [nb.NDArray, nb.NDArray] }>();
    expectTypeOf(s.count).toEqualTypeOf<nb.NDArray>();
    expect(s.count.dtype).toBe("int32");
    expect(s.count.shape).toEqual([]);
    expect(s.mu.w.shape).toEqual([2, 3]);
    expect(s.nu.b[1].shape).toEqual([]);
    const c = optim.chain(optim.clipByGlobalNorm(1), optim.sgd(0.1, { momentum: 0.9 })).init(params);
    expectTypeOf(c[1].trace).toEqualTypeOf<{ w: nb.NDArray; b: [nb.NDArray, nb.NDArray] } | undefined>();
    expect(c[1].trace!.w.shape).toEqual([2, 3]);
    const [u, s2] = optim.adam(0.1).update(params, s);
    expectTypeOf(u).toEqualTypeOf<{ w: nb.NDArray; b: [nb.NDArray, nb.NDArray] }>();
    expect(vals(s2.count)).toEqual([1]);
  });

  it("count increments once per update; float32 parameters keep float32 moments", () => {
    const opt = optim.rmsprop(0.1, { centered: true, momentum: 0.5 });
    let s = opt.init({ a: nb.zeros([2], { dtype: "float32" }) });
    for (let k = 0; k < 3; k++) s = opt.update({ a: nb.ones([2], { dtype: "float32" }) }, s)[1];
    expect(vals(s.count)).toEqual([3]);
    for (const t of [s.nu, s.mu!, s.trace!]) expect(t.a.dtype).toBe("float32");
  });

  it("update does not mutate its inputs", () => {
    const opt = optim.adamw(0.1);
    const p = { w: nb.array([1, 2]) };
    const g = { w: nb.array([0.5, -0.5]) };
    const s = opt.init(p);
    opt.update(g, s, p);
    expect(p.w.toArray()).toEqual([1, 2]);
    expect(g.w.toArray()).toEqual([0.5, -0.5]);
    expect(vals(s.mu.w)).toEqual([0, 0]);
    expect(vals(s.count)).toEqual([0]);
  });
});

describe("clipByGlobalNorm", () => {
  const tree = { a: nb.array([3, 4]), b: nb.array([[12]]) }; // global norm √(9 + 16 + 144) = 13
  it("rescales to maxNorm when the global norm exceeds it", () => {
    const clip = optim.clipByGlobalNorm(2);
    const [u] = clip.update(tree, clip.init(tree));
    expectClose(u.a, [(3 * 2) / 13, (4 * 2) / 13], [2], TOL64);
    expectClose(u.b, [(12 * 2) / 13], [1, 1], TOL64);
  });
  it("leaves updates below the bound unchanged", () => {
    const clip = optim.clipByGlobalNorm(13.5);
    const [u] = clip.update(tree, clip.init(tree));
    expect(vals(u.a)).toEqual([3, 4]);
    expect(vals(u.b)).toEqual([12]);
  });
});

describe("schedules against their formulas", () => {
  const at = (s: optim.Schedule, c: number): number => s(c).item();
  const steps = [0, 1, 5, 10, 37, 100, 250];

  it("constant", () => {
    for (const c of steps) expect(at(optim.constant(0.3), c)).toBe(0.3);
  });

  it("exponentialDecay: init·rate^((c − begin)/steps), staircase, begin, end value", () => {
    const s = optim.exponentialDecay(2, 10, 0.9);
    for (const c of steps) expect(at(s, c)).toBeCloseTo(2 * 0.9 ** (c / 10), 14);
    const st = optim.exponentialDecay(2, 10, 0.9, 5, true, 1.5);
    for (const c of steps) {
      const want = c <= 5 ? 2 : Math.max(1.5, 2 * 0.9 ** Math.floor((c - 5) / 10));
      expect(at(st, c)).toBeCloseTo(want, 14);
    }
    const up = optim.exponentialDecay(1, 10, 2, 0, false, 3); // growth, capped at 3
    for (const c of steps) expect(at(up, c)).toBeCloseTo(Math.min(3, 2 ** (c / 10)), 13);
  });

  it("cosineDecay: init·((1 − α)·(½(1 + cos(π·min(c, T)/T)))^p + α)", () => {
    const s = optim.cosineDecay(0.5, 100, 0.1);
    const s2 = optim.cosineDecay(0.5, 100, 0.1, 2);
    for (const c of steps) {
      const cd = 0.5 * (1 + Math.cos((Math.PI * Math.min(c, 100)) / 100));
      expect(at(s, c)).toBeCloseTo(0.5 * (0.9 * cd + 0.1), 14);
      expect(at(s2, c)).toBeCloseTo(0.5 * (0.9 * cd * cd + 0.1), 14);
    }
  });

  it("warmupCosineDecay: linear warmup to the peak, then cosine to the end value", () => {
    const [init, peak, warm, total, end] = [0.01, 1, 10, 110, 0.05];
    const s = optim.warmupCosineDecay(init, peak, warm, total, end);
    for (const c of [...steps, 9, 11, 60, 109, 110, 500]) {
      let want: number;
      if (c < warm) want = init + ((peak - init) * c) / warm;
      else {
        const t = Math.min(c - warm, total - warm);
        const alpha = end / peak;
        want = peak * ((1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * t) / (total - warm))) + alpha);
      }
      expect(at(s, c)).toBeCloseTo(want, 14);
    }
    expect(at(s, total)).toBeCloseTo(end, 14);
    expect(at(s, warm)).toBeCloseTo(peak, 14);
  });

  it("piecewiseConstant: init times the scales of every boundary reached (count >= boundary)", () => {
    const s = optim.piecewiseConstant(1, { 30: 0.5, 10: 0.1 });
    for (const c of [0, 9, 10, 11, 29, 30, 100]) expect(at(s, c)).toBeCloseTo(c < 10 ? 1 : c < 30 ? 0.1 : 0.05, 15);
  });

  it("take count arrays elementwise and int32 counts", () => {
    const s = optim.cosineDecay(1, 4);
    expectClose(s(nb.array([0, 2, 4], { dtype: "int32" })), [1, 0.5, 0], [3], TOL64);
  });

  it("reject bad arguments with NablaError naming the schedule", () => {
    expect(() => optim.cosineDecay(1, 0)).toThrow(/^cosineDecay: decaySteps/);
    expect(() => optim.exponentialDecay(1, -1, 0.5)).toThrow(/^exponentialDecay: transitionSteps/);
    expect(() => optim.exponentialDecay(1, 10, 0)).toThrow(/^exponentialDecay: decayRate/);
    expect(() => optim.warmupCosineDecay(0, 1, 10, 10)).toThrow(/^warmupCosineDecay: decaySteps/);
    expect(() => optim.piecewiseConstant(1, { 5: -1 })).toThrow(/^piecewiseConstant: scale/);
    expect(() => optim.constant(NaN)).toThrow(nb.NablaError);
  });
});

// ---------------------------------------------------------------------------
// jit and vmap

type Params = { w: nb.NDArray; b: nb.NDArray };
const target = { w: nb.array([1, -2, 0.5]), b: nb.array(0.25) };
const lossFn = (p: Params): nb.NDArray =>
  nb.add(nb.sum(nb.square(nb.sub(nb.mul(p.w, p.w), target.w))), nb.square(nb.sub(p.b, target.b)));

function makeStep<K extends optim.StateKind>(opt: optim.GradientTransformation<K>) {
  return (p: Params, s: optim.StateOf<K, Params>): [Params, optim.StateOf<K, Params>] => {
    const g: Params = nb.grad(lossFn)(p);
    const [u, s2] = opt.update(g, s, p);
    return [optim.applyUpdates(p, u), s2];
  };
}

const optimisers: [string, () => optim.GradientTransformation<any>][] = [
  ["sgd+nesterov", () => optim.sgd(0.05, { momentum: 0.9, nesterov: true })],
  ["adam+warmupCosine", () => optim.adam(optim.warmupCosineDecay(0, 0.1, 2, 10))],
  ["adamw", () => optim.adamw(0.1, { weightDecay: 0.05 })],
  ["rmsprop centered+momentum", () => optim.rmsprop(0.05, { centered: true, momentum: 0.5 })],
  ["adagrad+piecewise", () => optim.adagrad(optim.piecewiseConstant(0.2, { 2: 0.5 }))],
  ["chain(clip, adam)", () => optim.chain(optim.clipByGlobalNorm(0.5), optim.adam(0.1))],
];

describe("an update step under jit and vmap", () => {
  for (const [name, make] of optimisers) {
    it(`${name}: jit gives the same numbers as eager for 4 steps`, () => {
      const opt = make();
      const step = makeStep(opt);
      const jitted = nb.jit(step);
      let pe: Params = { w: nb.array([0.3, 0.7, -1.1]), b: nb.array(2) };
      let se = opt.init(pe);
      let pj = pe;
      let sj = se;
      for (let k = 0; k < 4; k++) {
        [pe, se] = step(pe, se);
        [pj, sj] = jitted(pj, sj);
        expectClose(pj.w, vals(pe.w), [3], 1e-14);
        expectClose(pj.b, vals(pe.b), [], 1e-14);
      }
      const [le, lj] = [nb.tree.leaves(se) as nb.NDArray[], nb.tree.leaves(sj) as nb.NDArray[]];
      expect(lj.length).toBe(le.length);
      le.forEach((l, i) => expectClose(lj[i]!, vals(l), [...l.shape], 1e-14));
    });

    it(`${name}: vmap over a batch of parameter sets equals a loop`, () => {
      const opt = make();
      const step = makeStep(opt);
      const batch: Params = {
        w: nb.array([
          [0.3, 0.7, -1.1],
          [1.5, -0.2, 0.4],
          [-0.9, 2.2, 0.05],
        ]),
        b: nb.array([2, -1, 0.5]),
      };
      let pv = batch;
      let sv = nb.vmap(opt.init)(batch) as optim.StateOf<any, Params>;
      const loop = [0, 1, 2].map((i) => {
        const p = {
          w: nb.reshape(nb.slice(batch.w, [i, 0], [i + 1, 3]), [3]),
          b: nb.reshape(nb.slice(batch.b, [i], [i + 1]), []),
        };
        return { p, s: opt.init(p) };
      });
      const vstep = nb.vmap(step);
      for (let k = 0; k < 3; k++) {
        [pv, sv] = vstep(pv, sv);
        for (const e of loop) [e.p, e.s] = step(e.p, e.s);
        expectClose(
          pv.w,
          loop.flatMap((e) => vals(e.p.w)),
          [3, 3],
          1e-14,
        );
        expectClose(
          pv.b,
          loop.map((e) => e.p.b.item()),
          [3],
          1e-14,
        );
      }
      // the batched state holds one count per example
      const counts = (nb.tree.leaves(sv) as nb.NDArray[]).filter((l) => l.dtype === "int32");
      for (const c of counts) expect(vals(c)).toEqual([3, 3, 3]);
    });
  }

  it("jit of a whole training loop (forLoop) over the state", () => {
    const opt = optim.adam(0.05);
    const step = makeStep(opt);
    const p0: Params = { w: nb.array([0.3, 0.7, -1.1]), b: nb.array(2) };
    const train = nb.jit((p: Params) => nb.forLoop(0, 5, (_i, [q, s]) => step(q, s), [p, opt.init(p)] as const)[0]);
    let pe = p0;
    let se = opt.init(p0);
    for (let k = 0; k < 5; k++) [pe, se] = step(pe, se);
    const pj = train(p0) as Params;
    expectClose(pj.w, vals(pe.w), [3], 1e-14);
  });
});

// ---------------------------------------------------------------------------
// Convex problems to their optimum

describe("training drives convex problems to their known optimum", () => {
  it("least squares: adam and sgd+momentum reach the normal-equations solution", () => {
    const A = nb.random.normal(nb.random.key(7), [40, 3]);
    const b = nb.random.normal(nb.random.key(8), [40]);
    // x* = (AᵀA)⁻¹ Aᵀ b, computed here by Cramer's rule in plain JS
    const a = vals(A);
    const bv = vals(b);
    const M = [0, 1, 2].map((i) =>
      [0, 1, 2].map((j) => a.reduce((s, _v, r) => (r < 40 ? s + a[r * 3 + i]! * a[r * 3 + j]! : s), 0)),
    );
    const rhs = [0, 1, 2].map((i) => bv.reduce((s, v, r) => s + a[r * 3 + i]! * v, 0));
    const det3 = (m: number[][]) =>
      m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
      m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
      m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!);
    const d = det3(M);
    const xStar = [0, 1, 2].map((k) => det3(M.map((row, i) => row.map((v, j) => (j === k ? rhs[i]! : v)))) / d);

    const loss = (x: nb.NDArray): nb.NDArray => nb.mean(nb.square(nb.sub(nb.matmul(A, x), b)));
    const train = (opt: optim.GradientTransformation<any>, steps: number): nb.NDArray => {
      const step = nb.jit((x: nb.NDArray, s: unknown) => {
        const [u, s2] = opt.update(nb.grad(loss)(x) as nb.NDArray, s);
        return [optim.applyUpdates(x, u as nb.NDArray), s2] as const;
      });
      let x = nb.zeros([3]);
      let s = opt.init(x);
      for (let k = 0; k < steps; k++) [x, s] = step(x, s) as [nb.NDArray, unknown];
      return x;
    };
    // Adam with a cosine-decayed rate settles to within 1e-6 of x* (its steps shrink with the rate);
    // heavy-ball momentum on this well-conditioned quadratic converges linearly, to 1e-10.
    expectClose(train(optim.adam(optim.cosineDecay(0.1, 1500)), 1500), xStar, [3], 1e-6);
    expectClose(train(optim.sgd(0.2, { momentum: 0.5 }), 400), xStar, [3], 1e-10);
  });

  it("a quadratic with known minimiser: rmsprop, adagrad and adamw", () => {
    const c = [1.5, -0.5, 3];
    const f = (x: nb.NDArray): nb.NDArray => nb.sum(nb.mul(nb.square(nb.sub(x, nb.array(c))), nb.array([1, 4, 0.5])));
    const run = (opt: optim.GradientTransformation<any>, steps: number): nb.NDArray => {
      let x = nb.zeros([3]);
      let s = opt.init(x);
      const step = nb.jit((x0: nb.NDArray, s0: unknown) => {
        const [u, s2] = opt.update(nb.grad(f)(x0) as nb.NDArray, s0, x0);
        return [optim.applyUpdates(x0, u as nb.NDArray), s2] as const;
      });
      for (let k = 0; k < steps; k++) [x, s] = step(x, s) as [nb.NDArray, unknown];
      return x;
    };
    expectClose(run(optim.rmsprop(optim.exponentialDecay(0.05, 100, 0.5)), 2000), c, [3], 1e-5);
    expectClose(run(optim.adagrad(1), 3000), c, [3], 1e-6);
    // AdamW's fixed point has m̂/(√v̂ + ε) = −wd·x, i.e. |g| ≈ ε·wd·|x| ≈ 1e-12 here, so it is c to well
    // within the tolerance; the tolerance bounds how closely the cosine-decayed steps settle.
    expectClose(run(optim.adamw(optim.cosineDecay(0.1, 2000), { weightDecay: 1e-4 }), 2000), c, [3], 1e-4);
  });
});

describe("errors", () => {
  it("bad hyper-parameters throw NablaError naming the optimiser", () => {
    expect(() => optim.adam("x" as unknown as number)).toThrow(/^adam: learningRate/);
    expect(() => optim.adam(0.1, { b1: 1 })).toThrow(/^adam: b1/);
    expect(() => optim.sgd(0.1, { nesterov: true })).toThrow(/^sgd: nesterov/);
    expect(() => optim.rmsprop(0.1, { decay: -0.1 })).toThrow(/^rmsprop: decay/);
    expect(() => optim.adagrad(0.1, { eps: NaN })).toThrow(/^adagrad: eps/);
    expect(() => optim.clipByGlobalNorm(0)).toThrow(/^clipByGlobalNorm: maxNorm/);
    expect(() => optim.chain({} as optim.GradientTransformation)).toThrow(/^chain: argument 0/);
    expect(() => optim.adam(0.1, 3 as unknown as optim.AdamOptions)).toThrow(/^adam: options/);
  });

  it("an unknown option key (a typo) or a non-boolean flag throws, naming the optimiser and the options", () => {
    const bad = <T>(o: Record<string, unknown>): T => o as T;
    expect(() => optim.adam(0.1, bad({ beta1: 0.8 }))).toThrow(/^adam: unknown option "beta1" \(the options are "b1"/);
    expect(() => optim.adamw(0.1, bad({ weight_decay: 0.1 }))).toThrow(
      /^adamw: unknown option "weight_decay".*"weightDecay"/,
    );
    expect(() => optim.sgd(0.1, bad({ momentun: 0.9 }))).toThrow(/^sgd: unknown option "momentun"/);
    expect(() => optim.rmsprop(0.1, bad({ centred: true }))).toThrow(/^rmsprop: unknown option "centred"/);
    expect(() => optim.adagrad(0.1, bad({ initialAccumulator: 0.1 }))).toThrow(/^adagrad: unknown option/);
    expect(() => optim.sgd(0.1, bad({ momentum: 0.9, nesterov: "false" }))).toThrow(
      /^sgd: nesterov must be true or false, got "false"/,
    );
    expect(() => optim.rmsprop(0.1, bad({ centered: 1 }))).toThrow(/^rmsprop: centered must be true or false, got 1/);
    expect(() => optim.exponentialDecay(1, 10, 0.5, 0, "no" as unknown as boolean)).toThrow(
      /^exponentialDecay: staircase must be true or false/,
    );
    // every documented key is still accepted
    optim.adam(0.1, { b1: 0.8, b2: 0.9, eps: 1e-6, epsRoot: 0 });
    optim.adamw(0.1, { b1: 0.8, weightDecay: 0.1 });
    optim.sgd(0.1, { momentum: 0.9, nesterov: true });
    optim.rmsprop(0.1, { decay: 0.9, eps: 1e-8, initialScale: 0, centered: true, momentum: 0.5, nesterov: true });
    optim.adagrad(0.1, { initialAccumulatorValue: 0.1, eps: 1e-7 });
  });

  it("mismatched trees throw ShapeError naming the update, with the structures or shapes", () => {
    const opt = optim.adam(0.1);
    const s = opt.init({ w: nb.zeros([2]) });
    const wrongTree = { v: nb.zeros([2]) } as unknown as { w: nb.NDArray };
    expect(() => opt.update(wrongTree, s)).toThrow(nb.ShapeError);
    expect(() => opt.update(wrongTree, s)).toThrow(/^adam\.update: state\.mu has structure/);
    expect(() => opt.update({ w: nb.zeros([3]) }, s)).toThrow(/^adam\.update: state\.mu leaf 0 has shape \[2\].*\[3\]/);
    expect(() => optim.applyUpdates({ w: nb.zeros([2]) }, { w: nb.zeros([1]) })).toThrow(
      /^applyUpdates: updates leaf 0/,
    );
  });

  it("other misuse: int gradients, a missing state, adamw without params", () => {
    const opt = optim.adamw(0.1);
    const s = opt.init([nb.zeros([2])]);
    expect(() => opt.update([nb.zeros([2], { dtype: "int32" })], s)).toThrow(nb.DTypeError);
    expect(() => opt.update([nb.zeros([2])], s)).toThrow(/^adamw\.update: params are required/);
    expect(() => opt.update([nb.zeros([2])], {} as typeof s, [nb.zeros([2])])).toThrow(/^adamw\.update: state must be/);
    expect(() => optim.chain(optim.sgd(1)).update([nb.zeros([2])], [] as never)).toThrow(/^chain\.update: state/);
  });

  it("shape mismatches name both trees correctly and print shapes as every other message does ([2,2])", () => {
    const p = { w: nb.zeros([2, 2]) };
    // applyUpdates compares the updates against the params (not "the update leaf")
    expect(() => optim.applyUpdates(p, { w: nb.zeros([3]) })).toThrow(
      /^applyUpdates: updates leaf 0 has shape \[3\], but the params leaf has \[2,2\]$/,
    );
    expect(() => optim.applyUpdates(p, { v: nb.zeros([2, 2]) } as never)).toThrow(
      /^applyUpdates: updates has structure .*, but the params have /,
    );
    const o = optim.sgd(0.1);
    expect(() => o.update({ w: nb.zeros([3]) }, o.init(p), p)).toThrow(
      /^sgd\.update: params leaf 0 has shape \[2,2\], but the updates leaf has \[3\]$/,
    );
    const a = optim.adam(0.1);
    expect(() => a.update({ w: nb.zeros([3, 1]) }, a.init(p))).toThrow(
      /^adam\.update: state\.mu leaf 0 has shape \[2,2\], but the updates leaf has \[3,1\]$/,
    );
  });

  it("a state with other keys than init's (another optimiser's, other options') throws, uniformly", () => {
    const p = { w: nb.zeros([2]) };
    const g = { w: nb.ones([2]) };
    const opts: [string, optim.GradientTransformation][] = [
      ["sgd", optim.sgd(0.1)],
      ["sgd", optim.sgd(0.1, { momentum: 0.9 })],
      ["adam", optim.adam(0.1)],
      ["adamw", optim.adamw(0.1)],
      ["rmsprop", optim.rmsprop(0.1)],
      ["rmsprop", optim.rmsprop(0.1, { centered: true, momentum: 0.5 })],
      ["adagrad", optim.adagrad(0.1)],
    ];
    const states = opts.map(([, t]) => t.init(p) as Record<string, unknown>);
    const keysOf = (s: Record<string, unknown>) => Object.keys(s).sort().join(",");
    opts.forEach(([name, t]) => {
      const own = t.init(p) as Record<string, unknown>;
      // its own state (from init, and from a previous update) is accepted
      const [, next] = t.update(g, own, p);
      t.update(g, next, p);
      // every state with other keys is refused, naming the update and the keys
      states.forEach((other) => {
        if (keysOf(other) === keysOf(own)) return;
        const run = () => t.update(g, other, p);
        expect(run).toThrow(nb.NablaError);
        expect(run).toThrow(
          new RegExp(`^${name}\\.update: state must be the value returned by init.*expected the keys`),
        );
      });
      // an extra key is refused too, as is a count that is not an int32 scalar
      expect(() => t.update(g, { ...own, extra: 1 }, p)).toThrow(/expected the keys .*got .*extra/);
      expect(() => t.update(g, { ...own, count: nb.zeros([]) }, p)).toThrow(
        /count must be an int32 scalar, got float64\[\]/,
      );
    });
    // sgd given adam's state: the case that was silently accepted
    expect(() => optim.sgd(0.1).update(g, optim.adam(0.1).init(p), p)).toThrow(
      /^sgd\.update: state must be .*expected the keys count, got count, mu, nu$/,
    );
    // clipByGlobalNorm's state is init's empty object, and nothing else
    const clip = optim.clipByGlobalNorm(1);
    clip.update(g, clip.init(p));
    expect(() => clip.update(g, optim.adam(0.1).init(p) as never)).toThrow(
      /^clipByGlobalNorm\.update: state must be the value returned by init .*count, mu, nu/,
    );
  });
});
