/**
 * Peak retained memory of reverse mode for a deep chain, with and without
 * checkpoints (issue 11): L layers of x ↦ tanh(W x), W d×d (shared), d = 256.
 * The residuals live between the forward pass (`vjp`) and the backward pass
 * (the pullback); this script forces GC (`--expose-gc`) and reports the heap
 * growth held by the pullback, for: no checkpoint, a checkpoint every 10
 * layers, and nested checkpoints (√L blocks of √L layers, checkpointed twice).
 *
 *   node --expose-gc --import tsx bench/checkpointMemory.ts [--layers 1000] [--dim 256]
 *
 * Nothing is asserted; the figures are printed.
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
const layer = (x: nb.NDArray): nb.NDArray => nb.tanh(nb.matmul(W, x));
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
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
};
const only = arg("variant", -1);
if (only < 0) {
  // one fresh process per variant, so no variant's garbage or caches count against another
  console.log(`grad of sum(chain(x)), ${L} layers of tanh(W x), W ${d}×${d}: memory held between forward and backward`);
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
  const held = heap() - before;
  const [g] = pullback(nb.array(1));
  const ms = performance.now() - t0;
  const v = (g as nb.NDArray).toTypedArray();
  // the same gradient without checkpoints, for the check
  const ref = nb
    .grad((x: nb.NDArray) => nb.sum(chain(L, layer)(x)))(x0)
    .toTypedArray();
  const err = Math.max(...Array.from(v, (x, i) => Math.abs(x - ref[i]!)));
  console.log(
    `${name.padEnd(34)} ${(held / 2 ** 20).toFixed(2).padStart(8)} MiB retained   ${ms.toFixed(0).padStart(6)} ms   max |Δgrad| ${err.toExponential(1)}`,
  );
}
