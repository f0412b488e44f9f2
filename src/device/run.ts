/**
 * Running a staged graph on a device: the seam between `jit` and the
 * devices. On "webgpu" the graph runs its device plan (src/device/gpuPlan.ts:
 * fused elementwise regions as one WGSL shader each, the other equations
 * through `bind`), built once per graph; on other devices, and on every
 * device under `config({ debugNans: true })`, every equation is dispatched
 * through `bind` (its device kernel or the transfer).
 */
import { DeviceError } from "../core/errors.js";
import { ConcreteArray, NDArray, committedToCpu, deviceStorageOf } from "../core/ndarray.js";
import { type Graph, evalGraph } from "../core/graph.js";
import { runtimeOf } from "../core/device.js";
import { SETTINGS } from "../core/config.js";
import { gpuPlanOf } from "./gpuPlan.js";
import { WebGpuRuntime } from "./webgpu.js";

/** WebGPU's default `maxStorageBuffersPerShaderStage` (what a device requested without limits has). */
const DEFAULT_STORAGE_BUFFERS = 8;

/**
 * The device a call runs on: `explicit` when given, else the device of a leaf that lives on one (a
 * tracer's: its value's, e.g. `grad(jit(f))` of GPU arrays), else `fallback`.
 */
export function placementOf(
  op: string,
  explicit: string | undefined,
  leaves: readonly NDArray[],
  fallback: string,
): string {
  let found: string | null = null;
  for (const l of leaves)
    if (l instanceof ConcreteArray ? deviceStorageOf(l) !== null : l.device !== "cpu") {
      found = l.device;
      break;
    }
  if (explicit === undefined) return found ?? fallback;
  if (explicit === "cpu" && found !== null)
    throw new DeviceError(
      `${op}: device "cpu" was asked for, but an argument lives on "${found}"; use await nb.deviceGet(x)`,
    );
  return explicit;
}

/**
 * Evaluates `graph` on `device` ("cpu" callers use the compiled plan instead): CPU arguments that are
 * not weak scalars are placed on the device (uncommitted), the equations run through the device's
 * plan (or dispatch), and non-weak CPU results (constants) are placed there too.
 */
export function runGraphOn(op: string, device: string, graph: Graph, leaves: readonly ConcreteArray[]): NDArray[] {
  const rt = runtimeOf(device);
  if (rt === undefined)
    throw new DeviceError(`${op}: device "${device}" is not initialised; call await nb.init("${device}") first`);
  const place = (x: NDArray): NDArray => {
    if (!(x instanceof ConcreteArray) || x.weakType || deviceStorageOf(x) !== null) return x;
    if (committedToCpu(x))
      throw new DeviceError(
        `${op}: an argument is committed to "cpu" (devicePut) but the function runs on "${device}"`,
      );
    return rt.place(x, op);
  };
  const args = leaves.map(place);
  // debugNans: equation by equation through bind (as the CPU plan does), so that every primitive is
  // tested and reports its recorded call site; no fused regions
  if (rt instanceof WebGpuRuntime && !SETTINGS.debugNans) {
    const maxBuffers = rt.ctx.device.limits["maxStorageBuffersPerShaderStage"] ?? DEFAULT_STORAGE_BUFFERS;
    return gpuPlanOf(graph, maxBuffers).run(rt, args).map(place);
  }
  return evalGraph(graph, args).map(place);
}
