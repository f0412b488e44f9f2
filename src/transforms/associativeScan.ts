/**
 * `associativeScan` (JAX's `lax.associative_scan`): all prefix combinations
 * of an associative function along an axis, by the odd–even recursion
 * (Blelloch's parallel prefix): combine neighbouring pairs, scan the n/2
 * pair results recursively (those are the odd positions' prefixes), then one
 * more combination gives the even positions'. O(log n) sequential steps of
 * whole-array operations and O(n) applications of `fn` in total. Written with
 * differentiable, batchable operations, so every transform applies.
 */
import { NablaError, ShapeError, fmtShape, at } from "../core/errors.js";
import { NDArray } from "../core/ndarray.js";
import { TreeDef, describe } from "../core/pytree.js";
import { normAxis, shapesEqual } from "../core/shape.js";
import { concatenate, flip, reshape, slice, stack } from "../ops/index.js";
import { fnArg, flattenToArrays, readOptions, unflatten } from "./common.js";
import type { ArraysOf } from "../core/types.js";

const OP = "associativeScan";

/** Elements [start, end) of x along `axis`. */
function range(x: NDArray, axis: number, start: number, end: number): NDArray {
  const b = x.shape.map(() => 0);
  const e = x.shape.slice();
  b[axis] = start;
  e[axis] = end;
  return slice(x, b, e);
}

/** [elements 0, 2, 4, …, elements 1, 3, 5, …] of the first 2m elements along `axis` (stride-2 views by a reshape). */
function pairs(x: NDArray, axis: number, m: number): [NDArray, NDArray] {
  const head = range(x, axis, 0, 2 * m);
  const split = [...x.shape.slice(0, axis), m, 2, ...x.shape.slice(axis + 1)];
  const y = reshape(head, split);
  const pick = (k: number): NDArray => {
    const r = range(y, axis + 1, k, k + 1);
    return reshape(r, [...x.shape.slice(0, axis), m, ...x.shape.slice(axis + 1)]);
  };
  return [pick(0), pick(1)];
}

/** Interleaves e (length k or k + 1) and o (length k) along `axis`: e0 o0 e1 o1 … */
function interleave(e: NDArray, o: NDArray, axis: number): NDArray {
  const k = at(o.shape, axis, "interleave");
  const ek = range(e, axis, 0, k);
  const both = stack([ek, o], axis + 1);
  const merged = reshape(both, [...o.shape.slice(0, axis), 2 * k, ...o.shape.slice(axis + 1)]);
  return e.shape[axis] === k ? merged : concatenate([merged, range(e, axis, k, k + 1)], axis);
}

type Combine = (a: NDArray[], b: NDArray[]) => NDArray[];

/** The inclusive prefix combination of every leaf along `axis` (all leaves have length n there). */
function prefix(fn: Combine, xs: NDArray[], axis: number): NDArray[] {
  const n = at(at(xs, 0, "associativeScan").shape, axis, "associativeScan");
  if (n < 2) return xs;
  const m = Math.floor(n / 2);
  const ps = xs.map((x) => pairs(x, axis, m));
  // reduced[j] = x[2j] ∘ x[2j+1]; its prefixes are the prefixes of x at the odd positions 2j+1
  const odd = prefix(
    fn,
    fn(
      ps.map((p) => p[0]),
      ps.map((p) => p[1]),
    ),
    axis,
  );
  // prefix at 2j (j ≥ 1) = prefix at 2j−1 ∘ x[2j]
  const nEven = Math.ceil(n / 2) - 1;
  let even: NDArray[];
  if (nEven === 0) even = xs.map((x) => range(x, axis, 0, 1));
  else {
    const later = xs.map((x) => pairs(range(x, axis, 1, 1 + 2 * nEven), axis, nEven)[1]);
    const rest = fn(
      odd.map((o) => range(o, axis, 0, nEven)),
      later,
    );
    even = xs.map((x, i) => concatenate([range(x, axis, 0, 1), at(rest, i, "associativeScan")], axis));
  }
  return even.map((e, i) => interleave(e, at(odd, i, "associativeScan"), axis));
}

