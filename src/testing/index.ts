/**
 * `nabla/testing`: gradient checking against finite differences and
 * fast-check arbitraries for arrays, shapes and random differentiable
 * programs.
 *
 * `checkGrads` follows JAX's `jax.test_util.check_grads`: at every order it
 * checks forward mode against central differences and reverse mode through
 * the adjoint identity ⟨ct, J·t⟩ = ⟨Jᵀ·ct, t⟩, then recurses on the JVP
 * function and on the VJP function, so order 3 covers fwd∘fwd∘fwd, ...,
 * rev∘rev∘rev.
 *
 * @example
 * import * as nb from "nabla";
 * import { checkGrads } from "nabla/testing";
 * checkGrads((x: nb.NDArray) => nb.sum(nb.sin(x)), [nb.array([0.1, 0.2])], { order: 3 });
 */
import fc from "fast-check";
import * as nb from "../index.js";
import type { ArraysOf, Returned, TangentOf } from "../index.js";

type NDArray = nb.NDArray;
type DType = nb.DType;
type Shape = readonly number[];

// ---------------------------------------------------------------------------
// errors

/**
 * Thrown by {@link checkGrads} when a derivative disagrees with finite
 * differences or with the adjoint identity. The message names the order, the
 * mode and the largest error against its tolerance.
 * @example
 * // sin in value, but derivative 1: rejected
 * const bad = (x: nb.NDArray) => nb.add(x, nb.stopGradient(nb.sub(nb.sin(x), x)));
 * try {
 *   checkGrads(bad, [nb.array([0.3])]);
 * } catch (e) {
 *   e instanceof GradCheckError; // true; e.message names the order, the mode and the error
 * }
 */
export class GradCheckError extends nb.NablaError {}

// ---------------------------------------------------------------------------
// tolerances

/**
 * Unit roundoff of each float dtype (half the machine epsilon).
 */
const UNIT_ROUNDOFF: Record<"float32" | "float64", number> = { float32: 2 ** -24, float64: 2 ** -53 };

/**
 * Default step and tolerances per dtype.
 *
 * A central difference (f(x + εt) − f(x − εt)) / 2ε has two errors:
 * truncation ε²/6 · |f'''| and rounding ≈ u·|f|/ε (u the unit roundoff).
 *
 * - float64 (u ≈ 1.1e-16): ε = 1e-5 balances the two at ≈ 1e-11 relative
 *   to the size of f and its third derivative. atol = rtol = 1e-6 leaves
 *   five orders of magnitude for third derivatives of the size f'''/f ≈ 1e4
 *   that the recursion to order 3 produces, while a wrong rule (an O(1)
 *   relative error) is still caught by six orders of magnitude.
 * - float32 (u ≈ 6e-8): ε = 1e-3 puts the rounding term at ≈ 6e-5·|f| and
 *   truncation at ≈ 2e-7·|f'''|; atol = rtol = 1e-2 is above both with
 *   room for the few ulps of float32 rounding each primitive adds along a
 *   chain, and still catches a wrong rule (an O(1) relative error).
 *
 * On top of atol + rtol·|expected|, each comparison adds an estimate of the
 * difference quotient's own error (see numericalJvpFlat): its rounding
 * floor NOISE_ULPS · u · (|f(x+εt)| + |f(x−εt)|) / 2ε (a finite difference
 * cannot resolve a derivative more finely than the rounding of the values
 * it subtracts; the factor allows for a few ulps of error per primitive in
 * f) and its truncation error, measured as |D(2ε) − D(ε)|.
 */
const DEFAULTS: Record<"float32" | "float64", { eps: number; atol: number; rtol: number }> = {
  float64: { eps: 1e-5, atol: 1e-6, rtol: 1e-6 },
  float32: { eps: 1e-3, atol: 1e-2, rtol: 1e-2 },
};
const NOISE_ULPS = 64;

/**
 * Tolerance of the adjoint identity between reverse and forward mode
 * (⟨Jᵀct, t⟩ against ⟨ct, J t⟩, both by AD), relative to the natural scale
 * Σ|ct_i (J t)_i|. Both sides are exact up to rounding, so only the growth
 * of rounding errors through f needs room: 1e-9 allows a growth of ~1e7
 * ulps in float64, 1e-4 of ~1e3 ulps in float32.
 */
const ADJOINT_RTOL: Record<"float32" | "float64", number> = { float64: 1e-9, float32: 1e-4 };

function isFloatDType(d: DType): d is "float32" | "float64" {
  return d === "float32" || d === "float64";
}

/** The least precise float dtype among the arrays (float64 if there is none). */
function workingDType(xs: readonly NDArray[]): "float32" | "float64" {
  return xs.some((x) => x.dtype === "float32") ? "float32" : "float64";
}

// ---------------------------------------------------------------------------
// small helpers

function toArr(x: unknown): NDArray {
  if (x instanceof nb.NDArray) return x;
  if (typeof x === "number" || typeof x === "boolean") return nb.array(x);
  if (ArrayBuffer.isView(x)) return nb.array(x as Float64Array);
  throw new nb.ShapeError(`nabla/testing: unsupported pytree leaf ${String(x)}`);
}

function flatArrays(tree: unknown): [NDArray[], nb.tree.TreeDef] {
  const [ls, def] = nb.tree.flatten(tree);
  return [ls.map(toArr), def];
}

function values(x: NDArray): Float64Array {
  return Float64Array.from(x.toTypedArray() as ArrayLike<number>);
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(3) : String(v);
}

function fmtShape(s: Shape): string {
  return `[${s.join(",")}]`;
}

/**
 * A seedable pseudo-random generator: a Weyl sequence (steps of the 32-bit
 * golden-ratio constant) hashed by MurmurHash3's 32-bit finalizer, with
 * standard normals by Box–Muller. Deterministic: the same seed gives the
 * same sequence. Statistical quality is ample for random test directions.
 */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  }
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** An array of standard normals shaped and typed like `like` (zeros for non-float dtypes). */
  like(like: NDArray): NDArray {
    if (!isFloatDType(like.dtype)) return nb.zeros(like.shape, { dtype: like.dtype });
    const d = new Float64Array(like.size);
    for (let i = 0; i < d.length; i++) d[i] = this.normal();
    return nb.array(d, { shape: like.shape, dtype: like.dtype });
  }
}

