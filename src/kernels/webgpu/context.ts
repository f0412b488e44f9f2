/**
 * The {@link GpuContext} of one GPUDevice: a pipeline cache, a buffer pool,
 * and a command recorder that batches every dispatch and copy of a
 * synchronous stretch of JS into one submission (made at the end of the
 * current microtask, or earlier when many are pending). Reads are
 * asynchronous and batched the same way: all `read`s made before a flush
 * share its submission.
 *
 * Transfers (a CPU computation on GPU operands, {@link WebGpuContext.transfer})
 * keep a timeline: the command buffers recorded after a pending transfer are
 * held, and submitted in order once its results are uploaded, so GPU work
 * never reads a transfer's output before it is written and JS never waits.
 *
 * Errors the GPU reports asynchronously (a WGSL compile error, an
 * out-of-memory) are kept and rethrown by every later `read`, so a wrong
 * kernel never yields silently wrong data.
 *
 * Checks ({@link WebGpuContext.check}: `config({ debugNans })`, linearTranspose's
 * zero test) read GPU values back without holding later work; a failed check
 * is reported once, by the first read that completes among those requested
 * after it was recorded (JAX throws at the operation itself; nabla cannot
 * wait for the GPU there, so the error comes with the next value read).
 */
import { NablaError, at } from "../../core/errors.js";
import type { Shape } from "../../core/shape.js";
import { sizeOf } from "../../core/shape.js";
import {
  BufferUsage,
  MAP_READ,
  type GPUBufferLike,
  type GPUCommandBufferLike,
  type GPUCommandEncoderLike,
  type GPUComputePassLike,
  type GPUComputePipelineLike,
  type GPUDeviceLike,
} from "./gpu.js";
import type { GpuContext, GpuDType, GpuTensor } from "./kernel.js";

/** Host-side words of a GPU tensor (Uint32Array 0/1 for bool). */
export type HostWords = Float32Array | Int32Array | Uint32Array;

/** One step of the ordered timeline behind a pending transfer. */
type Step =
  | { readonly kind: "submit"; readonly cmd: GPUCommandBufferLike; readonly waiters: (() => void)[] }
  | { readonly kind: "write"; readonly buffer: GPUBufferLike; readonly data: HostWords }
  | { readonly kind: "transfer"; done: boolean; writes: [GPUBufferLike, HostWords][] };

/** A deferred check: settles once its values are read back; `error` is its failure (null: passed). */
interface Check {
  readonly seq: number;
  settled: Promise<void>;
  error: Error | null;
}

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
/** Dispatches recorded before a submission is forced (bounds the encoder's size). */
const MAX_PENDING = 512;
/** Bytes of released buffers the pool keeps for reuse; beyond this they are destroyed. */
const POOL_BYTES = 256 << 20;
/** Parameter buffers kept by content. */
const MAX_WORDS = 4096;

/** Byte size of a buffer holding `n` 4-byte elements: at least 16, a multiple of 16. */
export const bufferBytes = (n: number): number => Math.max(16, Math.ceil((n * 4) / 16) * 16);

export class WebGpuContext implements GpuContext {
  readonly maxWorkgroups: number;
  #pipelines = new Map<string, GPUComputePipelineLike>();
  #pool = new Map<number, GPUBufferLike[]>();
  #pooledBytes = 0;
  #words = new Map<string, GPUBufferLike>();
  #encoder: GPUCommandEncoderLike | null = null;
  #pass: GPUComputePassLike | null = null;
  #pending = 0;
  #flushScheduled = false;
  #error: Error | null = null;
  #afterFlush: (() => void)[] = [];
  /** Work held behind a pending transfer, in order (empty: submit at once). */
  #timeline: Step[] = [];
  /** Checks not yet passed or not yet reported, in the order they were recorded. */
  #checks: Check[] = [];
  #checkSeq = 0;
  /** Buffers to destroy once the timeline is drained (queued work may still bind them). */
  #doomed: GPUBufferLike[] = [];
  /** Buffers currently allocated by this context (in use or pooled), for the memory test. */
  liveBytes = 0;
  /** Bytes of every buffer asked for (from the pool or new), for the memory test's reuse ratio. */
  requestedBytes = 0;
  /** Submissions made so far (tests check that reads are batched). */
  submissions = 0;

  constructor(readonly device: GPUDeviceLike) {
    this.maxWorkgroups = device.limits["maxComputeWorkgroupsPerDimension"] ?? 65535;
    void device.lost.then((info) => {
      this.#error ??= new NablaError(`webgpu: the device was lost (${info.reason}: ${info.message})`);
    });
  }

