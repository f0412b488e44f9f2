/**
 * The system Chromium the browser tests drive (test/browser.test.ts,
 * test/demo.test.ts). .ci/run installs Debian's `chromium`; where none is
 * installed, or the binary does not start (an interrupted install can leave
 * one), CHROMIUM is undefined and the tests skip with `skipMessage`.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

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
