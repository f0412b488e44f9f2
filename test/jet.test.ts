/**
 * Taylor mode (`jet`): closed forms to order 12, nested `jvp` to order 8 on
 * random programs (test/properties' program generator), and jet through
 * jit, vmap and the higher-order primitives.
 *
 * The reference for a series x(t) = x0 + Σ_k d_k t^k / k! is g(t) = f(x(t))
 * differentiated k times in t by nested `jvp` at t = 0: an independent route
 * (JVP rules and the chain rule, no Taylor rule involved).
 *
 * NABLA_FC_RUNS (default 10) scales the run counts; NABLA_FC_SEED fixes the seed.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { arbProgram } from "../src/testing/index.js";
import { PRIMS, SPECS, apply, type PrimSpec } from "./properties/primitiveSpecs.js";
import type { Prim } from "./support/primitives.js";
import { fact, nestedAll } from "./support/jet.js";

type A = nb.NDArray;
const RUNS = Number(process.env.NABLA_FC_RUNS ?? 10);
const SEED = Number(process.env.NABLA_FC_SEED ?? 20261201);

const isFloatArr = (x: A): boolean => x.dtype === "float64" || x.dtype === "float32";
const vals = (x: A): number[] => Array.from(x.toTypedArray(), Number);

/** |got - want| ≤ tol · scale elementwise, with a message naming the order. */
function expectNear(got: A, want: A | number[], tol: number, scale: number, what: string): void {
  const g = vals(got);
  const w = Array.isArray(want) ? want : vals(want);
  expect(g.length, what).toBe(w.length);
  g.forEach((v, i) => {
    const err = Math.abs(v - w[i]!);
    if (!(err <= tol * scale)) expect.fail(`${what}, element ${i}: got ${v}, expected ${w[i]} (error ${err})`);
  });
}

/** The k-th derivatives, k = 1..K, of t ↦ f(x0 + Σ_j d_j t^j / j!) at t = 0, by nested jvp. */
function nestedJvp(f: (x: A) => A, x0: A, ds: readonly A[]): A[] {
  const K = ds.length;
  const g = (t: A): A => {
    let x = x0;
    ds.forEach((d, j) => (x = nb.add(x, nb.mul(d, nb.div(nb.pow(t, j + 1), fact(j + 1))))));
    return f(x);
  };
  const out: A[] = [];
  let h: (t: A) => A = g;
  for (let k = 1; k <= K; k++) {
    const prev = h;
    h = (t: A) => nb.jvp(prev, [t], [nb.onesLike(t)])[1];
    out.push(h(nb.array(0)));
  }
  return out;
}

/** The unit series x(t) = x0 + t (first term 1, the others 0). */
const unit = (K: number): number[] => [1, ...Array<number>(K - 1).fill(0)];

