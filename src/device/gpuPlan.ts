/**
 * Device plans for staged graphs on "webgpu" (used by `jit` through
 * runGraphOn): runs of elementwise equations with the same number of elements
 * become one WGSL compute shader each (src/kernels/webgpu/fused.ts), one
 * dispatch per region; every other equation goes through `bind`, which runs
 * its GPU kernel or the transfer (src/device/webgpu.ts).
 *
 * Regions group fusable equations by their number of elements, as the CPU
 * plan's loops do (src/transforms/plan.ts), but not only consecutive ones: a
 * group stays open (one per size) until an equation outside it reads one of
 * its values, since on the GPU a dispatch costs more than a pass over memory.
 * Reshapes (and broadcasts that only add unit axes, and stop_gradient) are
 * aliases; a broadcast operand is read through strides. A group is cut into
 * regions where its bound buffers (inputs and live outputs) would pass the
 * device's `maxStorageBuffersPerShaderStage` (8 by default).
 *
 * Reductions are not folded into a region: the region stores the value and
 * the reduction runs its own kernel (as eager does), because a folded sum is
 * bit-identical to eager only if it adds in the reduce kernel's order.
 *
 * The fused shader computes what the per-equation kernels compute (the same
 * WGSL expression per primitive, each value rounded to its dtype), so a jit
 * plan gives eager's results bit for bit. Equations eager would run on the
 * CPU (no operand on the GPU: they read only weak scalars and CPU constants)
 * are left out of regions and run through `bind` too, so they stay on the CPU
 * exactly as in eager evaluation.
 *
 * The plan is built once per graph (a jit cache entry) and cached on it;
 * each region keeps its pipelines by the read modes of its operands (a
 * one-element CPU operand is a parameter word, a GPU one a binding), so a
 * second call compiles nothing and builds no key.
 */
import { DeviceError, NablaError, at } from "../core/errors.js";
import { ConcreteArray, NDArray, committedToCpu, deviceStorageOf, storageOf } from "../core/ndarray.js";
import { type Equation, type Graph, type Var, readers } from "../core/graph.js";
import { bind } from "../core/trace.js";
import { sizeOf } from "../core/shape.js";
import type { DType } from "../core/dtype.js";
import {
  type FusedOp,
  type FusedProgram,
  type FusedRead,
  fusedKey,
  fusedWgsl,
  hasExpression,
} from "../kernels/webgpu/fused.js";
import { WG } from "../kernels/webgpu/wgsl.js";
import { type GpuDType, type GpuTensor, grid } from "../kernels/webgpu/kernel.js";
import type { GPUBufferLike, GPUComputePipelineLike } from "../kernels/webgpu/gpu.js";
import type { WebGpuRuntime } from "./webgpu.js";

/** Longest run fused into one shader (keeps the WGSL small enough to compile quickly). */
const MAX_GROUP = 256;
/** Equations looked at past a chunk that binds too many buffers (see flush). */
const LOOKAHEAD = 8;

interface EqnStep {
  readonly kind: "eqn";
  readonly eqn: Equation;
}

/** One operand of a region: its variable, and the reads of it (one per way it is indexed). */
interface RegionInput {
  readonly v: Var;
  readonly dtype: GpuDType;
  /** Whether it has one element (a parameter word when it lives on the CPU). */
  readonly single: boolean;
}

interface FusedStep {
  readonly kind: "fused";
  readonly size: number;
  readonly inputs: readonly RegionInput[];
  /** The reads with `mode` "s" for one-element inputs: "p" replaces it where the operand is on the CPU. */
  readonly reads: readonly FusedRead[];
  readonly ops: readonly FusedOp[];
  /** Live outputs: variable and value index. */
  readonly outs: readonly Var[];
  readonly outValues: readonly number[];
  /** The equations (run through bind when no operand is on the GPU). */
  readonly eqns: readonly Equation[];
  /** Pipelines by the operands' placement ("p" or "g" per input). */
  readonly pipelines: Map<string, GPUComputePipelineLike>;
}

