/**
 * Compiled elementwise loops in WebAssembly SIMD: a program of unary and
 * binary operations over float32 or float64 operands (full-length arrays or
 * single elements broadcast to every position), storing any of its values and
 * optionally summing one of them. `jit` plans compile their fused regions
 * with it, and the eager unary/binary kernels use it for large arrays.
 *
 * Each program is one module (cached by its text) importing a shared memory
 * (env.mem) and the host's Math.sin/cos/tan (used only for |x| > 2^20, see
 * ./vmath.ts). The loop handles two elements per iteration in f64x2 lanes; a
 * float32 operand is loaded as two floats and promoted, and every operation's
 * result is rounded to float32 (demote, promote), so each value is exactly
 * what storing it in a Float32Array gives, as in the JS loops. Operand
 * regions are padded to a whole number of pairs, so an odd length is one more
 * vector iteration whose second lane is computed but neither stored nor
 * summed (the scalar tail). The main loop does two vectors per iteration.
 *
 * A sum is accumulated in one f64 scalar in ascending index order (lane 0,
 * then lane 1), the same additions as the JS fold `acc += v`, so the sum is
 * identical to the JS loop's given identical values.
 *
 * When WebAssembly or SIMD is unavailable, `compileElementwise` returns null
 * and callers keep their JS loops.
 */
import type { TypedArray } from "../../core/dtype.js";
import { NablaError, at as elementAt } from "../../core/errors.js";
import { Code, F64, I32, OP, SIMD, V128, body, moduleBytes } from "./encoder.js";
import { BINARY, ERF_TABLE_BASE, ERF_TABLE_BYTES, UNARY, VB, type X, sincos } from "./vmath.js";
import { ERF_TABLE } from "./erfTable.js";

export type FloatDType = "float32" | "float64";

let minSize = 4096;
/**
 * Smallest loop (elements) that `jit`'s fused regions and the eager unary/binary kernels run as
 * compiled WebAssembly: below it the JS loop is as fast (a compiled call copies its operands into
 * linear memory). One threshold for both keeps jit and eager results identical.
 */
export function wasmMinSize(): number {
  return minSize;
}
/** Sets the threshold (tests use 0 to exercise the compiled path on small arrays); returns the previous one. */
export function setWasmMinSize(n: number): number {
  const was = minSize;
  minSize = n;
  return was;
}

/** One operation: a primitive name and its operands (value indices: inputs first, then results in order). */
export interface EwOp {
  op: string;
  args: readonly number[];
}

export interface EwProgram {
  dtype: FloatDType;
  /** Per input: true when it is a single element used at every position. */
  scalarIn: readonly boolean[];
  ops: readonly EwOp[];
  /** Value indices written to the output buffers, in order. */
  outs: readonly number[];
  /** Value index whose elements are summed (the kernel returns the sum), or null. */
  sum: number | null;
}

/** Runs a compiled program over n elements; returns the sum (0 without one). */
export type EwKernel = (ins: readonly TypedArray[], outs: readonly TypedArray[], n: number) => number;

/** Whether a primitive name has a compiled form with `arity` operands. */
export function wasmSupports(op: string, arity: number): boolean {
  return arity === 1 ? Object.hasOwn(UNARY, op) : arity === 2 ? Object.hasOwn(BINARY, op) : false;
}

/** The emitter of a unary operation (`wasmSupports` said it has one). */
function unaryOp(op: string): (v: VB, x: X) => X {
  const f = Object.hasOwn(UNARY, op) ? UNARY[op] : undefined;
  if (f === undefined) throw new NablaError(`compileElementwise: internal: no compiled unary ${op}`);
  return f;
}

/** The emitter of a binary operation (`wasmSupports` said it has one). */
function binaryOp(op: string): (v: VB, a: X, b: X) => X {
  const f = Object.hasOwn(BINARY, op) ? BINARY[op] : undefined;
  if (f === undefined) throw new NablaError(`compileElementwise: internal: no compiled binary ${op}`);
  return f;
}

const HOST_TYPE = { params: [F64], results: [F64] };

