/**
 * The nabla module the benchmark measures: the compiled build in the directory
 * named by NABLA_BENCH_BUILD when set (what `npm run bench` does: it compiles
 * src/ with tsconfig.build.json first, as users get it), else src/ through tsx.
 * tsx compiles with esbuild's keepNames, which wraps every named closure in a
 * defineProperty call: that alone doubles nabla's per-primitive overhead, so
 * timing src/ through tsx would measure the loader, not the library.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

type Nabla = typeof import("../../src/index.js");

const dir = process.env.NABLA_BENCH_BUILD;
export const nb: Nabla =
  dir !== undefined && dir !== ""
    ? ((await import(pathToFileURL(join(dir, "index.js")).href)) as Nabla)
    : await import("../../src/index.js");

type Ndarray = typeof import("../../src/core/ndarray.js");
const internals: Ndarray =
  dir !== undefined && dir !== ""
    ? ((await import(pathToFileURL(join(dir, "core", "ndarray.js")).href)) as Ndarray)
    : await import("../../src/core/ndarray.js");

/**
 * The elements of a computed array as they are stored, without a copy: what PyTorch's runs
 * return too (`numpy()` views the CPU result). A CPU result is complete when the call returns,
 * so reading it in place forces nothing more; anything else (a device array) is copied out.
 * Read-only by contract (the benchmark only checks the values).
 */
export function hostView(x: import("../../src/index.js").NDArray): Float32Array | Float64Array {
  const c = x.concrete("bench");
  const s = c.device === "cpu" ? internals.storageOf(c) : c.toTypedArray();
  if (s instanceof Float32Array || s instanceof Float64Array) return s;
  throw new Error(`bench: a ${c.dtype} output where a float one was expected`);
}

/** Where nabla was loaded from, for the report. */
export const nablaSource = dir !== undefined && dir !== "" ? "compiled build (tsc)" : "src/ through tsx";
