/**
 * Elementwise primitives: unary math, binary arithmetic, comparisons and
 * logic, select and dtype conversion.
 *
 * Binary elementwise primitives broadcast implicitly (NumPy rules) and take
 * operands of one dtype (the wrappers in `wrap.ts` insert conversions).
 * Tangents are broadcast to the output and cotangents summed back to each
 * operand's shape centrally, by the JVP trace and by transposition.
 *
 * Each row carries its scalar function (`scalar`, which the kernel and
 * `jit`'s fused loops both call, so they agree to the bit) and, where plain
 * JS can say it, an `inline` expression for fused loops. DESIGN's "sugar is
 * composed" holds where composing loses nothing; every row here that could
 * be composed from others says why it is a primitive.
 */
import { DTypeError } from "../core/errors.js";
import { DType, isFloat } from "../core/dtype.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { broadcastShapes, shapesEqual } from "../core/shape.js";
import type { Aval, LinearIn } from "../core/trace.js";
import { jvpOfBinary, jvpOfUnary, makeAval, transposeOfOperands } from "../core/trace.js";
import * as K from "../kernels/elementwise.js";
import * as S from "../kernels/scalar.js";
import { nameScalar } from "../kernels/wasm/elementwise.js";
import * as O from "./wrap.js";
import { elementwise, passThrough } from "./batching.js";
import { LinearRule, Rule, T, isLin, sameAval, tadd, tdiv, tmul, tneg, tsub } from "./rule.js";
import type { Params } from "./table.js";

type Unary = (v: number) => number;
type Binary = (x: number, y: number) => number;

export function unaryFloat(
  name: string,
  scalar: Unary,
  jvp: (x: NDArray, dx: NDArray, y: NDArray) => NDArray,
): Rule<{}, 1, 1> {
  nameScalar(scalar, name); // wasm: large eager arrays use the compiled loop of this name
  const d = (x: NDArray, dx: T, y: NDArray): T => (dx === null ? null : jvp(x, dx, y));
  const row: Rule<{}, 1, 1> = {
    name,
    scalar,
    scalarF64: true,
    abstractEval([a]) {
      if (!isFloat(a.dtype)) throw new DTypeError(`${name}: expected a float operand, got ${a.dtype}`);
      return sameAval(a);
    },
    impl([x], _p, [o]) {
      return [K.unary(x, o.dtype, o.weak, scalar)];
    },
    jvpUnary: d,
    jvp: jvpOfUnary(d),
    vmap: passThrough(() => row),
  };
  return row;
}

/** Elementwise unary without a derivative (piecewise constant). */
function unaryZero(name: string, scalar: Unary, numericOnly = true): Rule<{}, 1, 1> {
  const row: Rule<{}, 1, 1> = {
    name,
    scalar,
    abstractEval([a]) {
      if (numericOnly && a.dtype === "bool") throw new DTypeError(`${name}: expected a numeric operand, got bool`);
      return sameAval(a);
    },
    impl([x], _p, [o]) {
      return [K.unary(x, o.dtype, o.weak, scalar)];
    },
    jvp: () => [null],
    vmap: passThrough(() => row),
  };
  return row;
}

function binaryAval(name: string, a: Aval, b: Aval, out?: DType): [Aval] {
  if (a.dtype !== b.dtype) throw new DTypeError(`${name}: operand dtypes differ (${a.dtype} and ${b.dtype})`);
  // equal shapes (or a 0-d operand) broadcast to the other shape as it is: no new array
  const sa = a.shape;
  const sb = b.shape;
  const shape =
    sa === sb || shapesEqual(sa, sb) || sb.length === 0 ? sa : sa.length === 0 ? sb : broadcastShapes(name, sa, sb);
  return [makeAval(shape, out ?? a.dtype, out === undefined && a.weak && b.weak)];
}

function binaryImpl(f: Binary) {
  return ([a, b]: [ConcreteArray, ConcreteArray], _p: {}, [o]: [Aval]) => [K.binary(a, b, o.shape, o.dtype, o.weak, f)];
}

function floatBinary(name: string, a: Aval, b: Aval): [Aval] {
  const r = binaryAval(name, a, b);
  if (!isFloat(r[0].dtype)) throw new DTypeError(`${name}: expected float operands, got ${r[0].dtype}`);
  return r;
}