// ---------------------------------------------------------------------------
// numerical JVP

interface NumericalJvp {
  /** The difference quotients, one per output leaf. */
  leaves: NDArray[];
  def: nb.tree.TreeDef;
  /** Per output leaf, per element: an estimate of the difference quotient's error (when requested). */
  uncertainty: Float64Array[];
  eps: number;
}

/**
 * Central differences D(ε) = (f(x + εt) − f(x − εt)) / 2ε. With `u` (the unit
 * roundoff of the working dtype) it also estimates D(ε)'s error per element:
 * - rounding: NOISE_ULPS · u · (|f(x + εt)| + |f(x − εt)|) / 2ε;
 * - truncation: |D(2ε) − D(ε)|. Truncation error grows as ε², so
 *   D(2ε) − D(ε) ≈ 3 × the truncation error of D(ε): a safe a-posteriori
 *   bound that is large only where f is far from its Taylor polynomial (near
 *   singularities, at high orders). It involves no derivative computed by
 *   AD, so it cannot hide an AD error. Where D(2ε) is not finite (f leaves
 *   its domain at x ± 2εt) the term is dropped rather than let an infinite
 *   tolerance pass anything.
 */
function numericalJvpFlat(
  f: (...args: any[]) => unknown,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  eps: number | undefined,
  u?: number,
): NumericalJvp {
  const [ps, pdef] = flatArrays(primals);
  const [tsRaw, tdef] = flatArrays(tangents);
  if (!pdef.equals(tdef))
    throw new nb.ShapeError(
      `numericalJvp: tangents have structure ${tdef}, expected the structure of the primals ${pdef}`,
    );
  const ts = tsRaw.map((t, i) => {
    const p = ps[i]!;
    if (t.shape.length !== p.shape.length || t.shape.some((d, k) => d !== p.shape[k]))
      throw new nb.ShapeError(
        `numericalJvp: tangent leaf ${i} has shape ${fmtShape(t.shape)}, expected ${fmtShape(p.shape)}`,
      );
    return t.dtype === p.dtype ? t : t.astype(p.dtype);
  });
  const e = eps ?? DEFAULTS[workingDType(ps)].eps;
  const shifted = (step: number): unknown[] =>
    nb.tree.unflatten(
      pdef,
      ps.map((p, i) => (isFloatDType(p.dtype) ? nb.add(p, nb.mul(ts[i]!, step)) : p)),
    ) as unknown[];
  const quotient = (h: number) => {
    const [plus, def] = flatArrays(f(...shifted(h)));
    const [minus, defMinus] = flatArrays(f(...shifted(-h)));
    if (!def.equals(defMinus))
      throw new nb.ShapeError(`numericalJvp: the function returned structures ${def} and ${defMinus} at x ± εt`);
    const leaves = plus.map((a, i) => {
      const b = minus[i]!;
      if (!isFloatDType(a.dtype)) return nb.zeros(a.shape, { dtype: a.dtype });
      return nb.div(nb.sub(a, b), 2 * h);
    });
    return { plus, minus, def, leaves };
  };
  const d1 = quotient(e);
  let uncertainty: Float64Array[] = [];
  if (u !== undefined) {
    const d2 = quotient(2 * e);
    uncertainty = d1.leaves.map((l, i) => {
      const va = values(d1.plus[i]!);
      const vb = values(d1.minus[i]!);
      const q1 = values(l);
      const q2 = values(d2.leaves[i]!);
      return va.map((v, k) => {
        const rounding = (NOISE_ULPS * u * (Math.abs(v) + Math.abs(vb[k]!))) / (2 * e);
        const truncation = Math.abs(q2[k]! - q1[k]!);
        return rounding + (Number.isFinite(truncation) ? truncation : 0);
      });
    });
  }
  return { leaves: d1.leaves, def: d1.def, uncertainty, eps: e };
}

/**
 * Central-difference JVP: (f(x + εt) − f(x − εt)) / 2ε over pytrees of
 * arguments, with the output's structure and NDArray leaves (zeros for
 * non-float outputs). ε defaults to 1e-5 for float64 inputs and 1e-3 when
 * any input is float32.
 * @example
 * const [dy] = numericalJvp((x: nb.NDArray) => [nb.sin(x)], [nb.array(0.5)], [nb.array(1)]);
 * dy.item(); // ≈ Math.cos(0.5)
 */
export function numericalJvp<P extends readonly [] | readonly unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<[...P]>>) => R,
  primals: P,
  tangents: NoInfer<TangentOf<P>>,
  eps?: number,
): ArraysOf<R>;
export function numericalJvp(
  f: (...args: any[]) => unknown,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  eps?: number,
): any {
  const r = numericalJvpFlat(f, primals, tangents, eps);
  return nb.tree.unflatten(r.def, r.leaves);
}

// ---------------------------------------------------------------------------
// checkGrads

/**
 * Options of {@link checkGrads}.
 * @example
 * const options: CheckGradsOptions = { order: 3, modes: ["rev"], seed: 1 };
 */
export interface CheckGradsOptions {
  /** Highest derivative order checked (default 2). */
  order?: number;
  /** Modes checked at every order (default both). */
  modes?: readonly ("fwd" | "rev")[];
  /** Finite-difference step (default per dtype: 1e-5 float64, 1e-3 float32). */
  eps?: number;
  /** Absolute tolerance (default per dtype: 1e-6 float64, 1e-2 float32). */
  atol?: number;
  /** Relative tolerance (default per dtype: 1e-6 float64, 1e-2 float32). */
  rtol?: number;
  /** Seed of the random tangents and cotangents (default 0). */
  seed?: number;
}

interface Ctx {
  opts: CheckGradsOptions;
  rng: Rng;
  modes: readonly ("fwd" | "rev")[];
}

type FloatDType = "float32" | "float64";

interface Tol {
  dtype: FloatDType;
  eps: number;
  atol: number;
  rtol: number;
  u: number;
}

