/**
 * Taylor-mode rules (`jet`) of the decompositions qr, eigh, svd and lu: one
 * pass, O(K²) matrix products for K coefficients (against the 2^K nested
 * JVPs of `viaJvp`).
 *
 * Each factorisation is a set of polynomial identities in its factors (A =
 * QR and QᵀQ = I; S V = V Λ and VᵀV = I; ...). Coefficient k of an identity
 * is linear in the factors' coefficients k, through the same operator as the
 * JVP, with a right-hand side made of the products of lower coefficients: so
 * coefficient k solves the JVP's system with that right-hand side. lu's
 * system is the JVP's as it is, so its rule calls the JVP rule; qr's calls it
 * too and adds the solution for the known symmetric part Q_0ᵀQ_k + Q_kᵀQ_0
 * (zero for the JVP). eigh and svd solve in the primal's eigen- or singular
 * bases directly: their right-hand sides are not symmetric, which the JVP
 * rules' symmetrisation of dA would discard. The series is that of the smooth branch through the primal
 * outputs the JVP differentiates: distinct eigenvalues, distinct nonzero
 * singular values, the same signs and order as the primal, and P constant.
 *
 * Series are normalised coefficients `[x0, x1, ..., xK]`, null = 0 (see
 * jetRules.ts); every rule is written with the differentiable wrappers.
 */
import { fromNested, type NDArray } from "../core/ndarray.js";
import { at } from "../core/errors.js";
import * as O from "../prims/wrap.js";
import type { Params } from "../prims/table.js";
import type { T } from "../prims/rule.js";
import type { JetRule } from "./jetRules.js";

// ---------------------------------------------------------------------------
// null-aware matrix arithmetic (null = 0)

const add = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
const subFrom = (a: NDArray, b: T): NDArray => (b === null ? a : O.sub(a, b));
const sub = (a: T, b: T): T => (a === null ? (b === null ? null : O.neg(b)) : subFrom(a, b));
const mul = (a: T, b: T): T => (a === null || b === null ? null : O.mul(a, b));
const scale = (a: T, c: number): T => (a === null ? null : O.mul(a, c));
const mm = (a: T, b: T): T => (a === null || b === null ? null : O.matmulPrim(a, b));

/** x with its last two axes swapped. */
const swap = (x: NDArray): NDArray => {
  const p = Array.from({ length: x.ndim }, (_, i) => i);
  p[x.ndim - 2] = x.ndim - 1;
  p[x.ndim - 1] = x.ndim - 2;
  return O.transposePrim(x, p);
};
const swapT = (x: T): T => (x === null ? null : swap(x));

const lastDim = (x: NDArray, op: string): number => at(x.shape, x.ndim - 1, op);

/** A vector [..., n] as a row [..., 1, n] (scales columns) or a column [..., n, 1] (scales rows). */
const asRow = (s: NDArray, op: string): NDArray => O.reshape(s, [...s.shape.slice(0, -1), 1, lastDim(s, op)]);
const asCol = (s: NDArray): NDArray => O.reshape(s, [...s.shape, 1]);

/** The diagonal [..., n] of [..., n, n] matrices (I the identity). */
const diagOf = (x: T, I: NDArray): T => (x === null ? null : O.reduceSum(O.mul(x, I), [x.ndim - 1]));

/** [n, n] mask of the upper triangle (1 above the diagonal) with diagonal weight `diag`. */
function upperMask(n: number, dtype: NDArray["dtype"], diag: number): NDArray {
  const rows = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (__, j) => (i === j ? diag : j > i ? 1 : 0)),
  );
  return fromNested(rows, dtype);
}

/** diag(xᵀ y) [..., n] of [..., m, n] matrices, without the product: Σ_r x_rc y_rc. */
const diagGram = (x: NDArray, y: NDArray): NDArray => O.reduceSum(O.mul(x, y), [x.ndim - 2]);

/** The vector v [..., n] on the diagonal of [..., n, n] (I the identity). */
const onDiag = (v: T, I: NDArray, op: string): T => (v === null ? null : O.mul(I, asRow(v, op)));

/** Σ_{i=from..k-from} a_i ∘ b_{k-i} for a bilinear ∘ (null terms skipped). */
function sumProducts(a: readonly T[], b: readonly T[], k: number, from: number, f: (x: NDArray, y: NDArray) => T): T {
  let acc: T = null;
  for (let i = from; i <= k - from; i++) {
    const x = a[i] ?? null;
    const y = b[k - i] ?? null;
    if (x !== null && y !== null) acc = add(acc, f(x, y));
  }
  return acc;
}

