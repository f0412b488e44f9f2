/**
 * Compiled elementwise loops in WebAssembly SIMD: a program of unary and
 * binary operations over float32 or float64 operands (full-length arrays or
 * single elements broadcast to every position), storing any of its values and
 * optionally summing one of them. `jit` plans compile their fused regions
 * with it, and the eager unary/binary kernels use it for large arrays.
 *
 * Each program is one module (cached by its text) importing a shared memory
 * (env.mem) and the host's Math.sin/cos/tan (used only for |x| > 2^20, see
 * ./vmath.ts). A float64 loop handles two elements per vector in f64x2 lanes;
 * a float32 loop four in f32x4 lanes (./vmath32.ts: f32x4 arithmetic, which
 * rounds as the float64 operation rounded to float32 does, float32 forms of
 * sin, cos and tanh, and the float64 kernels on the vector's halves for the
 * rest, rounded once), so each value is what storing it in a Float32Array
 * gives. Operand regions are padded to a whole number of vectors, so a length
 * that is not a multiple of the lanes ends in one more vector whose last lanes
 * are computed and stored into the padding but not summed (the tail). The main
 * loop does two vectors per iteration.
 *
 * A sum is accumulated in one f64 scalar in ascending index order (lane 0,
 * then lane 1, ...), the same additions as the JS fold `acc += v`; over more than
 * SUM_CHUNK elements each chunk's partial sum is computed so and the partials
 * are added in order (the order of every full sum, ../sumOrder.ts), so the sum
 * is identical to the JS loop's given identical values.
 *
 * Threads: the memory is shared where the runtime allows (../threads.ts), and
 * a large loop runs in chunks of SUM_CHUNK elements on the pool. A worker
 * compiles a program the first time it runs one of its chunks, from the module
 * bytes the main thread writes into memory with the job (workers block in
 * Atomics.wait between jobs, so they cannot receive messages). Elements do not
 * depend on the chunking and sums are chunked the same way on one thread, so
 * results are bit-identical for every thread count.
 *
 * When WebAssembly or SIMD is unavailable, `compileElementwise` returns null
 * and callers keep their JS loops.
 */
import type { TypedArray } from "../../core/dtype.js";
import { NablaError, at as elementAt } from "../../core/errors.js";
import { Code, F64, I32, OP, SIMD, V128, body, moduleBytes } from "./encoder.js";
import { BINARY, ERF_TABLE_BASE, ERF_TABLE_BYTES, UNARY, VB, type X, sincos } from "./vmath.js";
import { BINARY32, UNARY32, byHalves, sincos32 } from "./vmath32.js";
import { ERF_TABLE } from "./erfTable.js";
import { MAX_PAGES, Regions, align16, createMemory, ensure, isShared, memoryImport } from "./memory.js";
import { SUM_CHUNK } from "../sumOrder.js";
import {
  type ChunkContext,
  type Pool,
  type PoolStats,
  type WasmFn,
  chunkContext,
  createPool,
  getThreads,
  parallelFor,
  poolReady,
  poolStats,
} from "../threads.js";

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
  /**
   * Per input (absent: none): an operand broadcast along middle axes, read in place: it holds
   * n / times elements, and position i reads element ⌊i / (block·times)⌋·block + i mod block (each
   * block of `block` elements read `times` times in a row). block a multiple of two vectors, n of
   * block·times; no sum; such a loop runs on one thread (issue 8: W5's [256, 1, 32] operands read
   * as [256, 2, 32] without a tiled copy).
   */
  blocks?: readonly ({ readonly block: number; readonly times: number } | null)[];
  /**
   * Row by row (absent: one run over the n elements): `count` rows of `period` elements (n =
   * period·count, period a multiple of the lanes). Per input, null (a full operand, or a single
   * element) or a padded read: the operand holds count·(to − from) elements, and position j of a
   * row reads the operand's next element for from ≤ j < to, +0 elsewhere (a pad along the rows'
   * axis, read in place). Per output, false (stored in order) or true (stored transposed: position
   * j of row r at j·count + r). No sum and no block operands; such a loop runs on one thread
   * (issue 8: W4's Hessian ends in two padded reads added and transposed, 200 × 200).
   */
  rows?: RowsShape;
}

/** How a row-by-row program reads and writes (see EwProgram.rows). */
export interface RowsShape {
  readonly period: number;
  readonly count: number;
  readonly pads: readonly ({ readonly from: number; readonly to: number } | null)[];
  readonly transposed: readonly boolean[];
}

/** Whether a program's row form (see EwProgram.rows) is one its loop can run. */
function rowsValid(p: EwProgram): boolean {
  const r = p.rows;
  if (r === undefined) return true;
  const lanes = p.dtype === "float32" ? 4 : 2;
  const int = (x: number) => Number.isInteger(x) && x >= 0;
  return (
    p.sum === null &&
    (p.blocks ?? []).every((b) => b === null) &&
    int(r.period) &&
    int(r.count) &&
    r.period > 0 &&
    r.period % lanes === 0 &&
    r.pads.length === p.scalarIn.length &&
    r.transposed.length === p.outs.length &&
    r.pads.every((d, k) => d === null || (p.scalarIn[k] !== true && int(d.from) && d.from < d.to && d.to <= r.period))
  );
}

/** Whether a program's block operands (see EwProgram.blocks) are ones its loop can read. */
function blocksValid(p: EwProgram): boolean {
  const b = p.blocks;
  if (b === undefined || b.every((x) => x === null)) return true;
  const lanes = p.dtype === "float32" ? 4 : 2;
  return (
    p.sum === null &&
    b.length === p.scalarIn.length &&
    b.every((x, k) => x === null || (p.scalarIn[k] !== true && x.block % (2 * lanes) === 0 && x.times >= 1))
  );
}

/**
 * An operand the kernel writes into its memory itself (a broadcast operand, tiled there directly
 * rather than first into an array of its own): `write(dst)` sets every element of `dst` (n of
 * them, the operand's dtype); `first()` is element 0.
 */
export interface EwFill {
  write(dst: TypedArray): void;
  first(): number;
}

