/**
 * Strided indexing, shared by every kernel that reads or writes through
 * strides (broadcasting, transposes, slices, padding, reductions), and the
 * walk over the lines of one axis.
 */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes and strides are read with `at` or
// copied into typed arrays before the loops.
import { at } from "../core/errors.js";
import { Shape, sizeOf, stridesOf } from "../core/shape.js";

/** Strides of `inShape` aligned to `outShape` (0 on broadcast axes). */
export function bcastStrides(inShape: Shape, outShape: Shape): number[] {
  const out = new Array<number>(outShape.length - inShape.length).fill(0);
  for (const [i, s] of stridesOf(inShape).entries()) out.push(inShape[i] === 1 ? 0 : s);
  return out;
}

/**
 * Walks the row-major positions of `shape` one innermost row at a time, for
 * several operands read (or written) through their own strides (each of
 * length `shape.length`): calls `visit(pos, len)` for each row, where `pos[q]`
 * is operand q's flat offset of the row's first element
 * (`base[q] + Σ idx[k] * strides[q][k]`) and `len` the row's length; within
 * the row operand q advances by its last stride. `pos` is reused between
 * calls (and must not be written by `visit`).
 */
export function stridedRuns(
  shape: Shape,
  strides: readonly (readonly number[])[],
  visit: (pos: Int32Array, len: number) => void,
  base?: readonly number[],
): void {
  const nd = shape.length;
  const k = strides.length;
  // offsets stay below the operands' sizes (at most MAX_SIZE = 2³¹ - 1), so int32 holds them
  const pos = new Int32Array(k);
  if (base !== undefined) pos.set(base);
  if (nd === 0) {
    visit(pos, 1);
    return;
  }
  const len = at(shape, nd - 1, "stridedRuns");
  if (len === 0) return;
  const rows = sizeOf(shape) / len;
  // strides of operand q at st[q·nd + a], and the step back after a full turn of axis a
  const dims = Int32Array.from(shape);
  const st = new Int32Array(k * nd);
  const back = new Int32Array(k * nd);
  for (const [q, s] of strides.entries())
    for (const [a, v] of s.entries()) {
      st[q * nd + a] = v;
      back[q * nd + a] = v * at(shape, a, "stridedRuns");
    }
  const idx = new Int32Array(nd);
  for (let r = 0; r < rows; r++) {
    visit(pos, len);
    for (let a = nd - 2; a >= 0; a--) {
      for (let q = 0; q < k; q++) pos[q]! += st[q * nd + a]!;
      if (++idx[a]! < dims[a]!) break;
      for (let q = 0; q < k; q++) pos[q]! -= back[q * nd + a]!;
      idx[a] = 0;
    }
  }
}

/** The stride of the innermost axis (0 for rank 0). */
export function lastStride(strides: readonly number[]): number {
  return strides.length === 0 ? 0 : at(strides, strides.length - 1, "lastStride");
}

/** Calls `f(base, stride, len)` for every line of `shape` along `axis`. */
export function axisLoop(shape: Shape, axis: number, f: (base: number, stride: number, len: number) => void): void {
  const pre = sizeOf(shape.slice(0, axis));
  const len = at(shape, axis, "axisLoop");
  const post = sizeOf(shape.slice(axis + 1));
  for (let p = 0; p < pre; p++) for (let q = 0; q < post; q++) f(p * len * post + q, post, len);
}