describe("jet: closed forms to order 12", () => {
  const K = 12;

  it("sin(x)·exp(x): d^k = 2^(k/2) e^x sin(x + kπ/4)", () => {
    for (const x of [-1.3, 0, 0.7, 2.1]) {
      const [y, s] = nb.jet((v: A) => nb.mul(nb.sin(v), nb.exp(v)), [x], [unit(K)]);
      expectNear(y, [Math.sin(x) * Math.exp(x)], 1e-15, 1, "primal");
      s.forEach((d, i) => {
        const k = i + 1;
        const want = 2 ** (k / 2) * Math.exp(x) * Math.sin(x + (k * Math.PI) / 4);
        // float64: coefficient k is a sum of O(k²) products of terms bounded by 2^(k/2) e^x / k!,
        // each rounded to 2^-53; 1e-13 of that bound covers k ≤ 12 with margin (measured ≤ 5e-14)
        expectNear(d, [want], 1e-13, 2 ** (k / 2) * Math.exp(x), `order ${k} at x = ${x}`);
      });
    }
  });

  it("tanh: d^k tanh = P_k(tanh x) with P_0 = y, P_{k+1} = P_k'(y)(1 - y²)", () => {
    // the polynomials P_k by exact integer arithmetic on coefficient lists (independent of nabla)
    const polys: number[][] = [[0, 1]];
    for (let k = 1; k <= K; k++) {
      const p = polys[k - 1]!;
      const dp = p.slice(1).map((c, i) => c * (i + 1));
      const q = Array<number>(dp.length + 2).fill(0);
      dp.forEach((c, i) => {
        q[i] = q[i]! + c;
        q[i + 2] = q[i + 2]! - c;
      });
      polys.push(q);
    }
    const evalP = (p: number[], y: number) => p.reduceRight((acc, c) => acc * y + c, 0);
    const absBound = (p: number[]) => p.reduce((a, c) => a + Math.abs(c), 0);
    for (const x of [-0.9, 0, 0.4, 1.7]) {
      const [, s] = nb.jet(nb.tanh, [x], [unit(K)]);
      s.forEach((d, i) => {
        const p = polys[i + 1]!;
        // scale Σ|c| bounds |P_k(y)| for |y| ≤ 1; relative rounding of O(k²) operations ≪ 1e-13
        expectNear(d, [evalP(p, Math.tanh(x))], 1e-13, absBound(p), `order ${i + 1} at x = ${x}`);
      });
    }
  });

  it("1/(1 + x²): d^k = (-1)^k k! sin((k+1)φ) / (1 + x²)^((k+1)/2), φ = atan2(1, x)", () => {
    for (const x of [-2, 0, 0.3, 1.5]) {
      const [, s] = nb.jet((v: A) => nb.reciprocal(nb.add(1, nb.square(v))), [x], [unit(K)]);
      const r = Math.sqrt(1 + x * x);
      const phi = Math.atan2(1, x);
      s.forEach((d, i) => {
        const k = i + 1;
        const bound = fact(k) / r ** (k + 1);
        const want = (-1) ** k * bound * Math.sin((k + 1) * phi);
        // the bound k!/r^(k+1) is the magnitude scale; O(k²) rounded operations per coefficient
        expectNear(d, [want], 1e-13, bound, `order ${k} at x = ${x}`);
      });
    }
  });

  it("higher input terms: x(t) = t²/2! gives f(x(t))'' = f'(0) and f'''' = 3 f''(0)", () => {
    // d²/dt² exp(t²/2) = 1 and d⁴/dt⁴ exp(t²/2) = 3 at t = 0 (Taylor series e^(t²/2) = 1 + t²/2 + t⁴/8)
    const [, s] = nb.jet(nb.exp, [0], [[0, 1, 0, 0]]);
    expectNear(s[0]!, [0], 0, 1, "order 1");
    expectNear(s[1]!, [1], 1e-15, 1, "order 2");
    expectNear(s[2]!, [0], 1e-15, 1, "order 3");
    expectNear(s[3]!, [3], 1e-15, 1, "order 4");
  });
});

describe("jet against nested jvp on random programs", () => {
  const withInput = arbProgram({ maxDepth: 3, maxDim: 2 }).chain((p) =>
    fc.tuple(fc.constant(p), p.input, fc.array(p.input, { minLength: 8, maxLength: 8 })),
  );

  it("order 8, every input term random", () => {
    fc.assert(
      fc.property(withInput, ([p, x, terms]) => {
        // terms of order j scaled by 1/j so high-order coefficients stay moderate
        const ds = terms.map((d, j) => nb.mul(d, 1 / (j + 1)));
        const [y, s] = nb.jet(p.f, [x], [ds]);
        expectNear(y, p.f(x), 1e-15, 1 + Math.max(...vals(p.f(x)).map(Math.abs)), "primal");
        const ref = nestedJvp(p.f, x, ds);
        s.forEach((d, i) => {
          const scale = 1 + Math.max(...vals(ref[i]!).map(Math.abs));
          // both sides are float64 evaluations of the same polynomial in the input terms by different
          // operation orders (O(k²) Taylor recurrences vs 2^k chain-rule expansions); 1e-10 of the
          // order's magnitude bounds their rounding difference with margin (measured ≤ 3e-13 on 20 programs)
          expectNear(d, ref[i]!, 1e-10, scale, `${p.expr}: order ${i + 1}`);
        });
      }),
      { seed: SEED, numRuns: Math.max(1, Math.round(RUNS / 2)) },
    );
  });
});

