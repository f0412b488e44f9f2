/**
 * The primitive table: one row per primitive with its shape/dtype rule
 * (`abstractEval`), kernel (`impl`), JVP rule and, for linear primitives, a
 * transpose rule. The table is typed so that a primitive without its rules
 * fails the type check.
 *
 * JVP and transpose rules are written with differentiable operations (the
 * functions of `ops.ts`), never with raw numbers, so a rule is itself
 * differentiable and every derivative order comes free. `null` stands for a
 * symbolic zero tangent or cotangent.
 *
 * Binary elementwise primitives broadcast implicitly (NumPy rules) and take
 * operands of one dtype (the ops layer inserts conversions). Tangents are
 * broadcast to the output and cotangents summed back to each operand's shape
 * centrally, by the JVP trace and by transposition.
 */
import { DTypeError, ShapeError, fmtShape } from "../core/errors.js";
import { DType, isFloat } from "../core/dtype.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { broadcastShapes, shapesEqual, sizeOf } from "../core/shape.js";
import * as K from "../core/kernels.js";
import * as K2 from "../core/kernels2.js";
import type { Aval, LinearIn } from "../core/trace.js";
import * as O from "./ops.js";
import { BINARY, BinaryName, UNARY } from "./scalar.js";
import { BatchResult, Dim, batchedFront, elementwise, moveToFront, passThrough, shiftAxes } from "./batching.js";
import * as L from "./linalgRules.js";
import { WhileParams, whileRow } from "./loopRules.js";
import { CondParams, condRow } from "../transforms/condRule.js";
import {
  CustomJvpParams,
  CustomLinParams,
  CustomVjpParams,
  customJvpRow,
  customLinRow,
  customVjpRow,
} from "./customRules.js";
import { bind } from "../core/trace.js";

/** Parameters of each primitive. The keys are the primitive ids the IR prints. */
export interface Params {
  neg: {};
  exp: {};
  log: {};
  log1p: {};
  expm1: {};
  sin: {};
  cos: {};
  tan: {};
  tanh: {};
  sinh: {};
  cosh: {};
  asin: {};
  acos: {};
  atan: {};
  sqrt: {};
  abs: {};
  sign: {};
  floor: {};
  ceil: {};
  round: {};
  erf: {};
  logistic: {};
  softplus: {};
  stop_gradient: {};
  add: {};
  sub: {};
  mul: {};
  div: {};
  pow: {};
  max: {};
  min: {};
  atan2: {};
  eq: {};
  ne: {};
  lt: {};
  le: {};
  gt: {};
  ge: {};
  and: {};
  or: {};
  not: {};
  select: {};
  convert: { dtype: DType };
  reduce_sum: { axes: number[] };
  reduce_max: { axes: number[] };
  reduce_min: { axes: number[] };
  argmax: { axis: number };
  argmin: { axis: number };
  reshape: { shape: number[] };
  broadcast: { shape: number[] };
  transpose: { perm: number[] };
  slice: { begin: number[]; end: number[] };
  pad: { lo: number[]; hi: number[] };
  concatenate: { axis: number };
  matmul: {};
  gather: { axis: number };
  scatter_add: { axis: number; size: number };
  cumsum: { axis: number; reverse: boolean };
  rev: { axes: number[] };
  argsort: { axis: number; descending: boolean };
  solve: {};
  triangular_solve: { lower: boolean; transposeA: boolean };
  slogdet: {};
  cholesky: {};
  qr: {};
  eigh: {};
  random_bits: { shape: number[] };
  random_uniform: { shape: number[]; dtype: DType };
  custom_jvp_call: CustomJvpParams;
  custom_vjp_call: CustomVjpParams;
  custom_vjp_lin: CustomLinParams;
  while_loop: WhileParams;
  cond: CondParams;
}
export type Prim = keyof Params;

type T = NDArray | null;

/** Rules every primitive has. */
export interface Rule<P> {
  /** Shape and dtype rule; throws ShapeError / DTypeError naming the primitive. */
  abstractEval(avals: Aval[], params: P): Aval[];
  /** The kernel on concrete arrays; `avals` are the outputs' abstract values. */
  impl(args: ConcreteArray[], params: P, avals: Aval[]): ConcreteArray[];
  /** Output tangents, given primals, input tangents (null = zero) and the primal outputs. */
  jvp(primals: NDArray[], tangents: T[], outs: NDArray[], params: P): T[];
  /** Batching rule: operands with their batch axes (null = unbatched) to outputs with theirs; `size` is the batch size. */
  vmap(args: NDArray[], dims: Dim[], params: P, size: number): BatchResult;
}
/** Rules of a primitive that is linear in (some of) its operands. */
export interface LinearRule<P> extends Rule<P> {
  /** Cotangents of the operands marked LinearIn (null for constants or zero). */
  transpose(cts: T[], args: (NDArray | LinearIn)[], params: P): T[];
}

type LinearPrim =
  | "neg"
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "select"
  | "convert"
  | "reduce_sum"
  | "reshape"
  | "broadcast"
  | "transpose"
  | "slice"
  | "pad"
  | "concatenate"
  | "matmul"
  | "gather"
  | "scatter_add"
  | "cumsum"
  | "rev"
  | "solve"
  | "triangular_solve"
  | "custom_vjp_lin"
  | "cond";

type RuleFor<P extends Prim> = P extends LinearPrim ? LinearRule<Params[P]> : Rule<Params[P]>;

// ---------------------------------------------------------------------------
// helpers for rules

const isLin = (x: unknown): x is LinearIn => !(x instanceof NDArray);

