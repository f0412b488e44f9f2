/**
 * Time per primitive (and operand shapes) in one workload cell: wraps every
 * primitive's `impl` in RULES with a timer, runs the cell repeatedly and
 * prints the total self time by primitive and shapes, per run. The wrapper
 * adds ~1 µs per call, so tiny primitives look slower than they are.
 *
 *   node --import tsx bench/opTimes.ts <workload-id> [float32|float64] [eager|jit] [runs]
 */
import { performance } from "node:perf_hooks";
import { RULES } from "../src/prims/table.js";
import { nablaBackend } from "./backends/nabla.js";
import { type FloatDType, type Mode, Unsupported } from "./backends/types.js";
import { workloads } from "./workloads.js";

const [id = "W2-mlp-grad", dtype = "float32", mode = "eager", runsArg = "40"] = process.argv.slice(2);
const w = workloads().find((x) => x.id === id);
if (w === undefined) throw new Error(`unknown workload ${id}`);
const times = new Map<string, { ms: number; calls: number }>();
let on = false;
for (const [name, rule] of Object.entries(RULES) as [string, { impl: (...a: never[]) => unknown }][]) {
  const impl = rule.impl;
  rule.impl = ((args: { shape: readonly number[] }[], ...rest: unknown[]) => {
    if (!on) return (impl as (...a: unknown[]) => unknown)(args, ...rest);
    const t0 = performance.now();
    const r = (impl as (...a: unknown[]) => unknown)(args, ...rest);
    const key = `${name} ${args.map((a) => `[${a.shape.join(",")}]`).join(" ")}`;
    const e = times.get(key) ?? { ms: 0, calls: 0 };
    e.ms += performance.now() - t0;
    e.calls++;
    times.set(key, e);
    return r;
  }) as never;
}
const r = nablaBackend.prepare(w, dtype as FloatDType, mode as Mode);
if (r instanceof Unsupported) throw new Error(r.reason);
for (let i = 0; i < 5; i++) r.run();
const runs = Number(runsArg);
on = true;
const t0 = performance.now();
for (let i = 0; i < runs; i++) r.run();
const total = (performance.now() - t0) / runs;
on = false;
let inPrims = 0;
for (const e of times.values()) inPrims += e.ms / runs;
console.log(`${id} ${dtype} ${mode}: ${total.toFixed(2)} ms/run, ${inPrims.toFixed(2)} ms in primitive impls`);
for (const [k, e] of [...times].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40))
  console.log(`  ${(e.ms / runs).toFixed(3).padStart(7)} ms  ${String(e.calls / runs).padStart(3)}×  ${k}`);
