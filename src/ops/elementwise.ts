/**
 * Elementwise operations: math, arithmetic with broadcasting and JAX-style
 * dtype promotion, comparisons, logic, selection. Each binds primitives, so
 * it works on concrete arrays and tracers alike and needs no derivative rule
 * of its own.
 */
import "./methods.js";
import { DType } from "../core/dtype.js";
import { broadcastShapes, shapesEqual } from "../core/shape.js";
import { ArrayLike, ConcreteArray, NDArray, isIntegralWeak, storageOf } from "../core/ndarray.js";
import { DTypeError, fmtShape } from "../core/errors.js";
import { Rule, bind1 } from "../core/trace.js";
import * as E from "../prims/elementwise.js";
import * as W from "../prims/wrap.js";
import { asArray, dtypeArg, intArg } from "./validate.js";

/**
 * Converts an array to another dtype (float to int truncates toward zero).
 * @example
 * nb.astype(nb.array([1.7, -1.7]), "int32"); // array([1, -1], dtype=int32)
 */
export function astype(x: ArrayLike, dtype: DType): NDArray {
  const a = asArray(x, "astype", "x");
  return W.astype(a, dtypeArg("astype", dtype ?? null, "float64"));
}

// ---------------------------------------------------------------------------
// elementwise

function binary(prim: Rule<{}>, x: ArrayLike, y: ArrayLike, op: string, float = false): NDArray {
  return binaryOf(prim, asArray(x, op, "x"), asArray(y, op, "y"), op, float);
}

/** {@link binary} of operands already read as arrays. */
function binaryOf(prim: Rule<{}>, a: NDArray, b: NDArray, op: string, float = false): NDArray {
  // shapes that trivially broadcast (equal, or one 0-d) need no check naming `op` here
  const sa = a.shape;
  const sb = b.shape;
  if (sa !== sb && sa.length !== 0 && sb.length !== 0 && !shapesEqual(sa, sb)) broadcastShapes(op, sa, sb);
  return W.binaryOp(prim, a, b, op, float);
}

/** The operands of `op` as arrays, checked to broadcast together (`op` names the error). */
function operands<X extends readonly ArrayLike[]>(
  op: string,
  names: { readonly [K in keyof X]: string },
  xs: X,
): { [K in keyof X]: NDArray } {
  const as = xs.map((x, i) => asArray(x, op, names[i]));
  broadcastShapes(op, ...as.map((a) => a.shape));
  // one array per operand, in order: the tuple type of `xs`, mapped
  return as as { [K in keyof X]: NDArray };
}

function unaryF(prim: Rule<{}>, x: ArrayLike, op: string): NDArray {
  return W.unaryFloat(prim, asArray(x, op));
}

/** Elementwise `-x`. @example nb.neg([1, -2]); // array([-1., 2.]) */
export const neg = (x: ArrayLike): NDArray => bind1(E.NEG, [asArray(x, "neg")], {});
/** Elementwise e^x. @example nb.exp(0); // array(1.) */
export const exp = (x: ArrayLike): NDArray => unaryF(E.EXP, x, "exp");
/** Natural logarithm. @example nb.log(1); // array(0.) */
export const log = (x: ArrayLike): NDArray => unaryF(E.LOG, x, "log");
/** log(1 + x), accurate near 0. @example nb.log1p(1e-10); */
export const log1p = (x: ArrayLike): NDArray => unaryF(E.LOG1P, x, "log1p");
/** e^x - 1, accurate near 0. @example nb.expm1(1e-10); */
export const expm1 = (x: ArrayLike): NDArray => unaryF(E.EXPM1, x, "expm1");
/** Sine. @example nb.sin(0); */
export const sin = (x: ArrayLike): NDArray => unaryF(E.SIN, x, "sin");
/** Cosine. @example nb.cos(0); */
export const cos = (x: ArrayLike): NDArray => unaryF(E.COS, x, "cos");
/** Tangent. @example nb.tan(0); */
export const tan = (x: ArrayLike): NDArray => unaryF(E.TAN, x, "tan");
/** Hyperbolic tangent. @example nb.tanh(0); */
export const tanh = (x: ArrayLike): NDArray => unaryF(E.TANH, x, "tanh");
/** Hyperbolic sine. @example nb.sinh(0); */
export const sinh = (x: ArrayLike): NDArray => unaryF(E.SINH, x, "sinh");
/** Hyperbolic cosine. @example nb.cosh(0); */
export const cosh = (x: ArrayLike): NDArray => unaryF(E.COSH, x, "cosh");
/** Inverse sine. @example nb.arcsin(0.5); */
export const arcsin = (x: ArrayLike): NDArray => unaryF(E.ASIN, x, "arcsin");
/** Inverse cosine. @example nb.arccos(0.5); */
export const arccos = (x: ArrayLike): NDArray => unaryF(E.ACOS, x, "arccos");
/** Inverse tangent. @example nb.arctan(1); */
export const arctan = (x: ArrayLike): NDArray => unaryF(E.ATAN, x, "arctan");
/** Square root. @example nb.sqrt(4); // array(2.) */
export const sqrt = (x: ArrayLike): NDArray => unaryF(E.SQRT, x, "sqrt");
/** The error function. @example nb.erf(0); */
export const erf = (x: ArrayLike): NDArray => unaryF(E.ERF, x, "erf");
/** The logistic sigmoid 1 / (1 + e^-x), stable for large |x|. @example nb.sigmoid(0); // array(0.5) */
export const sigmoid = (x: ArrayLike): NDArray => unaryF(E.LOGISTIC, x, "sigmoid");
/** log(1 + e^x), stable for large |x|. @example nb.softplus(0); // log 2 */
export const softplus = (x: ArrayLike): NDArray => unaryF(E.SOFTPLUS, x, "softplus");
/** Absolute value (derivative 1 at 0). @example nb.abs([-1, 2]); */
export const abs = (x: ArrayLike): NDArray => bind1(E.ABS, [asArray(x, "abs")], {});
/** -1, 0 or 1. @example nb.sign([-3, 0, 2]); */
export const sign = (x: ArrayLike): NDArray => bind1(E.SIGN, [asArray(x, "sign")], {});
/** Round down. @example nb.floor(1.5); */
export const floor = (x: ArrayLike): NDArray => bind1(E.FLOOR, [asArray(x, "floor")], {});
/** Round up. @example nb.ceil(1.5); */
export const ceil = (x: ArrayLike): NDArray => bind1(E.CEIL, [asArray(x, "ceil")], {});
/**
 * Round half to even (as NumPy), to `decimals` decimal places (negative: to tens, hundreds, ...), as
 * jnp.round: `round(x · 10^d) / 10^d` in x's float dtype (int32 computes in float64 and stays int32).
 * @example nb.round(2.5); // array(2.)
 * @example nb.round([1.234, 2.5], 2); // array([1.23, 2.5 ])
 */
