/**
 * WebGPU kernels: movement (see kernel.ts for the contract). Every op but
 * concatenate is one "affine gather": output element i reads the input at
 * `Σ_k (idx_k·step_k + start_k)·stride_k` (0 where a padded coordinate falls
 * outside the input), one invocation per output element; copies of whole
 * contiguous blocks use `ctx.copy`.
 *
 * reshape copies the buffer (one GPU copy) rather than aliasing it: the
 * runtime releases a buffer when its array is garbage-collected, so two
 * arrays must not share one unless the runtime counts references.
 */
import { sizeOf, stridesOf } from "../../core/shape.js";
import { at } from "../../core/errors.js";
import { bcastStrides } from "../strided.js";
import { type GpuContext, type GpuTensor, type KernelTable, kernel } from "./kernel.js";
import { binding, gpuDtype, launch, unravel, wty } from "./wgsl.js";

/** How output axis k reads the input: coordinate `idx·step + start`, checked against `dim` when `check`. */
interface AxisMap {
  stride: number;
  start: number;
  step: number;
  check?: number;
}

/** out[i] = x[affine(i)] over `outShape` (see the file comment). */
function affineGather(ctx: GpuContext, x: GpuTensor, outShape: readonly number[], axes: readonly AxisMap[]): GpuTensor {
  const out = ctx.alloc(outShape, x.dtype);
  const n = sizeOf(outShape);
  if (n === 0) return out;
  const ty = wty(x.dtype);
  const lines: string[] = [];
  const terms: string[] = [];
  const checks: string[] = [];
  axes.forEach((a, k) => {
    if (outShape[k] === 1 || (a.stride === 0 && a.check === undefined)) {
      // a unit output axis reads coordinate `start` only
      if (a.stride !== 0 && a.start !== 0) terms.push(`${a.start * a.stride}`);
      if (a.check !== undefined && (a.start < 0 || a.start >= a.check)) checks.push("true");
      return;
    }
    lines.push(`let c${k} = i32(d${k}) * ${a.step} + ${a.start};`);
    terms.push(`c${k} * ${a.stride}`);
    if (a.check !== undefined) checks.push(`c${k} < 0 || c${k} >= ${a.check}`);
  });
  const src = terms.length === 0 ? "0" : terms.join(" + ");
  const read =
    checks.length === 0
      ? `x[u32(${src})]`
      : `select(x[u32(max(${src}, 0))], ${ty}(0), ${checks.map((c) => `(${c})`).join(" || ")})`;
  // a select reads both branches: the clamped index keeps the read in bounds
  const body = `  ${unravel("i", outShape, "d")}
  ${lines.join("\n  ")}
  o[i] = ${read};`;
  const key = `affine|${ty}|${outShape.join(",")}|${axes.map((a) => `${a.stride}:${a.start}:${a.step}:${a.check ?? ""}`).join(";")}`;
  launch(ctx, key, `${binding(0, "x", ty)}\n${binding(1, "o", ty, true)}`, body, [x.buffer, out.buffer], n);
  return out;
}

/** A copy of x's elements with a new shape. */
function copyAs(ctx: GpuContext, x: GpuTensor, shape: readonly number[]): GpuTensor {
  const out = ctx.alloc(shape, x.dtype);
  ctx.copy(x.buffer, 0, out.buffer, 0, sizeOf(shape) * 4);
  return out;
}

