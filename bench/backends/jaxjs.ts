/**
 * jax-js 0.1.25 on its wasm device (single-threaded on Node), eager and jit,
 * float32 and float64. jax-js arrays are consumed by every operation, so the
 * programs (jaxjsWorkloads.ts) pass `.ref` wherever a value is used again, and the
 * runners pass references of the inputs, which they keep until `dispose`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type * as JaxModule from "@jax-js/jax";
import type { Array as JArray } from "@jax-js/jax";
import { type Workload, convertInputs } from "../workloads.js";
import { jaxProgram } from "./jaxjsWorkloads.js";
import { type Backend, type FloatDType, type HostOutputs, type Mode, type Runner, Unsupported } from "./types.js";

type Jax = typeof JaxModule;

/** The installed version, read from the package's package.json (not in its exports map). */
function packageVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("@jax-js/jax");
    const pkg = join(entry.slice(0, entry.lastIndexOf("node_modules")), "node_modules/@jax-js/jax/package.json");
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * Imports and initialises jax-js on the wasm device. Node 20 has no Float16Array, which jax-js
 * names when handling float64 data; a placeholder class (never matched by our data) stands in.
 */
export async function loadJax(): Promise<{ jax: Jax; version: string } | { error: string }> {
  try {
    const g = globalThis as { Float16Array?: unknown };
    if (g.Float16Array === undefined) g.Float16Array = class Float16Placeholder extends Uint16Array {};
    const jax = (await import("@jax-js/jax")) as Jax;
    await jax.init("cpu", "wasm");
    jax.defaultDevice("wasm");
    return { jax, version: `${packageVersion()} (wasm device, 1 thread)` };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function prepare(jax: Jax, w: Workload, dtype: FloatDType, mode: Mode): Runner | Unsupported {
  const np = jax.numpy;
  const dt = dtype === "float32" ? np.float32 : np.float64;
  const { input: I, all: inputs } = convertInputs(w, (h) => {
    const data = dtype === "float32" ? Float32Array.from(h.data) : Float64Array.from(h.data);
    return np.array(data, { shape: [...h.shape], dtype: dt });
  });
  const p = jaxProgram(jax, w, I);
  if (p instanceof Unsupported) {
    for (const a of inputs) a.dispose();
    return p;
  }
  // with `jit`, f is compiled by jax.jit once and reused
  const g: (...a: any[]) => JArray[] = mode === "jit" ? (jax.jit(p.f as any) as any) : p.f;
  return {
    // dataSync() consumes each output.
    run: (): HostOutputs => g(...p.args()).map((o) => o.dataSync() as Float32Array | Float64Array),
    dispose: () => {
      if (mode === "jit") (g as unknown as { dispose(): void }).dispose();
      for (const a of inputs) a.dispose();
    },
    ...(p.note !== undefined ? { note: p.note } : {}),
  };
}

export function jaxBackend(jax: Jax): Backend {
  return {
    name: "jax-js",
    dtypes: ["float32", "float64"],
    modes: ["eager", "jit"],
    prepare: (w, dtype, mode) => prepare(jax, w, dtype, mode),
  };
}
