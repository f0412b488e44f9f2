/**
 * Executable plans for staged graphs on concrete arrays (used by `jit`).
 * Equations run their kernels directly (their shapes were checked when the
 * graph was staged), and runs of elementwise equations with the same number
 * of elements are fused into a single generated loop: no intermediate arrays,
 * one pass over memory. Reshapes inside a run are aliases, broadcast and
 * zero-padded operands are read in place by the JS loop where their pattern
 * allows (a vector repeated along leading axes, blocks repeated along middle axes; a pad along one axis) and
 * from a tiled or padded copy otherwise, a transpose that is the only reader
 * of a loop's result is written by the loop, and equations independent of the
 * run are scheduled ahead of it. A loop of a few cheap operations runs as JS
 * (the WebAssembly form would spend longer copying operands into linear
 * memory). Buffers of results that do not leave the plan, and the copies, are
 * kept from call to call (see {@link planned}). The fused code computes exactly
 * what the kernels compute (the same scalar functions, the same rounding to
 * each equation's dtype).
 *
 * What can be fused is read from the primitives' rows: an elementwise row
 * has a `scalar` function (called from the loop) or an `inline` expression,
 * and a reduction with a `fold` can end a loop.
 */
import { ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { NablaError, at } from "../core/errors.js";
import {
  ARENA_MIN,
  Arena,
  DType,
  type TypedArray,
  allocate,
  allocateOverwritten,
  allocateKept,
  allocateUnpooled,
  isRewritten,
  withArena,
} from "../core/dtype.js";
import * as SH from "../prims/shape.js";
import * as K from "../kernels/movement.js";
import { MATMUL } from "../prims/linalg.js";
import { matmulT } from "../kernels/matmul.js";
import { sizeOf } from "../core/shape.js";
import { Equation, Graph, Var, evalGraph, readers } from "../core/graph.js";
import { SETTINGS } from "../core/config.js";
import type { Rule } from "../core/trace.js";
import {
  type EwFill,
  type EwKernel,
  type EwResident,
  type EwProgram,
  compileElementwise,
  inMemory as isMemoryArray,
  keptInMemory,
  memoryArray,
  wasmMinSize,
} from "../kernels/wasm/elementwise.js";
import { bcastStrides, gather } from "../kernels/strided.js";
import { SUM_CHUNK } from "../kernels/sumOrder.js";

type Kernel = (ins: ArrayLike<number>[], outs: { [i: number]: number }[], n: number) => void;

interface EqnStep {
  kind: "eqn";
  eqn: Equation;
  rule: Rule;
}
interface FusedStep {
  kind: "fused";
  kernel: Kernel;
  ins: Var[];
  /** Per input: how the loop reads it (see {@link Prep}). */
  tile: Prep[];
  /** Per input: whether the loop reads it in place (a tiled or padded operand without its copy, see directRead). */
  direct: boolean[];
  /** Transposes of outputs the loop writes transposed (their outputs are the loop's, see {@link Transposed}). */
  absorbed: Equation[];
  outs: Var[];
  /** The loop's length (every output has this many elements, each in its own shape). */
  size: number;
  /** A full reduce_sum folded into the loop: its output is written to the last buffer (one element). */
  sum: Var | null;
  /** The same loop compiled to WebAssembly SIMD, when every operation has a compiled form (see wasmProgram). */
  wasm: EwKernel | null;
  /** Whether the JS loop runs row by row over padded operands (for diagnostics). */
  rowwise: boolean;
  /** Whether the JS loop runs block by block over operands broadcast along middle axes (for diagnostics). */
  blockwise: boolean;
}
type Step = EqnStep | FusedStep;

/**
 * How a fused loop reads an input: its elements as stored (null), or a copy made before the loop
 * ("tile": broadcast to `shape`, its elements tiled in row-major order of that shape; "pad": zero
 * padded to `shape` with `lo` elements before it on each axis, what a pad equation of the loop gives).
 */
type Prep =
  | null
  | { readonly kind: "tile"; readonly shape: readonly number[] }
  | { readonly kind: "pad"; readonly shape: readonly number[]; readonly lo: readonly number[] };

/** An equation with exactly one output: every equation a fused loop holds, and the sum it folds. */
type Single = Equation & { readonly outs: readonly [Var] };

/** The error of a plan's internal bookkeeping going wrong (a bug, not a misuse). */
function internal(what: string): NablaError {
  return new NablaError(`jit: internal: ${what}`);
}

/** A compiled graph: `run` evaluates it on concrete arguments. */
export interface Plan {
  run(args: readonly ConcreteArray[]): NDArray[];
  /** Number of fused loops (for tests and diagnostics). */
  readonly fusedGroups: number;
  /** How many of them run as compiled WebAssembly (for tests and diagnostics). */
  readonly wasmGroups: number;
  /** How many JS loops run row by row over padded operands (for tests and diagnostics). */
  readonly rowwiseLoops: number;
  /** How many JS loops run block by block over operands broadcast along middle axes (for tests and diagnostics). */
  readonly blockwiseLoops: number;
  /** Transposes dropped because the matmuls reading them read their input transposed (for tests and diagnostics). */
  readonly matmulTransposes: number;
}

function isElementwise(e: Equation): boolean {
  return e.rule.scalar !== undefined || e.rule.inline !== undefined;
}

/**
 * reshape, and broadcast that only inserts unit axes, keep the row-major
 * order of the elements: inside a loop they are aliases (no operation).
 */
function isAlias(e: Equation): boolean {
  const [x] = e.inputs;
  const [y] = e.outs;
  return (
    (e.rule === SH.RESHAPE || e.rule === SH.BROADCAST) &&
    e.inputs.length === 1 &&
    x !== undefined &&
    y !== undefined &&
    sizeOf(x.aval.shape) === sizeOf(y.aval.shape)
  );
}

/**
 * A broadcast operand, read by the loop from a copy tiled to the shape it is
 * broadcast to (the shape of the equation using it): an elementwise operand
 * smaller than its output that is not a single element, or the input of a
 * broadcast equation that really broadcasts.
 */
function tiledOperand(e: Equation, v: Var, n: number): boolean {
  const m = sizeOf(v.aval.shape);
  return m !== n && !(m === 1 && n !== 1) && (isElementwise(e) || e.rule === SH.BROADCAST);
}

/**
 * What a tiled copy of an operand of shape `from` broadcast to `to` holds, as a
 * string: the (operand, result) extents of the result's non-unit axes, so
 * copies with the same elements in the same order (e.g. [n] broadcast to
 * [m, n] and to [m, 1, n]) are made once.
 */
function tileKey(from: readonly number[], to: readonly number[]): string {
  const lead = to.length - from.length;
  const parts: string[] = [];
  to.forEach((d, a) => {
    if (d !== 1) parts.push(`${a < lead ? 1 : at(from, a - lead, "jit")}:${d}`);
  });
  return parts.join(",");
}

/**
 * Whether an equation can join a fused loop of `n` elements: an elementwise
 * equation (or an alias, or a broadcast) whose output has `n` elements; its
 * operands have `n` elements (the same row-major order), one element, or are
 * broadcast (tiled once per call, see {@link tiledOperand}).
 */
function fusable(e: Equation, n: number): e is Single {
  const [out] = e.outs;
  if (e.outs.length !== 1 || out === undefined || sizeOf(out.aval.shape) !== n) return false;
  return isElementwise(e) || isAlias(e) || ((e.rule === SH.BROADCAST || e.rule === SH.PAD) && e.inputs.length === 1);
}

/** Equations a loop computes as a read of its operand (an alias, or a copy of it made before the loop). */
const isRead = (e: Equation): boolean => isAlias(e) || e.rule === SH.BROADCAST || e.rule === SH.PAD;

/** Rounds a JS number expression to what storing it in `dtype` gives. */
function rounded(expr: string, dtype: DType): string {
  if (dtype === "float32") return `Math.fround(${expr})`;
  if (dtype === "int32") return `(${expr} | 0)`;
  return expr;
}

/** Whether the row's int32 scalar function applies (it replaces `scalar` and `inline`). */
const int32Scalar = (e: Single): boolean => e.rule.scalarInt32 !== undefined && e.outs[0].aval.dtype === "int32";
const inlined = (e: Single): boolean => e.rule.inline !== undefined && !int32Scalar(e);

/** The JS expression of equation `e` (the `j`th of its group) on its operands' expressions. */
function expression(e: Single, j: number, args: string[]): string {
  const x = (inlined(e) ? e.rule.inline?.(args, e.params) : undefined) ?? `f${j}(${args.join(", ")})`;
  return rounded(x, e.outs[0].aval.dtype);
}

/**
 * How the JS loop reads a tiled or padded operand in place, or null (it reads a copy): "repeat", an
 * operand whose elements the loop reads over and over in order (broadcast along leading axes), at
 * a counter modulo `period`; "pad", an operand padded along one axis, read in order at the
 * positions [from, to) of each `period` elements of the loop (zero elsewhere).
 */
function directRead(
  p: Prep,
  from: readonly number[],
):
  | { kind: "repeat"; period: number }
  | { kind: "block"; block: number; times: number }
  | { kind: "pad"; period: number; from: number; to: number }
  | null {
  if (p === null) return null;
  const to = p.shape;
  const lead = to.length - from.length;
  if (lead < 0) return null;
  const src = [...(new Array(lead).fill(1) as number[]), ...from];
  if (p.kind === "tile") {
    // unit axes of the operand first, then its own extents: it repeats as a whole
    let k = 0;
    while (k < to.length && src[k] === 1) k++;
    if (src.every((d, a) => a < k || d === to[a])) {
      const period = sizeOf(from);
      return period > 1 ? { kind: "repeat", period } : null;
    }
    // one run of broadcast axes between axes of its own (e.g. [256, 1, 32] read as [256, 2, 32]):
    // each block of the trailing axes' elements is read `times` times, then the next block
    const b = src.map((d, a) => d === 1 && at(to, a, "jit") !== 1);
    const first = b.indexOf(true);
    const end = b.lastIndexOf(true) + 1;
    if (first <= 0 || b.slice(first, end).includes(false)) return null;
    if (!src.every((d, a) => (a >= first && a < end) || d === to[a])) return null;
    return { kind: "block", block: sizeOf(to.slice(end)), times: sizeOf(to.slice(first, end)) };
  }
  if (lead !== 0) return null;
  const padded = p.lo.flatMap((l, a) => (l !== 0 || at(src, a, "jit") !== at(to, a, "jit") ? [a] : []));
  if (padded.length !== 1) return null;
  const axis = at(padded, 0, "jit");
  const inner = sizeOf(to.slice(axis + 1));
  const lo = at(p.lo, axis, "jit");
  return {
    kind: "pad",
    period: at(to, axis, "jit") * inner,
    from: lo * inner,
    to: (lo + at(src, axis, "jit")) * inner,
  };
}

/**
 * Whether a loop's compiled form would spend longer copying its operands into linear memory (and
 * its results out) than the JS loop computing: float loops of cheap operations (exact in IEEE
 * arithmetic, so the JS loop's values are the compiled loop's). Measured here (Node 20, issue 8),
 * per element: the JS loop ~2.5 ns plus ~1 ns an operation, the compiled loop ~0.3 ns plus
 * ~0.4 ns an array copied in (a tiled or padded copy included) or out; so JS only with more than
 * 5 + 2·operations copies. Except when the JS loop would write a transpose of a result in place
 * (`absorbs`, and the compiled loop cannot run by rows, writing it too): that saves the copy out
 * and the transpose's own strided pass, and JS runs when its operations are no more numerous than
 * the copies.
 */
function copiesDominate(
  group: readonly Single[],
  ins: readonly Var[],
  tile: readonly Prep[],
  outs: readonly Var[],
  n: number,
  uniform: (v: Var) => boolean,
  inMemory: (v: Var) => boolean,
  absorbs: boolean,
): boolean {
  const ops = group.filter((e) => !isRead(e));
  const float = (v: Var) => v.aval.dtype === "float64" || v.aval.dtype === "float32";
  if (!ops.every((e) => e.rule.cheap === true && float(e.outs[0]))) return false;
  const copies = ins.filter(
    (v, k) => tile[k] !== null || (sizeOf(v.aval.shape) === n && !uniform(v) && !inMemory(v)),
  ).length;
  const all = copies + outs.filter((v) => !inMemory(v)).length;
  return absorbs ? ops.length <= all : all > 5 + 2 * ops.length;
}

/**
 * A transpose that is the only reader of a value a loop may compute, and that swaps two blocks of
 * axes (`rows` × `cols` to `cols` × `rows`, unit axes aside): a JS loop writes the transpose's
 * output in place of the value (issue 8: Hessians by jacfwd of jacrev end in such a transpose).
 */
interface Transposed {
  eqn: Equation;
  rows: number;
  cols: number;
}

let codegen = true;
/** Longest run fused into one loop: keeps generated functions small enough for the JIT compiler. */
const MAX_GROUP = 256;

function fuse(
  group: readonly Single[],
  liveAfter: Set<Var>,
  sum: Single | null,
  uniform: (v: Var) => boolean = () => false,
  transposed: ReadonlyMap<Var, Transposed> = new Map(),
  canonical: (v: Var) => Var = (v) => v,
  inMemory: (v: Var) => boolean = () => false,
): FusedStep | null {
  // the scalar functions the loop calls, one per equation (unused for inline ones)
  const fns = group.map((e) => (int32Scalar(e) ? e.rule.scalarInt32 : e.rule.scalar));
  const n = sizeOf(at(group, 0, "jit").outs[0].aval.shape);
  const produced = new Set(group.map((e) => e.outs[0]));
  const ins: Var[] = [];
  const tile: Prep[] = [];
  // an operand's input index; a broadcast operand is one input per shape it is tiled to
  const inputOf = new Map<string, number>();
  const name = new Map<Var, string>();
  // the loop body; a number stands for the read of that input, written once the loop's form is chosen
  // (and an object the store of an output, in order or transposed)
  const lines: (string | number | { out: number; t: string })[] = [];
  const head: string[] = [];
  /** The loop's name for the result of an earlier equation of the group. */
  const nameOf = (v: Var): string => {
    const t = name.get(v);
    if (t === undefined) throw internal(`a fused loop reads variable ${v.id} before it computes it`);
    return t;
  };
  /** The loop's name for operand `v` of `e` (declaring a new input on first use). */
  const operand = (e: Single, u: Var): string => {
    if (produced.has(u)) return nameOf(u);
    // (constants with the same elements, read as they are stored, are one input: one copy into linear memory)
    const v = sizeOf(u.aval.shape) === n && e.rule !== SH.PAD ? canonical(u) : u;
    const shape = e.outs[0].aval.shape;
    const prep: Prep =
      e.rule === SH.PAD
        ? { kind: "pad", shape, lo: (e.params as { lo: number[] }).lo }
        : tiledOperand(e, v, n)
          ? { kind: "tile", shape }
          : null;
    const key =
      prep === null
        ? `${v.id}`
        : prep.kind === "tile"
          ? `${v.id}|${tileKey(v.aval.shape, shape)}`
          : `${v.id}|pad|${prep.lo.join(",")}|${shape.join(",")}`;
    const single = prep === null && sizeOf(v.aval.shape) === 1 && n !== 1;
    let k = inputOf.get(key);
    if (k === undefined) {
      inputOf.set(key, (k = ins.length));
      ins.push(v);
      tile.push(prep);
      head.push(`const a${k} = ins[${k}];`);
      if (single) head.push(`const s${k} = a${k}[0];`);
      else lines.push(k);
    }
    return single ? `s${k}` : `x${k}`;
  };
  const outs: Var[] = [];
  // per equation, its operands as loop values: an input's index, or ~j for the result of equation j
  const refs: number[][] = [];
  const resultOf = new Map<Var, number>();
  group.forEach((e, j) => {
    const v = e.outs[0];
    const t = `t${j}`;
    const args: string[] = [];
    const ref: number[] = [];
    for (const u of e.inputs) {
      const a = operand(e, u);
      args.push(a);
      if (!produced.has(u)) ref.push(Number(a.slice(1)));
      else {
        const r = resultOf.get(u);
        if (r === undefined) throw internal(`a fused loop reads variable ${u.id} before it computes it`);
        ref.push(~r);
      }
    }
    refs.push(ref);
    resultOf.set(v, j);
    if (isRead(e)) {
      // no operation: the loop reads the same element (or the tiled or padded copy's)
      lines.push(`const ${t} = ${at(args, 0, "jit")};`);
    } else {
      if (!inlined(e)) head.push(`const f${j} = F[${j}];`);
      lines.push(`const ${t} = ${expression(e, j, args)};`);
    }
    name.set(v, t);
    if (liveAfter.has(v)) {
      head.push(`const o${outs.length} = outs[${outs.length}];`);
      lines.push({ out: outs.length, t });
      outs.push(v);
    }
  });
  let wasm: EwKernel | null = null;
  const absorbs = outs.some((v) => transposed.has(v));
  // operands broadcast along middle axes in blocks of whole vector pairs: the compiled loop reads
  // them in place too (EwProgram.blocks), so they are no copy
  const lanes = at(group, 0, "jit").outs[0].aval.dtype === "float32" ? 4 : 2;
  // how each tiled or padded operand could be read in place (null: from its copy)
  const inPlace = tile.map((p, k) => directRead(p, at(ins, k, "jit").aval.shape));
  const wasmBlocks = inPlace.map((d, k) =>
    sum === null && d?.kind === "block" && d.block % (2 * lanes) === 0 && !uniform(at(ins, k, "jit"))
      ? { block: d.block, times: d.times }
      : null,
  );
  // every broadcast operand a pad along the rows' axis (one period, a multiple of the lanes) and
  // every transposed output's rows those rows: the compiled loop runs row by row (EwProgram.rows),
  // reading the pads in place and writing the transposes (issue 8: W4's padded sum, transposed)
  const padsIn = inPlace.map((d) => (d?.kind === "pad" ? d : null));
  const rowPeriod = padsIn.find((d) => d !== null)?.period ?? 0;
  const rowCuts = new Set([0, rowPeriod, ...padsIn.flatMap((d) => (d === null ? [] : [d.from, d.to]))]);
  const byRows =
    sum === null &&
    rowPeriod > 0 &&
    rowPeriod % lanes === 0 &&
    n % rowPeriod === 0 &&
    rowCuts.size <= 6 &&
    tile.every((p, k) => p === null || padsIn[k] !== null) &&
    padsIn.every((d) => d === null || d.period === rowPeriod) &&
    outs.every((v) => (transposed.get(v)?.cols ?? rowPeriod) === rowPeriod);
  const counted = tile.map((p, k) => (wasmBlocks[k] === null && !byRows ? p : null));
  if (n >= wasmMinSize() && !copiesDominate(group, ins, counted, outs, n, uniform, inMemory, absorbs && !byRows)) {
    const prog = wasmProgram(group, refs, ins, tile, outs, sum, n, uniform);
    if (prog !== null && byRows) {
      const rows = {
        period: rowPeriod,
        count: n / rowPeriod,
        pads: padsIn.map((d) => (d === null ? null : { from: d.from, to: d.to })),
        transposed: outs.map((v) => transposed.has(v)),
      };
      wasm = compileElementwise({ ...prog, rows });
    } else if (prog !== null)
      wasm = compileElementwise(wasmBlocks.some((b) => b !== null) ? { ...prog, blocks: wasmBlocks } : prog);
  }
  // a compiled loop by rows: the JS loop, run when the compiled one declines, reads and writes as it does
  const compiledRows = wasm !== null && byRows;
  // the JS loop reads a tiled or padded operand in place when it can (and no compiled loop needs
  // the copy: the compiled loop reads its block operands in place as well, and so must the JS loop
  // run when the compiled one declines)
  const direct = inPlace.map((d, k) => (wasm === null || compiledRows || wasmBlocks[k] !== null) && d !== null);
  const tails: string[] = [];
  const absorbed: Equation[] = [];
  const reads = lines.map((l) => (typeof l === "number" && at(direct, l, "jit") ? at(inPlace, l, "jit") : null));
  // padded operands all padded along one axis of the same period: the loop runs row by row, in
  // segments of each row where every padded operand is read or zero throughout (no per-element
  // range test, issue 8: W4's Hessian ends in two padded reads over 40 000 elements)
  const pads = reads.flatMap((d) => (d !== null && d.kind === "pad" ? [d] : []));
  const period = pads[0]?.period ?? 0;
  const cuts = [...new Set([0, period, ...pads.flatMap((d) => [d.from, d.to])])].sort((a, b) => a - b);
  const segments = cuts.slice(1).map((e, j) => [at(cuts, j, "jit"), e] as const);
  const rowwise =
    sum === null && pads.length > 0 && pads.every((d) => d.period === period) && n % period === 0 && cuts.length <= 6;
  // operands broadcast along middle axes, all in blocks of one length (W5's [256, 1, 32] read as
  // [256, 2, 32]): the loop runs block by block, each such operand's start moved once a block
  // (no per-element counter and test, issue 8)
  const blocks = reads.flatMap((d) => (d !== null && d.kind === "block" ? [d] : []));
  const blockLen = blocks[0]?.block ?? 0;
  const blockwise =
    !rowwise && sum === null && blocks.length > 0 && blocks.every((d) => d.block === blockLen) && n % blockLen === 0;
  const blockTails: string[] = [];
  const rowHeads: string[] = [];
  const body0 = lines.map((l, li): string | { pad: number; from: number; to: number } => {
    if (typeof l === "string") return l;
    if (typeof l === "object") {
      const tr = wasm === null || compiledRows ? transposed.get(at(outs, l.out, "jit")) : undefined;
      if (tr === undefined) return `o${l.out}[i] = ${l.t};`;
      // a transpose (rows × cols to cols × rows) of the output, its only reader, written by the loop
      outs[l.out] = at(tr.eqn.outs, 0, "jit");
      absorbed.push(tr.eqn);
      const [q, c, r] = [`tq${l.out}`, `tc${l.out}`, `tr${l.out}`];
      if (rowwise && tr.cols === period) {
        // row by row over rows of the transposed matrix: each row starts at its own index
        head.push(`let ${q} = 0;`);
        rowHeads.push(`${q} = ri;`);
        tails.push(`${q} += ${tr.rows};`);
      } else {
        head.push(`let ${q} = 0, ${c} = 0, ${r} = 0;`);
        tails.push(`${q} += ${tr.rows}; if (++${c} === ${tr.cols}) { ${c} = 0; ${q} = ++${r}; }`);
      }
      return `o${l.out}[${q}] = ${l.t};`;
    }
    const d = at(reads, li, "jit");
    if (d === null) return `const x${l} = a${l}[i];`;
    if (d.kind === "block" && blockwise) {
      // the times the current block has been read, and its start
      const [r, b] = [`br${l}`, `bb${l}`];
      head.push(`let ${r} = 0, ${b} = 0;`);
      blockTails.push(`if (++${r} === ${d.times}) { ${r} = 0; ${b} += ${d.block}; }`);
      return `const x${l} = a${l}[${b} + bj];`;
    }
    if (d.kind === "block") {
      // the position in the block, the times it has been read, and the block's start
      const [j, r, b] = [`bj${l}`, `br${l}`, `bb${l}`];
      head.push(`let ${j} = 0, ${r} = 0, ${b} = 0;`);
      tails.push(
        `if (++${j} === ${d.block}) { ${j} = 0; if (++${r} === ${d.times}) { ${r} = 0; ${b} += ${d.block}; } }`,
      );
      return `const x${l} = a${l}[${b} + ${j}];`;
    }
    // the next element's position (padded), and a counter over each period of the operand's reads
    const [c, p] = [`rc${l}`, `rp${l}`];
    if (d.kind === "pad") head.push(`let ${p} = 0;`);
    if (d.kind === "pad" && rowwise) return { pad: l, from: d.from, to: d.to };
    head.push(`let ${c} = 0;`);
    tails.push(`if (++${c} === ${d.period}) ${c} = 0;`);
    if (d.kind === "repeat") return `const x${l} = a${l}[${c}];`;
    return `const x${l} = ${c} >= ${d.from} && ${c} < ${d.to} ? a${l}[${p}++] : 0;`;
  });
  /** The loop body over positions [lo, hi) of a row: each padded operand read there or zero there. */
  const bodyIn = (lo: number, hi: number): string[] =>
    body0.map((x) =>
      typeof x === "string" ? x : `const x${x.pad} = ${x.from <= lo && hi <= x.to ? `a${x.pad}[rp${x.pad}++]` : "0"};`,
    );
  lines.length = 0;
  lines.push(...bodyIn(0, 1), ...tails);
  let body: string;
  if (sum !== null) {
    // the reduction's own accumulation (the kernel's arithmetic and order: chunks of SUM_CHUNK
    // elements, then their partial sums), over the values as stored
    const fold = sum.rule.fold;
    if (fold === undefined) throw internal(`${sum.prim} folded into a loop has no fold`);
    lines.push(fold.step("acc", nameOf(at(sum.inputs, 0, "jit"))));
    body = `${head.join("\n")}\nlet total = ${fold.init};
for (let c0 = 0; c0 < n; c0 += ${SUM_CHUNK}) {
const c1 = Math.min(n, c0 + ${SUM_CHUNK});
let acc = ${fold.init};
for (let i = c0; i < c1; i++) {\n${lines.join("\n")}\n}
${fold.step("total", "acc")}
}
outs[${outs.length}][0] = total;`;
  } else if (rowwise)
    body = `${head.join("\n")}\nfor (let r0 = 0, ri = 0; r0 < n; r0 += ${period}, ri++) {\n${rowHeads.join("\n")}\n${segments
      .filter(([lo, hi]) => lo < hi)
      .map(
        ([lo, hi]) =>
          `for (let i = r0 + ${lo}, iEnd = r0 + ${hi}; i < iEnd; i++) {\n${[...bodyIn(lo, hi), ...tails].join("\n")}\n}`,
      )
      .join("\n")}\n}`;
  else if (blockwise)
    body = `${head.join("\n")}\nfor (let r0 = 0; r0 < n; r0 += ${blockLen}) {
for (let i = r0, bj = 0; bj < ${blockLen}; i++, bj++) {\n${lines.join("\n")}\n}
${blockTails.join("\n")}\n}`;
  else body = `${head.join("\n")}\nfor (let i = 0; i < n; i++) {\n${lines.join("\n")}\n}`;
  try {
    const make = new Function("F", `"use strict"; return function fused(ins, outs, n) {\n${body}\n};`) as (
      f: typeof fns,
    ) => Kernel;
    return {
      kind: "fused",
      kernel: make(fns),
      ins,
      tile,
      direct,
      outs,
      absorbed,
      size: n,
      sum: sum === null ? null : sum.outs[0],
      wasm,
      rowwise,
      blockwise,
    };
  } catch {
    codegen = false; // e.g. a Content-Security-Policy without 'unsafe-eval': run equation by equation
    return null;
  }
}

// --- WebAssembly fused loops (the wasm branch): ----------------------------------------------
/**
 * The group as a program for the compiled loop, or null when it has an
 * operation without a compiled form or mixes dtypes (all values, inputs and
 * the folded sum must share one float dtype).
 */
function wasmProgram(
  group: readonly Single[],
  refs: readonly (readonly number[])[],
  ins: Var[],
  tile: readonly Prep[],
  outs: Var[],
  sum: Single | null,
  n: number,
  uniform: (v: Var) => boolean,
): EwProgram | null {
  const dtype = at(group, 0, "jit").outs[0].aval.dtype;
  if (dtype !== "float32" && dtype !== "float64") return null;
  const index = new Map<Var, number>();
  if (!ins.every((v) => v.aval.dtype === dtype)) return null;
  // value index of each equation's result (an alias or broadcast has its operand's)
  const result: number[] = [];
  const ops: EwProgram["ops"][number][] = [];
  group.forEach((e, j) => {
    const args = at(refs, j, "jit").map((r) => (r < 0 ? at(result, ~r, "jit") : r));
    let value: number;
    if (isRead(e)) value = at(args, 0, "jit");
    else {
      ops.push({ op: e.rule.name, args });
      value = ins.length + ops.length - 1;
    }
    result.push(value);
    index.set(e.outs[0], value);
  });
  if (group.some((e) => e.outs[0].aval.dtype !== dtype || int32Scalar(e))) return null;
  if (sum !== null && (sum.rule.name !== "reduce_sum" || sum.outs[0].aval.dtype !== dtype)) return null;
  const valueOf = (v: Var): number => {
    const k = index.get(v);
    if (k === undefined) throw internal(`variable ${v.id} is not computed by the loop`);
    return k;
  };
  return {
    dtype,
    // a constant whose elements are all equal (a materialised broadcast, e.g. the ones of a sum's
    // cotangent) is read as one element: the compiled loop splats its first element
    scalarIn: ins.map(
      (v, k) => (tile[k] === null && sizeOf(v.aval.shape) === 1 && n !== 1) || (tile[k]?.kind !== "pad" && uniform(v)),
    ),
    ops,
    outs: outs.map(valueOf),
    sum: sum === null ? null : valueOf(at(sum.inputs, 0, "jit")),
  };
}
// --- end WebAssembly fused loops ---------------------------------------------------------------

/**
 * matmul of transposed operands (issue 8: the backward pass's xᵀ·g and g·Wᵀ): a transpose that
 * swaps the last two axes and is read only as matmul operands is dropped, and those matmuls read
 * its input through the kernel's transposed layout, which gives exactly the values of the
 * materialised transpose's product (see `matmulT`).
 */
function transposedMatmuls(eqns: readonly Equation[], outs: readonly (Var | null)[]): readonly Equation[] {
  const swapsLast = (perm: readonly number[]): boolean => {
    const n = perm.length;
    return n >= 2 && perm[n - 2] === n - 1 && perm[n - 1] === n - 2 && perm.every((p, i) => i >= n - 2 || p === i);
  };
  const readers = new Map<Var, Equation[]>();
  for (const e of eqns) for (const v of e.inputs) readers.set(v, [...(readers.get(v) ?? []), e]);
  const source = new Map<Var, Var>(); // a dropped transpose's output -> its input
  for (const e of eqns)
    if (e.rule === SH.TRANSPOSE && swapsLast((e.params as { perm: number[] }).perm)) {
      const v = at(e.outs, 0, "jit");
      const rs = readers.get(v) ?? [];
      if (rs.length > 0 && rs.every((r) => r.rule === MATMUL) && !outs.includes(v))
        source.set(v, at(e.inputs, 0, "jit"));
    }
  if (source.size === 0) return eqns;
  const out: Equation[] = [];
  for (const e of eqns) {
    if (e.rule === SH.TRANSPOSE && source.has(at(e.outs, 0, "jit"))) continue;
    if (e.rule !== MATMUL || !e.inputs.some((v) => source.has(v))) {
      out.push(e);
      continue;
    }
    const [a, b] = e.inputs;
    if (a === undefined || b === undefined || e.inputs.length !== 2)
      throw internal(`matmul with ${e.inputs.length} operands`);
    const ta = source.has(a);
    const tb = source.has(b);
    const rule: Rule = {
      ...MATMUL,
      impl: (xs, _p, avals) => [matmulT(at(xs, 0, "jit"), at(xs, 1, "jit"), at(avals, 0, "jit").dtype, ta, tb)],
    };
    out.push({ ...e, rule, inputs: [source.get(a) ?? a, source.get(b) ?? b] });
  }
  return out;
}

/** Whether every element of a concrete array is the same value (bitwise, so NaN and ±0 count exactly). */
function isUniform(x: unknown): boolean {
  if (!(x instanceof ConcreteArray)) return false;
  const d = storageOf(x);
  const first = d[0];
  for (let i = 1; i < d.length; i++) if (!Object.is(d[i], first)) return false;
  return d.length > 1;
}

/**
 * Whether a plan may reuse the storage of its dead intermediates (see `Arena`): not when an
 * equation carries a function or a graph (a debug callback, custom rules, control flow), which
 * could run user code that keeps an intermediate array.
 */
function reusesStorage(eqns: readonly Equation[]): boolean {
  // numbers, strings, typed arrays, and arrays and plain objects of them (a few levels deep)
  const plain = (v: unknown, depth: number): boolean => {
    if (typeof v === "function" || v instanceof Graph) return false;
    if (typeof v !== "object" || v === null || ArrayBuffer.isView(v)) return true;
    if (depth > 4) return false;
    if (Array.isArray(v)) return v.every((u) => plain(u, depth + 1));
    return Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every((u) => plain(u, depth + 1));
  };
  return eqns.every((e) => plain(e.params, 0));
}

/** Compiles a graph into a plan (fusing elementwise runs when code generation is available). */
export function compile(g: Graph): Plan {
  const eqns = transposedMatmuls(g.equations, g.outs);
  const uniformConsts = new Map<Var, boolean>();
  const uniform = (v: Var): boolean => {
    const i = g.constVars.indexOf(v);
    if (i < 0) return false;
    let u = uniformConsts.get(v);
    if (u === undefined) uniformConsts.set(v, (u = isUniform(g.consts[i])));
    return u;
  };
  // constants with the same dtype and elements (bitwise), by their first: e.g. a slice of an identity
  // basis and its reshape, which jacfwd and jacrev make separately
  const firstLike = new Map<string, Var[]>();
  const canonicalConst = new Map<Var, Var>();
  g.constVars.forEach((v, i) => {
    const c = g.consts[i];
    if (!(c instanceof ConcreteArray) || c.device !== "cpu" || c.size < 2) return;
    const d = storageOf(c);
    let h = 0;
    for (let k = 0; k < d.length; k += Math.max(1, d.length >> 6)) h = (Math.imul(h, 31) + (d[k] ?? 0) * 1e6) | 0;
    const key = `${c.dtype}|${d.length}|${h}`;
    const list = firstLike.get(key) ?? [];
    const same = list.find((w) => {
      const e = storageOf(g.consts[g.constVars.indexOf(w)] as ConcreteArray);
      for (let k = 0; k < d.length; k++) if (!Object.is(d[k], e[k])) return false;
      return true;
    });
    if (same !== undefined) canonicalConst.set(v, same);
    else firstLike.set(key, [...list, v]);
  });
  const canonical = (v: Var): Var => canonicalConst.get(v) ?? v;
  // where each variable is read (equation indices; Infinity for graph outputs)
  const uses = readers(eqns, g.outs);
  // operands a compiled loop would read in place, without copying them in on every call (and
  // results it would not copy out): constants and arguments (kept in its memory while they live),
  // and values of elementwise equations that stay inside the plan (kept buffers in its memory,
  // where its memory is shared; see planned)
  const producer = new Map<Var, Equation>();
  for (const e of eqns) for (const o of e.outs) producer.set(o, e);
  const staysInside = (v: Var): boolean =>
    (uses.get(v) ?? []).every((k) => k !== Infinity && !higherOrder(at(eqns, k, "jit")));
  const shared = keptInMemory();
  const constSet = new Set(g.constVars);
  const inSet = new Set(g.inVars);
  const inMemory = (v: Var): boolean => {
    if (!shared) return false;
    if (constSet.has(v) || inSet.has(v)) return true;
    const p = producer.get(v);
    return p !== undefined && (isElementwise(p) || isRead(p)) && staysInside(v);
  };
  const steps: Step[] = [];
  let fusedGroups = 0;
  // transposes a loop may write (see Transposed), by the value they read
  const transposed = new Map<Var, Transposed>();
  for (const e of eqns) {
    const [x] = e.inputs;
    if (e.rule !== SH.TRANSPOSE || x === undefined || e.outs.length !== 1) continue;
    const u = uses.get(x) ?? [];
    if (u.length !== 1 || u[0] === Infinity) continue;
    const c = K.collapsedPerm(x.aval.shape, (e.params as { perm: number[] }).perm);
    const [rows, cols] = c.dims;
    if (c.perm.length === 2 && c.perm[0] === 1 && rows !== undefined && cols !== undefined)
      transposed.set(x, { eqn: e, rows, cols });
  }
  const absorbed = new Set<Equation>();
  /** Emits a group ending before equation `end`; `sum` is a full reduce_sum at `end` folded into the loop. */
  const flush = (group: readonly Single[], end: number, sum: Single | null): boolean => {
    // worth a loop: two equations (or one and a folded sum), at least one doing arithmetic; or one
    // large enough for a compiled loop (which reads and writes the plan's kept buffers in place,
    // and a broadcast operand from a block copy: W5's mul of [256, 2, 32] by [256, 1, 32], 5x
    // faster than the eager kernel's strided walk)
    const work = group.some((e) => isElementwise(e));
    const first = group[0];
    const one = group.length === 1 && first !== undefined && sizeOf(first.outs[0].aval.shape) >= wasmMinSize();
    if ((group.length >= 2 || sum !== null || one) && work && codegen) {
      const live = new Set<Var>();
      for (const e of group) {
        const v = e.outs[0];
        if ((uses.get(v) ?? []).some((k) => k >= end && !(sum !== null && k === end))) live.add(v);
      }
      const f = fuse(group, live, sum, uniform, transposed, canonical, inMemory);
      if (f !== null) {
        for (const e of f.absorbed) absorbed.add(e);
        steps.push(f);
        fusedGroups++;
        return true;
      }
    }
    for (const e of group) steps.push({ kind: "eqn", eqn: e, rule: e.rule });
    return false;
  };
  /** A foldable reduction over every axis (to a 0-d output) of a value the group produces. */
  const foldable = (e: Equation, group: readonly Single[]): e is Single => {
    const first = group[0];
    const out = e.outs[0];
    return (
      e.rule.fold !== undefined &&
      first !== undefined &&
      first.outs[0].aval.shape.length > 0 &&
      e.outs.length === 1 &&
      out !== undefined &&
      out.aval.shape.length === 0 &&
      group.some((g) => g.outs[0] === e.inputs[0])
    );
  };
  /**
   * Whether `e` can run ahead of the open group: it reads none of the group's
   * results, and would not start a loop of its own worth keeping (not
   * elementwise, or at most a sixteenth of the group's length).
   */
  const hoistable = (e: Equation, group: readonly Single[]): boolean => {
    const n = sizeOf(at(group, 0, "jit").outs[0].aval.shape);
    if (isElementwise(e) && e.outs.every((v) => sizeOf(v.aval.shape) * 16 > n)) return false;
    return !e.inputs.some((v) => group.some((q) => q.outs[0] === v));
  };
  let group: Single[] = [];
  eqns.forEach((e, i) => {
    // a transpose a loop wrote
    if (absorbed.has(e)) return;
    const shape = (group[0] ?? e).outs[0]?.aval.shape;
    if (shape !== undefined && group.length < MAX_GROUP && fusable(e, sizeOf(shape))) {
      group.push(e);
      return;
    }
    if (foldable(e, group)) {
      // fold the full reduction into the group's loop; without code generation both run unfused
      if (!flush(group, i, e)) steps.push({ kind: "eqn", eqn: e, rule: e.rule });
      group = [];
      return;
    }
    if (group.length > 0 && hoistable(e, group)) {
      // an equation independent of the open loop runs before it, so the loop continues past it
      steps.push({ kind: "eqn", eqn: e, rule: e.rule });
      return;
    }
    flush(group, i, null);
    group = [];
    if (absorbed.has(e)) return;
    const out = e.outs[0];
    if (out !== undefined && fusable(e, sizeOf(out.aval.shape))) group.push(e);
    else steps.push({ kind: "eqn", eqn: e, rule: e.rule });
  });
  flush(group, eqns.length, null);

  return planned(g, steps, fusedGroups, g.equations.length - eqns.length);
}

/** Whether two typed arrays share any bytes (views of one buffer whose ranges overlap). */
function overlaps(a: TypedArray, b: TypedArray): boolean {
  return (
    a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
  );
}

/** Whether a primitive's parameters carry code or graphs (higher-order primitives), or it wraps user code. */
const higherOrder = (e: Equation): boolean =>
  e.rule.opaque === true ||
  Object.values(e.params as Record<string, unknown>).some(
    (v) => typeof v === "function" || (v !== null && typeof v === "object" && !Array.isArray(v)),
  );

/**
 * The plan of `steps`, with its memory: every buffer a fused loop writes that does not leave the
 * plan (a graph output, or an operand of a higher-order primitive or one wrapping user code) and
 * every tiled or padded copy of an operand is kept from call to call, not allocated anew (issue 8:
 * allocation and the collection of large typed arrays were much of what a jitted call cost). A
 * buffer is shared by values whose lifetimes do not overlap (linear scan over the steps, same
 * dtype and length). A padded copy has a buffer of its own, whose zeros are written once; a
 * constant's tiled or padded copy is made once. An equation whose output shares the storage of
 * a kept buffer (a reshape's does) takes that buffer with it: the plan makes a new one for its
 * next use. A call made while another runs (from inside a kernel) allocates everything.
 *
 * The other storage the plan's kernels allocate (equations' results: matmuls, reductions,
 * transposes, ...) comes from an `Arena` in plans without higher-order primitives: a buffer
 * allocated in the current run and held by no live variable (not an output, input, or a view of
 * one) is released after the step that last reads it and handed out again. The kept buffers
 * above never pass through the arena (`allocateUnpooled`), so no buffer is both kept and released.
 */
function planned(g: Graph, steps: readonly Step[], fusedGroups: number, matmulTransposes: number): Plan {
  const outVars = new Set<Var>();
  for (const v of g.outs) if (v !== null) outVars.add(v);
  const constVars = new Set(g.constVars);
  const inVarSet = new Set(g.inVars);
  // the last step reading each variable, and whether some reader keeps it beyond the plan's control
  const lastRead = new Map<Var, number>();
  const escapes = new Set<Var>(outVars);
  steps.forEach((s, i) => {
    const reads = s.kind === "eqn" ? s.eqn.inputs : s.ins;
    for (const v of reads) lastRead.set(v, i);
    if (s.kind === "eqn" && higherOrder(s.eqn)) for (const v of reads) escapes.add(v);
  });
  // buffers: dtype and length, assigned by a linear scan (free ones by "dtype:length")
  const slots: { dtype: DType; n: number }[] = [];
  const free = new Map<string, number[]>();
  const take = (dtype: DType, n: number): number => {
    const list = free.get(`${dtype}:${n}`);
    const k = list?.pop();
    if (k !== undefined) return k;
    slots.push({ dtype, n });
    return slots.length - 1;
  };
  const give = (k: number): void => {
    const slot = at(slots, k, "jit");
    const key = `${slot.dtype}:${slot.n}`;
    const list = free.get(key);
    if (list === undefined) free.set(key, [k]);
    else list.push(k);
  };
  /** Per step: the buffer of each output (fused loops; -1: allocated per call). */
  const outSlots: number[][] = [];
  /** Per step: the buffer of each input's copy (tiled: shared; padded: its own; -1: none or a constant's). */
  const inSlots: number[][] = [];
  /** Per equation step: the kept buffers of its inputs (whose storage an output may share). */
  const readSlots: number[][] = [];
  const slotOf = new Map<Var, number>();
  steps.forEach((s, i) => {
    if (s.kind === "eqn") {
      outSlots.push([]);
      inSlots.push([]);
      const kept = new Set<number>();
      for (const v of s.eqn.inputs) {
        const k = slotOf.get(v);
        if (k !== undefined) kept.add(k);
      }
      readSlots.push([...kept]);
    } else {
      readSlots.push([]);
      const copies = s.ins.map((v, k) => {
        const p = at(s.tile, k, "jit");
        if (p === null || constVars.has(v) || at(s.direct, k, "jit")) return -1;
        if (p.kind === "pad") {
          // its own buffer, never shared (its zeros stay)
          slots.push({ dtype: v.aval.dtype, n: sizeOf(p.shape) });
          return slots.length - 1;
        }
        return take(v.aval.dtype, sizeOf(p.shape));
      });
      inSlots.push(copies);
      outSlots.push(
        s.outs.map((v) => {
          if (escapes.has(v)) return -1;
          const k = take(v.aval.dtype, s.size);
          slotOf.set(v, k);
          return k;
        }),
      );
      copies.forEach((k, j) => {
        if (k >= 0 && at(s.tile, j, "jit")?.kind === "tile") give(k);
      });
    }
    const reads = new Set(s.kind === "eqn" ? s.eqn.inputs : s.ins);
    for (const v of reads) {
      const k = slotOf.get(v);
      if (k !== undefined && lastRead.get(v) === i) give(k);
    }
  });

  const bufs: (TypedArray | null)[] = slots.map(() => null);
  // a fused loop's output: every element is written (by the compiled loop or the JS one)
  const buffer = (k: number, dtype: DType, n: number, pooled: boolean): TypedArray => {
    if (!pooled || k < 0) return allocateOverwritten(dtype, n);
    const b = bufs[k];
    if (b !== undefined && b !== null) return b;
    // kept from call to call: never from (or released to) the arena; a float buffer lives in the
    // compiled loops' memory where it can, so they read and write it in place (no copies)
    const fresh = ((dtype === "float32" || dtype === "float64") && memoryArray(dtype, n)) || allocateKept(dtype, n);
    bufs[k] = fresh;
    return fresh;
  };
  // constants' tiled and padded copies, made once
  const constCopies = new Map<string, TypedArray>();
  const copyOf = (v: Var, x: ConcreteArray, p: NonNullable<Prep>, k: number, pooled: boolean): TypedArray => {
    const constant = constVars.has(v);
    const key = `${v.id}|${p.kind}|${p.shape.join(",")}|${p.kind === "pad" ? p.lo.join(",") : ""}`;
    const hit = constant ? constCopies.get(key) : undefined;
    if (hit !== undefined) return hit;
    const n = sizeOf(p.shape);
    // a padded copy's own buffer has its zeros from the first call: only the operand is written;
    // a constant's copy is kept for good (unpooled), an unpooled call's is zeroed storage of its own
    const out = constant ? allocateUnpooled(x.dtype, n) : !pooled ? allocate(x.dtype, n) : buffer(k, x.dtype, n, true);
    if (p.kind === "pad") K.padInto(x, p.lo, p.shape, out);
    else K.broadcastInto(x, p.shape, out);
    if (constant) constCopies.set(key, out);
    return out;
  };
  let running = false;

  // the arena: only in plans whose equations run no user code and carry no graphs
  const arena =
    reusesStorage(g.equations) && steps.every((s) => s.kind !== "eqn" || !higherOrder(s.eqn)) ? new Arena() : null;
  // after each step, the variables it reads (or makes) for the last time (outputs never)
  const lastUse = new Map<Var, number>();
  steps.forEach((s, i) => {
    const reads = s.kind === "eqn" ? s.eqn.inputs : s.ins;
    const made = s.kind === "eqn" ? s.eqn.outs : s.sum === null ? s.outs : [...s.outs, s.sum];
    for (const v of [...made, ...reads]) lastUse.set(v, i);
  });
  for (const v of outVars) lastUse.set(v, Infinity);
  const deadAfter: Var[][] = steps.map(() => []);
  for (const [v, i] of lastUse) if (i !== Infinity) deadAfter[i]?.push(v);

  return {
    fusedGroups,
    matmulTransposes,
    wasmGroups: steps.filter((s) => s.kind === "fused" && s.wasm !== null).length,
    rowwiseLoops: steps.filter((s) => s.kind === "fused" && s.rowwise).length,
    blockwiseLoops: steps.filter((s) => s.kind === "fused" && s.blockwise).length,
    run(args: readonly ConcreteArray[]): NDArray[] {
      // debugNans: equation by equation through bind, which checks each primitive's outputs (the
      // fused loops would not); a debugging mode, so speed is secondary
      if (SETTINGS.debugNans) return evalGraph(g, args);
      // kept buffers unless this call runs inside another (a kernel calling back into the plan)
      const pooled = !running;
      running = true;
      try {
        // a call inside another allocates everything afresh (no arena: not the outer plan's either)
        if (!pooled || arena === null) return withArena(null, () => runSteps(args, pooled, null));
        arena.handed = new Map();
        return withArena(arena, () => runSteps(args, pooled, arena));
      } finally {
        if (pooled) running = false;
      }
    },
  };

  function runSteps(args: readonly ConcreteArray[], pooled: boolean, arena: Arena | null): NDArray[] {
    const env = new Map<Var, ConcreteArray>();
    const read = (v: Var | null): ConcreteArray => {
      if (v === null) throw internal("a symbolic-zero output outside a linear graph");
      const x = env.get(v);
      if (x === undefined) throw internal(`variable ${v.id} is read before it is computed`);
      return x;
    };
    g.constVars.forEach((v, i) => env.set(v, g.consts[i] as ConcreteArray));
    g.inVars.forEach((v, i) => env.set(v, at(args, i, "jit")));
    // per buffer the arena handed out in this run: how many live variables hold it (kept buffers,
    // inputs and constants were not handed out by it, so they are never counted nor released)
    const holders = new Map<ArrayBufferLike, number>();
    const hold = (x: ConcreteArray): void => {
      if (arena === null || x.size < ARENA_MIN) return;
      const b = storageOf(x).buffer;
      if (arena.handed.has(b)) holders.set(b, (holders.get(b) ?? 0) + 1);
    };
    steps.forEach((s, i) => {
      if (s.kind === "eqn") {
        const e = s.eqn;
        const outs = s.rule.impl(
          e.inputs.map(read),
          e.params,
          e.outs.map((v) => v.aval),
        );
        // an output sharing a kept buffer's storage (a reshape) takes the buffer: a new one next
        // time. Not one in the compiled loops' memory: its region is given back when that array is
        // collected, while a view of it (this output, or a later reshape of it) could live on; the
        // output gets storage of its own instead, and the buffer stays
        for (const k of at(readSlots, i, "jit")) {
          const b = bufs[k];
          if (b === undefined || b === null) continue;
          for (let j = 0; j < outs.length; j++) {
            const o = at(outs, j, "jit");
            if (!overlaps(storageOf(o), b)) continue;
            if (isMemoryArray(b)) outs[j] = new ConcreteArray(storageOf(o).slice(), o.shape, o.dtype, o.weakType);
            else bufs[k] = null;
          }
        }
        e.outs.forEach((v, j) => {
          const x = at(outs, j, "jit");
          env.set(v, x);
          hold(x);
        });
      } else {
        const n = s.size;
        const slotsOut = at(outSlots, i, "jit");
        const bufsOut = s.outs.map((v, j) => buffer(at(slotsOut, j, "jit"), v.aval.dtype, n, pooled));
        const copies = at(inSlots, i, "jit");
        const materialise = (v: Var, k: number): TypedArray => {
          const p = at(s.tile, k, "jit");
          return p === null || at(s.direct, k, "jit")
            ? storageOf(read(v))
            : copyOf(v, read(v), p, at(copies, k, "jit"), pooled);
        };
        // the compiled loop tiles a variable's broadcast operand straight into its memory (the
        // elements broadcastInto gives, in the same order); a constant's tiled copy is made once
        const data: (TypedArray | EwFill | EwResident)[] = s.ins.map((v, k) => {
          const p = at(s.tile, k, "jit");
          // a constant (or its tiled or padded copy, made once): kept in the compiled loop's memory
          if (s.wasm !== null && constVars.has(v)) return { resident: materialise(v, k) };
          // an argument read as it is: its storage never changes, so its copy in the compiled
          // loop's memory is kept too while the array lives (W1 passes the same x every call)
          if (s.wasm !== null && inVarSet.has(v) && (p === null || at(s.direct, k, "jit"))) {
            const d = storageOf(read(v));
            if (!isRewritten(d.buffer)) return { resident: d, argument: true };
          }
          if (s.wasm === null || p === null || p.kind !== "tile" || at(s.direct, k, "jit")) return materialise(v, k);
          const x = read(v);
          const d = storageOf(x);
          const shape = p.shape;
          return {
            write: (dst: TypedArray) => {
              if (d.length === 1) dst.fill(at(d, 0, "jit"));
              else gather(d, dst, shape, bcastStrides(x.shape, shape));
            },
            first: () => at(d, 0, "jit"),
          };
        });
        // a folded sum's one element: the wasm loop returns it, the JS loop writes it after the outputs
        // (a wasm loop that declines, e.g. operands beyond its memory, returns null: the JS loop runs)
        const total = s.sum === null ? null : allocate(s.sum.aval.dtype, 1);
        const t = s.wasm === null ? null : s.wasm(data, bufsOut, n);
        if (t === null) {
          const js = s.ins.map((v, k) => {
            const dk = at(data, k, "jit");
            return ArrayBuffer.isView(dk) ? dk : "resident" in dk ? dk.resident : materialise(v, k);
          });
          s.kernel(js, total === null ? bufsOut : [...bufsOut, total], n);
        } else if (total !== null) total[0] = t;
        s.outs.forEach((v, j) => {
          const x = new ConcreteArray(at(bufsOut, j, "jit"), v.aval.shape, v.aval.dtype, v.aval.weak);
          env.set(v, x);
          hold(x);
        });
        if (s.sum !== null && total !== null)
          env.set(s.sum, new ConcreteArray(total, [], s.sum.aval.dtype, s.sum.aval.weak));
      }
      if (arena !== null)
        for (const v of at(deadAfter, i, "jit")) {
          const x = env.get(v);
          env.delete(v);
          if (x === undefined || x.size < ARENA_MIN) continue;
          const b = storageOf(x).buffer;
          const c = holders.get(b);
          if (c === undefined) continue;
          if (c > 1) holders.set(b, c - 1);
          else {
            holders.delete(b);
            arena.release(b);
          }
        }
    });
    return g.outs.map(read);
  }
}