type Step = EqnStep | FusedStep;

/** A compiled device plan of a graph. */
export interface GpuPlan {
  /** Evaluates the graph; arguments are placed as runGraphOn places them. */
  run(rt: WebGpuRuntime, args: readonly NDArray[]): NDArray[];
  /** Number of fused regions (one dispatch each). */
  readonly regions: number;
  /** Equations run one by one (kernels, transfers, CPU). */
  readonly unfused: number;
  /** The steps in order, for tests and diagnostics: `fused(prim prim ...)` or the primitive's name. */
  readonly steps: readonly string[];
}

/** The GPU dtype a value of `dtype` has on the device (a weak float64 scalar is a float32 there). */
function gpuDType(d: DType): GpuDType {
  return d === "float64" ? "float32" : d;
}

/** The output of an equation the caller knows has one (a fusable or alias equation). */
const out0 = (e: Equation): Var => at(e.outs, 0, "jit");

/** The value of `v` in a plan's environment, computed by an earlier step. */
function valueIn(env: ReadonlyMap<Var, NDArray>, v: Var): NDArray {
  const x = env.get(v);
  if (x === undefined) throw new NablaError("jit: internal: a device plan reads a value before it is computed");
  return x;
}

/** Runs one equation through `bind` on the values of `env`, recording its outputs there. */
function runEqn(e: Equation, env: Map<Var, NDArray>): void {
  const outs = bind(
    e.rule,
    e.inputs.map((v) => valueIn(env, v)),
    e.params,
  );
  e.outs.forEach((v, i) => env.set(v, at(outs, i, "jit")));
}

const isReshape = (e: Equation): boolean => e.prim === "reshape" || e.prim === "stop_gradient";

/** reshape, stop_gradient and a broadcast adding only unit axes keep the elements' order: aliases. */
function isAlias(e: Equation): boolean {
  return (
    (isReshape(e) || e.prim === "broadcast") &&
    e.inputs.length === 1 &&
    sizeOf(at(e.inputs, 0, "jit").aval.shape) === sizeOf(out0(e).aval.shape)
  );
}

/** An elementwise equation with a WGSL expression on GPU dtypes (float64 results are eager's DTypeError). */
function isElementwise(e: Equation): boolean {
  return (
    hasExpression(e.prim) &&
    e.outs.length === 1 &&
    out0(e).aval.dtype !== "float64" &&
    e.inputs.every((v) => v.aval.dtype !== "float64" || v.aval.weak)
  );
}

/** Whether `e` can join a region of `n` elements. */
function fusable(e: Equation, n: number, onGpu: (e: Equation) => boolean): boolean {
  if (e.outs.length !== 1 || sizeOf(out0(e).aval.shape) !== n || !onGpu(e)) return false;
  if (out0(e).aval.dtype === "float64") return false;
  return isElementwise(e) || isAlias(e) || (e.prim === "broadcast" && e.inputs.length === 1);
}

const PLANS = new WeakMap<Graph, GpuPlan>();

/** The device plan of `g` (built on first use, then cached on the graph). */
export function gpuPlanOf(g: Graph, maxBuffers: number): GpuPlan {
  let p = PLANS.get(g);
  if (p === undefined) PLANS.set(g, (p = compileGpu(g, maxBuffers)));
  return p;
}

