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
import type { GpuContext, GpuTensor, KernelTable } from "./kernel.js";
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

/** Writes x into `out` (of shape `outShape`) at per-axis offsets `at`. */
function place(ctx: GpuContext, x: GpuTensor, out: GpuTensor, at: readonly number[]): void {
  const n = sizeOf(x.shape);
  if (n === 0) return;
  const os = stridesOf(out.shape);
  const lead = at.findIndex((a, k) => a !== 0 || x.shape[k] !== out.shape[k]);
  // x covers whole rows from axis `lead` + 1 on and one run along `lead`: a contiguous block
  const contiguous = lead === -1 || x.shape.every((d, k) => k <= lead || d === out.shape[k]);
  const before = lead === -1 ? 1 : sizeOf(x.shape.slice(0, lead));
  if (contiguous && before === 1) {
    const offset = at.reduce((s, a, k) => s + a * os[k]!, 0);
    ctx.copy(x.buffer, 0, out.buffer, offset * 4, n * 4);
    return;
  }
  const ty = wty(x.dtype);
  const terms = x.shape.map((d, k) => (d === 1 ? `${at[k]! * os[k]!}u` : `(d${k} + ${at[k]}u) * ${os[k]}u`));
  const body = `  ${unravel("i", x.shape, "d")}
  o[${terms.join(" + ")}] = x[i];`;
  const key = `place|${ty}|${x.shape.join(",")}|${out.shape.join(",")}|${at.join(",")}`;
  launch(ctx, key, `${binding(0, "x", ty)}\n${binding(1, "o", ty, true)}`, body, [x.buffer, out.buffer], n);
}

/** This file's kernels by primitive name. */
export const KERNELS = {
  reshape: (ctx, [x], p: { shape: number[] }, [o]) => [copyAs(ctx, x!, o!.shape)],
  broadcast(ctx, [x], p: { shape: number[] }, [o]) {
    const shape = o!.shape;
    const off = shape.length - x!.shape.length;
    const st = stridesOf(x!.shape);
    const axes = shape.map((_, k): AxisMap => {
      const j = k - off;
      return { stride: j < 0 || x!.shape[j] === 1 ? 0 : st[j]!, start: 0, step: 1 };
    });
    return [affineGather(ctx, x!, shape, axes)];
  },
  transpose(ctx, [x], { perm }: { perm: number[] }, [o]) {
    const st = stridesOf(x!.shape);
    return [
      affineGather(
        ctx,
        x!,
        o!.shape,
        perm.map((p) => ({ stride: st[p]!, start: 0, step: 1 })),
      ),
    ];
  },
  slice(ctx, [x], { begin }: { begin: number[]; end: number[] }, [o]) {
    const st = stridesOf(x!.shape);
    return [
      affineGather(
        ctx,
        x!,
        o!.shape,
        begin.map((b, k) => ({ stride: st[k]!, start: b, step: 1 })),
      ),
    ];
  },
  pad(ctx, [x], { lo }: { lo: number[]; hi: number[] }, [o]) {
    const st = stridesOf(x!.shape);
    return [
      affineGather(
        ctx,
        x!,
        o!.shape,
        lo.map((l, k) => ({ stride: st[k]!, start: -l, step: 1, check: x!.shape[k]! })),
      ),
    ];
  },
  concatenate(ctx, xs, { axis }: { axis: number }, [o]) {
    const out = ctx.alloc(o!.shape, gpuDtype(o!.dtype));
    const at = o!.shape.map(() => 0);
    for (const x of xs) {
      place(ctx, x, out, at);
      at[axis]! += x.shape[axis]!;
    }
    return [out];
  },
  rev(ctx, [x], { axes }: { axes: number[] }, [o]) {
    const st = stridesOf(x!.shape);
    return [
      affineGather(
        ctx,
        x!,
        o!.shape,
        x!.shape.map((d, k) =>
          axes.includes(k) ? { stride: st[k]!, start: d - 1, step: -1 } : { stride: st[k]!, start: 0, step: 1 },
        ),
      ),
    ];
  },
} satisfies KernelTable;
