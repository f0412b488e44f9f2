/**
 * Eager overhead of nabla per primitive (issue 8): forward and `grad` through a
 * scalar chain of 10k ops, and `grad(x => x * x)(3)` per call. Each figure is
 * the median CPU time over several timed batches after warm-up; values are checked
 * against closed forms first.
 *
 *   npm run bench -- --only overhead
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { NDArray } from "../src/index.js";
import { nb } from "./lib/nabla.js";

export interface OverheadRow {
  readonly what: string;
  /** Median microseconds per unit (per primitive, or per call; the reference row: milliseconds). */
  readonly us: number;
  readonly unit: string;
  /** The target (µs), or null for the machine-speed reference row. */
  readonly target: number | null;
}

/**
 * A fixed plain-JS loop (no nabla): 2000 passes of a multiply-add over 4096 float64 elements. Its
 * time says how fast this shared machine ran while the figures were taken (~10 ms quiet, up to
 * 1.6x more in its slow phases, which the overhead figures follow).
 */
function referenceLoop(): void {
  const a = new Float64Array(4096);
  let s = 0;
  for (let r = 0; r < 2000; r++)
    for (let i = 0; i < 4096; i++) {
      a[i] = a[i]! * 0.5 + i;
      s += a[i]!;
    }
  if (!(s > 0)) throw new Error("overhead reference loop: no result");
}

/**
 * Median over `batches` runs of `run`, in microseconds of this process's CPU time (user + system)
 * per `units`, after at least a second of warm-up (the optimising compiler needs it). CPU time,
 * not wall time: on a shared, oversubscribed machine wall time mostly measures the other processes.
 */
function perUnit(run: () => void, units: number, batches: number): number {
  const w0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - w0 < 1000; i++) run();
  const t: number[] = [];
  for (let b = 0; b < batches; b++) {
    const c0 = process.cpuUsage();
    run();
    const c = process.cpuUsage(c0);
    t.push((c.user + c.system) / units);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1]!;
}

const STEPS = 3334; // x ← x + c·sin(x): 3 primitives a step, 10 002 in all
const C = 0.001;

function chain(x: NDArray): NDArray {
  for (let k = 0; k < STEPS; k++) x = nb.add(x, nb.mul(nb.sin(x), C));
  return x;
}

/** The closed-form derivative of the chain from x0 (plain JS). */
function chainReference(x0: number): [number, number] {
  let v = x0;
  let d = 1;
  for (let k = 0; k < STEPS; k++) {
    d *= 1 + C * Math.cos(v);
    v = v + C * Math.sin(v);
  }
  return [v, d];
}

function expectClose(what: string, got: number, want: number): void {
  // Same operations in the same order in float64: equal up to rounding of a few ulp per step.
  if (!(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want))))
    throw new Error(`overhead ${what}: got ${got}, expected ${want}`);
}

/** Measures the three overhead figures (µs) after checking their values. */
export function measureOverhead(batches = 15): OverheadRow[] {
  const x0 = nb.array(0.3);
  const [v, d] = chainReference(0.3);
  const g = nb.grad(chain);
  expectClose("forward", chain(x0).item(), v);
  expectClose("grad", g(x0).item(), d);
  const sq = nb.grad((x: NDArray) => nb.mul(x, x));
  expectClose("grad(x*x)(3)", sq(3).item(), 6);
  const ops = 3 * STEPS;
  const calls = 2000;
  return [
    {
      what: "eager forward, scalar chain of 10k ops",
      us: perUnit(() => chain(x0), ops, batches),
      unit: "per primitive",
      target: 0.3,
    },
    {
      what: "eager grad, scalar chain of 10k ops",
      us: perUnit(() => g(x0), ops, batches),
      unit: "per primitive",
      target: 1.5,
    },
    {
      what: "grad(x => x * x)(3)",
      us: perUnit(
        () => {
          for (let i = 0; i < calls; i++) sq(3);
        },
        calls,
        batches,
      ),
      unit: "per call",
      target: 5,
    },
    {
      what: "reference: plain JS loop, 8.2M multiply-adds",
      us: perUnit(referenceLoop, 1000, batches),
      unit: "ms",
      target: null,
    },
  ];
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "overhead-child.ts");

/**
 * The figures of {@link measureOverhead}, measured in a child process of their own
 * (bench/overhead-child.ts: nabla alone loaded, a fresh heap; it inherits NABLA_BENCH_BUILD).
 */
export function measureOverheadIsolated(): OverheadRow[] {
  const p = spawnSync(process.execPath, ["--import", "tsx", CHILD], { encoding: "utf8", timeout: 10 * 60_000 });
  if (p.status !== 0) throw new Error(`overhead-child failed: ${(p.stderr ?? "").trim().split("\n").pop()}`);
  return JSON.parse(p.stdout.trim().split("\n").pop()!) as OverheadRow[];
}

/** A text table of the figures. */
export function overheadTable(rows: readonly OverheadRow[]): string[][] {
  return rows.map((r) => [
    r.what,
    r.target === null ? `${r.us.toFixed(1)} ${r.unit}` : `${r.us.toFixed(3)} µs ${r.unit}`,
    r.target === null ? "(machine speed)" : `≤ ${r.target} µs`,
    r.target === null ? "" : r.us <= r.target ? "met" : "missed",
  ]);
}
