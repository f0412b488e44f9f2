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

/**
 * Regions of a kernel memory from `base` up, handed out and given back in any order: best fit
 * among the free blocks (kept sorted by offset and merged with their neighbours), else past the
 * highest region. `end` is the first byte past the highest region in use; a freed block that
 * reaches it lowers it. Sizes are rounded up to multiples of 16.
 */
export class Regions {
  #end: number;
  readonly #free: { at: number; bytes: number }[] = [];
  constructor(readonly base: number) {
    this.#end = base;
  }
  /** First byte past the highest region in use. */
  get end(): number {
    return this.#end;
  }
  /** The offset of a new region of `bytes` (within `limit` bytes of memory), or null. */
  take(bytes: number, limit: number): number | null {
    const b = align16(bytes);
    let best = -1;
    this.#free.forEach((f, i) => {
      const cur = this.#free[best];
      if (f.bytes >= b && (cur === undefined || f.bytes < cur.bytes)) best = i;
    });
    const f = this.#free[best];
    if (f !== undefined) {
      const at = f.at;
      if (f.bytes === b) this.#free.splice(best, 1);
      else {
        f.at += b;
        f.bytes -= b;
      }
      return at;
    }
    if (this.#end + b > limit) return null;
    const at = this.#end;
    this.#end += b;
    return at;
  }
  /** Gives back the region at `at` of `bytes` (as passed to `take`). */
  give(at: number, bytes: number): void {
    const b = align16(bytes);
    const list = this.#free;
    let i = 0;
    while (i < list.length && (list[i]?.at ?? Infinity) < at) i++;
    list.splice(i, 0, { at, bytes: b });
    // merge with the next block, then with the previous one
    const cur = list[i];
    const next = list[i + 1];
    if (cur !== undefined && next !== undefined && cur.at + cur.bytes === next.at) {
      cur.bytes += next.bytes;
      list.splice(i + 1, 1);
    }
    const prev = list[i - 1];
    if (prev !== undefined && cur !== undefined && prev.at + prev.bytes === cur.at) {
      prev.bytes += cur.bytes;
      list.splice(i, 1);
    }
    // a free block at the top lowers the end
    const last = list[list.length - 1];
    if (last !== undefined && last.at + last.bytes === this.#end) {
      this.#end = last.at;
      list.pop();
    }
  }
  /** Bytes in free blocks below the end. */
  get freeBytes(): number {
    return this.#free.reduce((s, f) => s + f.bytes, 0);
  }
}
