/** Functional index updates, JAX's `x.at[idx].set(v)`: `at(x, ...indices).set/add/mul/min/max(values)`, and `.get()`. */
import "./methods.js";
import { NablaError, ShapeError, at as elementAt, fmtShape, fmtValue } from "../core/errors.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import { broadcastShapes, shapesEqual, sizeOf } from "../core/shape.js";
import { scatterCombinePrim } from "../prims/scatter.js";
import * as W from "../prims/wrap.js";
import { asArray, indexArray, optionsArg } from "./validate.js";
import { floor } from "./elementwise.js";

/**
 * The updates of `at(x, ...indices)`: each returns a new array (x is never
 * changed) with `values`, broadcast to the indexed shape and cast to x's
 * dtype, combined into the indexed positions. Where an index repeats,
 * `add` sums every update, `mul` multiplies them all in, `min`/`max` take the
 * extremum of x and all of them, and `set` keeps the last one (the highest
 * position in the broadcast index order; JAX leaves this unspecified).
 * @example
 * const u: nb.IndexUpdate = nb.at(nb.zeros([3]), [0, 0, 2]);
 * u.add(1); // array([2., 0., 1.])
 */
export interface IndexUpdate {
  /**
   * Reads the addressed entries, x[i0, i1, ...] of shape
   * broadcast(indices) ++ x.shape[k:] (JAX's `x.at[idx].get()`). Negative
   * indices count from the end; indices still out of range follow `mode`:
   * "fill" (the default, as the updates drop them) gives `fillValue`
   * (default NaN for floats, -2^31 for int32, true for bool, as `take`),
   * "clip" the nearest end, "wrap" modulo the axis length.
   */
  get(options?: GetOptions): NDArray;
  /** Replaces the indexed entries by `values`. */
  set(values: ArrayLike): NDArray;
  /** Adds `values` (repeated indices accumulate). */
  add(values: ArrayLike): NDArray;
  /** Multiplies by `values` (repeated indices multiply together). */
  mul(values: ArrayLike): NDArray;
  /** Takes the minimum with `values`. */
  min(values: ArrayLike): NDArray;
  /** Takes the maximum with `values`. */
  max(values: ArrayLike): NDArray;
}

/**
 * Options of `at(x, ...indices).get`: out-of-range handling, as `take`'s `mode`, and the fill value.
 * @example const o: nb.GetOptions = { mode: "fill", fillValue: 0 };
 */
export interface GetOptions {
  /** "fill" (default), "clip" or "wrap". */
  mode?: "fill" | "clip" | "wrap";
  /** The value of filled entries (mode "fill"); default NaN, -2^31 for int32, true for bool. */
  fillValue?: number | boolean;
}

type Op = Exclude<keyof IndexUpdate, "get">;

/** What at(x, ...indices) addresses: x as rows [M, ...rest], flat row indices (0 where dropped), validity. */
interface Target {
  x: NDArray;
  ix: NDArray[]; // the int32 index arrays, as given
  rows: NDArray; // [M, ...rest]
  idx: NDArray; // [m] int32, in [0, M)
  valid: NDArray; // [m] bool: in range on every indexed axis
  indexShape: number[]; // the broadcast shape of the indices
  rest: number[];
}