/** tangent * c, keeping symbolic zeros. */
const tmul = (t: T, c: NDArray | number): T => (t === null ? null : O.mul(t, c));
const tdiv = (t: T, c: NDArray | number): T => (t === null ? null : O.div(t, c));
const tneg = (t: T): T => (t === null ? null : O.neg(t));
const tadd = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
const tsub = (a: T, b: T): T => (a === null ? tneg(b) : b === null ? a : O.sub(a, b));

function sameAval(a: Aval): Aval[] {
  return [{ shape: a.shape, dtype: a.dtype, weak: a.weak }];
}

function unaryFloat(
  name: Prim,
  f: (v: number) => number,
  jvp: (x: NDArray, dx: NDArray, y: NDArray) => NDArray,
): Rule<{}> {
  return {
    abstractEval([a]) {
      if (!isFloat(a!.dtype)) throw new DTypeError(`${name}: expected a float operand, got ${a!.dtype}`);
      return sameAval(a!);
    },
    impl([x], _p, [o]) {
      return [K.unary(x!, o!.dtype, o!.weak, f)];
    },
    jvp([x], [dx], [y]) {
      return [dx === null ? null : jvp(x!, dx, y!)];
    },
    vmap: passThrough(name),
  };
}

/** Elementwise unary without a derivative (piecewise constant). */
function unaryZero(name: Prim, f: (v: number) => number, numericOnly = true): Rule<{}> {
  return {
    abstractEval([a]) {
      if (numericOnly && a!.dtype === "bool") throw new DTypeError(`${name}: expected a numeric operand, got bool`);
      return sameAval(a!);
    },
    impl([x], _p, [o]) {
      return [K.unary(x!, o!.dtype, o!.weak, f)];
    },
    jvp: () => [null],
    vmap: passThrough(name),
  };
}

function binaryAval(name: string, a: Aval, b: Aval, out?: DType): Aval[] {
  if (a.dtype !== b.dtype) throw new DTypeError(`${name}: operand dtypes differ (${a.dtype} and ${b.dtype})`);
  const shape = broadcastShapes(name, a.shape, b.shape);
  return [{ shape, dtype: out ?? a.dtype, weak: out === undefined && a.weak && b.weak }];
}

function binaryImpl(f: (x: number, y: number) => number) {
  return ([a, b]: ConcreteArray[], _p: {}, [o]: Aval[]) => [K.binary(a!, b!, o!.shape, o!.dtype, o!.weak, f)];
}

function floatBinary(name: string, a: Aval, b: Aval): Aval[] {
  const r = binaryAval(name, a, b);
  if (!isFloat(r[0]!.dtype)) throw new DTypeError(`${name}: expected float operands, got ${r[0]!.dtype}`);
  return r;
}

function compare(name: Prim & BinaryName): Rule<{}> {
  return {
    abstractEval: ([a, b]) => binaryAval(name, a!, b!, "bool"),
    impl: binaryImpl(BINARY[name]),
    jvp: () => [null],
    vmap: elementwise(name),
  };
}

function logic(name: Prim & BinaryName): Rule<{}> {
  const f = BINARY[name];
  return {
    abstractEval([a, b]) {
      if (a!.dtype !== "bool" || b!.dtype !== "bool")
        throw new DTypeError(`${name}: expected bool operands, got ${a!.dtype} and ${b!.dtype}`);
      return binaryAval(name, a!, b!, "bool");
    },
    impl: binaryImpl(f),
    jvp: () => [null],
    vmap: elementwise(name),
  };
}

/** Weights of each operand of maximum/minimum: 1 where it wins, 1/2 at ties, 0 elsewhere. */
function extremumWeights(x: NDArray, y: NDArray, wins: (a: NDArray, b: NDArray) => NDArray): [NDArray, NDArray] {
  const dt = x.dtype;
  const tie = O.mul(O.astype(O.equal(x, y), dt), 0.5);
  return [O.add(O.astype(wins(x, y), dt), tie), O.add(O.astype(wins(y, x), dt), tie)];
}

function reduceAval(name: string, a: Aval, axes: number[]): Aval[] {
  for (const ax of axes)
    if (!Number.isInteger(ax) || ax < 0 || ax >= a.shape.length)
      throw new ShapeError(`${name}: axis ${ax} out of range for shape ${fmtShape(a.shape)}`);
  return [{ shape: a.shape.filter((_, i) => !axes.includes(i)), dtype: a.dtype, weak: a.weak }];
}

/** The shape of a reduction's output with the reduced axes kept as size 1. */
export function keepShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function extremumReduceJvp(x: NDArray, dx: T, y: NDArray, axes: number[]): T {
  if (dx === null) return null;
  // d(max x) = sum(dx * m) / sum(m), m = (x == max x): ties share the derivative evenly
  const mask = O.astype(O.equal(x, O.reshape(y, keepShape(x.shape, axes))), x.dtype);
  return O.div(O.reduceSum(O.mul(dx, mask), axes), O.reduceSum(mask, axes));
}

function checkPerm(perm: number[], nd: number): void {
  const ok = perm.length === nd && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!ok) throw new ShapeError(`transpose: perm [${perm.join(",")}] is not a permutation of ${nd} axes`);
}

export function swapLast(x: NDArray): NDArray {
  const n = x.ndim;
  const perm = Array.from({ length: n }, (_, i) => i);
  perm[n - 2] = n - 1;
  perm[n - 1] = n - 2;
  return O.transposePrim(x, perm);
}

const SQRT_PI_2 = 2 / Math.sqrt(Math.PI);

// ---------------------------------------------------------------------------
// the table

