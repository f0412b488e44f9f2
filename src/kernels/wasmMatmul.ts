/**
 * A WebAssembly SIMD matrix product C[M,N] = A[M,K] · B[K,N] for one matrix
 * pair, float32 (f32x4) and float64 (f64x2), threaded over rows of C. The
 * module bytes are emitted here, at load time, by a tiny encoder (no
 * toolchain, no binary blobs); it runs in Node and in browsers (synchronous
 * `WebAssembly.Module`/`Instance`, fine for a module of a few kilobytes).
 *
 * If WebAssembly or its SIMD proposal is missing (`WebAssembly.validate` false
 * or any exception), `wasmMatmulAvailable` is false and `wasmMatmul` returns
 * null, so callers fall back to the JS kernel.
 *
 * Layout in linear memory (one memory, shared with the worker pool of
 * ./threads.ts when SharedArrayBuffer is available; copied in with
 * `TypedArray.set`, a bulk copy):
 * - A row-major as is, [M, K].
 * - B row-major as is, [K, N] (plus 32 bytes of slack), then packed by the
 *   `pack` function into panels of W = 32 bytes of columns (8 float32 or 4
 *   float64): panel p holds B[k, pW..pW+W) for k = 0..K-1 contiguously, so the
 *   micro-kernel streams it with unit stride. The last panel's columns past N
 *   hold whatever follows in memory: they only feed C's padding columns.
 * - C [M, ldc] with ldc = nPanels·W; the first N columns of each row are
 *   copied out.
 * - Transposed operands (`trans`, for the backward pass's xᵀ·g and g·Wᵀ,
 *   never materialised): Bᵀ [N, K] is copied in as is and packed into the
 *   same panels by `packT` (a gather of W columns per k); Aᵀ [K, M] is copied
 *   in as is and packed after C into blocks of 4 rows by `packAT` (4
 *   contiguous elements per k), which the micro-kernel reads with unit stride.
 *
 * Micro-kernel (one exported function per dtype and R in 1..4 rows): for each
 * panel, R×2 vector accumulators (4×8 float32, 4×4 float64) live in locals; per
 * k it loads the panel's two vectors once and reuses them for the R rows (each
 * A value a `v128.load32_splat`/`load64_splat`). The driver blocks K by KC (the
 * accumulators start from C's partial sums after the first block) and the
 * columns by NCP panels, so a KC × NCP·W block of packed B stays in L2 while
 * every 4-row block of A's KC columns (in L1) sweeps it. Every output is the
 * sum over k in ascending order of rounded products in one accumulator (no
 * FMA; reloading a partial sum from C does not change it): the same
 * operations as the naive `s += a[i,k] * b[k,j]`, whatever the blocking.
 *
 * Threads: rows of C are split into chunks of `chunkRows(M)` rows (a function
 * of M only); chunks are run by the pool, each by exactly the code above, so
 * the result is bit-identical for every thread count.
 *
 * Precision: the float32 kernel multiplies and accumulates in float32 (as
 * TF.js-wasm and jax-js do), so its error bound is the textbook γ_K·Σ|a||b|
 * with u = 2^-24, not the float64-accumulated-then-rounded result of the JS
 * kernel. The float64 kernel accumulates in float64.
 */
import { type TypedArray, allocateFloat } from "../core/dtype.js";
import { Code, I32, OP, SIMD, V128, body, moduleBytes as encodeModule } from "./wasm/encoder.js";
import { align16, createMemory, ensure, isShared, memoryImport } from "./wasm/memory.js";
import {
  type ChunkContext,
  type Pool,
  type PoolStats,
  type WasmFn,
  chunkContext,
  createPool,
  parallelFor,
  poolReady,
  poolStats,
} from "./threads.js";

/**
 * Below this many multiply-adds (M·K·N) `wasmMatmul` returns null and the JS
 * kernel is used. Measured on Node 20 (2 cores) against `matmul` in
 * kernels.ts over square and skinny shapes: float32 wins from the smallest
 * sizes (the JS path accumulates in a Float64Array and converts), float64
 * breaks even around 1-9k (3x1000x3: 0.9x, 1x64x64: 1.0x, 16³: 2.8x, 32³: 6.5x).
 */
