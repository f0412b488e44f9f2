/**
 * The O(K²) Taylor rules that replaced the nested-jvp fallback (pow, atan2,
 * max/min and the extremum reductions and scatters, the special functions,
 * solve, triangular_solve, cholesky; det, slogdet, cofactor, expm and
 * expm_frechet are in jetRulesMatrix.test.ts): each against nested `jvp` to order 6
 * (an independent route: the primitives' JVP rules and the chain rule) and
 * against closed forms where they exist, plus a structural check that pow's
 * rule is not the exponential fallback.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { apply } from "./properties/primitiveSpecs.js";
import type { Prim, Params } from "./support/primitives.js";
import { seeded } from "./support/rng.js";
import { fact, nestedAll } from "./support/jet.js";
import { at } from "../src/core/errors.js";

type A = nb.NDArray;
const vals = (x: A): number[] => Array.from(x.toTypedArray(), Number);

/** |got - want| ≤ tol · (1 + max|want|) elementwise (non-finite values must match exactly). */
function expectNear(got: A, want: A | number[], tol: number, what: string): void {
  const g = vals(got);
  const w = Array.isArray(want) ? want : vals(want);
  expect(g.length, what).toBe(w.length);
  const scale = 1 + Math.max(0, ...w.filter(Number.isFinite).map(Math.abs));
  g.forEach((v, i) => {
    const t = w[i]!;
    if (!Number.isFinite(t)) {
      if (!Object.is(v, t) && !(Number.isNaN(v) && Number.isNaN(t)))
        expect.fail(`${what}, element ${i}: got ${v}, expected ${t}`);
      return;
    }
    if (!(Math.abs(v - t) <= tol * scale)) expect.fail(`${what}, element ${i}: got ${v}, expected ${t}`);
  });
}

/** Random input terms (uniform in (-0.5, 0.5), term j scaled by 1/j) shaped like x. */
function terms(r: ReturnType<typeof seeded>, x: A, K: number): A[] {
  const n = x.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: K }, (_, j) =>
    nb.reshape(
      nb.array(
        Array.from({ length: n }, () => r(-0.5, 0.5) / (j + 1)),
        { dtype: x.dtype },
      ),
      x.shape,
    ),
  );
}

/**
 * jet of prim (differentiated in the operands `wrt`, the others constant) against nested jvp to order K.
 * Tolerance: float64 evaluations of the same polynomial in the input terms by the Taylor recurrences
 * and by 2^K chain-rule expansions; 1e-9 of each order's magnitude bounds the rounding difference
 * (observed ≤ 1e-12 on these cases).
 */
function againstNested<P extends Prim>(
  prim: P,
  args: A[],
  params: Params[P],
  wrt: number[],
  seed: number,
  K = 6,
  tol = 1e-9,
): void {
  const r = seeded(seed);
  const g = (xs: A[]): A[] => {
    const a = args.slice();
    wrt.forEach((k, i) => (a[k] = xs[i]!));
    return apply(prim, a, params);
  };
  const xs = wrt.map((k) => args[k]!);
  const ds = xs.map((x) => terms(r, x, K));
  const [ys, ss] = nb.jet((...v: A[]) => g(v), xs, ds);
  const ref = nestedAll(g, xs, ds, K);
  ys.forEach((y, o) => {
    if (y.dtype !== "float64") return;
    for (let k = 0; k < K; k++)
      expectNear(ss[o]![k]!, ref[k]![o]!, tol, `${prim} wrt ${wrt}: output ${o}, order ${k + 1}`);
  });
}

/** The unit series of x: x(t) = x + t (first term ones, the others zeros). */
const unit = (x: A, K: number): A[] => [nb.onesLike(x), ...Array.from({ length: K - 1 }, () => nb.zerosLike(x))];
/** a (a-1) ... (a-k+1) */
const falling = (a: number, k: number): number => Array.from({ length: k }, (_, i) => a - i).reduce((p, v) => p * v, 1);

