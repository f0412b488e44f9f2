/**
 * The Taylor rules of the primitives outside the primitive table, each
 * written beside its row's transform: cond (condJet.ts), while_loop
 * (whileJet.ts), the custom-rule primitives (customJet.ts), linear_solve
 * (implicitJet.ts), and here the identity-like and effect primitives
 * (checkpoint_name, remat_saved, debug_callback). These rules return the
 * primal outputs with the series (a "full" rule, like `jvpFull`), since
 * the primitive they bind for the series also computes the primals (one cond
 * or loop, not two). The lookup runs when a rule is asked for, never at load.
 */
import { bind, type Rule } from "../core/trace.js";
import type { NDArray } from "../core/ndarray.js";
import type { T } from "../prims/rule.js";
import { CHECKPOINT_NAME, REMAT_SAVED, type NameParams, type SavedParams } from "./checkpointPolicy.js";
import { COND } from "./condRule.js";
import { condJet } from "./condJet.js";
import { CUSTOM_JVP_CALL, CUSTOM_VJP_CALL, CUSTOM_VJP_LIN } from "./customRules.js";
import { customJvpJet, customLinJet, customVjpJet } from "./customJet.js";
import { DEBUG_CALLBACK, type DebugParams } from "./debugRule.js";
import { LINEAR_SOLVE } from "./implicit.js";
import { linearSolveJet } from "./implicitJet.js";
import { hasTerms } from "./jetNested.js";
import { type Series, jetRuleOf } from "./jetRules.js";
import { WHILE_LOOP } from "./loopRules.js";
import { whileJet } from "./whileJet.js";

/**
 * A Taylor rule that computes the primal outputs too: operands' primals, their
 * series (null: constant), parameters, the order K → [primal outputs, per output
 * its coefficients 1..K (null: all zero)].
 */
export type JetFullRule<P> = (
  primals: readonly NDArray[],
  ins: readonly (Series | null)[],
  params: P,
  order: number,
) => [NDArray[], (T[] | null)[]];

// the identity: the series passes through (the primal keeps its name for checkpoint policies below)
const checkpointNameJet: JetFullRule<NameParams> = (primals, [s], p, K) => [
  bind(CHECKPOINT_NAME, primals, p),
  [hasTerms(s) ? s.slice(1, K + 1) : null],
];

// an effect without outputs: it runs once, on the primal values
const debugJet: JetFullRule<DebugParams> = (primals, _ins, p) => [bind(DEBUG_CALLBACK, primals, p), []];

// the saved outputs of an equation: the equation's own series at the replayed inputs (as its JVP), the saved
// values standing for its primal outputs; the series of the saved operands are not read
const rematSavedJet: JetFullRule<SavedParams> = (primals, ins, p, K) => {
  const saved = primals.slice(0, p.nSaved);
  const xs = primals.slice(p.nSaved);
  const xsS = ins.slice(p.nSaved);
  const outs = bind(REMAT_SAVED, primals, p);
  if (!xsS.some(hasTerms)) return [outs, outs.map(() => null)];
  const full = higherOrderJetRule(p.rule);
  const series = full !== null ? full(xs, xsS, p.params, K)[1] : jetRuleOf(p.rule)(p.rule, xs, xsS, saved, p.params, K);
  return [outs, series];
};

/** The Taylor rule of a primitive outside the table (null for a table primitive). */
export function higherOrderJetRule(prim: Rule<unknown>): JetFullRule<unknown> | null {
  const rules: [Rule<never>, JetFullRule<never>][] = [
    [COND, condJet],
    [WHILE_LOOP, whileJet],
    [CUSTOM_JVP_CALL, customJvpJet],
    [CUSTOM_VJP_CALL, customVjpJet],
    [CUSTOM_VJP_LIN, customLinJet],
    [LINEAR_SOLVE, linearSolveJet],
    [CHECKPOINT_NAME as Rule<never>, checkpointNameJet],
    [REMAT_SAVED, rematSavedJet],
    [DEBUG_CALLBACK, debugJet],
  ];
  const hit = rules.find(([r]) => r === (prim as Rule<never>));
  return hit === undefined ? null : (hit[1] as JetFullRule<unknown>);
}