function target(x: ArrayLike, indices: readonly ArrayLike[]): Target {
  const a = asArray(x, "at", "x");
  if (indices.length === 0)
    throw new NablaError(`at: give at least one index array (x has shape ${fmtShape(a.shape)})`);
  if (indices.length > a.ndim)
    throw new ShapeError(`at: ${indices.length} index arrays for x of shape ${fmtShape(a.shape)}`);
  const ix = indices.map((i) => indexArray(i, "at"));
  const S = broadcastShapes("at", ...ix.map((i) => i.shape));
  const k = ix.length;
  const lead = a.shape.slice(0, k);
  const rest = a.shape.slice(k);
  const M = sizeOf(lead);
  const m = sizeOf(S);
  // flat row = Σ_a j_a · stride_a with j_a = i_a (+ n_a if negative); dropped unless 0 <= j_a < n_a on every axis
  let flat: NDArray = W.zeros(S, "int32");
  let valid: NDArray = W.full(S, 1, "bool");
  let stride = M;
  ix.forEach((i, d) => {
    const n = elementAt(lead, d, "at");
    stride /= n || 1;
    const j = W.where(W.less(i, 0), W.add(i, n), i);
    valid = W.selectPrim(W.selectPrim(W.greaterEqual(j, 0), W.less(j, n), false), valid, false);
    flat = W.add(flat, W.mul(j, stride));
  });
  const idx = W.reshape(W.where(valid, flat, 0), [m]);
  return { x: a, ix, rows: W.reshape(a, [M, ...rest]), idx, valid: W.reshape(valid, [m]), indexShape: S, rest };
}

function update(t: Target, op: Op, values: ArrayLike): NDArray {
  const fn = `at.${op}`;
  const want = [...t.indexShape, ...t.rest];
  let v = W.astype(asArray(values, fn, "values"), t.x.dtype);
  if (!shapesEqual(broadcastShapes(fn, v.shape, want), want))
    throw new ShapeError(
      `${fn}: values of shape ${fmtShape(v.shape)} do not broadcast to the indexed shape ${fmtShape(want)}`,
    );
  const M = elementAt(t.rows.shape, 0, fn);
  const m = elementAt(t.idx.shape, 0, fn);
  if (M === 0 || m === 0) return t.x;
  v = W.reshape(W.broadcastPrim(v, want), [m, ...t.rest]);
  const perRow = (c: NDArray, like: NDArray) =>
    W.reshape(c, [elementAt(c.shape, 0, fn), ...like.shape.slice(1).map(() => 1)]);
  const valid = perRow(t.valid, v);
  const dtype = t.x.dtype;
  // bool: add is logical or (max), mul is logical and (min)
  const kind = dtype === "bool" && (op === "add" || op === "mul") ? (op === "add" ? "max" : "min") : op;
  let out: NDArray;
  if (kind === "add") out = W.add(t.rows, W.scatterAddPrim(W.selectPrim(valid, v, 0), t.idx, 0, M));
  else if (kind === "set") {
    // the last valid update of each row wins: last[r] = max position j writing row r (-1: none)
    const pos = W.iota(m);
    const last = scatterCombinePrim("max", W.full([M], -1, "int32"), t.idx, W.selectPrim(t.valid, pos, -1));
    const winner = W.selectPrim(t.valid, W.equal(W.gatherPrim(last, t.idx, 0), pos), false);
    const written = W.scatterAddPrim(W.selectPrim(perRow(winner, v), v, 0), t.idx, 0, M);
    out = W.selectPrim(perRow(W.greaterEqual(last, 0), t.rows), written, t.rows);
  } else {
    // dropped updates become the identity of the combination
    const id =
      kind === "mul"
        ? 1
        : dtype === "int32"
          ? kind === "min"
            ? 2 ** 31 - 1
            : -(2 ** 31)
          : kind === "min"
            ? Infinity
            : -Infinity;
    const neutral = dtype === "bool" ? (kind === "min" ? 1 : 0) : id;
    out = scatterCombinePrim(kind, t.rows, t.idx, W.selectPrim(valid, v, W.full([], neutral, dtype)));
  }
  return W.reshape(out, t.x.shape);
}

