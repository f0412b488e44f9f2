/**
 * `nb.linalg.{svd, eigvalsh, lu, lstsq, pinv, expm}`: identities, closed
 * forms and derivatives against finite differences (checkGrads: central
 * differences, float64 defaults atol = rtol = 1e-6 at step 1e-5), on
 * matrices whose expected values are computed here in plain JS (products,
 * a Gauss–Jordan inverse, a Taylor series), never by nabla.
 *
 * The derivative rules themselves are also exercised to order 3 in every mode
 * pair by the per-primitive spec (test/properties/primitiveSpecs.ts: svd, lu,
 * expm, expm_frechet); this file covers the public functions' conventions
 * (full/thin, computeUv, rank cut-offs, residuals) and the invariant
 * derivatives of full matrices.
 *
 * Tolerances (float64, u ≈ 1.1e-16): the SVD by one-sided Jacobi is backward
 * stable with orthogonal factors accurate to O(n u); with n <= 6 the residual
 * ‖U S Vh − A‖ and ‖UᵀU − I‖ are below 50 u ≈ 6e-15, so we assert 1e-13
 * (relative to max|A| for the residual).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";
import { gauss, givens } from "./properties/primitiveSpecs.js";

type A = nb.NDArray;
type M = number[][];

const RUNS = (() => {
  const v = Number(process.env.NABLA_FC_RUNS);
  return Number.isInteger(v) && v > 0 ? v : 15;
})();
const fcOpts = (seed: number) => ({ seed, numRuns: RUNS });

const vals = (x: A): number[] => Array.from(x.toTypedArray() as ArrayLike<number>, Number);
function mats(x: A): M[] {
  const s = x.shape;
  const m = s[s.length - 2]!;
  const n = s[s.length - 1]!;
  const v = vals(x);
  const out: M[] = [];
  for (let b = 0; b < (m * n === 0 ? 0 : v.length / (m * n)); b++)
    out.push(Array.from({ length: m }, (_, i) => v.slice(b * m * n + i * n, b * m * n + (i + 1) * n)));
  return out;
}
const mat = (x: A): M => mats(x)[0]!;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const mm = (a: M, b: M): M => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const T = (a: M): M => a[0]!.map((_, j) => a.map((row) => row[j]!));
const eyeM = (n: number): M => range(n).map((i) => range(n).map((j) => (i === j ? 1 : 0)));
const sub = (a: M, b: M): M => a.map((r, i) => r.map((v, j) => v - b[i]![j]!));
const maxAbs = (a: M): number => Math.max(0, ...a.flat().map(Math.abs));

/** A⁻¹ by Gaussian elimination with partial pivoting (the spec table's plain-JS solver). */
const invM = (a: M): M => gauss(a, eyeM(a.length)).X;

function expectNear(got: M, want: M, tol: number, what: string): void {
  expect(got.length, `${what}: rows`).toBe(want.length);
  got.forEach((r, i) => expect(r.length, `${what}: columns`).toBe(want[i]!.length));
  const err = maxAbs(sub(got, want));
  if (!(err <= tol)) expect.fail(`${what}: max |difference| ${err} > ${tol}`);
}

/** A plain-JS rotation: a product of Givens rotations with the given angles. */
const rotation = givens;

/** Q₁ diag(s) Q₂ᵀ ([m, n]) with the given singular values (descending, k = min(m, n) of them). */
function withSingularValues(m: number, n: number, s: number[], angles: number[]): M {
  const q1 = rotation(m, angles);
  const q2 = rotation(
    n,
    angles.map((a) => 0.7 * a + 0.3),
  );
  return range(m).map((i) => range(n).map((j) => s.reduce((acc, sv, l) => acc + q1[i]![l]! * sv * q2[j]![l]!, 0)));
}

const arbDims = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }));
/** Entries k / 2^20 in [-1, 1] (no subnormals, whose reciprocals overflow; exact zeros now and then). */
const entry = fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((k) => k / 2 ** 20);
const arbMatrix = arbDims.chain(([m, n]) =>
  fc.array(fc.array(entry, { minLength: n, maxLength: n }), { minLength: m, maxLength: m }),
);

// ---------------------------------------------------------------------------
// svd