describe("pow", () => {
  const K = 8;
  it("constant non-integer exponent: d^k x^a = a(a-1)…(a-k+1) x^(a-k), and nested jvp", () => {
    const xs = [0.3, 1.1, 2.0];
    const a = 2.5;
    const [, s] = nb.jet(
      (x: A) => apply("pow", [x, nb.array([a, a, a])], {})[0]!,
      [nb.array(xs)],
      [unit(nb.array(xs), K)],
    );
    // float64, O(k²) terms each within a few ulps of the closed form's magnitude: 1e-12 relative
    s.forEach((d, i) =>
      expectNear(
        d,
        xs.map((x) => falling(a, i + 1) * x ** (a - i - 1)),
        1e-12,
        `order ${i + 1}`,
      ),
    );
    againstNested("pow", [nb.array([0.4, 1.3, 2.2]), nb.array([2.5, -0.7, 3.3])], {}, [0], 1);
  });

  it("integer exponents are exact at 0 and for negative bases, as the primitive's value", () => {
    for (const n of [2, 3, 5, -2, -3]) {
      const xs = n > 0 ? [-1.5, 0, 0.7] : [-1.5, -0.4, 0.7];
      const [, s] = nb.jet((x: A) => apply("pow", [x, nb.array(n)], {})[0]!, [nb.array(xs)], [unit(nb.array(xs), K)]);
      s.forEach((d, i) => {
        const k = i + 1;
        // closed form: n(n-1)…(n-k+1) x^(n-k) (at x = 0, n ≥ 0: k! for k = n, else 0)
        const want = xs.map((x) => (x === 0 ? (k === n ? fact(n) : 0) : falling(n, k) * x ** (n - k)));
        // float64; integer powers by repeated series products: 1e-12 relative
        expectNear(d, want, 1e-12, `x^${n}, order ${k}`);
      });
      againstNested("pow", [nb.array(xs), nb.array(n)], {}, [0], 2 + n);
    }
  });

  it("constant exponents 0, 1 and 2 (number, float and int32 arrays): closed forms, x^0 = 1 everywhere", () => {
    // x(t) = x0 + d1 t + d2 t²/2 + d3 t³/6 (derivative terms, as jet takes them)
    const xs = [-1.5, 0, 0.7];
    const d = [
      [1, -0.3, 2],
      [0.5, 1.2, -0.8],
      [-2, 0.25, 1.5],
    ];
    const d1 = (i: number) => at(at(d, 0), i);
    const d2 = (i: number) => at(at(d, 1), i);
    const d3 = (i: number) => at(at(d, 2), i);
    const closed: Record<number, { y: number[]; s: number[][] }> = {
      // x^0 = 1: every derivative is 0
      0: { y: xs.map(() => 1), s: d.map((t) => t.map(() => 0)) },
      // x^1 = x: the input terms
      1: { y: xs, s: d },
      // (x²)' = 2 x x', (x²)'' = 2 x'² + 2 x x'', (x²)''' = 6 x' x'' + 2 x x'''
      2: {
        y: xs.map((x) => x * x),
        s: [
          xs.map((x, i) => 2 * x * d1(i)),
          xs.map((x, i) => 2 * d1(i) ** 2 + 2 * x * d2(i)),
          xs.map((x, i) => 6 * d1(i) * d2(i) + 2 * x * d3(i)),
        ],
      },
    };
    for (const n of [0, 1, 2]) {
      const want = at(closed, n);
      const exponents: [string, number | A][] = [
        ["number", n],
        ["float64", nb.array(n)],
        ["int32", nb.array(n, { dtype: "int32" })],
      ];
      for (const [kind, e] of exponents) {
        const f = (x: A) => nb.pow(x, e);
        for (const [how, g] of [
          ["eager", f],
          ["jit", nb.jit(f)],
        ] as const) {
          const [p, s] = nb.jet(g, [nb.array(xs)], [d.map((t) => nb.array(t))]);
          const what = `x^${n}, ${kind} exponent, ${how}`;
          // at most two products and a sum of exact inputs per element: within a few ulps
          expectNear(p, want.y, 1e-15, `${what}, primal`);
          expect(s.length, what).toBe(3);
          s.forEach((c, k) => expectNear(c, at(want.s, k), 1e-15, `${what}, order ${k + 1}`));
        }
      }
    }
    // the reported case (a unit first term); x^0 is the constant 1 at 0 and at non-finite bases too
    for (const x0 of [1.7, 0, -2, Infinity, NaN]) {
      const [p0, s0] = nb.jet((x: A) => nb.pow(x, 0), [nb.array(x0)], [[1, 0, 0]]);
      expect(vals(p0), `${x0}^0`).toEqual([1]);
      expect(s0.map(vals), `${x0}^0`).toEqual([[0], [0], [0]]);
    }
    // and nested jvp agrees at nonzero bases, to order 6
    againstNested("pow", [nb.array([-1.5, 0.4, 2.2]), nb.array(0)], {}, [0], 11);
    againstNested("pow", [nb.array([-1.5, 0.4, 2.2]), nb.array(1)], {}, [0], 12);
  });

  it("non-integer exponent at x = 0: orders below the exponent are 0, the others non-finite", () => {
    const [, s] = nb.jet((x: A) => apply("pow", [x, nb.array(2.5)], {})[0]!, [nb.array([0])], [unit(nb.array([0]), 4)]);
    expect(vals(s[0]!)).toEqual([0]);
    expect(vals(s[1]!)).toEqual([0]);
    expect(Number.isFinite(vals(s[2]!)[0]!)).toBe(false);
  });

  it("traced exponent: d^k 2^(y+t) = ln(2)^k 2^y, and both operands traced against nested jvp", () => {
    const ys = [-1, 0.5, 3];
    const [, s] = nb.jet(
      (y: A) => apply("pow", [nb.array([2, 2, 2]), y], {})[0]!,
      [nb.array(ys)],
      [unit(nb.array(ys), K)],
    );
    // exp of a linear series: 1e-12 relative in float64
    s.forEach((d, i) =>
      expectNear(
        d,
        ys.map((y) => Math.LN2 ** (i + 1) * 2 ** y),
        1e-12,
        `order ${i + 1}`,
      ),
    );
    againstNested("pow", [nb.array([0.4, 1.3, 2.2]), nb.array([2.5, -0.7, 3.3])], {}, [0, 1], 3);
    againstNested("pow", [nb.array([0.4, 1.3, 2.2]), nb.array([2.5, -0.7, 3.3])], {}, [1], 4);
    // 0^y with a traced exponent is 0 near y > 0: the series is 0 (the primitive's log 0 = 0 convention)
    const [, z] = nb.jet(
      (y: A) => apply("pow", [nb.array(0), y], {})[0]!,
      [nb.array([1.5])],
      [unit(nb.array([1.5]), 3)],
    );
    z.forEach((d) => expect(vals(d)).toEqual([0]));
  });

  it("is the O(K²) recurrence, not nested jvp: the staged order-8 series is small", () => {
    const g = nb.makeGraph((x: A) => {
      const [, s] = nb.jet((v: A) => nb.pow(v, 2.5), [x], [Array.from({ length: 8 }, (_, j) => nb.mul(x, j + 1))]);
      return s[7]!;
    })(nb.array([1.5]));
    // every input term nonzero: the recurrence stages 158 equations (about 2.5 K²); nested jvp stages
    // 461 even after jit's CSE (2^K JVP applications before it)
    expect(g.equations.length).toBeLessThan(250);
  });
});

