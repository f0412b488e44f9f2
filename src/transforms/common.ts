/** Argument handling shared by the transforms. */
import { DTypeError, GradError, ShapeError, fmtShape } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { NDArray } from "../core/ndarray.js";
import { array } from "../ops/creation.js";
import { asArray } from "../ops/operand.js";
import { TreeDef, flatten, unflatten } from "../core/pytree.js";
import { shapesEqual } from "../core/shape.js";

/** A pytree leaf as an NDArray: JS numbers become weakly typed 0-d float64 arrays. */
export function toLeaf(x: unknown, op: string): NDArray {
  if (x instanceof NDArray) {
    // a tracer whose transform has returned cannot be an argument or a result of another transform
    x.assertLive(op);
    return x;
  }
  // bare JS numbers are weakly typed under every transform, as in eager code (API.md, Semantics settled)
  if (typeof x === "number") return asArray(x);
  if (typeof x === "boolean" || ArrayBuffer.isView(x)) return array(x as unknown as number);
  throw new ShapeError(`${op}: unsupported leaf ${String(x)}`);
}

export function flattenToArrays(tree: unknown, op: string): [NDArray[], TreeDef] {
  const [ls, def] = flatten(tree);
  return [ls.map((l) => toLeaf(l, op)), def];
}

export function requireFloat(op: string, xs: readonly NDArray[], what = "input"): void {
  xs.forEach((x, i) => {
    if (!isFloat(x.dtype))
      throw new DTypeError(
        `${op}: can only differentiate with respect to float arrays, but ${what} leaf ${i} has dtype ${x.dtype} (shape ${fmtShape(x.shape)})`,
      );
  });
}

/** Checks that `ts` matches `ps` leaf for leaf in shape, converting number leaves to the primal dtype. */
export function matchLeaves(op: string, what: string, ps: readonly NDArray[], ts: readonly unknown[]): NDArray[] {
  if (ts.length !== ps.length) throw new ShapeError(`${op}: expected ${ps.length} ${what} leaves, got ${ts.length}`);
  return ts.map((t, i) => {
    const p = ps[i]!;
    let a = toLeaf(t, op);
    if (!shapesEqual(a.shape, p.shape))
      throw new ShapeError(`${op}: ${what} leaf ${i} has shape ${fmtShape(a.shape)}, expected ${fmtShape(p.shape)}`);
    if (a.dtype !== p.dtype) {
      // only a bare JS number takes the primal's dtype; an int32 or bool array is never silently converted
      if (typeof t === "number") a = a.astype(p.dtype);
      else
        throw new DTypeError(
          `${op}: ${what} leaf ${i} has dtype ${a.dtype}, expected ${p.dtype} (shape ${fmtShape(p.shape)})`,
        );
    }
    return a;
  });
}

export function checkStructure(op: string, what: string, expected: TreeDef, got: TreeDef): void {
  if (!expected.equals(got)) throw new ShapeError(`${op}: ${what} has structure ${got}, expected ${expected}`);
}

/** Normalises argnums against the number of arguments. */
export function normArgnums(op: string, argnums: number | readonly number[] | undefined, nargs: number): number[] {
  const list = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : argnums.slice();
  if (list.length === 0) throw new GradError(`${op}: argnums must not be empty`);
  return list.map((k) => {
    if (!Number.isInteger(k) || k < -nargs || k >= nargs)
      throw new GradError(`${op}: argnums ${k} is out of range for a call with ${nargs} argument(s)`);
    return k < 0 ? k + nargs : k;
  });
}

export { unflatten };