/**
 * An operand whose elements never change (a jit plan's constant, or a constant's tiled copy; or,
 * with `argument`, a plan's argument read as it is): the kernel copies it into its memory once,
 * keeps it there while the array lives, and reads it in place on later runs (issue 8: W4's loop
 * copied three 320 KB identity slices in on every call, W1 its 4 or 8 MB argument).
 */
export interface EwResident {
  readonly resident: TypedArray;
  /** An argument's storage rather than a constant's: counted against a budget of its own. */
  readonly argument?: boolean;
}

/**
 * Runs a compiled program over n elements; returns the sum (0 without one), or null when memory
 * could not grow to hold the operands (nothing was computed: run the JS loop).
 */
export type EwKernel = (
  ins: readonly (TypedArray | EwFill | EwResident)[],
  outs: readonly TypedArray[],
  n: number,
) => number | null;

// --- resident operands: regions of memory after the erf table, below every run's operands -------
/**
 * The most bytes resident copies take, for constants and for arguments each (beyond, operands
 * are copied in on every run as before). Two budgets, so arguments that change every call (a
 * training loop's parameters, whose copies are given back only when the collector has found the
 * arrays dead) never crowd out a plan's constants.
 */
const RESIDENT_MAX = 64 * 1024 * 1024;
const RESIDENT_BASE = align16(ERF_TABLE_BASE + ERF_TABLE_BYTES);
/** The resident regions: every run lays its operands out from their end. */
const regions = new Regions(RESIDENT_BASE);
/** Bytes held by resident copies, constants' [0] and arguments' [1]. */
const residentLive = [0, 0];
/** Where each resident array's elements are (byte offset), by array. */
const residentAt = new WeakMap<TypedArray, number>();
const residentGone = new FinalizationRegistry<[number, number, number]>(([at, bytes, kind]) => {
  regions.give(at, bytes);
  residentLive[kind] = (residentLive[kind] ?? 0) - bytes;
});

/**
 * The byte offset of `a`'s elements in `mem` (copied there on first use into a region of `bytes`,
 * its padded size; `kind` 0 a constant, 1 an argument), or null when it cannot stay (its budget is
 * spent, or memory cannot grow).
 */
