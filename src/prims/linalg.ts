/**
 * Linear-algebra primitives: the batched matrix product, solves, slogdet,
 * Cholesky, QR and the symmetric eigendecomposition. Every rule is written
 * with differentiable operations, so derivatives of all orders follow.
 */
import { DTypeError, ShapeError, at, fmtShape } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { ConcreteArray, NDArray, deviceStorageOf, fromNested } from "../core/ndarray.js";
import { SETTINGS } from "../core/config.js";
import { traceDepth } from "../core/trace.js";
import { shapesEqual } from "../core/shape.js";
import type { Aval } from "../core/trace.js";
import * as K from "../kernels/linalg.js";
import { binary } from "../kernels/elementwise.js";
import { transpose } from "../kernels/movement.js";
import { matmul, matmulT } from "../kernels/matmul.js";
import * as O from "./wrap.js";
import { Dim, batchedFront, moveToFront } from "./batching.js";
import { LinearRule, Rule, T, isLin, sameAval, tadd } from "./rule.js";
import type { Params } from "./table.js";

function swapPerm(nd: number): number[] {
  const p = Array.from({ length: nd }, (_, i) => i);
  p[nd - 2] = nd - 1;
  p[nd - 1] = nd - 2;
  return p;
}
const swap = (x: NDArray): NDArray => O.transposePrim(x, swapPerm(x.ndim));

function checkSquare(op: string, a: Aval): void {
  const s = a.shape;
  const n = s.length;
  if (n < 2 || s[n - 1] !== s[n - 2])
    throw new ShapeError(`${op}: expected square matrices [..., n, n], got ${fmtShape(s)}`);
  if (!isFloat(a.dtype)) throw new DTypeError(`${op}: expected a float matrix, got ${a.dtype}`);
}

function solveAval(op: string, a: Aval, b: Aval): Aval[] {
  checkSquare(op, a);
  const n = a.shape.length;
  if (a.dtype !== b.dtype) throw new DTypeError(`${op}: operand dtypes differ (${a.dtype} and ${b.dtype})`);
  if (
    b.shape.length !== n ||
    b.shape[n - 2] !== a.shape[n - 1] ||
    a.shape.slice(0, -2).some((d, i) => d !== b.shape[i])
  )
    throw new ShapeError(`${op}: matrix ${fmtShape(a.shape)} and right-hand side ${fmtShape(b.shape)} are not aligned`);
  return [{ shape: b.shape, dtype: b.dtype, weak: false }];
}

const eyeLike = (n: number, dtype: NDArray["dtype"]): NDArray => O.eye(n, n, dtype);

/** Trace over the last two axes. */
function batchTrace(m: NDArray): NDArray {
  const n = at(m.shape, m.ndim - 1, "slogdet");
  return O.reduceSum(O.mul(m, eyeLike(n, m.dtype)), [m.ndim - 2, m.ndim - 1]);
}

/** Masks: strictly lower (1 below the diagonal), or lower with diagonal weight `diag`. */
function lowerMask(n: number, dtype: NDArray["dtype"], diag: number, upper = false): NDArray {
  const rows = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? diag : (upper ? j > i : i > j) ? 1 : 0)),
  );
  return fromNested(rows, dtype);
}

// dX = A⁻¹ (dB - dA X)
function solveJvp(a: NDArray, _b: NDArray, da: T, db: T, x: NDArray): T {
  const rhs = da === null ? db : db === null ? O.neg(O.matmulPrim(da, x)) : O.sub(db, O.matmulPrim(da, x));
  return rhs === null ? null : O.solvePrim(a, rhs);
}

// dX = op(A)⁻¹ (dB - op(tri(dA)) X), only the triangle of A being read
function triangularSolveJvp(a: NDArray, _b: NDArray, da: T, db: T, x: NDArray, lower: boolean, transposeA: boolean): T {
  let rhs = db;
  if (da !== null) {
    const n = at(a.shape, a.ndim - 1, "triangular_solve");
    let tri = O.mul(da, lowerMask(n, da.dtype, 1, !lower));
    if (transposeA) tri = swap(tri);
    const t = O.matmulPrim(tri, x);
    rhs = rhs === null ? O.neg(t) : O.sub(rhs, t);
  }
  return rhs === null ? null : O.triangularSolvePrim(a, rhs, lower, transposeA);
}

