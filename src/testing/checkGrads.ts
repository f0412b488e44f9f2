/**
 * `checkGrads`, after JAX's `jax.test_util.check_grads`: at every order it
 * checks forward mode against central differences and reverse mode through
 * the adjoint identity ⟨ct, J·t⟩ = ⟨Jᵀ·ct, t⟩, then recurses on the JVP
 * function and on the VJP function.
 */
import { at as elementAt, fmtValue } from "../core/errors.js";
import { readOptions } from "../core/options.js";
import { fnArg, flattenToArrays, listArg, requireFloat } from "../transforms/common.js";
import * as nb from "../index.js";
import type { ArraysOf } from "../index.js";
import { flatArrays, fmt, fmtShape, values } from "./common.js";
import { numericalJvpFlat } from "./numerical.js";
import { Rng } from "./rng.js";
import { ADJOINT_RTOL, DEFAULTS, UNIT_ROUNDOFF, isFloatDType, workingDType } from "./tolerances.js";

type NDArray = nb.NDArray;

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
    const vb = values(elementAt(b, i, "checkGrads"));
    for (let k = 0; k < va.length; k++) {
      value += elementAt(va, k, "checkGrads") * elementAt(vb, k, "checkGrads");
      scale += Math.abs(elementAt(va, k, "checkGrads") * elementAt(vb, k, "checkGrads"));
    }
  });
  return { value, scale };
}

/**
 * The primal output a transform computed (`jvp`'s or `vjp`'s first result) must equal `g` called
 * plainly: a `customJvp` rule or `customVjp` forward pass whose primal differs from `f` is a bug that
 * no derivative comparison sees. Compared within the level's tolerances (the rule may round
 * differently from `f`); non-finite values must agree exactly.
 */
function checkPrimal(
  plain: readonly [NDArray[], nb.tree.TreeDef],
  out: unknown,
  tol: Tol,
  mode: "fwd" | "rev",
  at: { order: number; total: number; path: readonly ("fwd" | "rev")[] },
): void {
  const { order, total, path } = at;
  const who = mode === "fwd" ? "jvp" : "vjp";
  const [want, wdef] = plain;
  const [got, gdef] = flatArrays(out, "checkGrads");
  if (!gdef.equals(wdef))
    fail(order, total, mode, path, `the primal output of ${who} has structure ${gdef}, the function's ${wdef}`);
  got.forEach((x, i) => {
    const w = elementAt(want, i, "checkGrads");
    if (x.dtype !== w.dtype || !sameShape(x.shape, w.shape))
      fail(
        order,
        total,
        mode,
        path,
        `primal output leaf ${i} of ${who} is ${x.dtype}${fmtShape(x.shape)}, the function gives ${w.dtype}${fmtShape(w.shape)} (a custom rule's primal differs from f?)`,
      );
    const vx = values(x);
    const vw = values(w);
    for (let k = 0; k < vx.length; k++) {
      const bound = tol.atol + tol.rtol * Math.abs(elementAt(vw, k, "checkGrads"));
      if (excessOf(elementAt(vx, k, "checkGrads"), elementAt(vw, k, "checkGrads"), bound) > 1)
        fail(
          order,
          total,
          mode,
          path,
          `the primal output of ${who} differs from the function's at output leaf ${i}, flat index ${k}: ` +
            `${vx[k]} vs ${vw[k]} (tolerance ${fmt(bound)}; a custom rule's primal differs from f?)`,
        );
    }
  });
}

/** Whether two shapes are equal. */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

/**
 * The arguments' array leaves, random tangents like them, and the tangents as a tree like `args`.
 * With `eps`, the tangents are fitted so the central-difference steps are exact: each t becomes
 * (fl(p + ε·t) − p) / ε, so p ± ε·t and p ± 2ε·t are the points the quotient divides by 2ε for.
 * Without it the step is rounded to p's grid (ulp(1e8) ≈ 1.5e-8 against ε = 1e-5) and a correct
 * derivative fails (x − 1e8 did).
 */
