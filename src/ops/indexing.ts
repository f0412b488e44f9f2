/** Indexing operations: take, takeAlongAxis, sorting, running sums and products. */
import "./methods.js";
import { NablaError, ShapeError, fmtShape, fmtValue, at as elementAt } from "../core/errors.js";
import { ArrayLike, NDArray, scalar } from "../core/ndarray.js";
import { broadcastShapes, normAxis, sizeOf } from "../core/shape.js";
import { bind1 } from "../core/trace.js";
import * as E from "../prims/elementwise.js";
import * as IX from "../prims/indexing.js";
import * as SH from "../prims/shape.js";
import * as W from "../prims/wrap.js";
import { arange, zeros } from "./creation.js";
import { asArray, boolArg, indexArray, optionsArg } from "./validate.js";
import { add, astype, clip, floor, greaterEqual, less, logicalAnd, mul, where } from "./elementwise.js";
import { reshape } from "./shape.js";

const INT32_MIN = -(2 ** 31);

/**
 * What `take` does with an index outside [-n, n): fill, clip to the ends, or wrap around.
 * @example const mode: nb.TakeMode = "clip";
 */
export type TakeMode = "fill" | "clip" | "wrap";

/** JAX's fill values for out-of-range indices: NaN for floats, the most negative int32, true for bools. */
function fillValue(dtype: NDArray["dtype"]): number | boolean {
  return dtype === "bool" ? true : dtype === "int32" ? INT32_MIN : NaN;
}

/** The `mode` option of take and takeAlongAxis (default "fill", as JAX). */
function takeMode(fn: string, options: unknown): TakeMode {
  const mode = optionsArg(fn, options, ["mode"]).mode ?? "fill";
  if (mode !== "fill" && mode !== "clip" && mode !== "wrap")
    throw new NablaError(`${fn}: mode must be "fill", "clip" or "wrap", got ${fmtValue(mode)}`);
  return mode;
}

/** `axis` of an array of shape `shape`, normalised; out of range, the message shows the shape as well as the rank. */
function axisOf(fn: string, axis: unknown, shape: readonly number[]): number {
  if (typeof axis === "number" && Number.isInteger(axis) && (axis < -shape.length || axis >= shape.length))
    throw new ShapeError(
      `${fn}: axis ${axis} is out of bounds for an array of rank ${shape.length} (shape ${fmtShape(shape)})`,
    );
  return normAxis(fn, axis, shape.length);
}

/** Indices into an axis of length n by mode: negative from the end, then wrapped modulo n ("wrap") or as given. */
function modeIndices(idx: NDArray, n: number, mode: TakeMode): NDArray {
  if (mode === "wrap") {
    // i - n·floor(i / n), exact in float64 for int32 indices
    const q = W.convert(idx, "float64");
    return astype(W.sub(q, W.mul(floor(W.div(q, n)), n)), "int32");
  }
  return where(less(idx, 0), add(idx, n), idx);
}

/**
 * Gathers along `axis` at int32 `indices` (flattened input when `axis` is
 * omitted): out.shape = x.shape[:axis] ++ indices.shape ++ x.shape[axis+1:].
 * Negative indices count from the end in every mode. Indices still outside
 * [0, n) follow `mode`, as JAX's `take`: "fill" (the default) gives NaN for
 * float arrays, -2^31 for int32 and true for bool; "clip" takes the nearest
 * end; "wrap" reduces them modulo n. Indices outside the int32 range throw.
 * Its gradient scatter-adds, so repeated indices accumulate; filled
 * positions get no gradient.
 * @example nb.take([10, 20, 30], [2, 0, 2]); // array([30., 10., 30.])
 * @example nb.take([10, 20, 30], [3, -4], 0, { mode: "clip" }); // array([30., 10.])
 */
