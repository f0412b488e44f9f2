/**
 * MAML (model-agnostic meta-learning) on sine-wave regression: each task is
 * y = A sin(x + φ) with its own amplitude and phase. The inner step adapts
 * the parameters to a task's support set, θ' = θ − α ∇L_support(θ); the
 * meta-loss is L_query(θ'), and its gradient with respect to θ differentiates
 * through the inner gradient (a second-order derivative: `grad` of a function
 * that calls `grad`). The meta-gradient is checked against central finite
 * differences of the meta-loss, compared with first-order MAML (which drops
 * the second-order term with `stopGradient`), and used for meta-training
 * with Adam, batched over tasks with `vmap`.
 *
 * Run: `npm run example -- maml`.
 */
import * as nb from "../src/index.js";
import { Log, fmt } from "./util.js";

/** Parameters of the regression network 1 → H → H → 1 (tanh). */
export interface Params {
  w1: nb.NDArray;
  b1: nb.NDArray;
  w2: nb.NDArray;
  b2: nb.NDArray;
  w3: nb.NDArray;
  b3: nb.NDArray;
}

/** A batch of tasks: support and query inputs and targets, each [tasks, K]. */
export interface Tasks {
  xs: nb.NDArray;
  ys: nb.NDArray;
  xq: nb.NDArray;
  yq: nb.NDArray;
}

const predict = (p: Params, x: nb.NDArray): nb.NDArray => {
  const h1 = nb.tanh(nb.add(nb.outer(x, p.w1), p.b1)); // [K, H]
  const h2 = nb.tanh(nb.add(nb.matmul(h1, p.w2), p.b2)); // [K, H]
  return nb.add(nb.matmul(h2, p.w3), p.b3); // [K]
};
const mse = (p: Params, x: nb.NDArray, y: nb.NDArray): nb.NDArray => nb.mean(nb.square(nb.sub(predict(p, x), y)));

/** One inner gradient step on the support set, with step size alpha. */
export function adapt(p: Params, xs: nb.NDArray, ys: nb.NDArray, alpha: number, firstOrder = false): Params {
  let g = nb.grad(mse)(p, xs, ys);
  if (firstOrder) g = nb.tree.map(nb.stopGradient, g);
  return nb.tree.map((w: nb.NDArray, gw: nb.NDArray) => nb.sub(w, nb.mul(alpha, gw)), p, g) as Params;
}

/**
 * Mean meta-loss over a batch of tasks: each task's query loss after adapting
 * to its support set (inner step size alpha), batched over tasks by `vmap`.
 * `firstOrder` drops the inner gradient's own derivative (first-order MAML).
 */
export function metaLoss(p: Params, t: Tasks, alpha = 0.01, firstOrder = false): nb.NDArray {
  const losses = nb.vmap((xs: nb.NDArray, ys: nb.NDArray, xq: nb.NDArray, yq: nb.NDArray) =>
    mse(adapt(p, xs, ys, alpha, firstOrder), xq, yq),
  )(t.xs, t.ys, t.xq, t.yq);
  return nb.mean(losses);
}

/** `tasks` sine tasks with K support and K query points, x ~ U(−5, 5), A ~ U(0.1, 5), φ ~ U(0, π). */
export function sampleTasks(key: nb.NDArray, tasks: number, K: number): Tasks {
  const k = nb.random.split(key, 4);
  const ki = (i: number) => nb.take(k, i, 0);
  const amp = nb.add(0.1, nb.mul(4.9, nb.random.uniform(ki(0), [tasks, 1])));
  const phase = nb.mul(Math.PI, nb.random.uniform(ki(1), [tasks, 1]));
  const x = (kk: nb.NDArray) => nb.sub(nb.mul(10, nb.random.uniform(kk, [tasks, K])), 5);
  const xs = x(ki(2));
  const xq = x(ki(3));
  const y = (xx: nb.NDArray) => nb.mul(amp, nb.sin(nb.add(xx, phase)));
  return { xs, ys: y(xs), xq, yq: y(xq) };
}

/** Options of {@link main}. */
export interface MamlOptions {
  /** Hidden units per layer (default 20). */
  hidden?: number;
  /** Meta-training iterations (default 150). */
  iterations?: number;
  /** Tasks per meta-batch (default 8). */
  tasks?: number;
  /** Support (and query) points per task (default 10). */
  K?: number;
  /** Where progress lines go (default console.log). */
  log?: Log;
}

/** Result of {@link main}. */
export interface MamlResult {
  /** The meta-gradient's directional derivative along a random direction, by `grad` and by central differences. */
  directional: { grad: number; finiteDifference: number };
  /** max |second-order − first-order meta-gradient| (the term first-order MAML drops). */
  secondOrderTerm: number;
  /** Meta-loss on a fixed set of held-out tasks before and after meta-training. */
  heldOutBefore: number;
  heldOutAfter: number;
}

