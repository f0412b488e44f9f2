/**
 * Taylor mode of a flat function in normalised coefficients, for the Taylor
 * rules of the higher-order primitives (cond, while_loop, the custom rules,
 * linear_solve), which push the series through their bodies with it: a jet
 * trace of its own, one level above its inputs, like `jvpFlat` in the JVP rules.
 */
import { at } from "../core/errors.js";
import type { NDArray } from "../core/ndarray.js";
import { MainTrace, endTrace, newTrace } from "../core/trace.js";
import type { T } from "../prims/rule.js";
import { JetTrace, JetTracer } from "./jet.js";
import type { Series } from "./jetRules.js";

/** Whether a series (null = constant) has a nonzero coefficient of order ≥ 1. */
export const hasTerms = (s: Series | null | undefined): s is Series =>
  s !== null && s !== undefined && s.slice(1).some((c) => c !== null);

/**
 * f's outputs at `primals` and, per output, its normalised coefficients 1..K
 * (null: all zero) for inputs whose series are `ins` (`[x0, x1, ..., xK]`
 * with x0 the primal, or null for a constant input): the contract of a Taylor
 * rule, with the primal outputs too.
 */
export function jetNested(
  f: (xs: NDArray[]) => NDArray[],
  primals: readonly NDArray[],
  ins: readonly (Series | null)[],
  K: number,
): [NDArray[], (T[] | null)[]] {
  const trace = newTrace("jet", (m: MainTrace) => new JetTrace(m, K));
  try {
    const xs = primals.map((p, i) => {
      const s = ins[i];
      if (!hasTerms(s)) return p;
      return new JetTracer(
        trace,
        p,
        Array.from({ length: K }, (_, k) => s[k + 1] ?? null),
      );
    });
    const outs = f(xs);
    const po: NDArray[] = [];
    const so: (T[] | null)[] = [];
    outs.forEach((_, i) => {
      const o = at(outs, i, "jet");
      const mine = o instanceof JetTracer && o.trace === trace;
      po.push(mine ? o.primal : o);
      so.push(mine && o.coeffs.some((c) => c !== null) ? o.coeffs.slice() : null);
    });
    return [po, so];
  } finally {
    endTrace(trace);
  }
}
