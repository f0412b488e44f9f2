/**
 * The Graph IR and the staging trace that builds it. A Graph is a list of
 * equations `outs = prim[params] inputs` over variables, with input
 * variables, constants and outputs. Staging hash-conses equations (CSE) and
 * drops dead equations when the graph is built.
 */
import { freshList } from "./lists.js";
import { NablaError, TracerError, at } from "./errors.js";
import { SETTINGS, callSite, withSite } from "./config.js";
import { ConcreteArray, NDArray, firstElement } from "./ndarray.js";
import {
  Aval,
  MainTrace,
  Rule,
  Trace,
  Tracer,
  avalOf,
  bind,
  checkOutputSizes,
  endTrace,
  fmtAval,
  newTrace,
  raise,
  scalarAval,
  withDynamic,
} from "./trace.js";

/** A variable of the IR. */
export class Var {
  constructor(
    readonly aval: Aval,
    readonly id: number,
  ) {}
}

/** One equation: `outs = prim[params](inputs)`. */
export interface Equation {
  /** The primitive's name, as the IR prints it. */
  readonly prim: string;
  /** The primitive itself (its row of the primitive table). */
  readonly rule: Rule;
  readonly inputs: readonly Var[];
  readonly params: unknown;
  readonly outs: readonly Var[];
  /** debugNans: where the user called the primitive, recorded at staging when debugNans is on. */
  readonly site?: string;
}

/**
 * Where each variable is read, for the planners of `jit` (CPU and webgpu): the indices of the
 * equations of `eqns` reading it, in order, and Infinity where it is one of the outputs `outs`.
 * A variable nothing reads has no entry.
 */
export function readers(eqns: readonly Equation[], outs: readonly (Var | null)[]): Map<Var, number[]> {
  const uses = new Map<Var, number[]>();
  const use = (v: Var, i: number): void => {
    const u = uses.get(v);
    if (u === undefined) uses.set(v, [i]);
    else u.push(i);
  };
  eqns.forEach((e, i) => e.inputs.forEach((v) => use(v, i)));
  for (const v of outs) if (v) use(v, Infinity);
  return uses;
}

/**
 * A staged function: inputs, constants, equations and outputs. `toString()`
 * prints it; `equations` lists its equations.
 * @example
 * const g = nb.makeGraph((x) => nb.sum(nb.sin(x)))(nb.zeros([3]));
 * g.equations.map((e) => e.prim); // ["sin", "reduce_sum"]
 */
export class Graph {
  constructor(
    readonly inVars: readonly Var[],
    readonly constVars: readonly Var[],
    readonly consts: readonly NDArray[],
    readonly equations: readonly Equation[],
    /** Output variables; null stands for a symbolic zero (linear graphs only). */
    readonly outs: readonly (Var | null)[],
    /**
     * @internal When every variable was made by one staging trace: a bound on their ids (which
     * are then distinct and dense below it), so passes can index arrays by id.
     */
    readonly idBound?: number,
  ) {}

  /** The graph in a JAX-like jaxpr notation: `{ lambda a:f64[] . let b:f64[] = cos a in ( b ) }`. */
  toString(): string {
    return printGraph(this);
  }
}

// ---------------------------------------------------------------------------
// printing

function varName(i: number): string {
  let s = "";
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return s;
}

function fmtParam(v: unknown): string {
  if (Array.isArray(v)) return `(${v.join(",")}${v.length === 1 ? "," : ""})`;
  return String(v);
}

function fmtLiteral(c: ConcreteArray): string {
  const v = firstElement(c);
  if (c.dtype === "bool") return v ? "True" : "False";
  if (c.dtype === "int32") return String(v);
  const s = Number.isInteger(v) ? `${v}.0` : String(v);
  return c.dtype === "float32" ? `${s}:f32` : s;
}

/** Whether a constant is a scalar literal (printed inline). */
export function isLiteral(x: NDArray): x is ConcreteArray {
  // a 0-d array on a device (webgpu) is a constant, not a literal: its value is not readable synchronously
  return x instanceof ConcreteArray && x.ndim === 0 && x.device === "cpu";
}

