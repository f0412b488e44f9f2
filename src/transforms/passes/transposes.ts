/**
 * Sinking 2-d transposes (issue 8). `jacrev` batches a pullback over a basis
 * and moves the batch axis at the end; through a linear map the pullback
 * transposes the matrix, so a Jacobian such as that of tanh(Wx + b) is
 * computed as T(T(W) ⊙ k + 0): two transposes (copies) of an elementwise
 * result that is W ⊙ k[:, None] + 0 in the first place. Two rewrites, both
 * exact (they move elements, never change an operation):
 *
 * - {@link sinkIntoCond}: a movement chain (reshapes and transposes) that is
 *   the only reader of a `cond` whose false branch returns one of its operands
 *   as it is (eyeMatmul's guard, structure.ts) is applied to that operand
 *   outside the cond and appended to the true branch: chain(cond(p, A, B)) is
 *   cond(p, chain(A), chain(B)).
 * - {@link sinkThroughElementwise}: a 2-d transpose T of an elementwise
 *   result f(a, b, ...) (used only there) is f(T a, T b, ...), where T of a
 *   transposed value is its source, T of a row vector ([C] or [1, C]) is the
 *   column [C, 1], T of a column [R, 1] the row [1, R], T of a scalar the
 *   scalar, and T of another elementwise result (used only there) recursively
 *   the same. When some operand is none of these the transpose stays.
 *
 * A movement chain "is a 2-d transpose" when moving the elements of its source,
 * an R×C matrix up to unit axes, gives the C×R transpose: checked by running
 * the chain's kernels on the indices 0..RC-1 (so any mix of reshapes and
 * transposes that amounts to it is found, and nothing else is).
 */
import { at } from "../../core/errors.js";
import { Equation, Graph, Var, readers } from "../../core/graph.js";
import { ConcreteArray } from "../../core/ndarray.js";
import { sizeOf } from "../../core/shape.js";
import * as SH from "../../prims/shape.js";
import * as K from "../../kernels/movement.js";
import { COND } from "../condRule.js";
import { Builder } from "./builder.js";

/** Largest matrix whose movement chain is checked by running it (the check costs one pass over RC indices). */
const CHECK_MAX = 1 << 22;

const isMovement = (e: Equation): boolean => (e.rule === SH.RESHAPE || e.rule === SH.TRANSPOSE) && e.outs.length === 1;
const squeezed = (shape: readonly number[]): number[] => shape.filter((d) => d !== 1);

interface Chain {
  /** The value the chain starts from. */
  readonly src: Var;
  /** Its equations, first to last. */
  readonly eqns: readonly Equation[];
  readonly rows: number;
  readonly cols: number;
}

/** The facts about a graph the rewrites read: producers and readers. */
class Facts {
  readonly producers = new Map<Var, Equation>();
  readonly uses: Map<Var, number[]>;
  constructor(g: Graph) {
    for (const e of g.equations) for (const v of e.outs) this.producers.set(v, e);
    this.uses = readers(g.equations, g.outs);
  }
  /** Whether `v` has exactly one reader, an equation (not a graph output). */
  singleUse(v: Var): boolean {
    const u = this.uses.get(v);
    return u !== undefined && u.length === 1 && u[0] !== Infinity;
  }
  /** The movement equations ending at `y` (each intermediate read only by the next) and where they start. */
  movements(y: Var): { src: Var; eqns: Equation[] } {
    const eqns: Equation[] = [];
    let v = y;
    for (let e = this.producers.get(v); e !== undefined && isMovement(e); e = this.producers.get(v)) {
      if (v !== y && !this.singleUse(v)) break;
      eqns.unshift(e);
      v = at(e.inputs, 0, "sinkTransposes");
    }
    return { src: v, eqns };
  }
  /**
   * The longest chain of movement equations ending at `y`, each intermediate read only by the next,
   * when it moves an R×C matrix (up to unit axes) to its C×R transpose; else null.
   */
  transposeChain(y: Var): Chain | null {
    const { eqns } = this.movements(y);
    // the longest suffix that moves a 2-d source to its transpose
    for (let k = 0; k < eqns.length; k++) {
      const part = eqns.slice(k);
      const src = at(at(part, 0, "sinkTransposes").inputs, 0, "sinkTransposes");
      const c = movesToTranspose(src, part, y);
      if (c !== null) return c;
    }
    return null;
  }
  /** Whether T(v) of the rows×cols value v can be formed without a transpose (see the module comment). */
  sinkable(v: Var, rows: number, cols: number, depth: number, tree: Set<Var>): boolean {
    const shape = v.aval.shape;
    if (sizeOf(shape) === 1 && shape.length <= 2) return true;
    if (shape.length === 1 && shape[0] === cols) return true;
    if (shape.length === 2 && shape[0] === 1 && shape[1] === cols) return true;
    if (shape.length === 2 && shape[0] === rows && shape[1] === 1) return true;
    if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) return false;
    // a transposed value: its source (read however often)
    if (this.transposeChain(v) !== null) return true;
    if (tree.has(v)) return true;
    const e = this.producers.get(v);
    if (e === undefined || e.rule.scalar === undefined || e.outs.length !== 1 || depth > 64) return false;
    tree.add(v);
    return e.inputs.every((a) => this.sinkable(a, rows, cols, depth + 1, tree));
  }
  /**
   * Whether the elementwise values `tree` (from `root`) are read only inside it (the root only by its
   * chain): then the transposed form replaces them all and nothing is computed twice.
   */
  closed(g: Graph, root: Var, tree: ReadonlySet<Var>): boolean {
    if (!this.singleUse(root)) return false;
    for (const v of tree) {
      if (v === root) continue;
      for (const k of this.uses.get(v) ?? []) {
        const r = k === Infinity ? undefined : g.equations[k];
        if (r === undefined || !r.outs.every((o) => tree.has(o))) return false;
      }
    }
    return true;
  }
  /** Whether T(root), root an elementwise rows×cols result read once, can be formed on its operands. */
  sinkableTree(g: Graph, root: Var, rows: number, cols: number): boolean {
    const p = this.producers.get(root);
    if (p === undefined || p.rule.scalar === undefined || p.outs.length !== 1 || root.aval.shape.length !== 2)
      return false;
    const tree = new Set<Var>();
    return this.sinkable(root, rows, cols, 0, tree) && this.closed(g, root, tree);
  }
}

