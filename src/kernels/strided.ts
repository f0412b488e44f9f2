/**
 * Strided indexing, shared by every kernel that reads or writes through
 * strides (broadcasting, transposes, slices, padding, reductions), and the
 * walk over the lines of one axis.
 */
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
 * The flat offset `base + Σ idx[k] * strides[k]` of every row-major position
 * `idx` of `shape`, in order.
 */
export function stridedOffsets(shape: Shape, strides: readonly number[], base = 0): Int32Array {
  let n = 1;
  for (const d of shape) n *= d;
  const out = new Int32Array(n);
  if (n === 0) return out;
  const nd = shape.length;
  const idx = new Int32Array(nd);
  let o = base;
  for (let i = 0; i < n; i++) {
    out[i] = o;
    for (let k = nd - 1; k >= 0; k--) {
      o += strides[k]!;
      if (++idx[k]! < shape[k]!) break;
      o -= strides[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return out;
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