export const round = (x: ArrayLike, decimals = 0): NDArray => {
  const a = asArray(x, "round");
  if (decimals === 0) return bind1(E.ROUND, [a], {});
  intArg("round", "decimals", decimals, { min: -308, max: 308 });
  if (a.dtype === "bool") throw new DTypeError(`round: expected a number array, got bool${fmtShape(a.shape)}`);
  if (a.dtype === "int32" && decimals > 0) return a;
  const f = a.dtype === "int32" ? W.convert(a, "float64") : a;
  const factor = 10 ** decimals;
  const r = W.binaryOp(E.DIV, bind1(E.ROUND, [W.binaryOp(E.MUL, f, factor, "round")], {}), factor, "round");
  return a.dtype === "int32" ? W.convert(r, "int32") : r;
};
/** x * x. @example nb.square(3); // array(9.) */
export const square = (x: ArrayLike): NDArray => {
  const a = asArray(x, "square");
  return bind1(E.MUL, [a, a], {});
};
/** 1 / x. @example nb.reciprocal(4); // array(0.25) */
export const reciprocal = (x: ArrayLike): NDArray => W.binaryOp(E.DIV, 1, asArray(x, "reciprocal"), "reciprocal", true);
/** max(x, 0), with derivative 0 at 0; NaN stays NaN (as jax.nn.relu). @example nb.relu([-1, 2]); // array([0., 2.]) */
export const relu = (x: ArrayLike): NDArray => {
  const a = asArray(x, "relu");
  return where(lessEqual(a, 0), 0, a);
};

/**
 * Elementwise sum with broadcasting; of two bool arrays, their logical or (as NumPy and JAX: a bool
 * array holds only true and false).
 * @example nb.add([1, 2], 1); // array([2., 3.])
 */
export const add = (x: ArrayLike, y: ArrayLike): NDArray => {
  const a = asArray(x, "add", "x");
  const b = asArray(y, "add", "y");
  if (a.dtype === "bool" && b.dtype === "bool") {
    broadcastShapes("add", a.shape, b.shape);
    return bind1(E.OR, [a, b], {});
  }
  return binaryOf(E.ADD, a, b, "add");
};
/**
 * Elementwise difference. Two bool operands throw DTypeError, as in NumPy and JAX (use
 * `notEqual` for exclusive or, or cast to int32 first).
 * @example nb.sub([1, 2], 1);
 */
export const sub = (x: ArrayLike, y: ArrayLike): NDArray => {
  const a = asArray(x, "sub", "x");
  const b = asArray(y, "sub", "y");
  if (a.dtype === "bool" && b.dtype === "bool")
    throw new DTypeError(
      `sub: boolean subtract is not supported (bool${fmtShape(a.shape)} and bool${fmtShape(b.shape)}); use notEqual for exclusive or, or cast to int32 first`,
    );
  return binaryOf(E.SUB, a, b, "sub");
};
/** Elementwise product. @example nb.mul([1, 2], [3, 4]); // array([3., 8.]) */
export const mul = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.MUL, x, y, "mul");
/** Elementwise true division (ints divide as float64). @example nb.div(1, [2, 4]); */
export const div = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.DIV, x, y, "div", true);
/**
 * Elementwise power x^y. Integer operands compute in float64, except that an
 * int32 base with an int32 or non-negative integer exponent stays int32 and
 * wraps like 32-bit hardware (NumPy's and JAX's integer power). A negative
 * integer exponent of an integer base throws DTypeError, as NumPy ("Integers
 * to negative integer powers are not allowed"): cast the base to a float
 * first. (A traced int32 exponent cannot be checked: its negative entries give
 * the truncated power, 0 for |x| > 1.)
 * @example nb.pow([1, 2], 2); // array([1., 4.])
 * @example nb.pow(nb.astype(nb.array([2, 4], { dtype: "int32" }), "float64"), -1); // array([0.5 , 0.25])
 */
