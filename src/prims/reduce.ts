/** Reduction primitives: sums, extrema and their arguments, running sums. */
import { DTypeError, ShapeError, fmtShape } from "../core/errors.js";
import { NDArray } from "../core/ndarray.js";
import type { Aval, LinearIn } from "../core/trace.js";
import * as K from "../kernels/reduce.js";
import * as O from "./wrap.js";
import { keepShape } from "./wrap.js";
import { shiftAxes } from "./batching.js";
import { LinearRule, Rule, T, sameAval } from "./rule.js";
import type { Params } from "./table.js";

function reduceAval(name: string, a: Aval, axes: number[]): [Aval] {
  for (const ax of axes)
    if (!Number.isInteger(ax) || ax < 0 || ax >= a.shape.length)
      throw new ShapeError(`${name}: axis ${ax} out of range for shape ${fmtShape(a.shape)}`);
  return [{ shape: a.shape.filter((_, i) => !axes.includes(i)), dtype: a.dtype, weak: a.weak }];
}

function extremumReduceJvp(x: NDArray, dx: T, y: NDArray, axes: number[]): T {
  if (dx === null) return null;
  // d(max x) = sum(dx * m) / sum(m), m = (x == max x): ties share the derivative evenly
  const mask = O.astype(O.equal(x, O.reshape(y, keepShape(x.shape, axes))), x.dtype);
  return O.div(O.reduceSum(O.mul(dx, mask), axes), O.reduceSum(mask, axes));
}

/** Shifts reduced axes past a front batch axis. */
const shiftReduced = ({ axes }: { axes: number[] }) => ({ axes: axes.map((a) => a + 1) });

// d sum(x) = sum(dx); transpose broadcasts back
export const REDUCE_SUM: LinearRule<Params["reduce_sum"], 1, 1> = {
  name: "reduce_sum",
  // the kernel's float64 accumulation, for fused loops that end in a full sum (in chunks of
  // SUM_CHUNK elements, see kernels/sumOrder.ts: `step` also adds each chunk's partial sum)
  fold: { init: 0, step: (acc, v) => `${acc} += ${v};` },
  abstractEval: ([a], { axes }) => reduceAval("reduce_sum", a, axes),
  impl: ([x], { axes }, [o]) => [K.reduceSum(x, axes, o.dtype)],
  jvp: (_p, [dx = null], _o, { axes }) => [dx === null ? null : O.reduceSum(dx, axes)],
  transpose([ct = null], [a], { axes }) {
    if (ct === null) return [null];
    const shape = (a as LinearIn).aval.shape;
    return [O.broadcastPrim(O.reshape(ct, keepShape(shape, axes)), shape.slice())];
  },
  vmap: shiftAxes(() => REDUCE_SUM, shiftReduced),
};

/** reduce_max / reduce_min: NaN wins, ties share the derivative evenly. */
function extremumReduce(
  name: string,
  init: number,
  better: (v: number, m: number) => boolean,
): Rule<{ axes: number[] }, 1, 1> {
  const row: Rule<{ axes: number[] }, 1, 1> = {
    name,
    abstractEval: ([a], { axes }) => reduceAval(name, a, axes),
    impl: ([x], { axes }, [o]) => [
      K.reduce(x, axes, o.dtype, init, (m, v) => (better(v, m) || Number.isNaN(v) ? v : m)),
    ],
    jvp: ([x], [dx], [y], { axes }) => [extremumReduceJvp(x, dx, y, axes)],
    vmap: shiftAxes(() => row, shiftReduced),
  };
  return row;
}

/** argmax / argmin along one axis (int32): no derivative. */
function argExtremum(name: string, isMax: boolean): Rule<{ axis: number }, 1, 1> {
  const row: Rule<{ axis: number }, 1, 1> = {
    name,
    abstractEval: ([a], { axis }) => [{ ...reduceAval(name, a, [axis])[0], dtype: "int32", weak: false }],
    impl: ([x], { axis }) => [K.argReduce(x, axis, isMax)],
    jvp: () => [null],
    vmap: shiftAxes(
      () => row,
      ({ axis }) => ({ axis: axis + 1 }),
    ),
  };
  return row;
}

export const REDUCE_MAX: Rule<Params["reduce_max"], 1, 1> = extremumReduce("reduce_max", -Infinity, (v, m) => v > m);

// a primitive for speed (-reduce_max(-x) is three passes)
export const REDUCE_MIN: Rule<Params["reduce_min"], 1, 1> = extremumReduce("reduce_min", Infinity, (v, m) => v < m);

export const ARGMAX: Rule<Params["argmax"], 1, 1> = argExtremum("argmax", true);

// a primitive for speed, as reduce_min
export const ARGMIN: Rule<Params["argmin"], 1, 1> = argExtremum("argmin", false);

// running sum along an axis; linear, its transpose runs the other way. A primitive for speed:
// composed (a product with a triangle of ones) it would cost O(n²) per line.
export const CUMSUM: LinearRule<Params["cumsum"], 1, 1> = {
  name: "cumsum",
  abstractEval([a], { axis }) {
    if (axis < 0 || axis >= a.shape.length)
      throw new ShapeError(`cumsum: axis ${axis} out of range for shape ${fmtShape(a.shape)}`);
    if (a.dtype === "bool") throw new DTypeError("cumsum: expected a numeric operand, got bool");
    return sameAval(a);
  },
  impl: ([x], { axis, reverse }) => [K.cumsum(x, axis, reverse)],
  jvp: (_p, [dx = null], _o, { axis, reverse }) => [dx === null ? null : O.cumsumPrim(dx, axis, reverse)],
  transpose: ([ct = null], _a, { axis, reverse }) => [ct === null ? null : O.cumsumPrim(ct, axis, !reverse)],
  vmap: shiftAxes(
    () => CUMSUM,
    ({ axis, reverse }) => ({ axis: axis + 1, reverse }),
  ),
};
