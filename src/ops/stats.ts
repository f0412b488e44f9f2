/**
 * Statistics and floating-point tests (issue 9): std, var, isnan, isinf,
 * isfinite, nanToNum, isclose, allclose. All composed from differentiable
 * operations (no new primitive), so their derivatives and batching come from
 * the primitives they use.
 */
import { at } from "../core/errors.js";
import "./methods.js";
import { floatOf, isFloat } from "../core/dtype.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import { broadcastShapes, normAxes } from "../core/shape.js";
import * as W from "../prims/wrap.js";
import { asArray, boolArg, intArg, numberArg, optionsArg } from "./validate.js";
import {
  abs,
  add,
  div,
  equal,
  less,
  lessEqual,
  logicalAnd,
  logicalNot,
  logicalOr,
  mul,
  notEqual,
  sqrt,
  sub,
  where,
} from "./elementwise.js";
import { mean, sum } from "./reduce.js";

type Axis = number | readonly number[] | null;

/** The variance of `x` over `axes` (two passes: the mean, then the mean squared deviation). */
function variance(fn: string, x: ArrayLike, axis: Axis | undefined, keepdims: boolean, ddof: number): NDArray {
  boolArg(fn, "keepdims", keepdims);
  const d = intArg(fn, "ddof", ddof, { min: 0 });
  let a = asArray(x, fn);
  const axes = normAxes(fn, axis, a.ndim);
  a = W.convertTo(a, floatOf(a.dtype));
  const n = axes.reduce((p, ax) => p * at(a.shape, ax, "variance"), 1);
  // subtracting the mean first keeps the result accurate when |mean| >> std (no E[x²] - E[x]² cancellation)
  const dev = sub(a, mean(a, axes, true));
  // n - ddof <= 0 gives inf or NaN, as NumPy and JAX
  return div(sum(mul(dev, dev), axes, keepdims), Math.max(n - d, 0));
}

/**
 * Variance over `axis` (all axes by default): Σ (x - mean)² / (n - ddof), computed in two passes.
 * Exported as `var` (`nb.var(x)`, `x.var()`).
 * @example nb.var([1, 2, 3, 4]); // array(1.25)
 */
function var_(x: ArrayLike, axis?: Axis, keepdims = false, ddof = 0): NDArray {
  return variance("var", x, axis, keepdims, ddof);
}
export { var_ as var };

/**
 * Standard deviation over `axis`: the square root of {@link var} (same arguments, `ddof` included).
 * @example nb.std([1, 2, 3, 4], null, false, 1); // array(1.2909944487358056)
 */
export function std(x: ArrayLike, axis?: Axis, keepdims = false, ddof = 0): NDArray {
  return sqrt(variance("std", x, axis, keepdims, ddof));
}

/** A value that is never NaN: x == x is false exactly for NaN. */
function nanMask(a: NDArray): NDArray {
  return notEqual(a, a);
}

/**
 * Elementwise test for NaN (bool; always false for int32 and bool arrays).
 * @example nb.isnan([1, NaN]); // array([False,  True], dtype=bool)
 */
export function isnan(x: ArrayLike): NDArray {
  return nanMask(asArray(x, "isnan"));
}

/**
 * Elementwise test for ±Infinity (bool; always false for int32 and bool arrays).
 * @example nb.isinf([1, -Infinity, NaN]); // array([False,  True, False], dtype=bool)
 */
export function isinf(x: ArrayLike): NDArray {
  const a = asArray(x, "isinf");
  if (!isFloat(a.dtype)) return notEqual(a, a);
  return equal(abs(a), Infinity);
}

/**
 * Elementwise test for a finite value (not NaN, not ±Infinity; always true for int32 and bool arrays).
 * @example nb.isfinite([1, Infinity, NaN]); // array([ True, False, False], dtype=bool)
 */
export function isfinite(x: ArrayLike): NDArray {
  const a = asArray(x, "isfinite");
  if (!isFloat(a.dtype)) return equal(a, a);
  // |NaN| < inf is false
  return less(abs(a), Infinity);
}

