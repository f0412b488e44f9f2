/**
 * The non-elementwise WebGPU kernels (src/kernels/webgpu/: reduce, movement, conv,
 * indexing, scan, sort, matmul), each run directly on a WebGpuContext in
 * headless Chromium with WebGPU on SwiftShader and compared with the
 * primitive row's CPU kernel on the same inputs (test/support/webgpuKernelsPage.ts
 * holds the cases and their tolerances). Skips with a message when no Chromium
 * starts or the page finds no adapter.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CHROMIUM } from "./support/chromium.js";
import { bundle, runWebGpuPage } from "./support/webgpu.js";
import type { CaseResult } from "./support/webgpuKernelsPage.js";

const FAMILIES = ["movement", "reduce", "scan", "sort", "indexing", "matmul", "conv"] as const;

interface PageResult {
  skip?: string;
  pageError?: string;
  consoleErrors?: string[];
  adapter?: string;
  results?: CaseResult[];
}

let page: Promise<PageResult> | undefined;
function results(): Promise<PageResult> {
  page ??= bundle(fileURLToPath(new URL("./support/webgpuKernelsPage.ts", import.meta.url))).then(
    (js) => runWebGpuPage(js, 150_000) as Promise<PageResult>,
  );
  return page;
}

if (CHROMIUM === undefined) console.log("webgpuKernels.test.ts skipped: no working Chromium at /usr/bin/chromium");

describe.skipIf(CHROMIUM === undefined)("WebGPU kernels against the CPU kernels", () => {
  for (const family of FAMILIES)
    it(`${family}`, { timeout: 240_000 }, async () => {
      const r = await results();
      if (r.skip !== undefined) {
        console.log(`webgpuKernels.test.ts: ${family} skipped: ${r.skip}`);
        return;
      }
      expect(r.pageError, JSON.stringify(r.consoleErrors ?? [])).toBeUndefined();
      const mine = (r.results ?? []).filter((c) => c.family === family);
      expect(mine.length).toBeGreaterThan(0);
      const failed = mine.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      expect(failed).toEqual([]);
    });
});
