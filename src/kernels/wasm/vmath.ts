/**
 * Vectorised float64 mathematics emitted as WebAssembly SIMD (two f64 lanes
 * per v128): exp, expm1, log, log1p, sin, cos, tanh, logistic, softplus and
 * the arithmetic they are built from. Each function is our own range
 * reduction plus a polynomial, written in plain f64x2 multiplies and adds (no
 * FMA: the code is the same on every engine, so results do not depend on the
 * host). Float32 loops run in f32x4 lanes (./vmath32.ts): these functions on
 * the promoted halves of a vector, rounded once to float32, except sin, cos
 * and tanh, which have float32 forms there (within 1 float32 ulp as well).
 *
 * Accuracy (tested in test/wasmMath.test.ts against correctly rounded values
 * from mpmath over dense sweeps, random inputs over the whole domain and the
 * special points NaN, ±Infinity, ±0, subnormals and the overflow thresholds):
 * at most 2 ulp in float64 for every function; float32 results are the float64
 * result rounded once, hence within 1 ulp of the correctly rounded float32
 * value (a float64 result within 2 float64 ulp of the exact value can only
 * round to the wrong float32 neighbour when the exact value lies within
 * 2^-28 float32 ulp of a rounding midpoint, and then the neighbour is 1 ulp
 * away).
 *
 * Values are "emitters": an `X` is a function that, when called, appends code
 * pushing one v128 on the stack. `VB.let` evaluates an emitter once into a
 * fresh local and returns an emitter that reads it; anything used twice is
 * bound that way.
 */
import { at } from "../../core/errors.js";
import { Code, OP, SIMD } from "./encoder.js";
import { ERF_TABLE, ERF_TERMS } from "./erfTable.js";

/** Emits code that pushes one v128. */
export type X = () => void;

const f64Bytes = (v: number): number[] => {
  const dv = new DataView(new ArrayBuffer(16));
  dv.setFloat64(0, v, true);
  dv.setFloat64(8, v, true);
  return Array.from(new Uint8Array(dv.buffer));
};
const i64Bytes = (v: bigint): number[] => {
  const dv = new DataView(new ArrayBuffer(16));
  dv.setBigInt64(0, v, true);
  dv.setBigInt64(8, v, true);
  return Array.from(new Uint8Array(dv.buffer));
};

const ROUND_MAGIC = 1.5 * 2 ** 52;
const ROUND_MAGIC_BITS = 0x4338000000000000n;

/** Host functions a kernel may call for arguments outside a reduction's range (function indices). */
export interface HostFns {
  sin: number;
  cos: number;
  tan: number;
}

/** Byte offset of the erf table (ERF_TABLE as float64) in linear memory; the caller writes it there. */
export const ERF_TABLE_BASE = 0;
export const ERF_TABLE_BYTES = ERF_TABLE.length * 8;