/** x[..., r0:r1, c0:c1]. */
function block(x: NDArray, r0: number, r1: number, c0: number, c1: number): NDArray {
  const lead = x.shape.slice(0, -2);
  return O.slicePrim(x, [...lead.map(() => 0), r0, c0], [...lead, r1, c1]);
}

// ---------------------------------------------------------------------------
// qr

/**
 * Reduced A = QR (m ≥ n, R upper, QᵀQ = I). Coefficient k:
 * Q_0 R_k + Q_k R_0 = A_k - Σ_{0<i<k} Q_i R_{k-i} =: Ã_k and
 * Q_0ᵀQ_k + Q_kᵀQ_0 = -N_k, N_k = Σ_{0<i<k} Q_iᵀ Q_{k-i} (symmetric).
 * With C = Q_0ᵀ Ã_k R_0⁻¹ and X = Q_0ᵀ Q_k, R_k R_0⁻¹ = C - X is upper, so X's
 * strictly lower part is C's and X + Xᵀ = -N_k fixes the rest:
 * X = low(C) - low(C)ᵀ - H, H = N_k's upper triangle with the diagonal halved.
 * The JVP rule at dA = Ã_k is the solution with H = 0 (dQ = B - Q_0 (C - Ω),
 * dR = (C - Ω) R_0), so Q_k = dQ - Q_0 H and R_k = dR + H R_0.
 */
export const qrJet: JetRule<Params["qr"], 1, 2> = (prim, P, [sA], [q0, r0], params, K) => {
  const n = lastDim(r0, "qr");
  const half = upperMask(n, r0.dtype, 0.5);
  const Q: T[] = [q0];
  const R: T[] = [r0];
  for (let k = 1; k <= K; k++) {
    const rhs = sub(sA?.[k] ?? null, sumProducts(Q, R, k, 1, O.matmulPrim));
    const N = sumProducts(Q, Q, k, 1, (a, b) => O.matmulPrim(swap(a), b));
    let [qk, rk]: T[] = rhs === null ? [null, null] : prim.jvp(P.slice(), [rhs], [q0, r0], params);
    if (N !== null) {
      const H = O.mul(N, half);
      qk = sub(qk ?? null, O.matmulPrim(q0, H));
      rk = add(rk ?? null, O.matmulPrim(H, r0));
    }
    Q.push(qk ?? null);
    R.push(rk ?? null);
  }
  return [Q.slice(1), R.slice(1)];
};

// ---------------------------------------------------------------------------
// eigh

/**
 * S = (A + Aᵀ)/2 = V Λ Vᵀ, eigenvalues ascending and distinct. In the primal's
 * eigenbasis, Ŝ_i = V_0ᵀ S_i V_0 and X_i = V_0ᵀ V_i (X_0 = I, Ŝ_0 = Λ_0), the
 * identities Σ Ŝ_i X_{k-i} = Σ X_i Λ_{k-i} and Σ X_iᵀ X_{k-i} = 0 give at order k
 * Λ_k - (Λ_0 X_k - X_k Λ_0) = M_k, M_k = Ŝ_k + Σ_{0<i<k} (Ŝ_i X_{k-i} - X_i Λ_{k-i}):
 * λ_k = diag(M_k), (X_k)_ij = M_ij / (λ_j - λ_i) off the diagonal (the JVP's F ∘ M),
 * and (X_k)_ii = -(N_k)_ii / 2 with N_k = Σ_{0<i<k} X_iᵀ X_{k-i} (its diagonal only); V_k = V_0 X_k.
 */
