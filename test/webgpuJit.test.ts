/**
 * jit plans on "webgpu" (src/device/gpuPlan.ts, src/kernels/webgpu/fused.ts), in headless Chromium on
 * SwiftShader (test/support/webgpuJitPage.ts): fused regions compute exactly what eager evaluation on
 * "webgpu" computes (bit for bit, NaN counted as one value), a chain of ten elementwise operations is one
 * dispatch, a second call compiles no pipeline, regions are cut within the binding limit, and results are
 * close to the CPU's. Skips with a message without Chromium or a WebGPU adapter.
 *
 * NABLA_GPU_BENCH=1 also times an MLP training step eager against jit (dispatches per step, ms per step;
 * SwiftShader figures, not GPU ones) and prints them.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CHROMIUM, NO_CHROMIUM } from "./support/chromium.js";
import { bundle, runWebGpuPage } from "./support/webgpu.js";

interface PageResult {
  skip?: string;
  error?: string;
  pageError?: string;
  consoleErrors?: string[];
  checks?: number;
  failures?: string[];
  counts?: Record<string, number>;
  bench?: unknown;
}

const BENCH = process.env["NABLA_GPU_BENCH"] === "1";

async function runPage(): Promise<PageResult> {
  const js = await bundle(fileURLToPath(new URL("./support/webgpuJitPage.ts", import.meta.url)));
  return (await runWebGpuPage((BENCH ? "globalThis.__bench = true;\n" : "") + js, 240_000)) as PageResult;
}

if (CHROMIUM === undefined) console.log(`webgpuJit.test.ts skipped: ${NO_CHROMIUM}`);

describe.skipIf(CHROMIUM === undefined)("jit on webgpu: fused WGSL regions", () => {
  it("equal eager webgpu bit for bit, one dispatch per region, pipelines cached", { timeout: 300_000 }, async () => {
    const res = await runPage();
    if (res.skip !== undefined) {
      console.log(`webgpuJit.test.ts skipped: ${res.skip}`);
      return;
    }
    expect(res.error, JSON.stringify(res.consoleErrors ?? [])).toBeUndefined();
    expect(res.pageError, JSON.stringify(res.consoleErrors ?? [])).toBeUndefined();
    expect(res.failures).toEqual([]);
    const c = res.counts!;
    // a chain of 10 elementwise equations is one fused region: one dispatch, one new pipeline
    expect(c["chainDispatches"]).toBe(1);
    expect(c["chainCompilesFirst"]).toBe(1);
    // the second call reuses the plan and the pipeline
    expect(c["chainDispatchesSecond"]).toBe(1);
    expect(c["chainCompilesSecond"]).toBe(0);
    // a chain with a trailing sum: the region, then at most the reduction's own kernel
    expect(c["sumDispatches"]).toBeGreaterThanOrEqual(1);
    expect(c["sumDispatches"]).toBeLessThanOrEqual(2);
    // 12 inputs and 5 live outputs cannot bind in one shader (8 storage buffers): a few regions, not 22 dispatches
    expect(c["wideDispatches"]).toBeGreaterThanOrEqual(3);
    expect(c["wideDispatches"]).toBeLessThanOrEqual(6);
    // the int32/bool program (casts, wrapping arithmetic, logic, where): one region of its 9-element values,
    // and its 63-element values need 9 buffers (x, y, three 9-element values, the literals' words; three outputs)
    // where a shader binds 8: two regions
    expect(c["intDispatches"]).toBe(3);
    expect(c["programs"]).toBe(40);
    expect(c["programRegions"]).toBeGreaterThan(0);
    expect(res.checks).toBeGreaterThan(100);
    if (BENCH) console.log("MLP step on webgpu (SwiftShader):", JSON.stringify(res.bench, null, 2));
  });
});