/** A v128 expression builder over one function body. */
export class VB {
  /** Number of v128 locals allocated so far (from `first`). */
  count = 0;
  /**
   * Code that sets the constant locals: emitted once before the loop (a `v128.const` inside the loop is
   * rematerialised at every use on x64, two instructions through a general register).
   */
  readonly prologue = new Code();
  private readonly consts = new Map<string, number>();
  constructor(
    readonly c: Code,
    /** Index of the first v128 local this builder may use. */
    readonly first: number,
    readonly host: HostFns | null = null,
    /** Two i32 locals for per-lane table addresses (erf), or null when tables are not available. */
    readonly scratch: readonly [number, number] | null = null,
  ) {}
  local(): number {
    return this.first + this.count++;
  }
  /** Evaluates `e` once into a local; returns a reader and the local's index. */
  bind(e: X): [X, number] {
    const l = this.local();
    e();
    this.c.set(l);
    return [() => void this.c.get(l), l];
  }
  let(e: X): X {
    return this.bind(e)[0];
  }
  private constant(b: number[]): X {
    const key = b.join(",");
    let l = this.consts.get(key);
    if (l === undefined) {
      l = this.local();
      this.consts.set(key, l);
      this.prologue.v128(b).set(l);
    }
    const li = l;
    return () => void this.c.get(li);
  }
  /** A constant of 16 bytes (a lane mask, say), set once before the loop. */
  bytes(b: readonly number[]): X {
    return this.constant([...b]);
  }
  k(v: number): X {
    return this.constant(f64Bytes(v));
  }
  ki(v: bigint): X {
    return this.constant(i64Bytes(v));
  }
  private op1(o: number): (a: X) => X {
    return (a) => () => {
      a();
      this.c.simd(o);
    };
  }
  private op2(o: number): (a: X, b: X) => X {
    return (a, b) => () => {
      a();
      b();
      this.c.simd(o);
    };
  }
  add = this.op2(SIMD.f64x2Add);
  sub = this.op2(SIMD.f64x2Sub);
  mul = this.op2(SIMD.f64x2Mul);
  div = this.op2(SIMD.f64x2Div);
  min = this.op2(SIMD.f64x2Min);
  max = this.op2(SIMD.f64x2Max);
  neg = this.op1(SIMD.f64x2Neg);
  abs = this.op1(SIMD.f64x2Abs);
  sqrt = this.op1(SIMD.f64x2Sqrt);
  nearest = this.op1(SIMD.f64x2Nearest);
  lt = this.op2(SIMD.f64x2Lt);
  le = this.op2(SIMD.f64x2Le);
  gt = this.op2(SIMD.f64x2Gt);
  ge = this.op2(SIMD.f64x2Ge);
  eq = this.op2(SIMD.f64x2Eq);
  and = this.op2(SIMD.and);
  or = this.op2(SIMD.or);
  xor = this.op2(SIMD.xor);
  iadd = this.op2(SIMD.i64x2Add);
  isub = this.op2(SIMD.i64x2Sub);
  ieq = this.op2(SIMD.i64x2Eq);
  /** `a` where the mask `m` is set, else `b` (bitwise). */
  sel(m: X, a: X, b: X): X {
    return () => {
      a();
      b();
      m();
      this.c.simd(SIMD.bitselect);
    };
  }
  /** A lane shift by the constant `n` bits: the binary form with an i32.const as its second operand. */
  private shift(o: number): (a: X, n: number) => X {
    const f = this.op2(o);
    return (a, n) => f(a, () => void this.c.i32(n));
  }
  shl = this.shift(SIMD.i64x2Shl);
  shrs = this.shift(SIMD.i64x2ShrS);
  shru = this.shift(SIMD.i64x2ShrU);
  pmin = this.op2(SIMD.f64x2Pmin);
  pmax = this.op2(SIMD.f64x2Pmax);
  /**
   * Rounds to the nearest integer (ties to even) for |a| < 2^51: t = a + 1.5·2^52 rounds a's fraction
   * away, t - 1.5·2^52 is the integer as f64 and t's bits minus the constant's bits the same integer as
   * i64. Returns [as f64, as i64] (garbage lanes for NaN or larger |a|, which callers replace).
   */
  roundInt(a: X): [X, X] {
    const t = this.let(this.add(a, this.k(ROUND_MAGIC)));
    return [this.let(this.sub(t, this.k(ROUND_MAGIC))), this.let(this.isub(t, this.ki(ROUND_MAGIC_BITS)))];
  }
  /** 2^k for i64 lanes k in [-1022, 1023]: the bit pattern (k + 1023) << 52. */
  pow2(k: X): X {
    return this.shl(this.iadd(k, this.ki(1023n)), 52);
  }
  /**
   * c[0] + c[1] z + c[2] z² + ... by Estrin's scheme (pairs c[2i] + c[2i+1] z, then pairs of those with
   * z², z⁴, ...): a dependency chain of about 2 log2(n) operations instead of Horner's 2n, which is what
   * limits these loops. `z` must be bound.
   */
  poly(z: X, c: readonly number[]): X {
    return this.polyX(
      z,
      c.map((ci) => this.k(ci)),
    );
  }
  /** As `poly`, with coefficient vectors (bound emitters). */
  polyX(z: X, c: readonly X[]): X {
    let terms: X[] = [...c];
    let p = z;
    while (terms.length > 1) {
      const next: X[] = [];
      for (let i = 0; i < terms.length; i += 2) {
        const lo = at(terms, i, "polyX");
        const hi = terms[i + 1]; // undefined past the end: an odd last term is carried up as it is
        next.push(hi === undefined ? lo : this.let(this.add(lo, this.mul(p, hi))));
      }
      terms = next;
      if (terms.length > 1) p = this.let(this.mul(p, p));
    }
    return at(terms, 0, "polyX");
  }
}

// ---------------------------------------------------------------------------
// constants (split constants computed with mpmath at 300 bits: see test/fixtures/wasm_math_ref.py)

