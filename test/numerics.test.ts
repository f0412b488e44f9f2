/**
 * Numerics and semantics at the edges (issue 6): determinants at singular
 * matrices, NumPy's norm orders, dtype promotion in linalg, zero-size arrays,
 * int32 wrapping, take's modes, custom-rule and loop-carry checks.
 *
 * Expected values come from closed forms (Leibniz's formula, hand-computed
 * norms), from NumPy/JAX semantics stated beside each case, or from central
 * finite differences of closed forms; never from the code under test.
 * Tolerances: float64 closed forms 1e-12 relative (a few roundings of O(1)
 * values); finite differences with h = 1e-5 of polynomials 1e-7 (truncation
 * O(h²) times third derivatives of O(10), plus rounding eps/h ≈ 1e-11).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { arr, expectClose, vals } from "./support/assert.js";
import { fdJacobian } from "./support/reference.js";

type A = nb.NDArray;

// ---------------------------------------------------------------------------
// closed forms (plain JS)

/** All permutations of 0..n-1 with their signs. */
function permutations(n: number): [number[], number][] {
  if (n === 0) return [[[], 1]];
  const out: [number[], number][] = [];
  for (const [p, s] of permutations(n - 1))
    for (let k = 0; k <= p.length; k++) {
      const q = [...p.slice(0, k), n - 1, ...p.slice(k)];
      out.push([q, (p.length - k) % 2 === 0 ? s : -s]);
    }
  return out;
}

const rowsOf = (d: number[], n: number): number[][] => Array.from({ length: n }, (_, i) => d.slice(i * n, (i + 1) * n));

/** det by Leibniz. */
function leibniz(m: number[][]): number {
  return permutations(m.length).reduce((t, [p, s]) => t + s * p.reduce((q, c, i) => q * m[i]![c]!, 1), 0);
}

/** ∂ det / ∂A_ij: Σ over σ with σ(i) = j of sgn σ Π_{m ≠ i} A[m][σ(m)] (the cofactor), row-major. */
function cofactors(m: number[][]): number[] {
  const n = m.length;
  const g = new Array<number>(n * n).fill(0);
  for (const [p, s] of permutations(n))
    for (let i = 0; i < n; i++) g[i * n + p[i]!]! += s * p.reduce((q, c, r) => (r === i ? q : q * m[r]![c]!), 1);
  return g;
}

/** ∂² det / ∂A_ij ∂A_kl: Σ over σ with σ(i) = j, σ(k) = l (i ≠ k) of sgn σ Π_{m ≠ i, k} A[m][σ(m)]. */
function detHessian(m: number[][]): number[] {
  const n = m.length;
  const N = n * n;
  const h = new Array<number>(N * N).fill(0);
  for (const [p, s] of permutations(n))
    for (let i = 0; i < n; i++)
      for (let k = 0; k < n; k++) {
        if (i === k) continue;
        const v = s * p.reduce((q, c, r) => (r === i || r === k ? q : q * m[r]![c]!), 1);
        h[(i * n + p[i]!) * N + (k * n + p[k]!)]! += v;
      }
  return h;
}

const det = (a: A): A => nb.linalg.det(a);

