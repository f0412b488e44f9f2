/**
 * The NumPy-like operations. Each is composed from primitives (see
 * `primitives.ts`) through `bind`, so it works on concrete arrays and on
 * tracers alike and needs no derivative rule of its own.
 */
import { DTypeError, ShapeError, fmtShape } from "../core/errors.js";
import { DType, floatOf, isDType, isFloat, promote } from "../core/dtype.js";
import {
  ArrayLike,
  ConcreteArray,
  NDArray,
  Nested,
  array,
  asArray,
  installOps,
  isIntegralWeak,
  scalar,
} from "../core/ndarray.js";
import * as K from "../core/kernels.js";
import { Shape, broadcastShapes, checkShape, normAxes, normAxis, shapesEqual, sizeOf } from "../core/shape.js";
import { bind, bind1 } from "../core/trace.js";
import { Prim, keepShape } from "./primitives.js";
import * as self from "./ops.js";

type Axis = number | readonly number[] | undefined | null;

// ---------------------------------------------------------------------------
// dtype plumbing

/** Converts to `dtype`; weak scalars convert eagerly and stay weak. */
function convertTo(x: NDArray, dtype: DType): NDArray {
  if (x.dtype === dtype) return x;
  if (x instanceof ConcreteArray && x.weakType) return K.cast(x, dtype, true);
  return bind1("convert", [x], { dtype });
}

/** @internal The `convert` primitive (no weak-type handling). */
export function convert(x: NDArray, dtype: DType): NDArray {
  return x.dtype === dtype ? x : bind1("convert", [x], { dtype });
}

/**
 * Converts an array to another dtype (float to int truncates toward zero).
 * @example
 * nb.astype(nb.array([1.7, -1.7]), "int32"); // array([1, -1], dtype=int32)
 */
export function astype(x: ArrayLike, dtype: DType): NDArray {
  if (!isDType(dtype)) throw new DTypeError(`astype: unknown dtype ${String(dtype)}`);
  const a = asArray(x, "astype");
  if (a.dtype === dtype && !a.weakType) return a;
  if (a.dtype === dtype && a instanceof ConcreteArray) return new ConcreteArray(a.data, a.shape, a.dtype, false);
  return bind1("convert", [a], { dtype });
}

function promoted(op: string, xs: NDArray[]): DType {
  return promote(
    op,
    xs.map((x) => ({ dtype: x.dtype, weak: x.weakType, integral: isIntegralWeak(x) })),
  ).dtype;
}

function binary(prim: Prim, x: ArrayLike, y: ArrayLike, op: string, float = false): NDArray {
  const a = asArray(x, op);
  const b = asArray(y, op);
  let dt = promoted(op, [a, b]);
  if (float) dt = floatOf(dt);
  return bind1(prim, [convertTo(a, dt), convertTo(b, dt)], {});
}

function unaryF(prim: Prim, x: ArrayLike, op: string): NDArray {
  const a = asArray(x, op);
  return bind1(prim, [convertTo(a, floatOf(a.dtype))], {});
}

function compare(prim: Prim, x: ArrayLike, y: ArrayLike, op: string): NDArray {
  return binary(prim, x, y, op);
}

function toBool(x: ArrayLike, op: string): NDArray {
  const a = asArray(x, op);
  return a.dtype === "bool" ? a : bind1("ne", [a, convertTo(scalar(0, "float64", true), a.dtype)], {});
}

// ---------------------------------------------------------------------------
// elementwise

/** Elementwise `-x`. @example nb.neg([1, -2]); // array([-1., 2.]) */
export const neg = (x: ArrayLike): NDArray => bind1("neg", [asArray(x, "neg")], {});
/** Elementwise e^x. @example nb.exp(0); // array(1.) */
export const exp = (x: ArrayLike): NDArray => unaryF("exp", x, "exp");
/** Natural logarithm. @example nb.log(1); // array(0.) */
export const log = (x: ArrayLike): NDArray => unaryF("log", x, "log");
/** log(1 + x), accurate near 0. @example nb.log1p(1e-10); */
export const log1p = (x: ArrayLike): NDArray => unaryF("log1p", x, "log1p");
/** e^x - 1, accurate near 0. @example nb.expm1(1e-10); */
export const expm1 = (x: ArrayLike): NDArray => unaryF("expm1", x, "expm1");
/** Sine. @example nb.sin(0); */
export const sin = (x: ArrayLike): NDArray => unaryF("sin", x, "sin");
/** Cosine. @example nb.cos(0); */
export const cos = (x: ArrayLike): NDArray => unaryF("cos", x, "cos");
/** Tangent. @example nb.tan(0); */
export const tan = (x: ArrayLike): NDArray => unaryF("tan", x, "tan");
/** Hyperbolic tangent. @example nb.tanh(0); */
export const tanh = (x: ArrayLike): NDArray => unaryF("tanh", x, "tanh");
/** Hyperbolic sine. @example nb.sinh(0); */
export const sinh = (x: ArrayLike): NDArray => unaryF("sinh", x, "sinh");
/** Hyperbolic cosine. @example nb.cosh(0); */
export const cosh = (x: ArrayLike): NDArray => unaryF("cosh", x, "cosh");
/** Inverse sine. @example nb.arcsin(0.5); */
export const arcsin = (x: ArrayLike): NDArray => unaryF("asin", x, "arcsin");
/** Inverse cosine. @example nb.arccos(0.5); */
export const arccos = (x: ArrayLike): NDArray => unaryF("acos", x, "arccos");
/** Inverse tangent. @example nb.arctan(1); */
export const arctan = (x: ArrayLike): NDArray => unaryF("atan", x, "arctan");
/** Square root. @example nb.sqrt(4); // array(2.) */
export const sqrt = (x: ArrayLike): NDArray => unaryF("sqrt", x, "sqrt");
/** The error function. @example nb.erf(0); */
export const erf = (x: ArrayLike): NDArray => unaryF("erf", x, "erf");
/** The logistic sigmoid 1 / (1 + e^-x), stable for large |x|. @example nb.sigmoid(0); // array(0.5) */
export const sigmoid = (x: ArrayLike): NDArray => unaryF("logistic", x, "sigmoid");
/** log(1 + e^x), stable for large |x|. @example nb.softplus(0); // log 2 */
export const softplus = (x: ArrayLike): NDArray => unaryF("softplus", x, "softplus");
/** Absolute value (derivative 1 at 0). @example nb.abs([-1, 2]); */
export const abs = (x: ArrayLike): NDArray => bind1("abs", [asArray(x, "abs")], {});
/** -1, 0 or 1. @example nb.sign([-3, 0, 2]); */
export const sign = (x: ArrayLike): NDArray => bind1("sign", [asArray(x, "sign")], {});
/** Round down. @example nb.floor(1.5); */
export const floor = (x: ArrayLike): NDArray => bind1("floor", [asArray(x, "floor")], {});
/** Round up. @example nb.ceil(1.5); */
export const ceil = (x: ArrayLike): NDArray => bind1("ceil", [asArray(x, "ceil")], {});
/** Round half to even (as NumPy). @example nb.round(2.5); // array(2.) */
export const round = (x: ArrayLike): NDArray => bind1("round", [asArray(x, "round")], {});
/** x * x. @example nb.square(3); // array(9.) */
export const square = (x: ArrayLike): NDArray => {
  const a = asArray(x, "square");
  return bind1("mul", [a, a], {});
};
/** 1 / x. @example nb.reciprocal(4); // array(0.25) */
export const reciprocal = (x: ArrayLike): NDArray => binary("div", 1, x, "reciprocal", true);
/** max(x, 0), with derivative 0 at 0. @example nb.relu([-1, 2]); // array([0., 2.]) */
export const relu = (x: ArrayLike): NDArray => {
  const a = asArray(x, "relu");
  return where(greater(a, 0), a, 0);
};

