/** Small helpers shared by the modules of nabla/testing: pytree leaves as arrays, values, formatting. */
import * as nb from "../index.js";

type NDArray = nb.NDArray;
type Shape = readonly number[];

// ---------------------------------------------------------------------------
// small helpers

export function toArr(x: unknown): NDArray {
  if (x instanceof nb.NDArray) return x;
  if (typeof x === "number" || typeof x === "boolean") return nb.array(x);
  if (ArrayBuffer.isView(x)) return nb.array(x as Float64Array);
  throw new nb.ShapeError(`nabla/testing: unsupported pytree leaf ${String(x)}`);
}

export function flatArrays(tree: unknown): [NDArray[], nb.tree.TreeDef] {
  const [ls, def] = nb.tree.flatten(tree);
  return [ls.map(toArr), def];
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
