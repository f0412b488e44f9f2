/**
 * The WebGPU benchmark page (bundled by bench/webgpu/run.ts, run in headless Chromium): W1–W6 and
 * matmul with nabla on "webgpu" (eager and jit) and jax-js on its "webgpu" device, in one page.
 * Every result is read back and checked against the float64 reference (workloads.ts) before it is
 * timed; timings are medians after warm-up, each run forced by `await x.data()`. For nabla, the
 * primitives that ran by transfer to the CPU (no WebGPU kernel yet) are counted per cell by
 * wrapping the runtime's `transfer`.
 */
import * as jax from "@jax-js/jax";
import type { Array as JArray } from "@jax-js/jax";
import * as nb from "../../src/index.js";
import type { NDArray } from "../../src/index.js";
import { webgpuRuntime } from "../../src/device/webgpu.js";
import { jaxProgram } from "../backends/jaxjsWorkloads.js";
import { nablaProgram } from "../backends/nablaWorkloads.js";
import { Unsupported, type Mode } from "../backends/types.js";
import { check } from "../lib/check.js";
import { type MeasureOptions, measureAsync } from "../lib/measure.js";
import type { CellResult } from "../lib/report.js";
import { type Workload, convertInputs, wWorkloads } from "../workloads.js";

/** What the Node side asks for. */
export interface PageConfig {
  readonly size: "full" | "small" | "tiny";
  /** Only workloads whose id contains one of these. */
  readonly filter?: readonly string[];
  /** "nabla", "jax-js" (both by default). */
  readonly backends: readonly string[];
  /** Square matmul sizes for the GFLOP/s table (none: skipped). */
  readonly matmulSizes: readonly number[];
  readonly measure: MeasureOptions;
  /** Return the checked run's outputs in each cell (for the smoke test, at tiny sizes). */
  readonly returnOutputs?: boolean;
}

/** One matmul cell: C = A·B, square n, float32. */
export interface MatmulCell {
  readonly n: number;
  readonly backend: string;
  readonly mode: Mode;
  readonly status: "ok" | "wrong" | "throws";
  readonly message?: string;
  readonly medianMs?: number;
  readonly gflops?: number;
  readonly runs?: number;
  /** nabla: primitives that ran by transfer to the CPU in the checked run, with counts. */
  readonly transfers?: Record<string, number>;
}

/** A workload cell, with nabla's transferred primitives (checked run) where any transferred. */
export type PageCell = CellResult & { readonly transfers?: Record<string, number>; readonly outputs?: number[][] };

export interface PageResult {
  /** adapter.info of the adapter the page requested (the same one nabla and jax-js get). */
  readonly adapter: Record<string, string>;
  readonly userAgent: string;
  readonly nablaWebgpu: boolean;
  readonly jaxDevices: string[];
  readonly workloads: { id: string; title: string; params: Readonly<Record<string, number>> }[];
  readonly results: PageCell[];
  readonly matmul: MatmulCell[];
  /** Problems outside any cell (e.g. a backend that did not initialise). */
  readonly errors: string[];
  readonly elapsedS: number;
  /** Whether the page was cross-origin isolated (performance.now() at 5 µs rather than 100 µs). */
  readonly isolated: boolean;
}

type Jax = typeof jax;
const log = (s: string): void => console.info(`[bench] ${s}`);
const errMessage = (e: unknown): string => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e));

/** Counts the primitives nabla's runtime runs by transfer (its `transfer` method, wrapped once). */
const transferred = new Map<string, number>();
function watchTransfers(): void {
  const rt = webgpuRuntime();
  if (rt === null) return;
  const inner = rt.transfer.bind(rt);
  rt.transfer = (prim, ...rest) => {
    transferred.set(prim.name, (transferred.get(prim.name) ?? 0) + 1);
    return inner(prim, ...rest);
  };
}
function takeTransfers(): Record<string, number> | undefined {
  if (transferred.size === 0) return undefined;
  const out = Object.fromEntries([...transferred].sort((a, b) => b[1] - a[1]));
  transferred.clear();
  return out;
}

const readNabla = (xs: NDArray[]): Promise<ArrayLike<number>[]> => Promise.all(xs.map((x) => x.data()));
const readJax = (xs: JArray[]): Promise<ArrayLike<number>[]> =>
  Promise.all(xs.map((x) => x.data() as Promise<ArrayLike<number>>));

/** A prepared cell: `run` computes and reads the outputs back; `dispose` frees what it holds. */
interface AsyncRunner {
  run(): Promise<ArrayLike<number>[]>;
  dispose?(): void;
  note?: string;
}

function prepareNabla(w: Workload, mode: Mode): AsyncRunner | Unsupported {
  const { input } = convertInputs(w, (h) =>
    nb.devicePut(nb.array(Float32Array.from(h.data), { shape: h.shape }), "webgpu"),
  );
  const p = nablaProgram(nb, w, input);
  if (p instanceof Unsupported) return p;
  const g = mode === "jit" ? nb.jit(p.f) : p.f;
  return { run: () => readNabla(g(...p.args)) };
}

