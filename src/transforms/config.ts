/** `config`: library-wide settings (API.md "New transforms and tools"). */
import { NablaError } from "../core/errors.js";
import { SETTINGS, Settings } from "../core/config.js";
import { describe } from "../core/pytree.js";
import { readOptions } from "./common.js";
import { getThreads, setThreads } from "../kernels/threads.js";

/**
 * Sets library-wide options and returns the settings now in force.
 * `debugNans: true` makes the first primitive that produces a NaN from inputs
 * without NaN throw a NablaError naming the primitive, its input shapes and
 * the call site, in eager code and under `jit` alike (while it is on, `jit`
 * records each staged primitive's call site and runs the graph equation by
 * equation, unoptimised and unfused, checking every primitive, also those
 * whose NaN the result never shows; slower, a debugging mode). On "webgpu",
 * where values cannot be read synchronously, the same error rejects the next
 * read of a GPU array (`await x.data()`, `deviceGet`; docs/webgpu.md). `threads` is the
 * number of threads kernels use, the calling one included (default: the
 * available cores; 1 turns the worker pool off); results do not depend on it.
 * @example
 * nb.config({ debugNans: true });
 * try {
 *   nb.log(-1);
 * } catch (e) {
 *   // NablaError: "log: produced NaN from inputs without NaN (f64[]) at <your file:line> ..."
 * } finally {
 *   nb.config({ debugNans: false });
 * }
 */
export function config(options: { debugNans?: boolean; threads?: number } = {}): Readonly<Settings> {
  // a plain object with known keys only (readOptions checks both)
  const o = readOptions("config", options, ["debugNans", "threads"]);
  if (o.debugNans !== undefined && typeof o.debugNans !== "boolean")
    throw new NablaError(`config: debugNans must be a boolean, got ${describe(o.debugNans)}`);
  const t: unknown = o.threads;
  if (t !== undefined && !(Number.isInteger(t) && (t as number) >= 1 && (t as number) <= 256))
    throw new NablaError(`config: threads must be an integer in [1, 256], got ${describe(t)}`);
  if (o.debugNans !== undefined) SETTINGS.debugNans = o.debugNans;
  if (o.threads !== undefined) setThreads(o.threads);
  SETTINGS.threads = getThreads();
  return Object.freeze({ ...SETTINGS });
}
