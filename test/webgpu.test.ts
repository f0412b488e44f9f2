/**
 * The "webgpu" device in headless Chromium with WebGPU on SwiftShader (a
 * software adapter): one page (test/support/webgpuPage.ts) computes every
 * check on "webgpu" and on "cpu"; the assertions here compare the two.
 * Skips with a message where no Chromium starts or the page finds no adapter.
 *
 * Tolerances (float32): the CPU computes float32 math in float64 and rounds, so its results are
 * correctly rounded or within 1 ulp; the WebGPU kernels' errors against it, measured on 20,000
 * inputs per function (the `ulps` section), are bounded in ULP_BOUNDS with one ulp of margin over
 * the measurement (docs/webgpu.md, "Accuracy"). Primitives without a WebGPU kernel run the CPU
 * kernel by transfer and must agree bit for bit. Compositions (derivatives, hessian, vmap, jit)
 * accumulate a few elementwise errors: they must agree to 1e-5 relative (about 80 ulp).
 *
 * The memory test trains a small MLP for NABLA_WEBGPU_STEPS steps (default 1,000; 10,000 with
 * NABLA_WEBGPU_STEPS=10000, about 5 minutes on a loaded SwiftShader machine while reductions and matmul still
 * run by transfer) and asserts that the GPU bytes allocated after forced collections stay within
 * 2x of the first sample.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM } from "./support/chromium.js";
import { bundleSource, runWebGpuPage } from "./support/webgpu.js";
import { GPU_KERNELS } from "../src/prims/gpuTable.js";

/** Measured worst ulp error of each elementwise function on the page's inputs, plus one ulp of margin. */
export const ULP_BOUNDS: Readonly<Record<string, number>> = {
  exp: 2,
  log: 2,
  log1p: 4,
  expm1: 2,
  sin: 2,
  cos: 2,
  tan: 3,
  tanh: 3,
  sinh: 2,
  cosh: 2,
  asin: 3,
  acos: 2,
  atan: 3,
  sqrt: 1,
  erf: 2,
  logistic: 3,
  softplus: 4,
  div: 1,
  // x^y for non-integer y: 2^(e y) exactly, then exp of a small argument; the error grows with |y| (<= 10 here)
  pow: 9,
  // integer exponents by square and multiply
  powNegInt: 6,
  atan2: 4,
};

const STEPS = Number(process.env["NABLA_WEBGPU_STEPS"] ?? 1000);
const page = fileURLToPath(new URL("./support/webgpuPage.ts", import.meta.url));

type Cmp = { ulp: number; rel: number; worst: number[]; devices?: string[]; error?: string };
type PrimRow = {
  native: boolean;
  firstOrder: boolean;
  elementwise: boolean;
  cases: number;
  skipped: number;
  ulp: number;
  exact: boolean;
  errors: string[];
};
interface PageResult {
  noAdapter?: boolean;
  pageError?: string;
  consoleErrors?: string[];
  ms: Record<string, number>;
  errors: Record<string, unknown>;
  batching: { submissions: number; first: number[]; last: number[] };
  int32: Record<string, { gpu: number[]; cpu: number[] }>;
  ulps: Record<string, Cmp>;
  transforms: Record<string, Cmp>;
  primitives: Record<string, PrimRow>;
  memory: { steps: number; samples: number[]; losses: number[]; ms: number; gc: boolean };
  native: string[];
}

let R: PageResult | undefined;
let skip = "";

beforeAll(async () => {
  if (CHROMIUM === undefined) {
    skip = "no working Chromium at /usr/bin/chromium (apt-get install chromium)";
    return;
  }
  const js = await bundleSource(`import { run } from ${JSON.stringify(page)}; void run(${STEPS});`);
  const r = (await runWebGpuPage(js, 600_000)) as PageResult;
  if (r.noAdapter === true) skip = "the page found no WebGPU adapter";
  else R = r;
}, 660_000);

/** The page's result, or undefined (with the skip message printed) when there is none. */
function result(): PageResult | undefined {
  if (R === undefined) console.log(`webgpu test skipped: ${skip}`);
  else if (R.pageError !== undefined) throw new Error(`${R.pageError}\n${(R.consoleErrors ?? []).join("\n")}`);
  return R;
}

