/**
 * Taylor-mode rules (`jet`): one per primitive of the table, under a complete
 * type check (`satisfies { [P in Prim]: JetRule<P> }`), so a new primitive
 * does not compile without one.
 *
 * A rule works on truncated Taylor series in normalised coefficients: a
 * series of order K is `[x0, x1, ..., xK]` with x(t) = Σ_k x_k t^k (the
 * primal first, null for a zero coefficient), and returns the output
 * coefficients 1..K (null for zero). The `jet` transform converts from and to
 * JAX's derivative convention (term k = k! x_k). Every rule is written with
 * the differentiable wrappers, so it stages under `jit`, batches under `vmap`
 * and can itself be differentiated.
 *
 * Costs: linear primitives apply themselves to each coefficient (O(K));
 * products are Cauchy products and the elementwise functions solve the ODE
 * their derivative satisfies (y' = u(y, x) x'; pow's x z' = y x' z), both
 * O(K²) per primitive. Piecewise-linear primitives (max, min, the extremum
 * reductions and scatters) apply their JVP rule to each coefficient (O(K)).
 * scatter_mul multiplies each position's updates as series by a segmented
 * scan of Cauchy products (jetScatter.ts, O(K² log m) for m updates, exact
 * at zeros). solve, triangular_solve and cholesky solve for coefficient k with the
 * lower ones on the right-hand side (K solves, O(K²) products); slogdet uses
 * the same recurrence for A⁻¹A' (log|det|' = tr(A⁻¹A')). det and cofactor,
 * exact at singular matrices, solve that way with a bordered matrix
 * [[A, b], [cᵀ, δ]], well conditioned when A has rank ≥ n - 1 (K solves, O(K²)
 * products; division-free for n ≤ 2); expm and expm_frechet apply themselves
 * once to the block Toeplitz matrix of the series (O(n³K³) arithmetic in one
 * primitive). Those five are in jetRulesMatrix.ts. lgamma, digamma and
 * polygamma compose their K derivatives (O(K³/6) products).
 *
 * The higher-order primitives outside the table (cond, while_loop, the
 * custom-rule primitives, linear_solve, checkpoint_name, remat_saved,
 * debug_callback) have rules of their own beside their rows (jetHigher.ts
 * lists them), which jet their bodies in one pass and compute the primal
 * outputs too; {@link jetRuleOf} gives their series.
 *
 * qr, eigh, svd and lu (jetRulesDecomp.ts) solve, for coefficient k, the
 * JVP's linear system with a right-hand side of every constraint's
 * lower-order products (QᵀQ = I as well as A = QR for qr; O(K²) matrix
 * products).
 *
 * {@link viaJvp} (K nested `jvp`s of t ↦ prim(Σ_k x_k t^k) at t = 0, exact
 * but O(2^K)) remains only for det and cofactor at a concrete matrix of
 * numerical rank ≤ n - 2, where the bordered matrix is singular too (exact
 * there: the cofactor JVP recurses into minors), behind {@link linear}'s guard
 * for a series on an operand it is not linear in, and in {@link jetRuleOf} for
 * a primitive outside the table without a rule of its own.
 */
import { ConcreteArray, fromNested, storageOf, type NDArray } from "../core/ndarray.js";
import { bind, bind1, type Rule } from "../core/trace.js";
import { isFloat } from "../core/dtype.js";
import { at } from "../core/errors.js";
import { RULES, type Params, type Prim } from "../prims/table.js";
import * as E from "../prims/elementwise.js";
import * as O from "../prims/wrap.js";
import { digammaW, polygammaW } from "../prims/special.js";
import type { T, Tuple } from "../prims/rule.js";
import { jvpFlat } from "./jvp.js";
import { eighJet, luJet, qrJet, svdJet } from "./jetRulesDecomp.js";
import { higherOrderJetRule } from "./jetHigher.js";
import { scatterMulJet } from "./jetScatter.js";
import { cofactorSeries, detSeries, expmFrechetSeries, expmSeries, logdetSeries } from "./jetRulesMatrix.js";

/** A truncated Taylor series: `[x0, x1, ..., xK]`, normalised coefficients, null = 0 (x0 never null). */
export type Series = readonly T[];

/** A series built inside a rule, typed with its primal first: `[x0, x1, ..., xK]`, x0 an array. */
type Full = readonly [NDArray, ...T[]];

/**
 * A Taylor rule: the operands' primals, their series (null = a constant
 * operand, all coefficients 1..K zero), the primal outputs, parameters, the order K → per output its
 * coefficients 1..K (null: all zero). `N` operands and `M` outputs (`number`: any), as the primitive's
 * row (`Rule<P, N, M>` of prims/rule.ts) types them: `jet` passes one primal and one series per operand
 * and the outputs `bind` returned, so a rule destructures them by position.
 */
export type JetRule<P, N extends number = number, M extends number = number> = (
  prim: Rule<P>,
  primals: Readonly<Tuple<NDArray, N>>,
  ins: Readonly<Tuple<Series | null, N>>,
  outs: Readonly<Tuple<NDArray, M>>,
  params: P,
  order: number,
) => (T[] | null)[];

