/**
 * Activations of `nabla/nn`, composed from differentiable operations, so
 * every order of derivative works; integer and bool inputs become float64.
 */
import * as nb from "../index.js";
import type { ArrayLike, NDArray } from "../index.js";
import { checkBool, checkNumber, floatInput, readOptions } from "./common.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * The Gaussian error linear unit `x·Φ(x)`: exact `½x(1 + erf(x/√2))` with
 * `approximate: false`, else (the default, as JAX) the tanh approximation
 * `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.gelu([-1, 0, 1], { approximate: false });
 */
export function gelu(x: ArrayLike, options?: { approximate?: boolean }): NDArray {
  const a = floatInput("gelu", x);
  const approximate =
    checkBool("gelu", "approximate", readOptions("gelu", options, ["approximate"]).approximate) ?? true;
  const inner = approximate
    ? nb.tanh(nb.mul(nb.add(a, nb.mul(nb.mul(nb.mul(a, a), a), 0.044715)), SQRT_2_OVER_PI))
    : nb.erf(nb.mul(a, Math.SQRT1_2));
  return nb.mul(nb.mul(a, 0.5), nb.add(inner, 1));
}

/**
 * The sigmoid linear unit (swish) `x·σ(x)`.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.silu([-1, 0, 1]);
 */
export function silu(x: ArrayLike): NDArray {
  const a = floatInput("silu", x);
  return nb.mul(a, nb.sigmoid(a));
}

/**
 * The exponential linear unit: `x` for `x > 0`, `alpha·(eˣ − 1)` otherwise.
 * The exponential only sees non-positive values, so gradients stay finite
 * for large `x`.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.elu([-1, 0, 1], 0.5);
 */
export function elu(x: ArrayLike, alpha = 1): NDArray {
  const a = floatInput("elu", x);
  checkNumber("elu", "alpha", alpha);
  const pos = nb.greater(a, 0);
  return nb.where(pos, a, nb.mul(nb.expm1(nb.where(pos, 0, a)), alpha));
}

/**
 * The leaky rectifier: `x` for `x ≥ 0`, `negativeSlope·x` otherwise (JAX's
 * default slope 0.01).
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.leakyRelu([-2, 3]); // array([-0.02, 3.])
 */
export function leakyRelu(x: ArrayLike, negativeSlope = 0.01): NDArray {
  const a = floatInput("leakyRelu", x);
  checkNumber("leakyRelu", "negativeSlope", negativeSlope);
  return nb.where(nb.greaterEqual(a, 0), a, nb.mul(a, negativeSlope));
}

/**
 * `log σ(x) = −softplus(−x)`, stable for inputs of any magnitude.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.logSigmoid([-1000, 0, 1000]); // array([-1000., -0.69314718, 0.])
 */
export function logSigmoid(x: ArrayLike): NDArray {
  const a = floatInput("logSigmoid", x);
  return nb.neg(nb.softplus(nb.neg(a)));
}

/**
 * `x / (1 + |x|)`.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.softsign([-1, 0, 3]); // array([-0.5, 0., 0.75])
 */
export function softsign(x: ArrayLike): NDArray {
  const a = floatInput("softsign", x);
  return nb.div(a, nb.add(nb.abs(a), 1));
}
