/**
 * WebGPU kernels: sorting (see kernel.ts for the contract) — argsort along an
 * axis, as the CPU's: stable (equal keys keep their order, ascending or
 * descending), NaNs last ascending and first descending, -0 equal to +0.
 *
 * A bitonic sort of (key, index) pairs per line, each line padded to a power
 * of two N with sentinels that sort after every element. Comparing keys and
 * then indices makes the order total, so the bitonic network (not stable by
 * itself) yields exactly the stable order. Lines of N ≤ 2048 sort in one
 * dispatch in workgroup memory (sizes read at run time, one pipeline per
 * power-of-two bucket); longer ones run the network's
 * log₂N·(log₂N + 1)/2 stages as one dispatch each over global memory (the
 * stage in a small parameter buffer, so every stage shares one pipeline).
 *
 * {@link argsortLines} is exported for the scatters of indexing.ts.
 */
import { sizeOf } from "../../core/shape.js";
import { at } from "../../core/errors.js";
import { type GpuContext, type GpuTensor, type KernelTable, kernel } from "./kernel.js";
import { NAN_WGSL, WG, binding, fill, groupGrid, groupMain, launch, releaseTemp, wty } from "./wgsl.js";

/** Largest padded line sorted in workgroup memory (keys and indices: 2·4·N bytes ≤ 16 KiB). */
const LOCAL = 2048;

/** WGSL `fn before(a, ai, b, bi) -> bool`: whether (a, ai) sorts strictly before (b, bi). */
function beforeWgsl(ty: "f32" | "i32" | "u32", L: number | string, descending: boolean): string {
  const cmp = descending ? "a > b" : "a < b";
  // NaN above every number: last ascending, first descending; NaNs among themselves by index
  const nan =
    ty === "f32"
      ? `let an = isnan_f(a);
  let bn = isnan_f(b);
  if (an && bn) { return ai < bi; }
  if (an || bn) { return ${descending ? "an" : "bn"}; }`
      : "";
  return `fn before(a: ${ty}, ai: i32, b: ${ty}, bi: i32) -> bool {
  let sa = ai >= ${L};
  let sb = bi >= ${L};
  if (sa || sb) { return select(true, sb && ai < bi, sa); }
  ${nan}
  if (a == b) { return ai < bi; }
  return ${cmp};
}`;
}

/**
 * WGSL of one comparator of the bitonic network: the pairs (keys, idx) at positions `a` and `b`
 * swap unless already in order, ascending where `asc` (a WGSL bool) holds.
 */
function compareSwap(keys: string, idx: string, asc: string): string {
  return `let ka = ${keys}[a]; let kb = ${keys}[b]; let ia = ${idx}[a]; let ib = ${idx}[b];
  if (select(before(ka, ia, kb, ib), before(kb, ib, ka, ia), ${asc})) {
    ${keys}[a] = kb; ${keys}[b] = ka; ${idx}[a] = ib; ${idx}[b] = ia;
  }`;
}

/** WGSL of the flat offset of element k of line m, for lines along `axis` of `shape`. */
function lineOffset(shape: readonly number[], axis: number): string {
  const L = at(shape, axis, "argsort");
  const inner = sizeOf(shape.slice(axis + 1));
  return `fn off(m: u32, k: u32) -> u32 { return (m / ${inner}u) * ${L * inner}u + (m % ${inner}u) + k * ${inner}u; }`;
}

/**
 * The stable sorting permutation of every line of `x` along `axis` (int32, x's shape): out[.., k, ..]
 * is the index of the element that sorts k-th.
 */