describe("webgpu", () => {
  it("synchronous readers, float64 and mixed devices throw the documented errors", () => {
    const r = result()?.errors;
    if (r === undefined) return;
    for (const k of ["item", "toArray", "toTypedArray", "coercion"]) {
      expect(r[k]).toMatch(/^DeviceError: /);
      expect(r[k]).toContain("await x.data()");
    }
    expect(r["putFloat64"]).toMatch(/^DTypeError: devicePut: .*float64.*"webgpu"/);
    expect(r["astypeFloat64"]).toMatch(/^DTypeError: convert: .*float64.*"webgpu"/);
    expect(r["mixed"]).toMatch(/^DeviceError: add: .*"cpu".*"webgpu"/);
    expect(r["putToCpu"]).toMatch(/^DeviceError: devicePut: .*deviceGet/);
    expect(r["printed"]).toBe("Array(shape=[1], dtype=float32, device=webgpu)");
    expect(r["weakScalar"]).toEqual([3]);
    expect(r["deviceGet"]).toEqual([2]);
    expect(r["tracerDevice"]).toBe("webgpu");
    expect(r["jitTracerDevice"]).toBe("webgpu");
    expect(r["defaultDtypes"]).toEqual(["float32", "float32", "float32", "float32"]);
    expect(r["defaultMix"]).toEqual([2]);
    expect(r["defaultJit"]).toBe("webgpu");
    expect(r["cpuDtype"]).toBe("float64");
    expect(r["jitCacheByDevice"]).toEqual(["cpu", [3], "webgpu", [2]]);
  });

  it("reads back many arrays in one submission", () => {
    const r = result()?.batching;
    if (r === undefined) return;
    expect(r.submissions).toBe(1);
    expect(r.first).toEqual([2, 4, 6, 8]);
    expect(r.last).toEqual([32, 34, 36, 38]);
  });

  it("int32 arithmetic and conversions equal the CPU's", () => {
    const r = result()?.int32;
    if (r === undefined) return;
    expect(Object.keys(r).length).toBeGreaterThan(10);
    for (const [name, { gpu, cpu }] of Object.entries(r)) expect(gpu, name).toEqual(cpu);
  });

  it("elementwise functions stay within their ulp bounds of the CPU", () => {
    const r = result()?.ulps;
    if (r === undefined) return;
    expect(Object.keys(r).sort()).toEqual(Object.keys(ULP_BOUNDS).sort());
    for (const [name, c] of Object.entries(r))
      expect(c.ulp, `${name} (worst ${c.worst.join(", ")})`).toBeLessThanOrEqual(ULP_BOUNDS[name]!);
  });

  it("every primitive spec in float32 agrees with the CPU (kernels within bounds, transfers exactly)", () => {
    const r = result()?.primitives;
    if (r === undefined) return;
    const names = Object.keys(r);
    expect(names.length).toBeGreaterThan(80);
    const ran = names.filter((p) => r[p]!.cases > 0);
    // cases the CPU rejects in float32 are skipped; almost every primitive must have run
    expect(ran.length).toBeGreaterThan(names.length - 5);
    for (const p of names) {
      const row = r[p]!;
      expect(row.errors, p).toEqual([]);
      if (!row.native && row.firstOrder) expect(row.exact, `${p} (transfer) must equal the CPU bit for bit`).toBe(true);
      // elementwise: the bound of the function (4 ulp for exact arithmetic and the functions not measured)
      else if (row.elementwise) expect(row.ulp, p).toBeLessThanOrEqual(Math.max(4, ULP_BOUNDS[p] ?? 0));
      // the other kernels (reductions, matmul, ...) and the higher-order rows whose functions use them:
      // float32 rounding in another summation order
      else expect(row.ulp, p).toBeLessThanOrEqual(1024);
    }
  });

  it("transforms, control flow and custom rules give the CPU's results on webgpu", () => {
    const r = result()?.transforms;
    if (r === undefined) return;
    const names = Object.keys(r);
    for (const k of [
      "grad",
      "grad2",
      "jvp",
      "jvp2",
      "hessian",
      "vmap",
      "jit",
      "jitGrad",
      "gradJit",
      "jitDevice",
      "cond",
      "condGrad",
      "whileLoop",
      "whileJvp",
      "customJvp",
      "customVjp",
    ])
      expect(names).toContain(k);
    for (const [name, c] of Object.entries(r)) {
      expect(c.error, name).toBeUndefined();
      expect(c.rel, name).toBeLessThanOrEqual(1e-5);
      expect(
        c.devices!.every((d) => d === "webgpu"),
        name,
      ).toBe(true);
    }
  });

  it("GPU memory stays bounded over a training run (buffers released on collection)", () => {
    const r = result()?.memory;
    if (r === undefined) return;
    expect(r.gc).toBe(true);
    expect(r.steps).toBe(STEPS);
    expect(r.samples.length).toBeGreaterThanOrEqual(5);
    const first = r.samples[0]!;
    for (const s of r.samples) expect(s).toBeLessThanOrEqual(2 * first);
    // and it trained: the loss fell
    expect(r.losses[r.losses.length - 1]!).toBeLessThan(r.losses[0]!);
  });

  it("docs/webgpu.md lists the primitives that run natively", () => {
    const doc = readFileSync(new URL("../docs/webgpu.md", import.meta.url), "utf8");
    const m = /<!-- native:begin -->([\s\S]*?)<!-- native:end -->/.exec(doc);
    expect(m, "docs/webgpu.md has a native:begin/native:end block").not.toBeNull();
    const listed = [...m![1]!.matchAll(/`([a-z_0-9]+)`/g)].map((x) => x[1]!).sort();
    expect(listed, "regenerate the list in docs/webgpu.md from GPU_KERNELS").toEqual(Object.keys(GPU_KERNELS).sort());
  });
});
