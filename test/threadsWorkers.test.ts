/**
 * Workers really run the kernels' chunks (src/kernels/threads.ts). A chunk that throws in a
 * worker is run again on the main thread, so a broken worker program (a chunk function that
 * reads module scope, a helper missing from the worker's source) still gives the right values:
 * only the pool's counters show it. Here, with config({ threads: 2 }), a large fused loop (W1's
 * gradient at the default threading thresholds) and large matmuls (float32 and float64, through
 * the public `matmul`) must have chunks completed by workers and none failed in a worker, with
 * the bits of one thread. And the worker program tolerates builds that keep function names
 * (esbuild's keepNames, as under tsx), which wrap inner functions in `__name(...)` calls, and
 * an idle pool lets the process end.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import {
  type ChunkFn,
  type PoolStats,
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
  wasmElementwiseThreaded,
} from "../src/kernels/wasm/elementwise.js";
import { matmulPoolReady, matmulPoolStats, wasmMatmulThreaded } from "../src/kernels/wasmMatmul.js";
import { seeded } from "./support/rng.js";

type A = nb.NDArray;

const before = getThreads();
afterEach(() => {
  setThreads(before);
});

function expectIdentical(a: A, b: A, what: string): void {
  expect(b.shape, what).toEqual(a.shape);
  const x = Array.from(a.toTypedArray() as ArrayLike<number>);
  const y = Array.from(b.toTypedArray() as ArrayLike<number>);
  const bad = x.findIndex((v, i) => !Object.is(v, y[i]));
  expect(bad, `${what}: element ${bad}: ${x[bad]} vs ${y[bad]}`).toBe(-1);
}

/**
 * Calls `f` (at most 20 times) until workers have completed a chunk; asserts they did and that
 * no chunk threw in a worker meanwhile (with the worker's error, which arrives asynchronously,
 * in the message). Returns f's last result.
 */
async function onWorkers(stats: () => PoolStats, f: () => A, what: string): Promise<A> {
  const s0 = stats();
  let r = f();
  for (let k = 0; k < 20 && stats().byWorkers === s0.byWorkers && stats().failed === s0.failed; k++) r = f();
  const s1 = stats();
  if (s1.failed > s0.failed)
    for (let k = 0; k < 200 && stats().workerError === s0.workerError; k++) await new Promise((t) => setTimeout(t, 5));
  expect(s1.failed - s0.failed, `${what}: chunks that threw in a worker (${String(stats().workerError)})`).toBe(0);
  expect(s1.byWorkers - s0.byWorkers, `${what}: chunks completed by workers`).toBeGreaterThan(0);
  return r;
}

describe.skipIf(!wasmElementwiseThreaded())("a large fused loop at threads: 2", () => {
  it("W1's gradient on 2^17 elements: chunks completed by workers, none failed, the bits of one thread", async () => {
    const next = seeded(41);
    const w1 = (x: A): A => {
      const s = nb.sin(x);
      return nb.sum(nb.add(nb.mul(nb.tanh(x), x), nb.mul(s, s)));
    };
    const g = nb.jit(nb.grad(w1));
    for (const dtype of ["float64", "float32"] as const) {
      const x = nb.array(
        Float64Array.from({ length: 1 << 17 }, () => 6 * next() - 3),
        { dtype },
      );
      nb.config({ threads: 1 });
      const one = g(x);
      nb.config({ threads: 2 });
      expect(await elementwisePoolReady()).toBe(true);
      const two = await onWorkers(elementwisePoolStats, () => g(x), `W1 gradient, ${dtype}`);
      expectIdentical(one, two, `W1 gradient, ${dtype}, 2 threads`);
    }
  });
});

