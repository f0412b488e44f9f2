/**
 * WebGPU kernels: every elementwise primitive (unary math, binary arithmetic
 * with NumPy broadcasting, comparisons, logic, select, convert,
 * stop_gradient) in float32, int32 and bool, as the CPU kernels accept them.
 *
 * One shader per (primitive, dtypes, operand layout): an operand is read at
 * the output's index when its shape is the output's, at 0 when it has one
 * element, and else through per-operand strides (0 on broadcast axes) from
 * the output's coordinates; shapes and strides are a parameter buffer, so
 * shapes of one rank share a pipeline.
 *
 * Accuracy. The CPU computes float32 math in float64 and rounds, so its
 * results are correctly rounded (or nearly); WGSL's builtins carry loose
 * error bounds (exp 3 + 2|x| ulp, log 2^-21 absolute near 1, pow through
 * exp2/log2; SwiftShader's sin(2) is off by 5e-5). exp, log, expm1, log1p,
 * sin, cos, tan, asin, acos, atan, atan2, sinh, cosh, tanh, erf, logistic,
 * softplus and pow are written here (range reduction and polynomials in
 * float32); sqrt and the arithmetic are builtins (0 ulp from the CPU on
 * SwiftShader). test/webgpu.test.ts measures the ulp error of every function
 * against the CPU on many inputs and asserts the bounds stated in
 * docs/webgpu.md ("Accuracy").
 *
 * int32 follows the CPU: +, -, * wrap (two's complement), division
 * truncates with x / 0 = 0 (the CPU's ToInt32 of ±Infinity and NaN),
 * pow is exact wrapping square-and-multiply with negative exponents as
 * `powInt32`, and float-to-int32 conversion truncates and wraps modulo 2^32
 * (NaN and ±Infinity give 0).
 */
import { NablaError, at } from "../../core/errors.js";
import { sizeOf } from "../../core/shape.js";
import { type Tuple, hasLength } from "../../core/tuple.js";
import { bcastStrides } from "../strided.js";
import { ERF_CENTRES, ERF_TABLE, ERF_TERMS } from "../wasm/erfTable.js";
import { ERF_SMALL } from "../wasm/vmath.js";
import {
  type GpuAval,
  type GpuContext,
  type GpuDType,
  type GpuKernel,
  type GpuTensor,
  WGSL_TYPE,
  elementMain,
  grid,
  kernel,
} from "./kernel.js";
import { WG, gpuDtype } from "./wgsl.js";

/** WGSL: r = r·b^e by square and multiply (e ≥ 0, consumed; r and b are updated), for nb_powi and nb_powi32. */
const SQUARE_MULTIPLY = `  loop {
    if (e == 0) { break; }
    if ((e & 1) == 1) { r = r * b; }
    b = b * b;
    e = e >> 1u;
  }`;

