/**
 * Devices as the core sees them: names, the default device, and the hook a
 * device runtime registers so that `bind` hands it the primitives whose
 * operands live on that device. The core imports nothing device-specific:
 * the "webgpu" runtime (src/device/webgpu.ts) registers itself when
 * `init("webgpu")` finds an adapter, and until then the CPU path pays one
 * null check per primitive.
 */
import type { ConcreteArray, NDArray } from "./ndarray.js";
import type { Rule } from "./trace.js";
import type { TypedArray } from "./dtype.js";

/**
 * Evaluates `prim` on concrete operands when one of them lives on a device other than the CPU;
 * returns null to let the CPU evaluate it (no operand on a device).
 */
export type DeviceHook = (prim: Rule<never>, args: readonly ConcreteArray[], params: unknown) => NDArray[] | null;

/** @internal The registered hook (null while only the CPU exists): read by `bind`. */
export let DEVICE_HOOK: DeviceHook | null = null;

/** What a device runtime provides to the public device functions. */
export interface DeviceRuntime {
  readonly name: string;
  /** Places the leaf `x` on this device (committed), starting the copy; usable at once. */
  put(x: ConcreteArray, op: string): ConcreteArray;
  /** An uncommitted copy of the CPU array `x` on this device (jit's arguments); float64 throws DTypeError. */
  place(x: ConcreteArray, op: string): ConcreteArray;
  /** The hook `bind` calls for operations on this device's arrays. */
  readonly hook: DeviceHook;
  /**
   * Tests the elements of this device's arrays `xs` once they are computed, without blocking:
   * `test` returns the error to report (null: none), which rejects the next read of this device.
   */
  checkLater(xs: readonly ConcreteArray[], test: (values: TypedArray[]) => Error | null): void;
}

const RUNTIMES = new Map<string, DeviceRuntime>();
let DEFAULT = "cpu";

/** @internal Registers an initialised device runtime (its hook becomes bind's). */
export function registerDevice(r: DeviceRuntime): void {
  RUNTIMES.set(r.name, r);
  DEVICE_HOOK = r.hook;
}

/** @internal The runtime of device `name` (undefined for "cpu" and devices not initialised). */
export function runtimeOf(name: string): DeviceRuntime | undefined {
  return RUNTIMES.get(name);
}

/** @internal The names of the usable devices, "cpu" first. */
export function deviceNames(): string[] {
  return ["cpu", ...RUNTIMES.keys()];
}

/** @internal The default device's name. */
export function getDefaultDevice(): string {
  return DEFAULT;
}

/** @internal Sets the default device (the caller has checked that it is usable). */
export function setDefaultDevice(name: string): void {
  DEFAULT = name;
}

/**
 * @internal The float dtype of arrays made without one (creation functions, nested JS literals):
 * float64, or float32 while the default device is one without float64 ("webgpu"), as JAX's default.
 */
export function defaultFloat(): "float64" | "float32" {
  return DEFAULT === "cpu" ? "float64" : "float32";
}

/** The device a `jit` is staging for (null outside one): what its tracers report as `device`. */
let STAGING_DEVICE: string | null = null;

/** @internal Runs `f` with `device` as the device staged tracers report. */
export function withStagingDevice<R>(device: string, f: () => R): R {
  const prev = STAGING_DEVICE;
  STAGING_DEVICE = device;
  try {
    return f();
  } finally {
    STAGING_DEVICE = prev;
  }
}

/** @internal The device of the `jit` being staged, or null outside one. */
export function jitStagingDevice(): string | null {
  return STAGING_DEVICE;
}

/** @internal The device a tracer without a concrete value reports. */
export function stagingDevice(): string {
  return STAGING_DEVICE ?? DEFAULT;
}
