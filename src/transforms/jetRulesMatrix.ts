/**
 * Taylor series of the determinant family and of the matrix exponential: the
 * bodies of the `det`, `cofactor`, `slogdet`, `expm` and `expm_frechet` lines
 * of the jet table (src/transforms/jetRules.ts), in the same conventions
 * (normalised coefficients, null = a zero coefficient, written with the
 * differentiable wrappers so they stage under `jit`, batch under `vmap` and
 * can be differentiated).
 *
 * det and cofactor are polynomials, exact at singular matrices, and their
 * series must be too. The route through A⁻¹ (det = sign·exp(log|det|),
 * cofactor = det·A⁻ᵀ) is not: coefficient k is det A_0 times terms of size
 * ‖A_0⁻¹‖^k, so at a singular or nearly singular A_0 it cancels catastrophically
 * (or divides 0 by 0): at a rounded singular 2×2 matrix, whose computed
 * determinant is 1e-16 rather than 0, that route gave 0.0625 for a second
 * derivative of 0.0669. Instead, for n ≥ 3 the series go through the bordered
 * matrix B = [[A, b], [cᵀ, δ]] with constant b, c, δ chosen from A_0's
 * cofactor matrix so that B_0 is well conditioned whenever A_0 has rank
 * ≥ n - 1 (see {@link border}), and
 *
 *   det A = det B · G_nn,   adj A = det B · (G_11 G_nn - G_1n G_n1),   G = B⁻¹
 *
 * (Cramer's rule for the corner of B⁻¹ and Jacobi's identity for its 2×2
 * minors; from the block inverse with Schur complement s = δ - cᵀA⁻¹b,
 * det B = s det A, G_nn = 1/s, G_11 = A⁻¹ + A⁻¹bcᵀA⁻¹/s, G_1n G_n1 =
 * A⁻¹bcᵀA⁻¹/s², and by continuity at singular A). The series of G is the
 * solve recurrence with B_0 and det B's is exp of log|det B|'s, both stable
 * because B_0 is well conditioned: K solves and O(K²) products of size n + 1.
 * n ≤ 2 needs no division at all (the 2×2 cofactor matrix is linear in A). At
 * rank ≤ n - 2 one border cannot help (B_0 stays singular): a concrete A_0
 * at or near it (see {@link tooIllConditioned}) returns null, and the table
 * line keeps nested jvp, whose cofactor route recurses into minors and stays
 * exact; a traced one gives inaccurate or (exactly there) non-finite
 * coefficients.
 */
import { ConcreteArray, storageOf, type NDArray } from "../core/ndarray.js";
import { at } from "../core/errors.js";
import { bind1 } from "../core/trace.js";
import * as E from "../prims/elementwise.js";
import * as R from "../prims/reduce.js";
import * as O from "../prims/wrap.js";
import type { T } from "../prims/rule.js";
import type { Series } from "./jetRules.js";

// ---------------------------------------------------------------------------
// series arithmetic (null = 0)

const add = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
const sub = (a: T, b: T): T => (b === null ? a : a === null ? O.neg(b) : O.sub(a, b));
const mul = (a: T, b: T): T => (a === null || b === null ? null : O.mul(a, b));
const scale = (a: T, c: number): T => (a === null ? null : c === 1 ? a : O.mul(a, c));

/** Coefficient k of a possibly constant operand's series (null = 0). */
const coef = (s: Series | null | undefined, k: number): T => s?.[k] ?? null;

/** The size of the last axis (the matrices' order n). */
const matrixSize = (x: NDArray): number => at(x.shape, x.ndim - 1, "jet");

/** [x_0, x_1, ..., x_K] of a possibly constant operand (null coefficients for a constant). */
const full = (s: Series | null | undefined, x0: NDArray, K: number): T[] => {
  const out: T[] = [x0];
  for (let k = 1; k <= K; k++) out.push(s?.[k] ?? null);
  return out;
};

/** Coefficient k of the product series: Σ_{i=0..k} f(a_i, b_{k-i}) for a bilinear f. */
function cauchyWith(a: readonly T[], b: readonly T[], k: number, f: (x: NDArray, y: NDArray) => NDArray): T {
  let acc: T = null;
  for (let i = 0; i <= k; i++) {
    const x = a[i] ?? null;
    const y = b[k - i] ?? null;
    if (x !== null && y !== null) acc = add(acc, f(x, y));
  }
  return acc;
}

