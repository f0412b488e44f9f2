/**
 * jit's optimisation passes, each a function from Graph to Graph:
 *
 * - {@link cse}: common-subexpression elimination by hash-consing, commutative
 *   operands (`Rule.commutative`) in canonical order;
 * - {@link foldConstants}: equations on concrete constants evaluated once;
 * - {@link simplify}: identities exact in IEEE arithmetic, with non-scalar
 *   "splat" constants too (e.g. the broadcast ones reduce_sum's transpose
 *   creates): x·1, 1·x, x+(-0), x-0, x/1 with a splat of any shape,
 *   neg(neg x), select(c, x, x), no-op reshape/broadcast/transpose/sums;
 * - {@link combineLinear}: sums, differences, negations and scalings
 *   collected into linear combinations of the non-linear values
 *   ("atoms"), like terms merged and re-emitted in one canonical order.
 *   It reassociates float sums (so results can differ by rounding) and
 *   cancels x - x to 0, which differs from IEEE only when x is ±∞ or NaN;
 * - {@link dce} (in `builder.ts`).
 *
 * {@link optimize} runs them to a fixed point: the exact ones by default
 * (`jit`, `makeGraph(f, { optimize: true })`: values bit for bit those of
 * eager evaluation), all of them with level "full" (`jit(f, { optimize:
 * "full" })`, `makeGraph(f, { optimize: "full" })`).
 */
import { NablaError, at } from "../../core/errors.js";
import type { Equation, Graph, Var } from "../../core/graph.js";
import { ConcreteArray, NDArray } from "../../core/ndarray.js";
import { isFloat } from "../../core/dtype.js";
import { shapesEqual, sizeOf } from "../../core/shape.js";
import * as E from "../../prims/elementwise.js";
import * as SH from "../../prims/shape.js";
import { full } from "../../prims/wrap.js";
import { Builder, dce, rewrite, splatValue } from "./builder.js";

export { dce };

/** Common-subexpression elimination: equal equations (commutative operands in canonical order) computed once. */
export function cse(g: Graph): Graph {
  return rewrite(g, true, () => null);
}

/** Whether a primitive's parameters carry code or graphs (higher-order primitives), which folding leaves alone. */
const higherOrder = (e: Equation): boolean =>
  e.rule.opaque === true ||
  Object.values(e.params as Record<string, unknown>).some(
    (v) => typeof v === "function" || (v !== null && typeof v === "object" && !Array.isArray(v)),
  );

/**
 * Constant folding: an equation whose operands are all concrete constants is
 * evaluated now (by its kernel, so the value is what running it would give)
 * when its outputs have at most `maxSize` elements each (large broadcasts stay
 * equations; {@link simplify} reads them as splats).
 */
export function foldConstants(g: Graph, maxSize = 1024): Graph {
  const foldable = (e: Equation, args: readonly (NDArray | undefined)[]): args is ConcreteArray[] =>
    args.every((a) => a instanceof ConcreteArray) &&
    !higherOrder(e) &&
    e.outs.every((v) => sizeOf(v.aval.shape) <= maxSize);
  // nothing to fold (the usual case for a staged graph): the graph itself, without rebuilding it
  const consts = new Map<Var, NDArray>();
  g.constVars.forEach((v, i) => consts.set(v, at(g.consts, i, "foldConstants")));
  if (
    !g.equations.some((e) =>
      foldable(
        e,
        e.inputs.map((v) => consts.get(v)),
      ),
    )
  )
    return g;
  return rewrite(g, false, (e, ins, b) => {
    const args = ins.map((v) => b.valueOf.get(v));
    if (!foldable(e, args)) return null;
    const outs = e.rule.impl(
      args,
      e.params,
      e.outs.map((v) => v.aval),
    );
    return outs.map((o) => b.constant(o));
  });
}