export const RULES = {
  // d(-x) = -dx
  neg: {
    abstractEval([a]) {
      if (a!.dtype === "bool") throw new DTypeError("neg: expected a numeric operand, got bool");
      return sameAval(a!);
    },
    impl: ([x], _p, [o]) => [K.unary(x!, o!.dtype, o!.weak, UNARY.neg)],
    jvp: (_x, [dx]) => [tneg(dx!)],
    transpose: ([ct]) => [tneg(ct!)],
    vmap: passThrough("neg"),
  },
  // d(e^x) = e^x dx
  exp: unaryFloat("exp", UNARY.exp, (_x, dx, y) => O.mul(dx, y)),
  // d(log x) = dx / x
  log: unaryFloat("log", UNARY.log, (x, dx) => O.div(dx, x)),
  // d(log1p x) = dx / (1 + x)
  log1p: unaryFloat("log1p", UNARY.log1p, (x, dx) => O.div(dx, O.add(x, 1))),
  // d(expm1 x) = (y + 1) dx
  expm1: unaryFloat("expm1", UNARY.expm1, (_x, dx, y) => O.mul(dx, O.add(y, 1))),
  // d(sin x) = cos x dx
  sin: unaryFloat("sin", UNARY.sin, (x, dx) => O.mul(dx, O.cos(x))),
  // d(cos x) = -sin x dx
  cos: unaryFloat("cos", UNARY.cos, (x, dx) => O.neg(O.mul(dx, O.sin(x)))),
  // d(tan x) = (1 + tan² x) dx
  tan: unaryFloat("tan", UNARY.tan, (_x, dx, y) => O.mul(dx, O.add(1, O.mul(y, y)))),
  // d(tanh x) = (1 - tanh² x) dx
  tanh: unaryFloat("tanh", UNARY.tanh, (_x, dx, y) => O.mul(dx, O.sub(1, O.mul(y, y)))),
  // d(sinh x) = cosh x dx
  sinh: unaryFloat("sinh", UNARY.sinh, (x, dx) => O.mul(dx, O.cosh(x))),
  // d(cosh x) = sinh x dx
  cosh: unaryFloat("cosh", UNARY.cosh, (x, dx) => O.mul(dx, O.sinh(x))),
  // d(asin x) = dx / sqrt(1 - x²)
  asin: unaryFloat("asin", UNARY.asin, (x, dx) => O.div(dx, O.sqrt(O.sub(1, O.mul(x, x))))),
  // d(acos x) = -dx / sqrt(1 - x²)
  acos: unaryFloat("acos", UNARY.acos, (x, dx) => O.neg(O.div(dx, O.sqrt(O.sub(1, O.mul(x, x)))))),
  // d(atan x) = dx / (1 + x²)
  atan: unaryFloat("atan", UNARY.atan, (x, dx) => O.div(dx, O.add(1, O.mul(x, x)))),
  // d(sqrt x) = dx / (2 sqrt x)
  sqrt: unaryFloat("sqrt", UNARY.sqrt, (_x, dx, y) => O.div(dx, O.mul(y, 2))),
  // d(erf x) = 2/sqrt(pi) e^(-x²) dx
  erf: unaryFloat("erf", UNARY.erf, (x, dx) => O.mul(dx, O.mul(O.exp(O.neg(O.mul(x, x))), SQRT_PI_2))),
  // d(sigmoid x) = y (1 - y) dx
  logistic: unaryFloat("logistic", UNARY.logistic, (_x, dx, y) => O.mul(dx, O.mul(y, O.sub(1, y)))),
  // d(softplus x) = sigmoid(x) dx
  softplus: unaryFloat("softplus", UNARY.softplus, (x, dx) => O.mul(dx, O.sigmoid(x))),
  // d|x| = sign(x) dx, with the convention |x|'(0) = 1
  abs: {
    abstractEval([a]) {
      if (a!.dtype === "bool") throw new DTypeError("abs: expected a numeric operand, got bool");
      return sameAval(a!);
    },
    impl: ([x], _p, [o]) => [K.unary(x!, o!.dtype, o!.weak, UNARY.abs)],
    jvp: ([x], [dx]) => [tmul(dx, O.where(O.greaterEqual(x!, 0), 1, -1))],
    vmap: passThrough("abs"),
  },
  sign: unaryZero("sign", UNARY.sign),
  floor: unaryZero("floor", UNARY.floor),
  ceil: unaryZero("ceil", UNARY.ceil),
  round: unaryZero("round", UNARY.round),
  // the identity whose derivative is zero
  stop_gradient: {
    abstractEval: ([a]) => sameAval(a!),
    impl: ([x]) => [x!],
    jvp: () => [null],
    vmap: passThrough("stop_gradient"),
  },
  // d(x + y) = dx + dy
  add: {
    abstractEval: ([a, b]) => binaryAval("add", a!, b!),
    impl: binaryImpl(BINARY.add),
    jvp: (_p, [dx, dy]) => [tadd(dx!, dy!)],
    transpose: ([ct], args) => args.map((a) => (isLin(a) ? ct! : null)),
    vmap: elementwise("add"),
  },
  // d(x - y) = dx - dy
  sub: {
    abstractEval: ([a, b]) => binaryAval("sub", a!, b!),
    impl: binaryImpl(BINARY.sub),
    jvp: (_p, [dx, dy]) => [tsub(dx!, dy!)],
    transpose: ([ct], [a, b]) => [isLin(a) ? ct! : null, isLin(b) ? tneg(ct!) : null],
    vmap: elementwise("sub"),
  },
  // d(x y) = dx y + x dy
  mul: {
    abstractEval: ([a, b]) => binaryAval("mul", a!, b!),
    impl: binaryImpl(BINARY.mul),
    jvp: ([x, y], [dx, dy]) => [tadd(tmul(dx!, y!), dy === null ? null : O.mul(x!, dy!))],
    transpose([ct], [a, b]) {
      if (isLin(a) && isLin(b)) throw new DTypeError("mul: transpose of a product of two linear operands");
      return [
        isLin(a) ? tmul(ct!, b as NDArray) : null,
        isLin(b) ? (ct === null ? null : O.mul(a as NDArray, ct!)) : null,
      ];
    },
    vmap: elementwise("mul"),
  },
  // d(x / y) = dx / y - dy x / y² = (dx - dy out) / y
  div: {
    abstractEval: ([a, b]) => binaryAval("div", a!, b!),
    impl: binaryImpl(BINARY.div),
    jvp: ([, y], [dx, dy], [out]) => [tdiv(tsub(dx!, tmul(dy!, out!)), y!)],
    transpose([ct], [a, b]) {
      if (isLin(b)) throw new DTypeError("div: transpose with a linear denominator");
      return [isLin(a) ? tdiv(ct!, b) : null, null];
    },
    vmap: elementwise("div"),
  },
  // d(x^y) = y x^(y-1) dx + log(x) x^y dy, with 0^y terms taken as 0 where the limit is 0
  pow: {
    abstractEval: ([a, b]) => floatBinary("pow", a!, b!),
    impl: binaryImpl(BINARY.pow),
    jvp([x, y], [dx, dy], [out]) {
      let tx: T = null;
      if (dx !== null) {
        const yc = y instanceof ConcreteArray && y.size === 1 ? y.item() : null;
        if (yc === 0) tx = null;
        else if (yc !== null) tx = O.mul(dx, O.mul(O.pow(x!, yc - 1), yc));
        else {
          // where y == 0 the derivative is 0; the inner where keeps the unused branch finite
          const y0 = O.equal(y!, 0);
          const safeX = O.where(y0, 1, x!);
          tx = O.mul(dx, O.where(y0, 0, O.mul(O.pow(safeX, O.sub(y!, 1)), y!)));
        }
      }
      let ty: T = null;
      if (dy !== null) {
        const x0 = O.equal(x!, 0);
        ty = O.mul(dy, O.where(x0, 0, O.mul(O.log(O.where(x0, 1, x!)), out!)));
      }
      return [tadd(tx, ty)];
    },
    vmap: elementwise("pow"),
  },
  // d max(x, y) = dx [x > y] + dy [y > x] + (dx + dy)/2 [x == y]
  max: {
    abstractEval: ([a, b]) => binaryAval("max", a!, b!),
    impl: binaryImpl(BINARY.max),
    jvp([x, y], [dx, dy]) {
      const [wx, wy] = extremumWeights(x!, y!, O.greater);
      return [tadd(tmul(dx!, wx), tmul(dy!, wy))];
    },
    vmap: elementwise("max"),
  },
  min: {
    abstractEval: ([a, b]) => binaryAval("min", a!, b!),
    impl: binaryImpl(BINARY.min),
    jvp([x, y], [dx, dy]) {
      const [wx, wy] = extremumWeights(x!, y!, O.less);
      return [tadd(tmul(dx!, wx), tmul(dy!, wy))];
    },
    vmap: elementwise("min"),
  },
  // d atan2(a, b) = (b da - a db) / (a² + b²)
  atan2: {
    abstractEval: ([a, b]) => floatBinary("atan2", a!, b!),
    impl: binaryImpl(BINARY.atan2),
    jvp([a, b], [da, db]) {
      const den = O.add(O.mul(a!, a!), O.mul(b!, b!));
      return [tsub(tmul(da!, O.div(b!, den)), tmul(db!, O.div(a!, den)))];
    },
    vmap: elementwise("atan2"),
  },
  eq: compare("eq"),
  ne: compare("ne"),
  lt: compare("lt"),
  le: compare("le"),
  gt: compare("gt"),
  ge: compare("ge"),
  and: logic("and"),
  or: logic("or"),
  not: {
    abstractEval([a]) {
      if (a!.dtype !== "bool") throw new DTypeError(`not: expected a bool operand, got ${a!.dtype}`);
      return sameAval(a!);
    },
    impl: ([x]) => [K.unary(x!, "bool", false, UNARY.not)],
    jvp: () => [null],
    vmap: passThrough("not"),
  },
  // select(c, x, y): d = select(c, dx, dy)
  select: {
    abstractEval([c, a, b]) {
      if (c!.dtype !== "bool") throw new DTypeError(`select: condition must be bool, got ${c!.dtype}`);
      if (a!.dtype !== b!.dtype) throw new DTypeError(`select: branch dtypes differ (${a!.dtype} and ${b!.dtype})`);
      const shape = broadcastShapes("select", c!.shape, a!.shape, b!.shape);
      return [{ shape, dtype: a!.dtype, weak: a!.weak && b!.weak }];
    },
    impl: ([c, x, y], _p, [o]) => [K.select(c!, x!, y!, o!.shape, o!.dtype, o!.weak)],
    jvp([c], [, dx, dy]) {
      if (dx === null && dy === null) return [null];
      return [O.selectPrim(c!, dx ?? 0, dy ?? 0)];
    },
    transpose([ct], [c, a, b]) {
      if (ct === null) return [null, null, null];
      const cond = c as NDArray;
      return [null, isLin(a) ? O.selectPrim(cond, ct, 0) : null, isLin(b) ? O.selectPrim(cond, 0, ct) : null];
    },
    vmap: elementwise("select"),
  },
  // convert(x) is linear between float dtypes; to int/bool it has no derivative
  convert: {
    abstractEval: ([a], { dtype }) => [{ shape: a!.shape, dtype, weak: false }],
    impl: ([x], { dtype }) => [K.cast(x!, dtype)],
    jvp: ([x], [dx], _o, { dtype }) => [
      dx !== null && isFloat(dtype) && isFloat(x!.dtype) ? O.convert(dx, dtype) : null,
    ],
    transpose: ([ct], [a]) => [ct === null ? null : O.convert(ct, (a as LinearIn).aval.dtype)],
    vmap: passThrough("convert"),
  },
  // d sum(x) = sum(dx); transpose broadcasts back
  reduce_sum: {
    abstractEval: ([a], { axes }) => reduceAval("reduce_sum", a!, axes),
    impl: ([x], { axes }, [o]) => [K.reduce(x!, axes, o!.dtype, 0, (s, v) => s + v)],
    jvp: (_p, [dx], _o, { axes }) => [dx === null ? null : O.reduceSum(dx, axes)],
    transpose([ct], [a], { axes }) {
      if (ct === null) return [null];
      const shape = (a as LinearIn).aval.shape;
      return [O.broadcastPrim(O.reshape(ct, keepShape(shape, axes)), shape.slice())];
    },
    vmap: shiftAxes("reduce_sum", ({ axes }) => ({ axes: axes.map((a) => a + 1) })),
  },
  reduce_max: {
    abstractEval: ([a], { axes }) => reduceAval("reduce_max", a!, axes),
    impl: ([x], { axes }, [o]) => [
      K.reduce(x!, axes, o!.dtype, -Infinity, (m, v) => (v > m || Number.isNaN(v) ? v : m)),
    ],
    jvp: ([x], [dx], [y], { axes }) => [extremumReduceJvp(x!, dx!, y!, axes)],
    vmap: shiftAxes("reduce_max", ({ axes }) => ({ axes: axes.map((a) => a + 1) })),
  },
  reduce_min: {
    abstractEval: ([a], { axes }) => reduceAval("reduce_min", a!, axes),
    impl: ([x], { axes }, [o]) => [
      K.reduce(x!, axes, o!.dtype, Infinity, (m, v) => (v < m || Number.isNaN(v) ? v : m)),
    ],
    jvp: ([x], [dx], [y], { axes }) => [extremumReduceJvp(x!, dx!, y!, axes)],
    vmap: shiftAxes("reduce_min", ({ axes }) => ({ axes: axes.map((a) => a + 1) })),
  },
  argmax: {
    abstractEval: ([a], { axis }) => [{ ...reduceAval("argmax", a!, [axis])[0]!, dtype: "int32", weak: false }],
    impl: ([x], { axis }) => [K.argReduce(x!, axis, true)],
    jvp: () => [null],
    vmap: shiftAxes("argmax", ({ axis }) => ({ axis: axis + 1 })),
  },
  argmin: {
    abstractEval: ([a], { axis }) => [{ ...reduceAval("argmin", a!, [axis])[0]!, dtype: "int32", weak: false }],
    impl: ([x], { axis }) => [K.argReduce(x!, axis, false)],
    jvp: () => [null],
    vmap: shiftAxes("argmin", ({ axis }) => ({ axis: axis + 1 })),
  },
  reshape: {
    abstractEval([a], { shape }) {
      if (sizeOf(shape) !== sizeOf(a!.shape))
        throw new ShapeError(`reshape: cannot reshape ${fmtShape(a!.shape)} to ${fmtShape(shape)}`);
      return [{ shape, dtype: a!.dtype, weak: a!.weak }];
    },
    impl: ([x], { shape }) => [new ConcreteArray(x!.data, shape, x!.dtype, x!.weakType)],
    jvp: (_p, [dx], _o, { shape }) => [dx === null ? null : O.reshape(dx, shape)],
    transpose: ([ct], [a]) => [ct === null ? null : O.reshape(ct, (a as LinearIn).aval.shape)],
    vmap: shiftAxes("reshape", ({ shape }, n) => ({ shape: [n, ...shape] })),
  },
  // NumPy broadcast_to
  broadcast: {
    abstractEval([a], { shape }) {
      const s = broadcastShapes("broadcastTo", a!.shape, shape);
      if (!shapesEqual(s, shape))
        throw new ShapeError(`broadcastTo: cannot broadcast ${fmtShape(a!.shape)} to ${fmtShape(shape)}`);
      return [{ shape, dtype: a!.dtype, weak: a!.weak }];
    },
    impl: ([x], { shape }) => [K.broadcastTo(x!, shape)],
    jvp: (_p, [dx], _o, { shape }) => [dx === null ? null : O.broadcastPrim(dx, shape)],
    transpose: ([ct], [a]) => [ct === null ? null : O.sumToShape(ct, (a as LinearIn).aval.shape)],
    vmap([x], [d], { shape }) {
      const f = moveToFront(x!, d!);
      const core = f.shape.slice(1);
      const lifted = O.reshape(f, [f.shape[0]!, ...new Array<number>(shape.length - core.length).fill(1), ...core]);
      return [[O.broadcastPrim(lifted, [f.shape[0]!, ...shape])], [0]];
    },
  },
  transpose: {
    abstractEval([a], { perm }) {
      checkPerm(perm, a!.shape.length);
      return [{ shape: perm.map((p) => a!.shape[p]!), dtype: a!.dtype, weak: a!.weak }];
    },
    impl: ([x], { perm }) => [K.transpose(x!, perm)],
    jvp: (_p, [dx], _o, { perm }) => [dx === null ? null : O.transposePrim(dx, perm)],
    transpose([ct], _a, { perm }) {
      if (ct === null) return [null];
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return [O.transposePrim(ct, inv)];
    },
    vmap: shiftAxes("transpose", ({ perm }) => ({ perm: [0, ...perm.map((p) => p + 1)] })),
  },
  slice: {
    abstractEval([a], { begin, end }) {
      const s = a!.shape;
      const ok =
        begin.length === s.length &&
        end.length === s.length &&
        begin.every(
          (b, i) => Number.isInteger(b) && Number.isInteger(end[i]) && 0 <= b && b <= end[i]! && end[i]! <= s[i]!,
        );
      if (!ok)
        throw new ShapeError(
          `slice: begin [${begin.join(",")}] / end [${end.join(",")}] invalid for shape ${fmtShape(s)}`,
        );
      return [{ shape: begin.map((b, i) => end[i]! - b), dtype: a!.dtype, weak: a!.weak }];
    },
    impl: ([x], { begin, end }) => [K.slice(x!, begin, end)],
    jvp: (_p, [dx], _o, { begin, end }) => [dx === null ? null : O.slicePrim(dx, begin, end)],
    transpose([ct], [a], { begin, end }) {
      if (ct === null) return [null];
      const s = (a as LinearIn).aval.shape;
      return [
        O.padPrim(
          ct,
          begin,
          end.map((e, i) => s[i]! - e),
        ),
      ];
    },
    vmap: shiftAxes("slice", ({ begin, end }, n) => ({ begin: [0, ...begin], end: [n, ...end] })),
  },
  // zero padding
  pad: {
    abstractEval([a], { lo, hi }) {
      const s = a!.shape;
      if (
        lo.length !== s.length ||
        hi.length !== s.length ||
        ![...lo, ...hi].every((v) => Number.isInteger(v) && v >= 0)
      )
        throw new ShapeError(`pad: widths [${lo.join(",")}] / [${hi.join(",")}] invalid for shape ${fmtShape(s)}`);
      return [{ shape: s.map((d, i) => d + lo[i]! + hi[i]!), dtype: a!.dtype, weak: a!.weak }];
    },
    impl: ([x], { lo, hi }) => [K.pad(x!, lo, hi)],
    jvp: (_p, [dx], _o, { lo, hi }) => [dx === null ? null : O.padPrim(dx, lo, hi)],
    transpose([ct], [a], { lo }) {
      if (ct === null) return [null];
      const s = (a as LinearIn).aval.shape;
      return [
        O.slicePrim(
          ct,
          lo,
          lo.map((l, i) => l + s[i]!),
        ),
      ];
    },
    vmap: shiftAxes("pad", ({ lo, hi }) => ({ lo: [0, ...lo], hi: [0, ...hi] })),
  },
  concatenate: {
    abstractEval(avals, { axis }) {
      const first = avals[0];
      if (first === undefined) throw new ShapeError("concatenate: needs at least one array");
      const nd = first.shape.length;
      if (axis < 0 || axis >= nd) throw new ShapeError(`concatenate: axis ${axis} out of range for rank ${nd}`);
      let total = 0;
      for (const a of avals) {
        if (a.dtype !== first.dtype) throw new DTypeError(`concatenate: dtypes differ (${first.dtype} and ${a.dtype})`);
        if (a.shape.length !== nd || a.shape.some((d, i) => i !== axis && d !== first.shape[i]))
          throw new ShapeError(
            `concatenate: shapes ${avals.map((v) => fmtShape(v.shape)).join(", ")} differ off axis ${axis}`,
          );
        total += a.shape[axis]!;
      }
      const shape = first.shape.slice();
      shape[axis] = total;
      return [{ shape, dtype: first.dtype, weak: avals.every((a) => a.weak) }];
    },
    impl: (xs, { axis }, [o]) => [K.concatenate(xs, axis, o!.dtype)],
    jvp(xs, dxs, _o, { axis }) {
      if (dxs.every((d) => d === null)) return [null];
      return [
        O.concatPrim(
          dxs.map((d, i) => d ?? O.zeros(xs[i]!.shape, { dtype: xs[i]!.dtype })),
          axis,
        ),
      ];
    },
    transpose([ct], args, { axis }) {
      let off = 0;
      return args.map((a) => {
        const s = (isLin(a) ? a.aval.shape : a.shape).slice();
        const begin = s.map(() => 0);
        begin[axis] = off;
        off += s[axis]!;
        if (!isLin(a) || ct === null) return null;
        const end = s.slice();
        end[axis] = off;
        return O.slicePrim(ct, begin, end);
      });
    },
    vmap: (xs, ds, { axis }, n) => [
      bind(
        "concatenate",
        xs.map((x, i) => batchedFront(x, ds[i]!, n)),
        { axis: axis + 1 },
      ),
      [0],
    ],
  },
  // batched matrix product [...B, M, K] @ [...B, K, N]; d(AB) = dA B + A dB
  matmul: {
    abstractEval([a, b]) {
      const sa = a!.shape;
      const sb = b!.shape;
      const n = sa.length;
      if (a!.dtype !== b!.dtype) throw new DTypeError(`matmul: operand dtypes differ (${a!.dtype} and ${b!.dtype})`);
      if (n < 2 || sb.length !== n || sa[n - 1] !== sb[n - 2] || !shapesEqual(sa.slice(0, n - 2), sb.slice(0, n - 2)))
        throw new ShapeError(`matmul: shapes ${fmtShape(sa)} and ${fmtShape(sb)} are not aligned`);
      return [{ shape: [...sa.slice(0, n - 1), sb[n - 1]!], dtype: a!.dtype, weak: false }];
    },
    impl: ([a, b], _p, [o]) => [K.matmul(a!, b!, o!.dtype)],
    jvp: ([a, b], [da, db]) => [
      tadd(da === null ? null : O.matmulPrim(da, b!), db === null ? null : O.matmulPrim(a!, db)),
    ],
    transpose([ct], [a, b]) {
      if (ct === null) return [null, null];
      if (isLin(a) && isLin(b)) throw new DTypeError("matmul: transpose of a product of two linear operands");
      return [
        isLin(a) ? O.matmulPrim(ct, swapLast(b as NDArray)) : null,
        isLin(b) ? O.matmulPrim(swapLast(a as NDArray), ct) : null,
      ];
    },
    vmap: ([a, b], [da, db], _p, n) => [[L.matmulBatch(a!, b!, da!, db!, n)], [0]],
  },
  // gather along an axis: out = x.shape[:axis] ++ idx.shape ++ x.shape[axis+1:]; linear in x
  gather: {
    abstractEval([x, i], { axis }) {
      if (i!.dtype !== "int32") throw new DTypeError(`take: indices must be int32, got ${i!.dtype}`);
      if (axis < 0 || axis >= x!.shape.length)
        throw new ShapeError(`take: axis ${axis} out of range for shape ${fmtShape(x!.shape)}`);
      if (x!.shape[axis] === 0 && sizeOf(i!.shape) > 0)
        throw new ShapeError(`take: cannot take from empty axis ${axis} of shape ${fmtShape(x!.shape)}`);
      return [
        {
          shape: [...x!.shape.slice(0, axis), ...i!.shape, ...x!.shape.slice(axis + 1)],
          dtype: x!.dtype,
          weak: x!.weak,
        },
      ];
    },
    impl: ([x, i], { axis }) => [K2.gather(x!, i!, axis)],
    jvp: ([, i], [dx], _o, { axis }) => [dx === null ? null : O.gatherPrim(dx, i!, axis)],
    transpose([ct], [x, i], { axis }) {
      if (ct === null || !isLin(x)) return [null, null];
      return [O.scatterAddPrim(ct, i as NDArray, axis, x.aval.shape[axis]!), null];
    },
    vmap: L.gatherBatch,
  },
  // adds u into zeros along an axis at idx (the transpose of gather); linear in u
  scatter_add: {
    abstractEval([u, i], { axis, size }) {
      if (i!.dtype !== "int32") throw new DTypeError(`scatterAdd: indices must be int32, got ${i!.dtype}`);
      const k = i!.shape.length;
      if (axis < 0 || axis + k > u!.shape.length || !shapesEqual(u!.shape.slice(axis, axis + k), i!.shape))
        throw new ShapeError(
          `scatterAdd: updates ${fmtShape(u!.shape)} do not match indices ${fmtShape(i!.shape)} at axis ${axis}`,
        );
      return [
        { shape: [...u!.shape.slice(0, axis), size, ...u!.shape.slice(axis + k)], dtype: u!.dtype, weak: u!.weak },
      ];
    },
    impl: ([u, i], { axis, size }) => [K2.scatterAdd(u!, i!, axis, size)],
    jvp: ([, i], [du], _o, { axis, size }) => [du === null ? null : O.scatterAddPrim(du, i!, axis, size)],
    transpose([ct], [u, i], { axis }) {
      if (ct === null || !isLin(u)) return [null, null];
      return [O.gatherPrim(ct, i as NDArray, axis), null];
    },
    vmap: L.scatterBatch,
  },
  // running sum along an axis; linear, its transpose runs the other way
  cumsum: {
    abstractEval([a], { axis }) {
      if (axis < 0 || axis >= a!.shape.length)
        throw new ShapeError(`cumsum: axis ${axis} out of range for shape ${fmtShape(a!.shape)}`);
      if (a!.dtype === "bool") throw new DTypeError("cumsum: expected a numeric operand, got bool");
      return sameAval(a!);
    },
    impl: ([x], { axis, reverse }) => [K2.cumsum(x!, axis, reverse)],
    jvp: (_p, [dx], _o, { axis, reverse }) => [dx === null ? null : O.cumsumPrim(dx, axis, reverse)],
    transpose: ([ct], _a, { axis, reverse }) => [ct === null ? null : O.cumsumPrim(ct, axis, !reverse)],
    vmap: shiftAxes("cumsum", ({ axis, reverse }) => ({ axis: axis + 1, reverse })),
  },
  // reverses the order along axes; linear and its own transpose
  rev: {
    abstractEval([a], { axes }) {
      for (const ax of axes)
        if (ax < 0 || ax >= a!.shape.length)
          throw new ShapeError(`flip: axis ${ax} out of range for shape ${fmtShape(a!.shape)}`);
      return sameAval(a!);
    },
    impl: ([x], { axes }) => [K2.rev(x!, axes)],
    jvp: (_p, [dx], _o, { axes }) => [dx === null ? null : O.revPrim(dx, axes)],
    transpose: ([ct], _a, { axes }) => [ct === null ? null : O.revPrim(ct, axes)],
    vmap: shiftAxes("rev", ({ axes }) => ({ axes: axes.map((a) => a + 1) })),
  },
  // stable sorting permutation (int32): no derivative
  argsort: {
    abstractEval([a], { axis }) {
      if (axis < 0 || axis >= a!.shape.length)
        throw new ShapeError(`argsort: axis ${axis} out of range for shape ${fmtShape(a!.shape)}`);
      return [{ shape: a!.shape, dtype: "int32", weak: false }];
    },
    impl: ([x], { axis, descending }) => [K2.argsort(x!, axis, descending)],
    jvp: () => [null],
    vmap: shiftAxes("argsort", ({ axis, descending }) => ({ axis: axis + 1, descending })),
  },
  // X = A⁻¹ B by pivoted LU; dX = A⁻¹ (dB - dA X); linear in B (transpose: A⁻ᵀ ct)
  solve: {
    abstractEval: ([a, b]) => L.solveAval("solve", a!, b!),
    impl: ([a, b]) => [K2.solve(a!, b!)],
    jvp: ([a, b], [da, db], [x]) => [L.solveJvp(a!, b!, da!, db!, x!)],
    transpose([ct], [a, b]) {
      if (isLin(a)) throw new DTypeError("solve: transpose with a linear matrix operand");
      return [null, isLin(b) && ct !== null ? O.solvePrim(swapLast(a), ct) : null];
    },
    vmap: ([a, b], [da, db], _p, n) => [[O.solvePrim(batchedFront(a!, da!, n), batchedFront(b!, db!, n))], [0]],
  },
  // X = op(A)⁻¹ B for triangular A (only its triangle is read); linear in B
  triangular_solve: {
    abstractEval: ([a, b]) => L.solveAval("triangularSolve", a!, b!),
    impl: ([a, b], { lower, transposeA }) => [K2.triangularSolve(a!, b!, lower, transposeA)],
    jvp: ([a, b], [da, db], [x], p) => [L.triangularSolveJvp(a!, b!, da!, db!, x!, p.lower, p.transposeA)],
    transpose([ct], [a, b], { lower, transposeA }) {
      if (isLin(a)) throw new DTypeError("triangularSolve: transpose with a linear matrix operand");
      return [null, isLin(b) && ct !== null ? O.triangularSolvePrim(a, ct, lower, !transposeA) : null];
    },
    vmap: ([a, b], [da, db], p, n) => [
      [O.triangularSolvePrim(batchedFront(a!, da!, n), batchedFront(b!, db!, n), p.lower, p.transposeA)],
      [0],
    ],
  },
  // [sign, log|det A|]; d log|det A| = tr(A⁻¹ dA)
  slogdet: {
    abstractEval([a]) {
      L.checkSquare("slogdet", a!);
      const shape = a!.shape.slice(0, -2);
      return [
        { shape, dtype: a!.dtype, weak: false },
        { shape, dtype: a!.dtype, weak: false },
      ];
    },
    impl: ([a]) => K2.slogdet(a!),
    jvp: ([a], [da]) => [null, da === null ? null : L.batchTrace(O.solvePrim(a!, da))],
    vmap: ([a], [d]) => [O.slogdetPrim(moveToFront(a!, d!)), [0, 0]],
  },
  // L = chol((A + Aᵀ)/2); dL = L φ(L⁻¹ dS L⁻ᵀ), φ = lower triangle with halved diagonal
  cholesky: {
    abstractEval([a]) {
      L.checkSquare("cholesky", a!);
      return sameAval(a!);
    },
    impl: ([a]) => [
      K2.cholesky(
        K.binary(a!, K.transpose(a!, L.swapPerm(a!.shape.length)), a!.shape, a!.dtype, false, (u, v) => 0.5 * (u + v)),
      ),
    ],
    jvp: ([a], [da], [l]) => [da === null ? null : L.choleskyJvp(a!, da, l!)],
    vmap: ([a], [d]) => [[O.choleskyPrim(moveToFront(a!, d!))], [0]],
  },
  // reduced QR (m >= n), diag(R) >= 0
  qr: {
    abstractEval([a]) {
      const s = a!.shape;
      const n = s.length;
      if (n < 2 || s[n - 2]! < s[n - 1]!)
        throw new ShapeError(`qr: expected a [..., m, n] matrix with m >= n, got ${fmtShape(s)}`);
      if (!isFloat(a!.dtype)) throw new DTypeError(`qr: expected a float matrix, got ${a!.dtype}`);
      return [
        { shape: s, dtype: a!.dtype, weak: false },
        { shape: [...s.slice(0, -2), s[n - 1]!, s[n - 1]!], dtype: a!.dtype, weak: false },
      ];
    },
    impl: ([a]) => K2.qr(a!),
    jvp: ([,], [da], [q, r]) => (da === null ? [null, null] : L.qrJvp(da, q!, r!)),
    vmap: ([a], [d]) => [O.qrPrim(moveToFront(a!, d!)), [0, 0]],
  },
  // eigenvalues (ascending) and eigenvectors of (A + Aᵀ)/2; assumes distinct eigenvalues for derivatives
  eigh: {
    abstractEval([a]) {
      L.checkSquare("eigh", a!);
      return [
        { shape: a!.shape.slice(0, -1), dtype: a!.dtype, weak: false },
        { shape: a!.shape, dtype: a!.dtype, weak: false },
      ];
    },
    impl: ([a]) => K2.eigh(a!),
    jvp: ([,], [da], [w, v]) => (da === null ? [null, null] : L.eighJvp(da, w!, v!)),
    vmap: ([a], [d]) => [O.eighPrim(moveToFront(a!, d!)), [0, 0]],
  },
  // random 32-bit words from a key [..., 2] (Threefry-2x32): no derivative
  random_bits: {
    abstractEval: ([k], { shape }) => [{ shape: [...L.checkKey(k!), ...shape], dtype: "int32", weak: false }],
    impl: ([k], { shape }) => [K2.randomBits(k!, shape)],
    jvp: () => [null],
    vmap: ([k], [d], p) => [[bind1Random("random_bits", moveToFront(k!, d!), p)], [0]],
  },
  random_uniform: {
    abstractEval: ([k], { shape, dtype }) => [{ shape: [...L.checkKey(k!), ...shape], dtype, weak: false }],
    impl: ([k], { shape, dtype }) => [K2.randomUniform(k!, shape, dtype)],
    jvp: () => [null],
    vmap: ([k], [d], p) => [[bind1Random("random_uniform", moveToFront(k!, d!), p)], [0]],
  },
  // user-defined rules (see customRules.ts)
  custom_jvp_call: customJvpRow,
  custom_vjp_call: customVjpRow,
  custom_vjp_lin: customLinRow,
  // a loop staged by whileLoop (see loopRules.ts)
  while_loop: whileRow,
  // a conditional staged by cond (see transforms/condRule.ts)
  cond: condRow,
} satisfies { [P in Prim]: RuleFor<P> };

function bind1Random<P extends "random_bits" | "random_uniform">(prim: P, key: NDArray, params: Params[P]): NDArray {
  return bind(prim, [key], params)[0]!;
}
