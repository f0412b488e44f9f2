/**
 * The public device functions (API.md "Devices (WebGPU)"): `init`,
 * `devices`, `defaultDevice`, `devicePut`, `deviceGet`. See docs/webgpu.md.
 */
import { DeviceError, TracerError, fmtValue } from "../core/errors.js";
import { ConcreteArray, NDArray, commitToCpu, committedToCpu, deviceStorageOf, storageOf } from "../core/ndarray.js";
import { broadcastPrim, selectPrim } from "../prims/wrap.js";
import { flattenAs, unflatten } from "../core/pytree.js";
import {
  deviceNames,
  getDefaultDevice,
  jitStagingDevice,
  registerDevice,
  runtimeOf,
  setDefaultDevice,
} from "../core/device.js";
import { startWebGpu } from "./webgpu.js";
import type { DeviceRuntime } from "../core/device.js";

const KNOWN = ["cpu", "webgpu"];

function deviceArg(op: string, name: unknown): string {
  if (typeof name !== "string" || !KNOWN.includes(name))
    throw new DeviceError(`${op}: unknown device ${fmtValue(name)} (devices are ${KNOWN.join(", ")})`);
  return name;
}

/** @internal The device named `name`, checked usable (DeviceError naming `op` otherwise). */
export function usableDevice(op: string, name: unknown): string {
  const d = deviceArg(op, name);
  if (d !== "cpu") usableRuntime(op, d);
  return d;
}

/** The runtime of device `d` (not "cpu"); DeviceError when it is not initialised. */
function usableRuntime(op: string, d: string): DeviceRuntime {
  const rt = runtimeOf(d);
  if (rt === undefined)
    throw new DeviceError(
      `${op}: device "${d}" is not initialised; call await nb.init("${d}") first (it resolves false without an adapter)`,
    );
  return rt;
}

/**
 * Initialises a device: resolves true when it can be used ("cpu" always; "webgpu" when the
 * environment has WebGPU and an adapter, false otherwise). Repeated calls share the first one.
 * @example
 * if (await nb.init("webgpu")) nb.defaultDevice("webgpu");
 */
export function init(name: "cpu" | "webgpu"): Promise<boolean> {
  // the name is checked synchronously (a bad one throws, not rejects)
  const d = deviceArg("init", name);
  if (d === "cpu") return Promise.resolve(true);
  return startWebGpu().then((r) => {
    if (r === null) return false;
    if (runtimeOf("webgpu") === undefined) registerDevice(r);
    return true;
  });
}

/**
 * The names of the usable devices: "cpu", and "webgpu" once `init("webgpu")` has resolved true.
 * @example
 * nb.devices(); // ["cpu"] (["cpu", "webgpu"] after await nb.init("webgpu") on a machine with WebGPU)
 */
export function devices(): string[] {
  return deviceNames();
}

/**
 * Gets the default device, or sets it (a usable device, else DeviceError) and returns it: where
 * `jit` runs functions whose arguments are all uncommitted CPU arrays. Arrays made without a device
 * (creation functions, nested JS literals) are uncommitted: made on the CPU and uploaded implicitly
 * when an operation meets them with a GPU array. While the default device is "webgpu", creation
 * functions and literals without a dtype give float32 instead of float64 (JAX's default; WebGPU has
 * no float64); bare JS number operands stay weak and take the dtype they meet.
 * @example
 * nb.defaultDevice(); // "cpu"
 */
export function defaultDevice(name?: "cpu" | "webgpu"): string {
  if (name !== undefined) setDefaultDevice(usableDevice("defaultDevice", name));
  return getDefaultDevice();
}

/**
 * Places every array leaf of `tree` on `device`, committed (operations on it run there, and mixing it
 * with an array committed elsewhere throws DeviceError). To "webgpu" the copy is started and the
 * result is usable at once; float64 arrays throw DTypeError (bare JS numbers become float32). A
 * "webgpu" array cannot come back to "cpu" synchronously: `devicePut(x, "cpu")` throws DeviceError
 * naming {@link deviceGet}. Leaves that are not arrays pass through. Inside a transform (jit, grad,
 * vmap, ...) it is the identity on values, as JAX's `device_put`: a traced array already on `device`
 * is returned as it is and one traced on the CPU is copied to `device` (its derivatives too); inside
 * a jit, `device` must be the jit's own (DeviceError otherwise: use `jit(f, { device })`); one on
 * "webgpu" to "cpu" throws DeviceError.
 * @example
 * const x = nb.devicePut(nb.array([1, 2], { dtype: "float32" }), "webgpu");
 * x.device; // "webgpu"
 */
