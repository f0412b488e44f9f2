/**
 * The runnable TypeScript blocks of the documentation (README.md and
 * docs/*.md): fenced blocks tagged ```ts or ```typescript, except those
 * tagged `no-run`. Used by the doctest (against the sources) and by the
 * package test (against the installed tarball, in a strict consumer).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

/** A runnable code block of a markdown file. */
export interface Block {
  doc: string; // path relative to the root
  line: number; // 1-based line of the first code line in the markdown file
  code: string;
}

/** README.md and every markdown file under docs/ in `root`. */
export function markdownFiles(root: string): string[] {
  const docs = join(root, "docs");
  const inDocs = readdirSync(docs, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(docs, f));
  return [join(root, "README.md"), ...inDocs.sort()];
}

/** The runnable blocks of one markdown file. */
export function extractBlocks(root: string, file: string): { runnable: Block[] } {
  const lines = readFileSync(file, "utf8").split("\n");
  const runnable: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open as unknown as [string, string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, "") === "") break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l);
    }
    if (lang === "ts" || lang === "typescript") {
      if (!/\bno-run\b/.test(rest)) runnable.push({ doc: relative(root, file), line: i + 2, code: body.join("\n") });
    }
    i = j;
  }
  return { runnable };
}
