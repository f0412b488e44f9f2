/**
 * `npm run bench -- --device webgpu [--small] [--quick] [--filter W1,W2] [--backends nabla,jax-js]`:
 * bundles bench/webgpu/page.ts (esbuild) and runs it in headless Chromium with WebGPU (on
 * SwiftShader, a software adapter, where the machine has no GPU), then prints medians, jax-js /
 * nabla ratios, matmul GFLOP/s, the adapter and the primitives nabla ran by transfer to the CPU,
 * and (unless --no-docs, --filter or --backends) rewrites the WebGPU section of docs/benchmarks.md.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { CHROMIUM } from "../../test/support/chromium.js";
import { GPU_CHROMIUM_ARGS, bundleSource } from "../../test/support/webgpu.js";
import { TOLERANCE } from "../lib/check.js";
import type { MeasureOptions } from "../lib/measure.js";
import { fmtMs, fmtRatio, mediansTable, notes, ratiosTable, renderTable } from "../lib/report.js";
import type { MatmulCell, PageConfig, PageResult } from "./page.js";

const here = dirname(fileURLToPath(import.meta.url));

export interface WebGpuBenchOptions {
  readonly small: boolean;
  readonly quick: boolean;
  readonly filter?: string[];
  readonly backends?: string[];
  readonly docs: boolean;
  readonly json?: string;
  /** Render the tables (and docs) from a saved results JSON instead of running the page. */
  readonly fromJson?: string;
}

/** The installed jax-js version (its package.json is outside its exports map). */
function jaxVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("@jax-js/jax");
    const pkg = join(entry.slice(0, entry.lastIndexOf("node_modules")), "node_modules/@jax-js/jax/package.json");
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * Bundles the page with `cfg` and runs it in headless Chromium with WebGPU; the page's `[bench]`
 * console lines go to `onLog` as they come. Rejects when Chromium is missing or the page fails.
 */