/** The splat value of `v` in the builder: a constant with all elements equal, or a broadcast of one. */
function splatOf(b: Builder, producers: Map<Var, Equation>, v: Var): number | null {
  const c = splatValue(b.valueOf.get(v));
  if (c !== null) return c;
  const e = producers.get(v);
  return e !== undefined && e.rule === SH.BROADCAST ? splatOf(b, producers, at(e.inputs, 0, "jit")) : null;
}

/** `x` itself when it has the output's shape and dtype; its broadcast when only the shape is smaller; else null. */
function asOutput(b: Builder, x: Var, out: Var): readonly Var[] | null {
  if (x.aval.dtype !== out.aval.dtype) return null;
  if (shapesEqual(x.aval.shape, out.aval.shape)) return [x];
  if (x.aval.shape.length > out.aval.shape.length) return null;
  return b.emit(SH.BROADCAST, [x], { shape: out.aval.shape.slice() });
}

const isIdentityPerm = (p: readonly number[]) => p.every((k, i) => k === i);

/**
 * Algebraic simplification by identities exact in IEEE arithmetic (signed
 * zeros and NaN included); see the module comment. Splats of any shape count
 * as literals.
 */
export function simplify(g: Graph): Graph {
  // a dry run first: when no equation simplifies, the graph itself (without rebuilding it)
  const dry = new Builder(g);
  g.constVars.forEach((v, i) => dry.keepConstant(v, at(g.consts, i, "jit")));
  const seen = new Map<Var, Equation>();
  let any = false;
  for (const e of g.equations) {
    if (simplifyOne(e, e.inputs, dry, seen) !== null) {
      any = true;
      break;
    }
    for (const v of e.outs) seen.set(v, e);
  }
  if (!any) return g;
  const producers = new Map<Var, Equation>();
  return rewrite(g, false, (e, ins, b) => {
    const r = simplifyOne(e, ins, b, producers);
    if (r !== null) return r;
    const outs = b.emitAs(e, ins);
    const last = b.equations[b.equations.length - 1];
    if (last !== undefined) for (const v of outs) producers.set(v, last);
    return outs;
  });
}

function simplifyOne(
  e: Equation,
  ins: readonly Var[],
  b: Builder,
  producers: Map<Var, Equation>,
): readonly Var[] | null {
  // an effect (a debug callback) has no output to replace
  const out = e.outs[0];
  if (out === undefined) return null;
  const id = e.rule.identity;
  if (ins.length === 2 && id !== undefined && e.outs.length === 1) {
    const [x, y] = ins as [Var, Var];
    const sy = splatOf(b, producers, y);
    if (id.right !== undefined && sy !== null && Object.is(sy, id.right)) {
      const r = asOutput(b, x, out);
      if (r) return r;
    }
    const sx = splatOf(b, producers, x);
    if (id.left !== undefined && sx !== null && Object.is(sx, id.left)) {
      const r = asOutput(b, y, out);
      if (r) return r;
    }
  }
  if (ins.length === 1 && e.rule.involution) {
    const p = producers.get(at(ins, 0, "jit"));
    if (p !== undefined && p.rule === e.rule) return [at(p.inputs, 0, "jit")];
  }
  const p = e.params as Record<string, unknown>;
  const x = at(ins, 0, "jit");
  const same = x !== undefined && shapesEqual(x.aval.shape, out.aval.shape) && x.aval.dtype === out.aval.dtype;
  if (e.rule === E.SELECT && ins[1] === ins[2]) return asOutput(b, at(ins, 1, "jit"), out);
  if ((e.rule === SH.RESHAPE || e.rule === SH.BROADCAST) && same) return [x];
  if (e.rule === SH.TRANSPOSE && isIdentityPerm(p.perm as number[])) return [x];
  if (e.rule.name === "reduce_sum" && (p.axes as number[]).length === 0 && same) return [x];
  return null;
}

// ---------------------------------------------------------------------------
// linear combinations

/** Σ coeff · atom, atoms in first-seen order. */
type LC = Map<Var, number>;