/** Elementwise sum with broadcasting. @example nb.add([1, 2], 1); // array([2., 3.]) */
export const add = (x: ArrayLike, y: ArrayLike): NDArray => binary("add", x, y, "add");
/** Elementwise difference. @example nb.sub([1, 2], 1); */
export const sub = (x: ArrayLike, y: ArrayLike): NDArray => binary("sub", x, y, "sub");
/** Elementwise product. @example nb.mul([1, 2], [3, 4]); // array([3., 8.]) */
export const mul = (x: ArrayLike, y: ArrayLike): NDArray => binary("mul", x, y, "mul");
/** Elementwise true division (ints divide as float64). @example nb.div(1, [2, 4]); */
export const div = (x: ArrayLike, y: ArrayLike): NDArray => binary("div", x, y, "div", true);
/** Elementwise power x^y. @example nb.pow([1, 2], 2); // array([1., 4.]) */
export const pow = (x: ArrayLike, y: ArrayLike): NDArray => binary("pow", x, y, "pow", true);
/** Elementwise maximum (ties split the gradient evenly). @example nb.maximum([1, 5], 3); */
export const maximum = (x: ArrayLike, y: ArrayLike): NDArray => binary("max", x, y, "maximum");
/** Elementwise minimum (ties split the gradient evenly). @example nb.minimum([1, 5], 3); */
export const minimum = (x: ArrayLike, y: ArrayLike): NDArray => binary("min", x, y, "minimum");
/** Four-quadrant arctan(y / x). @example nb.arctan2(1, 1); */
export const arctan2 = (y: ArrayLike, x: ArrayLike): NDArray => binary("atan2", y, x, "arctan2", true);

/** x == y (bool). @example nb.equal([1, 2], 2); */
export const equal = (x: ArrayLike, y: ArrayLike): NDArray => compare("eq", x, y, "equal");
/** x != y (bool). @example nb.notEqual([1, 2], 2); // array([ True, False], dtype=bool) */
export const notEqual = (x: ArrayLike, y: ArrayLike): NDArray => compare("ne", x, y, "notEqual");
/** x < y (bool). @example nb.less([1, 3], 2); */
export const less = (x: ArrayLike, y: ArrayLike): NDArray => compare("lt", x, y, "less");
/** x <= y (bool). @example nb.lessEqual([1, 2], 2); */
export const lessEqual = (x: ArrayLike, y: ArrayLike): NDArray => compare("le", x, y, "lessEqual");
/** x > y (bool). @example nb.greater([1, 3], 2); // array([False, True], dtype=bool) */
export const greater = (x: ArrayLike, y: ArrayLike): NDArray => compare("gt", x, y, "greater");
/** x >= y (bool). @example nb.greaterEqual([1, 2], 2); */
export const greaterEqual = (x: ArrayLike, y: ArrayLike): NDArray => compare("ge", x, y, "greaterEqual");
/** Logical and (operands tested != 0). @example nb.logicalAnd([true, true], [true, false]); */
export const logicalAnd = (x: ArrayLike, y: ArrayLike): NDArray =>
  bind1("and", [toBool(x, "logicalAnd"), toBool(y, "logicalAnd")], {});
/** Logical or (operands tested != 0). @example nb.logicalOr([true, false], [false, false]); */
export const logicalOr = (x: ArrayLike, y: ArrayLike): NDArray =>
  bind1("or", [toBool(x, "logicalOr"), toBool(y, "logicalOr")], {});
