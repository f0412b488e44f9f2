/**
 * Linear-algebra primitives: the batched matrix product, solves, slogdet,
 * Cholesky, QR and the symmetric eigendecomposition. Every rule is written
 * with differentiable operations, so derivatives of all orders follow.
 */
import { DTypeError, ShapeError, fmtShape } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { NDArray, fromNested } from "../core/ndarray.js";
import { shapesEqual } from "../core/shape.js";
import type { Aval } from "../core/trace.js";
import * as K from "../kernels/linalg.js";
import { binary } from "../kernels/elementwise.js";
import { transpose } from "../kernels/movement.js";
import { matmul } from "../kernels/matmul.js";
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
  const n = m.shape[m.ndim - 1]!;
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
    const n = a.shape[a.ndim - 1]!;
    let tri = O.mul(da, lowerMask(n, da.dtype, 1, !lower));
    if (transposeA) tri = swap(tri);
    const t = O.matmulPrim(tri, x);
    rhs = rhs === null ? O.neg(t) : O.sub(rhs, t);
  }
  return rhs === null ? null : O.triangularSolvePrim(a, rhs, lower, transposeA);
}

// dL = L φ(L⁻¹ dS L⁻ᵀ) with dS = (dA + dAᵀ)/2 and φ(X) = tril(X) with the diagonal halved
function choleskyJvp(_a: NDArray, da: NDArray, l: NDArray): NDArray {
  const n = l.shape[l.ndim - 1]!;
  const dS = O.mul(O.add(da, swap(da)), 0.5);
  const x = O.triangularSolvePrim(l, dS, true, false); // L⁻¹ dS
  const y = O.triangularSolvePrim(l, swap(x), true, false); // L⁻¹ dS L⁻ᵀ
  return O.matmulPrim(l, O.mul(y, lowerMask(n, l.dtype, 0.5)));
}

// A = QR: B = dA R⁻¹, C = Qᵀ B, Ω = low(C) - low(C)ᵀ, dR = (C - Ω) R, dQ = B - Q (C - Ω)
function qrJvp(da: NDArray, q: NDArray, r: NDArray): [NDArray, NDArray] {
  const n = r.shape[r.ndim - 1]!;
  const b = swap(O.triangularSolvePrim(r, swap(da), false, true));
  const c = O.matmulPrim(swap(q), b);
  const low = O.mul(c, lowerMask(n, c.dtype, 0));
  const cm = O.sub(c, O.sub(low, swap(low)));
  return [O.sub(b, O.matmulPrim(q, cm)), O.matmulPrim(cm, r)];
}

// S = VΛVᵀ: M = Vᵀ dS V; dλ = diag(M); dV = V (F ∘ M), F_ij = 1 / (λ_j - λ_i) off the diagonal
function eighJvp(da: NDArray, w: NDArray, v: NDArray): [NDArray, NDArray] {
  const n = w.shape[w.ndim - 1]!;
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
    const [B, M, K] = x.shape as [number, number, number];
    return O.reshape(O.matmulPrim(O.reshape(x, [B * M, K]), b), [B, M, b.shape[1]!]);
  }
  if (da === null && db !== null && a.ndim === 2 && b.ndim === 3) {
    const y = O.transposePrim(moveToFront(b, db), [1, 0, 2]); // [K, B, N]
    const [K, B, N] = y.shape as [number, number, number];
    const out = O.matmulPrim(a, O.reshape(y, [K, B * N])); // [M, B*N]
    return O.transposePrim(O.reshape(out, [a.shape[0]!, B, N]), [1, 0, 2]);
  }
  return O.matmulPrim(batchedFront(a, da, size), batchedFront(b, db, size));
}

// ---------------------------------------------------------------------------
// the rows