describe("linalg.svd", () => {
  /** Asserts A = U S Vh, orthonormal factors, S descending and >= 0, to 1e-13. */
  function checkSvd(a: M, full: boolean): void {
    const m = a.length;
    const n = a[0]!.length;
    const k = Math.min(m, n);
    const [u, s, vh] = nb.linalg.svd(nb.array(a), { fullMatrices: full });
    expect(u.shape).toEqual([m, full ? m : k]);
    expect(s.shape).toEqual([k]);
    expect(vh.shape).toEqual([full ? n : k, n]);
    const U = mat(u);
    const S = vals(s);
    const Vh = mat(vh);
    const scale = Math.max(1e-300, maxAbs(a));
    const us = U.map((row) => range(k).map((j) => row[j]! * S[j]!));
    expectNear(mm(us, Vh.slice(0, k)), a, 1e-13 * scale, "U S Vh - A");
    expectNear(mm(T(U), U), eyeM(U[0]!.length), 1e-13, "UᵀU - I");
    expectNear(mm(Vh, T(Vh)), eyeM(Vh.length), 1e-13, "Vh Vhᵀ - I");
    S.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(0);
      if (i > 0) expect(v).toBeLessThanOrEqual(S[i - 1]!);
    });
  }

  it("U S Vh = A and orthogonal factors to 1e-13, full and thin, tall, wide and square (property)", () => {
    fc.assert(
      fc.property(arbMatrix, fc.boolean(), (a, full) => checkSvd(a, full)),
      fcOpts(901),
    );
  });

  it("rank-deficient and extreme-scale matrices: completed bases stay orthonormal, no overflow", () => {
    const u = [1, -2, 0.5, 3];
    const v = [2, 1, -1];
    const rank1 = u.map((x) => v.map((y) => x * y));
    checkSvd(rank1, true);
    checkSvd(T(rank1), true);
    const S = vals(nb.linalg.svd(nb.array(rank1), { computeUv: false }));
    const want = Math.hypot(...u) * Math.hypot(...v);
    // the two zero singular values come out at the rounding level of the largest
    expect(Math.abs(S[0]! - want)).toBeLessThanOrEqual(1e-14 * want);
    expect(Math.abs(S[1]!)).toBeLessThanOrEqual(1e-14 * want);
    checkSvd(
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
      true,
    );
    const big = rank1.map((r) => r.map((x) => x * 1e300));
    checkSvd(big, true);
    checkSvd(
      rank1.map((r) => r.map((x) => x * 1e-300)),
      false,
    );
  });

  it("singular values of Q₁ diag(s) Q₂ᵀ are s to 1e-13 relative, and computeUv: false gives S alone", () => {
    for (const [m, n] of [
      [4, 3],
      [3, 5],
      [4, 4],
    ] as const) {
      const s = [5, 2, 1e-3, 0.5].slice(0, Math.min(m, n)).sort((x, y) => y - x);
      const a = withSingularValues(m, n, s, [0.3, -1.1, 2.2, 0.7, -0.4, 1.9]);
      const got = nb.linalg.svd(nb.array(a), { computeUv: false });
      expect(got.shape).toEqual([Math.min(m, n)]);
      vals(got).forEach((v, i) => expect(Math.abs(v - s[i]!)).toBeLessThanOrEqual(1e-13 * s[0]!));
    }
  });

  it("batched: [2, 3, 4, 3] equals the decomposition of each matrix", () => {
    const x = nb.random.normal(nb.random.key(3), [2, 3, 4, 3]);
    const [u, s, vh] = nb.linalg.svd(x, { fullMatrices: false });
    expect(u.shape).toEqual([2, 3, 4, 3]);
    const us = mats(u);
    const ss = vals(s);
    const vhs = mats(vh);
    mats(x).forEach((a, b) => {
      const [u1, s1, vh1] = nb.linalg.svd(nb.array(a), { fullMatrices: false });
      expect(mat(u1)).toEqual(us[b]);
      expect(vals(s1)).toEqual(ss.slice(3 * b, 3 * b + 3));
      expect(mat(vh1)).toEqual(vhs[b]);
    });
  });

  const separated = (m: number, n: number) =>
    nb.array(withSingularValues(m, n, [3, 2, 1].slice(0, Math.min(m, n)), [0.4, -0.9, 1.3, 2.1, -0.2, 0.8]));

  it.each([
    [4, 3],
    [3, 4],
    [3, 3],
  ])("thin factors of a %ix%i matrix with separated singular values: derivatives to order 2", (m, n) => {
    const a = separated(m, n);
    checkGrads((x: A) => nb.linalg.svd(x, { fullMatrices: false }), [a], { order: 2 });
  });

  it("grad of the nuclear norm sum(S) is U₁ V₁ᵀ (closed form)", () => {
    const a = separated(4, 3);
    const g = nb.grad((x: A) => nb.sum(nb.linalg.svd(x, { computeUv: false })))(a);
    const [u, , vh] = nb.linalg.svd(a, { fullMatrices: false });
    expectNear(mat(g), mm(mat(u), mat(vh)), 1e-13, "grad sum(S) - U₁V₁ᵀ");
  });

  it("full matrices: the completing block's projector U₂U₂ᵀ (tall) / V₂V₂ᵀ (wide) differentiates correctly", () => {
    // U₂ is any basis of the complement; its projector I - U₁U₁ᵀ is a function of A
    const tall = separated(5, 2);
    checkGrads(
      (x: A) => {
        const [u] = nb.linalg.svd(x);
        const u2 = nb.slice(u, [0, 2], [5, 5]);
        return nb.matmul(u2, nb.transpose(u2));
      },
      [tall],
      { order: 2 },
    );
    const wide = separated(2, 4);
    checkGrads(
      (x: A) => {
        const [, , vh] = nb.linalg.svd(x);
        const v2 = nb.slice(vh, [2, 0], [4, 4]);
        return nb.matmul(nb.transpose(v2), v2);
      },
      [wide],
      { order: 2 },
    );
  });

  it("full matrices: the tangent keeps U orthogonal (Uᵀ dU antisymmetric) to 1e-12", () => {
    const a = separated(5, 3);
    const e = nb.random.normal(nb.random.key(1), [5, 3]);
    const [[u], [du]] = nb.jvp((x: A) => nb.linalg.svd(x), [a], [e]) as [A[], A[]];
    const w = mm(T(mat(u!)), mat(du!));
    expectNear(
      w,
      T(w).map((r) => r.map((v) => -v)),
      1e-12,
      "UᵀdU + dUᵀU",
    );
  });
});