/** A JS infix operator as a fused-loop expression. */
const infix =
  (op: string) =>
  ([a, b]: readonly string[]): string =>
    `(${a} ${op} ${b})`;

/** What every binary arithmetic row shares: its scalar function, shape rule and kernel. */
export function arithmetic(name: string, scalar: Binary, float = false, scalarInt32?: Binary) {
  nameScalar(scalar, name); // wasm: large eager arrays use the compiled loop of this name
  const floatImpl = binaryImpl(scalar);
  const intImpl = scalarInt32 === undefined ? floatImpl : binaryImpl(scalarInt32);
  return {
    name,
    scalar,
    scalarF64: true,
    ...(scalarInt32 === undefined ? {} : { scalarInt32 }),
    abstractEval: ([a, b]: [Aval, Aval]) => (float ? floatBinary(name, a, b) : binaryAval(name, a, b)),
    impl: (xs: [ConcreteArray, ConcreteArray], p: {}, outs: [Aval]) =>
      (outs[0].dtype === "int32" ? intImpl : floatImpl)(xs, p, outs),
  };
}

// Comparisons give bool and have no derivative. Of the six, eq and lt would
// suffice; ne, le, gt, ge are primitives for speed (one pass, one equation)
// and because with NaN operands le(x, y) is not not(gt(x, y)).
function compare(name: string, op: string, scalar: Binary): Rule<{}, 2, 1> {
  const row: Rule<{}, 2, 1> = {
    name,
    scalar,
    inline: ([a, b]) => `(${a} ${op} ${b} ? 1 : 0)`,
    abstractEval: ([a, b]) => binaryAval(name, a, b, "bool"),
    impl: binaryImpl(scalar),
    jvp: () => [null],
    vmap: elementwise(() => row),
  };
  return row;
}

// and/or on bools: or is a primitive for speed (it is not(and(not x, not y)))
function logic(name: string, scalar: Binary): Rule<{}, 2, 1> {
  const row: Rule<{}, 2, 1> = {
    name,
    scalar,
    abstractEval([a, b]) {
      if (a.dtype !== "bool" || b.dtype !== "bool")
        throw new DTypeError(`${name}: expected bool operands, got ${a.dtype} and ${b.dtype}`);
      return binaryAval(name, a, b, "bool");
    },
    impl: binaryImpl(scalar),
    jvp: () => [null],
    vmap: elementwise(() => row),
  };
  return row;
}

/** Weights of each operand of maximum/minimum: 1 where it wins, 1/2 at ties, 0 elsewhere. */
function extremumWeights(x: NDArray, y: NDArray, wins: (a: NDArray, b: NDArray) => NDArray): [NDArray, NDArray] {
  const dt = x.dtype;
  const tie = O.mul(O.astype(O.equal(x, y), dt), 0.5);
  return [O.add(O.astype(wins(x, y), dt), tie), O.add(O.astype(wins(y, x), dt), tie)];
}

const SQRT_PI_2 = 2 / Math.sqrt(Math.PI);

// ---------------------------------------------------------------------------
// the rows

const negate = (v: number): number => -v;
const negT = (ct: NDArray): T => O.neg(ct);
// d(-x) = -dx
export const NEG: LinearRule<Params["neg"], 1, 1> = {
  name: "neg",
  scalar: negate,
  scalarF64: true,
  inline: ([a]) => `(-${a})`,
  involution: true,
  cheap: true,
  abstractEval([a]) {
    if (a.dtype === "bool") throw new DTypeError("neg: expected a numeric operand, got bool");
    return sameAval(a);
  },
  impl: ([x], _p, [o]) => [K.unary(x, o.dtype, o.weak, negate)],
  jvp: (_x, [dx]) => [tneg(dx)],
  transposeOperand: negT,
  transpose: transposeOfOperands(negT),
  vmap: passThrough(() => NEG),
};

// d(e^x) = e^x dx
export const EXP: Rule<Params["exp"], 1, 1> = unaryFloat("exp", Math.exp, (_x, dx, y) => O.mul(dx, y));

// d(log x) = dx / x
export const LOG: Rule<Params["log"], 1, 1> = unaryFloat("log", Math.log, (x, dx) => O.div(dx, x));

// d(log1p x) = dx / (1 + x); a primitive for accuracy near 0 (log(1 + x) rounds 1 + x)
export const LOG1P: Rule<Params["log1p"], 1, 1> = unaryFloat("log1p", Math.log1p, (x, dx) => O.div(dx, O.add(x, 1)));

