/**
 * The system Chromium the browser tests drive (test/browser.test.ts,
 * test/demo.test.ts). .ci/run installs Debian's `chromium`; where none is
 * installed, or the binary does not start (an interrupted install can leave
 * one), CHROMIUM is undefined and the tests skip with `skipMessage`.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Path of a Chromium that starts, or undefined. */
export const CHROMIUM: string | undefined = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  if (!existsSync(p)) return false;
  try {
    execFileSync(p, ["--version"], { timeout: 30_000, stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
});

/** Flags for headless runs as root in a container. */
export const CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"];

/** Logs why a browser test is skipped (call at module level when CHROMIUM is undefined). */
export function skipMessage(test: string): void {
  console.log(`${test} skipped: no working Chromium at /usr/bin/chromium (apt-get install chromium)`);
}

/** The message printed where a test skips for want of Chromium. */
export const NO_CHROMIUM = "no Chromium at /usr/bin/chromium (apt-get install chromium)";

function dumpDom(url: string, profile: string): Promise<string> {
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
    "--virtual-time-budget=10000",
    "--dump-dom",
    url,
  ];
  return new Promise((ok, fail) =>
    execFile(CHROMIUM!, args, { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout) =>
      err ? fail(err) : ok(stdout),
    ),
  );
}

/**
 * Loads `bundle` (an ES module's source) in a page served over HTTP, in
 * headless Chromium, and returns the JSON the page wrote after `RESULT `.
 */
export async function runInChromium(bundle: string): Promise<Record<string, unknown>> {
  if (CHROMIUM === undefined) throw new Error(NO_CHROMIUM);
  const dir = mkdtempSync(join(tmpdir(), "nabla-chromium-"));
  const page = '<!doctype html><body>loading<script type="module" src="bundle.js"></script>';
  const server = createServer((req, res) => {
    const js = req.url === "/bundle.js";
    res.setHeader("content-type", js ? "text/javascript" : "text/html");
    res.end(js ? bundle : page);
  });
  try {
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const { port } = server.address() as AddressInfo;
    const dom = await dumpDom(`http://127.0.0.1:${port}/index.html`, join(dir, "profile"));
    const m = /RESULT (\{.*\})/.exec(dom);
    if (m === null) throw new Error(`no result in the page: ${dom.slice(0, 500)}`);
    return JSON.parse(
      m[1]!
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&"),
    );
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