export const WASM_MATMUL_MIN_WORK = { float32: 2048, float64: 8192 } as const;

/** Below this many multiply-adds (~30-60 µs on one core) a product runs on the calling thread only (waking a worker costs ~5-50 µs). */
export const THREAD_MIN_WORK = 1 << 20;

type Dt = "float32" | "float64";

// ---------------------------------------------------------------------------
// Kernels (encoded with ./wasm/encoder.ts)

/** Vectors of B per panel (the micro-kernel is R rows × V vectors). */
const V = 2;
/** Rows of A per block in the main loop. */
const RMAX = 4;
/** Bytes per panel row: V vectors of 16 bytes (8 float32 or 4 float64 columns). */
const PANEL = V * 16;

/** Sets the i32 locals local(q) = q·stride for q = 1..n-1 by repeated addition. */
function multiples(c: Code, stride: number, local: (q: number) => number, n: number): void {
  for (let q = 1; q < n; q++)
    (q === 1
      ? c.get(stride)
      : c
          .get(local(q - 1))
          .get(stride)
          .op(OP.i32Add)
    ).set(local(q));
}

/**
 * kern(aP, bP, cP, K, nPanels, pstride, ldc, lda, accumulate, kstep): for each of
 * nPanels packed panels, C[R rows, W cols] (+)= A[R rows, K] · Bp[K, W]. A's
 * element (r, k) is at aP + r·lda + k·kstep (row-major: lda = K·s, kstep = s;
 * A stored transposed: lda = s, kstep = M·s), C has row stride ldc; panel p of packed B
 * starts at bP + p·pstride and is K rows of PANEL contiguous bytes; its C
 * block at cP + p·PANEL. accumulate = 0 starts from zero, 1 from C's values.
 * All pointers and strides in bytes. Requires K >= 1 and nPanels >= 1.
 */
function kernel(dt: Dt, R: number): number[] {
  const [aP, bP, cP, K, nPanels, pstride, ldc, lda, accumulate, kstep] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  // i32 locals
  const k = 10;
  const aptr = 11;
  const bptr = 12;
  const cptr = 13;
  const j = 14;
  const tmp = 15;
  const bcol = 16;
  const rowOff = (r: number) => 16 + r; // r*lda, r = 1..R-1
  const nI32 = 7 + (R - 1);
  // v128 locals
  const v0 = 10 + nI32;
  const acc = (r: number, v: number) => v0 + r * V + v;
  const bv = (v: number) => v0 + R * V + v;
  const av = v0 + R * V + V;
  const nV128 = R * V + V + 1;
  const splat = dt === "float32" ? SIMD.load32Splat : SIMD.load64Splat;
  const add = dt === "float32" ? SIMD.f32x4Add : SIMD.f64x2Add;
  const mul = dt === "float32" ? SIMD.f32x4Mul : SIMD.f64x2Mul;
  const align = dt === "float32" ? 2 : 3;
  // C row r of the current block: tmp = cptr + r·ldc
  const cRow = (c: Code, r: number) => (r === 0 ? c.get(cptr).set(tmp) : c.get(tmp).get(ldc).op(OP.i32Add).set(tmp));

  const c = new Code();
  multiples(c, lda, rowOff, R);
  c.get(bP).set(bcol).get(cP).set(cptr).get(nPanels).set(j);
  c.op(OP.loop).op(OP.void); // panels
  c.get(accumulate).op(OP.if).op(OP.void);
  for (let r = 0; r < R; r++) {
    cRow(c, r);
    for (let v = 0; v < V; v++)
      c.get(tmp)
        .simd(SIMD.load, [4, v * 16])
        .set(acc(r, v));
  }
  c.op(OP.else);
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) c.v128zero().set(acc(r, v));
  c.op(OP.end);
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
  c.get(aptr).get(kstep).op(OP.i32Add).set(aptr).addConst(bptr, PANEL);
  c.get(k).i32(1).op(OP.i32Sub).tee(k).op(OP.brIf).op(0);
  c.op(OP.end); // k
  for (let r = 0; r < R; r++) {
    cRow(c, r);
    for (let v = 0; v < V; v++)
      c.get(tmp)
        .get(acc(r, v))
        .simd(SIMD.store, [4, v * 16]);
  }
  c.addConst(cptr, PANEL).get(bcol).get(pstride).op(OP.i32Add).set(bcol);
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

