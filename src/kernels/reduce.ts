/** Reduction and scan kernels: folds over axes, arg-extrema, running sums. */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes, strides and parameters are read with
// `at` or destructured before the loops.
import { at } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, TypedArray, allocate, allocateOverwritten } from "../core/dtype.js";
import { sizeOf, stridesOf } from "../core/shape.js";
import { type Triple, axisLoop, lastStride, stridedRuns, walk3 } from "./strided.js";
import { SUM_CHUNK } from "./sumOrder.js";
import { wasmSumMiddle } from "./wasm/elementwise.js";

/** Fewest elements a partial sum runs compiled for (below, the JS walk: a call and copies cost more). */
const WASM_SUM_MIN = 2048;

/**
 * Reduces over `axes` (sorted); `combine` folds into an accumulator started at `init`. With
 * `chunk`, a reduction over every axis folds each run of `chunk` elements from `init` and then
 * folds those partial results in order (the sum order of ./sumOrder.ts); a reduction of at most
 * `chunk` elements is the plain fold either way.
 */
export function reduce(
  x: ConcreteArray,
  axes: readonly number[],
  dtype: DType,
  init: number,
  combine: (acc: number, v: number) => number,
  chunk?: number,
): ConcreteArray {
  return reduceWith(x, axes, dtype, init, combine, chunk, false);
}

/**
 * reduce_sum's kernel: {@link reduce} with `combine` (s, v) => s + v from 0 and chunks of
 * SUM_CHUNK for a full sum, the same additions in the same order, with the addition inlined.
 */
export function reduceSum(x: ConcreteArray, axes: readonly number[], dtype: DType): ConcreteArray {
  return reduceWith(x, axes, dtype, 0, (s, v) => s + v, SUM_CHUNK, true);
}

function reduceWith(
  x: ConcreteArray,
  axes: readonly number[],
  dtype: DType,
  init: number,
  combine: (acc: number, v: number) => number,
  chunk: number | undefined,
  sum: boolean,
): ConcreteArray {
  const shape = x.shape;
  const nd = shape.length;
  const outShape = shape.filter((_, i) => !axes.includes(i));
  const m = sizeOf(outShape);
  // float64 results accumulate in place; others in float64, rounded once at the end
  const out = allocateOverwritten(dtype, m); // filled with init or set from acc below
  const acc = out instanceof Float64Array ? out : scratch(m);
  acc.fill(init);
  const d = storageOf(x);
  const n = d.length;
  if (axes.length === nd && chunk !== undefined && n > chunk) {
    let total = init;
    for (let c0 = 0; c0 < n; c0 += chunk) {
      const c1 = Math.min(n, c0 + chunk);
      let a = init;
      for (let i = c0; i < c1; i++) a = combine(a, d[i]!);
      total = combine(total, a);
    }
    acc[0] = total;
  } else if (axes.length === nd) {
    let a = init;
    for (let i = 0; i < n; i++) a = combine(a, d[i]!);
    acc[0] = a;
  } else if (n > 0 && axes[0] === 0 && contiguousBlock(axes, nd)) {
    // the reduced axes are a leading block: plain loops over rows (the same additions in the same
    // order as the strided walk below), compiled for a large float sum
    if (sum && n >= WASM_SUM_MIN && m >= 2 && wasmSumMiddle(d, out, 1, n / m, m))
      return new ConcreteArray(out, outShape, dtype);
    foldRows(d, acc, n / m, m, combine);
  } else if (n > 0) {
    // the input in row-major order, each element folded into its output (so every output folds its
    // elements in ascending order); over at most three merged axes, nested loops
    const ost = stridesOf(outShape);
    const so = new Array<number>(nd).fill(0);
    let j = 0;
    for (let i = 0; i < nd; i++) if (!axes.includes(i)) so[i] = at(ost, j++, "reduce");
    const w = walk3(shape, [so]);
    if (w !== null && sum && n >= WASM_SUM_MIN) {
      // a middle block of axes summed, the trailing ones kept: [n0, n1, n2] to [n0, n2], compiled
      const [n0, n1, n2] = w.dims;
      const [s0, s1, s2] = at(w.strides, 0, "reduce");
      if (s2 === 1 && s1 === 0 && (n0 === 1 || s0 === n2) && n2 >= 2 && wasmSumMiddle(d, out, n0, n1, n2))
        return new ConcreteArray(out, outShape, dtype);
    }
    if (w !== null && sum) sumWalk(d, acc, w.dims, at(w.strides, 0, "reduce"));
    else if (w !== null) foldWalk(d, acc, w.dims, at(w.strides, 0, "reduce"), combine);
    else {
      const step = lastStride(so);
      let i = 0;
      stridedRuns(shape, [so], (len, o) => {
        for (let j = 0; j < len; j++, o += step) acc[o] = combine(acc[o]!, d[i++]!);
      });
    }
  }
  if (acc !== out) out.set(acc);
  return new ConcreteArray(out, outShape, dtype);
}