// dL = L φ(L⁻¹ dS L⁻ᵀ) with dS = (dA + dAᵀ)/2 and φ(X) = tril(X) with the diagonal halved
function choleskyJvp(_a: NDArray, da: NDArray, l: NDArray): NDArray {
  const n = at(l.shape, l.ndim - 1, "cholesky");
  const dS = O.mul(O.add(da, swap(da)), 0.5);
  const x = O.triangularSolvePrim(l, dS, true, false); // L⁻¹ dS
  const y = O.triangularSolvePrim(l, swap(x), true, false); // L⁻¹ dS L⁻ᵀ
  return O.matmulPrim(l, O.mul(y, lowerMask(n, l.dtype, 0.5)));
}

// A = QR: B = dA R⁻¹, C = Qᵀ B, Ω = low(C) - low(C)ᵀ, dR = (C - Ω) R, dQ = B - Q (C - Ω)
function qrJvp(da: NDArray, q: NDArray, r: NDArray): [NDArray, NDArray] {
  const n = at(r.shape, r.ndim - 1, "qr");
  const b = swap(O.triangularSolvePrim(r, swap(da), false, true));
  const c = O.matmulPrim(swap(q), b);
  const low = O.mul(c, lowerMask(n, c.dtype, 0));
  const cm = O.sub(c, O.sub(low, swap(low)));
  return [O.sub(b, O.matmulPrim(q, cm)), O.matmulPrim(cm, r)];
}

// S = VΛVᵀ: M = Vᵀ dS V; dλ = diag(M); dV = V (F ∘ M), F_ij = 1 / (λ_j - λ_i) off the diagonal
function eighJvp(da: NDArray, w: NDArray, v: NDArray): [NDArray, NDArray] {
  const n = at(w.shape, w.ndim - 1, "eigh");
  const I = eyeLike(n, w.dtype);
  const dS = O.mul(O.add(da, swap(da)), 0.5);
  const m = O.matmulPrim(swap(v), O.matmulPrim(dS, v));
  const dw = O.reduceSum(O.mul(m, I), [m.ndim - 1]);
  const wr = O.reshape(w, [...w.shape.slice(0, -1), 1, n]);
  const wc = O.reshape(w, [...w.shape.slice(0, -1), n, 1]);
  const f = O.div(O.sub(1, I), O.add(O.sub(wr, wc), I));
  return [dw, O.matmulPrim(v, O.mul(f, m))];
}

/**
 * Batched matmul when one operand is a plain matrix: the batch axis is folded
 * into the other operand's rows (or columns), giving one 2-D product instead
 * of copying the unbatched matrix once per example.
 */
function matmulBatch(a: NDArray, b: NDArray, da: Dim, db: Dim, size: number): NDArray {
  if (da !== null && db === null && a.ndim === 3 && b.ndim === 2) {
    const x = moveToFront(a, da); // [B, M, K]
    const B = at(x.shape, 0, "matmul");
    const M = at(x.shape, 1, "matmul");
    const K = at(x.shape, 2, "matmul");
    return O.reshape(O.matmulPrim(O.reshape(x, [B * M, K]), b), [B, M, at(b.shape, 1, "matmul")]);
  }
  if (da === null && db !== null && a.ndim === 2 && b.ndim === 3) {
    const y = O.transposePrim(moveToFront(b, db), [1, 0, 2]); // [K, B, N]
    const K = at(y.shape, 0, "matmul");
    const B = at(y.shape, 1, "matmul");
    const N = at(y.shape, 2, "matmul");
    const out = O.matmulPrim(a, O.reshape(y, [K, B * N])); // [M, B*N]
    return O.transposePrim(O.reshape(out, [at(a.shape, 0, "matmul"), B, N]), [1, 0, 2]);
  }
  return O.matmulPrim(batchedFront(a, da, size), batchedFront(b, db, size));
}

