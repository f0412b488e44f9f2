/** Small helpers shared by the modules of nabla/testing: pytree leaves as arrays, values, formatting. */
import * as nb from "../index.js";
import { flattenToArrays } from "../transforms/common.js";

type NDArray = nb.NDArray;
type Shape = readonly number[];

// ---------------------------------------------------------------------------
// small helpers

/**
 * A pytree's leaves as NDArrays (JS numbers as weakly typed 0-d arrays) and its structure; errors
 * (holes, cycles, unsupported leaves) begin with `op`, the public function called, and name `what`.
 */
export function flatArrays(tree: unknown, op = "nabla/testing", what?: string): [NDArray[], nb.tree.TreeDef] {
  return flattenToArrays(tree, op, what);
}

export function values(x: NDArray): Float64Array {
  return Float64Array.from(x.toTypedArray() as ArrayLike<number>);
}

export function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(3) : String(v);
}

export function fmtShape(s: Shape): string {
  return `[${s.join(",")}]`;
}
