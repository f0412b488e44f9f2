/**
 * Strided indexing, shared by every kernel that reads or writes through
 * strides (broadcasting, transposes, slices, padding, reductions), and the
 * walk over the lines of one axis.
 */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes and strides are read with `at` or
// copied into typed arrays before the loops.
import { at } from "../core/errors.js";
import { Shape, sizeOf, stridesOf } from "../core/shape.js";
import type { TypedArray } from "../core/dtype.js";

/** Strides of `inShape` aligned to `outShape` (0 on broadcast axes). */
export function bcastStrides(inShape: Shape, outShape: Shape): number[] {
  const out = new Array<number>(outShape.length - inShape.length).fill(0);
  for (const [i, s] of stridesOf(inShape).entries()) out.push(inShape[i] === 1 ? 0 : s);
  return out;
}

/** Strides of one operand (one per axis of the walked shape). */
type Strides = readonly number[];

/**
 * Walks the row-major positions of `shape` one innermost row at a time, for
 * one to three operands read (or written) through their own strides: calls
 * `visit(len, p0, p1, p2)` for each row, where `len` is the row's length and
 * `pq` operand q's flat offset of the row's first element
 * (`Σ idx[k] * strides[q][k]`, plus `base` for operand 0; 0 for an operand not
 * given); within the row operand q advances by its last stride.
 */