// ---------------------------------------------------------------------------
// the rows

/**
 * x·yᵀ (tb) or xᵀ·y (ta), the cotangents of a product. Outside every transform on concrete
 * operands (an eager gradient's backward pass), where `bind` would evaluate the transpose and
 * the product on the spot, the kernel reads the operand transposed in place: the same values
 * (bit-identical, see `matmulT`) without materialising the transpose (issue 8).
 */
function matmulSwapped(x: NDArray, y: NDArray, ta: boolean, tb: boolean): NDArray {
  if (
    x instanceof ConcreteArray &&
    y instanceof ConcreteArray &&
    traceDepth() === 0 &&
    !SETTINGS.debugNans &&
    // CPU storage only: GPU arrays go through bind, to their device's kernel
    deviceStorageOf(x) === null &&
    deviceStorageOf(y) === null
  ) {
    const o = at(MATMUL.abstractEval([ta ? avalSwapped(x) : x, tb ? avalSwapped(y) : y], {}), 0, "matmul");
    return matmulT(x, y, o.dtype, ta, tb);
  }
  return O.matmulPrim(ta ? swap(x) : x, tb ? swap(y) : y);
}

/** The abstract value of x with its last two axes swapped. */
function avalSwapped(x: ConcreteArray): Aval {
  // the last two axes reversed (a shape of rank < 2 is kept as it is)
  const s = [...x.shape.slice(0, -2), ...x.shape.slice(-2).reverse()];
  return { shape: s, dtype: x.dtype, weak: x.weakType };
}

// batched matrix product [...B, M, K] @ [...B, K, N]; d(AB) = dA B + A dB
export const MATMUL: LinearRule<Params["matmul"], 2, 1> = {
  name: "matmul",
  abstractEval([a, b]) {
    const sa = a.shape;
    const sb = b.shape;
    const n = sa.length;
    if (a.dtype !== b.dtype) throw new DTypeError(`matmul: operand dtypes differ (${a.dtype} and ${b.dtype})`);
    if (n < 2 || sb.length !== n || sa[n - 1] !== sb[n - 2] || !shapesEqual(sa.slice(0, n - 2), sb.slice(0, n - 2)))
      throw new ShapeError(`matmul: shapes ${fmtShape(sa)} and ${fmtShape(sb)} are not aligned`);
    return [{ shape: [...sa.slice(0, n - 1), at(sb, n - 1, "matmul")], dtype: a.dtype, weak: false }];
  },
  impl: ([a, b], _p, [o]) => [matmul(a, b, o.dtype)],
  jvp: ([a, b], [da = null, db = null]) => [
    tadd(da === null ? null : O.matmulPrim(da, b), db === null ? null : O.matmulPrim(a, db)),
  ],
  transpose([ct = null], [a, b]) {
    if (ct === null) return [null, null];
    if (isLin(a) && isLin(b)) throw new DTypeError("matmul: transpose of a product of two linear operands");
    return [
      isLin(a) ? matmulSwapped(ct, b as NDArray, false, true) : null,
      isLin(b) ? matmulSwapped(a as NDArray, ct, true, false) : null,
    ];
  },
  vmap: ([a, b], [da, db], _p, n) => [[matmulBatch(a, b, da, db, n)], [0]],
};

// X = A⁻¹ B by pivoted LU; dX = A⁻¹ (dB - dA X); linear in B (transpose: A⁻ᵀ ct)
export const SOLVE: LinearRule<Params["solve"], 2, 1> = {
  name: "solve",
  abstractEval: ([a, b]) => solveAval("solve", a, b),
  impl: ([a, b]) => [K.solve(a, b)],
  jvp: ([a, b], [da, db], [x]) => [solveJvp(a, b, da, db, x)],
  transpose([ct = null], [a, b]) {
    if (!(a instanceof NDArray)) throw new DTypeError("solve: transpose with a linear matrix operand");
    return [null, isLin(b) && ct !== null ? O.solvePrim(swap(a), ct) : null];
  },
  vmap: ([a, b], [da, db], _p, n) => [[O.solvePrim(batchedFront(a, da, n), batchedFront(b, db, n))], [0]],
};

