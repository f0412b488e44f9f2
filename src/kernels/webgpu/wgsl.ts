/**
 * Shared pieces of the WebGPU kernels (reduce, movement, indexing, scan,
 * sort, matmul): storage declarations, a one-invocation-per-element launch
 * over a 2-d grid, IEEE-exact NaN tests and the ordered extremum combines the
 * CPU kernels use.
 *
 * Shapes and strides are baked into the WGSL as constants (and into the
 * pipeline key); kernels of the same shapes share one pipeline.
 */
import { DTypeError, at } from "../../core/errors.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import type { GPUBufferLike } from "./gpu.js";
import { WGSL_TYPE, elementMain, grid, type GpuContext, type GpuDType, type GpuTensor } from "./kernel.js";

/** Invocations per workgroup of the element-wise launches. */
export const WG = 256;

/** The WGSL scalar type of a GPU dtype. */
export const wty = (d: GpuDType): "f32" | "i32" | "u32" => WGSL_TYPE[d];

/** A storage binding declaration: `@group(0) @binding(b) var<storage, read|read_write> name: array<ty>;`. */
export function binding(b: number, name: string, ty: string, write = false): string {
  return `@group(0) @binding(${b}) var<storage, ${write ? "read_write" : "read"}> ${name}: array<${ty}>;`;
}

/** WGSL literal of `v` in type `ty` (exact for f32: written as its bit pattern). */
export function lit(v: number, ty: "f32" | "i32" | "u32"): string {
  if (ty === "i32") return `i32(${v | 0})`;
  if (ty === "u32") return `${v >>> 0}u`;
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, v);
  const bits = view.getUint32(0);
  // a constant infinity or NaN is a WGSL compile error: those go through a function (not constant-folded)
  return Number.isFinite(v) ? `bitcast<f32>(${bits}u)` : `f32_bits(${bits}u)`;
}

/**
 * Helper functions every kernel may use: `isnan_f(x)` tested on the bit pattern (WGSL lets
 * compilers assume no NaN in arithmetic comparisons, so `x != x` is not reliable), and
 * `f32_bits(u)` for the non-finite literals of {@link lit}.
 */
export const NAN_WGSL = `fn isnan_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }`;

/**
 * WGSL expression: whether `b` (later in order) replaces `a` (earlier) in a max (`isMax`) or min
 * fold of type `ty`, with the CPU's rule: a NaN wins, and on a tie the earlier element stays.
 */
export function replaces(a: string, b: string, ty: "f32" | "i32" | "u32", isMax: boolean): string {
  const cmp = isMax ? `${b} > ${a}` : `${b} < ${a}`;
  if (ty !== "f32") return `(${cmp})`;
  return `(!isnan_f(${a}) && (isnan_f(${b}) || ${cmp}))`;
}

/**
 * Records one dispatch of a shader run once per element `i` in `[0, n)`: `body` is WGSL using
 * `i: u32`, with `decls` (bindings, helper functions) before the entry point. Skips `n = 0`.
 */
export function launch(
  ctx: GpuContext,
  key: string,
  decls: string,
  body: string,
  bindings: readonly GPUBufferLike[],
  n: number,
): void {
  if (n === 0) return;
  const g = grid(n, WG, ctx.maxWorkgroups);
  const max = ctx.maxWorkgroups;
  const p = ctx.pipeline(`${key}|n=${n}|max=${max}`, () => {
    return `${decls}
${elementMain(WG, max, `${n}u`)}
${body}
}`;
  });
  ctx.dispatch(p, bindings, g);
}

/**
 * WGSL statements decomposing the flat row-major index `flat` over `shape` into `let <prefix>k: u32`
 * per axis k (unit axes get 0 without arithmetic).
 */
export function unravel(flat: string, shape: readonly number[], prefix: string): string {
  const lines: string[] = [];
  let rest = flat;
  for (const [k, d] of [...shape.entries()].reverse()) {
    if (k === 0) lines.push(`let ${prefix}${k} = ${rest};`);
    else if (d === 1) lines.push(`let ${prefix}${k} = 0u;`);
    else {
      lines.push(`let ${prefix}${k} = ${rest} % ${d}u;`);
      lines.push(`let ${prefix}r${k} = ${rest} / ${d}u;`);
      rest = `${prefix}r${k}`;
      continue;
    }
  }
  return lines.join("\n  ");
}

/** Fills `t` with the constant `v` (in `t`'s dtype). */
export function fill(ctx: GpuContext, t: GpuTensor, v: number): void {
  const ty = wty(t.dtype);
  launch(
    ctx,
    `fill|${ty}|${v}`,
    `${binding(0, "o", ty, true)}\n${NAN_WGSL}`,
    `  o[i] = ${lit(v, ty)};`,
    [t.buffer],
    sizeOf(t.shape),
  );
}

/** The GPU dtype of an output aval (float64 never reaches a GPU kernel: the runtime throws first). */
export function gpuDtype(d: GpuDType | "float64"): GpuDType {
  if (d === "float64") throw new DTypeError("webgpu: float64 arrays are not supported on the GPU");
  return d;
}

/**
 * Returns a kernel's temporary tensor to the context's pool once its last use is recorded. Safe
 * because the pool hands buffers only to work recorded later, which the queue runs after. The
 * {@link GpuContext} contract has no release yet: this calls `release` where the context has one
 * (WebGpuContext does) and otherwise leaves the buffer to the context.
 */
export function releaseTemp(ctx: GpuContext, t: GpuTensor): void {
  const r = (ctx as { release?: (b: GPUBufferLike) => void }).release;
  if (typeof r === "function") r.call(ctx, t.buffer);
}

/** Workgroup counts for `groups` workgroups as a 2-d grid; shaders use `wid.x + wid.y * max` (see {@link groupMain}). */
export function groupGrid(ctx: GpuContext, groups: number): [number, number, number] {
  return grid(groups, 1, ctx.maxWorkgroups);
}

/**
 * WGSL opening the entry point `main` of a shader dispatched over {@link groupGrid}: workgroups of
 * `size` invocations (local index `t`), workgroup number `let <name>` (on a device allowing `max`
 * workgroups per dimension), returning at once past `groups` (a WGSL u32 expression).
 */
export function groupMain(size: number, max: number, groups: string, name: string): string {
  return `@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let ${name} = wid.x + wid.y * ${max}u;
  if (${name} >= ${groups}) { return; }`;
}

/**
 * WGSL function `fn <name>(m: u32, r: u32) -> u32`: the flat offset in a tensor of `shape` of the
 * element at position `m` (row-major over the axes not in `axes`) and `r` (row-major over `axes`).
 */
export function splitOffsetWgsl(name: string, shape: readonly number[], axes: readonly number[]): string {
  const st = stridesOf(shape);
  const kept = shape.map((_, k) => k).filter((k) => !axes.includes(k));
  const part = (v: string, ax: readonly number[], p: string): string[] => {
    const dims = ax.map((k) => at(shape, k, "webgpu"));
    const lines = [unravel(v, dims, p)];
    const terms = ax.flatMap((k, j) => (at(dims, j, "webgpu") === 1 ? [] : [`${p}${j} * ${at(st, k, "webgpu")}u`]));
    lines.push(`let ${p}off = ${terms.length === 0 ? "0u" : terms.join(" + ")};`);
    return lines;
  };
  return `fn ${name}(m: u32, r: u32) -> u32 {
  ${[...part("m", kept, "a"), ...part("r", axes, "b")].join("\n  ")}
  return aoff + boff;
}`;
}
