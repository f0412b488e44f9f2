/**
 * The tracing machinery: the type of a primitive ({@link Rule}, one row of
 * the primitive table), a stack of active transform invocations ("main
 * traces"), tracers that belong to one of them, and `bind`, which sends a
 * primitive application to the innermost trace that owns one of its operands
 * (or runs the kernel when no operand is traced). Primitives are row objects
 * passed by reference, so this layer needs no table of them.
 *
 * Nesting by identity: each transform invocation pushes its own main trace;
 * a trace unpacks only its own tracers and treats everything from lower
 * levels as constants. When the transform returns its main is popped and
 * marked inactive, so a leaked tracer throws TracerError when used.
 */
import { NablaError, ShapeError, TracerError, at, fmtShape } from "./errors.js";
import { DType, SHORT } from "./dtype.js";
import { ConcreteArray, EMPTY_SHAPE, NDArray, firstElement, float64Scalar, frozenShape, storageOf } from "./ndarray.js";
import { MAX_SIZE, Shape } from "./shape.js";
import { SETTINGS, debugSite } from "./config.js";
import { DEVICE_HOOK, stagingDevice } from "./device.js";

/** The abstract value of an array: what staging and shape rules see. */
export interface Aval {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly weak: boolean;
}

export function avalOf(x: NDArray): Aval {
  if (x instanceof Tracer) return x.aval;
  return x.shape.length === 0 ? scalarAval(x.dtype, x.weakType) : { shape: x.shape, dtype: x.dtype, weak: x.weakType };
}

// The abstract values of 0-d arrays, shared (frozen): a scalar chain makes one per equation and
// per constant otherwise, and they outlive the trace in its graph (issue 8).
const scalarAvals = (dtype: DType): readonly [Aval, Aval] => [
  Object.freeze({ shape: EMPTY_SHAPE, dtype, weak: false }),
  Object.freeze({ shape: EMPTY_SHAPE, dtype, weak: true }),
];
const SCALAR_AVALS: Readonly<Record<DType, readonly [Aval, Aval]>> = {
  float64: scalarAvals("float64"),
  float32: scalarAvals("float32"),
  int32: scalarAvals("int32"),
  bool: scalarAvals("bool"),
};

/** @internal The shared, frozen abstract value of 0-d arrays of `dtype` and weakness `weak`. */
export function scalarAval(dtype: DType, weak: boolean): Aval {
  return SCALAR_AVALS[dtype][weak ? 1 : 0];
}

/** @internal An abstract value `{ shape, dtype, weak }` (the shared one for 0-d shapes). */
export function makeAval(shape: Shape, dtype: DType, weak: boolean): Aval {
  return shape.length === 0 ? scalarAval(dtype, weak) : { shape, dtype, weak };
}

export function fmtAval(a: Aval): string {
  return `${SHORT[a.dtype]}[${a.shape.join(",")}]`;
}

type T = NDArray | null;

/** A batch axis (null = not batched). */
export type Dim = number | null;
/** Outputs of a batching rule with their batch axes. */
export type BatchResult = [NDArray[], Dim[]];

/**
 * A primitive: its name and every rule and fact about it. Only `name`,
 * `abstractEval`, `impl`, `jvp` and `vmap` are required; the optional fields
 * say what else the primitive is (linear, elementwise, commutative, ...), and
 * the transforms, `jit`'s compiler and the graph simplifier read them here
 * rather than from lists of primitive names.
 */
