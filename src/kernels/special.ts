/**
 * Scalar special functions behind the primitives `lgamma`, `digamma`,
 * `polygamma`, `erfc`, `erfinv` (issue 9). Our own implementations, in
 * float64, built on one routine: the Hurwitz zeta function
 * ζ(s, q) = Σ_{j≥0} (q + j)^-s for integer s ≥ 2, summed directly until
 * q + j is large and finished by the Euler–Maclaurin formula. From it:
 * - polygamma: ψ⁽ⁿ⁾(x) = (-1)^(n+1) n! ζ(n + 1, x) for n ≥ 1;
 * - lgamma near 1 and 2, by the Taylor series
 *   lgamma(2 + z) = (1 - γ) z + Σ_{k≥2} (-1)^k (ζ(k) - 1) z^k / k, |z| ≤ 1/2,
 *   which keeps the relative error small at the zeros x = 1, 2;
 * - digamma on [1, 2] by its Taylor series about its positive zero x₀,
 *   ψ(x₀ + h) = Σ_{k≥1} (-1)^(k+1) ζ(k + 1, x₀) h^k, for the same reason.
 * Elsewhere: recurrences (Γ(x + 1) = x Γ(x), ψ(x + 1) = ψ(x) + 1/x),
 * reflection for x < 0 and Stirling's asymptotic series for large x.
 *
 * erfc uses a continued fraction for x ≥ 1.25 (no 1 - erf cancellation in the
 * tail, and e^(-x²) with x² split exactly); erfinv refines a starting guess by
 * Halley's method on erf(x) = y, or on erfc(x) = 1 - |y| near ±1, where 1 - |y|
 * is exact.
 */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); coefficient tables are Float64Arrays for that.

/** Euler's constant γ. */
const EULER = 0.5772156649015329;
const LOG_2PI_HALF = 0.9189385332046728; // log(2π)/2
/** Bernoulli numbers B_2, B_4, ..., B_20. */
const B2K = Float64Array.of(
  1 / 6,
  -1 / 30,
  1 / 42,
  -1 / 30,
  5 / 66,
  -691 / 2730,
  7 / 6,
  -3617 / 510,
  43867 / 798,
  -174611 / 330,
);

/** ζ(s, q) for integer s ≥ 2 and q not a non-positive integer (+Infinity at q + j = 0). */
export function hurwitzZeta(s: number, q: number): number {
  if (Number.isNaN(q)) return NaN;
  if (q === Infinity) return 0;
  if (q === -Infinity) return NaN;
  // direct sum until w = q + j >= s + 12 (there the Euler–Maclaurin terms fall fast)
  const W = s + 12;
  // a very negative q would take -q terms (polygamma reflects below -20 instead)
  if (q < -1e5) return NaN;
  let sum = 0;
  let j = 0;
  let w = q;
  for (; w < W; j++, w = q + j) {
    if (w === 0) return Infinity;
    sum += Math.pow(w, -s);
  }
  // ∫_w^∞ t^-s dt + w^-s / 2 + Σ_k B_2k / (2k)! · s (s+1) ··· (s+2k-2) · w^(-s-2k+1)
  const ws = Math.pow(w, -s);
  let tail = (ws * w) / (s - 1) + ws / 2;
  let r = (s * ws) / w / 2; // k = 1: s w^(-s-1) / 2!
  for (let k = 1; k <= B2K.length; k++) {
    const t = B2K[k - 1]! * r;
    tail += t;
    if (Math.abs(t) < 1e-18 * Math.abs(tail)) break;
    r *= ((s + 2 * k - 1) * (s + 2 * k)) / ((2 * k + 1) * (2 * k + 2) * w * w);
  }
  return sum + tail;
}

/** Coefficients of the Taylor series of lgamma(2 + z): L[k] = (-1)^k (ζ(k) - 1) / k, k ≥ 2 (L[1] = 1 - γ). */
const N_LG = 40;
let lgCoef: Float64Array | null = null;
function lgammaCoefficients(): Float64Array {
  if (lgCoef === null) {
    lgCoef = new Float64Array(N_LG + 1);
    lgCoef[1] = 1 - EULER;
    for (let k = 2; k <= N_LG; k++) lgCoef[k] = ((k % 2 === 0 ? 1 : -1) * hurwitzZeta(k, 2)) / k;
  }
  return lgCoef;
}

/** Σ_{k=1..n} c[k] z^k by Horner's rule. */
function series(c: Float64Array, z: number): number {
  let acc = 0;
  for (let k = c.length - 1; k >= 1; k--) acc = acc * z + c[k]!;
  return acc * z;
}

/** sin(πx) with the argument reduced exactly (accurate for large |x|). */
function sinpi(x: number): number {
  let r = x - 2 * Math.round(x / 2); // in [-1, 1], exact
  if (r > 0.5) r = 1 - r;
  else if (r < -0.5) r = -1 - r;
  return Math.sin(Math.PI * r);
}

