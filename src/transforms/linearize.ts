/**
 * Reverse mode as linearize + transpose. `linearizeFlat` runs the function
 * under a JVP trace whose tangents are variables of a staging trace one level
 * below: primal work happens eagerly (so JS control flow on values works),
 * tangent work is recorded as a linear graph. Transposing that graph gives
 * the VJP; only linear primitives need a transpose rule.
 */
import { NablaError, at } from "../core/errors.js";
import { NDArray } from "../core/ndarray.js";
import { TreeDef, describe, flatten, flattenAs } from "../core/pytree.js";
import { Graph, StagingTrace, StagingTracer, Var } from "../core/graph.js";
import { LinearIn, MainTrace, avalOf, bind, endTrace, linearIn, newTrace } from "../core/trace.js";
import { shapesEqual } from "../core/shape.js";
import { zeros } from "../ops/index.js";
import { add, convert, sumToShape } from "../prims/wrap.js";
import { JVPTrace, JVPTracer, unpackJvp } from "./jvp.js";
import { checkStructure, fnArg, flattenToArrays, matchLeaves, requireFloat, unflatten, zerosAt } from "./common.js";
import type { ArraysOf, Returned, TangentOf } from "../core/types.js";

export interface Linearized {
  primalsOut: NDArray[];
  outDef: TreeDef;
  /** Linear graph from input tangents to output tangents (null outputs are zero). */
  graph: Graph;
  aux: unknown;
}

/** Linearizes `f` (taking and returning flat lists) at `primals`. */
export function linearizeFlat(
  f: (xs: NDArray[]) => unknown,
  primals: readonly NDArray[],
  op: string,
  hasAux = false,
): Linearized {
  const stage = newTrace("linearize", (m: MainTrace) => new StagingTrace(m, op));
  try {
    const np = primals.length;
    const tanIns = new Array<StagingTracer>(np);
    for (let i = 0; i < np; i++) tanIns[i] = stage.newInput(avalOf(at(primals, i, "linearizeFlat")));
    const jt = newTrace("jvp", newJvpTrace);
    let primalsOut: NDArray[];
    let tangentsOut: (NDArray | null)[];
    let outDef: TreeDef;
    let aux: unknown = undefined;
    try {
      const ins = new Array<NDArray>(np);
      for (let i = 0; i < np; i++)
        ins[i] = new JVPTracer(jt, at(primals, i, "linearizeFlat"), at(tanIns, i, "linearizeFlat"));
      let r = f(ins);
      if (hasAux) {
        if (!Array.isArray(r) || r.length !== 2)
          throw new NablaError(`${op}: with hasAux the function must return [output, aux], got ${describe(r)}`);
        aux = mapArrays(r[1], (l) => unpackJvp(jt, l)[0]);
        r = r[0];
      }
      const [outs, def] = flattenToArrays(r, op, "the output");
      outDef = def;
      const no = outs.length;
      primalsOut = new Array<NDArray>(no);
      tangentsOut = new Array<NDArray | null>(no);
      for (let i = 0; i < no; i++) {
        const o = at(outs, i, "linearizeFlat");
        // unpackJvp without its pair
        if (o instanceof JVPTracer && o.trace === jt) {
          primalsOut[i] = o.primal;
          tangentsOut[i] = o.tangent;
        } else {
          primalsOut[i] = o;
          tangentsOut[i] = null;
        }
      }
    } finally {
      endTrace(jt);
    }
    return { primalsOut, outDef, graph: stage.build(tanIns, tangentsOut), aux };
  } finally {
    endTrace(stage);
  }
}

const newJvpTrace = (m: MainTrace): JVPTrace => new JVPTrace(m);

/**
 * Replaces the NDArrays inside arrays and plain objects; any other value passes through unchanged.
 * A value that is a whole pytree is mapped without recursion; otherwise containers are walked
 * (cycles and nesting beyond AUX_WALK_DEPTH stay opaque instead of overflowing the stack).
 */