describe.skipIf(!wasmElementwiseThreaded())("a large loop over block operands read in place at threads: 2", () => {
  it("[2048, 2, 32] by [2048, 1, 32]: chunks completed by workers, none failed, the bits of one thread", async () => {
    const next = seeded(43);
    const f = nb.jit((x: A, y: A): A => nb.sub(nb.tanh(nb.mul(x, y)), nb.mul(nb.sin(nb.mul(x, y)), y)));
    for (const dtype of ["float64", "float32"] as const) {
      const x = nb.array(
        Float64Array.from({ length: 2048 * 64 }, () => 6 * next() - 3),
        { dtype, shape: [2048, 2, 32] },
      );
      const y = nb.array(
        Float64Array.from({ length: 2048 * 32 }, () => 2 * next() - 1),
        { dtype, shape: [2048, 1, 32] },
      );
      nb.config({ threads: 1 });
      const one = f(x, y);
      nb.config({ threads: 2 });
      expect(await elementwisePoolReady()).toBe(true);
      const two = await onWorkers(elementwisePoolStats, () => f(x, y), `block operands, ${dtype}`);
      expectIdentical(one, two, `block operands, ${dtype}, 2 threads`);
    }
  });
});

describe.skipIf(!wasmMatmulThreaded)("a large matmul at threads: 2", () => {
  it("512×256 · 256×512: chunks completed by workers, none failed, the bits of one thread", async () => {
    const next = seeded(42);
    for (const dtype of ["float64", "float32"] as const) {
      const a = nb.array(
        Float64Array.from({ length: 512 * 256 }, () => 2 * next() - 1),
        { dtype, shape: [512, 256] },
      );
      const b = nb.array(
        Float64Array.from({ length: 256 * 512 }, () => 2 * next() - 1),
        { dtype, shape: [256, 512] },
      );
      nb.config({ threads: 1 });
      const one = nb.matmul(a, b);
      nb.config({ threads: 2 });
      expect(await matmulPoolReady()).toBe(true);
      const two = await onWorkers(matmulPoolStats, () => nb.matmul(a, b), `matmul, ${dtype}`);
      expectIdentical(one, two, `matmul, ${dtype}, 2 threads`);
      // a transposed operand (the backward pass's xᵀ·g): the packed-Aᵀ path on the workers
      const oneT = (nb.config({ threads: 1 }), nb.matmul(a.T, a));
      nb.config({ threads: 2 });
      const twoT = await onWorkers(matmulPoolStats, () => nb.matmul(a.T, a), `matmul aᵀ·a, ${dtype}`);
      expectIdentical(oneT, twoT, `matmul aᵀ·a, ${dtype}, 2 threads`);
    }
  });
});

// what esbuild's keepNames emits around inner functions (the workers define their own no-op)
const __name = <T>(f: T, _name: string): T => f;

