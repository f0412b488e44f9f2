/**
 * A WebAssembly SIMD matrix product C[M,N] = A[M,K] · B[K,N] for one matrix
 * pair, float32 (f32x4) and float64 (f64x2). The module bytes are emitted here,
 * at load time, by a tiny encoder (no toolchain, no binary blobs); it runs in
 * Node and in browsers (synchronous `WebAssembly.Module`/`Instance`, fine for a
 * module of a few kilobytes).
 *
 * If WebAssembly or its SIMD proposal is missing (`WebAssembly.validate` false
 * or any exception), `wasmMatmulAvailable` is false and `wasmMatmul` returns
 * null, so callers fall back to the JS kernel.
 *
 * Layout in linear memory (row-major, copied in with `TypedArray.set`, which
 * is a bulk copy; element-wise packing was measured 5-10x slower and cost
 * more than the product at small sizes):
 * - A as is, [M, K].
 * - B with rows padded to ld >= N columns, ld a multiple of the panel width
 *   W = 2 vectors (8 float32 or 4 float64), plus one extra panel when the
 *   stride would be a multiple of 512 bytes (cache-set conflicts). The
 *   padding columns are not cleared: they only feed C's padding columns.
 * - C [M, ld]; the first N columns of each row are copied out.
 *
 * Micro-kernel (one exported function per dtype and R in 1..4 rows; the JS
 * side calls R = 4 for each full block of rows and R = M mod 4 once): for each
 * panel of W columns, R×2 vector accumulators live in locals; per k it loads
 * the two B vectors once and reuses them for the R rows (each A value is a
 * `v128.load32_splat`/`load64_splat`, i.e. load + f32x4/f64x2.splat). Every
 * output is the sum over k in ascending order of rounded products in one
 * accumulator (no FMA): the same operations as the naive `s += a[i,k] * b[k,j]`.
 *
 * Precision: the float32 kernel multiplies and accumulates in float32 (as
 * TF.js-wasm and jax-js do), so its error bound is the textbook γ_K·Σ|a||b|
 * with u = 2^-24, not the float64-accumulated-then-rounded result of the JS
 * kernel. The float64 kernel accumulates in float64.
 */
import type { TypedArray } from "../core/dtype.js";
import { Code, I32, OP, SIMD, V128, body, moduleBytes as encodeModule } from "./wasm/encoder.js";

/**
 * Below this many multiply-adds (M·K·N) `wasmMatmul` returns null and the JS
 * kernel is used. Measured on Node 20 (2 cores) against `matmul` in
 * kernels.ts over square and skinny shapes: float32 wins from the smallest
 * sizes (the JS path accumulates in a Float64Array and converts), float64
 * breaks even around 1-9k (3x1000x3: 0.9x, 1x64x64: 1.0x, 16³: 2.8x, 32³: 6.5x).
 */
export const WASM_MATMUL_MIN_WORK = { float32: 2048, float64: 8192 } as const;

type Dt = "float32" | "float64";

// ---------------------------------------------------------------------------
// Kernels (encoded with ./wasm/encoder.ts)

/** Vectors of B per panel (the micro-kernel is R rows × V vectors). */
const V = 2;
/** Rows of A per block in the main loop. */
const RMAX = 4;

/**
 * kern(aP, bP, cP, K, nPanels, ld, lda): for each of nPanels panels of W
 * columns, C[R rows, W cols] = A[R rows, K] · B[K, W cols]. A is row-major
 * with row stride lda, B and C row-major with row stride ld; the panel p
 * starts at bP + p·W and cP + p·W elements. All pointers and strides in bytes.
 * Requires K >= 1 and nPanels >= 1.
 */
