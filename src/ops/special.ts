/**
 * Special functions (issue 9): lgamma, digamma, erfc, erfinv, logit, xlogy,
 * xlog1py. Each binds a primitive of `src/prims/special.ts` (logit is
 * composed), so it is differentiable to every order and batchable.
 */
import "./methods.js";
import { floatOf } from "../core/dtype.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import * as W from "../prims/wrap.js";
import * as SP from "../prims/special.js";
import { asArray } from "./validate.js";
import { broadcastShapes } from "../core/shape.js";
import { div, log, sub } from "./elementwise.js";

/**
 * log|Γ(x)|, the log of the absolute value of the gamma function (+inf at 0, -1, -2, ...).
 * Relative error below 1e-15 for x > 0 (against mpmath). Its derivative is {@link digamma}.
 * @example nb.lgamma([1, 2, 5]); // array([0., 0., 3.1780538303479458])
 */
export const lgamma = (x: ArrayLike): NDArray => W.unaryFloat(SP.LGAMMA, asArray(x, "lgamma"));

/**
 * The digamma function ψ(x) = Γ'(x)/Γ(x) (NaN at 0, -1, -2, ...); its derivative is the trigamma function.
 * @example nb.digamma(1); // array(-0.5772156649015329): minus Euler's constant
 */
export const digamma = (x: ArrayLike): NDArray => W.unaryFloat(SP.DIGAMMA, asArray(x, "digamma"));

/**
 * The complementary error function 1 - erf(x), accurate in the tail (no cancellation: erfc(10) ≈ 2.09e-45).
 * @example nb.erfc([0, 10]); // array([1., 2.088487583762545e-45])
 */
export const erfc = (x: ArrayLike): NDArray => W.unaryFloat(SP.ERFC, asArray(x, "erfc"));

/**
 * The inverse error function on [-1, 1] (±inf at ±1, NaN outside), accurate near ±1.
 * @example nb.erfinv([0, 0.5]); // array([0., 0.4769362762044699])
 */
export const erfinv = (x: ArrayLike): NDArray => W.unaryFloat(SP.ERFINV, asArray(x, "erfinv"));

/**
 * The log-odds log(p / (1 - p)), the inverse of {@link sigmoid}.
 * @example nb.logit([0.5, 0.75]); // array([0., 1.0986122886681098])
 */
export function logit(p: ArrayLike): NDArray {
  const a = asArray(p, "logit");
  const x = W.convertTo(a, floatOf(a.dtype));
  // log(p / (1 - p)): 1 - p is exact for p >= 1/2, and p / (1 - p) keeps the relative accuracy of p near 0
  return log(div(x, sub(1, x)));
}

/** The operands of a binary special function, checked to broadcast (errors name `op`). */
function pair(op: string, x: ArrayLike, y: ArrayLike): [NDArray, NDArray] {
  const a = asArray(x, op, "x");
  const b = asArray(y, op, "y");
  broadcastShapes(op, a.shape, b.shape);
  return [a, b];
}

/**
 * x · log(y), with 0 where x = 0 (even at y = 0), as JAX's `xlogy`; derivatives log(y) dx + x/y dy.
 * @example nb.xlogy([0, 2], [0, 3]); // array([0., 2.1972245773362196])
 */
export function xlogy(x: ArrayLike, y: ArrayLike): NDArray {
  const [a, b] = pair("xlogy", x, y);
  return W.binaryOp(SP.XLOGY, a, b, "xlogy", true);
}

/**
 * x · log(1 + y), with 0 where x = 0 (even at y = -1), as JAX's `xlog1py`.
 * @example nb.xlog1py([0, 2], [-1, 1e-10]); // array([0., 1.99999999990e-10])
 */
export function xlog1py(x: ArrayLike, y: ArrayLike): NDArray {
  const [a, b] = pair("xlog1py", x, y);
  return W.binaryOp(SP.XLOG1PY, a, b, "xlog1py", true);
}