/**
 * blocks(src, dst, K, nBlocks, stride): for each of nBlocks blocks of `bytes` columns (block b
 * at byte b·bytes of every row), copies that block of each of K rows (row stride `stride`
 * bytes, from src) to dst, contiguously: nBlocks·K·bytes bytes, block after block. `bytes` is a
 * multiple of 16; `storeAlign` the stores' alignment hint (log2 bytes). Requires K, nBlocks >= 1.
 * It is both `pack` (B row-major into panels of PANEL bytes, stride ldb) and `packAT` (Aᵀ into
 * blocks of 4 rows of A, which are 4 columns of Aᵀ: 4·s bytes, stride ldat).
 */
function blocks(bytes: number, storeAlign: number): number[] {
  const [src, dst, K, nBlocks, stride] = [0, 1, 2, 3, 4];
  const [k, sp, p0] = [5, 6, 7];
  const c = new Code();
  c.get(src).set(p0);
  c.op(OP.loop).op(OP.void); // blocks
  c.get(p0).set(sp).get(K).set(k);
  c.op(OP.loop).op(OP.void); // k
  for (let o = 0; o < bytes; o += 16) c.get(dst).get(sp).simd(SIMD.load, [0, o]).simd(SIMD.store, [storeAlign, o]);
  c.addConst(dst, bytes).get(sp).get(stride).op(OP.i32Add).set(sp);
  c.get(k).i32(1).op(OP.i32Sub).tee(k).op(OP.brIf).op(0);
  c.op(OP.end); // k
  c.addConst(p0, bytes);
  c.get(nBlocks).i32(1).op(OP.i32Sub).tee(nBlocks).op(OP.brIf).op(0);
  c.op(OP.end); // blocks
  return body([[3, I32]], c);
}

/**
 * pack(src, dst, K, nPanels, ldb): packs row-major B (row stride ldb bytes) into nPanels
 * panels of K rows of PANEL bytes, panel after panel, at dst (dst 16-byte aligned). Requires
 * K, nPanels >= 1.
 */
const pack = (): number[] => blocks(PANEL, 4);

/**
 * packT(src, dst, K, nPanels, ldbt) for one dtype: packs B given as Bᵀ (row-major [N, K], row
 * stride ldbt bytes: B[k, j] at src + j·ldbt + k·s) into the panels `pack` makes. Columns of the
 * last panel past N are read from past Bᵀ's end (the caller leaves (W - 1)·ldbt bytes of slack):
 * they only feed C's padding columns. Elements are copied as integers (bit-exact). Requires K,
 * nPanels >= 1.
 */
function packT(dt: Dt): number[] {
  const s = dt === "float32" ? 4 : 8;
  const W = PANEL / s;
  const [load, store, align] = dt === "float32" ? [0x28, 0x36, 2] : [0x29, 0x37, 3]; // i32/i64 load, store
  const [src, dst, K, nPanels, ldbt] = [0, 1, 2, 3, 4];
  const [k, sp, p0, pstep] = [5, 6, 7, 8];
  const col = (c: number) => 8 + c; // c·ldbt, c = 1..W-1
  const c = new Code();
  multiples(c, ldbt, col, W);
  c.get(col(W - 1))
    .get(ldbt)
    .op(OP.i32Add)
    .set(pstep); // W·ldbt: from one panel's columns to the next
  c.get(src).set(p0);
  c.op(OP.loop).op(OP.void); // panels
  c.get(p0).set(sp).get(K).set(k);
  c.op(OP.loop).op(OP.void); // k
  for (let q = 0; q < W; q++) {
    c.get(dst).get(sp);
    if (q > 0) c.get(col(q)).op(OP.i32Add);
    c.mem(load, align, 0).mem(store, align, q * s);
  }
  c.addConst(dst, PANEL).addConst(sp, s);
  c.get(k).i32(1).op(OP.i32Sub).tee(k).op(OP.brIf).op(0);
  c.op(OP.end); // k
  c.get(p0).get(pstep).op(OP.i32Add).set(p0);
  c.get(nPanels).i32(1).op(OP.i32Sub).tee(nPanels).op(OP.brIf).op(0);
  c.op(OP.end); // panels
  return body([[4 + W - 1, I32]], c);
}

