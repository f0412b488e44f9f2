/**
 * Transform laws, checked with fast-check on random smooth functions and
 * random inputs:
 *
 * - jacfwd(f) == jacrev(f), and both agree with central finite differences
 *   of a plain-JS twin of f (the anchor that makes the laws non-vacuous);
 * - Hessians are symmetric and equal jacfwd(grad g) and jacrev(grad g);
 * - grad g equals the vjp of g with cotangent 1; vjp with a random cotangent
 *   equals ctᵀ J, and ⟨ct, J t⟩ = ⟨Jᵀ ct, t⟩;
 * - jvp is linear in the tangent;
 * - pytree flatten/unflatten round trips, leaf order (object keys sorted) and
 *   registered classes; grad over pytree arguments.
 *
 * Seeds are fixed per property (fast-check prints the seed and the shrunk
 * counterexample on failure). The number of runs is NABLA_FC_RUNS (default 25;
 * the pure pytree properties run 8x as many, being nearly free).
 *
 * Tolerances (all float64): two AD results for the same derivative differ
 * only by rounding: each entry is a sum of products of at most a few dozen
 * operations with relative error 2^-53 ≈ 1.1e-16 on values bounded by ~10, so
 * we compare at 1e-9 · (1 + max |entry|) — six orders of magnitude above the
 * rounding noise, and far below the O(1) error of a wrong rule. Central
 * differences with h = 1e-5 have truncation error h²|f'''|/6 ≲ 1e-8 for these
 * functions (third derivatives ≲ 1e2), so the FD anchor uses 1e-6 · scale.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import { fdJacobian } from "../support/reference.js";
import { at } from "../../src/core/errors.js";
import { fcSeed, fcSettings, seeded } from "../support/rng.js";

type A = nb.NDArray;

const { RUNS } = fcSettings({ seed: 0, runs: 25 });
const AD_TOL = 1e-9;
const FD_TOL = 1e-6;

function vals(x: A): number[] {
  return Array.from(x.toTypedArray(), Number);
}

/** Asserts |a_i - b_i| <= tol · (1 + max_j |b_j|) elementwise, with a message naming `what`. */
function assertClose(a: number[], b: number[], tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  const scale = 1 + b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  a.forEach((v, i) => {
    if (!(Math.abs(v - b[i]!) <= tol * scale))
      throw new Error(`${what}: element ${i}: ${v} vs ${b[i]} (tol ${tol * scale})`);
  });
}

// ---------------------------------------------------------------------------
// random smooth functions: small networks h <- act(W h + b) with smooth activations,
// built identically in nabla and in plain JS

interface Act {
  name: string;
  nb: (x: A) => A;
  js: (v: number[]) => number[];
}

const ew = (f: (v: number) => number) => (v: number[]) => v.map(f);

const ACTS: Act[] = [
  { name: "sin", nb: nb.sin, js: ew(Math.sin) },
  { name: "cos", nb: nb.cos, js: ew(Math.cos) },
  { name: "tanh", nb: nb.tanh, js: ew(Math.tanh) },
  { name: "sigmoid", nb: nb.sigmoid, js: ew((v) => 1 / (1 + Math.exp(-v))) },
  { name: "softplus", nb: nb.softplus, js: ew((v) => Math.log1p(Math.exp(v))) },
  { name: "x sin x", nb: (x) => nb.mul(x, nb.sin(x)), js: ew((v) => v * Math.sin(v)) },
  { name: "x/(1+x²)", nb: (x) => nb.div(x, nb.add(1, nb.mul(x, x))), js: ew((v) => v / (1 + v * v)) },
  { name: "exp(-x²/4)", nb: (x) => nb.exp(nb.mul(nb.mul(x, x), -0.25)), js: ew((v) => Math.exp((-v * v) / 4)) },
  { name: "sqrt(1+x²)", nb: (x) => nb.sqrt(nb.add(nb.square(x), 1)), js: ew((v) => Math.sqrt(1 + v * v)) },
  { name: "log1p(x²)", nb: (x) => nb.log1p(nb.square(x)), js: ew((v) => Math.log1p(v * v)) },
  { name: "arctan", nb: nb.arctan, js: ew(Math.atan) },
  {
    name: "softmax",
    nb: (x) => nb.softmax(x),
    js: (v) => {
      const m = Math.max(...v);
      const e = v.map((a) => Math.exp(a - m));
      const s = e.reduce((p, q) => p + q, 0);
      return e.map((a) => a / s);
    },
  },
  {
    name: "x * rev(x)",
    nb: (x) =>
      nb.mul(
        x,
        nb.concatenate(
          Array.from({ length: x.shape[0]! }, (_, i) => nb.slice(x, [x.shape[0]! - 1 - i], [x.shape[0]! - i])),
        ),
      ),
    js: (v) => v.map((a, i) => a * v[v.length - 1 - i]!),
  },
];