/** Compiles `g` into a device plan whose regions bind at most `maxBuffers` storage buffers. */
export function compileGpu(g: Graph, maxBuffers: number): GpuPlan {
  const eqns = g.equations;
  // where values live when the plan runs: arguments on the GPU unless weak (runGraphOn leaves those on
  // the CPU), constants where they are, an equation's results on the GPU when an operand is there
  const gpu = new Set<Var>();
  g.inVars.forEach((v) => {
    if (!v.aval.weak) gpu.add(v);
  });
  g.constVars.forEach((v, i) => {
    const c = g.consts[i];
    if (c instanceof ConcreteArray && deviceStorageOf(c) !== null) gpu.add(v);
  });
  for (const e of eqns) if (e.inputs.some((v) => gpu.has(v))) for (const v of e.outs) gpu.add(v);
  const onGpu = (e: Equation): boolean => e.inputs.some((v) => gpu.has(v));

  const index = new Map<Equation, number>();
  eqns.forEach((e, i) => index.set(e, i));
  const indexOf = (e: Equation): number => {
    const i = index.get(e);
    if (i === undefined) throw new NablaError("jit: internal: a device region holds an equation outside the graph");
    return i;
  };
  const uses = readers(eqns, g.outs);

  const steps: Step[] = [];
  let regions = 0;

  /** The region of `chunk` (equations in order), or null when it would bind more than `maxBuffers`. */
  const region = (chunk: readonly Equation[]): FusedStep | null => {
    const members = new Set(chunk.map(indexOf));
    const produced = new Map<Var, number>();
    const inputs: RegionInput[] = [];
    const inputOf = new Map<Var, number>();
    const reads: FusedRead[] = [];
    const readOf = new Map<string, number>();
    const n = sizeOf(out0(at(chunk, 0, "jit")).aval.shape);
    // values: reads first, then operations; an operation's arguments are patched once reads are known
    const ops: { prim: string; dtype: GpuDType; args: readonly (number | { read: number })[] }[] = [];
    const valueOf = new Map<Var, number | { read: number }>();
    const operand = (e: Equation, v: Var): number | { read: number } => {
      const mine = valueOf.get(v);
      if (mine !== undefined && produced.has(v)) return mine;
      let k = inputOf.get(v);
      if (k === undefined) {
        inputOf.set(v, (k = inputs.length));
        inputs.push({ v, dtype: gpuDType(v.aval.dtype), single: sizeOf(v.aval.shape) === 1 });
      }
      const m = sizeOf(v.aval.shape);
      const to = out0(e).aval.shape;
      const read: FusedRead =
        m === n && !(m === 1 && n !== 1)
          ? { input: k, mode: m === 1 ? "s" : "c" }
          : m === 1
            ? { input: k, mode: "s" }
            : { input: k, mode: "b", from: v.aval.shape, to };
      const key = `${k}${read.mode}${read.mode === "b" ? to.join(",") : ""}`;
      let r = readOf.get(key);
      if (r === undefined) {
        readOf.set(key, (r = reads.length));
        reads.push(read);
      }
      return { read: r };
    };
    for (const e of chunk) {
      const v = out0(e);
      const args = e.inputs.map((u) => operand(e, u));
      if (isAlias(e) || e.prim === "broadcast") valueOf.set(v, at(args, 0, "jit"));
      else {
        ops.push({ prim: e.prim, dtype: gpuDType(v.aval.dtype), args });
        valueOf.set(v, ops.length - 1);
      }
      produced.set(v, 0);
    }
    if (ops.length === 0) return null;
    const val = (a: number | { read: number }): number => (typeof a === "number" ? reads.length + a : a.read);
    const outs: Var[] = [];
    const outValues: number[] = [];
    for (const e of chunk) {
      const v = out0(e);
      if ((uses.get(v) ?? []).some((k) => !members.has(k))) {
        // every member's output got its value in the loop above
        const value = valueOf.get(v);
        if (value === undefined) throw new NablaError("jit: internal: a device region output without a value");
        outs.push(v);
        outValues.push(val(value));
      }
    }
    // one-element operands on the CPU (literals, weak scalars) are parameter words sharing one buffer
    const words = inputs.filter((x) => x.single && !gpu.has(x.v)).length;
    if (inputs.length - words + (words > 0 ? 1 : 0) + outs.length > maxBuffers) return null;
    return {
      kind: "fused",
      size: n,
      inputs,
      reads,
      ops: ops.map((o) => ({ prim: o.prim, dtype: o.dtype, args: o.args.map(val) })),
      outs,
      outValues,
      eqns: chunk,
      pipelines: new Map(),
    };
  };

  /** Emits a group: cut into regions within the binding budget; what cannot fuse runs unfused. */
  const flush = (group: Equation[]): void => {
    const work = group.filter((e) => !isAlias(e) && e.prim !== "broadcast").length;
    if (group.length < 2 || work === 0) {
      for (const e of group) steps.push({ kind: "eqn", eqn: e });
      return;
    }
    let start = 0;
    while (start < group.length) {
      // the longest chunk from `start` within the budget (a region's size only grows with its length)
      let best: FusedStep | null = null;
      let end = start + 1;
      // a longer chunk may bind fewer buffers (a value read inside it is no longer an output): look a few
      // equations past a chunk over the budget before settling on the longest one within it
      let misses = 0;
      for (let j = start + 1; j <= group.length && misses < LOOKAHEAD; j++) {
        const r = region(group.slice(start, j));
        if (r !== null) {
          best = r;
          end = j;
          misses = 0;
        } else if (group.slice(start, j).some((e) => !isAlias(e) && e.prim !== "broadcast")) misses++;
      }
      const chunk = group.slice(start, end);
      if (best !== null && chunk.length >= 2) {
        steps.push(best);
        regions++;
      } else for (const e of chunk) steps.push({ kind: "eqn", eqn: e });
      start = end;
    }
  };

  // open groups by size; a group runs when something outside the regions reads one of its values (or at the
  // end), so equations of other sizes between its members do not cut it. A member reading a value of another
  // open group makes its group depend on that one, which then runs first; a member that would close a cycle
  // (its group's values are read by the group it reads from) runs the groups first and starts a new one.
  interface Open {
    readonly eqns: Equation[];
    readonly produced: Set<Var>;
    readonly deps: Set<Open>;
    closed: boolean;
  }
  const open = new Map<number, Open>();
  const owner = new Map<Var, Open>();
  const close = (o: Open): void => {
    if (o.closed) return;
    o.closed = true;
    for (const [n, q] of open) if (q === o) open.delete(n);
    for (const d of o.deps) close(d);
    for (const v of o.produced) owner.delete(v);
    flush(o.eqns);
  };
  const dependsOn = (a: Open, b: Open): boolean => {
    const seen = new Set<Open>();
    const walk = (x: Open): boolean => {
      if (x === b) return true;
      if (seen.has(x) || x.closed) return false;
      seen.add(x);
      for (const d of x.deps) if (walk(d)) return true;
      return false;
    };
    return walk(a);
  };
  for (const e of eqns) {
    const out = e.outs.length === 1 ? e.outs[0] : undefined;
    const n = out === undefined ? -1 : sizeOf(out.aval.shape);
    if (out !== undefined && fusable(e, n, onGpu)) {
      let o = open.get(n);
      const deps: Open[] = [];
      for (const v of e.inputs) {
        const h = owner.get(v);
        if (h === undefined || h === o || h.closed) continue;
        if (o !== undefined && !o.closed && dependsOn(h, o)) close(h);
        else deps.push(h);
      }
      if (o === undefined || o.closed) {
        o = { eqns: [], produced: new Set(), deps: new Set(), closed: false };
        open.set(n, o);
      }
      for (const d of deps) if (!d.closed) o.deps.add(d);
      o.eqns.push(e);
      o.produced.add(out);
      owner.set(out, o);
      if (o.eqns.length >= MAX_GROUP) close(o);
    } else {
      for (const v of e.inputs) {
        const h = owner.get(v);
        if (h !== undefined) close(h);
      }
      steps.push({ kind: "eqn", eqn: e });
    }
  }
  for (const o of [...open.values()]) close(o);

  return {
    regions,
    unfused: steps.filter((s) => s.kind === "eqn").length,
    steps: steps.map((s) => (s.kind === "eqn" ? s.eqn.prim : `fused(${s.eqns.map((e) => e.prim).join(" ")})`)),
    run(rt: WebGpuRuntime, args: readonly NDArray[]): NDArray[] {
      const env = new Map<Var, NDArray>();
      g.constVars.forEach((v, i) => env.set(v, at(g.consts, i, "jit")));
      g.inVars.forEach((v, i) => env.set(v, at(args, i, "jit")));
      for (const s of steps) {
        if (s.kind === "eqn") runEqn(s.eqn, env);
        else runFused(rt, s, env);
      }
      return g.outs.map((v) => {
        // a symbolic-zero output only occurs in linear graphs, which are not run on a device
        if (v === null) throw new NablaError("jit: internal: a symbolic-zero output in a device plan");
        return valueIn(env, v);
      });
    },
  };
}

