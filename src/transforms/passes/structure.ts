/**
 * Structure-aware rewrites (issue 8): matrix products with an identity
 * basis, which `jacfwd`/`jacrev` (and so `hessian`) push through the
 * linear map, are not multiplied out.
 *
 * {@link eyeMatmul}: `matmul(A, P)` and `matmul(P, B)` of rank-2 operands
 * where P is n×n "eye-structured": an identity constant E, or E times a
 * vector u broadcast along one of its axes (E·u[c] or E·u[r]: a diagonal
 * matrix whose diagonal is u), seen through reshapes and transposes that
 * only move unit axes or transpose the two axes (as vmap's batching leaves
 * them). Its diagonal is u (exactly: 1·u is u).
 *
 * Why the rewrite is exact. The matmul kernels (JS and WebAssembly, see
 * kernels/matmul.ts and wasmMatmul.ts) compute every output as a sum in
 * one accumulator that starts from +0, with no FMA. Out[i, c] of A·P sums
 * A[i, c]·u[c] and the products A[i, r]·P[r, c] for r ≠ c, where P[r, c] is
 * 0 or 0·u (±0 when u is finite). When every element of A and u is finite
 * those products are ±0, and a sum from +0 of one value v and signed
 * zeros is exactly v + 0 (v itself, except that -0 becomes +0; an overflowed
 * v = ±∞ stays ±∞). So `A·u + 0` (broadcast product) is the matmul's value
 * bit for bit. When some element is ±∞ or NaN, a product ∞·0 is NaN and
 * the two differ; then the matmul runs as before. Under the default
 * ("exact") level the rewrite is a `cond` on whether Σ A·0 (+ Σ u·0) is NaN
 * (a product and a full sum each): its false branch is the broadcast product, its
 * true branch the original matmul (with P recomputed inside it, so P is
 * not built when it is not needed). For n = 1 there are no off-diagonal
 * products and `A·u + 0` is exact for every input, so no `cond`. The
 * guarded form is made only for products of at least
 * {@link EYE_MATMUL_MIN_WORK} multiply-adds (smaller ones cost less than
 * the guard). Under
 * "full" the product is `A·u` (or A) with no guard and no `+ 0`: it differs
 * from the matmul only where the matmul would have produced NaN from a
 * non-finite operand, or +0 instead of -0.
 */
import { NablaError, at } from "../../core/errors.js";
import type { Equation, Graph } from "../../core/graph.js";
import { Graph as GraphClass, Var } from "../../core/graph.js";
import { ConcreteArray, deviceStorageOf, storageOf } from "../../core/ndarray.js";
import { isFloat } from "../../core/dtype.js";
import { shapesEqual, sizeOf } from "../../core/shape.js";
import * as E from "../../prims/elementwise.js";
import * as SH from "../../prims/shape.js";
import { REDUCE_SUM } from "../../prims/reduce.js";
import { MATMUL } from "../../prims/linalg.js";
import { full } from "../../prims/wrap.js";
import { COND } from "../condRule.js";
import { Builder, constantsOf } from "./builder.js";

/** The non-unit extents of a shape. */
const squeezed = (shape: readonly number[]): number[] => shape.filter((d) => d !== 1);

/** n when `shape` is an n×n matrix up to unit axes (n = 1: every extent 1), else null. */
function matrixSize(shape: readonly number[]): number | null {
  const s = squeezed(shape);
  if (s.length === 0) return 1;
  return s.length === 2 && s[0] === s[1] ? at(s, 0, "eyeMatmul") : null;
}

/** Whether a concrete constant is the n×n identity (up to unit axes; zeros of either sign). */
function isIdentity(x: unknown, n: number): boolean {
  if (!(x instanceof ConcreteArray) || deviceStorageOf(x) !== null || !isFloat(x.dtype)) return false;
  const d = storageOf(x);
  if (d.length !== n * n) return false;
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (d[r * n + c] !== (r === c ? 1 : 0)) return false;
  return true;
}

/** An eye-structured matrix: the identity constant `eye`, times `u` (null: E itself), then `chain`. */
interface EyeStructure {
  n: number;
  eye: Var;
  u: Var | null;
  /** The equations from `eye` (and `u`) to the matrix, in graph order. */
  chain: Equation[];
}

/**
 * The eye structure of `v` (see the module comment), or null. `u` is a vector of n elements (or one
 * element) broadcast along one of the matrix's two non-unit axes, so the matrix's diagonal is u.
 */
