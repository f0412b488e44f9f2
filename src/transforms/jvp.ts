/**
 * Forward mode. A JVP tracer carries a primal and a tangent (null = symbolic
 * zero). Each primitive computes its primal output one level down, then its
 * JVP rule, written with differentiable operations, gives the tangent.
 */
import { NablaError, at, fmtShape } from "../core/errors.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { Aval, MainTrace, Rule, Trace, Tracer, avalOf, bind, bindPair, endTrace, newTrace } from "../core/trace.js";
import { Shape, shapesEqual } from "../core/shape.js";
import type { DType } from "../core/dtype.js";
import { broadcastPrim, convert } from "../prims/wrap.js";
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
import { flattenAs } from "../core/pytree.js";
import type { ArraysOf, Returned, TangentOf } from "../core/types.js";

export class JVPTracer extends Tracer {
  #aval: Aval | undefined;
  constructor(
    readonly trace: JVPTrace,
    readonly primal: NDArray,
    readonly tangent: NDArray | null,
  ) {
    super();
  }
  // the primal's facts, read from it (most tracers never need an aval object of their own)
  get aval(): Aval {
    return (this.#aval ??= avalOf(this.primal));
  }
  override get shape(): Shape {
    return this.primal.shape;
  }
  override get dtype(): DType {
    return this.primal.dtype;
  }
  override get weakType(): boolean {
    return this.primal.weakType;
  }
}

/** Makes a tangent fit its primal: broadcast to its shape, converted to its dtype. */
function fit(t: NDArray, p: NDArray): NDArray {
  if (!shapesEqual(t.shape, p.shape)) t = broadcastPrim(t, p.shape);
  if (t.dtype !== p.dtype) t = convert(t, p.dtype);
  return t;
}

export class JVPTrace extends Trace {
  // a constant is its own primal with a zero tangent (what `pure` makes), read here without
  // wrapping it in a tracer first (issue 8: one tracer and one array fewer per constant operand)
  override readonly takesConstants = true;
  pure(x: NDArray): Tracer {
    return new JVPTracer(this, x, null);
  }
  processPrimitive<P>(prim: Rule<P>, args: readonly NDArray[], params: P): NDArray[] {
    const n = args.length;
    const primals = new Array<NDArray>(n);
    const tangents = new Array<NDArray | null>(n);
    let anyTangent = false;
    for (let i = 0; i < n; i++) {
      const t = args[i];
      if (t === undefined) throw new NablaError(`${prim.name}: internal: operand ${i} missing`);
      if (t instanceof JVPTracer && t.trace === this) {
        primals[i] = t.primal;
        tangents[i] = t.tangent;
        if (t.tangent !== null) anyTangent = true;
      } else {
        primals[i] = t;
        tangents[i] = null;
      }
    }
    if (!anyTangent) return bind(prim, primals, params);
    let outs: NDArray[];
    let touts: (NDArray | null)[];
    if (prim.jvpFull) [outs, touts] = prim.jvpFull(primals, tangents, params);
    else {
      outs = bind(prim, primals, params);
      touts = prim.jvp(primals, tangents, outs, params);
    }
    // user functions (customJvp's rule, customVjp's fwd) may close over a tracer of this transform or an
    // inner one: its values would be taken as constants (a silently zero derivative)
    if (prim.opaque === true) {
      const op = (params as { op?: unknown }).op;
      refuseInnerTracers(typeof op === "string" ? op : prim.name, this.main.level, outs, touts);
    }
    // a new array: `outs` may be a staging trace's CSE entry
    const res = new Array<NDArray>(outs.length);
    for (let i = 0; i < outs.length; i++) {
      const t = touts[i];
      const o = outs[i];
      if (o === undefined) throw new NablaError(`${prim.name}: internal: output ${i} missing`);
      res[i] = t === null || t === undefined ? o : new JVPTracer(this, o, fit(t, o));
    }
    return res;
  }
  override apply1<P>(prim: Rule<P>, a: NDArray, b: NDArray | undefined, params: P): NDArray | null {
    // the rows that give their derivative without lists; the rest go through processPrimitive
    const ju = prim.jvpUnary;
    const jb = prim.jvpBinary;
    if (b === undefined ? ju === undefined : jb === undefined) return null;
    let pa = a;
    let ta: NDArray | null = null;
    if (a instanceof JVPTracer && a.trace === this) {
      pa = a.primal;
      ta = a.tangent;
    }
    let pb = b;
    let tb: NDArray | null = null;
    if (b instanceof JVPTracer && b.trace === this) {
      pb = b.primal;
      tb = b.tangent;
    }
    const out = bindPair(prim, pa, pb, params);
    if (ta === null && tb === null) return out;
    const t = pb === undefined ? ju?.(pa, ta, out, params) : jb?.(pa, pb, ta, tb, out, params);
    if (t === undefined) throw new NablaError(`${prim.name}: internal: no jvp rule of its arity`);
    return t === null ? out : new JVPTracer(this, out, fit(t, out));
  }
  concreteOf(t: Tracer, op: string): ConcreteArray {
    return (t as JVPTracer).primal.concrete(op);
  }
}

const PUBLIC_NAME: Readonly<Record<string, string>> = { custom_jvp_call: "customJvp", custom_vjp_call: "customVjp" };

/**
 * Throws when an output of a user rule run by the JVP trace of `level` (on primals, a level below) is a
 * tracer of that level or a higher one: the rule closed over a value this transform or an inner one
 * traces, whose derivative it cannot give (it was taken as a constant: a silently zero derivative).
 * Passed as an argument, the value is differentiated correctly.
 */
function refuseInnerTracers(
  name: string,
  level: number,
  outs: readonly NDArray[],
  touts: readonly (NDArray | null | undefined)[],
): void {
  for (const x of [...outs, ...touts])
    if (x instanceof Tracer && x.trace.main.level >= level)
      throw new NablaError(
        `${PUBLIC_NAME[name] ?? name}: the function or its rule closes over a traced value (a ${x.trace.main.kind} ` +
          `tracer of shape ${fmtShape(x.shape)}) while a transform differentiates its arguments; its derivative ` +
          "would be lost: pass that value as an argument instead",
      );
}

/** Splits an output of a JVP trace into primal and tangent. */
export function unpackJvp(trace: JVPTrace, x: NDArray): [NDArray, NDArray | null] {
  return x instanceof JVPTracer && x.trace === trace ? [x.primal, x.tangent] : [x, null];
}

/** Flat forward mode: pushes `tangents` (null = zero) through `f`. */
export function jvpFlat(
  f: (xs: NDArray[]) => NDArray[],
  primals: readonly NDArray[],
  tangents: readonly (NDArray | null)[],
): [NDArray[], (NDArray | null)[]] {
  const trace = newTrace("jvp", (m: MainTrace) => new JVPTrace(m));
  try {
    const ins = primals.map((p, i) => {
      const t = tangents[i] ?? null;
      return t === null ? p : new JVPTracer(trace, p, t);
    });
    const outs = f(ins).map((o) => unpackJvp(trace, o));
    return [outs.map((o) => o[0]), outs.map((o) => o[1])];
  } finally {
    endTrace(trace);
  }
}

/**
 * Forward-mode Jacobian-vector product: `[f(...primals), J·tangents]`.
 * `primals` and `tangents` are lists of pytrees of the same structure.
 * @example
 * const [y, dy] = nb.jvp(nb.sin, [0.5], [1]); // dy = cos(0.5)
 */
export function jvp<P extends readonly [] | readonly unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<[...P]>>) => R,
  primals: P,
  tangents: NoInfer<TangentOf<P>>,
): [ArraysOf<R>, ArraysOf<R>] {
  f = fnArg("jvp", f);
  listArg("jvp", "primals", primals);
  listArg("jvp", "tangents", tangents);
  const [ps, pdef] = flattenToArrays(primals, "jvp", "the primals");
  const [traw, tdef] = flattenAs(tangents, "jvp", "the tangents");
  checkStructure("jvp", "tangents", pdef, tdef);
  requireFloat("jvp", ps, "jvp");
  const ts = matchLeaves("jvp", "tangent", ps, traw);
  let found: ReturnType<typeof flattenToArrays>[1] | undefined;
  const [po, to] = jvpFlat(
    (xs) => {
      const [outs, def] = flattenToArrays(f(...(unflatten(pdef, xs) as ArraysOf<[...P]>)), "jvp", "the output");
      found = def;
      return outs;
    },
    ps,
    ts,
  );
  const outDef = found;
  if (outDef === undefined) throw new NablaError("jvp: internal: f was not called");
  return [
    unflatten(outDef, po) as ArraysOf<R>,
    unflatten(
      outDef,
      to.map((t, i) => t ?? zerosAt(at(po, i, "jvp"))),
    ) as ArraysOf<R>,
  ];
}