// ---------------------------------------------------------------------------
// eigvalsh

describe("linalg.eigvalsh", () => {
  const S = nb.array([
    [2, 0.3, -0.2],
    [0.3, 1, 0.1],
    [-0.2, 0.1, -1.5],
  ]);

  it("equals eigh's eigenvalues and sums to the trace", () => {
    const w = vals(nb.linalg.eigvalsh(S));
    expect(w).toEqual(vals(nb.linalg.eigh(S)[0]));
    expect(Math.abs(w.reduce((x, y) => x + y, 0) - 1.5)).toBeLessThanOrEqual(1e-14);
  });

  it("grad of eigenvalue i is v_i v_iᵀ (closed form), and derivatives to order 2", () => {
    const [, v] = nb.linalg.eigh(S);
    const V = mat(v);
    for (const i of [0, 2]) {
      const g = nb.grad((x: A) => nb.take(nb.linalg.eigvalsh(x), i))(S);
      const want = V.map((r) => V.map((q) => r[i]! * q[i]!));
      // the symmetric part of dA counts: d λ = vᵀ ((dA + dAᵀ)/2) v has gradient v vᵀ
      expectNear(mat(g), want, 1e-13, `grad λ_${i}`);
    }
    checkGrads((x: A) => nb.linalg.eigvalsh(x), [S], { order: 2 });
  });
});

// ---------------------------------------------------------------------------
// lu