/** WGSL helpers the expressions call (nb_*): float32 math written for accuracy. */
export const MATH = /* wgsl */ `
fn nb_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
// infinity and NaN are not WGSL constants (const evaluation rejects them): bit patterns read at run time
var<private> NB_INF_BITS: u32 = 0x7f800000u;
var<private> NB_NAN_BITS: u32 = 0x7fc00000u;
fn nb_inf() -> f32 { return bitcast<f32>(NB_INF_BITS); }
fn nb_nan() -> f32 { return bitcast<f32>(NB_NAN_BITS); }
// 2^k for integer k in [-149, 127] times p, in two steps so that neither overflows early
fn nb_scale(p: f32, k: i32) -> f32 { let h = k / 2; return ldexp(ldexp(p, h), k - h); }
// exp: x = k ln2 + r (ln2 split in a 16-bit head and a tail, so k * head is exact), |r| <= ln2/2,
// exp(r) by its Taylor polynomial to r^9
fn nb_exp(x: f32) -> f32 {
  if (nb_isnan(x)) { return x; }
  if (x > 88.7228394) { return nb_inf(); }
  if (x < -103.972084) { return 0.0; }
  let k = round(x * 1.44269504);
  let r = (x - k * 0.693145752) - k * 1.42860677e-6;
  let p = 1.0 + r * (1.0 + r * (0.5 + r * (0.166666672 + r * (0.0416666679 + r * (0.00833333377 + r * (0.00138888892 + r * (0.000198412701 + r * (2.48015876e-5 + r * 2.75573188e-6))))))));
  return nb_scale(p, i32(k));
}
// log(1 + f) - style core: 2 atanh(s) = 2s + s * z * P(z), z = s^2, |s| <= 0.1716
fn nb_atanh2(s: f32) -> f32 {
  let z = s * s;
  let p = z * (0.666666667 + z * (0.4 + z * (0.285714298 + z * (0.222222224 + z * (0.181818187 + z * (0.153846160 + z * 0.13333334))))));
  return 2.0 * s + s * p;
}
fn nb_log(x: f32) -> f32 {
  if (nb_isnan(x) || x < 0.0) { return nb_nan(); }
  if (x == 0.0) { return -nb_inf(); }
  if (x == nb_inf()) { return x; }
  let fr = frexp(x);
  var f = fr.fract;
  var e = fr.exp;
  if (f < 0.707106781) { f = f * 2.0; e = e - 1; }
  let s = (f - 1.0) / (f + 1.0);
  let ef = f32(e);
  return ef * 0.693145752 + (ef * 1.42860677e-6 + nb_atanh2(s));
}
fn nb_log1p(x: f32) -> f32 {
  if (x > -0.29 && x < 0.414) { return nb_atanh2(x / (2.0 + x)); }
  return nb_log(1.0 + x);
}
fn nb_expm1(x: f32) -> f32 {
  if (abs(x) < 1.0) {
    return x + x * x * (0.5 + x * (0.166666672 + x * (0.0416666679 + x * (0.00833333377 + x * (0.00138888892 + x * (0.000198412701 + x * (2.48015876e-5 + x * (2.75573188e-6 + x * (2.75573188e-7 + x * (2.50521084e-8 + x * (2.08767570e-9 + x * 1.60590438e-10)))))))))));
  }
  return nb_exp(x) - 1.0;
}
fn nb_sinh(x: f32) -> f32 {
  let a = abs(x);
  if (a < 1.0) {
    let z = x * x;
    return x + x * z * (0.166666672 + z * (0.00833333377 + z * (0.000198412701 + z * (2.75573188e-6 + z * (2.50521084e-8 + z * 1.60590438e-10)))));
  }
  // e^a / 2 as e^(a - ln 2), which stays finite up to the largest float32 result
  let h = select(select(nb_exp(a - 0.693147181), 0.5 * nb_exp(a), a < 88.0), 0.5 * (nb_exp(a) - nb_exp(-a)), a < 10.0);
  return select(h, -h, x < 0.0);
}
fn nb_cosh(x: f32) -> f32 {
  let a = abs(x);
  if (a < 10.0) { return 0.5 * (nb_exp(a) + nb_exp(-a)); }
  return select(nb_exp(a - 0.693147181), 0.5 * nb_exp(a), a < 88.0);
}
fn nb_tanh(x: f32) -> f32 {
  let a = abs(x);
  var t = 1.0;
  if (a < 10.0) { let m = nb_expm1(2.0 * a); t = m / (m + 2.0); }
  if (nb_isnan(x)) { return x; }
  return select(t, -t, x < 0.0);
}
fn nb_logistic(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + nb_exp(-x)); }
  let e = nb_exp(x);
  return e / (1.0 + e);
}
fn nb_softplus(x: f32) -> f32 { return max(x, 0.0) + nb_log1p(nb_exp(-abs(x))); }
// x^y for integer y: square and multiply (|y| <= 64), reciprocal for negative y
fn nb_powi(x: f32, n: i32) -> f32 {
  var e = abs(n);
  var b = x;
  var r = 1.0;
${SQUARE_MULTIPLY}
  return select(r, 1.0 / r, n < 0);
}
// a^y for finite a > 0: a = 2^e f (f in [sqrt(1/2), sqrt(2))), so a^y = 2^(e y) f^y; e y is split exactly
// (y in a 12-bit head and its tail, each times the small integer e exact) into an integer n and a
// fraction, and only fraction ln 2 + y log f (small for moderate y) goes through exp
fn nb_powpos(a: f32, y: f32) -> f32 {
  if (abs(y) == nb_inf()) { return select(select(nb_inf(), 0.0, y < 0.0), select(0.0, nb_inf(), y < 0.0), a < 1.0); }
  let fr = frexp(a);
  var f = fr.fract;
  var e = fr.exp;
  if (f < 0.707106781) { f = f * 2.0; e = e - 1; }
  let ef = f32(e);
  let yh = bitcast<f32>(bitcast<u32>(y) & 0xfffff000u);
  let p1 = ef * yh;
  let p2 = ef * (y - yh);
  let n = round(p1);
  let z = ((p1 - n) + p2) * 0.693147181 + y * nb_atanh2((f - 1.0) / (f + 1.0));
  let k = round(z * 1.44269504);
  let total = n + k;
  if (total > 130.0) { return nb_inf(); }
  if (total < -160.0) { return 0.0; }
  let r = (z - k * 0.693145752) - k * 1.42860677e-6;
  return nb_scale(nb_exp(r), i32(total));
}
fn nb_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0 || x == 1.0) { return 1.0; }
  if (nb_isnan(x) || nb_isnan(y)) { return nb_nan(); }
  let yint = floor(y) == y;
  if (yint && abs(y) <= 64.0) { return nb_powi(x, i32(y)); }
  let a = abs(x);
  if (a == 0.0) {
    let odd = yint && abs(y) < 16777216.0 && (i32(abs(y) % 2.0) == 1);
    let m = select(0.0, nb_inf(), y < 0.0);
    return select(m, select(m, -m, x < 0.0), odd);
  }
  if (x < 0.0 && !yint) { return nb_nan(); }
  var r = nb_powpos(a, y);
  if (a == nb_inf()) { r = select(nb_inf(), 0.0, y < 0.0); }
  let odd = yint && abs(y) < 16777216.0 && (i32(abs(y) % 2.0) == 1);
  return select(r, -r, x < 0.0 && odd);
}
fn nb_powi32(x: i32, y: i32) -> i32 {
  if (y < 0) { return select(select(0, select(-1, 1, (y & 1) == 0), x == -1), 1, x == 1); }
  var e = y;
  var b = x;
  var r = 1;
${SQUARE_MULTIPLY}
  return r;
}
// sin, cos, tan: x = k pi/2 + r (pi/2 in three parts, the first two short, so k * part is exact for
// |x| < 8192), |r| <= pi/4, Taylor polynomials of sin and cos on r, the quadrant from k
fn nb_reduce(x: f32) -> vec2f {
  let k = round(x * 0.636619772);
  let r = ((x - k * 1.5703125) - k * 4.83751297e-4) - k * 7.54978995e-8;
  return vec2f(r, k);
}
fn nb_sinr(r: f32) -> f32 {
  let z = r * r;
  return r + r * z * (-0.166666667 + z * (0.00833333333 + z * (-0.000198412698 + z * (2.75573192e-6 + z * -2.50521084e-8))));
}
fn nb_cosr(r: f32) -> f32 {
  let z = r * r;
  return 1.0 + z * (-0.5 + z * (0.0416666667 + z * (-0.00138888889 + z * (2.48015873e-5 + z * (-2.75573192e-7 + z * 2.08767570e-9)))));
}
fn nb_sin(x: f32) -> f32 {
  if (nb_isnan(x) || abs(x) == nb_inf()) { return nb_nan(); }
  let v = nb_reduce(x);
  let q = i32(v.y) & 3;
  var s = select(nb_sinr(v.x), nb_cosr(v.x), (q & 1) == 1);
  return select(s, -s, q >= 2);
}
fn nb_cos(x: f32) -> f32 {
  if (nb_isnan(x) || abs(x) == nb_inf()) { return nb_nan(); }
  let v = nb_reduce(x);
  let q = i32(v.y) & 3;
  var c = select(nb_cosr(v.x), nb_sinr(v.x), (q & 1) == 1);
  return select(c, -c, q == 1 || q == 2);
}
fn nb_tan(x: f32) -> f32 {
  if (nb_isnan(x) || abs(x) == nb_inf()) { return nb_nan(); }
  let v = nb_reduce(x);
  let s = nb_sinr(v.x);
  let c = nb_cosr(v.x);
  return select(s / c, -c / s, (i32(v.y) & 1) == 1);
}
// atan on [0, 1]: atan(t) = pi/4 + atan((t - 1)/(t + 1)) above tan(pi/8), Taylor series below
fn nb_atan01(t: f32) -> f32 {
  let big = t > 0.414213562;
  let u = select(t, (t - 1.0) / (t + 1.0), big);
  let z = u * u;
  let p = u + u * z * (-0.333333333 + z * (0.2 + z * (-0.142857143 + z * (0.111111111 + z * (-0.0909090909 + z * (0.0769230769 + z * (-0.0666666667 + z * (0.0588235294 + z * (-0.0526315789 + z * (0.0476190476 + z * -0.0434782609))))))))));
  return select(p, 0.785398163 + p, big);
}
fn nb_atan(x: f32) -> f32 {
  if (nb_isnan(x)) { return x; }
  let a = abs(x);
  let r = select(nb_atan01(a), 1.57079633 - nb_atan01(1.0 / a), a > 1.0);
  return select(r, -r, x < 0.0);
}
fn nb_atan2(y: f32, x: f32) -> f32 {
  if (nb_isnan(x) || nb_isnan(y)) { return nb_nan(); }
  let ax = abs(x);
  let ay = abs(y);
  var r: f32;
  if (ay == 0.0) { r = 0.0; }
  else if (ax == nb_inf() && ay == nb_inf()) { r = 0.785398163; }
  else if (ay <= ax) { r = nb_atan01(ay / ax); }
  else { r = 1.57079633 - nb_atan01(ax / ay); }
  if ((bitcast<u32>(x) >> 31u) == 1u) { r = 3.14159265 - r; }
  return select(r, -r, (bitcast<u32>(y) >> 31u) == 1u);
}
// asin on [0, 1/2]: its Taylor series
fn nb_asin0(x: f32) -> f32 {
  let z = x * x;
  return x + x * z * (0.166666667 + z * (0.075 + z * (0.0446428571 + z * (0.0303819444 + z * (0.0223721591 + z * (0.0173527644 + z * (0.0139648438 + z * (0.0115518009 + z * (0.00976160952 + z * (0.00839033815 + z * 0.00731252587))))))))));
}
fn nb_asin(x: f32) -> f32 {
  let a = abs(x);
  if (nb_isnan(x) || a > 1.0) { return nb_nan(); }
  // above 1/2: asin(a) = pi/2 - 2 asin(sqrt((1 - a)/2)) (1 - a is exact there)
  let r = select(nb_asin0(a), 1.57079633 - 2.0 * nb_asin0(sqrt((1.0 - a) * 0.5)), a > 0.5);
  return select(r, -r, x < 0.0);
}
fn nb_acos(x: f32) -> f32 {
  let a = abs(x);
  if (nb_isnan(x) || a > 1.0) { return nb_nan(); }
  if (a <= 0.5) { return 1.57079633 - nb_asin0(x); }
  let h = 2.0 * nb_asin0(sqrt((1.0 - a) * 0.5));
  return select(h, 3.14159265 - h, x < 0.0);
}
fn nb_sign(x: f32) -> f32 { return select(select(x, -1.0, x < 0.0), 1.0, x > 0.0); }
fn nb_max(x: f32, y: f32) -> f32 { return select(max(x, y), nb_nan(), nb_isnan(x) || nb_isnan(y)); }
fn nb_min(x: f32, y: f32) -> f32 { return select(min(x, y), nb_nan(), nb_isnan(x) || nb_isnan(y)); }
// float32 to int32 as the CPU's ToInt32(trunc(x)): wraps modulo 2^32; NaN and infinities give 0
fn nb_toi32(x: f32) -> i32 {
  if (nb_isnan(x) || abs(x) == nb_inf()) { return 0; }
  let t = trunc(x);
  if (abs(t) < 2147483648.0) { return i32(t); }
  let m = t - floor(t / 4294967296.0) * 4294967296.0;
  return bitcast<i32>(u32(m));
}
`;