describe("det at singular matrices", () => {
  // rank 2 (row 2 = row 0 + row 1), rank 1 (all rows multiples of one), and the zero matrix
  const rank2 = [1, 2, 3, 4, 5, 6, 5, 7, 9];
  const rank1 = [1, -2, 3, 2, -4, 6, -1, 2, -3];
  const cases: [string, number[], number][] = [
    ["rank 2 (3x3)", rank2, 3],
    ["rank 1 (3x3)", rank1, 3],
    ["zero (3x3)", new Array<number>(9).fill(0), 3],
    ["rank 1 (2x2)", [1, 2, 2, 4], 2],
    ["rank 3 (4x4)", [2, -1, 0, 3, 1, 1, 4, -2, 3, 0, 4, 1, 0, 2, 1, 1], 4],
    ["one nonzero entry (2x2)", [0, 1, 0, 0], 2],
  ];

  it.each(cases)("det is exactly 0 and grad(det) is the cofactor matrix: %s", (_name, d, n) => {
    const m = rowsOf(d, n);
    expect(leibniz(m) === 0 || n === 4).toBe(true);
    expectClose(det(arr(d, [n, n])), leibniz(m), [], 1e-12);
    const g = nb.grad(det)(arr(d, [n, n])) as A;
    expectClose(g, cofactors(m), [n, n], 1e-12);
  });

  it("the cofactor of a rank-2 3x3 matrix is nonzero (rank one) and finite; the old exp(logabsdet) gave NaN", () => {
    const g = vals(nb.grad(det)(arr(rank2, [3, 3])) as A);
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g.some((v) => v !== 0)).toBe(true);
  });

  it.each(cases)("hessian(det) matches the Leibniz second derivative: %s", (_name, d, n) => {
    const h = nb.hessian(det)(arr(d, [n, n])) as A;
    expectClose(h, detHessian(rowsOf(d, n)), [n, n, n, n], 1e-12);
  });

  it("third derivative of a 3x3 det (a constant: sgn σ where rows and columns are distinct) at a singular matrix", () => {
    const t = nb.jacfwd(nb.hessian(det))(arr(rank1, [3, 3])) as A;
    const sign = new Map(permutations(3).map(([p, s]) => [p.join(), s]));
    const want: number[] = [];
    for (let x = 0; x < 9; x++)
      for (let y = 0; y < 9; y++)
        for (let z = 0; z < 9; z++) {
          const rows = [x, y, z].map((v) => Math.floor(v / 3));
          const sigma: number[] = [];
          [x, y, z].forEach((v, k) => (sigma[rows[k]!] = v % 3));
          const distinct = new Set(rows).size === 3 && new Set(sigma).size === 3;
          want.push(distinct ? sign.get(sigma.join())! : 0);
        }
    expectClose(t, want, [3, 3, 3, 3, 3, 3], 1e-12);
  });

  it("hessian(det) at a nonsingular 4x4 matches central differences of the closed-form gradient", () => {
    const d = [3, 1, -2, 0.5, 0.2, 2, 1, -1, 1, 0, 4, 2, -0.5, 1.5, 0.3, 1];
    const h = nb.hessian(det)(arr(d, [4, 4])) as A;
    // the FD Jacobian of the gradient: truncation O(h²)·|∂³det| with h = 1e-5, well under 1e-7
    expectClose(
      h,
      fdJacobian((x) => cofactors(rowsOf(x, 4)), d),
      [4, 4, 4, 4],
      1e-7,
    );
  });

  it("grad(det) of 5x5 and 6x6 matrices, generic and of rank n - 1, matches Leibniz's cofactors", () => {
    for (const n of [5, 6]) {
      const d = Array.from({ length: n * n }, (_, i) => Math.sin(0.7 * i + 0.3 * i * i));
      // rank n - 1: the last row is 0.5·row 0 - 2·row 1
      const s = d.slice();
      for (let j = 0; j < n; j++) s[(n - 1) * n + j] = 0.5 * d[j]! - 2 * d[n + j]!;
      for (const m of [d, s]) {
        const want = cofactors(rowsOf(m, n));
        const scale = Math.max(...want.map(Math.abs));
        // errors relative to the largest cofactor: a few ε per elimination step (n ≤ 6)
        const got = vals(nb.grad(det)(arr(m, [n, n])) as A);
        got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-13 * scale));
      }
    }
  });

  it("grad(det) under jit and vmap equals eager at singular matrices", () => {
    const batch = arr([...rank2, ...rank1], [2, 3, 3]);
    const want = [...cofactors(rowsOf(rank2, 3)), ...cofactors(rowsOf(rank1, 3))];
    expectClose(nb.vmap(nb.grad(det))(batch) as A, want, [2, 3, 3], 1e-12);
    expectClose(nb.jit(nb.grad(det))(arr(rank2, [3, 3])) as A, want.slice(0, 9), [3, 3], 1e-12);
  });

  it("det of integer matrices is exact (no exp(log)) and det of a 0x0 matrix is 1", () => {
    expect(
      det(
        nb.array([
          [2, 3],
          [1, 4],
        ]),
      ).item(),
    ).toBe(5);
    expect(det(nb.zeros([0, 0])).item()).toBe(1);
    expect(det(nb.array([[7]])).item()).toBe(7);
  });

  it("det checks its operand", () => {
    expect(() => det(nb.zeros([2, 3]))).toThrow(nb.ShapeError);
    expect(() => det(nb.zeros([2, 3]))).toThrow(/^det/);
  });
});