  pipeline(key: string, wgsl: () => string): GPUComputePipelineLike {
    let p = this.#pipelines.get(key);
    if (p === undefined) {
      const code = wgsl();
      this.device.pushErrorScope("validation");
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: key });
      void this.device.popErrorScope().then((e) => {
        if (e !== null)
          this.#error ??= new NablaError(`webgpu: kernel ${key} failed to compile: ${e.message}\n${code}`);
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** A buffer of at least `bytes` bytes, from the pool when one of that size was released. */
  buffer(bytes: number): GPUBufferLike {
    this.requestedBytes += bytes;
    const free = this.#pool.get(bytes);
    const b = free?.pop();
    if (b !== undefined) {
      this.#pooledBytes -= bytes;
      return b;
    }
    this.liveBytes += bytes;
    return this.device.createBuffer({ size: bytes, usage: STORAGE });
  }

  /** Returns a buffer whose array was garbage-collected (FinalizationRegistry) to the pool. */
  release(b: GPUBufferLike): void {
    const bytes = b.size;
    if (this.#pooledBytes + bytes > POOL_BYTES) {
      this.liveBytes -= bytes;
      if (this.#timeline.length > 0) this.#doomed.push(b);
      else b.destroy();
      return;
    }
    let free = this.#pool.get(bytes);
    if (free === undefined) this.#pool.set(bytes, (free = []));
    free.push(b);
    this.#pooledBytes += bytes;
  }

  alloc(shape: Shape, dtype: GpuDType): GpuTensor {
    return { buffer: this.buffer(bufferBytes(sizeOf(shape))), shape, dtype };
  }

  words(data: Uint32Array | Int32Array | Float32Array): GPUBufferLike {
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    const key = `${data.constructor.name}:${bits.join(",")}`;
    let b = this.#words.get(key);
    if (b === undefined) {
      if (this.#words.size >= MAX_WORDS && this.#timeline.length === 0) {
        // parameter buffers may still be bound by recorded work: submit it before dropping them
        this.flush();
        for (const old of this.#words.values()) old.destroy();
        this.#words.clear();
      }
      b = this.device.createBuffer({ size: bufferBytes(data.length), usage: STORAGE, mappedAtCreation: true });
      new Uint32Array(b.getMappedRange()).set(bits);
      b.unmap();
      this.#words.set(key, b);
    }
    return b;
  }

  #openPass(): GPUComputePassLike {
    if (this.#pass === null) {
      this.#encoder ??= this.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    return this.#pass;
  }

  #scheduleFlush(): void {
    if (++this.#pending >= MAX_PENDING) this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  dispatch(
    pipeline: GPUComputePipelineLike,
    bindings: readonly GPUBufferLike[],
    workgroups: readonly [number, number?, number?],
  ): void {
    const pass = this.#openPass();
    const group = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    this.#scheduleFlush();
  }

  copy(src: GPUBufferLike, srcOffset: number, dst: GPUBufferLike, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    if (this.#pass !== null) {
      this.#pass.end();
      this.#pass = null;
    }
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.#scheduleFlush();
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.#flushScheduled = false;
    this.#pending = 0;
    if (this.#encoder === null) return;
    if (this.#pass !== null) this.#pass.end();
    this.#pass = null;
    const cmd = this.#encoder.finish();
    this.#encoder = null;
    const waiting = this.#afterFlush;
    this.#afterFlush = [];
    if (this.#timeline.length > 0) this.#timeline.push({ kind: "submit", cmd, waiters: waiting });
    else this.#submit(cmd, waiting);
  }

  #submit(cmd: GPUCommandBufferLike, waiters: readonly (() => void)[]): void {
    this.device.queue.submit([cmd]);
    this.submissions++;
    for (const f of waiters) f();
  }

  /** Runs the timeline's steps up to the first transfer still waiting for its results. */
  #drain(): void {
    const t = this.#timeline;
    for (let step = t[0]; step !== undefined; step = t[0]) {
      if (step.kind === "transfer") {
        if (!step.done) return;
        for (const [buffer, data] of step.writes) this.device.queue.writeBuffer(buffer, 0, data);
      } else if (step.kind === "write") this.device.queue.writeBuffer(step.buffer, 0, step.data);
      else this.#submit(step.cmd, step.waiters);
      t.shift();
    }
    for (const b of this.#doomed) b.destroy();
    this.#doomed = [];
  }

  /** Whether work is held behind a pending transfer. */
  get transferPending(): boolean {
    return this.#timeline.length > 0;
  }

  /**
   * Computes `outs` on the CPU from the elements of `inputs` without blocking: the inputs are read
   * back (batched), `compute` runs when they arrive, and its results are written into `outs`, which
   * the caller may use in further GPU work at once (it is held until the results are written). A
   * throwing `compute` is kept as the context's error, rethrown by the next read.
   */
  transfer(
    inputs: readonly GpuTensor[],
    outs: readonly GpuTensor[],
    compute: (data: HostWords[]) => HostWords[],
  ): void {
    // not `read`: a check's failure is the user's to see at their next read, not this transfer's
    const reads = inputs.map((t) => this.#readWords(t));
    this.flush();
    const step: Step = { kind: "transfer", done: false, writes: [] };
    this.#timeline.push(step);
    const finish = (): void => {
      step.done = true;
      this.#drain();
    };
    Promise.all(reads).then(
      (data) => {
        try {
          // after an error the GPU's values may be wrong: no computation on them (reads rethrow it)
          if (this.#error !== null) throw this.#error;
          const res = compute(data);
          if (res.length !== outs.length)
            throw new NablaError(
              `webgpu: internal: a transfer computed ${res.length} results for ${outs.length} outputs`,
            );
          step.writes = outs.flatMap((t, i): [GPUBufferLike, HostWords][] => {
            const r = at(res, i, "webgpu transfer");
            return r.length > 0 ? [[t.buffer, r]] : [];
          });
        } catch (e) {
          this.#error ??= e instanceof Error ? e : new NablaError(String(e));
        }
        finish();
      },
      (e: unknown) => {
        this.#error ??= e instanceof Error ? e : new NablaError(String(e));
        finish();
      },
    );
  }

  upload(data: Float32Array | Int32Array | Uint32Array, shape: Shape, dtype: GpuDType): GpuTensor {
    const t = this.alloc(shape, dtype);
    if (data.length > 0) {
      // queue writes are ordered with submissions, not with recorded work: submit that first
      this.flush();
      if (this.#timeline.length > 0) this.#timeline.push({ kind: "write", buffer: t.buffer, data });
      else this.device.queue.writeBuffer(t.buffer, 0, data);
    }
    return t;
  }

  /**
   * Tests the elements of `inputs` once the work recorded so far has produced them, without holding
   * later work: `test` returns the error to report, or null. A failed check rejects, once, the first
   * read to complete among those requested after this call (see the file's comment).
   */
  check(inputs: readonly GpuTensor[], test: (data: HostWords[]) => Error | null): void {
    const c: Check = { seq: ++this.#checkSeq, settled: Promise.resolve(), error: null };
    this.#checks.push(c);
    c.settled = Promise.all(inputs.map((t) => this.#readWords(t))).then(
      (data) => {
        try {
          c.error = test(data);
        } catch (e) {
          c.error = e instanceof Error ? e : new NablaError(String(e));
        }
        if (c.error === null) this.#checks.splice(this.#checks.indexOf(c), 1);
      },
      // a failed read back (device lost, ...) is the context's error, which reads rethrow anyway
      () => void this.#checks.splice(this.#checks.indexOf(c), 1),
    );
  }

  /** Checks recorded before a read was requested: the first failure is thrown (and forgotten). */
  async #reportChecks(upTo: number): Promise<void> {
    const earlier = this.#checks.filter((c) => c.seq <= upTo);
    if (earlier.length === 0) return;
    await Promise.all(earlier.map((c) => c.settled));
    const failed = this.#checks.find((c): c is Check & { error: Error } => c.seq <= upTo && c.error !== null);
    if (failed === undefined) return;
    this.#checks.splice(this.#checks.indexOf(failed), 1);
    throw failed.error;
  }

  async read(t: GpuTensor): Promise<Float32Array | Int32Array | Uint32Array> {
    const upTo = this.#checkSeq;
    const out = await this.#readWords(t);
    if (this.#error !== null) throw this.#error;
    await this.#reportChecks(upTo);
    return out;
  }

  /** The elements of `t` once the work recorded before this call has run (no error reporting). */
  async #readWords(t: GpuTensor): Promise<Float32Array | Int32Array | Uint32Array> {
    const n = sizeOf(t.shape);
    const out =
      t.dtype === "float32" ? new Float32Array(n) : t.dtype === "int32" ? new Int32Array(n) : new Uint32Array(n);
    if (n > 0) {
      const bytes = bufferBytes(n);
      const staging = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      // a buffer cannot be mapped before the submission that writes it: wait for the batched flush
      // (the waiter is registered first, so it belongs to the command buffer holding the copy)
      const submitted = new Promise<void>((ok) => this.#afterFlush.push(ok));
      this.copy(t.buffer, 0, staging, 0, bytes);
      try {
        await submitted;
        await staging.mapAsync(MAP_READ);
        new Uint32Array(out.buffer).set(new Uint32Array(staging.getMappedRange(0, n * 4)));
        staging.unmap();
      } finally {
        staging.destroy();
      }
    }
    return out;
  }

  /** The first error the GPU reported asynchronously, if any (also thrown by the next read). */
  get error(): Error | null {
    return this.#error;
  }
}
