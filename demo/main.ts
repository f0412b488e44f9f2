/**
 * The browser demo's page script: reads the expression, computes f and its
 * first three derivatives with nabla (demo/expr.ts), draws them on the canvas
 * with axes, ticks and a legend, and prints the graph of f′. The plotted
 * values are exposed as `window.__plot` for test/demo.test.ts.
 */
import { analyse, type Analysis } from "./expr.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
const LABELS = ["f", "f′", "f″", "f‴"];

/** Element `i` of `xs`, which the caller knows exists. */
function pick<T>(xs: readonly T[], i: number): T {
  const v = xs[i];
  if (v === undefined) throw new RangeError(`no element ${i} of ${xs.length}`);
  return v;
}
const POINTS = 401;

declare global {
  interface Window {
    __plot?: { expr: string; xs: number[]; series: number[][] } | { expr: string; error: string };
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Tick positions at a "nice" step (1, 2 or 5 × 10^k) giving about `count` ticks over [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag; // 10·mag ≥ raw always
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

/** The y-range: the 1st to 99th percentile of the finite values, padded, so poles do not flatten the rest. */
function yRange(series: number[][]): [number, number] {
  const v = series
    .flat()
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  if (v.length === 0) return [-1, 1];
  let lo = pick(v, Math.floor(0.01 * (v.length - 1)));
  let hi = pick(v, Math.ceil(0.99 * (v.length - 1)));
  if (hi - lo < 1e-9) [lo, hi] = [lo - 1, hi + 1];
  const pad = 0.08 * (hi - lo);
  return [lo - pad, hi + pad];
}

function draw(canvas: HTMLCanvasElement, a: Analysis): void {
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("this browser gives no 2d canvas context");
  const W = canvas.width;
  const H = canvas.height;
  const m = { left: 56, right: 16, top: 16, bottom: 36 };
  const [x0, x1] = [pick(a.xs, 0), pick(a.xs, a.xs.length - 1)];
  const [y0, y1] = yRange(a.series);
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  ctx.font = "12px sans-serif";

  // grid lines and tick labels
  ctx.strokeStyle = "#e6e6e6";
  ctx.fillStyle = "#333";
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of ticks(x0, x1, 10)) {
    ctx.beginPath();
    ctx.moveTo(px(t), m.top);
    ctx.lineTo(px(t), H - m.bottom);
    ctx.stroke();
    ctx.fillText(String(Number(t.toPrecision(6))), px(t), H - m.bottom + 6);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of ticks(y0, y1, 8)) {
    ctx.beginPath();
    ctx.moveTo(m.left, py(t));
    ctx.lineTo(W - m.right, py(t));
    ctx.stroke();
    ctx.fillText(String(Number(t.toPrecision(6))), m.left - 6, py(t));
  }
  // axes: x = 0 and y = 0 where visible, else the plot's edges
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 1.25;
  const ax = y0 <= 0 && 0 <= y1 ? py(0) : H - m.bottom;
  const ay = x0 <= 0 && 0 <= x1 ? px(0) : m.left;
  ctx.beginPath();
  ctx.moveTo(m.left, ax);
  ctx.lineTo(W - m.right, ax);
  ctx.moveTo(ay, m.top);
  ctx.lineTo(ay, H - m.bottom);
  ctx.stroke();
  ctx.fillStyle = "#000";
  ctx.textAlign = "right";
  ctx.textBaseline = "bottom";
  ctx.fillText("x", W - m.right, ax - 4);

  // the curves, clipped to the plot area, broken at non-finite values
  ctx.save();
  ctx.beginPath();
  ctx.rect(m.left, m.top, W - m.left - m.right, H - m.top - m.bottom);
  ctx.clip();
  a.series.forEach((ys, s) => {
    ctx.strokeStyle = pick(COLORS, s);
    ctx.lineWidth = s === 0 ? 2.5 : 1.75;
    ctx.beginPath();
    let pen = false;
    ys.forEach((y, i) => {
      if (!Number.isFinite(y)) {
        pen = false;
        return;
      }
      const [cx, cy] = [px(pick(a.xs, i)), Math.max(-1e4, Math.min(1e4, py(y)))];
      if (pen) ctx.lineTo(cx, cy);
      else ctx.moveTo(cx, cy);
      pen = true;
    });
    ctx.stroke();
  });
  ctx.restore();

  // legend
  const lx = W - m.right - 80;
  const ly = m.top + 10;
  ctx.fillStyle = "rgba(255, 255, 255, 0.9)";
  ctx.strokeStyle = "#999";
  ctx.lineWidth = 1;
  ctx.fillRect(lx - 10, ly - 8, 84, 4 * 20 + 4);
  ctx.strokeRect(lx - 10, ly - 8, 84, 4 * 20 + 4);
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  LABELS.forEach((label, s) => {
    ctx.strokeStyle = pick(COLORS, s);
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ctx.moveTo(lx, ly + 20 * s + 2);
    ctx.lineTo(lx + 28, ly + 20 * s + 2);
    ctx.stroke();
    ctx.fillStyle = "#000";
    ctx.fillText(label, lx + 36, ly + 20 * s + 2);
  });
}

function run(): void {
  const expr = $<HTMLInputElement>("expr").value;
  const lo = Number($<HTMLInputElement>("xmin").value);
  const hi = Number($<HTMLInputElement>("xmax").value);
  const error = $("error");
  try {
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) throw new Error("x range: need finite x min < x max");
    const a = analyse(expr, lo, hi, POINTS);
    draw($<HTMLCanvasElement>("plot"), a);
    $("graph").textContent = a.graph;
    error.textContent = "";
    window.__plot = { expr, xs: a.xs, series: a.series };
  } catch (e) {
    error.textContent = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    window.__plot = { expr, error: error.textContent };
  }
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  run();
});
run();