function randomTangents(
  ctx: Ctx,
  args: readonly unknown[],
  eps?: number,
  leaves: readonly [NDArray[], nb.tree.TreeDef] = flatArrays(args, "checkGrads", "the arguments"),
): { ps: NDArray[]; ts: NDArray[]; tangents: unknown[] } {
  const [ps, pdef] = leaves;
  const ts = ps.map((p) => {
    const t = ctx.rng.like(p);
    if (eps === undefined || !isFloatDType(p.dtype)) return t;
    return nb.div(nb.sub(nb.add(p, nb.mul(t, eps)), p), eps);
  });
  return { ps, ts, tangents: nb.tree.unflatten(pdef, ts) as unknown[] };
}

/** Where a check runs: the derivative order, how many there are, the modes that led here, the dtype floor. */
interface Where {
  readonly order: number;
  readonly total: number;
  readonly path: readonly ("fwd" | "rev")[];
  readonly floor: FloatDType;
}

function checkJvpAt(ctx: Ctx, g: (...args: any[]) => unknown, args: readonly unknown[], where: Where): FloatDType {
  const { order, total, path, floor } = where;
  // the plain output first: its dtypes set the tolerances and the step, which the tangents are fitted to
  const plain = flatArrays(g(...args), "checkGrads", "the output");
  const leaves = flatArrays(args, "checkGrads", "the arguments");
  const tol = tolFor(ctx, [...leaves[0], ...plain[0]], floor);
  const { tangents } = randomTangents(ctx, args, tol.eps, leaves);
  const [out, tout] = nb.jvp(g, args, tangents);
  const [touts, tdef] = flatArrays(tout, "checkGrads");
  checkPrimal(plain, out, tol, "fwd", { order, total, path });
  const num = numericalJvpFlat(g, args, tangents, tol.eps, tol.u, "checkGrads");
  if (!tdef.equals(num.def))
    fail(order, total, "fwd", path, `the JVP returned structure ${tdef}, the function ${num.def}`);
  let worst = { excess: -Infinity, err: 0, bound: 0, leaf: 0, index: 0, got: 0, want: 0 };
  touts.forEach((t, i) => {
    const n = elementAt(num.leaves, i, "checkGrads");
    if (!sameShape(t.shape, n.shape))
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
    const unc = elementAt(num.uncertainty, i, "checkGrads");
    for (let k = 0; k < vt.length; k++) {
      const err = Math.abs(elementAt(vt, k, "checkGrads") - elementAt(vn, k, "checkGrads"));
      const bound = tol.atol + tol.rtol * Math.abs(elementAt(vn, k, "checkGrads")) + elementAt(unc, k, "checkGrads");
      const excess = excessOf(elementAt(vt, k, "checkGrads"), elementAt(vn, k, "checkGrads"), bound);
      if (excess > worst.excess)
        worst = {
          excess,
          err,
          bound,
          leaf: i,
          index: k,
          got: elementAt(vt, k, "checkGrads"),
          want: elementAt(vn, k, "checkGrads"),
        };
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

function checkVjpAt(ctx: Ctx, g: (...args: any[]) => unknown, args: readonly unknown[], where: Where): FloatDType {
  const { order, total, path, floor } = where;
  const plain = flatArrays(g(...args), "checkGrads", "the output");
  const leaves = flatArrays(args, "checkGrads", "the arguments");
  const tol = tolFor(ctx, [...leaves[0], ...plain[0]], floor);
  const { ps, ts, tangents } = randomTangents(ctx, args, tol.eps, leaves);
  const [out, pull] = nb.vjp(g, ...args);
  const [outs, odef] = flatArrays(out, "checkGrads");
  const cts = outs.map((o) => ctx.rng.like(o));
  const ctIn = pull(nb.tree.unflatten(odef, cts));
  const [ctLeaves] = flatArrays(ctIn, "checkGrads");
  checkPrimal(plain, out, tol, "rev", { order, total, path });
  if (ctLeaves.length !== ts.length)
    fail(order, total, "rev", path, `the VJP returned ${ctLeaves.length} cotangent leaves for ${ts.length} inputs`);
  ctLeaves.forEach((c, i) => {
    const p = elementAt(ps, i, "checkGrads");
    if (!sameShape(c.shape, p.shape))
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
  const num = numericalJvpFlat(g, args, tangents, tol.eps, tol.u, "checkGrads");
  const rhs = inner(cts, num.leaves);
  let noise = 0;
  cts.forEach((c, i) => {
    if (!isFloatDType(c.dtype)) return;
    const vc = values(c);
    const unc = elementAt(num.uncertainty, i, "checkGrads");
    for (let k = 0; k < vc.length; k++)
      noise += Math.abs(elementAt(vc, k, "checkGrads")) * elementAt(unc, k, "checkGrads");
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
    const [touts] = flatArrays(tout, "checkGrads");
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
 * same checks run on the JVP function `(xs, ts) => jvp(f, xs, ts)` at a
 * random tangent and on the VJP function `xs => vjp(f, ...xs)[1](c)` for a
 * fixed random cotangent `c`, recursively (JAX recurses at the tangent `xs`
 * and the cotangent `f(xs)`, which hide every higher derivative at x = 0 or
 * where f(x) = 0). At each
 * level the primal output of `jvp`/`vjp` must also equal the function's own
 * output (a `customJvp`/`customVjp` rule whose primal differs from `f` fails). Throws
 * {@link GradCheckError} naming the order, the mode and the largest error.
 * Tangents and cotangents come from a seeded PRNG, so runs are repeatable.
 * Default tolerances follow the least precise float dtype among the inputs,
 * the outputs and (when `f` can be staged) the values inside `f`. `atol` is
 * absolute: for a function whose derivatives are far below 1 (a 1e-7·sin),
 * pass an `atol` of their scale, or errors of their whole size pass.
 * Bad input throws a NablaError beginning with `checkGrads`: a non-function `f`, non-float
 * arguments, an unknown option key, or an option of the wrong type or range (`modes` must be a
 * non-empty list of distinct "fwd"/"rev", `order` a positive integer, `eps` > 0, `atol`/`rtol` >= 0).
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
  options?: CheckGradsOptions,
): void {
  const opts = checkGradsOptions(options);
  f = fnArg("checkGrads", f);
  listArg("checkGrads", "args", args);
  requireFloat("checkGrads", flattenToArrays(args, "checkGrads", "the arguments")[0], "argument");
  const total = opts.order ?? 2;
  const modes = opts.modes === undefined ? (["fwd", "rev"] as const) : [...opts.modes];
  try {
    checkGradsAt(f, args, opts, total, modes);
  } catch (e) {
    throw renamed(e);
  }
}

/** The option names of {@link checkGrads}. */
const CHECK_GRADS_OPTIONS = ["order", "modes", "eps", "atol", "rtol", "seed"] as const;

/**
 * The options of {@link checkGrads}, read once and checked: no unknown key (a typo such as `tol` would
 * otherwise check with the defaults), `order` a positive integer, `modes` a non-empty list of distinct
 * "fwd"/"rev" (a misspelt or empty list would check nothing and pass), `eps` finite and positive,
 * `atol`/`rtol` finite and non-negative, `seed` a safe integer.
 */
function checkGradsOptions(options: CheckGradsOptions | undefined): CheckGradsOptions {
  const o = readOptions("checkGrads", options, CHECK_GRADS_OPTIONS);
  const { order, modes, eps, atol, rtol, seed } = o as {
    readonly [K in (typeof CHECK_GRADS_OPTIONS)[number]]?: unknown;
  };
  if (order !== undefined && !(typeof order === "number" && Number.isSafeInteger(order) && order >= 1))
    throw new nb.NablaError(`checkGrads: order must be a positive integer, got ${fmtValue(order)}`);
  if (modes !== undefined) {
    // a loop, not `every`: `every` skips the holes of a holey array
    let ok = Array.isArray(modes) && modes.length > 0;
    for (let i = 0; ok && i < (modes as unknown[]).length; i++) {
      const m: unknown = (modes as unknown[])[i];
      ok = Object.hasOwn(modes as object, i) && (m === "fwd" || m === "rev") && (modes as unknown[]).indexOf(m) === i;
    }
    if (!ok)
      throw new nb.NablaError(
        `checkGrads: modes must be a non-empty array of distinct modes "fwd" and "rev", got ${fmtList(modes)}`,
      );
  }
  if (eps !== undefined && !(typeof eps === "number" && Number.isFinite(eps) && eps > 0))
    throw new nb.NablaError(`checkGrads: eps must be a finite number > 0, got ${fmtValue(eps)}`);
  for (const [name, v] of [
    ["atol", atol],
    ["rtol", rtol],
  ] as const)
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0))
      throw new nb.NablaError(`checkGrads: ${name} must be a finite number >= 0, got ${fmtValue(v)}`);
  if (seed !== undefined && !(typeof seed === "number" && Number.isSafeInteger(seed)))
    throw new nb.NablaError(`checkGrads: seed must be an integer, got ${fmtValue(seed)}`);
  return o;
}

/** A short rendering of a modes list for messages: `["fwrd"]`, or the value's description. */
function fmtList(v: unknown): string {
  if (!Array.isArray(v)) return fmtValue(v);
  if (v.length > 4) return fmtValue(v);
  const items: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    items.push(!Object.hasOwn(v, i) ? "(hole)" : typeof x === "string" ? JSON.stringify(x) : fmtValue(x));
  }
  return `[${items.join(", ")}]`;
}

/**
 * The functions checkGrads calls on the user's behalf: their errors (a bad output of f, say) name
 * them, so they are renamed to begin with `checkGrads`. Errors of the operations f itself calls
 * keep their names, and a GradCheckError already begins with `checkGrads`.
 */
const DELEGATES = /^(?:jvp|vjp|tree\.flatten|tree\.unflatten|numericalJvp|nabla\/testing): /;

function renamed(e: unknown): unknown {
  if (!(e instanceof nb.NablaError) || e instanceof GradCheckError || !DELEGATES.test(e.message)) return e;
  const Ctor = e.constructor as new (message: string) => nb.NablaError;
  const out = new Ctor(`checkGrads: ${e.message}`);
  Object.defineProperty(out, "cause", { value: e, configurable: true, writable: true });
  return out;
}

function checkGradsAt(
  f: (...args: any[]) => unknown,
  args: readonly unknown[],
  options: CheckGradsOptions,
  total: number,
  modes: readonly ("fwd" | "rev")[],
): void {
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
      const dt = checkJvpAt(ctx, g, gargs, { order, total, path, floor });
      if (left > 1) {
        const gj = (ps: unknown[], ts: unknown[]): unknown => nb.jvp(g, ps, ts);
        // the next order at a random tangent, not at the primal itself (JAX's check_grads uses the
        // primal: at x = 0 that probes the second derivative along 0 and sees none of it)
        rec(gj, [gargs, randomTangents(ctx, gargs).tangents], left - 1, [...path, "fwd"], dt);
      }
    }
    if (modes.includes("rev")) {
      const dt = checkVjpAt(ctx, g, gargs, { order, total, path, floor });
      if (left > 1) {
        // the next order pulls back a fixed random cotangent, not g's output (JAX's choice), which
        // weights the second derivative by g(x) and hides it where g(x) = 0
        const [out0, def0] = flatArrays(g(...gargs), "checkGrads", "the output");
        const ct = nb.tree.unflatten(
          def0,
          out0.map((o) => (isFloatDType(o.dtype) ? ctx.rng.like(o) : o)),
        );
        const gv = (...xs: unknown[]): unknown => {
          const [, pull] = nb.vjp(g, ...xs);
          return pull(ct);
        };
        rec(gv, gargs, left - 1, [...path, "rev"], dt);
      }
    }
  };
  rec(f, args, total, [], internalPrecision(f, args));
}