/** The operand and output counts of primitive P's row (`number` for a variadic row). */
type RowArgs<P extends Prim> = Parameters<(typeof RULES)[P]["jvp"]>;
type Arity<P extends Prim> = RowArgs<P>[0]["length"];
type OutArity<P extends Prim> = RowArgs<P>[2]["length"];

// ---------------------------------------------------------------------------
// series arithmetic (null = 0)

const add = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
const mul = (a: T, b: T): T => (a === null || b === null ? null : O.mul(a, b));
const scaleArr = (a: NDArray, c: number): NDArray => (c === 1 ? a : O.mul(a, c));
const scale = (a: T, c: number): T => (a === null ? null : scaleArr(a, c));

/** The series of a possibly constant input: its coefficients with zeros for a constant. */
const full = (s: Series | null | undefined, x0: NDArray, K: number): [NDArray, ...T[]] => {
  const out: [NDArray, ...T[]] = [x0];
  for (let k = 1; k <= K; k++) out.push(s?.[k] ?? null);
  return out;
};

/** Coefficient k of the Cauchy product a·b: Σ_{i=0..k} a_i b_{k-i}. */
function cauchy(a: readonly T[], b: readonly T[], k: number, from = 0): T {
  let acc: T = null;
  for (let i = from; i <= k - from; i++) acc = add(acc, mul(a[i] ?? null, b[k - i] ?? null));
  return acc;
}

/** The full product series a·b up to order K. */
function product(a: Full, b: Full, K: number): [NDArray, ...T[]] {
  const out: [NDArray, ...T[]] = [O.mul(a[0], b[0])];
  for (let k = 1; k <= K; k++) out.push(cauchy(a, b, k));
  return out;
}

/** Coefficients 0..K of a·b for series whose coefficient 0 may be zero too. */
function productOf(a: readonly T[], b: readonly T[], K: number): T[] {
  const out: T[] = [];
  for (let k = 0; k <= K; k++) out.push(cauchy(a, b, k));
  return out;
}

/**
 * The quotient q = a / b: q_k = (a_k - Σ_{j=1..k} b_j q_{k-j}) / b_0, with
 * q_0 given (the primal output, already computed).
 */
function quotient(a: readonly T[], b: Full, q0: T, K: number): T[] {
  const q: T[] = [q0];
  for (let k = 1; k <= K; k++) {
    let num: T = a[k] ?? null;
    for (let j = 1; j <= k; j++) {
      const t = mul(b[j] ?? null, q[k - j] ?? null);
      if (t !== null) num = num === null ? O.neg(t) : O.sub(num, t);
    }
    q.push(num === null ? null : O.div(num, b[0]));
  }
  return q;
}

/**
 * y with y' = u x' (t-derivatives): k y_k = Σ_{j=1..k} j x_j u_{k-j}. `u(m, y)`
 * gives u_m from y_0..y_m (called in order m = 0, 1, ...), so u may depend on y.
 */
function ode(x: readonly T[], y0: NDArray, K: number, u: (m: number, y: Full) => T): [NDArray, ...T[]] {
  const y: [NDArray, ...T[]] = [y0];
  const us: T[] = [];
  for (let k = 1; k <= K; k++) {
    us.push(u(k - 1, y));
    let acc: T = null;
    for (let j = 1; j <= k; j++) acc = add(acc, scale(mul(x[j] ?? null, us[k - j] ?? null), j));
    y.push(scale(acc, 1 / k));
  }
  return y;
}

/** The derivative series of x in t, shifted: (x')_m = (m+1) x_{m+1}, m = 0..K-1. */
const deriv = (x: readonly T[], K: number): T[] => {
  const d: T[] = [];
  for (let m = 0; m < K; m++) d.push(scale(x[m + 1] ?? null, m + 1));
  return d;
};

/** y with y' = q, given q's series to order K-1 and y_0: y_{m+1} = q_m / (m+1). */
const integrate = (q: readonly T[], y0: NDArray, K: number): [NDArray, ...T[]] => {
  const y: [NDArray, ...T[]] = [y0];
  for (let m = 0; m < K; m++) y.push(scale(q[m] ?? null, 1 / (m + 1)));
  return y;
};

// ---------------------------------------------------------------------------
// series of the elementwise functions (each returns the full series, y_0 included)

// d exp(x) = exp(x) dx: u = y
const expS = (x: readonly T[], y0: NDArray, K: number): T[] => ode(x, y0, K, (m, y) => y[m] ?? null);

/**
 * A pair (s, c) with ds = c dx and dc = σ s dx: sin and cos (σ = -1), sinh and cosh (σ = 1).
 * Coefficient k: s_k = (1/k) Σ_j j x_j c_{k-j}, c_k = (σ/k) Σ_j j x_j s_{k-j}.
 */
