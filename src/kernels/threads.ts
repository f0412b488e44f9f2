/**
 * The kernels' thread pool: worker_threads on Node, Web Workers in browsers,
 * sharing one WebAssembly memory (a SharedArrayBuffer) with the main thread.
 * The public `config({ threads })` is wired to `setThreads`/`getThreads` here.
 *
 * A job is a number of fixed chunks (a kernel splits its output into chunks
 * that depend only on the shapes, never on the thread count) and a few i32
 * parameters. The main thread publishes the job in a small shared control
 * array, wakes the workers (`Atomics.notify`), claims chunks itself like any
 * worker (an atomic compare-exchange on a counter tagged with the job's
 * generation, so a slow worker can never claim a chunk of a later job with
 * the earlier job's parameters), then blocks in `Atomics.wait` until every
 * chunk is done. Which thread runs a chunk changes nothing in its result, so
 * results are bit-identical for every thread count. Workers start
 * asynchronously; until one is running, the main thread simply does every
 * chunk (a job never waits for a worker that has not claimed a chunk).
 *
 * Synchronous results need a blocking wait: `Atomics.wait` is allowed on
 * Node's main thread and in workers, not on a browser's main thread. Where
 * it is unavailable, or SharedArrayBuffer / shared WebAssembly memory or
 * workers are (a page without COOP/COEP headers, a CSP forbidding blob
 * workers), kernels run single-threaded (`poolAvailable` false).
 *
 * No Node module is imported statically (the "." entry runs in browsers):
 * Node's `worker_threads` and `os` come from `process.getBuiltinModule`
 * (Node >= 20.16), else from a dynamic import whose result is used from the
 * next call on.
 */
import { NablaError } from "../core/errors.js";

/** Control array layout (Int32 indices). */
const C_WAKE = 0; // incremented for each job; workers wait on it
const C_CLAIM = 1; // (generation << 16) | next chunk; chunk 0xffff = closed
const C_DONE = 2; // chunks finished in the current job
const C_COUNT = 3; // chunks in the current job
const C_WORKERS = 4; // workers allowed to take part (threads - 1)
const C_BY_WORKERS = 5; // chunks workers ran to completion since start (statistics)
const C_READY = 6; // workers that have started
const C_FAILED = 7; // chunks of the current job that threw in a worker
const C_FAILED_TOTAL = 8; // chunks that threw in a worker since start (statistics)
const C_NPARAMS = 9; // parameters of the current job
const C_PARAMS = 10; // job parameters
const MAX_PARAMS = 16;
/** Per chunk of the current job: 1 once a worker has finished it (for `parallelFor`'s onDone). */
const C_FLAGS = C_PARAMS + MAX_PARAMS;
const CLOSED = 0xffff;
const CTL_WORDS = C_FLAGS + CLOSED;
/** Most chunks one job may have (the chunk index lives in 16 bits). */
export const MAX_CHUNKS = CLOSED;

/** A function exported by a WebAssembly instance (its parameters are i32/f64 numbers). */
export type WasmFn = (...args: number[]) => unknown;

/**
 * What a chunk function gets besides its parameters, one per thread: the shared memory, a
 * cache that lives as long as the thread (e.g. for instances of modules compiled from bytes the
 * main thread wrote into memory, which is how a pool runs modules made after its workers started),
 * and checked reads for the chunk function's set-up (a chunk function runs in workers as source
 * text, so it cannot import `at` from ../core/errors.ts). They throw a NablaError on the main
 * thread, a plain Error in a worker (which only makes the main thread run the job again, where
 * the same check throws the NablaError).
 */
export interface ChunkContext {
  readonly memory: WebAssembly.Memory;
  readonly cache: Map<number, unknown>;
  /** `xs[i]`; throws "`fn`: internal: index ... out of range" if it is missing. */
  at<E>(xs: ArrayLike<E>, i: number, fn: string): E;
  /** `exports[name]` if it is a function of `arity` parameters (a WebAssembly export's `length`), else throws. */
  wasmFn(exports: Record<string, unknown>, name: string, arity: number, fn: string): WasmFn;
  /** Throws "`fn`: internal: `what`". */
  fail(fn: string, what: string): never;
}

