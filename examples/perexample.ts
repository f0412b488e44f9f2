/**
 * Logistic regression with per-example gradients: `vmap(grad(loss))` gives
 * the gradient of every example's loss in one batched pass. They are checked
 * against a JS loop of `grad` over the examples, then used for DP-SGD-style
 * training: each example's gradient is clipped to norm ≤ C before averaging,
 * which needs the per-example gradients (the mean gradient is not enough).
 *
 * Run: `npm run example -- perexample`.
 */
import * as nb from "../src/index.js";
import { Log, elem, fmt } from "./util.js";

/** Model parameters. */
export interface Params {
  w: nb.NDArray;
  b: nb.NDArray;
}

/** Binary cross-entropy of one example (x: [d], y: 0 or 1), computed stably from the logit. */
export function loss(p: Params, x: nb.NDArray, y: nb.NDArray): nb.NDArray {
  const z = nb.add(nb.dot(p.w, x), p.b);
  // −[y log σ(z) + (1 − y) log(1 − σ(z))] = softplus(z) − y z
  return nb.sub(nb.softplus(z), nb.mul(y, z));
}

/** Per-example gradients: one pass, batched over the rows of xs and ys. */
export const perExampleGrads = nb.vmap(nb.grad(loss), { inAxes: [null, 0, 0] }) as (
  p: Params,
  xs: nb.NDArray,
  ys: nb.NDArray,
) => Params;

/** Options of {@link main}. */
export interface PerExampleOptions {
  /** Number of examples (default 512). */
  n?: number;
  /** Features (default 5). */
  d?: number;
  /** Epochs of full-batch clipped gradient descent (default 40). */
  epochs?: number;
  /** Learning rate (default 0.5). */
  lr?: number;
  /** Clipping norm C (default 1). */
  clip?: number;
  /** Where progress lines go (default console.log). */
  log?: Log;
}

/** Result of {@link main}. */
export interface PerExampleResult {
  /** Largest |vmap(grad) − loop of grad| over all examples and parameters. */
  maxDiffFromLoop: number;
  /** Mean loss before each epoch, and after the last. */
  losses: number[];
  /** Training accuracy at the end. */
  accuracy: number;
}

/** Synthetic data: x ~ N(0, I), y ~ Bernoulli(σ(w*·x + b*)). */
export function makeData(n: number, d: number, seed = 0): { xs: nb.NDArray; ys: nb.NDArray } {
  const keys = nb.random.split(nb.random.key(seed), 3);
  const [kx, kw, ky] = [nb.take(keys, 0, 0), nb.take(keys, 1, 0), nb.take(keys, 2, 0)];
  const xs = nb.random.normal(kx, [n, d]);
  const wTrue = nb.mul(nb.random.normal(kw, [d]), 2);
  const p = nb.sigmoid(nb.add(nb.matmul(xs, wTrue), 0.5));
  const ys = nb.astype(nb.random.bernoulli(ky, p), "float64");
  return { xs, ys };
}

/** Per-example gradients, checked against a loop, then clipped-gradient training; a line per epoch. */
export function main(opts: PerExampleOptions = {}): PerExampleResult {
  const log = opts.log ?? console.log;
  const n = opts.n ?? 512;
  const d = opts.d ?? 5;
  const epochs = opts.epochs ?? 40;
  const lr = opts.lr ?? 0.5;
  const C = opts.clip ?? 1;
  const { xs, ys } = makeData(n, d);
  let p: Params = { w: nb.zeros([d]), b: nb.array(0) };

  // vmap(grad) against a plain loop of grad, at a non-trivial point
  const probe: Params = { w: nb.linspace(-1, 1, d), b: nb.array(0.3) };
  const batched = perExampleGrads(probe, xs, ys);
  let maxDiffFromLoop = 0;
  for (let i = 0; i < n; i++) {
    const xi = nb.take(xs, i, 0);
    const gi = nb.grad(loss)(probe, xi, nb.take(ys, i, 0));
    const dw = nb.max(nb.abs(nb.sub(gi.w, nb.take(batched.w, i, 0)))).item();
    const db = Math.abs(gi.b.item() - nb.take(batched.b, i, 0).item());
    maxDiffFromLoop = Math.max(maxDiffFromLoop, dw, db);
  }
  log(`per-example gradients of ${n} examples: max |vmap(grad) - loop| = ${maxDiffFromLoop.toExponential(2)}`);

  const meanLoss = nb.jit((p: Params) => nb.mean(nb.vmap(loss, { inAxes: [null, 0, 0] })(p, xs, ys)));
  // one clipped step: g_i ← g_i · min(1, C / ‖g_i‖), then p ← p − lr · mean_i g_i
  const step = nb.jit((p: Params): Params => {
    const g = perExampleGrads(p, xs, ys);
    const norms = nb.sqrt(nb.add(nb.sum(nb.square(g.w), 1), nb.square(g.b)));
    const scale = nb.minimum(1, nb.div(C, nb.maximum(norms, 1e-12)));
    const gw = nb.mean(nb.mul(g.w, nb.expandDims(scale, 1)), 0);
    const gb = nb.mean(nb.mul(g.b, scale));
    return { w: nb.sub(p.w, nb.mul(lr, gw)), b: nb.sub(p.b, nb.mul(lr, gb)) };
  });
  const losses: number[] = [];
  for (let e = 0; e < epochs; e++) {
    losses.push(meanLoss(p).item());
    log(`epoch ${String(e + 1).padStart(3)}/${epochs}  loss = ${fmt(elem(losses, e, "losses"))}`);
    p = step(p);
  }
  losses.push(meanLoss(p).item());
  const pred = nb.greater(nb.add(nb.matmul(xs, p.w), p.b), 0);
  const accuracy = nb.mean(nb.astype(nb.equal(nb.astype(pred, "float64"), ys), "float64")).item();
  log(`final loss = ${fmt(elem(losses, epochs, "losses"))}  training accuracy = ${(100 * accuracy).toFixed(1)}%`);
  return { maxDiffFromLoop, losses, accuracy };
}

/** Sizes for CI (`--small`). */
export const SMALL: PerExampleOptions = { n: 128, epochs: 15 };