function pairS(x: readonly T[], s0: NDArray, c0: NDArray, K: number, sigma: 1 | -1): [T[], T[]] {
  const s: T[] = [s0];
  const c: T[] = [c0];
  for (let k = 1; k <= K; k++) {
    let as: T = null;
    let ac: T = null;
    for (let j = 1; j <= k; j++) {
      const xj = scale(x[j] ?? null, j);
      as = add(as, mul(xj, c[k - j] ?? null));
      ac = add(ac, mul(xj, s[k - j] ?? null));
    }
    s.push(scale(as, 1 / k));
    c.push(scale(ac, sigma / k));
  }
  return [s, c];
}

/** sin and cos together: d sin = cos dx, d cos = -sin dx. */
const sinCosS = (x: readonly T[], s0: NDArray, c0: NDArray, K: number): [T[], T[]] => pairS(x, s0, c0, K, -1);

/** sinh and cosh together: d sinh = cosh dx, d cosh = sinh dx. */
const sinhCoshS = (x: readonly T[], s0: NDArray, c0: NDArray, K: number): [T[], T[]] => pairS(x, s0, c0, K, 1);

/** u = a + b y² (tanh: 1 - y², tan: 1 + y²): u_0 = a + b y_0², u_m = b (y²)_m. */
const quadU =
  (a: number, b: number) =>
  (m: number, y: Full): T =>
    m === 0 ? O.add(a, O.mul(O.mul(y[0], y[0]), b)) : scale(cauchy(y, y, m), b);

// d logistic(x) = y (1 - y) dx: u = y - y²
const logisticS = (x: readonly T[], y0: NDArray, K: number): T[] =>
  ode(x, y0, K, (m, y) => (m === 0 ? O.sub(y[0], O.mul(y[0], y[0])) : add(y[m] ?? null, scale(cauchy(y, y, m), -1))));

/** The series of 1 + c·x (c = ±1) from x's. */
const affine = (x: Full, c: number, K: number): [NDArray, ...T[]] => {
  const out: [NDArray, ...T[]] = [O.add(1, scaleArr(x[0], c))];
  for (let k = 1; k <= K; k++) out.push(scale(x[k] ?? null, c));
  return out;
};

// d sqrt(x) = dx / (2 y): from y² = x, y_k = (x_k - Σ_{j=1..k-1} y_j y_{k-j}) / (2 y_0)
function sqrtS(x: readonly T[], y0: NDArray, K: number): [NDArray, ...T[]] {
  const y: [NDArray, ...T[]] = [y0];
  const twoY0 = O.mul(y0, 2);
  for (let k = 1; k <= K; k++) {
    let num: T = x[k] ?? null;
    const c = cauchy(y, y, k, 1);
    if (c !== null) num = num === null ? O.neg(c) : O.sub(num, c);
    y.push(num === null ? null : O.div(num, twoY0));
  }
  return y;
}

/** y with y' = x' / b(t), b given as a full series (log: b = x, log1p: 1 + x, atan: 1 + x², asin: √(1 - x²)). */
function logLike(x: Full, b: Full, y0: NDArray, K: number): [NDArray, ...T[]] {
  const d = deriv(x, K);
  const q = quotient(d, b, O.div(d[0] ?? O.mul(x[0], 0), b[0]), K - 1);
  return integrate(q, y0, K);
}

/** √(1 - x²) as a series. */
function sqrtOneMinusSq(x: Full, K: number): [NDArray, ...T[]] {
  const om = affine(product(x, x, K), -1, K);
  return sqrtS(om, O.sqrt(om[0]), K);
}

// ---------------------------------------------------------------------------
// powers, two-argument and special functions, piecewise-linear and linear-algebra rules

const sub = (a: T, b: T): T => (b === null ? a : a === null ? O.neg(b) : O.sub(a, b));

/** Coefficients 0..K of a series minus another (null = 0). */
const subS = (a: readonly T[], b: readonly T[], K: number): T[] =>
  Array.from({ length: K + 1 }, (_, k) => sub(a[k] ?? null, b[k] ?? null));

/**
 * The uniform integer value of a concrete CPU exponent (every element the same integer), else null (an
 * exponent on a device cannot be read synchronously: it takes the general rule, as a traced one).
 */
function uniformInteger(y: NDArray): number | null {
  if (!(y instanceof ConcreteArray) || y.size === 0 || y.device !== "cpu") return null;
  const d = storageOf(y);
  const n = Number(d[0]);
  if (!Number.isInteger(n) || Math.abs(n) > 2 ** 31) return null;
  for (let i = 1; i < d.length; i++) if (Number(d[i]) !== n) return null;
  return n;
}

/**
 * x^n for an integer n by binary powering of truncated series (O(K² log|n|)):
 * exact for every x_0, zero and negative included, as the primitive's value;
 * n < 0 is the quotient 1 / x^|n|; n = 0 is the constant 1 (every x_0, 0 and
 * non-finite included, as the primitive's x⁰ = 1), whose coefficients are 0.
 */
function intPowS(x: Full, n: number, z0: NDArray, K: number): T[] {
  let e = Math.abs(n);
  let base: Full = x;
  let acc: Full | null = null;
  while (e > 0) {
    if (e & 1) acc = acc === null ? base : product(acc, base, K);
    e >>>= 1;
    if (e > 0) base = product(base, base, K);
  }
  if (acc === null) return [z0, ...Array<T>(K).fill(null)];
  if (n > 0) return [z0, ...acc.slice(1)];
  const one: T[] = [O.full([], 1, z0.dtype)];
  return quotient(one, acc, z0, K);
}