interface Net {
  n: number;
  /** input shape seen by the transforms ([n] or [2, 2] when n = 4 and matrix input was drawn) */
  inShape: number[];
  layers: { W: number[]; b: number[]; rows: number; cols: number; act: Act }[];
  m: number;
  describe: string;
}

const arbNet: fc.Arbitrary<Net> = fc
  .record({
    n: fc.integer({ min: 1, max: 4 }),
    outs: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
    acts: fc.array(fc.integer({ min: 0, max: ACTS.length - 1 }), { minLength: 3, maxLength: 3 }),
    matrixInput: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ n, outs, acts, matrixInput, seed }) => {
    const r = seeded(seed, -1, 1);
    let cols = n;
    const layers = outs.map((rows, i) => {
      const W = Array.from({ length: rows * cols }, r);
      const b = Array.from({ length: rows }, r);
      const layer = { W, b, rows, cols, act: ACTS[acts[i]!]! };
      cols = rows;
      return layer;
    });
    const inShape = matrixInput && n === 4 ? [2, 2] : [n];
    const describe =
      `in ${JSON.stringify(inShape)}: ` + layers.map((l) => `${l.act.name}(W[${l.rows}x${l.cols}] h + b)`).join(" -> ");
    return { n, inShape, layers, m: cols, describe };
  });

const arbX = fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 });
const arbVec4 = fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 });

function netNb(net: Net): (x: A) => A {
  const Ws = net.layers.map((l) => nb.array(new Float64Array(l.W), { shape: [l.rows, l.cols] }));
  const bs = net.layers.map((l) => nb.array(new Float64Array(l.b)));
  return (x: A) => {
    let h = nb.reshape(x, [net.n]);
    net.layers.forEach((l, i) => {
      h = l.act.nb(nb.add(nb.matmul(Ws[i]!, h), bs[i]!));
    });
    return h;
  };
}

function netJs(net: Net): (x: number[]) => number[] {
  return (x) => {
    let h = x.slice();
    for (const l of net.layers) {
      const z = l.b.map((bi, i) => {
        let s = bi;
        for (let j = 0; j < l.cols; j++) s += l.W[i * l.cols + j]! * h[j]!;
        return s;
      });
      h = l.act.js(z);
    }
    return h;
  };
}

/** Scalar functions built from a net: c·f(x), or logsumexp(f(x)). */
function scalarNb(net: Net, c: number[], lse: boolean): (x: A) => A {
  const f = netNb(net);
  const cv = nb.array(c.slice(0, net.m));
  return (x) => (lse ? nb.logsumexp(f(x)) : nb.sum(nb.mul(f(x), cv)));
}

const input = (net: Net, x: number[]): A => nb.array(new Float64Array(x.slice(0, net.n)), { shape: net.inShape });
const opts = (seed: number) => ({ seed: fcSeed(seed), numRuns: RUNS });
/** Pure pytree properties cost microseconds per run: give them more runs so rare shapes (multi-key objects) appear. */
const cheapOpts = (seed: number) => ({ seed: fcSeed(seed), numRuns: 8 * RUNS });