function printGraph(g: Graph): string {
  const names = new Map<Var, string>();
  let n = 0;
  const name = (v: Var): string => {
    let s = names.get(v);
    if (s === undefined) {
      s = varName(n++);
      names.set(v, s);
    }
    return s;
  };
  const literals = new Map<Var, string>();
  const binders: string[] = [];
  g.constVars.forEach((v, i) => {
    const c = at(g.consts, i, "printGraph");
    if (isLiteral(c)) literals.set(v, fmtLiteral(c));
    else binders.push(`${name(v)}:${fmtAval(v.aval)}`);
  });
  const atom = (v: Var): string => literals.get(v) ?? name(v);
  const ins = g.inVars.map((v) => `${name(v)}:${fmtAval(v.aval)}`).join(" ");
  const head = binders.length ? `${binders.join(" ")} ; ${ins}` : ins;
  const eqs = g.equations.map((e) => {
    const ps = Object.entries(e.rule.printParams?.(e.params) ?? (e.params as Record<string, unknown>));
    const p = ps.length ? `[${ps.map(([k, v]) => `${k}=${fmtParam(v)}`).join(" ")}]` : "";
    const lhs = e.outs.map((v) => `${name(v)}:${fmtAval(v.aval)}`).join(" ");
    return `${lhs} = ${e.prim}${p} ${e.inputs.map(atom).join(" ")}`;
  });
  const outs = g.outs.map((v) => (v === null ? "0" : atom(v))).join(", ");
  const oneLine = `{ lambda ${head} . ${eqs.length ? `let ${eqs.join(" ; ")} in ` : ""}( ${outs} ) }`;
  if (oneLine.length <= 100) return oneLine;
  const pad = "      ";
  return `{ lambda ${head} .\n  let ${eqs.join(`\n${pad}`)}\n  in ( ${outs} ) }`;
}

// ---------------------------------------------------------------------------
// staging

/**
 * A staged equation. A class, not an object literal: V8 pretenures the objects of an allocation
 * site (a literal) whose objects mostly survive, as a long graph's equations do, and then every
 * later small graph's equations go straight to the old generation (issue 8: `grad(x => x * x)`
 * ran at half speed, its scavenges 5× longer, after one gradient of a 10k-op chain). Constructed
 * instances have no allocation site.
 */
class StagedEquation implements Equation {
  readonly prim: string;
  constructor(
    readonly rule: Rule,
    readonly inputs: readonly Var[],
    readonly params: unknown,
    readonly outs: readonly Var[],
    readonly site: string | undefined,
  ) {
    this.prim = rule.name;
  }
}

/** A tracer that stands for a graph variable. */
export class StagingTracer extends Tracer {
  constructor(
    readonly trace: StagingTrace,
    readonly aval: Aval,
    readonly v: Var,
  ) {
    super();
  }
}

/** Records primitive applications as equations (used by makeGraph, jit and linearize). */
export class StagingTrace extends Trace {
  private nextId = 0;
  private readonly eqns: Equation[] = freshList();
  /** The constant variables in order (their values are their origins): one array, not two. */
  private readonly constVars: Var[] = freshList();
  // maps made on first use: a small trace (grad of a scalar function) needs few of them
  private constOf: Map<NDArray | Var, StagingTracer> | undefined;
  /** Literal (0-d) constants by value. */
  private literalOf: Map<number | "-0", StagingTracer | StagingTracer[]> | undefined;
  private cse: Map<string, StagingTracer[]> | undefined;
  // Per variable, indexed by its id (ids are dense from 0 within a trace): arrays, not Maps, on the
  // hot path. No tracer per variable is kept (issue 8: a scalar chain's tracers would all survive
  // until the graph is built): a reused variable gets a new tracer, and traces above tell the
  // tracers of one variable apart only where `alias` says they should (see `pure`).
  /** What a variable is: the equation producing it, its value (a constant), or undefined (an input). */
  private readonly origin: (Equation | NDArray | undefined)[] = freshList();
  /**
   * The parameterless equations whose newest operand a variable is (CSE candidates); a single one
   * bare (the common case in a chain: no array per variable).
   */
  private readonly usesOf: (Equation | Equation[] | undefined)[] = freshList();
  /**
   * Per variable: 1 once a staged equation reads it (inputs count as read), else 0; and how many
   * variables made by equations or constants are unread. When the only unread ones are the graph's
   * outputs, every equation and constant is live and `build` skips the liveness walk (issue 8: on a
   * long chain the walk, one cache miss per variable, was a tenth of a gradient).
   */
  private readonly isRead: number[] = freshList();
  private unread = 0;