/**
 * x^y for an exponent constant in t by the ODE x z' = y x' z:
 * k x_0 z_k = Σ_{j=1..k} ((y + 1) j - k) x_j z_{k-j}, O(K²). Exact for every
 * x_0 ≠ 0 (negative x_0 too, with the primal's sign); at x_0 = 0 the orders
 * k < y are 0 (z = O(t^y)) and the others are non-finite, as x^(y-k) is.
 */
function powConstS(x: Full, y: NDArray, z0: NDArray, K: number): T[] {
  const zero = O.equal(x[0], 0);
  const safeX0 = O.where(zero, 1, x[0]);
  const yAtZero = O.where(zero, y, -Infinity); // y where x_0 = 0, -∞ elsewhere
  const y1 = O.add(y, 1);
  const z: T[] = [z0];
  for (let k = 1; k <= K; k++) {
    let acc: T = null;
    for (let j = 1; j <= k; j++) {
      const t = mul(x[j] ?? null, z[k - j] ?? null);
      if (t !== null) acc = add(acc, O.mul(t, O.sub(O.mul(y1, j), k)));
    }
    if (acc === null) {
      z.push(null);
      continue;
    }
    const zk = O.div(acc, O.mul(safeX0, k));
    // at x_0 = 0: 0 where y > k or y = 0 (x⁰ = 1), non-finite otherwise
    const vanish = O.where(O.equal(y, 0), Infinity, yAtZero);
    z.push(O.where(O.greater(vanish, k), 0, O.where(zero, NaN, zk)));
  }
  return z;
}

/**
 * f(x(t)) from f's derivatives at x_0 (`d(n)` = f⁽ⁿ⁾(x_0), asked for lazily):
 * Σ_n d(n)/n! δⁿ with δ = x - x_0, by powers of δ (Faà di Bruno): K
 * evaluations of the derivative and about K³/6 products (δⁿ starts at order n).
 */
function composeS(x: readonly T[], y0: NDArray, d: (n: number) => NDArray, K: number): T[] {
  const delta: T[] = [null, ...x.slice(1, K + 1)];
  const y: T[] = [y0, ...Array<T>(K).fill(null)];
  let pw: T[] = delta;
  let fact = 1;
  for (let n = 1; n <= K; n++) {
    fact *= n;
    if (n > 1) {
      const next: T[] = Array<T>(K + 1).fill(null);
      for (let k = n; k <= K; k++) next[k] = cauchy(pw, delta, k);
      pw = next;
    }
    if (pw.every((c) => c === null)) break;
    const c = O.mul(d(n), 1 / fact);
    for (let k = n; k <= K; k++) y[k] = add(y[k] ?? null, mul(pw[k] ?? null, c));
  }
  return y;
}

/** The series of log(x) with log 0 taken as 0 where x has no series (the primitive's convention for 0^y). */
function logSeries(s: Series | null | undefined, x0: NDArray, K: number): [NDArray, ...T[]] {
  if (s == null) {
    const zero = O.equal(x0, 0);
    return [O.where(zero, 0, O.log(O.where(zero, 1, x0))), ...Array<T>(K).fill(null)];
  }
  const x = full(s, x0, K);
  return logLike(x, x, O.log(x0), K);
}

/** erf-like: y' = c exp(-x²) x' (erf: c = 2/√π, erfc: -2/√π). */
function erfLikeS(x: Full, y0: NDArray, K: number, c: number): T[] {
  const [sq0, ...sq] = product(x, x, K);
  const nsq0 = O.mul(sq0, -1);
  const e = expS([nsq0, ...sq.map((v) => scale(v, -1))], O.exp(nsq0), K);
  return ode(x, y0, K, (m) => scale(e[m] ?? null, c));
}

/** erfinv: y' = (√π/2) exp(y²) x', exp(y²)'s series grown alongside y (e_m from (y²)_1..m). */
function erfinvS(x: readonly T[], y0: NDArray, K: number): T[] {
  const c = Math.sqrt(Math.PI) / 2;
  const s: T[] = [];
  const e: T[] = [];
  return ode(x, y0, K, (m, y) => {
    if (m === 0) {
      const sq0 = O.mul(y[0], y[0]);
      s.push(sq0);
      e.push(O.exp(sq0));
    } else {
      s.push(cauchy(y, y, m));
      let acc: T = null;
      for (let j = 1; j <= m; j++) acc = add(acc, scale(mul(s[j] ?? null, e[m - j] ?? null), j));
      e.push(scale(acc, 1 / m));
    }
    return scale(e[m] ?? null, c);
  });
}

/**
 * Primitives whose JVP is linear in the tangents with weights that depend on
 * the primals only through comparisons (max, min, the extremum reductions and
 * scatters): the weights are piecewise constant in t, so coefficient k is
 * the JVP rule applied to the operands' coefficients k. O(K).
 */
