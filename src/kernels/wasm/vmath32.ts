/**
 * Float32 kernels in f32x4 lanes (four elements per v128), for compiled
 * float32 loops (./elementwise.ts). Arithmetic (add, sub, mul, div, min, max,
 * neg, abs, sqrt) is the f32x4 instruction: for float32 operands it rounds
 * exactly as the float64 operation rounded once to float32 (53 >= 2·24 + 2),
 * so those results are the bits the float64-lane loops produced. A function
 * without an f32x4 form here runs its float64 kernel (./vmath.ts) on the two
 * halves of the vector (promoted) and rounds once to float32: the same values
 * as before as well.
 *
 * sin, cos, tanh and exp have float32 forms (accuracy contract: within 1 ulp of
 * the correctly rounded float32 value, test/wasmMath.test.ts):
 * - sin/cos: the argument reduction and cos's leading 1 - r²/2 are computed
 *   in float64 on the halves (r = x - q·π/2 with π/2 in three 33-bit parts: r
 *   to about 2^-52 relative for |x| <= 2^20), split into float32 pairs (hi,
 *   lo), and the polynomial tails, at most 0.11 of the result, are evaluated
 *   in float32. Error budget (units of 2^-24 |result|): truncation < 0.04,
 *   the tail's float32 evaluation < 0.25, the final addition 0.5: under 0.8,
 *   so the result is the correctly rounded value or a neighbour.
 * - tanh: computed in float64 on the halves with expm1's polynomial cut to
 *   float32 accuracy (see tanhHalf), rounded once: float64 error below 2^-29
 *   relative, i.e. < 2^-5 float32 ulp before the rounding (a float64 value
 *   within 2^-26 relative of the exact one rounds to within 1 float32 ulp of
 *   the correctly rounded value).
 * - exp: the float64 kernel on the halves with its polynomial cut to 7 terms
 *   (truncation < 2^-32 relative), rounded once.
 */
import { at } from "../../core/errors.js";
import { OP, SIMD } from "./encoder.js";
import { type VB, type X, EXP_Q, P1, P2, P3, TRIG_BOUND, TWO_OVER_PI, exp } from "./vmath.js";

/** The 64-bit pattern of two float32 lanes holding `v` (an f32x4 splat as an i64x2 constant). */
function f32Pattern(v: number): bigint {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, v, true);
  const b = BigInt(dv.getUint32(0, true));
  const two = (b << 32n) | b;
  return two >= 1n << 63n ? two - (1n << 64n) : two;
}
/** An f32x4 constant (v rounded to float32 in every lane). */
export const k32 = (v: VB, x: number): X => v.ki(f32Pattern(x));
/** An i32x4 constant. */
const ki32 = (v: VB, x: number): X => {
  const b = BigInt(x >>> 0);
  const two = (b << 32n) | b;
  return v.ki(two >= 1n << 63n ? two - (1n << 64n) : two);
};

const op1 =
  (o: number) =>
  (v: VB, a: X): X =>
  () => {
    a();
    v.c.simd(o);
  };
const op2 =
  (o: number) =>
  (v: VB, a: X, b: X): X =>
  () => {
    a();
    b();
    v.c.simd(o);
  };
const add = op2(SIMD.f32x4Add);
const sub = op2(SIMD.f32x4Sub);
const mul = op2(SIMD.f32x4Mul);
const abs = op1(SIMD.f32x4Abs);
const lt = op2(SIMD.f32x4Lt);
const gt = op2(SIMD.f32x4Gt);
const iand = op2(SIMD.and);
const ixor = op2(SIMD.xor);
const iadd = op2(SIMD.i32x4Add);
const ieq = op2(SIMD.i32x4Eq);
const shl =
  (v: VB, a: X, n: number): X =>
  () => {
    a();
    v.c.i32(n).simd(SIMD.i32x4Shl);
  };

/** i8x16.shuffle of two vectors by 16 byte-lane indices (0-15 the first, 16-31 the second). */
const shuffle =
  (v: VB, a: X, b: X, lanes: readonly number[]): X =>
  () => {
    a();
    b();
    v.c.simd(SIMD.i8x16Shuffle);
    for (const l of lanes) v.c.b.push(l);
  };
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
/** Lanes 2, 3 of a float32 vector moved to lanes 0, 1 (for promote_low). */
const HIGH_TO_LOW = [...range(8, 8), ...range(8, 8)];
/** The low 8 bytes of the first vector, then the low 8 bytes of the second. */
const LOW_LOW = [...range(0, 8), ...range(16, 8)];
/** The low 32 bits of each of the four i64 lanes of two vectors (i64x2, i64x2 → i32x4). */
const LOW_WORDS = [...range(0, 4), ...range(8, 4), ...range(16, 4), ...range(24, 4)];