// X = op(A)⁻¹ B for triangular A (only its triangle is read); linear in B. A primitive for speed
// (O(n²) per right-hand side instead of an O(n³) LU) and exactness (no pivoting off the triangle).
export const TRIANGULAR_SOLVE: LinearRule<Params["triangular_solve"], 2, 1> = {
  name: "triangular_solve",
  abstractEval: ([a, b]) => solveAval("triangularSolve", a, b),
  impl: ([a, b], { lower, transposeA }) => [K.triangularSolve(a, b, lower, transposeA)],
  jvp: ([a, b], [da, db], [x], p) => [triangularSolveJvp(a, b, da, db, x, p.lower, p.transposeA)],
  transpose([ct = null], [a, b], { lower, transposeA }) {
    if (!(a instanceof NDArray)) throw new DTypeError("triangularSolve: transpose with a linear matrix operand");
    return [null, isLin(b) && ct !== null ? O.triangularSolvePrim(a, ct, lower, !transposeA) : null];
  },
  vmap: ([a, b], [da, db], p, n) => [
    [O.triangularSolvePrim(batchedFront(a, da, n), batchedFront(b, db, n), p.lower, p.transposeA)],
    [0],
  ],
};

// [sign, log|det A|]; d log|det A| = tr(A⁻¹ dA)
export const SLOGDET: Rule<Params["slogdet"], 1, 2> = {
  name: "slogdet",
  abstractEval([a]) {
    checkSquare("slogdet", a);
    const shape = a.shape.slice(0, -2);
    return [
      { shape, dtype: a.dtype, weak: false },
      { shape, dtype: a.dtype, weak: false },
    ];
  },
  impl: ([a]) => K.slogdet(a),
  jvp: ([a], [da = null]) => [null, da === null ? null : batchTrace(O.solvePrim(a, da))],
  vmap: ([a], [d]) => [O.slogdetPrim(moveToFront(a, d)), [0, 0]],
};

/** Index rows [n, n - 1]: row i lists 0..n-1 without i (the rows or columns a minor keeps). */
function minorIndex(n: number): NDArray {
  const rows = Array.from({ length: n }, (_, i) => Array.from({ length: n - 1 }, (_, j) => (j < i ? j : j + 1)));
  return fromNested(rows, "int32");
}

/** All (n-1)-minors' matrices of [..., n, n]: [..., n, n, n-1, n-1], entry (i, j) deleting row i and column j. */
function minors(x: NDArray): NDArray {
  const nd = x.ndim;
  const n = at(x.shape, nd - 1, "cofactor");
  const idx = minorIndex(n);
  const r = O.gatherPrim(O.gatherPrim(x, idx, nd - 2), idx, nd); // [..., i, r, j, c]
  const perm = Array.from({ length: nd + 2 }, (_, k) => k);
  perm[nd - 1] = nd;
  perm[nd] = nd - 1;
  return O.transposePrim(r, perm);
}

/** The checkerboard (-1)^(i+j). */
function checkerboard(n: number, dtype: NDArray["dtype"]): NDArray {
  return fromNested(
    Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => ((i + j) % 2 === 0 ? 1 : -1))),
    dtype,
  );
}

// det A; d det = Σ_ij C_ij dA_ij with C the cofactor matrix (finite at singular A, unlike det · A⁻ᵀ)
export const DET: Rule<Params["det"], 1, 1> = {
  name: "det",
  abstractEval([a]) {
    checkSquare("det", a);
    return [{ shape: a.shape.slice(0, -2), dtype: a.dtype, weak: false }];
  },
  impl: ([a]) => [K.det(a)],
  jvp: ([a], [da = null]) => [da === null ? null : O.reduceSum(O.mul(O.cofactorPrim(a), da), [a.ndim - 2, a.ndim - 1])],
  vmap: ([a], [d]) => [[O.detPrim(moveToFront(a, d))], [0]],
};

