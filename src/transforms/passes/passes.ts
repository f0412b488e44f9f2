/**
 * jit's optimisation passes, each a function from Graph to Graph:
 *
 * - {@link cse}: common-subexpression elimination by hash-consing, commutative
 *   operands (`Rule.commutative`) in canonical order;
 * - {@link foldConstants}: equations on concrete constants evaluated once;
 * - {@link simplify}: identities exact in IEEE arithmetic, with non-scalar
 *   "splat" constants too (e.g. the broadcast ones reduce_sum's transpose
 *   creates): x·1, 1·x, x+(-0), x-0, x/1 with a splat of any shape,
 *   neg(neg x), select(c, x, x), no-op reshape/broadcast/transpose/sums,
 *   and negations absorbed where that is exact (x + (-y) = x - y,
 *   x - (-y) = x + y, signs of products moved onto scalar constants or out
 *   to a sum that absorbs them);
 * - {@link combineLinear}: sums, differences, negations and scalings
 *   collected into linear combinations of the non-linear values
 *   ("atoms"), like terms merged and re-emitted in one canonical order.
 *   It reassociates float sums (so results can differ by rounding) and
 *   cancels x - x to 0, which differs from IEEE only when x is ±∞ or NaN;
 * - {@link dce} (in `builder.ts`);
 * - `eyeMatmul` (in `structure.ts`), run once after the others: matmul
 *   with an identity basis (jacfwd/jacrev) as a broadcast product, exact
 *   under a `cond` on the operands being finite (unguarded under "full");
 *   for CPU targets only (a webgpu plan would run the guard by transfer).
 *
 * {@link optimize} runs them to a fixed point: the exact ones by default
 * (`jit`, `makeGraph(f, { optimize: true })`: values bit for bit those of
 * eager evaluation), all of them with level "full" (`jit(f, { optimize:
 * "full" })`, `makeGraph(f, { optimize: "full" })`).
 *
 * Derivative graphs: the exact passes cannot merge like terms (x + x + x + x
 * is not 4x in rounding; d + (-d) is 0 only for finite d), so the k-th grad
 * of sin(x)·e^x keeps every term of its sums and grows superlinearly (63
 * equations at k = 7, 299 at k = 10); "full" merges them (at most 12 up to
 * k = 10). jvp^k grows by 4 per order under the exact passes (40 at k = 10).
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
import { eyeMatmul } from "./structure.js";
import { sinkCondOperands, sinkIntoCond, sinkThroughElementwise } from "./transposes.js";

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
  const absorbed = absorbing(g);
  let any = false;
  for (const e of g.equations) {
    if (simplifyOne(e, e.inputs, dry, seen, absorbed) !== null) {
      any = true;
      break;
    }
    for (const v of e.outs) seen.set(v, e);
  }
  if (!any) return g;
  const producers = new Map<Var, Equation>();
  return rewrite(g, false, (e, ins, b) => {
    const n0 = b.equations.length;
    const outs = simplifyOne(e, ins, b, producers, absorbed) ?? b.emitAs(e, ins);
    // the producers of everything emitted, rewrites' equations included (a negation moved out of a
    // product is seen by the sum that uses it)
    for (let i = n0; i < b.equations.length; i++) {
      const emitted = at(b.equations, i, "jit");
      for (const v of emitted.outs) producers.set(v, emitted);
    }
    return outs;
  });
}

function simplifyOne(
  e: Equation,
  ins: readonly Var[],
  b: Builder,
  producers: Map<Var, Equation>,
  absorbed: Set<Var>,
): readonly Var[] | null {
  // an effect (a debug callback) has no output to replace
  const out = e.outs[0];
  if (out === undefined) return null;
  const id = e.rule.identity;
  const [x, y] = ins;
  // no operand: nothing below applies
  if (x === undefined) return null;
  if (ins.length === 2 && y !== undefined && id !== undefined && e.outs.length === 1) {
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
    const p = producers.get(x);
    if (p !== undefined && p.rule === e.rule) return [at(p.inputs, 0, "jit")];
  }
  const signed = signRewrite(e, ins, b, producers, absorbed);
  if (signed !== null) return signed;
  const p = e.params as Record<string, unknown>;
  const same = shapesEqual(x.aval.shape, out.aval.shape) && x.aval.dtype === out.aval.dtype;
  if (e.rule === E.SELECT && ins[1] === ins[2]) return asOutput(b, at(ins, 1, "jit"), out);
  if ((e.rule === SH.RESHAPE || e.rule === SH.BROADCAST) && same) return [x];
  if (e.rule === SH.TRANSPOSE && isIdentityPerm(p.perm as number[])) return [x];
  if (e.rule.name === "reduce_sum" && (p.axes as number[]).length === 0 && same) return [x];
  return null;
}

/**
 * Negations absorbed where IEEE arithmetic makes it exact (float operands):
 * x + (-y) = x - y and (-y) + x = x - y (subtraction is defined so),
 * x - (-y) = x + y, (-y) + (-y) = -(y + y) (no cancellation, so no signed-zero
 * difference), and (-y)·c = y·(-c), (-y)/c = y/(-c) for a splat c (the sign
 * of a product or quotient is the operands' sign product, the magnitude
 * unchanged), and (-a)·b = -(a·b), so that a sum can absorb the negation.
 * (-a) + (-b) = -(a + b) is not among them: a = -b gives +0 and -0.
 */
