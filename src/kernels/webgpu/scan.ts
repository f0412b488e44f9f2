/**
 * WebGPU kernels: scans (see kernel.ts for the contract) — cumsum along an
 * axis, forward or reverse (float32, int32; the row rejects bool).
 *
 * Short lines (L ≤ 64), and lines up to 1024 when there are many of them
 * (M ≥ 4096), run one invocation per line adding left to right. Longer lines
 * run a parallel scan in blocks of 1024: 256 invocations each scan 4
 * consecutive elements, a Hillis–Steele scan over their totals in workgroup
 * memory (8 steps) gives each invocation its offset, the blocks' totals are
 * scanned the same way (recursively), and a last pass adds each block's
 * offset.
 *
 * Float32 error of output k: |y_k − exact| ≤ γ(c)·Σ_{i≤k}|x_i| (u = 2⁻²⁴) with
 * c = L − 1 per invocation and c = 14·⌈log₁₀₂₄ L⌉ for the blocked scan (3
 * in-invocation additions, 8 scan steps, the invocation's and the block's
 * offsets, per level). int32 sums wrap modulo 2³², as the CPU's stored result.
 */
import { sizeOf } from "../../core/shape.js";
import { at } from "../../core/errors.js";
import { type GpuContext, type GpuTensor, type KernelTable, kernel } from "./kernel.js";
import { binding, groupGrid, groupMain, launch, releaseTemp, wty } from "./wgsl.js";

const T = 256;
const PER = 4;
const CHUNK = T * PER;

/** WGSL `fn off(m, k) -> u32`: element k (in scan order) of line m of lines along `axis`. */
function offsetWgsl(L: number, inner: number, reverse: boolean): string {
  const k = reverse ? `(${L - 1}u - k)` : "k";
  return `fn off(m: u32, k: u32) -> u32 { return (m / ${inner}u) * ${L * inner}u + (m % ${inner}u) + ${k} * ${inner}u; }`;
}

/** Inclusive scans of M lines of length L (layout by `inner`, direction by `reverse`) of x into a new tensor. */
function scan(ctx: GpuContext, x: GpuTensor, M: number, L: number, inner: number, reverse: boolean): GpuTensor {
  const out = ctx.alloc(x.shape, x.dtype);
  if (M * L === 0) return out;
  const ty = wty(x.dtype);
  const offFn = offsetWgsl(L, inner, reverse);
  const key = `${ty}|${M},${L},${inner}|${reverse}`;
  if (L <= 64 || (M >= 4096 && L <= CHUNK)) {
    const body = `  var acc = ${ty}(0);
  for (var k = 0u; k < ${L}u; k++) { let o = off(i, k); acc = acc + x[o]; y[o] = acc; }`;
    launch(
      ctx,
      `cumsum-line|${key}`,
      `${binding(0, "x", ty)}\n${binding(1, "y", ty, true)}\n${offFn}`,
      body,
      [x.buffer, out.buffer],
      M,
    );
    return out;
  }
  const P = Math.ceil(L / CHUNK);
  const sums = P > 1 ? ctx.alloc([M, P], x.dtype) : null;
  const max = ctx.maxWorkgroups;
  const groups = M * P;
  const p = ctx.pipeline(`cumsum-block|${key}|max=${max}`, () => {
    return `${binding(0, "x", ty)}
${binding(1, "y", ty, true)}
${sums !== null ? binding(2, "sums", ty, true) : ""}
${offFn}
var<workgroup> sh: array<${ty}, ${T}>;
${groupMain(T, max, `${groups}u`, "w")}
  let m = w / ${P}u;
  let p = w % ${P}u;
  var part: array<${ty}, ${PER}>;
  var acc = ${ty}(0);
  for (var c = 0u; c < ${PER}u; c++) {
    let k = p * ${CHUNK}u + t * ${PER}u + c;
    if (k < ${L}u) { acc = acc + x[off(m, k)]; }
    part[c] = acc;
  }
  sh[t] = acc;
  for (var s = 1u; s < ${T}u; s = s * 2u) {
    workgroupBarrier();
    var v = ${ty}(0);
    if (t >= s) { v = sh[t - s]; }
    workgroupBarrier();
    sh[t] = v + sh[t];
  }
  workgroupBarrier();
  var before = ${ty}(0);
  if (t > 0u) { before = sh[t - 1u]; }
  for (var c = 0u; c < ${PER}u; c++) {
    let k = p * ${CHUNK}u + t * ${PER}u + c;
    if (k < ${L}u) { y[off(m, k)] = before + part[c]; }
  }
  ${sums !== null ? `if (t == ${T - 1}u) { sums[w] = sh[t]; }` : ""}
}`;
  });
  ctx.dispatch(p, sums !== null ? [x.buffer, out.buffer, sums.buffer] : [x.buffer, out.buffer], groupGrid(ctx, groups));
  if (sums === null) return out;
  // the blocks' inclusive totals, then each block past the first adds its predecessors' total
  const totals = scan(ctx, sums, M, P, 1, false);
  releaseTemp(ctx, sums);
  const body = `  let m = i / ${L - CHUNK}u;
  let k = i % ${L - CHUNK}u + ${CHUNK}u;
  let o = off(m, k);
  y[o] = totals[m * ${P}u + k / ${CHUNK}u - 1u] + y[o];`;
  launch(
    ctx,
    `cumsum-offsets|${key}`,
    `${binding(0, "totals", ty)}\n${binding(1, "y", ty, true)}\n${offFn}`,
    body,
    [totals.buffer, out.buffer],
    M * (L - CHUNK),
  );
  releaseTemp(ctx, totals);
  return out;
}

/** This file's kernels by primitive name. */
export const KERNELS = {
  cumsum: kernel("cumsum", 1, (ctx, [x], { axis, reverse }: { axis: number; reverse: boolean }) => {
    const L = at(x.shape, axis, "cumsum");
    const inner = sizeOf(x.shape.slice(axis + 1));
    const M = L === 0 ? 0 : sizeOf(x.shape) / L;
    return scan(ctx, x, M, L, inner, reverse);
  }),
} satisfies KernelTable;