// cofactor matrix C (adj(A)ᵀ). C_ij = (-1)^(i+j) det(M_ij) for the minor M_ij, so
// dC_ij = (-1)^(i+j) Σ cof(M_ij) ∘ dM_ij: the rule recurses on (n-1)-minors, every order stays finite
export const COFACTOR: Rule<Params["cofactor"], 1, 1> = {
  name: "cofactor",
  abstractEval([a]) {
    checkSquare("cofactor", a);
    return sameAval(a);
  },
  impl: ([a]) => [K.cofactor(a)],
  jvp([a], [da = null]) {
    const n = at(a.shape, a.ndim - 1, "cofactor");
    if (da === null || n <= 1) return [null];
    const nd = a.ndim + 2;
    const inner = O.reduceSum(O.mul(O.cofactorPrim(minors(a)), minors(da)), [nd - 2, nd - 1]);
    return [O.mul(inner, checkerboard(n, da.dtype))];
  },
  vmap: ([a], [d]) => [[O.cofactorPrim(moveToFront(a, d))], [0]],
};

// L = chol((A + Aᵀ)/2); dL = L φ(L⁻¹ dS L⁻ᵀ), φ = lower triangle with halved diagonal
export const CHOLESKY: Rule<Params["cholesky"], 1, 1> = {
  name: "cholesky",
  abstractEval([a]) {
    checkSquare("cholesky", a);
    return sameAval(a);
  },
  impl: ([a]) => [
    K.cholesky(binary(a, transpose(a, swapPerm(a.shape.length)), a.shape, a.dtype, false, (u, v) => 0.5 * (u + v))),
  ],
  jvp: ([a], [da = null], [l]) => [da === null ? null : choleskyJvp(a, da, l)],
  vmap: ([a], [d]) => [[O.choleskyPrim(moveToFront(a, d))], [0]],
};

// reduced QR (m >= n), diag(R) >= 0
export const QR: Rule<Params["qr"], 1, 2> = {
  name: "qr",
  abstractEval([a]) {
    const s = a.shape;
    const n = s.length;
    const rows = s[n - 2];
    const cols = s[n - 1];
    if (rows === undefined || cols === undefined || rows < cols)
      throw new ShapeError(`qr: expected a [..., m, n] matrix with m >= n, got ${fmtShape(s)}`);
    if (!isFloat(a.dtype)) throw new DTypeError(`qr: expected a float matrix, got ${a.dtype}`);
    return [
      { shape: s, dtype: a.dtype, weak: false },
      { shape: [...s.slice(0, -2), cols, cols], dtype: a.dtype, weak: false },
    ];
  },
  impl: ([a]) => K.qr(a),
  jvp: ([,], [da = null], [q, r]) => (da === null ? [null, null] : qrJvp(da, q, r)),
  vmap: ([a], [d]) => [O.qrPrim(moveToFront(a, d)), [0, 0]],
};

// eigenvalues (ascending) and eigenvectors of (A + Aᵀ)/2; assumes distinct eigenvalues for derivatives
export const EIGH: Rule<Params["eigh"], 1, 2> = {
  name: "eigh",
  abstractEval([a]) {
    checkSquare("eigh", a);
    return [
      { shape: a.shape.slice(0, -1), dtype: a.dtype, weak: false },
      { shape: a.shape, dtype: a.dtype, weak: false },
    ];
  },
  impl: ([a]) => K.eigh(a),
  jvp: ([,], [da = null], [w, v]) => (da === null ? [null, null] : eighJvp(da, w, v)),
  vmap: ([a], [d]) => [O.eighPrim(moveToFront(a, d)), [0, 0]],
};

// ---------------------------------------------------------------------------
// opsC: svd, lu, expm

/**
 * The avals of a rectangular decomposition of float matrices [..., m, n]
 * (k = min(m, n)): one per output, the batch dims followed by the trailing dims `dims` gives.
 */
