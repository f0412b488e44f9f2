/**
 * Helpers shared by the rows of the primitive table: the linear-row type,
 * tangent arithmetic that keeps symbolic zeros (`null`), and small shape
 * rules.
 */
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import type { Aval, BatchResult, Dim, LinearIn, Rule as AnyRule } from "../core/trace.js";
import { makeAval } from "../core/trace.js";
import * as O from "./wrap.js";
import type { Tuple } from "../core/tuple.js";

/** A tangent or cotangent; null stands for a symbolic zero. */
export type T = NDArray | null;

/**
 * A row's operands, tangents, batch axes, linear-input markers and cotangents
 * as tuples ({@link Tuple}): `bind` passes a row exactly the operands its
 * wrapper gives it, and the transforms pass one tangent, batch axis or
 * linear-input marker per operand and one cotangent per output, so a row's
 * rules may destructure their arguments by position without checking each
 * element.
 */
export type { Tuple };

type Positional = "abstractEval" | "impl" | "jvp" | "jvpFull" | "transpose" | "vmap" | "inline";

/**
 * A row of the primitive table with `N` operands and `M` outputs
 * (`N = number` for a variadic row): {@link AnyRule | the core Rule} with its
 * per-operand and per-output arguments typed as tuples. It is assignable to
 * the core `Rule<P>` (whose rules take arrays), which is what `bind` and the
 * transforms see.
 */
export interface Rule<P = unknown, N extends number = number, M extends number = number> extends Omit<
  AnyRule<P>,
  Positional
> {
  /** Shape and dtype rule; throws ShapeError / DTypeError naming the primitive. */
  abstractEval(avals: Tuple<Aval, N>, params: P): Aval[];
  /** The kernel on concrete arrays; `avals` are the outputs' abstract values. */
  impl(args: Tuple<ConcreteArray, N>, params: P, avals: Tuple<Aval, M>): ConcreteArray[];
  /** Output tangents, given primals, input tangents (null = zero) and the primal outputs. */
  jvp(primals: Tuple<NDArray, N>, tangents: Tuple<T, N>, outs: Tuple<NDArray, M>, params: P): T[];
  /** Primal and tangent outputs together (used instead of `jvp` when present). */
  jvpFull?(primals: Tuple<NDArray, N>, tangents: Tuple<T, N>, params: P): [NDArray[], T[]];
  /** Elementwise primitives: a JS expression for fused loops, given the operands' expressions. */
  inline?(args: Readonly<Tuple<string, N>>, params: P): string;
  /** Linear primitives: cotangents of the operands marked LinearIn (null for constants or zero). */
  transpose?(cts: Tuple<T, M>, args: Tuple<NDArray | LinearIn, N>, params: P): T[];
  /**
   * Batching rule: operands with their batch axes (null = unbatched) to
   * outputs with theirs. vmap binds a primitive none of whose operands is
   * batched without calling this, so a unary row's operand always has one.
   */
  vmap(args: Tuple<NDArray, N>, dims: N extends 1 ? [number] : Tuple<Dim, N>, params: P, size: number): BatchResult;
}

/** A row whose `transpose` rule is required: the primitive is linear in (some of) its operands. */
export type LinearRule<P, N extends number = number, M extends number = number> = Rule<P, N, M> &
  Required<Pick<Rule<P, N, M>, "transpose">>;

/** Whether a transpose-rule operand is linear (receives a cotangent) rather than a constant. */
export const isLin = (x: unknown): x is LinearIn => !(x instanceof NDArray);

/** tangent * c, keeping symbolic zeros. */
export const tmul = (t: T, c: NDArray | number): T => (t === null ? null : O.mul(t, c));
export const tdiv = (t: T, c: NDArray | number): T => (t === null ? null : O.div(t, c));
export const tneg = (t: T): T => (t === null ? null : O.neg(t));
export const tadd = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
export const tsub = (a: T, b: T): T => (a === null ? tneg(b) : b === null ? a : O.sub(a, b));

/** The output aval of a shape-preserving unary primitive. */
export function sameAval(a: Aval): [Aval] {
  return [makeAval(a.shape, a.dtype, a.weak)];
}