/** at(...).get: a gather of the rows at the flat row indices, each axis's index reduced by `mode`. */
function get(t: Target, options: unknown): NDArray {
  const o = optionsArg("at.get", options, ["mode", "fillValue"]);
  const mode = o.mode ?? "fill";
  if (mode !== "fill" && mode !== "clip" && mode !== "wrap")
    throw new NablaError(`at.get: mode must be "fill", "clip" or "wrap", got ${fmtValue(mode)}`);
  const dtype = t.x.dtype;
  const fill = o.fillValue ?? (dtype === "bool" ? true : dtype === "int32" ? -(2 ** 31) : NaN);
  if (typeof fill !== "number" && typeof fill !== "boolean")
    throw new NablaError(`at.get: fillValue must be a number or a boolean, got ${fmtValue(fill)}`);
  if (mode !== "fill" && o.fillValue !== undefined)
    throw new NablaError(`at.get: fillValue applies to mode "fill" only (mode is ${JSON.stringify(mode)})`);
  const S = t.indexShape;
  const k = t.ix.length;
  const lead = t.x.shape.slice(0, k);
  const outShape = [...S, ...t.rest];
  const M = elementAt(t.rows.shape, 0, "at.get");
  if (sizeOf(S) === 0) return W.full(outShape, 0, dtype);
  if (M === 0) {
    if (mode !== "fill")
      throw new ShapeError(
        `at.get: cannot ${mode} indices into x of shape ${fmtShape(t.x.shape)} (an empty indexed axis)`,
      );
    return W.astype(W.full(outShape, Number(fill), "float64"), dtype);
  }
  let flat: NDArray = W.zeros(S, "int32");
  let valid: NDArray = W.full(S, 1, "bool");
  let stride = M;
  t.ix.forEach((i, d) => {
    const n = elementAt(lead, d, "at.get");
    stride /= n;
    let j: NDArray;
    if (mode === "wrap") {
      // i - n·floor(i / n), exact in float64 for int32 indices
      const q = W.convert(i, "float64");
      j = W.astype(W.sub(q, W.mul(floor(W.div(q, n)), n)), "int32");
    } else {
      j = W.where(W.less(i, 0), W.add(i, n), i);
      if (mode === "fill") valid = W.selectPrim(W.selectPrim(W.greaterEqual(j, 0), W.less(j, n), false), valid, false);
      j = W.clip(j, 0, n - 1);
    }
    flat = W.add(flat, W.mul(W.broadcastPrim(j, S), stride));
  });
  const rows = W.reshape(W.gatherPrim(t.rows, W.reshape(flat, [sizeOf(S)]), 0), outShape);
  if (mode !== "fill") return rows;
  const mask = W.reshape(valid, [...S, ...t.rest.map(() => 1)]);
  return W.selectPrim(mask, rows, W.astype(W.full([], Number(fill), "float64"), dtype));
}

/**
 * A functional index update of `x` (JAX's `x.at[...]`): `at(x, i)` addresses
 * the rows x[i] of the leading axis at the integer indices `i` (an array of
 * any shape); `at(x, i0, i1, ...)` addresses x[i0, i1, ...], the index
 * arrays broadcast together (so `at(m, 1, 2)` is the single element m[1, 2]).
 * Negative indices count from the end; updates at indices still out of range
 * are dropped, as JAX's default. The addressed shape is
 * broadcast(indices) ++ x.shape[k:]. Differentiable in x and in the values
 * to every order (`add` and `set` scatter-add, whose transpose is a gather;
 * `min`/`max` share the derivative among ties as JAX; `mul` differentiates
 * through the product of the other updates of each position, with no
 * division, so it is exact at zero updates to every order) and batchable,
 * indices included.
 * @example nb.at(nb.zeros([4]), [1, 3]).set([5, 6]); // array([0., 5., 0., 6.])
 * @example nb.at(nb.zeros([2, 2]), 1, 0).add(7); // array([[0., 0.], [7., 0.]])
 * @example nb.at(nb.array([1, 5, 3]), [0, 0, 2]).max([4, 2, 9]); // array([4., 5., 9.])
 * @example nb.at(nb.array([1, 5, 3]), [2, 5]).get({ mode: "clip" }); // array([3., 3.])
 */
export function at(x: ArrayLike, ...indices: ArrayLike[]): IndexUpdate {
  const t = target(x, indices);
  return {
    get: (options) => get(t, options),
    set: (values) => update(t, "set", values),
    add: (values) => update(t, "add", values),
    mul: (values) => update(t, "mul", values),
    min: (values) => update(t, "min", values),
    max: (values) => update(t, "max", values),
  };
}
