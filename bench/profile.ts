/**
 * Profiles one workload on one backend: runs it repeatedly for a few seconds
 * under the V8 sampling profiler and prints the functions with the most self
 * time (and the file the .cpuprofile was written to, for Chrome DevTools).
 *
 *   node --import tsx bench/profile.ts <workload-id> [float32|float64] [eager|jit] [backend] [seconds]
 *   e.g. node --import tsx bench/profile.ts matmul-256 float32 eager
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { jaxBackend, loadJax } from "./backends/jaxjs.js";
import { nablaBackend } from "./backends/nabla.js";
import { loadTf, tfBackend } from "./backends/tfjs.js";
import { type Backend, type FloatDType, type Mode, Unsupported } from "./backends/types.js";
import { check } from "./lib/check.js";
import { workloads } from "./workloads.js";

const [id = "elementwise-1e5", dtype = "float32", mode = "eager", which = "nabla", secs = "3"] = process.argv.slice(2);
const w = workloads().find((x) => x.id === id);
if (w === undefined) throw new Error(`unknown workload ${id}; one of ${workloads().map((x) => x.id)}`);

async function backendNamed(name: string): Promise<Backend> {
  if (name === "nabla") return nablaBackend;
  if (name === "jax-js") {
    const j = await loadJax();
    if ("error" in j) throw new Error(j.error);
    return jaxBackend(j.jax);
  }
  const t = loadTf();
  if ("error" in t) throw new Error(t.error);
  return tfBackend(t.tf, name === "tfjs-wasm" ? "wasm" : "cpu");
}

const b = await backendNamed(which);
await b.activate?.();
const r = b.prepare(w, dtype as FloatDType, mode as Mode);
if (r instanceof Unsupported) throw new Error(r.reason);
const c = check(r.run(), w.reference(), dtype as FloatDType);
console.log(`${id} ${which} ${mode} ${dtype}: check ${c.ok ? "ok" : "FAILED " + c.message}`);
r.run();

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 200 });
await session.post("Profiler.start");
let runs = 0;
const t0 = performance.now();
while (performance.now() - t0 < Number(secs) * 1000) {
  r.run();
  runs++;
}
const elapsed = performance.now() - t0;
const { profile } = (await session.post("Profiler.stop")) as { profile: { nodes: Node[] } };
session.disconnect();
r.dispose?.();

const file = `/tmp/nabla-${id}-${which}-${mode}-${dtype}.cpuprofile`;
writeFileSync(file, JSON.stringify(profile));
const self = new Map<string, number>();
let total = 0;
for (const n of profile.nodes) {
  const hits = n.hitCount ?? 0;
  total += hits;
  const f = n.callFrame;
  // Line numbers are those of the transpiled module (tsx), so only the file is shown.
  const where = f.url === "" ? "" : ` ${f.url.replace(/^.*\/(src|bench|node_modules)\//, "$1/")}`;
  const key = `${f.functionName || "(anonymous)"}${where}`;
  self.set(key, (self.get(key) ?? 0) + hits);
}
console.log(`${runs} runs, ${(elapsed / runs).toFixed(3)} ms/run; self time by function (${file}):`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