/** The helper functions WGSL `code` calls: MATH when it calls an nb_ function, and erf's table when nb_erf. */
export function preludeFor(code: string): string {
  return `${code.includes("nb_") ? MATH : ""}${code.includes("nb_erf") ? ERF_WGSL : ""}`;
}

/** Taylor terms per centre kept in float32 (|h| <= 1/16: the 9th term is below 2^-30 relative). */
const ERF_F32_TERMS = 9;

/**
 * erf, the CPU's algorithm (src/kernels/scalar.ts) in float32: x + x Σ b_n x^(2n) for |x| < 1/2, the
 * Taylor expansion around the nearest centre c_j = 1/2 + (j + 1/2)/8 for 1/2 <= |x| < 6, ±1 beyond.
 */
export const ERF_WGSL = (() => {
  const rows: string[] = [];
  for (let j = 0; j < ERF_CENTRES; j++)
    for (let n = 0; n < ERF_F32_TERMS; n++) rows.push(String(at(ERF_TABLE, j * ERF_TERMS + n, "erf")));
  const small = ERF_SMALL.reduceRight((acc, c) => `(${c} + z * ${acc})`, "0.0");
  let tay = "0.0";
  for (let n = ERF_F32_TERMS - 1; n >= 0; n--) tay = `(ERF_T[b + ${n}u] + h * ${tay})`;
  return /* wgsl */ `
var<private> ERF_T: array<f32, ${rows.length}> = array<f32, ${rows.length}>(${rows.join(", ")});
fn nb_erf(x: f32) -> f32 {
  if (nb_isnan(x)) { return x; }
  let a = abs(x);
  if (a < 0.5) { let z = x * x; return x + x * ${small}; }
  if (a >= 6.0) { return select(1.0, -1.0, x < 0.0); }
  let j = u32(floor((a - 0.5) * 8.0));
  let h = a - (0.5 + (f32(j) + 0.5) * 0.125);
  let b = j * ${ERF_F32_TERMS}u;
  let p = ${tay};
  return select(p, -p, x < 0.0);
}
`;
})();