describe.skipIf(!poolAvailable())("the worker program", () => {
  it("runs a chunk function whose source calls __name (a build that keeps function names)", async () => {
    const run: ChunkFn = (_ex, p, chunk, ctx) => {
      const plus = __name((v: number) => v + ctx.at(p, 0, "test"), "plus");
      let s = 0;
      for (let i = 0; i < 20000; i++) s += Math.sqrt(i); // some work, so a worker wakes in time
      new Int32Array(ctx.memory.buffer)[chunk] = plus(chunk) + (s < 0 ? 1 : 0);
    };
    expect(run.toString()).toContain("__name(");
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const pool = createPool(null, memory, {}, run);
    expect(pool).not.toBeNull();
    if (pool === null) return;
    setThreads(2);
    expect(await poolReady(pool)).toBe(true);
    const out = new Int32Array(memory.buffer, 0, 64);
    for (let k = 0; k < 20 && poolStats(pool).byWorkers === 0 && poolStats(pool).failed === 0; k++) {
      out.fill(0);
      parallelFor(pool, 64, [1000 + k]);
      const bad = out.findIndex((v, c) => v !== c + 1000 + k);
      expect(bad, `chunk ${bad}: ${out[bad]}`).toBe(-1);
    }
    expect(poolStats(pool).failed, String(poolStats(pool).workerError)).toBe(0);
    expect(poolStats(pool).byWorkers).toBeGreaterThan(0);
  });

  it("gives the chunk function the job's parameters, no more; more than 16 is an internal error", async () => {
    // chunk c writes the parameter count and the sum of the parameters it got
    const run: ChunkFn = (_ex, p, chunk, ctx) => {
      let s = 0;
      for (let i = 0; i < 20000; i++) s += Math.sqrt(i);
      const out = new Int32Array(ctx.memory.buffer);
      out[2 * chunk] = p.length + (s < 0 ? 1 : 0);
      out[2 * chunk + 1] = p.reduce((u, v) => u + v, 0);
    };
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const pool = createPool(null, memory, {}, run);
    if (pool === null) throw new Error("no pool");
    setThreads(2);
    expect(await poolReady(pool)).toBe(true);
    const out = new Int32Array(memory.buffer, 0, 128);
    for (let k = 0; k < 20 && poolStats(pool).byWorkers === 0; k++) {
      out.fill(-1);
      parallelFor(pool, 64, [3, 4, k]);
      for (let c = 0; c < 64; c++) expect([out[2 * c], out[2 * c + 1]], `chunk ${c}`).toEqual([3, 7 + k]);
    }
    expect(poolStats(pool).byWorkers).toBeGreaterThan(0);
    expect(poolStats(pool).failed).toBe(0);
    const seventeen = Array.from({ length: 17 }, (_, i) => i);
    expect(() => parallelFor(pool, 64, seventeen)).toThrow(/^parallelFor: internal: 17 parameters, at most 16$/);
  });

  it("calls onDone once per chunk, each after that chunk is finished, workers' chunks included", async () => {
    // chunk c writes c + p[0] into slot c after some work; onDone(c) reads the slot at once
    const run: ChunkFn = (_ex, p, chunk, ctx) => {
      let s = 0;
      for (let i = 0; i < 20000 + 3000 * (chunk % 5); i++) s += Math.sqrt(i);
      new Int32Array(ctx.memory.buffer)[chunk] = chunk + ctx.at(p, 0, "test") + (s < 0 ? 1 : 0);
    };
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const pool = createPool(null, memory, {}, run);
    if (pool === null) throw new Error("no pool");
    setThreads(2);
    expect(await poolReady(pool)).toBe(true);
    const out = new Int32Array(memory.buffer, 0, 200);
    for (const n of [2, 64, 200])
      for (let k = 0; k < 20; k++) {
        out.fill(-1);
        const seen: number[] = [];
        parallelFor(pool, n, [7 * k], (c) => {
          // the chunk's result is there when onDone hears of it
          expect(out[c], `chunk ${c} of ${n}`).toBe(c + 7 * k);
          seen.push(c);
        });
        expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, c) => c));
      }
    expect(poolStats(pool).byWorkers).toBeGreaterThan(0);
    expect(poolStats(pool).failed).toBe(0);
    // one thread: every chunk on the main thread, reported once each
    setThreads(1);
    const seen: number[] = [];
    parallelFor(pool, 10, [1], (c) => seen.push(c));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe.skipIf(!wasmMatmulThreaded || !wasmElementwiseThreaded())("under tsx, in a child process", () => {
  it("workers complete chunks of both kernels, none fail, and the process ends on its own", () => {
    const root = join(import.meta.dirname, "..");
    const tsx = join(root, "node_modules", "tsx", "dist", "cli.mjs");
    // execFileSync throws if the child is still running at the timeout (a pool keeping it alive)
    const out = execFileSync(process.execPath, [tsx, join(root, "test", "fixtures", "poolWorkers.ts")], {
      cwd: root,
      encoding: "utf8",
      timeout: 30_000,
    });
    const r = JSON.parse(out.trim().split("\n").at(-1) ?? "") as {
      ready: boolean[];
      elementwise: PoolStats;
      matmul: PoolStats;
    };
    expect(r.ready).toEqual([true, true]);
    for (const k of ["elementwise", "matmul"] as const) {
      expect(r[k].failed, `${k}: ${String(r[k].workerError)}`).toBe(0);
      expect(r[k].byWorkers, k).toBeGreaterThan(0);
    }
  });
});