/**
 * A thread's chunk context over `memory`; `Err` is the class it throws (NablaError on the main
 * thread, Error in a worker). Self-contained (the workers get its source): no closure over
 * module scope.
 */
function makeContext(memory: WebAssembly.Memory, Err: new (message: string) => Error): ChunkContext {
  return {
    memory,
    cache: new Map(),
    at<E>(xs: ArrayLike<E>, i: number, fn: string): E {
      const v = xs[i];
      if (v === undefined) throw new Err(`${fn}: internal: index ${i} out of range of length ${xs.length}`);
      return v;
    },
    wasmFn(exports: Record<string, unknown>, name: string, arity: number, fn: string): WasmFn {
      const f = exports[name];
      if (!isWasmFn(f, arity)) throw new Err(`${fn}: internal: no exported function ${name} of ${arity} parameters`);
      return f;
    },
    fail(fn: string, what: string): never {
      throw new Err(`${fn}: internal: ${what}`);
    },
  };
  function isWasmFn(f: unknown, arity: number): f is WasmFn {
    return typeof f === "function" && f.length === arity;
  }
}

/** A chunk context for the main thread (checked reads throw NablaError). */
export function chunkContext(memory: WebAssembly.Memory): ChunkContext {
  return makeContext(memory, NablaError);
}

/** Runs one chunk: the instance's exports, the job parameters, the chunk index, the thread's context. */
export type ChunkFn = (
  ex: Record<string, unknown>,
  params: readonly number[],
  chunk: number,
  ctx: ChunkContext,
) => void;

/** A pool bound to one shared memory (and optionally one WebAssembly module instantiated on every thread). */
export interface Pool {
  readonly ctl: Int32Array;
  readonly workers: unknown[];
  run: ChunkFn;
  exports: Record<string, unknown>;
  /** The main thread's context (its cache is the caller's to fill). */
  readonly ctx: ChunkContext;
}

interface Env {
  sharedMemory: boolean;
  canBlock: boolean;
}

let threads = 0; // 0: not set, use defaultThreads()
let cores: number | null = null;

type NodeWorker = { unref(): void; postMessage(m: unknown): void; on(e: string, f: (x: unknown) => void): void };
type WorkerThreads = { Worker: new (src: string, opts: { eval: true }) => NodeWorker; isMainThread: boolean };
type NodeOs = { availableParallelism?: () => number; cpus(): unknown[] };

const builtins = new Map<string, unknown>();
/** A Node builtin module, synchronously when possible; undefined (and an import started) otherwise. */
function nodeBuiltin<T>(name: string): T | undefined {
  if (builtins.has(name)) return builtins.get(name) as T | undefined;
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (n: string) => unknown } })
    .process;
  if (proc?.versions?.node === undefined) {
    builtins.set(name, undefined);
    return undefined;
  }
  if (typeof proc.getBuiltinModule === "function") {
    const m = proc.getBuiltinModule(name) as T | undefined;
    builtins.set(name, m);
    return m;
  }
  builtins.set(name, undefined);
  const spec = name; // a computed specifier: bundlers for the browser leave it alone
  import(/* @vite-ignore */ spec).then(
    (m: T) => builtins.set(name, m),
    () => undefined,
  );
  return undefined;
}

/** Available cores: navigator.hardwareConcurrency, os.availableParallelism(), else 1. */
export function defaultThreads(): number {
  if (cores !== null) return cores;
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  let n = 0;
  const os = nodeBuiltin<NodeOs>("node:os");
  if (os !== undefined)
    n = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  else if (typeof nav?.hardwareConcurrency === "number") n = nav.hardwareConcurrency;
  const c = Number.isInteger(n) && n >= 1 ? Math.min(n, 64) : 1;
  if (os !== undefined || nav !== undefined) cores = c;
  return c;
}

/**
 * Sets how many threads kernels use (the main thread included; 1 = no workers); 0 restores the
 * default (available cores). Returns the previous setting.
 * @example
 * setThreads(1); // single-threaded from now on
 */
export function setThreads(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 256)
    throw new RangeError(`setThreads: expected an integer from 0 to 256, got ${String(n)}`);
  const was = getThreads();
  threads = n;
  return was;
}