export function take(
  x: ArrayLike,
  indices: ArrayLike,
  axis?: number | null,
  options: { mode?: TakeMode } = {},
): NDArray {
  let a = asArray(x, "take");
  const idx = indexArray(indices, "take");
  const mode = takeMode("take", options);
  let ax: number;
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    ax = 0;
  } else ax = axisOf("take", axis, a.shape);
  const n = elementAt(a.shape, ax, "take");
  const outShape = [...a.shape.slice(0, ax), ...idx.shape, ...a.shape.slice(ax + 1)];
  if (n === 0 && idx.size > 0) {
    if (mode !== "fill")
      throw new ShapeError(`take: cannot ${mode} indices into empty axis ${ax} of shape ${fmtShape(a.shape)}`);
    return W.full(outShape, Number(fillValue(a.dtype)), a.dtype);
  }
  const j = modeIndices(idx, n, mode);
  if (mode === "wrap") return W.gatherPrim(a, j, ax);
  const g = W.gatherPrim(a, clip(j, 0, Math.max(n - 1, 0)), ax);
  if (mode === "clip") return g;
  const valid = logicalAnd(greaterEqual(j, 0), less(j, n));
  const at = [...a.shape.slice(0, ax).map(() => 1), ...idx.shape, ...a.shape.slice(ax + 1).map(() => 1)];
  return where(reshape(valid, at), g, fillValue(a.dtype));
}

/**
 * Picks `x` values along `axis` at `indices` of the same rank (NumPy's
 * take_along_axis); indices broadcast against x off the axis. Negative indices
 * count from the end; indices still outside [0, n) follow `mode` as in
 * {@link take}: "fill" (the default, as JAX) gives NaN for floats, -2^31 for
 * int32 and true for bool, "clip" the nearest end, "wrap" modulo n. Indices
 * outside the int32 range throw.
 * @example nb.takeAlongAxis([[3, 1, 2]], [[1, 2, 0]], 1); // array([[1., 2., 3.]])
 * @example nb.takeAlongAxis([[3, 1, 2]], [[5, -1]], 1, { mode: "wrap" }); // array([[2., 2.]])
 */
export function takeAlongAxis(
  x: ArrayLike,
  indices: ArrayLike,
  axis: number,
  options: { mode?: TakeMode } = {},
): NDArray {
  const a = asArray(x, "takeAlongAxis");
  let idx = indexArray(indices, "takeAlongAxis");
  const mode = takeMode("takeAlongAxis", options);
  if (idx.ndim !== a.ndim)
    throw new ShapeError(
      `takeAlongAxis: indices of shape ${fmtShape(idx.shape)} must have the rank of x ${fmtShape(a.shape)}`,
    );
  const ax = axisOf("takeAlongAxis", axis, a.shape);
  // off the axis, indices and x broadcast against each other (same rank: dimension by dimension)
  for (let i = 0; i < a.ndim; i++) {
    const d = elementAt(a.shape, i, "takeAlongAxis");
    const e = elementAt(idx.shape, i, "takeAlongAxis");
    if (i !== ax && d !== e && d !== 1 && e !== 1)
      throw new ShapeError(
        `takeAlongAxis: indices of shape ${fmtShape(idx.shape)} do not broadcast against x of shape ` +
          `${fmtShape(a.shape)} off axis ${ax} (dimension ${i}: ${e} and ${d})`,
      );
  }
  const offShape = a.shape.map((d, i) => (i === ax ? 1 : d));
  const outShape = broadcastShapes(
    "takeAlongAxis",
    offShape,
    idx.shape.map((d, i) => (i === ax ? 1 : d)),
  );
  outShape[ax] = elementAt(idx.shape, ax, "takeAlongAxis");
  const xb = W.broadcastPrim(
    a,
    outShape.map((d, i) => (i === ax ? elementAt(a.shape, ax, "takeAlongAxis") : d)),
  );
  // indices by mode, then clamped within each row before flattening (a no-op for "wrap")
  const len = elementAt(a.shape, ax, "takeAlongAxis");
  if (len === 0 && idx.size > 0) {
    if (mode !== "fill")
      throw new ShapeError(`takeAlongAxis: cannot ${mode} indices into empty axis ${ax} of shape ${fmtShape(a.shape)}`);
    return W.full(outShape, Number(fillValue(a.dtype)), a.dtype);
  }
  const j = modeIndices(idx, len, mode);
  // "fill": positions whose index is still outside [0, len) get the fill value (and no gradient)
  const valid = mode === "fill" ? W.broadcastPrim(logicalAnd(greaterEqual(j, 0), less(j, len)), outShape) : null;
  idx = W.broadcastPrim(clip(j, 0, Math.max(len - 1, 0)), outShape);
  // flatten: element (.., j, ..) of row r reads xb.flat[r * A + idx]
  const perm = [...outShape.map((_, i) => i).filter((i) => i !== ax), ax];
  const A = elementAt(a.shape, ax, "takeAlongAxis");
  const xr = reshape(W.transposePrim(xb, perm), [-1]);
  const ir = W.transposePrim(idx, perm);
  const rows = sizeOf(outShape) / Math.max(elementAt(outShape, ax, "takeAlongAxis"), 1);
  const off = reshape(mul(arange(rows), A), [
    ...perm.slice(0, -1).map((i) => elementAt(outShape, i, "takeAlongAxis")),
    1,
  ]);
  const g = W.gatherPrim(xr, add(ir, astype(off, "int32")), 0);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  const out = W.transposePrim(g, inv);
  return valid === null ? out : where(valid, out, fillValue(a.dtype));
}

