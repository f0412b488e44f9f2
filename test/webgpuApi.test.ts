/**
 * Every public function on "webgpu": the page (test/support/webgpuApiPage.ts, headless Chromium on
 * SwiftShader) calls each function of the "." entry (with nb.linalg, nb.random, nb.debug, nb.tree),
 * of nabla/nn and of nabla/optim with float32 arrays on "cpu" and the same arrays on "webgpu". A
 * function that reads a GPU array synchronously throws DeviceError there and fails this test; so does
 * a new export without a case on the page. Skips with a message without Chromium or an adapter.
 *
 * Tolerance (float32): int32 and bool outputs must be equal. Float outputs are compared element by
 * element, relatively, against at least 2^-7 of the output's largest magnitude (a sum or a product of
 * float32 terms of magnitude M carries rounding errors of order ε·M, not ε times the result, where it
 * cancels). The bound is 1e-5, about 84 ulp: the GPU's elementwise kernels are within 9 ulp of the
 * CPU (docs/webgpu.md, "Accuracy"), reductions and matmul sum in another order (n·ε relative to the
 * magnitude of the terms, n <= 72 here), and the linear algebra runs the CPU's kernels by transfer
 * (exact); the cases compose a handful of these on well-conditioned inputs.
 */
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM } from "./support/chromium.js";
import { bundleSource, runWebGpuPage } from "./support/webgpu.js";

interface CaseRow {
  cpuError?: string;
  gpuError?: string;
  mismatch?: string;
  rel: number;
  worst?: number[];
  devices: string[];
  cpuOutput: boolean;
  leaves: number;
}
interface PageResult {
  noAdapter?: boolean;
  pageError?: string;
  consoleErrors?: string[];
  exports: Record<string, string[]>;
  cases: Record<string, CaseRow>;
}

/** Exported classes (not operations): constructed, not called with arrays. */
const CLASSES = new Set([
  "nb.NablaError",
  "nb.ShapeError",
  "nb.DTypeError",
  "nb.TracerError",
  "nb.GradError",
  "nb.DeviceError",
  "nb.NDArray",
  "nb.Graph",
  "tree.TreeDef",
]);

/**
 * The cases that throw DeviceError on "webgpu", by design: their output shapes depend on the values of
 * an array argument (docs/webgpu.md, "What depends on GPU values"), and the message names the way out.
 */
const VALUE_SHAPED: Record<string, RegExp> = {
  "nb.split#arraySections": /^DeviceError: split: .*sections.*"webgpu".*await x\.data\(\)/,
  "nb.repeat#arrayRepeats": /^DeviceError: repeat: .*repeats.*"webgpu".*await x\.data\(\).*totalRepeatLength/,
};

let R: PageResult | undefined;
let skip = "";

beforeAll(async () => {
  if (CHROMIUM === undefined) {
    skip = "no working Chromium at /usr/bin/chromium (apt-get install chromium)";
    return;
  }
  const page = fileURLToPath(new URL("./support/webgpuApiPage.ts", import.meta.url));
  const js = await bundleSource(`import { run } from ${JSON.stringify(page)}; void run();`);
  const r = (await runWebGpuPage(js, 240_000)) as PageResult;
  if (r.noAdapter === true) skip = "the page found no WebGPU adapter";
  else R = r;
}, 300_000);

function result(): PageResult | undefined {
  if (R === undefined) console.log(`webgpuApi test skipped: ${skip}`);
  else if (R.pageError !== undefined) throw new Error(`${R.pageError}\n${(R.consoleErrors ?? []).join("\n")}`);
  return R;
}

describe("every public function on webgpu", () => {
  it("the page has a case for every exported function", () => {
    const r = result();
    if (r === undefined) return;
    const covered = new Set(Object.keys(r.cases).map((k) => k.split("#")[0]!));
    const missing: string[] = [];
    for (const [ns, names] of Object.entries(r.exports))
      for (const n of names) if (!CLASSES.has(`${ns}.${n}`) && !covered.has(`${ns}.${n}`)) missing.push(`${ns}.${n}`);
    expect(missing).toEqual([]);
    // and the exports were found (a broken listing would make the check above vacuous)
    expect(r.exports["nb"]!.length).toBeGreaterThan(140);
    expect(r.exports["nn"]!.length).toBeGreaterThan(15);
    expect(r.exports["optim"]!.length).toBeGreaterThan(10);
  });

  it("runs on webgpu arrays and gives the CPU's results", () => {
    const r = result();
    if (r === undefined) return;
    const failures: string[] = [];
    for (const [name, c] of Object.entries(r.cases)) {
      if (c.cpuError !== undefined) failures.push(`${name}: the CPU call failed: ${c.cpuError}`);
      else if (name in VALUE_SHAPED) {
        if (!VALUE_SHAPED[name]!.test(c.gpuError ?? ""))
          failures.push(`${name}: expected DeviceError, got ${c.gpuError ?? "none"}`);
      } else if (c.gpuError !== undefined) failures.push(`${name}: ${c.gpuError}`);
      else if (c.mismatch !== undefined) failures.push(`${name}: ${c.mismatch}`);
      else if (!(c.rel <= 1e-5))
        failures.push(`${name}: relative error ${c.rel} (leaf, element, webgpu, cpu: ${c.worst?.join(", ")})`);
      else if (!c.cpuOutput && !c.devices.every((d) => d === "webgpu"))
        failures.push(`${name}: outputs on ${c.devices.join(", ")}`);
    }
    const worst = Object.entries(r.cases)
      .sort((a, b) => b[1].rel - a[1].rel)
      .slice(0, 5)
      .map(([n, c]) => `${n} ${c.rel.toExponential(2)}`);
    console.log(`webgpuApi: ${Object.keys(r.cases).length} cases; largest relative errors: ${worst.join(", ")}`);
    expect(failures).toEqual([]);
    expect(Object.keys(r.cases).length).toBeGreaterThan(190);
  });
});
