/**
 * `npm run bench`: runs every workload through nabla and its peers in one
 * process (PyTorch, when installed, in one Python subprocess), checks each
 * result against a float64 reference before timing it, and prints median
 * milliseconds and peer/nabla ratios. Writes bench/results.json.
 *
 * Options (after `npm run bench --`):
 *   --quick               fewer runs (a smoke test of the harness)
 *   --filter a,b          only workloads whose id contains one of the strings
 *   --backends a,b        only these backends (nabla, tfjs-cpu, tfjs-wasm, jax-js, torch)
 *   --dtypes float32      only these dtypes
 *   --json path           where to write the JSON results (default bench/results.json)
 *   --suite W|extra|all   W1–W6 of issue 8 (default), the older workloads, or both
 *   --only overhead       only the eager-overhead figures (bench/overhead.ts)
 *   --only jet            only jet vs nested jvp (bench/jet.ts)
 *   --only matmul         only matmul GFLOP/s at 256, 512, 1024 per thread count (bench/matmul.ts)
 *   --torch-threads 1,2   PyTorch's intra-op thread counts, one torch run each, every cell keeps its
 *                         fastest (default: 1 and nabla's pool, config().threads)
 *   --no-docs             do not rewrite the generated section of docs/benchmarks.md
 *   --src                 time src/ through tsx instead of the compiled build (see lib/nabla.ts)
 *   --device webgpu       W1–W6 and matmul (1024, 2048) in headless Chromium on WebGPU, nabla next to
 *                         jax-js's webgpu device (bench/webgpu/run.ts); with --small, reduced sizes and
 *                         matmul at 256, 512; honours --quick, --filter, --backends, --json, --no-docs;
 *                         writes its own section of docs/benchmarks.md (the CPU sections are kept);
 *                         --from-json path re-renders a saved bench/results-webgpu.json without running
 */
import { execSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { jaxBackend, loadJax } from "./backends/jaxjs.js";
import { describeWasm, loadTf, tfBackend } from "./backends/tfjs.js";
import { describeTorch, probeTorch, runTorch } from "./backends/torch.js";
import { type Backend, type FloatDType, type Mode, Unsupported } from "./backends/types.js";
import { TOLERANCE, check } from "./lib/check.js";
import { type MeasureOptions, collectGarbage, measure } from "./lib/measure.js";
import {
  type CellResult,
  bestNablaCell,
  mediansTable,
  notes,
  progress,
  ratiosTable,
  renderTable,
} from "./lib/report.js";
import { type Workload, workloads } from "./workloads.js";
import { peakRss } from "./lib/rss.js";
import { writeDocs, writeReadme } from "./lib/docs.js";

const here = dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    filter: { type: "string" },
    backends: { type: "string" },
    dtypes: { type: "string" },
    json: { type: "string", default: join(here, "results.json") },
    suite: { type: "string", default: "W" },
    only: { type: "string" },
    "no-docs": { type: "boolean", default: false },
    "torch-threads": { type: "string" },
    src: { type: "boolean", default: false },
    device: { type: "string", default: "cpu" },
    small: { type: "boolean", default: false },
    "from-json": { type: "string" },
  },
});

if (opts.device !== "cpu") {
  if (opts.device !== "webgpu") throw new Error(`--device: expected cpu or webgpu, got ${opts.device}`);
  const { runWebGpuBench } = await import("./webgpu/run.js");
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: here, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    // Not a git checkout.
  }
  const split = (v: string | undefined): string[] | undefined => v?.split(",").map((x) => x.trim());
  await runWebGpuBench(
    {
      small: opts.small,
      quick: opts.quick,
      docs: !opts["no-docs"],
      ...(opts.filter !== undefined ? { filter: split(opts.filter)! } : {}),
      ...(opts.backends !== undefined ? { backends: split(opts.backends)! } : {}),
      ...(opts.json !== join(here, "results.json") ? { json: opts.json! } : {}),
      ...(opts["from-json"] !== undefined ? { fromJson: opts["from-json"] } : {}),
    },
    commit,
  );
  process.exit(0);
}

// nabla as users get it: src/ compiled by tsc into a temporary directory (lib/nabla.ts loads it).
if (!opts.src && process.env.NABLA_BENCH_BUILD === undefined) {
  const out = mkdtempSync(join(os.tmpdir(), "nabla-bench-build-"));
  execSync(`npx tsc -p tsconfig.build.json --outDir ${out} --declaration false --sourceMap false`, {
    cwd: join(here, ".."),
    stdio: "inherit",
  });
  writeFileSync(join(out, "package.json"), '{ "type": "module" }\n');
  process.env.NABLA_BENCH_BUILD = out;
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
}
const { nablaBackend } = await import("./backends/nabla.js");
const { measureOverhead, measureOverheadIsolated, overheadTable } = await import("./overhead.js");
const { nablaSource, nb } = await import("./lib/nabla.js");

