/**
 * The kernels' worker pool (src/kernels/threads.ts) through matmul: results
 * bit-identical for 1, 2 and 3 threads (and equal to a float64 triple loop
 * within the bound of test/wasmMatmul.test.ts), workers actually taking part,
 * public `matmul` with transposed and batched operands, and the single-thread
 * fallbacks where SharedArrayBuffer is missing or blocking waits throw (a
 * browser's main thread).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import * as nb from "../src/index.js";
import { getThreads, setThreads } from "../src/kernels/threads.js";
import {
  THREAD_MIN_WORK,
  matmulPoolReady,
  matmulPoolStats,
  wasmMatmul,
  wasmMatmulAvailable,
  wasmMatmulThreaded,
} from "../src/kernels/wasmMatmul.js";
import { seeded } from "./support/rng.js";

type Dt = "float32" | "float64";

function randomArray(dt: Dt, n: number, next: () => number): Float32Array | Float64Array {
  const x = dt === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = 2 * next() - 1;
  return x;
}

/** max over entries of |c − ref| / (K·u·Σ|a||b|) with a float64 triple loop as ref; <= 1.01 passes. */
function worstRatio(
  c: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  dt: Dt,
) {
  // float32 accumulates in float32: |ĉ − c| <= γ_K·S, u = 2^-24; float64 the same with u = 2^-53 (x2 for the reference's own error)
  const u = dt === "float32" ? 2 ** -24 : 2 * 2 ** -53;
  let worst = 0;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let ref = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        ref += a[i * K + k]! * b[k * N + j]!;
        abs += Math.abs(a[i * K + k]! * b[k * N + j]!);
      }
      const r = Math.abs(c[i * N + j]! - ref) / (K * u * abs + 1e-300);
      if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
    }
  return worst;
}

const before = getThreads();
afterEach(() => {
  setThreads(before);
});

