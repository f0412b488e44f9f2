/**
 * matmul GFLOP/s (issue 8): C = A·B for square n = 256, 512, 1024 in float32
 * and float64 through the public `matmul`, at each thread count from 1 to the
 * pool's default, against the WebAssembly SIMD peak of this machine as
 * bench/simdPeak.ts measures it (independent f32x4 / f64x2 mul and add chains
 * on locals, one thread, times the thread count; on this Zen 4 about 47 / 23
 * GFLOP/s per core: ~3.2 vector ops per cycle at ~3.6 GHz). Each result is first
 * checked against a float64 triple loop on a few sampled entries (|err| <=
 * 1.01·n·u·Σ|a||b|, u = 2^-24 float32, 2^-53 float64). Reports, never asserts.
 *
 *   npm run bench -- --only matmul
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { nb } from "./lib/nabla.js";
import { type MeasureOptions, measure } from "./lib/measure.js";

type Threads = typeof import("../src/kernels/threads.js");
type Kernel = typeof import("../src/kernels/wasmMatmul.js");
const dir = process.env.NABLA_BENCH_BUILD;
const load = async <T>(rel: string, fallback: () => Promise<T>): Promise<T> =>
  dir !== undefined && dir !== "" ? ((await import(pathToFileURL(join(dir, "kernels", rel)).href)) as T) : fallback();
// the internal thread setting (the integrator wires the public config({ threads }) to it)
const threads = await load<Threads>("threads.js", () => import("../src/kernels/threads.js"));
const kernel = await load<Kernel>("wasmMatmul.js", () => import("../src/kernels/wasmMatmul.js"));

/** Per-core WebAssembly SIMD peak (GFLOP/s), measured by bench/simdPeak.ts on this machine. */
export interface PeakPerCore {
  readonly float32: number;
  readonly float64: number;
}

const ofPeak = (gflops: number, peak: PeakPerCore, dtype: "float32" | "float64", threads: number): string => {
  const p = peak[dtype] * threads;
  return `${((100 * gflops) / p).toFixed(0)}% of ${p.toFixed(0)}`;
};

