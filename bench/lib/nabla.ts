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

/** Where nabla was loaded from, for the report. */
export const nablaSource = dir !== undefined && dir !== "" ? "compiled build (tsc)" : "src/ through tsx";
