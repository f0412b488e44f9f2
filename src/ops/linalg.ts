/**
 * `nb.linalg`. `norm` is here; `solve`, `inv`, `det`, `slogdet`, `cholesky`
 * arrive with the ops issue.
 */
import { ArrayLike, NDArray, asArray } from "../core/ndarray.js";
import { normAxes } from "../core/shape.js";
import { abs, max, mul, sqrt, sum } from "./ops.js";

/**
 * Vector or Frobenius norm (`ord` 2 / "fro" by default, also 1 and Infinity)
 * over `axis` (all axes by default).
 * @example nb.linalg.norm([3, 4]); // array(5.)
 */
export function norm(x: ArrayLike, ord: number | "fro" = 2, axis?: number | readonly number[], keepdims = false): NDArray {
  const a = asArray(x, "norm");
  const axes = normAxes("norm", axis, a.ndim);
  if (ord === 1) return sum(abs(a), axes, keepdims);
  if (ord === Infinity) return max(abs(a), axes, keepdims);
  return sqrt(sum(mul(a, a), axes, keepdims));
}
