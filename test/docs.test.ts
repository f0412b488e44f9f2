/**
 * Keeps the documentation true: every runnable TypeScript block of README.md
 * and docs/*.md is type-checked and executed against the sources.
 *
 * Conventions for documentation authors:
 *
 * - A fenced block tagged ```ts (or ```typescript) is runnable; tag it
 *   ```ts no-run to show code that is not executed (sketches, APIs that do
 *   not exist yet, code that needs a missing file).
 * - Each runnable block is a self-contained module. `import ... from "nabla"`
 *   (also "nabla/fp", "nabla/testing") resolves to the sources in src/; a
 *   block that does not import "nabla" itself gets
 *   `import * as nb from "nabla";` prepended.
 * - `console.log(...); // => text` on one line asserts that the call would
 *   print `text` (console.log's formatting; whitespace is ignored).
 * - `statement; // throws ErrorName` on one line asserts that the statement
 *   throws an error whose `name` is ErrorName (e.g. ShapeError).
 *
 * The README's "Status" section is checked too: every name it lists as
 * implemented exists, and every name it lists as not implemented yet does
 * not (so the section is updated when a feature lands).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import * as nb from "../src/index.js";
import { Block, extractBlocks, markdownFiles } from "./support/docblocks.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Inside the repository (so node_modules resolution works) but ignored by git, lint and prettier;
// one directory per process, so concurrent test runs in one checkout do not collide.
const OUT = join(ROOT, "node_modules", ".cache", `nabla-docs-test-${process.pid}`);

const SPECIFIERS: Record<string, string> = {
  nabla: "src/index.ts",
  "nabla/fp": "src/fp/index.ts",
  "nabla/testing": "src/testing/index.ts",
  "nabla/io": "src/io/index.ts",
  "nabla/optim": "src/optim/index.ts",
  "nabla/nn": "src/nn/index.ts",
  "nabla/export": "src/export/index.ts",
};

/** Net count of "(" minus ")" outside string literals and line comments. */
function parenBalance(line: string): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "/" && line[i + 1] === "/") break;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
  }
  return depth;
}

const EXPECT = /\s*\/\/ =>\s?(.*)$/;
const THROWS = /^(\s*)(.*?);?\s*\/\/ throws\s+(\w+)\s*$/;

/**
 * Turns a block into a module: import rewriting, the implicit prelude, and
 * the `// =>` / `// throws` checks. Line numbers are preserved (after the
 * prelude), so diagnostics map back to the markdown.
 */
function toModule(b: Block, outFile: string): { text: string; prelude: number } {
  const rel = (target: string) => {
    const r = relative(dirname(outFile), join(ROOT, target)).replace(/\\/g, "/");
    return r.startsWith(".") ? r : `./${r}`;
  };
  const helpers = rel(relative(ROOT, join(OUT, "_doctest.ts")));
  const importsNabla = /from\s+["']nabla(\/[\w-]+)?["']/.test(b.code);
  const head = [`import { __expect, __throws } from "${helpers}";`];
  if (!importsNabla) head.push(`import * as nb from "${rel(SPECIFIERS.nabla!)}";`);
  const at = (k: number) => `${b.doc}:${b.line + k}`;
  const lines = b.code.split("\n").map((line, k) =>
    line.replace(/(from\s+|import\s*\(\s*)(["'])(nabla(?:\/[\w-]+)?)\2/g, (_m, pre: string, _q, spec: string) => {
      const target = SPECIFIERS[spec];
      if (target === undefined) throw new Error(`${at(k)}: unknown import specifier "${spec}"`);
      return `${pre}"${rel(target)}"`;
    }),
  );
  // console.log(...) statements, possibly spanning lines (as Prettier breaks long ones)
  const handled = new Set<number>();
  for (let k = 0; k < lines.length; k++) {
    const open = /^(\s*)console\.log\(/.exec(lines[k]!);
    if (!open) continue;
    let depth = 0;
    let end = k;
    for (; end < lines.length; end++) {
      depth += parenBalance(lines[end]!);
      if (depth <= 0) break;
    }
    if (end === lines.length) throw new Error(`${at(k)}: unterminated console.log(`);
    const m = EXPECT.exec(lines[end]!);
    if (m === null) continue;
    const last = lines[end]!.slice(0, m.index);
    if (!/\);$/.test(last)) throw new Error(`${at(end)}: "// =>" must follow a console.log(...); statement`);
    lines[k] = lines[k]!.replace(/console\.log\(/, `__expect(${JSON.stringify(at(end))}, ${JSON.stringify(m[1])}, `);
    lines[end] = (end === k ? lines[k]! : last).replace(EXPECT, "");
    for (let j = k; j <= end; j++) handled.add(j);
    k = end;
  }
  lines.forEach((line, k) => {
    if (line.includes("// =>") && !handled.has(k))
      throw new Error(`${at(k)}: "// =>" must follow a console.log(...); statement`);
    if (line.includes("// throws")) {
      const m = THROWS.exec(line);
      if (m === null || parenBalance(m[2]!) !== 0)
        throw new Error(`${at(k)}: "// throws" must follow a statement on one line`);
      lines[k] = `${m[1]}__throws(${JSON.stringify(at(k))}, ${JSON.stringify(m[3])}, () => { ${m[2]}; });`;
    }
  });
  return { text: [...head, ...lines].join("\n") + "\n", prelude: head.length };
}

const HELPERS = `import { format } from "node:util";
const squash = (s: string): string => s.replace(/\\s+/g, "");
/** Asserts that console.log(...args) would print \`expected\` (ignoring whitespace). */
export function __expect(at: string, expected: string, ...args: unknown[]): void {
  const got = format(...args);
  if (squash(got) !== squash(expected))
    throw new Error(\`\${at}: console.log printed\\n  \${got}\\nbut the documentation says\\n  \${expected}\`);
}
/** Asserts that \`f\` throws an error named \`name\`. */
export function __throws(at: string, name: string, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    const got = e instanceof Error ? e.name : typeof e;
    if (got !== name) throw new Error(\`\${at}: expected \${name}, but \${got} was thrown: \${String(e)}\`);
    return;
  }
  throw new Error(\`\${at}: expected \${name} to be thrown, but nothing was thrown\`);
}
`;

interface Prepared {
  block: Block;
  file: string;
  prelude: number;
}

const prepared: Prepared[] = [];

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "_doctest.ts"), HELPERS);
  for (const md of markdownFiles(ROOT)) {
    const { runnable } = extractBlocks(ROOT, md);
    runnable.forEach((block, k) => {
      const name = `${block.doc.replace(/[^\w]+/g, "_")}_${String(k).padStart(2, "0")}_L${block.line}.ts`;
      const file = join(OUT, name);
      const { text, prelude } = toModule(block, file);
      writeFileSync(file, text);
      prepared.push({ block, file, prelude });
    });
  }
});

