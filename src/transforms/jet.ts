/**
 * Taylor mode (`jet`, JAX's `jax.experimental.jet`): pushes a truncated
 * Taylor series of order K through a function in one pass. A jet tracer
 * carries a primal and its normalised coefficients 1..K (null = 0); each
 * primitive computes its primal one level down and its coefficients with its
 * Taylor rule (`jetRules.ts`), so jet composes with jit, vmap and the other
 * transforms like jvp does.
 */
import { NablaError, ShapeError, at } from "../core/errors.js";
import { ConcreteArray, NDArray, deviceStorageOf, storageOf } from "../core/ndarray.js";
import { Aval, MainTrace, Rule, Trace, Tracer, avalOf, bind, endTrace, newTrace } from "../core/trace.js";
import { shapesEqual } from "../core/shape.js";
import { flattenAs, describe } from "../core/pytree.js";
import { broadcastPrim, convert, mul } from "../prims/wrap.js";
import type { T } from "../prims/rule.js";
import type { ArraysOf, Returned, TangentOf } from "../core/types.js";
import {
  checkStructure,
  fnArg,
  flattenToArrays,
  listArg,
  matchLeaves,
  requireFloat,
  unflatten,
  zerosAt,
} from "./common.js";
import { jetRuleOf } from "./jetRules.js";
import { higherOrderJetRule } from "./jetHigher.js";

export class JetTracer extends Tracer {
  readonly aval: Aval;
  constructor(
    readonly trace: JetTrace,
    readonly primal: NDArray,
    /** Normalised Taylor coefficients 1..K (index k-1 is the coefficient of t^k); null = 0. */
    readonly coeffs: readonly T[],
  ) {
    super();
    this.aval = avalOf(primal);
  }
}

/** Makes a coefficient fit its primal: broadcast to its shape, converted to its dtype. */
function fit(t: NDArray, p: NDArray): NDArray {
  if (!shapesEqual(t.shape, p.shape)) t = broadcastPrim(t, p.shape);
  if (t.dtype !== p.dtype) t = convert(t, p.dtype);
  return t;
}

export class JetTrace extends Trace {
  constructor(
    main: MainTrace,
    readonly order: number,
  ) {
    super(main);
  }
  pure(x: NDArray): Tracer {
    return new JetTracer(this, x, []);
  }
  processPrimitive<P>(prim: Rule<P>, args: Tracer[], params: P): NDArray[] {
    const ts = args as JetTracer[];
    const primals = ts.map((t) => t.primal);
    if (ts.every((t) => t.coeffs.every((c) => c === null))) return bind(prim, primals, params);
    const ins = ts.map((t) => (t.coeffs.every((c) => c === null) ? null : [t.primal, ...t.coeffs]));
    // a higher-order primitive's rule computes its primal outputs too (one cond or loop for both)
    const full = higherOrderJetRule(prim as Rule<unknown>);
    let outs: NDArray[];
    let series: (T[] | null)[];
    if (full !== null) [outs, series] = full(primals, ins, params, this.order);
    else {
      outs = bind(prim, primals, params);
      series = jetRuleOf(prim as Rule<unknown>)(prim as Rule<unknown>, primals, ins, outs, params, this.order);
    }
    return outs.map((o, i) => {
      const s = series[i];
      if (s === null || s === undefined || s.every((c) => c === null)) return o;
      return new JetTracer(
        this,
        o,
        s.map((c) => (c === null ? null : fit(c, o))),
      );
    });
  }
  concreteOf(t: Tracer, op: string): ConcreteArray {
    return (t as JetTracer).primal.concrete(op);
  }
}

/**
 * Whether `x` is a concrete CPU array of zeros. A term on a device ("webgpu") cannot be read
 * synchronously: it is kept as a coefficient (the result is the same, the zero just costs its work).
 */
function isZeros(x: NDArray): boolean {
  if (!(x instanceof ConcreteArray) || deviceStorageOf(x) !== null) return false;
  const d = storageOf(x);
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) return false;
  return true;
}

/** k! for k = 0..K. */
function factorials(K: number): number[] {
  const f = [1];
  for (let k = 1, acc = 1; k <= K; k++) f.push((acc *= k));
  return f;
}

/**
 * Flat Taylor mode: `series[i][k-1]` is the k-th derivative term of input i
 * (null = 0); returns the outputs and their derivative terms (null = 0).
 */
