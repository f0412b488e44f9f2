/**
 * The internal, differentiable primitive wrappers: each binds one primitive
 * (after the light dtype promotion, weak-scalar handling and no-op checks it
 * needs), so it works on concrete arrays and on tracers alike. The rows'
 * derivative and batching rules are written with these, never with raw
 * numbers, so every rule is itself differentiable; the public operations in
 * `src/ops` validate their arguments and build on them.
 *
 * Operands are NDArrays or bare JS numbers (weak scalars, as JAX's).
 */
import { DType, floatOf, promote } from "../core/dtype.js";
import { ConcreteArray, NDArray, isIntegralWeak, scalar, storageOf } from "../core/ndarray.js";
import { Shape, shapesEqual } from "../core/shape.js";
import { Rule, bind, bind1, dispatchPair, scalarF64Of } from "../core/trace.js";
import { NablaError } from "../core/errors.js";
import type { Tuple } from "./rule.js";
import { NO_PARAMS as STAGED_NO_PARAMS } from "../core/graph.js";
import { cast } from "../kernels/elementwise.js";
import { broadcastTo } from "../kernels/movement.js";
import * as E from "./elementwise.js";
import * as R from "./reduce.js";
import * as SH from "./shape.js";
import * as IX from "./indexing.js";
import * as LA from "./linalg.js";

/** The parameters of the parameterless elementwise primitives, shared (the staging trace's own). */
const NO_PARAMS: {} = STAGED_NO_PARAMS;

/** An operand: an array, or a bare JS number (a weak float64 scalar) or boolean. */
export type Operand = NDArray | number | boolean;

/** The operand as an array: bare numbers become weak float64 scalars, booleans bool scalars. */
function lift(x: Operand): NDArray {
  if (x instanceof NDArray) return x;
  if (typeof x === "number") return scalar(x, "float64", true);
  return scalar(x ? 1 : 0, "bool");
}

// ---------------------------------------------------------------------------
// dtype plumbing

/** Converts to `dtype`; weak scalars convert eagerly and stay weak. */
export function convertTo(x: NDArray, dtype: DType): NDArray {
  if (x.dtype === dtype) return x;
  if (x instanceof ConcreteArray && x.weakType) return cast(x, dtype, true);
  return bind1(E.CONVERT, [x], { dtype });
}

/** The `convert` primitive (no weak-type handling). */
export function convert(x: NDArray, dtype: DType): NDArray {
  return x.dtype === dtype ? x : bind1(E.CONVERT, [x], { dtype });
}

/** Converts to `dtype`, dropping weak typing. */
export function astype(x: NDArray, dtype: DType): NDArray {
  if (x.dtype === dtype && !x.weakType) return x;
  if (x.dtype === dtype && x instanceof ConcreteArray) return new ConcreteArray(storageOf(x), x.shape, x.dtype, false);
  return bind1(E.CONVERT, [x], { dtype });
}

/** The dtype operands promote to (JAX rules with weak scalars). */
export function promoted(op: string, xs: NDArray[]): DType {
  const [x, y] = xs;
  if (xs.length === 2 && x !== undefined && y !== undefined) {
    const d = promoted2(x, y);
    if (d !== null) return d;
  }
  return promote(
    op,
    xs.map((x) => ({ dtype: x.dtype, weak: x.weakType, integral: isIntegralWeak(x) })),
  ).dtype;
}

/**
 * The common cases of `promote` for two operands without building its inputs: one dtype and
 * weakness (that dtype), or a strong float with a weak operand (the float). Null otherwise.
 */
function promoted2(a: NDArray, b: NDArray): DType | null {
  const da = a.dtype;
  const db = b.dtype;
  const wa = a.weakType;
  const wb = b.weakType;
  if (da === db && wa === wb) return da;
  if (!wa && wb && (da === "float64" || da === "float32")) return da;
  if (wa && !wb && (db === "float64" || db === "float32")) return db;
  return null;
}

/** A binary elementwise primitive on promoted operands (`float`: computed in a float dtype). */
export function binaryOp(prim: Rule<{}>, x: Operand, y: Operand, op: string, float = false): NDArray {
  const a = lift(x);
  const b = lift(y);
  let dt = promoted2(a, b) ?? promoted(op, [a, b]);
  if (float) dt = floatFor(dt, a, b);
  const ca = convertTo(a, dt);
  const cb = convertTo(b, dt);
  // float64 0-d operands outside every trace: the scalar function, without an operand list (issue 8)
  const r = prim.scalarF64 === true ? scalarF64Of(prim, ca, cb) : null;
  return r ?? dispatchPair(prim, ca, cb, NO_PARAMS);
}

/**
 * The float dtype integer and bool operands compute in: float64, or float32 when an operand lives on a
 * device without float64 ("webgpu"; docs/webgpu.md).
 */
function floatFor(d: DType, a: NDArray, b?: NDArray): DType {
  if (d === "float64" || d === "float32") return d;
  return a.device !== "cpu" || (b !== undefined && b.device !== "cpu") ? "float32" : floatOf(d);
}