/**
 * packAT(src, dst, K, nBlocks, ldat) for one dtype: packs A given as Aᵀ (row-major [K, M], row
 * stride ldat bytes) into blocks of 4 rows: block b holds A[4b..4b+4, k] for k = 0..K-1, 4
 * elements per k, contiguously, so the micro-kernel reads A with unit stride (lda = s, kstep =
 * 4s) instead of one cache line per k (a stride of M·s, which thrashes L1 when it is a power of
 * two). The last block's rows past M read up to 3 elements past each row (past Aᵀ's end for
 * the last k: the caller leaves slack); they only feed C's rows past M, never read. Requires
 * K, nBlocks >= 1.
 */
const packAT = (dt: Dt): number[] => blocks(dt === "float32" ? 16 : 32, 0); // 4 elements

const DTS: readonly Dt[] = ["float32", "float64"];
const kernelName = (dt: Dt, R: number) => `${dt === "float32" ? "f32" : "f64"}_${R}`;
const packTName = (dt: Dt) => `pack_t_${dt === "float32" ? "f32" : "f64"}`;
const packATName = (dt: Dt) => `pack_at_${dt === "float32" ? "f32" : "f64"}`;

const KERN_TYPE = { params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], results: [] };
const PACK_TYPE = { params: [I32, I32, I32, I32, I32], results: [] };

/**
 * The module: an imported memory env.mem (shared when `shared`, see ./wasm/memory.ts), 2·RMAX
 * kernels of type (i32 × 10) → (), `pack`, and `packT` and `packAT` per dtype.
 */
export function moduleBytes(shared = false): Uint8Array<ArrayBuffer> {
  const funcs: { name: string; type: typeof KERN_TYPE | typeof PACK_TYPE; body: number[] }[] = [];
  for (const dt of DTS)
    for (let R = 1; R <= RMAX; R++) funcs.push({ name: kernelName(dt, R), type: KERN_TYPE, body: kernel(dt, R) });
  funcs.push({ name: "pack", type: PACK_TYPE, body: pack() });
  for (const dt of DTS) funcs.push({ name: packTName(dt), type: PACK_TYPE, body: packT(dt) });
  for (const dt of DTS) funcs.push({ name: packATName(dt), type: PACK_TYPE, body: packAT(dt) });
  return encodeModule({ memory: memoryImport(shared), funcs });
}

// ---------------------------------------------------------------------------
// Driver (run on the main thread and, as source text, in the pool's workers)

/** K block (rows of packed B per kernel call). */
const KC = 256;
/** Panels per column block: a KC × NCP panel block of packed B is 64 KiB (L2 here: 1 MiB per core). */
const NCP = 8;

/**
 * Runs chunk `chunk` (rows [chunk·rows, min(M, (chunk+1)·rows))) of a product whose operands
 * are laid out as wasmMatmul does. params: [f64 ? 1 : 0, aOff, bPackOff, cOff, M, K,
 * nPanels, rows, KC, NCP, A packed in 4-row blocks by packAT ? 1 : 0] (bytes, elements).
 * Self-contained (the pool's workers get its source): no closure over module scope; its reads
 * are checked by `ctx`.
 */