const swapLast = (x: NDArray): NDArray => {
  const p = Array.from({ length: x.ndim }, (_, i) => i);
  p[x.ndim - 2] = x.ndim - 1;
  p[x.ndim - 1] = x.ndim - 2;
  return O.transposePrim(x, p);
};

const stop = (x: NDArray): NDArray => bind1(E.STOP_GRADIENT, [x], {});

/** x[..., r0:r1, c0:c1]. */
function block(x: NDArray, r0: number, r1: number, c0: number, c1: number): NDArray {
  const nd = x.ndim;
  const begin = x.shape.map(() => 0);
  const end = x.shape.slice();
  begin[nd - 2] = r0;
  end[nd - 2] = r1;
  begin[nd - 1] = c0;
  end[nd - 1] = c1;
  return O.slicePrim(x, begin, end);
}

/** Σ over the last two axes, kept as size 1: [..., n, m] → [..., 1, 1]. */
const sum2 = (x: NDArray): NDArray =>
  O.reshape(O.reduceSum(x, [x.ndim - 2, x.ndim - 1]), [...x.shape.slice(0, -2), 1, 1]);

/** [..., 1, 1] → [...]. */
const unbox = (x: T): T => (x === null ? null : O.reshape(x, x.shape.slice(0, -2)));

// ---------------------------------------------------------------------------
// det and cofactor

/**
 * Whether the bordered series is estimated to lose more than half the digits,
 * for a concrete B_0 and series. Coefficient k of G = B⁻¹ is of size (ρ/σ)^k / σ with
 * σ = B_0's smallest singular value and ρ = max_j ‖A_j‖^(1/j) (the series'
 * growth), and det B · G cancels it down to the size of det A's coefficients:
 * rounding errors of at most about ε (ρ/σ)^k relative to those (measured on
 * 3×3 matrices of singular values 2, 2r, 0 with random input terms, order 6:
 * cofactor errors 6e-13 at r = 0.1 and 2e-12 at r = 0.03, against ε (ρ/σ)^6 =
 * 4e-12 and 5e-10; 2e-8 at r = 0.01, where this test now picks nested jvp
 * instead). A small σ means A_0 is close to rank n - 2 (or is tiny); then
 * ε (ρ/σ)^K > √ε sends the rule to nested jvp, exact there.
 */
function tooIllConditioned(B0: ConcreteArray, sA: Series | null | undefined, K: number): boolean {
  const m = matrixSize(B0);
  const n = m - 1;
  const sv = storageOf(O.svdPrim(B0, false)[1] as ConcreteArray);
  let sigma = Infinity;
  for (let i = m - 1; i < sv.length; i += m) sigma = Math.min(sigma, Number(sv[i]));
  let rho = 0;
  for (let j = 1; j <= K; j++) {
    const a = sA?.[j];
    if (!(a instanceof ConcreteArray) || a.device !== "cpu") continue;
    const d = storageOf(a);
    for (let o = 0; o < d.length; o += n * n) {
      let f = 0;
      for (let i = o; i < o + n * n; i++) f += Number(d[i]) ** 2;
      rho = Math.max(rho, Math.sqrt(f) ** (1 / j));
    }
  }
  const eps = B0.dtype === "float32" ? 2 ** -23 : 2 ** -52;
  return (rho / sigma) ** K > eps ** -0.5;
}

/**
 * The border of A_0 ([..., n, n], n ≥ 2): B_0 = [[A_0, b], [cᵀ, δ]].
 *
 * With A_0 = Σ s_i u_i v_iᵀ, the cofactor matrix is C = ±Σ_i (Π_{j≠i} s_j) u_i v_iᵀ,
 * whose dominant term is the smallest singular value's (i = n). b is C's
 * largest column and c its largest row, both scaled to β = max|A_0|: near
 * rank n - 1 they are ±β u_n and ±β v_n (the largest column of a rank-one
 * u vᵀ is u times an entry of v of size ≥ 1/√n), and in that basis B_0 is
 * diag(s_1, ..., s_{n-1}) ⊕ [[s_n, ±β], [±β, δ]], conditioned like s_1/s_{n-1}
 * however small s_n is. The sign of δ = ±β makes δ det A_0 and -cᵀ adj(A_0) b
 * agree, so |det B_0| = β|det A_0| + |cᵀ adj(A_0) b| has no cancellation. The
 * series built on B do not depend on b, c, δ (any border with B_0 invertible
 * gives the same det A and adj A), so their derivatives are stopped.
 */
