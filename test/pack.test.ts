/**
 * The package as a user gets it: `npm pack` on a fresh copy of the repository
 * (the files git would commit, without dist/), installed from the tarball into
 * a new project, imported by name in Node, bundled with esbuild (minified,
 * tree-shaken, named imports) and run in Node and in headless Chromium; and a
 * strict consumer (strict, noUncheckedIndexedAccess,
 * exactOptionalPropertyTypes) that compiles every runnable code block of the
 * README and docs against the installed declarations.
 *
 * Packing builds (the `prepack` script), so this takes some 30 s on two cores.
 * The Chromium part skips, with a message, where no Chromium is installed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import ts from "typescript";
import { CHROMIUM, NO_CHROMIUM, runInChromium } from "./support/chromium.js";
import { extractBlocks, markdownFiles } from "./support/docblocks.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  files: string[];
};

let stage = ""; // temporary directory: clone/, the tarball, consumer/
let tarball = "";
let packed: string[] = []; // paths inside the tarball, without the leading "package/"
let installed = ""; // consumer/node_modules/nabla

function run(cmd: string, args: string[], cwd: string, timeout = 120_000): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", timeout, stdio: "pipe" });
  } catch (e) {
    // the tail of the output only: a failing minified bundle would print itself whole
    const err = e as { stdout?: string; stderr?: string };
    const output = `${err.stdout ?? ""}${err.stderr ?? ""}`.slice(-1500);
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${output}`, { cause: e });
  }
}

beforeAll(() => {
  stage = mkdtempSync(join(tmpdir(), "nabla-pack-"));
  // a fresh clone: the files git tracks or would add (working-tree contents), no dist/, no node_modules/
  const clone = join(stage, "clone");
  mkdirSync(clone);
  const files = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    writeFileSync(join(clone, f), readFileSync(join(ROOT, f)));
  }
  expect(existsSync(join(clone, "dist"))).toBe(false);
  // the build tools only (what `npm ci` would install)
  symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"), "dir");
  const name = run("npm", ["pack", "--silent", "--pack-destination", stage], clone).trim().split("\n").pop()!;
  tarball = join(stage, name);
  packed = run("tar", ["-tzf", tarball], stage)
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.replace(/^package\//, ""));

  // a new project that installs the tarball (no registry needed: the optional peer dependencies are not fetched)
  const consumer = join(stage, "consumer");
  mkdirSync(consumer);
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], consumer);
  installed = join(consumer, "node_modules", "nabla");
}, 240_000);

afterAll(() => {
  if (stage) rmSync(stage, { recursive: true, force: true });
});

describe("npm pack", () => {
  it("builds on prepack: the tarball has dist/ with declarations, LICENSE, README and docs", () => {
    for (const f of ["dist/index.js", "dist/index.d.ts", "dist/fp/index.js", "dist/testing/index.d.ts"])
      expect(packed, f).toContain(f);
    for (const f of ["LICENSE", "README.md", "package.json", "docs/guide.md"]) expect(packed, f).toContain(f);
    expect(readFileSync(join(installed, "LICENSE"), "utf8")).toMatch(
      /^MIT License\n\nCopyright \(c\) 2026 the nabla authors\n/,
    );
    // nothing outside "files" (tests, benchmarks, configuration) ships
    const top = new Set(packed.map((f) => f.split("/")[0]!));
    expect([...top].sort()).toEqual([...PKG.files, "LICENSE", "README.md", "package.json"].sort());
  });

  it("every relative link of the README and docs resolves inside the tarball", () => {
    const broken: string[] = [];
    for (const md of markdownFiles(installed)) {
      // links outside code: fenced blocks and inline code spans removed
      const text = readFileSync(md, "utf8")
        .replace(/^(`{3,}|~{3,})[^]*?^\1\s*$/gm, "")
        .replace(/`[^`\n]*`/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split("#")[0]!;
        if (target === "" || /^[a-z]+:/i.test(target)) continue;
        const path = relative(installed, resolve(dirname(md), target));
        if (!existsSync(join(installed, path))) broken.push(`${relative(installed, md)}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("declares no runtime dependency; fast-check and fp-ts are optional peers", () => {
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(["fast-check", "fp-ts"]);
    for (const k of ["fast-check", "fp-ts"]) expect(pkg.peerDependenciesMeta[k]).toEqual({ optional: true });
    expect(existsSync(join(installed, "..", "fast-check"))).toBe(false);
    expect(existsSync(join(installed, "..", "fp-ts"))).toBe(false);
  });

  it("the declarations contain no `any` type", () => {
    const offending: string[] = [];
    const dts = readdirSync(join(installed, "dist"), { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".d.ts"),
    );
    expect(dts.length).toBeGreaterThan(10);
    for (const f of dts) {
      const text = readFileSync(join(installed, "dist", f), "utf8");
      const sf = ts.createSourceFile(f, text, ts.ScriptTarget.ES2022, true);
      const visit = (n: ts.Node): void => {
        if (n.kind === ts.SyntaxKind.AnyKeyword)
          offending.push(`${f}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}: ${n.parent.getText()}`);
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    expect(offending).toEqual([]);
  });
});

describe("the installed package", () => {
  it("imports by name in Node and computes", () => {
    const out = run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { array, grad, hessian } from "nabla";
         const g = grad((x) => x.mul(x).sum())(array([1, 2, 3]));
         const h = hessian((x) => x.pow(3).sum())(array([1, 2]));
         console.log(JSON.stringify({ g: g.toArray(), h: h.toArray() }));`,
      ],
      join(stage, "consumer"),
    );
    // d/dx Σx² = 2x; the Hessian of Σx³ is diag(6x)
    expect(JSON.parse(out)).toEqual({
      g: [2, 4, 6],
      h: [
        [6, 0],
        [0, 12],
      ],
    });
  });
});

/**
 * A small program with named imports only. f(x) = x·2^k where k is the number
 * of doublings until x ≥ 10: at x = 1.5 three doublings, f = 12 and f' = 8
 * (a whileLoop with a traced condition under jit, differentiated by grad).
 */
