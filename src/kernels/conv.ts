/**
 * The general convolution kernel (channels first): x [N, C, ...in] and
 * w [O, C/G, ...k] give [N, O, ...out]. Each spatial axis has a window
 * stride, low/high padding (negative crops), an input ("lhs") dilation and a
 * kernel ("rhs") dilation; G feature groups split C and O. Computed as
 * im2col (a gather table shared by every example and channel) times the
 * kernel matrix, by the matrix-product kernel (WebAssembly SIMD when
 * available; float32 then accumulates in float32, as `matmul` does).
 */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes and the geometry are read with `at`,
// and copied into typed arrays where a loop walks them.
import { at } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, allocate } from "../core/dtype.js";
import { sizeOf, stridesOf } from "../core/shape.js";
import { matmul } from "./matmul.js";

/** The geometry of a convolution: one entry per spatial axis, plus the feature group count. */
export interface ConvGeometry {
  strides: readonly number[];
  lo: readonly number[];
  hi: readonly number[];
  lhsDilation: readonly number[];
  rhsDilation: readonly number[];
  groups: number;
}

/** The sizes of a convolution of x [N, C, ...in] with w [O, C/G, ...k]. */
export interface ConvDims {
  readonly N: number;
  readonly C: number;
  readonly O: number;
  readonly Cg: number;
  /** The input's and the kernel's spatial extents. */
  readonly inS: number[];
  readonly kS: number[];
}

/** The sizes of a convolution with operand shapes `xShape` and `wShape` (ranks checked by the caller). */
export function convDims(xShape: readonly number[], wShape: readonly number[]): ConvDims {
  return {
    N: at(xShape, 0, "conv"),
    C: at(xShape, 1, "conv"),
    O: at(wShape, 0, "conv"),
    Cg: at(wShape, 1, "conv"),
    inS: xShape.slice(2),
    kS: wShape.slice(2),
  };
}

/** The geometry of spatial axis `d`: window stride, padding, input and kernel dilations. */
export function convAxis(
  g: ConvGeometry,
  d: number,
): { stride: number; lo: number; hi: number; lhsDilation: number; rhsDilation: number } {
  return {
    stride: at(g.strides, d, "conv"),
    lo: at(g.lo, d, "conv"),
    hi: at(g.hi, d, "conv"),
    lhsDilation: at(g.lhsDilation, d, "conv"),
    rhsDilation: at(g.rhsDilation, d, "conv"),
  };
}

/** Extent of n points spaced d apart: (n - 1)·d + 1, or 0 for n = 0. */
export const dilated = (n: number, d: number): number => (n === 0 ? 0 : (n - 1) * d + 1);

/** Spatial output extents: floor((dil(I, ld) + lo + hi - dil(k, rd)) / s) + 1, at least 0. */
export function convOutSpatial(inS: readonly number[], kS: readonly number[], g: ConvGeometry): number[] {
  return inS.map((I, d) => {
    const span =
      dilated(I, at(g.lhsDilation, d, "conv")) +
      at(g.lo, d, "conv") +
      at(g.hi, d, "conv") -
      dilated(at(kS, d, "conv"), at(g.rhsDilation, d, "conv"));
    return span < 0 ? 0 : Math.floor(span / at(g.strides, d, "conv")) + 1;
  });
}

/**
 * table[kk·P + p]: the flat spatial input offset read by kernel position kk
 * at output position p, or -1 where it falls in padding or between dilated
 * input points.
 */
function windowTable(inS: readonly number[], kS: readonly number[], outS: readonly number[], g: ConvGeometry) {
  const nd = inS.length;
  const KV = sizeOf(kS);
  const P = sizeOf(outS);
  const ks = Int32Array.from(kS);
  const os = Int32Array.from(outS);
  const inStride = Int32Array.from(stridesOf(inS));
  // per axis d: idx[first[d] + o·k + j] = input index at output o, kernel tap j (or -1)
  const first = new Int32Array(nd);
  let total = 0;
  for (let d = 0; d < nd; d++) {
    first[d] = total;
    total += os[d]! * ks[d]!;
  }
  const idx = new Int32Array(total);
  for (const [d, I] of inS.entries()) {
    const k = at(kS, d, "conv");
    const o = at(outS, d, "conv");
    const { stride: s, rhsDilation: rd, lo, lhsDilation: ld } = convAxis(g, d);
    const t = idx.subarray(at(first, d, "conv"));
    for (let oi = 0; oi < o; oi++)
      for (let j = 0; j < k; j++) {
        const pos = oi * s + j * rd - lo;
        t[oi * k + j] = pos < 0 || pos % ld !== 0 || pos / ld >= I ? -1 : pos / ld;
      }
  }
  const table = new Int32Array(KV * P);
  const kk = new Int32Array(nd);
  const oo = new Int32Array(nd);
  for (let a = 0; a < KV; a++) {
    oo.fill(0);
    for (let p = 0; p < P; p++) {
      let off = 0;
      for (let d = 0; d < nd && off >= 0; d++) {
        const i = idx[first[d]! + oo[d]! * ks[d]! + kk[d]!]!;
        off = i < 0 ? -1 : off + i * inStride[d]!;
      }
      table[a * P + p] = off;
      for (let d = nd - 1; d >= 0; d--)
        if (++oo[d]! < os[d]!) break;
        else oo[d] = 0;
    }
    for (let d = nd - 1; d >= 0; d--)
      if (++kk[d]! < ks[d]!) break;
      else kk[d] = 0;
  }
  return table;
}

/** The convolution of x [N, C, ...in] with w [O, C/G, ...k] (shapes already checked). */
export function conv(x: ConcreteArray, w: ConcreteArray, g: ConvGeometry, dtype: DType): ConcreteArray {
  const { N, C, O, Cg, inS, kS } = convDims(x.shape, w.shape);
  const outS = convOutSpatial(inS, kS, g);
  const G = g.groups;
  const Og = G > 0 ? O / G : 0;
  const IV = sizeOf(inS);
  const KV = sizeOf(kS);
  const P = sizeOf(outS);
  const out = allocate(dtype, N * O * P);
  if (out.length > 0 && KV * Cg > 0) {
    const table = windowTable(inS, kS, outS, g);
    const xd = storageOf(x);
    const R = Cg * KV; // rows of the column matrix: (channel in group, kernel tap)
    const cols = allocate(dtype, R * P);
    const colsArr = new ConcreteArray(cols, [R, P], dtype);
    for (let gi = 0; gi < G; gi++) {
      // the group's kernel rows [Og, R] are contiguous in w
      const wg = new ConcreteArray(storageOf(w).subarray(gi * Og * R, (gi + 1) * Og * R), [Og, R], dtype);
      for (let n = 0; n < N; n++) {
        // cols[(c·KV + a)·P + p] = x[n, gi·Cg + c, table[a·P + p]] (0 in padding)
        for (let c = 0; c < Cg; c++) {
          const base = (n * C + gi * Cg + c) * IV;
          for (let a = 0; a < KV; a++) {
            const row = (c * KV + a) * P;
            const trow = a * P;
            for (let p = 0; p < P; p++) {
              const t = table[trow + p]!;
              cols[row + p] = t < 0 ? 0 : xd[base + t]!;
            }
          }
        }
        // out[n, gi·Og + o, :] = Σ_r w[gi·Og + o, r] · cols[r, :], by the matrix-product kernel
        out.set(storageOf(matmul(wg, colsArr, dtype)), (n * O + gi * Og) * P);
      }
    }
  }
  return new ConcreteArray(out, [N, O, ...outS], dtype);
}
