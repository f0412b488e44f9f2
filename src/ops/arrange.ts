/**
 * Array arrangement (issue 9): tril, triu, split, roll, repeat, meshgrid.
 * Composed from linear primitives (select with a constant mask, slice,
 * concatenate, gather, broadcast), so each is differentiable to every order
 * and batchable with no rule of its own. Split points and repeat counts are
 * static (JS integers or concrete int32 arrays), as the output shapes depend
 * on them (traced repeat counts need a static total length, as JAX); a roll's
 * shift may be traced (a gather at computed indices).
 */
import "./methods.js";
import {
  DTypeError,
  DeviceError,
  NablaError,
  ShapeError,
  TracerError,
  at,
  fmtShape,
  fmtValue,
} from "../core/errors.js";
import { ArrayLike, ConcreteArray, NDArray } from "../core/ndarray.js";
import { normAxis } from "../core/shape.js";
import * as E from "../prims/elementwise.js";
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

/**
 * An integer argument given as an NDArray: int32, 0-d or 1-d; its values when concrete, else the array
 * itself where `traced` allows it (TracerError otherwise: the output shape depends on it).
 */
function intArrayArg(fn: string, arg: string, v: NDArray, traced: false): number[];
function intArrayArg(fn: string, arg: string, v: NDArray, traced: true): number[] | NDArray;
function intArrayArg(fn: string, arg: string, v: NDArray, traced: boolean): number[] | NDArray {
  if (v.dtype !== "int32") throw new DTypeError(`${fn}: ${arg} given as an array must be int32, got ${v.dtype}`);
  if (v.ndim > 1) throw new ShapeError(`${fn}: ${arg} must be 0-d or 1-d, got shape ${fmtShape(v.shape)}`);
  if (v instanceof ConcreteArray && v.device === "cpu") return Array.from(v.toTypedArray() as Int32Array);
  // an array on a device ("webgpu") is not read synchronously: computed with as a traced one is, where
  // the output shape does not depend on it
  if (v instanceof ConcreteArray && !traced)
    throw new DeviceError(
      `${fn}: ${arg} is an int32 array of shape ${fmtShape(v.shape)} on "${v.device}", and the output shape depends on its values, ` +
        `which are read only asynchronously: read them first (await x.data()) and pass the numbers${fn === "repeat" ? ", or give options.totalRepeatLength (the static output length)" : ""}`,
    );
  if (v instanceof ConcreteArray) return v;
  if (!traced)
    throw new TracerError(
      `${fn}: ${arg} must be concrete (the output shape depends on it; JAX requires it static too), got a traced int32 array of shape ${fmtShape(v.shape)}`,
    );
  return v;
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
 * `sections` may also be a concrete int32 array (0-d: a count, 1-d: split points); a traced one throws
 * `TracerError`, since the output shapes depend on it (JAX requires it static too).
 * @example nb.split(nb.arange(6), 3).map((p) => p.shape); // [[2], [2], [2]]
 * @example nb.split(nb.arange(5), [1, -1]).map((p) => p.shape); // [[1], [3], [1]]
 */
export function split(x: ArrayLike, sections: number | readonly number[] | NDArray, axis = 0): NDArray[] {
  const a = asArray(x, "split");
  const ax = normAxis("split", axis, a.ndim);
  const len = at(a.shape, ax, "split");
  if (sections instanceof NDArray) {
    const v = intArrayArg("split", "sections", sections, false);
    sections = sections.ndim === 0 ? at(v, 0, "split") : v;
  }
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
 * s mod n in [0, n) for a traced (or device) int32 scalar s: r = s - n·trunc(s / n) (int32 division
 * truncates; |n·trunc(s / n)| <= |s|, so nothing wraps), plus n where r < 0. Exact, in int32 only, so
 * it runs on "webgpu" too.
 */
function modTraced(s: NDArray, n: number): NDArray {
  const r = W.sub(s, W.mul(W.binaryOp(E.DIV, s, n, "roll"), n));
  return W.where(W.less(r, 0), W.add(r, n), r);
}

/** Rolls one axis by a traced int32 scalar s in [0, n): out[k] = a[(k - s) mod n], a gather. */
function rollTraced(a: NDArray, axis: number, s: NDArray): NDArray {
  const n = at(a.shape, axis, "roll");
  const j = W.sub(W.iota(n), s);
  return W.gatherPrim(a, W.where(W.less(j, 0), W.add(j, n), j), axis);
}

/**
 * Shifts elements cyclically by `shift` along `axis` (the flattened array by default); tuples of shifts
 * and axes roll several axes (a single value is used for each, as NumPy's broadcasting). The shift may
 * be an int32 array (0-d or 1-d), traced too (under `jit` or `vmap`, as JAX allows): the roll is then a
 * gather at computed indices, still linear in x.
 * @example nb.roll([1, 2, 3, 4], 1); // array([4., 1., 2., 3.])
 * @example nb.jit((x: nb.NDArray, s: nb.NDArray) => nb.roll(x, s))(nb.array([1, 2, 3]), nb.array(-1, { dtype: "int32" })); // array([2., 3., 1.])
 */
export function roll(
  x: ArrayLike,
  shift: number | readonly number[] | NDArray,
  axis?: number | readonly number[] | null,
): NDArray {
  const a = asArray(x, "roll");
  // static shifts (numbers, or a concrete int32 array) or one traced int32 array
  let shifts: (number | NDArray)[];
  if (shift instanceof NDArray) {
    const v = intArrayArg("roll", "shift", shift, true);
    if (Array.isArray(v)) shifts = v;
    else if (v.ndim === 0) shifts = [v];
    else shifts = Array.from({ length: at(v.shape, 0, "roll") }, (_, i) => W.reshape(W.slicePrim(v, [i], [i + 1]), []));
  } else shifts = typeof shift === "number" ? [intArg("roll", "shift", shift)] : intListArg("roll", "shift", shift);
  let target = a;
  let axes: number[];
  if (axis === undefined || axis === null) {
    if (shifts.length !== 1)
      throw new ShapeError(`roll: ${shifts.length} shifts need as many axes (got none: the flattened array)`);
    target = reshape(a, [a.size]);
    axes = [0];
  } else
    axes =
      typeof axis === "number"
        ? [normAxis("roll", axis, a.ndim)]
        : intListArg("roll", "axis", axis).map((q) => normAxis("roll", q, a.ndim));
  const m = Math.max(shifts.length, axes.length);
  if ((shifts.length !== m && shifts.length !== 1) || (axes.length !== m && axes.length !== 1))
    throw new ShapeError(`roll: ${shifts.length} shifts and ${axes.length} axes do not match`);
  // the total shift of each axis mod its length (a repeated axis rolls by the sum, as NumPy)
  const total = new Map<number, number | NDArray>();
  for (let i = 0; i < m; i++) {
    const ax = at(axes, axes.length === 1 ? 0 : i, "roll");
    const n = at(target.shape, ax, "roll");
    if (n === 0) continue;
    const s = at(shifts, shifts.length === 1 ? 0 : i, "roll");
    const r = typeof s === "number" ? ((s % n) + n) % n : modTraced(s, n);
    const prev = total.get(ax) ?? 0;
    total.set(ax, typeof prev === "number" && typeof r === "number" ? (prev + r) % n : modTraced(W.add(r, prev), n));
  }
  let out = target;
  for (const [ax, s] of total) out = typeof s === "number" ? roll1(out, ax, s) : rollTraced(out, ax, s);
  return out === target ? a : reshape(out, a.shape);
}

/**
 * repeat's options object.
 * @example const o: nb.RepeatOptions = { totalRepeatLength: 4 };
 */
export interface RepeatOptions {
  /**
   * The output length along the axis, static (JAX's `total_repeat_length`): needed when `repeats` is
   * traced. A longer sum of repeats is cut to it; a shorter one is padded with the axis's last element.
   */
  totalRepeatLength?: number;
}

/**
 * Repeats each element `repeats` times along `axis` (the flattened array by default); `repeats` is one
 * count or one count per element of the axis, as NumPy's `repeat`, given as numbers or an int32 array.
 * A traced `repeats` (under `jit`/`vmap`) needs `totalRepeatLength`, the static output length, as JAX
 * (negative traced counts count as 0); without it `TracerError`.
 * @example nb.repeat([1, 2], 2); // array([1., 1., 2., 2.])
 * @example nb.repeat([1, 2], [1, 3], 0, { totalRepeatLength: 3 }); // array([1., 2., 2.])
 */
export function repeat(
  x: ArrayLike,
  repeats: number | readonly number[] | NDArray,
  axis?: number | null,
  options?: RepeatOptions,
): NDArray {
  let a = asArray(x, "repeat");
  const o = optionsArg("repeat", options, ["totalRepeatLength"]);
  const T =
    o.totalRepeatLength === undefined
      ? null
      : intArg("repeat", "totalRepeatLength", o.totalRepeatLength, { min: 0, max: MAX_SIZE });
  let ax: number;
  if (axis === undefined || axis === null) {
    a = reshape(a, [a.size]);
    ax = 0;
  } else ax = normAxis("repeat", axis, a.ndim);
  const len = at(a.shape, ax, "repeat");
  // traced counts, or counts on a device ("webgpu", not read synchronously), need the static length
  const unread =
    repeats instanceof NDArray && !(repeats instanceof ConcreteArray && repeats.device === "cpu") ? repeats : null;
  if (unread !== null && T !== null) return repeatTraced(a, unread, ax, T);
  if (unread !== null && !(unread instanceof ConcreteArray) && unread.dtype === "int32")
    throw new TracerError(
      `repeat: repeats is a traced int32 array of shape ${fmtShape(unread.shape)}: give options.totalRepeatLength, the static output length (as JAX's total_repeat_length)`,
    );
  if (repeats instanceof NDArray) {
    const v = intArrayArg("repeat", "repeats", repeats, false);
    v.forEach((c, i) => intArg("repeat", `repeats[${i}]`, c, { min: 0, max: MAX_SIZE }));
    repeats = repeats.ndim === 0 ? at(v, 0, "repeat") : v;
  }
  const reps =
    typeof repeats === "number"
      ? [intArg("repeat", "repeats", repeats, { min: 0, max: MAX_SIZE })]
      : intListArg("repeat", "repeats", repeats, { min: 0, max: MAX_SIZE });
  if (reps.length !== 1 && reps.length !== len)
    throw new ShapeError(
      `repeat: ${reps.length} repeat counts do not match axis ${ax} of length ${len} (shape ${fmtShape(a.shape)})`,
    );
  // one count per element of the axis (a single count is used for each)
  const counts = reps.length === 1 ? new Array<number>(len).fill(at(reps, 0, "repeat")) : reps;
  let sum = 0;
  for (const c of counts) sum += c;
  const total = T ?? sum;
  sizeArg(
    "repeat",
    a.shape.map((d, i) => (i === ax ? total : d)),
  );
  if (len === 0 && total > 0)
    throw new ShapeError(
      `repeat: totalRepeatLength ${total} pads with the last element of axis ${ax}, which is empty (shape ${fmtShape(a.shape)})`,
    );
  // a gather of static indices [0, 0, 1, 1, ...] (cut or padded with the last to totalRepeatLength): its
  // derivative scatter-adds the copies back
  const idx = new Int32Array(total).fill(len - 1);
  let p = 0;
  for (const [i, c] of counts.entries()) {
    if (p >= total) break;
    for (let r = 0; r < c && p < total; r++) idx[p++] = i;
  }
  return W.gatherPrim(a, new ConcreteArray(idx, [total], "int32"), ax);
}

/**
 * repeat with traced counts and a static output length T: output position p reads element
 * #{i : c_i <= p} (c the running sum of the counts), clamped to the last, a gather.
 */
function repeatTraced(a: NDArray, repeats: NDArray, ax: number, T: number): NDArray {
  const len = at(a.shape, ax, "repeat");
  if (repeats.dtype !== "int32")
    throw new DTypeError(`repeat: repeats given as an array must be int32, got ${repeats.dtype}`);
  if (repeats.ndim > 1 || (repeats.ndim === 1 && repeats.shape[0] !== len && repeats.shape[0] !== 1))
    throw new ShapeError(
      `repeat: repeats of shape ${fmtShape(repeats.shape)} do not match axis ${ax} of length ${len} (shape ${fmtShape(a.shape)})`,
    );
  sizeArg(
    "repeat",
    a.shape.map((d, i) => (i === ax ? T : d)),
  );
  if (len === 0 && T > 0)
    throw new ShapeError(
      `repeat: totalRepeatLength ${T} pads with the last element of axis ${ax}, which is empty (shape ${fmtShape(a.shape)})`,
    );
  const counts = W.maximum(W.broadcastPrim(W.reshape(repeats, repeats.ndim === 0 ? [1] : repeats.shape), [len]), 0);
  const ends = W.cumsumPrim(counts, 0, false); // [len]
  const before = W.greaterEqual(W.reshape(W.iota(T), [T, 1]), W.reshape(ends, [1, len])); // [T, len]: c_i <= p
  const idx = W.minimum(W.reduceSum(W.convert(before, "int32"), [1]), Math.max(len - 1, 0));
  return W.gatherPrim(a, idx, ax);
}

/** meshgrid's options object. */
export interface MeshgridOptions {
  /** "xy" (default, Cartesian: the first two output axes swapped) or "ij" (matrix indexing). */
  indexing?: "xy" | "ij";
}

/**
 * Coordinate arrays from 1-D coordinate vectors: with n vectors of lengths l₁..lₙ each output has shape
 * [l₁, ..., lₙ] ("ij") or [l₂, l₁, l₃, ...] ("xy", the default), as NumPy's `meshgrid`; each keeps its
 * vector's dtype (as NumPy and jnp). An options object may come last.
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
  const lens = xs.map((v) => at(v.shape, 0, "meshgrid"));
  const shape = lens.slice();
  // "xy": the first two coordinates vary along axes 1 and 0
  const axisOf = (i: number): number => (indexing === "xy" && xs.length >= 2 && i < 2 ? 1 - i : i);
  if (indexing === "xy" && xs.length >= 2) [shape[0], shape[1]] = [at(lens, 1, "meshgrid"), at(lens, 0, "meshgrid")];
  sizeArg("meshgrid", shape);
  return xs.map((v, i) => {
    const s = shape.map(() => 1);
    s[axisOf(i)] = at(lens, i, "meshgrid");
    return W.broadcastPrim(W.reshape(v, s), shape);
  });
}