/** Logical not (operand tested != 0). @example nb.logicalNot([true, false]); */
export const logicalNot = (x: ArrayLike): NDArray => bind1("not", [toBool(x, "logicalNot")], {});

/** @internal The select primitive with operand promotion. */
export function selectPrim(c: NDArray, x: ArrayLike, y: ArrayLike): NDArray {
  const a = asArray(x, "where");
  const b = asArray(y, "where");
  const dt = promoted("where", [a, b]);
  return bind1("select", [c, convertTo(a, dt), convertTo(b, dt)], {});
}

/**
 * Elementwise choice: x where cond, else y (broadcasting all three).
 * @example nb.where(nb.greater(x, 0), x, 0);
 */
export function where(cond: ArrayLike, x: ArrayLike, y: ArrayLike): NDArray {
  return selectPrim(toBool(cond, "where"), x, y);
}

/** Limits values to [lo, hi]. @example nb.clip([-2, 0, 2], -1, 1); */
export function clip(x: ArrayLike, lo: ArrayLike, hi: ArrayLike): NDArray {
  return minimum(maximum(x, lo), hi);
}

/**
 * Stops derivatives: the value of `x`, treated as a constant by every transform.
 * @example nb.grad((x) => nb.mul(x, nb.stopGradient(x)))(3); // array(3.)
 */
export function stopGradient(x: ArrayLike): NDArray {
  return bind1("stop_gradient", [asArray(x, "stopGradient")], {});
}

// ---------------------------------------------------------------------------
// reductions

/** @internal The reduce_sum primitive over sorted axes. */
export function reduceSum(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1("reduce_sum", [x], { axes: axes.slice() });
}

function finishReduce(r: NDArray, shape: Shape, axes: number[], keepdims: boolean): NDArray {
  return keepdims ? reshape(r, keepShape(shape, axes)) : r;
}

/**
 * Sum over `axis` (all axes by default). Bools sum as int32.
 * @example nb.sum([[1, 2], [3, 4]], 0); // array([4., 6.])
 */
export function sum(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  let a = asArray(x, "sum");
  const axes = normAxes("sum", axis, a.ndim);
  if (a.dtype === "bool") a = convert(a, "int32");
  return finishReduce(reduceSum(a, axes), a.shape, axes, keepdims);
}

/** Arithmetic mean over `axis`. @example nb.mean([1, 2, 3]); // array(2.) */
export function mean(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  let a = asArray(x, "mean");
  const axes = normAxes("mean", axis, a.ndim);
  a = convert(a, floatOf(a.dtype));
  const n = axes.reduce((p, ax) => p * a.shape[ax]!, 1);
  return div(sum(a, axes, keepdims), n);
}

/**
 * Product over `axis`, as a tree of pairwise products, so its gradient is
 * exact when inputs contain zeros.
 * @example nb.prod([1, 2, 3, 4]); // array(24.)
 */
export function prod(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  let a = asArray(x, "prod");
  const axes = normAxes("prod", axis, a.ndim);
  if (a.dtype === "bool") a = convert(a, "int32");
  const shape = a.shape;
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = kept.map((i) => shape[i]!);
  let n = axes.reduce((p, ax) => p * shape[ax]!, 1);
  let r = reshape(transposePrim(a, [...kept, ...axes]), [...outShape, n]);
  const lead = outShape.length;
  if (n === 0) r = bind1("broadcast", [convertTo(scalar(1, "float64", true), a.dtype)], { shape: [...outShape, 1] });
  while (n > 1) {
    if (n % 2 === 1) {
      const one = bind1("broadcast", [convertTo(scalar(1, "float64", true), a.dtype)], { shape: [...outShape, 1] });
      r = concatPrim([r, one], lead);
      n += 1;
    }
    const pairs = reshape(r, [...outShape, n / 2, 2]);
    const begin = new Array<number>(lead + 2).fill(0);
    const endEven = [...outShape, n / 2, 1];
    const beginOdd = begin.slice();
    beginOdd[lead + 1] = 1;
    const even = reshape(slicePrim(pairs, begin, endEven), [...outShape, n / 2]);
    const odd = reshape(slicePrim(pairs, beginOdd, [...outShape, n / 2, 2]), [...outShape, n / 2]);
    r = bind1("mul", [even, odd], {});
    n /= 2;
  }
  return finishReduce(reshape(r, outShape), shape, axes, keepdims);
}

/** Maximum over `axis` (ties share the gradient evenly). @example nb.max([1, 3, 2]); // array(3.) */
export function max(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  const a = asArray(x, "max");
  const axes = normAxes("max", axis, a.ndim);
  if (a.size === 0) throw new ShapeError(`max: reduction over an empty array of shape ${fmtShape(a.shape)}`);
  return finishReduce(axes.length ? bind1("reduce_max", [a], { axes }) : a, a.shape, axes, keepdims);
}

/** Minimum over `axis`. @example nb.min([1, 3, 2]); // array(1.) */
export function min(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  const a = asArray(x, "min");
  const axes = normAxes("min", axis, a.ndim);
  if (a.size === 0) throw new ShapeError(`min: reduction over an empty array of shape ${fmtShape(a.shape)}`);
  return finishReduce(axes.length ? bind1("reduce_min", [a], { axes }) : a, a.shape, axes, keepdims);
}

/**
 * log(sum(exp(x))) over `axis`, stable for large |x|.
 * @example nb.logsumexp([1000, 1000]); // array(1000.6931471805599)
 */