function prepareJax(w: Workload, mode: Mode): AsyncRunner | Unsupported {
  const np = jax.numpy;
  const { input, all } = convertInputs(w, (h) =>
    np.array(Float32Array.from(h.data), { shape: [...h.shape], dtype: np.float32, device: "webgpu" }),
  );
  const p = jaxProgram(jax, w, input);
  if (p instanceof Unsupported) {
    for (const a of all) a.dispose();
    return p;
  }
  const g: (...a: unknown[]) => JArray[] = mode === "jit" ? (jax.jit(p.f as never) as never) : p.f;
  return {
    run: () => readJax(g(...p.args())),
    dispose: () => {
      if (mode === "jit") (g as unknown as { dispose(): void }).dispose();
      for (const a of all) a.dispose();
    },
    ...(p.note !== undefined ? { note: p.note } : {}),
  };
}

async function runCell(
  backend: string,
  w: Workload,
  ref: Float64Array[],
  mode: Mode,
  opts: MeasureOptions,
  returnOutputs: boolean,
): Promise<PageCell> {
  const base = { workload: w.id, backend, mode, dtype: "float32" as const };
  transferred.clear();
  let r: AsyncRunner | Unsupported;
  try {
    r = backend === "nabla" ? prepareNabla(w, mode) : prepareJax(w, mode);
  } catch (e) {
    return { ...base, status: "throws", message: errMessage(e) };
  }
  if (r instanceof Unsupported) return { ...base, status: "unsupported", message: r.reason };
  const runner = r;
  const note = runner.note !== undefined ? { note: runner.note } : {};
  try {
    const t0 = performance.now();
    const out = await runner.run();
    const firstRunMs = performance.now() - t0;
    const transfers = takeTransfers();
    const tr = {
      ...(transfers !== undefined ? { transfers } : {}),
      ...(returnOutputs ? { outputs: out.map((o) => Array.from(o)) } : {}),
    };
    const c = check(out, ref, "float32");
    if (!c.ok) return { ...base, ...note, ...tr, status: "wrong", relErr: c.relErr, message: c.message };
    const timing = await measureAsync(() => runner.run(), opts);
    transferred.clear();
    return { ...base, ...note, ...tr, status: "ok", relErr: c.relErr, firstRunMs, timing };
  } catch (e) {
    if (e instanceof Error && e.stack !== undefined) console.warn(`${w.id} ${backend} ${mode}: ${e.stack}`);
    return { ...base, ...note, status: "throws", message: errMessage(e) };
  } finally {
    try {
      runner.dispose?.();
    } catch {
      // Disposal failures do not change the measurement.
    }
  }
}

/** lcg in [0, 1): the matmul inputs (the same for every backend). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Checks C = A·B on 32 sampled entries against a float64 dot product: |err| <= 1.01·n·u·Σ|a||b|
 * (u = 2^-24; the standard bound for a float32 dot product of length n, in any summation order).
 */
function checkMatmul(c: ArrayLike<number>, a: Float32Array, b: Float32Array, n: number): string | null {
  if (c.length !== n * n) return `${c.length} elements, expected ${n * n}`;
  const next = lcg(n + 7);
  for (let s = 0; s < 32; s++) {
    const i = Math.floor(next() * n);
    const j = Math.floor(next() * n);
    let ref = 0;
    let abs = 0;
    for (let k = 0; k < n; k++) {
      ref += a[i * n + k]! * b[k * n + j]!;
      abs += Math.abs(a[i * n + k]! * b[k * n + j]!);
    }
    if (!(Math.abs(c[i * n + j]! - ref) <= 1.01 * n * 2 ** -24 * abs))
      return `C[${i},${j}] = ${c[i * n + j]}, expected ${ref}`;
  }
  return null;
}

