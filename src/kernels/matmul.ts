/** Matrix product kernel: WebAssembly SIMD when available, else a blocked JS loop (float64 accumulation; int32 modulo 2^32). */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes are read with `at` before the loops.
import { at } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, TypedArray, allocate } from "../core/dtype.js";
import { sizeOf } from "../core/shape.js";
import { wasmMatmul } from "./wasmMatmul.js";

/** Batched matrix product: a [...B, M, K] times b [...B, K, N] with equal batch dims. */
export function matmul(a: ConcreteArray, b: ConcreteArray, dtype: DType): ConcreteArray {
  return matmulT(a, b, dtype, false, false);
}

/**
 * Batched matrix product of operands that may be given transposed: with `ta`, `a` holds Aᵀ
 * ([...B, K, M]); with `tb`, `b` holds Bᵀ ([...B, N, K]); the result is A·B [...B, M, N], the
 * same values as `matmul` of the materialised transposes (bit-identical: the WebAssembly kernel
 * reads the transposed layouts directly, the JS kernel gets the transposes materialised).
 * @example
 * // xᵀ·g for x [128, 784] and g [128, 512], without materialising xᵀ: [784, 512]
 * const gw = matmulT(x, g, "float32", true, false);
 */
export function matmulT(a: ConcreteArray, b: ConcreteArray, dtype: DType, ta: boolean, tb: boolean): ConcreteArray {
  const nd = a.shape.length;
  const M = at(a.shape, ta ? nd - 1 : nd - 2, "matmul");
  const K = at(a.shape, ta ? nd - 2 : nd - 1, "matmul");
  const N = at(b.shape, tb ? nd - 2 : nd - 1, "matmul");
  const batchShape = a.shape.slice(0, nd - 2);
  const B = sizeOf(batchShape);
  // WebAssembly SIMD when available and the product is large enough (float32 then accumulates in float32, as peers do)
  if ((dtype === "float32" || dtype === "float64") && B > 0) {
    const trans = ta || tb ? { a: ta, b: tb } : undefined;
    if (B === 1) {
      // one product: the kernel's fresh array is the result (no second array, no copy)
      const c = wasmMatmul(storageOf(a), storageOf(b), M, K, N, dtype, undefined, trans);
      if (c !== null) return new ConcreteArray(c, [...batchShape, M, N], dtype);
    }
    const out = B > 1 ? allocate(dtype, B * M * N) : null;
    for (let bi = 0; bi < B && out !== null; bi++) {
      const c = wasmMatmul(
        storageOf(a).subarray(bi * M * K, (bi + 1) * M * K),
        storageOf(b).subarray(bi * K * N, (bi + 1) * K * N),
        M,
        K,
        N,
        dtype,
        undefined,
        trans,
      );
      if (c === null) break;
      out.set(c, bi * M * N);
      if (bi === B - 1) return new ConcreteArray(out, [...batchShape, M, N], dtype);
    }
  }
  if (dtype === "int32") {
    // int32 wraps modulo 2^32 as JAX's does, exactly: float64 products lose the low bits past 2^53
    const ai = i32(storageOf(a));
    const bi = i32(storageOf(b));
    const out = new Int32Array(B * M * N);
    matmulI32(ta ? transposeLast(ai, B, K, M) : ai, tb ? transposeLast(bi, B, N, K) : bi, out, B, M, K, N);
    return new ConcreteArray(out, [...batchShape, M, N], dtype);
  }
  const acc = new Float64Array(B * M * N);
  const ad = f64(storageOf(a));
  const bd = f64(storageOf(b));
  matmulF64(ta ? transposeLast(ad, B, K, M) : ad, tb ? transposeLast(bd, B, N, K) : bd, acc, B, M, K, N);
  if (dtype === "float64") return new ConcreteArray(acc, [...batchShape, M, N], dtype);
  const out = allocate(dtype, B * M * N);
  out.set(acc);
  return new ConcreteArray(out, [...batchShape, M, N], dtype);
}

/** The B matrices [r, c] of `d` transposed to [c, r] (a new array of d's kind). */
function transposeLast<T extends Float64Array | Int32Array>(d: T, B: number, r: number, c: number): T {
  const out = (d instanceof Int32Array ? new Int32Array(d.length) : new Float64Array(d.length)) as T;
  for (let bi = 0, o = 0; bi < B; bi++, o += r * c)
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[o + j * r + i] = d[o + i * c + j]!;
  return out;
}

/** The data as Float64Array (no copy when it already is one), so hot loops stay monomorphic. */
function f64(d: TypedArray): Float64Array {
  return d instanceof Float64Array ? d : Float64Array.from(d);
}

function matmulF64(
  ad: Float64Array,
  bd: Float64Array,
  acc: Float64Array,
  B: number,
  M: number,
  K: number,
  N: number,
): void {
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * M * K;
    const bo = bi * K * N;
    const co = bi * M * N;
    for (let i = 0; i < M; i++) {
      const crow = co + i * N;
      const arow = ao + i * K;
      let k = 0;
      // four rows of b per pass: fewer loads and stores of the accumulator row
      for (; k + 3 < K; k += 4) {
        const a0 = ad[arow + k]!;
        const a1 = ad[arow + k + 1]!;
        const a2 = ad[arow + k + 2]!;
        const a3 = ad[arow + k + 3]!;
        const b0 = bo + k * N;
        const b1 = b0 + N;
        const b2 = b1 + N;
        const b3 = b2 + N;
        for (let j = 0; j < N; j++)
          acc[crow + j] = acc[crow + j]! + a0 * bd[b0 + j]! + a1 * bd[b1 + j]! + a2 * bd[b2 + j]! + a3 * bd[b3 + j]!;
      }
      for (; k < K; k++) {
        const av = ad[arow + k]!;
        const brow = bo + k * N;
        for (let j = 0; j < N; j++) acc[crow + j] = acc[crow + j]! + av * bd[brow + j]!;
      }
    }
  }
}

/** The data as Int32Array (bool storage, 0 and 1, is converted). */
function i32(d: TypedArray): Int32Array {
  return d instanceof Int32Array ? d : Int32Array.from(d);
}

/** int32 products and sums modulo 2^32 (Math.imul, `| 0`): the two's complement result of any order. */
function matmulI32(ad: Int32Array, bd: Int32Array, out: Int32Array, B: number, M: number, K: number, N: number): void {
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * M * K;
    const bo = bi * K * N;
    const co = bi * M * N;
    for (let i = 0; i < M; i++) {
      const crow = co + i * N;
      for (let k = 0; k < K; k++) {
        const av = ad[ao + i * K + k]!;
        const brow = bo + k * N;
        for (let j = 0; j < N; j++) out[crow + j] = (out[crow + j]! + Math.imul(av, bd[brow + j]!)) | 0;
      }
    }
  }
}