function kernel(dt: Dt, R: number): number[] {
  const s = dt === "float32" ? 4 : 8; // element size
  const W = V * (16 / s); // panel width in elements
  const [aP, bP, cP, K, nPanels, ld, lda] = [0, 1, 2, 3, 4, 5, 6];
  // i32 locals
  const k = 7;
  const aptr = 8;
  const bptr = 9;
  const cptr = 10;
  const j = 11;
  const tmp = 12;
  const bcol = 13;
  const rowOff = (r: number) => 13 + r; // r*lda, r = 1..R-1
  const nI32 = 7 + (R - 1);
  // v128 locals
  const v0 = 7 + nI32;
  const acc = (r: number, v: number) => v0 + r * V + v;
  const bv = (v: number) => v0 + R * V + v;
  const av = v0 + R * V + V;
  const nV128 = R * V + V + 1;
  const splat = dt === "float32" ? SIMD.load32Splat : SIMD.load64Splat;
  const add = dt === "float32" ? SIMD.f32x4Add : SIMD.f64x2Add;
  const mul = dt === "float32" ? SIMD.f32x4Mul : SIMD.f64x2Mul;
  const align = dt === "float32" ? 2 : 3;

  const c = new Code();
  for (let r = 1; r < R; r++)
    (r === 1
      ? c.get(lda)
      : c
          .get(rowOff(r - 1))
          .get(lda)
          .op(OP.i32Add)
    ).set(rowOff(r));
  c.get(bP).set(bcol).get(cP).set(cptr).get(nPanels).set(j);
  c.op(OP.loop).op(OP.void); // panels
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) c.v128zero().set(acc(r, v));
  c.get(aP).set(aptr).get(bcol).set(bptr).get(K).set(k);
  c.op(OP.loop).op(OP.void); // k
  for (let v = 0; v < V; v++)
    c.get(bptr)
      .simd(SIMD.load, [4, v * 16])
      .set(bv(v));
  for (let r = 0; r < R; r++) {
    c.get(aptr);
    if (r > 0) c.get(rowOff(r)).op(OP.i32Add);
    c.simd(splat, [align, 0]).set(av);
    for (let v = 0; v < V; v++) c.get(acc(r, v)).get(av).get(bv(v)).simd(mul).simd(add).set(acc(r, v));
  }
  c.addConst(aptr, s).get(bptr).get(ld).op(OP.i32Add).set(bptr);
  c.get(k).i32(1).op(OP.i32Sub).tee(k).op(OP.brIf).op(0);
  c.op(OP.end); // k
  for (let r = 0; r < R; r++) {
    if (r === 0) c.get(cptr).set(tmp);
    else c.get(tmp).get(ld).op(OP.i32Add).set(tmp);
    for (let v = 0; v < V; v++)
      c.get(tmp)
        .get(acc(r, v))
        .simd(SIMD.store, [4, v * 16]);
  }
  c.addConst(cptr, W * s).addConst(bcol, W * s);
  c.get(j).i32(1).op(OP.i32Sub).tee(j).op(OP.brIf).op(0);
  c.op(OP.end); // panels
  return body(
    [
      [nI32, I32],
      [nV128, V128],
    ],
    c,
  );
}

const DTS: readonly Dt[] = ["float32", "float64"];
const kernelName = (dt: Dt, R: number) => `${dt === "float32" ? "f32" : "f64"}_${R}`;

const KERN_TYPE = { params: [I32, I32, I32, I32, I32, I32, I32], results: [] };

/** The module: one memory (exported as "mem") and 2·RMAX kernels of type (i32 × 7) → (). */
export function moduleBytes(): Uint8Array<ArrayBuffer> {
  const funcs: { name: string; type: typeof KERN_TYPE; body: number[] }[] = [];
  for (const dt of DTS)
    for (let R = 1; R <= RMAX; R++) funcs.push({ name: kernelName(dt, R), type: KERN_TYPE, body: kernel(dt, R) });
  return encodeModule({ memory: { import: false, minPages: 1 }, funcs });
}

// ---------------------------------------------------------------------------
// Instance

type Kern = (aP: number, bP: number, cP: number, K: number, nPanels: number, ld: number, lda: number) => void;

interface Instance {
  mem: WebAssembly.Memory;
  kern: Record<Dt, Kern[]>; // index R (1..RMAX)
}

