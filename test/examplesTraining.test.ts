/**
 * The training examples (examples/logistic.ts, examples/mlp.ts) run, their
 * loss decreases and their final accuracy clears a stated threshold well
 * above what a trivial classifier gets on the same data.
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as nb from "../src/index.js";
import * as logistic from "../examples/logistic.js";
import * as mlp from "../examples/mlp.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

describe("examples/logistic.ts", () => {
  it("the loss falls by half and the accuracy exceeds 90% (majority class below 70%)", () => {
    const { losses, accuracy, reloaded } = logistic.main({ log: false });
    // saved with nabla/io's saveFile and loaded back with loadFile: identical leaves
    expect(reloaded?.equal).toBe(true);
    expect(losses.length).toBe(15);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(0.5 * losses[0]!);
    expect(accuracy).toBeGreaterThan(0.9);
    const positives = nb.mean(logistic.makeData(0).y).item();
    expect(Math.max(positives, 1 - positives)).toBeLessThan(0.7);
  });

  it("runs from the command line, printing the loss per epoch and the accuracy", () => {
    const tsx = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
    const out = execFileSync(process.execPath, [tsx, join(ROOT, "examples", "logistic.ts")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    const losses = [...out.matchAll(/^epoch\s+\d+\s+loss (\S+)$/gm)].map((m) => Number(m[1]));
    expect(losses.length).toBe(15);
    expect(Number(/final accuracy (\S+)%/.exec(out)?.[1])).toBeGreaterThan(90);
  });
});

describe("examples/mlp.ts", () => {
  it("the loss falls tenfold and the accuracy on the three rings exceeds 95% (chance 33%)", () => {
    const { losses, accuracy, reloaded } = mlp.main({ log: false });
    expect(reloaded?.equal).toBe(true);
    expect(losses.length).toBe(20);
    expect(losses[losses.length - 1]!).toBeLessThan(0.1 * losses[0]!);
    expect(accuracy).toBeGreaterThan(0.95);
  });
});
