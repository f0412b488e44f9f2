/** Internal helpers of `nabla/nn`: inputs converted with errors that name the public function. */
import * as nb from "../index.js";
import type { ArrayLike, NDArray } from "../index.js";
import { rethrow } from "../optim/leaves.js";

export { checkBool, checkNumber, readOptions } from "../optim/leaves.js";

/** Runs `f`, prefixing any NablaError's message with `op`. */
export function guard<T>(op: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw rethrow(op, e);
  }
}

/** `x` as an array (a float array for ints and bools: float64, as JAX promotes them). */
export function floatInput(op: string, x: ArrayLike, what = "x"): NDArray {
  if (x === null || x === undefined || typeof x === "string")
    throw new nb.DTypeError(`${op}: ${what} must be an array or a number, got ${x === null ? "null" : typeof x}`);
  const a = x instanceof nb.NDArray ? x : guard(op, () => nb.array(x));
  return a.dtype === "float32" || a.dtype === "float64" ? a : nb.astype(a, "float64");
}