  /**
   * @param standsForEager the trace stages what would otherwise run eagerly (makeGraph, jit): where
   *   it reuses a result (CSE, identities) it returns a new tracer of the variable, see `alias`.
   */
  constructor(
    main: MainTrace,
    private readonly what: string,
    /** @internal */
    readonly standsForEager = false,
  ) {
    super(main);
  }

  /** A tracer of a fresh variable of `aval` made by `origin` (see {@link origin}). */
  private newTracer(aval: Aval, origin: Equation | NDArray | undefined): StagingTracer {
    this.origin.push(origin);
    this.isRead.push(origin === undefined ? 1 : 0);
    if (origin !== undefined) this.unread++;
    return new StagingTracer(this, aval, new Var(aval, this.nextId++));
  }

  /** The value of a constant variable, or undefined. */
  private constValue(v: Var): NDArray | undefined {
    const o = this.origin[v.id];
    return o instanceof NDArray ? o : undefined;
  }

  /** A fresh input variable. */
  newInput(aval: Aval, keepWeak = false): StagingTracer {
    const weak = keepWeak && aval.weak;
    const a =
      aval.shape.length === 0 ? scalarAval(aval.dtype, weak) : { shape: aval.shape.slice(), dtype: aval.dtype, weak };
    return this.newTracer(a, undefined);
  }

  pure(x: NDArray): Tracer {
    if (isLiteral(x)) {
      // literals by value (then dtype and weakness), so equal literals are one constant; -0 is
      // its own key, since Maps equate 0 and -0 (and NaN with NaN, as wanted)
      const v = firstElement(x);
      const key = Object.is(v, -0) ? "-0" : v;
      const lits = (this.literalOf ??= new Map());
      const same = lits.get(key);
      if (same instanceof StagingTracer) {
        if (this.sameLiteralType(same, x)) return same;
      } else if (same !== undefined) for (const t of same) if (this.sameLiteralType(t, x)) return t;
      const t = this.newConst(x);
      // one tracer per value is the common case: kept bare, a list only for several dtypes
      if (same === undefined) lits.set(key, t);
      else if (same instanceof StagingTracer) lits.set(key, [same, t]);
      else same.push(t);
      return t;
    }
    // a staging tracer by its variable, as every tracer of it stands for one value, except where
    // the trace below stands for eager evaluation and the value has axes (`alias`): by object
    const k = x instanceof StagingTracer && (!x.trace.standsForEager || x.aval.shape.length === 0) ? x.v : x;
    const hit = this.constOf?.get(k);
    if (hit) return hit;
    const t = this.newConst(x);
    (this.constOf ??= new Map()).set(k, t);
    return t;
  }

  private sameLiteralType(t: StagingTracer, x: NDArray): boolean {
    const c = this.constValue(t.v);
    if (c === undefined) return false;
    return c.dtype === x.dtype && c.weakType === x.weakType;
  }

  private newConst(x: NDArray): StagingTracer {
    const t = this.newTracer(avalOf(x), x);
    this.constVars.push(t.v);
    return t;
  }

  /** The scalar value of a literal constant variable, or null. */
  private literal(v: Var): number | null {
    const c = this.constValue(v);
    return c !== undefined && isLiteral(c) ? firstElement(c) : null;
  }

