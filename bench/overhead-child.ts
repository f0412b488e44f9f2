/**
 * Child process of bench/run.ts: measures the eager-overhead figures (bench/overhead.ts) in a
 * Node process with nabla alone loaded, and prints them as JSON. The peers' heaps (TF.js's wasm
 * backend, jax-js) make every major GC of the parent dearer, which inflated `grad` through a 10k
 * chain by up to 1.5× there; the figure is nabla's own cost, measured as a user's process has it.
 *   node --import tsx bench/overhead-child.ts
 */
import { measureOverhead } from "./overhead.js";

console.log(JSON.stringify(measureOverhead()));
