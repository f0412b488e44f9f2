/**
 * Internal helpers of `nabla/optim`: flattening trees of gradients and state
 * slots with checks that name the public function, and argument validation.
 */
import { at, fmtShape } from "../core/errors.js";
import { readOptions as readOptionsChecked } from "../core/options.js";
import * as nb from "../index.js";
import type { NDArray } from "../index.js";

/** The structure of a pytree, as `nb.tree.structure` returns it. */
export type Structure = ReturnType<typeof nb.tree.structure>;

/** The leaves of `tree` as arrays (numbers become 0-d float64 arrays), with its structure. */
export function arrayLeaves(op: string, what: string, tree: unknown): [NDArray[], Structure] {
  let flat: [unknown[], Structure];
  try {
    flat = nb.tree.flatten(tree);
  } catch (e) {
    throw rethrow(op, e);
  }
  const [leaves, def] = flat;
  const arrays = leaves.map((l, i) => {
    if (l instanceof nb.NDArray) return l;
    if (typeof l === "number") return nb.array(l);
    throw new nb.DTypeError(`${op}: ${what} leaf ${i} must be an NDArray or a number, got ${typeof l}`);
  });
  return [arrays, def];
}

/**
 * Leaves of `tree` (named `what` in messages) with structure `def` and the shapes of `like`, both
 * checked: `likeWhat` names the tree `def` and `like` come from ("updates" in an optimiser's update,
 * "params" in applyUpdates).
 */
export function matchingLeaves(
  op: string,
  what: string,
  tree: unknown,
  def: Structure,
  like: readonly NDArray[],
  likeWhat: string,
): NDArray[] {
  const [leaves, d] = arrayLeaves(op, what, tree);
  if (!d.equals(def)) throw new nb.ShapeError(`${op}: ${what} has structure ${d}, but the ${likeWhat} have ${def}`);
  leaves.forEach((l, i) => {
    const g = at(like, i, "matchingLeaves");
    if (!sameShape(l.shape, g.shape))
      throw new nb.ShapeError(
        `${op}: ${what} leaf ${i} has shape ${fmtShape(l.shape)}, but the ${likeWhat} leaf has ${fmtShape(g.shape)}`,
      );
  });
  return leaves;
}

/** Float leaves of a gradient tree. */
export function floatLeaves(op: string, what: string, tree: unknown): [NDArray[], Structure] {
  const [leaves, def] = arrayLeaves(op, what, tree);
  leaves.forEach((l, i) => {
    if (l.dtype !== "float32" && l.dtype !== "float64")
      throw new nb.DTypeError(`${op}: ${what} leaf ${i} must be float32 or float64, got ${l.dtype}`);
  });
  return [leaves, def];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** A NablaError of the same class whose message begins with `op`. */
export function rethrow(op: string, e: unknown): unknown {
  if (!(e instanceof nb.NablaError) || e.message.startsWith(op)) return e;
  const Ctor = e.constructor as new (message: string) => nb.NablaError;
  return new Ctor(`${op}: ${e.message}`);
}

/** A finite number, optionally bounded: `lo <= x` (or `lo < x` with `open`) and `x < hi`. */
export function checkNumber(
  op: string,
  name: string,
  x: unknown,
  range: { lo?: number; hi?: number; openLo?: boolean } = {},
): number {
  const { lo, hi, openLo } = range;
  const ok =
    typeof x === "number" &&
    Number.isFinite(x) &&
    (lo === undefined || (openLo ? x > lo : x >= lo)) &&
    (hi === undefined || x < hi);
  if (!ok) {
    const bounds = `${lo === undefined ? "" : `${openLo ? ">" : ">="} ${lo}`}${lo !== undefined && hi !== undefined ? " and " : ""}${hi === undefined ? "" : `< ${hi}`}`;
    throw new nb.NablaError(`${op}: ${name} must be a finite number${bounds ? ` ${bounds}` : ""}, got ${String(x)}`);
  }
  return x;
}

/**
 * Reads an options object (`undefined` allowed) through the one options validator: anything but a plain
 * object, or a key not among `keys` (a typo such as `beta1` for `b1`), throws.
 */
export function readOptions<O extends object>(
  op: string,
  options: O | undefined,
  keys: readonly (keyof O & string)[],
): Partial<O> {
  return readOptionsChecked(op, options, keys);
}

/** `x` when it is `undefined` or a boolean; anything else (`"false"`, 0, 1) throws. */
export function checkBool(op: string, name: string, x: unknown): boolean | undefined {
  if (x === undefined || typeof x === "boolean") return x;
  throw new nb.NablaError(
    `${op}: ${name} must be true or false, got ${typeof x === "string" ? JSON.stringify(x) : String(x)}`,
  );
}

/**
 * The float dtype in which counts, schedules and norms are computed beside `xs`: float64, or float32
 * when one of them lives on a device ("webgpu" has no float64).
 */
export function countFloat(...xs: readonly unknown[]): "float32" | "float64" {
  return xs.some((x) => x instanceof nb.NDArray && x.device !== "cpu") ? "float32" : "float64";
}