export interface Rule<P = unknown> {
  /** The id the IR prints. */
  readonly name: string;
  /** Shape and dtype rule; throws ShapeError / DTypeError naming the primitive. */
  abstractEval(avals: Aval[], params: P): Aval[];
  /** The kernel on concrete arrays; `avals` are the outputs' abstract values. */
  impl(args: ConcreteArray[], params: P, avals: Aval[]): ConcreteArray[];
  /** Output tangents, given primals, input tangents (null = zero) and the primal outputs. */
  jvp(primals: NDArray[], tangents: T[], outs: NDArray[], params: P): T[];
  /** Primal and tangent outputs together (used instead of `jvp` when present). */
  jvpFull?(primals: NDArray[], tangents: T[], params: P): [NDArray[], T[]];
  /**
   * Unary rows with one output: `jvp` on its operand, tangent and output given apart (no lists), so
   * forward mode applies the row without building them (issue 8). The row's `jvp` must be this
   * rule wrapped in lists ({@link jvpOfUnary}).
   */
  jvpUnary?(x: NDArray, dx: NDArray | null, out: NDArray, params: P): T;
  /** Binary rows with one output: as {@link jvpUnary}, for two operands ({@link jvpOfBinary}). */
  jvpBinary?(x: NDArray, y: NDArray, dx: NDArray | null, dy: NDArray | null, out: NDArray, params: P): T;
  /** Linear primitives: cotangents of the operands marked LinearIn (null for constants or zero). */
  transpose?(cts: T[], args: (NDArray | LinearIn)[], params: P): T[];
  /**
   * Linear rows of one output and one or two operands: the cotangent of operand `j` (marked
   * LinearIn), given the output's cotangent (not a zero) and the operands apart, so transposition
   * calls it per linear operand without lists (issue 8). The row's `transpose` must be this rule
   * applied to each linear operand ({@link transposeOfOperands}).
   */
  transposeOperand?(ct: NDArray, j: number, a: NDArray | LinearIn, b: NDArray | LinearIn | undefined, params: P): T;
  /** Batching rule: operands with their batch axes (null = unbatched) to outputs with theirs; `size` is the batch size. */
  vmap(args: NDArray[], dims: Dim[], params: P, size: number): BatchResult;
  /** Rows wrapping user functions: eager evaluation skips the (symbolic) shape rule. */
  readonly opaque?: boolean;
  /** Elementwise primitives: the scalar function the kernel applies (fused loops call it too). */
  readonly scalar?: ((x: number) => number) | ((x: number, y: number) => number);
  /**
   * Binary elementwise primitives whose int32 result is not the float result
   * wrapped to 32 bits (products, powers: a double product past 2^53 has lost
   * its low bits): the scalar function for int32 outputs, which kernels and
   * fused loops call instead of `scalar` and `inline`.
   */
  readonly scalarInt32?: (x: number, y: number) => number;
  /** Elementwise primitives: a JS expression for fused loops, given the operands' expressions. */
  inline?(args: readonly string[], params: P): string;
  /**
   * Elementwise rows whose shape rule and kernel, on float64 0-d operands, give the float64 0-d
   * array of `scalar` applied to their elements, weak when every operand is: eager evaluation
   * then calls `scalar` directly (no shape rule, kernel or output lists; issue 8).
   */
  readonly scalarF64?: boolean;
  /** Binary primitives whose operands commute (CSE orders them). */
  readonly commutative?: boolean;
  /**
   * Binary primitives: a literal that leaves the other operand unchanged on
   * that side (compared with Object.is, so 0 and -0 differ), e.g. `x * 1`.
   */
  readonly identity?: { readonly left?: number; readonly right?: number };
  /**
   * Reductions a fused loop can end in when they reduce every axis: the
   * accumulator's start and the JS statement folding in one value (the same
   * arithmetic as the kernel, so results agree to the bit). The loop folds
   * chunks of SUM_CHUNK elements from `init` and folds their results with the
   * same statement (the kernel's order, kernels/sumOrder.ts).
   */
  readonly fold?: { readonly init: number; step(acc: string, v: string): string };
  /**
   * Elementwise primitives that are one exactly rounded IEEE operation on floats (so a JS loop and
   * compiled code give the same bits) and no faster compiled than in JS: `jit` keeps a fused loop
   * of only these in JS when copying its operands into linear memory would cost more than the work.
   */
  readonly cheap?: boolean;
  /** Unary primitives with f(f(x)) = x. */
  readonly involution?: boolean;
  /**
   * Primitives with a side effect (debug callbacks): staging keeps their
   * equations although they have no used output.
   */
  readonly effect?: boolean;
  /** The parameters the IR printer shows (all of them by default). */
  printParams?(params: P): Record<string, unknown>;
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
  /**
   * Whether `processPrimitive` takes constants (operands that are not this trace's tracers) as they
   * are, doing itself what `pure` would: then `bind` passes them without wrapping each in a tracer.
   */
  readonly takesConstants: boolean = false;
  abstract processPrimitive<P>(prim: Rule<P>, args: Tracer[], params: P): NDArray[];
  /**
   * A primitive of one output on one operand (`b` undefined) or two, given apart: its output,
   * without the operand and output lists of `processPrimitive` (issue 8: the lists were much of
   * what a scalar program allocates per primitive), or null when this trace applies `prim` only
   * through `processPrimitive`. Operands are this trace's tracers, lower levels' tracers or
   * concrete arrays, as `raise` takes them. The result must be what `processPrimitive` gives.
   */
  apply1<P>(_prim: Rule<P>, _a: NDArray, _b: NDArray | undefined, _params: P): NDArray | null {
    return null;
  }
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
  /** The concrete value's device, or (staged without one) the device the enclosing jit stages for. */
  get device(): string {
    try {
      return this.trace.concreteOf(this, "device").device;
    } catch (e) {
      if (e instanceof TracerError) return stagingDevice();
      throw e;
    }
  }
  override assertLive(op: string): void {
    checkLive(this, op);
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

/** @internal `x` as a tracer of `top` (the owning trace of a primitive `op` applied to it). */
export function raise(top: Trace, x: NDArray, op: string): Tracer {
  if (x instanceof Tracer) {
    if (x.trace === top) return x;
    if (x.trace.main.level < top.main.level) return top.pure(x);
    throw new TracerError(`${op}: tracer from level ${x.trace.main.level} met trace at level ${top.main.level}`);
  }
  return top.pure(x);
}

let DYNAMIC: Trace | null = null;

/**
 * Runs `f` with `t` as the dynamic trace: every primitive applied meanwhile goes to `t` unless an
 * operand belongs to a higher level, including operations on values closed over from lower levels
 * (which `t` sees as constants). Used to stage subgraphs (cond branches, loop bodies) completely.
 */
export function withDynamic<R>(t: Trace, f: () => R): R {
  const prev = DYNAMIC;
  DYNAMIC = t;
  try {
    return f();
  } finally {
    DYNAMIC = prev;
  }
}

/**
 * The eager fast path of rows marked `scalarF64` (issue 8): their result on float64 0-d concrete
 * operands outside every trace, device hook and debugNans, else null (then `bind` does the work).
 */
function scalarF64<P>(prim: Rule<P>, args: readonly NDArray[]): ConcreteArray | null {
  const a = args[0];
  return a === undefined || args.length > 2 ? null : scalarF64Of(prim, a, args[1]);
}

/**
 * @internal The float64 0-d fast path of a `scalarF64` row on one or two operands given apart (no
 * operand list), or null: then {@link dispatch1} does the work (not `bind1`, which would try again).
 */
export function scalarF64Of<P>(prim: Rule<P>, a: NDArray, b: NDArray | undefined): ConcreteArray | null {
  if (DEVICE_HOOK !== null || (DYNAMIC !== null && DYNAMIC.main.active) || SETTINGS.debugNans) return null;
  if (!(a instanceof ConcreteArray) || a.dtype !== "float64" || a.shape.length !== 0) return null;
  const f = prim.scalar;
  if (f === undefined) return null;
  if (b === undefined) return float64Scalar((f as (x: number) => number)(firstElement(a)), a.weak);
  if (!(b instanceof ConcreteArray) || b.dtype !== "float64" || b.shape.length !== 0) return null;
  return float64Scalar((f as (x: number, y: number) => number)(firstElement(a), firstElement(b)), a.weak && b.weak);
}

/** Applies a primitive to operands: dispatches to the innermost owning trace, or evaluates. */
export function bind<P>(prim: Rule<P>, args: readonly NDArray[], params: P): NDArray[] {
  if (prim.scalarF64 === true) {
    const r = scalarF64(prim, args);
    if (r !== null) return [r];
  }
  return dispatch(prim, args, params);
}

/** `bind` without the float64 0-d fast path. */
function dispatch<P>(prim: Rule<P>, args: readonly NDArray[], params: P): NDArray[] {
  let top: Trace | null = null;
  for (const a of args) {
    if (a instanceof Tracer) {
      checkLive(a, prim.name);
      if (top === null || a.trace.main.level > top.main.level) top = a.trace;
    }
  }
  if (DYNAMIC !== null && DYNAMIC.main.active && (top === null || DYNAMIC.main.level > top.main.level)) top = DYNAMIC;
  if (top === null) {
    // concrete operands are their own abstract values (shape, dtype, weak): no copies to make
    const concrete = args as ConcreteArray[];
    // a device runtime (webgpu) takes the primitives whose operands live on its device
    if (DEVICE_HOOK !== null) {
      const outs = DEVICE_HOOK(prim as Rule<never>, concrete, params);
      if (outs !== null) return outs;
    }
    const avals = prim.opaque ? [] : prim.abstractEval(concrete, params);
    checkOutputSizes(prim.name, avals, concrete);
    const outs = prim.impl(concrete, params, avals);
    if (SETTINGS.debugNans) checkNans(prim, concrete, outs);
    return outs;
  }
  // operands already of the owning trace pass as they are (the common case: no new array)
  const n = args.length;
  let i = 0;
  for (; i < n; i++) {
    const a = args[i];
    if (!(a instanceof Tracer) || a.trace !== top) break;
  }
  // (a trace that takes constants gets the others as they are too: each is a concrete array or a
  // lower level's tracer, which is what `raise` would wrap)
  if (i === n || top.takesConstants) return top.processPrimitive(prim, args as Tracer[], params);
  // a loop, not `args.map` with a closure: one array per primitive with a constant operand (issue 8)
  const raised = new Array<Tracer>(n);
  for (let j = 0; j < n; j++) {
    const a = args[j];
    if (a === undefined) throw new NablaError(`${prim.name}: internal: operand ${j} missing`);
    raised[j] = j < i ? (a as Tracer) : raise(top, a, prim.name);
  }
  return top.processPrimitive(prim, raised, params);
}

/**
 * @internal Throws ShapeError when an output of `name` would have more than 2^31 - 1 elements (a
 * matmul or concatenate of existing arrays can ask for that; typed arrays cannot hold it), naming the
 * operands: before anything is allocated, eagerly and when staging.
 */
export function checkOutputSizes(
  name: string,
  outs: readonly { readonly shape: Shape }[],
  ins: readonly { readonly dtype: DType; readonly shape: Shape }[],
): void {
  for (let k = 0; k < outs.length; k++) {
    const s = (outs[k] as { readonly shape: Shape }).shape;
    if (s.length === 0) continue;
    let n = 1;
    for (let i = 0; i < s.length; i++) n *= s[i] as number;
    if (n > MAX_SIZE) {
      const shown = ins.slice(0, 4).map((a) => `${SHORT[a.dtype]}[${a.shape.join(",")}]`);
      const operands = ins.length > 4 ? `${shown.join(", ")}, ... (${ins.length} operands)` : shown.join(", ");
      throw new ShapeError(
        `${name}: the result ${fmtShape(s)} would have ${n} elements, more than the limit 2^31 - 1 (operands ${operands})`,
      );
    }
  }
}

const hasNan = (x: ConcreteArray): boolean =>
  (x.dtype === "float64" || x.dtype === "float32") && storageOf(x).some(Number.isNaN);

/** debugNans: a primitive whose outputs have NaN although its inputs have none throws, naming it and the call site. */
function checkNans(prim: Rule<never>, args: ConcreteArray[], outs: ConcreteArray[]): void {
  if (!outs.some(hasNan) || args.some(hasNan)) return;
  throw nanError(prim.name, args, debugSite());
}

/**
 * @internal debugNans: the error of primitive `name` producing NaN from `args` (none NaN) at `site`;
 * `where` says how a device found it (appended to the message).
 */
export function nanError(
  name: string,
  args: readonly { readonly dtype: DType; readonly shape: Shape }[],
  site: string,
  where = "",
): NablaError {
  const ins = args.map((a) => `${SHORT[a.dtype]}[${a.shape.join(",")}]`).join(", ");
  return new NablaError(
    `${name}: produced NaN from inputs without NaN (${ins || "no inputs"}) at ${site} (config({ debugNans: true }))${where}`,
  );
}

export function bind1<P>(prim: Rule<P>, args: readonly NDArray[], params: P): NDArray {
  if (prim.scalarF64 === true) {
    const r = scalarF64(prim, args);
    if (r !== null) return r;
  }
  return dispatch1(prim, args, params);
}

/** @internal {@link bind1} without the float64 0-d fast path (for callers that tried {@link scalarF64Of}). */
export function dispatch1<P>(prim: Rule<P>, args: readonly NDArray[], params: P): NDArray {
  // the check inline, not through the generic `at` (one shape of array here: a call site V8 keeps fast)
  const out = dispatch(prim, args, params)[0];
  if (out === undefined) throw new NablaError(`${prim.name}: internal: the primitive returned no output`);
  return out;
}

/**
 * @internal {@link dispatch1} of a primitive of one output on one operand (`b` undefined) or two,
 * given apart: the owning trace's {@link Trace.apply1} when it takes the primitive that way, else
 * `dispatch1` with an operand list.
 */
export function dispatchPair<P>(prim: Rule<P>, a: NDArray, b: NDArray | undefined, params: P): NDArray {
  let top: Trace | null = null;
  if (a instanceof Tracer) {
    checkLive(a, prim.name);
    top = a.trace;
  }
  if (b instanceof Tracer) {
    checkLive(b, prim.name);
    if (top === null || b.trace.main.level > top.main.level) top = b.trace;
  }
  if (DYNAMIC !== null && DYNAMIC.main.active && (top === null || DYNAMIC.main.level > top.main.level)) top = DYNAMIC;
  if (top !== null) {
    const r = top.apply1(prim, a, b, params);
    if (r !== null) return r;
  }
  return dispatch1(prim, b === undefined ? [a] : [a, b], params);
}

/**
 * @internal {@link bind1} of a primitive of one output on one or two operands given apart: the
 * float64 0-d fast path, else {@link dispatchPair}.
 */
export function bindPair<P>(prim: Rule<P>, a: NDArray, b: NDArray | undefined, params: P): NDArray {
  const r = prim.scalarF64 === true ? scalarF64Of(prim, a, b) : null;
  return r ?? dispatchPair(prim, a, b, params);
}

/** A unary row's `jvp` from its {@link Rule.jvpUnary} (the one definition of its derivative). */
export function jvpOfUnary<P>(
  j: (x: NDArray, dx: NDArray | null, out: NDArray, params: P) => T,
): (primals: NDArray[], tangents: T[], outs: NDArray[], params: P) => T[] {
  return (primals, tangents, outs, params) => [
    j(at(primals, 0, "jvp"), tangents[0] ?? null, at(outs, 0, "jvp"), params),
  ];
}

/** A binary row's `jvp` from its {@link Rule.jvpBinary}. */
export function jvpOfBinary<P>(
  j: (x: NDArray, y: NDArray, dx: NDArray | null, dy: NDArray | null, out: NDArray, params: P) => T,
): (primals: NDArray[], tangents: T[], outs: NDArray[], params: P) => T[] {
  return (primals, tangents, outs, params) => [
    j(
      at(primals, 0, "jvp"),
      at(primals, 1, "jvp"),
      tangents[0] ?? null,
      tangents[1] ?? null,
      at(outs, 0, "jvp"),
      params,
    ),
  ];
}

/**
 * A linear row's `transpose` from its {@link Rule.transposeOperand}: that rule for each operand
 * marked LinearIn, null for the others and for a zero output cotangent.
 */
export function transposeOfOperands<P>(
  op: (ct: NDArray, j: number, a: NDArray | LinearIn, b: NDArray | LinearIn | undefined, params: P) => T,
): (cts: T[], args: (NDArray | LinearIn)[], params: P) => T[] {
  return (cts, args, params) => {
    const ct = cts[0] ?? null;
    const a = at(args, 0, "transpose");
    const b = args[1];
    const r = new Array<T>(args.length);
    for (let j = 0; j < args.length; j++)
      r[j] = ct === null || !(args[j] instanceof LinearIn) ? null : op(ct, j, a, b, params);
    return r;
  };
}

/** Marks an operand of a linear equation that is being transposed (it receives a cotangent). */
export class LinearIn {
  constructor(readonly aval: Aval) {}
}

const scalarLinearIns = (dtype: DType): readonly [LinearIn, LinearIn] => [
  new LinearIn(scalarAval(dtype, false)),
  new LinearIn(scalarAval(dtype, true)),
];
const SCALAR_LINEAR_INS: Readonly<Record<DType, readonly [LinearIn, LinearIn]>> = {
  float64: scalarLinearIns("float64"),
  float32: scalarLinearIns("float32"),
  int32: scalarLinearIns("int32"),
  bool: scalarLinearIns("bool"),
};

/** @internal A LinearIn of `aval`: shared for the shared 0-d abstract values (LinearIn is immutable). */
export function linearIn(aval: Aval): LinearIn {
  if (aval.shape.length === 0) {
    const l = SCALAR_LINEAR_INS[aval.dtype][aval.weak ? 1 : 0];
    if (l.aval === aval) return l;
  }
  return new LinearIn(aval);
}