describe("atan2, max, min and the extremum reductions and scatters", () => {
  it("atan2(r sin(θ + t), r cos(θ + t)) = θ + t, and nested jvp", () => {
    const K = 8;
    const th = [-2.5, 0.3, 1.4];
    const r = 1.7;
    const a0 = th.map((t) => r * Math.sin(t));
    const b0 = th.map((t) => r * Math.cos(t));
    const da = Array.from({ length: K }, (_, j) => nb.array(th.map((t) => r * Math.sin(t + ((j + 1) * Math.PI) / 2))));
    const db = Array.from({ length: K }, (_, j) => nb.array(th.map((t) => r * Math.cos(t + ((j + 1) * Math.PI) / 2))));
    const [y, s] = nb.jet((a: A, b: A) => apply("atan2", [a, b], {})[0]!, [nb.array(a0), nb.array(b0)], [da, db]);
    expectNear(y, th, 1e-15, "primal");
    // float64; the input terms carry rounding of sin/cos (1e-16) amplified by O(k²) recurrence terms
    s.forEach((d, i) =>
      expectNear(
        d,
        th.map(() => (i === 0 ? 1 : 0)),
        1e-12,
        `order ${i + 1}`,
      ),
    );
    againstNested("atan2", [nb.array([0.5, -1.2, 2]), nb.array([1.1, 0.4, -0.8])], {}, [0, 1], 5);
    againstNested("atan2", [nb.array([0.5, -1.2, 2]), nb.array([1.1, 0.4, -0.8])], {}, [1], 6);
  });

  it("max / min select the winning operand's coefficients (ties average), as nested jvp", () => {
    const x = nb.array([0.5, -1, 2, 0.3]);
    const y = nb.array([0.1, -0.5, 2, 0.9]);
    for (const p of ["max", "min"] as const) {
      againstNested(p, [x, y], {}, [0, 1], 7);
      againstNested(p, [x, y], {}, [0], 8);
    }
    // closed form: max(x + t², 1) at x = [2, 0]: second derivative 2 where x wins, 0 elsewhere
    const [, s] = nb.jet(
      (v: A) => apply("max", [v, nb.array([1, 1])], {})[0]!,
      [nb.array([2, 0])],
      [[nb.zeros([2]), nb.full([2], 2), nb.zeros([2])]],
    );
    expect(vals(s[1]!)).toEqual([2, 0]);
    expect(vals(s[0]!)).toEqual([0, 0]);
  });

  it("reduce_max / reduce_min and scatter_max / scatter_min against nested jvp", () => {
    const m = nb.array([
      [0.5, 2, -1],
      [3, 3, 0.2],
    ]);
    againstNested("reduce_max", [m], { axes: [1] }, [0], 9);
    againstNested("reduce_min", [m], { axes: [0, 1] }, [0], 10);
    const x = nb.array([0.5, 1, -2, 0.7]);
    const idx = nb.array([0, 2, 0, 3, 2], { dtype: "int32" });
    const u = nb.array([0.9, -3, 0.2, 0.7, -1]);
    againstNested("scatter_max", [x, idx, u], {}, [0, 2], 11);
    againstNested("scatter_min", [x, idx, u], {}, [0, 2], 12);
  });
});