// issue 11 (jet branch): Taylor mode vs nested jvp, a table of its own
const { measureJet, jetTable } = await import("./jet.js");
const jetHeader = ["jet vs nested jvp (order 8)", "jet", "nested jvp", "nested / jet"];
if (opts.only === "jet") {
  console.log(renderTable(jetHeader, jetTable(measureJet())));
  process.exit(0);
}

if (opts.only === "overhead") {
  const rows = overheadTable(measureOverhead());
  console.log(renderTable(["eager overhead (nabla, own process)", "median", "target", ""], rows));
  process.exit(0);
}

const list = (s: string | undefined): string[] | undefined => s?.split(",").map((x) => x.trim());
const filters = list(opts.filter);
const onlyBackends = list(opts.backends);
const onlyDtypes = list(opts.dtypes) as FloatDType[] | undefined;
const wanted = (name: string) => onlyBackends === undefined || onlyBackends.includes(name);

const measureOpts: MeasureOptions = opts.quick
  ? { warmup: 1, minRuns: 3, maxRuns: 10, budgetMs: 150 }
  : { warmup: 2, minRuns: 7, maxRuns: 60, budgetMs: 700 };

// threads branch (issue 8): matmul GFLOP/s against the WASM-SIMD peak, a table of its own
if (opts.only === "matmul") {
  const { matmulHeader, matmulTable, measureMatmul, measureW2Matmuls, w2MatmulTable } = await import("./matmul.js");
  const { measureSimdPeak } = await import("./simdPeak.js");
  const peak = measureSimdPeak();
  console.log(peak.lines.join("\n"));
  console.log(
    `WASM-SIMD peak, one thread: ${peak.float32.toFixed(1)} GFLOP/s float32, ${peak.float64.toFixed(1)} float64\n`,
  );
  console.log(renderTable(matmulHeader, matmulTable(await measureMatmul(measureOpts), peak)));
  console.log("");
  console.log(renderTable(matmulHeader, w2MatmulTable(await measureW2Matmuls(measureOpts), peak)));
  process.exit(0);
}

const log = (s: string) => process.stderr.write(s + "\n");
const errMessage = (e: unknown) => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e));

// ---------------------------------------------------------------------------
// Backends

const backends: Backend[] = [];
const versions: Record<string, string> = { node: process.version, nabla: nablaSource };
const skipped: string[] = [];

if (wanted("nabla")) backends.push(nablaBackend);
if (wanted("tfjs-cpu") || wanted("tfjs-wasm")) {
  const t = loadTf();
  if ("error" in t) skipped.push(`TF.js: not loadable (${t.error})`);
  else {
    versions.tfjs = t.version;
    if (wanted("tfjs-cpu")) backends.push(tfBackend(t.tf, "cpu"));
    if (wanted("tfjs-wasm")) {
      backends.push(tfBackend(t.tf, "wasm"));
      versions["tfjs-wasm"] = await describeWasm(t.tf);
    }
  }
}
if (wanted("jax-js")) {
  const j = await loadJax();
  if ("error" in j) skipped.push(`jax-js: not loadable (${j.error})`);
  else {
    versions["jax-js"] = j.version;
    backends.push(jaxBackend(j.jax));
  }
}
const torch = wanted("torch") ? probeTorch() : { error: "not requested" };
if ("error" in torch) skipped.push(`PyTorch: skipped (${torch.error})`);
else versions.torch = describeTorch(torch, null);
// PyTorch runs once per thread count and each cell keeps its fastest: by default 1 thread and as
// many as nabla's pool (config().threads: by default the available cores). On a 2-core machine one
// torch thread is sometimes faster (small ops, OpenMP barriers), so torch gets its best.
const torchThreadList = [
  ...new Set(
    (opts["torch-threads"] === undefined ? `1,${nb.config().threads}` : opts["torch-threads"])
      .split(",")
      .map((s) => Number(s.trim())),
  ),
];
for (const t of torchThreadList)
  if (!Number.isInteger(t) || t < 1)
    throw new Error(`--torch-threads: expected positive integers separated by commas, got ${opts["torch-threads"]}`);

// ---------------------------------------------------------------------------
// Cells