/** Checks the meta-gradient, then meta-trains; a progress line per iteration. */
export function main(opts: MamlOptions = {}): MamlResult {
  const log = opts.log ?? console.log;
  const H = opts.hidden ?? 20;
  const iterations = opts.iterations ?? 150;
  const T = opts.tasks ?? 8;
  const K = opts.K ?? 10;
  const keys = nb.random.split(nb.random.key(3), iterations + 3);
  const key = (i: number) => nb.take(keys, i, 0);
  const init = nb.random.split(key(0), 3);
  const n = (i: number, shape: number[], scale: number) => nb.mul(nb.random.normal(nb.take(init, i, 0), shape), scale);
  let p: Params = {
    w1: n(0, [H], 1),
    b1: nb.zeros([H]),
    w2: n(1, [H, H], 1 / Math.sqrt(H)),
    b2: nb.zeros([H]),
    w3: n(2, [H], 1 / Math.sqrt(H)),
    b3: nb.zeros([]),
  };

  // 1. the meta-gradient against central differences along a random direction v
  const check = sampleTasks(key(1), T, K);
  const g = nb.grad(metaLoss)(p, check);
  const dir = nb.random.split(key(2), 6);
  const names = Object.keys(p).sort() as (keyof Params)[];
  const v = Object.fromEntries(
    names.map((name, i) => [name, nb.random.normal(nb.take(dir, i, 0), p[name].shape)]),
  ) as unknown as Params;
  const along = (t: number) => nb.tree.map((w: nb.NDArray, vw: nb.NDArray) => nb.add(w, nb.mul(t, vw)), p, v) as Params;
  const eps = 1e-5;
  const finiteDifference = (metaLoss(along(eps), check).item() - metaLoss(along(-eps), check).item()) / (2 * eps);
  const dot = (a: Params, b: Params) =>
    nb.tree
      .leaves(nb.tree.map((x: nb.NDArray, y: nb.NDArray) => nb.sum(nb.mul(x, y)), a, b))
      .reduce((s: number, x) => s + (x as nb.NDArray).item(), 0);
  const directional = { grad: dot(g, v), finiteDifference };
  log(
    `meta-gradient along a random direction: grad ${directional.grad.toPrecision(10)}, central differences ${finiteDifference.toPrecision(10)}`,
  );
  const firstOrder = nb.grad((q: Params) => metaLoss(q, check, 0.01, true))(p);
  const diffs = nb.tree.leaves(
    nb.tree.map((a: nb.NDArray, b: nb.NDArray) => nb.max(nb.abs(nb.sub(a, b))), g, firstOrder),
  );
  const secondOrderTerm = Math.max(...diffs.map((d) => (d as nb.NDArray).item()));
  log(`max |MAML - first-order MAML| meta-gradient = ${secondOrderTerm.toExponential(3)}`);

  // 2. meta-training with Adam (b1 = 0.9, b2 = 0.999, bias-corrected)
  const heldOut = sampleTasks(nb.random.key(99), 32, K);
  const heldOutBefore = metaLoss(p, heldOut).item();
  const lr = 3e-3;
  const metaStep = nb.jit((p: Params, m: Params, s: Params, t: nb.NDArray, tasks: Tasks) => {
    const [loss, g] = nb.valueAndGrad(metaLoss)(p, tasks);
    const m2 = nb.tree.map((a: nb.NDArray, b: nb.NDArray) => nb.add(nb.mul(0.9, a), nb.mul(0.1, b)), m, g);
    const s2 = nb.tree.map(
      (a: nb.NDArray, b: nb.NDArray) => nb.add(nb.mul(0.999, a), nb.mul(0.001, nb.square(b))),
      s,
      g,
    );
    const c1 = nb.sub(1, nb.pow(0.9, t));
    const c2 = nb.sub(1, nb.pow(0.999, t));
    const p2 = nb.tree.map(
      (w: nb.NDArray, mw: nb.NDArray, sw: nb.NDArray) =>
        nb.sub(w, nb.mul(lr, nb.div(nb.div(mw, c1), nb.add(nb.sqrt(nb.div(sw, c2)), 1e-8)))),
      p,
      m2,
      s2,
    );
    return { p: p2, m: m2, s: s2, loss };
  });
  const zeros = () => nb.tree.map((w: nb.NDArray) => nb.zerosLike(w), p) as Params;
  let m = zeros();
  let s = zeros();
  for (let it = 0; it < iterations; it++) {
    const out = metaStep(p, m, s, nb.array(it + 1), sampleTasks(key(it + 3), T, K));
    ({ p, m, s } = out);
    log(`iter ${String(it + 1).padStart(4)}/${iterations}  meta-loss = ${fmt(out.loss.item())}`);
  }
  const heldOutAfter = metaLoss(p, heldOut).item();
  log(
    `held-out meta-loss (32 tasks): ${heldOutBefore.toFixed(4)} before, ${heldOutAfter.toFixed(4)} after meta-training`,
  );
  return { directional, secondOrderTerm, heldOutBefore, heldOutAfter };
}

/** Sizes for CI (`--small`). */
export const SMALL: MamlOptions = { hidden: 12, iterations: 40 };