describe("special functions", () => {
  it("lgamma at 1: d = -γ, d^k = (-1)^k (k-1)! ζ(k) (k ≥ 2)", () => {
    const zeta = [0, 0, Math.PI ** 2 / 6, 1.2020569031595942, Math.PI ** 4 / 90, 1.03692775514337, Math.PI ** 6 / 945];
    const gamma = 0.5772156649015329;
    const [, s] = nb.jet((x: A) => apply("lgamma", [x], {})[0]!, [nb.array([1])], [unit(nb.array([1]), 6)]);
    s.forEach((d, i) => {
      const k = i + 1;
      const want = k === 1 ? -gamma : (-1) ** k * fact(k - 1) * zeta[k]!;
      // float64 polygamma values (the kernels' accuracy, ~1e-14 relative) composed: 1e-12 relative
      expectNear(d, [want], 1e-12, `order ${k}`);
    });
  });

  it("erfinv(erf(x + t)) = x + t", () => {
    const xs = [-0.8, 0.1, 1.2];
    const [, s] = nb.jet(
      (x: A) => apply("erfinv", apply("erf", [x], {}), {})[0]!,
      [nb.array(xs)],
      [unit(nb.array(xs), 8)],
    );
    // float64, two O(k²) recurrences composed: the cancellation is against erf's own order-k terms
    // (|d⁸ erf(1.2)| ≈ 240 = 2/√π e^(-x²) H₇(x)), so the tolerance is 1e-12 of their largest magnitude
    // (measured 6e-14 of it)
    const [, e] = nb.jet((x: A) => apply("erf", [x], {})[0]!, [nb.array(xs)], [unit(nb.array(xs), 8)]);
    const big = Math.max(...e.flatMap((d) => vals(d).map(Math.abs)));
    s.forEach((d, i) =>
      expectNear(
        d,
        xs.map(() => (i === 0 ? 1 : 0)),
        1e-12 * big,
        `order ${i + 1}`,
      ),
    );
  });

  it("lgamma, digamma, polygamma, erfc, erfinv, xlogy, xlog1py against nested jvp", () => {
    const x = nb.array([0.7, 1.9, 3.4]);
    againstNested("lgamma", [x], {}, [0], 13);
    againstNested("digamma", [x], {}, [0], 14);
    againstNested("polygamma", [nb.array([0, 1, 2]), x], {}, [1], 15);
    againstNested("erfc", [nb.array([-0.8, 0.3, 1.6])], {}, [0], 16);
    againstNested("erfinv", [nb.array([-0.6, 0.1, 0.5])], {}, [0], 17);
    for (const p of ["xlogy", "xlog1py"] as const) {
      for (const wrt of [[0, 1], [0], [1]]) againstNested(p, [nb.array([0.7, -1.3, 2]), x], {}, wrt, 18 + wrt.length);
    }
  });
});

