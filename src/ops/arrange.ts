/**
 * Array arrangement (issue 9): tril, triu, split, roll, repeat, meshgrid.
 * Composed from linear primitives (select with a constant mask, slice,
 * concatenate, gather, broadcast), so each is differentiable to every order
 * and batchable with no rule of its own. Shifts, counts and split points are
 * static JS integers, as the output shapes depend on them.
 */
import "./methods.js";
import { NablaError, ShapeError, fmtShape, fmtValue, at } from "../core/errors.js";
import { ArrayLike, ConcreteArray, NDArray } from "../core/ndarray.js";
import { normAxis } from "../core/shape.js";
import * as W from "../prims/wrap.js";
import { MAX_SIZE, arrayListArg, asArray, intArg, intListArg, optionsArg, sizeArg } from "./validate.js";
import { where } from "./elementwise.js";
import { reshape } from "./shape.js";

/** The constant [n, m] mask j - i <= k (lower) or j - i >= k (upper). */
function triMask(n: number, m: number, k: number, lower: boolean): ConcreteArray {
  const d = new Uint8Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) d[i * m + j] = (lower ? j - i <= k : j - i >= k) ? 1 : 0;
  return new ConcreteArray(d, [n, m], "bool");
}

function triangle(fn: string, x: ArrayLike, k: number, lower: boolean): NDArray {
  const a = asArray(x, fn);
  const kk = intArg(fn, "k", k);
  if (a.ndim < 2) throw new ShapeError(`${fn}: expected an array of rank >= 2, got shape ${fmtShape(a.shape)}`);
  const n = at(a.shape, a.ndim - 2, "triangle");
  const m = at(a.shape, a.ndim - 1, "triangle");
  // a constant mask: the result is linear in x (zeros off the triangle, for every derivative too)
  return where(triMask(n, m, kk, lower), a, W.zeros([], a.dtype));
}

/**
 * The lower triangle of the last two axes: entries with j - i <= k kept, the rest 0 (k = 0: the diagonal).
 * @example nb.tril([[1, 2], [3, 4]]); // array([[1., 0.], [3., 4.]])
 */
export function tril(x: ArrayLike, k = 0): NDArray {
  return triangle("tril", x, k, true);
}

/**
 * The upper triangle of the last two axes: entries with j - i >= k kept, the rest 0.
 * @example nb.triu([[1, 2], [3, 4]], 1); // array([[0., 2.], [0., 0.]])
 */
export function triu(x: ArrayLike, k = 0): NDArray {
  return triangle("triu", x, k, false);
}

/** `begin`/`end` selecting [lo, hi) along `axis` of `shape`. */
function sliceAlong(a: NDArray, axis: number, lo: number, hi: number): NDArray {
  const begin = a.shape.map((_, i) => (i === axis ? lo : 0));
  const end = a.shape.map((d, i) => (i === axis ? hi : d));
  return W.slicePrim(a, begin, end);
}

/**
 * Splits along `axis` (default 0) into `sections` equal parts (the length must divide), or at the
 * increasing `indices` (clamped to the axis, negative counting from the end), as NumPy's `split`.
 * @example nb.split(nb.arange(6), 3).map((p) => p.shape); // [[2], [2], [2]]
 */
export function split(x: ArrayLike, sections: number | readonly number[], axis = 0): NDArray[] {
  const a = asArray(x, "split");
  const ax = normAxis("split", axis, a.ndim);
  const len = at(a.shape, ax, "split");
  let cuts: number[];
  if (typeof sections === "number") {
    const n = intArg("split", "sections", sections, { min: 1, max: MAX_SIZE });
    if (len % n !== 0)
      throw new ShapeError(`split: axis ${ax} of shape ${fmtShape(a.shape)} does not divide into ${n} equal sections`);
    cuts = Array.from({ length: n - 1 }, (_, i) => ((i + 1) * len) / n);
  } else {
    cuts = intListArg("split", "indices", sections).map((c) => Math.min(Math.max(c < 0 ? c + len : c, 0), len));
  }
  const bounds = [0, ...cuts, len];
  const out: NDArray[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = at(bounds, i, "split");
    out.push(sliceAlong(a, ax, lo, Math.max(lo, at(bounds, i + 1, "split"))));
  }
  return out;
}

/** Rolls one axis by s (0 <= s < length): the last s entries move to the front. */
function roll1(a: NDArray, axis: number, s: number): NDArray {
  const n = at(a.shape, axis, "roll");
  if (s === 0 || n === 0) return a;
  return W.concatPrim([sliceAlong(a, axis, n - s, n), sliceAlong(a, axis, 0, n - s)], axis);
}

/**
 * Shifts elements cyclically by `shift` along `axis` (the flattened array by default); tuples of shifts
 * and axes roll several axes (a single value is used for each, as NumPy's broadcasting).
 * @example nb.roll([1, 2, 3, 4], 1); // array([4., 1., 2., 3.])
 */