function residentOffset(mem: WebAssembly.Memory, a: TypedArray, bytes: number, kind: number): number | null {
  const hit = residentAt.get(a);
  if (hit !== undefined) return hit;
  const live = residentLive[kind] ?? 0;
  if (live + bytes > RESIDENT_MAX) return null;
  const at = regions.take(bytes, MAX_PAGES * 65536);
  if (at === null) return null;
  if (!ensure(mem, at + bytes)) {
    regions.give(at, bytes);
    return null;
  }
  new Uint8Array(mem.buffer, at, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  residentAt.set(a, at);
  residentLive[kind] = live + bytes;
  residentGone.register(a, [at, bytes, kind]);
  return at;
}

// --- arrays living in memory: a jit plan's kept buffers ----------------------------------------
/** The most bytes such arrays take (beyond, plans keep ordinary typed arrays). */
const VIEWS_MAX = 256 * 1024 * 1024;
let viewsLive = 0;
/** Where each such array's elements are (byte offset), by array: read and written in place. */
const viewAt = new WeakMap<TypedArray, number>();
const viewGone = new FinalizationRegistry<[number, number]>(([at, bytes]) => {
  regions.give(at, bytes);
  viewsLive -= bytes;
});

/**
 * @internal A float array of n elements whose storage is a region of the compiled loops' shared
 * memory (its padding to whole vectors included), or null (no compiled loops, an unshared memory,
 * whose growth would detach it, or the budget is spent). The compiled loops read and write it in
 * place, with no copy in or out; everything else sees an ordinary typed array. For the buffers a
 * jit plan keeps from call to call (issue 8): they live as long as the plan, and the region is
 * given back once the array is collected.
 */
export function memoryArray(dtype: FloatDType, n: number): Float32Array | Float64Array | null {
  const rt = enabledRuntime();
  if (rt === null || n === 0 || !isShared(rt.memory)) return null;
  const bytes = align16(n * (dtype === "float32" ? 4 : 8));
  if (viewsLive + bytes > VIEWS_MAX) return null;
  const at = regions.take(bytes, MAX_PAGES * 65536);
  if (at === null) return null;
  if (!ensure(rt.memory, at + bytes)) {
    regions.give(at, bytes);
    return null;
  }
  const buf = rt.memory.buffer;
  const a = dtype === "float32" ? new Float32Array(buf, at, n) : new Float64Array(buf, at, n);
  // a region given back may hold an earlier array's elements: zeroed, as allocated storage is
  a.fill(0);
  viewAt.set(a, at);
  viewsLive += bytes;
  viewGone.register(a, [at, bytes]);
  return a;
}

/** @internal Whether {@link memoryArray} can make arrays here (compiled loops over a shared memory). */
export function keptInMemory(): boolean {
  const rt = enabledRuntime();
  return rt !== null && isShared(rt.memory);
}

/** @internal Whether `a` lives in the compiled loops' memory (see {@link memoryArray}). */
export function inMemory(a: TypedArray): boolean {
  return viewAt.has(a);
}

/** @internal The bytes resident copies occupy now: constants', arguments' or both (for tests). */
export function residentBytes(of: "constants" | "arguments" | "all" = "all"): number {
  const c = residentLive[0] ?? 0;
  const a = residentLive[1] ?? 0;
  return of === "constants" ? c : of === "arguments" ? a : c + a;
}

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

/** The float32 emitter of a unary operation: its f32x4 form, else the float64 one by halves. */
function unaryOp32(op: string): (v: VB, x: X) => X {
  const f = Object.hasOwn(UNARY32, op) ? UNARY32[op] : undefined;
  return f ?? byHalves(unaryOp(op));
}

/** The float32 emitter of a binary operation (all have f32x4 forms). */
function binaryOp32(op: string): (v: VB, a: X, b: X) => X {
  const f = Object.hasOwn(BINARY32, op) ? BINARY32[op] : undefined;
  if (f === undefined) throw new NablaError(`compileElementwise: internal: no compiled binary ${op}`);
  return f;
}

/** The emitter of a binary operation (`wasmSupports` said it has one). */
function binaryOp(op: string): (v: VB, a: X, b: X) => X {
  const f = Object.hasOwn(BINARY, op) ? BINARY[op] : undefined;
  if (f === undefined) throw new NablaError(`compileElementwise: internal: no compiled binary ${op}`);
  return f;
}

const HOST_TYPE = { params: [F64], results: [F64] };

/** The single-element inputs (parameter k points at input k), each splat once before the loop; null for the others. */
function splatInputs(v: VB, c: Code, p: EwProgram): (X | null)[] {
  const f32 = p.dtype === "float32";
  return p.scalarIn.map((single, k) => {
    if (!single) return null;
    return v.let(() => {
      c.get(k);
      if (f32) c.mem(OP.f32Load, 2, 0).simd(SIMD.f32x4Splat);
      else c.mem(OP.f64Load, 3, 0).simd(SIMD.f64x2Splat);
    });
  });
}

/** Appends the program's operations on one vector to `vals` (its inputs' vectors, in order). */
function emitOps(v: VB, p: EwProgram, vals: X[]): void {
  const f32 = p.dtype === "float32";
  // sin and cos of one value share their reduction and polynomials
  const trig = new Map<number, [X, X]>();
  for (const o of p.ops) {
    const a = o.args.map((i) => elementAt(vals, i, "compileElementwise"));
    const a0 = elementAt(a, 0, "compileElementwise");
    let e: X;
    if (o.op === "sin" || o.op === "cos") {
      const arg = elementAt(o.args, 0, "compileElementwise");
      let sc = trig.get(arg);
      if (sc === undefined) trig.set(arg, (sc = f32 ? sincos32(v, a0) : sincos(v, a0)));
      e = sc[o.op === "sin" ? 0 : 1];
    } else if (a.length === 1) e = (f32 ? unaryOp32(o.op) : unaryOp(o.op))(v, a0);
    else e = (f32 ? binaryOp32 : binaryOp)(o.op)(v, a0, elementAt(a, 1, "compileElementwise"));
    vals.push(v.let(e));
  }
}

/**
 * The module of a row-by-row program (EwProgram.rows), with the parameters of `generate`'s (the
 * last three unused) and its result (always 0). Per row, its vectors in runs where every padded
 * operand is read throughout or zero throughout (a loop), and one vector at a time where a pad's
 * edge falls inside it (read, then masked to +0 outside the edge: the lanes so masked may read a
 * vector's width beyond the operand's elements, which the runner's layout keeps inside memory).
 * A transposed output's vector is stored lane by lane, count elements apart.
 */
function generateRows(p: EwProgram, r: RowsShape, shared: boolean): Uint8Array<ArrayBuffer> {
  const nIn = p.scalarIn.length;
  const nOut = p.outs.length;
  const f32 = p.dtype === "float32";
  const lanes = f32 ? 4 : 2;
  const s = f32 ? 4 : 8;
  const step = 16;
  const nParams = nIn + nOut + 3;
  const ri = nParams;
  const off = nParams + 1;
  const a0 = nParams + 2;
  const a1 = nParams + 3;
  const tOuts = r.transposed.flatMap((t, j) => (t ? [j] : []));
  const tq = (j: number) => nParams + 4 + tOuts.indexOf(j);
  const firstV = nParams + 4 + tOuts.length;
  const c = new Code();
  const v = new VB(c, firstV, { sin: 0, cos: 1, tan: 2 }, [a0, a1]);
  const zero = v.bytes(new Array<number>(16).fill(0));
  const splats = splatInputs(v, c, p);
  /** Per padded input, the lanes of the vector at row position j that it reads (bit l: lane l). */
  const laneBits = (k: number, j: number): number => {
    const d = elementAt(r.pads, k, "compileElementwise");
    if (d === null) return (1 << lanes) - 1;
    let b = 0;
    for (let l = 0; l < lanes; l++) if (j + l >= d.from && j + l < d.to) b |= 1 << l;
    return b;
  };
  const full = (1 << lanes) - 1;
  /** The vector at row position j (byte offset `off` within the row; j only for its masks). */
  const emitVector = (j: number) => {
    const vals: X[] = [];
    for (let k = 0; k < nIn; k++) {
      const sp = splats[k];
      if (sp) {
        vals.push(sp);
        continue;
      }
      const bits = laneBits(k, j);
      if (bits === 0) {
        vals.push(zero);
        continue;
      }
      const load = v.let(() => {
        c.get(k).get(off).op(OP.i32Add);
        c.simd(SIMD.load, [4, 0]);
      });
      if (bits === full) vals.push(load);
      else {
        const mask: number[] = [];
        for (let l = 0; l < lanes; l++) for (let b = 0; b < s; b++) mask.push((bits >> l) & 1 ? 0xff : 0);
        vals.push(v.let(v.and(load, v.bytes(mask))));
      }
    }
    emitOps(v, p, vals);
    p.outs.forEach((vi, j2) => {
      const val = elementAt(vals, vi, "compileElementwise");
      if (elementAt(r.transposed, j2, "compileElementwise")) {
        for (let l = 0; l < lanes; l++) {
          c.get(tq(j2));
          val();
          if (f32) c.lane(SIMD.f32x4ExtractLane, l).mem(OP.f32Store, 2, l * r.count * s);
          else c.lane(SIMD.f64x2ExtractLane, l).mem(OP.f64Store, 3, l * r.count * s);
        }
        c.addConst(tq(j2), lanes * r.count * s);
      } else {
        c.get(nIn + j2)
          .get(off)
          .op(OP.i32Add);
        val();
        c.simd(SIMD.store, [4, 0]);
      }
    });
  };
  // the row's vectors: runs of equal masks, all of them whole (a loop), or one masked vector
  const nv = r.period / lanes;
  const sig = (vi: number): string => r.pads.map((_, k) => laneBits(k, vi * lanes)).join(",");
  const whole = (vi: number): boolean => r.pads.every((_, k) => [0, full].includes(laneBits(k, vi * lanes)));
  const runs: [number, number][] = [];
  for (let vi = 0; vi < nv;) {
    let e = vi + 1;
    if (whole(vi)) while (e < nv && whole(e) && sig(e) === sig(vi)) e++;
    runs.push([vi, e]);
    vi = e;
  }
  // padded operands' pointers moved back by `from` elements (i32 arithmetic wraps: every address
  // loaded is the operand's, or within a vector of it)
  r.pads.forEach((d, k) => {
    if (d !== null && d.from > 0)
      c.get(k)
        .i32(d.from * s)
        .op(OP.i32Sub)
        .set(k);
  });
  c.i32(0).set(ri);
  c.get(ri).i32(r.count).op(OP.i32LtU).op(OP.if).op(OP.void);
  c.op(OP.loop).op(OP.void);
  for (const j of tOuts)
    c.get(nIn + j)
      .get(ri)
      .i32(s)
      .op(OP.i32Mul)
      .op(OP.i32Add)
      .set(tq(j));
  for (const [b, e] of runs) {
    c.i32(b * step).set(off);
    if (e - b === 1) emitVector(b * lanes);
    else {
      c.op(OP.loop).op(OP.void);
      emitVector(b * lanes);
      c.addConst(off, step);
      c.get(off)
        .i32(e * step)
        .op(OP.i32LtU)
        .op(OP.brIf)
        .op(0);
      c.op(OP.end);
    }
  }
  // the next row: full operands and in-order outputs a row on, padded ones a row of their own
  for (let k = 0; k < nIn; k++) {
    if (p.scalarIn[k] === true) continue;
    const d = elementAt(r.pads, k, "compileElementwise");
    c.addConst(k, (d === null ? r.period : d.to - d.from) * s);
  }
  r.transposed.forEach((t, j) => {
    if (!t) c.addConst(nIn + j, r.period * s);
  });
  c.addConst(ri, 1);
  c.get(ri).i32(r.count).op(OP.i32LtU).op(OP.brIf).op(0);
  c.op(OP.end).op(OP.end);
  c.f64(0);
  return runModule(v, c, nParams, [[4 + tOuts.length, I32]], shared);
}

function generate(p: EwProgram, shared: boolean): Uint8Array<ArrayBuffer> {
  const nIn = p.scalarIn.length;
  const nOut = p.outs.length;
  const f32 = p.dtype === "float32";
  // float32: four elements per vector in f32x4 lanes (./vmath32.ts); float64: two in f64x2 lanes
  const lanes = f32 ? 4 : 2;
  const step = 16; // bytes per vector
  // params: input pointers, output pointers, vector pairs, extra vector, tail (elements of a last partial
  // vector); locals: off (i32), acc (f64), then v128s
  const pQuads = nIn + nOut;
  const pPair = pQuads + 1;
  const pOdd = pQuads + 2;
  const off = pOdd + 1;
  const a0 = off + 1; // erf's per-lane table addresses
  const a1 = off + 2;
  // block operands: per one, its read pointer, vectors read of the current block, and the times
  // the block has been read
  const blocks = (p.blocks ?? []).flatMap((b, k) => (b === null ? [] : [{ k, ...b }]));
  const bLocal = (j: number, which: 0 | 1 | 2) => off + 3 + 3 * j + which;
  const blockOf = new Map(blocks.map((b, j) => [b.k, j] as const));
  const acc = off + 3 + 3 * blocks.length;
  const firstV = acc + 1;
  const c = new Code();
  const v = new VB(c, firstV, { sin: 0, cos: 1, tan: 2 }, [a0, a1]);
  const addr = (param: number) => {
    const j = blockOf.get(param);
    if (j !== undefined) c.get(bLocal(j, 0));
    else c.get(param).get(off).op(OP.i32Add);
  };
  blocks.forEach((b, j) => c.get(b.k).set(bLocal(j, 0)));
  const splats = splatInputs(v, c, p);
  /** One vector of `lanes` elements at byte offset off + at·step; `tail`: only the first (tail param) lanes enter the sum. */
  const emitBody = (tail: boolean, at: number) => {
    const vals: X[] = [];
    for (let k = 0; k < nIn; k++) {
      const s = splats[k];
      if (s) vals.push(s);
      else
        vals.push(
          v.let(() => {
            addr(k);
            c.simd(SIMD.load, [4, at * step]);
          }),
        );
    }
    emitOps(v, p, vals);
    p.outs.forEach((vi, j) => {
      addr(nIn + j);
      elementAt(vals, vi, "compileElementwise")();
      c.simd(SIMD.store, [4, at * step]);
    });
    if (p.sum !== null) {
      const s = elementAt(vals, p.sum, "compileElementwise");
      for (let lane = 0; lane < (tail ? lanes - 1 : lanes); lane++) {
        // a partial vector holds 1..lanes-1 elements: lane 0 always, later lanes while below the tail count
        if (tail && lane > 0) c.get(pOdd).i32(lane).op(OP.i32GtU).op(OP.if).op(OP.void);
        c.get(acc);
        s();
        if (f32) c.lane(SIMD.f32x4ExtractLane, lane).op(OP.f64PromoteF32);
        else c.lane(SIMD.f64x2ExtractLane, lane);
        c.op(OP.f64Add).set(acc);
        if (tail && lane > 0) c.op(OP.end);
      }
    }
  };
  // main loop: `quads` iterations of two independent vectors (more work in flight: the loops are
  // latency-bound), then one more vector, then the partial vector (its first `tail` lanes)
  c.op(OP.block).op(OP.void).op(OP.loop).op(OP.void);
  c.get(pQuads).op(OP.i32Eqz).op(OP.brIf).op(1);
  emitBody(false, 0);
  emitBody(false, 1);
  c.addConst(off, 2 * step);
  blocks.forEach((b, j) => {
    // two vectors on; at the block's end, back to its start unless it has been read `times` times
    const [ptr, vecsRead, times] = [bLocal(j, 0), bLocal(j, 1), bLocal(j, 2)];
    c.addConst(ptr, 2 * step).addConst(vecsRead, 2);
    c.get(vecsRead)
      .i32(b.block / lanes)
      .op(OP.i32Eq)
      .op(OP.if)
      .op(OP.void);
    c.i32(0).set(vecsRead).addConst(times, 1);
    c.get(times).i32(b.times).op(OP.i32Eq).op(OP.if).op(OP.void);
    c.i32(0).set(times);
    c.op(OP.else);
    c.get(ptr)
      .i32(b.block * (f32 ? 4 : 8))
      .op(OP.i32Sub)
      .set(ptr);
    c.op(OP.end).op(OP.end);
  });
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
  return runModule(
    v,
    c,
    nIn + nOut + 3,
    [
      [3 + 3 * blocks.length, I32],
      [1, F64],
    ],
    shared,
  );
}

/**
 * The module exporting `run` (`nParams` i32 parameters, an f64 result) over the shared memory,
 * importing the host's sin, cos and tan: `v`'s constants set first, then `c`; its locals
 * `locals`, then `v`'s v128s.
 */
function runModule(
  v: VB,
  c: Code,
  nParams: number,
  locals: readonly (readonly [number, number])[],
  shared: boolean,
): Uint8Array<ArrayBuffer> {
  const all = new Code();
  for (const x of v.prologue.b) all.b.push(x);
  for (const x of c.b) all.b.push(x);
  return moduleBytes({
    imports: [
      { module: "m", name: "sin", type: HOST_TYPE },
      { module: "m", name: "cos", type: HOST_TYPE },
      { module: "m", name: "tan", type: HOST_TYPE },
    ],
    memory: memoryImport(shared),
    funcs: [
      {
        name: "run",
        type: { params: Array.from({ length: nParams }, () => I32), results: [F64] },
        body: body([...locals, [v.count, V128]], all),
      },
    ],
  });
}

/** What the compiled loops run on, made once by `wasmElementwiseAvailable`. */
interface Runtime {
  readonly memory: WebAssembly.Memory;
  /** The pool running large loops in chunks (null: single-threaded; see ../threads.ts). */
  readonly pool: Pool | null;
  /** The main thread's chunk context: the pool's, else one of its own (for chunked sums). */
  readonly ctx: ChunkContext;
}
let runtime: Runtime | null = null;
const cache = new Map<string, EwKernel | null>();
let available: boolean | null = null;
let nextId = 1;

/** Whether WebAssembly SIMD can be used here (checked once by compiling a small program). */
export function wasmElementwiseAvailable(): boolean {
  if (available === null) {
    available = false;
    try {
      if (typeof WebAssembly === "object") {
        const memory = createMemory();
        // the erf table at the start of memory (operand regions start after it)
        new Float64Array(memory.buffer, ERF_TABLE_BASE, ERF_TABLE.length).set(ERF_TABLE);
        const pool = isShared(memory) ? createPool(null, memory, {}, runChunk) : null;
        runtime = { memory, pool, ctx: pool === null ? chunkContext(memory) : pool.ctx };
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

/** The runtime when the compiled loops are available (and enabled), else null. */
function enabledRuntime(): Runtime | null {
  return wasmElementwiseAvailable() ? runtime : null;
}

/** Disables (false) or re-enables the compiled loops, e.g. to test the JS path; returns the previous setting. */
export function setWasmElementwise(on: boolean): boolean {
  const was = wasmElementwiseAvailable();
  available = on && runtime !== null;
  return was;
}

/** Whether large compiled loops can run on worker threads here (shared memory, blocking waits, workers). */
export function wasmElementwiseThreaded(): boolean {
  return (enabledRuntime()?.pool ?? null) !== null;
}

/** Starts the compiled loops' workers for the current thread count; resolves true once they run. */
export function elementwisePoolReady(): Promise<boolean> {
  const rt = enabledRuntime();
  return rt === null ? Promise.resolve(false) : poolReady(rt.pool);
}

/** Chunks of compiled loops run by workers so far, workers running and started. */
export function elementwisePoolStats(): PoolStats {
  return poolStats(runtime?.pool ?? null);
}

/** When a compiled loop runs on the pool (see `setElementwiseThreading`). */
export interface ThreadingThresholds {
  /** Least elements × work per element. */
  readonly minWork: number;
  /** Least work per element. */
  readonly minWorkPerElement: number;
}
/**
 * Measured on Node 20, 2 cores (loaded), one thread against two: a loop of cheap arithmetic
 * (add: work 77; eight mul/add/sub/div/max: 140) is bound by memory and by the copies in and
 * out on the main thread, and is no faster on two threads even at 10^6 elements; exp (work 475)
 * breaks even at ~32k elements, tanh (617) gains 1.2x at 32k, W1's gradient loop (1756) 1.3x at
 * 16k and 1.6x at 64k.
 */
let threading: ThreadingThresholds = { minWork: 1 << 24, minWorkPerElement: 256 };
/** The thresholds above which a compiled loop of two or more chunks runs on the pool. */
export function elementwiseThreading(): ThreadingThresholds {
  return threading;
}
/** Sets the thresholds (tests use 0 and 0 to put every loop of two or more chunks on the pool); returns the previous ones. */
export function setElementwiseThreading(t: ThreadingThresholds): ThreadingThresholds {
  const was = threading;
  threading = { minWork: t.minWork, minWorkPerElement: t.minWorkPerElement };
  return was;
}

/**
 * A loop's work per element: the bytes of one vector step of its body (the module's size over
 * the four copies of the body it holds, see `generate`). Polynomial evaluations are inline, so
 * code size tracks arithmetic.
 */
const workPerElement = (bytes: number): number => Math.max(1, bytes >> 2);

/** Compiles a program (cached); null when WebAssembly SIMD is unavailable or the program uses an unknown operation. */
export function compileElementwise(p: EwProgram): EwKernel | null {
  const rt = enabledRuntime();
  if (rt === null) return null;
  const key = JSON.stringify(p);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let kernel: EwKernel | null = null;
  try {
    if (p.ops.every((o) => wasmSupports(o.op, o.args.length)) && blocksValid(p) && rowsValid(p)) {
      const bytes =
        p.rows === undefined ? generate(p, isShared(rt.memory)) : generateRows(p, p.rows, isShared(rt.memory));
      const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
        env: { mem: rt.memory },
        m: { sin: Math.sin, cos: Math.cos, tan: Math.tan },
      });
      const run = rt.ctx.wasmFn(inst.exports, "run", p.scalarIn.length + p.outs.length + 3, "compileElementwise");
      const id = nextId++;
      rt.ctx.cache.set(id, run);
      kernel = runner(p, run, id, bytes, rt);
    }
  } catch {
    kernel = null;
  }
  cache.set(key, kernel);
  return kernel;
}

// --- partial sums: reduce_sum over a middle block of axes ------------------------------------
/**
 * The module of `sum(src, acc, dst, n0, n1, n2)`: acc[i0, i2] = +0 + src[i0, 0, i2] + src[i0, 1,
 * i2] + ... over a contiguous [n0, n1, n2] source of `dtype` elements, acc float64 [n0, n2], i1 in
 * ascending order; for float32, dst[i0, i2] = acc[i0, i2] rounded to float32. Two outputs per f64x2
 * vector (a float32 pair promoted exactly), the odd last one alone: each output is the JS walk's
 * fold, the same float64 additions in the same order, rounded once.
 */
function generateSum(dtype: FloatDType, shared: boolean): Uint8Array<ArrayBuffer> {
  const f32 = dtype === "float32";
  const s = f32 ? 4 : 8;
  // params: src, acc, dst, n0, n1, n2; locals: i0, i1, j, p (source), q (accumulator), row (its
  // row), o (float32 results)
  const [src, acc, dst, n0, n1, n2, i0, i1, j, p, q, row, o] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const c = new Code();
  const loopWhile = (cond: () => void, inner: () => void): void => {
    c.op(OP.block).op(OP.void).op(OP.loop).op(OP.void);
    cond();
    c.op(OP.i32Eqz).op(OP.brIf).op(1);
    inner();
    c.op(OP.br).op(0).op(OP.end).op(OP.end);
  };
  /** `body` at each of the row's n2 accumulators (q), one at a time. */
  const eachOfRow = (body: () => void): void => {
    c.i32(0).set(j);
    c.get(row).set(q);
    loopWhile(
      () => c.get(j).get(n2).op(OP.i32LtU),
      () => {
        body();
        c.addConst(q, 8).addConst(j, 1);
      },
    );
  };
  c.get(src).set(p);
  c.get(acc).set(row);
  c.get(dst).set(o);
  c.i32(0).set(i0);
  loopWhile(
    () => c.get(i0).get(n0).op(OP.i32LtU),
    () => {
      // the row's accumulators start at +0
      eachOfRow(() => c.get(q).f64(0).mem(OP.f64Store, 3, 0));
      c.i32(0).set(i1);
      loopWhile(
        () => c.get(i1).get(n1).op(OP.i32LtU),
        () => {
          c.i32(0).set(j);
          c.get(row).set(q);
          // two elements a step while two remain: j + 1 < n2
          loopWhile(
            () => c.get(j).i32(1).op(OP.i32Add).get(n2).op(OP.i32LtU),
            () => {
              c.get(q);
              c.get(q).simd(SIMD.load, [3, 0]);
              c.get(p);
              if (f32) c.simd(SIMD.load64Zero, [2, 0]).simd(SIMD.f64x2PromoteLowF32x4);
              else c.simd(SIMD.load, [3, 0]);
              c.simd(SIMD.f64x2Add).simd(SIMD.store, [3, 0]);
              c.addConst(p, 2 * s)
                .addConst(q, 16)
                .addConst(j, 2);
            },
          );
          c.get(j).get(n2).op(OP.i32LtU).op(OP.if).op(OP.void);
          c.get(q);
          c.get(q).mem(OP.f64Load, 3, 0);
          c.get(p);
          if (f32) c.mem(OP.f32Load, 2, 0).op(OP.f64PromoteF32);
          else c.mem(OP.f64Load, 3, 0);
          c.op(OP.f64Add).mem(OP.f64Store, 3, 0);
          c.addConst(p, s);
          c.op(OP.end);
          c.addConst(i1, 1);
        },
      );
      if (f32) {
        // the row rounded once to float32
        eachOfRow(() => {
          c.get(o).get(q).mem(OP.f64Load, 3, 0).op(OP.f32DemoteF64).mem(OP.f32Store, 2, 0);
          c.addConst(o, 4);
        });
      }
      c.get(row).get(n2).i32(8).op(OP.i32Mul).op(OP.i32Add).set(row);
      c.addConst(i0, 1);
    },
  );
  return moduleBytes({
    imports: [],
    memory: memoryImport(shared),
    funcs: [{ name: "sum", type: { params: [I32, I32, I32, I32, I32, I32], results: [] }, body: body([[7, I32]], c) }],
  });
}

type SumFn = (src: number, acc: number, dst: number, n0: number, n1: number, n2: number) => void;
const sumFns = new Map<FloatDType, SumFn | null>();

/** The partial-sum function for `dtype` (compiled once), or null without compiled loops. */
function sumFn(rt: Runtime, dtype: FloatDType): SumFn | null {
  let f = sumFns.get(dtype);
  if (f === undefined) {
    try {
      const inst = new WebAssembly.Instance(new WebAssembly.Module(generateSum(dtype, isShared(rt.memory))), {
        env: { mem: rt.memory },
      });
      f = inst.exports.sum as SumFn;
    } catch {
      f = null;
    }
    sumFns.set(dtype, f);
  }
  return f;
}

/**
 * @internal out[i0, i2] = Σ over i1 (ascending, from 0, in float64) of d[i0, i1, i2] for a
 * contiguous [n0, n1, n2] array d of float64 or float32 elements, out of d's dtype rounded once:
 * what the JS walk of reduce_sum computes, compiled (issue 8: W5's sums over a middle axis of 2
 * and W2's bias gradients, summed over the batch). False (nothing written) when the compiled
 * loops are unavailable, `d` is not float, or memory cannot grow: the caller runs its JS loop.
 */
export function wasmSumMiddle(d: TypedArray, out: TypedArray, n0: number, n1: number, n2: number): boolean {
  const rt = enabledRuntime();
  const dtype: FloatDType | null = d instanceof Float64Array ? "float64" : d instanceof Float32Array ? "float32" : null;
  if (rt === null || dtype === null || d.length !== n0 * n1 * n2 || out.length !== n0 * n2) return false;
  const f = sumFn(rt, dtype);
  if (f === null) return false;
  const s = dtype === "float32" ? 4 : 8;
  const inPlace = viewAt.get(d);
  let end = regions.end;
  const srcAt = inPlace ?? end;
  if (inPlace === undefined) end = align16(end + d.length * s);
  const accAt = end;
  end = align16(end + out.length * 8);
  const dstAt = end;
  if (dtype === "float32") end = align16(end + out.length * 4);
  if (!ensure(rt.memory, end)) return false;
  const buf = rt.memory.buffer;
  if (inPlace === undefined)
    (dtype === "float32" ? new Float32Array(buf, srcAt, d.length) : new Float64Array(buf, srcAt, d.length)).set(d);
  f(srcAt, accAt, dstAt, n0, n1, n2);
  // the results as stored (a copy of one typed-array class into the same, when `out` is of d's)
  if (dtype === "float32" && out instanceof Float32Array) out.set(new Float32Array(buf, dstAt, out.length));
  else out.set(new Float64Array(buf, accAt, out.length));
  return true;
}

/** Bytes of a chunked run's header: module offset and length, n, element size, sum offset, operand count. */
const HEADER = 24;

/**
 * Runs chunk `chunk` (elements [chunk·len, min(n, (chunk+1)·len)), len = params[2]) of a compiled
 * loop laid out by `runner` in shared memory: params [program id, header offset, len]. The
 * header (i32): module bytes' offset and length, n, bytes per element, the partial sums' offset
 * (-1 without a sum), the operand count, then per operand its offset and 1 (full) or 0 (one
 * element). A thread that has not run the program yet compiles it from the module bytes. Writes
 * the chunk's partial sum to partials[chunk]. Self-contained (the pool's workers get its
 * source): no closure over module scope; its reads are checked by `ctx`.
 */
function runChunk(_ex: Record<string, unknown>, p: readonly number[], chunk: number, ctx: ChunkContext): void {
  const F = "compileElementwise";
  const id = ctx.at(p, 0, F);
  const hdr = ctx.at(p, 1, F);
  const len = ctx.at(p, 2, F);
  const buf = ctx.memory.buffer;
  const h = new Int32Array(buf, hdr, 6);
  const n = ctx.at(h, 2, F);
  const size = ctx.at(h, 3, F);
  const sumAt = ctx.at(h, 4, F);
  const nPtrs = ctx.at(h, 5, F);
  const arity = nPtrs + 3;
  const cached = ctx.cache.get(id);
  let run: WasmFn;
  if (cached !== undefined) run = ctx.wasmFn({ run: cached }, "run", arity, F);
  else {
    const bytes = new Uint8Array(buf, ctx.at(h, 0, F), ctx.at(h, 1, F)).slice(); // an unshared copy to compile
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { mem: ctx.memory },
      m: { sin: Math.sin, cos: Math.cos, tan: Math.tan },
    });
    run = ctx.wasmFn(inst.exports, "run", arity, F);
    ctx.cache.set(id, run);
  }
  const ptrs = new Int32Array(buf, hdr + 24, 2 * nPtrs); // after the header (HEADER bytes)
  const i0 = chunk * len;
  const m = Math.min(len, n - i0);
  const args: number[] = [];
  // per operand its rate: 1 (full), 0 (one element), or -times (a block operand, see EwProgram.blocks:
  // a chunk starts at a block's start, i0 / times elements into it)
  for (let k = 0; k < nPtrs; k++) {
    const rate = ctx.at(ptrs, 2 * k + 1, F);
    args.push(ctx.at(ptrs, 2 * k, F) + (rate >= 0 ? rate * i0 * size : (i0 / -rate) * size));
  }
  const lanes = size === 4 ? 4 : 2; // float32: f32x4 vectors, float64: f64x2
  const vecs = Math.floor(m / lanes);
  args.push(vecs >> 1, vecs & 1, m % lanes);
  const s = run(...args);
  if (sumAt >= 0) new Float64Array(buf, sumAt + 8 * chunk, 1)[0] = typeof s === "number" ? s : ctx.fail(F, "no sum");
}

/**
 * The kernel of a compiled program. Operands are copied into memory after the erf table; a loop
 * of more than one chunk (SUM_CHUNK elements, ../sumOrder.ts) whose work reaches the thresholds
 * of `elementwiseThreading()` runs chunk by chunk on the pool, and a sum over more than one chunk
 * is the chunks' partial sums added in order (on one thread too), so every result is the same
 * for every thread count. Returns null (the caller runs its JS loop) when memory cannot grow.
 */
function runner(p: EwProgram, run: WasmFn, id: number, bytes: Uint8Array, rt: Runtime): EwKernel {
  const F = "compileElementwise";
  const f32 = p.dtype === "float32";
  const s = f32 ? 4 : 8;
  const nIn = p.scalarIn.length;
  const nOut = p.outs.length;
  const lanes = f32 ? 4 : 2; // elements per vector
  // per element: a float32 vector step does four elements, a float64 one two
  const work = Math.max(1, Math.round((workPerElement(bytes.length) * 2) / lanes));
  const { memory: mem, pool, ctx } = rt;
  // per input: 1, or a block operand's times (it holds n / times elements; EwProgram.blocks); and
  // block·times per block operand, which n must be a multiple of
  const times = p.scalarIn.map((_, k) => p.blocks?.[k]?.times ?? 1);
  const spans = (p.blocks ?? []).flatMap((b) => (b === null ? [] : [b.block * b.times]));
  // block operands: chunks only where every chunk starts at a block's start; a row-by-row loop
  // runs whole
  const rows = p.rows;
  const aligned = spans.every((w) => SUM_CHUNK % w === 0) && rows === undefined;
  // a row loop's padded operands hold their rows' elements only; its masked lanes may read up to a
  // vector beyond an operand, kept inside memory by a vector of slack after the operands
  const padLength = rows?.pads.map((d) => (d === null ? null : rows.count * (d.to - d.from)));
  const slack = rows === undefined ? 0 : 16;
  return (ins, outs, n) => {
    if (ins.length !== nIn || outs.length !== nOut)
      throw new NablaError(
        `${F}: internal: ${ins.length} inputs and ${outs.length} outputs for a program of ${nIn} and ${nOut}`,
      );
    const vecs = Math.floor(n / lanes);
    const padded = Math.ceil(n / lanes) * lanes * s;
    if (spans.some((w) => n % w !== 0))
      throw new NablaError(`${F}: internal: ${n} elements are not whole repeated blocks`);
    if (rows !== undefined && n !== rows.period * rows.count)
      throw new NablaError(`${F}: internal: ${n} elements for ${rows.count} rows of ${rows.period}`);
    // an input's elements and the bytes its region takes
    const lengthOf = (k: number): number => padLength?.[k] ?? n / elementAt(times, k, F);
    const bytesOf = (k: number): number => (lengthOf(k) === n ? padded : align16(lengthOf(k) * s));
    // per operand (inputs, then outputs): its byte offset, and 1 (full), 0 (one element) or -times (a
    // block operand)
    const ptrs: number[] = [];
    const full: number[] = [];
    // resident operands first (placing one may move the end of the resident region), then the rest
    const kept = ins.map((src, k) => {
      if (p.scalarIn[k] === true) return null;
      // an array living in memory: read in place
      const arr = ArrayBuffer.isView(src) ? src : "resident" in src ? src.resident : null;
      const direct = arr !== null && arr.length === lengthOf(k) ? viewAt.get(arr) : undefined;
      if (direct !== undefined && (f32 ? arr instanceof Float32Array : arr instanceof Float64Array)) return direct;
      if (ArrayBuffer.isView(src) || !("resident" in src)) return null;
      const a = src.resident;
      if (a.length !== lengthOf(k) || !(f32 ? a instanceof Float32Array : a instanceof Float64Array)) return null;
      return residentOffset(mem, a, bytesOf(k), src.argument === true ? 1 : 0);
    });
    let end = regions.end;
    p.scalarIn.forEach((scalar, k) => {
      const r = kept[k];
      ptrs.push(r ?? end);
      const t = elementAt(times, k, F);
      full.push(scalar ? 0 : t === 1 ? 1 : -t);
      if (r === null || r === undefined) end = align16(end + (scalar ? 16 : bytesOf(k)));
    });
    // outputs living in memory are written in place (and not copied out)
    const inPlace = outs.map((o) => (o.length === n ? viewAt.get(o) : undefined));
    for (let j = 0; j < nOut; j++) {
      const q = inPlace[j];
      ptrs.push(q ?? end);
      full.push(1);
      if (q === undefined) end = align16(end + padded);
    }
    const nChunks = Math.ceil(n / SUM_CHUNK);
    const threaded =
      pool !== null &&
      nChunks > 1 &&
      work >= threading.minWorkPerElement &&
      n * work >= threading.minWork &&
      getThreads() > 1;
    const chunked = aligned && (threaded || (p.sum !== null && nChunks > 1));
    // a chunked run's header, partial sums and (for the workers) module bytes follow the operands
    const hdr = end;
    const sumAt = align16(hdr + HEADER + 8 * ptrs.length);
    const modAt = sumAt + 8 * nChunks;
    if (!ensure(mem, chunked ? modAt + bytes.length : end + slack)) return null;
    const buf = mem.buffer;
    const view = f32 ? new Float32Array(buf) : new Float64Array(buf);
    ins.forEach((src0, k) => {
      if (kept[k] !== null && kept[k] !== undefined) return; // in place
      const q = elementAt(ptrs, k, F) / s;
      const scalar = elementAt(full, k, F) === 0;
      const src = ArrayBuffer.isView(src0) || !("resident" in src0) ? src0 : src0.resident;
      if (!ArrayBuffer.isView(src)) {
        if (scalar) view[q] = src.first();
        else src.write(view.subarray(q, q + n));
      } else if (scalar) view[q] = elementAt(src, 0, F);
      else {
        const len = lengthOf(k);
        view.set(src.length === len ? src : src.subarray(0, len), q);
      }
    });
    let sum: number;
    if (!chunked) {
      const r = run(...ptrs, vecs >> 1, vecs & 1, n % lanes);
      sum = typeof r === "number" ? r : ctx.fail(F, "no sum");
    } else {
      const h = new Int32Array(buf, hdr, HEADER / 4 + 2 * ptrs.length);
      h.set([modAt, bytes.length, n, s, p.sum === null ? -1 : sumAt, ptrs.length]);
      h.set(
        ptrs.flatMap((q, k) => [q, elementAt(full, k, F)]),
        HEADER / 4,
      );
      const params = [id, hdr, SUM_CHUNK];
      if (threaded) {
        new Uint8Array(buf, modAt, bytes.length).set(bytes);
        // each chunk's outputs are copied out as soon as it is done, while workers compute on
        const out = f32 ? new Float32Array(mem.buffer) : new Float64Array(mem.buffer);
        parallelFor(pool, nChunks, params, (c) => {
          const lo = c * SUM_CHUNK;
          const hi = Math.min(n, lo + SUM_CHUNK);
          outs.forEach((o, j) => {
            if (inPlace[j] !== undefined) return;
            const q = elementAt(ptrs, nIn + j, F) / s;
            o.set(out.subarray(q + lo, q + hi), lo);
          });
        });
      } else for (let c = 0; c < nChunks; c++) runChunk({}, params, c, ctx);
      sum = 0;
      // the partial sums in ascending chunk order
      if (p.sum !== null) for (const x of new Float64Array(mem.buffer, sumAt, nChunks)) sum += x;
      if (threaded) return sum;
    }
    const out = f32 ? new Float32Array(mem.buffer) : new Float64Array(mem.buffer);
    outs.forEach((o, j) => {
      if (inPlace[j] !== undefined) return;
      const q = elementAt(ptrs, nIn + j, F) / s;
      o.set(out.subarray(q, q + n));
    });
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
