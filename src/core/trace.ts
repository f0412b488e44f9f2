/**
 * The tracing machinery: a stack of active transform invocations ("main
 * traces"), tracers that belong to one of them, and `bind`, which sends a
 * primitive application to the innermost trace that owns one of its operands
 * (or runs the kernel when no operand is traced).
 *
 * Nesting by identity: each transform invocation pushes its own main trace;
 * a trace unpacks only its own tracers and treats everything from lower
 * levels as constants. When the transform returns its main is popped and
 * marked inactive, so a leaked tracer throws TracerError when used.
 */
import { NablaError, TracerError, fmtShape } from "./errors.js";
import { DType, SHORT } from "./dtype.js";
import { ConcreteArray, NDArray, frozenShape } from "./ndarray.js";
import { Shape } from "./shape.js";
import { Params, Prim, RULES } from "../ops/primitives.js";

/** The abstract value of an array: what staging and shape rules see. */
export interface Aval {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly weak: boolean;
}

export function avalOf(x: NDArray): Aval {
  return x instanceof Tracer ? x.aval : { shape: x.shape, dtype: x.dtype, weak: x.weakType };
}

export function fmtAval(a: Aval): string {
  return `${SHORT[a.dtype]}[${a.shape.join(",")}]`;
}

/** One active invocation of a transform. */
export class MainTrace {
  active = true;
  constructor(
    readonly level: number,
    readonly kind: string,
  ) {}
}

const STACK: MainTrace[] = [];

/** @internal The number of active transform invocations (0 outside every transform). */
export function traceDepth(): number {
  return STACK.length;
}

/** Pushes a new main trace and returns the trace built on it. Pair with {@link endTrace} in `finally`. */
export function newTrace<T extends Trace>(kind: string, make: (main: MainTrace) => T): T {
  const main = new MainTrace(STACK.length, kind);
  const t = make(main);
  STACK.push(main);
  return t;
}

export function endTrace(t: Trace): void {
  const top = STACK[STACK.length - 1];
  if (top !== t.main) throw new NablaError(`internal: trace stack out of order (${t.main.kind})`);
  STACK.pop();
  top.active = false;
}

/** How one kind of transform interprets primitives applied to its tracers. */
export abstract class Trace {
  constructor(readonly main: MainTrace) {}
  /** Wraps a value from a lower level (a constant to this trace) as a tracer of this trace. */
  abstract pure(x: NDArray): Tracer;
  abstract processPrimitive<P extends Prim>(prim: P, args: Tracer[], params: Params[P]): NDArray[];
  /** The concrete value behind a tracer of this trace, for `item()`/`valueOf()`; TracerError if there is none. */
  abstract concreteOf(t: Tracer, op: string): ConcreteArray;
}

/** An NDArray standing for a value inside a transform. */
export abstract class Tracer extends NDArray {
  abstract readonly trace: Trace;
  abstract readonly aval: Aval;
  #shape: Shape | undefined;
  /** The per-value shape, as a frozen array. */
  get shape(): Shape {
    return (this.#shape ??= frozenShape(this.aval.shape));
  }
  get dtype(): DType {
    return this.aval.dtype;
  }
  get weakType(): boolean {
    return this.aval.weak;
  }
  concrete(op: string): ConcreteArray {
    checkLive(this, op);
    return this.trace.concreteOf(this, op);
  }
  override toString(): string {
    return `Traced<${fmtAval(this.aval)}> (${this.trace.main.kind} tracer)`;
  }
}

function checkLive(t: Tracer, op: string): void {
  if (!t.trace.main.active)
    throw new TracerError(
      `${op}: a ${t.trace.main.kind} tracer of shape ${fmtShape(t.shape)} was used after its transform returned (escaped tracer)`,
    );
}

function raise(top: Trace, x: NDArray, op: string): Tracer {
  if (x instanceof Tracer) {
    if (x.trace === top) return x;
    if (x.trace.main.level < top.main.level) return top.pure(x);
    throw new TracerError(`${op}: tracer from level ${x.trace.main.level} met trace at level ${top.main.level}`);
  }
  return top.pure(x);
}

/** Applies a primitive to operands: dispatches to the innermost owning trace, or evaluates. */
export function bind<P extends Prim>(prim: P, args: readonly NDArray[], params: Params[P]): NDArray[] {
  let top: Trace | null = null;
  for (const a of args) {
    if (a instanceof Tracer) {
      checkLive(a, prim);
      if (top === null || a.trace.main.level > top.main.level) top = a.trace;
    }
  }
  if (top === null) {
    const rule = RULES[prim] as unknown as RuleAny;
    const avals = rule.opaque ? [] : rule.abstractEval(args.map(avalOf), params);
    return rule.impl(args as ConcreteArray[], params, avals);
  }
  const t = top;
  return t.processPrimitive(
    prim,
    args.map((a) => raise(t, a, prim)),
    params,
  );
}

export function bind1<P extends Prim>(prim: P, args: readonly NDArray[], params: Params[P]): NDArray {
  return bind(prim, args, params)[0]!;
}

/** @internal The rule table seen without per-primitive parameter types. */
export interface RuleAny {
  abstractEval(avals: Aval[], params: unknown): Aval[];
  impl(args: ConcreteArray[], params: unknown, avals: Aval[]): ConcreteArray[];
  jvp(primals: NDArray[], tangents: (NDArray | null)[], outs: NDArray[], params: unknown): (NDArray | null)[];
  transpose?: (cts: (NDArray | null)[], args: (NDArray | LinearIn)[], params: unknown) => (NDArray | null)[];
  vmap(args: NDArray[], dims: (number | null)[], params: unknown, size: number): [NDArray[], (number | null)[]];
  /** Rows wrapping user functions: eager evaluation skips the (symbolic) shape rule. */
  opaque?: boolean;
  /** Primal and tangent outputs together (used instead of `jvp` when present). */
  jvpFull?: (primals: NDArray[], tangents: (NDArray | null)[], params: unknown) => [NDArray[], (NDArray | null)[]];
}

export function ruleOf(prim: Prim): RuleAny {
  return RULES[prim] as unknown as RuleAny;
}

/** Marks an operand of a linear equation that is being transposed (it receives a cotangent). */
export class LinearIn {
  constructor(readonly aval: Aval) {}
}
