/**
 * Executable plans for staged graphs on concrete arrays (used by `jit`).
 * Equations run their kernels directly (their shapes were checked when the
 * graph was staged), and runs of elementwise equations with the same number
 * of elements are fused into a single generated loop: no intermediate arrays,
 * one pass over memory. Reshapes inside a run are aliases, broadcast operands
 * are read from a tiled copy, and equations independent of the run are
 * scheduled ahead of it. The fused code computes exactly what the kernels compute
 * (the same scalar functions, the same rounding to each equation's dtype).
 *
 * What can be fused is read from the primitives' rows: an elementwise row
 * has a `scalar` function (called from the loop) or an `inline` expression,
 * and a reduction with a `fold` can end a loop.
 */
import { ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { NablaError, at } from "../core/errors.js";
import { ARENA_MIN, Arena, DType, type TypedArray, allocate, allocateOverwritten, withArena } from "../core/dtype.js";
import * as SH from "../prims/shape.js";
import { MATMUL } from "../prims/linalg.js";
import { matmulT } from "../kernels/matmul.js";
import { sizeOf } from "../core/shape.js";
import { Equation, Graph, Var, evalGraph } from "../core/graph.js";
import { SETTINGS } from "../core/config.js";
import type { Rule } from "../core/trace.js";
import {
  type EwFill,
  type EwKernel,
  type EwProgram,
  compileElementwise,
  wasmMinSize,
} from "../kernels/wasm/elementwise.js";
import { bcastStrides, gather } from "../kernels/strided.js";
import { SUM_CHUNK } from "../kernels/sumOrder.js";

type Kernel = (ins: ArrayLike<number>[], outs: { [i: number]: number }[], n: number) => void;

interface EqnStep {
  kind: "eqn";
  eqn: Equation;
  rule: Rule;
}
interface FusedStep {
  kind: "fused";
  kernel: Kernel;
  ins: Var[];
  /** Per input: the shape it is broadcast to (its elements tiled in row-major order of that shape), or null. */
  tile: (readonly number[] | null)[];
  outs: Var[];
  /** The loop's length (every output has this many elements, each in its own shape). */
  size: number;
  /** A full reduce_sum folded into the loop: its output is written to the last buffer (one element). */
  sum: Var | null;
  /** The same loop compiled to WebAssembly SIMD, when every operation has a compiled form (see wasmProgram). */
  wasm: EwKernel | null;
}
type Step = EqnStep | FusedStep;

/** An equation with exactly one output: every equation a fused loop holds, and the sum it folds. */
type Single = Equation & { readonly outs: readonly [Var] };

/** The error of a plan's internal bookkeeping going wrong (a bug, not a misuse). */
function internal(what: string): NablaError {
  return new NablaError(`jit: internal: ${what}`);
}

/** A compiled graph: `run` evaluates it on concrete arguments. */
export interface Plan {
  run(args: readonly ConcreteArray[]): NDArray[];
  /** Number of fused loops (for tests and diagnostics). */
  readonly fusedGroups: number;
  /** How many of them run as compiled WebAssembly (for tests and diagnostics). */
  readonly wasmGroups: number;
  /** Transposes dropped because the matmuls reading them read their input transposed (for tests and diagnostics). */
  readonly matmulTransposes: number;
}

function isElementwise(e: Equation): boolean {
  return e.rule.scalar !== undefined || e.rule.inline !== undefined;
}

/**
 * reshape, and broadcast that only inserts unit axes, keep the row-major
 * order of the elements: inside a loop they are aliases (no operation).
 */
function isAlias(e: Equation): boolean {
  const [x] = e.inputs;
  const [y] = e.outs;
  return (
    (e.rule === SH.RESHAPE || e.rule === SH.BROADCAST) &&
    e.inputs.length === 1 &&
    x !== undefined &&
    y !== undefined &&
    sizeOf(x.aval.shape) === sizeOf(y.aval.shape)
  );
}

/**
 * A broadcast operand, read by the loop from a copy tiled to the shape it is
 * broadcast to (the shape of the equation using it): an elementwise operand
 * smaller than its output that is not a single element, or the input of a
 * broadcast equation that really broadcasts.
 */
function tiledOperand(e: Equation, v: Var, n: number): boolean {
  const m = sizeOf(v.aval.shape);
  return m !== n && !(m === 1 && n !== 1) && (isElementwise(e) || e.rule === SH.BROADCAST);
}

/**
 * What a tiled copy of an operand of shape `from` broadcast to `to` holds, as a
 * string: the (operand, result) extents of the result's non-unit axes, so
 * copies with the same elements in the same order (e.g. [n] broadcast to
 * [m, n] and to [m, 1, n]) are made once.
 */
function tileKey(from: readonly number[], to: readonly number[]): string {
  const lead = to.length - from.length;
  const parts: string[] = [];
  to.forEach((d, a) => {
    if (d !== 1) parts.push(`${a < lead ? 1 : at(from, a - lead, "jit")}:${d}`);
  });
  return parts.join(",");
}

/**
 * Whether an equation can join a fused loop of `n` elements: an elementwise
 * equation (or an alias, or a broadcast) whose output has `n` elements; its
 * operands have `n` elements (the same row-major order), one element, or are
 * broadcast (tiled once per call, see {@link tiledOperand}).
 */
function fusable(e: Equation, n: number): e is Single {
  const [out] = e.outs;
  if (e.outs.length !== 1 || out === undefined || sizeOf(out.aval.shape) !== n) return false;
  return isElementwise(e) || isAlias(e) || (e.rule === SH.BROADCAST && e.inputs.length === 1);
}

/** Rounds a JS number expression to what storing it in `dtype` gives. */
function rounded(expr: string, dtype: DType): string {
  if (dtype === "float32") return `Math.fround(${expr})`;
  if (dtype === "int32") return `(${expr} | 0)`;
  return expr;
}

/** Whether the row's int32 scalar function applies (it replaces `scalar` and `inline`). */
const int32Scalar = (e: Single): boolean => e.rule.scalarInt32 !== undefined && e.outs[0].aval.dtype === "int32";
const inlined = (e: Single): boolean => e.rule.inline !== undefined && !int32Scalar(e);

/** The JS expression of equation `e` (the `j`th of its group) on its operands' expressions. */
function expression(e: Single, j: number, args: string[]): string {
  const x = (inlined(e) ? e.rule.inline?.(args, e.params) : undefined) ?? `f${j}(${args.join(", ")})`;
  return rounded(x, e.outs[0].aval.dtype);
}

let codegen = true;
/** Longest run fused into one loop: keeps generated functions small enough for the JIT compiler. */
const MAX_GROUP = 256;

function fuse(
  group: readonly Single[],
  liveAfter: Set<Var>,
  sum: Single | null,
  uniform: (v: Var) => boolean = () => false,
): FusedStep | null {
  // the scalar functions the loop calls, one per equation (unused for inline ones)
  const fns = group.map((e) => (int32Scalar(e) ? e.rule.scalarInt32 : e.rule.scalar));
  const n = sizeOf(at(group, 0, "jit").outs[0].aval.shape);
  const produced = new Set(group.map((e) => e.outs[0]));
  const ins: Var[] = [];
  const tile: (readonly number[] | null)[] = [];
  // an operand's input index; a broadcast operand is one input per shape it is tiled to
  const inputOf = new Map<string, number>();
  const name = new Map<Var, string>();
  const lines: string[] = [];
  const head: string[] = [];
  /** The loop's name for the result of an earlier equation of the group. */
  const nameOf = (v: Var): string => {
    const t = name.get(v);
    if (t === undefined) throw internal(`a fused loop reads variable ${v.id} before it computes it`);
    return t;
  };
  /** The loop's name for operand `v` of `e` (declaring a new input on first use). */
  const operand = (e: Single, v: Var): string => {
    if (produced.has(v)) return nameOf(v);
    const tiled = tiledOperand(e, v, n);
    const key = tiled ? `${v.id}|${tileKey(v.aval.shape, e.outs[0].aval.shape)}` : `${v.id}`;
    let k = inputOf.get(key);
    if (k === undefined) {
      inputOf.set(key, (k = ins.length));
      ins.push(v);
      tile.push(tiled ? e.outs[0].aval.shape : null);
      head.push(`const a${k} = ins[${k}];`);
      if (!tiled && sizeOf(v.aval.shape) === 1 && n !== 1) head.push(`const s${k} = a${k}[0];`);
      else lines.push(`const x${k} = a${k}[i];`);
    }
    return !tiled && sizeOf(v.aval.shape) === 1 && n !== 1 ? `s${k}` : `x${k}`;
  };
  const outs: Var[] = [];
  // per equation, its operands as loop values: an input's index, or ~j for the result of equation j
  const refs: number[][] = [];
  const resultOf = new Map<Var, number>();
  group.forEach((e, j) => {
    const v = e.outs[0];
    const t = `t${j}`;
    const args: string[] = [];
    const ref: number[] = [];
    for (const u of e.inputs) {
      const a = operand(e, u);
      args.push(a);
      if (!produced.has(u)) ref.push(Number(a.slice(1)));
      else {
        const r = resultOf.get(u);
        if (r === undefined) throw internal(`a fused loop reads variable ${u.id} before it computes it`);
        ref.push(~r);
      }
    }
    refs.push(ref);
    resultOf.set(v, j);
    if (isAlias(e) || e.rule === SH.BROADCAST) {
      // no operation: the loop reads the same element (or the tiled copy's)
      lines.push(`const ${t} = ${at(args, 0, "jit")};`);
    } else {
      if (!inlined(e)) head.push(`const f${j} = F[${j}];`);
      lines.push(`const ${t} = ${expression(e, j, args)};`);
    }
    name.set(v, t);
    if (liveAfter.has(v)) {
      head.push(`const o${outs.length} = outs[${outs.length}];`);
      lines.push(`o${outs.length}[i] = ${t};`);
      outs.push(v);
    }
  });
  let body: string;
  if (sum !== null) {
    // the reduction's own accumulation (the kernel's arithmetic and order: chunks of SUM_CHUNK
    // elements, then their partial sums), over the values as stored
    const fold = sum.rule.fold;
    if (fold === undefined) throw internal(`${sum.prim} folded into a loop has no fold`);
    lines.push(fold.step("acc", nameOf(at(sum.inputs, 0, "jit"))));
    body = `${head.join("\n")}\nlet total = ${fold.init};
for (let c0 = 0; c0 < n; c0 += ${SUM_CHUNK}) {
const c1 = Math.min(n, c0 + ${SUM_CHUNK});
let acc = ${fold.init};
for (let i = c0; i < c1; i++) {\n${lines.join("\n")}\n}
${fold.step("total", "acc")}
}
outs[${outs.length}][0] = total;`;
  } else body = `${head.join("\n")}\nfor (let i = 0; i < n; i++) {\n${lines.join("\n")}\n}`;
  let wasm: EwKernel | null = null;
  if (n >= wasmMinSize()) {
    const prog = wasmProgram(group, refs, ins, tile, outs, sum, n, uniform);
    if (prog !== null) wasm = compileElementwise(prog);
  }
  try {
    const make = new Function("F", `"use strict"; return function fused(ins, outs, n) {\n${body}\n};`) as (
      f: typeof fns,
    ) => Kernel;
    return {
      kind: "fused",
      kernel: make(fns),
      ins,
      tile,
      outs,
      size: n,
      sum: sum === null ? null : sum.outs[0],
      wasm,
    };
  } catch {
    codegen = false; // e.g. a Content-Security-Policy without 'unsafe-eval': run equation by equation
    return null;
  }
}

// --- WebAssembly fused loops (the wasm branch): ----------------------------------------------
/**
 * The group as a program for the compiled loop, or null when it has an
 * operation without a compiled form or mixes dtypes (all values, inputs and
 * the folded sum must share one float dtype).
 */
function wasmProgram(
  group: readonly Single[],
  refs: readonly (readonly number[])[],
  ins: Var[],
  tile: readonly (readonly number[] | null)[],
  outs: Var[],
  sum: Single | null,
  n: number,
  uniform: (v: Var) => boolean,
): EwProgram | null {
  const dtype = at(group, 0, "jit").outs[0].aval.dtype;
  if (dtype !== "float32" && dtype !== "float64") return null;
  const index = new Map<Var, number>();
  if (!ins.every((v) => v.aval.dtype === dtype)) return null;
  // value index of each equation's result (an alias or broadcast has its operand's)
  const result: number[] = [];
  const ops: EwProgram["ops"][number][] = [];
  group.forEach((e, j) => {
    const args = at(refs, j, "jit").map((r) => (r < 0 ? at(result, ~r, "jit") : r));
    let value: number;
    if (isAlias(e) || e.rule === SH.BROADCAST) value = at(args, 0, "jit");
    else {
      ops.push({ op: e.rule.name, args });
      value = ins.length + ops.length - 1;
    }
    result.push(value);
    index.set(e.outs[0], value);
  });
  if (group.some((e) => e.outs[0].aval.dtype !== dtype || int32Scalar(e))) return null;
  if (sum !== null && (sum.rule.name !== "reduce_sum" || sum.outs[0].aval.dtype !== dtype)) return null;
  const valueOf = (v: Var): number => {
    const k = index.get(v);
    if (k === undefined) throw internal(`variable ${v.id} is not computed by the loop`);
    return k;
  };
  return {
    dtype,
    // a constant whose elements are all equal (a materialised broadcast, e.g. the ones of a sum's
    // cotangent) is read as one element: the compiled loop splats its first element
    scalarIn: ins.map((v, k) => (tile[k] === null && sizeOf(v.aval.shape) === 1 && n !== 1) || uniform(v)),
    ops,
    outs: outs.map(valueOf),
    sum: sum === null ? null : valueOf(at(sum.inputs, 0, "jit")),
  };
}
// --- end WebAssembly fused loops ---------------------------------------------------------------

/**
 * matmul of transposed operands (issue 8: the backward pass's xᵀ·g and g·Wᵀ): a transpose that
 * swaps the last two axes and is read only as matmul operands is dropped, and those matmuls read
 * its input through the kernel's transposed layout, which gives exactly the values of the
 * materialised transpose's product (see `matmulT`).
 */
function transposedMatmuls(eqns: readonly Equation[], outs: readonly (Var | null)[]): readonly Equation[] {
  const swapsLast = (perm: readonly number[]): boolean => {
    const n = perm.length;
    return n >= 2 && perm[n - 2] === n - 1 && perm[n - 1] === n - 2 && perm.every((p, i) => i >= n - 2 || p === i);
  };
  const readers = new Map<Var, Equation[]>();
  for (const e of eqns) for (const v of e.inputs) readers.set(v, [...(readers.get(v) ?? []), e]);
  const source = new Map<Var, Var>(); // a dropped transpose's output -> its input
  for (const e of eqns)
    if (e.rule === SH.TRANSPOSE && swapsLast((e.params as { perm: number[] }).perm)) {
      const v = at(e.outs, 0, "jit");
      const rs = readers.get(v) ?? [];
      if (rs.length > 0 && rs.every((r) => r.rule === MATMUL) && !outs.includes(v))
        source.set(v, at(e.inputs, 0, "jit"));
    }
  if (source.size === 0) return eqns;
  const out: Equation[] = [];
  for (const e of eqns) {
    if (e.rule === SH.TRANSPOSE && source.has(at(e.outs, 0, "jit"))) continue;
    if (e.rule !== MATMUL || !e.inputs.some((v) => source.has(v))) {
      out.push(e);
      continue;
    }
    const [a, b] = e.inputs;
    if (a === undefined || b === undefined || e.inputs.length !== 2)
      throw internal(`matmul with ${e.inputs.length} operands`);
    const ta = source.has(a);
    const tb = source.has(b);
    const rule: Rule = {
      ...(MATMUL as unknown as Rule),
      impl: (xs, _p, avals) => [matmulT(at(xs, 0, "jit"), at(xs, 1, "jit"), at(avals, 0, "jit").dtype, ta, tb)],
    };
    out.push({ ...e, rule, inputs: [source.get(a) ?? a, source.get(b) ?? b] });
  }
  return out;
}

/** Whether every element of a concrete array is the same value (bitwise, so NaN and ±0 count exactly). */
function isUniform(x: unknown): boolean {
  if (!(x instanceof ConcreteArray)) return false;
  const d = storageOf(x);
  const first = d[0];
  for (let i = 1; i < d.length; i++) if (!Object.is(d[i], first)) return false;
  return d.length > 1;
}

/**
 * Whether a plan may reuse the storage of its dead intermediates (see `Arena`): not when an
 * equation carries a function or a graph (a debug callback, custom rules, control flow), which
 * could run user code that keeps an intermediate array.
 */
function reusesStorage(eqns: readonly Equation[]): boolean {
  // numbers, strings, typed arrays, and arrays and plain objects of them (a few levels deep)
  const plain = (v: unknown, depth: number): boolean => {
    if (typeof v === "function" || v instanceof Graph) return false;
    if (typeof v !== "object" || v === null || ArrayBuffer.isView(v)) return true;
    if (depth > 4) return false;
    if (Array.isArray(v)) return v.every((u) => plain(u, depth + 1));
    return Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every((u) => plain(u, depth + 1));
  };
  return eqns.every((e) => plain(e.params, 0));
}

/** Compiles a graph into a plan (fusing elementwise runs when code generation is available). */
export function compile(g: Graph): Plan {
  const eqns = transposedMatmuls(g.equations, g.outs);
  const uniformConsts = new Map<Var, boolean>();
  const uniform = (v: Var): boolean => {
    const i = g.constVars.indexOf(v);
    if (i < 0) return false;
    let u = uniformConsts.get(v);
    if (u === undefined) uniformConsts.set(v, (u = isUniform(g.consts[i])));
    return u;
  };
  // where each variable is read (equation indices; Infinity for graph outputs)
  const uses = new Map<Var, number[]>();
  const use = (v: Var, i: number) => {
    const u = uses.get(v);
    if (u === undefined) uses.set(v, [i]);
    else u.push(i);
  };
  eqns.forEach((e, i) => e.inputs.forEach((v) => use(v, i)));
  for (const v of g.outs) if (v) use(v, Infinity);
  const steps: Step[] = [];
  let fusedGroups = 0;
  // broadcast operands tiled for a loop: a constant's copy is made once, here
  const constTiles = new Map<string, TypedArray>();
  const tiled = (v: Var, x: ConcreteArray, shape: readonly number[]): TypedArray => {
    const constant = g.constVars.includes(v);
    const key = `${v.id}|${shape.join(",")}`;
    const hit = constant ? constTiles.get(key) : undefined;
    if (hit !== undefined) return hit;
    const [t] = SH.BROADCAST.impl([x], { shape: shape.slice() }, [
      { shape: shape.slice(), dtype: x.dtype, weak: x.weakType },
    ]);
    const d = storageOf(t as ConcreteArray);
    if (constant) constTiles.set(key, d);
    return d;
  };
  /** Emits a group ending before equation `end`; `sum` is a full reduce_sum at `end` folded into the loop. */
  const flush = (group: readonly Single[], end: number, sum: Single | null): boolean => {
    // worth a loop: two equations (or one and a folded sum), at least one doing arithmetic
    const work = group.some((e) => isElementwise(e));
    if ((group.length >= 2 || sum !== null) && work && codegen) {
      const live = new Set<Var>();
      for (const e of group) {
        const v = e.outs[0];
        if ((uses.get(v) ?? []).some((k) => k >= end && !(sum !== null && k === end))) live.add(v);
      }
      const f = fuse(group, live, sum, uniform);
      if (f !== null) {
        steps.push(f);
        fusedGroups++;
        return true;
      }
    }
    for (const e of group) steps.push({ kind: "eqn", eqn: e, rule: e.rule });
    return false;
  };
  /** A foldable reduction over every axis (to a 0-d output) of a value the group produces. */
  const foldable = (e: Equation, group: readonly Single[]): e is Single => {
    const first = group[0];
    const out = e.outs[0];
    return (
      e.rule.fold !== undefined &&
      first !== undefined &&
      first.outs[0].aval.shape.length > 0 &&
      e.outs.length === 1 &&
      out !== undefined &&
      out.aval.shape.length === 0 &&
      group.some((g) => g.outs[0] === e.inputs[0])
    );
  };
  /**
   * Whether `e` can run ahead of the open group: it reads none of the group's
   * results, and would not start a loop of its own worth keeping (not
   * elementwise, or at most a sixteenth of the group's length).
   */
  const hoistable = (e: Equation, group: readonly Single[]): boolean => {
    const n = sizeOf(at(group, 0, "jit").outs[0].aval.shape);
    if (isElementwise(e) && e.outs.every((v) => sizeOf(v.aval.shape) * 16 > n)) return false;
    return !e.inputs.some((v) => group.some((q) => q.outs[0] === v));
  };
  let group: Single[] = [];
  eqns.forEach((e, i) => {
    const shape = (group[0] ?? e).outs[0]?.aval.shape;
    if (shape !== undefined && group.length < MAX_GROUP && fusable(e, sizeOf(shape))) {
      group.push(e);
      return;
    }
    if (foldable(e, group)) {
      // fold the full reduction into the group's loop; without code generation both run unfused
      if (!flush(group, i, e)) steps.push({ kind: "eqn", eqn: e, rule: e.rule });
      group = [];
      return;
    }
    if (group.length > 0 && hoistable(e, group)) {
      // an equation independent of the open loop runs before it, so the loop continues past it
      steps.push({ kind: "eqn", eqn: e, rule: e.rule });
      return;
    }
    flush(group, i, null);
    group = [];
    const out = e.outs[0];
    if (out !== undefined && fusable(e, sizeOf(out.aval.shape))) group.push(e);
    else steps.push({ kind: "eqn", eqn: e, rule: e.rule });
  });
  flush(group, eqns.length, null);

  // storage reuse: after each step, the variables it reads (or makes) for the last time
  const arena = reusesStorage(eqns) ? new Arena() : null;
  const lastUse = new Map<Var, number>();
  steps.forEach((s, i) => {
    const reads = s.kind === "eqn" ? s.eqn.inputs : s.ins;
    const made = s.kind === "eqn" ? s.eqn.outs : s.sum === null ? s.outs : [...s.outs, s.sum];
    for (const v of [...made, ...reads]) lastUse.set(v, i);
  });
  for (const v of g.outs) if (v) lastUse.set(v, Infinity);
  const deadAfter: Var[][] = steps.map(() => []);
  for (const [v, i] of lastUse) if (i !== Infinity) deadAfter[i]?.push(v);
  const isConst = new Set(g.constVars);

  return {
    fusedGroups,
    matmulTransposes: g.equations.length - eqns.length,
    wasmGroups: steps.filter((s) => s.kind === "fused" && s.wasm !== null).length,
    run(args: readonly ConcreteArray[]): NDArray[] {
      // debugNans: equation by equation through bind, which checks each primitive's outputs (the
      // fused loops would not); a debugging mode, so speed is secondary
      if (SETTINGS.debugNans) return evalGraph(g, args);
      const env = new Map<Var, ConcreteArray>();
      const read = (v: Var | null): ConcreteArray => {
        if (v === null) throw internal("a symbolic-zero output outside a linear graph");
        const x = env.get(v);
        if (x === undefined) throw internal(`variable ${v.id} is read before it is computed`);
        return x;
      };
      g.constVars.forEach((v, i) => env.set(v, g.consts[i] as ConcreteArray));
      g.inVars.forEach((v, i) => env.set(v, at(args, i, "jit")));
      if (arena === null) {
        runSteps(env, read, null);
        return g.outs.map(read);
      }
      arena.handed = new Map();
      return withArena(arena, () => {
        runSteps(env, read, arena);
        return g.outs.map(read);
      });
    },
  };

  function runSteps(env: Map<Var, ConcreteArray>, read: (v: Var | null) => ConcreteArray, arena: Arena | null): void {
    // per buffer handed out by the arena in this run: how many live variables hold it
    const holders = new Map<ArrayBufferLike, number>();
    const hold = (x: ConcreteArray): void => {
      if (arena === null || x.size < ARENA_MIN) return;
      const b = storageOf(x).buffer;
      if (arena.handed.has(b)) holders.set(b, (holders.get(b) ?? 0) + 1);
    };
    steps.forEach((s, i) => {
      if (s.kind === "eqn") {
        const e = s.eqn;
        const outs = s.rule.impl(
          e.inputs.map(read),
          e.params,
          e.outs.map((v) => v.aval),
        );
        e.outs.forEach((v, i) => {
          const x = at(outs, i, "jit");
          env.set(v, x);
          hold(x);
        });
      } else {
        const n = s.size;
        // every output is written for every element (by the compiled loop or the JS one)
        const bufs = s.outs.map((v) => allocateOverwritten(v.aval.dtype, n));
        const temps: TypedArray[] = [];
        const materialise = (v: Var, k: number): TypedArray => {
          const shape = s.tile[k];
          if (!shape) return storageOf(read(v));
          const x = read(v);
          const t = tiled(v, x, shape);
          if (!isConst.has(v) && t.buffer !== storageOf(x).buffer) temps.push(t);
          return t;
        };
        // the compiled loop tiles a variable's broadcast operand straight into its memory (the
        // elements broadcastTo gives, in the same order); a constant's tiled copy is made once
        const data: (TypedArray | EwFill)[] = s.ins.map((v, k) => {
          const shape = s.tile[k];
          if (s.wasm === null || !shape || isConst.has(v)) return materialise(v, k);
          const x = read(v);
          const d = storageOf(x);
          return {
            write: (dst: TypedArray) => gather(d, dst, shape, bcastStrides(x.shape, shape)),
            first: () => at(d, 0, "jit"),
          };
        });
        // a folded sum's one element: the wasm loop returns it, the JS loop writes it after the outputs
        // (a wasm loop that declines, e.g. operands beyond its memory, returns null: the JS loop runs)
        const total = s.sum === null ? null : allocate(s.sum.aval.dtype, 1);
        const t = s.wasm === null ? null : s.wasm(data, bufs, n);
        if (t === null) {
          const js = s.ins.map((v, k) => {
            const dk = at(data, k, "jit");
            return ArrayBuffer.isView(dk) ? dk : materialise(v, k);
          });
          s.kernel(js, total === null ? bufs : [...bufs, total], n);
        } else if (total !== null) total[0] = t;
        s.outs.forEach((v, i) => {
          const x = new ConcreteArray(at(bufs, i, "jit"), v.aval.shape, v.aval.dtype, v.aval.weak);
          env.set(v, x);
          hold(x);
        });
        if (s.sum !== null && total !== null)
          env.set(s.sum, new ConcreteArray(total, [], s.sum.aval.dtype, s.sum.aval.weak));
        // the tiled copies of variables are dead after the loop
        if (arena !== null) for (const t of temps) arena.release(t.buffer);
      }
      if (arena !== null)
        for (const v of at(deadAfter, i, "jit")) {
          const x = env.get(v);
          env.delete(v);
          if (x === undefined || x.size < ARENA_MIN) continue;
          const b = storageOf(x).buffer;
          const n = holders.get(b);
          if (n === undefined) continue;
          if (n > 1) holders.set(b, n - 1);
          else {
            holders.delete(b);
            arena.release(b);
          }
        }
    });
  }
}
