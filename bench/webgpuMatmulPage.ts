/**
 * The browser page of bench/webgpuMatmul.ts: GFLOP/s of the tiled matmul
 * shader and the naive one (src/kernels/webgpu/matmul.ts) on n×n float32
 * products, on whatever adapter the page gets (SwiftShader under the bench's
 * flags: a CPU emulation of a GPU, so its figures are not GPU figures).
 * Each cell runs once to compile and warm up, then repeats until ~1.5 s have
 * passed; the time is from recording the first product to the readback of
 * the last (the readback of n² floats included, once per cell).
 */
import { WebGpuContext } from "../src/kernels/webgpu/context.js";
import { navigatorGpu } from "../src/kernels/webgpu/gpu.js";
import type { GpuContext, GpuTensor } from "../src/kernels/webgpu/kernel.js";
import { matmulNaive, matmulTiled } from "../src/kernels/webgpu/matmul.js";

type Mm = (ctx: GpuContext, a: GpuTensor, b: GpuTensor, shape: readonly number[]) => GpuTensor;

async function cell(
  ctx: WebGpuContext,
  mm: Mm,
  n: number,
  budgetMs: number,
): Promise<{ gflops: number; reps: number; ms: number }> {
  const data = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const a = ctx.upload(data, [n, n], "float32");
  const b = ctx.upload(data, [n, n], "float32");
  await ctx.read(mm(ctx, a, b, [n, n]));
  let reps = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    const batch = Math.max(1, reps);
    let c: GpuTensor | undefined;
    for (let r = 0; r < batch; r++) {
      if (c !== undefined) ctx.release(c.buffer);
      c = mm(ctx, a, b, [n, n]);
    }
    await ctx.read(c!);
    ctx.release(c!.buffer);
    reps += batch;
    elapsed = performance.now() - t0;
  }
  return { gflops: (2 * n ** 3 * reps) / (elapsed * 1e6), reps, ms: elapsed / reps };
}

async function main(): Promise<unknown> {
  const gpu = navigatorGpu();
  const adapter = gpu === undefined ? null : await gpu.requestAdapter();
  if (adapter === null) return { skip: "no WebGPU adapter" };
  const ctx = new WebGpuContext(await adapter.requestDevice());
  // the runner may prepend `globalThis.__sizes = [...]` to the bundle
  const sizes = (globalThis as { __sizes?: number[] }).__sizes ?? [256, 512, 1024, 2048];
  const rows: unknown[] = [];
  for (const n of sizes)
    rows.push({ n, tiled: await cell(ctx, matmulTiled, n, 1500), naive: await cell(ctx, matmulNaive, n, 1500) });
  const info = adapter.info ?? {};
  return {
    adapter: [info.vendor, info.architecture, info.description, info.device].filter((s) => s).join(" ") || "unknown",
    rows,
  };
}

main().then(
  (r) => ((window as { __result?: unknown }).__result = r),
  (e: unknown) =>
    ((window as { __result?: unknown }).__result = { pageError: String(e instanceof Error ? e.stack : e) }),
);
