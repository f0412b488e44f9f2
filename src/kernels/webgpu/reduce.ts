/**
 * WebGPU kernels: reductions (see kernel.ts for the contract) — reduce_sum,
 * reduce_max, reduce_min over any set of axes, argmax and argmin along one.
 *
 * Every fold keeps the CPU kernel's order: the reduced elements of one output
 * are taken row-major over the reduced axes, and each step combines an
 * earlier range with the range right after it. Extrema are therefore the
 * CPU's exactly (a NaN wins; on a tie — including -0 against +0 — the first
 * element stays; argmax/argmin give the first index).
 *
 * Short reductions (R ≤ 32 elements per output) and reductions with many
 * outputs (M ≥ 4096, enough to fill the device) run one invocation per output:
 * extrema fold left to right; sums add runs of 8 elements left to right and
 * combine the runs' sums pairwise (a binary counter of partial sums). Other
 * reductions run a workgroup of 256 invocations per chunk of 1024 elements:
 * each invocation folds 4 consecutive elements, then a shared-memory tree
 * combines neighbours in 8 levels; the chunks' partial results are reduced
 * again the same way until one is left per output.
 *
 * Float32 error of reduce_sum: |sum − exact| ≤ γ(c)·Σ|x|, γ(c) = c·u/(1 − c·u),
 * u = 2⁻²⁴, where c bounds the roundings any element passes through — per
 * invocation c = min(R, 8) − 1 + ⌈log₂⌈R/8⌉⌉ + 1, in the workgroup tree
 * c = 11·⌈log₁₀₂₄ R⌉ (3 + 8 per pass); both grow with log R, unlike the
 * c = R − 1 of a left-to-right sum. int32 sums wrap modulo 2³², as the
 * CPU's stored result does; bool sums keep the low 8 bits as the CPU's byte
 * storage does.
 */
import { sizeOf } from "../../core/shape.js";
import { at } from "../../core/errors.js";
import { type GpuAval, type GpuContext, type GpuDType, type GpuTensor, type KernelTable, kernel } from "./kernel.js";
import {
  NAN_WGSL,
  binding,
  fill,
  gpuDtype,
  groupGrid,
  groupMain,
  launch,
  lit,
  releaseTemp,
  replaces,
  splitOffsetWgsl,
  wty,
} from "./wgsl.js";

type Op = "sum" | "max" | "min" | "argmax" | "argmin";

/** Reductions of at most SMALL elements, or with at least THREADS outputs, run one invocation per output. */
const SMALL = 32;
const THREADS = 4096;
/** Elements a per-invocation sum adds left to right before combining pairwise. */
const RUN = 8;
/** Invocations per workgroup of the tree kernel, and elements each folds first. */
const TREE = 256;
const PER = 4;
const CHUNK = TREE * PER;

const isArg = (op: Op) => op === "argmax" || op === "argmin";

/** WGSL of the fold step `acc = acc ⊕ v` (with indices `ai`, `vi` for the arg ops). */
function step(op: Op, ty: "f32" | "i32" | "u32", acc: string, v: string, ai: string, vi: string): string {
  if (op === "sum") return `${acc} = ${acc} + ${v};`;
  const isMax = op === "max" || op === "argmax";
  const r = replaces(acc, v, ty, isMax);
  return isArg(op) ? `if (${r}) { ${acc} = ${v}; ${ai} = ${vi}; }` : `if (${r}) { ${acc} = ${v}; }`;
}

/** The identity a padded lane starts from: never replaces a real element (nor is replaced wrongly). */
function identity(op: Op, ty: "f32" | "i32" | "u32"): string {
  if (op === "sum") return `${ty}(0)`;
  const isMax = op === "max" || op === "argmax";
  if (ty === "f32") return lit(isMax ? -Infinity : Infinity, "f32");
  if (ty === "i32") return isMax ? "i32(-2147483647 - 1)" : "i32(2147483647)";
  return isMax ? "0u" : "0xffffffffu";
}

/** The stored form of a final sum (bool keeps its low byte, as the CPU's Uint8Array). */
const finish = (op: Op, dtype: GpuDType, v: string) => (op === "sum" && dtype === "bool" ? `(${v} & 255u)` : v);

