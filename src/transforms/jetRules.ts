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
 * their derivative satisfies (y' = u(y, x) x'), both O(K²) per primitive.
 * Primitives whose rule would be long and rare (pow, atan2, extrema,
 * linear algebra) and the higher-order primitives (cond, loops, custom
 * rules) use {@link viaJvp}: K nested `jvp`s of t ↦ prim(Σ_k x_k t^k) at
 * t = 0, exact but O(2^K).
 */
import type { NDArray } from "../core/ndarray.js";
import { bind, type Rule } from "../core/trace.js";
import { isFloat } from "../core/dtype.js";
import { RULES, type Params, type Prim } from "../prims/table.js";
import * as E from "../prims/elementwise.js";
import * as O from "../prims/wrap.js";
import type { T } from "../prims/rule.js";
import { jvpFlat } from "./jvp.js";

/** A truncated Taylor series: `[x0, x1, ..., xK]`, normalised coefficients, null = 0 (x0 never null). */
export type Series = readonly T[];

/**
 * A Taylor rule: the operands' primals, their series (null = a constant
 * operand, all coefficients 1..K zero), the primal outputs, parameters, the order K → per output its
 * coefficients 1..K (null: all zero).
 */
export type JetRule<P> = (
  prim: Rule<P>,
  primals: readonly NDArray[],
  ins: readonly (Series | null)[],
  outs: readonly NDArray[],
  params: P,
  order: number,
) => (T[] | null)[];

// ---------------------------------------------------------------------------
// series arithmetic (null = 0)

const add = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
const mul = (a: T, b: T): T => (a === null || b === null ? null : O.mul(a, b));
const scale = (a: T, c: number): T => (a === null ? null : c === 1 ? a : O.mul(a, c));

