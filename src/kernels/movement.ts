/** Data movement kernels: broadcasting, transposes, slices, padding, concatenation, reversal. */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes, strides and parameters are read with
// `at` or destructured before the loops.
import { at } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, TypedArray, allocate, allocateOverwritten } from "../core/dtype.js";
import { Shape, shapesEqual, sizeOf, stridesOf } from "../core/shape.js";
import { axisLoop, bcastStrides, gather, lastStride, stridedRuns } from "./strided.js";

export function broadcastTo(x: ConcreteArray, shape: Shape): ConcreteArray {
  if (shapesEqual(x.shape, shape)) return x;
  // every element written by broadcastInto
  const out = allocateOverwritten(x.dtype, sizeOf(shape));
  broadcastInto(x, shape, out);
  return new ConcreteArray(out, shape, x.dtype, x.weakType);
}

/**
 * Writes `x` broadcast to `shape` into `out` (`sizeOf(shape)` elements, every one written): what
 * {@link broadcastTo} returns, into a buffer the caller owns (jit's plans reuse theirs).
 */
export function broadcastInto(x: ConcreteArray, shape: Shape, out: TypedArray): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const d = storageOf(x);
  if (d.length === 1) out.fill(at(d, 0, "broadcastTo"), 0, n);
  else gather(d, out, shape, bcastStrides(x.shape, shape));
}

/** Copies `x` read through per-output-axis input strides starting at `base` into `outShape`. */
function stridedCopy(x: ConcreteArray, outShape: Shape, inStrides: readonly number[], base: number): TypedArray {
  const out = allocateOverwritten(x.dtype, sizeOf(outShape)); // every element written by gather
  if (out.length > 0) gather(storageOf(x), out, outShape, inStrides, base);
  return out;
}

/** The 2-d transpose in 32 x 32 blocks (reads and writes both stay within a few cache lines per block). */
function transpose2d(d: TypedArray, out: TypedArray, rows: number, cols: number): void {
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) for (let j = j0, p = i * cols + j0; j < j1; j++, p++) out[j * rows + i] = d[p]!;
    }
  }
}

/**
 * The permutation with unit axes dropped and input axes that stay adjacent
 * (and in order) merged: the extents of the merged input axes, and the
 * permutation of them. E.g. [n, m, 1] by (1, 0, 2) is [n, m] by (1, 0).
 */
export function collapsedPerm(shape: readonly number[], perm: readonly number[]): { dims: number[]; perm: number[] } {
  const kept = perm.filter((p) => shape[p] !== 1);
  // runs of consecutive input axes in output order become one axis (each run has a first axis)
  const runs: [number, ...number[]][] = [];
  for (const p of kept) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[last.length - 1] === p - 1) last.push(p);
    else runs.push([p]);
  }
  const byInput = runs.slice().sort((a, b) => a[0] - b[0]);
  return {
    dims: byInput.map((r) => r.reduce((s, a) => s * at(shape, a, "transpose"), 1)),
    perm: runs.map((r) => byInput.indexOf(r)),
  };
}

export function transpose(x: ConcreteArray, perm: readonly number[]): ConcreteArray {
  if (x.size >= 1024) {
    // a transpose that only moves unit axes is a copy; one that swaps two blocks of axes, a blocked 2-d transpose
    const c = collapsedPerm(x.shape, perm);
    const outShape = perm.map((p) => at(x.shape, p, "transpose"));
    if (c.perm.length <= 1) return new ConcreteArray(storageOf(x).slice(), outShape, x.dtype, x.weakType);
    if (c.perm.length === 2 && c.perm[0] === 1) {
      const out = allocateOverwritten(x.dtype, x.size); // every element written by transpose2d
      transpose2d(storageOf(x), out, at(c.dims, 0, "transpose"), at(c.dims, 1, "transpose"));
      return new ConcreteArray(out, outShape, x.dtype, x.weakType);
    }
  }
  const st = stridesOf(x.shape);
  const outShape = perm.map((p) => at(x.shape, p, "transpose"));
  return new ConcreteArray(
    stridedCopy(
      x,
      outShape,
      perm.map((p) => at(st, p, "transpose")),
      0,
    ),
    outShape,
    x.dtype,
    x.weakType,
  );
}

export function slice(x: ConcreteArray, begin: readonly number[], end: readonly number[]): ConcreteArray {
  const st = stridesOf(x.shape);
  const outShape = begin.map((b, i) => at(end, i, "slice") - b);
  let base = 0;
  for (const [i, b] of begin.entries()) base += b * at(st, i, "slice");
  return new ConcreteArray(stridedCopy(x, outShape, st, base), outShape, x.dtype, x.weakType);
}

/** Writes `src` into `dst` (of shape `dstShape`, the same rank) at per-axis offsets `offsets`, for `op`. */
function scatterInto(
  src: ConcreteArray,
  dst: TypedArray,
  dstShape: Shape,
  offsets: readonly number[],
  op: string,
): void {
  const st = stridesOf(dstShape);
  let base = 0;
  for (const [i, s] of st.entries()) base += at(offsets, i, op) * s;
  const d = storageOf(src);
  const step = lastStride(st);
  let i = 0;
  stridedRuns(
    src.shape,
    [st],
    (len, p) => {
      if (step === 1 && len >= 16) {
        dst.set(d.subarray(i, i + len), p);
        i += len;
      } else for (let j = 0; j < len; j++, p += step) dst[p] = d[i++]!;
    },
    base,
  );
}

export function pad(x: ConcreteArray, lo: readonly number[], hi: readonly number[]): ConcreteArray {
  const outShape = x.shape.map((d, i) => d + at(lo, i, "pad") + at(hi, i, "pad"));
  const out = allocate(x.dtype, sizeOf(outShape));
  scatterInto(x, out, outShape, lo, "pad");
  return new ConcreteArray(out, outShape, x.dtype, x.weakType);
}

/**
 * Writes the elements of `x` where {@link pad} puts them in `out` (of shape `outShape`, `lo`
 * elements before them on each axis) and nothing else: `out` already zero outside them gives
 * pad's value (jit's plans keep such a buffer per padded operand, its zeros written once).
 */
export function padInto(x: ConcreteArray, lo: readonly number[], outShape: Shape, out: TypedArray): void {
  scatterInto(x, out, outShape, lo, "pad");
}

export function concatenate(xs: readonly ConcreteArray[], axis: number, dtype: DType): ConcreteArray {
  const outShape = at(xs, 0, "concatenate").shape.slice();
  outShape[axis] = xs.reduce((s, x) => s + at(x.shape, axis, "concatenate"), 0);
  const out = allocate(dtype, sizeOf(outShape));
  const offsets = new Array<number>(outShape.length).fill(0);
  for (const x of xs) {
    scatterInto(x, out, outShape, offsets, "concatenate");
    offsets[axis] = at(offsets, axis, "concatenate") + at(x.shape, axis, "concatenate");
  }
  return new ConcreteArray(out, outShape, dtype);
}

export function rev(x: ConcreteArray, axes: readonly number[]): ConcreteArray {
  let cur = x;
  for (const ax of axes) {
    const out = allocate(cur.dtype, storageOf(cur).length);
    const d = storageOf(cur);
    axisLoop(cur.shape, ax, (b, s, n) => {
      for (let i = 0; i < n; i++) out[b + i * s] = d[b + (n - 1 - i) * s]!;
    });
    cur = new ConcreteArray(out, cur.shape, cur.dtype);
  }
  return cur;
}
