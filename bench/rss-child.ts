/**
 * Child process of bench/lib/rss.ts: prepares one nabla cell, notes the
 * high-water RSS, runs the cell 5 times and prints both as JSON (MB).
 *   node --import tsx bench/rss-child.ts <workload-id> <dtype> <mode>
 */
import { nablaBackend } from "./backends/nabla.js";
import { type FloatDType, type Mode, Unsupported } from "./backends/types.js";
import { workloads } from "./workloads.js";

const [id, dtype, mode] = process.argv.slice(2);
const w = workloads().find((x) => x.id === id);
if (w === undefined) throw new Error(`unknown workload ${id}`);
const r = nablaBackend.prepare(w, dtype as FloatDType, mode as Mode);
if (r instanceof Unsupported) throw new Error(r.reason);
const mb = () => process.resourceUsage().maxRSS / 1024;
const baseMB = mb();
for (let i = 0; i < 5; i++) r.run();
console.log(JSON.stringify({ peakMB: mb(), baseMB }));