  /**
   * Algebraic identities applied while staging, exact in IEEE arithmetic
   * (signed zeros and NaN included), as the rows declare them: a binary
   * primitive's identity literal on either side (x*1, 1*x, x+(-0), x-0, x/1)
   * and an involution applied twice (neg(neg x)) give x when that keeps x's
   * shape and dtype.
   */
  private simplify(
    prim: Rule,
    n: number,
    a: StagingTracer | undefined,
    b: StagingTracer | undefined,
  ): StagingTracer | null {
    const id = prim.identity;
    if (n === 2 && id !== undefined) {
      if (a === undefined || b === undefined) return null;
      if (id.right !== undefined) {
        const lb = this.literal(b.v);
        if (lb !== null && Object.is(lb, id.right)) return keepIfSame(a, b);
      }
      if (id.left !== undefined) {
        const la = this.literal(a.v);
        if (la !== null && Object.is(la, id.left)) return keepIfSame(b, a);
      }
    } else if (n === 1 && prim.involution) {
      const e = a === undefined ? undefined : this.origin[a.v.id];
      if (e === undefined || e instanceof NDArray || e.rule !== prim) return null;
      const x = e.inputs[0];
      if (x !== undefined) return new StagingTracer(this, x.aval, x);
    }
    return null;
  }

  processPrimitive<P>(prim: Rule<P>, args: Tracer[], params: P): NDArray[] {
    const n = args.length;
    const simple = this.simplify(prim, n, args[0] as StagingTracer | undefined, args[1] as StagingTracer | undefined);
    if (simple !== null) return [this.alias(simple)];
    const ins: Var[] = new Array<Var>(n);
    for (let i = 0; i < n; i++) ins[i] = (args[i] as StagingTracer).v;
    return this.stage(prim, ins, params, false) as StagingTracer[];
  }

  override apply1<P>(prim: Rule<P>, a: NDArray, b: NDArray | undefined, params: P): NDArray | null {
    const ta = a instanceof StagingTracer && a.trace === this ? a : (raise(this, a, prim.name) as StagingTracer);
    const tb =
      b === undefined || (b instanceof StagingTracer && b.trace === this)
        ? b
        : (raise(this, b, prim.name) as StagingTracer);
    const n = tb === undefined ? 1 : 2;
    const simple = this.simplify(prim, n, ta, tb);
    if (simple !== null) return this.alias(simple);
    return this.stage(prim, tb === undefined ? [ta.v] : [ta.v, tb.v], params, true) as StagingTracer;
  }