/** The series of a possibly constant input: its coefficients with zeros for a constant. */
const full = (s: Series | null, x0: NDArray, K: number): T[] => {
  const out: T[] = [x0];
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
function product(a: readonly T[], b: readonly T[], K: number): T[] {
  const out: T[] = [];
  for (let k = 0; k <= K; k++) out.push(cauchy(a, b, k));
  return out;
}

/**
 * The quotient q = a / b: q_k = (a_k - Σ_{j=1..k} b_j q_{k-j}) / b_0, with
 * q_0 given (the primal output, already computed).
 */
function quotient(a: readonly T[], b: readonly T[], q0: NDArray, K: number): T[] {
  const q: T[] = [q0];
  for (let k = 1; k <= K; k++) {
    let num: T = a[k] ?? null;
    for (let j = 1; j <= k; j++) {
      const t = mul(b[j] ?? null, q[k - j] ?? null);
      if (t !== null) num = num === null ? O.neg(t) : O.sub(num, t);
    }
    q.push(num === null ? null : O.div(num, b[0]!));
  }
  return q;
}

/**
 * y with y' = u x' (t-derivatives): k y_k = Σ_{j=1..k} j x_j u_{k-j}. `u(m, y)`
 * gives u_m from y_0..y_m (called in order m = 0, 1, ...), so u may depend on y.
 */
function ode(x: readonly T[], y0: NDArray, K: number, u: (m: number, y: readonly T[]) => T): T[] {
  const y: T[] = [y0];
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
const integrate = (q: readonly T[], y0: NDArray, K: number): T[] => {
  const y: T[] = [y0];
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
  (m: number, y: readonly T[]): T => {
    const sq = cauchy(y, y, m);
    return m === 0 ? O.add(a, O.mul(sq!, b)) : scale(sq, b);
  };

// d logistic(x) = y (1 - y) dx: u = y - y²
const logisticS = (x: readonly T[], y0: NDArray, K: number): T[] =>
  ode(x, y0, K, (m, y) => {
    const sq = cauchy(y, y, m);
    return m === 0 ? O.sub(y[0]!, sq!) : add(y[m] ?? null, scale(sq, -1));
  });

/** The series of 1 + c·x (c = ±1) from x's. */
const affine = (x: readonly T[], c: number, K: number): T[] => {
  const out: T[] = [O.add(1, scale(x[0]!, c)!)];
  for (let k = 1; k <= K; k++) out.push(scale(x[k] ?? null, c));
  return out;
};

// d sqrt(x) = dx / (2 y): from y² = x, y_k = (x_k - Σ_{j=1..k-1} y_j y_{k-j}) / (2 y_0)
function sqrtS(x: readonly T[], y0: NDArray, K: number): T[] {
  const y: T[] = [y0];
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
function logLike(x: readonly T[], b: readonly T[], y0: NDArray, K: number): T[] {
  const d = deriv(x, K);
  const q = quotient(d, b, O.div(d[0] ?? O.mul(x[0]!, 0), b[0]!), K - 1);
  return integrate(q, y0, K);
}

/** √(1 - x²) as a series. */
function sqrtOneMinusSq(x: readonly T[], K: number): T[] {
  const sq = product(x, x, K);
  const om = affine(sq, -1, K);
  return sqrtS(om, O.sqrt(om[0]!), K);
}

// ---------------------------------------------------------------------------
// rule builders

const tail = (s: readonly T[]): T[] => s.slice(1);

const zerosOf = (p: NDArray): NDArray => O.zeros(p.shape, p.dtype);

/** Unary rules from a series function of (x's series, y_0). */
const unary =
  (f: (x: readonly T[], y0: NDArray, K: number) => T[]): JetRule<unknown> =>
  (_p, [x0], [s], [y], _params, K) => {
    const x = full(s ?? null, x0!, K);
    return [tail(f(x, y!, K))];
  };

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
      out.push(bind(prim, args, params)[0]!);
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
const bilinear: JetRule<unknown> = (prim, P, [sa, sb], _o, params, K) => {
  const a = full(sa ?? null, P[0]!, K);
  const b = full(sb ?? null, P[1]!, K);
  const out: T[] = [];
  for (let k = 1; k <= K; k++) {
    let acc: T = null;
    for (let i = 0; i <= k; i++) {
      const ai = a[i] ?? null;
      const bi = b[k - i] ?? null;
      if (ai !== null && bi !== null) acc = add(acc, bind(prim, [ai, bi], params)[0]!);
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
  const at = (t0: NDArray): NDArray[] =>
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
    if (order === 0) return bind(prim, at(t), params);
    const [p, d] = jvpFlat(
      ([u]) => derivs(order - 1, u!).map((v, j) => v ?? zerosOf(outs[Math.floor(j / order)]!)),
      [t],
      [O.full([], 1, dtype)],
    );
    const out: T[] = [];
    for (let o = 0; o < n; o++) {
      out.push(p[o * order]!);
      for (let j = 0; j < order; j++) out.push(d[o * order + j] ?? null);
    }
    return out;
  };
  const all = derivs(K, O.full([], 0, dtype));
  let fact = 1;
  const facts = [1];
  for (let k = 1; k <= K; k++) facts.push((fact *= k));
  return outs.map((o, i) =>
    floatOut[i]
      ? Array.from({ length: K }, (_, k) => scale(all[i * (K + 1) + k + 1] ?? null, 1 / facts[k + 1]!))
      : null,
  );
};

const u = (f: (x: readonly T[], y0: NDArray, K: number) => T[]) => unary(f) as JetRule<{}>;

/** Every first-order primitive's Taylor rule, by name. */
export const JET_RULES = {
  neg: linear() as JetRule<{}>,
  // d exp(x) = exp(x) dx
  exp: u(expS),
  // d log(x) = dx / x
  log: u((x, y0, K) => logLike(x, x, y0, K)),
  // d log1p(x) = dx / (1 + x)
  log1p: u((x, y0, K) => logLike(x, affine(x, 1, K), y0, K)),
  // d expm1(x) = (y + 1) dx
  expm1: u((x, y0, K) => ode(x, y0, K, (m, y) => (m === 0 ? O.add(y[0]!, 1) : (y[m] ?? null)))),
  // d sin = cos dx (cos's series is computed alongside)
  sin: u((x, y0, K) => sinCosS(x, y0, O.cos(x[0]!), K)[0]),
  // d cos = -sin dx
  cos: u((x, y0, K) => sinCosS(x, O.sin(x[0]!), y0, K)[1]),
  // d tan = (1 + y²) dx
  tan: u((x, y0, K) => ode(x, y0, K, quadU(1, 1))),
  // d tanh = (1 - y²) dx
  tanh: u((x, y0, K) => ode(x, y0, K, quadU(1, -1))),
  // d sinh = cosh dx
  sinh: u((x, y0, K) => sinhCoshS(x, y0, O.cosh(x[0]!), K)[0]),
  // d cosh = sinh dx
  cosh: u((x, y0, K) => sinhCoshS(x, O.sinh(x[0]!), y0, K)[1]),
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
    const sg = bind(E.SIGN, [x[0]!], {})[0]!;
    return [y0, ...x.slice(1).map((c) => mul(c, sg))];
  }),
  sign: zeroSeries,
  floor: zeroSeries,
  ceil: zeroSeries,
  round: zeroSeries,
  // d erf = (2/√π) exp(-x²) dx
  erf: u((x, y0, K) => {
    const nsq = product(x, x, K).map((c) => scale(c, -1));
    const e = expS(nsq, O.exp(nsq[0]!), K);
    return ode(x, y0, K, (m) => scale(e[m] ?? null, 2 / Math.sqrt(Math.PI)));
  }),
  // d logistic = y (1 - y) dx
  logistic: u(logisticS),
  // d softplus = logistic(x) dx
  softplus: u((x, y0, K) => {
    const s = logisticS(x, O.sigmoid(x[0]!), K);
    return ode(x, y0, K, (m) => s[m] ?? null);
  }),
  stop_gradient: zeroSeries,
  add: addSub(1),
  sub: addSub(-1),
  // (a b)_k = Σ a_i b_{k-i}
  mul: bilinear,
  // q = a / b by the division recurrence
  div: ((_p, P, [sa, sb], [q], _params, K) => {
    const a = full(sa ?? null, P[0]!, K);
    const b = full(sb ?? null, P[1]!, K);
    return [tail(quotient(a, b, q!, K))];
  }) as JetRule<{}>,
  pow: viaJvp,
  max: viaJvp,
  min: viaJvp,
  atan2: viaJvp,
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
  convert: ((prim, P, ins, outs, params, K) =>
    isFloat(outs[0]!.dtype) ? linear()(prim, P, ins, outs, params, K) : [null]) as JetRule<Params["convert"]>,
  reduce_sum: linear(),
  reduce_max: viaJvp,
  reduce_min: viaJvp,
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
  solve: viaJvp,
  triangular_solve: viaJvp,
  slogdet: viaJvp,
  det: viaJvp,
  cofactor: viaJvp,
  cholesky: viaJvp,
  qr: viaJvp,
  eigh: viaJvp,
  random_bits: zeroSeries,
  random_uniform: zeroSeries,
  // issue 9 part A (special functions): exact nested-jvp series; a dedicated O(K²) rule would need
  // the polygamma chain's own ODE and is rare enough not to be worth it
  xlogy: viaJvp,
  xlog1py: viaJvp,
  lgamma: viaJvp,
  digamma: viaJvp,
  polygamma: viaJvp,
  erfc: viaJvp,
  erfinv: viaJvp,
  // issue 9 part C (decompositions): like the other linear algebra, exact nested-jvp series
  svd: viaJvp,
  lu: viaJvp,
  expm: viaJvp,
  expm_frechet: viaJvp,
  // issue 9 (opsB): convolution is bilinear (Cauchy product); the scatter combinations are not
  // polynomial in the updates (min/max pick, mul multiplies repeated entries): nested jvp
  conv: bilinear,
  scatter_mul: viaJvp,
  scatter_min: viaJvp,
  scatter_max: viaJvp,
} satisfies { [P in Prim]: JetRule<Params[P]> };

/** The Taylor rule of a primitive: its table entry, or {@link viaJvp} for higher-order primitives. */
export function jetRuleOf(prim: Rule<unknown>): JetRule<unknown> {
  const name = prim.name as Prim;
  return (RULES as Record<string, Rule<never>>)[name] === prim ? (JET_RULES[name] as JetRule<unknown>) : viaJvp;
}
