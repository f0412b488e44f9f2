/** Indexing kernels: gather and scatter-add along an axis, and sorting permutations. */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes and parameters are read with `at`
// before the loops.
import { at } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { allocate } from "../core/dtype.js";
import { sizeOf } from "../core/shape.js";
import { axisLoop } from "./strided.js";

/** out = x.shape[:axis] + idx.shape + x.shape[axis+1:]; negative indices wrap, out-of-range clamp. */
export function gather(x: ConcreteArray, idx: ConcreteArray, axis: number): ConcreteArray {
  const pre = sizeOf(x.shape.slice(0, axis));
  const A = at(x.shape, axis, "gather");
  const post = sizeOf(x.shape.slice(axis + 1));
  const ix = storageOf(idx);
  const m = ix.length;
  const outShape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  const out = allocate(x.dtype, pre * m * post);
  const d = storageOf(x);
  for (let p = 0; p < pre; p++)
    for (let j = 0; j < m; j++) {
      const k = clampIndex(ix[j]!, A);
      const src = (p * A + k) * post;
      const dst = (p * m + j) * post;
      for (let q = 0; q < post; q++) out[dst + q] = d[src + q]!;
    }
  return new ConcreteArray(out, outShape, x.dtype);
}

function clampIndex(i: number, n: number): number {
  if (i < 0) i += n;
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/** Adds u (shape pre + idx.shape + post) into zeros of shape pre + [size] + post at the indices (the transpose of gather). */
export function scatterAdd(u: ConcreteArray, idx: ConcreteArray, axis: number, size: number): ConcreteArray {
  const pre = sizeOf(u.shape.slice(0, axis));
  const ix = storageOf(idx);
  const m = ix.length;
  const postShape = u.shape.slice(axis + idx.shape.length);
  const post = sizeOf(postShape);
  const outShape = [...u.shape.slice(0, axis), size, ...postShape];
  const acc = new Float64Array(pre * size * post);
  const d = storageOf(u);
  if (size > 0)
    for (let p = 0; p < pre; p++)
      for (let j = 0; j < m; j++) {
        const k = clampIndex(ix[j]!, size);
        const dst = (p * size + k) * post;
        const src = (p * m + j) * post;
        for (let q = 0; q < post; q++) acc[dst + q]! += d[src + q]!;
      }
  const out = allocate(u.dtype, acc.length);
  out.set(acc);
  return new ConcreteArray(out, outShape, u.dtype);
}

/**
 * Stable argsort along an axis; descending keeps ties in original order. NaNs go last ascending and
 * first descending (as JAX, which reverses the ascending order, and torch: NaN above +Infinity).
 */
export function argsort(x: ConcreteArray, axis: number, descending: boolean): ConcreteArray {
  const out = new Int32Array(storageOf(x).length);
  const d = storageOf(x);
  axisLoop(x.shape, axis, (b, s, n) => {
    const ix = Array.from({ length: n }, (_, i) => i);
    const key = (i: number) => d[b + i * s]!;
    ix.sort((i, j) => {
      const a = key(i);
      const c = key(j);
      const an = Number.isNaN(a);
      const cn = Number.isNaN(c);
      if (an || cn) return an && cn ? i - j : (an ? 1 : -1) * (descending ? -1 : 1);
      const r = descending ? c - a : a - c;
      return r !== 0 ? r : i - j;
    });
    ix.forEach((src, i) => {
      out[b + i * s] = src;
    });
  });
  return new ConcreteArray(out, x.shape, "int32");
}

// opsB (issue 9): combining scatters

/** How a combining scatter merges an update into the operand. */
export type ScatterCombine = "mul" | "min" | "max";

/**
 * out = x (shape [M, ...R]) with every row u[j] (u: [m, ...R]) combined into
 * row idx[j] by `op`; negative indices wrap, out-of-range ones clamp (as gather).
 */
export function scatterCombine(
  x: ConcreteArray,
  idx: ConcreteArray,
  u: ConcreteArray,
  op: ScatterCombine,
): ConcreteArray {
  const M = at(x.shape, 0, `scatter_${op}`);
  const R = sizeOf(x.shape.slice(1));
  const ix = storageOf(idx);
  const m = ix.length;
  const out = allocate(x.dtype, storageOf(x).length);
  out.set(storageOf(x));
  const d = storageOf(u);
  const f =
    op === "min"
      ? Math.min
      : op === "max"
        ? Math.max
        : x.dtype === "int32"
          ? Math.imul
          : (a: number, b: number) => a * b;
  if (M > 0)
    for (let j = 0; j < m; j++) {
      const dst = clampIndex(ix[j]!, M) * R;
      const src = j * R;
      for (let q = 0; q < R; q++) out[dst + q] = f(out[dst + q]!, d[src + q]!);
    }
  return new ConcreteArray(out, x.shape, x.dtype);
}