describe("jet composes", () => {
  const f = (x: A) => nb.sum(nb.mul(nb.tanh(x), nb.exp(nb.sin(x))));
  const x = nb.array([0.3, -0.8, 1.1]);
  const ds: [A, A, A] = [nb.array([1, 0.5, -1]), nb.array([0.2, 0, 0.3]), nb.array([0, -0.4, 0.1])];

  it("through jit (both ways) and vmap (both ways) it equals eager jet", () => {
    const [y0, s0] = nb.jet(f, [x], [ds]);
    const [y1, s1] = nb.jet(nb.jit(f), [x], [ds]);
    const [y2, s2] = nb.jit((v: A, a: A, b: A, c: A) => nb.jet(f, [v], [[a, b, c]]))(x, ...ds);
    // same operations in a different grouping (fused loops): 1e-13 relative to order-1 magnitudes
    for (const [y, s] of [
      [y1, s1],
      [y2, s2],
    ] as const) {
      expectNear(y, y0, 1e-13, 10, "primal");
      s.forEach((d, i) => expectNear(d, s0[i]!, 1e-13, 100, `order ${i + 1}`));
    }
    // vmap over the input: per example equals the loop
    const xs = nb.stack([x, nb.mul(x, 0.5)]);
    const per = (v: A) => nb.jet(nb.sin, [v], [[nb.onesLike(v), nb.zerosLike(v)]])[1][1]!;
    const batched = nb.vmap(per)(xs);
    expectNear(batched, nb.stack([per(x), per(nb.mul(x, 0.5))]), 1e-15, 1, "vmap(jet)");
    // jet of a vmapped function: d²/dt² sin(x + t) = -sin(x)
    const [, sv] = nb.jet(nb.vmap(nb.sin), [xs], [[nb.onesLike(xs), nb.zerosLike(xs)]]);
    expectNear(sv[1]!, nb.neg(nb.sin(xs)), 1e-15, 1, "jet(vmap)");
  });

  it("through cond, whileLoop and customJvp (their own Taylor rules) it equals nested jvp", () => {
    const withCond = (v: A) =>
      nb.cond(
        nb.greater(nb.sum(v), 0),
        (u: A) => nb.sum(nb.exp(u)),
        (u: A) => nb.sum(u),
        v,
      );
    // a data-dependent loop: c ← sin(1.5 c) while the counter is below 3
    const withLoop = (v: A) => {
      const [, c] = nb.whileLoop(
        ([i]: [A, A]) => nb.less(i, 3),
        ([i, c]: [A, A]) => [nb.add(i, 1), nb.sin(nb.mul(c, 1.5))] as [A, A],
        // a traced counter (0 · sum v), so staging keeps the loop as a while_loop primitive
        [nb.mul(nb.stopGradient(nb.sum(v)), 0), v] as [A, A],
      );
      return nb.sum(c);
    };
    const softplus = nb.customJvp(
      (u: A) => nb.log1p(nb.exp(u)),
      ([u], [du]) => [nb.log1p(nb.exp(u)), nb.mul(du, nb.sigmoid(u))],
    );
    const withCustom = (v: A) => nb.sum(softplus(v));
    // under jit the staged graph holds the cond / while_loop / custom_jvp_call primitives themselves
    for (const [name, g, prim] of [
      ["cond", nb.jit(withCond), "cond"],
      ["whileLoop", nb.jit(withLoop), "while_loop"],
      ["customJvp", nb.jit(withCustom), "custom_jvp_call"],
    ] as const) {
      expect(
        nb
          .makeGraph(g)(x)
          .equations.map((e) => e.prim),
      ).toContain(prim);
      const [, s] = nb.jet(g, [x], [ds]);
      const ref = nestedJvp(g, x, ds);
      // float64, order ≤ 3 of a few dozen operations: 1e-12 of the order's magnitude
      s.forEach((d, i) => expectNear(d, ref[i]!, 1e-12, 1 + Math.abs(vals(ref[i]!)[0]!), `${name}: order ${i + 1}`));
    }
  });

  it("checks its arguments", () => {
    expect(() => nb.jet(nb.sin, [1], [[1], [2]] as never)).toThrow(/^jet: expected one series per primal/);
    expect(() => nb.jet((a: A, b: A) => nb.mul(a, b), [1, 2], [[1], [1, 2]])).toThrow(/^jet: every series/);
    expect(() => nb.jet(nb.sin, [nb.zeros([2])], [[nb.zeros([3])]])).toThrow(/^jet: series term 1 leaf 0 has shape/);
    expect(() => nb.jet(nb.sin, [nb.array([1], { dtype: "int32" })], [[1]])).toThrow(nb.DTypeError);
  });
});