/** Prepares, checks, then times one (workload, backend, dtype, mode); wrong or failing cells are not timed. */
async function runCell(
  b: Backend,
  w: Workload,
  ref: Float64Array[],
  dtype: FloatDType,
  mode: Mode,
): Promise<CellResult> {
  const base = { workload: w.id, backend: b.name, mode, dtype };
  collectGarbage();
  let prepared;
  try {
    await b.activate?.();
    prepared = b.prepare(w, dtype, mode);
  } catch (e) {
    return { ...base, status: "throws", message: errMessage(e) };
  }
  if (prepared instanceof Unsupported) return { ...base, status: "unsupported", message: prepared.reason };
  const r = prepared;
  const note = r.note !== undefined ? { note: r.note } : {};
  try {
    const t0 = performance.now();
    let out;
    try {
      out = r.run();
    } catch (e) {
      return { ...base, ...note, status: "throws", message: errMessage(e) };
    }
    const firstRunMs = performance.now() - t0;
    const c = check(out, ref, dtype);
    if (!c.ok && !c.imprecise) return { ...base, ...note, status: "wrong", relErr: c.relErr, message: c.message };
    const timing = measure(() => r.run(), measureOpts);
    return { ...base, ...note, status: c.ok ? "ok" : "imprecise", relErr: c.relErr, firstRunMs, timing };
  } catch (e) {
    // A failure after the checked run (e.g. out of memory while timing).
    return { ...base, ...note, status: "throws", message: errMessage(e) };
  } finally {
    try {
      r.dispose?.();
    } catch {
      // Disposal failures do not change the measurement.
    }
  }
}

const selected = workloads().filter(
  (w) =>
    (opts.suite === "all" || w.suite === opts.suite) &&
    (filters === undefined || filters.some((f) => w.id.includes(f))),
);
const dtypes: FloatDType[] = (["float32", "float64"] as const).filter(
  (d) => onlyDtypes === undefined || onlyDtypes.includes(d),
);
const references = new Map<string, Float64Array[]>();
const results: CellResult[] = [];
const started = performance.now();

log(`nabla bench: ${selected.length} workloads, backends ${backends.map((b) => b.name).join(", ")}`);
for (const s of skipped) log(`  ${s}`);

// Eager overhead first, in a child process with nabla alone loaded (bench/overhead-child.ts): the
// peers' heaps, and after the workloads their garbage, make this process's major GCs dearer.
const overhead = selected.some((w) => w.suite === "W") ? overheadTable(measureOverheadIsolated()) : [];
const jetRows = selected.some((w) => w.suite === "W") ? jetTable(measureJet()) : [];

for (const w of selected) {
  const ref = w.reference();
  references.set(w.id, ref);
  log(`\n${w.id}: ${w.title}`);
  for (const b of backends)
    for (const dtype of dtypes.filter((d) => b.dtypes.includes(d)))
      for (const mode of b.modes) {
        const res = await runCell(b, w, ref, dtype, mode);
        results.push(res);
        log(`  ${b.name.padEnd(10)} ${mode.padEnd(6)} ${dtype}  ${progress(res)}`);
      }
}

if (!("error" in torch)) {
  const runs = torchThreadList.map((threads) => {
    log(`\ntorch ${torch.version}: running ${selected.length} workloads in one subprocess, ${threads} threads`);
    const run = runTorch(torch, threads, selected, dtypes, measureOpts, (id, dtype, out) => {
      return check(out, references.get(id)!, dtype);
    });
    for (const r of run.cells) log(`  ${r.workload.padEnd(22)} torch ${r.dtype} ${threads}t  ${progress(r)}`);
    return { threads, run };
  });
  versions.torch = runs
    .map((r) => describeTorch(torch, r.run.threads))
    .join(runs.length > 1 ? " / " : "")
    .concat(runs.length > 1 ? "; each cell the fastest of these runs" : "");
  for (const cell of runs[0]!.run.cells) {
    const same = runs.map((r) => ({
      threads: r.threads,
      cell: r.run.cells.find((c) => c.workload === cell.workload && c.dtype === cell.dtype),
    }));
    const timed = same.filter((x) => x.cell?.timing !== undefined);
    if (timed.length === 0) {
      results.push(cell);
      continue;
    }
    const best = timed.reduce((a, b) => (b.cell!.timing!.medianMs < a.cell!.timing!.medianMs ? b : a));
    const others = timed
      .filter((x) => x !== best)
      .map((x) => `${x.threads} thread${x.threads === 1 ? "" : "s"} ${x.cell!.timing!.medianMs.toPrecision(3)} ms`)
      .join(", ");
    const threadNote =
      runs.length > 1
        ? `${cell.dtype}: ${best.threads} thread${best.threads === 1 ? "" : "s"} (fastest; ${others})`
        : "";
    const note = [best.cell!.note, threadNote].filter((x) => x !== undefined && x !== "").join("; ");
    results.push({ ...best.cell!, ...(note !== "" ? { note } : {}) });
  }
}

