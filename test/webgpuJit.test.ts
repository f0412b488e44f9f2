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
import * as nb from "../src/index.js";
import { compileGpu } from "../src/device/gpuPlan.js";

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

type A = nb.NDArray;
const f32 = (shape: number[]): A => nb.zeros(shape, { dtype: "float32" });

// the plan's structure needs no GPU: graphs staged on the CPU, planned for a device binding 8 buffers
describe("webgpu plans: regions", () => {
  it("a chain of 10 elementwise equations is one region; a trailing sum runs after it", () => {
    // the page's chain (test/support/webgpuJitPage.ts)
    const chain = (x: A): A => {
      const y = nb.add(nb.exp(nb.tanh(nb.add(nb.mul(nb.sin(x), 2), x))), 1);
      return nb.log1p(nb.sigmoid(nb.sqrt(nb.mul(y, y))));
    };
    const g = nb.makeGraph(chain)(f32([100]));
    expect(g.equations.length).toBe(10);
    const ten = "fused(sin mul add tanh exp add mul sqrt logistic log1p)";
    expect(compileGpu(g, 8).steps).toEqual([ten]);
    const s = compileGpu(nb.makeGraph((x: A) => nb.sum(chain(x)))(f32([100])), 8);
    expect(s.steps).toEqual([ten, "reduce_sum"]);
    expect(s.regions).toBe(1);
  });

  it("equations of another size between a region's members do not cut it", () => {
    // [3] values interleaved with [4, 3] values: one region each, not six
    const f = (x: A, r: A): A => {
      const a = nb.sin(x);
      const b = nb.exp(r);
      const c = nb.mul(a, b);
      const d = nb.cos(b);
      const e = nb.add(c, d);
      return nb.tanh(e);
    };
    const p = compileGpu(nb.makeGraph(f)(f32([4, 3]), f32([3])), 8);
    expect(p.steps).toEqual(["fused(exp cos)", "fused(sin mul add tanh)"]);
  });

  it("a value read by a non-elementwise equation ends its region there; reshapes are aliases", () => {
    const f = (x: A): A => {
      const a = nb.reshape(nb.exp(x), [6]);
      const t = nb.transpose(nb.reshape(a, [3, 2]));
      return nb.add(nb.reshape(t, [6]), nb.sin(a));
    };
    const p = compileGpu(nb.makeGraph(f)(f32([2, 3])), 8);
    expect(p.steps[0]).toBe("fused(exp reshape reshape)");
    expect(p.steps).toContain("transpose");
    expect(p.steps[p.steps.length - 1]!.startsWith("fused(")).toBe(true);
  });

  it("regions are cut so that none binds more storage buffers than the device allows", () => {
    const f = (...v: A[]): A => v.slice(1).reduce((acc, x) => nb.add(nb.mul(acc, 0.5), nb.sin(x)), v[0]!);
    const g = nb.makeGraph(f)(...Array.from({ length: 12 }, () => f32([50])));
    for (const limit of [4, 8, 16]) {
      const p = compileGpu(g, limit);
      // each region reads at most limit - 2 inputs (one output, one buffer of literal words): 12 inputs need
      // ceil((12 - 1) / (limit - 3)) regions at least (a region after the first also reads the accumulator)
      expect(p.unfused).toBe(0);
      expect(p.regions).toBeGreaterThanOrEqual(Math.ceil(11 / (limit - 3)));
      expect(p.regions).toBeLessThanOrEqual(limit === 16 ? 1 : 11);
    }
  });
});

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
    // a chain with a trailing sum: one region, then the reduction's own dispatches (as eager runs it: the sum is
    // not folded into the region's shader, see gpuPlan.ts)
    expect(c["sumDispatches"]).toBe(1 + c["sumKernelDispatches"]!);
    // 12 inputs and 5 live outputs cannot bind in one shader (8 storage buffers): a few regions, not 22 dispatches
    expect(c["wideDispatches"]).toBeGreaterThanOrEqual(3);
    expect(c["wideDispatches"]).toBeLessThanOrEqual(6);
    // the int32/bool program (casts, wrapping arithmetic, logic, where): one region of its 9-element values,
    // and its 63-element values need 9 buffers (x, y, three 9-element values, the literals' words; three outputs)
    // where a shader binds 8: two regions
    expect(c["intDispatches"]).toBe(3);
    // where(...) and the add/mul chain on [5, 6]: one region (exp of the weak scalar runs on the CPU)
    expect(c["weakDispatches"]).toBe(1);
    // sin on [7], then its broadcast (a live output) and the product on [3, 7]: two regions, one per size
    expect(c["broadcastDispatches"]).toBe(2);
    expect(c["programs"]).toBe(40);
    expect(c["programRegions"]).toBeGreaterThan(0);
    expect(res.checks).toBeGreaterThan(100);
    if (BENCH) console.log("MLP step on webgpu (SwiftShader):", JSON.stringify(res.bench, null, 2));
  });
});