describe("linalg.norm follows NumPy/JAX", () => {
  const M = [
    [1, -2],
    [3, 4],
  ];
  // column sums of |M|: 4, 6; row sums: 3, 7; MᵀM = [[10, 10], [10, 20]] has eigenvalues 15 ± 5√5, so
  // σ = √(15 ± 5√5); σ1 + σ2 = √(σ1² + σ2² + 2|det M|) = √(30 + 20)
  const matrixCases: [nb.linalg.NormOrd | undefined, number][] = [
    [undefined, Math.sqrt(30)],
    ["fro", Math.sqrt(30)],
    [1, 6],
    [-1, 4],
    [Infinity, 7],
    [-Infinity, 3],
    [2, Math.sqrt(15 + 5 * Math.sqrt(5))],
    [-2, Math.sqrt(15 - 5 * Math.sqrt(5))],
    ["nuc", Math.sqrt(50)],
  ];
  it.each(matrixCases)("matrix order %s of [[1, -2], [3, 4]]", (ord, want) => {
    // singular values via eigh of the Gram matrix: relative error ~ ε·κ² with κ = σ1/σ2 ≈ 6.9: 1e-13
    expectClose(nb.linalg.norm(M, ord), want, [], 1e-13);
  });

  const v = [3, -4, 0];
  const vectorCases: [number | undefined, number[], number][] = [
    [undefined, v, 5],
    [2, v, 5],
    [1, v, 7],
    [0, v, 2],
    [Infinity, v, 4],
    [-Infinity, v, 0],
    [3, v, Math.cbrt(91)],
    [0.5, v, (Math.sqrt(3) + 2) ** 2],
    [-1, [3, -4], 12 / 7],
  ];
  it.each(vectorCases)("vector order %s", (ord, x, want) => {
    expectClose(nb.linalg.norm(x, ord), want, [], 1e-14);
  });

  it("a pair of axes gives matrix norms per batch element; the axis order is (rows, columns)", () => {
    const x = arr([1, -2, 3, 4, 0.5, 1, -1, 2], [2, 2, 2]);
    expectClose(nb.linalg.norm(x, 1, [1, 2]), [6, 3], [2], 1e-14);
    expectClose(nb.linalg.norm(x, 1, [2, 1]), [7, 3], [2], 1e-14); // columns of the transpose are rows
    expectClose(nb.linalg.norm(x, Infinity, [-2, -1], true), [7, 3], [2, 1, 1], 1e-14);
    expectClose(nb.linalg.norm(x, "nuc", [1, 2]), [Math.sqrt(50), Math.sqrt(1.25 + 5 + 2 * 2)], [2], 1e-13);
    // vector norms along one axis; with ord and axis omitted, the 2-norm of everything, for any rank
    expectClose(nb.linalg.norm(x, 1, 0), [1.5, 3, 4, 6], [2, 2], 1e-14);
    expectClose(nb.linalg.norm(x), Math.sqrt(30 + 6.25), [], 1e-14);
    expect(nb.linalg.norm(x, undefined, undefined, true).shape).toEqual([1, 1, 1]);
  });

  it("ord 2 on a matrix is the spectral norm, not Frobenius (a rank-one matrix: σ1 = |u||v|)", () => {
    const outer = [
      [2, 4],
      [1, 2],
    ]; // [2, 1]ᵀ [1, 2]: σ1 = |u| |v| = √5 · √5 (a singular Gram matrix: the zero eigenvalue is clamped)
    expectClose(nb.linalg.norm(outer, 2), 5, [], 1e-12);
    expectClose(nb.linalg.norm(nb.eye(3), 2), 1, [], 1e-14);
    expectClose(nb.linalg.norm(nb.eye(3)), Math.sqrt(3), [], 1e-14);
  });

  it("gradients of the matrix orders at [[1, -2], [3, 4]] match closed forms", () => {
    // d‖M‖_1 = sign(M) on the largest column (column 1), zero elsewhere; d‖M‖_∞ the same on row 1
    expectClose(nb.grad((m: A) => nb.linalg.norm(m, 1))(arr([1, -2, 3, 4], [2, 2])) as A, [0, -1, 0, 1], [2, 2], 0);
    expectClose(
      nb.grad((m: A) => nb.linalg.norm(m, Infinity))(arr([1, -2, 3, 4], [2, 2])) as A,
      [0, 0, 1, 1],
      [2, 2],
      0,
    );
    // d σ1 = u1 v1ᵀ; for 2x2, d(σ1 + σ2) = d√(‖M‖_F² + 2|det M|) = (M + sign(det) cof(M)) / (σ1 + σ2)
    const cof = [4, -3, 2, 1];
    const want = [1, -2, 3, 4].map((m, i) => (m + cof[i]!) / Math.sqrt(50));
    expectClose(nb.grad((m: A) => nb.linalg.norm(m, "nuc"))(arr([1, -2, 3, 4], [2, 2])) as A, want, [2, 2], 1e-12);
  });

  it("the same under vmap and jit, for every matrix order", () => {
    const x = arr([1, -2, 3, 4, 0.5, 1, -1, 2], [2, 2, 2]);
    for (const ord of ["fro", "nuc", 1, -1, 2, -2, Infinity, -Infinity] as const) {
      const want = vals(nb.linalg.norm(x, ord, [1, 2]));
      expectClose(nb.vmap((m: A) => nb.linalg.norm(m, ord))(x), want, [2], 1e-14);
      expectClose(nb.jit((m: A) => nb.linalg.norm(m, ord, [1, 2]))(x), want, [2], 1e-14);
    }
  });

  it("invalid orders and axes throw ShapeError beginning with norm", () => {
    const bad: [unknown, unknown][] = [
      ["fro", 0], // fro is a matrix order
      ["nuc", undefined], // on a vector
      [3, [0, 1]], // 3 is not a matrix order
      [NaN, 0],
      [1, [0, 0]],
      [1, [0, 1, 2]],
    ];
    const x3 = nb.ones([2, 2, 2]);
    for (const [ord, axis] of bad) {
      const x = axis === undefined ? nb.ones([3]) : x3;
      const call = () => nb.linalg.norm(x, ord as nb.linalg.NormOrd, axis as number[]);
      expect(call).toThrow(nb.ShapeError);
      expect(call).toThrow(/^norm/);
    }
    expect(() => nb.linalg.norm(x3, 1)).toThrow(/^norm: .*1-D or 2-D/);
    expect(() => nb.linalg.norm(nb.zeros([0]), Infinity)).toThrow(/^norm/);
  });
});