// ---------------------------------------------------------------------------
// Peak memory (W2, W5: nabla's faster mode, one child process per cell) and eager overhead

const rss: string[][] = [];
for (const w of selected.filter((x) => x.id.startsWith("W2") || x.id.startsWith("W5")))
  for (const dtype of dtypes) {
    const best = bestNablaCell(results, w.id, dtype);
    if (best === undefined) continue;
    const r = peakRss(w.id, dtype, best.mode);
    rss.push([
      w.title,
      dtype,
      best.mode,
      "error" in r ? r.error : `${r.peakMB.toFixed(0)} MB (after loading: ${r.baseMB.toFixed(0)} MB)`,
    ]);
    log(`  peak RSS ${w.id} nabla ${best.mode} ${dtype}: ${rss[rss.length - 1]![3]}`);
  }

// ---------------------------------------------------------------------------
// Report

const elapsedS = (performance.now() - started) / 1000;
const rowKeys = selected.map((w) => ({ id: w.id, title: w.title }));
let commit = "unknown";
try {
  commit = execSync("git rev-parse --short HEAD", { cwd: here, stdio: ["ignore", "pipe", "ignore"] })
    .toString()
    .trim();
  const dirty = execSync("git status --porcelain -- src", { cwd: here, stdio: ["ignore", "pipe", "ignore"] });
  if (dirty.toString().trim() !== "") commit += " (src modified)";
} catch {
  // Not a git checkout.
}
const cpu = os.cpus()[0]?.model ?? "unknown cpu";
const header = `nabla ${commit} · ${Object.entries(versions)
  .map(([k, v]) => `${k} ${v}`)
  .join(" · ")} · ${cpu} x${os.cpus().length}`;

console.log(`\n${header}`);
console.log(
  `median ms after warm-up (checked against a float64 reference first: f32 rel. tol ${TOLERANCE.float32}, f64 ${TOLERANCE.float64})\n`,
);
console.log(mediansTable(results, rowKeys));
console.log(`\nratio peer / nabla (best of eager and jit, same dtype): above 1 means nabla is faster\n`);
console.log(ratiosTable(results, rowKeys));
const ns = notes(results);
if (skipped.length + ns.length > 0) {
  console.log("\nnotes:");
  for (const s of [...skipped, ...ns]) console.log(`  - ${s}`);
}
if (rss.length > 0) console.log("\n" + renderTable(["peak RSS (nabla, own process)", "dtype", "mode", "RSS"], rss));
if (overhead.length > 0)
  console.log("\n" + renderTable(["eager overhead (nabla, own process)", "median", "target", ""], overhead));
if (jetRows.length > 0) console.log("\n" + renderTable(jetHeader, jetRows));
console.log(`\ntotal ${elapsedS.toFixed(0)} s; JSON in ${opts.json}`);
if (!opts["no-docs"] && opts.suite === "W" && filters === undefined) {
  const file = join(here, "..", "docs", "benchmarks.md");
  const readme = join(here, "..", "README.md");
  const input = { header, results, rows: rowKeys, rss, overhead, notes: [...skipped, ...ns], elapsedS };
  writeDocs(file, input);
  writeReadme(readme, input);
  // the project's prettier style (tables padded), so `npm run lint` accepts the rewritten files
  for (const f of [file, readme])
    try {
      const prettier = await import("prettier");
      const config = (await prettier.resolveConfig(f)) ?? {};
      writeFileSync(f, await prettier.format(readFileSync(f, "utf8"), { ...config, parser: "markdown" }));
    } catch (e) {
      console.log(`(${f} not formatted: ${(e as Error).message})`);
    }
  console.log(`docs section written to ${file}, performance table to ${readme}`);
}

/** Formats with the project's prettier config when available, so `prettier --check .` accepts the file. */
async function prettyJson(file: string, text: string): Promise<string> {
  try {
    const prettier = await import("prettier");
    const config = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...config, parser: "json" });
  } catch {
    return text;
  }
}

const jsonText = await prettyJson(
  opts.json!,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      commit,
      versions,
      machine: { cpu, cores: os.cpus().length, platform: `${os.platform()} ${os.release()}` },
      measure: measureOpts,
      tolerance: TOLERANCE,
      skipped,
      workloads: selected.map((w) => ({ id: w.id, kind: w.kind, title: w.title, params: w.params })),
      results,
      elapsedS,
    },
    null,
    2,
  ) + "\n",
);
writeFileSync(opts.json!, jsonText);
