/** Shape operations: reshape, transpose, broadcasting, axes, joining, slicing, padding, tiling, flipping. */
import "./methods.js";
import { ShapeError, fmtShape, fmtValue, at } from "../core/errors.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import { Shape, checkShape, normAxes, normAxis, shapesEqual } from "../core/shape.js";
import * as W from "../prims/wrap.js";
import { ones } from "./creation.js";
import { MAX_SIZE, arrayListArg, asArray, intArg, intListArg, numberArg, optionsArg, sizeArg } from "./validate.js";
import { where } from "./elementwise.js";

/**
 * Reshapes (one `-1` allowed).
 * @example nb.reshape(nb.arange(6), [2, -1]); // shape [2, 3]
 */
export function reshape(x: ArrayLike, shape: Shape): NDArray {
  const a = asArray(x, "reshape");
  const s = intListArg("reshape", "shape", shape, { min: -1 });
  const neg = s.filter((d) => d === -1).length;
  if (neg > 1 || s.some((d) => !Number.isInteger(d) || d < -1))
    throw new ShapeError(`reshape: invalid shape ${fmtShape(shape)}`);
  if (neg === 1) {
    const known = s.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || a.size % known !== 0)
      throw new ShapeError(`reshape: cannot reshape ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
    s[s.indexOf(-1)] = a.size / known;
  }
  return W.reshape(a, s);
}

/** Permutes axes (reverses them by default). @example nb.transpose(nb.zeros([2, 3])).shape; // [3, 2] */
export function transpose(x: ArrayLike, perm?: readonly number[]): NDArray {
  const a = asArray(x, "transpose");
  const p =
    perm === undefined
      ? a.shape.map((_, i) => a.ndim - 1 - i)
      : intListArg("transpose", "perm", perm).map((q) => normAxis("transpose", q, a.ndim));
  if (p.length !== a.ndim || new Set(p).size !== p.length)
    throw new ShapeError(
      `transpose: perm [${perm?.join(",")}] is not a permutation of the ${a.ndim} axes of shape ${fmtShape(a.shape)}`,
    );
  return W.transposePrim(a, p);
}

/** Broadcasts to `shape` (NumPy rules). @example nb.broadcastTo([1, 2], [3, 2]); */
export function broadcastTo(x: ArrayLike, shape: Shape): NDArray {
  return W.broadcastPrim(asArray(x, "broadcastTo"), checkShape("broadcastTo", shape));
}

/** Inserts a size-1 axis at `axis`. @example nb.expandDims([1, 2], 0).shape; // [1, 2] */
export function expandDims(x: ArrayLike, axis: number): NDArray {
  const a = asArray(x, "expandDims");
  const ax = normAxis("expandDims", axis, a.ndim + 1);
  const s = a.shape.slice();
  s.splice(ax, 0, 1);
  return reshape(a, s);
}

/** Removes size-1 axes (all of them, or those named). @example nb.squeeze(nb.zeros([1, 2, 1])).shape; // [2] */
export function squeeze(x: ArrayLike, axis?: number | readonly number[]): NDArray {
  const a = asArray(x, "squeeze");
  let axes: number[];
  if (axis === undefined) axes = a.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  else {
    axes = normAxes("squeeze", axis, a.ndim);
    for (const ax of axes)
      if (a.shape[ax] !== 1) throw new ShapeError(`squeeze: axis ${ax} of shape ${fmtShape(a.shape)} is not of size 1`);
  }
  return reshape(
    a,
    a.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Joins arrays along an existing axis. @example nb.concatenate([[1, 2], [3]]); // array([1., 2., 3.]) */
export function concatenate(xs: readonly ArrayLike[], axis = 0): NDArray {
  const as = arrayListArg("concatenate", xs);
  if (at(as, 0, "concatenate").ndim === 0)
    throw new ShapeError("concatenate: zero-dimensional arrays cannot be concatenated");
  const ax = normAxis("concatenate", axis, at(as, 0, "concatenate").ndim);
  const dt = W.promoted("concatenate", as);
  return W.concatPrim(
    as.map((a) => W.convertTo(a, dt)),
    ax,
  );
}

/** Joins arrays along a new axis. @example nb.stack([[1, 2], [3, 4]], 1).shape; // [2, 2] */
export function stack(xs: readonly ArrayLike[], axis = 0): NDArray {
  const as = arrayListArg("stack", xs);
  const s0 = at(as, 0, "stack").shape;
  for (const a of as)
    if (!shapesEqual(a.shape, s0))
      throw new ShapeError(`stack: all arrays must have one shape, got ${as.map((b) => fmtShape(b.shape)).join(", ")}`);
  const ax = normAxis("stack", axis, s0.length + 1);
  return concatenate(
    as.map((a) => expandDims(a, ax)),
    ax,
  );
}

/**
 * Per-axis slice `x[begin[i]:end[i]]` (end exclusive; negative indices count
 * from the end; axes not listed are taken whole).
 * @example nb.slice(nb.arange(10), [2], [5]); // array([2, 3, 4], dtype=int32)
 */
export function slice(x: ArrayLike, begin: readonly number[], end: readonly number[]): NDArray {
  const a = asArray(x, "slice");
  intListArg("slice", "begin", begin);
  intListArg("slice", "end", end);
  if (begin.length > a.ndim || end.length > a.ndim || begin.length !== end.length)
    throw new ShapeError(
      `slice: begin [${begin.join(",")}] / end [${end.join(",")}] do not fit shape ${fmtShape(a.shape)}`,
    );
  const b: number[] = [];
  const e: number[] = [];
  for (let i = 0; i < a.ndim; i++) {
    const d = at(a.shape, i, "slice");
    const norm = (v: number | undefined, dflt: number) => {
      if (v === undefined) return dflt;
      if (!Number.isInteger(v)) throw new ShapeError(`slice: index ${v} is not an integer`);
      return Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    };
    b.push(norm(begin[i], 0));
    e.push(Math.max(norm(end[i], d), at(b, i, "slice")));
  }
  return W.slicePrim(a, b, e);
}

/** Reverses the order of elements along `axis` (all axes by default). @example nb.flip([1, 2, 3]); */
export function flip(x: ArrayLike, axis?: number | readonly number[]): NDArray {
  const a = asArray(x, "flip");
  return W.revPrim(a, normAxes("flip", axis, a.ndim));
}

/** Repeats `x` `reps` times along each axis (NumPy's tile). @example nb.tile([1, 2], 2); // [1, 2, 1, 2] */
export function tile(x: ArrayLike, reps: number | readonly number[]): NDArray {
  let a = asArray(x, "tile");
  const r = intListArg("tile", "reps", typeof reps === "number" ? [reps] : reps, { min: 0 });
  const nd = Math.max(a.ndim, r.length);
  a = reshape(a, [...new Array<number>(nd - a.ndim).fill(1), ...a.shape]);
  const rr = [...new Array<number>(nd - r.length).fill(1), ...r];
  sizeArg(
    "tile",
    a.shape.map((d, i) => d * at(rr, i, "tile")),
  );
  const inter = a.shape.flatMap((d) => [1, d]);
  const target = a.shape.flatMap((d, i) => [at(rr, i, "tile"), d]);
  return reshape(
    W.broadcastPrim(reshape(a, inter), target),
    a.shape.map((d, i) => d * at(rr, i, "tile")),
  );
}

/**
 * Pads with a constant (0 by default). `padWidth` is one number for every
 * side, one [before, after] pair for every axis, or a pair per axis.
 * @example nb.pad([1, 2], 1); // array([0., 1., 2., 0.])
 */
export function pad(
  x: ArrayLike,
  padWidth: number | readonly [number, number] | readonly (readonly [number, number])[],
  options: { value?: number } = {},
): NDArray {
  const a = asArray(x, "pad");
  const value = numberArg("pad", "value", optionsArg("pad", options, ["value"]).value ?? 0);
  const width = (v: unknown) => intArg("pad", "padWidth", v, { min: 0, max: MAX_SIZE });
  let pairs: [number, number][];
  if (!Array.isArray(padWidth)) pairs = a.shape.map(() => [width(padWidth), width(padWidth)]);
  else if (padWidth.length === 2 && !Array.isArray(padWidth[0]))
    pairs = a.shape.map(() => [width(padWidth[0]), width(padWidth[1])]);
  else
    pairs = intListArg(
      "pad",
      "padWidth",
      padWidth.map((_, i) => i),
    ).map((i) => {
      const p: unknown = padWidth[i];
      if (!Array.isArray(p) || p.length !== 2)
        throw new ShapeError(`pad: padWidth[${i}] must be a [before, after] pair, got ${fmtValue(p)}`);
      return [width(p[0]), width(p[1])];
    });
  if (pairs.length !== a.ndim)
    throw new ShapeError(`pad: ${pairs.length} width pairs do not fit shape ${fmtShape(a.shape)}`);
  sizeArg(
    "pad",
    a.shape.map((d, i) => d + at(pairs, i, "pad")[0] + at(pairs, i, "pad")[1]),
  );
  const lo = pairs.map((p) => p[0]);
  const hi = pairs.map((p) => p[1]);
  const out = W.padPrim(a, lo, hi);
  if (value === 0) return out;
  const mask = W.padPrim(ones(a.shape, { dtype: "bool" }), lo, hi);
  return where(mask, out, value);
}