export interface MatmulRow {
  n: number;
  dtype: "float32" | "float64";
  threads: number;
  ms: number;
  gflops: number;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export async function measureMatmul(opts: MeasureOptions, sizes = [256, 512, 1024]): Promise<MatmulRow[]> {
  const maxThreads = kernel.wasmMatmulThreaded ? threads.defaultThreads() : 1;
  const before = threads.getThreads();
  const rows: MatmulRow[] = [];
  try {
    for (const dtype of ["float32", "float64"] as const)
      for (const n of sizes) {
        const next = lcg(n);
        const ad = dtype === "float32" ? new Float32Array(n * n) : new Float64Array(n * n);
        const bd = dtype === "float32" ? new Float32Array(n * n) : new Float64Array(n * n);
        for (let i = 0; i < n * n; i++) [ad[i], bd[i]] = [2 * next() - 1, 2 * next() - 1];
        const A = nb.array(ad, { shape: [n, n] });
        const B = nb.array(bd, { shape: [n, n] });
        for (let t = 1; t <= maxThreads; t++) {
          threads.setThreads(t);
          await kernel.matmulPoolReady();
          const c = nb.matmul(A, B).toTypedArray();
          const u = dtype === "float32" ? 2 ** -24 : 2 ** -53;
          for (let s = 0; s < 16; s++) {
            const i = Math.floor(next() * n);
            const j = Math.floor(next() * n);
            let ref = 0;
            let abs = 0;
            for (let k = 0; k < n; k++) {
              ref += ad[i * n + k]! * bd[k * n + j]!;
              abs += Math.abs(ad[i * n + k]! * bd[k * n + j]!);
            }
            if (!(Math.abs(c[i * n + j]! - ref) <= 1.01 * n * u * abs))
              throw new Error(`matmul bench: wrong result at n=${n} ${dtype} threads=${t} (${i},${j})`);
          }
          const tm = measure(() => nb.matmul(A, B).toTypedArray(), { ...opts, budgetMs: Math.min(opts.budgetMs, 400) });
          rows.push({ n, dtype, threads: t, ms: tm.medianMs, gflops: (2 * n ** 3) / tm.medianMs / 1e6 });
        }
      }
  } finally {
    threads.setThreads(before);
  }
  return rows;
}

/** Table rows: size, dtype, threads, ms, GFLOP/s, fraction of the SIMD peak for that many cores. */
export function matmulTable(rows: readonly MatmulRow[], peak: PeakPerCore): string[][] {
  return rows.map((r) => [
    `${r.n}³ ${r.dtype}`,
    String(r.threads),
    `${r.ms.toFixed(2)} ms`,
    r.gflops.toFixed(1),
    ofPeak(r.gflops, peak, r.dtype, r.threads),
  ]);
}

export const matmulHeader = ["matmul", "threads", "median", "GFLOP/s", "of WASM-SIMD peak"];

/** W2's five large products (issue 8): forward x·W1, h1·W2; backward xᵀ·d1, h1ᵀ·d2, d2·W2ᵀ. */
export const W2_PRODUCTS: readonly { name: string; M: number; K: number; N: number; ta: boolean; tb: boolean }[] = [
  { name: "x·W1", M: 128, K: 784, N: 512, ta: false, tb: false },
  { name: "h1·W2", M: 128, K: 512, N: 512, ta: false, tb: false },
  { name: "xᵀ·d1", M: 784, K: 128, N: 512, ta: true, tb: false },
  { name: "h1ᵀ·d2", M: 512, K: 128, N: 512, ta: true, tb: false },
  { name: "d2·W2ᵀ", M: 128, K: 512, N: 512, ta: false, tb: true },
];

export interface W2Row {
  name: string;
  dtype: "float32" | "float64";
  threads: number;
  ms: number;
  gflops: number;
}

/**
 * GFLOP/s of W2's products through the kernel (transposed operands read in place, as the
 * backward pass runs them), at each thread count; each checked on sampled entries as above.
 */
export async function measureW2Matmuls(opts: MeasureOptions): Promise<W2Row[]> {
  const maxThreads = kernel.wasmMatmulThreaded ? threads.defaultThreads() : 1;
  const before = threads.getThreads();
  const rows: W2Row[] = [];
  try {
    for (const dtype of ["float32", "float64"] as const)
      for (const { name, M, K, N, ta, tb } of W2_PRODUCTS) {
        const next = lcg(M + K + N);
        const make = (n: number) => (dtype === "float32" ? new Float32Array(n) : new Float64Array(n));
        const ad = make(M * K); // holds A [M, K], or Aᵀ [K, M] when ta
        const bd = make(K * N); // holds B [K, N], or Bᵀ [N, K] when tb
        for (let i = 0; i < M * K; i++) ad[i] = 2 * next() - 1;
        for (let i = 0; i < K * N; i++) bd[i] = 2 * next() - 1;
        const a = (i: number, k: number) => ad[ta ? k * M + i : i * K + k]!;
        const b = (k: number, j: number) => bd[tb ? j * K + k : k * N + j]!;
        const run = () => kernel.wasmMatmul(ad, bd, M, K, N, dtype, 0, { a: ta, b: tb });
        for (let t = 1; t <= maxThreads; t++) {
          threads.setThreads(t);
          await kernel.matmulPoolReady();
          const c = run();
          if (c === null) throw new Error("matmul bench: the WebAssembly kernel is unavailable");
          const u = dtype === "float32" ? 2 ** -24 : 2 ** -53;
          for (let s = 0; s < 16; s++) {
            const i = Math.floor(next() * M);
            const j = Math.floor(next() * N);
            let ref = 0;
            let abs = 0;
            for (let k = 0; k < K; k++) {
              ref += a(i, k) * b(k, j);
              abs += Math.abs(a(i, k) * b(k, j));
            }
            if (!(Math.abs(c[i * N + j]! - ref) <= 1.01 * K * u * abs))
              throw new Error(`matmul bench: wrong result for ${name} ${dtype} threads=${t} (${i},${j})`);
          }
          const tm = measure(run, { ...opts, budgetMs: Math.min(opts.budgetMs, 400) });
          rows.push({ name, dtype, threads: t, ms: tm.medianMs, gflops: (2 * M * K * N) / tm.medianMs / 1e6 });
        }
      }
  } finally {
    threads.setThreads(before);
  }
  return rows;
}

/** Table rows for W2's products, as matmulTable's. */
export function w2MatmulTable(rows: readonly W2Row[], peak: PeakPerCore): string[][] {
  return rows.map((r) => {
    const p = W2_PRODUCTS.find((q) => q.name === r.name)!;
    return [
      `${r.name} ${p.M}×${p.K}×${p.N} ${r.dtype}`,
      String(r.threads),
      `${r.ms.toFixed(2)} ms`,
      r.gflops.toFixed(1),
      ofPeak(r.gflops, peak, r.dtype, r.threads),
    ];
  });
}
