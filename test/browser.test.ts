/**
 * The "." entry in a real browser: bundle src/index.ts for the browser with
 * esbuild, serve it on 127.0.0.1, load it in headless Chromium and compare
 * what the page computes with references computed here (closed forms, plain
 * JS, and — for random numbers — the same key evaluated in Node, since the
 * contract is "same key, same numbers on Node and in a browser").
 *
 * Skipped, with a message, when no Chromium is installed (.ci/run tries to
 * install Debian's package; the library itself needs nothing Node-only).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import * as nb from "../src/index.js";
import { CHROMIUM, runInChromium, skipMessage } from "./support/chromium.js";

const PAGE_SCRIPT = `
import * as nb from "${resolve("src/index.ts").replace(/\\/g, "/")}";
const out = {};
try {
  out.grad = nb.grad((x) => nb.mul(nb.sin(x), nb.exp(x)))(0.7).item();
  let g = (x) => nb.mul(nb.sin(x), nb.exp(x));
  for (let k = 0; k < 6; k++) g = nb.grad(g);
  out.sixth = g(0.7).item();
  const A = nb.random.normal(nb.random.key(0), [64, 64], { dtype: "float32" });
  out.A = Array.from(A.toTypedArray());
  out.C = Array.from(nb.matmul(A, A).toTypedArray());
  out.jit = nb.jit((x) => nb.sum(nb.tanh(nb.mul(x, 2))))(nb.array([0.1, 0.2])).item();
  out.hess = nb.vmap(nb.hessian((x) => nb.sum(nb.pow(x, 3))))(nb.array([[1, 2]])).toArray();
  out.uniform = Array.from(nb.random.uniform(nb.random.key(42), [5]).toTypedArray());
  out.split = nb.random.split(nb.random.key(7), 3).toArray();
} catch (e) { out.error = String((e && e.stack) || e); }
document.body.textContent = "RESULT " + JSON.stringify(out);
`;

let result: Record<string, any> = {};

describe.skipIf(CHROMIUM === undefined)("nabla in headless Chromium", () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "nabla-browser-"));
    try {
      writeFileSync(join(dir, "entry.js"), PAGE_SCRIPT);
      await build({
        entryPoints: [join(dir, "entry.js")],
        bundle: true,
        format: "esm",
        platform: "browser",
        outfile: join(dir, "bundle.js"),
        logLevel: "silent",
      });
      result = await runInChromium(readFileSync(join(dir, "bundle.js"), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("runs without errors", () => {
    expect(result.error).toBeUndefined();
  });

  it("derivatives match closed forms (first and sixth derivative of sin·exp)", () => {
    // d/dx sin·exp = e^x (sin x + cos x); d^k/dx^k = 2^(k/2) e^x sin(x + kπ/4); float64, tolerance from rounding
    expect(Math.abs(result.grad - Math.exp(0.7) * (Math.sin(0.7) + Math.cos(0.7)))).toBeLessThan(1e-12);
    expect(Math.abs(result.sixth - 8 * Math.exp(0.7) * Math.sin(0.7 + (6 * Math.PI) / 4))).toBeLessThan(1e-10);
    expect(result.hess).toEqual([
      [
        [6, 0],
        [0, 12],
      ],
    ]);
  });

  it("float32 matmul (WebAssembly SIMD when the browser has it) matches a float64 reference", () => {
    const A = result.A as number[];
    const C = result.C as number[];
    for (let i = 0; i < 64; i += 7)
      for (let j = 0; j < 64; j += 5) {
        let s = 0;
        let abs = 0;
        for (let k = 0; k < 64; k++) {
          s += A[i * 64 + k]! * A[k * 64 + j]!;
          abs += Math.abs(A[i * 64 + k]! * A[k * 64 + j]!);
        }
        // float32 accumulation over K = 64 terms: |error| <= 1.01 K 2^-24 Σ|a||b|
        expect(Math.abs(C[i * 64 + j]! - s)).toBeLessThanOrEqual(1.01 * 64 * 2 ** -24 * abs);
      }
  });

  it("jit (generated fused loops) gives the reference value", () => {
    expect(Math.abs(result.jit - (Math.tanh(0.2) + Math.tanh(0.4)))).toBeLessThan(1e-15);
  });

  it("random numbers are the same as in Node for the same key", () => {
    expect(result.uniform).toEqual(Array.from(nb.random.uniform(nb.random.key(42), [5]).toTypedArray()));
    expect(result.split).toEqual(nb.random.split(nb.random.key(7), 3).toArray());
  });
});

if (CHROMIUM === undefined) skipMessage("browser test");
