/**
 * Taylor mode of the `cond` primitive (condRule.ts): the series of the taken
 * branch. The predicate has no series (a bool, or an integer index). With a
 * predicate known now the taken branch is jetted directly; a traced one
 * (under `jit`, `makeGraph`, a batched predicate under `vmap`) gives one cond
 * whose branches are the jetted branches, taking the operands and their
 * nonzero coefficients and returning the outputs and their coefficients, so
 * a staged program still holds a single cond.
 */
import { at } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import type { NDArray } from "../core/ndarray.js";
import { Graph, evalGraph, outAval } from "../core/graph.js";
import { avalOf, bind } from "../core/trace.js";
import { zeros } from "../ops/index.js";
import type { T } from "../prims/rule.js";
import { COND, type CondParams, closeBranches, knownBranch, levelOf } from "./condRule.js";
import type { JetFullRule } from "./jetHigher.js";
import { hasTerms, jetNested } from "./jetNested.js";
import type { Series } from "./jetRules.js";

const zerosLike = (x: NDArray): NDArray => zeros(x.shape.slice(), { dtype: x.dtype });

export const condJet: JetFullRule<CondParams> = (primals, ins, p, K) => {
  const [pred, ...xs] = primals as [NDArray, ...NDArray[]];
  const xsS = ins.slice(1);
  const known = knownBranch(pred, p);
  if (known !== null) return jetNested((zs) => evalGraph(known, zs), xs, xsS, K);
  // the nonzero coefficients become operands: slot (i, k) is coefficient k of operand i
  const slots: [number, number][] = [];
  const coeffs: NDArray[] = [];
  xsS.forEach((s, i) => {
    if (!hasTerms(s)) return;
    for (let k = 1; k <= K; k++) {
      const c = s[k] ?? null;
      if (c === null) continue;
      slots.push([i, k]);
      coeffs.push(c);
    }
  });
  const outAvals = p.whenTrue.outs.map((v) => outAval(v, "cond"));
  const floatOut = outAvals.flatMap((a, j) => (isFloat(a.dtype) ? [j] : []));
  if (slots.length === 0 || floatOut.length === 0) return [bind(COND, primals, p), outAvals.map(() => null)];
  // coefficients from a higher level than the primals (a jet under linearize): the primal outputs come from
  // a cond of their own at the primals' level, as in the cond's JVP
  const joint = levelOf(coeffs) <= levelOf(primals);
  const n = xs.length;
  const jetOf =
    (g: Graph) =>
    (ys: NDArray[]): NDArray[] => {
      const series: (T[] | null)[] = xs.map(() => null);
      slots.forEach(([i, k], j) => {
        const s = (series[i] ??= [at(ys, i, "cond"), ...Array<T>(K).fill(null)]);
        s[k] = at(ys, n + j, "cond");
      });
      const [po, so] = jetNested((zs) => evalGraph(g, zs), ys.slice(0, n), series as (Series | null)[], K);
      // every float output gets K coefficients (zeros where this branch has none: the other may not)
      const touts = floatOut.flatMap((j) => {
        const o = at(po, j, "cond");
        return Array.from({ length: K }, (_, k) => so[j]?.[k] ?? zerosLike(o));
      });
      return joint ? [...po, ...touts] : touts;
    };
  const avals = [...xs.map(avalOf), ...coeffs.map((c) => ({ ...avalOf(c), weak: false }))];
  const [q, consts] = closeBranches(jetOf(p.whenFalse), jetOf(p.whenTrue), avals);
  const r = bind(COND, [pred, ...consts, ...xs, ...coeffs], q);
  const m = joint ? outAvals.length : 0;
  const outs = joint ? r.slice(0, m) : bind(COND, primals, p);
  const series: (T[] | null)[] = outAvals.map(() => null);
  floatOut.forEach((j, f) => (series[j] = r.slice(m + f * K, m + (f + 1) * K)));
  return [outs, series];
};