/** How an expression sees its operands: WGSL values of the operand dtypes. */
export type Expr = (args: readonly string[], ins: readonly GpuDType[], out: GpuDType) => string;

/**
 * An expression of `n` operands: `f` takes the operands' WGSL values and dtypes as tuples. The
 * kernels and fused shaders pass one per operand of the equation, so the count holds by
 * construction; it is checked here (a mismatch is a bug in nabla).
 */
function fixed<N extends number>(
  n: N,
  f: (args: Tuple<string, N>, ins: Tuple<GpuDType, N>, out: GpuDType) => string,
): Expr {
  return (args, ins, out) => {
    if (!hasLength(args, n) || !hasLength(ins, n))
      throw new NablaError(
        `webgpu: internal: a WGSL expression of ${n} operand(s) given ${args.length} values and ${ins.length} dtypes`,
      );
    return f(args, ins, out);
  };
}

const f = (fn: string): Expr => fixed(1, ([a]) => `${fn}(${a})`);
/** Unary: float32 through `fl`, int32 through `int` (identity when omitted). */
const num = (fl: string, int?: string): Expr =>
  fixed(1, ([a], [t]) => (t === "int32" ? (int === undefined ? a : `${int}(${a})`) : `${fl}(${a})`));
const op2 = (o: string): Expr => fixed(2, ([a, b]) => `(${a} ${o} ${b})`);
const cmp = (o: string): Expr => fixed(2, ([a, b]) => `select(0u, 1u, ${a} ${o} ${b})`);