afterAll(() => {
  rmSync(OUT, { recursive: true, force: true });
});

describe("documentation code blocks", () => {
  it("README.md and docs/guide.md have runnable blocks", () => {
    const docs = new Set(prepared.map((p) => p.block.doc));
    expect(docs.has("README.md")).toBe(true);
    expect(docs.has(join("docs", "guide.md"))).toBe(true);
    expect(prepared.length).toBeGreaterThan(10);
  });

  it("type-check under the project's compiler options", () => {
    const cfgPath = join(ROOT, "tsconfig.json");
    const cfg = ts.readConfigFile(cfgPath, (p) => ts.sys.readFile(p));
    const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, ROOT);
    const program = ts.createProgram(
      prepared.map((p) => p.file),
      { ...parsed.options, noEmit: true, allowImportingTsExtensions: true, noUnusedLocals: false },
    );
    const messages: string[] = [];
    // Only the blocks' own diagnostics: the sources are type-checked by `npm run typecheck`.
    for (const p of prepared) {
      const sf = program.getSourceFile(p.file);
      if (sf === undefined) throw new Error(`${p.file} was not loaded`);
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        const { line } = sf.getLineAndCharacterOfPosition(d.start ?? 0);
        const mdLine = p.block.line + line - p.prelude;
        messages.push(`${p.block.doc}:${mdLine}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      }
    }
    expect(messages).toEqual([]);
  });

  it("run, and print what the documentation says they print", async () => {
    const failures: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      for (const p of prepared) {
        try {
          await import(pathToFileURL(p.file).href);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          failures.push(msg.startsWith(`${p.block.doc}:`) ? msg : `${p.block.doc}:${p.block.line}: ${msg}`);
        }
      }
    } finally {
      log.mockRestore();
    }
    expect(failures).toEqual([]);
  });
});

describe("doctest conventions", () => {
  it("the // => check rejects a wrong expectation and accepts whitespace differences", async () => {
    const file = join(OUT, "_self_check.ts");
    const block: Block = {
      doc: "self-check.md",
      line: 1,
      code: "console.log(nb.array([1, 2])); // => array([1.,    2.])\nconsole.log(nb.add(1, 1)); // => array(3.)",
    };
    writeFileSync(file, toModule(block, file).text);
    await expect(import(pathToFileURL(file).href)).rejects.toThrow(/self-check\.md:2: console\.log printed/);
  });

  it("the // throws check requires the named error", async () => {
    const file = join(OUT, "_self_check_throws.ts");
    const block: Block = {
      doc: "self-check.md",
      line: 10,
      code: "nb.add(nb.zeros([2]), nb.zeros([3])); // throws ShapeError\nnb.add(1, 2); // throws ShapeError",
    };
    writeFileSync(file, toModule(block, file).text);
    await expect(import(pathToFileURL(file).href)).rejects.toThrow(
      /self-check\.md:11: expected ShapeError to be thrown/,
    );
  });

  it("checks console.log statements that span lines", async () => {
    const file = join(OUT, "_self_check_multi.ts");
    const code = ["console.log(", "  nb.add(1, 1),", "  nb.array([1, 2]),", "); // => array(2.) array([1., 2.])"];
    const good: Block = { doc: "self-check.md", line: 1, code: code.join("\n") };
    writeFileSync(file, toModule(good, file).text);
    await expect(import(pathToFileURL(file).href)).resolves.toBeDefined();
    const file2 = join(OUT, "_self_check_multi2.ts");
    const bad: Block = { doc: "self-check.md", line: 1, code: code.join("\n").replace("array(2.)", "array(3.)") };
    writeFileSync(file2, toModule(bad, file2).text);
    await expect(import(pathToFileURL(file2).href)).rejects.toThrow(/self-check\.md:4: console\.log printed/);
  });

  it("a // => or // throws marker where it cannot be checked is an error, not silently skipped", () => {
    const misplaced = ["const y = nb.exp(0); // => array(1.)", "nb.add(\n  1,\n  2,\n); // throws ShapeError"];
    for (const code of misplaced) {
      const block: Block = { doc: "x.md", line: 1, code };
      expect(() => toModule(block, join(OUT, "_unused.ts"))).toThrow(/must follow/);
    }
  });
});

// ---------------------------------------------------------------------------
// The README's status section

/** Names in backticks on the README line that starts with `label`. */
function statusNames(label: string, firstSentence = false): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  let line = readme.split("\n").find((l) => l.startsWith(label));
  if (line === undefined) throw new Error(`README.md has no line starting with "${label}"`);
  if (firstSentence) line = line.slice(0, line.indexOf(". ") === -1 ? undefined : line.indexOf(". "));
  return [...line.matchAll(/`([\w.]+)`/g)].map((m) => m[1]!);
}

function lookup(name: string): unknown {
  return name.split(".").reduce<unknown>((o, k) => (o == null ? undefined : (o as Record<string, unknown>)[k]), nb);
}

describe("README status", () => {
  it("every transform and function listed as implemented exists", () => {
    const names = statusNames("**Implemented:**");
    expect(names.length).toBeGreaterThan(10);
    const missing = names.filter((n) => lookup(n) === undefined);
    expect(missing).toEqual([]);
  });

  it("every name listed as not implemented yet is absent (update README.md when it lands)", () => {
    // Backticked names before the first full stop; the rest of the line may discuss limits.
    const names = statusNames("**Not yet implemented:**", true);
    const present = names.filter((n) => lookup(n) !== undefined);
    expect(present).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// The demo (`npm run demo`, the README's first command)

describe("examples/demo.ts", () => {
  let output = "";
  beforeAll(() => {
    const tsx = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
    output = execFileSync(process.execPath, [tsx, join(ROOT, "examples", "demo.ts")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
  });

  it("runs the tour, and its sixth derivative matches the closed form", () => {
    for (const s of ["grad", "jvp", "vjp", "hessian", "makeGraph", "sixth derivative"]) expect(output).toContain(s);
    const got = Number(/grad\^6\s*=\s*(\S+)/.exec(output)?.[1]);
    const x = Number(/^x = (\S+)$/m.exec(output)?.[1]);
    expect(Number.isFinite(x)).toBe(true);
    // d⁶/dx⁶ [sin x e^x] = 2³ e^x sin(x + 6π/4)
    expect(got).toBeCloseTo(8 * Math.exp(x) * Math.sin(x + (6 * Math.PI) / 4), 10);
  });

  it("prints the equation counts that README.md and docs/design.md state", () => {
    const rows = [...output.matchAll(/^\s*(\d)\s+(\d+)\s+(\d+)\s*$/gm)].map((m) => [m[2], m[3]]);
    expect(rows.length).toBe(6);
    const printed = { grad: rows.map((r) => r[0]).join(","), jvp: rows.map((r) => r[1]).join(",") };
    for (const doc of ["README.md", join("docs", "design.md")]) {
      const text = readFileSync(join(ROOT, doc), "utf8");
      const row = (name: string) =>
        /^\|\s*`(\w+)` k times\s*\|(.*)\|\s*$/m.exec(
          text.split("\n").find((l) => l.includes(`\`${name}\` k times`)) ?? "",
        );
      const stated = (name: string) =>
        row(name)?.[2]
          ?.split("|")
          .map((c) => c.trim())
          .join(",");
      expect({ doc, grad: stated("grad"), jvp: stated("jvp") }).toEqual({ doc, ...printed });
    }
  });
});