describe("jet of every primitive of the table against nested jvp (order 3)", () => {
  // the per-primitive specs of test/properties: operand generators on each primitive's smooth domain
  const K = 3;
  const smooth = PRIMS.filter((p) => SPECS[p].diff !== null);

  it.each(smooth)("%s", (prim) => {
    const spec = SPECS[prim] as unknown as PrimSpec<Prim>;
    const gen = spec.diff!.gen ?? spec.gen;
    fc.assert(
      fc.property(gen, fc.integer({ min: 1, max: 2 ** 30 }), (c, seed) => {
        const w = spec.diff!.wrt;
        const wrt = (w === "all" ? c.args.map((_, i) => i) : w.slice()).filter((k) => isFloatArr(c.args[k]!));
        if (wrt.length === 0) return;
        const g = (xs: A[]): A[] => {
          const args = c.args.slice();
          wrt.forEach((k, i) => (args[k] = xs[i]!));
          return apply(prim, args, c.params);
        };
        const xs = wrt.map((k) => c.args[k]!);
        // input terms uniform in (-0.5, 0.5) from a seeded generator (plain JS)
        let state = seed;
        const next = () => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return state / 2 ** 32 - 0.5;
        };
        const ds = xs.map((x) =>
          Array.from({ length: K }, () => {
            const n = x.shape.reduce((a, b) => a * b, 1);
            const data = Array.from({ length: n }, next);
            return nb.reshape(nb.array(data, { dtype: x.dtype }), x.shape);
          }),
        );
        const [ys, ss] = nb.jet((...v: A[]) => g(v), xs, ds);
        const ref = nestedAll(g, xs, ds);
        ys.forEach((y, o) => {
          if (!isFloatArr(y)) return;
          for (let k = 0; k < K; k++) {
            const r = ref[k]![o]!;
            const scale = 1 + Math.max(0, ...vals(r).map(Math.abs));
            // float64 evaluations of the same polynomial by the Taylor rule and by nested JVP rules:
            // 1e-9 of the order's magnitude; with a float32 operand or output (2^-24 per operation, the
            // input terms scaled by 1/k! in float32 too) 1e-4
            const f32 = y.dtype === "float32" || xs.some((x) => x.dtype === "float32");
            const tol = f32 ? 1e-4 : 1e-9;
            expectNear(ss[o]![k]!, r, tol, scale, `${prim}: output ${o}, order ${k + 1}`);
          }
        });
      }),
      { seed: SEED + 7, numRuns: 3 },
    );
  });
});