export function logsumexp(x: ArrayLike, axis?: Axis, keepdims = false): NDArray {
  let a = asArray(x, "logsumexp");
  a = convert(a, floatOf(a.dtype));
  const axes = normAxes("logsumexp", axis, a.ndim);
  const m0 = stopGradient(max(a, axes, true));
  const m = where(less(abs(m0), Infinity), m0, 0);
  const out = add(log(sum(exp(sub(a, m)), axes, true)), m);
  return keepdims
    ? out
    : reshape(
        out,
        a.shape.filter((_, i) => !axes.includes(i)),
      );
}

function argReduce(prim: "argmax" | "argmin", x: ArrayLike, axis: number | undefined, keepdims: boolean): NDArray {
  let a = asArray(x, prim);
  let ax: number;
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    ax = 0;
  } else ax = normAxis(prim, axis, a.ndim);
  if (a.shape[ax] === 0) throw new ShapeError(`${prim}: empty axis in shape ${fmtShape(a.shape)}`);
  const r = bind1(prim, [a], { axis: ax });
  if (!keepdims) return r;
  return axis === undefined || axis === null
    ? reshape(
        r,
        asArray(x).shape.map(() => 1),
      )
    : reshape(r, keepShape(a.shape, [ax]));
}
/** Index of the maximum along `axis` (flattened when omitted), int32. @example nb.argmax([1, 3, 2]); // 1 */
export const argmax = (x: ArrayLike, axis?: number, keepdims = false): NDArray =>
  argReduce("argmax", x, axis, keepdims);
/** Index of the minimum along `axis`, int32. @example nb.argmin([1, 3, 2]); // 0 */
export const argmin = (x: ArrayLike, axis?: number, keepdims = false): NDArray =>
  argReduce("argmin", x, axis, keepdims);

// ---------------------------------------------------------------------------
// shape operations

/**
 * Reshapes (one `-1` allowed).
 * @example nb.reshape(nb.arange(6), [2, -1]); // shape [2, 3]
 */
