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
// Encoder

function uleb(n: number, out: number[]): void {
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  for (const b of body) out.push(b);
}

function vec(items: number[][]): number[] {
  const out: number[] = [];
  uleb(items.length, out);
  for (const it of items) for (const b of it) out.push(b);
  return out;
}

function name(s: string): number[] {
  const out: number[] = [];
  uleb(s.length, out);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}

const I32 = 0x7f;
const V128 = 0x7b;

/** Builds one function body's instruction stream. */
class Code {
  readonly b: number[] = [];
  get(i: number): this {
    this.b.push(0x20);
    uleb(i, this.b);
    return this;
  }
  set(i: number): this {
    this.b.push(0x21);
    uleb(i, this.b);
    return this;
  }
  tee(i: number): this {
    this.b.push(0x22);
    uleb(i, this.b);
    return this;
  }
  i32(v: number): this {
    this.b.push(0x41);
    sleb(v, this.b);
    return this;
  }
  op(o: number): this {
    this.b.push(o);
    return this;
  }
  simd(o: number, memarg?: [align: number, offset: number]): this {
    this.b.push(0xfd);
    uleb(o, this.b);
    if (memarg) {
      uleb(memarg[0], this.b);
      uleb(memarg[1], this.b);
    }
    return this;
  }
  v128zero(): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.b.push(0);
    return this;
  }
  /** `local[i] += c` on an i32 local. */
  addConst(i: number, c: number): this {
    return this.get(i).i32(c).op(0x6a).set(i);
  }
}

const OP = {
  loop: 0x03,
  brIf: 0x0d,
  end: 0x0b,
  void: 0x40,
  i32Add: 0x6a,
  i32Sub: 0x6b,
} as const;

const SIMD = {
  load: 0x00,
  load32Splat: 0x09,
  load64Splat: 0x0a,
  store: 0x0b,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
} as const;

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
  c.op(OP.end); // function

  const body: number[] = [];
  const locals = vec([
    [...leb(nI32), I32],
    [...leb(nV128), V128],
  ]);
  for (const x of locals) body.push(x);
  for (const x of c.b) body.push(x);
  const out: number[] = [];
  uleb(body.length, out);
  for (const x of body) out.push(x);
  return out;
}

function leb(n: number): number[] {
  const out: number[] = [];
  uleb(n, out);
  return out;
}

const DTS: readonly Dt[] = ["float32", "float64"];
const kernelName = (dt: Dt, R: number) => `${dt === "float32" ? "f32" : "f64"}_${R}`;

/** The module: one memory (exported as "mem") and 2·RMAX kernels of type (i32 × 6) → (). */
export function moduleBytes(): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // type section: one type, func (i32 x6) -> ()
  section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])]]), out);
  const fns: { name: string; body: number[] }[] = [];
  for (const dt of DTS) for (let R = 1; R <= RMAX; R++) fns.push({ name: kernelName(dt, R), body: kernel(dt, R) });
  // function section: every function has type 0
  section(3, vec(fns.map(() => [0])), out);
  // memory section: one memory, min 1 page, no maximum
  section(5, vec([[0x00, 0x01]]), out);
  // export section
  section(7, vec([[...name("mem"), 0x02, 0x00], ...fns.map((f, i) => [...name(f.name), 0x00, ...leb(i)])]), out);
  // code section
  section(10, vec(fns.map((f) => f.body)), out);
  return new Uint8Array(out);
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