function decompAvals(op: string, a: Aval, dims: (m: number, n: number, k: number) => number[][]): Aval[] {
  const s = a.shape;
  if (s.length < 2) throw new ShapeError(`${op}: expected matrices [..., m, n], got ${fmtShape(s)}`);
  if (!isFloat(a.dtype)) throw new DTypeError(`${op}: expected a float matrix, got ${a.dtype}`);
  const m = at(s, s.length - 2, op);
  const n = at(s, s.length - 1, op);
  const lead = s.slice(0, -2);
  return dims(m, n, Math.min(m, n)).map((t) => ({ shape: [...lead, ...t], dtype: a.dtype, weak: false }));
}

/** x[..., r0:r1, c0:c1]. */
function block(x: NDArray, r0: number, r1: number, c0: number, c1: number): NDArray {
  const lead = x.shape.slice(0, -2);
  return O.slicePrim(x, [...lead.map(() => 0), r0, c0], [...lead, r1, c1]);
}

/** diag(s) scaling as broadcasting: s [..., k] as a row [..., 1, k] or a column [..., k, 1]. */
const asRow = (s: NDArray): NDArray => O.reshape(s, [...s.shape.slice(0, -1), 1, at(s.shape, s.ndim - 1, "svd")]);
const asCol = (s: NDArray): NDArray => O.reshape(s, [...s.shape, 1]);

/**
 * SVD tangents for distinct nonzero singular values (k = min(m, n), U₁, V₁ the first k columns):
 * dP = U₁ᵀ dA V₁, dS = diag(dP), F_ij = 1 / (s_j² - s_i²) (0 on the diagonal),
 * dU₁ = U₁ (F ∘ (dP S + S dPᵀ)) + (I - U₁U₁ᵀ) dA V₁ S⁻¹,
 * dV₁ = V₁ (F ∘ (S dP + dPᵀ S)) + (I - V₁V₁ᵀ) dAᵀ U₁ S⁻¹;
 * the completing columns (full matrices) keep U₂ᵀ dU₂ = 0: dU₂ = -U₁ S⁻¹ V₁ᵀ dAᵀ U₂ and
 * dV₂ = -V₁ S⁻¹ U₁ᵀ dA V₂, the tangents that keep [U₁ U₂] and [V₁ V₂] orthogonal.
 * S⁻¹ is taken as 0 where a singular value is 0 (as JAX does): for a square matrix the terms it scales
 * vanish exactly there, so a simple zero singular value keeps finite derivatives of U, V and, at the
 * next order, of the other singular values (the spectral norm's Hessian at a rank-deficient matrix).
 */
function svdJvp(da: NDArray, u: NDArray, s: NDArray, vh: NDArray): [NDArray, NDArray, NDArray] {
  const nd = da.ndim;
  const m = at(da.shape, nd - 2, "svd");
  const n = at(da.shape, nd - 1, "svd");
  const k = at(s.shape, s.ndim - 1, "svd");
  const um = at(u.shape, u.ndim - 1, "svd");
  const vn = at(vh.shape, vh.ndim - 2, "svd");
  const u1 = um > k ? block(u, 0, m, 0, k) : u;
  const v1 = swap(vn > k ? block(vh, 0, k, 0, n) : vh);
  const I = eyeLike(k, s.dtype);
  const daV = O.matmulPrim(da, v1); // [m, k]
  const daTU = O.matmulPrim(swap(da), u1); // [n, k]
  const dp = O.matmulPrim(swap(u1), daV);
  const ds = O.reduceSum(O.mul(dp, I), [dp.ndim - 1]);
  const sr = asRow(s);
  const sc = asCol(s);
  const f = O.div(O.sub(1, I), O.add(O.sub(O.mul(sr, sr), O.mul(sc, sc)), I));
  // S⁻¹ as a row, 0 where s = 0 (the inner select keeps every derivative of the division finite)
  const zero = O.equal(sr, 0);
  const srInv = O.where(zero, 0, O.div(1, O.where(zero, 1, sr)));
  const dpT = swap(dp);
  const du1 = O.add(
    O.matmulPrim(u1, O.mul(f, O.add(O.mul(dp, sr), O.mul(sc, dpT)))),
    O.mul(O.sub(daV, O.matmulPrim(u1, dp)), srInv),
  );
  const dv1 = O.add(
    O.matmulPrim(v1, O.mul(f, O.add(O.mul(sc, dp), O.mul(dpT, sr)))),
    O.mul(O.sub(daTU, O.matmulPrim(v1, dpT)), srInv),
  );
  let du = du1;
  if (um > k) {
    const u2 = block(u, 0, m, k, um);
    const du2 = O.neg(O.matmulPrim(u1, O.matmulPrim(swap(O.mul(daV, srInv)), u2)));
    du = O.concatPrim([du1, du2], nd - 1);
  }
  let dv = dv1;
  if (vn > k) {
    const v2 = swap(block(vh, k, vn, 0, n));
    const dv2 = O.neg(O.matmulPrim(v1, O.matmulPrim(swap(O.mul(daTU, srInv)), v2)));
    dv = O.concatPrim([dv1, dv2], nd - 1);
  }
  return [du, ds, swap(dv)];
}

