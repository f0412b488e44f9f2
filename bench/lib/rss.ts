/** Peak resident memory of one nabla cell, measured in a child process of its own (bench/rss-child.ts). */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "..", "rss-child.ts");

/** Peak RSS (MB) over a few runs of the cell, and the RSS after loading and preparing it. */
export function peakRss(
  id: string,
  dtype: string,
  mode: string,
): { peakMB: number; baseMB: number } | { error: string } {
  const p = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", CHILD, id, dtype, mode], {
    encoding: "utf8",
    timeout: 10 * 60_000,
  });
  if (p.status !== 0) return { error: `rss-child failed: ${(p.stderr ?? "").trim().split("\n").pop()}` };
  return JSON.parse(p.stdout.trim().split("\n").pop()!) as { peakMB: number; baseMB: number };
}
