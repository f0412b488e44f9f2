/**
 * The linear memory of the generated WebAssembly kernels (./elementwise.ts, ../wasmMatmul.ts),
 * one per kernel family: shared with the worker pool (../threads.ts) where the runtime allows,
 * at most MAX_PAGES pages, grown on demand to hold a call's operands.
 */
import type { ModuleSpec } from "./encoder.js";
import { sharedMemoryAvailable } from "../threads.js";

/**
 * Most pages a kernel memory may grow to (2 GiB: a shared memory must declare a maximum, and
 * byte offsets stay below 2^31, so they pass through i32 parameters and Int32Array headers
 * unchanged). A call whose operands do not fit runs its JS form.
 */
export const MAX_PAGES = 32768;

/** A kernel memory of one page: shared where the runtime allows, else unshared (single-threaded). */
export function createMemory(): WebAssembly.Memory {
  if (sharedMemoryAvailable())
    try {
      return new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    } catch {
      // e.g. the maximum cannot be reserved: an unshared memory, single-threaded
    }
  return new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
}

/** Whether `m` is shared (its buffer a SharedArrayBuffer). */
export const isShared = (m: WebAssembly.Memory): boolean =>
  typeof SharedArrayBuffer === "function" && m.buffer instanceof SharedArrayBuffer;

/** A module's import of a kernel memory as env.mem (`shared`: with the limits a shared memory declares). */
export const memoryImport = (shared: boolean): ModuleSpec["memory"] =>
  shared ? { import: true, shared: { minPages: 1, maxPages: MAX_PAGES } } : { import: true };

/**
 * `b` rounded up to a multiple of 16. Arithmetic, not bitwise: a layout past 2^31 bytes must
 * not wrap (to a small or negative offset) before `ensure` rejects it.
 */
export const align16 = (b: number): number => Math.ceil(b / 16) * 16;

/** Makes `mem` at least `bytes` long; false if that is more than MAX_PAGES pages or it cannot grow. */
export function ensure(mem: WebAssembly.Memory, bytes: number): boolean {
  const have = mem.buffer.byteLength;
  if (bytes <= have) return true;
  if (bytes > MAX_PAGES * 65536) return false;
  try {
    mem.grow(Math.ceil((bytes - have) / 65536));
    return true;
  } catch {
    return false;
  }
}