/**
 * Tolerances for one level of the recursion: those of the least precise
 * float dtype among its inputs and outputs and the `floor` inherited from
 * the levels above. The derived functions (JVP and VJP functions) compute
 * through the same primitives as f, so a float32 value inside f limits the
 * accuracy at every order even when the derived function's own inputs and
 * outputs are float64 (e.g. a float64 → float32 → float64 round trip).
 */
function tolFor(ctx: Ctx, arrays: readonly NDArray[], floor: FloatDType): Tol {
  const dt: FloatDType = floor === "float32" ? "float32" : workingDType(arrays);
  const d = DEFAULTS[dt];
  return {
    dtype: dt,
    eps: ctx.opts.eps ?? d.eps,
    atol: ctx.opts.atol ?? d.atol,
    rtol: ctx.opts.rtol ?? d.rtol,
    u: UNIT_ROUNDOFF[dt],
  };
}

/** Describes the function being checked: "f", "the JVP function of f", "the VJP function of the JVP function of f", ... */
function describe(path: readonly ("fwd" | "rev")[]): string {
  let s = "f";
  for (const m of path) s = `the ${m === "fwd" ? "JVP" : "VJP"} function of ${s}`;
  return s;
}

function fail(
  order: number,
  total: number,
  mode: "fwd" | "rev",
  path: readonly ("fwd" | "rev")[],
  detail: string,
): never {
  const what = mode === "fwd" ? "JVP against central differences" : "VJP adjoint identity";
  const seq = path.length ? ` (modes ${[...path, mode].join(" → ")})` : "";
  throw new GradCheckError(
    `checkGrads: order ${order} of ${total}, mode ${mode}${seq}: ${what} failed for ${describe(path)}: ${detail}`,
  );
}

/**
 * err / bound for one comparison (> 1 fails). Non-finite values never pass
 * by an infinite tolerance: they must agree exactly (e.g. both +Infinity).
 */
function excessOf(got: number, want: number, bound: number): number {
  if (!Number.isFinite(got) || !Number.isFinite(want) || !Number.isFinite(bound))
    return Object.is(got, want) ? 0 : Infinity;
  const err = Math.abs(got - want);
  return err === 0 ? 0 : err / bound;
}

function inner(a: readonly NDArray[], b: readonly NDArray[]): { value: number; scale: number } {
  let value = 0;
  let scale = 0;
  a.forEach((x, i) => {
    if (!isFloatDType(x.dtype)) return;
    const va = values(x);
    const vb = values(b[i]!);
    for (let k = 0; k < va.length; k++) {
      value += va[k]! * vb[k]!;
      scale += Math.abs(va[k]! * vb[k]!);
    }
  });
  return { value, scale };
}

function checkJvpAt(
  ctx: Ctx,
  g: (...args: any[]) => unknown,
  args: readonly unknown[],
  order: number,
  total: number,
  path: readonly ("fwd" | "rev")[],
  floor: FloatDType,
): FloatDType {
  const [ps, pdef] = flatArrays(args);
  const ts = ps.map((p) => ctx.rng.like(p));
  const tangents = nb.tree.unflatten(pdef, ts) as unknown[];
  const [out, tout] = nb.jvp(g, args, tangents);
  const [outs] = flatArrays(out);
  const [touts, tdef] = flatArrays(tout);
  const tol = tolFor(ctx, [...ps, ...outs], floor);
  const num = numericalJvpFlat(g, args, tangents, tol.eps, tol.u);
  if (!tdef.equals(num.def))
    fail(order, total, "fwd", path, `the JVP returned structure ${tdef}, the function ${num.def}`);
  let worst = { excess: -Infinity, err: 0, bound: 0, leaf: 0, index: 0, got: 0, want: 0 };
  touts.forEach((t, i) => {
    const n = num.leaves[i]!;
    if (t.shape.length !== n.shape.length || t.shape.some((d, k) => d !== n.shape[k]))
      fail(
        order,
        total,
        "fwd",
        path,
        `tangent leaf ${i} has shape ${fmtShape(t.shape)}, expected ${fmtShape(n.shape)}`,
      );
    if (!isFloatDType(n.dtype)) return;
    const vt = values(t);
    const vn = values(n);
    const unc = num.uncertainty[i]!;
    for (let k = 0; k < vt.length; k++) {
      const err = Math.abs(vt[k]! - vn[k]!);
      const bound = tol.atol + tol.rtol * Math.abs(vn[k]!) + unc[k]!;
      const excess = excessOf(vt[k]!, vn[k]!, bound);
      if (excess > worst.excess) worst = { excess, err, bound, leaf: i, index: k, got: vt[k]!, want: vn[k]! };
    }
  });
  if (worst.excess > 1)
    fail(
      order,
      total,
      "fwd",
      path,
      `max |error| ${fmt(worst.err)} exceeds tolerance ${fmt(worst.bound)} (atol ${fmt(tol.atol)}, rtol ${fmt(tol.rtol)}) ` +
        `at output leaf ${worst.leaf}, flat index ${worst.index}: jvp gave ${worst.got}, central differences ${worst.want}`,
    );
  return tol.dtype;
}