/** π / tan(πx) with the argument reduced exactly (period 1). */
function picotpi(x: number): number {
  const r = x - Math.round(x); // in [-1/2, 1/2], exact
  return Math.PI / Math.tan(Math.PI * r);
}

/** log|Γ(x)|: +Infinity at the poles x = 0, -1, -2, ... */
export function lgamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (!Number.isFinite(x)) return Infinity;
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  if (x < 0) {
    // reflection: Γ(x) Γ(1 - x) = π / sin(πx)
    return Math.log(Math.PI / Math.abs(sinpi(x))) - lgamma(1 - x);
  }
  if (x < 0.5) return lgamma(x + 1) - Math.log(x);
  if (x < 1.5) {
    // lgamma(1 + z) = lgamma(2 + z) - log1p(z), z = x - 1 exact
    const z = x - 1;
    return series(lgammaCoefficients(), z) - Math.log1p(z);
  }
  if (x <= 2.5) return series(lgammaCoefficients(), x - 2);
  if (x < 10) {
    // Γ(x) = (x-1)(x-2)···(x-m) Γ(x-m), with x - m in [1.5, 2.5) (each x - k exact)
    const m = Math.floor(x - 1.5);
    let p = 1;
    for (let k = 1; k <= m; k++) p *= x - k;
    return lgamma(x - m) + Math.log(p);
  }
  // Stirling: (x - 1/2) log x - x + log(2π)/2 + Σ B_2k / (2k (2k-1) x^(2k-1))
  const ix = 1 / x;
  const ix2 = ix * ix;
  let s = 0;
  let pw = ix;
  for (let k = 1; k <= 8; k++) {
    s += (B2K[k - 1]! / (2 * k * (2 * k - 1))) * pw;
    pw *= ix2;
  }
  return (x - 0.5) * Math.log(x) - x + LOG_2PI_HALF + s;
}

/** The positive zero of digamma, x₀ = X0_HI + X0_LO. */
const X0_HI = 1.4616321449683622;
const X0_LO = 9.549995429965697e-17;
const N_DG = 42;
let dgCoef: Float64Array | null = null;
function digammaCoefficients(): Float64Array {
  if (dgCoef === null) {
    dgCoef = new Float64Array(N_DG + 1);
    // ψ⁽ᵏ⁾(x₀) / k! = (-1)^(k+1) ζ(k + 1, x₀)
    for (let k = 1; k <= N_DG; k++) dgCoef[k] = (k % 2 === 1 ? 1 : -1) * hurwitzZeta(k + 1, X0_HI);
  }
  return dgCoef;
}

/** ψ(x) = Γ'(x)/Γ(x): NaN at the poles x = 0, -1, -2, ... */
export function digamma(x: number): number {
  if (Number.isNaN(x) || x === -Infinity) return NaN;
  if (x === Infinity) return Infinity;
  if (x <= 0 && Number.isInteger(x)) return NaN;
  // reflection: ψ(1 - x) - ψ(x) = π cot(πx)
  if (x < 0) return digamma(1 - x) - picotpi(x);
  if (x < 1) return digamma(x + 1) - 1 / x;
  if (x <= 2) return series(digammaCoefficients(), x - X0_HI - X0_LO);
  if (x < 10) {
    // ψ(x) = ψ(x - m) + Σ_{k=1..m} 1/(x - k), x - m in (1, 2]
    const m = Math.ceil(x - 2);
    let s = 0;
    for (let k = 1; k <= m; k++) s += 1 / (x - k);
    return digamma(x - m) + s;
  }
  // ψ(x) ~ log x - 1/(2x) - Σ B_2k / (2k x^(2k))
  const ix2 = 1 / (x * x);
  let s = 0;
  let pw = ix2;
  for (let k = 1; k <= 8; k++) {
    s += (B2K[k - 1]! / (2 * k)) * pw;
    pw *= ix2;
  }
  return Math.log(x) - 0.5 / x - s;
}

