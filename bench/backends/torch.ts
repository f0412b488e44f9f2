/**
 * PyTorch CPU through `/usr/bin/python3 bench/torch_bench.py`, only when
 * `import torch` works there (Debian's python3-torch; not needed by CI).
 * Inputs travel as raw float64 files, so PyTorch sees exactly the arrays the
 * other backends see; PyTorch times itself with the same warm-up/median rule,
 * and its first outputs come back to be checked here. A cell whose output
 * fails the check is reported as wrong and its timing dropped.
 *
 * Threads: PyTorch runs with as many intra-op threads as nabla's pool (its
 * `config().threads`, by default the available cores) unless `--torch-threads`
 * says otherwise: OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS are set for the
 * subprocess and torch_bench.py calls `torch.set_num_threads`; OpenMP's threads
 * use OpenMP's default wait policy unless OMP_WAIT_POLICY says otherwise (`torchWaitPolicy`). It reports the
 * threads torch then uses (`torch.get_num_threads()`, interop threads, the
 * parallel backend), which go into the report's header; `probeTorch` also
 * records torch's own default (here 1, although 2 cores are available).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CheckResult } from "../lib/check.js";
import { type MeasureOptions, timingOf } from "../lib/measure.js";
import type { CellResult } from "../lib/report.js";
import type { Workload } from "../workloads.js";
import type { FloatDType, HostOutputs } from "./types.js";

/** The interpreter: /usr/bin/python3 unless NABLA_BENCH_PYTHON names another (e.g. a venv with newer torch). */
const PYTHON = process.env.NABLA_BENCH_PYTHON ?? "/usr/bin/python3";
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "torch_bench.py");

export interface TorchInfo {
  readonly version: string;
  /** torch.get_num_threads() without our settings (the environment's OMP_NUM_THREADS, if any, applies). */
  readonly defaultThreads: number;
}

/** What torch_bench.py reports about its threads after setting them. */
export interface TorchThreads {
  /** torch.get_num_threads() while timing. */
  readonly threads: number;
  readonly interop: number;
  /** e.g. "OpenMP" (first line of torch.__config__.parallel_info()'s "ATen parallel backend"). */
  readonly backend: string;
}

/**
 * OpenMP's wait policy for torch's threads: the environment's OMP_WAIT_POLICY if set, else libgomp's
 * default (what a torch user gets). On a quiet machine the default is torch's fastest: PASSIVE made
 * W4 5x and W5 1.5x slower (2026-12-02). On a machine shared with other processes the default spins
 * at every barrier and a 2-thread torch becomes 5-20x slower (W1, W2 at load 10); set
 * OMP_WAIT_POLICY=PASSIVE there, or --torch-threads 1.
 */
export function torchWaitPolicy(): string | undefined {
  return process.env.OMP_WAIT_POLICY;
}

/** "1.13.0 (2 threads, set; default 1; interop 1; OpenMP)": the header's PyTorch entry. */
export function describeTorch(info: TorchInfo, t: TorchThreads | null): string {
  if (t === null)
    return `${info.version} (default ${info.defaultThreads} thread${info.defaultThreads === 1 ? "" : "s"})`;
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
  return `${info.version} (${n(t.threads, "thread")} set, torch's default here ${info.defaultThreads}; interop ${t.interop}; ${t.backend}, OMP_WAIT_POLICY ${torchWaitPolicy() ?? "default"})`;
}

/** Whether PyTorch can be imported by /usr/bin/python3; the reason when not. */
export function probeTorch(): TorchInfo | { error: string } {
  const p = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__, torch.get_num_threads())"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (p.error !== undefined) return { error: `${PYTHON} not runnable: ${p.error.message}` };
  if (p.status !== 0) {
    const why = /No module named/.test(p.stderr) ? "torch not installed" : p.stderr.trim().split("\n").pop();
    return { error: `${why}; install with \`apt-get install -y python3-torch\`` };
  }
  const [version = "?", threads = "?"] = p.stdout.trim().split(/\s+/);
  return { version, defaultThreads: Number(threads) };
}

interface PyCell {
  id: string;
  dtype: FloatDType;
  status: "ok" | "throws" | "unsupported";
  message?: string;
  note?: string;
  outputs?: string[];
  firstRunMs?: number;
  samplesMs?: number[];
}

/**
 * Runs all workloads in one Python process with `threads` intra-op threads and turns its report
 * into checked cell results; also returns the threads torch reported using (null if it failed).
 */
export function runTorch(
  _info: TorchInfo,
  threads: number,
  workloads: readonly Workload[],
  dtypes: readonly FloatDType[],
  measure: MeasureOptions,
  checkOut: (id: string, dtype: FloatDType, out: HostOutputs) => CheckResult,
): { cells: CellResult[]; threads: TorchThreads | null } {
  const dir = mkdtempSync(join(os.tmpdir(), "nabla-bench-torch-"));
  try {
    const spec = {
      outdir: dir,
      threads,
      dtypes,
      measure,
      workloads: workloads.map((w) => ({
        id: w.id,
        kind: w.kind,
        params: w.params,
        inputs: Object.fromEntries(
          Object.entries(w.inputs).map(([name, h]) => {
            const file = join(dir, `${w.id}.${name}.f64`);
            writeFileSync(file, new Uint8Array(h.data.buffer, h.data.byteOffset, h.data.byteLength));
            return [name, { file, shape: h.shape }];
          }),
        ),
      })),
    };
    const specFile = join(dir, "spec.json");
    writeFileSync(specFile, JSON.stringify(spec));
    const env = {
      ...process.env,
      OMP_NUM_THREADS: String(threads),
      MKL_NUM_THREADS: String(threads),
      // Debian's torch calls the system BLAS: OpenBLAS's pthread build has its own pool, sized by this
      OPENBLAS_NUM_THREADS: String(threads),
    };
    const p = spawnSync(PYTHON, [SCRIPT, specFile], {
      env,
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
      timeout: 30 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (p.status !== 0) {
      const why = p.error?.message ?? `exit status ${p.status}`;
      const cells = workloads.flatMap((w) =>
        dtypes.map((dtype): CellResult => ({
          workload: w.id,
          backend: "torch",
          mode: "eager",
          dtype,
          status: "throws",
          message: `torch_bench.py failed: ${why}`,
        })),
      );
      return { cells, threads: null };
    }
    const report = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as {
      threads: TorchThreads;
      cells: PyCell[];
    };
    const cells = report.cells.map((c): CellResult => {
      const base = {
        workload: c.id,
        backend: "torch",
        mode: "eager" as const,
        dtype: c.dtype,
        ...(c.note !== undefined ? { note: c.note } : {}),
      };
      if (c.status !== "ok") return { ...base, status: c.status, message: c.message ?? "" };
      const out = c.outputs!.map((f) => {
        const b = readFileSync(f);
        return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      });
      const chk = checkOut(c.id, c.dtype, out);
      if (!chk.ok && !chk.imprecise) return { ...base, status: "wrong", relErr: chk.relErr, message: chk.message };
      return {
        ...base,
        status: chk.ok ? "ok" : "imprecise",
        relErr: chk.relErr,
        firstRunMs: c.firstRunMs!,
        timing: timingOf(c.samplesMs!),
      };
    });
    return { cells, threads: report.threads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