/** The chain as a Chain when it moves `src` (an R×C matrix up to unit axes) to its transpose `y`. */
function movesToTranspose(src: Var, eqns: readonly Equation[], y: Var): Chain | null {
  const s = squeezed(src.aval.shape);
  const t = squeezed(y.aval.shape);
  if (s.length !== 2 || t.length !== 2) return null;
  const [rows, cols] = s as [number, number];
  if (t[0] !== cols || t[1] !== rows || rows * cols > CHECK_MAX) return null;
  if (!eqns.some((e) => e.rule === SH.TRANSPOSE)) return null;
  const n = rows * cols;
  const iota = new Float64Array(n);
  for (let i = 0; i < n; i++) iota[i] = i;
  let x = new ConcreteArray(iota, src.aval.shape, "float64");
  for (const e of eqns) {
    const out = at(e.outs, 0, "sinkTransposes");
    x =
      e.rule === SH.TRANSPOSE
        ? K.transpose(x, (e.params as { perm: number[] }).perm)
        : new ConcreteArray(x.toTypedArray() as Float64Array, out.aval.shape, "float64");
  }
  const moved = x.toTypedArray();
  // y[j, i] = src[i, j]: position j·rows + i holds i·cols + j
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) if (moved[j * rows + i] !== i * cols + j) return null;
  return { src, eqns, rows, cols };
}

/** The rebuild both rewrites share: every equation re-emitted unless `rewrite` emits it otherwise. */
function rebuild(g: Graph, rewrite: (e: Equation, b: Builder, get: (v: Var) => Var) => readonly Var[] | null): Graph {
  const b = new Builder(g);
  const env = new Map<Var, Var>();
  g.constVars.forEach((v, i) => env.set(v, b.keepConstant(v, at(g.consts, i, "sinkTransposes"))));
  const get = (v: Var): Var => env.get(v) ?? v;
  let changed = false;
  for (const e of g.equations) {
    const r = rewrite(e, b, get);
    if (r !== null) changed = true;
    const outs = r ?? b.emitAs(e, e.inputs.map(get));
    e.outs.forEach((v, i) => env.set(v, at(outs, i, "sinkTransposes")));
  }
  if (!changed) return g;
  return b.build(
    g.inVars,
    g.outs.map((v) => (v === null ? null : get(v))),
  );
}

/** The largest variable id a graph uses. */
function maxId(g: Graph): number {
  let m = -1;
  const see = (v: Var | null): void => {
    if (v !== null && v.id > m) m = v.id;
  };
  g.inVars.forEach(see);
  g.constVars.forEach(see);
  g.outs.forEach(see);
  for (const e of g.equations) e.outs.forEach(see);
  return m;
}

/**
 * A cond's branches over new operands `ops` (the rewrites above): the false branch, which has no
 * equations, returns the new inputs at the positions it returned; the true branch is re-emitted with
 * each input the value `inTrue` makes of its new input and each output the value `outTrue` makes of
 * it. New input variables take ids above both branches' own.
 */