const LOG2E = 1.4426950408889634;
// ln 2 = LN2HI + LN2LO, LN2HI with 32 significant bits (k · LN2HI exact for |k| < 2^21)
const LN2HI = 0.6931471806019545;
const LN2LO = -4.2009150726810846e-11;
export const TWO_OVER_PI = 0.6366197723675814;
// π/2 = P1 + P2 + P3 + P4, P1..P3 with 33 significant bits (q · Pi exact for |q| < 2^20)
export const P1 = 1.5707963267341256;
export const P2 = 6.077100506303966e-11;
export const P3 = 2.0222662487111665e-21;
const P4 = 8.4784276603689e-32;
/** Largest |x| whose sin/cos use the reduction above; beyond it the host's Math.sin/cos is called per lane. */
export const TRIG_BOUND = 2 ** 20;

/** n! as the running product 1·1·2·…·n in float64 (exact up to 22!, then rounded at each step). */
function factorial(n: number): number {
  let f = 1;
  for (let i = 1; i <= n; i++) f *= i;
  return f;
}
// exp(r) = 1 + r + r² Σ_{j>=0} r^j / (j+2)!, |r| <= ln2/2: the r^14 term is < 2^-57 of the result
export const EXP_Q: readonly number[] = Array.from({ length: 12 }, (_, j) => 1 / factorial(j + 2));
// sin r = r + r z Σ_{j>=0} (-1)^(j+1) z^j / (2j+3)!, z = r², |r| <= π/4 (to r^19)
const SIN_S = Array.from({ length: 9 }, (_, j) => (j % 2 === 0 ? -1 : 1) / factorial(2 * j + 3));
// cos r = 1 - z/2 + z² Σ_{j>=0} (-1)^j z^j / (2j+4)! (to r^20)
const COS_C = Array.from({ length: 9 }, (_, j) => (j % 2 === 0 ? 1 : -1) / factorial(2 * j + 4));
// log(1+f) = 2s + s R with s = f/(2+f), R = Σ_{n>=1} 2 s^(2n) / (2n+1); |s| <= 0.1716 (to s^23)
const LOG_R = Array.from({ length: 11 }, (_, j) => 2 / (2 * j + 3));

// ---------------------------------------------------------------------------
// functions: each takes and returns f64x2 emitters

/** Cody–Waite reduction x = k ln2 + r shared by exp and expm1 (x already clamped): [k as f64, k as i64, r]. */
function expReduce(v: VB, x: X): [X, X, X] {
  const [kf, ki] = v.roundInt(v.mul(x, v.k(LOG2E)));
  // x - k·LN2HI is exact (Sterbenz); the low part adds one rounding of a value < 2^-30 |r|
  const r = v.let(v.sub(v.sub(x, v.mul(kf, v.k(LN2HI))), v.mul(kf, v.k(LN2LO))));
  return [kf, ki, r];
}

/** r² Q(r) with exp(r) = 1 + r + r² Q(r) (`q`: Q's coefficients, EXP_Q or a shorter prefix of it). */
const expTail = (v: VB, r: X, q: readonly number[] = EXP_Q): X => v.mul(v.mul(r, r), v.poly(r, q));

/**
 * e^x · 2^shift: exp(x) = 2^k exp(r); 2^(k+shift) applied as two normal factors 2^⌊k'/2⌋ · 2^(k'-⌊k'/2⌋),
 * so subnormal results round once (shift = -1 gives e^x / 2 without overflowing early, for cosh/sinh;
 * `q`: the polynomial's coefficients, a prefix of EXP_Q for float32 accuracy).
 */
export function exp(v: VB, x0: X, shift = 0, q: readonly number[] = EXP_Q): X {
  // |x| > 1100 gives 0 or ∞ either way; clamping keeps both factors normal (pmin/pmax keep NaN: x < c is false)
  const x = v.let(v.pmin(v.pmax(x0, v.k(-1100)), v.k(1100)));
  const [, ki0, r] = expReduce(v, x);
  const ki = shift === 0 ? ki0 : v.let(v.iadd(ki0, v.ki(BigInt(shift))));
  const e = v.add(v.k(1), v.add(r, expTail(v, r, q)));
  const k1 = v.let(v.shrs(ki, 1));
  return v.mul(v.mul(e, v.pow2(k1)), v.pow2(v.isub(ki, k1)));
}