export function pow(x: ArrayLike, y: ArrayLike): NDArray {
  const a = asArray(x, "pow");
  const b = asArray(y, "pow");
  const intBase = W.promoted("pow", [a, b]) === "int32";
  const weakInt = isIntegralWeak(b);
  const strongInt = b.dtype === "int32" && !b.weakType;
  if (intBase && (weakInt || strongInt)) {
    const neg = knownValues(b)?.find((v) => v < 0);
    if (neg !== undefined)
      throw new DTypeError(
        `pow: integer base (${a.dtype}) to the negative integer power ${neg} is not allowed; cast the base to a float dtype first`,
      );
    return W.binaryOp(E.POW, a, b, "pow");
  }
  return W.binaryOp(E.POW, a, b, "pow", true);
}

/** The elements of a concrete array (not a tracer), else null. */
function knownValues(x: NDArray): number[] | null {
  return x instanceof ConcreteArray && x.device === "cpu" ? Array.from(storageOf(x), Number) : null;
}
/** Elementwise maximum (ties split the gradient evenly). @example nb.maximum([1, 5], 3); */
export const maximum = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.MAX, x, y, "maximum");
/** Elementwise minimum (ties split the gradient evenly). @example nb.minimum([1, 5], 3); */
export const minimum = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.MIN, x, y, "minimum");
/** Four-quadrant arctan(y / x). @example nb.arctan2(1, 1); */
export const arctan2 = (y: ArrayLike, x: ArrayLike): NDArray => binary(E.ATAN2, y, x, "arctan2", true);

/** x == y (bool). @example nb.equal([1, 2], 2); */
export const equal = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.EQ, x, y, "equal");
/** x != y (bool). @example nb.notEqual([1, 2], 2); // array([ True, False], dtype=bool) */
export const notEqual = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.NE, x, y, "notEqual");
/** x < y (bool). @example nb.less([1, 3], 2); */
export const less = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.LT, x, y, "less");
/** x <= y (bool). @example nb.lessEqual([1, 2], 2); */
export const lessEqual = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.LE, x, y, "lessEqual");
/** x > y (bool). @example nb.greater([1, 3], 2); // array([False, True], dtype=bool) */
export const greater = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.GT, x, y, "greater");
/** x >= y (bool). @example nb.greaterEqual([1, 2], 2); */
export const greaterEqual = (x: ArrayLike, y: ArrayLike): NDArray => binary(E.GE, x, y, "greaterEqual");
/** Logical and (operands tested != 0). @example nb.logicalAnd([true, true], [true, false]); */
export const logicalAnd = (x: ArrayLike, y: ArrayLike): NDArray => {
  const [a, b] = operands("logicalAnd", ["x", "y"] as const, [x, y] as const);
  return bind1(E.AND, [W.toBool(a), W.toBool(b)], {});
};
/** Logical or (operands tested != 0). @example nb.logicalOr([true, false], [false, false]); */
export const logicalOr = (x: ArrayLike, y: ArrayLike): NDArray => {
  const [a, b] = operands("logicalOr", ["x", "y"] as const, [x, y] as const);
  return bind1(E.OR, [W.toBool(a), W.toBool(b)], {});
};
/** Logical not (operand tested != 0). @example nb.logicalNot([true, false]); */
export const logicalNot = (x: ArrayLike): NDArray => bind1(E.NOT, [W.toBool(asArray(x, "logicalNot"))], {});

/**
 * Elementwise choice: x where cond, else y (broadcasting all three).
 * @example nb.where(nb.greater(x, 0), x, 0);
 */
export function where(cond: ArrayLike, x: ArrayLike, y: ArrayLike): NDArray {
  const [c, a, b] = operands("where", ["cond", "x", "y"] as const, [cond, x, y] as const);
  return W.selectPrim(W.toBool(c), a, b);
}

/** Limits values to [lo, hi]. @example nb.clip([-2, 0, 2], -1, 1); */
export function clip(x: ArrayLike, lo: ArrayLike, hi: ArrayLike): NDArray {
  const [a, l, h] = operands("clip", ["x", "lo", "hi"] as const, [x, lo, hi] as const);
  return minimum(maximum(a, l), h);
}

/**
 * Stops derivatives: the value of `x`, treated as a constant by every transform.
 * @example nb.grad((x) => nb.mul(x, nb.stopGradient(x)))(3); // array(3.)
 */
export function stopGradient(x: ArrayLike): NDArray {
  return bind1(E.STOP_GRADIENT, [asArray(x, "stopGradient")], {});
}