// A = U diag(S) Vh (S descending); derivatives assume distinct nonzero singular values
export const SVD: Rule<Params["svd"], 1, 3> = {
  name: "svd",
  abstractEval: ([a], { fullMatrices }) =>
    decompAvals("svd", a, (m, n, k) => [[m, fullMatrices ? m : k], [k], [fullMatrices ? n : k, n]]),
  impl: ([a], { fullMatrices }) => K.svd(a, fullMatrices),
  jvp: ([,], [da = null], [u, s, vh]) => (da === null ? [null, null, null] : svdJvp(da, u, s, vh)),
  vmap: ([a], [d], p) => [O.svdPrim(moveToFront(a, d), p.fullMatrices), [0, 0, 0]],
};

/**
 * LU tangents (P is piecewise constant): with Pᵀ dA split as the LU is (k = min(m, n); L₁, U₁ the
 * leading k x k blocks), X = L₁⁻¹ (Pᵀ dA)₁₁ U₁⁻¹, dL₁ = L₁ tril(X, -1), dU₁ = triu(X) U₁; a tall
 * matrix's remaining rows dL₂ = ((Pᵀ dA)₂ - L₂ dU₁) U₁⁻¹, a wide one's columns dU₂ = L₁⁻¹ ((Pᵀ dA)₂ - dL₁ U₂).
 */
function luJvp(da: NDArray, p: NDArray, l: NDArray, u: NDArray): [NDArray, NDArray] {
  const nd = da.ndim;
  const m = at(da.shape, nd - 2, "lu");
  const n = at(da.shape, nd - 1, "lu");
  const k = Math.min(m, n);
  const dap = O.matmulPrim(swap(p), da);
  const l1 = m > k ? block(l, 0, k, 0, k) : l;
  const u1 = n > k ? block(u, 0, k, 0, k) : u;
  const d11 = block(dap, 0, k, 0, k);
  const y = O.triangularSolvePrim(l1, d11, true, false); // L₁⁻¹ dA₁₁
  const x = swap(O.triangularSolvePrim(u1, swap(y), false, true)); // (U₁⁻ᵀ Yᵀ)ᵀ = Y U₁⁻¹
  const dl1 = O.matmulPrim(l1, O.mul(x, lowerMask(k, x.dtype, 0)));
  const du1 = O.matmulPrim(O.mul(x, lowerMask(k, x.dtype, 1, true)), u1);
  let dl = dl1;
  let du = du1;
  if (m > k) {
    const rest = O.sub(block(dap, k, m, 0, n), O.matmulPrim(block(l, k, m, 0, k), du1));
    dl = O.concatPrim([dl1, swap(O.triangularSolvePrim(u1, swap(rest), false, true))], nd - 2);
  }
  if (n > k) {
    const rest = O.sub(block(dap, 0, m, k, n), O.matmulPrim(dl1, block(u, 0, k, k, n)));
    du = O.concatPrim([du1, O.triangularSolvePrim(l1, rest, true, false)], nd - 1);
  }
  return [dl, du];
}