/** The float32 lanes 0, 1 and 2, 3 of `x`, each promoted to an f64x2 (bound). */
export function promoteHalves(v: VB, x: X): [X, X] {
  const lo = v.let(() => {
    x();
    v.c.simd(SIMD.f64x2PromoteLowF32x4);
  });
  const hi = v.let(() => {
    shuffle(v, x, x, HIGH_TO_LOW)();
    v.c.simd(SIMD.f64x2PromoteLowF32x4);
  });
  return [lo, hi];
}

/** Two f64x2 rounded to float32 and joined into one f32x4 (lanes lo0, lo1, hi0, hi1). */
export function demoteJoin(v: VB, lo: X, hi: X): X {
  const d =
    (e: X): X =>
    () => {
      e();
      v.c.simd(SIMD.f32x4DemoteF64x2Zero);
    };
  return shuffle(v, d(lo), d(hi), LOW_LOW);
}

/** A float64 kernel applied to an f32x4 by halves, rounded once to float32. */
export function byHalves(f: (v: VB, x: X) => X): (v: VB, x: X) => X {
  return (v, x0) => {
    const x = v.let(x0);
    const [lo, hi] = promoteHalves(v, x);
    const a = v.let(f(v, lo));
    const b = v.let(f(v, hi));
    return demoteJoin(v, a, b);
  };
}

/** c[0] + c[1] z + ... in float32 lanes by Estrin's scheme (as VB.poly); `z` must be bound. */
function poly(v: VB, z: X, c: readonly number[]): X {
  let terms: X[] = c.map((ci) => k32(v, ci));
  let p = z;
  while (terms.length > 1) {
    const next: X[] = [];
    for (let i = 0; i < terms.length; i += 2) {
      const lo = at(terms, i, "poly32");
      const hi = terms[i + 1];
      next.push(hi === undefined ? lo : v.let(add(v, lo, mul(v, p, hi))));
    }
    terms = next;
    if (terms.length > 1) p = v.let(mul(v, p, p));
  }
  return at(terms, 0, "poly32");
}

function factorial(n: number): number {
  let f = 1;
  for (let i = 1; i <= n; i++) f *= i;
  return f;
}
// sin r = r + r z S(z), S(z) = Σ_{j<4} (-1)^(j+1) z^j / (2j+3)!: truncation r^11/11! < 2^-28 |sin r| for |r| <= π/4
const SIN_S32 = Array.from({ length: 4 }, (_, j) => (j % 2 === 0 ? -1 : 1) / factorial(2 * j + 3));
// cos r = (1 - z/2) + z² C(z), C(z) = Σ_{j<4} (-1)^j z^j / (2j+4)!: truncation r^12/12! < 2^-32
const COS_C32 = Array.from({ length: 4 }, (_, j) => (j % 2 === 0 ? 1 : -1) / factorial(2 * j + 4));

/** A float64 value as a float32 pair (hi, lo): hi = fl32(r), lo = fl32(r - hi) (r - hi is exact). */
function split(v: VB, r: X): [X, X] {
  const hi = v.let(() => {
    r();
    v.c.simd(SIMD.f32x4DemoteF64x2Zero).simd(SIMD.f64x2PromoteLowF32x4);
  });
  return [hi, v.let(v.sub(r, hi))];
}

/** [sin x, cos x] of an f32x4 (one reduction serves both). */
export function sincos32(v: VB, x0: X): [X, X] {
  const x = v.let(x0);
  const halves = promoteHalves(v, x).map((xd) => {
    const [q, qi] = v.roundInt(v.mul(xd, v.k(TWO_OVER_PI)));
    // x - q·P1 exact, q·P2 and q·P3 exact products (33-bit parts, |q| < 2^20); two roundings of r
    const r2 = v.let(v.sub(v.sub(xd, v.mul(q, v.k(P1))), v.mul(q, v.k(P2))));
    const r = v.let(v.sub(r2, v.mul(q, v.k(P3))));
    const w = v.let(v.sub(v.k(1), v.mul(v.k(0.5), v.mul(r, r))));
    return { qi, r: split(v, r), w: split(v, w) };
  });
  const [a, b] = halves as [(typeof halves)[number], (typeof halves)[number]];
  const rh = v.let(demoteJoin(v, a.r[0], b.r[0]));
  const rl = v.let(demoteJoin(v, a.r[1], b.r[1]));
  const wh = v.let(demoteJoin(v, a.w[0], b.w[0]));
  const wl = v.let(demoteJoin(v, a.w[1], b.w[1]));
  const q = v.let(shuffle(v, a.qi, b.qi, LOW_WORDS));
  const z = v.let(mul(v, rh, rh));
  // sin(rh + rl) = rh + (rh z S(z) + rl (1 - z/2)); cos = wh + (wl + z² C(z)) (w carries all of r)
  const rlc = sub(v, rl, mul(v, rl, mul(v, k32(v, 0.5), z)));
  const s = v.let(add(v, rh, add(v, mul(v, mul(v, rh, z), poly(v, z, SIN_S32)), rlc)));
  const co = v.let(add(v, wh, add(v, wl, mul(v, mul(v, z, z), poly(v, z, COS_C32)))));
  // quadrant q mod 4: sin → (s, c, -s, -c), cos → (c, -s, -c, s)
  const one = ki32(v, 1);
  const two = ki32(v, 2);
  const odd = v.let(ieq(v, iand(v, q, one), one));
  const sinSign = shl(v, iand(v, q, two), 30);
  const cosSign = shl(v, iand(v, iadd(v, q, one), two), 30);
  // sin x rounds to x for |x| < 2^-12 in float32 (keeps -0 and subnormals)
  const sinRes = v.sel(lt(v, abs(v, x), k32(v, 2 ** -12)), x, ixor(v, v.sel(odd, co, s), sinSign));
  const [sinOut, ls] = v.bind(sinRes);
  const [cosOut, lc] = v.bind(ixor(v, v.sel(odd, s, co), cosSign));
  if (v.host !== null) {
    hostFallback(v, x, ls, v.host.sin);
    hostFallback(v, x, lc, v.host.cos);
  }
  return [sinOut, cosOut];
}