// d(expm1 x) = (y + 1) dx; a primitive for accuracy near 0 (exp(x) - 1 cancels)
export const EXPM1: Rule<Params["expm1"], 1, 1> = unaryFloat("expm1", Math.expm1, (_x, dx, y) =>
  O.mul(dx, O.add(y, 1)),
);

// d(sin x) = cos x dx
export const SIN: Rule<Params["sin"], 1, 1> = unaryFloat("sin", Math.sin, (x, dx) => O.mul(dx, O.cos(x)));

// d(cos x) = -sin x dx
export const COS: Rule<Params["cos"], 1, 1> = unaryFloat("cos", Math.cos, (x, dx) => O.neg(O.mul(dx, O.sin(x))));

// d(tan x) = (1 + tan² x) dx; a primitive for speed and accuracy (sin/cos rounds twice)
export const TAN: Rule<Params["tan"], 1, 1> = unaryFloat("tan", Math.tan, (_x, dx, y) =>
  O.mul(dx, O.add(1, O.mul(y, y))),
);

// d(tanh x) = (1 - tanh² x) dx; a primitive for accuracy (composing from exp overflows for |x| > 710)
export const TANH: Rule<Params["tanh"], 1, 1> = unaryFloat("tanh", Math.tanh, (_x, dx, y) =>
  O.mul(dx, O.sub(1, O.mul(y, y))),
);

// d(sinh x) = cosh x dx; a primitive for accuracy near 0 ((e^x - e^-x)/2 cancels)
export const SINH: Rule<Params["sinh"], 1, 1> = unaryFloat("sinh", Math.sinh, (x, dx) => O.mul(dx, O.cosh(x)));

// d(cosh x) = sinh x dx; a primitive for speed (one pass instead of two exps)
export const COSH: Rule<Params["cosh"], 1, 1> = unaryFloat("cosh", Math.cosh, (x, dx) => O.mul(dx, O.sinh(x)));

// d(asin x) = dx / sqrt(1 - x²); a primitive for accuracy near ±1 (no composition from atan keeps it)
export const ASIN: Rule<Params["asin"], 1, 1> = unaryFloat("asin", Math.asin, (x, dx) =>
  O.div(dx, O.sqrt(O.sub(1, O.mul(x, x)))),
);

// d(acos x) = -dx / sqrt(1 - x²); a primitive for accuracy near ±1, as asin
export const ACOS: Rule<Params["acos"], 1, 1> = unaryFloat("acos", Math.acos, (x, dx) =>
  O.neg(O.div(dx, O.sqrt(O.sub(1, O.mul(x, x))))),
);

// d(atan x) = dx / (1 + x²); a primitive for speed (atan2(x, 1) does more work per element)
export const ATAN: Rule<Params["atan"], 1, 1> = unaryFloat("atan", Math.atan, (x, dx) =>
  O.div(dx, O.add(1, O.mul(x, x))),
);

// d(sqrt x) = dx / (2 sqrt x); a primitive for accuracy (correctly rounded, unlike pow(x, 0.5) in general)
export const SQRT: Rule<Params["sqrt"], 1, 1> = unaryFloat("sqrt", Math.sqrt, (_x, dx, y) => O.div(dx, O.mul(y, 2)));

// d(erf x) = 2/sqrt(pi) e^(-x²) dx
export const ERF: Rule<Params["erf"], 1, 1> = unaryFloat("erf", S.erf, (x, dx) =>
  O.mul(dx, O.mul(O.exp(O.neg(O.mul(x, x))), SQRT_PI_2)),
);

// d(sigmoid x) = y (1 - y) dx; a primitive for stability (one formula per sign of x, in one pass)
export const LOGISTIC: Rule<Params["logistic"], 1, 1> = unaryFloat("logistic", S.logistic, (_x, dx, y) =>
  O.mul(dx, O.mul(y, O.sub(1, y))),
);

// d(softplus x) = sigmoid(x) dx; a primitive for stability (log(1 + e^x) overflows for large x)
export const SOFTPLUS: Rule<Params["softplus"], 1, 1> = unaryFloat("softplus", S.softplus, (x, dx) =>
  O.mul(dx, O.sigmoid(x)),
);