// A = P L U with partial pivoting; P has no derivative (piecewise constant)
export const LU: Rule<Params["lu"], 1, 3> = {
  name: "lu",
  abstractEval: ([a]) =>
    decompAvals("lu", a, (m, n, k) => [
      [m, m],
      [m, k],
      [k, n],
    ]),
  impl: ([a]) => K.lu(a),
  jvp: ([,], [da = null], [p, l, u]) => (da === null ? [null, null, null] : [null, ...luJvp(da, p, l, u)]),
  vmap: ([a], [d]) => [O.luPrim(moveToFront(a, d)), [0, 0, 0]],
};

// e^A; d e^A = L(A, dA), the Fréchet derivative (linear in dA)
export const EXPM: Rule<Params["expm"], 1, 1> = {
  name: "expm",
  abstractEval([a]) {
    checkSquare("expm", a);
    return [{ shape: a.shape, dtype: a.dtype, weak: false }];
  },
  impl: ([a]) => [K.expm(a)],
  jvp: ([a], [da = null]) => [da === null ? null : O.expmFrechetPrim(a, da)],
  vmap: ([a], [d]) => [[O.expmPrim(moveToFront(a, d))], [0]],
};

/** [[X, 0], [0, X]] for [..., n, n] X. */
function blockDiag(x: NDArray): NDArray {
  const nd = x.ndim;
  const n = at(x.shape, nd - 1, "expm_frechet");
  const z = x.shape.map(() => 0);
  const top = O.padPrim(x, z, [...z.slice(0, -1), n]);
  const bottom = O.padPrim(x, [...z.slice(0, -1), n], z);
  return O.concatPrim([top, bottom], nd - 2);
}

// L(A, E) = ∫₀¹ e^{sA} E e^{(1-s)A} ds = top-right block of exp([[A, E], [0, A]]); linear in E.
// dL = L(A, dE) + top-right block of L(M, diag(dA, dA)) with M = [[A, E], [0, A]] (differentiating the
// block identity); transpose in E: ⟨C, L(A, E)⟩ = ⟨L(Aᵀ, C), E⟩
export const EXPM_FRECHET: LinearRule<Params["expm_frechet"], 2, 1> = {
  name: "expm_frechet",
  abstractEval([a, e]) {
    checkSquare("expm", a);
    if (a.dtype !== e.dtype || !shapesEqual(a.shape, e.shape))
      throw new ShapeError(
        `expm: Fréchet derivative of ${a.dtype}${fmtShape(a.shape)} in direction ${e.dtype}${fmtShape(e.shape)}`,
      );
    return [{ shape: a.shape, dtype: a.dtype, weak: false }];
  },
  impl: ([a, e]) => [K.expmFrechet(a, e)],
  jvp([a, e], [da = null, de = null]) {
    const t1 = de === null ? null : O.expmFrechetPrim(a, de);
    if (da === null) return [t1];
    const nd = a.ndim;
    const n = at(a.shape, nd - 1, "expm_frechet");
    const z = a.shape.map(() => 0);
    const m = O.concatPrim([O.concatPrim([a, e], nd - 1), O.padPrim(a, [...z.slice(0, -1), n], z)], nd - 2);
    return [tadd(t1, block(O.expmFrechetPrim(m, blockDiag(da)), 0, n, n, 2 * n))];
  },
  transpose([ct = null], [a, e]) {
    if (isLin(a)) throw new DTypeError("expm: transpose of the Fréchet derivative with a linear matrix operand");
    return [null, isLin(e) && ct !== null ? O.expmFrechetPrim(swap(a as NDArray), ct) : null];
  },
  vmap: ([a, e], [da, de], _p, n) => [[O.expmFrechetPrim(batchedFront(a, da, n), batchedFront(e, de, n))], [0]],
};