export function roll(
  x: ArrayLike,
  shift: number | readonly number[],
  axis?: number | readonly number[] | null,
): NDArray {
  const a = asArray(x, "roll");
  const shifts = typeof shift === "number" ? [intArg("roll", "shift", shift)] : intListArg("roll", "shift", shift);
  if (axis === undefined || axis === null) {
    if (shifts.length !== 1)
      throw new ShapeError(`roll: ${shifts.length} shifts need as many axes (got none: the flattened array)`);
    const flat = reshape(a, [a.size]);
    const n = a.size;
    return reshape(roll1(flat, 0, n === 0 ? 0 : ((at(shifts, 0, "roll") % n) + n) % n), a.shape);
  }
  const axes =
    typeof axis === "number"
      ? [normAxis("roll", axis, a.ndim)]
      : intListArg("roll", "axis", axis).map((q) => normAxis("roll", q, a.ndim));
  const m = Math.max(shifts.length, axes.length);
  if ((shifts.length !== m && shifts.length !== 1) || (axes.length !== m && axes.length !== 1))
    throw new ShapeError(`roll: ${shifts.length} shifts and ${axes.length} axes do not match`);
  // the total shift of each axis (a repeated axis rolls by the sum, as NumPy)
  const total = new Map<number, number>();
  for (let i = 0; i < m; i++) {
    const ax = at(axes, axes.length === 1 ? 0 : i, "roll");
    total.set(ax, (total.get(ax) ?? 0) + at(shifts, shifts.length === 1 ? 0 : i, "roll"));
  }
  let out = a;
  for (const [ax, s] of total) {
    const n = at(a.shape, ax, "roll");
    out = roll1(out, ax, n === 0 ? 0 : ((s % n) + n) % n);
  }
  return out;
}

/**
 * Repeats each element `repeats` times along `axis` (the flattened array by default); `repeats` is one
 * count or one count per element of the axis, as NumPy's `repeat`.
 * @example nb.repeat([1, 2], 2); // array([1., 1., 2., 2.])
 */
export function repeat(x: ArrayLike, repeats: number | readonly number[], axis?: number | null): NDArray {
  let a = asArray(x, "repeat");
  const reps =
    typeof repeats === "number"
      ? [intArg("repeat", "repeats", repeats, { min: 0, max: MAX_SIZE })]
      : intListArg("repeat", "repeats", repeats, { min: 0, max: MAX_SIZE });
  let ax: number;
  if (axis === undefined || axis === null) {
    a = reshape(a, [a.size]);
    ax = 0;
  } else ax = normAxis("repeat", axis, a.ndim);
  const len = at(a.shape, ax, "repeat");
  if (reps.length !== 1 && reps.length !== len)
    throw new ShapeError(
      `repeat: ${reps.length} repeat counts do not match axis ${ax} of length ${len} (shape ${fmtShape(a.shape)})`,
    );
  const count = (i: number): number => at(reps, reps.length === 1 ? 0 : i, "repeat");
  let total = 0;
  for (let i = 0; i < len; i++) total += count(i);
  sizeArg(
    "repeat",
    a.shape.map((d, i) => (i === ax ? total : d)),
  );
  // a gather of static indices [0, 0, 1, 1, ...]: its derivative scatter-adds the copies back
  const idx = new Int32Array(total);
  let p = 0;
  for (let i = 0; i < len; i++) for (let r = 0; r < count(i); r++) idx[p++] = i;
  return W.gatherPrim(a, new ConcreteArray(idx, [total], "int32"), ax);
}

/** meshgrid's options object. */
export interface MeshgridOptions {
  /** "xy" (default, Cartesian: the first two output axes swapped) or "ij" (matrix indexing). */
  indexing?: "xy" | "ij";
}

/**
 * Coordinate arrays from 1-D coordinate vectors: with n vectors of lengths l₁..lₙ each output has shape
 * [l₁, ..., lₙ] ("ij") or [l₂, l₁, l₃, ...] ("xy", the default), as NumPy's `meshgrid`. An options
 * object may come last.
 * @example
 * const [X, Y] = nb.meshgrid([1, 2, 3], [4, 5]);
 * X.shape; // [2, 3]
 */
export function meshgrid(...args: readonly (ArrayLike | MeshgridOptions)[]): NDArray[] {
  const last = args[args.length - 1];
  const hasOptions =
    last !== null &&
    typeof last === "object" &&
    !Array.isArray(last) &&
    !(last instanceof NDArray) &&
    !ArrayBuffer.isView(last);
  const o = optionsArg("meshgrid", hasOptions ? last : undefined, ["indexing"]);
  const indexing = o.indexing ?? "xy";
  if (indexing !== "xy" && indexing !== "ij")
    throw new NablaError(`meshgrid: indexing must be "xy" or "ij", got ${fmtValue(indexing)}`);
  const items = hasOptions ? args.slice(0, -1) : args;
  if (items.length === 0) return [];
  const xs = arrayListArg("meshgrid", items, "xs");
  xs.forEach((v, i) => {
    if (v.ndim !== 1) throw new ShapeError(`meshgrid: xs[${i}] must be 1-D, got shape ${fmtShape(v.shape)}`);
  });
  const dt = W.promoted("meshgrid", xs);
  const lens = xs.map((v) => at(v.shape, 0, "meshgrid"));
  const shape = lens.slice();
  // "xy": the first two coordinates vary along axes 1 and 0
  const axisOf = (i: number): number => (indexing === "xy" && xs.length >= 2 && i < 2 ? 1 - i : i);
  if (indexing === "xy" && xs.length >= 2) [shape[0], shape[1]] = [at(lens, 1, "meshgrid"), at(lens, 0, "meshgrid")];
  sizeArg("meshgrid", shape);
  return xs.map((v, i) => {
    const s = shape.map(() => 1);
    s[axisOf(i)] = at(lens, i, "meshgrid");
    return W.broadcastPrim(W.reshape(W.convertTo(v, dt), s), shape);
  });
}
