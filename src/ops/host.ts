/**
 * Computations that need float64 on the way to float32, int32 or bool results (the random
 * functions' 53-bit uniforms and their float64 arithmetic): `onHost(fn, xs)` is `fn(...xs)`, except
 * that when an operand lives on a device ("webgpu", which has no float64) `fn` runs on the CPU by
 * transfer, as a primitive without a kernel does, so that the same key gives the same numbers on
 * every device. The device path is a staged `cond` whose two branches are `fn` (the `cond` primitive
 * runs its branch on the CPU by transfer, differentiates and batches as every primitive does);
 * src/transforms/control.ts installs it, since the operations cannot import the transforms.
 */
import type { NDArray } from "../core/ndarray.js";

type HostFn = (...xs: NDArray[]) => NDArray;

let onDevice: ((fn: HostFn, xs: NDArray[]) => NDArray) | null = null;

/** @internal Installs the device path of {@link onHost} (src/transforms/control.ts). */
export function setOnDevice(run: (fn: HostFn, xs: NDArray[]) => NDArray): void {
  onDevice = run;
}

/** @internal `fn(...xs)`, run on the CPU by transfer when one of `xs` lives on a device. */
export function onHost(fn: HostFn, xs: NDArray[]): NDArray {
  if (onDevice === null || xs.every((x) => x.device === "cpu")) return fn(...xs);
  return onDevice(fn, xs);
}