/**
 * All prefix combinations of an associative `fn` along `axis` (default 0):
 * `out[i] = elems[0] ∘ elems[1] ∘ … ∘ elems[i]` where `a ∘ b = fn(a, b)`.
 * `elems` is a pytree of arrays with the same length along `axis`; `fn`
 * takes and returns pytrees of that structure and must be elementwise
 * along `axis` (it is applied to many slices at once). With `reverse`,
 * the scan runs from the end: `out[i] = elems[n−1] ∘ … ∘ elems[i]` (JAX's
 * convention: the axis is flipped, scanned and flipped back). Computed as a
 * parallel prefix in O(log n) steps; differentiable and batchable.
 * @example
 * nb.associativeScan(nb.add, nb.array([1, 2, 3, 4])); // array([ 1.,  3.,  6., 10.])
 */
export function associativeScan<T>(
  fn: (a: ArraysOf<T>, b: ArraysOf<T>) => unknown,
  elems: T,
  options: { axis?: number; reverse?: boolean } = {},
): ArraysOf<T> {
  fn = fnArg(OP, fn);
  const o = readOptions(OP, options);
  if (Object.getPrototypeOf(options) !== Object.prototype)
    throw new NablaError(`${OP}: options must be a plain object, got ${describe(options)}`);
  const unknown = Object.keys(o).filter((k) => k !== "axis" && k !== "reverse");
  if (unknown.length > 0) throw new NablaError(`${OP}: unknown option(s) ${unknown.join(", ")} (axis, reverse)`);
  if (o.reverse !== undefined && typeof o.reverse !== "boolean")
    throw new NablaError(`${OP}: reverse must be a boolean, got ${describe(o.reverse)}`);
  const [xs, def] = flattenToArrays(elems, OP, "elems");
  if (xs.length === 0) throw new ShapeError(`${OP}: elems has no arrays`);
  const first = at(xs, 0, "associativeScan");
  if (first.ndim === 0) throw new ShapeError(`${OP}: elems must have at least one axis, got shape []`);
  const axis = normAxis(OP, o.axis ?? 0, first.ndim);
  const n = at(first.shape, axis, "associativeScan");
  xs.forEach((x, i) => {
    if (x.ndim <= axis || x.shape[axis] !== n)
      throw new ShapeError(
        `${OP}: every leaf of elems needs length ${n} along axis ${axis} (leaf 0 has shape ${fmtShape(first.shape)}), leaf ${i} has shape ${fmtShape(x.shape)}`,
      );
  });
  const combine = combiner(fn, def);
  const ins = o.reverse ? xs.map((x) => flip(x, axis)) : xs;
  const outs = prefix(combine, ins, axis);
  return unflatten(def, o.reverse ? outs.map((x) => flip(x, axis)) : outs) as ArraysOf<T>;
}

/** The user's fn over flat leaf lists, checked to keep the structure and shapes (it must be elementwise). */
function combiner(fn: (a: any, b: any) => unknown, def: TreeDef): Combine {
  return (a, b) => {
    const [out, odef] = flattenToArrays(fn(unflatten(def, a), unflatten(def, b)), OP, "fn's output");
    if (!odef.equals(def)) throw new ShapeError(`${OP}: fn returned structure ${odef}, expected ${def}`);
    out.forEach((y, i) => {
      if (!shapesEqual(y.shape, at(a, i, "associativeScan").shape))
        throw new ShapeError(
          `${OP}: fn returned shape ${fmtShape(y.shape)} for leaf ${i}, expected ${fmtShape(at(a, i, "associativeScan").shape)} (fn must be elementwise along the axis)`,
        );
    });
    return out;
  };
}