// d|x| = sign(x) dx, with the convention |x|'(0) = 1; a primitive for speed (select(x >= 0, x, -x) is three passes)
export const ABS: Rule<Params["abs"], 1, 1> = {
  name: "abs",
  scalar: Math.abs,
  abstractEval([a]) {
    if (a.dtype === "bool") throw new DTypeError("abs: expected a numeric operand, got bool");
    return sameAval(a);
  },
  impl: ([x], _p, [o]) => [K.unary(x, o.dtype, o.weak, Math.abs)],
  jvp: ([x], [dx = null]) => [tmul(dx, O.where(O.greaterEqual(x, 0), 1, -1))],
  vmap: passThrough(() => ABS),
};

// zero derivative; a primitive for speed (select(x > 0, 1, select(x < 0, -1, x)) is four passes)
export const SIGN: Rule<Params["sign"], 1, 1> = unaryZero("sign", S.sign);

// zero derivative; not composable from the other primitives (ceil(x) = -floor(-x) is two passes more)
export const FLOOR: Rule<Params["floor"], 1, 1> = unaryZero("floor", Math.floor);

// as floor
export const CEIL: Rule<Params["ceil"], 1, 1> = unaryZero("ceil", Math.ceil);

// round half to even, as NumPy
export const ROUND: Rule<Params["round"], 1, 1> = unaryZero("round", S.roundHalfEven);

// the identity whose derivative is zero
export const STOP_GRADIENT: Rule<Params["stop_gradient"], 1, 1> = {
  name: "stop_gradient",
  scalar: (v: number) => v,
  abstractEval: ([a]) => sameAval(a),
  impl: ([x]) => [x],
  jvp: () => [null],
  vmap: passThrough(() => STOP_GRADIENT),
};

// the derivatives of the four arithmetic rows, each written once (their `jvp` wraps it in lists)
const addJvp = (_x: NDArray, _y: NDArray, dx: T, dy: T): T => tadd(dx, dy);
const subJvp = (_x: NDArray, _y: NDArray, dx: T, dy: T): T => tsub(dx, dy);
const mulJvp = (x: NDArray, y: NDArray, dx: T, dy: T): T => tadd(tmul(dx, y), dy === null ? null : O.mul(x, dy));
const divJvp = (_x: NDArray, y: NDArray, dx: T, dy: T, out: NDArray): T => tdiv(tsub(dx, tmul(dy, out)), y);

// their transposes: the cotangent of linear operand j given the output's (not zero)
type Operand = NDArray | LinearIn;
const addT = (ct: NDArray): T => ct;
const subT = (ct: NDArray, j: number): T => (j === 0 ? ct : O.neg(ct));
const mulT = (ct: NDArray, j: number, a: Operand, b: Operand | undefined): T => {
  if (isLin(a) && isLin(b)) throw new DTypeError("mul: transpose of a product of two linear operands");
  return j === 0 ? O.mul(ct, b as NDArray) : O.mul(a as NDArray, ct);
};
const divT = (ct: NDArray, _j: number, _a: Operand, b: Operand | undefined): T => {
  if (!(b instanceof NDArray)) throw new DTypeError("div: transpose with a linear denominator");
  return O.div(ct, b);
};

// d(x + y) = dx + dy; only x + (-0) is x for every x: (-0) + (+0) is +0, so x + 0 is kept
export const ADD: LinearRule<Params["add"], 2, 1> = {
  ...arithmetic("add", (x, y) => x + y),
  inline: infix("+"),
  cheap: true,
  commutative: true,
  identity: { left: -0, right: -0 },
  jvpBinary: addJvp,
  jvp: jvpOfBinary(addJvp),
  transposeOperand: addT,
  transpose: transposeOfOperands(addT),
  vmap: elementwise(() => ADD),
};

// d(x - y) = dx - dy; a primitive for speed and graph size (x + neg(y) is two equations in every derivative)
export const SUB: LinearRule<Params["sub"], 2, 1> = {
  ...arithmetic("sub", (x, y) => x - y),
  inline: infix("-"),
  cheap: true,
  identity: { right: 0 },
  jvpBinary: subJvp,
  jvp: jvpOfBinary(subJvp),
  transposeOperand: subT,
  transpose: transposeOfOperands(subT),
  vmap: elementwise(() => SUB),
};