export function argsortLines(ctx: GpuContext, x: GpuTensor, axis: number, descending: boolean): GpuTensor {
  const out = ctx.alloc(x.shape, "int32");
  const L = at(x.shape, axis, "argsort");
  const M = sizeOf(x.shape) / Math.max(L, 1);
  if (M * L === 0) return out;
  const ty = wty(x.dtype);
  if (L === 1) {
    fill(ctx, out, 0);
    return out;
  }
  let N = 1;
  while (N < L) N *= 2;
  const shapeKey = `${x.shape.join(",")}|${axis}|${descending}`;
  const helpers = `${NAN_WGSL}\n${beforeWgsl(ty, L, descending)}\n${lineOffset(x.shape, axis)}`;
  if (N <= LOCAL) {
    // workgroup arrays sized by power-of-two buckets, so few pipelines serve all lengths
    localSort(ctx, x, out, ty, M, L, N, Math.max(N, 256), descending, axis);
    return out;
  }
  const keys = ctx.alloc([M * N], x.dtype);
  const idx = ctx.alloc([M * N], "int32");
  launch(
    ctx,
    `argsort-init|${ty}|${shapeKey}`,
    `${binding(0, "x", ty)}\n${binding(1, "keys", ty, true)}\n${binding(2, "idx", "i32", true)}\n${helpers}`,
    `  let m = i / ${N}u;
  let k = i % ${N}u;
  if (k < ${L}u) { keys[i] = x[off(m, k)]; } else { keys[i] = ${ty}(0); }
  idx[i] = i32(k);`,
    [x.buffer, keys.buffer, idx.buffer],
    M * N,
  );
  const stage = `${binding(0, "keys", ty, true)}\n${binding(1, "idx", "i32", true)}\n${binding(2, "st", "u32")}\n${helpers}`;
  const body = `  let half = ${N / 2}u;
  let m = i / half;
  let q = i % half;
  let k = st[0];
  let j = st[1];
  let a = m * ${N}u + 2u * j * (q / j) + q % j;
  let b = a + j;
  let asc = ((a - m * ${N}u) & k) == 0u;
  ${compareSwap("keys", "idx", "asc")}`;
  for (let k = 2; k <= N; k *= 2)
    for (let j = k / 2; j >= 1; j /= 2)
      launch(
        ctx,
        `argsort-stage|${ty}|${shapeKey}`,
        stage,
        body,
        [keys.buffer, idx.buffer, ctx.words(new Uint32Array([k, j]))],
        (M * N) / 2,
      );
  launch(
    ctx,
    `argsort-out|${shapeKey}`,
    `${binding(0, "idx", "i32")}\n${binding(1, "o", "i32", true)}\n${lineOffset(x.shape, axis)}`,
    `  let m = i / ${L}u;
  let k = i % ${L}u;
  o[off(m, k)] = idx[m * ${N}u + k];`,
    [idx.buffer, out.buffer],
    M * L,
  );
  releaseTemp(ctx, keys);
  releaseTemp(ctx, idx);
  return out;
}

/**
 * The whole network in workgroup memory, one workgroup per line. The line's sizes come from a
 * parameter buffer (loop bounds unknown to the compiler, which then does not unroll the network:
 * compiling that took seconds on SwiftShader) and one pipeline serves every line length up to N.
 */
function localSort(
  ctx: GpuContext,
  x: GpuTensor,
  out: GpuTensor,
  ty: "f32" | "i32" | "u32",
  M: number,
  L: number,
  N: number,
  bucket: number,
  descending: boolean,
  axis: number,
): void {
  const T = Math.min(WG, bucket / 2);
  const max = ctx.maxWorkgroups;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const p = ctx.pipeline(`argsort-local|${ty}|${bucket}|${descending}|max=${max}`, () => {
    return `${binding(0, "x", ty)}
${binding(1, "o", "i32", true)}
${binding(2, "st", "u32")}
${NAN_WGSL}
${beforeWgsl(ty, "i32(st[0])", descending)}
var<workgroup> sk: array<${ty}, ${bucket}>;
var<workgroup> si: array<i32, ${bucket}>;
${groupMain(T, max, "st[2]", "m")}
  let L = st[0];
  let n = st[1];
  let inner = st[3];
  let base = (m / inner) * L * inner + m % inner;
  for (var e = t; e < n; e += ${T}u) {
    if (e < L) { sk[e] = x[base + e * inner]; } else { sk[e] = ${ty}(0); }
    si[e] = i32(e);
  }
  for (var k = 2u; k <= n; k = k * 2u) {
    for (var j = k / 2u; j >= 1u; j = j / 2u) {
      workgroupBarrier();
      for (var q = t; q < n / 2u; q += ${T}u) {
        let a = 2u * j * (q / j) + q % j;
        let b = a + j;
        ${compareSwap("sk", "si", "(a & k) == 0u")}
      }
    }
  }
  workgroupBarrier();
  for (var e = t; e < L; e += ${T}u) { o[base + e * inner] = si[e]; }
}`;
  });
  ctx.dispatch(p, [x.buffer, out.buffer, ctx.words(new Uint32Array([L, N, M, inner]))], groupGrid(ctx, M));
}

/** This file's kernels by primitive name. */
export const KERNELS = {
  argsort: kernel("argsort", 1, (ctx, [x], { axis, descending }: { axis: number; descending: boolean }) =>
    argsortLines(ctx, x, axis, descending),
  ),
} satisfies KernelTable;