/**
 * The variables of `g` every use of which absorbs a negation of it exactly (x + v, v + x, x - v,
 * all float, v not an output): a negation moved onto them costs no equation.
 */
function absorbing(g: Graph): Set<Var> {
  const ok = new Map<Var, boolean>();
  for (const e of g.equations)
    e.inputs.forEach((v, i) => {
      const other = e.inputs[1 - i];
      const absorbs = isFloat(v.aval.dtype) && other !== v && (e.rule === E.ADD || (e.rule === E.SUB && i === 1));
      ok.set(v, (ok.get(v) ?? true) && absorbs);
    });
  for (const v of g.outs) if (v !== null) ok.set(v, false);
  return new Set([...ok].flatMap(([v, a]) => (a ? [v] : [])));
}

function signRewrite(
  e: Equation,
  ins: readonly Var[],
  b: Builder,
  producers: Map<Var, Equation>,
  absorbed: Set<Var>,
): readonly Var[] | null {
  const [x, y] = ins;
  const [out] = e.outs;
  if (ins.length !== 2 || x === undefined || y === undefined) return null;
  if (e.outs.length !== 1 || out === undefined || !isFloat(out.aval.dtype)) return null;
  const negOf = (v: Var): Var | null => {
    const p = producers.get(v);
    if (p === undefined || p.rule !== E.NEG) return null;
    const a = at(p.inputs, 0, "jit");
    return a.aval.dtype === v.aval.dtype ? a : null;
  };
  const nx = negOf(x);
  const ny = negOf(y);
  if (e.rule === E.ADD) {
    if (nx !== null && ny !== null && nx === ny) return b.emit(E.NEG, b.emit(E.ADD, [nx, nx], {}), {});
    if (ny !== null) return b.emit(E.SUB, [x, ny], {});
    if (nx !== null) return b.emit(E.SUB, [y, nx], {});
  }
  if (e.rule === E.SUB && ny !== null) return b.emit(E.ADD, [x, ny], {});
  // a product: its sign collected from negated operands and negative scalar constants, then put
  // where it costs nothing: dropped (positive), on a sum absorbing it (every use does), else on the
  // scalar constant if there is one, else on the product (no cheaper, no dearer)
  if (e.rule === E.MUL || (e.rule === E.DIV && nx !== null)) {
    const scalar = (v: Var): number | null => (v.aval.shape.length === 0 ? splatValue(b.valueOf.get(v)) : null);
    const lit = (v: Var, c: number): Var => b.constant(full([], c, v.aval.dtype));
    let negative = false;
    let [u, w] = [nx ?? x, ny ?? y];
    if (nx !== null) negative = !negative;
    if (ny !== null) negative = !negative;
    const cu = scalar(u);
    const cw = scalar(w);
    if (cu !== null && cu < 0 && e.rule === E.MUL) [negative, u] = [!negative, lit(u, -cu)];
    if (cw !== null && cw < 0) [negative, w] = [!negative, lit(w, -cw)];
    if (u === x && w === y) return null;
    if (!negative) return b.emit(e.rule, [u, w], {});
    if (!absorbed.has(out)) {
      // the sign onto a scalar constant; without one, the product stays as it is
      let [u2, w2] = [u, w];
      const su = scalar(u);
      const sw = scalar(w);
      if (sw !== null) w2 = lit(w, -sw);
      else if (su !== null && e.rule === E.MUL) u2 = lit(u, -su);
      else return null;
      const same = (a: Var, c: Var) => a === c || (scalar(a) !== null && Object.is(scalar(a), scalar(c)));
      return same(u2, x) && same(w2, y) ? null : b.emit(e.rule, [u2, w2], {});
    }
    return b.emit(E.NEG, b.emit(e.rule, [u, w], {}), {});
  }
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
export function optimize(
  g: Graph,
  level: OptimizeLevel = "exact",
  { rounds = 4, staged = false, device = "cpu" }: { rounds?: number; staged?: boolean; device?: string } = {},
): Graph {
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
  // structure-aware rewrites (structure.ts), once: they trade a matmul for a few elementwise equations.
  // CPU plans only: the exact form's guard is a cond, which a webgpu plan would run by a transfer.
  if (device !== "cpu") return cur;
  const structured = sinkCondOperands(
    sinkThroughElementwise(sinkIntoCond(sinkThroughElementwise(eyeMatmul(cur, level === "full")))),
  );
  return structured === cur ? cur : cse(simplify(structured));
}
