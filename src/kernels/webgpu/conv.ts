/**
 * WebGPU kernel: the general convolution (channels first, as the CPU kernel
 * src/kernels/conv.ts): x [N, C, ...in] and w [O, C/G, ...k] give
 * [N, O, ...out], with per-axis window strides, low/high padding (negative
 * crops), input and kernel dilations and G feature groups.
 *
 * Direct: one invocation per output element sums its C/G·K products (K the
 * kernel's size) in the CPU's order — channel, then kernel position row-major
 * — locating each input point from the geometry in the shader (no im2col
 * table). Float32 |err| ≤ γ(C/G·K)·Σ|w||x| (u = 2⁻²⁴), as a float32 dot
 * product of that length; int32 wraps modulo 2³².
 *
 * Exported through matmul.ts's table (gpuTable.ts lists the kernel files).
 */
import { sizeOf } from "../../core/shape.js";
import { type ConvGeometry, convAxis, convDims } from "../conv.js";
import { type GpuContext, type GpuTensor, type KernelTable, kernel } from "./kernel.js";
import { binding, gpuDtype, launch, unravel, wty } from "./wgsl.js";

function conv(ctx: GpuContext, x: GpuTensor, w: GpuTensor, g: ConvGeometry, outShape: readonly number[]): GpuTensor {
  const out = ctx.alloc(outShape, x.dtype);
  const n = sizeOf(outShape);
  if (n === 0) return out;
  const { C, O, Cg, inS, kS } = convDims(x.shape, w.shape);
  const outS = outShape.slice(2);
  const Og = O / g.groups;
  const IV = sizeOf(inS);
  const KV = sizeOf(kS);
  const P = sizeOf(outS);
  const ty = wty(x.dtype);
  // per spatial axis d: input coordinate of output o_d, tap j_d; valid on the dilated grid
  const axes = inS.flatMap((I, d) => {
    const { stride: s, rhsDilation: rd, lo, lhsDilation: ld } = convAxis(g, d);
    return [
      `let pos${d} = i32(o${d}) * ${s} + i32(j${d}) * ${rd} - ${lo};`,
      `if (pos${d} < 0 || pos${d} % ${ld} != 0 || pos${d} / ${ld} >= ${I}) { ok = false; } else { at = at * ${I}u + u32(pos${d} / ${ld}); }`,
    ];
  });
  const body = `  let nb = i / ${O * P}u;
  let oc = (i / ${P}u) % ${O}u;
  let p = i % ${P}u;
  let gi = oc / ${Og}u;
  ${unravel("p", outS, "o")}
  var acc = ${ty}(0);
  for (var c = 0u; c < ${Cg}u; c++) {
    let xBase = (nb * ${C}u + gi * ${Cg}u + c) * ${IV}u;
    let wBase = (oc * ${Cg}u + c) * ${KV}u;
    for (var a = 0u; a < ${KV}u; a++) {
      ${unravel("a", kS, "j")}
      var ok = true;
      var at = 0u;
      ${axes.join("\n      ")}
      if (ok) { acc = acc + w[wBase + a] * x[xBase + at]; }
    }
  }
  o[i] = acc;`;
  const key = `conv|${ty}|${x.shape.join(",")}|${w.shape.join(",")}|${outShape.join(",")}|${JSON.stringify(g)}`;
  launch(
    ctx,
    key,
    `${binding(0, "x", ty)}\n${binding(1, "w", ty)}\n${binding(2, "o", ty, true)}`,
    body,
    [x.buffer, w.buffer, out.buffer],
    n,
  );
  return out;
}

/** This file's kernels by primitive name. */
export const KERNELS = {
  conv: kernel("conv", 2, (ctx, [x, w], p: ConvGeometry, o) => {
    gpuDtype(o.dtype);
    return conv(ctx, x, w, p, o.shape);
  }),
} satisfies KernelTable;
