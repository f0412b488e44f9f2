/**
 * Operands of the public operations: any ArrayLike as an NDArray. Internal
 * to nabla (not re-exported by `index.ts`).
 */
import { ShapeError } from "../core/errors.js";
import { ArrayLike, NDArray, scalar } from "../core/ndarray.js";
import { array } from "./creation.js";

/** Converts an operand to an NDArray; bare JS numbers become weak float64 scalars. */
export function asArray(x: ArrayLike, op = "array"): NDArray {
  if (x instanceof NDArray) {
    x.assertLive(op);
    return x;
  }
  if (typeof x === "number") return scalar(x, "float64", true);
  if (typeof x === "boolean") return scalar(x ? 1 : 0, "bool");
  if (x === null || x === undefined) throw new ShapeError(`${op}: expected an array, got ${String(x)}`);
  return array(x);
}