describe("linalg promotes mixed float32/float64 to float64", () => {
  const a32 = nb.array(
    [
      [2, 0],
      [0, 4],
    ],
    { dtype: "float32" },
  );
  const b64 = nb.array([2, 4]);
  it("solve and triangularSolve", () => {
    for (const [a, b] of [
      [a32, b64],
      [nb.astype(a32, "float64"), nb.astype(b64, "float32")],
    ] as const) {
      const x = nb.linalg.solve(a, b);
      expect(x.dtype).toBe("float64");
      expectClose(x, [1, 1], [2], 0);
      expect(nb.linalg.triangularSolve(a, b).dtype).toBe("float64");
    }
    expect(nb.linalg.solve(a32, nb.astype(b64, "float32")).dtype).toBe("float32");
    expect(
      nb.linalg.solve(
        nb.array(
          [
            [2, 0],
            [0, 4],
          ],
          { dtype: "int32" },
        ),
        b64,
      ).dtype,
    ).toBe("float64");
  });
});

describe("zero-size arrays", () => {
  it("reductions along non-empty axes of arrays with a zero dimension have zero-size results", () => {
    const e = nb.zeros([3, 0]);
    for (const f of [nb.max, nb.min, nb.sum, nb.prod, nb.logsumexp]) expect(f(e, 0).shape).toEqual([0]);
    expect(nb.argmax(e, 0).shape).toEqual([0]);
    // the identities over the empty axis: sum 0, prod 1, logsumexp log(0) = -inf
    expect(vals(nb.sum(e, 1))).toEqual([0, 0, 0]);
    expect(vals(nb.prod(e, 1))).toEqual([1, 1, 1]);
    expect(vals(nb.logsumexp(e, 1))).toEqual([-Infinity, -Infinity, -Infinity]);
  });

  it("sum([]) is 0, prod([]) is 1, logsumexp([]) is -inf", () => {
    expect(nb.sum(nb.zeros([0])).item()).toBe(0);
    expect(nb.prod(nb.zeros([0])).item()).toBe(1);
    expect(nb.logsumexp(nb.zeros([0])).item()).toBe(-Infinity);
    expect(nb.logsumexp(nb.zeros([0]), 0, true).shape).toEqual([1]);
  });

  it("softmax and logSoftmax of a [0, 4] batch, eager, jitted and differentiated", () => {
    for (const f of [nb.softmax, nb.logSoftmax]) {
      expect(f(nb.zeros([0, 4])).shape).toEqual([0, 4]);
      expect(nb.jit((x: A) => f(x))(nb.zeros([0, 4])).shape).toEqual([0, 4]);
      expect((nb.grad((x: A) => nb.sum(f(x)))(nb.zeros([0, 4])) as A).shape).toEqual([0, 4]);
    }
  });

  it("gradients of reductions over zero-size arrays are zero-size", () => {
    for (const f of [(x: A) => nb.sum(nb.max(x, 0)), (x: A) => nb.sum(nb.logsumexp(x, 1)), (x: A) => nb.prod(x)])
      expect((nb.grad(f)(nb.zeros([3, 0])) as A).shape).toEqual([3, 0]);
    expect((nb.grad((x: A) => nb.logsumexp(x))(nb.zeros([0])) as A).shape).toEqual([0]);
  });

  it("reductions without an identity over an empty axis throw ShapeError naming the function", () => {
    const e = nb.zeros([3, 0]);
    const cases: [string, () => unknown][] = [
      ["max", () => nb.max(e, 1)],
      ["min", () => nb.min(e)],
      ["argmax", () => nb.argmax(e, 1)],
      ["argmin", () => nb.argmin(nb.zeros([0]))],
      ["max", () => nb.max(nb.zeros([0]))],
    ];
    for (const [name, call] of cases) {
      expect(call).toThrow(nb.ShapeError);
      expect(call).toThrow(new RegExp(`^${name}:`));
    }
  });
});

