/**
 * The browser page of test/webgpuKernels.test.ts: runs every case of the
 * non-elementwise WebGPU kernels (src/kernels/webgpu/) on a WebGpuContext
 * and the primitive row's CPU `impl` on the same float32/int32/bool inputs,
 * and reports per case whether they agree (`window.__result`).
 *
 * Exact cases compare bit for bit up to NaN payloads (-0 and +0 differ).
 * Summing cases ("sum" tolerance) allow |gpu − cpu| ≤ c·u·S + ulp(cpu), where
 * u = 2⁻²⁴ is float32's unit roundoff, S the same primitive applied to the
 * absolute values of the operands (Σ|x| per output element — for matmul
 * Σ|a||b|) and c the kernel's stated error constant (see each kernel file);
 * the ulp allows for the CPU's own rounding of its float64 accumulation.
 *
 * Randomness is a seeded mulberry32 (test/support/rng.ts imports vitest,
 * which does not load in a page).
 */
import { ConcreteArray, storageOf } from "../../src/core/ndarray.js";
import type { Aval } from "../../src/core/trace.js";
import { WebGpuContext } from "../../src/kernels/webgpu/context.js";
import { navigatorGpu } from "../../src/kernels/webgpu/gpu.js";
import type { GpuContext, GpuDType, GpuKernel, GpuTensor } from "../../src/kernels/webgpu/kernel.js";
import { gpuKernel } from "../../src/prims/gpuTable.js";
import { RULES } from "../../src/prims/table.js";

type Data = Float32Array | Int32Array | Uint32Array;
interface Input {
  data: Data;
  shape: number[];
  dtype: GpuDType;
}
/** "exact", or a summing tolerance with error constant c (see the file comment). */
type Tol = "exact" | { sum: number };
interface Case {
  family: string;
  name: string;
  prim: string;
  inputs: Input[];
  params: unknown;
  tol: Tol;
  /** Runs with the context's workgroup limit lowered to this (2-d grids on small inputs). */
  maxWorkgroups?: number;
}
export interface CaseResult {
  family: string;
  name: string;
  ok: boolean;
  detail?: string;
  ms?: number;
}

function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry(20261202);
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Float32 data: uniform in [-1, 1), with special values mixed in when `specials`. */
function f32(shape: number[], specials = false): Input {
  const d = new Float32Array(size(shape));
  const sp = [NaN, Infinity, -Infinity, -0, 0, 1, 1, -1];
  for (let i = 0; i < d.length; i++)
    d[i] = specials && rand() < 0.15 ? sp[Math.floor(rand() * sp.length)]! : rand() * 2 - 1;
  return { data: d, shape, dtype: "float32" };
}
/** Float32 data with many ties: small integers. */
function f32ties(shape: number[]): Input {
  const d = new Float32Array(size(shape));
  for (let i = 0; i < d.length; i++) d[i] = Math.floor(rand() * 5) - 2;
  return { data: d, shape, dtype: "float32" };
}
function i32(shape: number[], lo = -100, hi = 100): Input {
  const d = new Int32Array(size(shape));
  for (let i = 0; i < d.length; i++) d[i] = lo + Math.floor(rand() * (hi - lo));
  return { data: d, shape, dtype: "int32" };
}
function bool(shape: number[]): Input {
  const d = new Uint32Array(size(shape));
  for (let i = 0; i < d.length; i++) d[i] = rand() < 0.5 ? 1 : 0;
  return { data: d, shape, dtype: "bool" };
}

function toConcrete(x: Input): ConcreteArray {
  const d = x.data instanceof Uint32Array ? Uint8Array.from(x.data) : x.data;
  return new ConcreteArray(d, x.shape, x.dtype);
}

function absInput(x: Input): Input {
  if (x.dtype !== "float32") return x;
  return { ...x, data: (x.data as Float32Array).map(Math.abs) };
}