/**
 * Indices that sort `x` along `axis`, int32: stable (ties keep their order, descending too), NaNs last
 * ascending and first descending (as JAX and torch).
 * @example nb.argsort([3, 1, 2]); // [1, 2, 0]
 */
export function argsort(x: ArrayLike, axis = -1, descending = false): NDArray {
  const a = asArray(x, "argsort");
  boolArg("argsort", "descending", descending);
  if (a.ndim === 0) return zeros([], { dtype: "int32" });
  return bind1(IX.ARGSORT, [a], { axis: normAxis("argsort", axis, a.ndim), descending });
}

/**
 * Sorts along `axis`. Differentiable as a permutation: the gradient flows to
 * the element that landed in each position.
 * @example nb.sort([3, 1, 2]); // array([1., 2., 3.])
 */
export function sort(x: ArrayLike, axis = -1, descending = false): NDArray {
  const a = asArray(x, "sort");
  boolArg("sort", "descending", descending);
  if (a.ndim === 0) return a;
  normAxis("sort", axis, a.ndim);
  if (a.size === 0) return a;
  return takeAlongAxis(a, argsort(a, axis, descending), axis);
}

/** Running sum along `axis` (flattened when omitted). @example nb.cumsum([1, 2, 3]); // array([1., 3., 6.]) */
export function cumsum(x: ArrayLike, axis?: number): NDArray {
  let a = asArray(x, "cumsum");
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    axis = 0;
  }
  if (a.dtype === "bool") a = W.convert(a, "int32");
  return W.cumsumPrim(a, normAxis("cumsum", axis, a.ndim), false);
}

/**
 * Running product along `axis`, as a log-depth scan of products (exact, and
 * differentiable, with zeros).
 * @example nb.cumprod([1, 2, 3]); // array([1., 2., 6.])
 */
export function cumprod(x: ArrayLike, axis?: number): NDArray {
  let a = asArray(x, "cumprod");
  if (axis === undefined || axis === null) {
    a = reshape(a, [-1]);
    axis = 0;
  }
  if (a.dtype === "bool") a = W.convert(a, "int32");
  const ax = normAxis("cumprod", axis, a.ndim);
  const n = elementAt(a.shape, ax, "cumprod");
  let y = a;
  for (let s = 1; s < n; s *= 2) {
    // y[i] *= y[i - s] for i >= s
    const ones = bind1(SH.BROADCAST, [W.convertTo(scalar(1, "float64", true), a.dtype)], {
      shape: a.shape.map((d, i) => (i === ax ? s : d)),
    });
    const end = a.shape.slice();
    end[ax] = n - s;
    const shifted = W.concatPrim(
      [
        ones,
        W.slicePrim(
          y,
          a.shape.map(() => 0),
          end,
        ),
      ],
      ax,
    );
    y = bind1(E.MUL, [y, shifted], {});
  }
  return y;
}