describe("linalg.lu", () => {
  it("P L U = A with P a permutation, L unit lower with |L| <= 1, U upper, all shapes (property)", () => {
    fc.assert(
      fc.property(arbMatrix, (a) => {
        const m = a.length;
        const n = a[0]!.length;
        const k = Math.min(m, n);
        const [p, l, u] = nb.linalg.lu(a);
        expect([p.shape, l.shape, u.shape]).toEqual([
          [m, m],
          [m, k],
          [k, n],
        ]);
        const P = mat(p);
        const L = mat(l);
        const U = mat(u);
        expectNear(mm(P, mm(L, U)), a, 1e-14 * Math.max(1, maxAbs(a)) * 4, "P L U - A");
        expectNear(mm(T(P), P), eyeM(m), 0, "PᵀP - I");
        expect(P.flat().every((v) => v === 0 || v === 1)).toBe(true);
        L.forEach((r, i) =>
          r.forEach((v, j) => {
            if (j > i) expect(v).toBe(0);
            else if (j === i) expect(v).toBe(1);
            else expect(Math.abs(v)).toBeLessThanOrEqual(1);
          }),
        );
        U.forEach((r, i) => r.forEach((v, j) => j < i && expect(v).toBe(0)));
      }),
      fcOpts(902),
    );
  });

  it("pivots as jax.scipy.linalg.lu: [[1, 2], [3, 4]] gives P = [[0, 1], [1, 0]], L = [[1, 0], [1/3, 1]]", () => {
    const [p, l, u] = nb.linalg.lu([
      [1, 2],
      [3, 4],
    ]);
    expect(mat(p)).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(mat(l)).toEqual([
      [1, 0],
      [1 / 3, 1],
    ]);
    expectNear(
      mat(u),
      [
        [3, 4],
        [0, 2 - 4 / 3],
      ],
      1e-15,
      "U",
    );
  });

  it("batched and singular inputs: per-matrix results, finite factors of a zero matrix", () => {
    const x = nb.random.normal(nb.random.key(5), [2, 3, 2]);
    const [p, l, u] = nb.linalg.lu(x);
    mats(x).forEach((a, b) => {
      const [p1, l1, u1] = nb.linalg.lu(a);
      expect(mat(p1)).toEqual(mats(p)[b]);
      expect(mat(l1)).toEqual(mats(l)[b]);
      expect(mat(u1)).toEqual(mats(u)[b]);
    });
    const [, l0, u0] = nb.linalg.lu(nb.zeros([2, 2]));
    expect(vals(l0).every(Number.isFinite) && vals(u0).every(Number.isFinite)).toBe(true);
  });

  it("derivatives of L and U to order 2 (tall, wide, square; pivots away from ties)", () => {
    const a = nb.array([
      [0.3, 1.2, -0.4],
      [2.5, -0.7, 0.9],
      [-1.1, 0.4, 1.8],
      [0.6, -2.0, 0.2],
    ]);
    checkGrads((x: A) => nb.linalg.lu(x).slice(1), [a], { order: 2 });
    checkGrads((x: A) => nb.linalg.lu(x).slice(1), [nb.transpose(a)], { order: 2 });
    checkGrads((x: A) => nb.linalg.lu(x).slice(1), [nb.slice(a, [0, 0], [3, 3])], { order: 2 });
  });
});

// ---------------------------------------------------------------------------
// pinv and lstsq

describe("linalg.pinv", () => {
  /** The four Moore–Penrose conditions to `tol` relative to the sizes involved. */
  function penrose(a: M, p: M, tol: number): void {
    const ap = mm(a, p);
    const pa = mm(p, a);
    const sa = Math.max(1, maxAbs(a));
    const sp = Math.max(1, maxAbs(p));
    expectNear(mm(ap, a), a, tol * sa * sa * sp, "A P A - A");
    expectNear(mm(pa, p), p, tol * sp * sp * sa, "P A P - P");
    expectNear(T(ap), ap, tol * sa * sp, "(AP)ᵀ - AP");
    expectNear(T(pa), pa, tol * sa * sp, "(PA)ᵀ - PA");
  }

  it("satisfies the Penrose conditions for full-rank and rank-deficient matrices of every shape (property)", () => {
    // the conditions hold to O(n u cond) for the kept singular values; cond <= 1e3 here (entries in [-1, 1],
    // rank deficiency exact by construction), so 1e-11
    fc.assert(
      fc.property(arbMatrix, fc.boolean(), (a, deficient) => {
        const m = a.length;
        const n = a[0]!.length;
        let x = a;
        if (deficient && n >= 2) x = a.map((r) => [...r.slice(0, n - 1), r[0]! * 0.5]); // a repeated column
        const p = nb.linalg.pinv(x);
        expect(p.shape).toEqual([n, m]);
        const s = vals(nb.linalg.svd(x, { computeUv: false }));
        if (s[s.length - 1]! > 1e-3 * s[0]! || s[s.length - 1]! < 1e-12 * s[0]!) penrose(x, mat(p), 1e-11);
      }),
      fcOpts(903),
    );
  });

  it("inverts an invertible matrix (Gauss–Jordan reference, 1e-12) and drops singular values below rcond", () => {
    const a = [
      [4, 1, 0],
      [1, 3, 1],
      [0, 1, 2],
    ];
    expectNear(mat(nb.linalg.pinv(a)), invM(a), 1e-12, "pinv - inv");
    // diag(1, 1e-17) is numerically rank 1 under the default rcond max(m, n)·ε
    expect(
      mat(
        nb.linalg.pinv([
          [1, 0],
          [0, 1e-17],
        ]),
      ),
    ).toEqual([
      [1, 0],
      [0, 0],
    ]);
    expect(
      mat(
        nb.linalg.pinv(
          [
            [1, 0],
            [0, 1e-3],
          ],
          1e-2,
        ),
      ),
    ).toEqual([
      [1, 0],
      [0, 0],
    ]);
  });

  it("derivatives to order 2 at full rank, including repeated singular values; batched like the loop", () => {
    const tall = nb.array([
      [1, 0.2],
      [0.3, -1],
      [0.5, 0.4],
    ]);
    checkGrads((x: A) => nb.linalg.pinv(x), [tall], { order: 2 });
    checkGrads((x: A) => nb.linalg.pinv(x), [nb.transpose(tall)], { order: 2 });
    // an orthogonal matrix: both singular values 1
    checkGrads(
      (x: A) => nb.linalg.pinv(x),
      [
        nb.array([
          [0.6, -0.8],
          [0.8, 0.6],
        ]),
      ],
      { order: 2 },
    );
    const xs = nb.random.normal(nb.random.key(2), [2, 3, 2]);
    const ps = mats(nb.linalg.pinv(xs));
    mats(xs).forEach((a, b) => expect(mat(nb.linalg.pinv(a))).toEqual(ps[b]));
  });
});