function checkVjpAt(
  ctx: Ctx,
  g: (...args: any[]) => unknown,
  args: readonly unknown[],
  order: number,
  total: number,
  path: readonly ("fwd" | "rev")[],
  floor: FloatDType,
): FloatDType {
  const [ps, pdef] = flatArrays(args);
  const ts = ps.map((p) => ctx.rng.like(p));
  const tangents = nb.tree.unflatten(pdef, ts) as unknown[];
  const [out, pull] = nb.vjp(g, ...args);
  const [outs, odef] = flatArrays(out);
  const cts = outs.map((o) => ctx.rng.like(o));
  const ctIn = pull(nb.tree.unflatten(odef, cts));
  const [ctLeaves] = flatArrays(ctIn);
  const tol = tolFor(ctx, [...ps, ...outs], floor);
  if (ctLeaves.length !== ts.length)
    fail(order, total, "rev", path, `the VJP returned ${ctLeaves.length} cotangent leaves for ${ts.length} inputs`);
  ctLeaves.forEach((c, i) => {
    const p = ps[i]!;
    if (c.shape.length !== p.shape.length || c.shape.some((d, k) => d !== p.shape[k]))
      fail(
        order,
        total,
        "rev",
        path,
        `cotangent leaf ${i} has shape ${fmtShape(c.shape)}, expected ${fmtShape(p.shape)}`,
      );
  });
  // ⟨Jᵀ ct, t⟩ from reverse mode
  const lhs = inner(ctLeaves, ts);
  // ⟨ct, J t⟩ with J t by central differences
  const num = numericalJvpFlat(g, args, tangents, tol.eps, tol.u);
  const rhs = inner(cts, num.leaves);
  let noise = 0;
  cts.forEach((c, i) => {
    if (!isFloatDType(c.dtype)) return;
    const vc = values(c);
    const unc = num.uncertainty[i]!;
    for (let k = 0; k < vc.length; k++) noise += Math.abs(vc[k]!) * unc[k]!;
  });
  // The inner product's natural scale is Σ|ct_i (J t)_i|: relative error is measured against it, not
  // against |⟨ct, J t⟩|, which may cancel to near zero.
  const bound = tol.atol + tol.rtol * Math.max(lhs.scale, rhs.scale) + noise;
  const err = Math.abs(lhs.value - rhs.value);
  if (excessOf(lhs.value, rhs.value, bound) > 1)
    fail(
      order,
      total,
      "rev",
      path,
      `⟨vjp(ct), t⟩ = ${lhs.value} but ⟨ct, central-difference jvp(t)⟩ = ${rhs.value}: |error| ${fmt(err)} exceeds tolerance ${fmt(
        bound,
      )} (atol ${fmt(tol.atol)}, rtol ${fmt(tol.rtol)})`,
    );
  if (ctx.modes.includes("fwd")) {
    // The same identity against forward mode: a transpose rule that disagrees with its JVP rule.
    const [, tout] = nb.jvp(g, args, tangents);
    const [touts] = flatArrays(tout);
    const ad = inner(cts, touts);
    // No finite differences here, only rounding: a tighter tolerance (ADJOINT_RTOL) applies, which catches
    // small transpose errors that the float32 finite-difference tolerance would let through.
    const rtol2 = Math.min(tol.rtol, ADJOINT_RTOL[tol.dtype]);
    const atol2 = Math.min(tol.atol, ADJOINT_RTOL[tol.dtype]);
    const bound2 = atol2 + rtol2 * Math.max(lhs.scale, ad.scale);
    const err2 = Math.abs(lhs.value - ad.value);
    if (excessOf(lhs.value, ad.value, bound2) > 1)
      fail(
        order,
        total,
        "rev",
        path,
        `⟨vjp(ct), t⟩ = ${lhs.value} but ⟨ct, jvp(t)⟩ = ${ad.value}: |error| ${fmt(err2)} exceeds tolerance ${fmt(bound2)}`,
      );
  }
  return tol.dtype;
}

/**
 * The least precise float dtype that `f` computes in, read off its staged
 * graph (`makeGraph`): a float64 → float32 → float64 round trip inside `f`
 * limits the accuracy of finite differences as much as float32 inputs do,
 * though no input or output shows it. Functions that cannot be staged (JS
 * control flow on traced values) are judged by their inputs and outputs.
 */
function internalPrecision(f: (...args: any[]) => unknown, args: readonly unknown[]): FloatDType {
  try {
    const graph = nb.makeGraph(f)(...args);
    for (const e of graph.equations)
      for (const v of [...e.inputs, ...e.outs]) if (v.aval.dtype === "float32") return "float32";
  } catch {
    // not stageable: fall back to the dtypes of inputs and outputs at each level
  }
  return "float64";
}

/**
 * Checks derivatives of `f` at `args` up to `order` in forward and reverse
 * mode against central differences (JAX's `check_grads`): "fwd" compares
 * `jvp` with {@link numericalJvp} for a random tangent, "rev" checks `vjp`
 * through ⟨ct, J·t⟩ = ⟨Jᵀ·ct, t⟩ for random t and ct; for order > 1 the
 * same checks run on the JVP function `(xs, ts) => jvp(f, xs, ts)` and on
 * the VJP function `xs => vjp(f, ...xs)[1](f(...xs))`, recursively. Throws
 * {@link GradCheckError} naming the order, the mode and the largest error.
 * Tangents and cotangents come from a seeded PRNG, so runs are repeatable.
 * Default tolerances follow the least precise float dtype among the inputs,
 * the outputs and (when `f` can be staged) the values inside `f`.
 * @example
 * checkGrads((x: nb.NDArray, y: nb.NDArray) => nb.mul(nb.sin(x), y), [nb.array([0.5, 1]), nb.array(2)], {
 *   order: 3,
 *   modes: ["fwd", "rev"],
 * });
 */
export function checkGrads<P extends readonly [] | readonly unknown[]>(
  f: (...args: NoInfer<ArraysOf<[...P]>>) => unknown,
  args: P,
  options?: CheckGradsOptions,
): void;
export function checkGrads(
  f: (...args: any[]) => unknown,
  args: readonly unknown[],
  options: CheckGradsOptions = {},
): void {
  const total = options.order ?? 2;
  if (!Number.isInteger(total) || total < 1)
    throw new nb.NablaError(`checkGrads: order must be a positive integer, got ${total}`);
  const modes = options.modes ?? ["fwd", "rev"];
  const ctx: Ctx = { opts: options, rng: new Rng(options.seed ?? 0), modes };
  const rec = (
    g: (...a: any[]) => unknown,
    gargs: readonly unknown[],
    left: number,
    path: ("fwd" | "rev")[],
    floor: FloatDType,
  ): void => {
    const order = total - left + 1;
    if (modes.includes("fwd")) {
      const dt = checkJvpAt(ctx, g, gargs, order, total, path, floor);
      if (left > 1) {
        const gj = (ps: unknown[], ts: unknown[]): unknown => nb.jvp(g, ps, ts);
        rec(gj, [gargs, gargs], left - 1, [...path, "fwd"], dt);
      }
    }
    if (modes.includes("rev")) {
      const dt = checkVjpAt(ctx, g, gargs, order, total, path, floor);
      if (left > 1) {
        const gv = (...xs: unknown[]): unknown => {
          const [out, pull] = nb.vjp(g, ...xs);
          return pull(out);
        };
        rec(gv, gargs, left - 1, [...path, "rev"], dt);
      }
    }
  };
  rec(f, args, total, [], internalPrecision(f, args));
}