describe("int32 arithmetic wraps like 32-bit hardware", () => {
  const i32 = (v: number[]) => nb.array(v, { dtype: "int32" });
  /** The exact product reduced modulo 2^32 to two's complement. */
  const wrap = (v: bigint) => Number(BigInt.asIntN(32, v));

  it("mul and prod: 123456789 · 987654321 = -67153019, eager and jitted (fused)", () => {
    expect(wrap(123456789n * 987654321n)).toBe(-67153019);
    expect(nb.mul(i32([123456789]), i32([987654321])).item()).toBe(-67153019);
    expect(nb.prod(i32([123456789, 987654321])).item()).toBe(-67153019);
    const fused = nb.jit((a: A, b: A) => nb.add(nb.mul(a, b), 1));
    expect(vals(fused(i32([123456789, -7]), i32([987654321, 2 ** 30])))).toEqual([
      wrap(123456789n * 987654321n + 1n),
      wrap(-7n * 2n ** 30n + 1n),
    ]);
    expect(nb.prod(i32([65536, 65536, 3])).item()).toBe(0);
  });

  it("pow(int32, non-negative integer) stays int32 and wraps; other exponents compute in float64", () => {
    const x = i32([3, 65536, -2, 7]);
    const sq = nb.pow(x, 2);
    expect(sq.dtype).toBe("int32");
    expect(vals(sq)).toEqual([9, 0, 4, 49]);
    expect(nb.pow(i32([3]), 40).item()).toBe(wrap(3n ** 40n));
    expect(vals(nb.jit((a: A) => nb.add(nb.pow(a, 3), 0))(i32([1000, 2000])))).toEqual([
      wrap(1000n ** 3n),
      wrap(2000n ** 3n),
    ]);
    expect(nb.pow(i32([3]), i32([3])).dtype).toBe("int32");
    expect(nb.pow(i32([4]), 0.5).dtype).toBe("float64");
    expect(nb.pow(nb.array([3], { dtype: "float32" }), 2).dtype).toBe("float32");
  });

  it("pow(integer, negative integer) throws DTypeError naming pow (NumPy: not allowed); a float base is fine", () => {
    for (const [base, e] of [
      [i32([4]), -1],
      [i32([2, 3]), i32([1, -2])],
      [nb.array([true]), -3],
    ] as const)
      expect(() => nb.pow(base, e)).toThrow(/^pow: integer base .* negative integer power -\d/);
    expect(() => nb.pow(i32([4]), -1)).toThrow(nb.DTypeError);
    // cast first: 4^-1 = 0.25 exactly
    expect(vals(nb.pow(nb.astype(i32([4]), "float64"), -1))).toEqual([0.25]);
    expect(nb.pow(i32([4]), -1.5).dtype).toBe("float64"); // a non-integral exponent computes in float64
  });
});