/** Every elementwise primitive's WGSL expression. */
export const EXPRS = {
  neg: fixed(1, ([a]) => `(-${a})`),
  exp: f("nb_exp"),
  log: f("nb_log"),
  log1p: f("nb_log1p"),
  expm1: f("nb_expm1"),
  sin: f("nb_sin"),
  cos: f("nb_cos"),
  tan: f("nb_tan"),
  tanh: f("nb_tanh"),
  sinh: f("nb_sinh"),
  cosh: f("nb_cosh"),
  asin: f("nb_asin"),
  acos: f("nb_acos"),
  atan: f("nb_atan"),
  sqrt: f("sqrt"),
  erf: f("nb_erf"),
  logistic: f("nb_logistic"),
  softplus: f("nb_softplus"),
  abs: num("abs", "abs"),
  sign: num("nb_sign", "sign"),
  floor: num("floor"),
  ceil: num("ceil"),
  round: num("round"),
  add: op2("+"),
  sub: op2("-"),
  mul: op2("*"),
  div: fixed(2, ([a, b], [t]) => (t === "int32" ? `select(${a} / ${b}, 0, ${b} == 0)` : `(${a} / ${b})`)),
  pow: fixed(2, ([a, b], [t]) => (t === "int32" ? `nb_powi32(${a}, ${b})` : `nb_pow(${a}, ${b})`)),
  max: fixed(2, ([a, b], [t]) => (t === "int32" ? `max(${a}, ${b})` : `nb_max(${a}, ${b})`)),
  min: fixed(2, ([a, b], [t]) => (t === "int32" ? `min(${a}, ${b})` : `nb_min(${a}, ${b})`)),
  atan2: fixed(2, ([a, b]) => `nb_atan2(${a}, ${b})`),
  eq: cmp("=="),
  // NaN != x must hold: SwiftShader compiles != as an ordered comparison, so NaN is tested apart
  ne: fixed(2, ([a, b], [t]) =>
    t === "float32"
      ? `select(0u, 1u, ${a} != ${b} || nb_isnan(${a}) || nb_isnan(${b}))`
      : `select(0u, 1u, ${a} != ${b})`,
  ),
  lt: cmp("<"),
  le: cmp("<="),
  gt: cmp(">"),
  ge: cmp(">="),
  and: op2("&"),
  or: op2("|"),
  not: fixed(1, ([a]) => `(1u - ${a})`),
  select: fixed(3, ([c, a, b]) => `select(${b}, ${a}, ${c} != 0u)`),
  convert: fixed(1, ([a], [from], to) => {
    if (from === to) return a;
    if (to === "bool")
      return from === "float32" ? `select(0u, 1u, ${a} != 0.0 || nb_isnan(${a}))` : `select(0u, 1u, ${a} != 0)`;
    if (to === "int32") return from === "float32" ? `nb_toi32(${a})` : `i32(${a})`;
    return `f32(${a})`;
  }),
} satisfies Record<string, Expr>;