describe.skipIf(!wasmMatmulAvailable)("matmul on the worker pool", () => {
  it("setThreads validates and returns the previous value; 0 restores the default", () => {
    const d = setThreads(0);
    const def = getThreads();
    expect(def).toBeGreaterThanOrEqual(1);
    expect(setThreads(3)).toBe(def);
    expect(getThreads()).toBe(3);
    for (const bad of [-1, 1.5, NaN, 1000]) expect(() => setThreads(bad)).toThrow(/^setThreads: /);
    setThreads(d);
  });

  for (const dt of ["float32", "float64"] as const)
    it(`${dt}: bit-identical results for 1, 2 and 3 threads on odd shapes, workers taking part`, async () => {
      expect(wasmMatmulThreaded).toBe(typeof SharedArrayBuffer === "function");
      const next = seeded(dt === "float32" ? 11 : 12);
      const shapes: [number, number, number][] = [
        [131, 67, 149], // several row chunks, a partial 4-row block
        [67, 300, 97], // two K blocks
        [257, 41, 101],
      ];
      let workersRan = false;
      for (const [M, K, N] of shapes) {
        expect(M * K * N).toBeGreaterThanOrEqual(THREAD_MIN_WORK);
        const a = randomArray(dt, M * K, next);
        const b = randomArray(dt, K * N, next);
        const results = [];
        for (const t of [1, 2, 3]) {
          setThreads(t);
          if (t > 1 && wasmMatmulThreaded) expect(await matmulPoolReady()).toBe(true);
          const w0 = matmulPoolStats().byWorkers;
          // several calls: the main thread may finish all chunks before a worker wakes once
          let c = wasmMatmul(a, b, M, K, N, dt)!;
          for (let r = 0; r < 20 && t > 1 && matmulPoolStats().byWorkers === w0; r++)
            c = wasmMatmul(a, b, M, K, N, dt)!;
          if (t === 1) expect(matmulPoolStats().byWorkers).toBe(w0);
          // whether a worker wakes before the main thread has claimed every chunk of one product is
          // timing (a loaded CI machine starves workers): participation is asserted over the whole
          // test below, not per product; the bits are asserted per product
          else if (matmulPoolStats().byWorkers > w0) workersRan = true;
          results.push(c);
        }
        expect(worstRatio(results[0]!, a, b, M, K, N, dt)).toBeLessThanOrEqual(1.01);
        expect(results[1]).toEqual(results[0]);
        expect(results[2]).toEqual(results[0]);
      }
      if (wasmMatmulThreaded && !workersRan) {
        // none of the small products above happened to reach a worker: larger ones, where each
        // call takes milliseconds and a woken worker claims chunks long before the main thread is done
        setThreads(2);
        const [M, K, N] = [512, 256, 512];
        const a = randomArray(dt, M * K, next);
        const b = randomArray(dt, K * N, next);
        const w0 = matmulPoolStats().byWorkers;
        for (let r = 0; r < 20 && matmulPoolStats().byWorkers === w0; r++) wasmMatmul(a, b, M, K, N, dt);
        workersRan = matmulPoolStats().byWorkers > w0;
      }
      if (wasmMatmulThreaded) expect(workersRan, "a worker ran at least one chunk").toBe(true);
    });

  it("public matmul with transposed and batched operands agrees with the triple loop, any thread count", async () => {
    const next = seeded(13);
    for (const dt of ["float32", "float64"] as const) {
      const [M, K, N] = [130, 95, 97]; // above THREAD_MIN_WORK: the 2-thread run uses the pool
      const at = randomArray(dt, K * M, next); // A stored transposed: [K, M]
      const bt = randomArray(dt, N * K, next); // B stored transposed: [N, K]
      const A = nb.array(at, { shape: [K, M] }).T;
      const B = nb.array(bt, { shape: [N, K] }).T;
      const a = A.toTypedArray();
      const b = B.toTypedArray();
      const outs = [];
      for (const t of [1, 2]) {
        setThreads(t);
        await matmulPoolReady();
        const c = nb.matmul(A, B);
        expect(c.shape).toEqual([M, N]);
        expect(c.dtype).toBe(dt);
        outs.push(c.toTypedArray());
        // batched: [2, M, K] · [2, K, N], the second batch the first times 2 (exact)
        const AA = nb.stack([A, A.mul(2)]);
        const BB = nb.stack([B, B]);
        const cc = nb.matmul(AA, BB).toTypedArray();
        expect(cc.subarray(0, M * N)).toEqual(outs[outs.length - 1]);
        expect(cc.subarray(M * N)).toEqual(outs[outs.length - 1]!.map((x) => 2 * x));
      }
      expect(worstRatio(outs[0]!, a, b, M, K, N, dt)).toBeLessThanOrEqual(1.01);
      expect(outs[1]).toEqual(outs[0]);
    }
  });

  it("falls back to one thread, with the same results, without SharedArrayBuffer or blocking waits", async () => {
    const next = seeded(14);
    const [M, K, N] = [97, 181, 75];
    const a = randomArray("float64", M * K, next);
    const b = randomArray("float64", K * N, next);
    setThreads(2);
    await matmulPoolReady();
    const want = wasmMatmul(a, b, M, K, N, "float64")!;
    const stubs: [string, () => void][] = [
      ["no SharedArrayBuffer (a page without COOP/COEP)", () => vi.stubGlobal("SharedArrayBuffer", undefined)],
      [
        "Atomics.wait throws (a browser main thread)",
        () =>
          vi.spyOn(Atomics, "wait").mockImplementation(() => {
            throw new TypeError("Atomics.wait cannot be called in this context");
          }),
      ],
    ];
    for (const [what, stub] of stubs) {
      vi.resetModules();
      stub();
      try {
        const th = await import("../src/kernels/threads.js");
        const m = await import("../src/kernels/wasmMatmul.js");
        th.setThreads(2);
        expect(m.wasmMatmulAvailable, what).toBe(true);
        expect(m.wasmMatmulThreaded, what).toBe(false);
        expect(th.poolAvailable(), what).toBe(false);
        expect(await m.matmulPoolReady(), what).toBe(false);
        expect(m.wasmMatmul(a, b, M, K, N, "float64"), what).toEqual(want);
        expect(m.matmulPoolStats(), what).toEqual({ byWorkers: 0, failed: 0, ready: 0, started: 0, workerError: null });
      } finally {
        vi.unstubAllGlobals();
        vi.restoreAllMocks();
        vi.resetModules();
      }
    }
  });
});

describe("config({ threads }) drives the kernels' pool", () => {
  afterEach(() => setThreads(0));
  it("sets the thread count the kernels use, and matmul gives the same bits at 1 and 2 threads", async () => {
    expect(nb.config({ threads: 1 }).threads).toBe(1);
    expect(getThreads()).toBe(1);
    const next = seeded(7);
    const a = nb.array(randomArray("float64", 130 * 140, next), { shape: [130, 140] });
    const b = nb.array(randomArray("float64", 140 * 150, next), { shape: [140, 150] });
    const one = nb.matmul(a, b).toTypedArray();
    expect(nb.config({ threads: 2 }).threads).toBe(2);
    expect(getThreads()).toBe(2);
    await matmulPoolReady();
    const two = nb.matmul(a, b).toTypedArray();
    expect(two).toEqual(one);
    expect(() => nb.config({ threads: 0 })).toThrow(nb.NablaError);
  });
});
