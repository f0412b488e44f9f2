/**
 * Timing: warm-up runs, then a median over repeated runs within a time budget. Uses the global
 * `performance` (Node and browsers), so the WebGPU page (bench/webgpu/page.ts) imports it too.
 */

export interface MeasureOptions {
  /** Untimed runs after the checked run (which is itself untimed). */
  readonly warmup: number;
  readonly minRuns: number;
  readonly maxRuns: number;
  /** Stop once minRuns are done and this many milliseconds have been spent timing. */
  readonly budgetMs: number;
}

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Interquartile range, a noise indicator. */
  readonly iqrMs: number;
  readonly runs: number;
  readonly samplesMs: number[];
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Collects garbage when node runs with --expose-gc, so one cell's garbage is not paid by the next. */
export function collectGarbage(): void {
  gc?.();
}

/**
 * Runs shorter than this are timed in batches: one sample is `batch` back-to-back runs (batch =
 * ceil(MIN_SAMPLE_MS / one run's time), at most 10,000) divided by `batch`, after as many
 * warm-up runs as one sample has. A single microsecond call timed alone measures the timer and
 * code the JS engine has not optimised yet (W3 after 2 warm-ups: 5-6 µs, steady state 1.7 µs),
 * not what a loop of calls costs. torch_bench.py does the same for PyTorch.
 */
export const MIN_SAMPLE_MS = 1;

/** Times `run` (which must force its results) and returns the distribution of wall-clock times. */
export function measure(run: () => unknown, opts: MeasureOptions): Timing {
  for (let i = 0; i < opts.warmup; i++) run();
  let batch = 1;
  const c0 = performance.now();
  run();
  const once = performance.now() - c0;
  if (once < MIN_SAMPLE_MS) {
    batch = Math.min(10_000, Math.ceil(MIN_SAMPLE_MS / Math.max(once, 1e-4)));
    for (let i = 0; i < batch; i++) run();
  }
  collectGarbage();
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < opts.maxRuns) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) run();
    const total = performance.now() - t0;
    const dt = total / batch;
    samples.push(dt);
    spent += total;
    if (samples.length >= opts.minRuns && spent >= opts.budgetMs) break;
    // Slow cells: three runs are enough once three budgets have been spent.
    if (samples.length >= 3 && spent >= 3 * opts.budgetMs) break;
  }
  return timingOf(samples);
}

/** {@link measure} for a run that resolves once its results are on the host (a device readback). */
export async function measureAsync(run: () => Promise<unknown>, opts: MeasureOptions): Promise<Timing> {
  for (let i = 0; i < opts.warmup; i++) await run();
  collectGarbage();
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < opts.maxRuns) {
    const t0 = performance.now();
    await run();
    const dt = performance.now() - t0;
    samples.push(dt);
    spent += dt;
    if (samples.length >= opts.minRuns && spent >= opts.budgetMs) break;
    if (samples.length >= 3 && spent >= 3 * opts.budgetMs) break;
  }
  return timingOf(samples);
}

/** Median, range and interquartile range of timing samples (ms). */
export function timingOf(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    medianMs: quantile(sorted, 0.5),
    minMs: sorted[0]!,
    maxMs: sorted[sorted.length - 1]!,
    iqrMs: quantile(sorted, 0.75) - quantile(sorted, 0.25),
    runs: samples.length,
    samplesMs: samples,
  };
}