describe("take modes (JAX's semantics) and int32 index ranges", () => {
  const x = arr([10, 20, 30]);
  const idx = [3, -4, -1, 5, 2, -7, 0];
  it("fill (the default): out-of-range gives NaN for floats, -2^31 for int32, true for bool", () => {
    expect(vals(nb.take(x, idx))).toEqual([NaN, NaN, 30, NaN, 30, NaN, 10]);
    expect(vals(nb.take(x, idx, 0, { mode: "fill" }))).toEqual([NaN, NaN, 30, NaN, 30, NaN, 10]);
    expect(vals(nb.take(nb.array([1, 2], { dtype: "int32" }), [5, -1, -3]))).toEqual([-(2 ** 31), 2, -(2 ** 31)]);
    expect(vals(nb.take(nb.array([false, false]), [2, 1]))).toEqual([1, 0]);
    const f32 = nb.take(nb.array([1, 2], { dtype: "float32" }), [2]);
    expect([f32.dtype, f32.item()]).toEqual(["float32", NaN]);
    // along an inner axis, with 2-D indices: whole slices are filled
    const m = nb.take(
      nb.array([
        [1, 2],
        [3, 4],
      ]),
      [[0, 2]],
      1,
    );
    expect(m.shape).toEqual([2, 1, 2]);
    expect(vals(m)).toEqual([1, NaN, 3, NaN]);
    // from an empty axis everything is out of range
    expect(vals(nb.take(nb.zeros([0]), [0, 1]))).toEqual([NaN, NaN]);
  });

  it("clip and wrap; negative indices count from the end first in every mode", () => {
    // clip: 3 → 2, -4 → -1 → 0, -1 → 2, 5 → 2, -7 → -4 → 0
    expect(vals(nb.take(x, idx, 0, { mode: "clip" }))).toEqual([30, 10, 30, 30, 30, 10, 10]);
    // wrap: i mod 3 (Python's sign convention): 3 → 0, -4 → 2, -1 → 2, 5 → 2, -7 → 2
    expect(vals(nb.take(x, idx, 0, { mode: "wrap" }))).toEqual([10, 30, 30, 30, 30, 30, 10]);
    expect(vals(x.take([1, 7], 0, { mode: "clip" }))).toEqual([20, 30]);
  });

  it("the same under jit and vmap (traced indices)", () => {
    const i = nb.array([0, 9, -1], { dtype: "int32" });
    for (const mode of ["fill", "clip", "wrap"] as const) {
      const want = vals(nb.take(x, i, 0, { mode }));
      expect(vals(nb.jit((v: A, j: A) => nb.take(v, j, 0, { mode }))(x, i))).toEqual(want);
      const rows = nb.vmap((j: A) => nb.take(x, j, 0, { mode }))(nb.stack([i, i]));
      expect(vals(rows)).toEqual([...want, ...want]);
    }
  });

  it("gradients in each mode: scatter-add to the index used; fill positions get nothing", () => {
    const w = arr([1, 2, 3, 4, 5, 6, 7]);
    const grad = (mode: nb.TakeMode) =>
      vals(
        nb.grad((v: A) => {
          const t = nb.take(v, idx, 0, { mode });
          // the filled NaNs would poison the sum: zero them (their derivative is zero either way)
          return nb.sum(nb.mul(nb.where(nb.equal(t, t), t, 0), w));
        })(x) as A,
      );
    // positions of idx: fill uses 2 (-1), 4 (2), 6 (0); clip maps to [2,0,2,2,2,0,0]; wrap to [0,2,2,2,2,2,0]
    expect(grad("fill")).toEqual([7, 0, 3 + 5]);
    expect(grad("clip")).toEqual([2 + 6 + 7, 0, 1 + 3 + 4 + 5]);
    expect(grad("wrap")).toEqual([1 + 7, 0, 2 + 3 + 4 + 5 + 6]);
  });

  it("indices outside the int32 range and bad modes throw; arange past int32 throws", () => {
    expect(() => nb.take(x, [2 ** 31])).toThrow(nb.DTypeError);
    expect(() => nb.take(x, [-(2 ** 31) - 1])).toThrow(/^take: index/);
    expect(() => nb.take(x, [0], 0, { mode: "nope" as nb.TakeMode })).toThrow(nb.NablaError);
    expect(() => nb.take(x, [0], 0, { mode: "nope" as nb.TakeMode })).toThrow(/^take: mode/);
    // 2^31 + 5 elements: over the size limit, a ShapeError before allocating (API.md), whatever the dtype
    expect(() => nb.arange(2 ** 31 + 5)).toThrow(nb.ShapeError);
    expect(() => nb.arange(2 ** 31 - 2, 2 ** 31 + 2)).toThrow(/^arange/);
    expect(() => nb.arange(0, -(2 ** 32), -(2 ** 30))).toThrow(/^arange/);
    // the largest int32 fits
    expect(vals(nb.arange(2 ** 31 - 2, 2 ** 31))).toEqual([2 ** 31 - 2, 2 ** 31 - 1]);
    expect(nb.arange(2 ** 31 + 0.5, 2 ** 31 + 2).dtype).toBe("float64");
  });
});

