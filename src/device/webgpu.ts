/**
 * The "webgpu" device's runtime: GPU arrays (ConcreteArrays whose storage is
 * a {@link GpuTensor}), the hook `bind` calls for primitives with a GPU
 * operand, and placement.
 *
 * Dispatch: a primitive with a GPU operand runs its WebGPU kernel
 * (`gpuKernel(name)`, src/prims/gpuTable.ts) or, without one, the transfer:
 * its outputs are allocated at once (shapes from the shape rule), the GPU
 * operands are read back asynchronously, the CPU kernel runs on them and the
 * results are written into the outputs; the context holds later GPU work
 * until then (WebGpuContext.transfer), so nothing waits synchronously.
 *
 * Placement follows JAX's committed/uncommitted arrays: devicePut commits;
 * an operation's result is committed when an operand is; uncommitted CPU
 * operands (JS numbers, rule constants, arrays made without a device) are
 * uploaded implicitly; an operand committed to "cpu" with a GPU operand
 * throws DeviceError. Memory: a FinalizationRegistry returns a collected
 * array's buffer to the context's pool (buffers shared by several arrays are
 * counted).
 *
 * `config({ debugNans: true })`: after each primitive with a float32 output
 * the runtime records a NaN test of its GPU operands and outputs on the GPU
 * (kernels/webgpu/nanflags.ts; CPU operands are tested at once) and reads
 * back only the verdicts, without holding later work. A primitive that made a
 * NaN from operands without one is reported, with its name, its operands'
 * shapes and the call site captured when it was dispatched, by the next read
 * (`await x.data()`, `deviceGet`) of any GPU array: JAX checks synchronously
 * after each operation, which would mean waiting for the GPU at every one.
 */
import { DTypeError, DeviceError, NablaError, at, fmtShape } from "../core/errors.js";
import type { DType, TypedArray } from "../core/dtype.js";
import {
  ConcreteArray,
  type DeviceStorage,
  NDArray,
  committedToCpu,
  deviceArray,
  deviceStorageOf,
  storageOf,
} from "../core/ndarray.js";
import { type Rule, nanError } from "../core/trace.js";
import { SETTINGS, debugSite } from "../core/config.js";
import type { DeviceRuntime } from "../core/device.js";
import { WebGpuContext, type HostWords } from "../kernels/webgpu/context.js";
import type { GPUBufferLike } from "../kernels/webgpu/gpu.js";
import { navigatorGpu } from "../kernels/webgpu/gpu.js";
import type { GpuAval, GpuDType, GpuTensor } from "../kernels/webgpu/kernel.js";
import { nanFlags } from "../kernels/webgpu/nanflags.js";
import { gpuDtype } from "../kernels/webgpu/wgsl.js";
import { gpuKernel } from "../prims/gpuTable.js";

/** A GPU array's storage: its tensor, and whether devicePut placed it. */
class GpuStorage implements DeviceStorage {
  readonly device = "webgpu";
  constructor(
    readonly tensor: GpuTensor,
    readonly committed: boolean,
    readonly ctx: WebGpuContext,
  ) {}
  async read(): Promise<TypedArray> {
    return fromWords(await this.ctx.read(this.tensor), this.tensor.dtype);
  }
}

/** Host words as the CPU storage of `dtype` (bool: Uint8Array). */
export function fromWords(w: HostWords, dtype: GpuDType): TypedArray {
  if (dtype === "bool") return Uint8Array.from(w);
  return dtype === "float32"
    ? new Float32Array(w.buffer, w.byteOffset, w.length)
    : new Int32Array(w.buffer, w.byteOffset, w.length);
}

/** A CPU array's elements as the words of a GPU tensor of `dtype` (shared when the storage already is). */
export function toWords(x: ConcreteArray, dtype: GpuDType): HostWords {
  const d = storageOf(x);
  if (dtype === "float32") return d instanceof Float32Array ? d : Float32Array.from(d);
  if (dtype === "int32") return d instanceof Int32Array ? d : Int32Array.from(d);
  return Uint32Array.from(d, (v) => (v !== 0 ? 1 : 0));
}

const isGpuDType = (d: DType): d is GpuDType => d === "float32" || d === "int32" || d === "bool";

/** A device array's storage as a GPU array's: "webgpu" is the only device besides "cpu" (checked). */
function gpuStorage(s: DeviceStorage, op: string): GpuStorage {
  if (s instanceof GpuStorage) return s;
  throw new DeviceError(
    `${op}: an operand lives on "${s.device}" and another on "webgpu"; devicePut them to one device`,
  );
}

function noFloat64(op: string, what: string): DTypeError {
  return new DTypeError(
    `${op}: ${what} is float64, which "webgpu" does not have (WebGPU computes in float32, int32 and bool); ` +
      'use astype(x, "float32") first',
  );
}