function generate(p: EwProgram): Uint8Array<ArrayBuffer> {
  const nIn = p.scalarIn.length;
  const nOut = p.outs.length;
  const f32 = p.dtype === "float32";
  const step = f32 ? 8 : 16; // bytes per pair
  // params: input pointers, output pointers, quads, extra pair, odd; locals: off (i32), acc (f64), then v128s
  const pQuads = nIn + nOut;
  const pPair = pQuads + 1;
  const pOdd = pQuads + 2;
  const off = pOdd + 1;
  const a0 = off + 1; // erf's per-lane table addresses
  const a1 = off + 2;
  const acc = off + 3;
  const firstV = acc + 1;
  const c = new Code();
  const v = new VB(c, firstV, { sin: 0, cos: 1, tan: 2 }, [a0, a1]);
  const addr = (param: number) => c.get(param).get(off).op(OP.i32Add);
  const round = (e: X): X =>
    f32
      ? () => {
          e();
          c.simd(SIMD.f32x4DemoteF64x2Zero).simd(SIMD.f64x2PromoteLowF32x4);
        }
      : e;
  // single-element inputs, splat once
  const splats: (X | null)[] = p.scalarIn.map((s, k) => {
    if (!s) return null;
    return v.let(() => {
      c.get(k);
      if (f32) c.mem(OP.f32Load, 2, 0).op(OP.f64PromoteF32);
      else c.mem(OP.f64Load, 3, 0);
      c.simd(SIMD.f64x2Splat);
    });
  });
  /** One vector of two elements at byte offset off + at·step; `tail`: only lane 0 enters the sum. */
  const emitBody = (tail: boolean, at: number) => {
    const vals: X[] = [];
    for (let k = 0; k < nIn; k++) {
      const s = splats[k];
      if (s) vals.push(s);
      else
        vals.push(
          v.let(() => {
            addr(k);
            if (f32) c.simd(SIMD.load64Zero, [3, at * step]).simd(SIMD.f64x2PromoteLowF32x4);
            else c.simd(SIMD.load, [4, at * step]);
          }),
        );
    }
    // sin and cos of one value share their reduction and polynomials
    const trig = new Map<number, [X, X]>();
    for (const o of p.ops) {
      const a = o.args.map((i) => elementAt(vals, i, "compileElementwise"));
      let e: X;
      if (o.op === "sin" || o.op === "cos") {
        const arg = elementAt(o.args, 0, "compileElementwise");
        let sc = trig.get(arg);
        if (sc === undefined) trig.set(arg, (sc = sincos(v, elementAt(a, 0, "compileElementwise"))));
        e = sc[o.op === "sin" ? 0 : 1];
      } else
        e =
          a.length === 1
            ? unaryOp(o.op)(v, elementAt(a, 0, "compileElementwise"))
            : binaryOp(o.op)(v, elementAt(a, 0, "compileElementwise"), elementAt(a, 1, "compileElementwise"));
      vals.push(v.let(round(e)));
    }
    p.outs.forEach((vi, j) => {
      addr(nIn + j);
      elementAt(vals, vi, "compileElementwise")();
      if (f32)
        c.simd(SIMD.f32x4DemoteF64x2Zero)
          .simd(SIMD.store64Lane, [3, at * step])
          .op(0);
      else c.simd(SIMD.store, [4, at * step]);
    });
    if (p.sum !== null) {
      const s = elementAt(vals, p.sum, "compileElementwise");
      for (let lane = 0; lane < (tail ? 1 : 2); lane++) {
        c.get(acc);
        s();
        c.lane(SIMD.f64x2ExtractLane, lane).op(OP.f64Add).set(acc);
      }
    }
  };
  // main loop: `quads` iterations of two independent vectors (more work in flight: the loops are
  // latency-bound), then one more vector, then the odd element (lane 0 only)
  c.op(OP.block).op(OP.void).op(OP.loop).op(OP.void);
  c.get(pQuads).op(OP.i32Eqz).op(OP.brIf).op(1);
  emitBody(false, 0);
  emitBody(false, 1);
  c.addConst(off, 2 * step);
  c.get(pQuads).i32(1).op(OP.i32Sub).set(pQuads);
  c.op(OP.br).op(0).op(OP.end).op(OP.end);
  c.get(pPair).op(OP.if).op(OP.void);
  emitBody(false, 0);
  c.addConst(off, step);
  c.op(OP.end);
  c.get(pOdd).op(OP.if).op(OP.void);
  emitBody(true, 0);
  c.op(OP.end);
  c.get(acc);
  const all = new Code();
  for (const x of v.prologue.b) all.b.push(x);
  for (const x of c.b) all.b.push(x);
  const params = Array.from({ length: nIn + nOut + 3 }, () => I32);
  return moduleBytes({
    imports: [
      { module: "m", name: "sin", type: HOST_TYPE },
      { module: "m", name: "cos", type: HOST_TYPE },
      { module: "m", name: "tan", type: HOST_TYPE },
    ],
    memory: { import: true },
    funcs: [
      {
        name: "run",
        type: { params, results: [F64] },
        body: body(
          [
            [3, I32],
            [1, F64],
            [v.count, V128],
          ],
          all,
        ),
      },
    ],
  });
}

type Run = (...args: number[]) => number;

let memory: WebAssembly.Memory | null = null;
const cache = new Map<string, EwKernel | null>();
let available: boolean | null = null;