describe("linalg.pinv at rank-deficient matrices: derivatives along matrices of the same rank", () => {
  // A(t) = u(t) v(t)ᵀ with u = u0 + t·u1 [3], v = v0 + t·v1 [2]: rank 1 for every t, and
  // A⁺ = v uᵀ / N with N = |u|²|v|² (closed form), so
  // d/dt A⁺ = ((v' uᵀ + v u'ᵀ) N − v uᵀ N') / N², N' = 2(u·u')|v|² + 2|u|²(v·v').
  const [u0, u1, v0, v1] = [
    [1, -0.5, 2],
    [0.3, 1, -0.2],
    [0.7, 1.2],
    [-0.4, 0.5],
  ];
  const at = (t: number) => [u0.map((x, i) => x + t * u1[i]!), v0.map((x, i) => x + t * v1[i]!)] as const;
  const dot = (a: number[], b: number[]) => a.reduce((acc, x, i) => acc + x * b[i]!, 0);
  const curve = (t: A) =>
    nb.outer(nb.add(nb.array(u0), nb.mul(t, nb.array(u1))), nb.add(nb.array(v0), nb.mul(t, nb.array(v1))));
  const g = (t: A) => nb.linalg.pinv(curve(t));

  it("value and first derivative against the closed form (1e-13)", () => {
    for (const t of [0, 0.3, -1.1]) {
      const [u, v] = at(t);
      const N = dot(u, u) * dot(v, v);
      const dN = 2 * dot(u, u1) * dot(v, v) + 2 * dot(u, u) * dot(v, v1);
      const value = v.map((vi) => u.map((uj) => (vi * uj) / N));
      const deriv = v.map((vi, i) => u.map((uj, j) => ((v1[i]! * uj + vi * u1[j]!) * N - vi * uj * dN) / N ** 2));
      const [p, dp] = nb.jvp(g, [nb.array(t)], [nb.array(1)]) as [A, A];
      // an SVD of a rank-1 3x2 matrix, O(1) entries: a few ulps per entry
      expectNear(mat(p), value, 1e-13, "pinv");
      expectNear(mat(dp), deriv, 1e-13, "d pinv / dt");
      // reverse mode: the same derivative (the adjoint of the rule)
      const gr = nb.grad((s: A) => nb.sum(nb.mul(g(s), nb.array(deriv))))(nb.array(t));
      expect(Math.abs(gr.item() - deriv.flat().reduce((acc, x) => acc + x * x, 0))).toBeLessThanOrEqual(1e-12);
    }
  });

  it("orders 1 to 3 in both modes against finite differences along rank-1 and rank-2 curves", () => {
    checkGrads(g, [nb.array(0.3)], { order: 3 });
    // a rank-2 4x3 curve B(t) C(t) (4x2 by 2x3)
    const b0 = nb.array([
      [1, 0.2],
      [-0.3, 1],
      [0.5, 0.4],
      [0.1, -0.7],
    ]);
    const c0 = nb.array([
      [0.6, -1, 0.3],
      [0.2, 0.5, 1.1],
    ]);
    // B(t) = B0 + t·flip(B0), C(t) = C0 + t·flip(C0): rank 2 near t = 0.2 (checked at t = 0 below)
    const h = (t: A) =>
      nb.linalg.pinv(nb.matmul(nb.add(b0, nb.mul(t, nb.flip(b0, 0))), nb.add(c0, nb.mul(t, nb.flip(c0, 1)))));
    expect(nb.linalg.lstsq(nb.matmul(b0, c0), nb.ones([4]))[2].item()).toBe(2);
    checkGrads(h, [nb.array(0.2)], { order: 2 });
    // lstsq's solution along the same curve (rank 2 of 3 columns: the minimum-norm solution)
    checkGrads(
      (t: A) => nb.linalg.lstsq(nb.matmul(nb.add(b0, nb.mul(t, nb.flip(b0, 0))), c0), nb.array([1, -1, 0.5, 2]))[0],
      [nb.array(0.2)],
      { order: 2 },
    );
  });

  it("a batch mixing ranks: each matrix's derivative is its own (rank 1 and rank 2 side by side)", () => {
    const [u, v] = at(0.3);
    const r1 = nb.outer(nb.array(u), nb.array(v));
    const full = nb.array([
      [1, 0.2],
      [0.3, -1],
      [0.5, 0.4],
    ]);
    // the tangent of the rank-1 matrix keeps its rank: d/dt of u(t) v(t)ᵀ at t = 0.3
    const t1 = nb.add(nb.outer(nb.array(u1), nb.array(v)), nb.outer(nb.array(u), nb.array(v1)));
    const t2 = nb.array([
      [0.5, -1],
      [2, 0.1],
      [-0.3, 0.7],
    ]);
    const [, batched] = nb.jvp((x: A) => nb.linalg.pinv(x), [nb.stack([r1, full])], [nb.stack([t1, t2])]) as [A, A];
    const [, one] = nb.jvp((x: A) => nb.linalg.pinv(x), [r1], [t1]) as [A, A];
    const [, two] = nb.jvp((x: A) => nb.linalg.pinv(x), [full], [t2]) as [A, A];
    // the same operations per matrix: equal up to the batched kernels' rounding
    expectNear(mats(batched)[0]!, mat(one), 1e-13, "batch[0]");
    expectNear(mats(batched)[1]!, mat(two), 1e-13, "batch[1]");
  });

  it("full rank: order 3 in both modes; jit and vmap of the gradient equal eager", () => {
    const tall = nb.array([
      [1, 0.2],
      [0.3, -1],
      [0.5, 0.4],
    ]);
    checkGrads((x: A) => nb.linalg.pinv(x), [tall], { order: 3 });
    const f = nb.grad((x: A) => nb.sum(nb.square(nb.linalg.pinv(x))));
    expect(mat(nb.jit(f)(tall))).toEqual(mat(f(tall)));
    const xs = nb.stack([tall, nb.mul(tall, 2)]);
    const batched = mats(nb.vmap(f)(xs) as A);
    expectNear(batched[0]!, mat(f(tall)), 1e-14, "vmap[0]");
    expectNear(batched[1]!, mat(f(nb.mul(tall, 2))), 1e-14, "vmap[1]");
  });
});