/** ψ⁽ⁿ⁾(x) for a non-negative integer n (NaN otherwise); n = 0 is digamma. */
export function polygamma(n: number, x: number): number {
  if (!(Number.isInteger(n) && n >= 0)) return NaN;
  if (n === 0) return digamma(x);
  if (x < -20 && Number.isFinite(x)) {
    // reflection, differentiated n times: ψ⁽ⁿ⁾(x) = (-1)ⁿ ψ⁽ⁿ⁾(1 - x) - π^(n+1) Pₙ(cot πx), where
    // dⁿ cot(y)/dyⁿ = Pₙ(cot y), P₀(c) = c, P_(k+1)(c) = -(1 + c²) P_k'(c) (no sum of |x| terms)
    if (Number.isInteger(x)) return NaN;
    const c = picotpi(x) / Math.PI;
    // coefficients of P_k in powers of c (degree k + 1), in two buffers of P_n's length n + 2
    let p = new Float64Array(n + 2);
    let q = new Float64Array(n + 2);
    p[1] = 1; // P₀(c) = c
    for (let k = 0; k < n; k++) {
      q.fill(0);
      for (let j = 1; j <= k + 1; j++) {
        // -(1 + c²) · j p_j c^(j-1)
        q[j - 1]! -= j * p[j]!;
        q[j + 1]! -= j * p[j]!;
      }
      [p, q] = [q, p];
    }
    let pc = 0;
    for (let j = p.length - 1; j >= 0; j--) pc = pc * c + p[j]!;
    return (n % 2 === 0 ? 1 : -1) * polygamma(n, 1 - x) - Math.pow(Math.PI, n + 1) * pc;
  }
  let fact = 1;
  for (let k = 2; k <= n; k++) fact *= k;
  return (n % 2 === 1 ? 1 : -1) * fact * hurwitzZeta(n + 1, x);
}

const INV_SQRT_PI = 0.5641895835477563; // 1/√π

/** e^(-x²) with x² split exactly into hi + lo (so no error is amplified by the exponent). */
function expMinusSquare(x: number): number {
  const hi = Math.fround(x);
  const lo = x - hi;
  return Math.exp(-hi * hi) * Math.exp(-(2 * hi * lo + lo * lo));
}

/** erf(x) for |x| < 1.25 by 2/√π e^(-x²) Σ 2^n x^(2n+1) / (1·3···(2n+1)) (positive terms). */
function erfSmall(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return 2 * INV_SQRT_PI * Math.exp(-x2) * sum;
}

/**
 * erfc(x) for x ≥ 1.25: erfc(x) = e^(-x²) x / √π · 1/(x² + 1/2 - 1·(1/2)/(x² + 5/2 - 2·(3/2)/(x² + 9/2 - ...)))
 * (the continued fraction of Γ(1/2, x²), evaluated by the modified Lentz method).
 */
function erfcLarge(x: number): number {
  if (x > 27.3) return 0; // below the smallest subnormal
  const z = x * x;
  const tiny = 1e-300;
  let b = z + 0.5;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - 0.5);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return expMinusSquare(x) * x * h * INV_SQRT_PI;
}

/** The complementary error function 1 - erf(x), accurate in the tail. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < -6) return 2;
  if (x < 0) return x > -1.25 ? 1 + erfSmall(-x) : 2 - erfcLarge(-x);
  return x < 1.25 ? 1 - erfSmall(x) : erfcLarge(x);
}

/** The inverse error function on [-1, 1] (±Infinity at ±1, NaN outside). */
export function erfinv(y: number): number {
  if (Number.isNaN(y) || y < -1 || y > 1) return NaN;
  if (y === 1) return Infinity;
  if (y === -1) return -Infinity;
  if (y === 0) return y;
  const a = Math.abs(y);
  const t = 1 - a; // exact for a >= 1/2
  let x: number;
  if (a <= 0.9) {
    // erfinv(y) = √π/2 (y + π y³/12 + 7π² y⁵/480 + ...)
    const a2 = a * a;
    x = 0.886226925452758 * a * (1 + a2 * (Math.PI / 12 + a2 * ((7 * Math.PI * Math.PI) / 480)));
  } else {
    // erfc(x) ≈ e^(-x²) / (x √π): x² ≈ -log(t) - log(x √π), two fixed-point steps
    x = Math.sqrt(-Math.log(t));
    for (let i = 0; i < 2; i++) x = Math.sqrt(-Math.log(t * x * 1.772453850905516));
  }
  // Halley's method on f(x) = erf(x) - a (or erfc(x) - t near 1): f' = 2/√π e^(-x²), f'' = -2x f'
  for (let i = 0; i < 8; i++) {
    const fp = 2 * INV_SQRT_PI * expMinusSquare(x);
    const f = a < 0.5 ? erfSmallOrCf(x) - a : t - erfc(x);
    const step = f / fp / (1 + x * (f / fp));
    x -= step;
    if (Math.abs(step) <= 2e-16 * Math.abs(x)) break;
  }
  return y < 0 ? -x : x;
}

/** erf(x) for x ≥ 0 (erfinv's central branch). */
function erfSmallOrCf(x: number): number {
  return x < 1.25 ? erfSmall(x) : 1 - erfcLarge(x);
}

/** logit(p) = log(p / (1 - p)). */
export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/** x log y with 0 log y = 0 (for every y, as JAX's xlogy). */
export function xlogy(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log(y);
}

/** x log(1 + y) with 0 log(1 + y) = 0. */
export function xlog1py(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log1p(y);
}