function border(A0: NDArray): NDArray {
  const nd = A0.ndim;
  const n = matrixSize(A0);
  const batch = A0.shape.slice(0, -2);
  const A = stop(A0);
  const C = stop(O.cofactorPrim(A));
  const beta0 = O.reshape(bind1(R.REDUCE_MAX, [bind1(E.ABS, [A], {})], { axes: [nd - 2, nd - 1] }), [...batch, 1, 1]);
  const beta = O.where(O.greater(beta0, 0), beta0, 1);
  // one-hot [..., n] of the largest entry of v along the last axis
  const oneHot = (v: NDArray): NDArray => {
    const i = bind1(R.ARGMAX, [v], { axis: v.ndim - 1 });
    return O.astype(O.equal(O.iota(n), O.reshape(i, [...batch, 1])), A0.dtype);
  };
  const normed = (x: NDArray): NDArray => {
    const norm = O.sqrt(sum2(O.mul(x, x)));
    return O.mul(x, O.div(beta, O.where(O.greater(norm, 0), norm, 1)));
  };
  const sq = O.mul(C, C);
  const b = normed(O.matmulPrim(C, O.reshape(oneHot(O.reduceSum(sq, [nd - 2])), [...batch, n, 1])));
  const c = normed(O.matmulPrim(O.reshape(oneHot(O.reduceSum(sq, [nd - 1])), [...batch, 1, n]), C));
  const q = O.matmulPrim(O.matmulPrim(c, swapLast(C)), b);
  const d0 = O.reshape(O.detPrim(A), [...batch, 1, 1]);
  const delta = O.where(O.greater(O.mul(q, d0), 0), O.neg(beta), beta);
  return O.concatPrim([O.concatPrim([A0, b], nd - 1), O.concatPrim([c, delta], nd - 1)], nd - 2);
}

/**
 * The series of G = B⁻¹ and of det B (each [x_0..x_K]; det B's as [..., 1, 1])
 * for B(t) = [[A(t), b], [cᵀ, δ]]: B_0 G_k = -Σ_{j=1..k} B_j G_{k-j} (K + 1
 * solves with B_0), and with ℓ = log|det B|, ℓ' = tr(G B') = Σ_i tr(G_i (B')_{m-i})
 * (B_j is A_j in the top-left block, so each trace is an elementwise product),
 * det B' = det B · ℓ', the exp recurrence. Null when a concrete B_0 on the
 * CPU is too ill conditioned for the series (see {@link tooIllConditioned}).
 */
function borderedSeries(A0: NDArray, sA: Series | null | undefined, K: number): { G: T[]; y: T[] } | null {
  const nd = A0.ndim;
  const n = matrixSize(A0);
  const B0 = border(A0);
  // B_0 on a device ("webgpu") is not read synchronously: the series is used, as for a traced one
  if (B0 instanceof ConcreteArray && B0.device === "cpu" && tooIllConditioned(B0, sA, K)) return null;
  const lo = A0.shape.map(() => 0);
  const hi = A0.shape.map((_, i) => (i >= nd - 2 ? 1 : 0));
  const Bs: T[] = [null];
  for (let j = 1; j <= K; j++) {
    const a = coef(sA, j);
    Bs.push(a === null ? null : O.padPrim(a, lo, hi));
  }
  const G: T[] = [O.solvePrim(B0, O.broadcastPrim(O.eye(n + 1, n + 1, A0.dtype), B0.shape))];
  for (let k = 1; k <= K; k++) {
    let rhs: T = null;
    for (let j = 1; j <= k; j++) {
      const a = Bs[j] ?? null;
      const g = G[k - j] ?? null;
      if (a !== null && g !== null) rhs = sub(rhs, O.matmulPrim(a, g));
    }
    G.push(rhs === null ? null : O.solvePrim(B0, rhs));
  }
  // (B')_r = (r + 1) B_{r+1}: only A's block, so tr(G_i (B')_r) = Σ G_i[:n, :n] ∘ (r + 1) A_{r+1}ᵀ
  const G11 = G.map((g) => (g === null ? null : block(g, 0, n, 0, n)));
  const dAt: T[] = [];
  for (let r = 0; r < K; r++) {
    const a = coef(sA, r + 1);
    dAt.push(a === null ? null : scale(swapLast(a), r + 1));
  }
  const dl: T[] = [];
  for (let m = 0; m < K; m++) {
    const c = cauchyWith(G11, dAt, m, O.mul);
    dl.push(c === null ? null : sum2(c));
  }
  const y: T[] = [O.reshape(O.detPrim(B0), [...A0.shape.slice(0, -2), 1, 1])];
  for (let k = 1; k <= K; k++) {
    // k y_k = Σ_{j=1..k} (ℓ')_{j-1} y_{k-j}
    let acc: T = null;
    for (let j = 1; j <= k; j++) acc = add(acc, mul(dl[j - 1] ?? null, y[k - j] ?? null));
    y.push(scale(acc, 1 / k));
  }
  return { G, y };
}

