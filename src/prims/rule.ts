/**
 * Helpers shared by the rows of the primitive table: the linear-row type,
 * tangent arithmetic that keeps symbolic zeros (`null`), and small shape
 * rules.
 */
import { NDArray } from "../core/ndarray.js";
import type { Aval, LinearIn, Rule } from "../core/trace.js";
import { makeAval } from "../core/trace.js";
import * as O from "./wrap.js";

export type { Rule };

/** A row whose `transpose` rule is required: the primitive is linear in (some of) its operands. */
export type LinearRule<P> = Rule<P> & Required<Pick<Rule<P>, "transpose">>;

/** A tangent or cotangent; null stands for a symbolic zero. */
export type T = NDArray | null;

/** Whether a transpose-rule operand is linear (receives a cotangent) rather than a constant. */
export const isLin = (x: unknown): x is LinearIn => !(x instanceof NDArray);

/** tangent * c, keeping symbolic zeros. */
export const tmul = (t: T, c: NDArray | number): T => (t === null ? null : O.mul(t, c));
export const tdiv = (t: T, c: NDArray | number): T => (t === null ? null : O.div(t, c));
export const tneg = (t: T): T => (t === null ? null : O.neg(t));
export const tadd = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
export const tsub = (a: T, b: T): T => (a === null ? tneg(b) : b === null ? a : O.sub(a, b));

/** The output aval of a shape-preserving unary primitive. */
export function sameAval(a: Aval): Aval[] {
  return [makeAval(a.shape, a.dtype, a.weak)];
}
