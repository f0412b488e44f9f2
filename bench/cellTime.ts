/**
 * Median time of one workload cell on nabla (for A/B comparisons of builds: run it alternately
 * with NABLA_BENCH_BUILD pointing at each build, so both see the same machine load): wall time,
 * and the process's CPU time per run (user + system, all threads), which time-slicing on a
 * loaded machine does not inflate (with threads = 1 it is the work done).
 *
 *   NABLA_BENCH_BUILD=/tmp/build node --import tsx bench/cellTime.ts <workload-id> [float32|float64] [eager|jit] [runs] [threads]
 *
 * threads 0 (the default) leaves the library's default, the available cores.
 */
import { performance } from "node:perf_hooks";
import { nablaBackend } from "./backends/nabla.js";
import { type FloatDType, type Mode, Unsupported } from "./backends/types.js";
import { check } from "./lib/check.js";
import { nb } from "./lib/nabla.js";
import { workloads } from "./workloads.js";

const [id = "W2-mlp-grad", dtype = "float32", mode = "eager", runsArg = "30", threads = "0"] = process.argv.slice(2);
const w = workloads().find((x) => x.id === id);
if (w === undefined) throw new Error(`unknown workload ${id}`);
// 0 (the default): the library's own default (the available cores)
if (Number(threads) > 0) nb.config({ threads: Number(threads) });
await (nb as { matmulPoolReady?: () => Promise<boolean> }).matmulPoolReady?.();
const r = nablaBackend.prepare(w, dtype as FloatDType, mode as Mode);
if (r instanceof Unsupported) throw new Error(r.reason);
const c = check(r.run(), w.reference(), dtype as FloatDType);
if (!c.ok) throw new Error(`check failed: ${c.message}`);
for (let i = 0; i < 5; i++) r.run();
const t: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < Number(runsArg); i++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  r.run();
  const c = process.cpuUsage(c0);
  t.push(performance.now() - t0);
  cpu.push((c.user + c.system) / 1000);
}
const q = (xs: number[], p: number) =>
  +xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(3);
console.log(
  JSON.stringify({
    id,
    dtype,
    mode,
    threads: nb.config().threads,
    wall: [q(t, 0.25), q(t, 0.5), q(t, 0.75)],
    cpu: [q(cpu, 0.25), q(cpu, 0.5), q(cpu, 0.75)],
  }),
);