// d(x y) = dx y + x dy
export const MUL: LinearRule<Params["mul"], 2, 1> = {
  // int32 products wrap exactly, as 32-bit hardware (Math.imul), not as a rounded double
  ...arithmetic("mul", (x, y) => x * y, false, Math.imul),
  inline: infix("*"),
  cheap: true,
  commutative: true,
  identity: { left: 1, right: 1 },
  jvpBinary: mulJvp,
  jvp: jvpOfBinary(mulJvp),
  transposeOperand: mulT,
  transpose: transposeOfOperands(mulT),
  vmap: elementwise(() => MUL),
};

// d(x / y) = dx / y - dy x / y² = (dx - dy out) / y; a primitive for accuracy (x * (1/y) rounds twice)
export const DIV: LinearRule<Params["div"], 2, 1> = {
  ...arithmetic("div", (x, y) => x / y),
  inline: infix("/"),
  identity: { right: 1 },
  jvpBinary: divJvp,
  jvp: jvpOfBinary(divJvp),
  transposeOperand: divT,
  transpose: transposeOfOperands(divT),
  vmap: elementwise(() => DIV),
};

// d(x^y) = y x^(y-1) dx + log(x) x^y dy, with 0^y terms taken as 0 where the limit is 0
// (on int32 operands it stays int32 and wraps, as NumPy's integer power)
export const POW: Rule<Params["pow"], 2, 1> = {
  ...arithmetic("pow", S.powFloat, false, S.powInt32),
  abstractEval([a, b]) {
    const r = binaryAval("pow", a, b);
    if (!isFloat(r[0].dtype) && r[0].dtype !== "int32")
      throw new DTypeError(`pow: expected float or int32 operands, got ${r[0].dtype}`);
    return r;
  },
  jvp([x, y], [dx = null, dy = null], [out]) {
    let tx: T = null;
    if (dx !== null) {
      // a known scalar exponent (on the CPU: a device's cannot be read synchronously) simplifies
      const yc = y instanceof ConcreteArray && y.size === 1 && y.device === "cpu" ? y.item() : null;
      if (yc === 0) tx = null;
      else if (yc !== null) tx = O.mul(dx, O.mul(O.pow(x, yc - 1), yc));
      else {
        // where y == 0 the derivative is 0; the inner where keeps the unused branch finite
        const y0 = O.equal(y, 0);
        const safeX = O.where(y0, 1, x);
        tx = O.mul(dx, O.where(y0, 0, O.mul(O.pow(safeX, O.sub(y, 1)), y)));
      }
    }
    let ty: T = null;
    if (dy !== null) {
      const x0 = O.equal(x, 0);
      ty = O.mul(dy, O.where(x0, 0, O.mul(O.log(O.where(x0, 1, x)), out)));
    }
    return [tadd(tx, ty)];
  },
  vmap: elementwise(() => POW),
};

/** maximum / minimum; `wins(a, b)` says where a is the result (b elsewhere, ties aside). */
function extremum(name: string, scalar: Binary, wins: (a: NDArray, b: NDArray) => NDArray): Rule<{}, 2, 1> {
  const row: Rule<{}, 2, 1> = {
    ...arithmetic(name, scalar),
    commutative: true,
    jvp([x, y], [dx, dy]) {
      const [wx, wy] = extremumWeights(x, y, wins);
      return [tadd(tmul(dx, wx), tmul(dy, wy))];
    },
    vmap: elementwise(() => row),
  };
  return row;
}

// d max(x, y) = dx [x > y] + dy [y > x] + (dx + dy)/2 [x == y]; a primitive for speed and its
// NaN propagation and tie rule (a select of a comparison would be two passes, ties all to one side)
export const MAX: Rule<Params["max"], 2, 1> = extremum("max", S.maxNaN, (a, b) => O.greater(a, b));

// as max
export const MIN: Rule<Params["min"], 2, 1> = extremum("min", S.minNaN, (a, b) => O.less(a, b));

// d atan2(a, b) = (b da - a db) / (a² + b²); a primitive for accuracy and speed: composed, atan(a/b)
// rounds a/b first and needs quadrant, ±0 and ±∞ fixups (about a dozen passes, as nabla/export's ONNX form)
export const ATAN2: Rule<Params["atan2"], 2, 1> = {
  ...arithmetic("atan2", Math.atan2, true),
  jvp([a, b], [da, db]) {
    const den = O.add(O.mul(a, a), O.mul(b, b));
    return [tsub(tmul(da, O.div(b, den)), tmul(db, O.div(a, den)))];
  },
  vmap: elementwise(() => ATAN2),
};