/** The bits of a one-element CPU array as the parameter word of a `dtype` operand. */
function wordOf(x: ConcreteArray, dtype: GpuDType): number {
  const v = at(storageOf(x), 0, "jit");
  if (dtype === "bool") return v !== 0 ? 1 : 0;
  if (dtype === "int32") return v >>> 0;
  F32[0] = v;
  return at(U32, 0, "jit");
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function runFused(rt: WebGpuRuntime, s: FusedStep, env: Map<Var, NDArray>): void {
  // the operands with their values (a plan runs on concrete arrays: runGraphOn's arguments and constants)
  const ins = s.inputs.map((inp) => {
    const x = valueIn(env, inp.v);
    if (!(x instanceof ConcreteArray)) throw new NablaError("jit: internal: a device plan reads a traced value");
    return { inp, x };
  });
  const xs = ins.map(({ x }) => x);
  let anyGpu = false;
  let committed = false;
  let placement = "";
  for (const { inp, x } of ins) {
    const st = deviceStorageOf(x);
    if (st !== null) {
      anyGpu = true;
      committed ||= st.committed;
    }
    placement += st === null && inp.single ? "p" : "g";
  }
  if (!anyGpu) {
    // as eager evaluation: equations without a GPU operand run on the CPU
    for (const e of s.eqns) runEqn(e, env);
    return;
  }
  const ctx = rt.ctx;
  const first = at(s.eqns, 0, "jit").prim;
  for (const x of xs)
    if (deviceStorageOf(x) === null && committedToCpu(x))
      throw new DeviceError(
        `${first}: an operand is committed to "cpu" (devicePut) and another lives on "webgpu"; ` +
          "devicePut them to one device (a webgpu array comes back with await deviceGet(x))",
      );
  let pipeline = s.pipelines.get(placement);
  if (pipeline === undefined) {
    const program: FusedProgram = {
      size: s.size,
      inputs: s.inputs.map((x, k) => ({ dtype: x.dtype, param: placement[k] === "p" })),
      reads: s.reads.map((r) => (placement[r.input] === "p" ? { input: r.input, mode: "p" } : r)),
      ops: s.ops,
      outs: s.outValues,
    };
    const key = fusedKey(program, ctx.maxWorkgroups);
    pipeline = ctx.pipeline(key, () => fusedWgsl(program, ctx.maxWorkgroups));
    s.pipelines.set(placement, pipeline);
  }
  const outs: { v: Var; t: GpuTensor }[] = s.outs.map((v) => ({
    v,
    t: ctx.alloc(v.aval.shape, gpuDType(v.aval.dtype)),
  }));
  if (s.size > 0) {
    const bound: GPUBufferLike[] = outs.map(({ t }) => t.buffer);
    const words: number[] = [];
    ins.forEach(({ inp, x }, k) => {
      if (placement[k] === "p") {
        // a float64 operand that is not weak is eager's DTypeError: tensorOf throws it
        if (x.dtype === "float64" && !x.weakType) rt.tensorOf(x, first);
        words.push(wordOf(x, inp.dtype));
      } else bound.push(rt.tensorOf(x, first).buffer);
    });
    if (words.length > 0) bound.push(ctx.words(Uint32Array.from(words)));
    ctx.dispatch(pipeline, bound, grid(s.size, WG, ctx.maxWorkgroups));
  }
  for (const { v, t } of outs) env.set(v, rt.wrap(t, committed));
}