describe("Jacobian laws", () => {
  it("jacfwd == jacrev, with shape out.shape ++ in.shape, and both match finite differences", () => {
    fc.assert(
      fc.property(arbNet, arbX, (net, x) => {
        const f = netNb(net);
        const xa = input(net, x);
        const Jf = nb.jacfwd(f)(xa);
        const Jr = nb.jacrev(f)(xa);
        expect(Jf.shape).toEqual([net.m, ...net.inShape]);
        expect(Jr.shape).toEqual([net.m, ...net.inShape]);
        assertClose(vals(Jf), vals(Jr), AD_TOL, `jacfwd vs jacrev for ${net.describe}`);
        assertClose(vals(Jf), fdJacobian(netJs(net), x.slice(0, net.n)), FD_TOL, `jacfwd vs FD for ${net.describe}`);
      }),
      opts(1001),
    );
  });

  it("jvp is linear in the tangent: jvp(a t1 + b t2) = a jvp(t1) + b jvp(t2)", () => {
    fc.assert(
      fc.property(
        arbNet,
        arbX,
        arbVec4,
        arbVec4,
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        (net, x, t1, t2, a, b) => {
          const f = netNb(net);
          const xa = input(net, x);
          const T1 = input(net, t1);
          const T2 = input(net, t2);
          const [y0, d1] = nb.jvp(f, [xa], [T1]);
          const [, d2] = nb.jvp(f, [xa], [T2]);
          const [y3, d3] = nb.jvp(f, [xa], [nb.add(nb.mul(T1, a), nb.mul(T2, b))]);
          assertClose(vals(y3), vals(y0), 0, "primal output does not depend on the tangent");
          const comb = vals(d1).map((v, i) => a * v + b * vals(d2)[i]!);
          assertClose(vals(d3), comb, AD_TOL, `linearity for ${net.describe}`);
          // and the tangent is J t with the finite-difference Jacobian
          const J = fdJacobian(netJs(net), x.slice(0, net.n));
          const Jt = Array.from({ length: net.m }, (_, i) =>
            t1.slice(0, net.n).reduce((s, tj, j) => s + J[i * net.n + j]! * tj, 0),
          );
          assertClose(vals(d1), Jt, FD_TOL, `jvp vs FD for ${net.describe}`);
        },
      ),
      opts(1002),
    );
  });

  it("vjp: ctᵀJ equals the Jacobian's rows combined, and ⟨ct, J t⟩ = ⟨Jᵀ ct, t⟩", () => {
    fc.assert(
      fc.property(arbNet, arbX, arbVec4, arbVec4, (net, x, ctRaw, tRaw) => {
        const f = netNb(net);
        const xa = input(net, x);
        const ct = ctRaw.slice(0, net.m);
        const [y, pull] = nb.vjp(f, xa);
        expect(y.shape).toEqual([net.m]);
        const [g] = pull(nb.array(ct));
        expect(g.shape).toEqual(net.inShape);
        const J = vals(nb.jacfwd(f)(xa));
        const ctJ = Array.from({ length: net.n }, (_, j) => ct.reduce((s, c, i) => s + c * J[i * net.n + j]!, 0));
        assertClose(vals(g), ctJ, AD_TOL, `vjp vs ctᵀ·jacfwd for ${net.describe}`);
        const t = input(net, tRaw);
        const [, jt] = nb.jvp(f, [xa], [t]);
        const lhs = vals(jt).reduce((s, v, i) => s + v * ct[i]!, 0);
        const rhs = vals(g).reduce((s, v, i) => s + v * vals(t)[i]!, 0);
        assertClose([lhs], [rhs], AD_TOL, `adjoint identity for ${net.describe}`);
      }),
      opts(1003),
    );
  });
});

describe("Hessian and gradient laws", () => {
  it("Hessians are symmetric and equal jacfwd(grad g) and jacrev(grad g)", () => {
    fc.assert(
      fc.property(arbNet, arbX, arbVec4, fc.boolean(), (net, x, c, lse) => {
        const g = scalarNb(net, c, lse);
        const xa = input(net, x);
        const n = net.n;
        const H = nb.hessian(g)(xa);
        expect(H.shape).toEqual([...net.inShape, ...net.inShape]);
        const h = vals(H);
        const hT = h.map((_, k) => h[(k % n) * n + Math.floor(k / n)]!);
        assertClose(h, hT, AD_TOL, `symmetry for ${net.describe}`);
        assertClose(vals(nb.jacfwd(nb.grad(g))(xa)), h, AD_TOL, `jacfwd(grad) for ${net.describe}`);
        assertClose(vals(nb.jacrev(nb.grad(g))(xa)), h, AD_TOL, `jacrev(grad) for ${net.describe}`);
        // anchored: the Hessian is the finite-difference Jacobian of grad g
        const gradJs = (v: number[]) => vals(nb.grad(g)(input(net, v)));
        assertClose(h, fdJacobian(gradJs, x.slice(0, n)), FD_TOL, `Hessian vs FD of grad for ${net.describe}`);
      }),
      opts(1004),
    );
  });

  it("grad g equals vjp(g)(1) and valueAndGrad; and matches finite differences", () => {
    fc.assert(
      fc.property(arbNet, arbX, arbVec4, fc.boolean(), (net, x, c, lse) => {
        const g = scalarNb(net, c, lse);
        const xa = input(net, x);
        const gr = nb.grad(g)(xa);
        expect(gr.shape).toEqual(net.inShape);
        const [v, pull] = nb.vjp(g, xa);
        const [viaVjp] = pull(1);
        assertClose(vals(gr), vals(viaVjp), AD_TOL, `grad vs vjp for ${net.describe}`);
        const [v2, g2] = nb.valueAndGrad(g)(xa);
        assertClose(vals(g2), vals(gr), AD_TOL, `valueAndGrad for ${net.describe}`);
        assertClose(vals(v2), vals(v), 0, "values agree");
        const fj = netJs(net);
        const sJs = (xx: number[]) => {
          const y = fj(xx);
          if (!lse) return [y.reduce((s, yi, i) => s + yi * c[i]!, 0)];
          const m = Math.max(...y);
          return [m + Math.log(y.reduce((s, yi) => s + Math.exp(yi - m), 0))];
        };
        assertClose(vals(v), sJs(x.slice(0, net.n)), 1e-12, "value vs JS twin");
        assertClose(vals(gr), fdJacobian(sJs, x.slice(0, net.n)), FD_TOL, `grad vs FD for ${net.describe}`);
      }),
      opts(1005),
    );
  });
});