/** The layout of an operand: the output's shape (c), one element (s), or broadcast through strides (b). */
type Layout = "c" | "s" | "b";

function layoutOf(t: GpuTensor, out: readonly number[]): Layout {
  const s = t.shape;
  if (s.length === out.length && s.every((d, i) => d === out[i])) return "c";
  return sizeOf(s) === 1 ? "s" : "b";
}

function shader(
  name: string,
  expr: string,
  ins: readonly GpuDType[],
  layouts: readonly Layout[],
  out: GpuDType,
  rank: number,
  max: number,
): string {
  const decl = ins
    .map((d, k) => `@group(0) @binding(${k + 1}) var<storage, read> a${k}: array<${WGSL_TYPE[d]}>;`)
    .join("\n");
  const bcast = layouts.flatMap((l, k) => (l === "b" ? [k] : []));
  const lines: string[] = [];
  if (bcast.length > 0) {
    lines.push("var rem = i;");
    for (const k of bcast) lines.push(`var o${k} = 0u;`);
    for (let d = rank - 1; d >= 0; d--) {
      lines.push(`{ let n = P[${1 + d}]; let c = rem % n; rem = rem / n;`);
      bcast.forEach((k, j) => lines.push(`  o${k} = o${k} + c * P[${1 + rank + j * rank + d}];`));
      lines.push("}");
    }
  }
  const vals = layouts.map((l, k) => (l === "c" ? `a${k}[i]` : l === "s" ? `a${k}[0]` : `a${k}[o${k}]`));
  return `// ${name}
@group(0) @binding(0) var<storage, read_write> out: array<${WGSL_TYPE[out]}>;
${decl}
@group(0) @binding(${ins.length + 1}) var<storage, read> P: array<u32>;
${preludeFor(expr)}
${elementMain(WG, max, "P[0]")}
  ${lines.join("\n  ")}
  ${vals.map((v, k) => `let x${k} = ${v};`).join("\n  ")}
  out[i] = ${expr};
}
`;
}