// comparisons (bool results, no derivative) are not composable from arithmetic; each is a primitive
// because its negation differs on NaN (le is not not(gt): NaN <= 1 and NaN > 1 are both false)
export const EQ: Rule<Params["eq"], 2, 1> = compare("eq", "===", (x, y) => (x === y ? 1 : 0));

export const NE: Rule<Params["ne"], 2, 1> = compare("ne", "!==", (x, y) => (x !== y ? 1 : 0));

export const LT: Rule<Params["lt"], 2, 1> = compare("lt", "<", (x, y) => (x < y ? 1 : 0));

export const LE: Rule<Params["le"], 2, 1> = compare("le", "<=", (x, y) => (x <= y ? 1 : 0));

export const GT: Rule<Params["gt"], 2, 1> = compare("gt", ">", (x, y) => (x > y ? 1 : 0));

export const GE: Rule<Params["ge"], 2, 1> = compare("ge", ">=", (x, y) => (x >= y ? 1 : 0));

// logical and / or on bools (operands tested != 0); a primitive for speed and dtype (mul / max of
// converted operands is three passes and a float result)
export const AND: Rule<Params["and"], 2, 1> = logic("and", (x, y) => x & y);

export const OR: Rule<Params["or"], 2, 1> = logic("or", (x, y) => x | y);

const not = (v: number): number => (v ? 0 : 1);
export const NOT: Rule<Params["not"], 1, 1> = {
  name: "not",
  scalar: not,
  abstractEval([a]) {
    if (a.dtype !== "bool") throw new DTypeError(`not: expected a bool operand, got ${a.dtype}`);
    return sameAval(a);
  },
  impl: ([x]) => [K.unary(x, "bool", false, not)],
  jvp: () => [null],
  vmap: passThrough(() => NOT),
};

// select(c, x, y): d = select(c, dx, dy)
export const SELECT: LinearRule<Params["select"], 3, 1> = {
  name: "select",
  inline: ([c, a, b]) => `(${c} ? ${a} : ${b})`,
  abstractEval([c, a, b]) {
    if (c.dtype !== "bool") throw new DTypeError(`select: condition must be bool, got ${c.dtype}`);
    if (a.dtype !== b.dtype) throw new DTypeError(`select: branch dtypes differ (${a.dtype} and ${b.dtype})`);
    const shape = broadcastShapes("select", c.shape, a.shape, b.shape);
    return [{ shape, dtype: a.dtype, weak: a.weak && b.weak }];
  },
  impl: ([c, x, y], _p, [o]) => [K.select(c, x, y, o.shape, o.dtype, o.weak)],
  jvp([c], [, dx, dy]) {
    if (dx === null && dy === null) return [null];
    return [O.selectPrim(c, dx ?? 0, dy ?? 0)];
  },
  transpose([ct = null], [c, a, b]) {
    if (ct === null) return [null, null, null];
    const cond = c as NDArray;
    return [null, isLin(a) ? O.selectPrim(cond, ct, 0) : null, isLin(b) ? O.selectPrim(cond, 0, ct) : null];
  },
  vmap: elementwise(() => SELECT),
};

// convert(x) is linear between float dtypes; to int/bool it has no derivative
export const CONVERT: LinearRule<Params["convert"], 1, 1> = {
  name: "convert",
  // the kernel's conversion, as a fused-loop expression (rounding to float32 is the store's)
  inline: ([a], { dtype }) => (dtype === "bool" ? `(${a} !== 0 ? 1 : 0)` : dtype === "int32" ? `Math.trunc(${a})` : a),
  abstractEval: ([a], { dtype }) => [{ shape: a.shape, dtype, weak: false }],
  impl: ([x], { dtype }) => [K.cast(x, dtype)],
  jvp: ([x], [dx = null], _o, { dtype }) => [
    dx !== null && isFloat(dtype) && isFloat(x.dtype) ? O.convert(dx, dtype) : null,
  ],
  transpose: ([ct = null], [a]) => [ct === null ? null : O.convert(ct, (a as LinearIn).aval.dtype)],
  vmap: passThrough(() => CONVERT),
};