function rebuiltBranches(
  p: { whenFalse: Graph; whenTrue: Graph },
  ops: readonly Var[],
  inTrue: (k: number, x: Var, tb: Builder) => Var,
  outTrue: (v: Var, tb: Builder) => Var,
): { whenFalse: Graph; whenTrue: Graph } {
  const base = Math.max(maxId(p.whenTrue), maxId(p.whenFalse)) + 1;
  const ins = (): Var[] => ops.map((v, k) => new Var({ ...v.aval, shape: v.aval.shape.slice() }, base + k));
  const fIns = ins();
  const fOut = p.whenFalse.outs.map((v) =>
    v === null ? null : at(fIns, p.whenFalse.inVars.indexOf(v), "sinkTransposes"),
  );
  const t = p.whenTrue;
  const tIns = ins();
  const tb = new Builder(new Graph(tIns, t.constVars, t.consts, t.equations, t.outs));
  // its constants kept (literals through the builder's table)
  const tenv = new Map<Var, Var>();
  t.constVars.forEach((v, i) => tenv.set(v, tb.keepConstant(v, at(t.consts, i, "sinkTransposes"))));
  t.inVars.forEach((v, k) => tenv.set(v, inTrue(k, at(tIns, k, "sinkTransposes"), tb)));
  const tget = (v: Var): Var => tenv.get(v) ?? v;
  for (const q of t.equations) {
    const outs = tb.emitAs(q, q.inputs.map(tget));
    q.outs.forEach((v, i) => tenv.set(v, at(outs, i, "sinkTransposes")));
  }
  const tOuts = t.outs.map((v) => (v === null ? null : outTrue(tget(v), tb)));
  return {
    whenFalse: new Graph(fIns, [], [], [], fOut),
    whenTrue: new Graph(tIns, tb.constVars, tb.consts, tb.equations, tOuts),
  };
}

/** Emits the movement chain `eqns` (from its first input) on `x` instead. */
function emitChain(b: Builder, eqns: readonly Equation[], x: Var): Var {
  let v = x;
  for (const e of eqns) v = b.emit1(e.rule, [v], e.params);
  return v;
}

/** See the module comment: a transposing chain read only from a guard-like `cond` moves into it. */
export function sinkIntoCond(g: Graph): Graph {
  const f = new Facts(g);
  // the last equation of each chain to rewrite, with its chain and cond
  const ends = new Map<Equation, { chain: Chain; cond: Equation; operand: number }>();
  for (const e of g.equations) {
    if (!isMovement(e)) continue;
    const y = at(e.outs, 0, "sinkIntoCond");
    if (!f.singleUse(y) && !g.outs.includes(y)) continue;
    const chain = f.transposeChain(y);
    if (chain === null) continue;
    const cond = f.producers.get(chain.src);
    if (cond === undefined || cond.rule !== COND || cond.outs.length !== 1 || !f.singleUse(chain.src)) continue;
    const p = cond.params as { whenFalse: Graph; whenTrue: Graph };
    const fo = p.whenFalse.outs[0];
    const operand = fo === undefined || fo === null ? -1 : p.whenFalse.inVars.indexOf(fo);
    if (operand < 0 || p.whenFalse.equations.length !== 0 || p.whenTrue.outs.length !== 1) continue;
    // the true branch must not read the operand whose moved form replaces it
    const tIn = p.whenTrue.inVars[operand];
    if (p.whenTrue.outs[0] === null || p.whenTrue.equations.some((q) => tIn !== undefined && q.inputs.includes(tIn)))
      continue;
    if (p.whenTrue.outs[0] === tIn) continue;
    // worth it only when the moved chain then sinks through the operand's elementwise computation
    const fastIn = at(cond.inputs, operand + 1, "sinkIntoCond");
    if (fastIn.aval.shape.length !== 2 || !f.sinkableTree(g, fastIn, chain.rows, chain.cols)) continue;
    ends.set(e, { chain, cond, operand });
  }
  if (ends.size === 0) return g;
  const conds = new Set([...ends.values()].map((r) => r.cond));
  return rebuild(g, (e, b, get) => {
    // the cond itself is emitted where its chain ends (its operands are all defined by then)
    if (conds.has(e)) return [at(e.outs, 0, "sinkIntoCond")];
    const r = ends.get(e);
    if (r === undefined) return null;
    const { chain, cond, operand } = r;
    const p = cond.params as { whenFalse: Graph; whenTrue: Graph };
    const ops = cond.inputs.slice(1).map(get);
    const moved = emitChain(b, chain.eqns, at(ops, operand, "sinkIntoCond"));
    ops[operand] = moved;
    // the true branch with the chain on its output (it does not read the moved input)
    const branches = rebuiltBranches(
      p,
      ops,
      (_k, x) => x,
      (v, tb) => emitChain(tb, chain.eqns, v),
    );
    return b.emit(COND, [get(at(cond.inputs, 0, "sinkIntoCond")), ...ops], branches);
  });
}