describe("linalg.svd derivative convention at repeated singular values (documented)", () => {
  it("U and Vh have NaN derivatives at an orthogonal matrix (both singular values 1); S's are finite", () => {
    const q = nb.array([
      [0.6, -0.8],
      [0.8, 0.6],
    ]);
    const part = (k: 0 | 1 | 2) => nb.grad((a: A) => nb.sum(nb.linalg.svd(a)[k]))(q);
    expect(vals(part(0)).every(Number.isNaN)).toBe(true);
    expect(vals(part(2)).every(Number.isNaN)).toBe(true);
    // d(s1 + s2) = tr(Uᵀ dA V) at A = Q: the gradient is U Vᵀ = Q itself
    expectNear(mat(part(1)), mat(q), 1e-15, "d sum(S)");
  });
});

describe("linalg.lstsq", () => {
  const a = [
    [1, 0.5],
    [1, 1.5],
    [1, 2.5],
    [1, 4],
  ];
  const b = [1, 2.2, 2.9, 4.5];

  it("overdetermined: x solves the normal equations, residuals = ‖b - a x‖², rank, s (plain-JS references)", () => {
    const [x, res, rank, s] = nb.linalg.lstsq(a, b);
    const ata = mm(T(a), a);
    const atb = mm(
      T(a),
      b.map((v) => [v]),
    );
    const want = mm(invM(ata), atb).map((r) => r[0]!);
    vals(x).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-13));
    const r = b.map((bi, i) => bi - a[i]![0]! * want[0]! - a[i]![1]! * want[1]!);
    expect(res.shape).toEqual([1]);
    expect(Math.abs(vals(res)[0]! - r.reduce((acc, v) => acc + v * v, 0))).toBeLessThanOrEqual(1e-13);
    expect(rank.dtype).toBe("int32");
    expect(rank.item()).toBe(2);
    expect(vals(s)).toEqual(vals(nb.linalg.svd(a, { computeUv: false })));
    // several right-hand sides: one residual per column
    const [x2, res2] = nb.linalg.lstsq(a, nb.stack([nb.array(b), nb.array(b).mul(2)], 1));
    expect(x2.shape).toEqual([2, 2]);
    expect(res2.shape).toEqual([2]);
    expect(Math.abs(vals(res2)[1]! - 4 * vals(res)[0]!)).toBeLessThanOrEqual(1e-12);
  });

  it("underdetermined and rank-deficient: the minimum-norm solution, empty residuals (NumPy)", () => {
    const w = [
      [1, 2, 0],
      [0, 1, 1],
    ];
    const [x, res, rank] = nb.linalg.lstsq(w, [1, 2]);
    const want = mm(T(w), mm(invM(mm(w, T(w))), [[1], [2]])).map((r) => r[0]!);
    vals(x).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-13));
    expect(res.shape).toEqual([0]);
    expect(rank.item()).toBe(2);
    // two equal columns: rank 1, x splits the one-column solution evenly
    const col = [1, 2, 3];
    const dup = col.map((v) => [v, v]);
    const [xd, resd, rankd] = nb.linalg.lstsq(dup, [1, 1, 2]);
    const c = (1 + 2 + 6) / 14;
    vals(xd).forEach((v) => expect(Math.abs(v - c / 2)).toBeLessThanOrEqual(1e-14));
    expect(rankd.item()).toBe(1);
    expect(resd.shape).toEqual([0]);
  });

  it("derivatives of x in a and b to order 2 (full rank)", () => {
    checkGrads((p: A, q: A) => nb.linalg.lstsq(p, q)[0], [nb.array(a), nb.array(b)], { order: 2 });
  });
});

