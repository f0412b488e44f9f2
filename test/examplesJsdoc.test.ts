/**
 * The JSDoc of `nabla/optim` and `nabla/nn`: every export has a one-line
 * summary and an `@example`, and every example type-checks under the
 * project's compiler options and runs (imports of "nabla", "nabla/optim"
 * and "nabla/nn" resolve to the sources; a block without imports gets
 * `import * as nb from "nabla"`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "node_modules", ".cache", `nabla-jsdoc-optim-nn-${process.pid}`);
const ENTRIES = { "nabla/optim": "src/optim/index.ts", "nabla/nn": "src/nn/index.ts" } as const;
const SPECIFIERS: Record<string, string> = { nabla: "src/index.ts", ...ENTRIES };

interface Example {
  where: string;
  code: string;
  file: string;
}

/** The exported declarations of an entry, with their JSDoc summary and example code. */
function exportsOf(program: ts.Program, entry: string): { name: string; summary: string; examples: string[] }[] {
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(join(ROOT, entry))!;
  const moduleSymbol = checker.getSymbolAtLocation(sf)!;
  return checker.getExportsOfModule(moduleSymbol).map((sym) => {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decl = target.declarations![0]!;
    // for `export const f = ...` the JSDoc sits on the variable statement
    const host = ts.isVariableDeclaration(decl) ? decl.parent.parent : decl;
    const docs = ts.getJSDocCommentsAndTags(host).filter(ts.isJSDoc);
    const summary = docs.map((d) => ts.getTextOfJSDocComment(d.comment) ?? "").join(" ");
    const examples = docs.flatMap((d) =>
      (d.tags ?? []).filter((t) => t.tagName.text === "example").map((t) => ts.getTextOfJSDocComment(t.comment) ?? ""),
    );
    return { name: sym.name, summary, examples };
  });
}

const examples: Example[] = [];
let documented: { entry: string; name: string; summary: string; examples: string[] }[] = [];

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const program = ts.createProgram(
    Object.values(ENTRIES).map((e) => join(ROOT, e)),
    { allowJs: false, noEmit: true },
  );
  documented = Object.entries(ENTRIES).flatMap(([entry, file]) =>
    exportsOf(program, file).map((e) => ({ entry, ...e })),
  );
  for (const d of documented)
    d.examples.forEach((code, k) => {
      const file = join(OUT, `${d.entry.replace(/\W/g, "_")}_${d.name}_${k}.ts`);
      const rel = (target: string) => relative(OUT, join(ROOT, target)).replace(/\\/g, "/");
      let text = code.replace(/(from\s+)(["'])(nabla(?:\/\w+)?)\2/g, (_m, pre: string, _q, spec: string) => {
        const target = SPECIFIERS[spec];
        if (target === undefined) throw new Error(`${d.entry} ${d.name}: unknown import "${spec}"`);
        return `${pre}"${rel(target)}"`;
      });
      if (!/^\s*import\s/m.test(text)) text = `import * as nb from "${rel(SPECIFIERS.nabla!)}";\n${text}`;
      writeFileSync(file, `${text}\nexport {};\n`);
      examples.push({ where: `${d.entry} ${d.name}`, code, file });
    });
});

afterAll(() => rmSync(OUT, { recursive: true, force: true }));

describe("JSDoc of nabla/optim and nabla/nn", () => {
  it("every export has a summary and an @example", () => {
    expect(documented.length).toBeGreaterThan(40);
    const missing = documented.filter((d) => d.summary.trim() === "" || d.examples.length === 0).map((d) => d.name);
    expect(missing).toEqual([]);
  });

  it("the examples type-check", () => {
    const cfg = ts.readConfigFile(join(ROOT, "tsconfig.json"), (p) => ts.sys.readFile(p));
    const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, ROOT);
    const program = ts.createProgram(
      examples.map((e) => e.file),
      { ...parsed.options, noEmit: true, allowImportingTsExtensions: true, noUnusedLocals: false },
    );
    const messages = examples.flatMap((e) => {
      const sf = program.getSourceFile(e.file)!;
      return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map(
        (d) => `${e.where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`,
      );
    });
    expect(messages).toEqual([]);
  });

  it("the examples run", async () => {
    const failures: string[] = [];
    for (const e of examples) {
      try {
        await import(pathToFileURL(e.file).href);
      } catch (err) {
        failures.push(`${e.where}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