/** A unary float primitive (ints and bools compute in float64; float32 on "webgpu"). */
export function unaryFloat(prim: Rule<{}>, x: Operand): NDArray {
  const l = lift(x);
  const a = convertTo(l, floatFor(l.dtype, l));
  const r = prim.scalarF64 === true ? scalarF64Of(prim, a, undefined) : null;
  return r ?? dispatchPair(prim, a, undefined, NO_PARAMS);
}

/** The operand tested != 0, as bool. */
export function toBool(x: Operand): NDArray {
  const a = lift(x);
  return a.dtype === "bool" ? a : bind1(E.NE, [a, convertTo(scalar(0, "float64", true), a.dtype)], {});
}

// ---------------------------------------------------------------------------
// elementwise

export const neg = (x: Operand): NDArray => bind1(E.NEG, [lift(x)], {});
export const exp = (x: Operand): NDArray => unaryFloat(E.EXP, x);
export const log = (x: Operand): NDArray => unaryFloat(E.LOG, x);
export const sin = (x: Operand): NDArray => unaryFloat(E.SIN, x);
export const cos = (x: Operand): NDArray => unaryFloat(E.COS, x);
export const sinh = (x: Operand): NDArray => unaryFloat(E.SINH, x);
export const cosh = (x: Operand): NDArray => unaryFloat(E.COSH, x);
export const sqrt = (x: Operand): NDArray => unaryFloat(E.SQRT, x);
export const sigmoid = (x: Operand): NDArray => unaryFloat(E.LOGISTIC, x);

export const add = (x: Operand, y: Operand): NDArray => binaryOp(E.ADD, x, y, "add");
export const sub = (x: Operand, y: Operand): NDArray => binaryOp(E.SUB, x, y, "sub");
export const mul = (x: Operand, y: Operand): NDArray => binaryOp(E.MUL, x, y, "mul");
export const div = (x: Operand, y: Operand): NDArray => binaryOp(E.DIV, x, y, "div", true);
export const pow = (x: Operand, y: Operand): NDArray => binaryOp(E.POW, x, y, "pow", true);
export const maximum = (x: Operand, y: Operand): NDArray => binaryOp(E.MAX, x, y, "maximum");
export const minimum = (x: Operand, y: Operand): NDArray => binaryOp(E.MIN, x, y, "minimum");
export const equal = (x: Operand, y: Operand): NDArray => binaryOp(E.EQ, x, y, "equal");
export const less = (x: Operand, y: Operand): NDArray => binaryOp(E.LT, x, y, "less");
export const greater = (x: Operand, y: Operand): NDArray => binaryOp(E.GT, x, y, "greater");
export const greaterEqual = (x: Operand, y: Operand): NDArray => binaryOp(E.GE, x, y, "greaterEqual");

/** The select primitive with operand promotion (`c` is bool). */
export function selectPrim(c: NDArray, x: Operand, y: Operand): NDArray {
  const a = lift(x);
  const b = lift(y);
  const dt = promoted("where", [a, b]);
  return bind1(E.SELECT, [c, convertTo(a, dt), convertTo(b, dt)], {});
}

/** x where cond (tested != 0), else y. */
export function where(cond: Operand, x: Operand, y: Operand): NDArray {
  return selectPrim(toBool(cond), x, y);
}

/** Limits values to [lo, hi]. */
export function clip(x: Operand, lo: Operand, hi: Operand): NDArray {
  return minimum(maximum(x, lo), hi);
}

// ---------------------------------------------------------------------------
// reductions

/** The shape of a reduction's output with the reduced axes kept as size 1. */
export function keepShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** The reduce_sum primitive over sorted axes. */
export function reduceSum(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1(R.REDUCE_SUM, [x], { axes: axes.slice() });
}

/** Sums `x` down to `shape` (the transpose of broadcasting to x.shape). */
export function sumToShape(x: NDArray, shape: Shape): NDArray {
  if (shapesEqual(x.shape, shape)) return x;
  const lead = x.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  return reshape(reduceSum(x, axes), shape);
}

/** The cumsum primitive. */
export function cumsumPrim(x: NDArray, axis: number, reverse: boolean): NDArray {
  return bind1(R.CUMSUM, [x], { axis, reverse });
}

// ---------------------------------------------------------------------------
// shape

/** The reshape primitive (a full shape: no -1). */
export function reshape(x: NDArray, shape: Shape): NDArray {
  if (shapesEqual(shape, x.shape)) return x;
  return bind1(SH.RESHAPE, [x], { shape: shape.slice() });
}

/** The transpose primitive. */
export function transposePrim(x: NDArray, perm: readonly number[]): NDArray {
  if (perm.every((p, i) => p === i)) return x;
  return bind1(SH.TRANSPOSE, [x], { perm: perm.slice() });
}

/** The broadcast primitive. */
export function broadcastPrim(x: NDArray, shape: readonly number[]): NDArray {
  if (shapesEqual(x.shape, shape)) return x;
  return bind1(SH.BROADCAST, [x], { shape: shape.slice() });
}