export async function runBenchPage(
  cfg: PageConfig,
  onLog: (s: string) => void = () => {},
  timeoutMs = 3_600_000,
): Promise<PageResult> {
  if (CHROMIUM === undefined) throw new Error("no Chromium at /usr/bin/chromium (apt-get install chromium)");
  const entry = `import { runPage } from ${JSON.stringify(join(here, "page.ts"))};
const w = window as unknown as { __result?: unknown };
runPage(${JSON.stringify(cfg)}).then((r) => { w.__result = r; }, (e) => { w.__result = { fatal: String(e && e.stack || e) }; });
`;
  const js = await bundleSource(entry);
  const html = '<!doctype html><body><script type="module" src="/bundle.js"></script>';
  const server = createServer((req, res) => {
    const isJs = req.url === "/bundle.js";
    res.setHeader("content-type", isJs ? "text/javascript" : "text/html");
    // cross-origin isolated: performance.now() resolves 5 µs instead of 100 µs
    res.setHeader("cross-origin-opener-policy", "same-origin");
    res.setHeader("cross-origin-embedder-policy", "require-corp");
    res.end(isJs ? js : html);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: GPU_CHROMIUM_ARGS, headless: true });
  const problems: string[] = [];
  try {
    const page = await browser.newPage();
    page.on("console", (m) => {
      const t = m.text();
      if (t.startsWith("[bench] ")) onLog(t.slice(8));
      else if (m.type() === "error") problems.push(t);
      else if (m.type() === "warning") onLog(`(page) ${t}`);
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, null, {
      timeout: timeoutMs,
      polling: 250,
    });
    const r = (await page.evaluate(() => (window as { __result?: unknown }).__result)) as
      PageResult | { fatal: string };
    if ("fatal" in r) throw new Error(`the WebGPU bench page failed: ${r.fatal}\n${problems.join("\n")}`);
    return { ...r, errors: [...r.errors, ...problems.slice(0, 10)] };
  } finally {
    await browser.close();
    server.close();
  }
}

const adapterText = (a: Record<string, string>): string =>
  Object.entries(a)
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "unknown";

/** matmul rows: size, then per backend and mode the median and GFLOP/s, then jax-js best / nabla best. */
function matmulRows(cells: readonly MatmulCell[]): string[][] {
  const sizes = [...new Set(cells.map((c) => c.n))];
  const cols = [
    ["nabla", "eager"],
    ["nabla", "jit"],
    ["jax-js", "eager"],
    ["jax-js", "jit"],
  ] as const;
  return sizes.map((n) => {
    const at = (b: string, m: string) => cells.find((c) => c.n === n && c.backend === b && c.mode === m);
    const best = (b: string) =>
      Math.min(
        ...cells.filter((c) => c.n === n && c.backend === b && c.medianMs !== undefined).map((c) => c.medianMs!),
      );
    const ratio = best("jax-js") / best("nabla");
    return [
      `${n}³ f32`,
      ...cols.map(([b, m]) => {
        const c = at(b, m);
        if (c === undefined) return "";
        const cpu = c.backend === "nabla" && c.transfers?.matmul !== undefined ? " †" : "";
        return c.status === "ok" ? `${fmtMs(c.medianMs!)} ms, ${c.gflops!.toFixed(2)}${cpu}` : c.status;
      }),
      Number.isFinite(ratio) ? fmtRatio(ratio) : "-",
    ];
  });
}
/** The footnote of a † in the matmul table. */
const CPU_MATMUL =
  "†: nabla's matmul ran on the CPU by transfer (no WebGPU matmul kernel on this commit): a CPU figure, copies included";
const hasCpuMatmul = (cells: readonly MatmulCell[]): boolean =>
  cells.some((c) => c.backend === "nabla" && c.transfers?.matmul !== undefined);

const MATMUL_HEADER = ["matmul", "nabla eager", "nabla jit", "jax-js eager", "jax-js jit", "jax-js / nabla"];

/** nabla's transferred primitives, per workload (union over eager and jit, counts of the checked run). */
function transferLines(r: PageResult): string[] {
  const lines: string[] = [];
  for (const w of r.workloads)
    for (const mode of ["eager", "jit"]) {
      const c = r.results.find((x) => x.workload === w.id && x.backend === "nabla" && x.mode === mode);
      if (c?.transfers !== undefined)
        lines.push(
          `${w.id} nabla ${mode}: ${Object.entries(c.transfers)
            .map(([p, k]) => `${p}×${k}`)
            .join(", ")}`,
        );
    }
  for (const c of r.matmul)
    if (c.backend === "nabla" && c.transfers !== undefined)
      lines.push(`matmul ${c.n} nabla ${c.mode}: ${Object.keys(c.transfers).join(", ")}`);
  return lines;
}

const START = "<!-- bench-webgpu:start -->";
const END = "<!-- bench-webgpu:end -->";

function docsSection(r: PageResult, o: WebGpuBenchOptions, header: string, extraNotes: string[], date: Date): string {
  const rows = r.workloads.map((w) => ({ id: w.id, title: w.title }));
  const tr = transferLines(r);
  const parts = [
    START,
    "## WebGPU (`npm run bench -- --device webgpu`)",
    "",
    `Generated by \`npm run bench -- --device webgpu${o.small ? " --small" : ""}\` on ${date.toISOString().slice(0, 16)} UTC (${r.elapsedS.toFixed(0)} s in the page). ${header}.`,
    "",
    `**Adapter: ${adapterText(r.adapter)}.** ${isSoftware(r.adapter) ? "This is SwiftShader, a software (CPU) implementation of WebGPU: these are not GPU figures, and the ratios say how the two libraries' WebGPU paths compare on it, not how they would compare on a GPU." : "Figures from this adapter only."}`,
    "",
    `float32 only; median milliseconds after warm-up, each run forced by \`await x.data()\`; every cell first checked against the float64 reference (rel. tol ${TOLERANCE.float32}).${o.small ? " Reduced sizes (`--small`): see the workload titles." : ""}`,
    "",
    mediansTable(r.results, rows, true),
    "",
    "Ratio jax-js / nabla (nabla's best of eager and jit): above 1 means nabla is faster.",
    "",
    ratiosTable(r.results, rows, true),
    "",
    "matmul C = A·B (median ms, GFLOP/s; the time includes reading C back):",
    "",
    renderTable(MATMUL_HEADER, matmulRows(r.matmul), true),
    "",
    ...(hasCpuMatmul(r.matmul) ? [CPU_MATMUL + ".", ""] : []),
  ];
  if (tr.length > 0)
    parts.push(
      "Primitives nabla ran by transfer to the CPU (no WebGPU kernel on this commit; counts per checked run). " +
        "A transfer reads the operands back, runs the CPU kernel and uploads the result, ordered with the GPU work: " +
        "the nabla cells listed here mix SwiftShader kernels with CPU kernels and copies.",
      "",
      ...tr.map((l) => `- ${l}`),
      "",
    );
  if (extraNotes.length > 0) parts.push("Notes:", "", ...extraNotes.map((n) => `- ${n}`), "");
  parts.push(END);
  return parts.join("\n");
}

const isSoftware = (a: Record<string, string>): boolean =>
  Object.values(a).some((v) => /swiftshader|software|cpu/i.test(v));

/** Runs the WebGPU bench, prints its tables, writes the JSON and (when asked) the docs section. */
export async function runWebGpuBench(o: WebGpuBenchOptions, commit: string): Promise<void> {
  const measure: MeasureOptions = o.quick
    ? { warmup: 1, minRuns: 3, maxRuns: 5, budgetMs: 150 }
    : { warmup: 2, minRuns: 5, maxRuns: 30, budgetMs: 1000 };
  const cfg: PageConfig = {
    size: o.small ? "small" : "full",
    ...(o.filter !== undefined ? { filter: o.filter } : {}),
    backends: o.backends ?? ["nabla", "jax-js"],
    matmulSizes: o.small ? [256, 512] : [1024, 2048],
    measure,
  };
  let r: PageResult;
  let header: string;
  let date = new Date();
  if (o.fromJson !== undefined) {
    const saved = JSON.parse(readFileSync(o.fromJson, "utf8")) as PageResult & {
      header: string;
      date: string;
      config: PageConfig;
    };
    [r, header, date] = [saved, saved.header, new Date(saved.date)];
    o = { ...o, small: saved.config.size === "small" };
  } else {
    process.stderr.write(`nabla WebGPU bench: ${cfg.size} sizes, matmul at ${cfg.matmulSizes.join(", ")}\n`);
    r = await runBenchPage(cfg, (s) => process.stderr.write(s + "\n"));
    const chrome = /Chrome\/([\d.]+)/.exec(r.userAgent)?.[1] ?? "unknown";
    header = `nabla ${commit} (src/ bundled by esbuild) · jax-js ${jaxVersion()} (webgpu device) · Chromium ${chrome} headless`;
  }
  const rows = r.workloads.map((w) => ({ id: w.id, title: w.title }));
  const extra = [...r.errors, ...notes(r.results)];

  console.log(`\n${header}`);
  console.log(
    `adapter: ${adapterText(r.adapter)}${isSoftware(r.adapter) ? " — a software adapter: NOT GPU figures" : ""}`,
  );
  console.log(
    `median ms after warm-up, float32 (checked against a float64 reference first, rel. tol ${TOLERANCE.float32})\n`,
  );
  console.log(mediansTable(r.results, rows));
  console.log(`\nratio jax-js / nabla (best of eager and jit): above 1 means nabla is faster\n`);
  console.log(ratiosTable(r.results, rows));
  console.log(`\nmatmul (median ms, GFLOP/s; includes reading C back)\n`);
  console.log(renderTable(MATMUL_HEADER, matmulRows(r.matmul)));
  if (hasCpuMatmul(r.matmul)) console.log(CPU_MATMUL);
  const tr = transferLines(r);
  if (tr.length > 0) {
    console.log("\nprimitives nabla ran by transfer to the CPU (checked run):");
    for (const l of tr) console.log(`  - ${l}`);
  }
  if (extra.length > 0) {
    console.log("\nnotes:");
    for (const s of extra) console.log(`  - ${s}`);
  }
  console.log(`\ntotal ${r.elapsedS.toFixed(0)} s in the page`);

  if (o.fromJson === undefined) {
    const json = o.json ?? join(here, "..", "results-webgpu.json");
    writeFileSync(
      json,
      JSON.stringify({ date: date.toISOString(), commit, header, config: cfg, ...r }, null, 2) + "\n",
    );
    console.log(`JSON in ${json}`);
  }
  if (o.docs && o.filter === undefined && o.backends === undefined) {
    const file = join(here, "..", "..", "docs", "benchmarks.md");
    const s = docsSection(r, o, header, extra, date);
    const old = readFileSync(file, "utf8");
    const i = old.indexOf(START);
    const j = old.indexOf(END);
    let next = i >= 0 && j > i ? old.slice(0, i) + s + old.slice(j + END.length) : `${old.trimEnd()}\n\n${s}\n`;
    try {
      const prettier = await import("prettier");
      const config = (await prettier.resolveConfig(file)) ?? {};
      next = await prettier.format(next, { ...config, parser: "markdown" });
    } catch (e) {
      console.log(`(docs/benchmarks.md not formatted: ${(e as Error).message})`);
    }
    writeFileSync(file, next);
    console.log(`WebGPU section written to ${file}`);
  }
}
