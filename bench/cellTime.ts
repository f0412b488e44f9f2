/**
 * Median time of one workload cell on nabla (for A/B comparisons of builds: run it alternately
 * with NABLA_BENCH_BUILD pointing at each build, so both see the same machine load).
 *
 *   NABLA_BENCH_BUILD=/tmp/build node --import tsx bench/cellTime.ts <workload-id> [float32|float64] [eager|jit] [runs]
 */
import { performance } from "node:perf_hooks";
import { nablaBackend } from "./backends/nabla.js";
import { type FloatDType, type Mode, Unsupported } from "./backends/types.js";
import { check } from "./lib/check.js";
import { nb } from "./lib/nabla.js";
import { workloads } from "./workloads.js";

const [id = "W2-mlp-grad", dtype = "float32", mode = "eager", runsArg = "30"] = process.argv.slice(2);
const w = workloads().find((x) => x.id === id);
if (w === undefined) throw new Error(`unknown workload ${id}`);
await (nb as { matmulPoolReady?: () => Promise<boolean> }).matmulPoolReady?.();
const r = nablaBackend.prepare(w, dtype as FloatDType, mode as Mode);
if (r instanceof Unsupported) throw new Error(r.reason);
const c = check(r.run(), w.reference(), dtype as FloatDType);
if (!c.ok) throw new Error(`check failed: ${c.message}`);
for (let i = 0; i < 5; i++) r.run();
const t: number[] = [];
for (let i = 0; i < Number(runsArg); i++) {
  const t0 = performance.now();
  r.run();
  t.push(performance.now() - t0);
}
t.sort((a, b) => a - b);
const q = (p: number) => t[Math.min(t.length - 1, Math.floor(p * t.length))]!;
console.log(
  JSON.stringify({ id, dtype, mode, median: +q(0.5).toFixed(3), p25: +q(0.25).toFixed(3), p75: +q(0.75).toFixed(3) }),
);
