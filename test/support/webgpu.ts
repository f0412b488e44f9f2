/**
 * Runs an ES module in headless Chromium with WebGPU on SwiftShader (a
 * software adapter that works on machines without a GPU) and returns what
 * the page reports: `window.__result` once it is set (a JSON-able value).
 * The module is bundled with esbuild from `entry` (a file path), so it can
 * import `src/` and test support code directly.
 *
 * `bundleSplit` keeps the library (src/index.ts and the modules it shares with
 * the page) in a chunk file of its own, as an application importing nabla
 * sees it: stack frames then tell the library's code from the page's (the
 * call sites `config({ debugNans })` reports).
 *
 * `GPU_CHROMIUM_ARGS` are the flags; WEBGPU is undefined where no Chromium
 * starts, and `hasAdapter()` says whether the page found an adapter (tests
 * skip with a message when not).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { CHROMIUM } from "./chromium.js";

export const GPU_CHROMIUM_ARGS = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--use-webgpu-adapter=swiftshader",
  "--enable-features=Vulkan",
  "--no-first-run",
  "--disable-background-networking",
  "--js-flags=--expose-gc",
];

/** Bundles `entry` for the browser (ESM, one file) and returns its source. */
export async function bundle(entry: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "nabla-webgpu-"));
  try {
    await build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "browser",
      outfile: join(dir, "bundle.js"),
      logLevel: "silent",
      define: { "process.env.NODE_ENV": '"production"' },
    });
    return readFileSync(join(dir, "bundle.js"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A page's modules: `files` by name (served at the root), `main` the one the page loads. */
export interface PageFiles {
  readonly main: string;
  readonly files: Readonly<Record<string, string>>;
}

const LIBRARY = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

/** Bundles `entry` for the browser with the library split into a chunk of its own (ESM files). */
export async function bundleSplit(entry: string): Promise<PageFiles> {
  const dir = mkdtempSync(join(tmpdir(), "nabla-webgpu-"));
  try {
    const r = await build({
      entryPoints: { page: entry, nabla: LIBRARY },
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      outdir: dir,
      write: false,
      logLevel: "silent",
      define: { "process.env.NODE_ENV": '"production"' },
    });
    const files: Record<string, string> = {};
    for (const f of r.outputFiles) files[basename(f.path)] = f.text;
    return { main: "page.js", files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** {@link bundleSplit} of an entry given as source text (imports must be absolute). */
export async function bundleSourceSplit(source: string): Promise<PageFiles> {
  const dir = mkdtempSync(join(tmpdir(), "nabla-webgpu-src-"));
  try {
    const entry = join(dir, "entry.ts");
    writeFileSync(entry, source);
    return await bundleSplit(entry);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bundles `entry` from source text (written to a temporary file beside nothing; imports must be absolute). */
export async function bundleSource(source: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "nabla-webgpu-src-"));
  try {
    const entry = join(dir, "entry.ts");
    writeFileSync(entry, source);
    return await bundle(entry);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Loads `js` (an ES module's source, or a page's modules) in a page of headless Chromium with WebGPU, waits until
 * `window.__result` is set (or `timeoutMs` passes) and returns it. Console errors are collected in
 * `consoleErrors` of the returned object when the page sets no result.
 */
export async function runWebGpuPage(js: string | PageFiles, timeoutMs = 120_000): Promise<unknown> {
  if (CHROMIUM === undefined) throw new Error("no Chromium at /usr/bin/chromium (apt-get install chromium)");
  const { main, files } = typeof js === "string" ? { main: "bundle.js", files: { "bundle.js": js } } : js;
  const page = `<!doctype html><body><script type="module" src="/${main}"></script>`;
  const server = createServer((req, res) => {
    const name = (req.url ?? "").slice(1);
    const file = Object.prototype.hasOwnProperty.call(files, name) ? files[name] : undefined;
    res.setHeader("content-type", file !== undefined ? "text/javascript" : "text/html");
    res.end(file ?? page);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: GPU_CHROMIUM_ARGS, headless: true });
  const logs: string[] = [];
  try {
    const p = await browser.newPage();
    p.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") logs.push(m.text());
    });
    p.on("pageerror", (e) => logs.push(String(e)));
    const { port } = server.address() as AddressInfo;
    await p.goto(`http://127.0.0.1:${port}/`);
    try {
      await p.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, null, {
        timeout: timeoutMs,
        polling: 100,
      });
    } catch {
      return { pageError: `no result within ${timeoutMs} ms`, consoleErrors: logs };
    }
    const result = await p.evaluate(() => (window as { __result?: unknown }).__result);
    return logs.length > 0 && typeof result === "object" && result !== null
      ? { ...result, consoleErrors: logs }
      : result;
  } finally {
    await browser.close();
    server.close();
  }
}
