/**
 * Taylor mode of the `while_loop` primitive (loopRules.ts), built like its
 * JVP (loopRules.ts, whileJvp.ts) with K coefficients per carry instead of
 * one tangent. The condition depends on the primal carry only, so the trip
 * count is the primal loop's and the series of the result is the series of
 * the composed bodies (the same assumption as JAX's jvp of a while loop: the
 * condition is piecewise constant in the carry). The series of the
 * condition's constants are ignored for the same reason.
 *
 * - A condition with a concrete value: the loop runs in JS, each iteration
 *   pushing (carry, carry series) through the body by `jet`.
 * - A traced condition (`jit`, `makeGraph`, `vmap`): a new while_loop whose
 *   carry is the primal carry followed by K coefficients for each float
 *   carry, its body the jetted body, its condition the old one on the primal
 *   carry; so a staged program holds a single loop.
 */
import { at } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import type { NDArray } from "../core/ndarray.js";
import { evalGraph, evalGraph1, stageClosed } from "../core/graph.js";
import { avalOf, bind } from "../core/trace.js";
import { zeros } from "../ops/index.js";
import type { T } from "../prims/rule.js";
import { levelOf } from "./condRule.js";
import { WHILE_LOOP, type WhileParams, concreteAt, truth } from "./loopRules.js";
import type { JetFullRule } from "./jetHigher.js";
import { hasTerms, jetNested } from "./jetNested.js";
import type { Series } from "./jetRules.js";

const zerosLike = (x: NDArray): NDArray => zeros(x.shape.slice(), { dtype: x.dtype });

/** The series [x0, x1..xK] of a value and its coefficients (null: constant). */
const withPrimal = (x: NDArray, cs: readonly T[] | null): Series | null => (cs === null ? null : [x, ...cs]);

export const whileJet: JetFullRule<WhileParams> = (primals, ins, p, K) => {
  const cc = primals.slice(0, p.nCond);
  const bc = primals.slice(p.nCond, p.nCond + p.nBody);
  const init = primals.slice(p.nCond + p.nBody);
  const bcS = ins.slice(p.nCond, p.nCond + p.nBody);
  const initS = ins.slice(p.nCond + p.nBody);
  const n = init.length;
  const none = init.map(() => null as T[] | null);
  if (!bcS.some(hasTerms) && !initS.some(hasTerms)) return [bind(WHILE_LOOP, primals, p), none];
  const body = (xs: NDArray[]) => evalGraph(p.body, xs);
  if (concreteAt(evalGraph1(p.cond, [...cc, ...init], "whileLoop"))) {
    let carry = init;
    let carryS: (T[] | null)[] = initS.map((s) => (hasTerms(s) ? s.slice(1, K + 1) : null));
    while (truth(evalGraph1(p.cond, [...cc, ...carry], "whileLoop"), "jet")) {
      const cur = carry;
      [carry, carryS] = jetNested(
        body,
        [...bc, ...cur],
        [...bcS, ...carryS.map((s, i) => withPrimal(at(cur, i, "whileLoop"), s))],
        K,
      );
    }
    return [carry, carryS];
  }
  // every float carry gets K coefficients (zeros where none comes in): the body may make them nonzero
  const fIdx = init.flatMap((x, i) => (isFloat(x.dtype) ? [i] : []));
  const c0 = fIdx.flatMap((i) => {
    const x = at(init, i, "whileLoop");
    const s = initS[i];
    return Array.from({ length: K }, (_, k) => s?.[k + 1] ?? zerosLike(x));
  });
  const avals = [...init.map(avalOf), ...c0.map((c) => ({ ...avalOf(c), weak: false }))];
  const [cond, cc2] = stageClosed((ys) => evalGraph(p.cond, [...cc, ...ys.slice(0, n)]), avals, "whileLoop");
  const [jbody, bc2] = stageClosed(
    (ys) => {
      const carry = ys.slice(0, n);
      const series: (Series | null)[] = carry.map(() => null);
      fIdx.forEach((i, f) => (series[i] = [at(carry, i, "whileLoop"), ...ys.slice(n + f * K, n + (f + 1) * K)]));
      const [o, s] = jetNested(body, [...bc, ...carry], [...bcS, ...series], K);
      return [
        ...o,
        ...fIdx.flatMap((i) => {
          const x = at(o, i, "whileLoop");
          return Array.from({ length: K }, (_, k) => s[i]?.[k] ?? zerosLike(x));
        }),
      ];
    },
    avals,
    "whileLoop",
  );
  const outs = bind(WHILE_LOOP, [...cc2, ...bc2, ...init, ...c0], {
    cond,
    body: jbody,
    nCond: cc2.length,
    nBody: bc2.length,
  });
  const series = none.slice();
  fIdx.forEach((i, f) => (series[i] = outs.slice(n + f * K, n + (f + 1) * K)));
  // coefficients from a higher level than the primals (a jet under linearize): the joint loop is recorded
  // with them, so the primal outputs come from the primal loop, at the primals' level
  const seriesIn = [...bcS, ...initS].flatMap((s) => (hasTerms(s) ? s.slice(1) : []));
  const primalsOut = levelOf(seriesIn) > levelOf(primals) ? bind(WHILE_LOOP, primals, p) : outs.slice(0, n);
  return [primalsOut, series];
};
