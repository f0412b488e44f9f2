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