// batched matrix product [...B, M, K] @ [...B, K, N]; d(AB) = dA B + A dB
export const MATMUL: LinearRule<Params["matmul"]> = {
  name: "matmul",
  abstractEval([a, b]) {
    const sa = a!.shape;
    const sb = b!.shape;
    const n = sa.length;
    if (a!.dtype !== b!.dtype) throw new DTypeError(`matmul: operand dtypes differ (${a!.dtype} and ${b!.dtype})`);
    if (n < 2 || sb.length !== n || sa[n - 1] !== sb[n - 2] || !shapesEqual(sa.slice(0, n - 2), sb.slice(0, n - 2)))
      throw new ShapeError(`matmul: shapes ${fmtShape(sa)} and ${fmtShape(sb)} are not aligned`);
    return [{ shape: [...sa.slice(0, n - 1), sb[n - 1]!], dtype: a!.dtype, weak: false }];
  },
  impl: ([a, b], _p, [o]) => [matmul(a!, b!, o!.dtype)],
  jvp: ([a, b], [da = null, db = null]) => [
    tadd(da === null ? null : O.matmulPrim(da, b!), db === null ? null : O.matmulPrim(a!, db)),
  ],
  transpose([ct = null], [a, b]) {
    if (ct === null) return [null, null];
    if (isLin(a) && isLin(b)) throw new DTypeError("matmul: transpose of a product of two linear operands");
    return [
      isLin(a) ? O.matmulPrim(ct, swap(b as NDArray)) : null,
      isLin(b) ? O.matmulPrim(swap(a as NDArray), ct) : null,
    ];
  },
  vmap: ([a, b], [da, db], _p, n) => [[matmulBatch(a!, b!, da!, db!, n)], [0]],
};

// X = A⁻¹ B by pivoted LU; dX = A⁻¹ (dB - dA X); linear in B (transpose: A⁻ᵀ ct)
export const SOLVE: LinearRule<Params["solve"]> = {
  name: "solve",
  abstractEval: ([a, b]) => solveAval("solve", a!, b!),
  impl: ([a, b]) => [K.solve(a!, b!)],
  jvp: ([a, b], [da, db], [x]) => [solveJvp(a!, b!, da!, db!, x!)],
  transpose([ct = null], [a, b]) {
    if (!(a instanceof NDArray)) throw new DTypeError("solve: transpose with a linear matrix operand");
    return [null, isLin(b) && ct !== null ? O.solvePrim(swap(a), ct) : null];
  },
  vmap: ([a, b], [da, db], _p, n) => [[O.solvePrim(batchedFront(a!, da!, n), batchedFront(b!, db!, n))], [0]],
};

// X = op(A)⁻¹ B for triangular A (only its triangle is read); linear in B. A primitive for speed
// (O(n²) per right-hand side instead of an O(n³) LU) and exactness (no pivoting off the triangle).
export const TRIANGULAR_SOLVE: LinearRule<Params["triangular_solve"]> = {
  name: "triangular_solve",
  abstractEval: ([a, b]) => solveAval("triangularSolve", a!, b!),
  impl: ([a, b], { lower, transposeA }) => [K.triangularSolve(a!, b!, lower, transposeA)],
  jvp: ([a, b], [da, db], [x], p) => [triangularSolveJvp(a!, b!, da!, db!, x!, p.lower, p.transposeA)],
  transpose([ct = null], [a, b], { lower, transposeA }) {
    if (!(a instanceof NDArray)) throw new DTypeError("triangularSolve: transpose with a linear matrix operand");
    return [null, isLin(b) && ct !== null ? O.triangularSolvePrim(a, ct, lower, !transposeA) : null];
  },
  vmap: ([a, b], [da, db], p, n) => [
    [O.triangularSolvePrim(batchedFront(a!, da!, n), batchedFront(b!, db!, n), p.lower, p.transposeA)],
    [0],
  ],
};

// [sign, log|det A|]; d log|det A| = tr(A⁻¹ dA)
export const SLOGDET: Rule<Params["slogdet"]> = {
  name: "slogdet",
  abstractEval([a]) {
    checkSquare("slogdet", a!);
    const shape = a!.shape.slice(0, -2);
    return [
      { shape, dtype: a!.dtype, weak: false },
      { shape, dtype: a!.dtype, weak: false },
    ];
  },
  impl: ([a]) => K.slogdet(a!),
  jvp: ([a], [da = null]) => [null, da === null ? null : batchTrace(O.solvePrim(a!, da))],
  vmap: ([a], [d]) => [O.slogdetPrim(moveToFront(a!, d!)), [0, 0]],
};

/** Index rows [n, n - 1]: row i lists 0..n-1 without i (the rows or columns a minor keeps). */
function minorIndex(n: number): NDArray {
  const rows = Array.from({ length: n }, (_, i) => Array.from({ length: n - 1 }, (_, j) => (j < i ? j : j + 1)));
  return fromNested(rows, "int32");
}

