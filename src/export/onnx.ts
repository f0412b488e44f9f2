/**
 * `exportOnnx`: the staged program of a function as an ONNX model
 * (ModelProto, default opset 17), encoded by our own protobuf writer
 * (protobuf.ts).
 *
 * Each equation becomes one or a few ONNX nodes. Operands are cast to the
 * dtype the nabla primitive computes in (ONNX operators require equal input
 * types, nabla promotes weak scalars), and ONNX's differing conventions are
 * bridged where nabla's semantics are exact: gather indices are clipped as
 * nabla clamps them, `reshape` sets `allowzero`, reductions over no axes are
 * identities, `rev` is a slice with step -1, `scatter_add` is a
 * ScatterElements with reduction "add" over a [pre, m, post] view. Every
 * graph output is produced by an Identity node named after it, so outputs
 * are distinct values even when the program returns an input twice.
 *
 * `take` is not a primitive: its modes are composed before staging (fill: a
 * select over the in-range mask with NaN; wrap: i − n·floor(i / n); clip:
 * the clamped gather), so each exports exactly. `atan2` and `argsort` are
 * composed from ONNX operators below, as are log1p and expm1 (with the
 * exact corrections of 1 + x and e^x − 1) and the float64 functions
 * onnxruntime has no kernel for. Reductions to extrema propagate NaN as
 * nabla does; bool operands of arithmetic, orderings, reductions and
 * select compute in int32 (ONNX has no bool kernels for them), and floor,
 * ceil, round of integers are identities. `scan` and `forLoop` are unrolled by
 * staging (they run in JS; the staged program holds no loop primitive to map
 * to ONNX Scan/Loop), so they export unrolled; `whileLoop` is a primitive and
 * exports as Loop, `cond` as If. Linear algebra (solve, det, cholesky, ...)
 * and random primitives throw a NablaError naming them.
 */
import { NablaError, at, fmtValue } from "../core/errors.js";
import { DType, isFloat } from "../core/dtype.js";
import { Equation, Graph, Var } from "../core/graph.js";
import { storageOf } from "../core/ndarray.js";
import { Aval } from "../core/trace.js";
import type { Tuple } from "../prims/rule.js";
import type { WhileParams } from "../transforms/loopRules.js";
import type { CondParams } from "../transforms/condRule.js";
import { ERF_TABLE, ERF_TERMS } from "../kernels/wasm/erfTable.js";
import { ERF_SMALL } from "../kernels/wasm/vmath.js";
import { fnArg, readOptions } from "../transforms/common.js";
import { ProtoWriter } from "./protobuf.js";
import { constAt, stage } from "./json.js";

const OP = "exportOnnx";

/**
 * Options of {@link exportOnnx}.
 * @example
 * const opts: OnnxOptions = { opset: 17, inputNames: ["x"], outputNames: ["y"] };
 */
export interface OnnxOptions {
  /** The ONNX opset (17 to 21; default 17). */
  opset?: number;
  /** Names of the graph inputs, one per array leaf of the arguments (default input_0, input_1, ...). */
  inputNames?: readonly string[];
  /** Names of the graph outputs, one per array leaf of the result (default output_0, ...). */
  outputNames?: readonly string[];
}

// TensorProto.DataType
const ONNX_TYPE: Record<DType | "int64", number> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 };

// AttributeProto.AttributeType
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_GRAPH = 5;
const ATTR_INTS = 7;

/** An attribute value: an int, a string, a list of ints, or a graph (a GraphProto being written). */
type Attr = number | boolean | string | readonly number[] | ProtoWriter;

function attribute(name: string, v: Attr): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if (v instanceof ProtoWriter) a.message(6, v).int(20, ATTR_GRAPH);
  else if (typeof v === "string") a.bytes(4, new TextEncoder().encode(v)).int(20, ATTR_STRING);
  else if (typeof v === "number" || typeof v === "boolean") a.int(3, v).int(20, ATTR_INT);
  else {
    for (const x of v) a.int(8, x);
    a.int(20, ATTR_INTS);
  }
  return a;
}

function tensorBytes(dtype: DType | "int64", values: ArrayLike<number>): Uint8Array {
  const size = dtype === "float64" || dtype === "int64" ? 8 : dtype === "bool" ? 1 : 4;
  const out = new Uint8Array(values.length * size);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = at(values, i, "exportOnnx");
    if (dtype === "float64") dv.setFloat64(8 * i, v, true);
    else if (dtype === "float32") dv.setFloat32(4 * i, v, true);
    else if (dtype === "int32") dv.setInt32(4 * i, v, true);
    else if (dtype === "int64") dv.setBigInt64(8 * i, BigInt(v), true);
    else dv.setUint8(i, v ? 1 : 0);
  }
  return out;
}

/** The type of an ONNX value: nabla's dtypes and int64 (loop counters, shapes). */
interface OnnxAval {
  readonly shape: readonly number[];
  readonly dtype: DType | "int64";
}

function valueInfo(name: string, a: OnnxAval): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of a.shape) shape.message(1, new ProtoWriter().int(1, d));
  const tensor = new ProtoWriter().int(1, ONNX_TYPE[a.dtype]).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensor));
}

const INT64_MIN = -(2n ** 63n);

/** Builds the nodes and initializers of one ONNX graph (sub-graphs share the counter of names). */
class Builder {
  readonly nodes: ProtoWriter[] = [];
  readonly inits: ProtoWriter[] = [];

  constructor(
    readonly opset: number,
    private readonly counter = { n: 0 },
  ) {}

  fresh(): string {
    return `%${this.counter.n++}`;
  }

  /** A builder for a sub-graph: names stay unique across the whole model, as ONNX requires. */
  sub(): Builder {
    return new Builder(this.opset, this.counter);
  }

  /** The GraphProto of the nodes and initializers so far, with these typed inputs and outputs. */
  graph(name: string, inputs: readonly [string, OnnxAval][], outputs: readonly [string, OnnxAval][]): ProtoWriter {
    const g = new ProtoWriter();
    for (const n of this.nodes) g.message(1, n);
    g.string(2, name);
    for (const t of this.inits) g.message(5, t);
    for (const [n, a] of inputs) g.message(11, valueInfo(n, a));
    for (const [n, a] of outputs) g.message(12, valueInfo(n, a));
    return g;
  }