/**
 * e^x - 1 = 2 (t·expm1(r) + (t - 1/2)) with t = 2^(k-1): one rounding of the sum, then an exact doubling.
 * `q`: the polynomial's coefficients (a prefix of EXP_Q trades accuracy for speed: float32 kernels).
 */
export function expm1(v: VB, x0: X, q: readonly number[] = EXP_Q): X {
  const xb = v.let(x0);
  // expm1(x) rounds to -1 below -45 and overflows above 709.79
  const x = v.let(v.pmin(v.pmax(xb, v.k(-45)), v.k(710)));
  const [, ki, r] = expReduce(v, x);
  const em = v.add(r, expTail(v, r, q));
  const t = v.let(v.pow2(v.isub(ki, v.ki(1n))));
  const res = v.mul(v.k(2), v.add(v.mul(t, em), v.sub(t, v.k(0.5))));
  // |x| < 2^-54: expm1(x) rounds to x (keeps -0, which the reduction would turn into +0)
  return v.sel(v.lt(v.abs(xb), v.k(2 ** -54)), xb, res);
}

/**
 * log(u) + c for u > 0 finite (c a small correction, log1p's (1+x) - u over u):
 * u = 2^e m with m in [√½, √2), f = m - 1, s = f/(2+f),
 * log m = f - (f²/2 - s (f²/2 + R(s²))), log u = e·LN2HI + (log m + e·LN2LO + c).
 */
function logCore(v: VB, u0: X, c: X | null): X {
  const sub = v.let(v.lt(u0, v.k(2 ** -1022)));
  // a subnormal is scaled by 2^54 into the normal range first
  const u = v.let(v.sel(sub, v.mul(u0, v.k(2 ** 54)), u0));
  // biased exponent as f64: bits (0x433 << 52) | E are the double 2^52 + E
  const ebits = v.or(v.shru(u, 52), v.ki(0x4330000000000000n));
  const ef = v.sub(ebits, v.k(2 ** 52));
  const m0 = v.let(v.or(v.and(u, v.ki(0x000fffffffffffffn)), v.ki(0x3ff0000000000000n)));
  const big = v.let(v.gt(m0, v.k(Math.SQRT2)));
  const m = v.sel(big, v.mul(m0, v.k(0.5)), m0);
  const e = v.let(v.add(v.sub(ef, v.add(v.k(1023), v.sel(sub, v.k(54), v.k(0)))), v.sel(big, v.k(1), v.k(0))));
  const f = v.let(v.sub(m, v.k(1)));
  const s = v.let(v.div(f, v.add(v.k(2), f)));
  const z = v.let(v.mul(s, s));
  const R = v.let(v.mul(z, v.poly(z, LOG_R)));
  const hfsq = v.let(v.mul(v.k(0.5), v.mul(f, f)));
  const lo = c === null ? v.mul(e, v.k(LN2LO)) : v.add(v.mul(e, v.k(LN2LO)), c);
  const inner = v.sub(v.sub(hfsq, v.add(v.mul(s, v.add(hfsq, R)), lo)), f);
  return v.sub(v.mul(e, v.k(LN2HI)), inner);
}

/** Result for inputs outside (lo, ∞): -∞ at lo, +∞ at +∞, NaN below lo and for NaN. */
function logSpecial(v: VB, x: X, lo: number, res: X): X {
  const ok = v.and(v.gt(x, v.k(lo)), v.lt(x, v.k(Infinity)));
  const special = v.sel(v.eq(x, v.k(lo)), v.k(-Infinity), v.sel(v.eq(x, v.k(Infinity)), x, v.k(NaN)));
  return v.sel(ok, res, special);
}

/** Natural logarithm. */
export function log(v: VB, x0: X): X {
  const x = v.let(x0);
  return logSpecial(v, x, 0, logCore(v, x, null));
}

/** log(1 + x): u = fl(1 + x) and the exact rounding error δ = (1 + x) - u enter as log u + δ/u. */
export function log1p(v: VB, x0: X): X {
  const x = v.let(x0);
  const u = v.let(v.add(v.k(1), x));
  // δ by Sterbenz-exact differences: 1 - (u - x) when u >= 2, else x - (u - 1)
  const delta = v.sel(v.ge(u, v.k(2)), v.sub(v.k(1), v.sub(u, x)), v.sub(x, v.sub(u, v.k(1))));
  const c = v.let(v.div(delta, u));
  const res = logSpecial(v, x, -1, logCore(v, u, c));
  return v.sel(v.lt(v.abs(x), v.k(2 ** -54)), x, res);
}

