/**
 * Peak retained memory of reverse mode for a deep chain, with and without
 * checkpoints (issue 11): L layers of x ↦ tanh(W x), W d×d (shared), d = 256.
 *
 * What is measured is the peak during `grad`, backward pass included: every
 * layer passes its value through a probe, an identity whose custom VJP calls
 * `debug.callback` on its cotangent, so each step of the backward pass
 * (recomputations inside checkpoints included: the probe is part of the
 * layer) forces a full GC (`--expose-gc`) and samples heapUsed + arrayBuffers.
 * The peak is the largest sample, and the sample between the forward pass
 * (`vjp`) and the backward pass (the pullback), minus the heap before `vjp`.
 * Reported for: no checkpoint, a checkpoint every 10 layers (and with
 * dotsSaveable), and nested checkpoints (√L blocks of √L layers, checkpointed
 * twice); with the memory held between the passes, as before, for comparison.
 *
 *   node --expose-gc --import tsx bench/checkpointMemory.ts [--layers 1000] [--dim 256]
 *
 * Nothing is asserted; the figures are printed. Measured (2 shared cores; first figure at commit
 * 083d4e2, second with the final checkpoint, which also stages f once per call under a transform to
 * find closed-over tracers; the peaks vary by a few hundred KiB between runs):
 *
 *   no checkpoint                  peak 9.80 / 9.82 MiB   between passes 9.06 / 9.10 MiB
 *   checkpoint every 10 layers     peak 1.97 / 2.07 MiB   between passes 0.82 / 0.78 MiB
 *   every 10 layers, dotsSaveable  peak 9.20 / 9.50 MiB   between passes 8.07 / 8.15 MiB
 *   nested (40 blocks of 25)       peak 1.84 / 2.34 MiB   between passes 0.22 / 0.60 MiB
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as nb from "../src/index.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const L = arg("layers", 1000);
const d = arg("dim", 256);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

const W = nb.mul(nb.random.normal(nb.random.key(0), [d, d]), 1 / Math.sqrt(d));
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
};
// the backward pass's samples: the probe's VJP calls back with concrete cotangents as the pullback runs
let sampling = false;
let peak = 0;
let samples = 0;
const sample = (): void => {
  if (!sampling) return;
  samples++;
  // one full collection per step (two, as around the passes, doubles the run time for the same figure)
  gc();
  peak = Math.max(peak, process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
};
const probe = nb.customVjp(
  (x: nb.NDArray) => x,
  (x: nb.NDArray) => [x, null],
  (_res: null, ct: nb.NDArray) => {
    nb.debug.callback((_ct: nb.NDArray) => sample(), ct);
    return [ct];
  },
);
// the reference gradient's chain has no probe
const plainLayer = (x: nb.NDArray): nb.NDArray => nb.tanh(nb.matmul(W, x));
const layer = (x: nb.NDArray): nb.NDArray => probe(plainLayer(x));
const chain =
  (k: number, fn: (x: nb.NDArray) => nb.NDArray) =>
  (x: nb.NDArray): nb.NDArray => {
    for (let i = 0; i < k; i++) x = fn(x);
    return x;
  };
// the divisor of L nearest √L: blocks of s layers, L / s of them
let s = Math.round(Math.sqrt(L));
while (L % s !== 0) s--;
const variants: [string, (x: nb.NDArray) => nb.NDArray][] = [
  ["no checkpoint", chain(L, layer)],
  ["checkpoint every 10 layers", chain(L / 10, nb.checkpoint(chain(10, layer)))],
  [
    "every 10 layers, dotsSaveable",
    chain(L / 10, nb.checkpoint(chain(10, layer), { policy: nb.checkpointPolicies.dotsSaveable })),
  ],
  [`nested (${L / s} blocks of ${s})`, nb.checkpoint(chain(L / s, nb.checkpoint(chain(s, layer))))],
];
const x0 = nb.linspace(-1, 1, d);
const only = arg("variant", -1);
if (only < 0) {
  // one fresh process per variant, so no variant's garbage or caches count against another
  console.log(
    `grad of sum(chain(x)), ${L} layers of tanh(W x), W ${d}×${d}: peak retained memory over the whole grad (GC forced at each backward step), and held between the passes`,
  );
  const self = fileURLToPath(import.meta.url);
  variants.forEach((_v, i) => {
    const out = execFileSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", self, "--layers", String(L), "--dim", String(d), "--variant", String(i)],
      { encoding: "utf8" },
    );
    process.stdout.write(out);
  });
} else {
  const [name, f] = variants[only]!;
  const loss = (x: nb.NDArray) => nb.sum(f(x));
  // warm-up on a short run is not possible for a fixed depth; measure the first (and only) run
  const before = heap();
  const t0 = performance.now();
  const [, pullback] = nb.vjp(loss, x0);
  const between = heap();
  peak = between;
  sampling = true;
  const [g] = pullback(nb.array(1));
  sampling = false;
  const ms = performance.now() - t0;
  const v = (g as nb.NDArray).toTypedArray();
  // the same gradient without checkpoints or probes, for the check
  const ref = nb
    .grad((x: nb.NDArray) => nb.sum(chain(L, plainLayer)(x)))(x0)
    .toTypedArray();
  const err = Math.max(...Array.from(v, (x, i) => Math.abs(x - ref[i]!)));
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(2).padStart(8)} MiB`;
  console.log(
    `${name.padEnd(34)} peak ${mib(peak - before)}   between passes ${mib(between - before)}   ${String(samples).padStart(5)} samples   ${ms.toFixed(0).padStart(7)} ms   max |Δgrad| ${err.toExponential(1)}`,
  );
}
