/**
 * The part of the WebGPU API the "webgpu" device uses, declared structurally
 * here instead of depending on `@webgpu/types`: the emitted `.d.ts` files then
 * need no ambient GPU types, and TypeScript users without them are unaffected.
 * Only what the backend calls is declared; browsers (and Deno) provide it as
 * `navigator.gpu`.
 */

/** `GPUBufferUsage` flags (the numeric values are fixed by the WebGPU spec). */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** `GPUMapMode.READ`. */
export const MAP_READ = 0x0001;

export interface GPUBufferLike {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GPUBindGroupLayoutLike {
  readonly __brand?: "GPUBindGroupLayout";
}
export interface GPUBindGroupLike {
  readonly __brand?: "GPUBindGroup";
}
export interface GPUShaderModuleLike {
  getCompilationInfo?(): Promise<{ messages: readonly { type: string; message: string; lineNum: number }[] }>;
}
export interface GPUComputePipelineLike {
  getBindGroupLayout(index: number): GPUBindGroupLayoutLike;
}

export interface GPUComputePassLike {
  setPipeline(p: GPUComputePipelineLike): void;
  setBindGroup(index: number, group: GPUBindGroupLike): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GPUCommandBufferLike {
  readonly __brand?: "GPUCommandBuffer";
}

export interface GPUCommandEncoderLike {
  beginComputePass(descriptor?: object): GPUComputePassLike;
  copyBufferToBuffer(src: GPUBufferLike, srcOffset: number, dst: GPUBufferLike, dstOffset: number, size: number): void;
  finish(): GPUCommandBufferLike;
}

export interface GPUQueueLike {
  submit(buffers: GPUCommandBufferLike[]): void;
  writeBuffer(
    buffer: GPUBufferLike,
    offset: number,
    data: ArrayBufferView | ArrayBuffer,
    dataOffset?: number,
    size?: number,
  ): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GPUErrorLike {
  readonly message: string;
}

export interface GPUDeviceLike {
  readonly queue: GPUQueueLike;
  readonly limits: Readonly<Record<string, number>>;
  readonly features: ReadonlySet<string>;
  readonly lost: Promise<{ reason: string; message: string }>;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean; label?: string }): GPUBufferLike;
  createShaderModule(d: { code: string; label?: string }): GPUShaderModuleLike;
  createComputePipeline(d: {
    layout: "auto";
    compute: { module: GPUShaderModuleLike; entryPoint: string };
    label?: string;
  }): GPUComputePipelineLike;
  createBindGroup(d: {
    layout: GPUBindGroupLayoutLike;
    entries: { binding: number; resource: { buffer: GPUBufferLike; offset?: number; size?: number } }[];
  }): GPUBindGroupLike;
  createCommandEncoder(): GPUCommandEncoderLike;
  pushErrorScope(filter: "validation" | "out-of-memory" | "internal"): void;
  popErrorScope(): Promise<GPUErrorLike | null>;
  destroy(): void;
}

export interface GPUAdapterLike {
  readonly features: ReadonlySet<string>;
  readonly limits: Readonly<Record<string, number>>;
  readonly info?: { vendor?: string; architecture?: string; description?: string; device?: string };
  requestDevice(d?: { requiredLimits?: Record<string, number>; requiredFeatures?: string[] }): Promise<GPUDeviceLike>;
}

export interface GPULike {
  requestAdapter(options?: { powerPreference?: "low-power" | "high-performance" }): Promise<GPUAdapterLike | null>;
}

/** `navigator.gpu` where the platform has WebGPU, else undefined (Node without a WebGPU binding). */
export function navigatorGpu(): GPULike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GPULike } }).navigator;
  return nav?.gpu ?? undefined;
}