/** Knuth's TwoSum: s = fl(a + b) and the exact error; returns [s, err]. */
function twoSum(v: VB, a: X, b: X): [X, X] {
  const s = v.let(v.add(a, b));
  const bb = v.let(v.sub(s, a));
  const err = v.add(v.sub(a, v.sub(s, bb)), v.sub(b, bb));
  return [s, err];
}

/**
 * x = q π/2 + (rh + rl), |rh| <= π/4 (|x| <= TRIG_BOUND): q = nearest(2x/π), then
 * x - q P1 (exact), minus q P2 and q P3 (exact products) with TwoSum, minus q P4,
 * renormalised. Returns [q as i64, rh, rl].
 */
function trigReduce(v: VB, x: X): [X, X, X] {
  const [q, qi] = v.roundInt(v.mul(x, v.k(TWO_OVER_PI)));
  const r1 = v.let(v.sub(x, v.mul(q, v.k(P1))));
  const [s1, e1] = twoSum(v, r1, v.neg(v.mul(q, v.k(P2))));
  const e1b = v.let(e1);
  const [s2, e2] = twoSum(v, s1, v.neg(v.mul(q, v.k(P3))));
  const lo = v.let(v.sub(v.add(e1b, e2), v.mul(q, v.k(P4))));
  const rh = v.let(v.add(s2, lo));
  const rl = v.let(v.sub(lo, v.sub(rh, s2)));
  return [qi, rh, rl];
}

/** sin(rh + rl) ≈ rh + (rh z S(z) + rl (1 - z/2)), |rh| <= π/4. */
function sinPoly(v: VB, rh: X, rl: X, z: X): X {
  return v.add(rh, v.add(v.mul(v.mul(rh, z), v.poly(z, SIN_S)), v.mul(rl, v.sub(v.k(1), v.mul(v.k(0.5), z)))));
}

/** cos(rh + rl) ≈ w + ((1 - w) - z/2) + (z² C(z) - rh rl) with w = 1 - z/2 (the compensated 1 - z/2). */
function cosPoly(v: VB, rh: X, rl: X, z: X): X {
  const hz = v.let(v.mul(v.k(0.5), z));
  const w = v.let(v.sub(v.k(1), hz));
  const tail = v.sub(v.mul(v.mul(z, z), v.poly(z, COS_C)), v.mul(rh, rl));
  return v.add(w, v.add(v.sub(v.sub(v.k(1), w), hz), tail));
}

/** Replaces the lanes of local `l` where |x| > TRIG_BOUND (or x is ±∞) by the host function's value. */
function hostFallback(v: VB, x: X, l: number, fn: number): void {
  const c = v.c;
  const big = v.let(v.gt(v.abs(x), v.k(TRIG_BOUND)));
  big();
  c.simd(SIMD.anyTrue).op(OP.if).op(OP.void);
  const [hv, hl] = v.bind(v.k(0));
  for (let lane = 0; lane < 2; lane++) {
    hv();
    x();
    c.lane(SIMD.f64x2ExtractLane, lane).op(OP.call);
    c.b.push(fn); // function index < 128
    c.lane(SIMD.f64x2ReplaceLane, lane).set(hl);
  }
  v.sel(big, hv, () => void c.get(l))();
  c.set(l);
  c.op(OP.end);
}

/**
 * What sin, cos and tan of x share: x = q π/2 + r reduced, s = sin r and c = cos r (bound), and
 * the mask of lanes where q is odd. Returns [q as i64, s, c, odd].
 */
function trigCore(v: VB, x: X): [X, X, X, X] {
  const [q, rh, rl] = trigReduce(v, x);
  const z = v.let(v.mul(rh, rh));
  const s = v.let(sinPoly(v, rh, rl, z));
  const co = v.let(cosPoly(v, rh, rl, z));
  const odd = v.let(v.ieq(v.and(q, v.ki(1n)), v.ki(1n)));
  return [q, s, co, odd];
}

