/** Indexing primitives: gather and scatter-add along an axis, and sorting permutations. */
import { DTypeError, ShapeError, at, fmtShape } from "../core/errors.js";
import { NDArray } from "../core/ndarray.js";
import { shapesEqual, sizeOf } from "../core/shape.js";
import * as K from "../kernels/indexing.js";
import * as O from "./wrap.js";
import { BatchResult, Dim, batchAxis, batchedFront, moveFromFront, moveToFront, shiftAxes } from "./batching.js";
import { LinearRule, Rule, isLin } from "./rule.js";
import type { Params } from "./table.js";

/** Offsets that turn per-example indices into indices of the merged (batch, axis) axis: idx + b * size. */
export function offsetIndices(idxFront: NDArray, size: number): NDArray {
  const B = at(idxFront.shape, 0, "vmap");
  // normalise first (negative indices wrap, out-of-range clamp) so no index crosses into a neighbour's block
  idxFront = O.clip(O.where(O.less(idxFront, 0), O.add(idxFront, size), idxFront), 0, Math.max(size - 1, 0));
  const off = O.reshape(O.mul(O.iota(B), size), [B, ...idxFront.shape.slice(1).map(() => 1)]);
  return O.add(idxFront, off);
}

function gatherBatch(
  [x, i]: [NDArray, NDArray],
  [dx, di]: [Dim, Dim],
  { axis }: Params["gather"],
  size: number,
): BatchResult {
  if (di === null) return [[O.gatherPrim(moveToFront(x, batchAxis(dx, "gather")), i, axis + 1)], [0]];
  const idx = moveToFront(i, di);
  if (dx === null) return [[O.gatherPrim(x, idx, axis)], [axis]];
  // both batched: merge the batch axis into the gathered axis
  const xb = moveFromFront(moveToFront(x, dx), axis); // [pre, B, A, post]
  const A = at(xb.shape, axis + 1, "gather");
  const merged = O.reshape(xb, [...xb.shape.slice(0, axis), size * A, ...xb.shape.slice(axis + 2)]);
  return [[O.gatherPrim(merged, offsetIndices(idx, A), axis)], [axis]];
}

function scatterBatch(
  [u, i]: [NDArray, NDArray],
  [du = null, di = null]: [Dim, Dim],
  p: Params["scatter_add"],
  size: number,
): BatchResult {
  const { axis, size: len } = p;
  if (di === null) return [[O.scatterAddPrim(moveToFront(u, batchAxis(du, "scatter_add")), i, axis + 1, len)], [0]];
  const idx = moveToFront(i, di);
  const ub = moveFromFront(batchedFront(u, du, size), axis); // [pre, B, idx..., post]
  const out = O.scatterAddPrim(ub, offsetIndices(idx, len), axis, size * len); // [pre, B*len, post]
  return [[O.reshape(out, [...out.shape.slice(0, axis), size, len, ...out.shape.slice(axis + 1)])], [axis]];
}

// gather along an axis: out = x.shape[:axis] ++ idx.shape ++ x.shape[axis+1:]; linear in x
export const GATHER: LinearRule<Params["gather"], 2, 1> = {
  name: "gather",
  abstractEval([x, i], { axis }) {
    if (i.dtype !== "int32") throw new DTypeError(`take: indices must be int32, got ${i.dtype}`);
    if (axis < 0 || axis >= x.shape.length)
      throw new ShapeError(`take: axis ${axis} out of range for shape ${fmtShape(x.shape)}`);
    if (x.shape[axis] === 0 && sizeOf(i.shape) > 0)
      throw new ShapeError(`take: cannot take from empty axis ${axis} of shape ${fmtShape(x.shape)}`);
    return [
      {
        shape: [...x.shape.slice(0, axis), ...i.shape, ...x.shape.slice(axis + 1)],
        dtype: x.dtype,
        weak: x.weak,
      },
    ];
  },
  impl: ([x, i], { axis }) => [K.gather(x, i, axis)],
  jvp: ([, i], [dx = null], _o, { axis }) => [dx === null ? null : O.gatherPrim(dx, i, axis)],
  transpose([ct = null], [x, i], { axis }) {
    if (ct === null || !isLin(x)) return [null, null];
    return [O.scatterAddPrim(ct, i as NDArray, axis, at(x.aval.shape, axis, "gather")), null];
  },
  vmap: gatherBatch,
};

// adds u into zeros along an axis at idx (the transpose of gather); linear in u
export const SCATTER_ADD: LinearRule<Params["scatter_add"], 2, 1> = {
  name: "scatter_add",
  abstractEval([u, i], { axis, size }) {
    if (i.dtype !== "int32") throw new DTypeError(`scatterAdd: indices must be int32, got ${i.dtype}`);
    const k = i.shape.length;
    if (axis < 0 || axis + k > u.shape.length || !shapesEqual(u.shape.slice(axis, axis + k), i.shape))
      throw new ShapeError(
        `scatterAdd: updates ${fmtShape(u.shape)} do not match indices ${fmtShape(i.shape)} at axis ${axis}`,
      );
    return [{ shape: [...u.shape.slice(0, axis), size, ...u.shape.slice(axis + k)], dtype: u.dtype, weak: u.weak }];
  },
  impl: ([u, i], { axis, size }) => [K.scatterAdd(u, i, axis, size)],
  jvp: ([, i], [du = null], _o, { axis, size }) => [du === null ? null : O.scatterAddPrim(du, i, axis, size)],
  transpose([ct = null], [u, i], { axis }) {
    if (ct === null || !isLin(u)) return [null, null];
    return [O.gatherPrim(ct, i as NDArray, axis), null];
  },
  vmap: scatterBatch,
};

// stable sorting permutation (int32): no derivative
export const ARGSORT: Rule<Params["argsort"], 1, 1> = {
  name: "argsort",
  abstractEval([a], { axis }) {
    if (axis < 0 || axis >= a.shape.length)
      throw new ShapeError(`argsort: axis ${axis} out of range for shape ${fmtShape(a.shape)}`);
    return [{ shape: a.shape, dtype: "int32", weak: false }];
  },
  impl: ([x], { axis, descending }) => [K.argsort(x, axis, descending)],
  jvp: () => [null],
  vmap: shiftAxes(
    () => ARGSORT,
    ({ axis, descending }) => ({ axis: axis + 1, descending }),
  ),
};
