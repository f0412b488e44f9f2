/**
 * Special-function primitives (issue 9): lgamma, digamma, polygamma, erfc,
 * erfinv, xlogy, xlog1py. Their scalar functions live in
 * `src/kernels/special.ts`. Every derivative rule is written with
 * differentiable wrappers, so every order works: the chain
 * lgamma → digamma → polygamma(1) → polygamma(2) → ... never ends.
 */
import type { NDArray } from "../core/ndarray.js";
import * as S from "../kernels/special.js";
import { elementwise } from "./batching.js";
import { arithmetic, unaryFloat } from "./elementwise.js";
import * as E from "./elementwise.js";
import { Rule, tadd, tmul } from "./rule.js";
import type { Params } from "./table.js";
import * as O from "./wrap.js";

const SQRT_PI_HALF = Math.sqrt(Math.PI) / 2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** The differentiable wrappers the rules below use. */
export const digammaW = (x: O.Operand): NDArray => O.unaryFloat(DIGAMMA, x);
export const polygammaW = (n: O.Operand, x: O.Operand): NDArray => O.binaryOp(POLYGAMMA, n, x, "polygamma", true);
const log1pW = (x: O.Operand): NDArray => O.unaryFloat(E.LOG1P, x);

// d lgamma(x) = digamma(x) dx; a primitive: log Γ has no composition from other primitives
export const LGAMMA: Rule<Params["lgamma"], 1, 1> = unaryFloat("lgamma", S.lgamma, (x, dx) => O.mul(dx, digammaW(x)));

// d digamma(x) = polygamma(1, x) dx; a primitive: no composition from other primitives
export const DIGAMMA: Rule<Params["digamma"], 1, 1> = unaryFloat("digamma", S.digamma, (x, dx) =>
  O.mul(dx, polygammaW(1, x)),
);

// polygamma(n, x) = dⁿ⁺¹ log Γ(x) / dxⁿ⁺¹ for integer n ≥ 0 (NaN otherwise):
// d polygamma(n, x) = polygamma(n + 1, x) dx; no derivative in the integer order n.
// A primitive: each order is the derivative of the one before, so one row closes the chain.
export const POLYGAMMA: Rule<Params["polygamma"], 2, 1> = {
  ...arithmetic("polygamma", S.polygamma, true),
  jvp: ([n, x], [, dx]) => [tmul(dx, polygammaW(O.add(n, 1), x))],
  vmap: elementwise(() => POLYGAMMA),
};

// d erfc(x) = -2/√π e^(-x²) dx; a primitive for accuracy in the tail (1 - erf(x) cancels for x > 1)
export const ERFC: Rule<Params["erfc"], 1, 1> = unaryFloat("erfc", S.erfc, (x, dx) =>
  O.mul(dx, O.mul(O.exp(O.neg(O.mul(x, x))), -TWO_OVER_SQRT_PI)),
);

// d erfinv(x) = √π/2 e^(erfinv(x)²) dx; a primitive: the inverse has no composition from other primitives
export const ERFINV: Rule<Params["erfinv"], 1, 1> = unaryFloat("erfinv", S.erfinv, (_x, dx, y) =>
  O.mul(dx, O.mul(O.exp(O.mul(y, y)), SQRT_PI_HALF)),
);

// xlogy(x, y) = x log y, 0 where x = 0 (also at y = 0); d = log(y) dx + (x / y) dy, as JAX's rule.
// A primitive because the convention at x = 0 cannot be composed: where(x == 0, 0, x log y) would make
// the x-derivative 0 at x = 0 instead of log y.
export const XLOGY: Rule<Params["xlogy"], 2, 1> = {
  ...arithmetic("xlogy", S.xlogy, true),
  jvp: ([x, y], [dx, dy]) => [tadd(tmul(dx, O.log(y)), tmul(dy, O.div(x, y)))],
  vmap: elementwise(() => XLOGY),
};

// xlog1py(x, y) = x log(1 + y), 0 where x = 0; d = log1p(y) dx + x / (1 + y) dy (a primitive as xlogy)
export const XLOG1PY: Rule<Params["xlog1py"], 2, 1> = {
  ...arithmetic("xlog1py", S.xlog1py, true),
  jvp: ([x, y], [dx, dy]) => [tadd(tmul(dx, log1pW(y)), tmul(dy, O.div(x, O.add(y, 1))))],
  vmap: elementwise(() => XLOG1PY),
};
