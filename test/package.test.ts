/**
 * The built package: `npm run build` emits dist/ with declarations, and the
 * `exports` map serves "nabla", "nabla/fp" and "nabla/testing" to plain
 * `node` (ESM) and to TypeScript consumers. The "." entry must not reach a
 * Node-only module (it is meant for browsers too).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const HAS_TESTING = existsSync(join(ROOT, "src", "testing", "index.ts"));
const HAS_FP = existsSync(join(ROOT, "src", "fp", "index.ts"));
const HAS_IO = existsSync(join(ROOT, "src", "io", "index.ts"));
const HAS_OPTIM = existsSync(join(ROOT, "src", "optim", "index.ts"));
const HAS_NN = existsSync(join(ROOT, "src", "nn", "index.ts"));

/** Runs an ES module snippet in a child `node` whose cwd is the repository root; returns its stdout. */
function runNode(code: string, cwd = ROOT): string {
  return execFileSync(process.execPath, ["--input-type=module", "-e", code], {
    cwd,
    encoding: "utf8",
    timeout: 20_000,
  });
}

beforeAll(() => {
  try {
    execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "pipe", timeout: 90_000 });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
    const output = `${err.stdout?.toString() ?? ""}${err.stderr?.toString() ?? ""}`;
    throw new Error(`npm run build failed:\n${output}${err.message}`, { cause: e });
  }
});

describe("npm run build", () => {
  it("emits JavaScript and declarations for every entry point", () => {
    for (const f of ["index.js", "index.d.ts"]) expect(existsSync(join(DIST, f)), f).toBe(true);
    if (HAS_TESTING)
      for (const f of ["index.js", "index.d.ts"]) expect(existsSync(join(DIST, "testing", f))).toBe(true);
    if (HAS_FP) for (const f of ["index.js", "index.d.ts"]) expect(existsSync(join(DIST, "fp", f))).toBe(true);
    if (HAS_IO)
      for (const f of ["index.js", "index.d.ts", "index.browser.js"])
        expect(existsSync(join(DIST, "io", f))).toBe(true);
    for (const [dir, has] of [
      ["optim", HAS_OPTIM],
      ["nn", HAS_NN],
    ] as const)
      if (has)
        for (const f of ["index.js", "index.d.ts"]) expect(existsSync(join(DIST, dir, f)), `${dir}/${f}`).toBe(true);
  });

  it("package.json exports point at the built files", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.name).toBe("nabla");
    expect(pkg.type).toBe("module");
    const entries: [string, boolean][] = [
      [".", true],
      ["./testing", HAS_TESTING],
      ["./fp", HAS_FP],
      ["./io", HAS_IO],
      ["./optim", HAS_OPTIM],
      ["./nn", HAS_NN],
    ];
    for (const [key, built] of entries) {
      const e = pkg.exports[key];
      expect(e, key).toBeDefined();
      if (!built) continue;
      expect(existsSync(join(ROOT, e.import)), `${key} import`).toBe(true);
      expect(existsSync(join(ROOT, e.types)), `${key} types`).toBe(true);
      if (e.browser !== undefined) expect(existsSync(join(ROOT, e.browser)), `${key} browser`).toBe(true);
    }
  });

  it('the "." entry reaches no Node-only module', () => {
    const { seen, offending } = nodeModulesReachedFrom(join(DIST, "index.js"));
    expect(seen).toBeGreaterThan(5);
    expect(offending).toEqual([]);
  });

  it.runIf(HAS_IO)(
    'the "browser" build of "nabla/io" reaches no Node-only module; the Node build reaches node:fs',
    () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
      const browser = nodeModulesReachedFrom(join(ROOT, pkg.exports["./io"].browser));
      expect(browser.seen).toBeGreaterThan(5);
      expect(browser.offending).toEqual([]);
      const node = nodeModulesReachedFrom(join(ROOT, pkg.exports["./io"].import));
      // (the walk also sees the imports in node.js's JSDoc examples; all of them are in that one file)
      expect(node.offending).toContain(`${join(DIST, "io", "node.js")}: node:fs`);
      expect(node.offending.filter((o) => !o.startsWith(`${join(DIST, "io", "node.js")}: `))).toEqual([]);
    },
  );

  it.runIf(HAS_IO)(
    'a browser bundle of "nabla/io" resolves the "browser" condition and contains no node:fs',
    async () => {
      const { build } = await import("esbuild");
      const dir = mkdtempSync(join(tmpdir(), "nabla-io-bundle-"));
      try {
        mkdirSync(join(dir, "node_modules"));
        symlinkSync(ROOT, join(dir, "node_modules", "nabla"), "dir");
        writeFileSync(
          join(dir, "app.js"),
          'import { saveSafetensors, saveFile } from "nabla/io";\nexport { saveSafetensors, saveFile };\n',
        );
        const bundle = async (platform: "browser" | "node") => {
          const r = await build({
            entryPoints: [join(dir, "app.js")],
            bundle: true,
            platform,
            format: "esm",
            write: false,
            metafile: true,
            logLevel: "silent",
            absWorkingDir: dir,
          });
          return Object.keys(r.metafile.inputs);
        };
        const browser = await bundle("browser");
        expect(browser.some((f) => f.endsWith("dist/io/index.browser.js"))).toBe(true);
        expect(browser.filter((f) => f.startsWith("node:") || f.endsWith("dist/io/node.js"))).toEqual([]);
        const node = await bundle("node");
        expect(node.some((f) => f.endsWith("dist/io/node.js"))).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

/** The Node built-in modules that the ES module graph from `entry` imports (and how many files it has). */
function nodeModulesReachedFrom(entry: string): { seen: number; offending: string[] } {
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const seen = new Set<string>();
  const offending: string[] = [];
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(
      /(?:import|export)\s[^"']*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/g,
    )) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith(".")) stack.push(resolve(dirname(file), spec));
      else if (builtins.has(spec) || spec.startsWith("node:")) offending.push(`${file}: ${spec}`);
    }
  }
  return { seen: seen.size, offending };
}