/** Writes x into `out` at per-axis offsets `offsets` (for concatenate). */
function place(ctx: GpuContext, x: GpuTensor, out: GpuTensor, offsets: readonly number[]): void {
  const n = sizeOf(x.shape);
  if (n === 0) return;
  const os = stridesOf(out.shape);
  const lead = offsets.findIndex((a, k) => a !== 0 || x.shape[k] !== out.shape[k]);
  // x covers whole rows from axis `lead` + 1 on and one run along `lead`: a contiguous block
  const contiguous = lead === -1 || x.shape.every((d, k) => k <= lead || d === out.shape[k]);
  const before = lead === -1 ? 1 : sizeOf(x.shape.slice(0, lead));
  if (contiguous && before === 1) {
    const offset = offsets.reduce((s, a, k) => s + a * at(os, k, "concatenate"), 0);
    ctx.copy(x.buffer, 0, out.buffer, offset * 4, n * 4);
    return;
  }
  const ty = wty(x.dtype);
  const terms = x.shape.map((d, k) => {
    const [a, s] = [at(offsets, k, "concatenate"), at(os, k, "concatenate")];
    return d === 1 ? `${a * s}u` : `(d${k} + ${a}u) * ${s}u`;
  });
  const body = `  ${unravel("i", x.shape, "d")}
  o[${terms.join(" + ")}] = x[i];`;
  const key = `place|${ty}|${x.shape.join(",")}|${out.shape.join(",")}|${offsets.join(",")}`;
  launch(ctx, key, `${binding(0, "x", ty)}\n${binding(1, "o", ty, true)}`, body, [x.buffer, out.buffer], n);
}

/**
 * The maps of ops whose output axis k reads input axis k (slice, pad, rev): `f` gives the read's
 * start, step and bounds check from k and the input extent; the stride is the input's.
 */
function alongAxes(prim: string, x: GpuTensor, f: (k: number, dim: number) => Omit<AxisMap, "stride">): AxisMap[] {
  const st = stridesOf(x.shape);
  return x.shape.map((d, k) => ({ stride: at(st, k, prim), ...f(k, d) }));
}

/** This file's kernels by primitive name. */
export const KERNELS = {
  reshape: kernel("reshape", 1, (ctx, [x], _p: { shape: number[] }, o) => copyAs(ctx, x, o.shape)),
  broadcast: kernel("broadcast", 1, (ctx, [x], _p: { shape: number[] }, o) =>
    affineGather(
      ctx,
      x,
      o.shape,
      bcastStrides(x.shape, o.shape).map((stride) => ({ stride, start: 0, step: 1 })),
    ),
  ),
  transpose: kernel("transpose", 1, (ctx, [x], { perm }: { perm: number[] }, o) => {
    const st = stridesOf(x.shape);
    return affineGather(
      ctx,
      x,
      o.shape,
      perm.map((p) => ({ stride: at(st, p, "transpose"), start: 0, step: 1 })),
    );
  }),
  slice: kernel("slice", 1, (ctx, [x], { begin }: { begin: number[]; end: number[] }, o) =>
    affineGather(
      ctx,
      x,
      o.shape,
      alongAxes("slice", x, (k) => ({ start: at(begin, k, "slice"), step: 1 })),
    ),
  ),
  pad: kernel("pad", 1, (ctx, [x], { lo }: { lo: number[]; hi: number[] }, o) =>
    affineGather(
      ctx,
      x,
      o.shape,
      alongAxes("pad", x, (k, d) => ({ start: -at(lo, k, "pad"), step: 1, check: d })),
    ),
  ),
  concatenate(ctx, xs, { axis }: { axis: number }, outs) {
    const o = at(outs, 0, "concatenate");
    const out = ctx.alloc(o.shape, gpuDtype(o.dtype));
    const offsets = o.shape.map(() => 0);
    for (const x of xs) {
      place(ctx, x, out, offsets);
      offsets[axis] = at(offsets, axis, "concatenate") + at(x.shape, axis, "concatenate");
    }
    return [out];
  },
  rev: kernel("rev", 1, (ctx, [x], { axes }: { axes: number[] }, o) =>
    affineGather(
      ctx,
      x,
      o.shape,
      alongAxes("rev", x, (k, d) => (axes.includes(k) ? { start: d - 1, step: -1 } : { start: 0, step: 1 })),
    ),
  ),
} satisfies KernelTable;
