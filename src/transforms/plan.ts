/**
 * Executable plans for staged graphs on concrete arrays (used by `jit`).
 * Equations run their kernels directly (their shapes were checked when the
 * graph was staged), and contiguous runs of elementwise equations over one
 * shape are fused into a single generated loop: no intermediate arrays, one
 * pass over memory. The fused code computes exactly what the kernels compute
 * (the same scalar functions, the same rounding to each equation's dtype).
 *
 * What can be fused is read from the primitives' rows: an elementwise row
 * has a `scalar` function (called from the loop) or an `inline` expression,
 * and a reduction with a `fold` can end a loop.
 */
import { ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { DType, allocate } from "../core/dtype.js";
import { shapesEqual, sizeOf } from "../core/shape.js";
import { Equation, Graph, Var } from "../core/graph.js";
import type { Rule } from "../core/trace.js";
import { type EwKernel, type EwProgram, compileElementwise, wasmMinSize } from "../kernels/wasm/elementwise.js";

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
  outs: Var[];
  shape: readonly number[];
  /** A full reduce_sum folded into the loop: its output is written to the last buffer (one element). */
  sum: Var | null;
  /** The same loop compiled to WebAssembly SIMD, when every operation has a compiled form (see wasmProgram). */
  wasm: EwKernel | null;
}
type Step = EqnStep | FusedStep;

/** A compiled graph: `run` evaluates it on concrete arguments. */
export interface Plan {
  run(args: readonly ConcreteArray[]): NDArray[];
  /** Number of fused loops (for tests and diagnostics). */
  readonly fusedGroups: number;
  /** How many of them run as compiled WebAssembly (for tests and diagnostics). */
  readonly wasmGroups: number;
}

function isElementwise(e: Equation): boolean {
  return e.rule.scalar !== undefined || e.rule.inline !== undefined;
}

/** Whether an equation can join a fused loop over `shape`: every operand is that shape or a single element. */
function fusable(e: Equation, shape: readonly number[]): boolean {
  if (!isElementwise(e) || e.outs.length !== 1 || !shapesEqual(e.outs[0]!.aval.shape, shape)) return false;
  return e.inputs.every((v) => shapesEqual(v.aval.shape, shape) || sizeOf(v.aval.shape) === 1);
}

/** Rounds a JS number expression to what storing it in `dtype` gives. */
function rounded(expr: string, dtype: DType): string {
  if (dtype === "float32") return `Math.fround(${expr})`;
  if (dtype === "int32") return `(${expr} | 0)`;
  return expr;
}

/** Whether the row's int32 scalar function applies (it replaces `scalar` and `inline`). */
const int32Scalar = (e: Equation): boolean => e.rule.scalarInt32 !== undefined && e.outs[0]!.aval.dtype === "int32";
const inlined = (e: Equation): boolean => e.rule.inline !== undefined && !int32Scalar(e);

/** The JS expression of equation `e` (the `j`th of its group) on its operands' expressions. */
function expression(e: Equation, j: number, args: string[]): string {
  const x = (inlined(e) ? e.rule.inline?.(args, e.params) : undefined) ?? `f${j}(${args.join(", ")})`;
  return rounded(x, e.outs[0]!.aval.dtype);
}

let codegen = true;
/** Longest run fused into one loop: keeps generated functions small enough for the JIT compiler. */
const MAX_GROUP = 256;

