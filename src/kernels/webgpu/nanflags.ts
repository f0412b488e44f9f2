/**
 * `config({ debugNans })` on the GPU: one word per float32 tensor saying
 * whether it holds a NaN, so that only those words are read back (not the
 * tensors). Not a primitive's kernel: the runtime dispatches it after each
 * primitive while debugNans is on (src/device/webgpu.ts).
 *
 * One workgroup of 256 invocations per tensor: invocation l tests elements
 * l, l + 256, ... on their bit pattern (`isnan_f`; WGSL lets compilers assume
 * no NaN in comparisons), the workgroup ORs its answers in a workgroup atomic
 * (zero-initialised by WGSL), and invocation 0 writes the word. One pipeline
 * serves every tensor: the element count and the word's slot are parameters.
 */
import { sizeOf } from "../../core/shape.js";
import type { GpuContext, GpuTensor } from "./kernel.js";
import { NAN_WGSL, binding } from "./wgsl.js";

const THREADS = 256;

const WGSL = `${binding(0, "x", "u32")}
${binding(1, "flags", "u32", true)}
${binding(2, "p", "u32")}
${NAN_WGSL}
var<workgroup> any: atomic<u32>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = p[0];
  var found = 0u;
  for (var i = lid; i < n; i = i + ${THREADS}u) {
    if (isnan_f(bitcast<f32>(x[i]))) { found = 1u; }
  }
  if (found != 0u) { atomicOr(&any, 1u); }
  workgroupBarrier();
  if (lid == 0u) { flags[p[1]] = atomicLoad(&any); }
}`;

/**
 * Records, for each float32 tensor `xs[k]`, a dispatch writing 1 into word k of a fresh int32
 * tensor when `xs[k]` holds a NaN and 0 otherwise; returns that tensor (of shape [xs.length]).
 */
export function nanFlags(ctx: GpuContext, xs: readonly GpuTensor[]): GpuTensor {
  const flags = ctx.alloc([xs.length], "int32");
  const pipeline = ctx.pipeline("nan_flags", () => WGSL);
  xs.forEach((x, k) => {
    // an empty tensor's buffer still has 16 bytes: the loop reads none of them
    ctx.dispatch(pipeline, [x.buffer, flags.buffer, ctx.words(Uint32Array.of(sizeOf(x.shape), k))], [1]);
  });
  return flags;
}