let SCRATCH = new Float64Array(0);
/** A float64 accumulator of m elements, reused between calls when small (kernels do not nest). */
function scratch(m: number): Float64Array {
  if (m > 1 << 16) return new Float64Array(m);
  if (SCRATCH.length < m) SCRATCH = new Float64Array(Math.max(m, 2 * SCRATCH.length));
  return SCRATCH.subarray(0, m);
}

/** acc[i0 * s0 + i1 * s1 + i2 * s2] += the input's elements in row-major order over dims [n0, n1, n2]. */
function sumWalk(d: TypedArray, acc: Float64Array, [n0, n1, n2]: Triple, [s0, s1, s2]: Triple): void {
  let i = 0;
  if (s2 === 0)
    for (let i0 = 0, p0 = 0; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1) {
        let a = acc[p1]!;
        for (let e = i + n2; i < e; i++) a += d[i]!;
        acc[p1] = a;
      }
  else
    for (let i0 = 0, p0 = 0; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1)
        for (let i2 = 0, p = p1; i2 < n2; i2++, p += s2) acc[p] = acc[p]! + d[i++]!;
}

/** {@link sumWalk} with `combine` in place of the addition. */
function foldWalk(
  d: TypedArray,
  acc: Float64Array,
  [n0, n1, n2]: Triple,
  [s0, s1, s2]: Triple,
  combine: (acc: number, v: number) => number,
): void {
  let i = 0;
  if (s2 === 0)
    for (let i0 = 0, p0 = 0; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1) {
        let a = acc[p1]!;
        for (let e = i + n2; i < e; i++) a = combine(a, d[i]!);
        acc[p1] = a;
      }
  else
    for (let i0 = 0, p0 = 0; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1)
        for (let i2 = 0, p = p1; i2 < n2; i2++, p += s2) acc[p] = combine(acc[p]!, d[i++]!);
}

/** Whether sorted `axes` are consecutive and start at axis 0 or end at the last axis. */
function contiguousBlock(axes: readonly number[], nd: number): boolean {
  const first = axes[0];
  if (first === undefined) return false;
  for (const [i, a] of axes.entries()) if (a !== first + i) return false;
  return first === 0 || axes[axes.length - 1] === nd - 1;
}

/** acc[j] = combine(...combine(acc[j], d[j]), d[m + j]) ... over `rows` rows of length m. */
function foldRows(
  d: TypedArray,
  acc: Float64Array,
  rows: number,
  m: number,
  combine: (acc: number, v: number) => number,
): void {
  let r = 0;
  // four rows per pass (each output still folds its rows in ascending order): a quarter of the
  // accumulator loads and stores
  for (; r + 3 < rows; r += 4) {
    const p = r * m;
    for (let j = 0; j < m; j++)
      acc[j] = combine(
        combine(combine(combine(acc[j]!, d[p + j]!), d[p + m + j]!), d[p + 2 * m + j]!),
        d[p + 3 * m + j]!,
      );
  }
  for (let p = r * m; r < rows; r++) for (let j = 0; j < m; j++, p++) acc[j] = combine(acc[j]!, d[p]!);
}

/** Index of the first maximum (or minimum) along one axis; NaN counts as the extreme. */
export function argReduce(x: ConcreteArray, axis: number, isMax: boolean): ConcreteArray {
  const shape = x.shape;
  const outShape = shape.filter((_, i) => i !== axis);
  const len = at(shape, axis, isMax ? "argmax" : "argmin");
  const inner = sizeOf(shape.slice(axis + 1));
  const outer = sizeOf(shape.slice(0, axis));
  const out = new Int32Array(outer * inner);
  const d = storageOf(x);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let best = 0;
      let bv = d[o * len * inner + i]!;
      if (!Number.isNaN(bv))
        for (let k = 1; k < len; k++) {
          const v = d[(o * len + k) * inner + i]!;
          if (Number.isNaN(v) || (isMax ? v > bv : v < bv)) {
            best = k;
            bv = v;
            if (Number.isNaN(v)) break;
          }
        }
      out[o * inner + i] = best;
    }
  return new ConcreteArray(out, outShape, "int32");
}

export function cumsum(x: ConcreteArray, axis: number, reverse: boolean): ConcreteArray {
  const out = allocate(x.dtype, storageOf(x).length);
  const d = storageOf(x);
  axisLoop(x.shape, axis, (b, s, n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      const o = b + (reverse ? n - 1 - i : i) * s;
      acc += d[o]!;
      out[o] = acc;
    }
  });
  return new ConcreteArray(out, x.shape, x.dtype);
}
