/**
 * WebGPU kernels: indexing (see kernel.ts for the contract) — gather along an
 * axis, scatter_add (its transpose) and the combining scatters scatter_mul,
 * scatter_min, scatter_max (operand layout [M, ...R], indices [m], updates
 * [m, ...R]; src/prims/scatter.ts). Indices wrap once when negative and clamp
 * to the axis, as the CPU's.
 *
 * The scatters are deterministic, without atomics: every output element is
 * computed by one invocation, which folds the updates that land on it in
 * increasing update order (the CPU's order). With few updates (m ≤ 64) each
 * invocation scans all indices; otherwise the clamped indices are sorted once
 * (stable argsort, sort.ts), each output row finds its run of updates by
 * binary search, and each invocation folds only its run. The combining
 * scatters are then exact (one rounding per step, as the CPU's float32
 * stores); scatter_add's float32 sums add left to right within a run, so an
 * output hit by h updates has |err| ≤ γ(h − 1)·Σ|u| (u = 2⁻²⁴), plus the
 * CPU's own final rounding of its float64 sum.
 */
import { sizeOf } from "../../core/shape.js";
import { at } from "../../core/errors.js";
import { type GpuContext, type GpuDType, type GpuTensor, type KernelTable, kernel } from "./kernel.js";
import { argsortLines } from "./sort.js";
import { NAN_WGSL, binding, gpuDtype, launch, releaseTemp, wty } from "./wgsl.js";

/** Updates up to which each output scans every index instead of sorting them. */
const SCAN_ALL = 64;

/** WGSL `fn clampi(i: i32) -> i32` for an axis of length n ≥ 1: wrap once, then clamp. */
const clampWgsl = (n: number) =>
  `fn clampi(v: i32) -> i32 { var i = v; if (i < 0) { i = i + ${n}; } return clamp(i, 0, ${Math.max(n - 1, 0)}); }`;

type Combine = "add" | "mul" | "min" | "max";

/** WGSL of `acc = acc ⊕ v` for `op`, as the CPU's (Math.min/max: NaN wins, min(-0, +0) = -0). */
function combineWgsl(op: Combine, ty: "f32" | "i32" | "u32"): string {
  if (op === "add") return "acc = acc + v;";
  if (op === "mul") return "acc = acc * v;";
  if (ty !== "f32") return `acc = ${op}(acc, v);`;
  const strict = op === "min" ? "v < acc" : "v > acc";
  // equal values differ only as -0 and +0: the sign bits or'ed (min) or and'ed (max)
  const zeros = op === "min" ? "|" : "&";
  return `if (isnan_f(acc)) { } else if (isnan_f(v)) { acc = v; } else if (acc == v) { acc = bitcast<f32>(bitcast<u32>(acc) ${zeros} bitcast<u32>(v)); } else if (${strict}) { acc = v; }`;
}

/**
 * out[p, k, q] = init ⊕ u[p, j, q] over every j with clamp(idx[j]) = k, in increasing j, for
 * out of shape [pre, size, post] and u of shape [pre, m, post]; init is x[p, k, q] (when x is
 * given) or 0.
 */
