/**
 * GFLOP/s of the WebGPU matmul kernels (tiled vs naive) at n = 256, 512,
 * 1024, 2048, in headless Chromium with WebGPU on SwiftShader (the flags of
 * test/support/webgpu.ts). SwiftShader emulates a GPU on the CPU: its figures
 * say how the two shaders compare, not what a GPU does. A report, not a test.
 *
 *   npx tsx bench/webgpuMatmul.ts [--sizes 256,512]
 */
import { fileURLToPath } from "node:url";
import { bundle, runWebGpuPage } from "../test/support/webgpu.js";

interface Cell {
  gflops: number;
  reps: number;
  ms: number;
}
interface Result {
  skip?: string;
  pageError?: string;
  adapter?: string;
  rows?: { n: number; tiled: Cell; naive: Cell }[];
}

const js = await bundle(fileURLToPath(new URL("./webgpuMatmulPage.ts", import.meta.url)));
const arg = process.argv.indexOf("--sizes");
const sizes = arg >= 0 ? (process.argv[arg + 1] ?? "").split(",").map(Number) : null;
const r = (await runWebGpuPage(
  (sizes !== null ? `globalThis.__sizes = ${JSON.stringify(sizes)};\n` : "") + js,
  900_000,
)) as Result;
if (r.skip !== undefined || r.pageError !== undefined) console.log(r.skip ?? r.pageError);
else {
  console.log(`adapter: ${r.adapter} (SwiftShader is a CPU emulator: not a GPU figure)`);
  console.log("n      tiled GFLOP/s  (ms/product)   naive GFLOP/s  (ms/product)   tiled/naive");
  for (const { n, tiled, naive } of r.rows ?? [])
    console.log(
      `${String(n).padEnd(6)} ${tiled.gflops.toFixed(2).padStart(13)}  (${tiled.ms.toFixed(1).padStart(9)})  ${naive.gflops.toFixed(2).padStart(14)}  (${naive.ms.toFixed(1).padStart(9)})   ${(tiled.gflops / naive.gflops).toFixed(2)}`,
    );
}