// ---------------------------------------------------------------------------
// arbitraries

/**
 * Options of {@link arbShape}.
 * @example
 * arbShape({ minRank: 1, maxRank: 2, maxDim: 3 } satisfies ShapeOptions);
 */
export interface ShapeOptions {
  /** Fewest axes (default 0). */
  minRank?: number;
  /** Most axes (default 3). */
  maxRank?: number;
  /** Smallest axis length (default 1). */
  minDim?: number;
  /** Largest axis length (default 4). */
  maxDim?: number;
}

/**
 * Shapes: arrays of axis lengths.
 * @example
 * fc.assert(fc.property(arbShape({ maxRank: 2 }), (s) => s.length <= 2));
 */
export function arbShape(opts: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 3, minDim = 1, maxDim = 4 } = opts;
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/**
 * Where the values of {@link arbArray} lie. Every domain is reached by
 * mapping uniform draws into it, never by filtering:
 * - `"bounded"` (default): [min, max], default [-3, 3];
 * - `"any"`: any finite double in [min, max], default [-1e3, 1e3], with
 *   fast-check's bias towards 0, tiny and extreme values;
 * - `"positive"`: [min, max], default [0.1, 10] (min must be > 0);
 * - `"unit"`: [-(1 − margin), 1 − margin] with margin 0.1, e.g. for arcsin;
 * - `"nonzero"`: |v| in [min, max], default [0.1, 3], either sign;
 * - `"integer"`: integers in [min, max], default [-3, 3] (ties for
 *   comparisons, argmax, ...);
 * - `"half"`: multiples of 1/2 in [min, max], default [-3, 3] (rounding ties);
 * - `"distinct"`: pairwise distinct values in [min, max] (default [-3, 3]),
 *   at least (max − min) / (5n) apart for n elements, so no reductions tie.
 * @example
 * arbArray({ shape: [3], domain: "unit" satisfies Domain }); // for arcsin
 */
export type Domain = "bounded" | "any" | "positive" | "unit" | "nonzero" | "integer" | "half" | "distinct";

/**
 * Options of {@link arbArray}.
 * @example
 * arbArray({ shape: { maxRank: 2 }, dtype: "float32", domain: "positive", min: 0.5, max: 2 } satisfies ArrayOptions);
 */
export interface ArrayOptions {
  /** A fixed shape, an arbitrary of shapes, or options for {@link arbShape} (default `{}`). */
  shape?: Shape | fc.Arbitrary<readonly number[]> | ShapeOptions;
  /** Element type (default float64). int32 draws integers, bool draws booleans. */
  dtype?: DType;
  /** Lower bound of the domain (see {@link Domain} for defaults). */
  min?: number;
  /** Upper bound of the domain. */
  max?: number;
  /** The value domain (default "bounded"). */
  domain?: Domain;
}

function shapeArb(s: ArrayOptions["shape"]): fc.Arbitrary<readonly number[]> {
  if (s === undefined) return arbShape();
  if (Array.isArray(s)) return fc.constant(s as readonly number[]);
  if (s instanceof fc.Arbitrary) return s;
  return arbShape(s as ShapeOptions);
}

const sizeOfShape = (s: Shape): number => s.reduce((p, d) => p * d, 1);

/**
 * Uniform draws in [0, 1] on a grid of 2^-30 (fast-check shrinks them towards 0). Not `fc.double`,
 * whose draws cluster at the ends of the range and at tiny magnitudes, and not biased, so that values
 * spread over the whole domain.
 */
const unitDraw = fc.noBias(fc.integer({ min: 0, max: 2 ** 30 })).map((k) => k / 2 ** 30);

function domainBounds(domain: Domain, min: number | undefined, max: number | undefined): [number, number] {
  const dflt: Record<Domain, [number, number]> = {
    bounded: [-3, 3],
    any: [-1e3, 1e3],
    positive: [0.1, 10],
    unit: [-0.9, 0.9],
    nonzero: [0.1, 3],
    integer: [-3, 3],
    half: [-3, 3],
    distinct: [-3, 3],
  };
  const lo = min ?? dflt[domain][0];
  const hi = max ?? dflt[domain][1];
  if (!(lo <= hi)) throw new RangeError(`arbArray: empty domain [${lo}, ${hi}]`);
  if ((domain === "positive" || domain === "nonzero") && !(lo > 0))
    throw new RangeError(`arbArray: domain "${domain}" needs min > 0, got ${lo}`);
  return [lo, hi];
}

/** Values of `n` elements in the domain, as plain numbers. */
function arbValues(n: number, domain: Domain, lo: number, hi: number): fc.Arbitrary<number[]> {
  const many = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: n, maxLength: n });
  const lerp = (u: number) => lo + (hi - lo) * u;
  switch (domain) {
    case "bounded":
    case "positive":
      return many(unitDraw.map(lerp));
    case "unit":
      return many(unitDraw.map(lerp));
    case "any":
      return many(
        fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v)),
      );
    case "nonzero":
      return many(fc.tuple(unitDraw, fc.boolean()).map(([u, neg]) => (neg ? -1 : 1) * lerp(u)));
    case "integer":
      return many(fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }));
    case "half":
      return many(fc.integer({ min: Math.ceil(2 * lo), max: Math.floor(2 * hi) }).map((k) => k / 2));
    case "distinct": {
      // n cells of width w; element i sits in cell perm[i], jittered within the middle 4/5 of it
      const w = (hi - lo) / Math.max(n, 1);
      const perm = fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: n, maxLength: n },
      );
      return fc.tuple(perm, many(unitDraw)).map(([p, us]) => p.map((cell, i) => lo + w * (cell + 0.1 + 0.8 * us[i]!)));
    }
  }
}