export const eighJet: JetRule<Params["eigh"], 1, 2> = (_prim, _P, [sA], [w0, v0], _params, K) => {
  const n = lastDim(w0, "eigh");
  const dtype = w0.dtype;
  const I = O.eye(n, n, dtype);
  const wr = asRow(w0, "eigh");
  const wc = asCol(w0);
  const F = O.div(O.sub(1, I), O.add(O.sub(wr, wc), I)); // 1 / (λ_j - λ_i), 0 on the diagonal
  const vT = swap(v0);
  const Sh: T[] = [null];
  for (let k = 1; k <= K; k++) {
    const a = sA?.[k] ?? null;
    Sh.push(a === null ? null : O.matmulPrim(vT, O.matmulPrim(O.mul(O.add(a, swap(a)), 0.5), v0)));
  }
  const L: T[] = [w0];
  const X: T[] = [null]; // X_0 = I, never read
  for (let k = 1; k <= K; k++) {
    let M = Sh[k] ?? null;
    for (let i = 1; i < k; i++) {
      M = add(M, mm(Sh[i] ?? null, X[k - i] ?? null));
      const li = L[k - i] ?? null;
      M = sub(M, li === null ? null : mul(X[i] ?? null, asRow(li, "eigh")));
    }
    const dN = sumProducts(X, X, k, 1, diagGram);
    L.push(diagOf(M, I));
    X.push(sub(mul(M, F), scale(onDiag(dN, I, "eigh"), 0.5)));
  }
  return [L.slice(1), X.slice(1).map((x) => mm(v0, x))];
};

// ---------------------------------------------------------------------------
// svd

/**
 * A = U₁ S V₁ᵀ (thin, k = min(m, n), S descending, distinct and nonzero), U₁ᵀU₁ = V₁ᵀV₁ = I.
 * Coefficient k of A V₁ = U₁ S and Aᵀ U₁ = V₁ S: with U_k = U_0 X + U_⊥, V_k = V_0 Y + V_⊥
 * (U_⊥, V_⊥ orthogonal to U_0, V_0),
 *   S_0 Y - X S_0 + E₁ = S_k,  S_0 X - Y S_0 + E₂ = S_k,  U_⊥ = (I - U_0U_0ᵀ) R₁ S_0⁻¹, V_⊥ likewise,
 * where R₁ = Σ_{i≥1} A_i V_{k-i} - Σ_{0<i<k} U_i S_{k-i}, R₂ = Σ_{i≥1} A_iᵀ U_{k-i} - Σ_{0<i<k} V_i S_{k-i},
 * E₁ = U_0ᵀ R₁, E₂ = V_0ᵀ R₂. The diagonals give S_k = (diag E₁ + diag E₂)/2; each pair (i, j), i ≠ j,
 * is a 2 x 2 system: X_ij = F_ij (E₁_ij s_j + s_i E₂_ij), Y_ij = F_ij (s_i E₁_ij + E₂_ij s_j),
 * F_ij = 1/(s_j² - s_i²) (at k = 1, E₂ = E₁ᵀ and these are the JVP's); the orthogonality of the
 * factors fixes the diagonals, X_ii = -(N_U)_ii / 2 with N_U = Σ_{0<i<k} U_iᵀ U_{k-i} (Y with N_V).
 *
 * The completing columns of full matrices follow the JVP's choice (U₂ᵀ dU₂ = 0) all along the path:
 * U₂' = -U₁ U₁'ᵀ U₂ (and V₂' = -V₁ V₁'ᵀ V₂), which is what nested JVPs differentiate; its series is the
 * linear ODE's recurrence k U₂_k = -Σ_{a+b=k-1} U₁_a (U₁'ᵀ U₂)_b, after U₁'s series.
 */
