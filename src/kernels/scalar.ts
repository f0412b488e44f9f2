/**
 * Scalar functions behind elementwise primitives that JS's Math lacks (or
 * gets differently from NumPy). A primitive's row names its scalar function;
 * the kernels and the fused loops that `jit` generates both call it, so the
 * two agree to the bit.
 */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); the coefficient tables are copied into
// Float64Arrays for that.
import { ERF_TABLE, ERF_TERMS } from "./wasm/erfTable.js";
import { ERF_SMALL } from "./wasm/vmath.js";

/** The WebAssembly kernel's coefficient tables (the same float64 values), as typed arrays. */
const SMALL = Float64Array.from(ERF_SMALL);
const TABLE = Float64Array.from(ERF_TABLE);

export function logistic(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}
export function softplus(v: number): number {
  return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
}
/** Round half to even, as NumPy. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function sign(v: number): number {
  return v > 0 ? 1 : v < 0 ? -1 : v;
}
/** Maximum that propagates NaN. */
export function maxNaN(x: number, y: number): number {
  return Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y);
}
/** Minimum that propagates NaN. */
export function minNaN(x: number, y: number): number {
  return Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y);
}

/**
 * The error function, within 2 ulp (test/wasmMath.test.ts): the algorithm of the WebAssembly kernel
 * (src/kernels/wasm/vmath.ts), in scalar form: for |x| < 1/2, x + x Σ b_n x^(2n); for 1/2 <= |x| < 6
 * the Taylor expansion around the nearest centre c_j = 1/2 + (j + 1/2)/8 (|h| <= 1/16); ±1 beyond.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.5) {
    const z = x * x;
    let p = 0;
    for (let n = SMALL.length - 1; n >= 0; n--) p = p * z + SMALL[n]!;
    return x + x * p;
  }
  if (ax >= 6) return x > 0 ? 1 : -1;
  const j = Math.floor((ax - 0.5) * 8);
  const h = ax - (0.5 + (j + 0.5) * 0.125);
  let p = 0;
  for (let n = ERF_TERMS - 1; n >= 0; n--) p = p * h + TABLE[j * ERF_TERMS + n]!;
  return x > 0 ? p : -p;
}

/**
 * x^y in floating point as C99's pow (and NumPy, XLA): Math.pow but for 1^y = 1 for every y (NaN
 * included) and (-1)^±Infinity = 1, where Math.pow gives NaN.
 */
export function powFloat(x: number, y: number): number {
  return x === 1 || (x === -1 && (y === Infinity || y === -Infinity)) ? 1 : Math.pow(x, y);
}

/**
 * x^y in int32 arithmetic, wrapping like 32-bit hardware (square and
 * multiply with Math.imul). Negative exponents give the integer part of
 * 1/x^|y| (±1 for x = ±1, else 0), as C's integer division would.
 */
export function powInt32(x: number, y: number): number {
  if (y < 0) return x === 1 ? 1 : x === -1 ? (y % 2 === 0 ? 1 : -1) : 0;
  let r = 1;
  let b = x | 0;
  for (let e = y; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = Math.imul(r, b);
    b = Math.imul(b, b);
  }
  return r;
}