function fuse(
  group: Equation[],
  liveAfter: Set<Var>,
  sum: Equation | null,
  uniform: (v: Var) => boolean = () => false,
): FusedStep | null {
  // the scalar functions the loop calls, one per equation (unused for inline ones)
  const fns = group.map((e) => (int32Scalar(e) ? e.rule.scalarInt32 : e.rule.scalar));
  const shape = group[0]!.outs[0]!.aval.shape;
  const n = sizeOf(shape);
  const produced = new Set(group.map((e) => e.outs[0]!));
  const ins: Var[] = [];
  const name = new Map<Var, string>();
  const lines: string[] = [];
  const head: string[] = [];
  for (const e of group)
    for (const v of e.inputs)
      if (!produced.has(v) && !name.has(v)) {
        const k = ins.length;
        ins.push(v);
        const scalar = sizeOf(v.aval.shape) === 1 && n !== 1;
        head.push(`const a${k} = ins[${k}];`);
        if (scalar) {
          head.push(`const s${k} = a${k}[0];`);
          name.set(v, `s${k}`);
        } else {
          lines.push(`const x${k} = a${k}[i];`);
          name.set(v, `x${k}`);
        }
      }
  const outs: Var[] = [];
  group.forEach((e, j) => {
    const v = e.outs[0]!;
    const t = `t${j}`;
    if (!inlined(e)) head.push(`const f${j} = F[${j}];`);
    lines.push(
      `const ${t} = ${expression(
        e,
        j,
        e.inputs.map((u) => name.get(u)!),
      )};`,
    );
    name.set(v, t);
    if (liveAfter.has(v)) {
      head.push(`const o${outs.length} = outs[${outs.length}];`);
      lines.push(`o${outs.length}[i] = ${t};`);
      outs.push(v);
    }
  });
  let tail = "";
  if (sum !== null) {
    // the reduction's own accumulation (the kernel's arithmetic), over the values as stored
    const fold = sum.rule.fold!;
    head.push(`let acc = ${fold.init};`);
    lines.push(fold.step("acc", name.get(sum.inputs[0]!)!));
    tail = `outs[${outs.length}][0] = acc;`;
  }
  const body = `${head.join("\n")}\nfor (let i = 0; i < n; i++) {\n${lines.join("\n")}\n}\n${tail}`;
  let wasm: EwKernel | null = null;
  if (n >= wasmMinSize()) {
    const prog = wasmProgram(group, ins, outs, sum, n, uniform);
    if (prog !== null) wasm = compileElementwise(prog);
  }
  try {
    const make = new Function("F", `"use strict"; return function fused(ins, outs, n) {\n${body}\n};`) as (
      f: typeof fns,
    ) => Kernel;
    return { kind: "fused", kernel: make(fns), ins, outs, shape, sum: sum === null ? null : sum.outs[0]!, wasm };
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
  group: Equation[],
  ins: Var[],
  outs: Var[],
  sum: Equation | null,
  n: number,
  uniform: (v: Var) => boolean,
): EwProgram | null {
  const dtype = group[0]!.outs[0]!.aval.dtype;
  if (dtype !== "float32" && dtype !== "float64") return null;
  const index = new Map<Var, number>();
  ins.forEach((v, i) => index.set(v, i));
  if (!ins.every((v) => v.aval.dtype === dtype)) return null;
  const ops: EwProgram["ops"][number][] = [];
  for (const e of group) {
    if (e.outs[0]!.aval.dtype !== dtype || int32Scalar(e)) return null;
    ops.push({ op: e.rule.name, args: e.inputs.map((u) => index.get(u)!) });
    index.set(e.outs[0]!, ins.length + ops.length - 1);
  }
  if (sum !== null && (sum.rule.name !== "reduce_sum" || sum.outs[0]!.aval.dtype !== dtype)) return null;
  return {
    dtype,
    // a constant whose elements are all equal (a materialised broadcast, e.g. the ones of a sum's
    // cotangent) is read as one element: the compiled loop splats its first element
    scalarIn: ins.map((v) => (sizeOf(v.aval.shape) === 1 && n !== 1) || uniform(v)),
    ops,
    outs: outs.map((v) => index.get(v)!),
    sum: sum === null ? null : index.get(sum.inputs[0]!)!,
  };
}
// --- end WebAssembly fused loops ---------------------------------------------------------------

/** Whether every element of a concrete array is the same value (bitwise, so NaN and ±0 count exactly). */
function isUniform(x: unknown): boolean {
  if (!(x instanceof ConcreteArray)) return false;
  const d = storageOf(x);
  const first = d[0];
  for (let i = 1; i < d.length; i++) if (!Object.is(d[i], first)) return false;
  return d.length > 1;
}

/** Compiles a graph into a plan (fusing elementwise runs when code generation is available). */
export function compile(g: Graph): Plan {
  const eqns = g.equations;
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
  /** Emits a group ending before equation `end`; `sum` is a full reduce_sum at `end` folded into the loop. */
  const flush = (group: Equation[], end: number, sum: Equation | null): boolean => {
    if ((group.length >= 2 || sum !== null) && group.length > 0 && codegen) {
      const live = new Set<Var>();
      for (const e of group) {
        const v = e.outs[0]!;
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
  const foldable = (e: Equation, group: Equation[]): boolean =>
    e.rule.fold !== undefined &&
    group.length > 0 &&
    group[0]!.outs[0]!.aval.shape.length > 0 &&
    e.outs.length === 1 &&
    e.outs[0]!.aval.shape.length === 0 &&
    group.some((g) => g.outs[0] === e.inputs[0]);
  let group: Equation[] = [];
  eqns.forEach((e, i) => {
    const shape = group.length ? group[0]!.outs[0]!.aval.shape : e.outs[0]?.aval.shape;
    if (shape !== undefined && group.length < MAX_GROUP && fusable(e, shape)) {
      group.push(e);
      return;
    }
    if (foldable(e, group)) {
      // fold the full reduction into the group's loop; without code generation both run unfused
      if (!flush(group, i, e)) steps.push({ kind: "eqn", eqn: e, rule: e.rule });
      group = [];
      return;
    }
    flush(group, i, null);
    group = [];
    if (e.outs.length === 1 && fusable(e, e.outs[0]!.aval.shape)) group.push(e);
    else steps.push({ kind: "eqn", eqn: e, rule: e.rule });
  });
  flush(group, eqns.length, null);

  return {
    fusedGroups,
    wasmGroups: steps.filter((s) => s.kind === "fused" && s.wasm !== null).length,
    run(args: readonly ConcreteArray[]): NDArray[] {
      const env = new Map<Var, ConcreteArray>();
      g.constVars.forEach((v, i) => env.set(v, g.consts[i] as ConcreteArray));
      g.inVars.forEach((v, i) => env.set(v, args[i]!));
      for (const s of steps) {
        if (s.kind === "eqn") {
          const e = s.eqn;
          const outs = s.rule.impl(
            e.inputs.map((v) => env.get(v)!),
            e.params,
            e.outs.map((v) => v.aval),
          );
          e.outs.forEach((v, i) => env.set(v, outs[i]!));
        } else {
          const n = sizeOf(s.shape);
          const bufs = s.outs.map((v) => allocate(v.aval.dtype, n));
          if (s.sum !== null) bufs.push(allocate(s.sum.aval.dtype, 1));
          const data = s.ins.map((v) => storageOf(env.get(v)!));
          if (s.wasm !== null) {
            const total = s.wasm(data, s.sum === null ? bufs : bufs.slice(0, -1), n);
            if (s.sum !== null) bufs[bufs.length - 1]![0] = total;
          } else s.kernel(data, bufs, n);
          s.outs.forEach((v, i) => env.set(v, new ConcreteArray(bufs[i]!, s.shape, v.aval.dtype, v.aval.weak)));
          if (s.sum !== null)
            env.set(s.sum, new ConcreteArray(bufs[s.outs.length]!, [], s.sum.aval.dtype, s.sum.aval.weak));
        }
      }
      return g.outs.map((v) => env.get(v!)!);
    },
  };
}