async function runMatmul(cfg: PageConfig, useJax: boolean): Promise<MatmulCell[]> {
  const cells: MatmulCell[] = [];
  const opts: MeasureOptions = { ...cfg.measure, minRuns: Math.min(cfg.measure.minRuns, 5) };
  for (const n of cfg.matmulSizes) {
    const next = lcg(n);
    const a = new Float32Array(n * n);
    const b = new Float32Array(n * n);
    for (let i = 0; i < n * n; i++) [a[i], b[i]] = [2 * next() - 1, 2 * next() - 1];
    const runners: { backend: string; mode: Mode; run: () => Promise<ArrayLike<number>>; dispose?: () => void }[] = [];
    if (cfg.backends.includes("nabla")) {
      const A = nb.devicePut(nb.array(a, { shape: [n, n] }), "webgpu");
      const B = nb.devicePut(nb.array(b, { shape: [n, n] }), "webgpu");
      const jf = nb.jit((x: NDArray, y: NDArray) => nb.matmul(x, y));
      runners.push({ backend: "nabla", mode: "eager", run: () => nb.matmul(A, B).data() });
      runners.push({ backend: "nabla", mode: "jit", run: () => jf(A, B).data() });
    }
    if (useJax) {
      const np = jax.numpy;
      const A = np.array(a, { shape: [n, n], dtype: np.float32, device: "webgpu" });
      const B = np.array(b, { shape: [n, n], dtype: np.float32, device: "webgpu" });
      const jf = jax.jit((x: JArray, y: JArray) => np.matmul(x, y));
      runners.push({
        backend: "jax-js",
        mode: "eager",
        run: () => np.matmul(A.ref, B.ref).data() as Promise<ArrayLike<number>>,
      });
      runners.push({
        backend: "jax-js",
        mode: "jit",
        run: () => jf(A.ref, B.ref).data() as Promise<ArrayLike<number>>,
        dispose: () => {
          jf.dispose();
          A.dispose();
          B.dispose();
        },
      });
    }
    for (const r of runners) {
      const base = { n, backend: r.backend, mode: r.mode };
      transferred.clear();
      try {
        const bad = checkMatmul(await r.run(), a, b, n);
        const transfers = takeTransfers();
        const tr = transfers !== undefined ? { transfers } : {};
        if (bad !== null) cells.push({ ...base, ...tr, status: "wrong", message: bad });
        else {
          const t = await measureAsync(r.run, opts);
          transferred.clear();
          cells.push({
            ...base,
            ...tr,
            status: "ok",
            medianMs: t.medianMs,
            runs: t.runs,
            gflops: (2 * n ** 3) / t.medianMs / 1e6,
          });
        }
      } catch (e) {
        cells.push({ ...base, status: "throws", message: errMessage(e) });
      }
      const c = cells[cells.length - 1]!;
      log(
        `matmul ${n} ${r.backend} ${r.mode}: ${c.status === "ok" ? `${c.medianMs!.toFixed(1)} ms, ${c.gflops!.toFixed(2)} GFLOP/s` : `${c.status} ${c.message}`}`,
      );
    }
    for (const r of runners)
      try {
        r.dispose?.();
      } catch {
        // as above
      }
  }
  return cells;
}

/** Runs the benchmark; resolves with everything the Node side prints. */
export async function runPage(cfg: PageConfig): Promise<PageResult> {
  const started = performance.now();
  const errors: string[] = [];
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } }).gpu;
  const adapter = gpu === undefined ? null : await gpu.requestAdapter();
  const info: Record<string, string> = {};
  if (adapter === null) errors.push("no WebGPU adapter in this page");
  else for (const k of ["vendor", "architecture", "device", "description"]) info[k] = String(adapter.info?.[k] ?? "");

  let nablaWebgpu = false;
  if (cfg.backends.includes("nabla")) {
    nablaWebgpu = await nb.init("webgpu");
    if (!nablaWebgpu) errors.push('nabla: init("webgpu") resolved false');
    else watchTransfers();
  }
  let jaxDevices: string[] = [];
  let useJax = false;
  if (cfg.backends.includes("jax-js")) {
    try {
      jaxDevices = (await (jax as Jax).init()) as string[];
      if (jaxDevices.includes("webgpu")) {
        jax.defaultDevice("webgpu");
        useJax = true;
      } else errors.push(`jax-js: no webgpu device (init gave ${jaxDevices.join(", ")})`);
    } catch (e) {
      errors.push(`jax-js: init failed (${errMessage(e)})`);
    }
  }
  const backends = [...(nablaWebgpu ? ["nabla"] : []), ...(useJax ? ["jax-js"] : [])];

  const selected = wWorkloads(cfg.size).filter(
    (w) => cfg.filter === undefined || cfg.filter.some((f) => w.id.includes(f)),
  );
  const results: PageCell[] = [];
  for (const w of selected) {
    const ref = w.reference();
    log(`${w.id}: ${w.title}`);
    for (const b of backends)
      for (const mode of ["eager", "jit"] as const) {
        const r = await runCell(b, w, ref, mode, cfg.measure, cfg.returnOutputs === true);
        results.push(r);
        const what =
          r.timing !== undefined
            ? `${r.timing.medianMs.toFixed(3)} ms, ${r.timing.runs} runs`
            : `${r.status} ${r.message ?? ""}`;
        log(
          `  ${b.padEnd(7)} ${mode.padEnd(6)} ${what}${r.transfers !== undefined ? `  (transferred: ${Object.keys(r.transfers).join(" ")})` : ""}`,
        );
      }
  }
  const matmul = nablaWebgpu || useJax ? await runMatmul({ ...cfg, backends }, useJax) : [];
  return {
    adapter: info,
    userAgent: navigator.userAgent,
    nablaWebgpu,
    jaxDevices,
    workloads: selected.map((w) => ({ id: w.id, title: w.title, params: w.params })),
    results: results.map((r) => (r.timing === undefined ? r : { ...r, timing: { ...r.timing, samplesMs: [] } })),
    matmul,
    errors,
    elapsedS: (performance.now() - started) / 1000,
    isolated: globalThis.crossOriginIsolated === true,
  };
}