/** The concatenate primitive. */
export function concatPrim(xs: readonly NDArray[], axis: number): NDArray {
  const [x] = xs;
  return xs.length === 1 && x !== undefined ? x : bind1(SH.CONCATENATE, xs, { axis });
}

/** The slice primitive. */
export function slicePrim(x: NDArray, begin: readonly number[], end: readonly number[]): NDArray {
  if (begin.every((b) => b === 0) && end.every((e, i) => e === x.shape[i])) return x;
  return bind1(SH.SLICE, [x], { begin: begin.slice(), end: end.slice() });
}

/** The zero-pad primitive. */
export function padPrim(x: NDArray, lo: readonly number[], hi: readonly number[]): NDArray {
  if (lo.every((v) => v === 0) && hi.every((v) => v === 0)) return x;
  return bind1(SH.PAD, [x], { lo: lo.slice(), hi: hi.slice() });
}

/** The rev primitive. */
export function revPrim(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1(SH.REV, [x], { axes: axes.slice() });
}

// ---------------------------------------------------------------------------
// indexing

/** The gather primitive. */
export function gatherPrim(x: NDArray, idx: NDArray, axis: number): NDArray {
  return bind1(IX.GATHER, [x, idx], { axis });
}
/** The scatter-add primitive. */
export function scatterAddPrim(u: NDArray, idx: NDArray, axis: number, size: number): NDArray {
  return bind1(IX.SCATTER_ADD, [u, idx], { axis, size });
}

// ---------------------------------------------------------------------------
// linear algebra

/** The batched matmul primitive (equal batch dims). */
export function matmulPrim(a: NDArray, b: NDArray): NDArray {
  return bind1(LA.MATMUL, [a, b], {});
}
export const solvePrim = (a: NDArray, b: NDArray): NDArray => bind1(LA.SOLVE, [a, b], {});
export const triangularSolvePrim = (a: NDArray, b: NDArray, lower: boolean, transposeA: boolean): NDArray =>
  bind1(LA.TRIANGULAR_SOLVE, [a, b], { lower, transposeA });
/** A multi-output primitive's `m` outputs as a tuple (checked: a different count is a bug in nabla). */
function bindOuts<P, M extends number>(prim: Rule<P>, args: readonly NDArray[], params: P, m: M): Tuple<NDArray, M> {
  const outs = bind(prim, args, params);
  if (outs.length !== m) throw new NablaError(`${prim.name}: internal: ${outs.length} outputs, expected ${m}`);
  return outs as Tuple<NDArray, M>;
}

export const slogdetPrim = (a: NDArray): [NDArray, NDArray] => bindOuts(LA.SLOGDET, [a], {}, 2);
export const detPrim = (a: NDArray): NDArray => bind1(LA.DET, [a], {});
export const cofactorPrim = (a: NDArray): NDArray => bind1(LA.COFACTOR, [a], {});
export const choleskyPrim = (a: NDArray): NDArray => bind1(LA.CHOLESKY, [a], {});
export const qrPrim = (a: NDArray): [NDArray, NDArray] => bindOuts(LA.QR, [a], {}, 2);
export const eighPrim = (a: NDArray): [NDArray, NDArray] => bindOuts(LA.EIGH, [a], {}, 2);
// opsC: svd, lu, expm
export const svdPrim = (a: NDArray, fullMatrices: boolean): [NDArray, NDArray, NDArray] =>
  bindOuts(LA.SVD, [a], { fullMatrices }, 3);
export const luPrim = (a: NDArray): [NDArray, NDArray, NDArray] => bindOuts(LA.LU, [a], {}, 3);
export const expmPrim = (a: NDArray): NDArray => bind1(LA.EXPM, [a], {});
export const expmFrechetPrim = (a: NDArray, e: NDArray): NDArray => bind1(LA.EXPM_FRECHET, [a, e], {});

// ---------------------------------------------------------------------------
// constants (concrete arrays; no primitive)

/** An array of `shape` filled with `value` (unchecked). */
export function full(shape: Shape, value: number, dtype: DType): ConcreteArray {
  return broadcastTo(cast(scalar(value), dtype), shape);
}

/** Zeros of `shape` and `dtype`. */
export function zeros(shape: Shape, dtype: DType): ConcreteArray {
  return full(shape, 0, dtype);
}

/** The n x m identity (unchecked). */
export function eye(n: number, m: number, dtype: DType): ConcreteArray {
  const out = cast(broadcastTo(scalar(0), [n, m]), dtype);
  for (let i = 0; i < Math.min(n, m); i++) storageOf(out)[i * m + i] = 1;
  return out;
}

/** [0, 1, ..., n - 1] as int32. */
export function iota(n: number): ConcreteArray {
  const d = new Int32Array(n);
  for (let i = 0; i < n; i++) d[i] = i;
  return new ConcreteArray(d, [n], "int32");
}