function instantiate(): Instance | null {
  try {
    if (typeof WebAssembly !== "object") return null;
    const bytes = moduleBytes();
    if (!WebAssembly.validate(bytes)) return null;
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const ex = inst.exports as Record<string, unknown>;
    const mem = ex["mem"];
    if (!(mem instanceof WebAssembly.Memory)) return null;
    const kern = { float32: [], float64: [] } as Record<Dt, Kern[]>;
    for (const dt of DTS)
      for (let R = 1; R <= RMAX; R++) {
        const f = ex[kernelName(dt, R)];
        if (typeof f !== "function") return null;
        kern[dt][R] = f as Kern;
      }
    return { mem, kern };
  } catch (_e) {
    return null;
  }
}

const instance = instantiate();

/** Whether the WebAssembly SIMD kernels loaded. When false, `wasmMatmul` always returns null. */
export const wasmMatmulAvailable: boolean = instance !== null;

const align16 = (bytes: number) => (bytes + 15) & ~15;

/** Makes linear memory at least `bytes` long; false if it cannot grow. */
function ensure(mem: WebAssembly.Memory, bytes: number): boolean {
  const have = mem.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    mem.grow(Math.ceil((bytes - have) / 65536));
    return true;
  } catch (_e) {
    return false;
  }
}

/**
 * C[M,N] = A[M,K] · B[K,N] (row-major, one matrix pair) in WebAssembly SIMD.
 * Returns a fresh Float32Array (dtype "float32", float32 accumulation) or
 * Float64Array ("float64"), or null when the kernel is unavailable, the dtype
 * is not a float, M·K·N < `minWork` (default `WASM_MATMUL_MIN_WORK[dtype]`; pass 0 to force), or memory cannot grow. Inputs are read
 * element-wise, so any numeric typed array works; they are not modified.
 */
export function wasmMatmul(
  a: TypedArray,
  b: TypedArray,
  M: number,
  K: number,
  N: number,
  dtype: string,
  minWork?: number,
): Float32Array | Float64Array | null {
  if (instance === null || (dtype !== "float32" && dtype !== "float64")) return null;
  if (M * K * N < (minWork ?? WASM_MATMUL_MIN_WORK[dtype])) return null;
  const f32 = dtype === "float32";
  if (M === 0 || N === 0 || K === 0) return f32 ? new Float32Array(M * N) : new Float64Array(M * N);
  const s = f32 ? 4 : 8;
  const W = V * (16 / s);
  const nPanels = Math.ceil(N / W);
  const Np = nPanels * W;
  // Row stride (elements) of B and C in memory. A stride that is a multiple of
  // 512 bytes maps a panel's rows onto few L1 cache sets; one extra panel of
  // padding avoids that (measured: 128² float32 30 -> 35 GFLOP/s).
  const ld = Np + ((Np * s) % 512 === 0 ? W : 0);
  const aOff = 0;
  const bOff = align16(aOff + M * K * s);
  const cOff = align16(bOff + K * ld * s);
  const end = cOff + M * ld * s;
  if (end > 2 ** 31 || !ensure(instance.mem, end)) return null;
  const buf = instance.mem.buffer;
  const view = f32 ? new Float32Array(buf) : new Float64Array(buf);

  // A row-major as is; B row-major with rows padded to ld (the padding only
  // feeds C's padding columns, which are never read, so it is not cleared)
  view.set(a, aOff / s);
  if (ld === N) view.set(b, bOff / s);
  else if (N >= 32) for (let kk = 0; kk < K; kk++) view.set(b.subarray(kk * N, kk * N + N), bOff / s + kk * ld);
  else
    for (let kk = 0, o = bOff / s; kk < K; kk++, o += ld) for (let jj = 0; jj < N; jj++) view[o + jj] = b[kk * N + jj]!;
  // run: one call per row block
  const ks = instance.kern[dtype];
  for (let i0 = 0; i0 < M; i0 += RMAX) {
    const R = Math.min(RMAX, M - i0);
    ks[R]!(aOff + i0 * K * s, bOff, cOff + i0 * ld * s, K, nPanels, ld * s, K * s);
  }
  // copy C out
  const out = f32 ? new Float32Array(M * N) : new Float64Array(M * N);
  const c0 = cOff / s;
  if (ld === N) out.set(view.subarray(c0, c0 + M * N));
  else for (let i = 0; i < M; i++) out.set(view.subarray(c0 + i * ld, c0 + i * ld + N), i * N);
  return out;
}