function eyeStructure(
  v: Var,
  producers: ReadonlyMap<Var, Equation>,
  consts: ReadonlyMap<Var, unknown>,
): EyeStructure | null {
  const n = matrixSize(v.aval.shape);
  if (n === null || !isFloat(v.aval.dtype)) return null;
  if (consts.has(v)) return isIdentity(consts.get(v), n) ? { n, eye: v, u: null, chain: [] } : null;
  const e = producers.get(v);
  if (e === undefined || e.outs.length !== 1) return null;
  const movesUnitAxes = e.rule === SH.RESHAPE || e.rule === SH.TRANSPOSE || e.rule === SH.BROADCAST;
  if (movesUnitAxes && e.inputs.length === 1) {
    const x = at(e.inputs, 0, "eyeMatmul");
    // same elements, same n×n matrix up to unit axes (a transpose may swap its two axes: still diagonal)
    if (sizeOf(x.aval.shape) !== n * n || matrixSize(x.aval.shape) !== n || x.aval.dtype !== v.aval.dtype) return null;
    const s = eyeStructure(x, producers, consts);
    return s === null ? null : { ...s, chain: [...s.chain, e] };
  }
  if (e.rule !== E.MUL || e.inputs.length !== 2) return null;
  for (const k of [0, 1]) {
    const m = at(e.inputs, k, "eyeMatmul");
    const u = at(e.inputs, 1 - k, "eyeMatmul");
    if (m.aval.dtype !== v.aval.dtype || u.aval.dtype !== v.aval.dtype) continue;
    if (sizeOf(m.aval.shape) !== n * n || !vectorAlongMatrixAxis(u.aval.shape, v.aval.shape, n)) continue;
    const s = eyeStructure(m, producers, consts);
    if (s !== null && s.u === null && s.n === n) return { n, eye: s.eye, u, chain: [...s.chain, e] };
  }
  return null;
}

/** Whether `u` (broadcast to `out`, an n×n matrix up to unit axes) has one element, or n along one of the matrix axes. */
function vectorAlongMatrixAxis(u: readonly number[], out: readonly number[], n: number): boolean {
  const size = sizeOf(u);
  if (size === 1) return true;
  if (size !== n || u.length > out.length) return false;
  const lead = out.length - u.length;
  return u.every((d, a) => d === 1 || (d === n && out[a + lead] === n));
}

/**
 * Below this many multiply-adds (M·K·N) a guarded rewrite (n > 1) is not made: the matmul kernel
 * on such a product takes about as long as the guard's equations (the float64 WebAssembly kernel's
 * threshold, kernels/wasmMatmul.ts).
 */
export const EYE_MATMUL_MIN_WORK = 8192;

/**
 * matmul with an eye-structured operand rewritten to a broadcast product (see the module comment);
 * `unguarded` (optimize "full"): without the `cond` that keeps it exact for non-finite operands.
 * Guarded rewrites are made for products of at least `minWork` multiply-adds.
 */
export function eyeMatmul(g: Graph, unguarded = false, minWork = EYE_MATMUL_MIN_WORK): Graph {
  const consts = constantsOf(g);
  const producers = new Map<Var, Equation>();
  for (const e of g.equations) for (const v of e.outs) producers.set(v, e);
  const match = (e: Equation): { side: 0 | 1; s: EyeStructure } | null => {
    if (e.rule !== MATMUL || e.inputs.length !== 2 || e.outs.length !== 1) return null;
    const [a, b] = e.inputs as [Var, Var];
    const out = at(e.outs, 0, "eyeMatmul");
    if (a.aval.shape.length !== 2 || b.aval.shape.length !== 2 || !isFloat(out.aval.dtype)) return null;
    if (a.aval.dtype !== out.aval.dtype || b.aval.dtype !== out.aval.dtype) return null;
    // (a side that is itself constant is left to foldConstants)
    // the guarded form costs a few equations: worth it for a product of minWork (unguarded or n = 1: always)
    const worth = (s: EyeStructure | null): s is EyeStructure =>
      s !== null && (unguarded || s.n === 1 || sizeOf(a.aval.shape) * at(b.aval.shape, 1, "eyeMatmul") >= minWork);
    const right = consts.has(a) ? null : eyeStructure(b, producers, consts);
    if (worth(right)) return { side: 1, s: right };
    const left = consts.has(b) ? null : eyeStructure(a, producers, consts);
    return worth(left) ? { side: 0, s: left } : null;
  };
  const matches = new Map<Equation, { side: 0 | 1; s: EyeStructure }>();
  for (const e of g.equations) {
    const m = match(e);
    if (m !== null) matches.set(e, m);
  }
  if (matches.size === 0) return g;
  // rebuilt equation by equation (as builder.ts's rewrite, whose variable map the rewrite needs too)
  const b = new Builder(g);
  const env = new Map<Var, Var>();
  g.constVars.forEach((v, i) => env.set(v, b.keepConstant(v, at(g.consts, i, "eyeMatmul"))));
  const get = (v: Var): Var => env.get(v) ?? v;
  for (const e of g.equations) {
    const m = matches.get(e);
    const outs =
      m === undefined ? b.emitAs(e, e.inputs.map(get)) : [emitEyeMatmul(e, get, producers, b, m.side, m.s, unguarded)];
    e.outs.forEach((v, i) => env.set(v, at(outs, i, "eyeMatmul")));
  }
  return b.build(
    g.inVars,
    g.outs.map((v) => (v === null ? null : get(v))),
  );
}