const AUX_WALK_DEPTH = 1000;
function mapArrays(x: unknown, f: (a: NDArray) => NDArray, seen = new Set<object>()): unknown {
  if (x instanceof NDArray) return f(x);
  if (x === null || typeof x !== "object" || seen.has(x) || seen.size >= AUX_WALK_DEPTH) return x;
  try {
    const [leaves, def] = flatten(x);
    return unflatten(
      def,
      leaves.map((l) => (l instanceof NDArray ? f(l) : l)),
    );
  } catch {
    // not a pytree as a whole: map the parts that are (anything else is opaque)
  }
  seen.add(x);
  try {
    if (Array.isArray(x)) return x.map((e) => mapArrays(e, f, seen));
    if (Object.getPrototypeOf(x) === Object.prototype)
      return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, mapArrays(v, f, seen)]));
    return x;
  } finally {
    seen.delete(x);
  }
}

function fitCt(ct: NDArray, v: Var): NDArray {
  if (!shapesEqual(ct.shape, v.aval.shape)) ct = sumToShape(ct, v.aval.shape);
  if (ct.dtype !== v.aval.dtype) ct = convert(ct, v.aval.dtype);
  return ct;
}

/**
 * Transposes a linear graph: given output cotangents (null = zero), returns
 * input cotangents (null = zero). Runs backwards through the equations with
 * each primitive's transpose rule; iterative, linear in the graph size.
 */
export function transposeGraph(g: Graph, cts: readonly (NDArray | null)[]): (NDArray | null)[] {
  const env = varTable<NDArray>(g);
  const consts = varTable<NDArray>(g);
  const cvs = g.constVars;
  for (let i = 0; i < cvs.length; i++) {
    const v = cvs[i];
    if (v !== undefined) consts.set(v, at(g.consts, i, "vjp"));
  }
  const gouts = g.outs;
  for (let i = 0; i < gouts.length; i++) {
    const v = gouts[i];
    if (v !== null && v !== undefined) accum(env, consts, v, cts[i] ?? null);
  }
  const eqs = g.equations;
  for (let i = eqs.length - 1; i >= 0; i--) {
    const e = eqs[i];
    if (e === undefined) throw new NablaError("vjp: internal: equation index out of range");
    const outs = e.outs;
    const no = outs.length;
    const rule = e.rule;
    const ins = e.inputs;
    const ni = ins.length;
    const op = rule.transposeOperand;
    if (op !== undefined && no === 1 && ni <= 2) {
      // a row of one output and one or two operands: per linear operand, without lists (issue 8)
      const o = outs[0] as Var;
      const ct = env.get(o);
      if (ct === undefined) continue;
      env.delete(o);
      const va = ins[0];
      if (va === undefined) throw new NablaError(`vjp: internal: equation ${e.prim} lost operand 0`);
      const vb = ins[1];
      const ca = consts.get(va);
      const cb = vb === undefined ? undefined : consts.get(vb);
      const a = ca ?? linearIn(va.aval);
      const b = vb === undefined ? undefined : (cb ?? linearIn(vb.aval));
      if (ca === undefined) addCt(env, va, op(ct, 0, a, b, e.params));
      if (vb !== undefined && cb === undefined) addCt(env, vb, op(ct, 1, a, b, e.params));
      continue;
    }
    const ctOut = new Array<NDArray | null>(no);
    let any = false;
    for (let k = 0; k < no; k++) {
      const v = outs[k];
      const c = v === undefined ? null : (env.get(v) ?? null);
      ctOut[k] = c;
      if (c !== null) any = true;
    }
    if (!any) continue;
    for (const v of outs) env.delete(v);
    if (rule.transpose === undefined)
      throw new NablaError(`transpose: primitive ${e.prim} is not linear in its traced operands`);
    const args = new Array<NDArray | LinearIn>(ni);
    for (let j = 0; j < ni; j++) {
      const v = ins[j];
      if (v === undefined) throw new NablaError(`vjp: internal: equation ${e.prim} lost operand ${j}`);
      args[j] = consts.get(v) ?? linearIn(v.aval);
    }
    const ctIn = rule.transpose(ctOut, args, e.params);
    for (let j = 0; j < ni; j++) {
      const v = ins[j];
      if (v !== undefined) accum(env, consts, v, ctIn[j] ?? null);
    }
  }
  const inVars = g.inVars;
  const res = new Array<NDArray | null>(inVars.length);
  for (let i = 0; i < inVars.length; i++) {
    const v = inVars[i];
    res[i] = v === undefined ? null : (env.get(v) ?? null);
  }
  return res;
}

/** Adds cotangent `ct` (null = zero) into `env` for `v`, unless `v` is a constant. */
function accum(env: VarTable<NDArray>, consts: VarTable<NDArray>, v: Var, ct: NDArray | null): void {
  if (consts.get(v) === undefined) addCt(env, v, ct);
}