/** Whether WebAssembly SIMD can be used here (checked once by compiling a small program). */
export function wasmElementwiseAvailable(): boolean {
  if (available === null) {
    available = false;
    try {
      if (typeof WebAssembly === "object") {
        memory = new WebAssembly.Memory({ initial: 1 });
        // the erf table at the start of memory (operand regions start after it)
        new Float64Array(memory.buffer, ERF_TABLE_BASE, ERF_TABLE.length).set(ERF_TABLE);
        available = true; // provisionally, for the probe below
        available =
          compileElementwise({
            dtype: "float64",
            scalarIn: [false],
            ops: [{ op: "exp", args: [0] }],
            outs: [1],
            sum: null,
          }) !== null;
      }
    } catch {
      available = false;
    }
  }
  return available;
}

/** Disables (false) or re-enables the compiled loops, e.g. to test the JS path; returns the previous setting. */
export function setWasmElementwise(on: boolean): boolean {
  const was = wasmElementwiseAvailable();
  available = on && memory !== null;
  return was;
}

const align16 = (b: number) => (b + 15) & ~15;

/** Compiles a program (cached); null when WebAssembly SIMD is unavailable or the program uses an unknown operation. */
export function compileElementwise(p: EwProgram): EwKernel | null {
  if (!wasmElementwiseAvailable()) return null;
  const key = JSON.stringify(p);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let kernel: EwKernel | null = null;
  try {
    if (p.ops.every((o) => wasmSupports(o.op, o.args.length))) {
      const mem = memory!;
      const inst = new WebAssembly.Instance(new WebAssembly.Module(generate(p)), {
        env: { mem },
        m: { sin: Math.sin, cos: Math.cos, tan: Math.tan },
      });
      kernel = runner(p, inst.exports["run"] as Run, mem);
    }
  } catch {
    kernel = null;
  }
  cache.set(key, kernel);
  return kernel;
}

function runner(p: EwProgram, run: Run, mem: WebAssembly.Memory): EwKernel {
  const f32 = p.dtype === "float32";
  const s = f32 ? 4 : 8;
  const nIn = p.scalarIn.length;
  return (ins, outs, n) => {
    const pairs = n >> 1;
    const padded = (pairs + (n & 1)) * 2 * s;
    const ptrs: number[] = [];
    let end = align16(ERF_TABLE_BASE + ERF_TABLE_BYTES);
    for (let k = 0; k < nIn; k++) {
      ptrs.push(end);
      end = align16(end + (p.scalarIn[k] ? 16 : padded));
    }
    for (let j = 0; j < outs.length; j++) {
      ptrs.push(end);
      end = align16(end + padded);
    }
    const have = mem.buffer.byteLength;
    if (end > have) mem.grow(Math.ceil((end - have) / 65536));
    const buf = mem.buffer;
    const view = f32 ? new Float32Array(buf) : new Float64Array(buf);
    for (let k = 0; k < nIn; k++) {
      const src = ins[k]!;
      if (p.scalarIn[k]) view[ptrs[k]! / s] = src[0]!;
      else view.set(src.length === n ? src : src.subarray(0, n), ptrs[k]! / s);
    }
    const sum = run(...ptrs, pairs >> 1, pairs & 1, n & 1);
    for (let j = 0; j < outs.length; j++) {
      const o = ptrs[nIn + j]! / s;
      outs[j]!.set(view.subarray(o, o + n));
    }
    return sum;
  };
}

// --- eager kernels: the compiled form of a scalar function, by identity ---------------------------

const NAMED = new WeakMap<Function, string>();
/** Records that scalar function `f` is the primitive `name` (the eager kernels look compiled code up by it). */
export function nameScalar(f: Function, name: string): void {
  NAMED.set(f, name);
}

const UNARY_MODE: readonly (readonly boolean[])[] = [[false]];
const BINARY_MODE: readonly (readonly boolean[])[] = [
  [false, false],
  [true, false],
  [false, true],
];

/**
 * The compiled loop for an eager kernel applying `f` over n elements of `dtype` (operands of that
 * dtype; binary `mode` 0: both full, 1: the first a single element, 2: the second), or null (use JS).
 */
export function eagerKernel(f: Function, arity: 1 | 2, mode: number, dtype: string, n: number): EwKernel | null {
  if (n < minSize || (dtype !== "float32" && dtype !== "float64")) return null;
  const op = NAMED.get(f);
  if (op === undefined || !wasmSupports(op, arity)) return null;
  const scalarIn = elementAt(arity === 1 ? UNARY_MODE : BINARY_MODE, mode, "eagerKernel");
  return compileElementwise({
    dtype,
    scalarIn,
    ops: [{ op, args: arity === 1 ? [0] : [0, 1] }],
    outs: [arity],
    sum: null,
  });
}