/**
 * One pass: for each output m and chunk p of the R elements (offsets by `offsetFn`), folds the
 * chunk into `vals[m·P + p]` (and `idxs`), P = ⌈R / CHUNK⌉. `srcIdx` reads the incoming indices
 * (later passes) instead of the position r.
 */
function treePass(
  ctx: GpuContext,
  op: Op,
  dtype: GpuDType,
  key: string,
  offsetFn: string,
  x: GpuTensor,
  xi: GpuTensor | null,
  M: number,
  R: number,
  vals: GpuTensor,
  idxs: GpuTensor | null,
): void {
  const ty = wty(dtype);
  const P = Math.ceil(R / CHUNK);
  const groups = M * P;
  const arg = isArg(op);
  const max = ctx.maxWorkgroups;
  const decls = [
    binding(0, "x", ty),
    binding(1, "o", ty, true),
    ...(arg ? [binding(2, "oi", "i32", true)] : []),
    ...(xi !== null ? [binding(3, "xi", "i32")] : []),
    NAN_WGSL,
    offsetFn,
    `var<workgroup> sv: array<${ty}, ${TREE}>;`,
    ...(arg ? [`var<workgroup> si: array<i32, ${TREE}>;`] : []),
  ].join("\n");
  const pid = ctx.pipeline(`reduce-tree|${op}|${ty}|${key}|M=${M}|R=${R}|xi=${xi !== null}|max=${max}`, () => {
    const readIdx = xi !== null ? "xi[src(m, r)]" : "i32(r)";
    return `${decls}
${groupMain(TREE, max, `${groups}u`, "w")}
  let m = w / ${P}u;
  let p = w % ${P}u;
  var acc = ${identity(op, ty)};
  var ai = i32(0);
  for (var c = 0u; c < ${PER}u; c++) {
    let r = p * ${CHUNK}u + t * ${PER}u + c;
    if (r < ${R}u) {
      let v = x[src(m, r)];
      let vi = ${arg ? readIdx : "0"};
      // an invocation's first element starts its fold (the identity never carries an index)
      if (c == 0u) { acc = v; ai = vi; } else { ${step(op, ty, "acc", "v", "ai", "vi")} }
    }
  }
  sv[t] = acc;
  ${arg ? "si[t] = ai;" : ""}
  for (var s = 1u; s < ${TREE}u; s = s * 2u) {
    workgroupBarrier();
    if (t % (2u * s) == 0u) {
      var a = sv[t];
      let b = sv[t + s];
      ${arg ? "var ia = si[t]; let ib = si[t + s];" : ""}
      ${step(op, ty, "a", "b", "ia", "ib")}
      sv[t] = a;
      ${arg ? "si[t] = ia;" : ""}
    }
  }
  if (t == 0u) {
    o[w] = ${P === 1 ? finish(op, dtype, "sv[0]") : "sv[0]"};
    ${arg ? "oi[w] = si[0];" : ""}
  }
}`;
  });
  const bindings = [
    x.buffer,
    vals.buffer,
    ...(idxs !== null ? [idxs.buffer] : []),
    ...(xi !== null ? [xi.buffer] : []),
  ];
  ctx.dispatch(pid, bindings, groupGrid(ctx, groups));
}