export function stridedRuns(
  shape: Shape,
  strides: readonly [Strides] | readonly [Strides, Strides] | readonly [Strides, Strides, Strides],
  visit: (len: number, p0: number, p1: number, p2: number) => void,
  base = 0,
): void {
  const nd = shape.length;
  if (nd === 0) {
    visit(1, base, 0, 0);
    return;
  }
  const len = at(shape, nd - 1, "stridedRuns");
  if (len === 0) return;
  const rows = sizeOf(shape) / len;
  // per operand: its strides, and the step back after a full turn of each axis (offsets stay
  // below the operands' sizes, at most MAX_SIZE = 2³¹ - 1, so int32 holds them)
  const [s0, s1, s2] = strides;
  const zero = new Int32Array(nd);
  const st0 = Int32Array.from(s0);
  const st1 = s1 === undefined ? zero : Int32Array.from(s1);
  const st2 = s2 === undefined ? zero : Int32Array.from(s2);
  const back = (st: Int32Array) => st.map((v, a) => v * at(shape, a, "stridedRuns"));
  const bk0 = back(st0);
  const bk1 = back(st1);
  const bk2 = back(st2);
  const dims = Int32Array.from(shape);
  const idx = new Int32Array(nd);
  let p0 = base;
  let p1 = 0;
  let p2 = 0;
  if (s1 === undefined) {
    // one operand (copies, broadcasts, reductions): the same walk without the unused offsets
    for (let r = 0; r < rows; r++) {
      visit(len, p0, 0, 0);
      for (let a = nd - 2; a >= 0; a--) {
        p0 += st0[a]!;
        if (++idx[a]! < dims[a]!) break;
        p0 -= bk0[a]!;
        idx[a] = 0;
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    visit(len, p0, p1, p2);
    for (let a = nd - 2; a >= 0; a--) {
      p0 += st0[a]!;
      p1 += st1[a]!;
      p2 += st2[a]!;
      if (++idx[a]! < dims[a]!) break;
      p0 -= bk0[a]!;
      p1 -= bk1[a]!;
      p2 -= bk2[a]!;
      idx[a] = 0;
    }
  }
}

/** The stride of the innermost axis (0 for rank 0). */
export function lastStride(strides: readonly number[]): number {
  return strides.length === 0 ? 0 : at(strides, strides.length - 1, "lastStride");
}

/** Calls `f(base, stride, len)` for every line of `shape` along `axis`. */
export function axisLoop(shape: Shape, axis: number, f: (base: number, stride: number, len: number) => void): void {
  const pre = sizeOf(shape.slice(0, axis));
  const len = at(shape, axis, "axisLoop");
  const post = sizeOf(shape.slice(axis + 1));
  for (let p = 0; p < pre; p++) for (let q = 0; q < post; q++) f(p * len * post + q, post, len);
}

/**
 * The walk over `shape` with unit axes dropped and adjacent axes merged where every operand
 * steps through them as through one axis (`strides[q][a] === strides[q][a + 1] * shape[a + 1]`
 * for each operand q; a broadcast axis pair has stride 0 twice): the same positions in the same
 * row-major order, with fewer and longer rows. Returns the merged extents and, per operand, its
 * strides over them (rank 0 when the shape has one element).
 */
export function collapse(shape: Shape, strides: readonly Strides[]): { dims: number[]; strides: number[][] } {
  const dims: number[] = [];
  const out: number[][] = strides.map(() => []);
  for (const [a, d] of shape.entries()) {
    if (d === 1) continue;
    const last = dims.length - 1;
    const merge =
      last >= 0 &&
      strides.every((s, q) => {
        const prev = at(at(out, q, "collapse"), last, "collapse");
        return prev === at(s, a, "collapse") * d;
      });
    if (merge) {
      dims[last] = at(dims, last, "collapse") * d;
      strides.forEach((s, q) => {
        const o = at(out, q, "collapse");
        o[last] = at(s, a, "collapse");
      });
    } else {
      dims.push(d);
      strides.forEach((s, q) => at(out, q, "collapse").push(at(s, a, "collapse")));
    }
  }
  return { dims, strides: out };
}

/** Three extents, or three strides. */
export type Triple = [number, number, number];

/**
 * The collapsed walk (see {@link collapse}) padded with leading unit axes to rank 3, or null when it
 * has more than three axes: extents [d0, d1, d2] and per operand strides [s0, s1, s2].
 */
export function walk3(shape: Shape, strides: readonly Strides[]): { dims: Triple; strides: Triple[] } | null {
  const c = collapse(shape, strides);
  if (c.dims.length > 3) return null;
  const pad3 = (xs: readonly number[], fill: number): Triple => {
    const [a = fill, b = fill, c = fill] = [...new Array<number>(3 - xs.length).fill(fill), ...xs];
    return [a, b, c];
  };
  return { dims: pad3(c.dims, 1), strides: c.strides.map((s) => pad3(s, 0)) };
}

/**
 * out[o++] = d[base + i0 * s0 + i1 * s1 + i2 * s2] over the row-major positions of `shape`, read
 * through the operand strides `strides` (one per axis of `shape`): a copy through strides
 * (broadcasts, transposes, slices). Three nested loops when the collapsed walk has at most three
 * axes, else the row walk.
 */
export function gather(d: TypedArray, out: TypedArray, shape: Shape, strides: Strides, base = 0): void {
  const w = walk3(shape, [strides]);
  if (w === null) {
    const step = lastStride(strides);
    let o = 0;
    stridedRuns(
      shape,
      [strides],
      (len, p) => {
        for (let j = 0; j < len; j++, p += step) out[o++] = d[p]!;
      },
      base,
    );
    return;
  }
  const [n0, n1, n2] = w.dims;
  const [s0, s1, s2] = at(w.strides, 0, "gather");
  let o = 0;
  if ((s0 === 0 && n0 > 1) || (s1 === 0 && n1 > 1 && n2 >= 16)) {
    // a broadcast along a leading axis (a row or block read over and over): each distinct row
    // gathered once, then copied to its repeats by doubling (issue 8: W4 tiles [199] to [200, 199])
    const rows = s0 === 0 ? 1 : n0;
    const block = n1 * n2;
    for (let i0 = 0, p0 = base; i0 < rows; i0++, p0 += s0) {
      const start = i0 * block;
      if (s1 === 0) {
        gatherRow(d, out, start, p0, n2, s2);
        repeatWithin(out, start, n2, block);
      } else for (let i1 = 0; i1 < n1; i1++) gatherRow(d, out, start + i1 * n2, p0 + i1 * s1, n2, s2);
    }
    if (s0 === 0) repeatWithin(out, 0, block, n0 * block);
    return;
  }
  if (s2 === 1 && n2 >= 32)
    // long contiguous rows: block copies
    for (let i0 = 0, p0 = base; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1, o += n2) out.set(d.subarray(p1, p1 + n2), o);
  else if (s2 === 1)
    for (let i0 = 0, p0 = base; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1) for (let p = p1, e = p1 + n2; p < e; p++) out[o++] = d[p]!;
  else if (s2 === 0 && n2 >= 16)
    // long constant rows: filled
    for (let i0 = 0, p0 = base; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1) out.fill(d[p1]!, o, (o += n2));
  else if (s2 === 0)
    for (let i0 = 0, p0 = base; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1) {
        const v = d[p1]!;
        for (let i2 = 0; i2 < n2; i2++) out[o++] = v;
      }
  else
    for (let i0 = 0, p0 = base; i0 < n0; i0++, p0 += s0)
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1)
        for (let i2 = 0, p = p1; i2 < n2; i2++, p += s2) out[o++] = d[p]!;
}

/** out[o + j] = d[p + j·step] for j < len. */
function gatherRow(d: TypedArray, out: TypedArray, o: number, p: number, len: number, step: number): void {
  if (step === 1 && len >= 32) out.set(d.subarray(p, p + len), o);
  else if (step === 0) out.fill(at(d, p, "gather"), o, o + len);
  else for (let j = 0; j < len; j++, p += step) out[o + j] = d[p]!;
}

/** Fills out[start + len, start + total) with repeats of out[start, start + len), doubling the copied run. */
function repeatWithin(out: TypedArray, start: number, len: number, total: number): void {
  let have = len;
  while (have < total) {
    const k = Math.min(have, total - have);
    out.copyWithin(start + have, start, start + k);
    have += k;
  }
}