  /**
   * Stages `prim` on the variables `ins` (the equation keeps the list): its output tracers, or with
   * `one` the only one (`apply1`: no list of them).
   */
  private stage<P>(prim: Rule<P>, ins: Var[], params: P, one: boolean): StagingTracer[] | StagingTracer {
    const n = ins.length;
    // the newest operand (largest id): the owner of a small equation's CSE candidates
    let owner: Var | undefined;
    // float64 0-d operands of a `scalarF64` row: a float64 0-d result, weak when all are (no shape rule)
    let f64 = prim.scalarF64 === true;
    let weak = true;
    for (let i = 0; i < n; i++) {
      const v = ins[i] as Var;
      const a = v.aval;
      if (f64 && (a.dtype !== "float64" || a.shape.length !== 0)) f64 = false;
      weak = weak && a.weak;
      if (owner === undefined || v.id > owner.id) owner = v;
    }
    // CSE. Parameterless equations of one or two operands (most of them) are found in a short
    // list kept per variable (the newest operand), not in one map that grows with the graph
    // (issue 8: inserting into a big map cost more than the rest of staging); others by key.
    const effect = prim.effect === true;
    const small = !effect && n > 0 && n <= 2 && isEmptyParams(params);
    const ownerId = small && owner !== undefined ? owner.id : -1;
    let key = "";
    if (ownerId >= 0) {
      const hit = findUse(this.usesOf[ownerId], prim as Rule, ins);
      if (hit !== null) return one ? this.outOf(hit) : this.outsOf(hit);
    }
    if (effect) {
      // an effect is never merged with an earlier one: a debug callback staged twice on the same
      // values (e.g. by a checkpoint's forward pass and its backward recomputation) runs twice
    } else if (ownerId < 0 || usesCount(this.usesOf[ownerId]) >= USES_PER_VAR) {
      key = this.cseKey(prim as Rule, ins, params);
      const hit = this.cse?.get(key);
      if (hit) return one ? this.alias(onlyOf(hit, prim.name)) : hit.map((t) => this.alias(t));
    }
    let avals: readonly Aval[];
    if (f64 && n > 0) avals = scalarAvalList(weak);
    else {
      const inAvals = avalsOf(ins);
      avals = prim.abstractEval(inAvals, params);
      checkOutputSizes(prim.name, avals, inAvals);
    }
    const m = avals.length;
    if (one && m !== 1) throw new NablaError(`${prim.name}: internal: applied as one output, has ${m}`);
    const outVars = new Array<Var>(m);
    // parameterless equations share one empty parameter object (the caller's `{}` is not kept);
    // two literals, not a spread of an optional `site`: a spread copies through a runtime call and
    // allocates the object it spreads, per equation (issue 8)
    const ps = small ? NO_PARAMS : params;
    const eqn: Equation = new StagedEquation(
      prim as Rule,
      ins,
      ps,
      outVars,
      SETTINGS.debugNans ? callSite() : undefined,
    );
    let o0: StagingTracer | undefined;
    const outs = one ? undefined : new Array<StagingTracer>(m);
    for (let i = 0; i < m; i++) {
      const a = avals[i];
      if (a === undefined) throw new NablaError(`${prim.name}: internal: shape rule gave no aval for output ${i}`);
      const o = this.newTracer(a, eqn);
      if (outs !== undefined) outs[i] = o;
      else o0 = o;
      outVars[i] = o.v;
    }
    this.eqns.push(eqn);
    const isRead = this.isRead;
    for (let i = 0; i < n; i++) {
      const id = (ins[i] as Var).id;
      if (isRead[id] === 0) {
        isRead[id] = 1;
        this.unread--;
      }
    }
    if (key !== "") (this.cse ??= new Map()).set(key, outs ?? [o0 as StagingTracer]);
    else if (ownerId >= 0) {
      const uses = this.usesOf[ownerId];
      if (uses === undefined) this.usesOf[ownerId] = eqn;
      else if (Array.isArray(uses)) uses.push(eqn);
      else this.usesOf[ownerId] = [uses, eqn];
    }
    return outs ?? (o0 as StagingTracer);
  }

  /**
   * What a reused result (CSE, identities) is returned as: in a trace that stands for eager
   * evaluation, an array with axes is a new tracer of the same variable, since eager evaluation
   * returns a new array there and linearize's trace above tells constants with axes apart by
   * object; a 0-d one stays the same tracer, since that trace merges 0-d constants by value (equal
   * computations, equal values). So a linear graph merges the same tangent equations under jit as
   * eagerly, and transposition sums cotangents in the same order: issue 8/11, where merging
   * `tanh x` computed twice made jit sum two cotangents before multiplying by 1 - tanh² while
   * eager multiplied each (a last-bit difference). Not covered: two different 0-d computations of
   * equal value, merged eagerly but not under jit.
   */
  private alias(t: StagingTracer): StagingTracer {
    return this.standsForEager && t.aval.shape.length > 0 ? new StagingTracer(this, t.aval, t.v) : t;
  }

  /** The outputs of a reused equation: new tracers of its variables (see `pure` and `alias`). */
  private outsOf(e: Equation): StagingTracer[] {
    return e.outs.map((v) => new StagingTracer(this, v.aval, v));
  }

  /** {@link outsOf} of an equation of one output: that output. */
  private outOf(e: Equation): StagingTracer {
    const v = onlyOf(e.outs, e.prim);
    return new StagingTracer(this, v.aval, v);
  }