const U = 2 ** -24;
function ulp(v: number): number {
  const a = Math.abs(v);
  if (a === 0 || !Number.isFinite(a)) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

function compare(c: Case, gpu: Data, cpu: ArrayLike<number>, bound: ArrayLike<number> | null): string | undefined {
  if (gpu.length !== cpu.length) return `length ${gpu.length} vs ${cpu.length}`;
  let bad = 0;
  let first = "";
  for (let i = 0; i < cpu.length; i++) {
    const g = gpu[i]!;
    const r = cpu[i]!;
    let ok: boolean;
    if (Number.isNaN(r) || Number.isNaN(g)) ok = Number.isNaN(r) && Number.isNaN(g);
    else if (c.tol === "exact" || !Number.isFinite(r)) ok = Object.is(g, r);
    else ok = Math.abs(g - r) <= c.tol.sum * U * bound![i]! + ulp(r);
    if (!ok) {
      if (bad === 0) first = `at ${i}: gpu ${g} cpu ${r}${bound === null ? "" : ` bound ${bound[i]}`}`;
      bad++;
    }
  }
  return bad === 0 ? undefined : `${bad}/${cpu.length} differ; first ${first}`;
}

type AnyRule = {
  abstractEval(a: Aval[], p: unknown): Aval[];
  impl(a: ConcreteArray[], p: unknown, o: Aval[]): ConcreteArray[];
};

/** A context whose per-dimension workgroup limit is `max`: kernels must then launch 2-d grids. */
function limited(ctx: WebGpuContext, max: number): GpuContext {
  return {
    device: ctx.device,
    maxWorkgroups: max,
    pipeline: (k, w) => ctx.pipeline(k, w),
    alloc: (s, d) => ctx.alloc(s, d),
    words: (d) => ctx.words(d),
    dispatch: (p, b, g) => ctx.dispatch(p, b, g),
    copy: (a, ao, b, bo, n) => ctx.copy(a, ao, b, bo, n),
    upload: (d, s, t) => ctx.upload(d, s, t),
    read: (t) => ctx.read(t),
  };
}

async function runCase(base: WebGpuContext, c: Case): Promise<CaseResult> {
  const ctx = c.maxWorkgroups === undefined ? base : limited(base, c.maxWorkgroups);
  const rule = (RULES as unknown as Record<string, AnyRule>)[c.prim]!;
  const kernel = gpuKernel(c.prim) as GpuKernel<unknown> | undefined;
  if (kernel === undefined) return { family: c.family, name: c.name, ok: false, detail: `no GPU kernel for ${c.prim}` };
  try {
    const avals = rule.abstractEval(
      c.inputs.map((x) => ({ shape: x.shape, dtype: x.dtype, weak: false })),
      c.params,
    );
    const cpu = rule.impl(c.inputs.map(toConcrete), c.params, avals);
    const bound =
      c.tol === "exact"
        ? null
        : rule.impl(
            c.inputs.map((x) => toConcrete(absInput(x))),
            c.params,
            avals,
          );
    const args: GpuTensor[] = c.inputs.map((x) => ctx.upload(x.data, x.shape, x.dtype));
    const outs = kernel(ctx, args, c.params, avals as never);
    const reads = await Promise.all(outs.map((t) => ctx.read(t)));
    for (let k = 0; k < cpu.length; k++) {
      const shapeOk = outs[k]!.shape.join(",") === cpu[k]!.shape.join(",") && outs[k]!.dtype === cpu[k]!.dtype;
      if (!shapeOk)
        return {
          family: c.family,
          name: c.name,
          ok: false,
          detail: `output ${k}: ${outs[k]!.shape}/${outs[k]!.dtype} vs ${cpu[k]!.shape}/${cpu[k]!.dtype}`,
        };
      const d = compare(c, reads[k]!, storageOf(cpu[k]!), bound === null ? null : storageOf(bound[k]!));
      if (d !== undefined) return { family: c.family, name: c.name, ok: false, detail: `output ${k}: ${d}` };
    }
    return { family: c.family, name: c.name, ok: true };
  } catch (e) {
    return { family: c.family, name: c.name, ok: false, detail: String(e instanceof Error ? e.stack : e) };
  }
}

// ---------------------------------------------------------------- cases

const cases: Case[] = [];
const add = (family: string, name: string, prim: string, inputs: Input[], params: unknown, tol: Tol = "exact") =>
  cases.push({ family, name: `${prim} ${name}`, prim, inputs, params, tol });
/** The last case added again, run with at most `max` workgroups per grid dimension (2-d grids). */
const again2d = (max = 3) => {
  const c = cases[cases.length - 1]!;
  cases.push({ ...c, name: `${c.name} (2-d grid)`, maxWorkgroups: max });
};

// movement: exact
{
  const F = "movement";
  for (const [x, shape] of [
    [f32([2, 3, 4], true), [4, 6]],
    [i32([5]), [5, 1]],
    [bool([0, 3]), [3, 0]],
    [f32([70000]), [70000]],
  ] as [Input, number[]][])
    add(F, `${x.dtype} ${x.shape}→${shape}`, "reshape", [x], { shape });
  for (const [x, shape] of [
    [f32([3, 1], true), [2, 3, 5]],
    [f32([], true), [4, 4]],
    [i32([1, 4]), [3, 4]],
    [bool([2, 1, 3]), [2, 5, 3]],
    [f32([1]), [0]],
    [f32([1, 1]), [300, 300]],
  ] as [Input, number[]][])
    add(F, `${x.dtype} ${x.shape}→${shape}`, "broadcast", [x], { shape });
  for (const [x, perm] of [
    [f32([3, 4], true), [1, 0]],
    [f32([2, 3, 5]), [2, 0, 1]],
    [i32([2, 1, 3, 4]), [3, 1, 0, 2]],
    [bool([4, 0, 2]), [1, 2, 0]],
    [f32([257, 263]), [1, 0]],
  ] as [Input, number[]][])
    add(F, `${x.dtype} ${x.shape} by ${perm}`, "transpose", [x], { perm });
  for (const [x, begin, end] of [
    [f32([5, 6], true), [1, 2], [4, 6]],
    [i32([3, 4, 5]), [0, 1, 2], [3, 3, 3]],
    [f32([4]), [2], [2]],
    [bool([3, 3]), [1, 0], [2, 3]],
  ] as [Input, number[], number[]][])
    add(F, `${x.dtype} ${x.shape} [${begin}:${end}]`, "slice", [x], { begin, end });
  for (const [x, lo, hi] of [
    [f32([3, 4], true), [1, 0], [2, 3]],
    [i32([2, 3, 2]), [0, 2, 1], [1, 0, 0]],
    [f32([0, 2]), [1, 1], [1, 0]],
    [bool([1, 5]), [2, 0], [0, 2]],
    [f32([2, 2]), [0, 0], [0, 0]],
  ] as [Input, number[], number[]][])
    add(F, `${x.dtype} ${x.shape} lo ${lo} hi ${hi}`, "pad", [x], { lo, hi });
  add(F, "2-d grid", "transpose", [f32([40, 70])], { perm: [1, 0] });
  again2d();
  add(F, "2-d grid", "pad", [f32([40, 70])], { lo: [1, 2], hi: [3, 0] });
  again2d();
  add(F, "f32 axis 0", "concatenate", [f32([2, 3], true), f32([1, 3]), f32([0, 3]), f32([4, 3])], { axis: 0 });
  add(F, "f32 axis 1", "concatenate", [f32([2, 3], true), f32([2, 1]), f32([2, 0]), f32([2, 5])], { axis: 1 });
  add(F, "i32 axis 1 of 3-d", "concatenate", [i32([2, 3, 4]), i32([2, 2, 4])], { axis: 1 });
  add(F, "bool axis 2", "concatenate", [bool([1, 2, 3]), bool([1, 2, 2])], { axis: 2 });
  add(F, "f32 one operand", "concatenate", [f32([3, 3])], { axis: 1 });
  for (const [x, axes] of [
    [f32([3, 4], true), [0]],
    [f32([3, 4, 5]), [0, 2]],
    [i32([7]), [0]],
    [bool([2, 3]), [1]],
    [f32([0, 3]), [0, 1]],
    [f32([2, 2]), []],
  ] as [Input, number[]][])
    add(F, `${x.dtype} ${x.shape} axes ${axes}`, "rev", [x], { axes });
}

/** Uniform in [0, 1): a sum whose left-to-right float32 error grows like √n·u·Σx, past the tree bound. */
function f32pos(shape: number[]): Input {
  const d = new Float32Array(size(shape));
  for (let i = 0; i < d.length; i++) d[i] = rand();
  return { data: d, shape, dtype: "float32" };
}

/**
 * The stated float32 error constant of reduce_sum over R elements (src/kernels/webgpu/reduce.ts),
 * the larger of its two paths: per invocation min(R, 8) − 1 + ⌈log₂⌈R/8⌉⌉ + 1, in the workgroup
 * tree 11 per pass of 1024; +1 for γ's higher-order term.
 */
function sumC(R: number): number {
  const log = (v: number, b: number) => Math.ceil(Math.log(v) / Math.log(b) - 1e-9);
  const thread = Math.min(R, 8) - 1 + log(Math.ceil(R / 8), 2) + 1;
  const tree = 11 * log(R, 1024);
  return Math.max(thread, tree, 0) + 1;
}

// reductions: extrema and arg-extrema exact; sums within sumC(R)
{
  const F = "reduce";
  const red = (x: Input, axes: number[], ops = ["reduce_sum", "reduce_max", "reduce_min"]) => {
    const R = size(axes.map((k) => x.shape[k]!));
    for (const op of ops)
      add(
        F,
        `${x.dtype} ${x.shape} axes ${axes}`,
        op,
        [x],
        { axes },
        op === "reduce_sum" && x.dtype === "float32" ? { sum: sumC(R) } : "exact",
      );
  };
  const x345 = f32([3, 4, 5], true);
  for (const axes of [[], [0], [1], [2], [0, 2], [2, 0], [0, 1, 2]]) red(x345, axes);
  red(f32ties([6, 7]), [0]);
  red(f32ties([6, 7]), [1]);
  red(f32([4, 3000], true), [1]);
  red(f32([3000, 4]), [0]);
  red(f32ties([5, 2050]), [1]);
  red(f32([2, 1_100_000]), [1], ["reduce_sum", "reduce_max"]);
  // ties of -0 and +0: the first stays (max of [-0, +0] is -0), in the per-invocation and tree paths
  const zeros = (n: number, first: number) => {
    const d = new Float32Array(2 * n).fill(0);
    d[0] = first;
    d[n] = -first;
    for (let i = 1; i < n; i++) d[i] = d[n + i] = i % 3 === 0 ? -0 : -1;
    return { data: d, shape: [2, n], dtype: "float32" as const };
  };
  red(zeros(7, -0), [1], ["reduce_max"]);
  red(zeros(7, 0), [1], ["reduce_max"]);
  red(zeros(3000, -0), [1], ["reduce_max"]);
  red(zeros(3000, 0), [1], ["reduce_max"]);
  red(f32pos([1_000_000]), [0], ["reduce_sum"]);
  red(f32([70_000, 40]), [1]);
  again2d(5);
  red(f32pos([4096, 600]), [1], ["reduce_sum"]);
  red(f32([3, 5000]), [1], ["reduce_sum", "reduce_max"]);
  again2d();
  red(f32([70_000, 3]), [0, 1]);
  red(i32([5, 2000], -1e6, 1e6), [1]);
  red(i32([300_000], -2e9, 2e9), [0], ["reduce_sum"]); // wraps modulo 2^32
  red(i32([7, 9]), [0, 1]);
  red(bool([3, 600]), [1]);
  red(bool([4, 5]), [0]);
  red(f32([0, 3]), [0]);
  red(i32([0, 3]), [0]);
  red(f32([3, 0]), [0]);
  red(f32([3, 0, 2]), [1, 2]);
  red(f32([1, 1, 1]), [0, 2]);
  const arg = (x: Input, axis: number) => {
    for (const op of ["argmax", "argmin"]) add(F, `${x.dtype} ${x.shape} axis ${axis}`, op, [x], { axis });
  };
  arg(f32([3, 4, 5], true), 0);
  arg(f32([3, 4, 5], true), 1);
  arg(f32([3, 4, 5], true), 2);
  arg(f32ties([9, 8]), 1);
  arg(f32ties([3, 5000]), 1);
  arg(f32([4, 3000], true), 1);
  arg(f32ties([2100, 3]), 0);
  add(F, "f32 2,1100000 axis 1", "argmax", [f32([2, 1_100_000])], { axis: 1 });
  // rows of one infinite value (ties everywhere, equal to the tree's padding identity)
  for (const [op, v] of [
    ["argmax", -Infinity],
    ["argmin", Infinity],
    ["reduce_max", -Infinity],
  ] as const) {
    const d = new Float32Array(2 * 3000).fill(v);
    d[4500] = 0;
    add(
      F,
      `rows of ${v}`,
      op,
      [{ data: d, shape: [2, 3000], dtype: "float32" }],
      op === "reduce_max" ? { axes: [1] } : { axis: 1 },
    );
  }
  add(F, "2-d grid", "argmax", [f32([5, 3000], true)], { axis: 1 });
  again2d();
  arg(i32([4, 1500], -5, 5), 1);
  arg(bool([3, 40]), 1);
  arg(f32([0, 4]), 0);
  arg(f32([4, 0]), 0);
  arg(f32([1, 6]), 0);
}

// argsort: exact (a stable permutation is unique)
{
  const F = "sort";
  const srt = (x: Input, axis: number) => {
    for (const descending of [false, true])
      add(F, `${x.dtype} ${x.shape} axis ${axis}${descending ? " desc" : ""}`, "argsort", [x], { axis, descending });
  };
  srt(f32([5, 7], true), 1);
  srt(f32([5, 7], true), 0);
  srt(f32ties([3, 4, 33]), 2);
  srt(f32ties([3, 100, 2]), 1);
  srt(f32([4, 1000], true), 1);
  srt(f32ties([2, 2048]), 1);
  srt(f32ties([2, 2049]), 1);
  srt(f32([3, 5000], true), 1);
  srt(f32ties([40000]), 0);
  srt(i32([6, 300], -20, 20), 1);
  srt(bool([3, 50]), 1);
  srt(f32([4, 1]), 1);
  srt(f32([0, 5]), 1);
  srt(f32([3, 0]), 1);
  add(F, "2-d grid local", "argsort", [f32ties([10, 16])], { axis: 1, descending: false });
  again2d();
  add(F, "2-d grid global", "argsort", [f32ties([3, 3000])], { axis: 1, descending: true });
  again2d();
}

// gather and the scatters: exact but for scatter_add's float32 sums (γ(h − 1), h hits per output)
{
  const F = "indexing";
  /** Indices in [lo, hi) (out-of-range and negative ones included when the range passes the axis). */
  const ix = (shape: number[], lo: number, hi: number) => i32(shape, lo, hi);
  /** The most updates landing on one output of an axis of length n (clamped as the kernels do). */
  const hits = (idx: Input, n: number) => {
    const c = new Array<number>(n).fill(0);
    for (const v of idx.data) c[Math.min(Math.max(v < 0 ? v + n : v, 0), n - 1)]!++;
    return Math.max(0, ...c);
  };
  add(F, "f32 axis 0", "gather", [f32([5, 3], true), ix([7], -7, 9)], { axis: 0 });
  add(F, "f32 axis 1, 2-d indices", "gather", [f32([3, 6, 2]), ix([2, 4], -8, 8)], { axis: 1 });
  add(F, "i32 last axis", "gather", [i32([4, 5]), ix([3], 0, 5)], { axis: 1 });
  add(F, "bool", "gather", [bool([6, 2]), ix([9], -6, 6)], { axis: 0 });
  add(F, "empty indices", "gather", [f32([4, 2]), ix([0], 0, 4)], { axis: 0 });
  add(F, "0-d index", "gather", [f32([4, 2]), ix([], 0, 4)], { axis: 0 });
  add(F, "2-d grid", "gather", [f32([50, 20]), ix([60], -50, 60)], { axis: 0 });
  again2d();
  const sa = (u: Input, idx: Input, axis: number, size: number) =>
    add(
      F,
      `${u.dtype} ${u.shape} by ${idx.shape} axis ${axis} size ${size}`,
      "scatter_add",
      [u, idx],
      { axis, size },
      u.dtype === "float32" ? { sum: hits(idx, size) } : "exact",
    );
  sa(f32([7, 3], true), ix([7], -5, 7), 0, 5);
  sa(f32([2, 3, 4, 2]), ix([3, 4], -3, 5), 1, 4);
  sa(f32([300, 8]), ix([300], -2, 40), 0, 37);
  sa(f32([3, 1000]), ix([1000], 0, 10), 1, 10);
  sa(i32([2, 500, 3]), ix([500], -100, 100), 1, 90);
  sa(i32([40]), ix([40], 0, 3), 0, 3);
  sa(bool([600]), ix([600], 0, 2), 0, 2);
  sa(f32([0, 3]), ix([0], 0, 1), 0, 4);
  sa(f32([3, 2]), ix([3], 0, 1), 0, 0);
  for (const op of ["scatter_mul", "scatter_min", "scatter_max"]) {
    const sc = (x: Input, idx: Input, u: Input) => add(F, `${x.dtype} ${x.shape} by ${idx.shape}`, op, [x, idx, u], {});
    sc(f32([5, 3], true), ix([8], -6, 7), f32([8, 3], true));
    sc(f32([6, 2]), ix([200], -6, 6), f32([200, 2], true));
    sc(f32ties([4, 3]), ix([100], 0, 4), f32([100, 3], true));
    sc(i32([9, 2], -5, 5), ix([150], -9, 9), i32([150, 2], -3, 4));
    sc(i32([4]), ix([10], 0, 4), i32([10]));
    sc(bool([5, 2]), ix([70], 0, 5), bool([70, 2]));
    sc(f32([3, 2]), ix([0], 0, 1), f32([0, 2]));
  }
  // ±0 against each other: min(-0, +0) is -0, max +0, in either order
  const z = (v: number[]) => ({ data: Float32Array.from(v), shape: [v.length], dtype: "float32" as const });
  for (const op of ["scatter_min", "scatter_max"]) {
    add(
      F,
      "signed zeros",
      op,
      [z([0, -0, 0, -0]), { data: Int32Array.from([0, 1, 2, 3]), shape: [4], dtype: "int32" }, z([-0, 0, 0, -0])],
      {},
    );
    add(
      F,
      "NaN operand and update",
      op,
      [z([NaN, 1, 2]), { data: Int32Array.from([0, 1, 1]), shape: [3], dtype: "int32" }, z([5, NaN, 0])],
      {},
    );
  }
}

// matmul: float32 within γ(K)·Σ|a||b| (in-order float32 dot products), int32 and bool exact
{
  const F = "matmul";
  const mm = (a: Input, b: Input) => {
    const K = a.shape[a.shape.length - 1]!;
    add(
      F,
      `${a.dtype} ${a.shape} × ${b.shape}`,
      "matmul",
      [a, b],
      {},
      a.dtype === "float32" ? { sum: K + 1 } : "exact",
    );
  };
  mm(f32([3, 5]), f32([5, 4]));
  mm(f32([64, 64]), f32([64, 64]));
  mm(f32([65, 17]), f32([17, 130]));
  mm(f32([200, 300]), f32([300, 150]));
  mm(f32([2, 3, 33, 20]), f32([2, 3, 20, 70]));
  mm(f32([5, 7], true), f32([7, 6], true));
  mm(f32([1, 1]), f32([1, 1]));
  mm(f32([3, 0]), f32([0, 4]));
  mm(f32([0, 3]), f32([3, 4]));
  mm(f32([4, 0, 3]), f32([4, 3, 2]));
  mm(i32([40, 70], -50, 50), i32([70, 33], -50, 50));
  mm(i32([3, 9, 4]), i32([3, 4, 5]));
  mm(bool([20, 300]), bool([300, 7]));
  mm(f32([7, 3, 2]), f32([7, 2, 3]));
  again2d(2);
}

// cumsum: int32 exact; float32 within the stated constant of src/kernels/webgpu/scan.ts
{
  const F = "scan";
  const cs = (x: Input, axis: number) => {
    const L = x.shape[axis]!;
    const M = size(x.shape) / Math.max(L, 1);
    const perLine = L <= 64 || (M >= 4096 && L <= 1024);
    const c = perLine ? L : 14 * Math.ceil(Math.log(L) / Math.log(1024) - 1e-9) + 1;
    for (const reverse of [false, true])
      add(
        F,
        `${x.dtype} ${x.shape} axis ${axis}${reverse ? " reverse" : ""}`,
        "cumsum",
        [x],
        { axis, reverse },
        x.dtype === "float32" ? { sum: c } : "exact",
      );
  };
  cs(f32([4, 9], true), 1);
  cs(f32([4, 9], true), 0);
  cs(f32([3, 100, 2]), 1);
  cs(f32([2, 1024]), 1);
  cs(f32([3, 1500]), 1);
  cs(f32([2, 5000, 2]), 1);
  cs(f32pos([1_100_000]), 0);
  cs(f32([5000, 40]), 1);
  cs(f32([4100, 300]), 1);
  cs(i32([3, 3000], -1e6, 1e6), 1);
  cs(i32([7, 5]), 0);
  cs(f32([0, 5]), 1);
  cs(f32([3, 0]), 1);
  cs(f32([3, 1]), 1);
  add(F, "2-d grid", "cumsum", [f32([3, 3000])], { axis: 1, reverse: true }, { sum: 15 });
  again2d();
}

// conv (direct, in matmul.ts's table): float32 within γ(C/G·K)·Σ|w||x|
{
  const F = "conv";
  const cv = (
    name: string,
    x: Input,
    w: Input,
    g: { strides: number[]; lo: number[]; hi: number[]; lhsDilation: number[]; rhsDilation: number[]; groups: number },
  ) => add(F, name, "conv", [x, w], g, { sum: size(w.shape.slice(1)) + 1 });
  const plain = (nd: number) => ({
    strides: new Array<number>(nd).fill(1),
    lo: new Array<number>(nd).fill(0),
    hi: new Array<number>(nd).fill(0),
    lhsDilation: new Array<number>(nd).fill(1),
    rhsDilation: new Array<number>(nd).fill(1),
    groups: 1,
  });
  cv("1-d valid", f32([2, 3, 10]), f32([4, 3, 3]), plain(1));
  cv("2-d same padding", f32([2, 3, 7, 6]), f32([5, 3, 3, 3]), { ...plain(2), lo: [1, 1], hi: [1, 1] });
  cv("2-d strided, dilated kernel", f32([1, 2, 11, 9]), f32([3, 2, 3, 2]), {
    ...plain(2),
    strides: [2, 3],
    rhsDilation: [2, 1],
  });
  cv("2-d input dilation (transposed conv), crop", f32([2, 2, 5, 5]), f32([2, 2, 3, 3]), {
    ...plain(2),
    lhsDilation: [2, 2],
    lo: [2, -1],
    hi: [2, 1],
  });
  cv("groups", f32([2, 6, 8]), f32([4, 3, 3]), { ...plain(1), groups: 2 });
  cv("depthwise 2-d", f32([1, 4, 6, 6], true), f32([4, 1, 2, 2]), { ...plain(2), groups: 4 });
  cv("3-d", f32([1, 2, 4, 5, 3]), f32([2, 2, 2, 2, 2]), plain(3));
  cv("empty output", f32([1, 1, 2]), f32([1, 1, 3]), plain(1));
}

// ---------------------------------------------------------------- run

async function main(): Promise<unknown> {
  const gpu = navigatorGpu();
  if (gpu === undefined) return { skip: "no navigator.gpu" };
  const adapter = await gpu.requestAdapter();
  if (adapter === null) return { skip: "no WebGPU adapter" };
  const device = await adapter.requestDevice();
  // a runner may prepend `globalThis.__family = "..."` to the bundle to run one family
  const only = (globalThis as { __family?: string }).__family ?? null;
  const results: CaseResult[] = [];
  // one context (and pipeline cache) until a case fails: a context keeps the first GPU error
  let ctx = new WebGpuContext(device);
  for (const c of cases)
    if (only === null || c.family === only) {
      const t0 = performance.now();
      const r = await runCase(ctx, c);
      if (!r.ok) ctx = new WebGpuContext(device);
      results.push({ ...r, ms: Math.round(performance.now() - t0) });
    }
  return { adapter: adapter.info?.description ?? adapter.info?.vendor ?? "unknown", results };
}

main().then(
  (r) => ((window as { __result?: unknown }).__result = r),
  (e: unknown) =>
    ((window as { __result?: unknown }).__result = { pageError: String(e instanceof Error ? e.stack : e) }),
);
