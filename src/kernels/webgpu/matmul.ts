/** WebGPU kernels: matmul (see kernel.ts for the contract). */
import type { KernelTable } from "./kernel.js";

/** This file's kernels by primitive name. */
export const KERNELS = {} satisfies KernelTable;
