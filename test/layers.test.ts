/**
 * The folders of src/ form an acyclic stack; each imports only from itself
 * and from below. Layer order, bottom to top:
 *
 *   0 core        dtype, shape, errors, NDArray, pytrees, tracing, Graph IR
 *   1 kernels     raw loops over typed arrays
 *   2 prims       the primitive rows, their table, the internal wrappers
 *   3 ops         the public NumPy-like operations (and the NDArray methods)
 *   3 device      device runtimes (webgpu) and the public device functions
 *   4 transforms  jvp, vjp, vmap, jit, control flow, custom rules
 *   6 entries     src/index.ts ("."), and the sub-path entries built on it:
 *                 testing, fp, nn, optim, io, export ("nabla/NAME"; they import
 *                 the "." entry, which never imports them)
 *
 * Every `import`/`export ... from`, bare `import "..."`, `import("...")` and
 * `declare module "..."` counts, type-only ones included: a type-only import
 * from a higher layer still makes the lower layer's meaning depend on the
 * higher one, and `tsc` must see both to check either.
 *
 * Folders of one rank may import each other only without forming a cycle
 * between folders (cycles between files of one folder are allowed, as long
 * as nothing runs at load time; that is the folder's own business).
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../src");
const ROOT = "(root)";

const RANK: Record<string, number> = {
  core: 0,
  kernels: 1,
  prims: 2,
  ops: 3,
  device: 3,
  transforms: 4,
  nn: 6,
  optim: 6,
  io: 6,
  export: 6,
  testing: 6,
  fp: 6,
  [ROOT]: 6,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.ts$/.test(name) && !/\.d\.ts$/.test(name) ? [p] : [];
  });
}

/** Every module specifier a file refers to. */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^;'"]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\bdeclare\s+module\s+["']([^"']+)["']/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]!);
  return out;
}

/** The folder of src/ a path lies in (ROOT for files directly in src/), or null outside src/. */
function folderOf(path: string): string | null {
  const rel = relative(SRC, path);
  if (rel.startsWith("..")) return null;
  const parts = rel.split(sep);
  return parts.length === 1 ? ROOT : parts[0]!;
}

interface Edge {
  from: string;
  to: string;
  file: string;
  spec: string;
}

/** Import edges between different folders of src/. */
function folderEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file)!;
    for (const spec of specifiers(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const to = folderOf(resolve(dirname(file), spec));
      if (to === null) throw new Error(`${relative(SRC, file)} imports ${spec}, outside src/`);
      if (to !== from) edges.push({ from, to, file: relative(SRC, file), spec });
    }
  }
  return edges;
}

/** Violations of the layer order: unknown folders, imports from above, and cycles between folders. */
export function violations(edges: readonly Edge[], rank: Record<string, number>): string[] {
  const out: string[] = [];
  const folders = new Set(edges.flatMap((e) => [e.from, e.to]));
  for (const f of folders) if (rank[f] === undefined) out.push(`folder ${f} has no place in the layer order`);
  for (const e of edges) {
    const a = rank[e.from];
    const b = rank[e.to];
    if (a !== undefined && b !== undefined && b > a)
      out.push(`${e.file} (${e.from}, layer ${a}) imports ${e.spec} (${e.to}, layer ${b}) from above`);
  }
  // cycles in the folder graph (depth-first search, reporting each back edge's cycle)
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, new Set());
    next.get(e.from)!.add(e.to);
  }
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, "open");
    path.push(f);
    for (const g of next.get(f) ?? []) {
      if (state.get(g) === "open")
        out.push(`import cycle between folders: ${[...path.slice(path.indexOf(g)), g].join(" -> ")}`);
      else if (state.get(g) === undefined) visit(g);
    }
    path.pop();
    state.set(f, "done");
  };
  for (const f of [...folders].sort()) if (state.get(f) === undefined) visit(f);
  return out;
}