export function devicePut<T>(tree: T, device: "cpu" | "webgpu"): T {
  const d = usableDevice("devicePut", device);
  const [leaves, def] = flattenAs(tree as unknown, "devicePut", "the tree");
  const moved = leaves.map((l: unknown) => {
    if (typeof l === "number") l = new ConcreteArray(Float64Array.of(l), [], "float64", true);
    if (!(l instanceof NDArray)) return l;
    l.assertLive("devicePut");
    if (!(l instanceof ConcreteArray)) return putTraced(l, d);
    if (d === "cpu") {
      if (deviceStorageOf(l) !== null)
        throw new DeviceError(
          `devicePut: an array of shape [${l.shape.join(",")}] lives on "${l.device}" and cannot be copied to "cpu" ` +
            "synchronously; use await nb.deviceGet(x) (or await x.data())",
        );
      const c = new ConcreteArray(storageOf(l), l.shape, l.dtype, l.weakType);
      commitToCpu(c);
      return c;
    }
    return usableRuntime("devicePut", d).put(l, "devicePut");
  });
  return unflatten(def, moved) as T;
}

/**
 * `devicePut` of a tracer, as JAX's `device_put` under a transform: the identity on values.
 * - Staged by a `jit`: the jit's device decides where the graph runs, so `device` must be that one
 *   (the tracer itself is returned); another device throws DeviceError naming jit's `device` option.
 * - Under eager transforms (grad, jvp, vmap, ...), a tracer already on `device` is returned as it is;
 *   one on the CPU is copied to `device` by a select with a committed all-true predicate there,
 *   which copies the elements exactly and which every transform differentiates and batches like any
 *   primitive (tangents move too; cotangents come back on the device).
 * - From a device back to "cpu": DeviceError, as for arrays (no synchronous copy back).
 */
function putTraced(t: NDArray, d: string): NDArray {
  const jitOn = jitStagingDevice();
  const what = `an array of shape [${t.shape.join(",")}] traced on "${t.device}"`;
  if (jitOn !== null) {
    if (d === jitOn) return t;
    throw new DeviceError(
      `devicePut: ${what} is staged by a jit running on "${jitOn}" and cannot be placed on "${d}" inside it; ` +
        `use jit(f, { device: "${d}" }), or devicePut the jit's results`,
    );
  }
  if (t.device === d) return t;
  if (d === "cpu")
    throw new DeviceError(
      `devicePut: ${what} cannot be copied to "cpu" synchronously; use await nb.deviceGet(x) outside the transform`,
    );
  let value: ConcreteArray | null = null;
  try {
    value = t.concrete("devicePut");
  } catch (e) {
    // batched or staged: no single value to look at
    if (!(e instanceof TracerError)) throw e;
  }
  if (value !== null && committedToCpu(value))
    throw new DeviceError(
      `devicePut: ${what} is committed to "cpu" (devicePut); place it on "${d}" before the transform`,
    );
  const yes = usableRuntime("devicePut", d).put(new ConcreteArray(Uint8Array.of(1), [], "bool"), "devicePut");
  return selectPrim(broadcastPrim(yes, t.shape), t, t);
}

/**
 * Reads every device array leaf of `tree` back into (uncommitted) CPU arrays, all in one batched
 * readback; CPU leaves and other values pass through.
 * @example
 * const [a, b] = await nb.deviceGet([x, y]); // a.toArray() works
 */
export function deviceGet<T>(tree: T): Promise<T> {
  // the tree is flattened synchronously (a bad one throws, not rejects)
  const [leaves, def] = flattenAs(tree as unknown, "deviceGet", "the tree");
  return readLeaves(leaves).then((moved) => unflatten(def, moved) as T);
}

async function readLeaves(leaves: readonly unknown[]): Promise<unknown[]> {
  return Promise.all(
    leaves.map(async (l: unknown) => {
      if (!(l instanceof ConcreteArray) || deviceStorageOf(l) === null) return l;
      return new ConcreteArray(await l.data(), l.shape, l.dtype);
    }),
  );
}
