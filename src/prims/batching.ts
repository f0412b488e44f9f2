/**
 * Batching rules shared by rows of the primitive table. A rule receives the
 * operands with their batch axis (`null` = not batched) and returns outputs
 * with theirs. Most rules move the batch axis to the front and shift the
 * primitive's axis parameters by one.
 *
 * The shared rules re-bind the primitive they batch, which is given as a
 * function returning its row: the row is still being defined when its
 * batching rule is made.
 */
import { NablaError, at } from "../core/errors.js";
import { NDArray } from "../core/ndarray.js";
import { BatchResult, Dim, Rule, bind } from "../core/trace.js";
import { broadcastPrim, reshape, transposePrim } from "./wrap.js";

export type { BatchResult, Dim };

/**
 * The batch axis of an operand that the caller knows is batched (the only
 * operand of a unary row, or the other operand when this one is not): a
 * null here is a bug in nabla, reported as one naming the primitive.
 */
export function batchAxis(d: Dim, prim: string): number {
  if (d === null) throw new NablaError(`${prim}: internal: batching rule called with no batched operand`);
  return d;
}

/** Moves axis `d` of `x` to the front. */
export function moveToFront(x: NDArray, d: number): NDArray {
  if (d === 0) return x;
  const perm = x.shape.map((_, i) => i).filter((i) => i !== d);
  return transposePrim(x, [d, ...perm]);
}

/** Moves the front axis of `x` to position `d`. */
export function moveFromFront(x: NDArray, d: number): NDArray {
  if (d === 0) return x;
  const rest = x.shape.map((_, i) => i).slice(1);
  const perm = [...rest.slice(0, d), 0, ...rest.slice(d)];
  return transposePrim(x, perm);
}

/** The operand with its batch axis in front, materialising one of `size` when it has none. */
export function batchedFront(x: NDArray, d: Dim, size: number): NDArray {
  return d === null ? broadcastPrim(x, [size, ...x.shape]) : moveToFront(x, d);
}

/** Elementwise primitives (implicit broadcasting): batch axis in front, core ranks aligned. */
export function elementwise<P>(row: () => Rule<P>) {
  return (args: NDArray[], dims: Dim[], params: P): BatchResult => {
    const rank = Math.max(...args.map((a, i) => a.ndim - (dims[i] === null ? 0 : 1)));
    const xs = args.map((a, i) => {
      const d = at(dims, i, "vmap");
      if (d === null) return a;
      const x = moveToFront(a, d);
      const core = x.shape.slice(1);
      return core.length === rank
        ? x
        : reshape(x, [at(x.shape, 0, "vmap"), ...new Array<number>(rank - core.length).fill(1), ...core]);
    });
    return [bind(row(), xs, params), [0]];
  };
}

/** Unary primitives that keep the shape: the batch axis stays where it is. */
export function passThrough<P>(row: () => Rule<P>) {
  return ([x]: [NDArray], [d]: [number], params: P): BatchResult => [bind(row(), [x], params), [d]];
}

/** Primitives with one operand whose params name axes: batch in front, axes shifted by one. */
export function shiftAxes<P>(row: () => Rule<P>, shift: (p: P, size: number) => P) {
  return ([x]: [NDArray], [d]: [number], params: P, size: number): BatchResult => [
    bind(row(), [moveToFront(x, d)], shift(params, size)),
    [0],
  ];
}