  /** The CSE key of an equation: primitive, operand ids (sorted for commutative ones), parameters. */
  private cseKey(prim: Rule, ins: readonly Var[], params: unknown): string {
    let idKey: string;
    if (ins.length === 2) {
      const [i0, i1] = [at(ins, 0, "makeGraph").id, at(ins, 1, "makeGraph").id];
      idKey = prim.commutative && i0 > i1 ? `${i1},${i0}` : `${i0},${i1}`;
    } else idKey = ins.length === 1 ? String(at(ins, 0, "makeGraph").id) : ins.map((v) => v.id).join(",");
    return `${prim.name}|${idKey}|${paramsKey(params)}`;
  }

  concreteOf(t: Tracer, op: string): ConcreteArray {
    throw new TracerError(
      `${op}: the traced array ${fmtAval(t.aval)} has no concrete value under ${this.what} ` +
        `(JS control flow on traced values works under grad/jvp/vjp, not when staging a graph)`,
    );
  }

  /** The value of constant variable `v` (an internal error if it is none). */
  private constOrigin(v: Var): NDArray {
    const c = this.constValue(v);
    if (c === undefined) throw new NablaError(`makeGraph: internal: constant variable ${v.id} has no value`);
    return c;
  }

  /**
   * Whether every variable made by an equation or a constant is read by an equation or is one of
   * `outVars`: then every equation is live (by induction from the last one, whose outputs no later
   * equation reads, so they are outputs) and so is every constant.
   */
  private onlyOutputsUnread(outVars: readonly (Var | null)[]): boolean {
    const isRead = this.isRead;
    let k = 0;
    // each unread output counted once (2 marks it while counting)
    for (const v of outVars)
      if (v !== null && isRead[v.id] === 0) {
        isRead[v.id] = 2;
        k++;
      }
    for (const v of outVars) if (v !== null && isRead[v.id] === 2) isRead[v.id] = 0;
    return k === this.unread;
  }

  /** Builds the graph with these inputs and outputs (null = symbolic zero), dropping dead equations. */
  build(inputs: readonly StagingTracer[], outs: readonly (NDArray | null)[]): Graph {
    const outVars = new Array<Var | null>(outs.length);
    for (let i = 0; i < outs.length; i++) {
      const o = outs[i] ?? null;
      if (o === null) outVars[i] = null;
      else outVars[i] = (o instanceof StagingTracer && o.trace === this ? o : (this.pure(o) as StagingTracer)).v;
    }
    if (this.onlyOutputsUnread(outVars)) {
      const cvs = this.constVars;
      const cs = new Array<NDArray>(cvs.length);
      for (let i = 0; i < cvs.length; i++) cs[i] = this.constOrigin(cvs[i] as Var);
      return new Graph(
        inputs.map((t) => t.v),
        cvs.slice(),
        cs,
        this.eqns.slice(),
        outVars,
        this.nextId,
      );
    }
    const n = this.nextId;
    // liveness by variable id (ids are dense from 0 within this trace), in a shared scratch buffer
    // (nothing below calls out, so builds never nest), cleared again before returning: a small
    // graph (grad of a scalar function) makes no typed array per build (issue 8)
    // (a large graph gets its own, so the shared one stays small)
    if (LIVE.length < n && n <= LIVE_MAX) LIVE = new Uint8Array(Math.min(LIVE_MAX, Math.max(n, 2 * LIVE.length)));
    const live = LIVE.length >= n ? LIVE : new Uint8Array(n);
    try {
      for (const v of outVars) if (v) live[v.id] = 1;
      const eqns = this.eqns;
      const ne = eqns.length;
      // marked from the last equation back (only later equations read an equation's outputs, so
      // the final marks tell again which equations were used)
      let nk = 0;
      for (let i = ne - 1; i >= 0; i--) {
        const e = eqns[i];
        if (e === undefined) throw new NablaError("makeGraph: internal: equation index out of range");
        if (isUsed(e, live)) {
          nk++;
          for (const v of e.inputs) live[v.id] = 1;
        }
      }
      // every equation used (the common case): a copy, not pushes
      let kept: Equation[];
      if (nk === ne) kept = eqns.slice();
      else {
        kept = [];
        for (const e of eqns) if (isUsed(e, live)) kept.push(e);
      }
      const cv: Var[] = [];
      const cs: NDArray[] = [];
      for (const v of this.constVars) {
        if (live[v.id] !== 1) continue;
        cv.push(v);
        cs.push(this.constOrigin(v));
      }
      return new Graph(
        inputs.map((t) => t.v),
        cv,
        cs,
        kept,
        outVars,
        n,
      );
    } finally {
      live.fill(0, 0, n);
    }
  }
}