export function jetFlat(
  f: (xs: NDArray[]) => NDArray[],
  primals: readonly NDArray[],
  series: readonly (readonly T[])[],
  K: number,
): [NDArray[], T[][]] {
  const fact = factorials(K);
  const trace = newTrace("jet", (m: MainTrace) => new JetTrace(m, K));
  try {
    const ins = primals.map((p, i) => {
      const s = series[i] ?? [];
      // derivative terms to normalised coefficients: x_k = d_k / k!
      const c = Array.from({ length: K }, (_, k) => {
        const d = s[k] ?? null;
        // a concrete all-zero term is a symbolic zero (the usual x(t) = x0 + t series costs O(K) then)
        return d === null || isZeros(d) ? null : mul(d, 1 / at(fact, k + 1, "jet"));
      });
      return c.every((v) => v === null) ? p : new JetTracer(trace, p, c);
    });
    const outs = f(ins);
    const po: NDArray[] = [];
    const so: T[][] = [];
    for (const o of outs) {
      const mine = o instanceof JetTracer && o.trace === trace;
      po.push(mine ? o.primal : o);
      so.push(
        Array.from({ length: K }, (_, k) => {
          const c = mine ? (o.coeffs[k] ?? null) : null;
          // normalised coefficients back to derivative terms: d_k = k! x_k
          return c === null ? null : mul(c, at(fact, k + 1, "jet"));
        }),
      );
    }
    return [po, so];
  } finally {
    endTrace(trace);
  }
}

/**
 * The series output of {@link jet}: each array leaf of the output replaced by its list of derivative terms.
 * @example
 * const s: nb.JetSeriesOf<{ y: nb.NDArray }> = nb.jet((x) => ({ y: nb.exp(x) }), [0], [[1, 0]])[1]; // { y: [d1, d2] }
 */
export type JetSeriesOf<R> = R extends NDArray | number | boolean
  ? NDArray[]
  : R extends readonly unknown[]
    ? { [K in keyof R]: JetSeriesOf<R[K]> }
    : R extends object
      ? { [K in keyof R]: JetSeriesOf<R[K]> }
      : NDArray[];

/**
 * Taylor-mode forward differentiation (JAX's `jax.experimental.jet`): for
 * x(t) = primal + Σ_k series[k-1] t^k / k!, returns f(x(0)) and the
 * derivatives d^k/dt^k f(x(t)) at t = 0, k = 1..K, in one pass costing
 * O(K²) per primitive. `series[i]` lists input i's K derivative terms (each a
 * tree shaped like `primals[i]`); the series output replaces each output leaf
 * with its list of K terms. `cond` and `whileLoop` carry the series through
 * the branch taken and the loop's body (the condition reads primals only);
 * as JAX's jet, the series of a `customJvp`/`customVjp` function is that of
 * the function itself, its custom rule ignored; `customRoot` and
 * `customLinearSolve` follow the implicit function theorem at every order.
 * @example
 * // x(t) = 0.5 + t: the first three derivatives of sin at 0.5
 * const [y, [d1, d2, d3]] = nb.jet(nb.sin, [0.5], [[1, 0, 0]]);
 * // y = sin(0.5), d1 = cos(0.5), d2 = -sin(0.5), d3 = -cos(0.5)
 */
export function jet<P extends readonly [] | readonly unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<[...P]>>) => R,
  primals: P,
  series: NoInfer<{ [I in keyof P]: readonly TangentOf<P[I]>[] }>,
): [ArraysOf<R>, JetSeriesOf<ArraysOf<R>>] {
  f = fnArg("jet", f);
  listArg("jet", "primals", primals);
  listArg("jet", "series", series);
  const ser = series as readonly unknown[];
  if (ser.length !== primals.length)
    throw new ShapeError(`jet: expected one series per primal (${primals.length}), got ${ser.length}`);
  ser.forEach((s, i) => {
    if (!Array.isArray(s)) throw new ShapeError(`jet: series[${i}] must be an array of terms, got ${describe(s)}`);
  });
  const lists = ser as readonly (readonly unknown[])[];
  const K = lists[0]?.length ?? 0;
  lists.forEach((s, i) => {
    if (s.length !== K)
      throw new ShapeError(
        `jet: every series must have the same order; series[0] has ${K} terms, series[${i}] ${s.length}`,
      );
  });
  const [ps, pdef] = flattenToArrays(primals, "jet", "the primals");
  requireFloat("jet", ps, "primal");
  // per flat primal leaf, its K terms
  const terms: NDArray[][] = ps.map(() => []);
  for (let k = 0; k < K; k++) {
    const [raw, def] = flattenAs(
      lists.map((s) => s[k]),
      "jet",
      `the series terms of order ${k + 1}`,
    );
    checkStructure("jet", `the series terms of order ${k + 1}`, pdef, def);
    matchLeaves("jet", `series term ${k + 1}`, ps, raw).forEach((t, i) => at(terms, i, "jet").push(t));
  }
  let found: ReturnType<typeof flattenToArrays>[1] | undefined;
  const [po, so] = jetFlat(
    (xs) => {
      const [outs, def] = flattenToArrays(f(...(unflatten(pdef, xs) as ArraysOf<[...P]>)), "jet", "the output");
      found = def;
      return outs;
    },
    ps,
    terms,
    K,
  );
  const outDef = found;
  if (outDef === undefined) throw new NablaError("jet: internal: f was not called");
  const seriesOut = so.map((s, i) => {
    const p = at(po, i, "jet");
    return s.map((t) => t ?? zerosAt(p));
  });
  return [unflatten(outDef, po) as ArraysOf<R>, unflatten(outDef, seriesOut) as unknown as JetSeriesOf<ArraysOf<R>>];
}
