/**
 * A physics-informed network for the 1-D Poisson problem
 *
 *     u''(x) = −π² sin(πx) on (0, 1),  u(0) = u(1) = 0,
 *
 * whose exact solution is u(x) = sin(πx). The network is
 * u(x) = x (1 − x) · N(x) with N a one-hidden-layer tanh network, so the
 * boundary conditions hold exactly and only the equation is fitted. The
 * residual u''(xᵢ) − f(xᵢ) at collocation points needs a second derivative
 * in x (`grad(grad(u))`, batched over the points by `vmap`), and the
 * Levenberg–Marquardt training step needs its Jacobian with respect to the
 * parameters (`jacfwd` over all of that): derivatives three deep.
 *
 * Run: `npm run example -- pinn`.
 */
import * as nb from "../src/index.js";
import { Log, elem, fmt } from "./util.js";

/** Options of {@link main}. */
export interface PinnOptions {
  /** Hidden units (default 10). */
  hidden?: number;
  /** Collocation points, evenly spaced inside (0, 1) (default 24). */
  points?: number;
  /** Levenberg–Marquardt iterations (default 30). */
  iterations?: number;
  /** Where progress lines go (default console.log). */
  log?: Log;
}

/** Result of {@link main}. */
export interface PinnResult {
  /** max |u(x) − sin(πx)| on 201 evenly spaced points of [0, 1]. */
  maxError: number;
  /** Mean squared residual of the equation at the collocation points, per iteration. */
  residuals: number[];
}

const f = (x: nb.NDArray): nb.NDArray => nb.mul(-Math.PI * Math.PI, nb.sin(nb.mul(Math.PI, x)));

/** Runs the PINN; one progress line per iteration. */
export function main(opts: PinnOptions = {}): PinnResult {
  const log = opts.log ?? console.log;
  const H = opts.hidden ?? 10;
  const m = opts.points ?? 24;
  const iterations = opts.iterations ?? 30;
  // parameters in one flat vector θ = [w1 (H), b1 (H), w2 (H), b2 (1)]
  const unpack = (t: nb.NDArray) => ({
    w1: nb.slice(t, [0], [H]),
    b1: nb.slice(t, [H], [2 * H]),
    w2: nb.slice(t, [2 * H], [3 * H]),
    b2: nb.slice(t, [3 * H], [3 * H + 1]),
  });
  const u = (t: nb.NDArray, x: nb.NDArray): nb.NDArray => {
    const p = unpack(t);
    const hidden = nb.tanh(nb.add(nb.mul(p.w1, x), p.b1));
    const N = nb.add(nb.dot(p.w2, hidden), nb.sum(p.b2));
    return nb.mul(nb.mul(x, nb.sub(1, x)), N);
  };
  const uxx = nb.grad(nb.grad(u, { argnums: 1 }), { argnums: 1 });
  const xs = nb.linspace(0, 1, m + 2).slice([1], [m + 1]);
  const residual = (t: nb.NDArray) => nb.sub(nb.vmap(uxx, { inAxes: [null, 0] })(t, xs), f(xs));
  // a Levenberg–Marquardt step: (JᵀJ + λ·diag(JᵀJ) + λ·I) δ = −Jᵀr
  const step = nb.jit((t: nb.NDArray, lambda: nb.NDArray) => {
    const r = residual(t);
    const J = nb.jacfwd(residual)(t);
    const JtJ = nb.matmul(J.T, J);
    const A = nb.add(JtJ, nb.mul(lambda, nb.add(nb.diag(nb.diag(JtJ)), nb.eye(3 * H + 1))));
    const delta = nb.linalg.solve(A, nb.matmul(J.T, r));
    return { next: nb.sub(t, delta), loss: nb.mean(nb.square(r)) };
  });
  const meanSq = nb.jit((t: nb.NDArray) => nb.mean(nb.square(residual(t))));

  const k = nb.random.split(nb.random.key(1), 2);
  let theta = nb.concatenate([
    nb.mul(nb.random.normal(nb.take(k, 0, 0), [2 * H]), 2),
    nb.mul(nb.random.normal(nb.take(k, 1, 0), [H + 1]), 0.1),
  ]);
  let lambda = 1e-2;
  const residuals: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const { next, loss } = step(theta, nb.array(lambda));
    const current = loss.item();
    const trial = meanSq(next).item();
    // accept steps that reduce the residual and trust the model more; otherwise damp harder
    if (trial < current) {
      theta = next;
      lambda = Math.max(lambda / 3, 1e-9);
    } else lambda = Math.min(lambda * 4, 1e6);
    residuals.push(Math.min(trial, current));
    log(
      `iter ${String(it + 1).padStart(3)}/${iterations}  mean residual² = ${fmt(elem(residuals, it, "residuals"))}  λ = ${lambda.toExponential(1)}`,
    );
  }
  const grid = nb.linspace(0, 1, 201);
  const uGrid = nb.vmap(u, { inAxes: [null, 0] })(theta, grid);
  const maxError = nb.max(nb.abs(nb.sub(uGrid, nb.sin(nb.mul(Math.PI, grid))))).item();
  log(`max |u - sin(pi x)| on [0, 1] = ${maxError.toExponential(3)}`);
  return { maxError, residuals };
}

/** Sizes for CI (`--small`). */
export const SMALL: PinnOptions = { hidden: 6, points: 12, iterations: 20 };