/** The one element of a list of outputs of primitive `name`. */
function onlyOf<X>(xs: readonly X[], name: string): X {
  const x = xs[0];
  if (xs.length !== 1 || x === undefined)
    throw new NablaError(`${name}: internal: expected one output, got ${xs.length}`);
  return x;
}

/** The operands' abstract values. */
function avalsOf(ins: readonly Var[]): Aval[] {
  const n = ins.length;
  const r = new Array<Aval>(n);
  for (let i = 0; i < n; i++) r[i] = (ins[i] as Var).aval;
  return r;
}

const F64_SCALAR_AVALS: readonly (readonly Aval[])[] = [
  Object.freeze([scalarAval("float64", false)]),
  Object.freeze([scalarAval("float64", true)]),
];

/** The one-output list of a float64 0-d abstract value (shared, frozen: only read). */
function scalarAvalList(weak: boolean): readonly Aval[] {
  return F64_SCALAR_AVALS[weak ? 1 : 0] as readonly Aval[];
}

/** Whether a staged equation is kept: it has an effect or a live output. */
function isUsed(e: Equation, live: Uint8Array): boolean {
  if (e.rule.effect === true) return true;
  for (const v of e.outs) if (live[v.id] === 1) return true;
  return false;
}

/** The liveness scratch buffer of {@link StagingTrace.build}, by variable id (all zero between builds). */
let LIVE = new Uint8Array(256);
const LIVE_MAX = 1 << 16;

/** `keep` when the identity operand `other` is a size-1 array of keep's dtype and no higher rank (x*1 = x keeps x's shape). */
function keepIfSame(keep: StagingTracer, other: StagingTracer): StagingTracer | null {
  if (keep.aval.dtype !== other.aval.dtype || keep.aval.shape.length < other.aval.shape.length) return null;
  for (const d of other.aval.shape) if (d !== 1) return null;
  return keep;
}

/** A parameterless equation of `prim` on `ins` among a variable's CSE candidates `uses`, or null. */
function findUse(uses: Equation | Equation[] | undefined, prim: Rule, ins: readonly Var[]): Equation | null {
  if (uses === undefined) return null;
  if (!Array.isArray(uses)) return sameEquation(uses, prim, ins) ? uses : null;
  for (const e of uses) if (sameEquation(e, prim, ins)) return e;
  return null;
}

/** Whether parameterless equation `e` applies `prim` to `ins` (in either order if it commutes). */
function sameEquation(e: Equation, prim: Rule, ins: readonly Var[]): boolean {
  if (e.rule !== prim || e.inputs.length !== ins.length) return false;
  const x = e.inputs[0];
  if (ins.length === 1) return x === ins[0];
  const y = e.inputs[1];
  const a = ins[0];
  const b = ins[1];
  // commutative primitives: operand order does not matter (same broadcast result either way)
  return (x === a && y === b) || (prim.commutative === true && x === b && y === a);
}

function usesCount(uses: Equation | Equation[] | undefined): number {
  return uses === undefined ? 0 : Array.isArray(uses) ? uses.length : 1;
}

/** CSE candidates kept per variable; a variable's further equations are found by key. */
const USES_PER_VAR = 16;

/**
 * @internal The parameters of every staged parameterless equation, shared; the primitive wrappers
 * pass it too, so the staging trace recognises it by identity before enumerating keys.
 */
