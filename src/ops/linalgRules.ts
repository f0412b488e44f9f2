/**
 * Rule bodies for the indexing and linear-algebra primitives, kept apart
 * from the table for readability. Every rule is written with differentiable
 * operations, so derivatives of all orders follow.
 */
import { DTypeError, ShapeError, fmtShape } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { NDArray } from "../core/ndarray.js";
import type { Aval } from "../core/trace.js";
import { bind } from "../core/trace.js";
import * as O from "./ops.js";
import { BatchResult, Dim, batchedFront, moveFromFront, moveToFront } from "./batching.js";
import type { Params } from "./primitives.js";

type T = NDArray | null;

export function swapPerm(nd: number): number[] {
  const p = Array.from({ length: nd }, (_, i) => i);
  p[nd - 2] = nd - 1;
  p[nd - 1] = nd - 2;
  return p;
}
const swap = (x: NDArray): NDArray => O.transposePrim(x, swapPerm(x.ndim));

export function checkSquare(op: string, a: Aval): void {
  const s = a.shape;
  const n = s.length;
  if (n < 2 || s[n - 1] !== s[n - 2])
    throw new ShapeError(`${op}: expected square matrices [..., n, n], got ${fmtShape(s)}`);
  if (!isFloat(a.dtype)) throw new DTypeError(`${op}: expected a float matrix, got ${a.dtype}`);
}

export function solveAval(op: string, a: Aval, b: Aval): Aval[] {
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

const eyeLike = (n: number, dtype: NDArray["dtype"]): NDArray => O.eye(n, n, { dtype });

/** Trace over the last two axes. */
export function batchTrace(m: NDArray): NDArray {
  const n = m.shape[m.ndim - 1]!;
  return O.reduceSum(O.mul(m, eyeLike(n, m.dtype)), [m.ndim - 2, m.ndim - 1]);
}

/** Masks: strictly lower (1 below the diagonal), or lower with diagonal weight `diag`. */
function lowerMask(n: number, dtype: NDArray["dtype"], diag: number, upper = false): NDArray {
  const rows = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? diag : (upper ? j > i : i > j) ? 1 : 0)),
  );
  return O.astype(rows, dtype);
}

// dX = A⁻¹ (dB - dA X)
export function solveJvp(a: NDArray, _b: NDArray, da: T, db: T, x: NDArray): T {
  const rhs = da === null ? db : db === null ? O.neg(O.matmulPrim(da, x)) : O.sub(db, O.matmulPrim(da, x));
  return rhs === null ? null : O.solvePrim(a, rhs);
}

// dX = op(A)⁻¹ (dB - op(tri(dA)) X), only the triangle of A being read
export function triangularSolveJvp(
  a: NDArray,
  _b: NDArray,
  da: T,
  db: T,
  x: NDArray,
  lower: boolean,
  transposeA: boolean,
): T {
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
export function choleskyJvp(_a: NDArray, da: NDArray, l: NDArray): NDArray {
  const n = l.shape[l.ndim - 1]!;
  const dS = O.mul(O.add(da, swap(da)), 0.5);
  const x = O.triangularSolvePrim(l, dS, true, false); // L⁻¹ dS
  const y = O.triangularSolvePrim(l, swap(x), true, false); // L⁻¹ dS L⁻ᵀ
  return O.matmulPrim(l, O.mul(y, lowerMask(n, l.dtype, 0.5)));
}

// A = QR: B = dA R⁻¹, C = Qᵀ B, Ω = low(C) - low(C)ᵀ, dR = (C - Ω) R, dQ = B - Q (C - Ω)
export function qrJvp(da: NDArray, q: NDArray, r: NDArray): [NDArray, NDArray] {
  const n = r.shape[r.ndim - 1]!;
  const b = swap(O.triangularSolvePrim(r, swap(da), false, true));
  const c = O.matmulPrim(swap(q), b);
  const low = O.mul(c, lowerMask(n, c.dtype, 0));
  const cm = O.sub(c, O.sub(low, swap(low)));
  return [O.sub(b, O.matmulPrim(q, cm)), O.matmulPrim(cm, r)];
}

// S = VΛVᵀ: M = Vᵀ dS V; dλ = diag(M); dV = V (F ∘ M), F_ij = 1 / (λ_j - λ_i) off the diagonal
export function eighJvp(da: NDArray, w: NDArray, v: NDArray): [NDArray, NDArray] {
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

export function checkKey(k: Aval): number[] {
  if (k.dtype !== "int32" || k.shape[k.shape.length - 1] !== 2)
    throw new DTypeError(
      `random: a key is an int32 array of shape [2] (from nb.random.key), got ${k.dtype}${fmtShape(k.shape)}`,
    );
  return k.shape.slice(0, -1);
}

/** Offsets that turn per-example indices into indices of the merged (batch, axis) axis: idx + b * size. */
function offsetIndices(idxFront: NDArray, size: number): NDArray {
  const B = idxFront.shape[0]!;
  // normalise first (negative indices wrap, out-of-range clamp) so no index crosses into a neighbour's block
  idxFront = O.clip(O.where(O.less(idxFront, 0), O.add(idxFront, size), idxFront), 0, Math.max(size - 1, 0));
  const off = O.reshape(O.mul(O.arange(B), size), [B, ...idxFront.shape.slice(1).map(() => 1)]);
  return O.add(idxFront, off);
}

export function gatherBatch([x, i]: NDArray[], [dx, di]: Dim[], { axis }: Params["gather"], size: number): BatchResult {
  if (di === null) return [[O.gatherPrim(moveToFront(x!, dx!), i!, axis + 1)], [0]];
  const idx = moveToFront(i!, di!);
  if (dx === null) return [[O.gatherPrim(x!, idx, axis)], [axis]];
  // both batched: merge the batch axis into the gathered axis
  const xb = moveFromFront(moveToFront(x!, dx!), axis); // [pre, B, A, post]
  const A = xb.shape[axis + 1]!;
  const merged = O.reshape(xb, [...xb.shape.slice(0, axis), size * A, ...xb.shape.slice(axis + 2)]);
  return [[O.gatherPrim(merged, offsetIndices(idx, A), axis)], [axis]];
}

export function scatterBatch([u, i]: NDArray[], [du, di]: Dim[], p: Params["scatter_add"], size: number): BatchResult {
  const { axis, size: len } = p;
  if (di === null) return [[bind("scatter_add", [moveToFront(u!, du!), i!], { axis: axis + 1, size: len })[0]!], [0]];
  const idx = moveToFront(i!, di!);
  const ub = moveFromFront(batchedFront(u!, du, size), axis); // [pre, B, idx..., post]
  const out = O.scatterAddPrim(ub, offsetIndices(idx, len), axis, size * len); // [pre, B*len, post]
  return [[O.reshape(out, [...out.shape.slice(0, axis), size, len, ...out.shape.slice(axis + 1)])], [axis]];
}

/**
 * Batched matmul when one operand is a plain matrix: the batch axis is folded
 * into the other operand's rows (or columns), giving one 2-D product instead
 * of copying the unbatched matrix once per example.
 */
export function matmulBatch(a: NDArray, b: NDArray, da: Dim, db: Dim, size: number): NDArray {
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