describe("linear algebra", () => {
  const a3 = nb.array([
    [3, 0.5, -0.4],
    [0.2, 2.5, 0.3],
    [-0.6, 0.1, 4],
  ]);
  const b3 = nb.array([
    [1, -0.5],
    [0.3, 2],
    [-1.2, 0.4],
  ]);

  it("solve: A(t) = (1 + t) A gives z(t) = z / (1 + t), d^k = (-1)^k k! z; and nested jvp", () => {
    const K = 8;
    const [z, s] = nb.jet(
      (a: A) => apply("solve", [a, b3], {})[0]!,
      [a3],
      [[a3, ...Array.from({ length: K - 1 }, () => nb.zerosLike(a3))]],
    );
    // float64, well-conditioned 3×3 (κ ≈ 2): each order one solve and O(k) products, 1e-12 relative
    s.forEach((d, i) => expectNear(d, nb.mul(z, (-1) ** (i + 1) * fact(i + 1)), 1e-12, `order ${i + 1}`));
    againstNested("solve", [a3, b3], {}, [0, 1], 21);
    againstNested("solve", [nb.stack([a3, nb.add(a3, 1)]), nb.stack([b3, b3])], {}, [0], 22);
  });

  it("triangular_solve reads only its triangle at every order, as nested jvp", () => {
    for (const lower of [true, false])
      for (const transposeA of [false, true]) {
        againstNested("triangular_solve", [a3, b3], { lower, transposeA }, [0, 1], 23);
        againstNested("triangular_solve", [a3, b3], { lower, transposeA }, [0], 24);
      }
  });

  it("cholesky: A(t) = (1 + t)² A gives L(t) = (1 + t) L; and nested jvp", () => {
    const spd = nb.matmul(a3, nb.transpose(a3));
    const K = 6;
    const series = [nb.mul(spd, 2), nb.mul(spd, 2), ...Array.from({ length: K - 2 }, () => nb.zerosLike(spd))];
    const [l, s] = nb.jet((a: A) => apply("cholesky", [a], {})[0]!, [spd], [series]);
    // float64, K triangular solves of a well-conditioned factor: 1e-12 relative
    s.forEach((d, i) => expectNear(d, i === 0 ? l : nb.zerosLike(l), 1e-12, `order ${i + 1}`));
    againstNested("cholesky", [spd], {}, [0], 25);
  });
});