/**
 * The number of threads kernels use (the main thread included), whether or not the pool is
 * available (see `poolAvailable`).
 * @example
 * getThreads(); // e.g. 2 on a two-core machine
 */
export function getThreads(): number {
  return threads === 0 ? defaultThreads() : threads;
}

let env: Env | null = null;
/** What this runtime allows: shared WebAssembly memory, and blocking waits on this thread. */
function environment(): Env {
  if (env !== null) return env;
  let sharedMemory = false;
  let canBlock = false;
  try {
    if (typeof SharedArrayBuffer === "function" && typeof Atomics === "object") {
      const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
      sharedMemory = m.buffer instanceof SharedArrayBuffer;
      // a zero-timeout wait on a value that differs returns "not-equal" where blocking is allowed
      // and throws on a browser's main thread
      canBlock = Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0) === "not-equal";
    }
  } catch (_e) {
    // no SharedArrayBuffer / shared memory / blocking here: single-threaded
  }
  env = { sharedMemory, canBlock };
  return env;
}

/** Whether shared WebAssembly memory (and so a pool) can be created in this runtime. */
export function sharedMemoryAvailable(): boolean {
  return environment().sharedMemory;
}

/** Whether a pool can run jobs here: shared memory, blocking waits, and a way to start workers. */
export function poolAvailable(): boolean {
  const e = environment();
  if (!e.sharedMemory || !e.canBlock) return false;
  const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== undefined;
  if (node) return nodeBuiltin<WorkerThreads>("node:worker_threads") !== undefined;
  return typeof (globalThis as { Worker?: unknown }).Worker === "function" && typeof Blob === "function";
}

/**
 * The worker's program: instantiate, mark ready, then claim chunks of each job until closed. A
 * chunk that throws is counted (C_FAILED, C_FAILED_TOTAL) and its error's text posted to the
 * main thread (`poolStats().workerError`); the main thread then runs the job again itself.
 * `__name` is a no-op for builds that keep function names (esbuild's keepNames, as tsx uses),
 * which wrap inner functions of `run` and `makeContext` in calls to it.
 */
function workerSource(run: string): string {
  return `"use strict";
const __name = (f) => f;
const makeContext = (${makeContext.toString()});
const run = (${run});
function start(msg, report) {
  const ex = msg.module ? new WebAssembly.Instance(msg.module, { env: { mem: msg.memory } }).exports : {};
  const ctx = makeContext(msg.memory, Error);
  const ctl = new Int32Array(msg.ctl);
  const index = msg.index;
  Atomics.add(ctl, ${C_READY}, 1);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, ${C_WAKE}, seen);
    seen = Atomics.load(ctl, ${C_WAKE});
    for (;;) {
      const v = Atomics.load(ctl, ${C_CLAIM});
      const n = Atomics.load(ctl, ${C_COUNT});
      if ((v & 0xffff) >= n || index >= Atomics.load(ctl, ${C_WORKERS})) break;
      const params = [];
      const nParams = Atomics.load(ctl, ${C_NPARAMS});
      for (let i = 0; i < nParams; i++) params.push(Atomics.load(ctl, ${C_PARAMS} + i));
      if (Atomics.compareExchange(ctl, ${C_CLAIM}, v, v + 1) !== v) continue;
      let ok = true;
      try {
        run(ex, params, v & 0xffff, ctx);
      } catch (e) {
        ok = false;
        Atomics.add(ctl, ${C_FAILED}, 1); // the main thread reruns the job (see parallelFor)
        Atomics.add(ctl, ${C_FAILED_TOTAL}, 1);
        try {
          report(String(e && e.stack ? e.stack : e));
        } catch (_e) {
          // reporting is for diagnosis only
        }
      }
      if (ok) {
        Atomics.store(ctl, ${C_FLAGS} + (v & 0xffff), 1);
        Atomics.add(ctl, ${C_BY_WORKERS}, 1);
      }
      if (Atomics.add(ctl, ${C_DONE}, 1) + 1 === n) Atomics.notify(ctl, ${C_DONE});
    }
  }
}
if (typeof self === "undefined") {
  const port = require("worker_threads").parentPort;
  port.once("message", (msg) => start(msg, (m) => port.postMessage(m)));
} else self.onmessage = (e) => start(e.data, (m) => self.postMessage(m));
`;
}

