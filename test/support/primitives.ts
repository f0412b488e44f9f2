/**
 * Every primitive by name: the first-order table of src/prims plus the
 * higher-order primitives that live beside their transforms, for the
 * per-primitive property tests.
 */
import type { Rule } from "../../src/core/trace.js";
import { RULES, type Params as FirstOrder } from "../../src/prims/table.js";
import {
  CUSTOM_JVP_CALL,
  CUSTOM_VJP_CALL,
  CUSTOM_VJP_LIN,
  type CustomJvpParams,
  type CustomLinParams,
  type CustomVjpParams,
} from "../../src/transforms/customRules.js";
import { WHILE_LOOP, type WhileParams } from "../../src/transforms/loopRules.js";
import { COND, type CondParams } from "../../src/transforms/condRule.js";

export interface Params extends FirstOrder {
  custom_jvp_call: CustomJvpParams;
  custom_vjp_call: CustomVjpParams;
  custom_vjp_lin: CustomLinParams;
  while_loop: WhileParams;
  cond: CondParams;
}
export type Prim = keyof Params;

export const ALL_RULES: { [P in Prim]: Rule<Params[P]> } = {
  ...RULES,
  custom_jvp_call: CUSTOM_JVP_CALL,
  custom_vjp_call: CUSTOM_VJP_CALL,
  custom_vjp_lin: CUSTOM_VJP_LIN,
  while_loop: WHILE_LOOP,
  cond: COND,
};

/** The row of a primitive by name. */
export function ruleOf<P extends Prim>(prim: P): Rule<Params[P]> {
  return ALL_RULES[prim];
}