describe("custom rules and tangents are checked, never broadcast or converted", () => {
  const x = arr([0.5, 1]);
  it("customJvp: a tangent whose shape or dtype differs from the primal output throws GradError naming both", () => {
    const scalarTangent = nb.customJvp(
      (v: A) => nb.sin(v),
      ([v]: [A], [dv]: [A]) => [nb.sin(v), nb.sum(dv)],
    );
    expect(() => nb.jvp(scalarTangent, [x], [x])).toThrow(nb.GradError);
    expect(() => nb.jvp(scalarTangent, [x], [x])).toThrow(/^customJvp: .*float64\[\].*float64\[2\]/);
    const f32Tangent = nb.customJvp(
      (v: A) => nb.sin(v),
      ([v]: [A], [dv]: [A]) => [nb.sin(v), nb.astype(dv, "float32")],
    );
    expect(() => nb.jvp(f32Tangent, [x], [x])).toThrow(/^customJvp: .*float32\[2\].*float64\[2\]/);
    // under reverse mode too (the rule's tangent map is transposed)
    expect(() => nb.grad((v: A) => nb.sum(scalarTangent(v)))(x)).toThrow(nb.GradError);
    // a correct rule still works
    const ok = nb.customJvp(
      (v: A) => nb.sin(v),
      ([v]: [A], [dv]: [A]) => [nb.sin(v), nb.mul(dv, nb.cos(v))],
    );
    expectClose(nb.jvp(ok, [x], [x])[1] as A, [0.5 * Math.cos(0.5), Math.cos(1)], [2], 1e-15);
  });

  it("customVjp: a backward returning the wrong shape or dtype throws naming customVjp", () => {
    const wrong = (ct: (c: A) => A) =>
      nb.customVjp(
        (v: A) => nb.sin(v),
        (v: A) => [nb.sin(v), null],
        (_r: null, c: A) => [ct(c)],
      );
    const loss = (g: (v: A) => A) => (v: A) => nb.sum(g(v));
    expect(() => nb.grad(loss(wrong((c) => nb.sum(c))))(x)).toThrow(nb.ShapeError);
    expect(() => nb.grad(loss(wrong((c) => nb.sum(c))))(x)).toThrow(/^customVjp: .*float64\[\].*float64\[2\]/);
    expect(() => nb.grad(loss(wrong((c) => nb.astype(c, "float32"))))(x)).toThrow(nb.DTypeError);
    expect(() => nb.grad(loss(wrong((c) => nb.astype(c, "float32"))))(x)).toThrow(/^customVjp/);
  });

  it("an int32 or bool tangent for a float primal throws DTypeError (a JS number still adapts)", () => {
    const f = (v: A) => nb.sin(v);
    expect(() => nb.jvp(f, [x], [nb.array([1, 2], { dtype: "int32" })])).toThrow(nb.DTypeError);
    expect(() => nb.jvp(f, [x], [nb.array([1, 2], { dtype: "int32" })])).toThrow(
      /^jvp: tangent leaf 0 has dtype int32/,
    );
    expect(() => nb.jvp(f, [nb.array(0.5)], [true as never])).toThrow(nb.DTypeError);
    const [, t] = nb.jvp(f, [nb.array(0.5, { dtype: "float32" })], [1]);
    expect((t as A).dtype).toBe("float32");
  });
});