// ---------------------------------------------------------------------------
// expm

/** e^A by its Taylor series Σ_{j<=60} A^j / j! (‖A‖ <= 1 here: the remainder is below 1/61!). */
function taylorExp(a: M): M {
  let term = eyeM(a.length);
  let sum = term;
  for (let j = 1; j <= 60; j++) {
    term = mm(term, a).map((r) => r.map((v) => v / j));
    sum = sum.map((r, i) => r.map((v, c) => v + term[i]![c]!));
  }
  return sum;
}

describe("linalg.expm", () => {
  it("equals the Taylor series for small matrices (norms hitting Padé degrees 3 to 13, 1e-14)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((n) =>
          fc.tuple(
            fc.array(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n }), {
              minLength: n,
              maxLength: n,
            }),
            fc.constantFrom(1e-3, 0.05, 0.2, 0.5, 1 / n),
          ),
        ),
        ([a, scale]) => {
          const x = a.map((r) => r.map((v) => v * scale));
          expectNear(mat(nb.linalg.expm(x)), taylorExp(x), 1e-14, "expm - Taylor");
        },
      ),
      fcOpts(904),
    );
  });

  it("a rotation generator gives the rotation matrix (θ up to 100: squarings keep 1e-13 · θ)", () => {
    for (const th of [0.01, 1, 3, 10, 100]) {
      const r = mat(
        nb.linalg.expm([
          [0, -th],
          [th, 0],
        ]),
      );
      const want = [
        [Math.cos(th), -Math.sin(th)],
        [Math.sin(th), Math.cos(th)],
      ];
      expectNear(r, want, 1e-14 * Math.max(1, th), `rotation by ${th}`);
    }
  });

  it("diagonalisable A = V D V⁻¹ gives V e^D V⁻¹; nilpotent A gives the finite series exactly", () => {
    const V = [
      [1, 2, 0],
      [0, 1, -1],
      [1, 0, 1],
    ];
    const Vi = invM(V);
    for (const d of [
      [0.5, -1, 2],
      [5, -3, 0.1],
    ]) {
      const a = mm(
        V.map((r) => r.map((v, j) => v * d[j]!)),
        Vi,
      );
      const want = mm(
        V.map((r) => r.map((v, j) => v * Math.exp(d[j]!))),
        Vi,
      );
      // forward error ~ cond(V)·‖A‖·u per squaring; cond(V) ≈ 6, e^5 ≈ 150: relative 1e-12
      expectNear(mat(nb.linalg.expm(a)), want, 1e-12 * maxAbs(want), `diag ${d.join(",")}`);
    }
    expect(
      mat(
        nb.linalg.expm([
          [0, 1, 2],
          [0, 0, 3],
          [0, 0, 0],
        ]),
      ),
    ).toEqual([
      [1, 1, 2 + 1.5],
      [0, 1, 3],
      [0, 0, 1],
    ]);
  });

  it("d/dt e^{tA} at t = 1 is A e^A (a jvp in direction A), and e^{A+E} ≈ e^A e^E for commuting diagonal E", () => {
    const a = nb.array([
      [0.2, 1.5, -0.3],
      [-0.7, 0.1, 0.9],
      [0.4, -1.2, 0.5],
    ]);
    const [ea, dea] = nb.jvp((x: A) => nb.linalg.expm(x), [a], [a]) as [A, A];
    expectNear(mat(dea), mm(mat(a), mat(ea)), 1e-13 * maxAbs(mat(ea)), "A e^A");
    const d = nb.array([
      [0.3, 0, 0],
      [0, -1, 0],
      [0, 0, 2],
    ]);
    const e = nb.array([
      [1, 0, 0],
      [0, 2, 0],
      [0, 0, -1],
    ]);
    const [, dd] = nb.jvp((x: A) => nb.linalg.expm(x), [d], [e]) as [A, A];
    expectNear(mat(dd), mat(nb.matmul(e, nb.linalg.expm(d))), 1e-14 * 8, "E e^D for diagonal D, E");
  });

  it("derivatives to order 2 against finite differences at several norms, and batched like the loop", () => {
    for (const scale of [0.01, 0.5, 4]) {
      const a = nb.random.normal(nb.random.key(7), [3, 3]).mul(scale);
      checkGrads((x: A) => nb.linalg.expm(x), [a], { order: 2 });
    }
    const xs = nb.random.normal(nb.random.key(8), [2, 2, 3, 3]);
    const got = mats(nb.linalg.expm(xs));
    mats(xs).forEach((x, b) => expect(mat(nb.linalg.expm(x))).toEqual(got[b]));
    const vm = mats(nb.vmap((x: A) => nb.linalg.expm(x))(nb.reshape(xs, [4, 3, 3])));
    expect(vm).toEqual(got);
  });
});