/** Reduces x over `axes` (any order) with `op`; outputs the value (or the index for arg ops). */
function reduce(ctx: GpuContext, prim: string, x: GpuTensor, axesIn: readonly number[], op: Op, o: GpuAval): GpuTensor {
  const axes = [...new Set(axesIn)].sort((a, b) => a - b);
  const dtype = x.dtype;
  const outDtype = gpuDtype(o.dtype);
  const out = ctx.alloc(o.shape, outDtype);
  const M = sizeOf(o.shape);
  const R = sizeOf(axes.map((k) => at(x.shape, k, prim)));
  if (M === 0) return out;
  const ty = wty(dtype);
  if (R === 0) {
    // the CPU's initial value stored in the output dtype: 0 for sums, arg ops and integer extrema
    const init = op === "max" && ty === "f32" ? -Infinity : op === "min" && ty === "f32" ? Infinity : 0;
    fill(ctx, out, init);
    return out;
  }
  const arg = isArg(op);
  const shapeKey = `${x.shape.join(",")}|${axes.join(",")}`;
  const offsetFn = splitOffsetWgsl("src", x.shape, axes);
  if (R <= SMALL || M >= THREADS) {
    const decls = [binding(0, "x", ty), binding(1, "o", wty(outDtype), true), NAN_WGSL, offsetFn].join("\n");
    // sums: left to right within runs of RUN elements, the runs combined pairwise by a binary counter
    const body =
      op === "sum"
        ? `  var stack: array<${ty}, 32>;
  var top = 0u;
  for (var b = 0u; b < ${Math.ceil(R / RUN)}u; b++) {
    var s = x[src(i, b * ${RUN}u)];
    for (var r = b * ${RUN}u + 1u; r < min(${R}u, b * ${RUN}u + ${RUN}u); r++) { s = s + x[src(i, r)]; }
    var n = b + 1u;
    while ((n & 1u) == 0u) { top = top - 1u; s = stack[top] + s; n = n >> 1u; }
    stack[top] = s;
    top = top + 1u;
  }
  var acc = stack[top - 1u];
  for (var j = i32(top) - 2; j >= 0; j--) { acc = stack[j] + acc; }
  o[i] = ${finish(op, dtype, `(${ty}(0) + acc)`)};`
        : `  var acc = x[src(i, 0u)];
  var ai = i32(0);
  for (var r = 1u; r < ${R}u; r++) {
    let v = x[src(i, r)];
    let vi = i32(r);
    ${step(op, ty, "acc", "v", "ai", "vi")}
  }
  o[i] = ${arg ? "ai" : "acc"};`;
    launch(ctx, `reduce-thread|${op}|${ty}|${shapeKey}`, decls, body, [x.buffer, out.buffer], M);
    return out;
  }
  // tree passes until one partial per output is left
  let P = Math.ceil(R / CHUNK);
  let vals = P === 1 && !arg ? out : ctx.alloc([M * P], dtype);
  let idxs = arg ? (P === 1 ? out : ctx.alloc([M * P], "int32")) : null;
  treePass(ctx, op, dtype, shapeKey, offsetFn, x, null, M, R, vals, idxs);
  while (P > 1) {
    const Rn = P;
    P = Math.ceil(Rn / CHUNK);
    const nv = P === 1 && !arg ? out : ctx.alloc([M * P], dtype);
    const ni = arg ? (P === 1 ? out : ctx.alloc([M * P], "int32")) : null;
    const flat = `fn src(m: u32, r: u32) -> u32 { return m * ${Rn}u + r; }`;
    treePass(ctx, op, dtype, `flat${Rn}`, flat, vals, idxs, M, Rn, nv, ni);
    releaseTemp(ctx, vals);
    if (idxs !== null) releaseTemp(ctx, idxs);
    vals = nv;
    idxs = ni;
  }
  if (arg && vals !== out) releaseTemp(ctx, vals);
  return out;
}

/** This file's kernels by primitive name. */
export const KERNELS = {
  reduce_sum: kernel("reduce_sum", 1, (ctx, [x], { axes }: { axes: number[] }, o) =>
    reduce(ctx, "reduce_sum", x, axes, "sum", o),
  ),
  reduce_max: kernel("reduce_max", 1, (ctx, [x], { axes }: { axes: number[] }, o) =>
    reduce(ctx, "reduce_max", x, axes, "max", o),
  ),
  reduce_min: kernel("reduce_min", 1, (ctx, [x], { axes }: { axes: number[] }, o) =>
    reduce(ctx, "reduce_min", x, axes, "min", o),
  ),
  argmax: kernel("argmax", 1, (ctx, [x], { axis }: { axis: number }, o) =>
    reduce(ctx, "argmax", x, [axis], "argmax", o),
  ),
  argmin: kernel("argmin", 1, (ctx, [x], { axis }: { axis: number }, o) =>
    reduce(ctx, "argmin", x, [axis], "argmin", o),
  ),
} satisfies KernelTable;