const MAX_TERMS = 16;

/**
 * Collects add, sub, neg and products by a splat constant (and products of
 * two scaled values, c·a times d·b = (cd)·(a b)) into linear combinations of
 * atoms, merges like terms, and emits each combination that is used by
 * something else once, in a canonical form: atoms of equal |coefficient|
 * summed in graph order and scaled once, then the groups added or subtracted.
 */
export function combineLinear(g: Graph): Graph {
  const b = new Builder(g, true);
  const env = new Map<Var, Var>();
  const lcOf = new Map<Var, LC>();
  const order = new Map<Var, number>();
  const materialized = new Map<Var, Var>();
  const byKey = new Map<string, Var>();
  const rank = (v: Var): number => {
    let r = order.get(v);
    if (r === undefined) order.set(v, (r = order.size));
    return r;
  };
  g.inVars.forEach(rank);
  g.constVars.forEach((v, i) => env.set(v, b.keepConstant(v, at(g.consts, i, "jit"))));
  const atom = (v: Var): LC => lcOf.get(v) ?? new Map([[v, 1]]);

  /** The value of an original variable in the new graph (emitting its combination on first use). */
  const value = (v: Var): Var => {
    const lc = lcOf.get(v);
    if (lc === undefined) return env.get(v) ?? v;
    let m = materialized.get(v);
    if (m === undefined) materialized.set(v, (m = emitLC(lc, v)));
    return m;
  };

  const literal = (c: number, dtype: Var["aval"]["dtype"]): Var => b.constant(full([], c, dtype));

  function emitLC(lc: LC, like: Var): Var {
    const terms = [...lc].filter(([, c]) => c !== 0).sort((p, q) => rank(p[0]) - rank(q[0]));
    const key = terms.map(([a, c]) => `${a.id}:${c}`).join(",") + `|${like.aval.shape.join("x")}`;
    const hit = byKey.get(key);
    if (hit) return hit;
    const dtype = like.aval.dtype;
    let acc: Var;
    if (terms.length === 0) {
      const zero = literal(0, dtype);
      acc = like.aval.shape.length === 0 ? zero : b.emit1(SH.BROADCAST, [zero], { shape: like.aval.shape.slice() });
    } else {
      // groups of equal |coefficient|, in order of their first atom
      const groups = new Map<number, [Var, number][]>();
      for (const t of terms) {
        const k = Math.abs(t[1]);
        const list = groups.get(k);
        if (list) list.push(t);
        else groups.set(k, [t]);
      }
      const parts: [Var, number][] = [];
      for (const [mag, list] of groups) {
        // within a group, atoms of the group's sign first: Σ± a, then scaled once by the magnitude
        const pos = list.filter(([, c]) => c > 0).map(([a]) => value(a));
        const neg = list.filter(([, c]) => c < 0).map(([a]) => value(a));
        let s: Var | null = null;
        let sign = 1;
        for (const a of pos) s = s === null ? a : b.emit1(E.ADD, [s, a], {});
        if (s === null) {
          sign = -1;
          for (const a of neg) s = s === null ? a : b.emit1(E.ADD, [s, a], {});
        } else for (const a of neg) s = b.emit1(E.SUB, [s, a], {});
        if (s === null) throw new NablaError("jit: internal: an empty group of linear terms");
        if (mag !== 1) s = b.emit1(E.MUL, [s, literal(mag, dtype)], {});
        parts.push([s, sign]);
      }
      const first = parts.find(([, sg]) => sg > 0);
      acc = first ? first[0] : b.emit1(E.NEG, [at(parts, 0, "jit")[0]], {});
      for (const pr of parts) {
        if (pr === (first ?? parts[0])) continue;
        acc = b.emit1(pr[1] > 0 ? E.ADD : E.SUB, [acc, pr[0]], {});
      }
    }
    if (!shapesEqual(acc.aval.shape, like.aval.shape))
      acc = b.emit1(SH.BROADCAST, [acc], { shape: like.aval.shape.slice() });
    byKey.set(key, acc);
    return acc;
  }

  const combine = (parts: [LC, number][]): LC => {
    const out: LC = new Map();
    for (const [lc, s] of parts)
      for (const [a, c] of lc) {
        rank(a);
        out.set(a, (out.get(a) ?? 0) + s * c);
      }
    return out;
  };
  const single = (lc: LC): [Var, number] | null => {
    if (lc.size !== 1) return null;
    const [t] = lc;
    return t ?? null;
  };
  const constSplat = (v: Var): number | null => {
    const src = env.get(v);
    return src === undefined || lcOf.has(v) ? null : splatValue(b.valueOf.get(src));
  };

  for (const e of g.equations) {
    // an equation with one output may be linear (one without outputs, e.g. an effect, is not)
    const out = e.outs.length === 1 ? e.outs[0] : undefined;
    const linearCase = (): LC | null => {
      if (out === undefined || !isFloat(out.aval.dtype)) return null;
      if (e.inputs.some((v) => v.aval.dtype !== out.aval.dtype)) return null;
      const [x, y] = e.inputs;
      if (x === undefined) return null;
      if (e.rule === E.NEG) return combine([[atom(x), -1]]);
      if (y === undefined) return null; // the rows below are binary
      if (e.rule === E.ADD)
        return combine([
          [atom(x), 1],
          [atom(y), 1],
        ]);
      if (e.rule === E.SUB)
        return combine([
          [atom(x), 1],
          [atom(y), -1],
        ]);
      if (e.rule === E.MUL) {
        const cy = constSplat(y);
        if (cy !== null && Number.isFinite(cy)) return combine([[atom(x), cy]]);
        const cx = constSplat(x);
        if (cx !== null && Number.isFinite(cx)) return combine([[atom(y), cx]]);
        // (c a)(d b) = (c d)(a b)
        const sx = single(atom(x));
        const sy = single(atom(y));
        if (sx && sy && (sx[1] !== 1 || sy[1] !== 1)) {
          const m = b.emit1(E.MUL, [value(sx[0]), value(sy[0])], {});
          rank(m);
          env.set(m, m);
          return new Map([[m, sx[1] * sy[1]]]);
        }
      }
      return null;
    };
    const lc = linearCase();
    if (out !== undefined && lc !== null && lc.size <= MAX_TERMS) {
      lcOf.set(out, lc);
      rank(out);
      continue;
    }
    // not linear, or too many terms (the value becomes an atom itself)
    const outs = b.emitAs(e, e.inputs.map(value));
    e.outs.forEach((v, i) => {
      env.set(v, at(outs, i, "jit"));
      rank(v);
    });
  }
  return b.build(
    g.inVars,
    g.outs.map((v) => (v === null ? null : value(v))),
  );
}

/**
 * How far {@link optimize} goes: "exact" keeps every value bit for bit (CSE,
 * constant folding, the exact identities, DCE; what `jit` does by default);
 * "full" adds {@link combineLinear}, which reassociates sums.
 */
export type OptimizeLevel = "exact" | "full";

/**
 * The passes to a fixed point (at most `rounds` rounds of folding and
 * simplification, each followed by CSE when it changed the graph).
 * `staged`: the graph comes from a staging trace, which hash-conses and drops
 * dead code as it builds, so the first CSE is skipped (it would find nothing).
 */
export function optimize(g: Graph, level: OptimizeLevel = "exact", { rounds = 4, staged = false } = {}): Graph {
  let cur = staged ? g : cse(g);
  for (let i = 0; i < rounds; i++) {
    let next = simplify(foldConstants(cur));
    if (level === "full") next = combineLinear(next);
    if (next === cur) break;
    next = cse(next);
    const better = next.equations.length < cur.equations.length;
    cur = next.equations.length <= cur.equations.length ? next : cur;
    if (!better) break;
  }
  return cur;
}
