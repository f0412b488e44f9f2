#!/usr/bin/env node
// GradBench tool for nabla: speaks GradBench's protocol (one JSON message per line on stdin, one JSON
// response per line on stdout with the same id) and evaluates the functions of the modules under
// ./evals/ with the built package ("nabla", resolved through package.json's self-reference).
// Stdout carries protocol lines only; diagnostics go to stderr.
import process from "node:process";
import * as readline from "node:readline";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { EVALS } from "./evals.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));

const modules = new Map();

async function define(name) {
  if (modules.has(name)) return true;
  if (!EVALS.includes(name)) return false;
  const file = join(HERE, "evals", `${name}.mjs`);
  if (!existsSync(file)) return false;
  const mod = await import(pathToFileURL(file).href);
  modules.set(name, mod.functions);
  return true;
}

const now = () => process.hrtime.bigint();

/**
 * Runs one function: `prepare` turns the JSON input into arrays (timed as "prepare", once), `run`
 * computes (timed as "evaluate", at least min_runs times and for at least min_seconds), `output`
 * turns the last result into JSON (not timed).
 */
function evaluate(fn, input) {
  const runsAsked = Number(input?.min_runs);
  const secondsAsked = Number(input?.min_seconds);
  const minRuns = Number.isFinite(runsAsked) ? Math.max(1, Math.ceil(runsAsked)) : 1;
  const minNs = BigInt(Number.isFinite(secondsAsked) ? Math.max(0, Math.round(secondsAsked * 1e9)) : 0);
  const timings = [];
  let t0 = now();
  const prepared = fn.prepare ? fn.prepare(input) : input;
  timings.push({ name: "prepare", nanoseconds: Number(now() - t0) });
  let result;
  let total = 0n;
  for (let runs = 0; runs < minRuns || total < minNs; runs++) {
    t0 = now();
    result = fn.run(prepared);
    const dt = now() - t0;
    total += dt;
    timings.push({ name: "evaluate", nanoseconds: Number(dt) });
  }
  return { output: fn.output ? fn.output(result, prepared) : result, timings };
}

async function handle(msg) {
  const id = msg?.id;
  switch (msg?.kind) {
    case "start":
      return { id, tool: "nabla" };
    case "define":
      try {
        return { id, success: await define(msg.module) };
      } catch (e) {
        return { id, success: false, error: errorText(e) };
      }
    case "evaluate": {
      try {
        if (!(await define(msg.module))) return { id, success: false, error: `unknown module ${msg.module}` };
        const fn = modules.get(msg.module)[msg.function];
        if (!fn) return { id, success: false, error: `${msg.module} has no function ${msg.function}` };
        return { id, success: true, ...evaluate(fn, msg.input) };
      } catch (e) {
        return { id, success: false, error: errorText(e) };
      }
    }
    default:
      return { id };
  }
}

function errorText(e) {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === "") continue;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    process.stderr.write(`nabla gradbench: unparsable message: ${errorText(e)}\n`);
    process.stdout.write(JSON.stringify({ id: null, success: false, error: errorText(e) }) + "\n");
    continue;
  }
  const response = await handle(msg);
  process.stdout.write(JSON.stringify(response) + "\n");
}
