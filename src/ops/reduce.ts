/** Reductions: sums, products, extrema and their indices, logsumexp, softmax. */
import "./methods.js";
import { ShapeError, fmtShape, at } from "../core/errors.js";
import { floatOf } from "../core/dtype.js";
import { ArrayLike, NDArray, scalar } from "../core/ndarray.js";
import { Shape, normAxes, normAxis, sizeOf } from "../core/shape.js";
import { bind1 } from "../core/trace.js";
import * as E from "../prims/elementwise.js";
import * as R from "../prims/reduce.js";
import * as SH from "../prims/shape.js";
import * as W from "../prims/wrap.js";
import { asArray, boolArg } from "./validate.js";
import { abs, add, div, exp, less, log, stopGradient, sub, where } from "./elementwise.js";
import { reshape } from "./shape.js";

type Axis = number | readonly number[] | undefined | null;

/** The number of elements each output of a reduction over `axes` combines. */
const reducedCount = (shape: Shape, axes: readonly number[]): number =>
  axes.reduce((p, ax) => p * at(shape, ax, "reducedCount"), 1);

/** Reductions without an identity (max, min) have no value over an empty axis (NumPy raises too). */
function noIdentity(op: string, shape: Shape, axes: readonly number[]): void {
  if (reducedCount(shape, axes) === 0 && (axes.length > 0 || sizeOf(shape) === 0))
    throw new ShapeError(
      `${op}: reduction over an empty axis (axes [${axes.join(", ")}] of shape ${fmtShape(shape)}) has no identity`,
    );
}

function finishReduce(r: NDArray, shape: Shape, axes: number[], keepdims: boolean): NDArray {
  return keepdims ? reshape(r, W.keepShape(shape, axes)) : r;
}

/**
 * Sum over `axis` (all axes by default). Bools sum as int32.
 * @example nb.sum([[1, 2], [3, 4]], 0); // array([4., 6.])
 */
export function sum(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  boolArg("sum", "keepdims", keepdims);
  let a = asArray(x, "sum");
  const axes = normAxes("sum", axis, a.ndim);
  if (a.dtype === "bool") a = W.convert(a, "int32");
  return finishReduce(W.reduceSum(a, axes), a.shape, axes, keepdims);
}

/** Arithmetic mean over `axis`. @example nb.mean([1, 2, 3]); // array(2.) */
export function mean(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  boolArg("mean", "keepdims", keepdims);
  let a = asArray(x, "mean");
  const axes = normAxes("mean", axis, a.ndim);
  a = W.convert(a, floatOf(a.dtype));
  const n = axes.reduce((p, ax) => p * at(a.shape, ax, "mean"), 1);
  return div(sum(a, axes, keepdims), n);
}

/**
 * Product over `axis`, as a tree of pairwise products, so its gradient is
 * exact when inputs contain zeros.
 * @example nb.prod([1, 2, 3, 4]); // array(24.)
 */
export function prod(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  boolArg("prod", "keepdims", keepdims);
  let a = asArray(x, "prod");
  const axes = normAxes("prod", axis, a.ndim);
  if (a.dtype === "bool") a = W.convert(a, "int32");
  const shape = a.shape;
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = kept.map((i) => at(shape, i, "prod"));
  let n = axes.reduce((p, ax) => p * at(shape, ax, "prod"), 1);
  let r = reshape(W.transposePrim(a, [...kept, ...axes]), [...outShape, n]);
  const lead = outShape.length;
  if (n === 0) r = bind1(SH.BROADCAST, [W.convertTo(scalar(1, "float64", true), a.dtype)], { shape: [...outShape, 1] });
  while (n > 1) {
    if (n % 2 === 1) {
      const one = bind1(SH.BROADCAST, [W.convertTo(scalar(1, "float64", true), a.dtype)], { shape: [...outShape, 1] });
      r = W.concatPrim([r, one], lead);
      n += 1;
    }
    const pairs = reshape(r, [...outShape, n / 2, 2]);
    const begin = new Array<number>(lead + 2).fill(0);
    const endEven = [...outShape, n / 2, 1];
    const beginOdd = begin.slice();
    beginOdd[lead + 1] = 1;
    const even = reshape(W.slicePrim(pairs, begin, endEven), [...outShape, n / 2]);
    const odd = reshape(W.slicePrim(pairs, beginOdd, [...outShape, n / 2, 2]), [...outShape, n / 2]);
    r = bind1(E.MUL, [even, odd], {});
    n /= 2;
  }
  return finishReduce(reshape(r, outShape), shape, axes, keepdims);
}