/** ⟨x, y⟩ over the last two axes → [...]. */
const inner = (x: NDArray, y: NDArray): NDArray => O.reduceSum(O.mul(x, y), [x.ndim - 2, x.ndim - 1]);

/**
 * Coefficients 1..K of det A(t), or null (nested jvp) for a concrete A_0 of
 * rank ≤ n - 2. n = 1: A itself. n = 2: det = ½⟨cof A, A⟩ with cof linear, so
 * d_k = ½ Σ_i ⟨cof A_i, A_{k-i}⟩. n ≥ 3: det B · G_nn (see the module comment).
 */
export function detSeries(A0: NDArray, sA: Series | null | undefined, K: number): T[] | null {
  const n = matrixSize(A0);
  const batch = A0.shape.slice(0, -2);
  if (n === 1)
    return Array.from({ length: K }, (_, i) => {
      const a = coef(sA, i + 1);
      return a === null ? null : O.reshape(a, batch);
    });
  const a = full(sA, A0, K);
  if (n === 2) {
    const cof = a.map((x) => (x === null ? null : O.cofactorPrim(x)));
    return Array.from({ length: K }, (_, i) => scale(cauchyWith(cof, a, i + 1, inner), 0.5));
  }
  const s = borderedSeries(A0, sA, K);
  if (s === null) return null;
  const g = s.G.map((x) => (x === null ? null : block(x, n, n + 1, n, n + 1)));
  return Array.from({ length: K }, (_, i) => unbox(cauchyWith(s.y, g, i + 1, O.mul)));
}

/**
 * Coefficients 1..K of cofactor A(t) = adj(A(t))ᵀ, or null (nested jvp) for a
 * concrete A_0 of rank ≤ n - 2. n = 1: the constant 1. n = 2: linear in A.
 * n ≥ 3: adj A = det B · P with P = G_11 G_nn - G_1n G_n1 (see the module comment).
 */
export function cofactorSeries(A0: NDArray, sA: Series | null | undefined, K: number): T[] | null {
  const n = matrixSize(A0);
  if (n === 1) return Array.from({ length: K }, () => null);
  if (n === 2)
    return Array.from({ length: K }, (_, i) => {
      const a = coef(sA, i + 1);
      return a === null ? null : O.cofactorPrim(a);
    });
  const s = borderedSeries(A0, sA, K);
  if (s === null) return null;
  const part = (r0: number, r1: number, c0: number, c1: number) =>
    s.G.map((x) => (x === null ? null : block(x, r0, r1, c0, c1)));
  const G11 = part(0, n, 0, n);
  const col = part(0, n, n, n + 1);
  const row = part(n, n + 1, 0, n);
  const g = part(n, n + 1, n, n + 1);
  const P: T[] = [];
  for (let k = 0; k <= K; k++) P.push(sub(cauchyWith(G11, g, k, O.mul), cauchyWith(col, row, k, O.mul)));
  return Array.from({ length: K }, (_, i) => {
    const adj = cauchyWith(s.y, P, i + 1, O.mul);
    return adj === null ? null : swapLast(adj);
  });
}

// ---------------------------------------------------------------------------
// slogdet

/** Σ_i m[..., i, i]. */
function trace2(m: NDArray): NDArray {
  const n = matrixSize(m);
  return O.reduceSum(O.mul(m, O.eye(n, n, m.dtype)), [m.ndim - 2, m.ndim - 1]);
}