export function reshape(x: ArrayLike, shape: Shape): NDArray {
  const a = asArray(x, "reshape");
  if (!Array.isArray(shape)) throw new ShapeError(`reshape: invalid shape ${String(shape)}`);
  const s = shape.slice();
  const neg = s.filter((d) => d === -1).length;
  if (neg > 1 || s.some((d) => !Number.isInteger(d) || d < -1))
    throw new ShapeError(`reshape: invalid shape ${fmtShape(shape)}`);
  if (neg === 1) {
    const known = s.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || a.size % known !== 0)
      throw new ShapeError(`reshape: cannot reshape ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
    s[s.indexOf(-1)] = a.size / known;
  }
  if (shapesEqual(s, a.shape)) return a;
  return bind1("reshape", [a], { shape: s });
}

/** @internal The transpose primitive. */
export function transposePrim(x: NDArray, perm: readonly number[]): NDArray {
  if (perm.every((p, i) => p === i)) return x;
  return bind1("transpose", [x], { perm: perm.slice() });
}

/** Permutes axes (reverses them by default). @example nb.transpose(nb.zeros([2, 3])).shape; // [3, 2] */
export function transpose(x: ArrayLike, perm?: readonly number[]): NDArray {
  const a = asArray(x, "transpose");
  const p =
    perm === undefined ? a.shape.map((_, i) => a.ndim - 1 - i) : perm.map((q) => normAxis("transpose", q, a.ndim));
  if (p.length !== a.ndim || new Set(p).size !== p.length)
    throw new ShapeError(
      `transpose: perm [${perm?.join(",")}] is not a permutation of the ${a.ndim} axes of shape ${fmtShape(a.shape)}`,
    );
  return transposePrim(a, p);
}

/** @internal The broadcast primitive. */
export function broadcastPrim(x: NDArray, shape: readonly number[]): NDArray {
  if (shapesEqual(x.shape, shape)) return x;
  return bind1("broadcast", [x], { shape: shape.slice() });
}

/** Broadcasts to `shape` (NumPy rules). @example nb.broadcastTo([1, 2], [3, 2]); */
export function broadcastTo(x: ArrayLike, shape: Shape): NDArray {
  return broadcastPrim(asArray(x, "broadcastTo"), checkShape("broadcastTo", shape));
}

/** @internal Sums `x` down to `shape` (the transpose of broadcasting to x.shape). */
export function sumToShape(x: NDArray, shape: Shape): NDArray {
  if (shapesEqual(x.shape, shape)) return x;
  const lead = x.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  return reshape(reduceSum(x, axes), shape);
}

/** Inserts a size-1 axis at `axis`. @example nb.expandDims([1, 2], 0).shape; // [1, 2] */
export function expandDims(x: ArrayLike, axis: number): NDArray {
  const a = asArray(x, "expandDims");
  const ax = normAxis("expandDims", axis, a.ndim + 1);
  const s = a.shape.slice();
  s.splice(ax, 0, 1);
  return reshape(a, s);
}

/** Removes size-1 axes (all of them, or those named). @example nb.squeeze(nb.zeros([1, 2, 1])).shape; // [2] */
export function squeeze(x: ArrayLike, axis?: number | readonly number[]): NDArray {
  const a = asArray(x, "squeeze");
  let axes: number[];
  if (axis === undefined) axes = a.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  else {
    axes = normAxes("squeeze", axis, a.ndim);
    for (const ax of axes)
      if (a.shape[ax] !== 1) throw new ShapeError(`squeeze: axis ${ax} of shape ${fmtShape(a.shape)} is not of size 1`);
  }
  return reshape(
    a,
    a.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** @internal The concatenate primitive. */
export function concatPrim(xs: readonly NDArray[], axis: number): NDArray {
  return xs.length === 1 ? xs[0]! : bind1("concatenate", xs, { axis });
}

/** Joins arrays along an existing axis. @example nb.concatenate([[1, 2], [3]]); // array([1., 2., 3.]) */
export function concatenate(xs: readonly ArrayLike[], axis = 0): NDArray {
  if (!Array.isArray(xs) || xs.length === 0) throw new ShapeError("concatenate: needs a non-empty list of arrays");
  const as = xs.map((x) => asArray(x, "concatenate"));
  if (as[0]!.ndim === 0) throw new ShapeError("concatenate: zero-dimensional arrays cannot be concatenated");
  const ax = normAxis("concatenate", axis, as[0]!.ndim);
  const dt = promoted("concatenate", as);
  return concatPrim(
    as.map((a) => convertTo(a, dt)),
    ax,
  );
}

/** Joins arrays along a new axis. @example nb.stack([[1, 2], [3, 4]], 1).shape; // [2, 2] */
export function stack(xs: readonly ArrayLike[], axis = 0): NDArray {
  if (!Array.isArray(xs) || xs.length === 0) throw new ShapeError("stack: needs a non-empty list of arrays");
  const as = xs.map((x) => asArray(x, "stack"));
  const s0 = as[0]!.shape;
  for (const a of as)
    if (!shapesEqual(a.shape, s0))
      throw new ShapeError(`stack: all arrays must have one shape, got ${as.map((b) => fmtShape(b.shape)).join(", ")}`);
  const ax = normAxis("stack", axis, s0.length + 1);
  return concatenate(
    as.map((a) => expandDims(a, ax)),
    ax,
  );
}

/** @internal `nb.array` of nested lists containing arrays (tracers included): stacks them. */
export function stackNested(data: Nested | NDArray): NDArray {
  if (data instanceof NDArray) return data;
  if (!Array.isArray(data)) return asArray(data as Nested);
  if (data.length === 0) return array([]);
  return stack((data as readonly (Nested | NDArray)[]).map((d) => stackNested(d)));
}

/** @internal The slice primitive. */
export function slicePrim(x: NDArray, begin: readonly number[], end: readonly number[]): NDArray {
  if (begin.every((b) => b === 0) && end.every((e, i) => e === x.shape[i])) return x;
  return bind1("slice", [x], { begin: begin.slice(), end: end.slice() });
}

/**
 * Per-axis slice `x[begin[i]:end[i]]` (end exclusive; negative indices count
 * from the end; axes not listed are taken whole).
 * @example nb.slice(nb.arange(10), [2], [5]); // array([2, 3, 4], dtype=int32)
 */
export function slice(x: ArrayLike, begin: readonly number[], end: readonly number[]): NDArray {
  const a = asArray(x, "slice");
  if (begin.length > a.ndim || end.length > a.ndim || begin.length !== end.length)
    throw new ShapeError(
      `slice: begin [${begin.join(",")}] / end [${end.join(",")}] do not fit shape ${fmtShape(a.shape)}`,
    );
  const b: number[] = [];
  const e: number[] = [];
  for (let i = 0; i < a.ndim; i++) {
    const d = a.shape[i]!;
    const norm = (v: number | undefined, dflt: number) => {
      if (v === undefined) return dflt;
      if (!Number.isInteger(v)) throw new ShapeError(`slice: index ${v} is not an integer`);
      return Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    };
    b.push(norm(begin[i], 0));
    e.push(Math.max(norm(end[i], d), b[i]!));
  }
  return slicePrim(a, b, e);
}

/** @internal The zero-pad primitive. */
export function padPrim(x: NDArray, lo: readonly number[], hi: readonly number[]): NDArray {
  if (lo.every((v) => v === 0) && hi.every((v) => v === 0)) return x;
  return bind1("pad", [x], { lo: lo.slice(), hi: hi.slice() });
}

/** @internal The gather primitive. */
export function gatherPrim(x: NDArray, idx: NDArray, axis: number): NDArray {
  return bind1("gather", [x, idx], { axis });
}
/** @internal The scatter-add primitive. */
export function scatterAddPrim(u: NDArray, idx: NDArray, axis: number, size: number): NDArray {
  return bind1("scatter_add", [u, idx], { axis, size });
}
/** @internal The cumsum primitive. */
export function cumsumPrim(x: NDArray, axis: number, reverse: boolean): NDArray {
  return bind1("cumsum", [x], { axis, reverse });
}
/** @internal The rev primitive. */
export function revPrim(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1("rev", [x], { axes: axes.slice() });
}

function indexArray(indices: ArrayLike, op: string): NDArray {
  const i = indices instanceof NDArray ? indices : asArray(indices, op);
  if (i.dtype === "int32") return i;
  if (i instanceof ConcreteArray && !isFloat(i.dtype)) return astype(i, "int32");
  if (i instanceof ConcreteArray && !(indices instanceof NDArray)) {
    for (const v of i.data) if (!Number.isInteger(v)) throw new DTypeError(`${op}: indices must be integers, got ${v}`);
    return astype(i, "int32");
  }
  throw new DTypeError(`${op}: indices must be int32, got ${i.dtype}`);
}

/**
 * Gathers along `axis` at int32 `indices` (flattened input when `axis` is
 * omitted): out.shape = x.shape[:axis] ++ indices.shape ++ x.shape[axis+1:].
 * Negative indices count from the end; out-of-range indices are clamped.
 * Its gradient scatter-adds, so repeated indices accumulate.
 * @example nb.take([10, 20, 30], [2, 0, 2]); // array([30., 10., 30.])
 */
export function take(x: ArrayLike, indices: ArrayLike, axis?: number): NDArray {
  let a = asArray(x, "take");
  const idx = indexArray(indices, "take");
  let ax: number;
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    ax = 0;
  } else ax = normAxis("take", axis, a.ndim);
  return gatherPrim(a, idx, ax);
}

/**
 * Picks `x` values along `axis` at `indices` of the same rank (NumPy's
 * take_along_axis); indices broadcast against x off the axis.
 * @example nb.takeAlongAxis([[3, 1, 2]], [[1, 2, 0]], 1); // array([[1., 2., 3.]])
 */
export function takeAlongAxis(x: ArrayLike, indices: ArrayLike, axis: number): NDArray {
  const a = asArray(x, "takeAlongAxis");
  let idx = indexArray(indices, "takeAlongAxis");
  if (idx.ndim !== a.ndim)
    throw new ShapeError(
      `takeAlongAxis: indices of shape ${fmtShape(idx.shape)} must have the rank of x ${fmtShape(a.shape)}`,
    );
  const ax = normAxis("takeAlongAxis", axis, a.ndim);
  const offShape = a.shape.map((d, i) => (i === ax ? 1 : d));
  const outShape = broadcastShapes(
    "takeAlongAxis",
    offShape,
    idx.shape.map((d, i) => (i === ax ? 1 : d)),
  );
  outShape[ax] = idx.shape[ax]!;
  const xb = broadcastPrim(
    a,
    outShape.map((d, i) => (i === ax ? a.shape[ax]! : d)),
  );
  // wrap negative and clamp out-of-range indices within each row before flattening
  const len = a.shape[ax]!;
  idx = clip(where(less(idx, 0), add(idx, len), idx), 0, Math.max(len - 1, 0));
  idx = broadcastPrim(idx, outShape);
  // flatten: element (.., j, ..) of row r reads xb.flat[r * A + idx]
  const perm = [...outShape.map((_, i) => i).filter((i) => i !== ax), ax];
  const A = a.shape[ax]!;
  const xr = reshape(transposePrim(xb, perm), [-1]);
  const ir = transposePrim(idx, perm);
  const rows = sizeOf(outShape) / Math.max(outShape[ax]!, 1);
  const off = reshape(mul(arange(rows), A), [...perm.slice(0, -1).map((i) => outShape[i]!), 1]);
  const g = gatherPrim(xr, add(ir, astype(off, "int32")), 0);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return transposePrim(g, inv);
}

/** Indices that sort `x` along `axis` (stable; NaNs last), int32. @example nb.argsort([3, 1, 2]); // [1, 2, 0] */
export function argsort(x: ArrayLike, axis = -1, descending = false): NDArray {
  const a = asArray(x, "argsort");
  if (a.ndim === 0) return zeros([], { dtype: "int32" });
  return bind1("argsort", [a], { axis: normAxis("argsort", axis, a.ndim), descending });
}

/**
 * Sorts along `axis`. Differentiable as a permutation: the gradient flows to
 * the element that landed in each position.
 * @example nb.sort([3, 1, 2]); // array([1., 2., 3.])
 */
export function sort(x: ArrayLike, axis = -1, descending = false): NDArray {
  const a = asArray(x, "sort");
  if (a.ndim === 0) return a;
  return takeAlongAxis(a, argsort(a, axis, descending), axis);
}

/** Running sum along `axis` (flattened when omitted). @example nb.cumsum([1, 2, 3]); // array([1., 3., 6.]) */
export function cumsum(x: ArrayLike, axis?: number): NDArray {
  let a = asArray(x, "cumsum");
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    axis = 0;
  }
  if (a.dtype === "bool") a = convert(a, "int32");
  return cumsumPrim(a, normAxis("cumsum", axis, a.ndim), false);
}

/**
 * Running product along `axis`, as a log-depth scan of products (exact, and
 * differentiable, with zeros).
 * @example nb.cumprod([1, 2, 3]); // array([1., 2., 6.])
 */
export function cumprod(x: ArrayLike, axis?: number): NDArray {
  let a = asArray(x, "cumprod");
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    axis = 0;
  }
  if (a.dtype === "bool") a = convert(a, "int32");
  const ax = normAxis("cumprod", axis, a.ndim);
  const n = a.shape[ax]!;
  let y = a;
  for (let s = 1; s < n; s *= 2) {
    // y[i] *= y[i - s] for i >= s
    const ones = bind1("broadcast", [convertTo(scalar(1, "float64", true), a.dtype)], {
      shape: a.shape.map((d, i) => (i === ax ? s : d)),
    });
    const end = a.shape.slice();
    end[ax] = n - s;
    const shifted = concatPrim(
      [
        ones,
        slicePrim(
          y,
          a.shape.map(() => 0),
          end,
        ),
      ],
      ax,
    );
    y = bind1("mul", [y, shifted], {});
  }
  return y;
}

/** Reverses the order of elements along `axis` (all axes by default). @example nb.flip([1, 2, 3]); */
export function flip(x: ArrayLike, axis?: number | readonly number[]): NDArray {
  const a = asArray(x, "flip");
  return revPrim(a, normAxes("flip", axis, a.ndim));
}

/** Repeats `x` `reps` times along each axis (NumPy's tile). @example nb.tile([1, 2], 2); // [1, 2, 1, 2] */
export function tile(x: ArrayLike, reps: number | readonly number[]): NDArray {
  let a = asArray(x, "tile");
  const r = typeof reps === "number" ? [reps] : reps.slice();
  if (!r.every((v) => Number.isInteger(v) && v >= 0)) throw new ShapeError(`tile: invalid reps [${r.join(",")}]`);
  const nd = Math.max(a.ndim, r.length);
  a = reshape(a, [...new Array<number>(nd - a.ndim).fill(1), ...a.shape]);
  const rr = [...new Array<number>(nd - r.length).fill(1), ...r];
  const inter = a.shape.flatMap((d) => [1, d]);
  const target = a.shape.flatMap((d, i) => [rr[i]!, d]);
  return reshape(
    broadcastPrim(reshape(a, inter), target),
    a.shape.map((d, i) => d * rr[i]!),
  );
}

/**
 * Pads with a constant (0 by default). `padWidth` is one number for every
 * side, one [before, after] pair for every axis, or a pair per axis.
 * @example nb.pad([1, 2], 1); // array([0., 1., 2., 0.])
 */
export function pad(
  x: ArrayLike,
  padWidth: number | readonly [number, number] | readonly (readonly [number, number])[],
  options: { value?: number } = {},
): NDArray {
  const a = asArray(x, "pad");
  let pairs: [number, number][];
  if (typeof padWidth === "number") pairs = a.shape.map(() => [padWidth, padWidth]);
  else if (padWidth.length === 2 && typeof padWidth[0] === "number")
    pairs = a.shape.map(() => [padWidth[0] as number, padWidth[1] as number]);
  else pairs = (padWidth as readonly (readonly [number, number])[]).map((p) => [p[0], p[1]]);
  if (pairs.length !== a.ndim || !pairs.every((p) => p.every((v) => Number.isInteger(v) && v >= 0)))
    throw new ShapeError(`pad: widths ${JSON.stringify(padWidth)} do not fit shape ${fmtShape(a.shape)}`);
  const lo = pairs.map((p) => p[0]);
  const hi = pairs.map((p) => p[1]);
  const out = padPrim(a, lo, hi);
  const value = options.value ?? 0;
  if (value === 0) return out;
  const mask = padPrim(ones(a.shape, { dtype: "bool" }), lo, hi);
  return where(mask, out, value);
}

// ---------------------------------------------------------------------------
// linear algebra

/** @internal Linear-algebra primitives. */
export const solvePrim = (a: NDArray, b: NDArray): NDArray => bind1("solve", [a, b], {});
export const triangularSolvePrim = (a: NDArray, b: NDArray, lower: boolean, transposeA: boolean): NDArray =>
  bind1("triangular_solve", [a, b], { lower, transposeA });
export const slogdetPrim = (a: NDArray): NDArray[] => bind("slogdet", [a], {});
export const choleskyPrim = (a: NDArray): NDArray => bind1("cholesky", [a], {});
export const qrPrim = (a: NDArray): NDArray[] => bind("qr", [a], {});
export const eighPrim = (a: NDArray): NDArray[] => bind("eigh", [a], {});

/** @internal The batched matmul primitive (equal batch dims). */
export function matmulPrim(a: NDArray, b: NDArray): NDArray {
  return bind1("matmul", [a, b], {});
}

/**
 * Matrix product with NumPy semantics (1-D operands, broadcast batch dims).
 * @example nb.matmul(nb.eye(2), [1, 2]); // array([1., 2.])
 */
export function matmul(x: ArrayLike, y: ArrayLike): NDArray {
  let a = asArray(x, "matmul");
  let b = asArray(y, "matmul");
  if (a.ndim === 0 || b.ndim === 0)
    throw new ShapeError(`matmul: operands must be at least 1-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const dt = promoted("matmul", [a, b]);
  a = convertTo(a, dt);
  b = convertTo(b, dt);
  const aVec = a.ndim === 1;
  const bVec = b.ndim === 1;
  if (aVec) a = reshape(a, [1, a.shape[0]!]);
  if (bVec) b = reshape(b, [b.shape[0]!, 1]);
  const [M, Ka] = a.shape.slice(-2) as [number, number];
  const [Kb, N] = b.shape.slice(-2) as [number, number];
  if (Ka !== Kb)
    throw new ShapeError(
      `matmul: shapes ${fmtShape(asArray(x).shape)} and ${fmtShape(asArray(y).shape)} are not aligned`,
    );
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  a = broadcastPrim(a, [...batch, M, Ka]);
  b = broadcastPrim(b, [...batch, Kb, N]);
  let out = matmulPrim(a, b);
  if (aVec || bVec) out = reshape(out, [...batch, ...(aVec ? [] : [M]), ...(bVec ? [] : [N])]);
  return out;
}

/**
 * Dot product: scalars multiply, vectors and matrices as `matmul`, N-D as
 * NumPy (sum over the last axis of x and the second-to-last of y).
 * @example nb.dot([1, 2], [3, 4]); // array(11.)
 */
export function dot(x: ArrayLike, y: ArrayLike): NDArray {
  const a = asArray(x, "dot");
  const b = asArray(y, "dot");
  if (a.ndim === 0 || b.ndim === 0) return mul(a, b);
  if (a.ndim <= 2 && b.ndim <= 2) return matmul(a, b);
  // N-D: out[..., i, ..., j] = sum_k a[..., i, k] b[..., k, j]
  const K0 = a.shape[a.ndim - 1]!;
  const kb = b.ndim === 1 ? 0 : b.ndim - 2;
  if (b.shape[kb] !== K0)
    throw new ShapeError(`dot: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} are not aligned`);
  const bPerm = [...b.shape.map((_, i) => i).filter((i) => i !== kb), kb];
  const bRest = bPerm.slice(0, -1).map((i) => b.shape[i]!);
  const bt = reshape(transposePrim(b, [kb, ...bPerm.slice(0, -1)]), [K0, -1]);
  const out = matmul(reshape(a, [-1, K0]), bt);
  return reshape(out, [...a.shape.slice(0, -1), ...bRest]);
}

/** Outer product of two vectors (flattened). @example nb.outer([1, 2], [3, 4]).shape; // [2, 2] */
export function outer(x: ArrayLike, y: ArrayLike): NDArray {
  return mul(reshape(x, [-1, 1]), reshape(y, [-1]));
}

/**
 * Diagonal of a matrix (2-D input) or a diagonal matrix from a vector.
 * @example nb.diag([[1, 2], [3, 4]]); // array([1., 4.])
 */
export function diag(x: ArrayLike): NDArray {
  const a = asArray(x, "diag");
  if (a.ndim === 1) {
    const n = a.shape[0]!;
    return mul(reshape(a, [n, 1]), eye(n, n, { dtype: a.dtype }));
  }
  if (a.ndim !== 2) throw new ShapeError(`diag: expected a 1-D or 2-D array, got shape ${fmtShape(a.shape)}`);
  const [n, m] = a.shape as [number, number];
  const k = Math.min(n, m);
  if (k === 0) return reshape(slicePrim(reshape(a, [-1]), [0], [0]), [0]);
  // element (i, i) sits at flat index i (m + 1): view the flat array as rows of m + 1
  const flat = padPrim(reshape(a, [n * m]), [0], [k * (m + 1) - n * m > 0 ? k * (m + 1) - n * m : 0]);
  const rows = reshape(slicePrim(flat, [0], [k * (m + 1)]), [k, m + 1]);
  return reshape(slicePrim(rows, [0, 0], [k, 1]), [k]);
}

/** Sum of the diagonal. @example nb.trace(nb.eye(3)); // array(3.) */
export function trace(x: ArrayLike): NDArray {
  const a = asArray(x, "trace");
  if (a.ndim !== 2) throw new ShapeError(`trace: expected a 2-D array, got shape ${fmtShape(a.shape)}`);
  return sum(diag(a));
}

// ---------------------------------------------------------------------------
// neural-net helpers

/** exp(x) / sum(exp(x)) along `axis`, stable for large |x|. @example nb.softmax([1, 2, 3]); */
export function softmax(x: ArrayLike, axis = -1): NDArray {
  const a = asArray(x, "softmax");
  const ax = normAxis("softmax", axis, a.ndim);
  const e = exp(sub(a, stopGradient(max(a, ax, true))));
  return div(e, sum(e, ax, true));
}

/** x - logsumexp(x) along `axis`, stable for large |x|. @example nb.logSoftmax([1, 2, 3]); */
export function logSoftmax(x: ArrayLike, axis = -1): NDArray {
  const a = asArray(x, "logSoftmax");
  const ax = normAxis("logSoftmax", axis, a.ndim);
  return sub(a, logsumexp(a, ax, true));
}

// ---------------------------------------------------------------------------
// creation

interface DTypeOpt {
  dtype?: DType;
}

function checkedDType(op: string, d: DType | undefined, dflt: DType): DType {
  if (d === undefined) return dflt;
  if (!isDType(d)) throw new DTypeError(`${op}: unknown dtype ${String(d)}`);
  return d;
}

/** An array filled with `value`. @example nb.full([2, 2], 7); */
export function full(shape: Shape, value: number | boolean, options: DTypeOpt = {}): NDArray {
  const s = checkShape("full", shape);
  const dt = checkedDType("full", options.dtype, typeof value === "boolean" ? "bool" : "float64");
  return K.broadcastTo(K.cast(scalar(Number(value)), dt), s);
}
/** An array of zeros. @example nb.zeros([2, 3]); */
export const zeros = (shape: Shape, options: DTypeOpt = {}): NDArray => full(shape, 0, options);
/** An array of ones. @example nb.ones([3]); */
export const ones = (shape: Shape, options: DTypeOpt = {}): NDArray => full(shape, 1, options);
/** Zeros with the shape and dtype of `x`. @example nb.zerosLike(nb.ones([2, 2])); */
export const zerosLike = (x: ArrayLike): NDArray => {
  const a = asArray(x, "zerosLike");
  return full(a.shape, 0, { dtype: a.dtype });
};
/** Ones with the shape and dtype of `x`. @example nb.onesLike([1, 2, 3]); */
export const onesLike = (x: ArrayLike): NDArray => {
  const a = asArray(x, "onesLike");
  return full(a.shape, 1, { dtype: a.dtype });
};

/**
 * Evenly spaced values in [start, stop): int32 when all arguments are
 * integers (as JAX), else float64.
 * @example nb.arange(3); // array([0, 1, 2], dtype=int32)
 */
export function arange(start: number, stop?: number, step = 1): NDArray {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0) throw new ShapeError("arange: step must not be zero");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dt: DType = [start, stop, step].every(Number.isInteger) ? "int32" : "float64";
  const out = K.cast(scalar(0), dt);
  const data = dt === "int32" ? new Int32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new ConcreteArray(data, [n], out.dtype);
}

/** `num` evenly spaced float64 values from start to stop inclusive. @example nb.linspace(0, 1, 5); */
export function linspace(start: number, stop: number, num: number): NDArray {
  if (!Number.isInteger(num) || num < 0)
    throw new ShapeError(`linspace: num must be a non-negative integer, got ${num}`);
  const d = new Float64Array(num);
  for (let i = 0; i < num; i++) d[i] = num === 1 ? start : start + ((stop - start) * i) / (num - 1);
  if (num > 1) d[num - 1] = stop;
  return new ConcreteArray(d, [num], "float64");
}

/** The n x m identity (m = n by default). @example nb.eye(2); */
export function eye(n: number, m?: number, options: DTypeOpt = {}): NDArray {
  const cols = m ?? n;
  checkShape("eye", [n, cols]);
  const dt = checkedDType("eye", options.dtype, "float64");
  const out = K.cast(K.broadcastTo(scalar(0), [n, cols]), dt);
  for (let i = 0; i < Math.min(n, cols); i++) out.data[i * cols + i] = 1;
  return out;
}

// the NDArray methods (x.add(y), x.sum(), ...) call these functions
installOps(self);