const piecewiseLinear: JetRule<unknown> = (prim, P, ins, outs, params, K) => {
  const res: (T[] | null)[] = outs.map((o) => (isFloat(o.dtype) ? [] : null));
  for (let k = 1; k <= K; k++) {
    const tans = ins.map((s) => s?.[k] ?? null);
    const t = tans.every((v) => v === null) ? outs.map(() => null) : prim.jvp(P.slice(), tans, outs.slice(), params);
    res.forEach((r, i) => r?.push(t[i] ?? null));
  }
  return res;
};

const swapLast = (x: NDArray): NDArray => {
  const p = Array.from({ length: x.ndim }, (_, i) => i);
  p[x.ndim - 2] = x.ndim - 1;
  p[x.ndim - 1] = x.ndim - 2;
  return O.transposePrim(x, p);
};

/** The triangle of [..., n, n] a triangular solve reads (diagonal included), as a 0/1 mask. */
function triangleMask(n: number, dtype: NDArray["dtype"], lower: boolean): NDArray {
  const rows = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => ((lower ? i >= j : j >= i) ? 1 : 0)),
  );
  return fromNested(rows, dtype);
}

/**
 * z = op(A)⁻¹ b with A(t), b(t) series: from Σ_j op(A_j) z_{k-j} = b_k,
 * op(A_0) z_k = b_k - Σ_{j=1..k} op(A_j) z_{k-j}: K solves with A_0 and
 * K(K+1)/2 products. `opA` maps a coefficient of A to what the primitive
 * reads of it (the triangle, transposed or not).
 */
function solveSeries(
  sA: Series | null | undefined,
  sb: Series | null | undefined,
  x0: NDArray,
  K: number,
  solve0: (rhs: NDArray) => NDArray,
  opA: (a: NDArray) => NDArray,
): T[] {
  const ops: T[] = [null];
  for (let j = 1; j <= K; j++) {
    const a = sA?.[j] ?? null;
    ops.push(a === null ? null : opA(a));
  }
  const z: T[] = [x0];
  for (let k = 1; k <= K; k++) {
    let rhs: T = sb?.[k] ?? null;
    for (let j = 1; j <= k; j++) {
      const a = ops[j] ?? null;
      const zz = z[k - j] ?? null;
      if (a !== null && zz !== null) rhs = sub(rhs, O.matmulPrim(a, zz));
    }
    z.push(rhs === null ? null : solve0(rhs));
  }
  return z.slice(1);
}

// ---------------------------------------------------------------------------
// rule builders

const tail = (s: readonly T[]): T[] => s.slice(1);

const zerosOf = (p: NDArray): NDArray => O.zeros(p.shape, p.dtype);

/** Unary rules from a series function of (x's series, y_0). */
const unary =
  (f: (x: Full, y0: NDArray, K: number) => T[]): JetRule<unknown, 1, 1> =>
  (_p, [x0], [s], [y], _params, K) => [tail(f(full(s, x0, K), y, K))];

/** Outputs whose series are zero: piecewise-constant, integer-valued and random primitives, stop_gradient. */
const zeroSeries: JetRule<unknown> = (_p, _x, _s, outs) => outs.map(() => null);

/**
 * Primitives linear in the operands at `linear` (all when omitted), the others
 * constant: coefficient k of the output is prim applied to the operands'
 * coefficients k (zeros where a linear operand has none). A non-linear operand
 * with a series makes the rule fall back to {@link viaJvp}.
 */
const linear =
  (linearAt?: readonly number[]): JetRule<unknown> =>
  (prim, primals, ins, outs, params, K) => {
    const isLinear = (i: number) => linearAt === undefined || linearAt.includes(i);
    if (ins.some((s, i) => s !== null && !isLinear(i))) return viaJvp(prim, primals, ins, outs, params, K);
    const out: T[] = [];
    for (let k = 1; k <= K; k++) {
      if (ins.every((s) => (s?.[k] ?? null) === null)) {
        out.push(null);
        continue;
      }
      const args = primals.map((p, i) => (isLinear(i) ? (ins[i]?.[k] ?? zerosOf(p)) : p));
      out.push(bind1(prim, args, params));
    }
    return [out];
  };

/** add and sub: coefficient-wise, keeping zeros symbolic. */
const addSub =
  (sign: 1 | -1): JetRule<unknown> =>
  (_p, _x, [a, b], _o, _params, K) => {
    const out: T[] = [];
    for (let k = 1; k <= K; k++) out.push(add(a?.[k] ?? null, scale(b?.[k] ?? null, sign)));
    return [out];
  };

/** Bilinear primitives (mul, matmul): the Cauchy product with prim as the product. */
const bilinear: JetRule<unknown, 2, 1> = (prim, [a0, b0], [sa, sb], _o, params, K) => {
  const a = full(sa, a0, K);
  const b = full(sb, b0, K);
  const out: T[] = [];
  for (let k = 1; k <= K; k++) {
    let acc: T = null;
    for (let i = 0; i <= k; i++) {
      const ai = a[i] ?? null;
      const bi = b[k - i] ?? null;
      if (ai !== null && bi !== null) acc = add(acc, bind1(prim, [ai, bi], params));
    }
    out.push(acc);
  }
  return [out];
};