export const NO_PARAMS: Readonly<Record<string, never>> = Object.freeze({});

/** `{}` (a plain object with no keys): the parameters of most elementwise primitives. */
function isEmptyParams(params: unknown): boolean {
  if (params === NO_PARAMS) return true;
  if (params === null || typeof params !== "object" || Object.getPrototypeOf(params) !== Object.prototype) return false;
  for (const _k in params) return false;
  return true;
}

const OPAQUE_IDS = new WeakMap<object, number>();
let nextOpaque = 0;

/**
 * The CSE key of a primitive's parameters: their JSON, or, when they carry
 * functions (custom rules) or graphs (loops), the identity of the parameter
 * object, since two calls with equal-looking parameters may run different code.
 */
export function paramsKey(params: unknown): string {
  const p = params as Record<string, unknown>;
  let empty = true;
  for (const _k in p) {
    empty = false;
    break;
  }
  if (empty && p !== null && typeof p === "object" && Object.getPrototypeOf(p) === Object.prototype) return "{}";
  if (Object.values(p).some((v) => typeof v === "function" || v instanceof Graph)) {
    let id = OPAQUE_IDS.get(p);
    if (id === undefined) OPAQUE_IDS.set(p, (id = nextOpaque++));
    return `#${id}`;
  }
  return JSON.stringify(params);
}

/** Evaluates a graph on arguments through `bind`, so it can itself be traced or differentiated. */
export function evalGraph(g: Graph, args: readonly NDArray[]): NDArray[] {
  const env = new Map<Var, NDArray>();
  g.constVars.forEach((v, i) => env.set(v, at(g.consts, i, "evalGraph")));
  g.inVars.forEach((v, i) => env.set(v, at(args, i, "evalGraph")));
  const debug = SETTINGS.debugNans;
  for (const e of g.equations) {
    const ins = e.inputs.map((v) => {
      const x = env.get(v);
      if (x === undefined)
        throw new NablaError(`evalGraph: internal: equation ${e.rule.name} reads an unbound variable`);
      return x;
    });
    // debugNans: a primitive making a NaN reports the call site recorded when it was staged
    const outs = debug ? withSite(e.site, () => bind(e.rule, ins, e.params)) : bind(e.rule, ins, e.params);
    e.outs.forEach((v, i) => env.set(v, at(outs, i, "evalGraph")));
  }
  return g.outs.map((v) => (v === null ? null : env.get(v))) as NDArray[];
}

/** The aval of a graph's output variable; `null` (a symbolic zero) only occurs in linear graphs. */
export function outAval(v: Var | null, fn: string): Aval {
  if (v === null) throw new NablaError(`${fn}: internal: a symbolic-zero output outside a linear graph`);
  return v.aval;
}

/** {@link evalGraph} of a graph with one output (a loop's or a branch's predicate): that output. */
export function evalGraph1(g: Graph, args: readonly NDArray[], fn: string): NDArray {
  const out = evalGraph(g, args)[0];
  if (out === undefined || out === null) throw new NablaError(`${fn}: internal: the graph has no output`);
  return out;
}

/**
 * Stages a flat function on inputs of the given avals and closure-converts
 * the result: the graph's constants become its leading inputs, returned
 * separately, so a primitive can pass them as operands (and every transform
 * sees them).
 */
export function stageClosed(f: (xs: NDArray[]) => NDArray[], avals: readonly Aval[], what: string): [Graph, NDArray[]] {
  const t = newTrace(what, (m: MainTrace) => new StagingTrace(m, what));
  try {
    const ins = avals.map((a) => t.newInput(a));
    // everything f computes is staged, including operations on values it closes over
    const g = t.build(
      ins,
      withDynamic(t, () => f(ins)),
    );
    return [new Graph([...g.constVars, ...g.inVars], [], [], g.equations, g.outs, g.idBound), g.consts.slice()];
  } finally {
    endTrace(t);
  }
}