/** Builds an NDArray from plain values (rounded to the dtype). */
function makeArray(vals: readonly number[], shape: Shape, dtype: DType): NDArray {
  const data = dtype === "bool" ? vals.map((v) => v !== 0) : vals.slice();
  if (shape.length === 0) return nb.array(data[0]!, { dtype });
  if (dtype === "bool") return nb.array(data as boolean[], { dtype }).reshape(shape);
  return nb.array(Float64Array.from(data as number[]), { dtype, shape });
}

/**
 * NDArrays of a given or random shape whose values lie in a {@link Domain}
 * (built by mapping into the domain, never by filtering).
 * @example
 * fc.assert(fc.property(arbArray({ shape: [3], domain: "positive" }), (x) => nb.min(x).item() > 0));
 */
export function arbArray(opts: ArrayOptions = {}): fc.Arbitrary<NDArray> {
  const dtype = opts.dtype ?? "float64";
  const domain: Domain = dtype === "int32" ? "integer" : (opts.domain ?? "bounded");
  const [lo, hi] = dtype === "bool" ? [0, 1] : domainBounds(domain, opts.min, opts.max);
  return shapeArb(opts.shape).chain((shape) => {
    const n = sizeOfShape(shape);
    const vals =
      dtype === "bool"
        ? fc.array(fc.boolean(), { minLength: n, maxLength: n }).map((bs) => bs.map(Number))
        : arbValues(n, domain, lo, hi);
    return vals.map((v) => makeArray(v, shape, dtype));
  });
}

/**
 * Options of {@link arbBroadcastPair} and {@link arbBroadcastShapes}.
 * @example
 * arbBroadcastShapes(2, { maxRank: 2, maxDim: 3 } satisfies BroadcastOptions);
 */
export interface BroadcastOptions {
  /** Most axes of the broadcast result (default 3). */
  maxRank?: number;
  /** Largest axis length (default 4). */
  maxDim?: number;
}

/**
 * `count` shapes that broadcast together (NumPy rules): each is the common
 * shape with some leading axes dropped and some axes set to 1.
 * @example
 * fc.sample(arbBroadcastShapes(3), 1); // e.g. [[[2, 1, 3], [3], [1, 1]]]
 */
