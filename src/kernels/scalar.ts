/**
 * Scalar functions behind elementwise primitives that JS's Math lacks (or
 * gets differently from NumPy). A primitive's row names its scalar function;
 * the kernels and the fused loops that `jit` generates both call it, so the
 * two agree to the bit.
 */
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

/** The error function (Abramowitz–Stegun 7.1.26 is too coarse; this uses a series / continued fraction to ~1e-15). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // continued fraction for erfc (Lentz)
  const x2 = ax * ax;
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-x2) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
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