/** The runtime of one GPUDevice. */
export class WebGpuRuntime implements DeviceRuntime {
  readonly name = "webgpu";
  /** Arrays sharing each buffer (a kernel may return an operand's buffer): released at zero. */
  #refs = new Map<GPUBufferLike, number>();
  #registry: FinalizationRegistry<GPUBufferLike>;
  /**
   * Implicit uploads of uncommitted CPU arrays, kept while the CPU array lives (constants reused in
   * loops): the GPU array (which holds the buffer) and its tensor.
   */
  #uploads = new WeakMap<ConcreteArray, { readonly array: ConcreteArray; readonly tensor: GpuTensor }>();
  readonly hook = (prim: Rule<never>, args: readonly ConcreteArray[], params: unknown): NDArray[] | null => {
    for (const a of args) if (deviceStorageOf(a) !== null) return this.run(prim, args, params);
    return null;
  };

  constructor(readonly ctx: WebGpuContext) {
    this.#registry = new FinalizationRegistry((b) => this.#unref(b));
  }

  #unref(b: GPUBufferLike): void {
    const n = (this.#refs.get(b) ?? 1) - 1;
    if (n > 0) this.#refs.set(b, n);
    else {
      this.#refs.delete(b);
      this.ctx.release(b);
    }
  }

  /** A GPU array holding tensor `t` (its buffer released when the array is collected). */
  wrap(t: GpuTensor, committed: boolean): ConcreteArray {
    const x = deviceArray(new GpuStorage(t, committed, this.ctx), t.shape, t.dtype);
    this.#refs.set(t.buffer, (this.#refs.get(t.buffer) ?? 0) + 1);
    this.#registry.register(x, t.buffer);
    return x;
  }

  /** Uploads a CPU array (float64 throws DTypeError naming `op`). */
  upload(x: ConcreteArray, committed: boolean, op: string): ConcreteArray {
    return this.wrap(this.#uploadTensor(x, op), committed);
  }

  #uploadTensor(x: ConcreteArray, op: string): GpuTensor {
    let dtype = x.dtype;
    // a bare JS number (weak float64 scalar) is a float32 on the GPU, as a weak scalar would become
    if (dtype === "float64" && x.weakType) dtype = "float32";
    if (!isGpuDType(dtype)) throw noFloat64(op, `an array of shape ${fmtShape(x.shape)}`);
    return this.ctx.upload(toWords(x, dtype), x.shape, dtype);
  }

  /** The tensor of an operand: its own, or (an uncommitted CPU array) an upload, cached. */
  tensorOf(x: ConcreteArray, op: string): GpuTensor {
    const s = deviceStorageOf(x);
    if (s !== null) return gpuStorage(s, op).tensor;
    let up = this.#uploads.get(x);
    if (up === undefined) {
      const tensor = this.#uploadTensor(x, op);
      this.#uploads.set(x, (up = { array: this.wrap(tensor, false), tensor }));
    }
    return up.tensor;
  }

  place(x: ConcreteArray, op: string): ConcreteArray {
    return deviceStorageOf(x) !== null ? x : this.upload(x, false, op);
  }

  put(x: ConcreteArray, op: string): ConcreteArray {
    const s = deviceStorageOf(x);
    if (s === null) return this.upload(x, true, op);
    if (s.committed) return x;
    return this.wrap(gpuStorage(s, op).tensor, true);
  }

  /** Evaluates a primitive with at least one GPU operand: its kernel, or the transfer. */
  run(prim: Rule<never>, args: readonly ConcreteArray[], params: unknown): NDArray[] {
    let committed = false;
    for (const a of args) {
      const s = deviceStorageOf(a);
      if (s !== null) committed ||= s.committed;
      else if (committedToCpu(a))
        throw new DeviceError(
          `${prim.name}: an operand is committed to "cpu" (devicePut) and another lives on "webgpu"; ` +
            "devicePut them to one device (a webgpu array comes back with await deviceGet(x))",
        );
    }
    // rows wrapping user functions (custom rules, debug callbacks) run them: their operations dispatch here again
    if (prim.opaque === true) return prim.impl(args as ConcreteArray[], params as never, []);
    // a weak float64 result (only bare JS numbers met, e.g. where(c, 1, -1)) is float32 here, as its
    // weak operands are: a weak scalar takes the dtype of what it meets, and on "webgpu" that is float32
    const avals = prim.abstractEval(args as ConcreteArray[], params as never).map((o): GpuAval => {
      if (isGpuDType(o.dtype)) return { shape: o.shape, dtype: o.dtype, weak: o.weak };
      if (!o.weak) throw noFloat64(prim.name, "the result");
      return { shape: o.shape, dtype: "float32", weak: false };
    });
    const kernel = gpuKernel(prim.name);
    const outs =
      kernel !== undefined
        ? kernel(
            this.ctx,
            args.map((a) => this.tensorOf(a, prim.name)),
            params as never,
            avals,
          )
        : this.transfer(prim, args, params, avals);
    const res = outs.map((t) => this.wrap(t, committed));
    if (SETTINGS.debugNans) this.#checkNans(prim.name, args, outs);
    return res;
  }