/**
 * The generic rule: with g(t) = prim(x(t)) and x(t) = Σ_k x_k t^k per operand,
 * coefficient k of the output is g^(k)(0) / k!, by K nested forward-mode
 * derivatives in t at t = 0 (exact, O(2^K) applications of prim's JVP rule).
 */
export const viaJvp: JetRule<unknown> = (prim, P, ins, outs, params, K) => {
  const floatOut = outs.map((o) => isFloat(o.dtype));
  if (!floatOut.some(Boolean)) return outs.map(() => null);
  const dtype = P.find((p, i) => ins[i] !== null && isFloat(p.dtype))?.dtype ?? "float64";
  // x_i(t) by Horner: x_0 + t (x_1 + t (x_2 + ...))
  const xAt = (t0: NDArray): NDArray[] =>
    P.map((p, i) => {
      const s = ins[i];
      if (s === null || s === undefined) return p;
      const t = t0.dtype === p.dtype ? t0 : O.convert(t0, p.dtype);
      let acc: NDArray | null = null;
      for (let k = K; k >= 1; k--) {
        const c = s[k] ?? null;
        const sum: T = acc === null ? c : c === null ? acc : O.add(c, acc);
        acc = sum === null ? null : O.mul(sum, t);
      }
      return acc === null ? p : O.add(p, acc);
    });
  // derivs(n)(t): per output, [g(t), g'(t), ..., g^(n)(t)] (null = 0), flattened output-major
  const n = outs.length;
  const derivs = (order: number, t: NDArray): T[] => {
    if (order === 0) return bind(prim, xAt(t), params);
    const [p, d] = jvpFlat(
      (us) => derivs(order - 1, at(us, 0, "jet")).map((v, j) => v ?? zerosOf(at(outs, Math.floor(j / order), "jet"))),
      [t],
      [O.full([], 1, dtype)],
    );
    const out: T[] = [];
    for (let o = 0; o < n; o++) {
      out.push(at(p, o * order, "jet"));
      for (let j = 0; j < order; j++) out.push(d[o * order + j] ?? null);
    }
    return out;
  };
  const all = derivs(K, O.full([], 0, dtype));
  return outs.map((o, i) => {
    if (!isFloat(o.dtype)) return null;
    const coeffs: T[] = [];
    for (let k = 1, fact = 1; k <= K; k++) coeffs.push(scale(all[i * (K + 1) + k] ?? null, 1 / (fact *= k)));
    return coeffs;
  });
};

const u = (f: (x: Full, y0: NDArray, K: number) => T[]): JetRule<{}, 1, 1> => unary(f);