/**
 * A pool over the shared `memory`, each worker instantiating `module` (if not null; `exports`
 * are the main thread's instance's): `run` is called for each chunk on the main thread and (as
 * source text, so it must be a self-contained function) in the workers. Workers are started by
 * `grow`. Null when `poolAvailable()` is false.
 */
export function createPool(
  module: WebAssembly.Module | null,
  memory: WebAssembly.Memory,
  exports: Record<string, unknown>,
  run: ChunkFn,
): Pool | null {
  if (!poolAvailable()) return null;
  const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
  ctl[C_CLAIM] = CLOSED;
  const pool: Pool = { ctl, workers: [], run, exports, ctx: chunkContext(memory) };
  sources.set(pool, { module, memory, src: workerSource(run.toString()), workerError: null });
  return pool;
}

interface PoolSource {
  module: WebAssembly.Module | null;
  memory: WebAssembly.Memory;
  src: string;
  /** The text of the last error a worker posted (a chunk that threw), for diagnosis. */
  workerError: string | null;
}
const sources = new WeakMap<Pool, PoolSource>();

/** Starts workers until the pool has `n`; false if a worker could not be started. */
function grow(pool: Pool, n: number): boolean {
  const s = sources.get(pool);
  if (s === undefined) return false;
  try {
    while (pool.workers.length < n) {
      const msg = { module: s.module, memory: s.memory, ctl: pool.ctl.buffer, index: pool.workers.length };
      const wt = nodeBuiltin<WorkerThreads>("node:worker_threads");
      if (wt !== undefined) {
        const w = new wt.Worker(s.src, { eval: true });
        w.on("error", () => undefined);
        w.on("message", (m) => (s.workerError = String(m)));
        // after the listeners (a "message" listener refs the worker again): an idle pool does not
        // keep the process alive
        w.unref();
        w.postMessage(msg);
        pool.workers.push(w);
      } else {
        const url = URL.createObjectURL(new Blob([s.src], { type: "text/javascript" }));
        const w = new Worker(url);
        w.onmessage = (e) => (s.workerError = String(e.data));
        w.postMessage(msg);
        pool.workers.push(w);
      }
    }
    return true;
  } catch (_e) {
    return false;
  }
}

let generation = 0;

/**
 * Runs chunks 0..nChunks-1 of a job with parameters `params` (i32, at most 16) on the main
 * thread and up to getThreads() - 1 workers; returns when all are done. The same chunks run
 * whatever the thread count. If a chunk throws in a worker (e.g. it cannot compile a module
 * there), the main thread runs every chunk again itself once the job is done (a chunk's result
 * depends only on its inputs, so rerunning changes nothing); if one throws on the main thread,
 * the error is rethrown once no worker is still running a chunk of the job.
 *
 * `onDone(c)`, if given, is called on the main thread once for every chunk c (in no particular
 * order) as soon as the main thread knows c is finished: its own chunks right after running them,
 * the workers' between its own and while it waits for the last ones (issue 8: the compiled
 * elementwise loops copy each chunk's outputs out there, overlapping the copy with the workers'
 * compute). After a worker's failure every chunk is run and reported again.
 */
