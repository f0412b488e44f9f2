/**
 * Strided indexing, shared by every kernel that reads or writes through
 * strides (broadcasting, transposes, slices, padding, reductions), and the
 * walk over the lines of one axis.
 */
// Non-null assertions (`!`) in this file are reads of typed arrays, shapes and strides at indices
// bounded by loops over their lengths, which the primitive's shape rule has checked before the kernel
// runs: noUncheckedIndexedAccess cannot see those bounds, and a checked read would cost a branch per
// element in the innermost loops.
import { Shape, stridesOf } from "../core/shape.js";

/** Strides of `inShape` aligned to `outShape` (0 on broadcast axes). */
export function bcastStrides(inShape: Shape, outShape: Shape): number[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  const out = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < inShape.length; i++) out[off + i] = inShape[i] === 1 ? 0 : st[i]!;
  return out;
}

/**
 * Walks the row-major positions of `shape` one innermost row at a time, for
 * several operands read (or written) through their own strides: calls
 * `visit(at, len)` for each row, where `at[q]` is operand q's flat offset of
 * the row's first element (`base[q] + Σ idx[k] * strides[q][k]`) and `len`
 * the row's length; within the row operand q advances by its last stride.
 * `at` is reused between calls.
 */
export function stridedRuns(
  shape: Shape,
  strides: readonly (readonly number[])[],
  visit: (at: readonly number[], len: number) => void,
  base?: readonly number[],
): void {
  const nd = shape.length;
  const k = strides.length;
  const at = base === undefined ? new Array<number>(k).fill(0) : base.slice();
  if (nd === 0) {
    visit(at, 1);
    return;
  }
  const len = shape[nd - 1]!;
  let rows = 1;
  for (let i = 0; i < nd - 1; i++) rows *= shape[i]!;
  if (rows === 0 || len === 0) return;
  const idx = new Int32Array(nd);
  for (let r = 0; r < rows; r++) {
    visit(at, len);
    for (let a = nd - 2; a >= 0; a--) {
      for (let q = 0; q < k; q++) at[q]! += strides[q]![a]!;
      if (++idx[a]! < shape[a]!) break;
      for (let q = 0; q < k; q++) at[q]! -= strides[q]![a]! * shape[a]!;
      idx[a] = 0;
    }
  }
}

/** The stride of the innermost axis (0 for rank 0). */
export function lastStride(strides: readonly number[]): number {
  return strides.length === 0 ? 0 : strides[strides.length - 1]!;
}

/** Calls `f(base, stride, len)` for every line of `shape` along `axis`. */
export function axisLoop(shape: Shape, axis: number, f: (base: number, stride: number, len: number) => void): void {
  let pre = 1;
  for (let i = 0; i < axis; i++) pre *= shape[i]!;
  const len = shape[axis]!;
  let post = 1;
  for (let i = axis + 1; i < shape.length; i++) post *= shape[i]!;
  for (let p = 0; p < pre; p++) for (let q = 0; q < post; q++) f(p * len * post + q, post, len);
}