/** Every first-order primitive's Taylor rule, by name. */
export const JET_RULES = {
  neg: linear(),
  // d exp(x) = exp(x) dx
  exp: u(expS),
  // d log(x) = dx / x
  log: u((x, y0, K) => logLike(x, x, y0, K)),
  // d log1p(x) = dx / (1 + x)
  log1p: u((x, y0, K) => logLike(x, affine(x, 1, K), y0, K)),
  // d expm1(x) = (y + 1) dx
  expm1: u((x, y0, K) => ode(x, y0, K, (m, y) => (m === 0 ? O.add(y[0], 1) : (y[m] ?? null)))),
  // d sin = cos dx (cos's series is computed alongside)
  sin: u((x, y0, K) => sinCosS(x, y0, O.cos(x[0]), K)[0]),
  // d cos = -sin dx
  cos: u((x, y0, K) => sinCosS(x, O.sin(x[0]), y0, K)[1]),
  // d tan = (1 + y²) dx
  tan: u((x, y0, K) => ode(x, y0, K, quadU(1, 1))),
  // d tanh = (1 - y²) dx
  tanh: u((x, y0, K) => ode(x, y0, K, quadU(1, -1))),
  // d sinh = cosh dx
  sinh: u((x, y0, K) => sinhCoshS(x, y0, O.cosh(x[0]), K)[0]),
  // d cosh = sinh dx
  cosh: u((x, y0, K) => sinhCoshS(x, O.sinh(x[0]), y0, K)[1]),
  // d asin = dx / √(1 - x²)
  asin: u((x, y0, K) => logLike(x, sqrtOneMinusSq(x, K), y0, K)),
  // d acos = -dx / √(1 - x²)
  acos: u((x, y0, K) => {
    const a = logLike(x, sqrtOneMinusSq(x, K), O.mul(y0, 0), K);
    return [y0, ...a.slice(1).map((c) => scale(c, -1))];
  }),
  // d atan = dx / (1 + x²)
  atan: u((x, y0, K) => logLike(x, affine(product(x, x, K), 1, K), y0, K)),
  // d sqrt = dx / (2 y)
  sqrt: u(sqrtS),
  // d|x| = sign(x) dx (piecewise linear)
  abs: u((x, y0) => {
    const sg = bind1(E.SIGN, [x[0]], {});
    return [y0, ...x.slice(1).map((c) => mul(c, sg))];
  }),
  sign: zeroSeries,
  floor: zeroSeries,
  ceil: zeroSeries,
  round: zeroSeries,
  // d erf = (2/√π) exp(-x²) dx
  erf: u((x, y0, K) => erfLikeS(x, y0, K, 2 / Math.sqrt(Math.PI))),
  // d logistic = y (1 - y) dx
  logistic: u(logisticS),
  // d softplus = logistic(x) dx
  softplus: u((x, y0, K) => {
    const s = logisticS(x, O.sigmoid(x[0]), K);
    return ode(x, y0, K, (m) => s[m] ?? null);
  }),
  stop_gradient: zeroSeries,
  add: addSub(1),
  sub: addSub(-1),
  // (a b)_k = Σ a_i b_{k-i}
  mul: bilinear,
  // q = a / b by the division recurrence
  div: (_p, [a0, b0], [sa, sb], [q], _params, K) => [tail(quotient(full(sa, a0, K), full(sb, b0, K), q, K))],
  // exponent constant in t: an integer concrete exponent by series powering, others by the ODE
  // x z' = y x' z; a traced exponent: z = exp(y log x) (log 0 taken as 0, the primitive's convention)
  pow: (_p, [x0, y0], [sx, sy], [z], _params, K) => {
    if (sy == null) {
      const x = full(sx, x0, K);
      const n = uniformInteger(y0);
      return [tail(n !== null ? intPowS(x, n, z, K) : powConstS(x, y0, z, K))];
    }
    const w = product(full(sy, y0, K), logSeries(sx, x0, K), K);
    return [tail(expS(w, z, K))];
  },
  // piecewise: coefficient k selects (or, at ties, averages) the operands' coefficients k
  max: piecewiseLinear,
  min: piecewiseLinear,
  // d atan2(a, b) = (b da - a db) / (a² + b²): the quotient series, integrated
  atan2: (_p, [a0, b0], [sa, sb], [z], _params, K) => {
    const a = full(sa, a0, K);
    const b = full(sb, b0, K);
    const num = subS(productOf(b, deriv(a, K), K - 1), productOf(a, deriv(b, K), K - 1), K - 1);
    const [aa0, ...aa] = product(a, a, K - 1);
    const den: Full = [O.add(aa0, O.mul(b[0], b[0])), ...aa.map((c, i) => add(c, cauchy(b, b, i + 1)))];
    const n0 = at(num, 0, "jet");
    const q0 = n0 === null ? null : O.div(n0, den[0]);
    return [tail(integrate(quotient(num, den, q0, K - 1), z, K))];
  },
  eq: zeroSeries,
  ne: zeroSeries,
  lt: zeroSeries,
  le: zeroSeries,
  gt: zeroSeries,
  ge: zeroSeries,
  and: zeroSeries,
  or: zeroSeries,
  not: zeroSeries,
  // linear in both branches, the predicate constant
  select: linear([1, 2]),
  // float → float is linear; to an integer or bool dtype the series is zero
  convert: (prim, P, ins, outs, params, K) =>
    isFloat(outs[0].dtype) ? linear()(prim, P, ins, outs, params, K) : [null],
  reduce_sum: linear(),
  reduce_max: piecewiseLinear,
  reduce_min: piecewiseLinear,
  argmax: zeroSeries,
  argmin: zeroSeries,
  reshape: linear(),
  broadcast: linear(),
  transpose: linear(),
  slice: linear(),
  pad: linear(),
  concatenate: linear(),
  matmul: bilinear,
  gather: linear([0]),
  scatter_add: linear([0]),
  cumsum: linear(),
  rev: linear(),
  argsort: zeroSeries,
  // A z = b: A_0 z_k = b_k - Σ_{j≥1} A_j z_{k-j}
  solve: (_p, [A0], [sA, sb], [x], _params, K) => [
    solveSeries(
      sA,
      sb,
      x,
      K,
      (r) => O.solvePrim(A0, r),
      (a) => a,
    ),
  ],
  // op(tri(A)) z = b, the same recurrence with what the primitive reads of each A_j
  triangular_solve: (_p, [A0], [sA, sb], [x], { lower, transposeA }, K) => {
    const mask = triangleMask(at(A0.shape, A0.ndim - 1, "jet"), A0.dtype, lower);
    return [
      solveSeries(
        sA,
        sb,
        x,
        K,
        (r) => O.triangularSolvePrim(A0, r, lower, transposeA),
        (a) => (transposeA ? swapLast(O.mul(a, mask)) : O.mul(a, mask)),
      ),
    ];
  },
  // log|det A|' = tr(A⁻¹ A'): K solves for A⁻¹ A' by the solve recurrence (the sign is locally constant)
  slogdet: (_p, [A0], [sA], _o, _params, K) => [null, logdetSeries(A0, sA, K)],
  // det and cofactor through a bordered, well-conditioned matrix (jetRulesMatrix.ts); a concrete
  // A_0 of rank ≤ n - 2 keeps nested jvp, whose cofactor route recurses into minors
  det: (prim, P, ins, outs, params, K) => {
    const s = detSeries(P[0], ins[0], K);
    return s === null ? viaJvp(prim, P, ins, outs, params, K) : [s];
  },
  cofactor: (prim, P, ins, outs, params, K) => {
    const s = cofactorSeries(P[0], ins[0], K);
    return s === null ? viaJvp(prim, P, ins, outs, params, K) : [s];
  },
  // L Lᵀ = S = (A + Aᵀ)/2: L_0 L_kᵀ + L_k L_0ᵀ = S_k - Σ_{j=1..k-1} L_j L_{k-j}ᵀ, which is the JVP's
  // equation with that right-hand side (symmetric, so the JVP's symmetrisation keeps it): K JVP solves
  cholesky: (prim, P, [sA], [l], params, K) => {
    const L: T[] = [l];
    for (let k = 1; k <= K; k++) {
      let rhs: T = sA?.[k] ?? null;
      for (let j = 1; j < k; j++) {
        const a = L[j] ?? null;
        const b = L[k - j] ?? null;
        if (a !== null && b !== null) rhs = sub(rhs, O.matmulPrim(a, swapLast(b)));
      }
      L.push(rhs === null ? null : (prim.jvp(P.slice(), [rhs], [l], params)[0] ?? null));
    }
    return [L.slice(1)];
  },
  qr: qrJet,
  eigh: eighJet,
  random_bits: zeroSeries,
  random_uniform: zeroSeries,
  // special functions: xlogy and xlog1py are products with a log series; erfc and erfinv solve their
  // ODEs (O(K²)); lgamma, digamma and polygamma have no finite ODE (each derivative is the next
  // polygamma), so their series compose the K derivatives polygamma(n, x_0) with δ = x - x_0 (O(K³/6)
  // products, K special-function evaluations, against 2^K nested JVPs)
  xlogy: (_p, [x0, y0], [sx, sy], _o, _params, K) => [tail(product(full(sx, x0, K), logSeries(sy, y0, K), K))],
  xlog1py: (_p, [x0, y0], [sx, sy], _o, _params, K) => {
    const y = full(sy, y0, K);
    const l: Full =
      sy == null
        ? [O.unaryFloat(E.LOG1P, y0), ...Array<T>(K).fill(null)]
        : logLike(y, affine(y, 1, K), O.unaryFloat(E.LOG1P, y0), K);
    return [tail(product(full(sx, x0, K), l, K))];
  },
  lgamma: u((x, y0, K) => composeS(x, y0, (n) => (n === 1 ? digammaW(x[0]) : polygammaW(n - 1, x[0])), K)),
  digamma: u((x, y0, K) => composeS(x, y0, (n) => polygammaW(n, x[0]), K)),
  // polygamma(m, x): no derivative in the order m (as the JVP rule)
  polygamma: (_p, [m0, x0], [, sx], [y], _params, K) => [
    tail(composeS(full(sx, x0, K), y, (n) => polygammaW(O.add(m0, n), x0), K)),
  ],
  erfc: u((x, y0, K) => erfLikeS(x, y0, K, -2 / Math.sqrt(Math.PI))),
  erfinv: u(erfinvS),
  // issue 9 part C (decompositions): series rules in jetRulesDecomp.ts
  svd: svdJet,
  lu: luJet,
  // exp of the block Toeplitz matrix of A's series (jetRulesMatrix.ts): one expm of size n(K+1)
  expm: (_p, [A0], [sA], _o, _params, K) => [expmSeries(A0, sA, K)],
  // linear in E: a constant A maps E's coefficients (O(K)); otherwise L of the two Toeplitz matrices
  expm_frechet: (prim, P, ins, outs, params, K) =>
    ins[0] == null ? linear([1])(prim, P, ins, outs, params, K) : [expmFrechetSeries(P[0], P[1], ins[0], ins[1], K)],
  // issue 9 (opsB): convolution is bilinear (Cauchy product); scatter min/max pick entries (piecewise
  // linear); scatter mul multiplies a data-dependent number of repeated updates per position: the
  // Cauchy products of each position's updates by a segmented scan (jetScatter.ts), O(K² log m)
  conv: bilinear,
  scatter_mul: scatterMulJet,
  scatter_min: piecewiseLinear,
  scatter_max: piecewiseLinear,
} satisfies { [P in Prim]: JetRule<Params[P], Arity<P>, OutArity<P>> };

/**
 * The Taylor rule of a primitive: its table entry; for a higher-order primitive the series of its rule in
 * jetHigher.ts (which `jet` calls itself, for the primal outputs too); {@link viaJvp} for any other.
 */
export function jetRuleOf(prim: Rule<unknown>): JetRule<unknown> {
  const name = prim.name as Prim;
  // the table's rules take their row's operand and output tuples: what jet passes for that row
  if ((RULES as Record<string, Rule<never>>)[name] === prim) return JET_RULES[name] as JetRule<unknown>;
  const full = higherOrderJetRule(prim);
  return full === null ? viaJvp : (_p, P, ins, _o, params, K) => full(P, ins, params, K)[1];
}