/** [sin x, cos x]: one reduction and both polynomials serve both (a program with both shares them). */
export function sincos(v: VB, x0: X): [X, X] {
  const x = v.let(x0);
  // quadrant q mod 4: sin → (s, c, -s, -c), cos → (c, -s, -c, s)
  const [q, s, co, odd] = trigCore(v, x);
  const sinSign = v.shl(v.and(q, v.ki(2n)), 62);
  const cosSign = v.shl(v.and(v.iadd(q, v.ki(1n)), v.ki(2n)), 62);
  // sin x rounds to x for |x| < 2^-26 (keeps -0 and subnormals exact)
  const sinRes = v.sel(v.lt(v.abs(x), v.k(2 ** -26)), x, v.xor(v.sel(odd, co, s), sinSign));
  const [sinOut, ls] = v.bind(sinRes);
  const [cosOut, lc] = v.bind(v.xor(v.sel(odd, s, co), cosSign));
  if (v.host !== null) {
    hostFallback(v, x, ls, v.host.sin);
    hostFallback(v, x, lc, v.host.cos);
  }
  return [sinOut, cosOut];
}

export const sin = (v: VB, x: X): X => sincos(v, x)[0];
export const cos = (v: VB, x: X): X => sincos(v, x)[1];

const SIGN = 0x8000000000000000n;

/** tanh x = sign(x) · (|x| < 1 ? -t/(t+2) with t = expm1(-2|x|) : 1 - 2/(t+2) with t = expm1(2|x|)). */
export function tanh(v: VB, x0: X, coeffs: readonly number[] = EXP_Q): X {
  const x = v.let(x0);
  const ax = v.let(v.abs(x));
  const small = v.let(v.lt(ax, v.k(1)));
  const two = v.let(v.mul(v.k(2), ax));
  const t = v.let(expm1(v, v.sel(small, v.neg(two), two), coeffs));
  const q = v.let(v.div(v.sel(small, v.neg(t), v.k(2)), v.add(t, v.k(2))));
  const y = v.sel(small, q, v.sub(v.k(1), q));
  const res = v.or(y, v.and(x, v.ki(SIGN)));
  // tanh x rounds to x for |x| < 2^-27
  return v.sel(v.lt(ax, v.k(2 ** -27)), x, res);
}

/** 1 / (1 + e^-x) = (x >= 0 ? 1 : e) / (1 + e) with e = e^-|x| (no overflow). */
export function logistic(v: VB, x0: X): X {
  const x = v.let(x0);
  const e = v.let(exp(v, v.neg(v.abs(x))));
  return v.div(v.sel(v.ge(x, v.k(0)), v.k(1), e), v.add(v.k(1), e));
}

/** log(1 + e^x) = max(x, 0) + log1p(e^-|x|). */
export function softplus(v: VB, x0: X): X {
  const x = v.let(x0);
  return v.add(v.max(x, v.k(0)), log1p(v, exp(v, v.neg(v.abs(x)))));
}

/** tan x = sin r / cos r (q even) or -cos r / sin r (q odd), on the shared reduction. */
export function tan(v: VB, x0: X): X {
  const x = v.let(x0);
  const [, s, co, odd] = trigCore(v, x);
  const res = v.div(v.sel(odd, v.neg(co), s), v.sel(odd, s, co));
  // tan x rounds to x for |x| < 2^-27 (tan x = x + x³/3)
  const [out, l] = v.bind(v.sel(v.lt(v.abs(x), v.k(2 ** -27)), x, res));
  if (v.host !== null) hostFallback(v, x, l, v.host.tan);
  return out;
}

/** cosh x = 1 + t²/(2(1+t)) with t = expm1|x| for |x| < 1/2, else h + 1/(4h) with h = e^|x| / 2. */
export function cosh(v: VB, x0: X): X {
  const ax = v.let(v.abs(x0));
  const t = v.let(expm1(v, ax));
  const small = v.add(v.k(1), v.div(v.mul(t, t), v.mul(v.k(2), v.add(v.k(1), t))));
  const h = v.let(exp(v, ax, -1));
  const large = v.add(h, v.div(v.k(0.25), h));
  return v.sel(v.lt(ax, v.k(0.5)), small, large);
}

/** sinh x = sign(x) · (t + t/(t+1)) / 2 with t = expm1|x| for |x| < 22, else sign(x) · e^|x| / 2. */
export function sinh(v: VB, x0: X): X {
  const x = v.let(x0);
  const ax = v.let(v.abs(x));
  const t = v.let(expm1(v, v.pmin(ax, v.k(22))));
  const mid = v.mul(v.k(0.5), v.add(t, v.div(t, v.add(t, v.k(1)))));
  const res = v.or(v.sel(v.lt(ax, v.k(22)), mid, exp(v, ax, -1)), v.and(x, v.ki(SIGN)));
  // sinh x rounds to x for |x| < 2^-27 (keeps -0 and subnormals)
  return v.sel(v.lt(ax, v.k(2 ** -27)), x, res);
}