/** The rewritten product (see {@link eyeMatmul}); `side`: which operand of `ins` is the eye-structured one. */
function emitEyeMatmul(
  e: Equation,
  get: (v: Var) => Var,
  producers: ReadonlyMap<Var, Equation>,
  b: Builder,
  side: 0 | 1,
  s: EyeStructure,
  unguarded: boolean,
): Var {
  const dtype = at(e.outs, 0, "eyeMatmul").aval.dtype;
  // the other operand: A [M, n] (side 1) or B [n, N] (side 0); the eye and u as rebuilt so far
  const x = get(at(e.inputs, 1 - side, "eyeMatmul"));
  const eye = get(s.eye);
  const u0 = s.u === null ? null : get(s.u);
  // u along the contracted axis: A's columns (side 1, [n]) or B's rows (side 0, [n, 1]); one element: a scalar
  const uShape = u0 === null ? [] : sizeOf(u0.aval.shape) === 1 ? [] : side === 1 ? [s.n] : [s.n, 1];
  const u = u0 === null || shapesEqual(u0.aval.shape, uShape) ? u0 : b.emit1(SH.RESHAPE, [u0], { shape: uShape });
  const prod = u === null ? x : b.emit1(E.MUL, [x, u], {});
  if (unguarded) return prod;
  const zero = b.constant(full([], 0, dtype));
  const fast = b.emit1(E.ADD, [prod, zero], {});
  if (s.n === 1) return fast;
  // the guard: Σ x·0 (+ Σ u·0) is NaN exactly when some element of x (or u) is ±∞ or NaN
  const nanSum = (v: Var): Var => {
    const z = b.emit1(E.MUL, [v, zero], {});
    return v.aval.shape.length === 0 ? z : b.emit1(REDUCE_SUM, [z], { axes: v.aval.shape.map((_, k) => k) });
  };
  // (x·0 summed in any order is NaN or a zero alike, so the guard reads x before any transpose or reshape)
  let src = at(e.inputs, 1 - side, "eyeMatmul");
  for (
    let q = producers.get(src);
    q !== undefined && (q.rule === SH.TRANSPOSE || q.rule === SH.RESHAPE);
    q = producers.get(src)
  )
    src = at(q.inputs, 0, "eyeMatmul");
  let total = nanSum(get(src));
  if (u0 !== null) total = b.emit1(E.ADD, [total, nanSum(u0)], {});
  const pred = b.emit1(E.NE, [total, total], {});
  // both branches over (x, fast, eye, u): the fast value as computed outside; the matmul, P rebuilt inside
  const operands = [x, fast, eye, ...(u0 === null ? [] : [u0])];
  const branchIns = (): Var[] => operands.map((v, k) => new Var({ ...v.aval, shape: v.aval.shape.slice() }, k));
  const fIns = branchIns();
  const whenFalse = new GraphClass(fIns, [], [], [], [at(fIns, 1, "eyeMatmul")]);
  const tIns = branchIns();
  const tb = new Builder(new GraphClass(tIns, [], [], [], []));
  // the original graph's eye, u and chain, in the branch
  const inBranch = new Map<Var, Var>([[s.eye, at(tIns, 2, "eyeMatmul")]]);
  if (s.u !== null) inBranch.set(s.u, at(tIns, 3, "eyeMatmul"));
  const local = (v: Var): Var => {
    const w = inBranch.get(v);
    if (w === undefined) throw new NablaError("jit: internal: eyeMatmul's chain reads a value outside it");
    return w;
  };
  for (const q of s.chain) inBranch.set(at(q.outs, 0, "eyeMatmul"), tb.emit1(q.rule, q.inputs.map(local), q.params));
  const p = local(at(e.inputs, side, "eyeMatmul"));
  const xt = at(tIns, 0, "eyeMatmul");
  const prodT = tb.emit1(MATMUL, side === 1 ? [xt, p] : [p, xt], e.params);
  const whenTrue = new GraphClass(tIns, [], [], tb.equations, [prodT]);
  return b.emit1(COND, [pred, ...operands], { whenFalse, whenTrue });
}