const PROGRAM = `
import { array, grad, jit, whileLoop, vmap } from "nabla";
const out = {};
const attempt = (k, f) => {
  try { out[k] = f(); } catch (e) { out[k] = { error: String((e && e.message) || e) }; }
};
attempt("add", () => array([1, 2]).add(1).toArray());
const f = (x) => whileLoop((v) => v.less(10), (v) => v.mul(2), x);
attempt("jitWhile", () => jit(f)(1.5).item());
attempt("gradJitWhile", () => grad(jit(f))(1.5).item());
attempt("vmap", () => vmap((x) => x.mul(x).sum())(array([[1, 2], [3, 4]])).toArray());
const text = "RESULT " + JSON.stringify(out);
if (typeof document === "undefined") console.log(text);
else document.body.textContent = text;
`;

const EXPECTED = { add: [2, 3], jitWhile: 12, gradJitWhile: 8, vmap: [5, 25] };

describe("a tree-shaken, minified esbuild bundle of named imports", () => {
  let bundle = "";
  let inputs: string[] = [];

  beforeAll(async () => {
    const consumer = join(stage, "consumer");
    writeFileSync(join(consumer, "program.js"), PROGRAM);
    const r = await build({
      entryPoints: [join(consumer, "program.js")],
      absWorkingDir: consumer,
      bundle: true,
      minify: true,
      treeShaking: true,
      format: "esm",
      platform: "browser",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    bundle = r.outputFiles[0]!.text;
    inputs = Object.keys(r.metafile.inputs);
    const bytes = Buffer.byteLength(bundle);
    console.log(`bundle of the small program: ${bytes} bytes minified, ${gzipSync(bundle).length} bytes gzipped`);
  });

  it("takes nabla from the installed package and nothing from fast-check or fp-ts", () => {
    expect(inputs.some((f) => f.startsWith("node_modules/nabla/dist/"))).toBe(true);
    expect(inputs.filter((f) => f !== "program.js" && !f.startsWith("node_modules/nabla/dist/"))).toEqual([]);
    expect(bundle).not.toMatch(/fast-check|fp-ts/);
  });

  it("runs in Node with the right numbers", () => {
    writeFileSync(join(stage, "bundle.mjs"), bundle);
    const out = run(process.execPath, [join(stage, "bundle.mjs")], stage);
    const m = /RESULT (\{.*\})/.exec(out);
    expect(m).not.toBeNull();
    expect(JSON.parse(m![1]!)).toEqual(EXPECTED);
  });

  it("a program importing only array still has the NDArray methods", async () => {
    const consumer = join(stage, "consumer");
    writeFileSync(
      join(consumer, "small.js"),
      'import { array } from "nabla";\nconsole.log(JSON.stringify(array([1, 2]).add(1).toArray()));\n',
    );
    const r = await build({
      entryPoints: [join(consumer, "small.js")],
      absWorkingDir: consumer,
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      write: false,
      logLevel: "silent",
    });
    writeFileSync(join(stage, "small.mjs"), r.outputFiles[0]!.text);
    expect(JSON.parse(run(process.execPath, [join(stage, "small.mjs")], stage))).toEqual([2, 3]);
  });

  it.skipIf(CHROMIUM === undefined)(
    "runs in headless Chromium with the right numbers",
    async () => {
      expect(await runInChromium(bundle)).toEqual(EXPECTED);
    },
    120_000,
  );
  if (CHROMIUM === undefined) console.log(`pack test: Chromium part skipped: ${NO_CHROMIUM}`);
});

describe("a strict consumer project", () => {
  it("compiles every runnable code block of README.md and docs/*.md against the installed declarations", () => {
    const consumer = join(stage, "consumer");
    // the optional peer dependencies, as a user of nabla/fp and nabla/testing installs them
    for (const dep of ["fast-check", "fp-ts"])
      symlinkSync(join(ROOT, "node_modules", dep), join(consumer, "node_modules", dep), "dir");
    // Node's own types, as a Node user of nabla/io (saveFile, loadFile) has them
    mkdirSync(join(consumer, "node_modules", "@types"), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", "@types", "node"), join(consumer, "node_modules", "@types", "node"), "dir");
    const dir = join(consumer, "blocks");
    mkdirSync(dir);
    const files: { file: string; where: string; prelude: number }[] = [];
    for (const md of markdownFiles(ROOT))
      for (const b of extractBlocks(ROOT, md).runnable) {
        const prelude = /from\s+["']nabla(\/[\w-]+)?["']/.test(b.code) ? [] : ['import * as nb from "nabla";'];
        const file = join(dir, `block${files.length}.ts`);
        // each block is a module (export {} makes a block without imports one too)
        writeFileSync(file, [...prelude, b.code, "export {};"].join("\n"));
        files.push({ file, where: `${b.doc}:${b.line}`, prelude: prelude.length });
      }
    expect(files.length).toBeGreaterThan(10);
    const program = ts.createProgram(
      files.map((f) => f.file),
      {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: false,
        types: ["node"],
      },
    );
    const messages = ts.getPreEmitDiagnostics(program).map((d) => {
      const f = files.find((x) => x.file === d.file?.fileName);
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
      const where = f
        ? `${f.where.replace(/:\d+$/, "")}:${Number(f.where.split(":").pop()) + line - f.prelude}`
        : (d.file?.fileName ?? "");
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
    expect(messages).toEqual([]);
    // the declarations came from the installed package
    const used = program.getSourceFiles().map((s) => s.fileName);
    expect(used.some((f) => f.includes("/consumer/node_modules/nabla/dist/index.d.ts"))).toBe(true);
  });
});
