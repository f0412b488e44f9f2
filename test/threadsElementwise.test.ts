/**
 * jit's fused WebAssembly loops on the worker pool (src/kernels/wasm/elementwise.ts,
 * src/kernels/threads.ts):
 * - W1's gradient, a map feeding a partial reduction, a broadcast map and a full sum give the
 *   same bits for 1, 2 and 3 threads, equal the eager interpreter bit for bit, and agree with
 *   the JS loops (WebAssembly off) within the compiled functions' stated accuracy;
 * - workers take part (they compile each program from the bytes written with the job);
 * - a full sum over more than SUM_CHUNK elements adds the chunks' partial sums in order, in
 *   the eager kernel, in the JS fused loop and in the compiled loop;
 * - without SharedArrayBuffer the loops run on one thread with the same results;
 * - a chunk that throws in a worker is run again on the main thread; one that throws on the
 *   main thread is rethrown once the job is done.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { expectIdentical, withJs } from "./support/assert.js";
import * as nb from "../src/index.js";
import {
  type ChunkFn,
  createPool,
  getThreads,
  parallelFor,
  poolAvailable,
  poolReady,
  poolStats,
  setThreads,
} from "../src/kernels/threads.js";
import {
  elementwisePoolReady,
  elementwisePoolStats,
  setElementwiseThreading,
  wasmElementwiseAvailable,
  wasmElementwiseThreaded,
} from "../src/kernels/wasm/elementwise.js";
import { SUM_CHUNK } from "../src/kernels/sumOrder.js";
import { compile } from "../src/transforms/plan.js";
import { seeded } from "./support/rng.js";

type A = nb.NDArray;

const data = (x: A): number[] => Array.from(x.toTypedArray() as ArrayLike<number>);

const sq = (v: A) => nb.mul(v, v);
/** W1 of issue 8 through module `m`: Σ(tanh(x)·x + sin(x)²); its gradient is one fused loop. */
const w1Of =
  (m: typeof nb) =>
  (x: A): A => {
    const s = m.sin(x);
    return m.sum(m.add(m.mul(m.tanh(x), x), m.mul(s, s)));
  };
const w1 = w1Of(nb);

interface Case {
  name: string;
  f: (...xs: A[]) => A;
  args: (dtype: "float32" | "float64", next: () => number) => A[];
}

const rows = 3;
const cols = 2 * SUM_CHUNK + 5; // rows·cols: 6 full chunks and a partial one
const n1 = 3 * SUM_CHUNK + 3; // odd: the last chunk ends in the scalar tail
const cases: Case[] = [
  {
    name: "W1's gradient",
    f: nb.grad(w1),
    args: (dtype, next) => [
      nb.array(
        Float64Array.from({ length: n1 }, () => 6 * next() - 3),
        { dtype },
      ),
    ],
  },
  {
    name: "a map feeding a partial reduction (sum over axis 1) and its gradient",
    f: (x) =>
      nb.add(nb.sum(nb.mul(nb.tanh(x), nb.exp(nb.neg(x))), 1), nb.sum(nb.grad((z: A) => nb.sum(nb.sin(z)))(x), 1)),
    args: (dtype, next) => [
      nb.array(
        Float64Array.from({ length: rows * cols }, () => 4 * next() - 2),
        { dtype, shape: [rows, cols] },
      ),
    ],
  },
  {
    name: "a broadcast map: sin(x·y) + exp(-y²) with y a row",
    f: (x, y) => nb.add(nb.sin(nb.mul(x, y!)), nb.exp(nb.neg(sq(y!)))),
    args: (dtype, next) => [
      nb.array(
        Float64Array.from({ length: rows * cols }, () => 4 * next() - 2),
        { dtype, shape: [rows, cols] },
      ),
      nb.array(
        Float64Array.from({ length: cols }, () => 2 * next() - 1),
        { dtype, shape: [cols] },
      ),
    ],
  },
  {
    name: "a full sum folded into the loop",
    f: (x) => nb.sum(nb.mul(nb.sin(x), nb.tanh(x))),
    args: (dtype, next) => [
      nb.array(
        Float64Array.from({ length: n1 }, () => 6 * next() - 3),
        { dtype },
      ),
    ],
  },
];

const before = getThreads();
afterEach(() => {
  setThreads(before);
});