export const svdJet: JetRule<Params["svd"], 1, 3> = (_prim, _P, [sA], [u0, s0, vh0], _params, K) => {
  const op = "svd";
  const nd = u0.ndim;
  const m = at(u0.shape, nd - 2, op);
  const um = lastDim(u0, op);
  const vn = at(vh0.shape, nd - 2, op);
  const n = lastDim(vh0, op);
  const kk = lastDim(s0, op);
  const dtype = s0.dtype;
  const I = O.eye(kk, kk, dtype);
  const U0 = um > kk ? block(u0, 0, m, 0, kk) : u0;
  const V0 = swap(vn > kk ? block(vh0, 0, kk, 0, n) : vh0);
  const U0T = swap(U0);
  const V0T = swap(V0);
  const sr = asRow(s0, op);
  const sc = asCol(s0);
  const F = O.div(O.sub(1, I), O.add(O.sub(O.mul(sr, sr), O.mul(sc, sc)), I));
  const A: T[] = [null];
  const AT: T[] = [null];
  for (let k = 1; k <= K; k++) {
    A.push(sA?.[k] ?? null);
    AT.push(swapT(sA?.[k] ?? null));
  }
  const U: [NDArray, ...T[]] = [U0];
  const S: T[] = [s0];
  const V: [NDArray, ...T[]] = [V0];
  const scaleCols = (x: NDArray, s: NDArray) => O.mul(x, asRow(s, op));
  for (let k = 1; k <= K; k++) {
    const R1 = sub(sumProducts(A, V, k, 0, O.matmulPrim), sumProducts(U, S, k, 1, scaleCols));
    const R2 = sub(sumProducts(AT, U, k, 0, O.matmulPrim), sumProducts(V, S, k, 1, scaleCols));
    const NU = sumProducts(U, U, k, 1, diagGram); // diagonals of N_U, N_V
    const NV = sumProducts(V, V, k, 1, diagGram);
    if (R1 === null && R2 === null && NU === null && NV === null) {
      U.push(null);
      S.push(null);
      V.push(null);
      continue;
    }
    const E1 = mm(U0T, R1);
    const E2 = mm(V0T, R2);
    S.push(scale(add(diagOf(E1, I), diagOf(E2, I)), 0.5));
    const X = sub(mul(F, add(mul(E1, sr), mul(sc, E2))), scale(onDiag(NU, I, op), 0.5));
    const Y = sub(mul(F, add(mul(sc, E1), mul(E2, sr))), scale(onDiag(NV, I, op), 0.5));
    const uPerp = R1 === null ? null : O.div(subFrom(R1, mm(U0, E1)), sr);
    const vPerp = R2 === null ? null : O.div(subFrom(R2, mm(V0, E2)), sr);
    U.push(add(mm(U0, X), uPerp));
    V.push(add(mm(V0, Y), vPerp));
  }
  const u = um > kk ? withComplement(U, block(u0, 0, m, kk, um), K) : U;
  const v = vn > kk ? withComplement(V, swap(block(vh0, kk, vn, 0, n)), K) : V;
  return [u.slice(1), S.slice(1), v.slice(1).map(swapT)];
};

/**
 * The series [W₁ W₂] (columns concatenated) of an orthonormal completion W₂ of W₁ (W₁'s series given)
 * with W₂' = -W₁ W₁'ᵀ W₂, W₂(0) = w2: k W₂_k = -Σ_{a+b=k-1} W₁_a G_b with G = W₁'ᵀ W₂, whose
 * coefficient b needs W₂ up to order b only.
 */
function withComplement(W1: readonly [NDArray, ...T[]], w2: NDArray, K: number): T[] {
  const w1 = W1[0];
  const D: T[] = []; // W₁' series: D_c = (c + 1) W₁_{c+1}, transposed
  for (let c = 0; c < K; c++) D.push(swapT(scale(W1[c + 1] ?? null, c + 1)));
  const W2: T[] = [w2];
  const G: T[] = [];
  for (let k = 1; k <= K; k++) {
    G.push(sumProducts(D, W2, k - 1, 0, O.matmulPrim));
    W2.push(scale(sumProducts(W1, G, k - 1, 0, O.matmulPrim), -1 / k));
  }
  const out: T[] = [null];
  for (let k = 1; k <= K; k++) {
    const a = W1[k] ?? null;
    const b = W2[k] ?? null;
    if (a === null && b === null) out.push(null);
    else out.push(O.concatPrim([a ?? O.mul(w1, 0), b ?? O.mul(w2, 0)], w2.ndim - 1));
  }
  return out;
}

// ---------------------------------------------------------------------------
// lu

/**
 * A = P L U with P constant in t (piecewise constant: its series is zero): Pᵀ A = L U, L unit lower
 * (its coefficients k ≥ 1 strictly lower), U upper. Coefficient k:
 * L_0 U_k + L_k U_0 = Pᵀ A_k - Σ_{0<i<k} L_i U_{k-i}, the JVP's system with dA = A_k - P Σ L_i U_{k-i}.
 */
export const luJet: JetRule<Params["lu"], 1, 3> = (prim, P, [sA], [p0, l0, u0], params, K) => {
  const L: T[] = [l0];
  const U: T[] = [u0];
  for (let k = 1; k <= K; k++) {
    const rhs = sub(sA?.[k] ?? null, mm(p0, sumProducts(L, U, k, 1, O.matmulPrim)));
    const [, lk, uk] = rhs === null ? [null, null, null] : prim.jvp(P.slice(), [rhs], [p0, l0, u0], params);
    L.push(lk ?? null);
    U.push(uk ?? null);
  }
  return [null, L.slice(1), U.slice(1)];
};
