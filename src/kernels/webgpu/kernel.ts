/**
 * The contract between the "webgpu" runtime and its kernels.
 *
 * A GPU array's elements live in one GPU buffer, contiguous and row-major;
 * every element is 4 bytes: `f32` for float32, `i32` for int32 and `u32`
 * (0 or 1) for bool, since WGSL storage buffers have no byte type. A kernel
 * takes its operands as {@link GpuTensor}s, records dispatches on the
 * {@link GpuContext} and returns its outputs; it never waits for the GPU.
 * A kernel of fixed arity is written with {@link kernel}, which checks the
 * operand and output counts once and hands the operands over as a tuple.
 * The primitive table's GPU rows (`src/prims/gpuTable.ts`) map each
 * primitive to a kernel here or to the documented CPU transfer.
 */
import { NablaError } from "../../core/errors.js";
import type { Shape } from "../../core/shape.js";
import { type Tuple, hasLength } from "../../core/tuple.js";
import type { GPUBufferLike, GPUComputePipelineLike, GPUDeviceLike } from "./gpu.js";

/** The dtypes a GPU array can have (float64 throws DTypeError on "webgpu"). */
export type GpuDType = "float32" | "int32" | "bool";

/** A contiguous row-major array in a GPU buffer (4 bytes per element; bool as u32 0/1). */
export interface GpuTensor {
  readonly buffer: GPUBufferLike;
  readonly shape: Shape;
  readonly dtype: GpuDType;
}

/** The abstract value of a kernel output (as `Rule.impl` receives it). */
export interface GpuAval {
  readonly shape: Shape;
  readonly dtype: GpuDType | "float64";
  readonly weak: boolean;
}

/** WGSL scalar type of each GPU dtype. */
export const WGSL_TYPE: Readonly<Record<GpuDType, "f32" | "i32" | "u32">> = {
  float32: "f32",
  int32: "i32",
  bool: "u32",
};

/** What a kernel may do: compile (cached), allocate, and record work. Nothing here blocks. */
export interface GpuContext {
  readonly device: GPUDeviceLike;
  /** The largest workgroup count per dispatch dimension (65535 by the spec's default limits). */
  readonly maxWorkgroups: number;
  /** The compute pipeline of `key`, compiled from `wgsl()` the first time (entry point `main`); cached by key. */
  pipeline(key: string, wgsl: () => string): GPUComputePipelineLike;
  /** A fresh output tensor; its contents are undefined until a dispatch writes them. */
  alloc(shape: Shape, dtype: GpuDType): GpuTensor;
  /** A read-only storage buffer holding these 32-bit words (kernel parameters: shapes, strides, ...). */
  words(data: Uint32Array | Int32Array | Float32Array): GPUBufferLike;
  /** Records a dispatch of `pipeline` with `bindings` at @group(0) @binding(0, 1, ...). */
  dispatch(
    pipeline: GPUComputePipelineLike,
    bindings: readonly GPUBufferLike[],
    workgroups: readonly [number, number?, number?],
  ): void;
  /** Records a copy of `bytes` bytes between buffers (ordered with the dispatches). */
  copy(src: GPUBufferLike, srcOffset: number, dst: GPUBufferLike, dstOffset: number, bytes: number): void;
  /** A tensor holding `data` (Float32Array for float32, Int32Array for int32, Uint32Array 0/1 for bool). */
  upload(data: Float32Array | Int32Array | Uint32Array, shape: Shape, dtype: GpuDType): GpuTensor;
  /** The elements of `t`, once the work recorded before this call has run (batched with other reads). */
  read(t: GpuTensor): Promise<Float32Array | Int32Array | Uint32Array>;
}

/**
 * A GPU kernel for one primitive: operands, the primitive's parameters and
 * the outputs' abstract values (from the shape rule) to output tensors.
 */
export type GpuKernel<P> = (
  ctx: GpuContext,
  args: readonly GpuTensor[],
  params: P,
  outs: readonly GpuAval[],
) => GpuTensor[];

/**
 * The kernel of a primitive with `arity` operands and one output: `f` takes the operands as a
 * tuple and the output's abstract value, and returns the output tensor. The runtime passes a
 * kernel the operands the primitive was bound with and the avals of its shape rule, so the counts
 * hold by construction; they are checked once here (a mismatch is a bug in nabla, reported as a
 * NablaError naming `prim`).
 */
export function kernel<P, N extends number>(
  prim: string,
  arity: N,
  f: (ctx: GpuContext, args: Tuple<GpuTensor, N>, params: P, out: GpuAval) => GpuTensor,
): GpuKernel<P> {
  return (ctx, args, params, outs) => {
    if (!hasLength(args, arity) || !hasLength(outs, 1))
      throw new NablaError(
        `${prim}: internal: the webgpu kernel takes ${arity} operand(s) and 1 output, given ${args.length} and ${outs.length}`,
      );
    const [o] = outs;
    return [f(ctx, args, params, o)];
  };
}

/**
 * Workgroup counts covering `n` invocations of `size` per workgroup, as a 2-d grid when one
 * dimension would pass `max`. Shaders recover the flat index with {@link flatIndexWgsl}.
 */
export function grid(n: number, size: number, max = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / size));
  if (groups <= max) return [groups, 1, 1];
  const y = Math.ceil(groups / max);
  return [max, y, 1];
}

/**
 * WGSL for the flat invocation index under {@link grid}: declare `@builtin(workgroup_id) wid:
 * vec3u, @builtin(local_invocation_index) lid: u32` and use `let i = ${flatIndexWgsl(size)};`.
 */
export function flatIndexWgsl(size: number, max = 65535): string {
  return `(wid.x + wid.y * ${max}u) * ${size}u + lid`;
}

/**
 * WGSL opening the entry point `main` of a shader run once per element `i` < `n` (a WGSL u32
 * expression), in workgroups of `size` laid out by {@link grid} (at most `max` per dimension).
 */
export function elementMain(size: number, max: number, n: string): string {
  return `@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = ${flatIndexWgsl(size, max)};
  if (i >= ${n}) { return; }`;
}

/** A file's kernels by primitive name (`satisfies KernelTable` keeps each kernel's parameter type). */
export type KernelTable = Readonly<Record<string, GpuKernel<never>>>;