// ---------------------------------------------------------------------------
// errors

describe("linalg decomposition errors", () => {
  it.each([
    ["svd", () => nb.linalg.svd([1, 2]), nb.ShapeError, /^svd: .*\[2\]/],
    ["svd", () => nb.linalg.svd([[true]]), nb.DTypeError, /^svd: .*bool/],
    ["svd", () => nb.linalg.svd([[1]], { fullMatrices: 1 as unknown as boolean }), nb.NablaError, /^svd/],
    ["lu", () => nb.linalg.lu([1, 2]), nb.ShapeError, /^lu: .*\[2\]/],
    ["expm", () => nb.linalg.expm([[1, 2]]), nb.ShapeError, /^expm: .*\[1,\s?2\]/],
    ["eigvalsh", () => nb.linalg.eigvalsh([[1, 2]]), nb.ShapeError, /^eigvalsh: .*\[1,\s?2\]/],
    ["pinv", () => nb.linalg.pinv([1, 2]), nb.ShapeError, /^pinv: .*\[2\]/],
    ["pinv", () => nb.linalg.pinv([[1]], Number.NaN), nb.NablaError, /^pinv: .*rcond/],
    ["lstsq", () => nb.linalg.lstsq([[1, 2]], [1, 2]), nb.ShapeError, /^lstsq: .*\[1,\s?2\].*\[2\]/],
  ])("%s: bad input throws with the function's name", (_name, f, cls, msg) => {
    expect(f).toThrow(cls);
    expect(f).toThrow(msg);
  });

  it("inputs are not mutated", () => {
    const x = nb.array([
      [1, 2],
      [3, 4],
      [5, 7],
    ]);
    const before = vals(x);
    nb.linalg.svd(x);
    nb.linalg.lu(x);
    nb.linalg.pinv(x);
    nb.linalg.lstsq(x, [1, 2, 3]);
    nb.linalg.expm(nb.slice(x, [0, 0], [2, 2]));
    expect(vals(x)).toEqual(before);
  });
});