  /** Adds a node; returns its output names. */
  node(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, nOut = 1, outs?: string[]): string[] {
    const o = outs ?? Array.from({ length: nOut }, () => this.fresh());
    const w = new ProtoWriter();
    for (const i of inputs) w.string(1, i);
    for (const x of o) w.string(2, x);
    w.string(3, `${op}${this.fresh()}`).string(4, op);
    for (const [k, v] of Object.entries(attrs)) w.message(5, attribute(k, v));
    this.nodes.push(w);
    return o;
  }

  one(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string {
    return at(this.node(op, inputs, attrs), 0, OP);
  }

  /** An initializer tensor; returns its name. */
  tensor(dtype: DType | "int64", dims: readonly number[], values: ArrayLike<number>, name = this.fresh()): string {
    const t = new ProtoWriter();
    for (const d of dims) t.int(1, d);
    t.int(2, ONNX_TYPE[dtype]).string(8, name).bytes(9, tensorBytes(dtype, values));
    this.inits.push(t);
    return name;
  }

  int64s(values: readonly number[]): string {
    return this.tensor("int64", [values.length], values);
  }

  /** A 1-D int64 tensor holding INT64_MIN (Slice's "to the start" end), written directly. */
  int64Mins(n: number): string {
    const name = this.fresh();
    const t = new ProtoWriter();
    t.int(1, n).int(2, ONNX_TYPE.int64).string(8, name);
    const raw = new Uint8Array(8 * n);
    for (let i = 0; i < n; i++) new DataView(raw.buffer).setBigInt64(8 * i, INT64_MIN, true);
    this.inits.push(t.bytes(9, raw));
    return name;
  }

  scalar(v: number, dtype: DType): string {
    return this.tensor(dtype, [], [v]);
  }

  cast(x: string, from: DType | "int64", to: DType | "int64"): string {
    return from === to ? x : this.one("Cast", [x], { to: ONNX_TYPE[to] });
  }
}

const UNARY: Record<string, string> = {
  neg: "Neg",
  exp: "Exp",
  log: "Log",
  sin: "Sin",
  cos: "Cos",
  tanh: "Tanh",
  sqrt: "Sqrt",
  abs: "Abs",
  sign: "Sign",
  logistic: "Sigmoid",
  stop_gradient: "Identity",
  not: "Not",
};

const ARITH: Record<string, string> = {
  add: "Add",
  sub: "Sub",
  mul: "Mul",
  div: "Div",
  pow: "Pow",
  max: "Max",
  min: "Min",
};
const COMPARE: Record<string, string> = {
  eq: "Equal",
  ne: "Equal",
  lt: "Less",
  le: "LessOrEqual",
  gt: "Greater",
  ge: "GreaterOrEqual",
};
const LOGIC: Record<string, string> = { and: "And", or: "Or" };

type Lower = (b: Builder, xs: string[], ins: Aval[], outs: Aval[], params: any) => string[] | null;

/**
 * A lowering that reads its first `n` operands (names and avals) and `m`
 * outputs by position. The lengths are checked here (an equation always has
 * its primitive's arity, so a shorter list is a bug in nabla), and the
 * lowering gets them as tuples it destructures without assertions.
 */
function positional<N extends number, M extends number>(
  n: N,
  m: M,
  f: (b: Builder, xs: Tuple<string, N>, ins: Tuple<Aval, N>, outs: Tuple<Aval, M>, params: any) => string[] | null,
): Lower {
  return (b, xs, ins, outs, params) => {
    if (xs.length < n || ins.length < n || outs.length < m)
      throw new NablaError(
        `${OP}: internal: a lowering reads ${n} operands and ${m} outputs, got ${xs.length} and ${outs.length}`,
      );
    // the lengths were just checked: these are the tuples the lowering reads
    return f(b, xs as Tuple<string, N>, ins as Tuple<Aval, N>, outs as Tuple<Aval, M>, params);
  };
}

const prod = (s: readonly number[]): number => s.reduce((a, d) => a * d, 1);
const iota = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * `f` in `d`, or in int32 when `d` is bool (ONNX has no bool arithmetic,
 * reductions or Where kernel): the int32 result is cast back, nonzero true.
 */
function viaInt32(b: Builder, d: DType, f: (d: DType) => string): string {
  return d === "bool" ? b.cast(f("int32"), "int32", "bool") : f(d);
}

/**
 * float → int32 as nabla converts (JS ToInt32 of the truncated value):
 * wrapped modulo 2³², 0 for ±∞ and NaN. ONNX's Cast leaves those
 * undefined (onnxruntime gives INT32_MIN, and saturates int64 → int32), so
 * the value is wrapped in float64 first, exactly: r = fmod(x, 2³²) and then
 * r ∓ 2³² into [−2³¹, 2³¹), where Cast truncates.
 */
function toInt32(b: Builder, x: string, dtype: DType): string {
  const f = (v: number) => b.scalar(v, "float64");
  const x64 = b.cast(x, dtype, "float64");
  const bad = b.one("Or", [b.one("IsNaN", [x64]), b.one("IsInf", [x64])]);
  const finite = b.one("Where", [bad, f(0), x64]);
  const r = b.one("Mod", [finite, f(2 ** 32)], { fmod: 1 });
  const down = b.one("Where", [b.one("GreaterOrEqual", [r, f(2 ** 31)]), b.one("Sub", [r, f(2 ** 32)]), r]);
  const up = b.one("Where", [b.one("Less", [down, f(-(2 ** 31))]), b.one("Add", [down, f(2 ** 32)]), down]);
  return b.cast(up, "float64", "int32");
}

/** floor, ceil, round: the ONNX operator on floats, the identity on int32 (which ONNX does not define them for). */
function roundingLowering(op: string): Lower {
  return positional(1, 1, (b, [x], [a], [o]) => {
    const y = b.cast(x, a.dtype, o.dtype);
    return [isFloat(o.dtype) ? b.one(op, [y]) : b.one("Identity", [y])];
  });
}

/** `f` in float64: float32 operands are widened and the result rounded once (nabla's float32 kernels do the same). */
function inFloat64(b: Builder, x: string, dtype: DType, f: (b: Builder, x: string) => string): string {
  return dtype === "float64" ? f(b, x) : b.cast(f(b, b.cast(x, dtype, "float64")), "float64", dtype);
}

/** x ≠ 0 (false for NaN) without Not: onnxruntime fuses Not into Where by swapping the data inputs. */
function nonzero(b: Builder, x: string, dtype: DType): string {
  return b.one("Or", [b.one("Less", [x, b.scalar(0, dtype)]), b.one("Greater", [x, b.scalar(0, dtype)])]);
}

/**
 * log1p x in float64 by the classic correction (Goldberg 1991, theorem 4):
 * with u = 1 ⊕ x, log1p x = log u · x / (u − 1), where u − 1 is exact and
 * the quotient x / (u − 1) ≈ 1 undoes the rounding of 1 + x; x itself where
 * u = 1 (|x| < 2⁻⁵³, ±0 kept: x is the second input of Where); +∞ at u = +∞
 * (the quotient would be ∞/∞). x = −1 gives −∞, x < −1 and NaN give NaN.
 * Written log u · (x / (u − 1)) so no intermediate overflows.
 */
function log1p(b: Builder, x: string): string {
  const one = b.scalar(1, "float64");
  const u = b.one("Add", [one, x]);
  const lu = b.one("Log", [u]);
  const corrected = b.one("Mul", [lu, b.one("Div", [x, b.one("Sub", [u, one])])]);
  const big = b.one("Where", [b.one("IsInf", [u], { detect_negative: 0 }), lu, corrected]);
  return b.one("Where", [b.one("Or", [b.one("Less", [u, one]), b.one("Greater", [u, one])]), big, x]);
}

/**
 * expm1 x in float64 by Kahan's correction: with u = e^x, expm1 x =
 * (u − 1) · (x / log u), x itself where u = 1 (|x| < 2⁻⁵⁴, ±0 kept), and
 * u − 1 where log u is ±∞ (u = 0 or +∞: x below −745 or above 709.78,
 * ±∞ included), where u − 1 is exact anyway (−1, or +∞). NaN stays NaN.
 */
function expm1(b: Builder, x: string): string {
  const one = b.scalar(1, "float64");
  const u = b.one("Exp", [x]);
  const um1 = b.one("Sub", [u, one]);
  const lu = b.one("Log", [u]);
  const corrected = b.one("Where", [b.one("IsInf", [lu]), um1, b.one("Mul", [um1, b.one("Div", [x, lu])])]);
  return b.one("Where", [b.one("Or", [b.one("Less", [u, one]), b.one("Greater", [u, one])]), corrected, x]);
}

/**
 * sinh x in float64 (onnxruntime's Sinh is float32 only): with E =
 * expm1 |x|, sinh |x| = (E + E / (E + 1)) / 2, free of cancellation near
 * 0; for |x| ≥ 20 (where e^−|x| is below half an ulp of e^|x|) (h / 2) · h
 * with h = e^(|x|/2), finite up to where sinh is. The sign is restored
 * after; ±0 and NaN are x itself.
 */
function sinh64(b: Builder, x: string): string {
  const f = (v: number) => b.scalar(v, "float64");
  const ax = b.one("Abs", [x]);
  const e = expm1(b, ax);
  const small = b.one("Mul", [f(0.5), b.one("Add", [e, b.one("Div", [e, b.one("Add", [e, f(1)])])])]);
  const h = b.one("Exp", [b.one("Mul", [ax, f(0.5)])]);
  const large = b.one("Mul", [b.one("Mul", [h, f(0.5)]), h]);
  const s = b.one("Where", [b.one("Less", [ax, f(20)]), small, large]);
  const signed = b.one("Where", [b.one("Less", [x, f(0)]), b.one("Neg", [s]), s]);
  return b.one("Where", [nonzero(b, x, "float64"), signed, x]);
}

/**
 * erf x in float64 (onnxruntime's Erf is float32 only), by nabla's own
 * algorithm (kernels/scalar.ts `erf`, within 2 ulp), operation for
 * operation: for |x| < 1/2, x + x·p(x²) with the series coefficients
 * ERF_SMALL; for 1/2 ≤ |x| < 6 the Taylor polynomial in h = |x| − c_j
 * around the centre c_j = 1/2 + (j + 1/2)/8, j = ⌊8(|x| − 1/2)⌋, its
 * coefficients gathered from ERF_TABLE by j, sign restored; ±1 beyond.
 * NaN and ±0 go through the series (x itself).
 */
function erf64(b: Builder, x: string): string {
  const f = (v: number) => b.scalar(v, "float64");
  const ax = b.one("Abs", [x]);
  const z = b.one("Mul", [x, x]);
  let p = f(at(ERF_SMALL, ERF_SMALL.length - 1, OP));
  for (let n = ERF_SMALL.length - 2; n >= 0; n--) p = b.one("Add", [b.one("Mul", [p, z]), f(at(ERF_SMALL, n, OP))]);
  const small = b.one("Add", [x, b.one("Mul", [x, p])]);
  const inTable = b.one("And", [b.one("GreaterOrEqual", [ax, f(0.5)]), b.one("Less", [ax, f(6)])]);
  const t = b.one("Where", [inTable, ax, f(0.5)]); // in range, so the index is defined
  const jf = b.one("Floor", [b.one("Mul", [b.one("Sub", [t, f(0.5)]), f(8)])]);
  const centre = b.one("Add", [f(0.5), b.one("Mul", [b.one("Add", [jf, f(0.5)]), f(0.125)])]);
  const h = b.one("Sub", [t, centre]);
  const j = b.cast(jf, "float64", "int64");
  const nCentres = ERF_TABLE.length / ERF_TERMS;
  const coef = (n: number) =>
    b.one("Gather", [
      b.tensor(
        "float64",
        [nCentres],
        iota(nCentres).map((k) => at(ERF_TABLE, k * ERF_TERMS + n, OP)),
      ),
      j,
    ]);
  let q = coef(ERF_TERMS - 1);
  for (let n = ERF_TERMS - 2; n >= 0; n--) q = b.one("Add", [b.one("Mul", [q, h]), coef(n)]);
  const positive = b.one("Greater", [x, f(0)]);
  const table = b.one("Where", [positive, q, b.one("Neg", [q])]);
  const far = b.one("Where", [positive, f(1), f(-1)]);
  const big = b.one("Where", [b.one("Less", [ax, f(6)]), table, far]);
  return b.one("Where", [b.one("GreaterOrEqual", [ax, f(0.5)]), big, small]);
}

/** The lowering of each primitive ONNX can express; null from a lowering means "not expressible". */
const LOWER: Record<string, Lower> = {
  log1p: positional(1, 1, (b, [x], [a], [o]) => [inFloat64(b, b.cast(x, a.dtype, o.dtype), o.dtype, log1p)]),
  expm1: positional(1, 1, (b, [x], [a], [o]) => [inFloat64(b, b.cast(x, a.dtype, o.dtype), o.dtype, expm1)]),
  // softplus x = max(x, 0) + log(1 + exp(-|x|)), the stable form
  softplus: positional(1, 1, (b, [x0], [a], [o]) => {
    const x = b.cast(x0, a.dtype, o.dtype);
    const one = b.scalar(1, o.dtype);
    const tail = b.one("Log", [b.one("Add", [b.one("Exp", [b.one("Neg", [b.one("Abs", [x])])]), one])]);
    return [b.one("Add", [b.one("Max", [x, b.scalar(0, o.dtype)]), tail])];
  }),
  // onnxruntime's Where has no bool kernel: bool values go through int32
  select: positional(3, 1, (b, [c, x, y], [, ax, ay], [o]) => [
    viaInt32(b, o.dtype, (d) => b.one("Where", [c, b.cast(x, ax.dtype, d), b.cast(y, ay.dtype, d)])),
  ]),
  convert: positional(1, 1, (b, [x], [a], [o]) => [
    o.dtype === "int32" && isFloat(a.dtype) ? toInt32(b, x, a.dtype) : b.cast(x, a.dtype, o.dtype),
  ]),
  reduce_sum: positional(1, 1, (b, [x], [a], [o], { axes }: { axes: number[] }) =>
    axes.length === 0
      ? [b.one("Identity", [x])]
      : [viaInt32(b, o.dtype, (d) => b.one("ReduceSum", [b.cast(x, a.dtype, d), b.int64s(axes)], { keepdims: 0 }))],
  ),
  reduce_max: positional(1, 0, (b, [x], [a], _o, { axes }) => [reduceExtremum(b, "ReduceMax", x, a.dtype, axes)]),
  reduce_min: positional(1, 0, (b, [x], [a], _o, { axes }) => [reduceExtremum(b, "ReduceMin", x, a.dtype, axes)]),
  argmax: positional(1, 0, (b, [x], [a], _o, { axis }) => [argExtremum(b, "ArgMax", x, a.dtype, axis)]),
  argmin: positional(1, 0, (b, [x], [a], _o, { axis }) => [argExtremum(b, "ArgMin", x, a.dtype, axis)]),
  // floor, ceil and round of an integer are the integer (ONNX defines them for floats only)
  floor: roundingLowering("Floor"),
  ceil: roundingLowering("Ceil"),
  round: roundingLowering("Round"), // half to even in both
  reshape: positional(1, 0, (b, [x], _i, _o, { shape }) => [b.one("Reshape", [x, b.int64s(shape)], { allowzero: 1 })]),
  broadcast: positional(1, 0, (b, [x], _i, _o, { shape }) => [b.one("Expand", [x, b.int64s(shape)])]),
  transpose: positional(1, 0, (b, [x], _i, _o, { perm }) => [b.one("Transpose", [x], { perm })]),
  slice: positional(1, 0, (b, [x], [a], _o, { begin, end }) =>
    a.shape.length === 0
      ? [b.one("Identity", [x])]
      : [b.one("Slice", [x, b.int64s(begin), b.int64s(end), b.int64s(iota(begin.length))])],
  ),
  pad: positional(1, 0, (b, [x], _i, _o, { lo, hi }) =>
    [...lo, ...hi].every((v: number) => v === 0)
      ? [b.one("Identity", [x])]
      : [b.one("Pad", [x, b.int64s([...lo, ...hi])], { mode: "constant" })],
  ),
  concatenate: (b, xs, _i, _o, { axis }) => [b.one("Concat", xs, { axis })],
  // bool matmul (or of ands) as int32 counts, nonzero is true
  matmul: positional(2, 1, (b, [x, y], [ax, ay], [o]) => [
    viaInt32(b, o.dtype, (d) => b.one("MatMul", [b.cast(x, ax.dtype, d), b.cast(y, ay.dtype, d)])),
  ]),
  // nabla clamps indices (negatives from the end, then into range): Clip to [-n, n-1] and let Gather wrap negatives
  gather: positional(2, 0, (b, [x, i], [a], _o, { axis }) => {
    const n = at(a.shape, axis, OP);
    if (n === 0) return null;
    return [b.one("Gather", [x, b.one("Clip", [i, b.scalar(-n, "int32"), b.scalar(n - 1, "int32")])], { axis })];
  }),
  scatter_add: positional(2, 1, (b, [u, i], [au, ai], [o], { axis, size }) => {
    if (size === 0) return null;
    const pre = prod(au.shape.slice(0, axis));
    const m = prod(ai.shape);
    const post = prod(au.shape.slice(axis + ai.shape.length));
    const view = b.int64s([pre, m, post]);
    const idx = b.one("Clip", [i, b.scalar(-size, "int32"), b.scalar(size - 1, "int32")]);
    // negatives from the end, as nabla's clamp (ScatterElements accepts [-size, size-1] too)
    const idx3 = b.one("Expand", [b.one("Reshape", [b.cast(idx, "int32", "int64"), b.int64s([1, m, 1])]), view]);
    const zeros = b.one("Expand", [b.scalar(0, o.dtype), b.int64s([pre, size, post])]);
    const upd = b.one("Reshape", [u, view], { allowzero: 1 });
    const sum = b.one("ScatterElements", [zeros, idx3, upd], { axis: 1, reduction: "add" });
    return [b.one("Reshape", [sum, b.int64s(o.shape)], { allowzero: 1 })];
  }),
  cumsum: positional(1, 0, (b, [x], _i, _o, { axis, reverse }) => [
    b.one("CumSum", [x, b.tensor("int64", [], [axis])], { reverse: reverse ? 1 : 0 }),
  ]),
  rev: positional(1, 0, (b, [x], _i, _o, { axes }: { axes: number[] }) =>
    axes.length === 0
      ? [b.one("Identity", [x])]
      : [
          b.one("Slice", [
            x,
            b.int64s(axes.map(() => -1)),
            b.int64Mins(axes.length),
            b.int64s(axes),
            b.int64s(axes.map(() => -1)),
          ]),
        ],
  ),
};

// --- atan2 and argsort (issue 13): composed from ONNX operators, exact in nabla's semantics ---

/**
 * atan(z). onnxruntime implements Atan for float32 only, so float64 takes
 * the float32 angle θ₀ and one rotation step: atan z = θ₀ + atan(s / c) with
 * s = z cos θ₀ − sin θ₀, c = cos θ₀ + z sin θ₀ > 0 (the angle of (1, z)
 * rotated by −θ₀); |s / c| ≈ |θ − θ₀| < 1e-6, so atan(s / c) = s / c to
 * (1e-6)³ / 3, far below float64 rounding. ±∞ give ±π/2 and ±0 stay ±0 directly
 * (s / c would be NaN, and −0 + 0 is +0).
 *
 * onnxruntime's Where returns +0 for a −0 taken from its first data input
 * (the second keeps it), so here and in atan2 values whose sign of zero
 * matters are always the second.
 */
function atan(b: Builder, z: string, dtype: DType): string {
  if (dtype !== "float64") return b.one("Atan", [z]);
  const t0 = b.cast(b.one("Atan", [b.cast(z, "float64", "float32")]), "float32", "float64");
  const [cos, sin] = [b.one("Cos", [t0]), b.one("Sin", [t0])];
  const s = b.one("Sub", [b.one("Mul", [z, cos]), sin]);
  const c = b.one("Add", [cos, b.one("Mul", [z, sin])]);
  const t1 = b.one("Add", [t0, b.one("Div", [s, c])]);
  const inf = b.one("Mul", [b.one("Sign", [z]), b.scalar(Math.PI / 2, dtype)]);
  return b.one("Where", [nonzero(b, z, dtype), b.one("Where", [b.one("IsInf", [z]), inf, t1]), z]);
}
LOWER["atan"] = positional(1, 1, (b, [x], [a], [o]) => [atan(b, b.cast(x, a.dtype, o.dtype), o.dtype)]);

/**
 * tan, asin, acos, cosh, sinh, erf: onnxruntime implements Tan, Asin, Acos,
 * Cosh, Sinh and Erf for float32 only, so float64 composes them from
 * operators it has in float64 (sinh: {@link sinh64}, erf: {@link erf64}):
 * tan x = sin x / cos x; asin x = atan(x / √((1 − x)(1 + x))) and
 * acos x = 2 atan(√((1 − x) / (1 + x))), free of cancellation near ±1;
 * cosh x = e^(|x| − ln 2) + e^(−|x| − ln 2), finite up to where cosh is.
 * Each rounds a few times: within a few ulps (the float64 bound of the tests is 1e-12; sinh and
 * erf measured within 2 ulps of nabla's eager values, test/onnxEdges.test.ts).
 */
const FLOAT64_UNARY: Record<string, [string, (b: Builder, x: string) => string]> = {
  sinh: ["Sinh", sinh64],
  erf: ["Erf", erf64],
  tan: ["Tan", (b, x) => b.one("Div", [b.one("Sin", [x]), b.one("Cos", [x])])],
  asin: [
    "Asin",
    (b, x) => {
      const one = b.scalar(1, "float64");
      const r = b.one("Sqrt", [b.one("Mul", [b.one("Sub", [one, x]), b.one("Add", [one, x])])]);
      return atan(b, b.one("Div", [x, r]), "float64");
    },
  ],
  acos: [
    "Acos",
    (b, x) => {
      const one = b.scalar(1, "float64");
      const r = b.one("Sqrt", [b.one("Div", [b.one("Sub", [one, x]), b.one("Add", [one, x])])]);
      return b.one("Mul", [b.scalar(2, "float64"), atan(b, r, "float64")]);
    },
  ],
  cosh: [
    "Cosh",
    (b, x) => {
      const ax = b.one("Abs", [x]);
      const ln2 = b.scalar(Math.LN2, "float64");
      const up = b.one("Exp", [b.one("Sub", [ax, ln2])]);
      const down = b.one("Exp", [b.one("Sub", [b.one("Neg", [ax]), ln2])]);
      return b.one("Add", [up, down]);
    },
  ],
};
for (const [p, [op, f64]] of Object.entries(FLOAT64_UNARY))
  LOWER[p] = positional(1, 1, (b, [x], [a], [o]) => {
    const y = b.cast(x, a.dtype, o.dtype);
    return [o.dtype === "float64" ? f64(b, y) : b.one(op, [y])];
  });

/** Whether x is negative or a negative zero (-0 has 1/x = -∞); false for NaN. */
function signBitSet(b: Builder, x: string, dtype: DType): string {
  return b.one("Or", [
    b.one("Less", [x, b.scalar(0, dtype)]),
    b.one("Less", [b.one("Div", [b.scalar(1, dtype), x]), b.scalar(0, dtype)]),
  ]);
}

/**
 * atan2(y, x) = atan(y / x), then + π or − π (by the sign bit of y) where x
 * has its sign bit set (x < 0 or x = −0). y / x is NaN in two cases Math.atan2
 * defines: both zeros (the result is y itself, ±0, before the fixup: so
 * ±0 or ±π) and both infinite (±π/4 before the fixup: π/4 when the signs
 * agree, −π/4 when they differ, giving ±π/4 or ±3π/4). Only second inputs
 * of Where carry a sign of zero (see {@link atan}).
 */
function lowerAtan2(b: Builder, y: string, x: string, dtype: DType): string {
  const negY = signBitSet(b, y, dtype);
  const negX = signBitSet(b, x, dtype);
  const zero = b.scalar(0, dtype);
  const bothZero = b.one("And", [b.one("Equal", [y, zero]), b.one("Equal", [x, zero])]);
  const bothInf = b.one("And", [b.one("IsInf", [y]), b.one("IsInf", [x])]);
  const quarter = b.one("Where", [
    b.one("Xor", [negX, negY]),
    b.scalar(-Math.PI / 4, dtype),
    b.scalar(Math.PI / 4, dtype),
  ]);
  // y / 1 = y (±0) where both are zeros; x stays the second input of Where (its sign gives y / ±0 = ±∞)
  const den = b.one("Where", [bothZero, b.scalar(1, dtype), x]);
  const t = b.one("Where", [bothInf, quarter, atan(b, b.one("Div", [y, den]), dtype)]);
  const half = b.one("Where", [negY, b.scalar(-Math.PI, dtype), b.scalar(Math.PI, dtype)]);
  return b.one("Where", [negX, b.one("Add", [t, half]), t]);
}
LOWER["atan2"] = positional(2, 1, (b, [y, x], [ay, ax], [o]) => [
  lowerAtan2(b, b.cast(y, ay.dtype, o.dtype), b.cast(x, ax.dtype, o.dtype), o.dtype),
]);

/**
 * argsort as ranks: with the sorted axis last, element i lands at rank
 * r_i = #{j : j sorts before i}, where j sorts before i when y_j < y_i (> for
 * descending), or y_j = y_i and j < i (stable), or y_i is NaN and y_j is not
 * (y_j NaN and y_i not, descending), or both are NaN and j < i (NaNs last
 * ascending and first descending, in index order, as nabla's kernel);
 * the result puts index i at position r_i (ScatterElements). ONNX's TopK is
 * not used: its order of NaNs is not specified. Costs n² comparisons per row.
 */
function lowerArgsort(b: Builder, x: string, a: Aval, axis: number, descending: boolean): string | null {
  const nd = a.shape.length;
  const n = a.shape[axis];
  if (n === undefined || n === 0) return null;
  const perm = [...iota(nd).filter((k) => k !== axis), axis];
  const inv = perm.map((_, k) => perm.indexOf(k));
  // ONNX compares numbers only: bool keys as int32 (false < true)
  const x0 = a.dtype === "bool" ? b.cast(x, "bool", "int32") : x;
  const y = nd === 1 ? x0 : b.one("Transpose", [x0], { perm });
  const yi = b.one("Unsqueeze", [y, b.int64s([-1])]); // [..., n, 1]: i along the second-last axis
  const yj = b.one("Unsqueeze", [y, b.int64s([-2])]); // [..., 1, n]: j along the last axis
  const lower = b.tensor(
    "bool",
    [n, n],
    iota(n * n).map((k) => (k % n < Math.floor(k / n) ? 1 : 0)),
  ); // [i, j]: j < i
  const cmp = b.one("Or", [
    b.one(descending ? "Greater" : "Less", [yj, yi]),
    b.one("And", [b.one("Equal", [yj, yi]), lower]),
  ]);
  let before = cmp;
  if (isFloat(a.dtype)) {
    const nanI = b.one("IsNaN", [yi]);
    const nanJ = b.one("IsNaN", [yj]);
    // NaN above every number. Ascending, j goes before a NaN i unless j is a NaN after it; descending, a
    // NaN j goes before i unless i is a NaN before it
    const [nanLast, nanOther] = descending ? [nanJ, nanI] : [nanI, nanJ];
    before = b.one("Or", [
      cmp,
      b.one("And", [nanLast, b.one("Or", [b.one("Not", [nanOther]), b.one("And", [nanOther, lower])])]),
    ]);
  }
  const rank = b.one("ReduceSum", [b.cast(before, "bool", "int64"), b.int64s([-1])], { keepdims: 0 });
  const positions = b.one("Expand", [b.int64s(iota(n)), b.one("Shape", [y])]);
  const zeros = b.one("Expand", [b.tensor("int64", [], [0]), b.one("Shape", [y])]);
  const out = b.one("ScatterElements", [zeros, rank, positions], { axis: -1 });
  const o32 = b.cast(out, "int64", "int32");
  return nd === 1 ? o32 : b.one("Transpose", [o32], { perm: inv });
}
LOWER["argsort"] = positional(1, 0, (b, [x], [a], _o, { axis, descending }) => {
  const r = lowerArgsort(b, x, a, axis, descending);
  return r === null ? null : [r];
});

const SCALAR_BOOL: OnnxAval = { shape: [], dtype: "bool" };
const SCALAR_INT64: OnnxAval = { shape: [], dtype: "int64" };

/** The loop condition as ONNX wants it: a bool scalar. */
/** The single output variable of a cond or while predicate graph. */
function condOut(g: Graph): Var {
  const v = g.outs[0];
  if (v === undefined || v === null) throw new NablaError("exportOnnx: internal: a predicate graph without an output");
  return v;
}

function condScalar(b: Builder, g: Graph, names: readonly string[]): string {
  const c = at(lowerSub(b, g, names), 0, OP);
  return b.cast(b.one("Reshape", [c, b.int64s([])]), condOut(g).aval.dtype, "bool");
}

/** Lowers a closed sub-graph into `b` on the given operand names; returns its output names. */
function lowerSub(b: Builder, g: Graph, names: readonly string[]): string[] {
  const outs = g.outs.map(() => b.fresh());
  lowerGraph(b, g, names, outs);
  return outs;
}

/**
 * `while_loop` as ONNX `Loop` with no trip count: the condition on the initial
 * carry is computed outside, and the body computes the next carry and the
 * condition on it. The loop's constants are outer-scope values of the body.
 */
const lowerWhile: Lower = (b, xs, ins, _o, p: WhileParams) => {
  const cc = xs.slice(0, p.nCond);
  const bc = xs.slice(p.nCond, p.nCond + p.nBody);
  const init = xs.slice(p.nCond + p.nBody);
  const carryAvals = ins.slice(p.nCond + p.nBody);
  const c0 = condScalar(b, p.cond, [...cc, ...init]);
  const body = b.sub();
  const iter = body.fresh();
  const condIn = body.fresh();
  const carryIn = init.map(() => body.fresh());
  const next = lowerSub(body, p.body, [...bc, ...carryIn]);
  const condOut = condScalar(body, p.cond, [...cc, ...next]);
  const graph = body.graph(
    "while_body",
    [
      [iter, SCALAR_INT64],
      [condIn, SCALAR_BOOL],
      ...carryIn.map((n, i): [string, OnnxAval] => [n, at(carryAvals, i, "exportOnnx")]),
    ],
    [[condOut, SCALAR_BOOL], ...next.map((n, i): [string, OnnxAval] => [n, at(carryAvals, i, "exportOnnx")])],
  );
  return b.node("Loop", ["", c0, ...init], { body: graph }, init.length);
};
LOWER["while_loop"] = lowerWhile;

/**
 * `cond` as ONNX `If`: each branch a sub-graph with no inputs that reads the
 * operands from the outer scope, so only the taken branch runs, as in nabla.
 */
const lowerCond: Lower = (b, xs, ins, outs, p: CondParams) => {
  const pred = b.cast(b.one("Reshape", [at(xs, 0, "lowerCond"), b.int64s([])]), at(ins, 0, "lowerCond").dtype, "bool");
  const branch = (g: Graph, name: string) => {
    const sb = b.sub();
    const o = lowerSub(sb, g, xs.slice(1));
    return sb.graph(
      name,
      [],
      o.map((n, i): [string, OnnxAval] => [n, at(outs, i, "lowerCond")]),
    );
  };
  return b.node(
    "If",
    [pred],
    { then_branch: branch(p.whenTrue, "cond_true"), else_branch: branch(p.whenFalse, "cond_false") },
    outs.length,
  );
};
LOWER["cond"] = lowerCond;

/** ReduceMax / ReduceMin over `axes` as ONNX has them (NaNs skipped by onnxruntime; no bool kernel). */
function reduceOp(b: Builder, op: string, x: string, axes: number[]): string {
  // opset 18 moved `axes` from an attribute to an input
  return b.opset >= 18 ? b.one(op, [x, b.int64s(axes)], { keepdims: 0 }) : b.one(op, [x], { axes, keepdims: 0 });
}

/** Whether any element of the bool tensor `m` along `axes` is true. */
function anyAlong(b: Builder, m: string, axes: number[]): string {
  return b.cast(reduceOp(b, "ReduceMax", b.cast(m, "bool", "int32"), axes), "int32", "bool");
}

/**
 * reduce_max / reduce_min: NaN wins, as in nabla (and JAX); onnxruntime's
 * ReduceMax skips NaNs, so a row holding one is set to NaN after the
 * reduction. bool reduces as int32 (false < true). Reductions over no axes
 * are identities; nabla rejects empty reduced axes before staging.
 */
function reduceExtremum(b: Builder, op: string, x: string, dtype: DType, axes: number[]): string {
  if (axes.length === 0) return b.one("Identity", [x]);
  if (dtype === "bool") return b.cast(reduceOp(b, op, b.cast(x, "bool", "int32"), axes), "int32", "bool");
  const r = reduceOp(b, op, x, axes);
  if (!isFloat(dtype)) return r;
  return b.one("Where", [anyAlong(b, b.one("IsNaN", [x]), axes), b.scalar(NaN, dtype), r]);
}

/**
 * argmax / argmin: the first index of the extremum (ties: the first, as
 * onnxruntime's default select_last_index = 0), except that a row holding a
 * NaN gives the index of its first NaN, as nabla's kernel (onnxruntime skips
 * NaNs): the ArgMax of the NaN mask. bool compares as int32.
 */
function argExtremum(b: Builder, op: string, x: string, dtype: DType, axis: number): string {
  const x0 = dtype === "bool" ? b.cast(x, "bool", "int32") : x;
  let r = b.one(op, [x0], { axis, keepdims: 0 });
  if (isFloat(dtype)) {
    const nan = b.one("IsNaN", [x]);
    const firstNan = b.one("ArgMax", [b.cast(nan, "bool", "int32")], { axis, keepdims: 0 });
    r = b.one("Where", [anyAlong(b, nan, [axis]), firstNan, r]);
  }
  return b.cast(r, "int64", "int32");
}

for (const [p, op] of Object.entries(UNARY))
  LOWER[p] = positional(1, 1, (b, [x], [a], [o]) => [b.one(op, [b.cast(x, a.dtype, o.dtype)])]);
for (const [p, op] of Object.entries(ARITH))
  LOWER[p] = positional(2, 1, (b, [x, y], [ax, ay], [o]) => {
    // int32 division: nabla divides the numbers (in float64) and stores the quotient as int32 (ToInt32:
    // truncated, wrapped, 0 for ±∞ and NaN); onnxruntime's integer Div fails on a zero divisor
    if (p === "div" && !isFloat(o.dtype))
      return o.dtype === "int32"
        ? [toInt32(b, b.one("Div", [b.cast(x, ax.dtype, "float64"), b.cast(y, ay.dtype, "float64")]), "float64")]
        : null;
    // ONNX has no bool arithmetic: bool computes in int32, nonzero is true
    return [viaInt32(b, o.dtype, (d) => b.one(op, [b.cast(x, ax.dtype, d), b.cast(y, ay.dtype, d)]))];
  });
for (const [p, op] of Object.entries(COMPARE))
  LOWER[p] = positional(2, 0, (b, [x, y], [ax, ay]) => {
    // nabla compares the numbers themselves: mixed dtypes compare exactly in float64; ONNX orders no
    // bools (false < true as int32)
    const same: DType = ax.dtype === "bool" && op !== "Equal" ? "int32" : ax.dtype;
    const d: DType = ax.dtype === ay.dtype ? same : "float64";
    const r = b.one(op, [b.cast(x, ax.dtype, d), b.cast(y, ay.dtype, d)]);
    return [p === "ne" ? b.one("Not", [r]) : r];
  });
for (const [p, op] of Object.entries(LOGIC))
  LOWER[p] = positional(2, 1, (b, [x, y], [ax, ay], [o]) =>
    o.dtype !== "bool" ? null : [b.one(op, [b.cast(x, ax.dtype, "bool"), b.cast(y, ay.dtype, "bool")])],
  );

function lowerGraph(b: Builder, g: Graph, inNames: readonly string[], outNames: readonly string[]): void {
  const names = new Map<Var, string>();
  g.inVars.forEach((v, i) => names.set(v, at(inNames, i, "exportOnnx")));
  g.constVars.forEach((v, i) => {
    const c = constAt(g, i, OP);
    names.set(v, b.tensor(c.dtype, c.shape, storageOf(c)));
  });
  const missing = new Set<string>();
  for (const e of g.equations) {
    const out = lowerEquation(b, e, names);
    if (out === null) {
      missing.add(e.prim);
      continue;
    }
    // `out` is empty when an operand's equation could not be lowered (reported below): its outputs stay unnamed
    e.outs.forEach((v, i) => {
      const name = out[i];
      if (name !== undefined) names.set(v, name);
    });
  }
  if (missing.size > 0)
    throw new NablaError(
      `${OP}: ONNX cannot express the primitive(s) ${[...missing].join(", ")} (or these uses of them) in this exporter`,
    );
  g.outs.forEach((v, i) => {
    const name = v === null ? undefined : names.get(v);
    if (name === undefined) throw new NablaError(`${OP}: internal: output ${i} has no lowered value`);
    b.node("Identity", [name], {}, 1, [at(outNames, i, OP)]);
  });
}

function lowerEquation(b: Builder, e: Equation, names: Map<Var, string>): string[] | null {
  const lower = Object.hasOwn(LOWER, e.prim) ? LOWER[e.prim] : undefined;
  if (lower === undefined) return null;
  const xs: string[] = [];
  for (const v of e.inputs) {
    const x = names.get(v);
    // an operand from an equation that could not be lowered: report the first failure only
    if (x === undefined) return [];
    xs.push(x);
  }
  return lower(
    b,
    xs,
    e.inputs.map((v) => v.aval),
    e.outs.map((v) => v.aval),
    e.params,
  );
}

function checkNames(what: string, given: readonly string[] | undefined, n: number, prefix: string): string[] {
  if (given === undefined) return iota(n).map((i) => `${prefix}_${i}`);
  if (!Array.isArray(given))
    throw new NablaError(`${OP}: ${what} must be an array of names, one per array leaf, got ${fmtValue(given)}`);
  if (given.length !== n) throw new NablaError(`${OP}: ${what} lists ${given.length} name(s) for ${n} array leaves`);
  if (given.some((s) => typeof s !== "string" || s.length === 0 || s.startsWith("%")))
    throw new NablaError(`${OP}: ${what} must be non-empty strings not starting with "%"`);
  return given.slice();
}

const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/**
 * Writes the staged program of `f` at the example arguments as an ONNX
 * model (ModelProto bytes): one graph input per array leaf of the
 * arguments, one output per array leaf of the result. Elementwise,
 * comparison, select, reduction, shape, gather/scatter-add, cumsum, matmul
 * and convert primitives map to ONNX operators; a NablaError names every
 * primitive that cannot be expressed. Derivative programs export like any
 * other function.
 * @example
 * const bytes = exportOnnx((x: nb.NDArray) => nb.sum(nb.tanh(x)), [nb.zeros([3])], { inputNames: ["x"] });
 * // new ort.InferenceSession.create(bytes) runs it
 */
export function exportOnnx(
  f: (...args: never[]) => unknown,
  exampleArgs: readonly unknown[],
  options?: OnnxOptions,
): Uint8Array {
  f = fnArg(OP, f);
  if (!Array.isArray(exampleArgs)) throw new NablaError(`${OP}: exampleArgs must be an array of the arguments`);
  const o = readOptions(OP, options, ["opset", "inputNames", "outputNames"]);
  const opset: unknown = o.opset ?? 17;
  if (typeof opset !== "number" || !Object.hasOwn(IR_VERSION, opset))
    throw new NablaError(`${OP}: opset ${fmtValue(opset)} is not supported (17 to 21)`);
  const { graph } = stage(OP, f, exampleArgs);
  const inNames = checkNames("inputNames", o.inputNames, graph.inVars.length, "input");
  const outNames = checkNames("outputNames", o.outputNames, graph.outs.length, "output");
  if (new Set([...inNames, ...outNames]).size !== inNames.length + outNames.length)
    throw new NablaError(`${OP}: input and output names must be distinct`);
  const outVars = graph.outs.map((v) => {
    if (v === null) throw new NablaError(`${OP}: a symbolic-zero output cannot be exported`);
    return v;
  });
  const b = new Builder(opset);
  lowerGraph(b, graph, inNames, outNames);
  const g = b.graph(
    "nabla",
    graph.inVars.map((v, i) => [at(inNames, i, "exportOnnx"), v.aval]),
    outVars.map((v, i) => [at(outNames, i, "exportOnnx"), v.aval]),
  );
  return new ProtoWriter()
    .int(1, at(IR_VERSION, opset, "exportOnnx"))
    .string(2, "nabla")
    .string(3, "0.1.0")
    .message(7, g)
    .message(8, new ProtoWriter().string(1, "").int(2, opset))
    .finish();
}