/** max or min over `axis`: a reduction with no identity, so an empty axis is a ShapeError. */
function extremum(
  fn: "max" | "min",
  row: typeof R.REDUCE_MAX,
  x: ArrayLike,
  axis: Axis | undefined,
  keepdims: boolean,
): NDArray {
  boolArg(fn, "keepdims", keepdims);
  const a = asArray(x, fn);
  const axes = normAxes(fn, axis, a.ndim);
  noIdentity(fn, a.shape, axes);
  return finishReduce(axes.length ? bind1(row, [a], { axes }) : a, a.shape, axes, keepdims);
}

/** Maximum over `axis` (ties share the gradient evenly). @example nb.max([1, 3, 2]); // array(3.) */
export function max(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  return extremum("max", R.REDUCE_MAX, x, axis, keepdims);
}

/** Minimum over `axis`. @example nb.min([1, 3, 2]); // array(1.) */
export function min(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  return extremum("min", R.REDUCE_MIN, x, axis, keepdims);
}

/**
 * log(sum(exp(x))) over `axis`, stable for large |x|.
 * @example nb.logsumexp([1000, 1000]); // array(1000.6931471805599)
 */
export function logsumexp(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  boolArg("logsumexp", "keepdims", keepdims);
  let a = asArray(x, "logsumexp");
  a = W.convert(a, floatOf(a.dtype));
  const axes = normAxes("logsumexp", axis, a.ndim);
  // the shift: the (finite) maximum, or 0 over an empty axis, where the result is log(0) = -inf
  let m: NDArray;
  if (reducedCount(a.shape, axes) === 0) m = W.zeros(W.keepShape(a.shape, axes), a.dtype);
  else {
    const m0 = stopGradient(max(a, axes, true));
    m = where(less(abs(m0), Infinity), m0, 0);
  }
  const out = add(log(sum(exp(sub(a, m)), axes, true)), m);
  return keepdims
    ? out
    : reshape(
        out,
        a.shape.filter((_, i) => !axes.includes(i)),
      );
}

function argReduce(prim: "argmax" | "argmin", x: ArrayLike, axis: number | undefined, keepdims: boolean): NDArray {
  boolArg(prim, "keepdims", keepdims);
  let a = asArray(x, prim);
  let ax: number;
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    ax = 0;
  } else ax = normAxis(prim, axis, a.ndim);
  if (a.shape[ax] === 0) throw new ShapeError(`${prim}: empty axis in shape ${fmtShape(a.shape)}`);
  const r = bind1(prim === "argmax" ? R.ARGMAX : R.ARGMIN, [a], { axis: ax });
  if (!keepdims) return r;
  return axis === undefined || axis === null
    ? reshape(
        r,
        asArray(x).shape.map(() => 1),
      )
    : reshape(r, W.keepShape(a.shape, [ax]));
}
/** Index of the maximum along `axis` (flattened when omitted), int32. @example nb.argmax([1, 3, 2]); // 1 */
export const argmax = (x: ArrayLike, axis?: number, keepdims = false): NDArray =>
  argReduce("argmax", x, axis, keepdims);
/** Index of the minimum along `axis`, int32. @example nb.argmin([1, 3, 2]); // 0 */
export const argmin = (x: ArrayLike, axis?: number, keepdims = false): NDArray =>
  argReduce("argmin", x, axis, keepdims);

// ---------------------------------------------------------------------------
// normalisation

/** exp(x) / sum(exp(x)) along `axis`, stable for large |x|. @example nb.softmax([1, 2, 3]); */
export function softmax(x: ArrayLike, axis = -1): NDArray {
  const a0 = asArray(x, "softmax");
  const a = W.convert(a0, floatOf(a0.dtype)); // int32 and bool inputs compute in float64
  const ax = normAxis("softmax", axis, a.ndim);
  // the shift by the max only guards exp against overflow; an empty axis has no max and no elements to guard
  const shift = a.shape[ax] === 0 ? 0 : stopGradient(max(a, ax, true));
  const e = exp(sub(a, shift));
  return div(e, sum(e, ax, true));
}

/** x - logsumexp(x) along `axis`, stable for large |x|. @example nb.logSoftmax([1, 2, 3]); */
export function logSoftmax(x: ArrayLike, axis = -1): NDArray {
  const a0 = asArray(x, "logSoftmax");
  const a = W.convert(a0, floatOf(a0.dtype));
  const ax = normAxis("logSoftmax", axis, a.ndim);
  return sub(a, logsumexp(a, ax, true));
}