function runChunk(ex: Record<string, unknown>, p: readonly number[], chunk: number, ctx: ChunkContext): void {
  const F = "matmul";
  if (p.length !== 11) ctx.fail(F, `${p.length} parameters, expected 11`);
  const f64 = ctx.at(p, 0, F);
  const aOff = ctx.at(p, 1, F);
  const bOff = ctx.at(p, 2, F);
  const cOff = ctx.at(p, 3, F);
  const M = ctx.at(p, 4, F);
  const K = ctx.at(p, 5, F);
  const nPanels = ctx.at(p, 6, F);
  const rows = ctx.at(p, 7, F);
  const kc = ctx.at(p, 8, F);
  const ncp = ctx.at(p, 9, F);
  const ta = ctx.at(p, 10, F);
  const pre = f64 === 1 ? "f64_" : "f32_";
  const s = f64 === 1 ? 8 : 4;
  // the micro-kernels for 1..4 rows, of 10 parameters each (see `kernel`)
  const k1 = ctx.wasmFn(ex, pre + "1", 10, F);
  const k2 = ctx.wasmFn(ex, pre + "2", 10, F);
  const k3 = ctx.wasmFn(ex, pre + "3", 10, F);
  const k4 = ctx.wasmFn(ex, pre + "4", 10, F);
  const ldc = nPanels * 32; // bytes: PANEL = 32 per panel
  const pstride = K * 32;
  // A's element (i, k): row-major [M, K] at aOff + i·lda + k·s, or packed in 4-row blocks
  // (packAT) at aOff + (i - i%4)·K·s + k·4s + (i%4)·s
  const lda = ta === 1 ? s : K * s;
  const kstep = ta === 1 ? 4 * s : s;

  const r0 = chunk * rows;
  const r1 = Math.min(M, r0 + rows);
  for (let k0 = 0; k0 < K; k0 += kc) {
    const kb = Math.min(kc, K - k0);
    const accumulate = k0 > 0 ? 1 : 0;
    for (let j0 = 0; j0 < nPanels; j0 += ncp) {
      const np = Math.min(ncp, nPanels - j0);
      for (let i0 = r0; i0 < r1; i0 += 4) {
        const R = Math.min(4, r1 - i0);
        const f = R === 4 ? k4 : R === 3 ? k3 : R === 2 ? k2 : k1;
        f(
          aOff + i0 * K * s + k0 * kstep, // i0 is a multiple of 4: a block's start either way
          bOff + j0 * pstride + k0 * 32,
          cOff + i0 * ldc + j0 * 32,
          kb,
          np,
          pstride,
          ldc,
          lda,
          accumulate,
          kstep,
        );
      }
    }
  }
}

/** Rows of C per chunk: a function of M only (never of the thread count), a multiple of 4. */
export function chunkRows(M: number): number {
  // about 8 chunks per product, 4..64 rows each
  return Math.min(64, Math.max(4, (Math.ceil(M / 8) + 3) & ~3));
}

// ---------------------------------------------------------------------------
// Instance

/** A packing function (src, dst, K, nPanels or nBlocks, row stride), see `pack`, `packT`, `packAT`. */
type Pack = WasmFn;

interface Instance {
  mem: WebAssembly.Memory;
  exports: Record<string, unknown>;
  pack: Pack;
  packT: Record<Dt, Pack>;
  packAT: Record<Dt, Pack>;
  pool: Pool | null;
  /** The main thread's chunk context (the pool's when there is one). */
  ctx: ChunkContext;
}

function instantiate(): Instance | null {
  try {
    if (typeof WebAssembly !== "object") return null;
    const mem = createMemory();
    const shared = isShared(mem);
    const bytes = moduleBytes(shared);
    if (!WebAssembly.validate(bytes)) return null;
    const module = new WebAssembly.Module(bytes);
    const inst = new WebAssembly.Instance(module, { env: { mem } });
    const ex: Record<string, unknown> = inst.exports;
    const pool = shared ? createPool(module, mem, ex, runChunk) : null;
    const ctx = pool === null ? chunkContext(mem) : pool.ctx;
    // every export is there with its arity (else `wasmFn` throws: no instance, the JS kernel)
    for (const dt of DTS) for (let R = 1; R <= RMAX; R++) ctx.wasmFn(ex, kernelName(dt, R), 10, "matmul");
    const fn = (name: string): Pack => ctx.wasmFn(ex, name, 5, "matmul");
    const packT = { float32: fn(packTName("float32")), float64: fn(packTName("float64")) };
    const packAT = { float32: fn(packATName("float32")), float64: fn(packATName("float64")) };
    return { mem, exports: ex, pack: fn("pack"), packT, packAT, pool, ctx };
  } catch (_e) {
    return null;
  }
}

const instance = instantiate();

/** Whether the WebAssembly SIMD kernels loaded. When false, `wasmMatmul` always returns null. */
export const wasmMatmulAvailable: boolean = instance !== null;

/** Whether matmul can use worker threads here (shared memory, blocking waits, workers). */
export const wasmMatmulThreaded: boolean = instance?.pool != null;

