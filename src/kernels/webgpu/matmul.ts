/**
 * WebGPU kernels: matmul (see kernel.ts for the contract) — a [...B, M, K]
 * times b [...B, K, N] with equal batch dims (the primitive's rule,
 * src/prims/linalg.ts), float32, int32 and bool.
 *
 * A tiled shader: a workgroup of 16×16 invocations computes a 64×64 tile of
 * the product, each invocation a 4×4 block held in registers (four vec4
 * accumulators); the operands pass through workgroup memory in 64×32 and 32×64
 * tiles, so each element loaded from global memory serves 64 multiply-adds.
 * Batches are the grid's z dimension. The sizes are read from a parameter
 * buffer, so one pipeline per dtype serves every shape (compiling a shader
 * takes seconds on SwiftShader).
 *
 * Every output accumulates its K products in increasing k, in float32, so
 * |c − exact| ≤ γ(K)·Σ_k |a_ik|·|b_kj| (u = 2⁻²⁴), as a float32 dot product
 * (the CPU's WebAssembly path also accumulates in float32). int32 products
 * and sums wrap modulo 2³² (the CPU's stored result for exact sums below
 * 2⁵³); bool products keep the low 8 bits of the count, as the CPU's bytes.
 *
 * {@link matmulNaive} (one invocation per output) is kept for the benchmark.
 */
import { at } from "../../core/errors.js";
import { type GpuContext, type GpuTensor, type KernelTable, kernel } from "./kernel.js";
import { KERNELS as CONV } from "./conv.js";
import { binding, gpuDtype, launch, wty } from "./wgsl.js";

const TILE = 64;
const TK = 32;

/** The product's sizes: batch count, M, K, N. */
function dims(a: GpuTensor, b: GpuTensor): [number, number, number, number] {
  const nd = a.shape.length;
  const M = at(a.shape, nd - 2, "matmul");
  const K = at(a.shape, nd - 1, "matmul");
  const N = at(b.shape, nd - 1, "matmul");
  const B = a.shape.slice(0, nd - 2).reduce((s, d) => s * d, 1);
  return [B, M, K, N];
}

/** The tiled, register-blocked product (see the file comment). */
export function matmulTiled(ctx: GpuContext, a: GpuTensor, b: GpuTensor, outShape: readonly number[]): GpuTensor {
  const out = ctx.alloc(outShape, a.dtype);
  const [B, M, K, N] = dims(a, b);
  if (B * M * N === 0) return out;
  const ty = wty(a.dtype);
  const fin = a.dtype === "bool" ? (v: string) => `(${v} & vec4u(255u))` : (v: string) => v;
  const max = ctx.maxWorkgroups;
  const p = ctx.pipeline(`matmul-tiled|${ty}`, () => {
    return `${binding(0, "a", ty)}
${binding(1, "b", ty)}
${binding(2, "c", ty, true)}
${binding(3, "dims", "u32")}
var<workgroup> As: array<vec4<${ty}>, ${TK * (TILE / 4)}>;
var<workgroup> Bs: array<vec4<${ty}>, ${TK * (TILE / 4)}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let M = dims[0];
  let K = dims[1];
  let N = dims[2];
  let batch = wid.z + dims[3];
  let tx = lid3.x;
  let ty = lid3.y;
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  let aBase = batch * M * K;
  let bBase = batch * K * N;
  var acc: array<vec4<${ty}>, 4>;
  for (var r = 0u; r < 4u; r++) { acc[r] = vec4<${ty}>(${ty}(0)); }
  for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
    for (var s = 0u; s < ${(TILE * TK) / 256}u; s++) {
      let e = lid + s * 256u;
      // A tile: row = e / TK, k = e % TK, stored k-major by groups of 4 rows
      let ar = e / ${TK}u;
      let ak = e % ${TK}u;
      var av = ${ty}(0);
      if (row0 + ar < M && k0 + ak < K) { av = a[aBase + (row0 + ar) * K + k0 + ak]; }
      As[ak * ${TILE / 4}u + ar / 4u][ar % 4u] = av;
      // B tile: k = e / TILE, col = e % TILE
      let bk = e / ${TILE}u;
      let bc = e % ${TILE}u;
      var bv = ${ty}(0);
      if (k0 + bk < K && col0 + bc < N) { bv = b[bBase + (k0 + bk) * N + col0 + bc]; }
      Bs[bk * ${TILE / 4}u + bc / 4u][bc % 4u] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      let av = As[kk * ${TILE / 4}u + ty];
      let bv = Bs[kk * ${TILE / 4}u + tx];
      acc[0] = acc[0] + av.x * bv;
      acc[1] = acc[1] + av.y * bv;
      acc[2] = acc[2] + av.z * bv;
      acc[3] = acc[3] + av.w * bv;
    }
    workgroupBarrier();
  }
  let cBase = batch * M * N;
  for (var r = 0u; r < 4u; r++) {
    let row = row0 + ty * 4u + r;
    if (row < M) {
      let v = ${fin("acc[r]")};
      for (var cc = 0u; cc < 4u; cc++) {
        let col = col0 + tx * 4u + cc;
        if (col < N) { c[cBase + row * N + col] = v[cc]; }
      }
    }
  }
}`;
  });
  const gx = Math.ceil(N / TILE);
  const gy = Math.ceil(M / TILE);
  for (let z0 = 0; z0 < B; z0 += max)
    ctx.dispatch(
      p,
      [a.buffer, b.buffer, out.buffer, ctx.words(new Uint32Array([M, K, N, z0]))],
      [gx, gy, Math.min(max, B - z0)],
    );
  return out;
}

/** One invocation per output, K products each straight from global memory (the benchmark's baseline). */
export function matmulNaive(ctx: GpuContext, a: GpuTensor, b: GpuTensor, outShape: readonly number[]): GpuTensor {
  const out = ctx.alloc(outShape, a.dtype);
  const [B, M, K, N] = dims(a, b);
  const ty = wty(a.dtype);
  const body = `  let batch = i / ${M * N}u;
  let row = (i / ${N}u) % ${M}u;
  let col = i % ${N}u;
  var acc = ${ty}(0);
  for (var k = 0u; k < ${K}u; k++) { acc = acc + a[batch * ${M * K}u + row * ${K}u + k] * b[batch * ${K * N}u + k * ${N}u + col]; }
  c[i] = ${a.dtype === "bool" ? "acc & 255u" : "acc"};`;
  const decls = `${binding(0, "a", ty)}\n${binding(1, "b", ty)}\n${binding(2, "c", ty, true)}`;
  launch(ctx, `matmul-naive|${ty}|${M},${K},${N}`, decls, body, [a.buffer, b.buffer, out.buffer], B * M * N);
  return out;
}

/** This file's kernels by primitive name (and conv's, from conv.ts). */
export const KERNELS = {
  ...CONV,
  matmul: kernel("matmul", 2, (ctx, [a, b], _p: {}, o) => {
    gpuDtype(o.dtype);
    return matmulTiled(ctx, a, b, o.shape);
  }),
} satisfies KernelTable;