describe.skipIf(!wasmElementwiseAvailable())("fused WebAssembly loops on the worker pool", () => {
  let thresholds: ReturnType<typeof setElementwiseThreading>;
  beforeAll(() => {
    // every loop of two or more chunks on the pool, whatever its work (the default skips cheap
    // loops, which only the bits, not the speed, are about here)
    thresholds = setElementwiseThreading({ minWork: 0, minWorkPerElement: 0 });
  });
  afterAll(() => {
    setElementwiseThreading(thresholds);
  });

  for (const dtype of ["float64", "float32"] as const)
    it(`${dtype}: the same bits for 1, 2 and 3 threads, equal to eager, workers taking part`, async () => {
      const next = seeded(dtype === "float64" ? 31 : 32);
      let workersRan = false;
      for (const c of cases) {
        const xs = c.args(dtype, next);
        const graph = nb.makeGraph(c.f)(...xs);
        expect(compile(graph).wasmGroups, c.name).toBeGreaterThan(0);
        const jf = nb.jit(c.f);
        const results: A[] = [];
        for (const t of [1, 2, 3]) {
          nb.config({ threads: t });
          if (t > 1 && wasmElementwiseThreaded()) expect(await elementwisePoolReady()).toBe(true);
          const w0 = elementwisePoolStats().byWorkers;
          // several calls: the main thread may claim every chunk before a worker wakes
          let r = jf(...xs);
          for (let k = 0; k < 20 && t > 1 && elementwisePoolStats().byWorkers === w0; k++) r = jf(...xs);
          if (t === 1) expect(elementwisePoolStats().byWorkers, c.name).toBe(w0);
          else if (elementwisePoolStats().byWorkers > w0) workersRan = true;
          results.push(r);
        }
        expectIdentical(results[0]!, results[1]!, `${c.name}, 2 threads`);
        expectIdentical(results[0]!, results[2]!, `${c.name}, 3 threads`);
        // eager runs each equation's compiled kernel (on the pool too): the same bits
        nb.config({ threads: 2 });
        expectIdentical(c.f(...xs), results[0]!, `${c.name}, eager`);
        // against the JS loops: float64 per element within 1e-14 relative (a few ulp through ~10
        // operations, as test/wasmPlan.test.ts); float32 values are float64 results rounded once per
        // operation: within 4 float32 ulp (2^-21 relative); sums of n terms: n times that
        const js = withJs(() => data(jf(...xs)));
        const tol = (dtype === "float64" ? 1e-14 : 2 ** -21) * (results[0]!.size === 1 ? n1 : 1);
        const got = data(results[0]!);
        const worst = got.findIndex((v, i) => !(Math.abs(v - js[i]!) <= tol * Math.max(1, Math.abs(js[i]!))));
        expect(worst, `${c.name} element ${worst}: ${got[worst]} vs JS ${js[worst]}`).toBe(-1);
      }
      if (wasmElementwiseThreaded()) expect(workersRan, "a worker ran at least one chunk").toBe(true);
    });

  it("at the default thresholds, W1's gradient on 2^17 elements runs on the pool with the same bits", async () => {
    setElementwiseThreading(thresholds);
    try {
      const next = seeded(33);
      const x = nb.array(Float64Array.from({ length: 1 << 17 }, () => 6 * next() - 3));
      const g = nb.jit(nb.grad(w1));
      nb.config({ threads: 1 });
      const one = g(x);
      nb.config({ threads: 2 });
      if (wasmElementwiseThreaded()) expect(await elementwisePoolReady()).toBe(true);
      const w0 = elementwisePoolStats().byWorkers;
      let two = g(x);
      for (let k = 0; k < 20 && elementwisePoolStats().byWorkers === w0; k++) two = g(x);
      if (wasmElementwiseThreaded()) expect(elementwisePoolStats().byWorkers).toBeGreaterThan(w0);
      expectIdentical(one, two, "W1 gradient, 2 threads");
    } finally {
      setElementwiseThreading({ minWork: 0, minWorkPerElement: 0 });
    }
  });
});

describe("the order of a full sum: partial sums of SUM_CHUNK elements, added in order", () => {
  /** The order written out: float64 partial sums of SUM_CHUNK elements from 0, added from 0. */
  function chunkedSum(t: ArrayLike<number>): number {
    let total = 0;
    for (let c0 = 0; c0 < t.length; c0 += SUM_CHUNK) {
      let acc = 0;
      for (let i = c0; i < Math.min(t.length, c0 + SUM_CHUNK); i++) acc += t[i]!;
      total += acc;
    }
    return total;
  }
  function plainSum(t: ArrayLike<number>): number {
    let acc = 0;
    for (let i = 0; i < t.length; i++) acc += t[i]!;
    return acc;
  }

  it("eager, jit with the JS loops and jit with the compiled loops (1 and 2 threads) give the chunked sum", () => {
    const next = seeded(34);
    // terms of very different sizes, so the order of the additions shows in the result
    const xs = Float64Array.from({ length: 4 * SUM_CHUNK + 11 }, (_, i) => (i % 97 === 0 ? 1e8 : 1) * (next() - 0.25));
    const x = nb.array(xs);
    const f = (v: A) => nb.sum(nb.mul(nb.sin(v), v));
    const terms = nb.mul(nb.sin(x), x).toTypedArray();
    const want = chunkedSum(terms);
    // the two orders differ on these terms (else this test could not tell them apart)
    expect(plainSum(terms)).not.toBe(want);
    expect(f(x).item()).toBe(want);
    nb.config({ threads: 1 });
    expect(nb.jit(f)(x).item()).toBe(want);
    nb.config({ threads: 2 });
    expect(nb.jit(f)(x).item()).toBe(want);
    // the JS loops: sin is Math.sin there, so the terms (and the sum) are the JS kernel's
    const jsTerms = withJs(() => nb.mul(nb.sin(x), x).toTypedArray());
    const jsWant = chunkedSum(jsTerms);
    expect(withJs(() => f(x).item())).toBe(jsWant);
    expect(withJs(() => nb.jit(f)(x).item())).toBe(jsWant);
    // the plain reduction (no loop to fold it into) and float32 (accumulated in float64, rounded once)
    expect(nb.sum(x).item()).toBe(chunkedSum(xs));
    const x32 = nb.array(xs, { dtype: "float32" });
    expect(nb.sum(x32).item()).toBe(Math.fround(chunkedSum(x32.toTypedArray())));
    // at most SUM_CHUNK elements: the plain left-to-right fold
    const small = xs.subarray(0, SUM_CHUNK);
    expect(nb.sum(nb.array(small)).item()).toBe(plainSum(small));
  });
});