/** All (n-1)-minors' matrices of [..., n, n]: [..., n, n, n-1, n-1], entry (i, j) deleting row i and column j. */
function minors(x: NDArray): NDArray {
  const nd = x.ndim;
  const n = x.shape[nd - 1]!;
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
export const DET: Rule<Params["det"]> = {
  name: "det",
  abstractEval([a]) {
    checkSquare("det", a!);
    return [{ shape: a!.shape.slice(0, -2), dtype: a!.dtype, weak: false }];
  },
  impl: ([a]) => [K.det(a!)],
  jvp: ([a], [da = null]) => [
    da === null ? null : O.reduceSum(O.mul(O.cofactorPrim(a!), da), [a!.ndim - 2, a!.ndim - 1]),
  ],
  vmap: ([a], [d]) => [[O.detPrim(moveToFront(a!, d!))], [0]],
};

// cofactor matrix C (adj(A)ᵀ). C_ij = (-1)^(i+j) det(M_ij) for the minor M_ij, so
// dC_ij = (-1)^(i+j) Σ cof(M_ij) ∘ dM_ij: the rule recurses on (n-1)-minors, every order stays finite
export const COFACTOR: Rule<Params["cofactor"]> = {
  name: "cofactor",
  abstractEval([a]) {
    checkSquare("cofactor", a!);
    return sameAval(a!);
  },
  impl: ([a]) => [K.cofactor(a!)],
  jvp([a], [da = null]) {
    const n = a!.shape[a!.ndim - 1]!;
    if (da === null || n <= 1) return [null];
    const nd = a!.ndim + 2;
    const inner = O.reduceSum(O.mul(O.cofactorPrim(minors(a!)), minors(da)), [nd - 2, nd - 1]);
    return [O.mul(inner, checkerboard(n, da.dtype))];
  },
  vmap: ([a], [d]) => [[O.cofactorPrim(moveToFront(a!, d!))], [0]],
};

// L = chol((A + Aᵀ)/2); dL = L φ(L⁻¹ dS L⁻ᵀ), φ = lower triangle with halved diagonal
export const CHOLESKY: Rule<Params["cholesky"]> = {
  name: "cholesky",
  abstractEval([a]) {
    checkSquare("cholesky", a!);
    return sameAval(a!);
  },
  impl: ([a]) => [
    K.cholesky(
      binary(a!, transpose(a!, swapPerm(a!.shape.length)), a!.shape, a!.dtype, false, (u, v) => 0.5 * (u + v)),
    ),
  ],
  jvp: ([a], [da = null], [l]) => [da === null ? null : choleskyJvp(a!, da, l!)],
  vmap: ([a], [d]) => [[O.choleskyPrim(moveToFront(a!, d!))], [0]],
};

// reduced QR (m >= n), diag(R) >= 0
export const QR: Rule<Params["qr"]> = {
  name: "qr",
  abstractEval([a]) {
    const s = a!.shape;
    const n = s.length;
    if (n < 2 || s[n - 2]! < s[n - 1]!)
      throw new ShapeError(`qr: expected a [..., m, n] matrix with m >= n, got ${fmtShape(s)}`);
    if (!isFloat(a!.dtype)) throw new DTypeError(`qr: expected a float matrix, got ${a!.dtype}`);
    return [
      { shape: s, dtype: a!.dtype, weak: false },
      { shape: [...s.slice(0, -2), s[n - 1]!, s[n - 1]!], dtype: a!.dtype, weak: false },
    ];
  },
  impl: ([a]) => K.qr(a!),
  jvp: ([,], [da = null], [q, r]) => (da === null ? [null, null] : qrJvp(da, q!, r!)),
  vmap: ([a], [d]) => [O.qrPrim(moveToFront(a!, d!)), [0, 0]],
};

// eigenvalues (ascending) and eigenvectors of (A + Aᵀ)/2; assumes distinct eigenvalues for derivatives
export const EIGH: Rule<Params["eigh"]> = {
  name: "eigh",
  abstractEval([a]) {
    checkSquare("eigh", a!);
    return [
      { shape: a!.shape.slice(0, -1), dtype: a!.dtype, weak: false },
      { shape: a!.shape, dtype: a!.dtype, weak: false },
    ];
  },
  impl: ([a]) => K.eigh(a!),
  jvp: ([,], [da = null], [w, v]) => (da === null ? [null, null] : eighJvp(da, w!, v!)),
  vmap: ([a], [d]) => [O.eighPrim(moveToFront(a!, d!)), [0, 0]],
};
