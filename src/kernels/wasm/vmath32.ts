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
 * - tanh: in float32 throughout (see tanh32): a polynomial for |x| < 0.625,
 *   1 - 2/(e^(2|x|) + 1) with e^(2|x|) + 1 formed in one rounding above.
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
const div = op2(SIMD.f32x4Div);
const abs = op1(SIMD.f32x4Abs);
const lt = op2(SIMD.f32x4Lt);
const gt = op2(SIMD.f32x4Gt);
const iand = op2(SIMD.and);
const ixor = op2(SIMD.xor);
const iadd = op2(SIMD.i32x4Add);
const isub = op2(SIMD.i32x4Sub);
const pmin = op2(SIMD.f32x4Pmin);
const ior = op2(SIMD.or);
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

// tanh x = x + x z P(z), z = x², for |x| < 0.625: P is a minimax fit (relative, degree 5 in z) of
// (tanh x - x) / x³ with error below 0.02·2^-24 of tanh x; the tail x z P is at most 0.127 of the result
const TANH_P32 = [
  -0.33333333172295493, 0.1333330357647733, -0.053959263544204224, 0.021768946889099815, -0.008344027704155233,
  0.00229282863872701,
];
// expm1 r = r + r² Σ_{j<6} r^j / (j+2)!: truncation r^8/8! / |expm1 r| < 2^-28 for |r| <= ln2/2
const TANH_Q32 = Array.from({ length: 6 }, (_, j) => 1 / factorial(j + 2));
/** ln2 in two float32 parts: the first of 16 bits (k·L1 exact for |k| < 2^8), the second its rest. */
const LN2_HI32 = 0.693145751953125;
const LN2_LO32 = Math.fround(Math.LN2 - LN2_HI32);
/** 1.5·2^23: a + it rounds a float32 |a| < 2^22 to an integer, whose bits minus its own are the integer. */
const ROUND32 = 1.5 * 2 ** 23;
const ROUND32_BITS = 0x4b400000;

/**
 * tanh of an f32x4 in float32 arithmetic (issue 8: four lanes, not the float64 kernel on two halves).
 * |x| < 2^-12: x. |x| < 0.625: x + x z P(z). Otherwise 1 - 2/D with D = e^(2|x|) + 1 formed as
 * (1 + 2^k) + 2^k expm1(r), 2|x| = k ln2 + r (|r| <= ln2/2; 1 + 2^k exact for k <= 23, and for
 * larger k the result is 1), so D carries one rounding and expm1's small relative error: with
 * 2/D <= 0.47 the error before the last subtraction stays under 1 float32 ulp of the result, and
 * the sign is copied from x. 2|x| is clamped to 19 (tanh rounds to 1 above |x| = 9.01; ±∞ gives ±1,
 * NaN stays NaN). Checked on every float32 in [2^-12, 9.5) (127 million inputs): within 1 ulp of
 * the correctly rounded value (test/wasmMath.test.ts; NABLA_WASM_TANH32_EXHAUSTIVE=1 for all of them).
 */
export function tanh32(v: VB, x0: X): X {
  const x = v.let(x0);
  const ax = v.let(abs(v, x));
  const z = v.let(mul(v, x, x));
  const small = add(v, x, mul(v, x, mul(v, z, poly(v, z, TANH_P32))));
  const a = v.let(pmin(v, mul(v, k32(v, 2), ax), k32(v, 19)));
  const t = v.let(add(v, mul(v, a, k32(v, Math.LOG2E)), k32(v, ROUND32)));
  const kf = v.let(sub(v, t, k32(v, ROUND32)));
  const ki = isub(v, t, ki32(v, ROUND32_BITS));
  const r = v.let(sub(v, sub(v, a, mul(v, kf, k32(v, LN2_HI32))), mul(v, kf, k32(v, LN2_LO32))));
  const m = add(v, r, mul(v, mul(v, r, r), poly(v, r, TANH_Q32)));
  const h = v.let(shl(v, iadd(v, ki, ki32(v, 127)), 23));
  const d = add(v, add(v, k32(v, 1), h), mul(v, h, m));
  const big = ior(v, sub(v, k32(v, 1), div(v, k32(v, 2), d)), iand(v, x, ki32(v, -0x80000000)));
  return v.sel(lt(v, ax, k32(v, 2 ** -12)), x, v.sel(lt(v, ax, k32(v, 0.625)), small, big));
}

/** Unary float32 kernels with an f32x4 form (others: `byHalves` of the float64 kernel). */
export const UNARY32: Record<string, (v: VB, x: X) => X> = {
  neg: op1(SIMD.f32x4Neg),
  abs: op1(SIMD.f32x4Abs),
  sqrt: op1(SIMD.f32x4Sqrt),
  sin: (v, x) => sincos32(v, x)[0],
  cos: (v, x) => sincos32(v, x)[1],
  tanh: tanh32,
  // exp(r) = 1 + r + r² Σ_{j<7} r^j/(j+2)!: truncation r^9/9! < 2^-32 of the result (|r| <= ln2/2)
  exp: byHalves((v, x) => exp(v, x, 0, EXP_Q32)),
};

/** Binary float32 kernels (all in f32x4; min/max propagate NaN and order -0 < +0 as the float64 ones). */
export const BINARY32: Record<string, (v: VB, a: X, b: X) => X> = {
  add,
  sub,
  mul,
  div,
  max: op2(SIMD.f32x4Max),
  min: op2(SIMD.f32x4Min),
};
