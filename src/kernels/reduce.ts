/** Reduction and scan kernels: folds over axes, arg-extrema, running sums. */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes, strides and parameters are read with
// `at` or destructured before the loops.
import { at } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, TypedArray, allocate } from "../core/dtype.js";
import { sizeOf, stridesOf } from "../core/shape.js";
import { axisLoop, lastStride, stridedRuns } from "./strided.js";

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
  const shape = x.shape;
  const nd = shape.length;
  const outShape = shape.filter((_, i) => !axes.includes(i));
  const m = sizeOf(outShape);
  const acc = new Float64Array(m).fill(init);
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
  } else if (n > 0 && contiguousBlock(axes, nd)) {
    // the reduced axes are a leading or a trailing block: plain loops over rows (the same
    // additions in the same order as the strided walk below, without a call per row)
    if (axes[0] === 0) foldRows(d, acc, n / m, m, combine);
    else foldLines(d, acc, m, n / m, init, combine);
  } else if (n > 0) {
    const ost = stridesOf(outShape);
    const so = new Array<number>(nd).fill(0);
    let j = 0;
    for (let i = 0; i < nd; i++) if (!axes.includes(i)) so[i] = at(ost, j++, "reduce");
    const step = lastStride(so);
    let i = 0;
    stridedRuns(shape, [so], (len, o) => {
      for (let j = 0; j < len; j++, o += step) acc[o] = combine(acc[o]!, d[i++]!);
    });
  }
  const out = allocate(dtype, m);
  out.set(acc);
  return new ConcreteArray(out, outShape, dtype);
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

/** acc[o] = the fold of line o (len consecutive elements) from init, for m lines. */
function foldLines(
  d: TypedArray,
  acc: Float64Array,
  m: number,
  len: number,
  init: number,
  combine: (acc: number, v: number) => number,
): void {
  for (let o = 0, p = 0; o < m; o++) {
    let a = init;
    for (let k = 0; k < len; k++, p++) a = combine(a, d[p]!);
    acc[o] = a;
  }
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