describe("without SharedArrayBuffer", () => {
  it("the compiled loops run on one thread with the same results", async () => {
    const next = seeded(35);
    const xs = Float64Array.from({ length: n1 }, () => 6 * next() - 3);
    const x = nb.array(xs);
    setThreads(2);
    const want = nb.jit(nb.grad(w1))(x).toTypedArray();
    const wantSum = nb.jit(w1)(x).item();
    vi.resetModules();
    vi.stubGlobal("SharedArrayBuffer", undefined);
    try {
      const ew = await import("../src/kernels/wasm/elementwise.js");
      const th = await import("../src/kernels/threads.js");
      const fresh = await import("../src/index.js");
      th.setThreads(2);
      expect(ew.wasmElementwiseAvailable()).toBe(wasmElementwiseAvailable());
      expect(ew.wasmElementwiseThreaded()).toBe(false);
      ew.setElementwiseThreading({ minWork: 0, minWorkPerElement: 0 });
      const y = fresh.array(xs);
      const f = w1Of(fresh);
      expect(fresh.jit(fresh.grad(f))(y).toTypedArray()).toEqual(want);
      expect(fresh.jit(f)(y).item()).toBe(wantSum);
      expect(ew.elementwisePoolStats()).toEqual({ byWorkers: 0, failed: 0, ready: 0, started: 0, workerError: null });
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});

describe.skipIf(!poolAvailable())("the pool when a chunk throws", () => {
  // chunk c writes c + 1 + params[0] at Int32 index c after some work (so a worker wakes in time
  // to claim chunks); it throws on a thread whose cache has key 1 (the test puts it in the main
  // thread's cache, or not), and on the workers when `workersFail` (their cache lacks key 0)
  const run: ChunkFn = (_ex, p, chunk, ctx) => {
    let s = 0;
    for (let i = 0; i < 20000; i++) s += Math.sqrt(i);
    if (ctx.cache.has(1) || (p[1] === 1 && !ctx.cache.has(0))) throw new Error(`chunk ${chunk} failed`);
    new Int32Array(ctx.memory.buffer)[chunk] = chunk + 1 + (p[0] ?? 0) + (s < 0 ? 1 : 0);
  };
  const chunks = 64;

  it("a chunk that throws in a worker is run again on the main thread: every result is there", async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const pool = createPool(null, memory, {}, run)!;
    pool.ctx.cache.set(0, true);
    setThreads(2);
    expect(await poolReady(pool)).toBe(true);
    const out = new Int32Array(memory.buffer, 0, chunks);
    for (let k = 0; k < 20 && poolStats(pool).failed === 0; k++) {
      out.fill(0);
      parallelFor(pool, chunks, [100 + k, 1]);
      const bad = out.findIndex((v, c) => v !== c + 101 + k);
      expect(bad, `chunk ${bad}: ${out[bad]}`).toBe(-1);
    }
    expect(poolStats(pool).failed, "a worker claimed (and failed) a chunk").toBeGreaterThan(0);
    // a chunk that threw is not counted as run by a worker, and its error reaches the main thread
    expect(poolStats(pool).byWorkers).toBe(0);
    for (let k = 0; k < 200 && poolStats(pool).workerError === null; k++) await new Promise((r) => setTimeout(r, 5));
    expect(poolStats(pool).workerError).toMatch(/chunk \d+ failed/);
  });

  it("a chunk that throws on the main thread is rethrown after the job; the pool keeps working", async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const pool = createPool(null, memory, {}, run)!;
    setThreads(2);
    expect(await poolReady(pool)).toBe(true);
    pool.ctx.cache.set(1, true);
    expect(() => parallelFor(pool, chunks, [7, 0])).toThrow(/^chunk \d+ failed$/);
    pool.ctx.cache.delete(1);
    const out = new Int32Array(memory.buffer, 0, chunks);
    out.fill(0);
    parallelFor(pool, chunks, [9, 0]);
    const bad = out.findIndex((v, c) => v !== c + 10);
    expect(bad, `chunk ${bad}: ${out[bad]}`).toBe(-1);
  });
});