describe("layers", () => {
  it("finds the imports of every form", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type { B } from "../b.js";',
      "import {\n  c,\n  d,\n} from './c.js';",
      'export { e } from "./e.js";',
      'export * as f from "./f.js";',
      'import "./side.js";',
      'type G = typeof import("./g.js");',
      'declare module "../h.js" {}',
    ].join("\n");
    expect(specifiers(text).sort()).toEqual(
      ["./a.js", "../b.js", "./c.js", "./e.js", "./f.js", "./side.js", "./g.js", "../h.js"].sort(),
    );
  });

  it("detects imports from above and cycles (the checker itself)", () => {
    const e = (from: string, to: string): Edge => ({ from, to, file: `${from}/x.ts`, spec: `../${to}/y.js` });
    expect(violations([e("ops", "prims"), e("prims", "core")], RANK)).toEqual([]);
    expect(violations([e("core", "ops")], RANK)).toEqual([
      "core/x.ts (core, layer 0) imports ../ops/y.js (ops, layer 3) from above",
    ]);
    expect(violations([e("nn", "optim"), e("optim", "nn")], RANK)).toEqual([
      "import cycle between folders: nn -> optim -> nn",
    ]);
    expect(violations([e("gizmos", "core")], RANK)).toEqual(["folder gizmos has no place in the layer order"]);
  });

  it("src/ folders import only from their own layer or below, without cycles", () => {
    const edges = folderEdges();
    expect(edges.length).toBeGreaterThan(20);
    expect(violations(edges, RANK)).toEqual([]);
  });

  it("the one module with a load-time side effect is ops/methods.ts, and package.json says so", () => {
    // a module may lock down the prototype of a class it declares itself (ndarray.ts makes `data`
    // non-writable): that is part of the class, kept whenever the class is; patching another
    // module's class at load is what a bundler would drop
    const patchesForeign = (text: string): boolean =>
      [
        ...text.matchAll(/(?:(?:defineProperty|assign)\(\s*(\w+)\.prototype\b|(\w+)\.prototype(?:\.\w+)?\s*=[^=])/g),
      ].some((m) => !new RegExp(`\\bclass ${m[1] ?? m[2]}\\b`).test(text));
    const patching = sourceFiles(SRC)
      .filter((f) => patchesForeign(readFileSync(f, "utf8")))
      .map((f) => relative(SRC, f).split(sep).join("/"));
    expect(patching).toEqual(["ops/methods.ts"]);
    const pkg = JSON.parse(readFileSync(resolve(SRC, "../package.json"), "utf8")) as { sideEffects: unknown };
    expect(pkg.sideEffects).toEqual(["./src/ops/methods.ts", "./dist/ops/methods.js"]);
  });

  it("a minified, tree-shaken bundle of named imports keeps the NDArray methods and the staged loop's rules", async () => {
    // the bundler drops every module of src/ not reached through used exports, except the ones
    // package.json's "sideEffects" lists; this is what a user's bundle of `import { array } from "nabla"` sees
    const entry = [
      `import { array, grad, jit, whileLoop, less, mul } from ${JSON.stringify(join(SRC, "index.ts"))};`,
      "const f = jit((v) => whileLoop((s) => less(s, 100), (s) => mul(s, v), v));",
      "export const added = array([1, 2]).add(1).toArray();",
      "export const transposed = array([[1, 2]]).T.shape;",
      "export const slope = grad(f)(array(3)).item();",
    ].join("\n");
    const out = await build({
      stdin: { contents: entry, resolveDir: SRC, loader: "ts" },
      bundle: true,
      minify: true,
      treeShaking: true,
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    const code = out.outputFiles[0]!.text;
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)) as {
      added: number[];
      transposed: number[];
      slope: number;
    };
    expect(mod.added).toEqual([2, 3]);
    expect(mod.transposed).toEqual([2, 1]);
    // s = v^5 when the loop stops at v = 3 (3, 9, 27, 81, 243): d/dv v^5 = 5 v^4 = 405
    expect(mod.slope).toBe(405);
  });
});