// erf x = x + x Σ_{n>=0} b_n z^n for |x| < 1/2 (z = x²): b_0 = 2/√π - 1, b_n = (-1)^n (2/√π) / (n! (2n+1))
export const ERF_SMALL: readonly number[] = [
  0.1283791670955126,
  ...Array.from(
    { length: 12 },
    (_, j) => ((j % 2 === 0 ? -1 : 1) * 1.1283791670955126) / (factorial(j + 1) * (2 * j + 3)),
  ),
];

/**
 * erf x: for |x| < 1/2 the series above (x exact plus a correction of relative size < 0.13); for
 * 1/2 <= |x| < 6 the Taylor expansion around the nearest table centre c_j = 1/2 + (j + 1/2)/8
 * (|h| <= 1/16, coefficients loaded per lane from ERF_TABLE in memory); ±1 beyond (erfc 6 < 2^-55).
 */
export function erf(v: VB, x0: X): X {
  const c = v.c;
  if (v.scratch === null) throw new Error("erf needs table scratch locals");
  const [a0, a1] = v.scratch;
  const x = v.let(x0);
  const ax = v.let(v.abs(x));
  const z = v.let(v.mul(x, x));
  const small = v.let(v.add(x, v.mul(x, v.poly(z, ERF_SMALL))));
  // table index j = floor(8 (|x| - 1/2)) in [0, 43]; 0 outside [1/2, 6) and for NaN (never out of bounds)
  const inT = v.and(v.ge(ax, v.k(0.5)), v.lt(ax, v.k(6)));
  const jf = v.let(() => {
    v.sel(inT, v.mul(v.sub(ax, v.k(0.5)), v.k(8)), v.k(0))();
    c.simd(SIMD.f64x2Floor);
  });
  const [, ji] = v.roundInt(jf);
  // h = |x| - c_j, exact (c_j is a multiple of 1/16 within 1/16 of |x|)
  const h = v.let(v.sub(ax, v.add(v.k(0.5), v.mul(v.add(jf, v.k(0.5)), v.k(0.125)))));
  [a0, a1].forEach((a, lane) => {
    ji();
    c.lane(SIMD.i64x2ExtractLane, lane)
      .op(OP.i32WrapI64)
      .i32(ERF_TERMS * 8)
      .op(OP.i32Mul)
      .set(a);
  });
  const zero = v.k(0);
  const coef: X[] = [];
  for (let n = 0; n < ERF_TERMS; n++) {
    const off = ERF_TABLE_BASE + 8 * n;
    const [lo, l] = v.bind(() => {
      c.get(a0);
      zero();
      c.simd(SIMD.load64Lane, [3, off]).op(0);
    });
    coef.push(
      v.let(() => {
        c.get(a1);
        lo();
        c.simd(SIMD.load64Lane, [3, off]).op(1);
      }),
    );
    void l;
  }
  const tableVal = v.sel(v.lt(ax, v.k(6)), v.polyX(h, coef), v.k(1));
  const res = v.sel(v.lt(ax, v.k(0.5)), small, v.or(tableVal, v.and(x, v.ki(SIGN))));
  return v.sel(v.eq(x, x), res, x);
}

/** The unary functions by primitive name. */
export const UNARY: Record<string, (v: VB, x: X) => X> = {
  neg: (v, x) => v.neg(x),
  abs: (v, x) => v.abs(x),
  sqrt: (v, x) => v.sqrt(x),
  exp,
  expm1,
  log,
  log1p,
  sin,
  cos,
  tanh,
  logistic,
  softplus,
  tan,
  sinh,
  cosh,
  erf,
};

/** The binary functions by primitive name (max/min propagate NaN and order -0 < +0, as the JS kernels). */
export const BINARY: Record<string, (v: VB, a: X, b: X) => X> = {
  add: (v, a, b) => v.add(a, b),
  sub: (v, a, b) => v.sub(a, b),
  mul: (v, a, b) => v.mul(a, b),
  div: (v, a, b) => v.div(a, b),
  max: (v, a, b) => v.max(a, b),
  min: (v, a, b) => v.min(a, b),
};
