/**
 * The general convolution kernel (channels first): x [N, C, ...in] and
 * w [O, C/G, ...k] give [N, O, ...out]. Each spatial axis has a window
 * stride, low/high padding (negative crops), an input ("lhs") dilation and a
 * kernel ("rhs") dilation; G feature groups split C and O. Computed as
 * im2col (a gather table shared by every example and channel) times the
 * kernel matrix, by the matrix-product kernel (WebAssembly SIMD when
 * available; float32 then accumulates in float32, as `matmul` does).
 */
// Non-null assertions (`!`) in this file are reads of typed arrays, shapes and strides at indices
// bounded by loops over their lengths, which the primitive's shape rule has checked before the kernel
// runs: noUncheckedIndexedAccess cannot see those bounds, and a checked read would cost a branch per
// element in the innermost loops.
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, allocate } from "../core/dtype.js";
import { sizeOf } from "../core/shape.js";
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

/** Extent of n points spaced d apart: (n - 1)·d + 1, or 0 for n = 0. */
export const dilated = (n: number, d: number): number => (n === 0 ? 0 : (n - 1) * d + 1);

/** Spatial output extents: floor((dil(I, ld) + lo + hi - dil(k, rd)) / s) + 1, at least 0. */
export function convOutSpatial(inS: readonly number[], kS: readonly number[], g: ConvGeometry): number[] {
  return inS.map((I, d) => {
    const span = dilated(I, g.lhsDilation[d]!) + g.lo[d]! + g.hi[d]! - dilated(kS[d]!, g.rhsDilation[d]!);
    return span < 0 ? 0 : Math.floor(span / g.strides[d]!) + 1;
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
  // per axis: idx[o·k + j] = input index at output o, kernel tap j (or -1)
  const axisIdx = inS.map((I, d) => {
    const k = kS[d]!;
    const o = outS[d]!;
    const t = new Int32Array(o * k);
    for (let oi = 0; oi < o; oi++)
      for (let j = 0; j < k; j++) {
        const pos = oi * g.strides[d]! + j * g.rhsDilation[d]! - g.lo[d]!;
        const ld = g.lhsDilation[d]!;
        t[oi * k + j] = pos < 0 || pos % ld !== 0 || pos / ld >= I ? -1 : pos / ld;
      }
    return t;
  });
  const inStride = new Array<number>(nd);
  for (let d = nd - 1, s = 1; d >= 0; d--) {
    inStride[d] = s;
    s *= inS[d]!;
  }
  const table = new Int32Array(KV * P);
  const kk = new Array<number>(nd).fill(0);
  for (let a = 0; a < KV; a++) {
    const oo = new Array<number>(nd).fill(0);
    for (let p = 0; p < P; p++) {
      let off = 0;
      for (let d = 0; d < nd && off >= 0; d++) {
        const i = axisIdx[d]![oo[d]! * kS[d]! + kk[d]!]!;
        off = i < 0 ? -1 : off + i * inStride[d]!;
      }
      table[a * P + p] = off;
      for (let d = nd - 1; d >= 0; d--)
        if (++oo[d]! < outS[d]!) break;
        else oo[d] = 0;
    }
    for (let d = nd - 1; d >= 0; d--)
      if (++kk[d]! < kS[d]!) break;
      else kk[d] = 0;
  }
  return table;
}

/** The convolution of x [N, C, ...in] with w [O, C/G, ...k] (shapes already checked). */
export function conv(x: ConcreteArray, w: ConcreteArray, g: ConvGeometry, dtype: DType): ConcreteArray {
  const [N, C] = x.shape as [number, number];
  const [O, Cg] = w.shape as [number, number];
  const inS = x.shape.slice(2);
  const kS = w.shape.slice(2);
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
