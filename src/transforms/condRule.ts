/**
 * The `cond` primitive, which `cond` stages when its predicate has no
 * concrete value at trace time (under `jit`, `makeGraph`, or a batched
 * predicate under `vmap`). Operands are the predicate, then the constants of
 * both branch graphs, then the operands proper; both branches are
 * closure-converted graphs over that same list (each ignoring the other's
 * constants), so everything a branch reads is an operand every transform sees.
 *
 * - Evaluation runs only the branch the (now concrete) predicate picks.
 * - JVP: the primal outputs are a cond of the branches; the tangents are a
 *   second cond whose branches are the branches' JVPs, linear in the
 *   tangents. Under linearize that second cond lands in the linear graph.
 * - Transpose (of a cond linear in some operands): a cond whose branches are
 *   the VJPs of the branches with respect to those operands, so reverse mode
 *   under `jit` stages a cond in the backward pass too.
 * - Batching: an unbatched predicate gives a cond of batched branches; a
 *   batched one evaluates both branches and selects per example, each branch
 *   seeing every input (operands and closed-over values alike) only where it
 *   is taken (elsewhere through stopGradient), so the derivative of the
 *   untaken branch — NaN or infinite outside its domain — cannot leak.
 */
import { DTypeError, NablaError, ShapeError, TracerError, at, fmtShape } from "../core/errors.js";
import { DType, isFloat } from "../core/dtype.js";
import { ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { TreeDef, flatten, unflatten } from "../core/pytree.js";
import { Graph, Var, evalGraph, outAval, stageClosed } from "../core/graph.js";
import { Aval, BatchResult, Dim, LinearIn, Rule, Tracer, avalOf, bind } from "../core/trace.js";
import { shapesEqual } from "../core/shape.js";
import { moveToFront } from "../prims/batching.js";
import { astype, reshape, stopGradient, where, zeros } from "../ops/index.js";
import { asArray } from "../ops/operand.js";
import { Plan, compile } from "./plan.js";
import { jvpFlat } from "./jvp.js";
import { linearizeFlat, orZeros, transposeGraph } from "./linearize.js";
import { vmapFlat } from "./vmap.js";
import { flattenToArrays, toLeaf } from "./common.js";

export interface CondParams {
  /** The branch taken when the predicate is false, as a closed graph over the operands after the predicate. */
  whenFalse: Graph;
  /** The branch taken when the predicate is true (same input and output avals as `whenFalse`). */
  whenTrue: Graph;
}

type FlatFn = (xs: NDArray[]) => NDArray[];

const fmtA = (a: Aval): string => `${a.dtype}${fmtShape(a.shape)}`;

/**
 * Checks that the two branches' outputs agree leaf for leaf (shape: ShapeError, dtype: DTypeError),
 * naming `op`; returns the avals of the result.
 */
export function agreeingAvals(op: string, onTrue: readonly Aval[], onFalse: readonly Aval[]): Aval[] {
  if (onTrue.length !== onFalse.length)
    throw new ShapeError(`${op}: the branches return ${onTrue.length} and ${onFalse.length} arrays`);
  return onTrue.map((t, i) => {
    const f = at(onFalse, i, op);
    if (!shapesEqual(t.shape, f.shape))
      throw new ShapeError(`${op}: branch outputs differ in shape at leaf ${i}: ${fmtA(t)} and ${fmtA(f)}`);
    if (t.dtype !== f.dtype)
      throw new DTypeError(`${op}: branch outputs differ in dtype at leaf ${i}: ${fmtA(t)} and ${fmtA(f)}`);
    return { shape: t.shape, dtype: t.dtype, weak: t.weak && f.weak };
  });
}

/**
 * Stages both branches (flat functions) on inputs of the given avals and closure-converts them over one
 * operand list: `[...falseConsts, ...trueConsts, ...inputs]`. Returns the parameters and the constants.
 */
export function closeBranches(onFalse: FlatFn, onTrue: FlatFn, avals: readonly Aval[]): [CondParams, NDArray[]] {
  return joinBranches(stageClosed(onFalse, avals, "cond"), stageClosed(onTrue, avals, "cond"));
}

/** Two closed branch graphs (each with its constants) as one cond over `[...falseConsts, ...trueConsts, ...]`. */
function joinBranches([gf, cf]: [Graph, NDArray[]], [gt, ct]: [Graph, NDArray[]]): [CondParams, NDArray[]] {
  const unused = (cs: NDArray[]): Var[] => cs.map((c) => new Var(avalOf(c), -1));
  const own = (g: Graph, n: number): [Var[], Var[]] => [g.inVars.slice(0, n), g.inVars.slice(n)];
  const [fc, fx] = own(gf, cf.length);
  const [tc, tx] = own(gt, ct.length);
  const whenFalse = new Graph([...fc, ...unused(ct), ...fx], [], [], gf.equations, gf.outs);
  const whenTrue = new Graph([...unused(cf), ...tc, ...tx], [], [], gt.equations, gt.outs);
  agreeingAvals(
    "cond",
    whenTrue.outs.map((v) => outAval(v, "cond")),
    whenFalse.outs.map((v) => outAval(v, "cond")),
  );
  return [{ whenFalse, whenTrue }, [...cf, ...ct]];
}

const PLANS = new WeakMap<Graph, Plan>();

function truth(pred: ConcreteArray): boolean {
  return storageOf(pred)[0] !== 0;
}

/** The highest trace level among the tracers of `xs` (-1 when none is a tracer). */
export const levelOf = (xs: readonly (NDArray | null)[]): number =>
  Math.max(-1, ...xs.map((x) => (x instanceof Tracer ? x.trace.main.level : -1)));

/** The branch a predicate picks when it has a concrete value now; null when it is traced. */
export function knownBranch(pred: NDArray, p: CondParams): Graph | null {
  try {
    const c = pred.concrete("cond");
    // a predicate on a device is not read synchronously: treated as unknown, the cond runs by transfer
    if (c.device !== "cpu") return null;
    return truth(c) ? p.whenTrue : p.whenFalse;
  } catch (e) {
    if (e instanceof TracerError) return null;
    throw e;
  }
}

/** Input lists as a branch graph sees them (`vals` at positions `pos`, `base` elsewhere). */
function merged<T>(base: readonly T[], pos: readonly number[], vals: readonly T[]): T[] {
  const out = base.slice();
  pos.forEach((i, k) => (out[i] = at(vals, k, "cond")));
  return out;
}

/** `n` entries: `vals` at positions `pos`, null elsewhere. */
const spread = (n: number, pos: readonly number[], vals: readonly NDArray[]): (NDArray | null)[] =>
  merged<NDArray | null>(new Array<null>(n).fill(null), pos, vals);

const zerosOf = (a: Aval): NDArray => zeros(a.shape.slice(), { dtype: a.dtype });

/** vmap of a flat function over the operands with a batch axis (`dims`); the others are closed over. */
function vmapSome(f: FlatFn, args: readonly NDArray[], dims: readonly Dim[]): NDArray[] {
  const pos: number[] = [];
  const moved: NDArray[] = [];
  dims.forEach((d, i) => {
    if (d === null) return;
    pos.push(i);
    moved.push(moveToFront(at(args, i, "cond"), d));
  });
  return vmapFlat((bs) => f(merged(args, pos, bs)), moved);
}

/** Reverse mode over flat lists: the cotangents of the inputs (of a branch). */
function vjpFlat(f: FlatFn, primals: NDArray[], cts: (NDArray | null)[]): NDArray[] {
  return orZeros(transposeGraph(linearizeFlat(f, primals, "cond").graph, cts), primals);
}

export const COND: Rule<CondParams> & Required<Pick<Rule<CondParams>, "jvpFull">> = {
  name: "cond",
  abstractEval(avals: Aval[], p: CondParams): Aval[] {
    const pred = at(avals, 0, "cond");
    if (pred.shape.some((d) => d !== 1))
      throw new ShapeError(`cond: the predicate must have one element, got shape ${fmtShape(pred.shape)}`);
    const xs = avals.slice(1);
    for (const g of [p.whenFalse, p.whenTrue])
      if (
        g.inVars.length !== xs.length ||
        g.inVars.some((v, i) => {
          const x = at(xs, i, "cond");
          return v.aval.dtype !== x.dtype || !shapesEqual(v.aval.shape, x.shape);
        })
      )
        throw new ShapeError(
          `cond: the branches take (${g.inVars.map((v) => fmtA(v.aval)).join(", ")}), got (${xs.map(fmtA).join(", ")})`,
        );
    return agreeingAvals(
      "cond",
      p.whenTrue.outs.map((v) => outAval(v, "cond")),
      p.whenFalse.outs.map((v) => outAval(v, "cond")),
    );
  },
  // only the branch the predicate picks runs, as a compiled plan (fused elementwise loops, as jit's)
  impl(xs: ConcreteArray[], p: CondParams): ConcreteArray[] {
    const g = truth(at(xs, 0, "cond")) ? p.whenTrue : p.whenFalse;
    let plan = PLANS.get(g);
    if (plan === undefined) PLANS.set(g, (plan = compile(g)));
    return plan.run(xs.slice(1)) as ConcreteArray[];
  },
  jvp(primals: NDArray[], tangents: (NDArray | null)[], _o: NDArray[], p: CondParams): (NDArray | null)[] {
    return COND.jvpFull(primals, tangents, p)[1];
  },
  // d cond(p, f, g)(x) = cond(p, df(x), dg(x)), a cond whose branches are the branches' JVPs. Tangents from
  // a higher level than the primals (linearize) get a cond of their own, linear in them, so that only it is
  // recorded in the linear graph and the primal outputs stay at the primals' level.
  jvpFull(primals: NDArray[], tangents: (NDArray | null)[], p: CondParams): [NDArray[], (NDArray | null)[]] {
    const pred = at(primals, 0, "cond");
    const xs = primals.slice(1);
    // a predicate known now (e.g. grad(jit(f))): the derivative is the taken branch's
    const known = knownBranch(pred, p);
    if (known !== null) return jvpFlat((zs) => evalGraph(known, zs), xs, tangents.slice(1));
    const ts = tangents.slice(1);
    const nz: number[] = [];
    const nzTs: NDArray[] = [];
    ts.forEach((t, i) => {
      if (t === null) return;
      nz.push(i);
      nzTs.push(t);
    });
    const outAvals = p.whenTrue.outs.map((v) => outAval(v, "cond"));
    const floatOut = outAvals.flatMap((a, j) => (isFloat(a.dtype) ? [j] : []));
    if (nz.length === 0 || floatOut.length === 0) return [bind(COND, primals, p), outAvals.map(() => null)];
    const joint = levelOf(ts) <= levelOf(primals);
    const n = xs.length;
    const jvpOf =
      (g: Graph): FlatFn =>
      (ys) => {
        const [po, to] = jvpFlat((zs) => evalGraph(g, zs), ys.slice(0, n), spread(n, nz, ys.slice(n)));
        const touts = floatOut.map((j) => to[j] ?? zerosOf(avalOf(at(po, j, "cond"))));
        return joint ? [...po, ...touts] : touts;
      };
    const avals = [...xs.map(avalOf), ...nzTs.map((t) => ({ ...avalOf(t), weak: false }))];
    const [q, consts] = closeBranches(jvpOf(p.whenFalse), jvpOf(p.whenTrue), avals);
    const r = bind(COND, [pred, ...consts, ...xs, ...nzTs], q);
    const outs = joint ? r.slice(0, outAvals.length) : bind(COND, primals, p);
    const touts = joint ? r.slice(outAvals.length) : r;
    const full: (NDArray | null)[] = outAvals.map(() => null);
    floatOut.forEach((j, k) => (full[j] = at(touts, k, "cond")));
    return [outs, full];
  },
  // a cond linear in the operands marked LinearIn: cond(p, f, g)ᵀ = cond(p, fᵀ, gᵀ), each branch's
  // transpose being its VJP with respect to those operands (at zero: the branch is linear in them)
  transpose(cts: (NDArray | null)[], args: (NDArray | LinearIn)[], p: CondParams): (NDArray | null)[] {
    const pred = at(args, 0, "cond");
    if (pred instanceof LinearIn) throw new ShapeError("cond: the predicate cannot be linear");
    const rest = args.slice(1);
    const lin = rest.flatMap((a, i) => (a instanceof LinearIn ? [i] : []));
    const fixedAt = rest.flatMap((a, i) => (a instanceof LinearIn ? [] : [i]));
    const fixed = rest.flatMap((a) => (a instanceof LinearIn ? [] : [a]));
    const outAvals = p.whenTrue.outs.map((v) => ({ ...outAval(v, "cond"), weak: false }));
    const linAvals = rest.flatMap((a) => (a instanceof LinearIn ? [a.aval] : []));
    const nf = fixed.length;
    const vjpOf =
      (g: Graph): FlatFn =>
      (ys) => {
        const base = spread(rest.length, fixedAt, ys.slice(0, nf));
        return vjpFlat(
          (ls) => evalGraph(g, merged<NDArray | null>(base, lin, ls) as NDArray[]),
          linAvals.map(zerosOf),
          ys.slice(nf),
        );
      };
    const ctsIn = cts.map((c, j) => c ?? zerosOf(at(outAvals, j, "cond")));
    const known = knownBranch(pred, p);
    let r: NDArray[];
    if (known !== null) r = vjpOf(known)([...fixed, ...ctsIn]);
    else {
      const [q, consts] = closeBranches(vjpOf(p.whenFalse), vjpOf(p.whenTrue), [...fixed.map(avalOf), ...outAvals]);
      r = bind(COND, [pred, ...consts, ...fixed, ...ctsIn], q);
    }
    const out: (NDArray | null)[] = args.map(() => null);
    lin.forEach((i, k) => (out[i + 1] = at(r, k, "cond")));
    return out;
  },
  vmap(args: NDArray[], dims: Dim[], p: CondParams): BatchResult {
    const pred = at(args, 0, "cond");
    const xs = args.slice(1);
    const xdims = dims.slice(1);
    const n = p.whenTrue.outs.length;
    if (dims[0] === null) {
      const known = knownBranch(pred, p);
      if (known !== null) return [vmapSome((zs) => evalGraph(known, zs), xs, xdims), new Array<Dim>(n).fill(0)];
      // one predicate for the whole batch: a cond of the batched branches
      const batched =
        (g: Graph): FlatFn =>
        (ys) =>
          vmapSome((zs) => evalGraph(g, zs), ys, xdims);
      const [q, consts] = closeBranches(batched(p.whenFalse), batched(p.whenTrue), xs.map(avalOf));
      return [bind(COND, [pred, ...consts, ...xs], q), new Array<Dim>(n).fill(0)];
    }
    // a predicate per example: both branches, selected; each sees its inputs only where it is taken
    const outs = vmapSome(
      (ys) => {
        const on = reshape(at(ys, 0, "cond"), []);
        const zs = ys.slice(1);
        const seen = (taken: boolean): NDArray[] =>
          zs.map((z) => {
            if (!isFloat(z.dtype)) return z;
            const held = stopGradient(z);
            return taken ? where(on, z, held) : where(on, held, z);
          });
        const t = evalGraph(p.whenTrue, seen(true));
        const f = evalGraph(p.whenFalse, seen(false));
        return t.map((ti, j) => where(on, ti, at(f, j, "cond")));
      },
      args,
      dims,
    );
    return [outs, new Array<Dim>(n).fill(0)];
  },
};

// ---------------------------------------------------------------------------
// the user-facing entry points (called by `cond` in control.ts)

type Branch = (...operands: never[]) => unknown;

/** A branch's output leaves; bare JS numbers are weakly typed, as everywhere else. */
function branchLeaves(out: unknown): [NDArray[], TreeDef] {
  const [ls, def] = flatten(out);
  return [ls.map((l) => (typeof l === "number" ? asArray(l) : toLeaf(l, "cond"))), def];
}

function sameStructure(onTrue: TreeDef, onFalse: TreeDef): void {
  if (!onTrue.equals(onFalse))
    throw new ShapeError(`cond: the branches return different structures: ${onTrue} and ${onFalse}`);
}

/**
 * The dtype each branch's leaves must be converted to so the branches agree (null: none), promoting a
 * weakly typed leaf (a bare JS number) to the other branch's dtype; throws when they cannot agree.
 */
function reconcile(onTrue: readonly Aval[], onFalse: readonly Aval[]): [(DType | null)[], (DType | null)[]] {
  const toT: (DType | null)[] = [];
  const toF: (DType | null)[] = [];
  const t2 = onTrue.map((t, i) => {
    const f = onFalse[i];
    const conv = f !== undefined && t.dtype !== f.dtype && t.weak && !f.weak;
    toT.push(conv ? f.dtype : null);
    return conv ? { ...t, dtype: f.dtype, weak: false } : t;
  });
  const f2 = onFalse.map((f, i) => {
    const t = t2[i];
    const conv = t !== undefined && t.dtype !== f.dtype && f.weak && !t.weak;
    toF.push(conv ? t.dtype : null);
    return conv ? { ...f, dtype: t.dtype, weak: false } : f;
  });
  agreeingAvals("cond", t2, f2);
  return [toT, toF];
}

const converted = (xs: readonly NDArray[], to: readonly (DType | null)[]): NDArray[] =>
  xs.map((x, i) => (to[i] ? astype(x, to[i]) : x));

/**
 * `cond` with a predicate that has no concrete value: stages both branches over the operands' avals and
 * binds the cond primitive (only the taken branch runs once the predicate is known).
 */
export function stagedCond(pred: NDArray, trueFn: Branch, falseFn: Branch, operands: unknown[]): unknown {
  const [xs, xdef] = flattenToArrays(operands, "cond");
  const avals = xs.map(avalOf);
  const defs: TreeDef[] = [];
  const stage = (fn: Branch, to: readonly (DType | null)[] | null) =>
    stageClosed(
      (ys) => {
        const [outs, d] = branchLeaves(fn(...(unflatten(xdef, ys) as never[])));
        defs.push(d);
        return to === null ? outs : converted(outs, to);
      },
      avals,
      "cond",
    );
  let st = stage(trueFn, null);
  let sf = stage(falseFn, null);
  sameStructure(at(defs, 0, "cond"), at(defs, 1, "cond"));
  const outAvals = (g: Graph) => g.outs.map((v) => outAval(v, "cond"));
  const [toT, toF] = reconcile(outAvals(st[0]), outAvals(sf[0]));
  // a bare number in one branch against an array in the other: restage with the conversion
  if (toT.some((d) => d !== null)) st = stage(trueFn, toT);
  if (toF.some((d) => d !== null)) sf = stage(falseFn, toF);
  const [q, consts] = joinBranches(sf, st);
  return unflatten(at(defs, 0, "cond"), bind(COND, [pred, ...consts, ...xs], q));
}

/**
 * `cond` with a concrete predicate: runs the taken branch; the other is staged abstractly (never evaluated
 * on the operands) to check that both agree in structure, shapes and dtypes. An untaken branch that
 * cannot be staged (it reads a concrete value) throws TracerError naming cond.
 */
export function concreteCond(on: boolean, trueFn: Branch, falseFn: Branch, operands: unknown[]): unknown {
  const out = (on ? trueFn : falseFn)(...(operands as never[]));
  let xs: NDArray[];
  let xdef: TreeDef;
  let leaves: NDArray[];
  let def: TreeDef;
  try {
    [xs, xdef] = flattenToArrays(operands, "cond");
    [leaves, def] = branchLeaves(out);
  } catch (e) {
    // operands or outputs that are not pytrees of arrays: nothing to compare (a dead tracer still throws)
    if (e instanceof NablaError && !(e instanceof TracerError)) return out;
    throw e;
  }
  let other: [Graph, NDArray[]];
  let odef = null as TreeDef | null;
  try {
    other = stageClosed(
      (ys) => {
        const [o, d] = branchLeaves((on ? falseFn : trueFn)(...(unflatten(xdef, ys) as never[])));
        odef = d;
        return o;
      },
      xs.map(avalOf),
      "cond",
    );
  } catch (e) {
    // the untaken branch needs concrete values (item(), valueOf(), JS control flow on them): it cannot be
    // checked abstractly, and API.md's "cond checks both branches whatever the predicate" would not hold;
    // as jax.lax.cond (which traces both branches), that is an error
    if (e instanceof TracerError) {
      const which = on ? "falseFn" : "trueFn";
      throw new TracerError(
        `cond: the branch not taken (${which}) cannot be traced to check it against the taken one: ${e.message}. ` +
          `Both branches must be traceable whatever the predicate (no item(), valueOf(), toArray() or JS ` +
          `comparisons of their operands); compute concrete values outside cond, or use a JS if`,
      );
    }
    throw e;
  }
  if (odef === null) throw new NablaError("cond: internal: the branch not taken was not staged");
  sameStructure(on ? def : odef, on ? odef : def);
  const mine = leaves.map(avalOf);
  const theirs = other[0].outs.map((v) => outAval(v, "cond"));
  const [toT, toF] = on ? reconcile(mine, theirs) : reconcile(theirs, mine);
  const to = on ? toT : toF;
  return to.every((d) => d === null) ? out : unflatten(def, converted(leaves, to));
}
