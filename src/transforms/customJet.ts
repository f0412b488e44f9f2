/**
 * Taylor mode of the custom-rule primitives (customRules.ts). As JAX's jet
 * (whose jet trace calls the wrapped function on the jet tracers), the
 * user's rules are ignored: the series of a `custom_jvp_call` or
 * `custom_vjp_call` is the jet of the primal function `f`, whatever its
 * custom JVP or VJP says (a rule that is not the derivative of `f` does not
 * change the series). `custom_vjp_lin` is linear in its tangent operands:
 * with constant residuals its coefficient k is itself at the tangents'
 * coefficients k; otherwise the jet of its forward action.
 */
import { at } from "../core/errors.js";
import type { NDArray } from "../core/ndarray.js";
import { bind } from "../core/trace.js";
import { zeros } from "../ops/index.js";
import type { T } from "../prims/rule.js";
import {
  CUSTOM_VJP_LIN,
  type CustomJvpParams,
  type CustomLinParams,
  type CustomVjpParams,
  linForward,
} from "./customRules.js";
import type { JetFullRule } from "./jetHigher.js";
import { hasTerms, jetNested } from "./jetNested.js";

const zerosOf = (x: NDArray): NDArray => zeros(x.shape.slice(), { dtype: x.dtype });

// the jet of the wrapped function: the custom JVP rule is not used (customRoot brings its own series rule)
export const customJvpJet: JetFullRule<CustomJvpParams> = (primals, ins, p, K) =>
  p.jet !== undefined ? p.jet(primals.slice(), ins, K) : jetNested(p.f, primals, ins, K);

// the jet of the wrapped function: fwd and bwd are not used
export const customVjpJet: JetFullRule<CustomVjpParams> = (primals, ins, p, K) => jetNested(p.f, primals, ins, K);

export const customLinJet: JetFullRule<CustomLinParams> = (primals, ins, p, K) => {
  if (ins.slice(0, p.nRes).some(hasTerms)) return jetNested((xs) => linForward(p, xs), primals, ins, K);
  const res = primals.slice(0, p.nRes);
  const ts = primals.slice(p.nRes);
  const tsS = ins.slice(p.nRes);
  const outs = bind(CUSTOM_VJP_LIN, primals, p);
  const series: T[][] = outs.map(() => []);
  for (let k = 1; k <= K; k++) {
    const cs = tsS.map((s) => s?.[k] ?? null);
    const out: T[] = cs.every((c) => c === null)
      ? outs.map(() => null)
      : bind(CUSTOM_VJP_LIN, [...res, ...cs.map((c, i) => c ?? zerosOf(at(ts, i, "customVjp")))], p);
    out.forEach((o, j) => at(series, j, "customVjp").push(o));
  }
  return [outs, series];
};
