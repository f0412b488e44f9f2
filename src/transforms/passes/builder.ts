/**
 * What the optimisation passes share: a builder that emits the equations of
 * a new graph (fresh variables, constants deduplicated, optional
 * hash-consing), and dead-code elimination.
 */
import { at } from "../../core/errors.js";
import { Equation, Graph, Var, isLiteral, paramsKey } from "../../core/graph.js";
import { ConcreteArray, NDArray, deviceStorageOf, storageOf } from "../../core/ndarray.js";
import type { Rule } from "../../core/trace.js";

/** Emits a graph equation by equation; `cse` merges equations with the same primitive, operands and parameters. */
export class Builder {
  readonly equations: Equation[] = [];
  readonly constVars: Var[] = [];
  readonly consts: NDArray[] = [];
  private nextId: number;
  private readonly constOf = new Map<NDArray, Var>();
  private readonly literalOf = new Map<string, Var>();
  private readonly seen = new Map<string, readonly Var[]>();
  /** The constant behind a variable of this builder (inputs and equation outputs have none). */
  readonly valueOf = new Map<Var, NDArray>();

  constructor(
    g: Graph,
    private readonly cse = false,
  ) {
    let max = -1;
    const see = (v: Var | null) => {
      if (v !== null && v.id > max) max = v.id;
    };
    g.inVars.forEach(see);
    g.constVars.forEach(see);
    g.outs.forEach(see);
    for (const e of g.equations) e.outs.forEach(see);
    this.nextId = max + 1;
  }

  /** A variable for a constant (scalar literals of equal dtype, weak type and value share one). */
  constant(x: NDArray): Var {
    const hit = this.constOf.get(x);
    if (hit) return hit;
    let key: string | null = null;
    // (a device array's elements cannot be read synchronously: it is never shared as a literal)
    if (isLiteral(x) && deviceStorageOf(x) === null) {
      key = `${x.dtype}|${x.weakType}|${Object.is(storageOf(x)[0], -0) ? "-0" : storageOf(x)[0]}`;
      const lit = this.literalOf.get(key);
      if (lit) return lit;
    }
    const v = new Var({ shape: x.shape.slice(), dtype: x.dtype, weak: x.weakType }, this.nextId++);
    this.constVars.push(v);
    this.consts.push(x);
    this.constOf.set(x, v);
    this.valueOf.set(v, x);
    if (key !== null) this.literalOf.set(key, v);
    return v;
  }

  /** Keeps a constant variable of the source graph as it is. */
  keepConstant(v: Var, x: NDArray): Var {
    if (!isLiteral(x) && !this.constOf.has(x)) {
      this.constVars.push(v);
      this.consts.push(x);
      this.constOf.set(x, v);
      this.valueOf.set(v, x);
      return v;
    }
    return this.constant(x);
  }

  /** Emits `prim[params](inputs)` (or finds the equal equation emitted before, with cse on) and returns its outputs. */
  emit(rule: Rule, inputs: readonly Var[], params: unknown): readonly Var[] {
    return this.push(rule, inputs, params, null);
  }

  /** {@link emit} for a primitive with one output: that output. */
  emit1(rule: Rule, inputs: readonly Var[], params: unknown): Var {
    return at(this.push(rule, inputs, params, null), 0, "jit");
  }

  /** Emits equation `e` of the source graph on new operands, keeping its output variables (unless merged by cse). */
  emitAs(e: Equation, inputs: readonly Var[]): readonly Var[] {
    return this.push(e.rule, inputs, e.params, e.outs);
  }

  private push(rule: Rule, inputs: readonly Var[], params: unknown, reuse: readonly Var[] | null): readonly Var[] {
    let key: string | null = null;
    // effects are never merged: two equal debug callbacks are two calls
    if (this.cse && rule.effect !== true) {
      const ids = inputs.map((v) => v.id);
      // commutative primitives: canonical operand order (same broadcast result either way)
      if (rule.commutative && ids.length === 2 && at(ids, 0, "Builder") > at(ids, 1, "Builder")) ids.reverse();
      key = `${rule.name}|${ids.join(",")}|${paramsKey(params)}`;
      const hit = this.seen.get(key);
      if (hit) return hit;
    }
    const outs =
      reuse ??
      rule
        .abstractEval(
          inputs.map((v) => v.aval),
          params,
        )
        .map((a) => new Var(a, this.nextId++));
    this.equations.push({ prim: rule.name, rule, inputs: inputs.slice(), params, outs });
    if (key !== null) this.seen.set(key, outs);
    return outs;
  }

  /** The graph with these inputs and outputs, dead equations dropped. */
  build(inVars: readonly Var[], outs: readonly (Var | null)[]): Graph {
    return dce(new Graph(inVars, this.constVars, this.consts, this.equations, outs));
  }
}

/** The concrete constant behind `v` in `g`, or undefined. */
export function constantsOf(g: Graph): Map<Var, NDArray> {
  const m = new Map<Var, NDArray>();
  g.constVars.forEach((v, i) => m.set(v, at(g.consts, i, "constantsOf")));
  return m;
}

/** The single value of a constant whose elements are all equal (a splat: a literal, or e.g. broadcast ones), else null. */
export function splatValue(x: NDArray | undefined): number | null {
  if (!(x instanceof ConcreteArray) || deviceStorageOf(x) !== null) return null;
  const d = storageOf(x);
  if (d.length === 0) return null;
  const v = at(d, 0, "jit");
  for (let i = 1; i < d.length; i++) if (!Object.is(d[i], v)) return null;
  return v;
}

/**
 * Dead-code elimination: drops equations none of whose outputs reach an
 * output, and constants nothing uses.
 */
export function dce(g: Graph): Graph {
  const live = new Set<Var>();
  for (const v of g.outs) if (v) live.add(v);
  const kept: Equation[] = [];
  for (let i = g.equations.length - 1; i >= 0; i--) {
    const e = at(g.equations, i, "jit");
    // effects (debug callbacks) have no outputs to reach and are always kept
    if (e.rule.effect === true || e.outs.some((v) => live.has(v))) {
      kept.push(e);
      for (const v of e.inputs) live.add(v);
    }
  }
  kept.reverse();
  const cv: Var[] = [];
  const cs: NDArray[] = [];
  g.constVars.forEach((v, i) => {
    if (live.has(v)) {
      cv.push(v);
      cs.push(at(g.consts, i, "jit"));
    }
  });
  return new Graph(g.inVars, cv, cs, kept, g.outs);
}

/**
 * Rebuilds `g` equation by equation: `rewrite` returns the new outputs of an
 * equation given its operands (already rewritten) and the builder, or null to
 * emit it unchanged. Constants are carried over; the result has dead code removed.
 */
export function rewrite(
  g: Graph,
  cse: boolean,
  rewriteEqn: (e: Equation, ins: readonly Var[], b: Builder) => readonly Var[] | null,
): Graph {
  const b = new Builder(g, cse);
  const env = new Map<Var, Var>();
  g.constVars.forEach((v, i) => env.set(v, b.keepConstant(v, at(g.consts, i, "jit"))));
  const get = (v: Var): Var => env.get(v) ?? v;
  for (const e of g.equations) {
    const ins = e.inputs.map(get);
    const outs = rewriteEqn(e, ins, b) ?? b.emitAs(e, ins);
    e.outs.forEach((v, i) => env.set(v, at(outs, i, "jit")));
  }
  return b.build(
    g.inVars,
    g.outs.map((v) => (v === null ? null : get(v))),
  );
}