/**
 * Coefficients 1..K of ℓ(t) = log|det A(t)| (the sign is locally constant).
 * With W = A⁻¹ A' (t-derivative), ℓ' = tr W, and W solves A W = A':
 * A_0 W_m = (A')_m - Σ_{j=1..m} A_j W_{m-j} with (A')_m = (m+1) A_{m+1}, so
 * ℓ_{m+1} = tr(W_m) / (m+1): K solves with A_0 and K(K-1)/2 products. The
 * coefficients are those of log|det|, whose k-th derivative is of size
 * ‖A_0⁻¹‖^k near a singular A_0: large there by nature, not by cancellation.
 */
export function logdetSeries(A0: NDArray, sA: Series | null | undefined, K: number): T[] {
  const W: T[] = [];
  for (let m = 0; m < K; m++) {
    let rhs: T = scale(sA?.[m + 1] ?? null, m + 1);
    for (let j = 1; j <= m; j++) {
      const a = sA?.[j] ?? null;
      const w = W[m - j] ?? null;
      if (a !== null && w !== null) rhs = sub(rhs, O.matmulPrim(a, w));
    }
    W.push(rhs === null ? null : O.solvePrim(A0, rhs));
  }
  return W.map((w, m) => (w === null ? null : scale(trace2(w), 1 / (m + 1))));
}

// ---------------------------------------------------------------------------
// expm and expm_frechet

/**
 * The block upper-triangular Toeplitz matrix of a matrix series [X_0, ..., X_K]
 * ([..., n, n] each): block (i, j) is X_{j-i} for j ≥ i, 0 below; [..., n(K+1), n(K+1)].
 *
 * Why it gives the series of matrix functions: with N the (K+1)×(K+1) shift
 * (N_{i,i+1} = 1, N^{K+1} = 0), φ(X) = Σ_k N^k ⊗ X_k maps series truncated
 * after t^K to block matrices, and it is an algebra homomorphism: φ(X)φ(Y) =
 * Σ_{i,j} N^{i+j} ⊗ X_i Y_j = Σ_k N^k ⊗ (Σ_{i+j=k} X_i Y_j) = φ(XY mod t^{K+1})
 * (N^{i+j} = 0 exactly when i + j > K), linear, with φ(I) = I. So φ commutes
 * with every power series: exp(φ(A)) = Σ_m φ(A)^m / m! = φ(Σ_m A(t)^m / m!) =
 * φ(exp A(t) mod t^{K+1}), whose first block row is [E_0, ..., E_K], the
 * normalised coefficients of exp A(t) (no factorial scaling: both sides are in
 * normalised coefficients). A(t) and A'(t) need not commute; the argument only
 * uses that t is a scalar. The same holds for L(A, E) = Σ_m 1/m! Σ_{i+j=m-1}
 * AⁱEAʲ, a polynomial series in A and E: L(φ(A), φ(E)) = φ(L(A(t), E(t))).
 */
function toeplitz(x: readonly T[], zero: NDArray, K: number): NDArray {
  const nd = zero.ndim;
  const rows: NDArray[] = [];
  for (let i = 0; i <= K; i++) {
    const blocks: NDArray[] = [];
    for (let j = 0; j <= K; j++) blocks.push(j < i ? zero : (x[j - i] ?? zero));
    rows.push(O.concatPrim(blocks, nd - 1));
  }
  return O.concatPrim(rows, nd - 2);
}

/** Blocks (0, 1..K) of a [..., n(K+1), n(K+1)] matrix: coefficients 1..K of the series it represents. */
const firstRow = (m: NDArray, n: number, K: number): T[] =>
  Array.from({ length: K }, (_, i) => block(m, 0, n, (i + 1) * n, (i + 2) * n));

/** Coefficients 1..K of expm A(t): one expm of the n(K+1) block Toeplitz matrix. */
export function expmSeries(A0: NDArray, sA: Series | null | undefined, K: number): T[] {
  const z = O.zeros(A0.shape, A0.dtype);
  return firstRow(O.expmPrim(toeplitz(full(sA, A0, K), z, K)), matrixSize(A0), K);
}

/** Coefficients 1..K of L(A(t), E(t)): one expm_frechet of the two block Toeplitz matrices. */
export function expmFrechetSeries(
  A0: NDArray,
  E0: NDArray,
  sA: Series | null | undefined,
  sE: Series | null | undefined,
  K: number,
): T[] {
  const z = O.zeros(A0.shape, A0.dtype);
  const L = O.expmFrechetPrim(toeplitz(full(sA, A0, K), z, K), toeplitz(full(sE, E0, K), z, K));
  return firstRow(L, matrixSize(A0), K);
}
