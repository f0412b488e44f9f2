/** Result records, the printed tables and the JSON file. */
import type { FloatDType, Mode } from "../backends/types.js";
import { TOLERANCE } from "./check.js";
import type { Timing } from "./measure.js";

/**
 * ok: within tolerance, timed. imprecise: a float64 result accurate only to float32 tolerance,
 * timed and flagged. wrong, throws, unsupported: not timed.
 */
export type Status = "ok" | "imprecise" | "wrong" | "throws" | "unsupported";

export interface CellResult {
  readonly workload: string;
  readonly backend: string;
  readonly mode: Mode;
  readonly dtype: FloatDType;
  readonly status: Status;
  /** Relative error of the checked run against the reference (ok and wrong). */
  readonly relErr?: number;
  /** Why a cell is wrong, throws or unsupported. */
  readonly message?: string;
  /** How the workload was expressed when it differs from the obvious. */
  readonly note?: string;
  /** Wall time of the first (checked) run, including any compilation. */
  readonly firstRunMs?: number;
  readonly timing?: Timing;
}

/** A table column: one backend in one mode. */
export interface Column {
  readonly key: string;
  readonly backend: string;
  readonly mode: Mode;
}

export const COLUMNS: readonly Column[] = [
  { key: "nabla eager", backend: "nabla", mode: "eager" },
  { key: "nabla jit", backend: "nabla", mode: "jit" },
  { key: "tfjs cpu", backend: "tfjs-cpu", mode: "eager" },
  { key: "tfjs wasm", backend: "tfjs-wasm", mode: "eager" },
  { key: "jax-js eager", backend: "jax-js", mode: "eager" },
  { key: "jax-js jit", backend: "jax-js", mode: "jit" },
  { key: "torch", backend: "torch", mode: "eager" },
];

/** One progress line's verdict: the median or the status. */
export function progress(r: CellResult): string {
  if (r.timing === undefined) return r.status;
  const flag = r.status === "imprecise" ? ` (imprecise: rel. err ${r.relErr!.toExponential(1)})` : "";
  return `${r.timing.medianMs.toFixed(3)} ms, ${r.timing.runs} runs${flag}`;
}

export function fmtMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function fmtRatio(r: number): string {
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`;
}

const SHORT: Record<FloatDType, string> = { float32: "f32", float64: "f64" };

function find(results: readonly CellResult[], w: string, c: Column, dtype: FloatDType): CellResult | undefined {
  return results.find((r) => r.workload === w && r.backend === c.backend && r.mode === c.mode && r.dtype === dtype);
}

/** The nabla cell (eager or jit) with the smallest median of a workload at a dtype. */
export function bestNablaCell(results: readonly CellResult[], w: string, dtype: FloatDType): CellResult | undefined {
  const cells = results.filter(
    (r) => r.workload === w && r.backend === "nabla" && r.dtype === dtype && r.timing !== undefined,
  );
  return cells.reduce<CellResult | undefined>(
    (best, r) => (best === undefined || r.timing!.medianMs < best.timing!.medianMs ? r : best),
    undefined,
  );
}

/** The best (smallest) nabla median of a workload at a dtype, over eager and jit. */
export function bestNabla(results: readonly CellResult[], w: string, dtype: FloatDType): number | undefined {
  return bestNablaCell(results, w, dtype)?.timing!.medianMs;
}

function statusText(r: CellResult | undefined): string {
  if (r === undefined) return "";
  if (r.timing !== undefined) return fmtMs(r.timing.medianMs) + (r.status === "imprecise" ? "*" : "");
  if (r.status === "unsupported") return "n/a";
  return r.status;
}

/** An aligned text table, or (markdown) a GitHub pipe table. */
export function renderTable(header: string[], rows: string[][], markdown = false): string {
  if (markdown) {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export interface RowKey {
  readonly id: string;
  readonly title: string;
}

/** Rows: workload × dtype (a dtype row appears when any backend ran it). */
function rowsOf(results: readonly CellResult[], workloads: readonly RowKey[]): [RowKey, FloatDType][] {
  const rows: [RowKey, FloatDType][] = [];
  for (const w of workloads)
    for (const dt of ["float32", "float64"] as const)
      if (results.some((r) => r.workload === w.id && r.dtype === dt)) rows.push([w, dt]);
  return rows;
}

function presentColumns(results: readonly CellResult[]): Column[] {
  return COLUMNS.filter((c) => results.some((r) => r.backend === c.backend && r.mode === c.mode));
}

/** Median milliseconds per workload, dtype and column. */
export function mediansTable(results: readonly CellResult[], workloads: readonly RowKey[], markdown = false): string {
  const cols = presentColumns(results);
  const header = ["workload", "dtype", ...cols.map((c) => c.key)];
  const rows = rowsOf(results, workloads).map(([w, dt]) => [
    w.title,
    SHORT[dt],
    ...cols.map((c) => statusText(find(results, w.id, c, dt))),
  ]);
  return renderTable(header, rows, markdown);
}

/** peer median / best nabla median at the same dtype: above 1 means nabla is faster. */
export function ratiosTable(results: readonly CellResult[], workloads: readonly RowKey[], markdown = false): string {
  const cols = presentColumns(results).filter((c) => c.backend !== "nabla");
  const header = ["workload", "dtype", "nabla best ms", ...cols.map((c) => c.key)];
  const rows = rowsOf(results, workloads).map(([w, dt]) => {
    const base = bestNabla(results, w.id, dt);
    return [
      w.title,
      SHORT[dt],
      base === undefined ? "-" : fmtMs(base),
      ...cols.map((c) => {
        const r = find(results, w.id, c, dt);
        if (r?.timing === undefined || base === undefined) return statusText(r);
        return fmtRatio(r.timing.medianMs / base) + (r.status === "imprecise" ? "*" : "");
      }),
    ];
  });
  return renderTable(header, rows, markdown);
}

/** Notes: why cells are wrong, throw or are unsupported, and how workloads were expressed. */
export function notes(results: readonly CellResult[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (s: string) => {
    if (!seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  };
  // Imprecise cells: one line per backend and mode.
  const imprecise = new Map<string, CellResult[]>();
  for (const r of results)
    if (r.status === "imprecise") {
      const k = `${r.backend}${r.backend === "nabla" || r.backend === "jax-js" ? " " + r.mode : ""} ${r.dtype}`;
      imprecise.set(k, [...(imprecise.get(k) ?? []), r]);
    }
  for (const [k, rs] of imprecise) {
    const worst = Math.max(...rs.map((r) => r.relErr!));
    add(
      `* ${k}: results only float32-accurate (rel. err up to ${worst.toExponential(1)}, tolerance ${TOLERANCE.float64}) in ${rs.map((r) => r.workload).join(", ")}; timed anyway`,
    );
  }
  for (const r of results) {
    const who = `${r.workload} ${r.backend}${r.backend === "nabla" || r.backend === "jax-js" ? " " + r.mode : ""}`;
    if (r.status === "wrong") add(`${who} ${r.dtype}: wrong (rel. error ${r.relErr!.toExponential(2)}; ${r.message})`);
    if (r.status === "throws") add(`${who} ${r.dtype}: throws: ${r.message}`);
    if (r.status === "unsupported") add(`${r.workload} ${r.backend}: n/a (${r.message})`);
    if (r.note !== undefined) add(`${r.workload} ${r.backend}: ${r.note}`);
  }
  return out;
}