describe("loop carries keep their structure, shapes and dtypes", () => {
  const x = arr([1, 2]);
  const grow = (v: A) => nb.concatenate([v, v]);
  const toF32 = (v: A) => nb.astype(v, "float32");
  const toPair = (v: A) => [v, v] as unknown as A;
  const loops: [string, (body: (v: A) => A) => (v: A) => unknown][] = [
    ["scan", (body) => (v) => nb.scan((c: A) => [body(c), 0], v, null, { length: 2 })[0]],
    ["forLoop", (body) => (v) => nb.forLoop(0, 2, (_i, c: A) => body(c), v)],
    ["whileLoop", (body) => (v) => nb.whileLoop((c: A) => nb.less(nb.sum(c), 100), body, v)],
  ];
  for (const [name, loop] of loops)
    for (const staged of [false, true]) {
      const run = (body: (v: A) => A) => (staged ? nb.jit(loop(body)) : loop(body));
      it(`${name}${staged ? " under jit" : ""}: shape, dtype and structure changes throw naming the loop`, () => {
        expect(() => run(grow)(x)).toThrow(nb.ShapeError);
        expect(() => run(grow)(x)).toThrow(new RegExp(`^${name}: .*float64\\[2\\] to float64\\[4\\]`));
        expect(() => run(toF32)(x)).toThrow(nb.DTypeError);
        expect(() => run(toF32)(x)).toThrow(new RegExp(`^${name}: .*float64\\[2\\] to float32\\[2\\]`));
        expect(() => run(toPair)(x)).toThrow(nb.ShapeError);
        expect(() => run(toPair)(x)).toThrow(new RegExp(`^${name}: .*structure`));
        // a body that keeps the carry is fine: two doublings of [1, 2] (whileLoop: until the sum reaches 100)
        const ok = vals(run((v) => nb.mul(v, 2))(x) as A);
        expect(ok).toEqual(name === "whileLoop" ? [64, 128] : [4, 8]);
      });
    }

  it("under vmap (a batched whileLoop condition) too, and a JS-number carry may take the body's dtype", () => {
    const batched = nb.vmap((v: A) => nb.whileLoop((c: A) => nb.less(nb.sum(c), 10), toF32, v));
    expect(() => batched(nb.ones([3, 2]))).toThrow(/^whileLoop: .*float32/);
    const f32 = nb.forLoop(0, 3, (_i, c) => nb.add(c, nb.array(1, { dtype: "float32" })), 0 as unknown as A);
    expect([f32.dtype, f32.item()]).toEqual(["float32", 3]);
  });
});