describe("the built package under plain node", () => {
  it('import * as nb from "nabla" resolves through exports and computes a gradient', () => {
    const xs = [0.3, -1.2, 2.5];
    const out = runNode(`
      import * as nb from "nabla";
      const f = (x) => nb.sum(nb.mul(nb.sin(x), x));
      const g = nb.grad(f)(nb.array(${JSON.stringify(xs)}));
      const h = nb.grad(nb.grad(nb.grad(nb.sin)))(0.5);
      console.log(JSON.stringify({ g: g.toArray(), h: h.item(), dtype: g.dtype, err: new nb.ShapeError("x") instanceof nb.NablaError }));
    `);
    const r = JSON.parse(out);
    expect(r.dtype).toBe("float64");
    expect(r.err).toBe(true);
    // d/dx [x sin x] = sin x + x cos x;  d³/dx³ sin x = -cos x
    r.g.forEach((v: number, i: number) => expect(v).toBeCloseTo(Math.sin(xs[i]!) + xs[i]! * Math.cos(xs[i]!), 13));
    expect(r.h).toBeCloseTo(-Math.cos(0.5), 13);
  });

  it.runIf(HAS_FP)('"nabla/fp" shares the error classes of "nabla"', () => {
    const out = runNode(`
      import * as nb from "nabla";
      import * as nbf from "nabla/fp";
      const ok = nbf.gradE((x) => nb.mul(x, x))(3);
      const bad = nbf.gradE((x) => x)(nb.array([1, 2]));
      console.log(JSON.stringify({ ok: ok._tag, value: ok.right.item(), bad: bad._tag, isGradError: bad.left instanceof nb.GradError }));
    `);
    expect(JSON.parse(out)).toEqual({ ok: "Right", value: 6, bad: "Left", isGradError: true });
  });

  it.runIf(HAS_TESTING)('"nabla/testing" runs checkGrads and numericalJvp', () => {
    const out = runNode(`
      import * as nb from "nabla";
      import { checkGrads, numericalJvp } from "nabla/testing";
      checkGrads((x) => nb.sum(nb.tanh(x)), [nb.array([0.1, 0.5])], { order: 2 });
      const t = numericalJvp((x) => nb.sin(x), [nb.array(0.5)], [nb.array(1)]);
      const leaf = Array.isArray(t) ? t[0] : t;
      console.log(JSON.stringify({ t: leaf.item() }));
    `);
    expect(JSON.parse(out).t).toBeCloseTo(Math.cos(0.5), 8);
  });
  it.runIf(HAS_IO)('"nabla/io" writes and reads a file with the error classes of "nabla"', () => {
    const out = runNode(`
      import * as nb from "nabla";
      import { saveFile, loadFile, loadSafetensors } from "nabla/io";
      import { mkdtempSync, rmSync } from "node:fs";
      import { tmpdir } from "node:os";
      import { join } from "node:path";
      const dir = mkdtempSync(join(tmpdir(), "nabla-io-pkg-"));
      try {
        saveFile(join(dir, "p.safetensors"), { layers: [{ w: nb.array([[1, 2]], { dtype: "float32" }) }] });
        const back = loadFile(join(dir, "p.safetensors"));
        let bad = null;
        try { loadSafetensors(new Uint8Array(3)); } catch (e) { bad = e instanceof nb.NablaError; }
        const w = back.layers[0].w;
        console.log(JSON.stringify({ w: w.toArray(), dtype: w.dtype, isArray: w instanceof nb.NDArray, bad }));
      } finally { rmSync(dir, { recursive: true, force: true }); }
    `);
    expect(JSON.parse(out)).toEqual({ w: [[1, 2]], dtype: "float32", isArray: true, bad: true });
  });

  it.runIf(HAS_OPTIM && HAS_NN)('"nabla/optim" and "nabla/nn" train a step under jit', () => {
    const out = runNode(`
      import * as nb from "nabla";
      import * as optim from "nabla/optim";
      import * as nn from "nabla/nn";
      const opt = optim.sgd(0.5);
      const loss = (w) => nn.mse(w, nb.array([1, 2]));
      const step = nb.jit((w, s) => {
        const [u, s2] = opt.update(nb.grad(loss)(w), s);
        return [optim.applyUpdates(w, u), s2];
      });
      const [w, s] = step(nb.zeros([2]), opt.init(nb.zeros([2])));
      console.log(JSON.stringify({ w: w.toArray(), count: s.count.item(), relu: nn.leakyRelu(-2, 0.5).item() }));
    `);
    // mse gradient at w = 0: 2(w − t)/2 = −t, so one step of lr 0.5 gives w = t/2
    expect(JSON.parse(out)).toEqual({ w: [0.5, 1], count: 1, relu: -1 });
  });
});