// ---------------------------------------------------------------------------
// pytrees

class Point {
  constructor(
    readonly x: unknown,
    readonly y: unknown,
  ) {}
}
class Tagged {
  constructor(
    readonly tag: string,
    readonly value: unknown,
  ) {}
}
nb.tree.register(
  Point,
  (p) => [[p.x, p.y], null],
  (_meta, [x, y]) => new Point(x, y),
);
nb.tree.register(
  Tagged,
  (t) => [[t.value], t.tag],
  (meta, [v]) => new Tagged(meta as string, v),
);

/** Reference flattening written here: leaves in order, object keys sorted, classes by their fields. */
function refLeaves(t: unknown, out: unknown[] = []): unknown[] {
  if (t instanceof nb.NDArray || typeof t === "number") out.push(t);
  else if (t === null || t === undefined) {
    /* empty */
  } else if (Array.isArray(t)) t.forEach((c) => refLeaves(c, out));
  else if (t instanceof Point) {
    refLeaves(t.x, out);
    refLeaves(t.y, out);
  } else if (t instanceof Tagged) refLeaves(t.value, out);
  else
    Object.keys(t as object)
      .sort()
      .forEach((k) => refLeaves((t as Record<string, unknown>)[k], out));
  return out;
}

/** Structural equality; leaves compared with `leafEq`. */
function sameTree(a: unknown, b: unknown, leafEq: (x: unknown, y: unknown) => boolean): boolean {
  if (a instanceof nb.NDArray || typeof a === "number") return leafEq(a, b);
  if (a === null || a === undefined) return a === b;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((c, i) => sameTree(c, b[i], leafEq));
  if (a instanceof Point) return b instanceof Point && sameTree(a.x, b.x, leafEq) && sameTree(a.y, b.y, leafEq);
  if (a instanceof Tagged) return b instanceof Tagged && a.tag === b.tag && sameTree(a.value, b.value, leafEq);
  if (typeof b !== "object" || b === null || Array.isArray(b) || b instanceof Point || b instanceof Tagged)
    return false;
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b).sort();
  return (
    JSON.stringify(ka) === JSON.stringify(kb) &&
    ka.every((k) => sameTree((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], leafEq))
  );
}

const arbLeafArray: fc.Arbitrary<A> = fc
  .record({
    shape: fc.constantFrom<number[]>([], [1], [3], [2, 2]),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .map(({ shape, seed }) => {
    const r = seeded(seed, -1, 1);
    const n = shape.reduce((p, d) => p * d, 1);
    return nb.array(new Float64Array(Array.from({ length: n }, r)), { shape });
  });

function arbTree(leaf: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof(
      { maxDepth: 4, depthIdentifier: "pytree", withCrossShrink: true },
      leaf,
      fc.constant(null),
      fc.constant(undefined),
      fc.array(tie("tree"), { maxLength: 3, depthIdentifier: "pytree" }),
      fc.dictionary(fc.constantFrom("a", "b", "c", "zz", "B", "10", "2"), tie("tree"), {
        maxKeys: 3,
        depthIdentifier: "pytree",
      }),
      fc.tuple(tie("tree"), tie("tree")).map(([x, y]) => new Point(x, y)),
      fc.tuple(fc.constantFrom("u", "v"), tie("tree")).map(([t, v]) => new Tagged(t, v)),
    ),
  }));
  return tree;
}