  /**
   * debugNans: records the GPU test of a primitive's float operands and float32 outputs; a NaN in an
   * output with none in the operands is reported by the next read (see the file's comment).
   */
  #checkNans(name: string, args: readonly ConcreteArray[], outs: readonly GpuTensor[]): void {
    const floatOuts = outs.filter((t) => t.dtype === "float32");
    if (floatOuts.length === 0) return;
    const gpuIns: GpuTensor[] = [];
    for (const a of args) {
      if (a.dtype !== "float32" && a.dtype !== "float64") continue;
      const s = deviceStorageOf(a);
      if (s !== null) gpuIns.push(gpuStorage(s, name).tensor);
      // a CPU operand (a weak scalar, an uncommitted constant) with a NaN: nothing to report
      else if (storageOf(a).some(Number.isNaN)) return;
    }
    const site = debugSite();
    const operands = args.map((a) => ({ dtype: a.dtype, shape: a.shape }));
    const flags = nanFlags(this.ctx, [...gpuIns, ...floatOuts]);
    const n = gpuIns.length;
    this.ctx.check([flags], (data) => {
      const words = at(data, 0, name);
      for (let k = 0; k < n; k++) if (words[k] !== 0) return null;
      for (let k = n; k < words.length; k++)
        if (words[k] !== 0)
          return nanError(name, operands, site, ' (found on "webgpu" after it ran; reported by the next read)');
      return null;
    });
    // its read back is recorded: the pool hands the buffer only to later work
    this.ctx.release(flags.buffer);
  }

  /**
   * Tests the elements of device arrays `xs` once they are computed, without blocking: `test` returns
   * the error to report (null: none), which rejects the next read of any GPU array.
   */
  checkLater(xs: readonly ConcreteArray[], test: (values: TypedArray[]) => Error | null): void {
    const tensors = xs.map((x) => this.tensorOf(x, "check"));
    this.ctx.check(tensors, (data) => test(tensors.map((t, i) => fromWords(at(data, i, "check"), t.dtype))));
  }

  /** The transfer: the CPU kernel on the GPU operands' elements, results written into fresh GPU outputs. */
  transfer(prim: Rule<never>, args: readonly ConcreteArray[], params: unknown, avals: readonly GpuAval[]): GpuTensor[] {
    const outs = avals.map((a) => this.ctx.alloc(a.shape, gpuDtype(a.dtype)));
    // the GPU operands: their positions and tensors
    const onGpu = args.flatMap((a, i) => {
      const s = deviceStorageOf(a);
      return s === null ? [] : [{ i, t: gpuStorage(s, prim.name).tensor }];
    });
    const tensors = onGpu.map(({ t }) => t);
    this.ctx.transfer(tensors, outs, (data) => {
      const cpu = args.slice();
      onGpu.forEach(({ i, t }, k) => {
        cpu[i] = new ConcreteArray(fromWords(at(data, k, prim.name), t.dtype), t.shape, t.dtype);
      });
      // debugNans: the outputs are tested on the GPU like a kernel's (a NaN check throwing here
      // would be the context's lasting error, not a report)
      const debug = SETTINGS.debugNans;
      SETTINGS.debugNans = false;
      let res: ConcreteArray[];
      try {
        res = prim.impl(cpu, params as never, avals as never);
      } finally {
        SETTINGS.debugNans = debug;
      }
      if (res.length !== outs.length)
        throw new NablaError(`internal: ${prim.name} returned ${res.length} outputs on the CPU`);
      return res.map((r, i) => toWords(r, at(outs, i, prim.name).dtype));
    });
    return outs;
  }

  /** Bytes of GPU buffers allocated (in use or pooled). */
  get liveBytes(): number {
    return this.ctx.liveBytes;
  }

  /** GPU buffers held by arrays not yet collected (the memory test's count of live arrays' buffers). */
  get liveBuffers(): number {
    return this.#refs.size;
  }
}

let RUNTIME: WebGpuRuntime | null = null;
let STARTING: Promise<WebGpuRuntime | null> | null = null;

/** @internal The runtime, once `init("webgpu")` has succeeded (null before or without an adapter). */
export function webgpuRuntime(): WebGpuRuntime | null {
  return RUNTIME;
}

/** @internal Requests an adapter and a device; null where WebGPU is unavailable. */
export function startWebGpu(): Promise<WebGpuRuntime | null> {
  STARTING ??= (async () => {
    const gpu = navigatorGpu();
    if (gpu === undefined) return null;
    const adapter = await gpu.requestAdapter();
    if (adapter === null) return null;
    const device = await adapter.requestDevice();
    RUNTIME = new WebGpuRuntime(new WebGpuContext(device));
    return RUNTIME;
  })().catch(() => null);
  return STARTING;
}