describe("the built declarations", () => {
  it("type-check a consumer project that depends on nabla", () => {
    // A separate project whose node_modules/nabla links to this repository, as after `npm install nabla`.
    const dir = mkdtempSync(join(tmpdir(), "nabla-consumer-"));
    try {
      mkdirSync(join(dir, "node_modules"));
      symlinkSync(ROOT, join(dir, "node_modules", "nabla"), "dir");
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
      const lines = [
        'import * as nb from "nabla";',
        "const f = (x: nb.NDArray): nb.NDArray => nb.sum(nb.mul(x, x));",
        "const g: nb.NDArray = nb.grad(f)(nb.array([1, 2]));",
        "const d: nb.DType = g.dtype;",
        "const s: readonly number[] = g.shape;",
        "export const out: [nb.DType, readonly number[]] = [d, s];",
        "// @ts-expect-error: nb.array does not accept strings",
        'nb.array("x");',
      ];
      if (HAS_FP) lines.push('import * as nbf from "nabla/fp";', "export const r = nbf.arrayE([1, 2]);");
      if (HAS_TESTING)
        lines.push('import * as nbt from "nabla/testing";', "export const c: void = nbt.checkGrads(f, [1]);");
      if (HAS_IO)
        lines.push(
          'import * as nbio from "nabla/io";',
          "export const bytes: Uint8Array = nbio.saveSafetensors({ w: g });",
          "export const tree: nbio.SafetensorsTree = nbio.loadSafetensors(bytes);",
          "export const save: (path: string, tree: unknown) => void = nbio.saveFile;",
        );
      if (HAS_OPTIM)
        lines.push(
          'import * as optim from "nabla/optim";',
          "const st: optim.AdamState<{ w: nb.NDArray }> = optim.adam(1e-3).init({ w: nb.zeros([2]) });",
          "export const mu: nb.NDArray = st.mu.w;",
        );
      if (HAS_NN) lines.push('import * as nn from "nabla/nn";', "export const h: nb.NDArray = nn.gelu([1, 2]);");
      const file = join(dir, "consumer.ts");
      writeFileSync(file, lines.join("\n") + "\n");
      const program = ts.createProgram([file], {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
      });
      const diags = ts
        .getPreEmitDiagnostics(program)
        .map((d) => `${d.file ? d.file.fileName : ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      expect(diags).toEqual([]);
      // the declarations came from dist/, not from the sources
      const used = program.getSourceFiles().map((s) => s.fileName);
      expect(used.some((f) => /dist\/index\.d\.ts$/.test(f))).toBe(true);
      expect(used.some((f) => /\/src\/.*\.ts$/.test(f) && !f.endsWith(".d.ts"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // a whole TypeScript program over the built declarations: ~30 s alone on the 2-core machine, more under load
  }, 180_000);
});
