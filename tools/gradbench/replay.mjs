#!/usr/bin/env node
// `npm run gradbench -- EVAL [EVAL ...]` (no EVAL: all twelve): replays recorded GradBench sessions
// against this tool with the shared replay script, building dist/ first if it is missing.
// Sessions: ../shared/gradbench-data/EVAL.jsonl beside the repository (or beside the folder holding
// a git worktree of it, or $GRADBENCH_DATA), and
// tools/gradbench/sessions/ for particle and saddle, whose expected values come from the issue.
import { spawnSync } from "node:child_process";
import process from "node:process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EVALS } from "./evals.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const CANDIDATES = process.env.GRADBENCH_DATA
  ? [resolve(process.env.GRADBENCH_DATA)]
  : [join(ROOT, "..", "shared", "gradbench-data"), join(ROOT, "..", "..", "shared", "gradbench-data")];
const DATA = CANDIDATES.find((d) => existsSync(join(d, "replay.mjs"))) ?? CANDIDATES[0];
const REPLAY = join(DATA, "replay.mjs");

/** The session file of an eval: the shared recording, else our own. */
export function sessionFile(name) {
  const shared = join(DATA, `${name}.jsonl`);
  return existsSync(shared) ? shared : join(HERE, "sessions", `${name}.jsonl`);
}

const names = process.argv.slice(2);
for (const n of names)
  if (!EVALS.includes(n)) {
    process.stderr.write(`gradbench: unknown eval ${n} (one of ${EVALS.join(", ")})\n`);
    process.exit(2);
  }
if (!existsSync(REPLAY)) {
  process.stderr.write(`gradbench: ${REPLAY} not found (set GRADBENCH_DATA to the folder with replay.mjs)\n`);
  process.exit(2);
}
if (!existsSync(join(ROOT, "dist", "index.js"))) {
  process.stderr.write("gradbench: dist/ missing, running npm run build\n");
  const b = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
let failed = 0;
for (const name of names.length ? names : EVALS) {
  const file = sessionFile(name);
  if (!existsSync(file)) {
    process.stderr.write(`gradbench: no session for ${name} (${file})\n`);
    failed++;
    continue;
  }
  process.stdout.write(`== ${name}\n`);
  const r = spawnSync(process.execPath, [REPLAY, file, process.execPath, join(HERE, "run.mjs")], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