/** Starts matmul's workers for the current thread count; resolves true once they run (false: single-threaded). */
export function matmulPoolReady(): Promise<boolean> {
  return poolReady(instance?.pool ?? null);
}

/** Chunks of matmul run by workers so far, workers running and started. */
export function matmulPoolStats(): PoolStats {
  return poolStats(instance?.pool ?? null);
}

/**
 * C[M,N] = A[M,K] · B[K,N] (row-major, one matrix pair) in WebAssembly SIMD.
 * Returns a fresh Float32Array (dtype "float32", float32 accumulation) or
 * Float64Array ("float64"), or null when the kernel is unavailable, the dtype
 * is not a float, M·K·N < `minWork` (default `WASM_MATMUL_MIN_WORK[dtype]`; pass 0 to force), or memory cannot grow. Inputs are read
 * element-wise, so any numeric typed array works; they are not modified.
 * Large products run on up to `getThreads()` threads (./threads.ts), with identical results.
 * `trans.a`: `a` holds Aᵀ (row-major [K, M]); `trans.b`: `b` holds Bᵀ ([N, K]). The product is
 * then read through the transposed layout, never materialised, and every output is the same
 * sum in the same order as with the transposes materialised (bit-identical).
 */
export function wasmMatmul(
  a: TypedArray,
  b: TypedArray,
  M: number,
  K: number,
  N: number,
  dtype: string,
  minWork?: number,
  trans?: { readonly a?: boolean; readonly b?: boolean },
): Float32Array | Float64Array | null {
  if (instance === null || (dtype !== "float32" && dtype !== "float64")) return null;
  if (M * K * N < (minWork ?? WASM_MATMUL_MIN_WORK[dtype])) return null;
  const f32 = dtype === "float32";
  if (M === 0 || N === 0 || K === 0) return f32 ? new Float32Array(M * N) : new Float64Array(M * N);
  const s = f32 ? 4 : 8;
  const W = PANEL / s;
  const nPanels = Math.ceil(N / W);
  const ldc = nPanels * W; // elements
  const aOff = 0;
  const bOff = align16(aOff + M * K * s);
  const ta = trans?.a === true;
  const tb = trans?.b === true;
  // slack: the last panel reads up to W - 1 columns past N (elements past B; rows past Bᵀ)
  const packOff = align16(bOff + K * N * s + (tb ? (W - 1) * K * s : 0) + PANEL);
  const cOff = packOff + nPanels * K * PANEL;
  // Aᵀ: packed into 4-row blocks after C (Aᵀ itself is followed by B, the packer's slack)
  const apOff = align16(cOff + M * ldc * s);
  const end = ta ? apOff + Math.ceil(M / 4) * 4 * K * s : cOff + M * ldc * s;
  if (!ensure(instance.mem, end)) return null;
  const buf = instance.mem.buffer;
  const view = f32 ? new Float32Array(buf) : new Float64Array(buf);
  view.set(a, aOff / s);
  view.set(b, bOff / s);
  if (tb) instance.packT[dtype](bOff, packOff, K, nPanels, K * s);
  else instance.pack(bOff, packOff, K, nPanels, N * s);
  const rows = chunkRows(M);
  const nChunks = Math.ceil(M / rows);
  if (ta) instance.packAT[dtype](aOff, apOff, K, Math.ceil(M / 4), M * s);
  // K blocks of equal size (at most KC): no short last block (K = 784: 4 × 196, not 3 × 256 + 16);
  // the blocking never changes a result (see the header)
  const kc = Math.ceil(K / Math.ceil(K / KC));
  const params = [f32 ? 0 : 1, ta ? apOff : aOff, packOff, cOff, M, K, nPanels, rows, kc, NCP, ta ? 1 : 0];
  if (instance.pool !== null && M * K * N >= THREAD_MIN_WORK) parallelFor(instance.pool, nChunks, params);
  else for (let c = 0; c < nChunks; c++) runChunk(instance.exports, params, c, instance.ctx);
  // copy C out
  const out = allocateFloat(dtype, M * N);
  const c0 = cOff / s;
  if (ldc === N) out.set(view.subarray(c0, c0 + M * N));
  else for (let i = 0; i < M; i++) out.set(view.subarray(c0 + i * ldc, c0 + i * ldc + N), i * N);
  return out;
}