describe("pytree laws", () => {
  const leaf = fc.oneof(fc.double({ noNaN: false }), arbLeafArray);

  it("flatten then unflatten gives the same tree; leaves come in reference order (sorted keys)", () => {
    fc.assert(
      fc.property(arbTree(leaf), (t) => {
        const [leaves, def] = nb.tree.flatten(t);
        const ref = refLeaves(t);
        expect(leaves.length).toBe(ref.length);
        leaves.forEach((l, i) => expect(Object.is(l, ref[i])).toBe(true));
        const back = nb.tree.unflatten(def, leaves);
        expect(sameTree(t, back, Object.is)).toBe(true);
        expect(nb.tree.leaves(t).length).toBe(ref.length);
        expect(sameTree(t, nb.tree.unflatten(nb.tree.structure(t), nb.tree.leaves(t)), Object.is)).toBe(true);
      }),
      cheapOpts(2001),
    );
  });

  it("tree.map applies a function to every leaf and keeps the structure; unflatten checks the leaf count", () => {
    fc.assert(
      fc.property(arbTree(fc.double({ min: -10, max: 10, noNaN: true })), (t) => {
        const m = nb.tree.map((v) => (v as number) * 2 + 1, t);
        expect(sameTree(t, m, (a, b) => (b as number) === (a as number) * 2 + 1)).toBe(true);
        const m2 = nb.tree.map((u, v) => (u as number) - (v as number), t, t);
        expect(sameTree(t, m2, (_a, b) => b === 0)).toBe(true);
        const [leaves, def] = nb.tree.flatten(t);
        expect(() => nb.tree.unflatten(def, [...leaves, 1])).toThrow(nb.ShapeError);
        if (leaves.length > 0) expect(() => nb.tree.unflatten(def, leaves.slice(1))).toThrow(nb.ShapeError);
      }),
      cheapOpts(2002),
    );
  });

  it("fixed examples: sorted keys, null/undefined are empty, registered classes", () => {
    const [l1] = nb.tree.flatten({ b: 1, a: [2, 3], c: null, d: undefined });
    expect(l1).toEqual([2, 3, 1]);
    const [l2, d2] = nb.tree.flatten([null, new Point(4, { y: 6, x: 5 }), undefined]);
    expect(l2).toEqual([4, 5, 6]);
    const back = nb.tree.unflatten(d2, [7, 8, 9]) as unknown[];
    expect(back[0]).toBeNull();
    expect(back[2]).toBeUndefined();
    expect(back[1]).toBeInstanceOf(Point);
    expect((back[1] as Point).x).toBe(7);
    expect((back[1] as Point).y).toEqual({ x: 8, y: 9 });
    const [l3, d3] = nb.tree.flatten(new Tagged("hello", [1, 2]));
    expect(l3).toEqual([1, 2]);
    const t3 = nb.tree.unflatten(d3, [3, 4]) as Tagged;
    expect(t3).toBeInstanceOf(Tagged);
    expect(t3.tag).toBe("hello");
    expect(t3.value).toEqual([3, 4]);
  });

  it("grad over pytree arguments has the argument's structure, with NDArray leaves", () => {
    fc.assert(
      fc.property(arbTree(arbLeafArray), (t) => {
        const ref = refLeaves(t) as A[];
        // g(t) = Σ_i (i + 1) · sum(sin(leaf_i)); ∂g/∂leaf_i = (i + 1) cos(leaf_i)
        const g = (p: unknown) =>
          (nb.tree.leaves(p) as A[]).reduce<A>(
            (acc, l, i) => nb.add(acc, nb.mul(nb.sum(nb.sin(l)), i + 1)),
            nb.array(0),
          );
        const gr = nb.grad(g)(t);
        let k = 0;
        const ok = sameTree(t, gr, (a, b) => {
          const i = k++;
          if (!(b instanceof nb.NDArray)) return false;
          const x = a as A;
          expect(b.shape).toEqual(x.shape);
          assertClose(
            vals(b),
            vals(x).map((v) => (i + 1) * Math.cos(v)),
            1e-12,
            `leaf ${i}`,
          );
          return true;
        });
        expect(ok).toBe(true);
        expect(k).toBe(ref.length);
      }),
      opts(2003),
    );
  });

  it("number leaves of pytree arguments become NDArray leaves of the gradient", () => {
    const gr = nb.grad((p: { a: A; b: A[] }) => nb.add(nb.mul(p.a, p.a), nb.mul(p.b[0]!, 3)))({ a: 1.5, b: [2] });
    expect(gr.a).toBeInstanceOf(nb.NDArray);
    expect(gr.a.item()).toBe(3);
    expect(gr.b[0]).toBeInstanceOf(nb.NDArray);
    expect(at(gr.b, 0).item()).toBe(3);
  });
});