/** Adds cotangent `ct` (null = zero) into `env` for `v`, a variable known not to be a constant. */
function addCt(env: VarTable<NDArray>, v: Var, ct: NDArray | null): void {
  if (ct === null) return;
  const c = fitCt(ct, v);
  const prev = env.get(v);
  env.set(v, prev === undefined ? c : add(prev, c));
}

/** What transposition needs of a map from variables: get, set and delete. */
interface VarTable<V> {
  get(v: Var): V | undefined;
  set(v: Var, x: V): unknown;
  delete(v: Var): unknown;
}

/** An array indexed by variable id (a graph staged by one trace has dense ids). */
class DenseVarTable<V> implements VarTable<V> {
  private readonly slots: (V | undefined)[];
  constructor(n: number) {
    this.slots = new Array<V | undefined>(n);
  }
  get(v: Var): V | undefined {
    return this.slots[v.id];
  }
  set(v: Var, x: V): void {
    this.slots[v.id] = x;
  }
  delete(v: Var): void {
    this.slots[v.id] = undefined;
  }
}

/** A table of the variables of `g`: an array indexed by id when one trace staged it, else a Map. */
function varTable<V>(g: Graph): VarTable<V> {
  const n = g.idBound;
  return n === undefined ? new Map<Var, V>() : new DenseVarTable<V>(n);
}

/** Evaluates a linear graph forward on tangents (null = zero), keeping zeros symbolic where it can. */
export function evalLinear(g: Graph, tangents: readonly (NDArray | null)[]): (NDArray | null)[] {
  const env = new Map<Var, NDArray | null>();
  g.constVars.forEach((v, i) => env.set(v, at(g.consts, i, "linearize")));
  g.inVars.forEach((v, i) => env.set(v, tangents[i] ?? null));
  const isConst = new Set(g.constVars);
  for (const e of g.equations) {
    const ins = e.inputs.map((v) => env.get(v) ?? null);
    const linear = e.inputs.map((v) => !isConst.has(v));
    if (e.inputs.every((v, j) => !linear[j] || ins[j] === null)) {
      e.outs.forEach((v) => env.set(v, null));
      continue;
    }
    const args = ins.map(
      (x, j) => x ?? zeros(at(e.inputs, j, "linearize").aval.shape, { dtype: at(e.inputs, j, "linearize").aval.dtype }),
    );
    const outs = bind(e.rule, args, e.params);
    e.outs.forEach((v, i) => env.set(v, at(outs, i, "linearize")));
  }
  return g.outs.map((v) => (v === null ? null : (env.get(v) ?? null)));
}

/** Materialises symbolic zeros (where `like` lives). */
export function orZeros(xs: readonly (NDArray | null)[], like: readonly NDArray[]): NDArray[] {
  return xs.map((x, i) => x ?? zerosAt(at(like, i, "orZeros")));
}

/**
 * Linearizes `f` at `primals`: `[f(...primals), jvpFn]`, where
 * `jvpFn(...tangents)` applies the Jacobian without re-running `f`.
 * @example
 * const [y, fJvp] = nb.linearize(nb.sin, 0.5);
 * fJvp(1); // cos(0.5)
 */
export function linearize<P extends unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<P>>) => R,
  ...primals: P
): [ArraysOf<R>, (...tangents: TangentOf<P>) => ArraysOf<R>] {
  f = fnArg("linearize", f);
  const [ps, pdef] = flattenToArrays(primals, "linearize");
  requireFloat("linearize", ps);
  const lin = linearizeFlat((xs) => f(...(unflatten(pdef, xs) as ArraysOf<P>)), ps, "linearize");
  const jvpFn = (...tangents: TangentOf<P>): ArraysOf<R> => {
    const [traw, tdef] = flattenAs(tangents, "linearize", "the tangents");
    checkStructure("linearize", "tangents", pdef, tdef);
    const ts = matchLeaves("linearize", "tangent", ps, traw);
    const outs = evalLinear(lin.graph, ts);
    return unflatten(lin.outDef, orZeros(outs, lin.primalsOut)) as ArraysOf<R>;
  };
  return [unflatten(lin.outDef, lin.primalsOut) as ArraysOf<R>, jvpFn];
}
