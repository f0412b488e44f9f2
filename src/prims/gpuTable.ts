/**
 * The "webgpu" device's row per primitive: a WebGPU kernel (`src/kernels/webgpu/`), checked against
 * the primitive's parameter type, or — for the primitives without one — the documented transfer:
 * operands are read back, the CPU kernel runs, and the result is uploaded, ordered with the GPU work
 * around it and without blocking JS (see docs/webgpu.md for the list and why).
 */
import type { GpuKernel } from "../kernels/webgpu/kernel.js";
import * as EW from "../kernels/webgpu/elementwise.js";
import * as RD from "../kernels/webgpu/reduce.js";
import * as MV from "../kernels/webgpu/movement.js";
import * as IX from "../kernels/webgpu/indexing.js";
import * as MM from "../kernels/webgpu/matmul.js";
import * as SC from "../kernels/webgpu/scan.js";
import * as SO from "../kernels/webgpu/sort.js";
import type { Params, Prim } from "./table.js";

/** Every primitive's WebGPU kernel, where it has one. */
export const GPU_KERNELS = {
  ...EW.KERNELS,
  ...RD.KERNELS,
  ...MV.KERNELS,
  ...IX.KERNELS,
  ...MM.KERNELS,
  ...SC.KERNELS,
  ...SO.KERNELS,
} satisfies { readonly [P in Prim]?: GpuKernel<Params[P]> };

/** The WebGPU kernel of primitive `name`, or undefined when it runs on the CPU by transfer. */
export function gpuKernel(name: string): GpuKernel<never> | undefined {
  return Object.prototype.hasOwnProperty.call(GPU_KERNELS, name)
    ? (GPU_KERNELS as Readonly<Record<string, GpuKernel<never>>>)[name]
    : undefined;
}