function elementwise(name: keyof typeof EXPRS): GpuKernel<{ dtype?: string }> {
  const make: Expr = EXPRS[name];
  return (ctx: GpuContext, args: readonly GpuTensor[], _params, outs: readonly GpuAval[]): GpuTensor[] => {
    const o = at(outs, 0, name);
    const od = gpuDtype(o.dtype);
    const result = ctx.alloc(o.shape, od);
    const n = sizeOf(o.shape);
    if (n === 0) return [result];
    const layouts = args.map((a) => layoutOf(a, o.shape));
    const ins = args.map((a) => a.dtype);
    const bcast = args.filter((_, k) => layouts[k] === "b");
    const rank = bcast.length > 0 ? o.shape.length : 0;
    const key = `ew:${name}:${ins.join(",")}>${od}:${layouts.join("")}:${rank}`;
    const expr = make(
      args.map((_, k) => `x${k}`),
      ins,
      od,
    );
    const pipeline = ctx.pipeline(key, () => shader(key, expr, ins, layouts, od, rank, ctx.maxWorkgroups));
    const words = [n, ...(rank > 0 ? o.shape : []), ...bcast.flatMap((a) => bcastStrides(a.shape, o.shape))];
    ctx.dispatch(
      pipeline,
      [result.buffer, ...args.map((a) => a.buffer), ctx.words(Uint32Array.from(words))],
      grid(n, WG, ctx.maxWorkgroups),
    );
    return [result];
  };
}

/** stop_gradient is the identity: the operand's tensor itself (arrays sharing a buffer are counted). */
const identity = kernel("stop_gradient", 1, (_ctx, [x], _p: {}) => x);

/** This file's kernels by primitive name. */
export const KERNELS = {
  ...(Object.fromEntries(Object.keys(EXPRS).map((k) => [k, elementwise(k as keyof typeof EXPRS)])) as {
    // typed against each primitive's Params by GPU_KERNELS (src/prims/gpuTable.ts): kernels sit below prims
    readonly [K in keyof typeof EXPRS]: GpuKernel<{ dtype?: string }>;
  }),
  stop_gradient: identity,
};