/** The largest finite value of a float dtype. */
const maxFinite = (dtype: string): number => (dtype === "float32" ? 3.4028234663852886e38 : Number.MAX_VALUE);

/**
 * Replaces NaN by `nan` (default 0), +Infinity by `posinf` and -Infinity by `neginf` (default: the
 * largest finite value of the dtype, and its negative). The derivative is 1 at finite entries and 0 at
 * the replaced ones. int32 and bool arrays are returned unchanged.
 * @example nb.nanToNum([NaN, Infinity, 1], { posinf: 9 }); // array([0., 9., 1.])
 */
export function nanToNum(x: ArrayLike, options: { nan?: number; posinf?: number; neginf?: number } = {}): NDArray {
  const a = asArray(x, "nanToNum");
  const o = optionsArg("nanToNum", options, ["nan", "posinf", "neginf"]);
  const nan = numberArg("nanToNum", "nan", o.nan ?? 0);
  const big = maxFinite(a.dtype);
  const posinf = numberArg("nanToNum", "posinf", o.posinf ?? big);
  const neginf = numberArg("nanToNum", "neginf", o.neginf ?? -big);
  if (!isFloat(a.dtype)) return a;
  return where(nanMask(a), nan, where(equal(a, Infinity), posinf, where(equal(a, -Infinity), neginf, a)));
}

/** isclose's options, read and checked once. */
function closeOptions(fn: string, options: unknown): { rtol: number; atol: number; equalNan: boolean } {
  const o = optionsArg(fn, options, ["rtol", "atol", "equalNan"]);
  const rtol = numberArg(fn, "rtol", o.rtol ?? 1e-5, true);
  const atol = numberArg(fn, "atol", o.atol ?? 1e-8, true);
  const equalNan = boolArg(fn, "equalNan", o.equalNan ?? false);
  return { rtol, atol, equalNan };
}

function closeMask(fn: string, a: ArrayLike, b: ArrayLike, options: unknown): NDArray {
  let x = asArray(a, fn, "a");
  let y = asArray(b, fn, "b");
  broadcastShapes(fn, x.shape, y.shape);
  const { rtol, atol, equalNan } = closeOptions(fn, options);
  const dt = floatOf(W.promoted(fn, [x, y]));
  x = W.convertTo(x, dt);
  y = W.convertTo(y, dt);
  // finite pairs: |a - b| <= atol + rtol |b| (NumPy's asymmetric test); infinities only close to themselves
  const finite = logicalAnd(less(abs(x), Infinity), less(abs(y), Infinity));
  const near = logicalAnd(finite, lessEqual(abs(sub(x, y)), add(atol, mul(rtol, abs(y)))));
  let close = logicalOr(near, equal(x, y));
  if (equalNan) close = logicalOr(close, logicalAnd(nanMask(x), nanMask(y)));
  return close;
}

/**
 * Elementwise |a - b| <= atol + rtol · |b| (bool), NumPy's test: defaults rtol = 1e-5, atol = 1e-8;
 * infinities are close only to the same infinity; NaN is close to NaN only with `equalNan`.
 * @example nb.isclose([1, 1.1], [1 + 1e-9, 1]); // array([ True, False], dtype=bool)
 */
export function isclose(
  a: ArrayLike,
  b: ArrayLike,
  options: { rtol?: number; atol?: number; equalNan?: boolean } = {},
): NDArray {
  return closeMask("isclose", a, b, options);
}

/**
 * Whether every pair is {@link isclose}: a 0-d bool array, as `jnp.allclose` (so it works under
 * `jit` and `vmap`); `.item()` gives the JS boolean (1 or 0) in eager code.
 * @example nb.allclose([1, 2], [1, 2 + 1e-9]).item(); // 1
 */
export function allclose(
  a: ArrayLike,
  b: ArrayLike,
  options: { rtol?: number; atol?: number; equalNan?: boolean } = {},
): NDArray {
  const far = logicalNot(closeMask("allclose", a, b, options));
  return equal(sum(far), 0);
}