export function arbBroadcastShapes(count: number, opts: BroadcastOptions = {}): fc.Arbitrary<number[][]> {
  const { maxRank = 3, maxDim = 4 } = opts;
  return arbShape({ maxRank, maxDim }).chain((full) => {
    const one = fc
      .tuple(
        fc.integer({ min: 0, max: full.length }),
        fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
      )
      .map(([drop, ones]) => full.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
    return fc.array(one, { minLength: count, maxLength: count });
  });
}

/**
 * Two shapes that NumPy-broadcast together or, given array options, two
 * arrays of such shapes (one options object for both, or a pair).
 * @example
 * arbBroadcastPair();                                          // Arbitrary<[number[], number[]]>
 * arbBroadcastPair({ arrays: [{}, { domain: "nonzero" }] });   // Arbitrary<[NDArray, NDArray]>
 */
export function arbBroadcastPair(opts?: BroadcastOptions & { arrays?: undefined }): fc.Arbitrary<[number[], number[]]>;
export function arbBroadcastPair(
  opts: BroadcastOptions & {
    arrays: Omit<ArrayOptions, "shape"> | readonly [Omit<ArrayOptions, "shape">, Omit<ArrayOptions, "shape">];
  },
): fc.Arbitrary<[NDArray, NDArray]>;
export function arbBroadcastPair(
  opts: BroadcastOptions & {
    arrays?: Omit<ArrayOptions, "shape"> | readonly [Omit<ArrayOptions, "shape">, Omit<ArrayOptions, "shape">];
  } = {},
): fc.Arbitrary<[number[], number[]]> | fc.Arbitrary<[NDArray, NDArray]> {
  const shapes = arbBroadcastShapes(2, opts).map((s) => [s[0]!, s[1]!] as [number[], number[]]);
  const arrays = opts.arrays;
  if (arrays === undefined) return shapes;
  const [oa, ob] = Array.isArray(arrays)
    ? (arrays as [ArrayOptions, ArrayOptions])
    : [arrays as ArrayOptions, arrays as ArrayOptions];
  return shapes.chain(([sa, sb]) => fc.tuple(arbArray({ ...oa, shape: sa }), arbArray({ ...ob, shape: sb })));
}

/**
 * Options of {@link arbSpdMatrix}.
 * @example
 * arbSpdMatrix({ minN: 2, maxN: 5, dtype: "float32" } satisfies SpdOptions);
 */
export interface SpdOptions {
  /** Fixed size n (else drawn from [minN, maxN]). */
  n?: number;
  /** Smallest size (default 1). */
  minN?: number;
  /** Largest size (default 4). */
  maxN?: number;
  /** float64 (default) or float32. */
  dtype?: "float32" | "float64";
}

/**
 * Symmetric positive-definite n×n matrices A·Aᵀ + n·I with A's entries in
 * [-1, 1]: every eigenvalue lies in [n, n + n²], so the condition number is
 * at most n + 1.
 * @example
 * fc.assert(fc.property(arbSpdMatrix(3), (m) => nb.linalg.cholesky(m).shape[0] === 3));
 */
export function arbSpdMatrix(nOrOpts: number | SpdOptions = {}): fc.Arbitrary<NDArray> {
  const opts: SpdOptions = typeof nOrOpts === "number" ? { n: nOrOpts } : nOrOpts;
  const sizes = opts.n !== undefined ? fc.constant(opts.n) : fc.integer({ min: opts.minN ?? 1, max: opts.maxN ?? 4 });
  const dtype = opts.dtype ?? "float64";
  return sizes.chain((n) =>
    fc
      .array(
        unitDraw.map((u) => 2 * u - 1),
        { minLength: n * n, maxLength: n * n },
      )
      .map((a) => {
        const m = new Float64Array(n * n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = i === j ? n : 0;
            for (let k = 0; k < n; k++) s += a[i * n + k]! * a[j * n + k]!;
            m[i * n + j] = s;
          }
        return nb.array(m, { shape: [n, n], dtype });
      }),
  );
}

// ---------------------------------------------------------------------------
// random programs

/**
 * A random differentiable program over one input array (from {@link arbProgram}).
 * @example
 * const [p] = fc.sample(arbProgram(), 1);
 * const [x] = fc.sample(p.input, 1);
 * p.f(x).shape; // p.inputShape
 * String(p);    // "x: f64[2,3] ↦ add(sin(x), ...)"
 */
export interface Program {
  /** The program. */
  f: (x: NDArray) => NDArray;
  /** Shape of the input `x` (always 2-D, [m, n]). */
  inputShape: number[];
  /** Inputs for the program: bounded float64 arrays of `inputShape`. */
  input: fc.Arbitrary<NDArray>;
  /** The expression, e.g. `x: f64[2,3] ↦ add(sin(x), mean(x, axis=1))`, with its constants. */
  expr: string;
  toString(): string;
}

/**
 * Options of {@link arbProgram}.
 * @example
 * arbProgram({ maxDepth: 2, maxDim: 2, inputBound: 1 } satisfies ProgramOptions);
 */
export interface ProgramOptions {
  /** Maximum nesting depth of the expression (default 4). */
  maxDepth?: number;
  /** Largest m and n of the [m, n] input (default 3). */
  maxDim?: number;
  /** Bound of the input values: x in [-bound, bound] (default 2). */
  inputBound?: number;
}

interface Node {
  run: (x: NDArray, consts: readonly NDArray[]) => NDArray;
  show: string;
  /** Constant arrays used by the node (indices into the program's constant list, shown as c0, c1, ...). */
  consts: NDArray[];
}

/** Merges child nodes' constants: each child's constants follow the previous child's. */
function combine(
  children: readonly Node[],
  make: (args: ((x: NDArray, c: readonly NDArray[]) => NDArray)[], shows: string[]) => Node,
): Node {
  const offsets: number[] = [];
  let off = 0;
  for (const ch of children) {
    offsets.push(off);
    off += ch.consts.length;
  }
  const runs = children.map((ch, i) => (x: NDArray, c: readonly NDArray[]) => ch.run(x, c.slice(offsets[i]!)));
  const shows = children.map((ch, i) => renumber(ch.show, offsets[i]!));
  const node = make(runs, shows);
  return { run: node.run, show: node.show, consts: children.flatMap((ch) => ch.consts) };
}

/** Shifts the constant names c<k> of a child's description by `by`. */
function renumber(show: string, by: number): string {
  return by === 0 ? show : show.replace(/\bc(\d+)\b/g, (_m, k: string) => `c${Number(k) + by}`);
}

type Unary = [name: string, f: (a: NDArray) => NDArray];

/** Smooth unary maps, each total on the reals (domain-restricted primitives are guarded). */
const UNARY: Unary[] = [
  ["sin(·)", nb.sin],
  ["cos(·)", nb.cos],
  ["tanh(·)", nb.tanh],
  ["sigmoid(·)", nb.sigmoid],
  ["softplus(·)", nb.softplus],
  ["arctan(·)", nb.arctan],
  ["erf(·)", nb.erf],
  ["square(·)", nb.square],
  ["neg(·)", nb.neg],
  ["exp(tanh(·))", (a) => nb.exp(nb.tanh(a))],
  ["expm1(tanh(·))", (a) => nb.expm1(nb.tanh(a))],
  ["sinh(tanh(·))", (a) => nb.sinh(nb.tanh(a))],
  ["cosh(tanh(·))", (a) => nb.cosh(nb.tanh(a))],
  ["tan(tanh(·))", (a) => nb.tan(nb.tanh(a))],
  ["arcsin(0.9 * tanh(·))", (a) => nb.arcsin(nb.mul(nb.tanh(a), 0.9))],
  ["arccos(0.9 * tanh(·))", (a) => nb.arccos(nb.mul(nb.tanh(a), 0.9))],
  ["log(1 + square(·))", (a) => nb.log(nb.add(1, nb.square(a)))],
  ["log1p(square(·))", (a) => nb.log1p(nb.square(a))],
  ["sqrt(1 + square(·))", (a) => nb.sqrt(nb.add(1, nb.square(a)))],
  ["reciprocal(1 + square(·))", (a) => nb.reciprocal(nb.add(1, nb.square(a)))],
  ["pow(1 + square(·), 1.5)", (a) => nb.pow(nb.add(1, nb.square(a)), 1.5)],
  ["pow(·, 3)", (a) => nb.pow(a, 3)],
];

type Binary = [name: string, f: (a: NDArray, b: NDArray) => NDArray];

/** Smooth binary maps (denominators and bases kept away from 0). */
const BINARY: Binary[] = [
  ["add(·, ·)", nb.add],
  ["sub(·, ·)", nb.sub],
  ["mul(·, ·)", nb.mul],
  ["div(·, 1 + square(·))", (a, b) => nb.div(a, nb.add(1, nb.square(b)))],
  ["pow(1 + square(·), tanh(·))", (a, b) => nb.pow(nb.add(1, nb.square(a)), nb.tanh(b))],
  ["arctan2(·, 1 + square(·))", (a, b) => nb.arctan2(a, nb.add(1, nb.square(b)))],
];

function fill(template: string, args: readonly string[]): string {
  let i = 0;
  return template.replace(/·/g, () => args[i++] ?? "?");
}

/**
 * Random differentiable programs `f: [m, n] -> [m, n]` built with
 * `fc.letrec` from smooth unary maps (domain-guarded log, sqrt, arcsin,
 * pow, ...), add/sub/mul/div with safe denominators, keepdims reductions
 * (sum, mean, prod, logsumexp) broadcast back, softmax/logSoftmax,
 * reshape+transpose, matmul chains, rolls (slice + concatenate) and `where`
 * with a constant mask. `toString()` prints the expression and its constants
 * for failure messages.
 * @example
 * fc.assert(
 *   fc.property(arbProgram().chain((p) => p.input.map((x) => [p, x] as const)), ([p, x]) => {
 *     checkGrads(p.f, [x], { order: 2 });
 *   }),
 * );
 */
export function arbProgram(opts: ProgramOptions = {}): fc.Arbitrary<Program> {
  const { maxDepth = 4, maxDim = 3, inputBound = 2 } = opts;
  const dims = fc.tuple(fc.integer({ min: 1, max: maxDim }), fc.integer({ min: 1, max: maxDim }));
  return dims.chain(([m, n]) => {
    const shape = [m, n];
    const constArr = arbArray({ shape, min: -1, max: 1 });
    const axis = fc.constantFrom(0, 1);
    const depth = fc.createDepthIdentifier();
    const nodes = fc.letrec<{ top: Node; node: Node; leaf: Node; unary: Node; binary: Node; structural: Node }>(
      (tie) => ({
        // the program itself is never a bare leaf
        top: fc.oneof(
          { depthIdentifier: depth, withCrossShrink: true },
          tie("unary"),
          tie("binary"),
          tie("structural"),
        ),
        node: fc.oneof(
          { maxDepth, depthIdentifier: depth, withCrossShrink: true },
          tie("leaf"),
          tie("unary"),
          tie("binary"),
          tie("structural"),
        ),
        leaf: fc.oneof(
          { weight: 3, arbitrary: fc.constant<Node>({ run: (x) => x, show: "x", consts: [] }) },
          { weight: 1, arbitrary: constArr.map((c): Node => ({ run: (_x, cs) => cs[0]!, show: "c0", consts: [c] })) },
        ),
        unary: fc
          .tuple(fc.constantFrom(...UNARY), tie("node"))
          .map(([[name, g], a]) =>
            combine([a], ([ra], [sa]) => ({ run: (x, c) => g(ra!(x, c)), show: fill(name, [sa!]), consts: [] })),
          ),
        binary: fc.tuple(fc.constantFrom(...BINARY), tie("node"), tie("node")).map(([[name, g], a, b]) =>
          combine([a, b], ([ra, rb], [sa, sb]) => ({
            run: (x, c) => g(ra!(x, c), rb!(x, c)),
            show: fill(name, [sa!, sb!]),
            consts: [],
          })),
        ),
        structural: fc.oneof(
          // keepdims reductions broadcast back to [m, n]
          fc.tuple(fc.constantFrom("sum", "mean", "prod", "logsumexp"), axis, tie("node")).map(([op, ax, a]) =>
            combine([a], ([ra], [sa]) => ({
              run: (x, c) => {
                const v = ra!(x, c);
                const r =
                  op === "sum"
                    ? nb.sum(v, ax, true)
                    : op === "mean"
                      ? nb.mean(v, ax, true)
                      : op === "prod"
                        ? nb.prod(v, ax, true)
                        : nb.logsumexp(v, ax, true);
                return nb.broadcastTo(r, shape);
              },
              show: `broadcastTo(${op}(${sa}, axis=${ax}, keepdims), [${shape}])`,
              consts: [],
            })),
          ),
          fc.tuple(fc.constantFrom("softmax", "logSoftmax"), axis, tie("node")).map(([op, ax, a]) =>
            combine([a], ([ra], [sa]) => ({
              run: (x, c) => (op === "softmax" ? nb.softmax(ra!(x, c), ax) : nb.logSoftmax(ra!(x, c), ax)),
              show: `${op}(${sa}, axis=${ax})`,
              consts: [],
            })),
          ),
          tie("node").map((a) =>
            combine([a], ([ra], [sa]) => ({
              run: (x, c) => nb.transpose(nb.reshape(ra!(x, c), [n, m])),
              show: `transpose(reshape(${sa}, [${n},${m}]))`,
              consts: [],
            })),
          ),
          fc.tuple(tie("node"), tie("node"), tie("node")).map(([a, b, d]) =>
            combine([a, b, d], ([ra, rb, rd], [sa, sb, sd]) => ({
              run: (x, c) => nb.div(nb.matmul(nb.matmul(ra!(x, c), nb.transpose(rb!(x, c))), rd!(x, c)), m * n),
              show: `div(matmul(matmul(${sa}, transpose(${sb})), ${sd}), ${m * n})`,
              consts: [],
            })),
          ),
          fc.tuple(axis, fc.integer({ min: 1, max: maxDim }), tie("node")).map(([ax, k0, a]) => {
            const len = shape[ax]!;
            const k = k0 % len;
            return combine([a], ([ra], [sa]) => ({
              run: (x, c) => {
                const v = ra!(x, c);
                if (k === 0) return v;
                const end = shape.slice();
                const begin = [0, 0];
                end[ax] = len - k;
                begin[ax] = len - k;
                return nb.concatenate([nb.slice(v, begin, shape), nb.slice(v, [0, 0], end)], ax);
              },
              show: `roll(${sa}, ${k}, axis=${ax})`,
              consts: [],
            }));
          }),
          fc
            .tuple(fc.array(fc.boolean(), { minLength: m * n, maxLength: m * n }), tie("node"), tie("node"))
            .map(([mask, a, b]) =>
              combine([a, b], ([ra, rb], [sa, sb]) => {
                const cond = nb.array(mask, { shape });
                return {
                  run: (x, c) => nb.where(cond, ra!(x, c), rb!(x, c)),
                  show: `where([${mask.map((v) => (v ? 1 : 0)).join("")}], ${sa}, ${sb})`,
                  consts: [],
                };
              }),
            ),
        ),
      }),
    );
    return nodes.top.map((node): Program => {
      const consts = node.consts;
      const expr =
        `x: f64[${m},${n}] ↦ ${node.show}` +
        consts.map((c, i) => `\n  c${i} = ${c.toString().replace(/\s+/g, " ")}`).join("");
      const program: Program = {
        f: (x: NDArray) => node.run(x, consts),
        inputShape: shape,
        input: arbArray({ shape, min: -inputBound, max: inputBound }),
        expr,
        toString: () => expr,
      };
      Object.defineProperty(program, fc.toStringMethod, { value: () => expr, enumerable: false });
      return program;
    });
  });
}