export function parallelFor(
  pool: Pool,
  nChunks: number,
  params: readonly number[],
  onDone?: (chunk: number) => void,
): void {
  if (params.length > MAX_PARAMS)
    throw new NablaError(`parallelFor: internal: ${params.length} parameters, at most ${MAX_PARAMS}`);
  const workers = getThreads() - 1;
  if (workers <= 0 || nChunks <= 1 || nChunks > MAX_CHUNKS || !grow(pool, workers)) {
    for (let c = 0; c < nChunks; c++) pool.run(pool.exports, params, c, pool.ctx);
    if (onDone !== undefined) for (let c = 0; c < nChunks; c++) onDone(c);
    return;
  }
  const ctl = pool.ctl;
  generation = (generation + 1) & 0x7fff;
  const tag = generation << 16;
  // close the claim counter under the new tag before touching the parameters
  Atomics.store(ctl, C_CLAIM, tag | CLOSED);
  params.forEach((x, i) => Atomics.store(ctl, C_PARAMS + i, x));
  Atomics.store(ctl, C_NPARAMS, params.length);
  Atomics.store(ctl, C_COUNT, nChunks);
  Atomics.store(ctl, C_WORKERS, workers);
  Atomics.store(ctl, C_DONE, 0);
  Atomics.store(ctl, C_FAILED, 0);
  if (onDone !== undefined) for (let c = 0; c < nChunks; c++) Atomics.store(ctl, C_FLAGS + c, 0);
  Atomics.store(ctl, C_CLAIM, tag);
  Atomics.add(ctl, C_WAKE, 1);
  Atomics.notify(ctl, C_WAKE);
  let failed = false;
  let error: unknown;
  // chunks onDone has seen: the main thread's own right after each, the workers' (flagged) as
  // soon as the main thread notices them, between its own chunks and while it waits
  const seen = onDone === undefined ? null : new Uint8Array(nChunks);
  let scan = 0;
  const sweep = (): void => {
    if (seen === null || onDone === undefined) return;
    for (let c = scan; c < nChunks; c++) {
      if (seen[c] === 1) {
        if (c === scan) scan++;
        continue;
      }
      // workers claim in order: the first unfinished chunk ends this sweep
      if (Atomics.load(ctl, C_FLAGS + c) !== 1) break;
      seen[c] = 1;
      if (c === scan) scan++;
      onDone(c);
    }
  };
  for (;;) {
    const v = Atomics.load(ctl, C_CLAIM);
    if ((v & 0xffff) >= nChunks) break;
    if (Atomics.compareExchange(ctl, C_CLAIM, v, v + 1) !== v) continue;
    const c = v & 0xffff;
    let ok = true;
    try {
      pool.run(pool.exports, params, c, pool.ctx);
    } catch (e) {
      if (!failed) error = e;
      failed = true;
      ok = false;
    }
    Atomics.add(ctl, C_DONE, 1);
    if (ok && seen !== null && onDone !== undefined && !failed) {
      seen[c] = 1;
      onDone(c);
      sweep();
    }
  }
  for (;;) {
    if (!failed) sweep();
    const d = Atomics.load(ctl, C_DONE);
    if (d >= nChunks) break;
    // woken by the last chunk's worker; a timed wait lets the sweep see earlier ones meanwhile
    Atomics.wait(ctl, C_DONE, d, seen === null ? Infinity : 0.2);
  }
  Atomics.store(ctl, C_CLAIM, tag | CLOSED);
  if (failed) throw error;
  if (Atomics.load(ctl, C_FAILED) > 0) {
    for (let c = 0; c < nChunks; c++) pool.run(pool.exports, params, c, pool.ctx);
    if (onDone !== undefined) for (let c = 0; c < nChunks; c++) onDone(c);
    return;
  }
  sweep();
}

/** A pool's statistics since it started (for tests and benchmarks). */
export interface PoolStats {
  /** Chunks workers ran to completion (a chunk that threw is not counted). */
  readonly byWorkers: number;
  /** Chunks that threw in a worker (each job with one was run again on the main thread). */
  readonly failed: number;
  /** Workers running, and workers started. */
  readonly ready: number;
  readonly started: number;
  /** The text of the last error a worker posted (it arrives asynchronously), or null. */
  readonly workerError: string | null;
}

/** Chunks run (and failed) by workers since the pool started, and workers started. */
export function poolStats(pool: Pool | null): PoolStats {
  if (pool === null) return { byWorkers: 0, failed: 0, ready: 0, started: 0, workerError: null };
  return {
    byWorkers: Atomics.load(pool.ctl, C_BY_WORKERS),
    failed: Atomics.load(pool.ctl, C_FAILED_TOTAL),
    ready: Atomics.load(pool.ctl, C_READY),
    started: pool.workers.length,
    workerError: sources.get(pool)?.workerError ?? null,
  };
}

/** Starts the pool's workers for the current thread count and resolves once they are running. */
export async function poolReady(pool: Pool | null, timeoutMs = 10_000): Promise<boolean> {
  const want = getThreads() - 1;
  if (pool === null || want <= 0) return pool !== null;
  if (!grow(pool, want)) return false;
  const t0 = Date.now();
  while (Atomics.load(pool.ctl, C_READY) < want) {
    if (Date.now() - t0 > timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}
