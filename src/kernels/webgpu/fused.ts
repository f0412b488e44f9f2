/**
 * One WGSL compute shader for a fused region of elementwise equations (the
 * "webgpu" device plan, src/device/gpuPlan.ts): every value of the region has
 * the same number of elements `size`, in row-major order, so invocation `i`
 * computes element `i` of every value, keeps intermediates in registers, and
 * stores only the region's live outputs.
 *
 * Each operation is the per-primitive kernel's own WGSL expression (EXPRS of
 * elementwise.ts, with its MATH prelude) on the same operand dtypes, and each
 * result is a `let` of its dtype, so the shader computes exactly what the
 * kernels compute one dispatch at a time (every value rounded to its dtype
 * per equation, as a store and a load would).
 *
 * An operand of the region is read in one of four ways: `c`, at `i` (it has
 * `size` elements); `s`, element 0 of a one-element buffer; `p`, a word of
 * the parameter buffer (a one-element CPU array, e.g. a weak scalar argument
 * or a literal: no upload); `b`, broadcast to the shape of the equation
 * reading it, through strides (0 on broadcast axes) from `i`'s coordinates
 * in that shape. Shapes, strides and the size are constants of the shader,
 * so a pipeline is keyed by all of them.
 */
import { NablaError, at } from "../../core/errors.js";
import { bcastStrides } from "../strided.js";
import { EXPRS, type Expr, preludeFor } from "./elementwise.js";
import { type GpuDType, WGSL_TYPE, elementMain } from "./kernel.js";
import { WG } from "./wgsl.js";

/** How the shader reads one operand (see the module comment). */
export type ReadMode = "c" | "s" | "p" | "b";

/**
 * One read of an input: its binding (or parameter word, for "p") and how it is indexed; a "b" read
 * has the operand's shape and the shape it is broadcast to (the reading equation's output).
 */
export type FusedRead =
  | { readonly input: number; readonly mode: "c" }
  | { readonly input: number; readonly mode: "s" }
  | { readonly input: number; readonly mode: "p" }
  | { readonly input: number; readonly mode: "b"; readonly from: readonly number[]; readonly to: readonly number[] };

/** One operation: a primitive of EXPRS on earlier values (reads first, then operations, in order). */
export interface FusedOp {
  readonly prim: string;
  readonly args: readonly number[];
  readonly dtype: GpuDType;
}

/** A fused region as the shader generator sees it. */
export interface FusedProgram {
  /** Elements of every value (the number of invocations). */
  readonly size: number;
  /** The inputs' dtypes, and whether each is a parameter word ("p") or a bound buffer. */
  readonly inputs: readonly { readonly dtype: GpuDType; readonly param: boolean }[];
  readonly reads: readonly FusedRead[];
  readonly ops: readonly FusedOp[];
  /** Value indices stored, one output buffer each, in order. */
  readonly outs: readonly number[];
}

/** Whether `prim` has a fusable WGSL expression. */
export function hasExpression(prim: string): boolean {
  return Object.prototype.hasOwnProperty.call(EXPRS, prim);
}

/** The WGSL expression of `prim` (the plan fuses only primitives with one: see {@link hasExpression}). */
function expression(prim: string): Expr {
  const table: Readonly<Record<string, Expr>> = EXPRS;
  if (!hasExpression(prim)) throw new NablaError(`jit: internal: ${prim} has no WGSL expression to fuse`);
  return at(table, prim, "jit");
}

/** The pipeline key of a program on a device allowing `max` workgroups per dimension: everything the shader depends on. */
export function fusedKey(p: FusedProgram, max: number): string {
  const ins = p.inputs.map((d) => `${d.dtype}${d.param ? "p" : ""}`).join(",");
  const reads = p.reads
    .map((r) => `${r.input}${r.mode}${r.mode === "b" ? `[${r.from.join(",")}>${r.to.join(",")}]` : ""}`)
    .join(",");
  const ops = p.ops.map((o) => `${o.prim}(${o.args.join(",")})${o.dtype}`).join(";");
  return `fused:${max}:${p.size}|${ins}|${reads}|${ops}|${p.outs.join(",")}`;
}

/** WGSL computing a broadcast read's offset from the flat index `i` (constants folded in). */
function offsetWgsl(from: readonly number[], to: readonly number[]): string {
  const strides = bcastStrides(from, to);
  const terms: string[] = [];
  // coordinate of axis d in `to`: (i / (product of the later extents)) % to[d]
  let inner = 1;
  for (const [d, n] of [...to.entries()].reverse()) {
    const s = at(strides, d, "jit");
    if (s !== 0 && n !== 1) {
      let c = inner === 1 ? "i" : `(i / ${inner}u)`;
      if (d > 0) c = `(${c} % ${n}u)`;
      terms.push(s === 1 ? c : `${c} * ${s}u`);
    }
    inner *= n;
  }
  return terms.length === 0 ? "0u" : terms.join(" + ");
}

/** The WGSL source of a program (entry point `main`, workgroups laid out by `grid(size, WG, max)`). */
export function fusedWgsl(p: FusedProgram, max: number): string {
  // every value's dtype: the reads' (their inputs'), then the operations'
  const dtypes: GpuDType[] = [...p.reads.map((r) => at(p.inputs, r.input, "jit").dtype), ...p.ops.map((o) => o.dtype)];
  const decls = p.outs.map(
    (v, j) => `@group(0) @binding(${j}) var<storage, read_write> o${j}: array<${WGSL_TYPE[at(dtypes, v, "jit")]}>;`,
  );
  // bound inputs take the next bindings; parameter words share one buffer after them
  const word: number[] = [];
  let nb = p.outs.length;
  let nw = 0;
  p.inputs.forEach((d, k) => {
    if (d.param) word[k] = nw++;
    else decls.push(`@group(0) @binding(${nb++}) var<storage, read> a${k}: array<${WGSL_TYPE[d.dtype]}>;`);
  });
  if (nw > 0) decls.push(`@group(0) @binding(${nb}) var<storage, read> P: array<u32>;`);
  const lines: string[] = [];
  p.reads.forEach((r, v) => {
    const t = WGSL_TYPE[at(dtypes, v, "jit")];
    const x =
      r.mode === "p"
        ? t === "u32"
          ? `P[${at(word, r.input, "jit")}u]`
          : `bitcast<${t}>(P[${at(word, r.input, "jit")}u])`
        : r.mode === "c"
          ? `a${r.input}[i]`
          : r.mode === "s"
            ? `a${r.input}[0]`
            : `a${r.input}[${offsetWgsl(r.from, r.to)}]`;
    lines.push(`let v${v}: ${t} = ${x};`);
  });
  const code: string[] = [];
  p.ops.forEach((o, j) => {
    const v = p.reads.length + j;
    const expr = expression(o.prim)(
      o.args.map((a) => `v${a}`),
      o.args.map((a) => at(dtypes, a, "jit")),
      o.dtype,
    );
    code.push(expr);
    lines.push(`let v${v}: ${WGSL_TYPE[o.dtype]} = ${expr};`);
  });
  p.outs.forEach((v, j) => lines.push(`o${j}[i] = v${v};`));
  const all = code.join("\n");
  return `// ${p.ops.map((o) => o.prim).join(" ")}
${decls.join("\n")}
${preludeFor(all)}
${elementMain(WG, max, `${p.size}u`)}
  ${lines.join("\n  ")}
}
`;
}
