/**
 * Newton's method with `hessian`: minimises the Rosenbrock function
 * f(x, y) = (1 − x)² + 100 (y − x²)² from (−1.2, 1), the classic hard start,
 * to its minimum at (1, 1). Each step solves H·δ = −∇f with `linalg.solve`;
 * the step (gradient, Hessian and solve) is staged once by `jit`.
 *
 * Run: `npm run example -- newton`.
 */
import * as nb from "../src/index.js";
import { Log, dim, fmt } from "./util.js";

/** The n-dimensional Rosenbrock function Σ (1 − x_i)² + 100 (x_{i+1} − x_i²)². */
export function rosenbrock(v: nb.NDArray): nb.NDArray {
  const n = dim(v, 0);
  const a = nb.slice(v, [0], [n - 1]);
  const b = nb.slice(v, [1], [n]);
  return nb.sum(nb.add(nb.square(nb.sub(1, a)), nb.mul(100, nb.square(nb.sub(b, nb.square(a))))));
}

/** Options of {@link main}. */
export interface NewtonOptions {
  /** Starting point (default [−1.2, 1]). */
  start?: number[];
  /** Iteration limit (default 50). */
  maxIter?: number;
  /** Stop when the gradient's max-norm falls below this (default 1e-10). */
  tol?: number;
  /** Where progress lines go (default console.log). */
  log?: Log;
}

/** Result of {@link main}. */
export interface NewtonResult {
  x: number[];
  iterations: number;
  gradNorm: number;
  /** f at each iterate, starting point first. */
  values: number[];
}

/** Sizes for CI (`--small`): the full run already takes well under a second. */
export const SMALL: NewtonOptions = {};

/** Runs Newton's method on Rosenbrock; one progress line per iteration. */
export function main(opts: NewtonOptions = {}): NewtonResult {
  const log = opts.log ?? console.log;
  const maxIter = opts.maxIter ?? 50;
  const tol = opts.tol ?? 1e-10;
  // one Newton step: x − H(x)⁻¹ ∇f(x), plus f and ‖∇f‖∞ for the report
  const step = nb.jit((x: nb.NDArray) => {
    const g = nb.grad(rosenbrock)(x);
    const H = nb.hessian(rosenbrock)(x);
    const delta = nb.linalg.solve(H, g);
    return { next: nb.sub(x, delta), f: rosenbrock(x), gnorm: nb.max(nb.abs(g)) };
  });
  let x = nb.array(opts.start ?? [-1.2, 1]);
  const values: number[] = [];
  let gradNorm = Infinity;
  let it = 0;
  for (; it <= maxIter; it++) {
    const { next, f, gnorm } = step(x);
    values.push(f.item());
    gradNorm = gnorm.item();
    log(`iter ${String(it).padStart(2)}  f = ${fmt(f.item())}  |grad|inf = ${fmt(gradNorm)}  x = ${x.toString()}`);
    if (gradNorm < tol) break;
    x = next;
  }
  return { x: x.toArray() as number[], iterations: it, gradNorm, values };
}