/** See the module comment: a 2-d transpose of an elementwise result moves onto its operands. */
export function sinkThroughElementwise(g: Graph): Graph {
  const f = new Facts(g);
  // the transposes to sink: 2-d chains whose source is an elementwise result read only by the chain
  const ends = new Map<Equation, Chain>();
  for (const e of g.equations) {
    if (!isMovement(e)) continue;
    const y = at(e.outs, 0, "sinkThroughElementwise");
    // only the chain's last equation (a chain continuing into another movement is sunk from its end)
    const next = f.uses.get(y);
    const k = next !== undefined && next.length === 1 ? next[0] : undefined;
    const reader = k === undefined || k === Infinity ? undefined : g.equations[k];
    if (reader !== undefined && isMovement(reader)) continue;
    const c = f.transposeChain(y);
    if (c !== null && f.sinkableTree(g, c.src, c.rows, c.cols)) ends.set(e, c);
  }
  if (ends.size === 0) return g;
  return rebuild(g, (e, b, get) => {
    const c = ends.get(e);
    if (c === undefined) return null;
    const { rows, cols } = c;
    // T(v) in the rebuilt graph, v a rows×cols value of the old one (sinkable checked it can be made),
    // each shared value once
    const made = new Map<Var, Var>();
    const sunk = (v: Var): Var => {
      const hit = made.get(v);
      if (hit !== undefined) return hit;
      const r = sunkOnce(v);
      made.set(v, r);
      return r;
    };
    const sunkOnce = (v: Var): Var => {
      const shape = v.aval.shape;
      const nv = get(v);
      if (sizeOf(shape) === 1 && shape.length <= 2) return nv;
      if (shape.length === 1 || (shape[0] === 1 && shape.length === 2))
        return b.emit1(SH.RESHAPE, [nv], { shape: [cols, 1] });
      if (shape[1] === 1 && rows !== 1) return b.emit1(SH.RESHAPE, [nv], { shape: [1, rows] });
      const inner = f.transposeChain(v);
      if (inner !== null) {
        const s = get(inner.src);
        return s.aval.shape.length === 2 ? s : b.emit1(SH.RESHAPE, [s], { shape: [cols, rows] });
      }
      const q = f.producers.get(v);
      if (q === undefined) throw new Error("sinkThroughElementwise: internal: an operand lost its producer");
      return b.emit1(q.rule, q.inputs.map(sunk), q.params);
    };
    const t = sunk(c.src);
    const out = at(e.outs, 0, "sinkThroughElementwise");
    return [
      out.aval.shape.length === 2 && out.aval.shape[0] === cols
        ? t
        : b.emit1(SH.RESHAPE, [t], { shape: out.aval.shape.slice() }),
    ];
  });
}

/**
 * Operands of a `cond` whose false branch only returns one of its inputs, read by nothing but the
 * cond and made by movement equations (reshapes, transposes) from another value: that value is
 * passed instead and moved inside the true branch, so the common (false) branch does not pay for
 * the copy (eyeMatmul's guard keeps the matmul's operand for its true branch).
 */
export function sinkCondOperands(g: Graph): Graph {
  const f = new Facts(g);
  const rewrites = new Map<Equation, Map<number, { src: Var; eqns: readonly Equation[] }>>();
  for (const e of g.equations) {
    if (e.rule !== COND) continue;
    const p = e.params as { whenFalse: Graph; whenTrue: Graph };
    if (p.whenFalse.equations.length !== 0) continue;
    const returned = new Set(p.whenFalse.outs.map((v) => (v === null ? -1 : p.whenFalse.inVars.indexOf(v))));
    const moves = new Map<number, { src: Var; eqns: readonly Equation[] }>();
    e.inputs.slice(1).forEach((v, k) => {
      if (returned.has(k) || !f.singleUse(v) || e.inputs.indexOf(v) !== k + 1) return;
      const m = f.movements(v);
      if (m.eqns.length > 0) moves.set(k, m);
    });
    if (moves.size > 0) rewrites.set(e, moves);
  }
  if (rewrites.size === 0) return g;
  return rebuild(g, (e, b, get) => {
    const moves = rewrites.get(e);
    if (moves === undefined) return null;
    const p = e.params as { whenFalse: Graph; whenTrue: Graph };
    const ops = e.inputs.slice(1).map((v, k) => get(moves.get(k)?.src ?? v));
    const branches = rebuiltBranches(
      p,
      ops,
      (k, x, tb) => {
        const m = moves.get(k);
        return m === undefined ? x : emitChain(tb, m.eqns, x);
      },
      (v) => v,
    );
    return b.emit(COND, [get(at(e.inputs, 0, "sinkCondOperands")), ...ops], branches);
  });
}