/** Replaces the lanes of local `l` where |x| > TRIG_BOUND (or ±∞) by fl32 of the host function's value. */
function hostFallback(v: VB, x: X, l: number, fn: number): void {
  const c = v.c;
  const big = v.let(gt(v, abs(v, x), k32(v, TRIG_BOUND)));
  big();
  c.simd(SIMD.anyTrue).op(OP.if).op(OP.void);
  const [hv, hl] = v.bind(k32(v, 0));
  for (let lane = 0; lane < 4; lane++) {
    hv();
    x();
    c.lane(SIMD.f32x4ExtractLane, lane).op(OP.f64PromoteF32).op(OP.call);
    c.b.push(fn); // function index < 128
    c.op(OP.f32DemoteF64).lane(SIMD.f32x4ReplaceLane, lane).set(hl);
  }
  v.sel(big, hv, () => void c.get(l))();
  c.set(l);
  c.op(OP.end);
}

// expm1(r) = r + r² Σ_{j<7} r^j / (j+2)!: truncation r^9/9! < 2^-30.7 |expm1 r| for |r| <= ln2/2
const EXP_Q32 = EXP_Q.slice(0, 7);
const SIGN = -0x8000000000000000n;

/**
 * tanh of an f64x2 of promoted float32 values, to float32 accuracy: sign(x) · t/(t+2) with
 * t = expm1(min(2|x|, 19)) (tanh rounds to 1 in float32 for |x| > 9.01; the clamp keeps NaN and
 * takes ±∞ to ±1). expm1 a = 2 (2^(k-1) expm1(r) + (2^(k-1) - 1/2)), a = k ln2 + r: for k = 0 it is
 * expm1(r) itself (tiny and subnormal x keep their relative accuracy and -0 its sign); otherwise
 * k ln2 carries one rounding (< 2^-48 absolute, k <= 28). Relative error < 2^-29.
 */
function tanhHalf(v: VB, x: X): X {
  const a = v.let(v.pmin(v.mul(v.k(2), v.abs(x)), v.k(19)));
  const [kf, ki] = v.roundInt(v.mul(a, v.k(Math.LOG2E)));
  const r = v.let(v.sub(a, v.mul(kf, v.k(Math.LN2))));
  const em = v.add(r, v.mul(v.mul(r, r), v.poly(r, EXP_Q32)));
  const h = v.let(v.pow2(v.isub(ki, v.ki(1n))));
  const t = v.let(v.mul(v.k(2), v.add(v.mul(h, em), v.sub(h, v.k(0.5)))));
  return v.or(v.div(t, v.add(t, v.k(2))), v.and(x, v.ki(SIGN)));
}

/** Unary float32 kernels with an f32x4 form (others: `byHalves` of the float64 kernel). */
export const UNARY32: Record<string, (v: VB, x: X) => X> = {
  neg: op1(SIMD.f32x4Neg),
  abs: op1(SIMD.f32x4Abs),
  sqrt: op1(SIMD.f32x4Sqrt),
  sin: (v, x) => sincos32(v, x)[0],
  cos: (v, x) => sincos32(v, x)[1],
  tanh: byHalves(tanhHalf),
  // exp(r) = 1 + r + r² Σ_{j<7} r^j/(j+2)!: truncation r^9/9! < 2^-32 of the result (|r| <= ln2/2)
  exp: byHalves((v, x) => exp(v, x, 0, EXP_Q32)),
};

/** Binary float32 kernels (all in f32x4; min/max propagate NaN and order -0 < +0 as the float64 ones). */
export const BINARY32: Record<string, (v: VB, a: X, b: X) => X> = {
  add,
  sub,
  mul,
  div: op2(SIMD.f32x4Div),
  max: op2(SIMD.f32x4Max),
  min: op2(SIMD.f32x4Min),
};