function scatter(
  ctx: GpuContext,
  op: Combine,
  u: GpuTensor,
  idx: GpuTensor,
  x: GpuTensor | null,
  outShape: readonly number[],
  dtype: GpuDType,
  pre: number,
  m: number,
  size: number,
  post: number,
): GpuTensor {
  const out = ctx.alloc(outShape, dtype);
  const n = pre * size * post;
  if (n === 0) return out;
  const ty = wty(dtype);
  const init = x === null ? `${ty}(0)` : "x[i]";
  const fin = op === "add" && dtype === "bool" ? "acc & 255u" : "acc";
  const head = `  let p = i / ${size * post}u;
  let k = i32((i / ${post}u) % ${size}u);
  let q = i % ${post}u;
  var acc = ${init};`;
  const common = [binding(0, "u", ty), binding(1, "idx", "i32"), binding(2, "o", ty, true), NAN_WGSL, clampWgsl(size)];
  const xb = x === null ? [] : [binding(3, "x", ty)];
  const key = `scatter|${op}|${ty}|${pre},${m},${size},${post}|x=${x !== null}`;
  if (m <= SCAN_ALL) {
    const body = `${head}
  for (var j = 0u; j < ${m}u; j++) {
    if (clampi(idx[j]) == k) {
      let v = u[(p * ${m}u + j) * ${post}u + q];
      ${combineWgsl(op, ty)}
    }
  }
  o[i] = ${fin};`;
    launch(
      ctx,
      `${key}|all`,
      [...common, ...xb].join("\n"),
      body,
      [u.buffer, idx.buffer, out.buffer, ...(x === null ? [] : [x.buffer])],
      n,
    );
    return out;
  }
  // sort the clamped indices (stable), then find each row's run by binary search
  const keys = ctx.alloc([m], "int32");
  launch(
    ctx,
    `scatter-keys|${m},${size}`,
    `${binding(0, "idx", "i32")}\n${binding(1, "o", "i32", true)}\n${clampWgsl(size)}`,
    "  o[i] = clampi(idx[i]);",
    [idx.buffer, keys.buffer],
    m,
  );
  const perm = argsortLines(ctx, keys, 0, false);
  const starts = ctx.alloc([size + 1], "int32");
  launch(
    ctx,
    `scatter-starts|${m},${size}`,
    `${binding(0, "keys", "i32")}\n${binding(1, "perm", "i32")}\n${binding(2, "o", "i32", true)}`,
    `  var lo = 0u;
  var hi = ${m}u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (keys[perm[mid]] < i32(i)) { lo = mid + 1u; } else { hi = mid; }
  }
  o[i] = i32(lo);`,
    [keys.buffer, perm.buffer, starts.buffer],
    size + 1,
  );
  const body = `${head}
  let end = u32(starts[k + 1]);
  for (var t = u32(starts[k]); t < end; t++) {
    let v = u[(p * ${m}u + u32(perm[t])) * ${post}u + q];
    ${combineWgsl(op, ty)}
  }
  o[i] = ${fin};`;
  const decls = [
    binding(0, "u", ty),
    binding(1, "perm", "i32"),
    binding(2, "o", ty, true),
    binding(3, "starts", "i32"),
    ...(x === null ? [] : [binding(4, "x", ty)]),
    NAN_WGSL,
  ];
  launch(
    ctx,
    `${key}|sorted`,
    decls.join("\n"),
    body,
    [u.buffer, perm.buffer, out.buffer, starts.buffer, ...(x === null ? [] : [x.buffer])],
    n,
  );
  releaseTemp(ctx, keys);
  releaseTemp(ctx, perm);
  releaseTemp(ctx, starts);
  return out;
}

function combining(op: "mul" | "min" | "max") {
  const prim = `scatter_${op}`;
  return kernel(prim, 3, (ctx, [x, idx, u], _p: {}) => {
    const M = at(x.shape, 0, prim);
    const R = sizeOf(x.shape.slice(1));
    return scatter(ctx, op, u, idx, x, x.shape, x.dtype, 1, at(idx.shape, 0, prim), M, R);
  });
}

/** This file's kernels by primitive name. */
export const KERNELS = {
  gather: kernel("gather", 2, (ctx, [x, idx], { axis }: { axis: number }, o) => {
    const out = ctx.alloc(o.shape, gpuDtype(o.dtype));
    const A = at(x.shape, axis, "gather");
    const post = sizeOf(x.shape.slice(axis + 1));
    const m = sizeOf(idx.shape);
    const n = sizeOf(o.shape);
    if (n === 0) return out;
    const ty = wty(x.dtype);
    const body = `  let p = i / ${m * post}u;
  let j = (i / ${post}u) % ${m}u;
  let q = i % ${post}u;
  o[i] = x[(p * ${A}u + u32(clampi(idx[j]))) * ${post}u + q];`;
    const decls = `${binding(0, "x", ty)}\n${binding(1, "idx", "i32")}\n${binding(2, "o", ty, true)}\n${clampWgsl(A)}`;
    launch(ctx, `gather|${ty}|${A},${m},${post}`, decls, body, [x.buffer, idx.buffer, out.buffer], n);
    return out;
  }),
  scatter_add: kernel("scatter_add", 2, (ctx, [u, idx], { axis, size }: { axis: number; size: number }, o) => {
    const pre = sizeOf(u.shape.slice(0, axis));
    const m = sizeOf(idx.shape);
    const post = sizeOf(u.shape.slice(axis + idx.shape.length));
    return scatter(ctx, "add", u, idx, null, o.shape, gpuDtype(o.dtype), pre, m, size, post);
  }),
  scatter_mul: combining("mul"),
  scatter_min: combining("min"),
  scatter_max: combining("max"),
} satisfies KernelTable;
