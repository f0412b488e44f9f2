/**
 * Learning-rate schedules with optax's positional arguments and semantics.
 * Each maps the step count (0 on the first update; a number or an array,
 * traced or concrete) to a float64 array of the count's shape (float32 for
 * a count on "webgpu", which has no float64).
 */
import * as nb from "../index.js";
import type { ArrayLike, NDArray } from "../index.js";
import { checkBool, checkNumber, countFloat, rethrow } from "./leaves.js";
import type { Schedule } from "./types.js";

function countOf(op: string, count: ArrayLike): NDArray {
  try {
    return nb.astype(count, countFloat(count));
  } catch (e) {
    throw rethrow(op, e);
  }
}

/**
 * A schedule that always gives `value`.
 *
 * @example
 * import * as optim from "nabla/optim";
 * optim.constant(0.1)(7).item(); // 0.1
 */
export function constant(value: number): Schedule {
  checkNumber("constant", "value", value);
  return (count) => {
    const c = countOf("constant", count);
    return nb.full(c.shape, value, { dtype: c.dtype });
  };
}

/**
 * Exponential decay (optax's `exponential_decay`):
 * `init · decayRate^((count − transitionBegin) / transitionSteps)` for
 * counts past `transitionBegin` and `init` before; with `staircase` the
 * exponent is floored; with `endValue` the value is bounded by it (from
 * below when `decayRate < 1`, from above otherwise). A non-positive
 * `transitionSteps` or a zero `decayRate` is rejected (optax logs and
 * falls back to a constant).
 *
 * @example
 * import * as optim from "nabla/optim";
 * optim.exponentialDecay(1, 10, 0.5)(20).item(); // 0.25
 */
export function exponentialDecay(
  init: number,
  transitionSteps: number,
  decayRate: number,
  transitionBegin = 0,
  staircase = false,
  endValue?: number,
): Schedule {
  const op = "exponentialDecay";
  checkNumber(op, "init", init);
  checkNumber(op, "transitionSteps", transitionSteps, { lo: 0, openLo: true });
  checkNumber(op, "decayRate", decayRate);
  if (decayRate === 0) throw new nb.NablaError(`${op}: decayRate must be non-zero`);
  checkNumber(op, "transitionBegin", transitionBegin, { lo: 0 });
  checkBool(op, "staircase", staircase);
  if (endValue !== undefined) checkNumber(op, "endValue", endValue);
  return (count) => {
    const c = nb.sub(countOf(op, count), transitionBegin);
    let p = nb.div(c, transitionSteps);
    if (staircase) p = nb.floor(p);
    let v = nb.where(nb.lessEqual(c, 0), init, nb.mul(init, nb.pow(decayRate, p)));
    if (endValue !== undefined) v = decayRate < 1 ? nb.maximum(v, endValue) : nb.minimum(v, endValue);
    return v;
  };
}

/**
 * Cosine decay (optax's `cosine_decay_schedule`): with
 * `t = min(count, decaySteps)`,
 * `init · ((1 − alpha) · (½(1 + cos(π t / decaySteps)))^exponent + alpha)`.
 *
 * @example
 * import * as optim from "nabla/optim";
 * optim.cosineDecay(1, 100)(50).item(); // 0.5
 */
export function cosineDecay(init: number, decaySteps: number, alpha = 0, exponent = 1): Schedule {
  const op = "cosineDecay";
  checkNumber(op, "init", init);
  checkNumber(op, "decaySteps", decaySteps, { lo: 0, openLo: true });
  checkNumber(op, "alpha", alpha);
  checkNumber(op, "exponent", exponent);
  return (count) => cosineAt(init, decaySteps, alpha, exponent, countOf(op, count));
}

function cosineAt(init: number, decaySteps: number, alpha: number, exponent: number, c: NDArray): NDArray {
  const t = nb.minimum(c, decaySteps);
  const cos = nb.mul(nb.add(nb.cos(nb.mul(t, Math.PI / decaySteps)), 1), 0.5);
  return nb.mul(nb.add(nb.mul(nb.pow(cos, exponent), 1 - alpha), alpha), init);
}

/**
 * Linear warmup from `init` to `peak` over `warmupSteps`, then cosine decay
 * from `peak` to `end` until step `decaySteps` (which includes the warmup),
 * as optax's `warmup_cosine_decay_schedule`.
 *
 * @example
 * import * as optim from "nabla/optim";
 * const s = optim.warmupCosineDecay(0, 1, 10, 110);
 * [s(5).item(), s(10).item(), s(60).item()]; // [0.5, 1, 0.5]
 */
export function warmupCosineDecay(
  init: number,
  peak: number,
  warmupSteps: number,
  decaySteps: number,
  end = 0,
  exponent = 1,
): Schedule {
  const op = "warmupCosineDecay";
  checkNumber(op, "init", init);
  checkNumber(op, "peak", peak);
  checkNumber(op, "warmupSteps", warmupSteps, { lo: 0 });
  checkNumber(op, "decaySteps", decaySteps, { lo: warmupSteps, openLo: true });
  checkNumber(op, "end", end);
  checkNumber(op, "exponent", exponent);
  const alpha = peak === 0 ? 0 : end / peak;
  return (count) => {
    const c = countOf(op, count);
    const warm =
      warmupSteps === 0
        ? nb.full(c.shape, init, { dtype: c.dtype })
        : nb.add(nb.mul(nb.clip(c, 0, warmupSteps), (peak - init) / warmupSteps), init);
    const decay = cosineAt(peak, decaySteps - warmupSteps, alpha, exponent, nb.sub(c, warmupSteps));
    return nb.where(nb.less(c, warmupSteps), warm, decay);
  };
}

/**
 * Piecewise constant (optax's `piecewise_constant_schedule`): `init` times
 * the product of the scales of every boundary `b` with `count >= b`.
 * Scales must be non-negative.
 *
 * @example
 * import * as optim from "nabla/optim";
 * const s = optim.piecewiseConstant(1, { 10: 0.1, 20: 0.5 });
 * [s(9).item(), s(10).item(), s(25).item()]; // [1, 0.1, 0.05]
 */
export function piecewiseConstant(init: number, boundariesAndScales: Readonly<Record<number, number>> = {}): Schedule {
  const op = "piecewiseConstant";
  checkNumber(op, "init", init);
  if (boundariesAndScales === null || typeof boundariesAndScales !== "object")
    throw new nb.NablaError(`${op}: boundariesAndScales must be an object of { step: scale }`);
  const pairs = Object.entries(boundariesAndScales).map(([k, s]): [number, number] => {
    const b = Number(k);
    checkNumber(op, `boundary "${k}"`, b);
    checkNumber(op, `scale at ${k}`, s, { lo: 0 });
    return [b, s];
  });
  pairs.sort((a, b) => a[0] - b[0]);
  return (count) => {
    const c = countOf(op, count);
    let v = nb.full(c.shape, init, { dtype: c.dtype });
    for (const [b, s] of pairs) v = nb.where(nb.less(c, b), v, nb.mul(v, s));
    return v;
  };
}
