/**
 * The primitive table: every first-order primitive's row, by the id the IR
 * prints, under one complete type check — a primitive declared in `Params`
 * without a row, or a linear one without its transpose rule, fails to
 * compile. Primitives are passed by reference (`bind(ROW, ...)`), so nothing
 * needs this table to run; it is the completeness check and the lookup by
 * name (for tests and tools such as a graph importer).
 *
 * Higher-order primitives (`while_loop`, `custom_jvp_call`, `custom_vjp_call`,
 * `custom_vjp_lin`) live beside the transforms that bind them.
 *
 * Adding an elementwise primitive: its entry in `Params` and its line in
 * `RULES` (the check fails until both exist), its row in `elementwise.ts`
 * (its `scalar` function is what the kernel and `jit`'s fused loops run), a
 * wrapper in `wrap.ts` if other rules need it, the public function in
 * `src/ops/elementwise.ts` (and its name in `src/ops/methods.ts` for a
 * method), and its cases in `test/properties/primitiveSpecs.ts` and
 * `test/properties/vmap.test.ts`, both typed over every primitive.
 */
import type { DType } from "../core/dtype.js";
import type { ConvGeometry } from "../kernels/conv.js";
import * as E from "./elementwise.js";
import * as R from "./reduce.js";
import * as SH from "./shape.js";
import * as IX from "./indexing.js";
import * as LA from "./linalg.js";
import * as RN from "./random.js";
import * as SP from "./special.js";
// opsB: convolution and scatter updates (issue 9)
import * as CV from "./conv.js";
import * as SC from "./scatter.js";
import type { Rule } from "../core/trace.js";

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
  det: {};
  cofactor: {};
  cholesky: {};
  qr: {};
  eigh: {};
  // opsC: linear algebra
  svd: { fullMatrices: boolean };
  lu: {};
  expm: {};
  expm_frechet: {};
  random_bits: { shape: number[] };
  random_uniform: { shape: number[]; dtype: DType };
  // special functions (issue 9, opsA)
  lgamma: {};
  digamma: {};
  polygamma: {};
  erfc: {};
  erfinv: {};
  xlogy: {};
  xlog1py: {};
  // opsB (issue 9): convolution
  conv: ConvGeometry;
  scatter_mul: {};
  scatter_min: {};
  scatter_max: {};
}
export type Prim = keyof Params;

/** The primitives that are linear in (some of) their operands: their rows must have a transpose rule. */
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
  // opsC
  | "expm_frechet"
  // opsB (issue 9)
  | "conv";

// Rows are typed by arity in their files (`Rule<P, N, M>` of ./rule.ts, whose rules take tuples);
// here each is checked against the core Rule that `bind` and the transforms call.
type RuleFor<P extends Prim> = P extends LinearPrim
  ? Rule<Params[P]> & Required<Pick<Rule<Params[P]>, "transpose">>
  : Rule<Params[P]>;

/** Every first-order primitive's row, by name. */
export const RULES = {
  neg: E.NEG,
  exp: E.EXP,
  log: E.LOG,
  log1p: E.LOG1P,
  expm1: E.EXPM1,
  sin: E.SIN,
  cos: E.COS,
  tan: E.TAN,
  tanh: E.TANH,
  sinh: E.SINH,
  cosh: E.COSH,
  asin: E.ASIN,
  acos: E.ACOS,
  atan: E.ATAN,
  sqrt: E.SQRT,
  abs: E.ABS,
  sign: E.SIGN,
  floor: E.FLOOR,
  ceil: E.CEIL,
  round: E.ROUND,
  erf: E.ERF,
  logistic: E.LOGISTIC,
  softplus: E.SOFTPLUS,
  stop_gradient: E.STOP_GRADIENT,
  add: E.ADD,
  sub: E.SUB,
  mul: E.MUL,
  div: E.DIV,
  pow: E.POW,
  max: E.MAX,
  min: E.MIN,
  atan2: E.ATAN2,
  eq: E.EQ,
  ne: E.NE,
  lt: E.LT,
  le: E.LE,
  gt: E.GT,
  ge: E.GE,
  and: E.AND,
  or: E.OR,
  not: E.NOT,
  select: E.SELECT,
  convert: E.CONVERT,
  reduce_sum: R.REDUCE_SUM,
  reduce_max: R.REDUCE_MAX,
  reduce_min: R.REDUCE_MIN,
  argmax: R.ARGMAX,
  argmin: R.ARGMIN,
  reshape: SH.RESHAPE,
  broadcast: SH.BROADCAST,
  transpose: SH.TRANSPOSE,
  slice: SH.SLICE,
  pad: SH.PAD,
  concatenate: SH.CONCATENATE,
  matmul: LA.MATMUL,
  gather: IX.GATHER,
  scatter_add: IX.SCATTER_ADD,
  cumsum: R.CUMSUM,
  rev: SH.REV,
  argsort: IX.ARGSORT,
  solve: LA.SOLVE,
  triangular_solve: LA.TRIANGULAR_SOLVE,
  slogdet: LA.SLOGDET,
  det: LA.DET,
  cofactor: LA.COFACTOR,
  cholesky: LA.CHOLESKY,
  qr: LA.QR,
  eigh: LA.EIGH,
  // opsC: linear algebra
  svd: LA.SVD,
  lu: LA.LU,
  expm: LA.EXPM,
  expm_frechet: LA.EXPM_FRECHET,
  random_bits: RN.RANDOM_BITS,
  random_uniform: RN.RANDOM_UNIFORM,
  // special functions (issue 9, opsA)
  lgamma: SP.LGAMMA,
  digamma: SP.DIGAMMA,
  polygamma: SP.POLYGAMMA,
  erfc: SP.ERFC,
  erfinv: SP.ERFINV,
  xlogy: SP.XLOGY,
  xlog1py: SP.XLOG1PY,
  // opsB (issue 9)
  conv: CV.CONV,
  scatter_mul: SC.SCATTER_MUL,
  scatter_min: SC.SCATTER_MIN,
  scatter_max: SC.SCATTER_MAX,
} satisfies { [P in Prim]: RuleFor<P> };
