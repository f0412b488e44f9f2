/**
 * The test specification of every primitive: how to generate its operands
 * and parameters, a plain-JS reference of its kernel, and whether (and with
 * respect to which operands) it is differentiable.
 *
 * The table is typed `satisfies { [P in Prim]: PrimSpec<P> }`, so adding a
 * primitive to the rule table without a spec here fails the type check.
 * Primitives are applied directly with `bind` (not through the NumPy-like
 * ops), so the rule table itself is what the tests exercise.
 *
 * Domains keep every derivative finite and every finite difference away from
 * kinks: log/sqrt operands positive, log1p > -1, arcsin/arccos in
 * (-0.9, 0.9), pow bases positive, denominators away from 0, max/min and
 * reduce_max/reduce_min operands without ties, matrices well conditioned.
 * Every domain is reached by mapping uniform draws into it, never by
 * filtering.
 */
import fc from "fast-check";
import * as nb from "../../src/index.js";
import type { DType } from "../../src/core/dtype.js";
import { bind } from "../../src/core/trace.js";
import { ruleOf, type Params, type Prim } from "../support/primitives.js";
import {
  arbArray,
  arbBroadcastPair,
  arbBroadcastShapes,
  arbShape,
  type ArrayOptions,
} from "../../src/testing/index.js";
import { ravel, sizeOf, unravel } from "../support/reference.js";
import { stageClosed } from "../../src/core/graph.js";
import { closeBranches } from "../../src/transforms/condRule.js";
import { at } from "../../src/core/errors.js";

type NDArray = nb.NDArray;

// ---------------------------------------------------------------------------
// spec types

/** One application of a primitive: its operands and parameters. */
export interface Case<P extends Prim = Prim> {
  args: NDArray[];
  params: Params[P];
}

/** A plain-JS array: row-major values (bools as 0/1) with shape and dtype. */
export interface Ref {
  shape: number[];
  dtype: DType;
  data: number[];
}

/** How a primitive is differentiated in the tests. */
export interface DiffSpec<P extends Prim> {
  /** Operands differentiated (the others are closed over as constants); "all": every operand. */
  wrt: readonly number[] | "all";
  /** Cases for the derivative tests when they differ from `gen`. */
  gen?: fc.Arbitrary<Case<P>>;
  /** Highest order checked (default 3). */
  order?: number;
}

export interface PrimSpec<P extends Prim> {
  /** Operands and parameters, for the reference test (and the derivative tests unless `diff.gen`). */
  gen: fc.Arbitrary<Case<P>>;
  /** The kernel's outputs computed in plain JS, independent of nabla. */
  ref: (args: Ref[], params: Params[P]) => Ref[];
  /** Relative tolerance of the reference comparison for float outputs (default 1e-12). */
  refTol?: number;
  /** Canonicalises outputs before comparison (both the kernel's and the reference's). */
  normalize?: (outs: Ref[]) => Ref[];
  /** null: the primitive has no derivative (its JVP must be zero). */
  diff: DiffSpec<P> | null;
  /** Cases where a differentiable primitive has zero derivative by definition (e.g. convert to int32). */
  zero?: fc.Arbitrary<Case<P>>;
}

// ---------------------------------------------------------------------------
// plain-JS reference helpers (no nabla code)

export function toRef(x: NDArray): Ref {
  return { shape: [...x.shape], dtype: x.dtype, data: Array.from(x.toTypedArray() as ArrayLike<number>) };
}

/** Rounds a value to a dtype (float → int truncates toward zero). */
function castTo(v: number, dtype: DType): number {
  switch (dtype) {
    case "float64":
      return v;
    case "float32":
      return Math.fround(v);
    case "int32":
      return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
    case "bool":
      return v !== 0 ? 1 : 0;
  }
}

function bshape(...shapes: (readonly number[])[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes)
    s.forEach((d, i) => {
      const k = nd - s.length + i;
      if (d !== 1) {
        if (out[k] !== 1 && out[k] !== d) throw new Error(`reference: shapes do not broadcast`);
        out[k] = d;
      }
    });
  return out;
}

/** The element of `a` at output index `idx` under broadcasting. */
function broadcastAt(a: Ref, idx: readonly number[]): number {
  const off = idx.length - a.shape.length;
  return a.data[
    ravel(
      a.shape.map((d, k) => (d === 1 ? 0 : idx[k + off]!)),
      a.shape,
    )
  ]!;
}

function ewise(
  args: Ref[],
  dtype: DType,
  f: (...v: number[]) => number,
  shape = bshape(...args.map((a) => a.shape)),
): Ref {
  const n = sizeOf(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    data[i] = castTo(f(...args.map((a) => broadcastAt(a, idx))), dtype);
  }
  return { shape, dtype, data };
}

const un =
  (f: (v: number) => number) =>
  ([x]: Ref[]): Ref[] => [ewise([x!], x!.dtype, f)];
const bin =
  (f: (a: number, b: number) => number, int32?: (a: number, b: number) => number) =>
  ([x, y]: Ref[]): Ref[] => [ewise([x!, y!], x!.dtype, x!.dtype === "int32" && int32 ? int32 : f)];

/** An exact integer reduced to int32 as 32-bit hardware does (two's complement, modulo 2^32). */
const wrap32 = (v: bigint): number => Number(BigInt.asIntN(32, v));
const cmp =
  (f: (a: number, b: number) => boolean) =>
  ([x, y]: Ref[]): Ref[] => [ewise([x!, y!], "bool", (a, b) => (f(a, b) ? 1 : 0))];

function reduceRef(x: Ref, axes: readonly number[], init: number, op: (acc: number, v: number) => number): Ref {
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  const data = new Array<number>(sizeOf(shape)).fill(init);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).filter((_, k) => !axes.includes(k));
    const o = ravel(idx, shape);
    data[o] = op(data[o]!, x.data[i]!);
  }
  return { shape, dtype: x.dtype, data: data.map((v) => castTo(v, x.dtype)) };
}

function argRef(x: Ref, axis: number, isMax: boolean): Ref {
  const shape = x.shape.filter((_, i) => i !== axis);
  const best = new Array<number>(sizeOf(shape)).fill(NaN);
  const arg = new Array<number>(sizeOf(shape)).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    const full = unravel(i, x.shape);
    const o = ravel(
      full.filter((_, k) => k !== axis),
      shape,
    );
    const v = x.data[i]!;
    // first occurrence wins: only a strictly better value replaces
    if (Number.isNaN(best[o]!) || (isMax ? v > best[o]! : v < best[o]!)) {
      best[o] = v;
      arg[o] = full[axis]!;
    }
  }
  return { shape, dtype: "int32", data: arg };
}

function transposeRef(x: Ref, perm: readonly number[]): Ref {
  const shape = perm.map((p) => x.shape[p]!);
  const data = new Array<number>(x.data.length);
  for (let o = 0; o < data.length; o++) {
    const oi = unravel(o, shape);
    const ii = new Array<number>(perm.length);
    perm.forEach((p, k) => (ii[p] = oi[k]!));
    data[o] = x.data[ravel(ii, x.shape)]!;
  }
  return { shape, dtype: x.dtype, data };
}

/** out[idx] = x[map(idx)] over the output shape. */
function gatherIdx(x: Ref, shape: number[], map: (idx: number[]) => number[] | null, fill = 0): Ref {
  const n = sizeOf(shape);
  const data = new Array<number>(n);
  for (let o = 0; o < n; o++) {
    const src = map(unravel(o, shape));
    data[o] = src === null ? fill : x.data[ravel(src, x.shape)]!;
  }
  return { shape, dtype: x.dtype, data };
}

function matmulRef(a: Ref, b: Ref): Ref {
  const nd = a.shape.length;
  const batch = a.shape.slice(0, nd - 2);
  const [M, K] = a.shape.slice(nd - 2) as [number, number];
  const N = b.shape[nd - 1]!;
  const B = sizeOf(batch);
  const data: number[] = [];
  for (let bi = 0; bi < B; bi++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[bi * M * K + i * K + k]! * b.data[bi * K * N + k * N + j]!;
        data.push(castTo(s, a.dtype));
      }
  return { shape: [...batch, M, N], dtype: a.dtype, data };
}

/** Splits [..., r, c] data into its matrices (row-major number[][] each). */
function matrices(x: Ref): number[][][] {
  const nd = x.shape.length;
  const r = x.shape[nd - 2]!;
  const c = x.shape[nd - 1]!;
  const out: number[][][] = [];
  for (let b = 0; b < sizeOf(x.shape.slice(0, nd - 2)); b++)
    out.push(Array.from({ length: r }, (_, i) => x.data.slice(b * r * c + i * c, b * r * c + (i + 1) * c)));
  return out;
}

function fromMatrices(ms: number[][][], batch: number[], dtype: DType): Ref {
  const r = ms[0]?.length ?? 0;
  const c = ms[0]?.[0]?.length ?? 0;
  return { shape: [...batch, r, c], dtype, data: ms.flatMap((m) => m.flat()).map((v) => castTo(v, dtype)) };
}

const transposeM = (m: number[][]): number[][] => (m[0] ?? []).map((_, j) => m.map((row) => row[j]!));
const symM = (m: number[][]): number[][] => m.map((row, i) => row.map((v, j) => 0.5 * (v + m[j]![i]!)));

/** Solves A X = B by Gaussian elimination with partial pivoting; also returns the pivot parity and U's diagonal. */
export function gauss(A: number[][], B: number[][]): { X: number[][]; parity: number; diag: number[] } {
  const n = A.length;
  const a = A.map((r) => r.slice());
  const b = B.map((r) => r.slice());
  let parity = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i]![k]!) > Math.abs(a[p]![k]!)) p = i;
    if (p !== k) {
      [a[k], a[p]] = [a[p]!, a[k]!];
      [b[k], b[p]] = [b[p]!, b[k]!];
      parity = -parity;
    }
    for (let i = k + 1; i < n; i++) {
      const f = a[i]![k]! / a[k]![k]!;
      for (let j = k; j < n; j++) a[i]![j]! -= f * a[k]![j]!;
      for (let j = 0; j < b[i]!.length; j++) b[i]![j]! -= f * b[k]![j]!;
    }
  }
  const X = b.map((r) => r.map(() => 0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = 0; j < b[i]!.length; j++) {
      let s = b[i]![j]!;
      for (let k = i + 1; k < n; k++) s -= a[i]![k]! * X[k]![j]!;
      X[i]![j] = s / a[i]![i]!;
    }
  return { X, parity, diag: a.map((r, i) => r[i]!) };
}

/** Modified Gram–Schmidt QR with R's diagonal positive (full column rank). */
function mgs(A: number[][]): { Q: number[][]; R: number[][] } {
  const m = A.length;
  const n = A[0]!.length;
  const Q = A.map((r) => r.slice());
  const R = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += Q[i]![j]! * Q[i]![k]!;
      R[j]![k] = s;
      for (let i = 0; i < m; i++) Q[i]![k]! -= s * Q[i]![j]!;
    }
    let nrm = 0;
    for (let i = 0; i < m; i++) nrm += Q[i]![k]! ** 2;
    nrm = Math.sqrt(nrm);
    R[k]![k] = nrm;
    for (let i = 0; i < m; i++) Q[i]![k]! /= nrm;
  }
  return { Q, R };
}

/**
 * Eigenvalues (ascending) and eigenvectors of a symmetric matrix by unshifted QR iteration
 * (A_{k+1} = R_k Q_k, V_{k+1} = V_k Q_k) on S + I. Converges for eigenvalues of distinct magnitude, which the
 * eigh generator guarantees: those of S lie in [0, 3.5], at least 1 apart, so those of S + I are in
 * [1, 4.5] with ratios at most 3/4.
 */
function symEig(S: number[][]): { w: number[]; V: number[][] } {
  const n = S.length;
  let A = S.map((r, i) => r.map((v, j) => v + (i === j ? 1 : 0)));
  let V: number[][] = A.map((_, i) => A.map((__, j) => (i === j ? 1 : 0)));
  for (let it = 0; it < 2000; it++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off += A[i]![j]! ** 2;
    if (off < 1e-32) break;
    const { Q, R } = mgs(A);
    A = matmulM(R, Q);
    V = matmulM(V, Q);
  }
  const order = A.map((_, i) => i).sort((i, j) => A[i]![i]! - A[j]![j]!);
  return { w: order.map((i) => A[i]![i]! - 1), V: V.map((row) => order.map((j) => row[j]!)) };
}

function matmulM(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

/** Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"). */
export function threefry(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const rot = [13, 15, 26, 6, 17, 29, 16, 24];
  const k2 = (0x1bd11bda ^ k0 ^ k1) >>> 0;
  const ks = [k0 >>> 0, k1 >>> 0, k2];
  let x0 = (c0 + ks[0]!) >>> 0;
  let x1 = (c1 + ks[1]!) >>> 0;
  for (let round = 0; round < 20; round++) {
    const r = rot[round % 8]!;
    x0 = (x0 + x1) >>> 0;
    x1 = ((x1 << r) | (x1 >>> (32 - r))) >>> 0;
    x1 = (x1 ^ x0) >>> 0;
    if (round % 4 === 3) {
      const s = (round + 1) / 4; // key injection number 1..5
      x0 = (x0 + ks[s % 3]!) >>> 0;
      x1 = (x1 + ks[(s + 1) % 3]! + s) >>> 0;
    }
  }
  return [x0, x1];
}

/** `n` 32-bit words for a key: words 2i and 2i+1 are threefry(key, (i, 0)) (the kernel's documented scheme). */
function words(k0: number, k1: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < n; i++) out.push(...threefry(k0, k1, i, 0));
  return out.slice(0, n);
}

/** erf by composite Simpson integration of 2/√π e^(−t²): independent of the kernel's series. */
export function erfRef(x: number): number {
  if (x === 0) return 0;
  const ax = Math.min(Math.abs(x), 7);
  const n = 4000;
  const h = ax / n;
  let s = 1 + Math.exp(-ax * ax);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return Math.sign(x) * ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
}

/** Round half to even, written without Math.round. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// ---------------------------------------------------------------------------
// generators

/** Shapes of the operands: small, so third-order checks stay fast. */
const SH = { maxRank: 3, maxDim: 3 } as const;

/** Uniform in [0, 1] without fast-check's bias towards the ends. */
const uniform = fc.noBias(fc.integer({ min: 0, max: 2 ** 30 })).map((k) => k / 2 ** 30);
const between = (lo: number, hi: number) => uniform.map((u) => lo + (hi - lo) * u);

function mk<P extends Prim>(args: NDArray[], params: Params[P]): Case<P> {
  const c: Case<P> = { args, params };
  Object.defineProperty(c, fc.toStringMethod, {
    enumerable: false,
    value: () =>
      `operands: ${args
        .map(
          (a) =>
            `${a.dtype}[${a.shape.join(",")}] ${JSON.stringify(Array.from(a.toTypedArray() as ArrayLike<number>))}`,
        )
        .join("; ")} params: ${JSON.stringify(params)}`,
  });
  return c;
}

function arrOf(shape: readonly number[], v: fc.Arbitrary<number>, dtype: DType = "float64"): fc.Arbitrary<NDArray> {
  const n = sizeOf(shape);
  return fc.array(v, { minLength: n, maxLength: n }).map((vals) => nb.array(Float64Array.from(vals), { shape, dtype }));
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const axesOf = (nd: number) => fc.subarray(range(nd));
const permOf = (nd: number) => fc.shuffledSubarray(range(nd), { minLength: nd, maxLength: nd });

const arrayCase = (o: ArrayOptions, shape: ArrayOptions["shape"] = SH) =>
  arbArray({ ...o, shape }).map((x) => mk<never>([x], {} as never));
const unary = (o: ArrayOptions = {}) => arrayCase(o) as fc.Arbitrary<Case<any>>;
const binary = (a: ArrayOptions = {}, b: ArrayOptions = {}) =>
  arbBroadcastPair({ ...SH, arrays: [a, b] }).map(([x, y]) => mk<any>([x, y], {}));

/** int32 operand pairs of broadcast-compatible shapes, with values from `a` (and `b`, default `a`). */
const int32Pair = (a: fc.Arbitrary<number>, b: fc.Arbitrary<number> = a) =>
  arbBroadcastShapes(2, SH).chain(([sa, sb]) =>
    fc.tuple(arrOf(sa!, a, "int32"), arrOf(sb!, b, "int32")).map(([x, y]) => mk<any>([x, y], {})),
  );

/**
 * Operand pairs for maximum/minimum without ties: x takes the even and y the
 * odd cells of a 0.25 grid over [-3, 3), each jittered within its middle 80%,
 * so |x − y| >= 0.05 everywhere and either operand may win.
 */
const noTiePair = arbBroadcastShapes(2, SH).chain(([sa, sb]) => {
  const cell = (parity: number) =>
    fc.tuple(fc.integer({ min: 0, max: 11 }), uniform).map(([k, u]) => -3 + 0.25 * (2 * k + parity + 0.1 + 0.8 * u));
  return fc.tuple(arrOf(sa!, cell(0)), arrOf(sb!, cell(1))).map(([x, y]) => mk<any>([x, y], {}));
});

/** A reduction over a subset of axes (possibly none). */
const reduceCase = <P extends "reduce_sum" | "reduce_max" | "reduce_min">(o: ArrayOptions): fc.Arbitrary<Case<P>> =>
  arbArray({ shape: SH, ...o }).chain((x) => axesOf(x.ndim).map((axes) => mk<P>([x], { axes } as Params[P])));

/** Small integers: ties, where the first occurrence must win. */
const argCase = <P extends "argmax" | "argmin">(): fc.Arbitrary<Case<P>> =>
  arbArray({ shape: { ...SH, minRank: 1 }, domain: "integer", min: -2, max: 2 }).chain((x) =>
    fc.integer({ min: 0, max: x.ndim - 1 }).map((axis) => mk<P>([x], { axis } as Params[P])),
  );

function primeFactors(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; n > 1; p++)
    while (n % p === 0) {
      out.push(p);
      n /= p;
    }
  return out;
}

/** A reshape target: the prime factors of the size dealt out to 0–4 axes. */
const reshapeCase = arbArray({ shape: SH }).chain((x) => {
  const fs = primeFactors(x.size);
  return fc
    .tuple(
      fc.integer({ min: fs.length > 0 ? 1 : 0, max: 4 }),
      fc.array(fc.nat(), { minLength: fs.length, maxLength: fs.length }),
    )
    .map(([rank, deal]) => {
      const shape = new Array<number>(rank).fill(1);
      fs.forEach((p, i) => {
        const k = at(deal, i) % rank;
        shape[k] = at(shape, k) * p;
      });
      return mk<"reshape">([x], { shape });
    });
});

/** broadcast: the operand is the target with leading axes dropped and some axes set to 1. */
const broadcastCase = arbShape(SH).chain((target) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: target.length }),
      fc.array(fc.boolean(), { minLength: target.length, maxLength: target.length }),
    )
    .chain(([drop, ones]) => arbArray({ shape: target.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)) }))
    .map((x) => mk<"broadcast">([x], { shape: target })),
);

const transposeCase = arbArray({ shape: SH }).chain((x) =>
  permOf(x.ndim).map((perm) => mk<"transpose">([x], { perm })),
);

const sliceCase = arbArray({ shape: SH }).chain((x) =>
  fc
    .tuple(...x.shape.map((d) => fc.tuple(fc.integer({ min: 0, max: d }), fc.integer({ min: 0, max: d }))))
    .map((bounds) =>
      mk<"slice">([x], { begin: bounds.map(([a, b]) => Math.min(a, b)), end: bounds.map(([a, b]) => Math.max(a, b)) }),
    ),
);

const padCase = arbArray({ shape: SH }).chain((x) =>
  fc
    .tuple(
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: x.ndim, maxLength: x.ndim }),
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: x.ndim, maxLength: x.ndim }),
    )
    .map(([lo, hi]) => mk<"pad">([x], { lo, hi })),
);

const concatCase = arbShape({ ...SH, minRank: 1 }).chain((base) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: base.length - 1 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
    )
    .chain(([axis, lens]) =>
      fc
        .tuple(...lens.map((len) => arbArray({ shape: base.map((d, i) => (i === axis ? len : d)) })))
        .map((xs) => mk<"concatenate">(xs, { axis })),
    ),
);

const matmulCase = fc
  .tuple(
    arbShape({ maxRank: 2, maxDim: 2 }),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 3 }),
  )
  .chain(([batch, m, k, n]) => fc.tuple(arbArray({ shape: [...batch, m, k] }), arbArray({ shape: [...batch, k, n] })))
  .map(([a, b]) => mk<"matmul">([a, b], {}));

const selectCase = arbBroadcastShapes(3, SH).chain(([sc, sx, sy]) =>
  fc
    .tuple(arbArray({ shape: sc!, dtype: "bool" }), arbArray({ shape: sx! }), arbArray({ shape: sy! }))
    .map((xs) => mk<"select">(xs, {})),
);

const DTYPES: DType[] = ["float64", "float32", "int32", "bool"];
const convertCase = (from: readonly DType[], to: readonly DType[]) =>
  fc
    .tuple(fc.constantFrom(...from), fc.constantFrom(...to))
    .chain(([src, dst]) => arbArray({ shape: SH, dtype: src }).map((x) => mk<"convert">([x], { dtype: dst })));

/** Comparison operands with ties: small integers, as float64 or int32. */
const compareCase = fc
  .constantFrom<DType>("float64", "int32")
  .chain((dtype) =>
    binary({ dtype, domain: "integer", min: -2, max: 2 }, { dtype, domain: "integer", min: -2, max: 2 }),
  );

const boolPair = binary({ dtype: "bool" }, { dtype: "bool" });

// ---- indexing, scans, sorting ----

const gatherCase = arbArray({ shape: { ...SH, minRank: 1 } }).chain((x) =>
  fc.integer({ min: 0, max: x.ndim - 1 }).chain((axis) => {
    const A = x.shape[axis]!;
    // indices in [-A, A): negative indices count from the end
    return arbArray({ shape: { maxRank: 2, maxDim: 3 }, dtype: "int32", min: -A, max: A - 1 }).map((idx) =>
      mk<"gather">([x, idx], { axis }),
    );
  }),
);

const scatterCase = fc
  .tuple(
    arbShape({ maxRank: 2, maxDim: 3 }),
    arbShape({ maxRank: 2, maxDim: 3 }),
    arbShape({ maxRank: 1, maxDim: 3 }),
    fc.integer({ min: 1, max: 4 }),
  )
  .chain(([pre, idxShape, post, size]) =>
    fc
      .tuple(
        arbArray({ shape: [...pre, ...idxShape, ...post] }),
        arbArray({ shape: idxShape, dtype: "int32", min: -size, max: size - 1 }),
      )
      .map(([u, idx]) => mk<"scatter_add">([u, idx], { axis: pre.length, size })),
  );

const cumsumCase = arbArray({ shape: { ...SH, minRank: 1 } }).chain((x) =>
  fc
    .tuple(fc.integer({ min: 0, max: x.ndim - 1 }), fc.boolean())
    .map(([axis, reverse]) => mk<"cumsum">([x], { axis, reverse })),
);

const revCase = arbArray({ shape: SH }).chain((x) => axesOf(x.ndim).map((axes) => mk<"rev">([x], { axes })));

const argsortCase = arbArray({ shape: { ...SH, minRank: 1 }, domain: "integer", min: -2, max: 2 }).chain((x) =>
  fc
    .tuple(fc.integer({ min: 0, max: x.ndim - 1 }), fc.boolean())
    .map(([axis, descending]) => mk<"argsort">([x], { axis, descending })),
);

// ---- linear algebra ----

const batchShape = arbShape({ maxRank: 1, maxDim: 2 });

/** Matrices M + (n + 1)·D with |M_ij| <= 1 and D diagonal with entries ±1: strictly diagonally dominant, so
 * nonsingular with all singular values >= 1; the signs make the determinant either sign. */
const wellConditioned = (batch: number[], n: number) =>
  fc
    .tuple(
      arrOf([...batch, n, n], between(-1, 1)),
      fc.array(fc.boolean(), { minLength: sizeOf(batch) * n, maxLength: sizeOf(batch) * n }),
    )
    .map(([m, signs]) => {
      const d = toRef(m).data.slice();
      for (let b = 0; b < sizeOf(batch); b++)
        for (let i = 0; i < n; i++) d[b * n * n + i * n + i]! += (signs[b * n + i] ? -1 : 1) * (n + 1);
      return nb.array(Float64Array.from(d), { shape: [...batch, n, n] });
    });

const solveCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
  .chain(([batch, n, k]) => fc.tuple(wellConditioned(batch, n), arbArray({ shape: [...batch, n, k] })))
  .map(([a, b]) => mk<"solve">([a, b], {}));

/** Triangular solves: A is a full random matrix (the other triangle is ignored by the primitive), diagonal ±[1, 2]. */
const triSolveCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean())
  .chain(([batch, n, k, lower, transposeA]) =>
    fc
      .tuple(
        arrOf([...batch, n, n], between(-1, 1)),
        arrOf(
          [...batch, n],
          fc.tuple(between(1, 2), fc.boolean()).map(([v, s]) => (s ? -v : v)),
        ),
        arbArray({ shape: [...batch, n, k] }),
      )
      .map(([m, diag, b]) => {
        const d = toRef(m).data.slice();
        const dg = toRef(diag).data;
        for (let bi = 0; bi < sizeOf(batch); bi++)
          for (let i = 0; i < n; i++) d[bi * n * n + i * n + i] = dg[bi * n + i]!;
        return mk<"triangular_solve">([nb.array(Float64Array.from(d), { shape: [...batch, n, n] }), b], {
          lower,
          transposeA,
        });
      }),
  );

const slogdetCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }))
  .chain(([batch, n]) => wellConditioned(batch, n))
  .map((a) => mk<"slogdet">([a], {}));

/**
 * Any matrices (det and cofactor are polynomials, smooth everywhere), half of them singular: the last
 * row is made a multiple of the first (n >= 2), so the determinant is 0 and, for n >= 3, the cofactor
 * matrix has rank one. Finite differences of a polynomial need no distance from singularity.
 */
const detCase = <P extends "det" | "cofactor">() =>
  fc.tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.boolean(), between(-2, 2)).chain(([batch, n, singular, c]) =>
    arrOf([...batch, n, n], between(-2, 2)).map((m) => {
      const d = toRef(m).data.slice();
      if (singular && n >= 2)
        for (let b = 0; b < sizeOf(batch); b++)
          for (let j = 0; j < n; j++) d[b * n * n + (n - 1) * n + j] = c * d[b * n * n + j]!;
      return mk<P>([nb.array(Float64Array.from(d), { shape: [...batch, n, n] })], {} as Params[P]);
    }),
  );

/** det by the Leibniz formula: Σ over permutations σ of sgn(σ) Π_i m[i][σ(i)] (independent of any LU). */
function leibnizDet(m: number[][]): number {
  const n = m.length;
  let total = 0;
  const perm = range(n);
  const visit = (k: number, sign: number): void => {
    if (k === n) {
      total += sign * perm.reduce((p, c, i) => p * m[i]![c]!, 1);
      return;
    }
    for (let i = k; i < n; i++) {
      [perm[k], perm[i]] = [perm[i]!, perm[k]!];
      visit(k + 1, i === k ? sign : -sign);
      [perm[k], perm[i]] = [perm[i]!, perm[k]!];
    }
  };
  visit(0, 1);
  return total;
}

/** The cofactor matrix by definition: C_ij = (-1)^(i+j) det(m without row i and column j). */
export function cofactorRef(m: number[][]): number[][] {
  return m.map((_, i) =>
    m.map((__, j) => {
      const minor = m.filter((_r, r) => r !== i).map((row) => row.filter((_c, c) => c !== j));
      return ((i + j) % 2 === 0 ? 1 : -1) * leibnizDet(minor);
    }),
  );
}

/**
 * Matrices whose symmetric part is S = G·Gᵀ + n·I (|G_ij| <= 1, eigenvalues in [n, n + n²]) plus an
 * antisymmetric part the primitives must ignore (they read (A + Aᵀ)/2).
 */
const spdPlusSkew = (batch: number[], n: number) =>
  fc.tuple(arrOf([...batch, n, n], between(-1, 1)), arrOf([...batch, n, n], between(-0.5, 0.5))).map(([g, k]) => {
    const G = matrices(toRef(g));
    const Kk = matrices(toRef(k));
    const out = G.map((gm, b) => {
      const s = matmulM(gm, transposeM(gm));
      return s.map((row, i) => row.map((v, j) => v + (i === j ? n : 0) + Kk[b]![i]![j]! - Kk[b]![j]![i]!));
    });
    const r = fromMatrices(out, batch, "float64");
    return nb.array(Float64Array.from(r.data), { shape: r.shape });
  });

const choleskyCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }))
  .chain(([batch, n]) => spdPlusSkew(batch, n))
  .map((a) => mk<"cholesky">([a], {}));

/** Tall matrices [m, n], m >= n, with the top n×n block diagonally dominant: full column rank. */
const qrCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }))
  .chain(([batch, n, extra]) =>
    arrOf([...batch, n + extra, n], between(-1, 1)).map((m) => {
      const r = toRef(m);
      const mats = matrices(r).map((a) => a.map((row, i) => row.map((v, j) => v + (i === j ? n + 1 : 0))));
      const f = fromMatrices(mats, batch, "float64");
      return mk<"qr">([nb.array(Float64Array.from(f.data), { shape: f.shape })], {});
    }),
  );

/**
 * Symmetric matrices Q·diag(w)·Qᵀ with eigenvalues at least 1 apart (w_i = 1.5 i + [0, 0.5]) and a
 * random rotation Q (a product of Givens rotations), plus an antisymmetric part that eigh must ignore.
 */
const eighCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }))
  .chain(([batch, n]) =>
    fc.tuple(
      fc.array(between(0, 0.5), { minLength: sizeOf(batch) * n, maxLength: sizeOf(batch) * n }),
      fc.array(between(-Math.PI, Math.PI), { minLength: sizeOf(batch) * n * n, maxLength: sizeOf(batch) * n * n }),
      arrOf([...batch, n, n], between(-0.5, 0.5)),
      fc.constant({ batch, n }),
    ),
  )
  .map(([jit, angles, skew, { batch, n }]) => {
    const Kk = matrices(toRef(skew));
    const mats = Kk.map((km, b) => {
      let Q: number[][] = km.map((_, i) => km.map((__, j) => (i === j ? 1 : 0)));
      let t = 0;
      for (let p = 0; p < n; p++)
        for (let q = p + 1; q < n; q++) {
          const th = angles[(b * n * n + t++) % angles.length]!;
          const G = Q.map((_, i) =>
            Q.map((__, j) =>
              i === j
                ? i === p || i === q
                  ? Math.cos(th)
                  : 1
                : i === p && j === q
                  ? -Math.sin(th)
                  : i === q && j === p
                    ? Math.sin(th)
                    : 0,
            ),
          );
          Q = matmulM(Q, G);
        }
      const w = range(n).map((i) => 1.5 * i + jit[b * n + i]!);
      const S = matmulM(
        Q.map((row) => row.map((v, j) => v * w[j]!)),
        transposeM(Q),
      );
      return S.map((row, i) => row.map((v, j) => v + km[i]![j]! - km[j]![i]!));
    });
    const f = fromMatrices(mats, batch, "float64");
    return mk<"eigh">([nb.array(Float64Array.from(f.data), { shape: f.shape })], {});
  });

// ---- opsC: svd, lu, expm ----

/** The n x n rotation G(0,1,θ₀) G(0,2,θ₁) ... G(n-2,n-1,θ_last): a product of Givens rotations. */
export function givens(n: number, angles: readonly number[]): number[][] {
  let Q: number[][] = range(n).map((i) => range(n).map((j) => (i === j ? 1 : 0)));
  let t = 0;
  for (let p = 0; p < n; p++)
    for (let q = p + 1; q < n; q++) {
      const th = angles[t++ % angles.length]!;
      const c = Math.cos(th);
      const sn = Math.sin(th);
      Q = Q.map((row) =>
        row.map((v, j) => (j === p ? c * row[p]! + sn * row[q]! : j === q ? -sn * row[p]! + c * row[q]! : v)),
      );
    }
  return Q;
}

/**
 * [m, n] matrices Q₁ diag(s) Q₂ᵀ (m, n in 1..3) with random rotations and singular values
 * s_i = 1 + 0.5 i + [0, 0.2]: distinct, at least 0.3 apart and >= 1, so the SVD's derivatives are
 * finite and well conditioned; full matrices in the value test, thin (or square) in the derivative tests,
 * whose completing columns are not a function of A.
 */
const svdCase = (fullFor: (m: number, n: number) => fc.Arbitrary<boolean>) =>
  fc
    .tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
    .chain(([batch, m, n]) =>
      fc.tuple(
        fc.array(between(0, 0.2), { minLength: sizeOf(batch) * 3, maxLength: sizeOf(batch) * 3 }),
        fc.array(between(-Math.PI, Math.PI), { minLength: sizeOf(batch) * 6, maxLength: sizeOf(batch) * 6 }),
        fullFor(m, n),
        fc.constant({ batch, m, n }),
      ),
    )
    .map(([jit, angles, fullMatrices, { batch, m, n }]) => {
      const k = Math.min(m, n);
      const mats = range(sizeOf(batch)).map((b) => {
        const q1 = givens(m, angles.slice(6 * b, 6 * b + 3));
        const q2 = givens(n, angles.slice(6 * b + 3, 6 * b + 6));
        const sv = range(k).map((i) => 1 + 0.5 * (k - 1 - i) + jit[3 * b + i]!);
        return range(m).map((i) =>
          range(n).map((j) => range(k).reduce((acc, l) => acc + q1[i]![l]! * sv[l]! * q2[j]![l]!, 0)),
        );
      });
      const f = fromMatrices(mats, batch, "float64");
      return mk<"svd">([nb.array(Float64Array.from(f.data), { shape: f.shape })], { fullMatrices });
    });

/** Orthonormal columns completed to a basis: each new column the standard basis vector with the largest
 * component orthogonal to the others, Gram–Schmidt twice. */
function completeBasis(cols: number[][], dim: number): number[][] {
  const out = cols.map((c) => c.slice());
  while (out.length < dim) {
    const resid = (e: number) => {
      let r: number[] = range(dim).map((i) => (i === e ? 1 : 0));
      for (let pass = 0; pass < 2; pass++)
        for (const c of out) {
          const d = c.reduce((acc, v, i) => acc + v * r[i]!, 0);
          r = r.map((v, i) => v - d * c[i]!);
        }
      return r;
    };
    const rs = range(dim).map(resid);
    const nrm = rs.map((r) => Math.sqrt(r.reduce((acc, v) => acc + v * v, 0)));
    const best = nrm.indexOf(Math.max(...nrm));
    out.push(rs[best]!.map((v) => v / nrm[best]!));
  }
  return out;
}

/** SVD from the eigendecomposition of the smaller Gram matrix: V, s² from AᵀA (tall) and U = A V / s, or U from AAᵀ (wide). */
function svdRef(A: number[][], full: boolean): { U: number[][]; S: number[]; Vh: number[][] } {
  const m = A.length;
  const n = A[0]!.length;
  const At = transposeM(A);
  const tall = m >= n;
  const { w, V } = symEig(tall ? matmulM(At, A) : matmulM(A, At));
  const k = w.length;
  const order = range(k).reverse();
  const S = order.map((i) => Math.sqrt(w[i]!));
  const basis = order.map((i) => V.map((row) => row[i]!)); // eigenvectors, descending
  const other = basis.map((v, j) =>
    (tall ? A : At).map((row) => row.reduce((acc, x, l) => acc + x * v[l]!, 0) / S[j]!),
  );
  let ucols = tall ? other : basis;
  let vcols = tall ? basis : other;
  if (full) {
    ucols = completeBasis(ucols, m);
    vcols = completeBasis(vcols, n);
  }
  return { U: transposeM(ucols), S, Vh: vcols };
}

/**
 * The SVD up to its ambiguities: the first k columns of U and rows of Vh with each row of Vh's largest
 * component made positive, S, and the projectors U Uᵀ and Vhᵀ Vh (the identity for full matrices; invariant
 * under the choice of completing columns).
 */
function svdNormalize([u, s, vh]: Ref[]): Ref[] {
  const k = s!.shape[s!.shape.length - 1]!;
  const us = matrices(u!);
  const vhs = matrices(vh!);
  const batch = s!.shape.slice(0, -1);
  const u1: number[][][] = [];
  const v1: number[][][] = [];
  us.forEach((U, b) => {
    const Vh = vhs[b]!;
    const signs = range(k).map((j) => {
      let big = 0;
      Vh[j]!.forEach((x, i) => (Math.abs(x) > Math.abs(Vh[j]![big]!) ? (big = i) : 0));
      return Vh[j]![big]! < 0 ? -1 : 1;
    });
    u1.push(U.map((row) => range(k).map((j) => row[j]! * signs[j]!)));
    v1.push(range(k).map((j) => Vh[j]!.map((x) => x * signs[j]!)));
  });
  return [
    fromMatrices(u1, batch, u!.dtype),
    s!,
    fromMatrices(v1, batch, vh!.dtype),
    fromMatrices(
      us.map((U) => matmulM(U, transposeM(U))),
      batch,
      u!.dtype,
    ),
    fromMatrices(
      vhs.map((Vh) => matmulM(transposeM(Vh), Vh)),
      batch,
      vh!.dtype,
    ),
  ];
}

/**
 * [m, n] matrices P₀ L₀ U₀ with a random permutation P₀, L₀ unit lower with |l_ij| <= 0.5 and U₀ upper with
 * |u_jj| in [1, 2]: partial pivoting then picks exactly P₀ (every candidate below the pivot is at most half
 * of it), with a margin that finite-difference steps cannot cross.
 */
const luCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
  .chain(([batch, m, n]) => {
    const k = Math.min(m, n);
    const nb_ = sizeOf(batch);
    return fc.tuple(
      fc.array(between(-0.5, 0.5), { minLength: nb_ * m * k, maxLength: nb_ * m * k }),
      fc.array(between(-1, 1), { minLength: nb_ * k * n, maxLength: nb_ * k * n }),
      fc.array(fc.tuple(between(1, 2), fc.boolean()), { minLength: nb_ * k, maxLength: nb_ * k }),
      fc.array(fc.shuffledSubarray(range(m), { minLength: m, maxLength: m }), { minLength: nb_, maxLength: nb_ }),
      fc.constant({ batch, m, n, k }),
    );
  })
  .map(([ls, us, diag, perms, { batch, m, n, k }]) => {
    const mats = range(sizeOf(batch)).map((b) => {
      const L = range(m).map((i) => range(k).map((j) => (i === j ? 1 : i > j ? ls[b * m * k + i * k + j]! : 0)));
      const U = range(k).map((i) =>
        range(n).map((j) => {
          if (j < i) return 0;
          if (j > i) return us[b * k * n + i * n + j]!;
          const [v, neg] = diag[b * k + i]!;
          return neg ? -v : v;
        }),
      );
      const LU = matmulM(L, U);
      const perm = perms[b]!;
      return range(m).map((i) => LU[perm.indexOf(i)]!); // row perm[r] of A is row r of LU
    });
    const f = fromMatrices(mats, batch, "float64");
    return mk<"lu">([nb.array(Float64Array.from(f.data), { shape: f.shape })], {});
  });

/** Doolittle LU with partial pivoting (rows swapped as a whole), A = P L U. */
function luRef(A: number[][]): { P: number[][]; L: number[][]; U: number[][] } {
  const m = A.length;
  const n = A[0]!.length;
  const k = Math.min(m, n);
  const a = A.map((r) => r.slice());
  const perm = range(m);
  for (let j = 0; j < k; j++) {
    let p = j;
    for (let i = j + 1; i < m; i++) if (Math.abs(a[i]![j]!) > Math.abs(a[p]![j]!)) p = i;
    [a[j], a[p]] = [a[p]!, a[j]!];
    [perm[j], perm[p]] = [perm[p]!, perm[j]!];
    for (let i = j + 1; i < m; i++) {
      a[i]![j]! /= a[j]![j]!;
      for (let c = j + 1; c < n; c++) a[i]![c]! -= a[i]![j]! * a[j]![c]!;
    }
  }
  return {
    P: range(m).map((r) => range(m).map((c) => (perm[c] === r ? 1 : 0))),
    L: range(m).map((i) => range(k).map((j) => (i === j ? 1 : i > j ? a[i]![j]! : 0))),
    U: range(k).map((i) => range(n).map((j) => (j >= i ? a[i]![j]! : 0))),
  };
}

/** Square matrices (n in 1..3) with entries in [-1, 1] times 0.01, 0.5 or 3: norms that pick low Padé degrees,
 * degree 13, and degree 13 with squarings. */
const expmCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.constantFrom(0.01, 0.5, 3))
  .chain(([batch, n, scale]) => arrOf([...batch, n, n], between(-scale, scale)))
  .map((a) => mk<"expm">([a], {}));

/** Pairs (A, E) for the Fréchet derivative: A as for expm, E with entries in [-1, 1]. */
const expmFrechetCase = fc
  .tuple(batchShape, fc.integer({ min: 1, max: 3 }), fc.constantFrom(0.01, 0.5, 3))
  .chain(([batch, n, scale]) =>
    fc.tuple(arrOf([...batch, n, n], between(-scale, scale)), arrOf([...batch, n, n], between(-1, 1))),
  )
  .map(([a, e]) => mk<"expm_frechet">([a, e], {}));

/** e^A as the Taylor series Σ_{j<=30} (A/2^s)^j / j! with ‖A/2^s‖_∞ <= 1/2, squared s times. */
function expmRef(A: number[][]): number[][] {
  const n = A.length;
  const nrm = Math.max(0, ...A.map((r) => r.reduce((acc, v) => acc + Math.abs(v), 0)));
  const s = nrm > 0.5 ? Math.ceil(Math.log2(nrm / 0.5)) : 0;
  const X = A.map((r) => r.map((v) => v / 2 ** s));
  let term: number[][] = range(n).map((i) => range(n).map((j) => (i === j ? 1 : 0)));
  let sum = term.map((r) => r.slice());
  for (let j = 1; j <= 30; j++) {
    term = matmulM(term, X).map((r) => r.map((v) => v / j));
    sum = sum.map((r, i) => r.map((v, c) => v + term[i]![c]!));
  }
  for (let i = 0; i < s; i++) sum = matmulM(sum, sum);
  return sum;
}

// ---- random ----

const keyArr = arbShape({ maxRank: 1, maxDim: 2 }).chain((batch) =>
  arrOf([...batch, 2], fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), "int32"),
);
const randomBitsCase = fc
  .tuple(keyArr, arbShape({ maxRank: 2, maxDim: 3 }))
  .map(([k, shape]) => mk<"random_bits">([k], { shape }));
const randomUniformCase = fc
  .tuple(keyArr, arbShape({ maxRank: 2, maxDim: 3 }), fc.constantFrom<DType>("float64", "float32"))
  .map(([k, shape, dtype]) => mk<"random_uniform">([k], { shape, dtype }));

// ---- user-defined rules (the functions travel in the parameters) ----

/** Smooth maps with hand-written derivatives and plain-JS values, for the custom-rule primitives. */
const CUSTOM: [name: string, g: (x: NDArray) => NDArray, dg: (x: NDArray) => NDArray, ref: (v: number) => number][] = [
  ["sin", nb.sin, nb.cos, Math.sin],
  ["tanh", nb.tanh, (x) => nb.sub(1, nb.square(nb.tanh(x))), Math.tanh],
  ["cube", (x) => nb.mul(nb.square(x), x), (x) => nb.mul(nb.square(x), 3), (v) => v * v * v],
  [
    "gauss",
    (x) => nb.exp(nb.neg(nb.square(x))),
    (x) => nb.mul(nb.exp(nb.neg(nb.square(x))), nb.mul(x, -2)),
    (v) => Math.exp(-v * v),
  ],
];

/** Identifiers for the custom rules of generated cases, apart from the library's own counter. */
let NEXT_ID = 1_000_000;

/** Two operands of one shape. */
const samePair = arbArray({ shape: SH }).chain((x) => arbArray({ shape: x.shape }).map((y) => [x, y] as const));

/**
 * custom_jvp_call of f(x, y) = [g(x)·y, x + y] with its exact rule
 * d = [g'(x)·y·dx + g(x)·dy, dx + dy].
 */
const customJvpCase = fc.tuple(fc.constantFrom(...CUSTOM), samePair).map(([[name, g, dg], [x, y]]) =>
  mk<"custom_jvp_call">([x, y], {
    f: ([a, b]) => [nb.mul(g(a!), b!), nb.add(a!, b!)],
    rule: ([a, b], [da, db]) => [
      [nb.mul(g(a!), b!), nb.add(a!, b!)],
      [nb.add(nb.mul(nb.mul(dg(a!), b!), da!), nb.mul(g(a!), db!)), nb.add(da!, db!)],
    ],
    id: NEXT_ID++,
    name,
  }),
);

/** custom_vjp_call of f(x, y) = [g(x)·y] with residuals (x, y) and bwd ct ↦ [ct·g'(x)·y, ct·g(x)]. */
const customVjpCase = fc.tuple(fc.constantFrom(...CUSTOM), samePair).map(([[name, g, dg], [x, y]]) =>
  mk<"custom_vjp_call">([x, y], {
    f: ([a, b]) => [nb.mul(g(a!), b!)],
    fwd: ([a, b]) => [[nb.mul(g(a!), b!)], [a!, b!]],
    bwd: ([a, b], [ct]) => [nb.mul(nb.mul(ct!, dg(a!)), b!), nb.mul(ct!, g(a!))],
    id: NEXT_ID++,
    name,
    checkFwd: true,
  }),
);

/**
 * while_loop staged by whileLoop: carry (k, x), condition k < 3, body
 * (k, x) ↦ (k + 1, g(x)·y) with y closed over (a body operand). k starts at 0.5,
 * so the trip count (3) is the same for every nearby k and the loop is smooth
 * in x and y; g is bounded (sin, tanh) so three steps stay well scaled.
 */
const whileCase = fc
  .tuple(fc.constantFrom(...CUSTOM.filter(([n]) => n === "sin" || n === "tanh")), samePair)
  .map(([[name, g], [x, y]]) => {
    const k0 = nb.array(0.5);
    const carryAvals = [k0, x].map((a) => ({ shape: a.shape, dtype: a.dtype, weak: false }));
    const [cond, cc] = stageClosed(([k]) => [nb.less(k!, 3)], carryAvals, "spec");
    const [body, bc] = stageClosed(([k, v]) => [nb.add(k!, 1), nb.mul(g(v!), y)], carryAvals, "spec");
    void name;
    if (cc.length !== 1 || bc.length !== 2 || bc[1] !== y)
      throw new Error("while_loop spec: unexpected operand layout");
    return mk<"while_loop">([...cc, ...bc, k0, x], { cond, body, nCond: cc.length, nBody: bc.length });
  });

/**
 * cond staged by cond: operands [pred, x, y]; true branch (x, y) ↦ sin(x)·y, false branch
 * (x, y) ↦ tanh(x) − y. Neither branch closes over anything, so the layout is exactly that.
 * (Several outputs, pytrees and closed-over values are covered in test/trust-jit.test.ts.)
 */
export const condBranches = (avals: readonly { shape: readonly number[]; dtype: DType }[]) => {
  const as = avals.map((a) => ({ shape: a.shape, dtype: a.dtype, weak: false }));
  const [params, consts] = closeBranches(
    ([x, y]) => [nb.sub(nb.tanh(x!), y!)],
    ([x, y]) => [nb.mul(nb.sin(x!), y!)],
    as,
  );
  if (consts.length !== 0) throw new Error("cond spec: unexpected operand layout");
  return params;
};
const condCase = fc
  .tuple(fc.boolean(), samePair)
  .map(([b, [x, y]]) => mk<"cond">([nb.array(b), x, y], condBranches([x, y])));

/**
 * custom_vjp_lin with residual M [n, n] and tangent t [n, k]: bwd ct ↦ Mᵀ·ct, so the forward map
 * (obtained by transposing bwd) is t ↦ M·t.
 */
const customLinCase = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
  .chain(([n, k]) => fc.tuple(arbArray({ shape: [n, n] }), arbArray({ shape: [n, k] })))
  .map(([m, t]) =>
    mk<"custom_vjp_lin">([m, t], {
      bwd: ([mm], [ct]) => [nb.matmul(nb.transpose(mm!), ct!)],
      nRes: 1,
      outAvals: [{ shape: t.shape, dtype: "float64", weak: false }],
      id: NEXT_ID++,
      name: "matvec",
    }),
  );

/** The plain-JS g of a custom case, looked up by its name. */
const customRef = (name: string): ((v: number) => number) => CUSTOM.find((c) => c[0] === name)![3];

// ---- special functions (issue 9, opsA): plain-JS references, independent of src/kernels/special.ts ----

/** Terms shifted to w = x + 25 before the asymptotic series (far enough for 1e-17 truncation). */
const SHIFT = 25;

/** log Γ(x), x > 0: Stirling's series at x + 25 (terms through B₁₀) minus Σ log(x + k). */
export function lgammaRef(x: number): number {
  const w = x + SHIFT;
  let s = (w - 0.5) * Math.log(w) - w + 0.5 * Math.log(2 * Math.PI);
  const B = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66];
  B.forEach((b, i) => (s += b / ((2 * i + 2) * (2 * i + 1) * w ** (2 * i + 1))));
  for (let k = 0; k < SHIFT; k++) s -= Math.log(x + k);
  return s;
}

/** ψ⁽ⁿ⁾(x), x > 0: the series Σ (x + k)^(-n-1) to 25 terms, then the Euler–Maclaurin tail (n = 0: ψ directly). */
export function polygammaRef(n: number, x: number): number {
  const w = x + SHIFT;
  const B = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66];
  if (n === 0) {
    // ψ(w) ~ log w - 1/(2w) - Σ B_2k / (2k w^2k)
    let s = Math.log(w) - 1 / (2 * w);
    B.forEach((b, i) => (s -= b / ((2 * i + 2) * w ** (2 * i + 2))));
    for (let k = 0; k < SHIFT; k++) s -= 1 / (x + k);
    return s;
  }
  let fact = 1;
  for (let k = 2; k <= n; k++) fact *= k;
  // Σ_{k≥0} (w + k)^-s = w^(1-s)/(s-1) + w^-s/2 + Σ_k B_2k/(2k)! · s(s+1)···(s+2k-2) · w^(-s-2k+1), s = n + 1
  const sp = n + 1;
  let z = w ** -n / n + w ** -sp / 2;
  let rising = 1;
  let f2k = 1;
  B.forEach((b, i) => {
    const k = i + 1;
    for (let j = Math.max(0, 2 * k - 3); j <= 2 * k - 2; j++) rising *= sp + j;
    f2k *= (2 * k - 1) * (2 * k);
    z += ((b / f2k) * rising) / w ** (sp + 2 * k - 1);
  });
  for (let k = 0; k < SHIFT; k++) z += (x + k) ** (-n - 1);
  return (n % 2 === 1 ? 1 : -1) * fact * z;
}

/** erfinv by Newton's method on the Simpson erf (monotone convergence from 0 on the concave side). */
function erfinvRef(y: number): number {
  const a = Math.abs(y);
  let x = 0;
  for (let i = 0; i < 12; i++) x += (a - erfRef(x)) / ((2 / Math.sqrt(Math.PI)) * Math.exp(-x * x));
  return y < 0 ? -x : x;
}

/** polygamma operands: orders n in {0, 1, 2} (float64, same shape) and x in [0.8, 4]. */
const polygammaCase = arbArray({ shape: SH, domain: "positive", min: 0.8, max: 4 }).chain((x) =>
  arrOf(x.shape, fc.integer({ min: 0, max: 2 })).map((n) => mk<"polygamma">([n, x], {})),
);

// ---------------------------------------------------------------------------
// the table

// ---- opsB (issue 9): convolution ----

/** Convolution geometry and operands: 1-d or 2-d, groups, strides, both dilations, padding from -1 (crop) to 2. */
const convCase = fc
  .record({
    nd: fc.integer({ min: 1, max: 2 }),
    N: fc.integer({ min: 1, max: 2 }),
    G: fc.integer({ min: 1, max: 2 }),
    Cg: fc.integer({ min: 1, max: 2 }),
    Og: fc.integer({ min: 1, max: 2 }),
    dims: fc.array(
      fc.record({
        I: fc.integer({ min: 1, max: 4 }),
        k: fc.integer({ min: 1, max: 3 }),
        s: fc.integer({ min: 1, max: 2 }),
        ld: fc.integer({ min: 1, max: 2 }),
        rd: fc.integer({ min: 1, max: 2 }),
        lo: fc.integer({ min: -1, max: 2 }),
        hi: fc.integer({ min: -1, max: 2 }),
      }),
      { minLength: 2, maxLength: 2 },
    ),
  })
  .chain(({ nd, N, G, Cg, Og, dims }) => {
    const ds = dims.slice(0, nd).map((d) => {
      // raise hi (a map, not a filter) so the padded, dilated input spans the dilated kernel
      const need = (d.k - 1) * d.rd + 1 - ((d.I - 1) * d.ld + 1) - d.lo;
      return { ...d, hi: Math.max(d.hi, need) };
    });
    const params = {
      strides: ds.map((d) => d.s),
      lo: ds.map((d) => d.lo),
      hi: ds.map((d) => d.hi),
      lhsDilation: ds.map((d) => d.ld),
      rhsDilation: ds.map((d) => d.rd),
      groups: G,
    };
    return fc
      .tuple(
        arbArray({ shape: [N, G * Cg, ...ds.map((d) => d.I)] }),
        arbArray({ shape: [G * Og, Cg, ...ds.map((d) => d.k)] }),
      )
      .map(([x, w]) => mk<"conv">([x, w], params));
  });

/** The convolution written as its definition: a direct loop over outputs, channels and taps. */
export function convRef(x: Ref, w: Ref, p: Params["conv"]): Ref {
  const [N, C] = x.shape as [number, number];
  const [O, Cg] = w.shape as [number, number];
  const Og = O / p.groups;
  const inS = x.shape.slice(2);
  const kS = w.shape.slice(2);
  const outS = inS.map((I, d) => {
    const span = (I - 1) * p.lhsDilation[d]! + 1 + p.lo[d]! + p.hi[d]! - ((kS[d]! - 1) * p.rhsDilation[d]! + 1);
    return span < 0 ? 0 : Math.floor(span / p.strides[d]!) + 1;
  });
  const shape = [N, O, ...outS];
  const data = new Array<number>(sizeOf(shape)).fill(0);
  for (let o = 0; o < data.length; o++) {
    const [n, oc, ...pos] = unravel(o, shape) as [number, number, ...number[]];
    const g = Math.floor(oc / Og);
    let acc = 0;
    for (let c = 0; c < Cg; c++)
      for (let t = 0; t < sizeOf(kS); t++) {
        const tap = unravel(t, kS);
        const src: number[] = [];
        for (let d = 0; d < inS.length; d++) {
          const q = pos[d]! * p.strides[d]! + tap[d]! * p.rhsDilation[d]! - p.lo[d]!;
          if (q < 0 || q % p.lhsDilation[d]! !== 0 || q / p.lhsDilation[d]! >= inS[d]!) break;
          src.push(q / p.lhsDilation[d]!);
        }
        if (src.length < inS.length) continue;
        acc += x.data[ravel([n, g * Cg + c, ...src], x.shape)]! * w.data[ravel([oc, c, ...tap], w.shape)]!;
      }
    data[o] = acc;
  }
  void C;
  return { shape, dtype: x.dtype, data };
}

// ---- opsB (issue 9): combining scatters ----

/**
 * x [M, ...R], indices [m] in [-M, M) (repeats likely), updates [m, ...R]. min/max: every value of
 * x and u pairwise distinct (one "distinct" draw split in two), so no tie sits within a finite-
 * difference step; mul: magnitudes in [0.5, 1.5] of either sign, or exactly 0 for some updates.
 */
const scatterCombineCase = (distinct: boolean) =>
  fc
    .tuple(fc.integer({ min: 1, max: 3 }), arbShape({ maxRank: 1, maxDim: 2 }), fc.integer({ min: 0, max: 4 }))
    .chain(([M, rest, m]) => {
      const R = sizeOf(rest);
      const vals = distinct
        ? arbArray({ shape: [(M + m) * R], domain: "distinct" })
        : arbArray({ shape: [(M + m) * R], domain: "nonzero", min: 0.5, max: 1.5 });
      // mul: some updates exactly 0 (the product is multilinear in the updates, so finite differences
      // stay exact there and every derivative order is checked at zeros)
      const zeroed = fc.array(fc.boolean(), { minLength: m * R, maxLength: m * R });
      const idxs = arbArray({ shape: [m], dtype: "int32", min: -M, max: M - 1 });
      return fc.tuple(vals, idxs, zeroed).map(([v, idx, z]) => {
        const data = Array.from(v.toTypedArray() as Float64Array);
        if (!distinct) z.forEach((zero, j) => zero && (data[M * R + j] = 0));
        const x = nb.array(Float64Array.from(data.slice(0, M * R)), { shape: [M, ...rest] });
        const u = nb.array(Float64Array.from(data.slice(M * R)), { shape: [m, ...rest] });
        return { args: [x, idx, u], params: {} };
      });
    });

/** out = x, then out[idx_j] = f(out[idx_j], u_j) row by row (negative indices from the end). */
function scatterCombineRef(f: (a: number, b: number) => number) {
  return ([x, idx, u]: Ref[]): Ref[] => {
    const M = x!.shape[0]!;
    const R = sizeOf(x!.shape.slice(1));
    const data = x!.data.slice();
    idx!.data.forEach((k, j) => {
      const row = k < 0 ? k + M : k;
      for (let q = 0; q < R; q++) data[row * R + q] = f(data[row * R + q]!, u!.data[j * R + q]!);
    });
    return [{ ...x!, data }];
  };
}

const ALL1 = [0] as const;
const ALL2 = [0, 1] as const;

/** Domains used below; each keeps the primitive and all its derivatives finite. */
const D = {
  any: { domain: "bounded" } as ArrayOptions,
  exp: { min: -3, max: 3 } as ArrayOptions,
  positive: { domain: "positive", min: 0.2, max: 5 } as ArrayOptions,
  log1p: { min: -0.8, max: 3 } as ArrayOptions,
  unit: { domain: "unit" } as ArrayOptions,
  tan: { min: -1.2, max: 1.2 } as ArrayOptions,
  nonzero: { domain: "nonzero", min: 0.5, max: 2 } as ArrayOptions,
};

export const SPECS = {
  neg: { gen: unary(D.any), ref: un((v) => -v), diff: { wrt: ALL1 } },
  exp: { gen: unary(D.exp), ref: un(Math.exp), diff: { wrt: ALL1 } },
  log: { gen: unary(D.positive), ref: un(Math.log), diff: { wrt: ALL1 } },
  log1p: { gen: unary(D.log1p), ref: un(Math.log1p), diff: { wrt: ALL1 } },
  expm1: { gen: unary(D.exp), ref: un(Math.expm1), diff: { wrt: ALL1 } },
  sin: { gen: unary(D.any), ref: un(Math.sin), diff: { wrt: ALL1 } },
  cos: { gen: unary(D.any), ref: un(Math.cos), diff: { wrt: ALL1 } },
  // tan on [-1.2, 1.2]: away from the poles at ±π/2
  tan: { gen: unary(D.tan), ref: un(Math.tan), diff: { wrt: ALL1 } },
  tanh: { gen: unary(D.any), ref: un(Math.tanh), diff: { wrt: ALL1 } },
  sinh: { gen: unary(D.exp), ref: un(Math.sinh), diff: { wrt: ALL1 } },
  cosh: { gen: unary(D.exp), ref: un(Math.cosh), diff: { wrt: ALL1 } },
  asin: { gen: unary(D.unit), ref: un(Math.asin), diff: { wrt: ALL1 } },
  acos: { gen: unary(D.unit), ref: un(Math.acos), diff: { wrt: ALL1 } },
  atan: { gen: unary(D.any), ref: un(Math.atan), diff: { wrt: ALL1 } },
  sqrt: { gen: unary(D.positive), ref: un(Math.sqrt), diff: { wrt: ALL1 } },
  // |x| away from 0, where it is smooth
  abs: { gen: unary({ domain: "nonzero", min: 0.1, max: 3 }), ref: un(Math.abs), diff: { wrt: ALL1 } },
  // piecewise constant: zero derivative; half-integers and integers exercise ties and sign(0) = 0
  sign: { gen: unary({ domain: "half" }), ref: un((v) => (v > 0 ? 1 : v < 0 ? -1 : 0)), diff: null },
  floor: { gen: unary({ domain: "half" }), ref: un(Math.floor), diff: null },
  ceil: { gen: unary({ domain: "half" }), ref: un(Math.ceil), diff: null },
  round: { gen: unary({ domain: "half" }), ref: un(roundHalfEven), diff: null },
  // erf: the reference integrates the density numerically (Simpson, 4000 panels: error < 1e-13)
  erf: { gen: unary(D.any), ref: un(erfRef), refTol: 1e-11, diff: { wrt: ALL1 } },
  logistic: {
    gen: unary({ min: -5, max: 5 }),
    ref: un((v) => 1 / (1 + Math.exp(-v))),
    refTol: 1e-14,
    diff: { wrt: ALL1 },
  },
  softplus: {
    gen: unary({ min: -5, max: 5 }),
    ref: un((v) => Math.log(1 + Math.exp(v))),
    refTol: 1e-13,
    diff: { wrt: ALL1 },
  },
  // the identity with derivative zero by definition
  stop_gradient: { gen: unary(D.any), ref: un((v) => v), diff: null },
  add: { gen: binary(), ref: bin((a, b) => a + b), diff: { wrt: ALL2 } },
  sub: { gen: binary(), ref: bin((a, b) => a - b), diff: { wrt: ALL2 } },
  // int32 products wrap modulo 2^32 (the reference computes exactly with BigInt)
  mul: {
    gen: fc.oneof(binary(), int32Pair(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))),
    ref: bin(
      (a, b) => a * b,
      (a, b) => wrap32(BigInt(a) * BigInt(b)),
    ),
    diff: { wrt: ALL2, gen: binary() },
  },
  // denominators in ±[0.5, 2]
  div: { gen: binary({}, D.nonzero), ref: bin((a, b) => a / b), diff: { wrt: ALL2 } },
  // positive bases in [0.5, 2], exponents in [-2, 2]
  // int32 bases with exponents in [0, 40] stay int32 and wrap: x^y mod 2^32 (BigInt reference)
  pow: {
    gen: fc.oneof(
      binary({ domain: "positive", min: 0.5, max: 2 }, { min: -2, max: 2 }),
      int32Pair(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 40 })),
    ),
    ref: bin(Math.pow, (a, b) => wrap32(BigInt(a) ** BigInt(b))),
    diff: { wrt: ALL2, gen: binary({ domain: "positive", min: 0.5, max: 2 }, { min: -2, max: 2 }) },
  },
  max: { gen: noTiePair, ref: bin(Math.max), diff: { wrt: ALL2 } },
  min: { gen: noTiePair, ref: bin(Math.min), diff: { wrt: ALL2 } },
  // atan2(a, b) with |a| >= 0.3: away from the origin and from the branch cut (a = 0, b < 0)
  atan2: { gen: binary({ domain: "nonzero", min: 0.3, max: 2 }, {}), ref: bin(Math.atan2), diff: { wrt: ALL2 } },
  eq: { gen: compareCase, ref: cmp((a, b) => a === b), diff: null },
  ne: { gen: compareCase, ref: cmp((a, b) => a !== b), diff: null },
  lt: { gen: compareCase, ref: cmp((a, b) => a < b), diff: null },
  le: { gen: compareCase, ref: cmp((a, b) => a <= b), diff: null },
  gt: { gen: compareCase, ref: cmp((a, b) => a > b), diff: null },
  ge: { gen: compareCase, ref: cmp((a, b) => a >= b), diff: null },
  and: { gen: boolPair, ref: cmp((a, b) => a !== 0 && b !== 0), diff: null },
  or: { gen: boolPair, ref: cmp((a, b) => a !== 0 || b !== 0), diff: null },
  not: { gen: unary({ dtype: "bool" }), ref: un((v) => (v === 0 ? 1 : 0)), diff: null },
  // differentiable in the two branches; the bool condition is not
  select: {
    gen: selectCase,
    ref: ([c, x, y]) => [ewise([c!, x!, y!], x!.dtype, (cv, a, b) => (cv !== 0 ? a : b))],
    diff: { wrt: [1, 2] },
  },
  // linear between float dtypes; to int32/bool its derivative is zero
  convert: {
    gen: convertCase(DTYPES, DTYPES),
    ref: ([x], { dtype }) => [ewise([x!], dtype, (v) => v)],
    refTol: 0,
    diff: { wrt: ALL1, gen: convertCase(["float64", "float32"], ["float64", "float32"]) },
    zero: convertCase(["float64", "float32"], ["int32", "bool"]),
  },
  reduce_sum: {
    gen: reduceCase({}),
    ref: ([x], { axes }) => [reduceRef(x!, axes, 0, (a, v) => a + v)],
    diff: { wrt: ALL1 },
  },
  // distinct values: no ties, so the maximum is differentiable
  reduce_max: {
    gen: reduceCase({ domain: "distinct" }),
    ref: ([x], { axes }) => [reduceRef(x!, axes, -Infinity, Math.max)],
    diff: { wrt: ALL1 },
  },
  reduce_min: {
    gen: reduceCase({ domain: "distinct" }),
    ref: ([x], { axes }) => [reduceRef(x!, axes, Infinity, Math.min)],
    diff: { wrt: ALL1 },
  },
  // small integers: ties, where the first occurrence wins
  argmax: { gen: argCase(), ref: ([x], { axis }) => [argRef(x!, axis, true)], diff: null },
  argmin: { gen: argCase(), ref: ([x], { axis }) => [argRef(x!, axis, false)], diff: null },
  reshape: { gen: reshapeCase, ref: ([x], { shape }) => [{ ...x!, shape }], diff: { wrt: ALL1 } },
  broadcast: {
    gen: broadcastCase,
    ref: ([x], { shape }) => [ewise([x!], x!.dtype, (v) => v, shape)],
    diff: { wrt: ALL1 },
  },
  transpose: { gen: transposeCase, ref: ([x], { perm }) => [transposeRef(x!, perm)], diff: { wrt: ALL1 } },
  slice: {
    gen: sliceCase,
    ref: ([x], { begin, end }) => [
      gatherIdx(
        x!,
        begin.map((b, i) => end[i]! - b),
        (idx) => idx.map((v, i) => v + begin[i]!),
      ),
    ],
    diff: { wrt: ALL1 },
  },
  pad: {
    gen: padCase,
    ref: ([x], { lo, hi }) => [
      gatherIdx(
        x!,
        x!.shape.map((d, i) => d + lo[i]! + hi[i]!),
        (idx) => {
          const src = idx.map((v, i) => v - lo[i]!);
          return src.every((v, i) => v >= 0 && v < x!.shape[i]!) ? src : null;
        },
      ),
    ],
    diff: { wrt: ALL1 },
  },
  concatenate: {
    gen: concatCase,
    ref: (xs, { axis }) => {
      const shape = xs[0]!.shape.slice();
      shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
      const data: number[] = [];
      for (let o = 0; o < sizeOf(shape); o++) {
        const idx = unravel(o, shape);
        let k = idx[axis]!;
        let j = 0;
        while (k >= xs[j]!.shape[axis]!) k -= xs[j++]!.shape[axis]!;
        idx[axis] = k;
        data.push(xs[j]!.data[ravel(idx, xs[j]!.shape)]!);
      }
      return [{ shape, dtype: xs[0]!.dtype, data }];
    },
    diff: { wrt: "all" },
  },
  matmul: { gen: matmulCase, ref: ([a, b]) => [matmulRef(a!, b!)], diff: { wrt: ALL2 } },
  gather: {
    gen: gatherCase,
    ref: ([x, idx], { axis }) => {
      const A = x!.shape[axis]!;
      const shape = [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)];
      return [
        gatherIdx(x!, shape, (o) => {
          const k = idx!.data[ravel(o.slice(axis, axis + idx!.shape.length), idx!.shape)]!;
          return [...o.slice(0, axis), k < 0 ? k + A : k, ...o.slice(axis + idx!.shape.length)];
        }),
      ];
    },
    // linear in x; the int32 indices are not differentiable
    diff: { wrt: ALL1 },
  },
  scatter_add: {
    gen: scatterCase,
    ref: ([u, idx], { axis, size }) => {
      const k = idx!.shape.length;
      const shape = [...u!.shape.slice(0, axis), size, ...u!.shape.slice(axis + k)];
      const data = new Array<number>(sizeOf(shape)).fill(0);
      for (let i = 0; i < u!.data.length; i++) {
        const ui = unravel(i, u!.shape);
        let j = idx!.data[ravel(ui.slice(axis, axis + k), idx!.shape)]!;
        if (j < 0) j += size;
        data[ravel([...ui.slice(0, axis), j, ...ui.slice(axis + k)], shape)]! += u!.data[i]!;
      }
      return [{ shape, dtype: u!.dtype, data }];
    },
    diff: { wrt: ALL1 },
  },
  cumsum: {
    gen: cumsumCase,
    ref: ([x], { axis, reverse }) => {
      const data = x!.data.map((_, o) => {
        const idx = unravel(o, x!.shape);
        let s = 0;
        const n = x!.shape[axis]!;
        for (let k = reverse ? idx[axis]! : 0; k < (reverse ? n : idx[axis]! + 1); k++) {
          const j = idx.slice();
          j[axis] = k;
          s += x!.data[ravel(j, x!.shape)]!;
        }
        return s;
      });
      return [{ ...x!, data }];
    },
    diff: { wrt: ALL1 },
  },
  rev: {
    gen: revCase,
    ref: ([x], { axes }) => [
      gatherIdx(x!, x!.shape, (idx) => idx.map((v, i) => (axes.includes(i) ? x!.shape[i]! - 1 - v : v))),
    ],
    diff: { wrt: ALL1 },
  },
  // a stable sort: ties keep their original order, in both directions
  argsort: {
    gen: argsortCase,
    ref: ([x], { axis, descending }) => {
      const out = { shape: x!.shape, dtype: "int32" as DType, data: new Array<number>(x!.data.length).fill(0) };
      const n = x!.shape[axis]!;
      for (let o = 0; o < x!.data.length; o++) {
        const idx = unravel(o, x!.shape);
        if (idx[axis] !== 0) continue;
        const at = (k: number) => {
          const j = idx.slice();
          j[axis] = k;
          return ravel(j, x!.shape);
        };
        // insertion sort: moves an element only past strictly greater (smaller) ones, hence stable
        const order: number[] = [];
        for (let k = 0; k < n; k++) {
          const v = x!.data[at(k)]!;
          let p = order.length;
          while (p > 0 && (descending ? x!.data[at(order[p - 1]!)]! < v : x!.data[at(order[p - 1]!)]! > v)) p--;
          order.splice(p, 0, k);
        }
        order.forEach((k, r) => (out.data[at(r)] = k));
      }
      return [out];
    },
    diff: null,
  },
  solve: {
    gen: solveCase,
    ref: ([a, b]) => {
      const batch = a!.shape.slice(0, -2);
      return [
        fromMatrices(
          matrices(a!).map((m, i) => gauss(m, matrices(b!)[i]!).X),
          batch,
          a!.dtype,
        ),
      ];
    },
    refTol: 1e-10,
    diff: { wrt: ALL2 },
  },
  triangular_solve: {
    gen: triSolveCase,
    ref: ([a, b], { lower, transposeA }) => {
      const batch = a!.shape.slice(0, -2);
      const xs = matrices(a!).map((m, i) => {
        const tri = m.map((row, r) => row.map((v, c) => ((lower ? c <= r : c >= r) ? v : 0)));
        return gauss(transposeA ? transposeM(tri) : tri, matrices(b!)[i]!).X;
      });
      return [fromMatrices(xs, batch, a!.dtype)];
    },
    refTol: 1e-10,
    diff: { wrt: ALL2 },
  },
  // [sign, log|det|]; the sign has zero derivative
  slogdet: {
    gen: slogdetCase,
    ref: ([a]) => {
      const batch = a!.shape.slice(0, -2);
      const res = matrices(a!).map((m) => {
        const { parity, diag } = gauss(
          m,
          m.map(() => []),
        );
        return [diag.reduce((s, v) => s * Math.sign(v), parity), diag.reduce((s, v) => s + Math.log(Math.abs(v)), 0)];
      });
      return [
        { shape: batch, dtype: a!.dtype, data: res.map((r) => r[0]!) },
        { shape: batch, dtype: a!.dtype, data: res.map((r) => r[1]!) },
      ];
    },
    refTol: 1e-10,
    diff: { wrt: ALL1 },
  },
  // det A (a polynomial): exact at singular matrices; its derivatives are the cofactors
  det: {
    gen: detCase<"det">(),
    ref: ([a]) => [{ shape: a!.shape.slice(0, -2), dtype: a!.dtype, data: matrices(a!).map(leibnizDet) }],
    refTol: 1e-10,
    diff: { wrt: ALL1 },
  },
  // C = adj(A)ᵀ, cofactors by their definition (minors by Leibniz)
  cofactor: {
    gen: detCase<"cofactor">(),
    ref: ([a]) => [fromMatrices(matrices(a!).map(cofactorRef), a!.shape.slice(0, -2), a!.dtype)],
    refTol: 1e-10,
    diff: { wrt: ALL1 },
  },
  cholesky: {
    gen: choleskyCase,
    ref: ([a]) => {
      const ls = matrices(a!).map((m) => {
        const s = symM(m);
        const n = s.length;
        const L = s.map(() => new Array<number>(n).fill(0));
        for (let i = 0; i < n; i++)
          for (let j = 0; j <= i; j++) {
            let v = s[i]![j]!;
            for (let k = 0; k < j; k++) v -= L[i]![k]! * L[j]![k]!;
            L[i]![j] = i === j ? Math.sqrt(v) : v / L[j]![j]!;
          }
        return L;
      });
      return [fromMatrices(ls, a!.shape.slice(0, -2), a!.dtype)];
    },
    refTol: 1e-10,
    diff: { wrt: ALL1 },
  },
  qr: {
    gen: qrCase,
    ref: ([a]) => {
      const batch = a!.shape.slice(0, -2);
      const qrs = matrices(a!).map(mgs);
      return [
        fromMatrices(
          qrs.map((r) => r.Q),
          batch,
          a!.dtype,
        ),
        fromMatrices(
          qrs.map((r) => r.R),
          batch,
          a!.dtype,
        ),
      ];
    },
    refTol: 1e-10,
    diff: { wrt: ALL1 },
  },
  // eigenvalues ascending; eigenvectors compared with each column's largest-magnitude component made positive
  eigh: {
    gen: eighCase,
    ref: ([a]) => {
      const batch = a!.shape.slice(0, -2);
      const es = matrices(a!).map((m) => symEig(symM(m)));
      const n = a!.shape[a!.shape.length - 1]!;
      return [
        { shape: [...batch, n], dtype: a!.dtype, data: es.flatMap((e) => e.w) },
        fromMatrices(
          es.map((e) => e.V),
          batch,
          a!.dtype,
        ),
      ];
    },
    normalize: ([w, v]) => {
      const n = v!.shape[v!.shape.length - 1]!;
      const mats = matrices(v!).map((m) => {
        const signs = range(n).map((j) => {
          let big = 0;
          for (let i = 0; i < n; i++) if (Math.abs(m[i]![j]!) > Math.abs(m[big]![j]!)) big = i;
          return m[big]![j]! < 0 ? -1 : 1;
        });
        return m.map((row) => row.map((x, j) => x * signs[j]!));
      });
      return [w!, fromMatrices(mats, v!.shape.slice(0, -2), v!.dtype)];
    },
    refTol: 1e-9,
    diff: { wrt: ALL1 },
  },
  // opsC: svd (reference from the Gram matrix's eigendecomposition; compared up to the SVD's ambiguities)
  svd: {
    gen: svdCase(() => fc.boolean()),
    ref: ([a], { fullMatrices }) => {
      const batch = a!.shape.slice(0, -2);
      const rs = matrices(a!).map((m) => svdRef(m, fullMatrices));
      const k = Math.min(a!.shape[a!.shape.length - 2]!, a!.shape[a!.shape.length - 1]!);
      return [
        fromMatrices(
          rs.map((r) => r.U),
          batch,
          a!.dtype,
        ),
        { shape: [...batch, k], dtype: a!.dtype, data: rs.flatMap((r) => r.S) },
        fromMatrices(
          rs.map((r) => r.Vh),
          batch,
          a!.dtype,
        ),
      ];
    },
    normalize: svdNormalize,
    // the reference's QR iteration converges to about 1e-14; s = √w loses nothing, U = A V / s a few ulps
    refTol: 1e-9,
    diff: { wrt: ALL1, gen: svdCase((m, n) => (m === n ? fc.boolean() : fc.constant(false))) },
  },
  lu: {
    gen: luCase,
    ref: ([a]) => {
      const batch = a!.shape.slice(0, -2);
      const rs = matrices(a!).map(luRef);
      return [
        fromMatrices(
          rs.map((r) => r.P),
          batch,
          a!.dtype,
        ),
        fromMatrices(
          rs.map((r) => r.L),
          batch,
          a!.dtype,
        ),
        fromMatrices(
          rs.map((r) => r.U),
          batch,
          a!.dtype,
        ),
      ];
    },
    // the same elimination in another order of operations: a few ulps
    refTol: 1e-12,
    diff: { wrt: ALL1 },
  },
  // Taylor series reference; entries up to e^9, relative to max(1, |value|), Padé and Taylor both ~1e-15 per squaring
  expm: {
    gen: expmCase,
    ref: ([a]) => [fromMatrices(matrices(a!).map(expmRef), a!.shape.slice(0, -2), a!.dtype)],
    refTol: 1e-11,
    diff: { wrt: ALL1 },
  },
  // L(A, E) as the top-right block of the Taylor-series exp([[A, E], [0, A]]); entries up to e^9 · ‖E‖
  expm_frechet: {
    gen: expmFrechetCase,
    ref: ([a, e]) => {
      const es = matrices(e!);
      const out = matrices(a!).map((A, b) => {
        const n = A.length;
        const E = es[b]!;
        const big = range(2 * n).map((i) =>
          range(2 * n).map((j) => (i < n ? (j < n ? A[i]![j]! : E[i]![j - n]!) : j < n ? 0 : A[i - n]![j - n]!)),
        );
        return expmRef(big)
          .slice(0, n)
          .map((row) => row.slice(n));
      });
      return [fromMatrices(out, a!.shape.slice(0, -2), a!.dtype)];
    },
    refTol: 1e-11,
    // order 2 here; expm's order-3 test differentiates this rule to order 2 as well
    diff: { wrt: "all", order: 2 },
  },
  random_bits: {
    gen: randomBitsCase,
    ref: ([k], { shape }) => {
      const n = sizeOf(shape);
      const data: number[] = [];
      for (let b = 0; b < k!.data.length / 2; b++)
        data.push(...words(k!.data[2 * b]!, k!.data[2 * b + 1]!, n).map((w) => w | 0));
      return [{ shape: [...k!.shape.slice(0, -1), ...shape], dtype: "int32", data }];
    },
    diff: null,
  },
  // float64: 53 bits from two words (27 + 26); float32: the top 24 bits of one word
  random_uniform: {
    gen: randomUniformCase,
    ref: ([k], { shape, dtype }) => {
      const n = sizeOf(shape);
      const data: number[] = [];
      for (let b = 0; b < k!.data.length / 2; b++) {
        const k0 = k!.data[2 * b]!;
        const k1 = k!.data[2 * b + 1]!;
        if (dtype === "float64") {
          const w = words(k0, k1, 2 * n);
          for (let i = 0; i < n; i++) data.push(((w[2 * i]! >>> 5) * 2 ** 26 + (w[2 * i + 1]! >>> 6)) / 2 ** 53);
        } else {
          const w = words(k0, k1, n);
          for (let i = 0; i < n; i++) data.push((w[i]! >>> 8) / 2 ** 24);
        }
      }
      return [{ shape: [...k!.shape.slice(0, -1), ...shape], dtype, data }];
    },
    refTol: 0,
    diff: null,
  },
  while_loop: {
    gen: whileCase,
    ref: (args, { nCond, nBody, body }) => {
      const n = nCond + nBody;
      // operands [3, 1, y, k, x] (the layout whileCase checks); which g the body applies is read off its equations
      const y = args[2]!;
      const x = args[n + 1]!;
      const g = customRef(body.equations.some((e) => e.prim === "tanh") ? "tanh" : "sin");
      let v = x.data.slice();
      for (let it = 0; it < 3; it++) v = v.map((xi, i) => g(xi) * y.data[i]!);
      return [
        { shape: [], dtype: "float64", data: [3.5] },
        { shape: [...x.shape], dtype: "float64", data: v },
      ];
    },
    refTol: 1e-14,
    // operands: [3 (cond), 1, y (body), k, x] — differentiate in y and x
    diff: { wrt: [2, 4] },
  },
  cond: {
    gen: condCase,
    ref: ([p, x, y]) =>
      p!.data[0]
        ? [ewise([x!, y!], "float64", (a, b) => Math.sin(a) * b)]
        : [ewise([x!, y!], "float64", (a, b) => Math.tanh(a) - b)],
    refTol: 1e-14,
    diff: { wrt: [1, 2] },
  },
  custom_jvp_call: {
    gen: customJvpCase,
    ref: ([x, y], { name }) => {
      const g = customRef(name);
      return [ewise([x!, y!], "float64", (a, b) => g(a) * b), ewise([x!, y!], "float64", (a, b) => a + b)];
    },
    refTol: 1e-14,
    diff: { wrt: ALL2 },
  },
  custom_vjp_call: {
    gen: customVjpCase,
    ref: ([x, y], { name }) => {
      const g = customRef(name);
      return [ewise([x!, y!], "float64", (a, b) => g(a) * b)];
    },
    refTol: 1e-14,
    diff: { wrt: ALL2 },
  },
  // bilinear in (M, t): differentiable in both
  custom_vjp_lin: { gen: customLinCase, ref: ([m, t]) => [matmulRef(m!, t!)], diff: { wrt: ALL2 } },
  // special functions (issue 9, opsA). The references shift to x + 25 and use an asymptotic series
  // (truncation < 1e-17) plus 25 rounded terms: absolute error ~1e-14, so 1e-12 relative to max(1, |value|).
  // Domains stay where every derivative to third order (polygamma up to order 5) is moderate.
  lgamma: { gen: unary(D.positive), ref: un(lgammaRef), refTol: 1e-12, diff: { wrt: ALL1 } },
  digamma: { gen: unary(D.positive), ref: un((v) => polygammaRef(0, v)), refTol: 1e-12, diff: { wrt: ALL1 } },
  // no derivative in the integer order n (operand 0)
  polygamma: { gen: polygammaCase, ref: bin(polygammaRef), refTol: 1e-12, diff: { wrt: [1] } },
  // erfc = 1 - erf with the Simpson erf (error < 1e-13; on [-3, 3] no value is below 1e-5, so absolute is enough)
  erfc: { gen: unary(D.any), ref: un((v) => 1 - erfRef(v)), refTol: 1e-11, diff: { wrt: ALL1 } },
  // erfinv on [-0.8, 0.8]: Newton on the Simpson erf, error ~1e-13
  erfinv: { gen: unary({ min: -0.8, max: 0.8 }), ref: un(erfinvRef), refTol: 1e-11, diff: { wrt: ALL1 } },
  xlogy: {
    gen: binary(D.any, D.positive),
    ref: bin((x, y) => (x === 0 ? 0 : x * Math.log(y))),
    refTol: 1e-14,
    diff: { wrt: ALL2 },
  },
  xlog1py: {
    gen: binary(D.any, D.log1p),
    ref: bin((x, y) => (x === 0 ? 0 : x * Math.log1p(y))),
    refTol: 1e-14,
    diff: { wrt: ALL2 },
  },
  // opsB (issue 9): bilinear in (x, w): differentiable in both
  conv: { gen: convCase, ref: ([x, w], p) => [convRef(x!, w!, p)], diff: { wrt: ALL2 } },
  // differentiable in the operand and the updates, not the int32 indices
  scatter_mul: { gen: scatterCombineCase(false), ref: scatterCombineRef((a, b) => a * b), diff: { wrt: [0, 2] } },
  scatter_min: { gen: scatterCombineCase(true), ref: scatterCombineRef(Math.min), diff: { wrt: [0, 2] } },
  scatter_max: { gen: scatterCombineCase(true), ref: scatterCombineRef(Math.max), diff: { wrt: [0, 2] } },
} satisfies { [P in Prim]: PrimSpec<P> };

/** Every primitive, in table order. */
export const PRIMS = Object.keys(SPECS) as Prim[];

/** Applies a primitive directly through the trace machinery (all its outputs). */
export function apply<P extends Prim>(prim: P, args: readonly NDArray[], params: Params[P]): NDArray[] {
  return bind(ruleOf(prim), args, params);
}

// ---------------------------------------------------------------------------
// dtype variants

/** A dtype besides float64 in which the vmap law is also checked. */
export type VariantDType = "float32" | "int32";

/**
 * The case with every float64 operand given `dtype` instead (int32: each value
 * rounded to the nearest integer), the other operands (indices, conditions,
 * keys) and the params unchanged. Built in plain JS from the values.
 */
export function asDType<P extends Prim>(c: Case<P>, dtype: VariantDType): Case<P> {
  const args = c.args.map((x) => {
    if (x.dtype !== "float64") return x;
    const v = Array.from(x.toTypedArray() as ArrayLike<number>);
    const typed = dtype === "float32" ? Float32Array.from(v) : Int32Array.from(v.map((e) => Math.round(e)));
    return nb.array(typed, { shape: x.shape });
  });
  return mk<P>(args, c.params);
}

const F32: readonly VariantDType[] = ["float32"];
const F32_I32: readonly VariantDType[] = ["float32", "int32"];
const NONE: readonly VariantDType[] = [];

/**
 * The dtypes besides float64 each primitive accepts for the operands its spec
 * draws as float64; the vmap law is checked in each (on the spec's cases
 * through {@link asDType}), and the vmap test checks that every dtype left out
 * is rejected with a DTypeError, so the table cannot silently drop one.
 * Float-only rows (transcendental functions, linear algebra, convolution,
 * special functions) take float32 but not int32. No variants: the bool
 * logic rows and the random rows (no float64 operand to vary), while_loop and
 * cond (their closed graphs fix the operand avals), and the custom_* rows
 * (opaque wrappers of float64 user functions, which accept any operand).
 */
export const DTYPE_VARIANTS = {
  neg: F32_I32,
  exp: F32,
  log: F32,
  log1p: F32,
  expm1: F32,
  sin: F32,
  cos: F32,
  tan: F32,
  tanh: F32,
  sinh: F32,
  cosh: F32,
  asin: F32,
  acos: F32,
  atan: F32,
  sqrt: F32,
  abs: F32_I32,
  sign: F32_I32,
  floor: F32_I32,
  ceil: F32_I32,
  round: F32_I32,
  erf: F32,
  logistic: F32,
  softplus: F32,
  stop_gradient: F32_I32,
  add: F32_I32,
  sub: F32_I32,
  mul: F32_I32,
  div: F32_I32,
  pow: F32_I32,
  max: F32_I32,
  min: F32_I32,
  atan2: F32,
  eq: F32_I32,
  ne: F32_I32,
  lt: F32_I32,
  le: F32_I32,
  gt: F32_I32,
  ge: F32_I32,
  and: NONE,
  or: NONE,
  not: NONE,
  select: F32_I32,
  convert: F32_I32,
  reduce_sum: F32_I32,
  reduce_max: F32_I32,
  reduce_min: F32_I32,
  argmax: F32_I32,
  argmin: F32_I32,
  reshape: F32_I32,
  broadcast: F32_I32,
  transpose: F32_I32,
  slice: F32_I32,
  pad: F32_I32,
  concatenate: F32_I32,
  matmul: F32_I32,
  gather: F32_I32,
  scatter_add: F32_I32,
  cumsum: F32_I32,
  rev: F32_I32,
  argsort: F32_I32,
  solve: F32,
  triangular_solve: F32,
  slogdet: F32,
  det: F32,
  cofactor: F32,
  cholesky: F32,
  qr: F32,
  eigh: F32,
  svd: F32,
  lu: F32,
  expm: F32,
  expm_frechet: F32,
  random_bits: NONE,
  random_uniform: NONE,
  lgamma: F32,
  digamma: F32,
  polygamma: F32,
  erfc: F32,
  erfinv: F32,
  xlogy: F32,
  xlog1py: F32,
  conv: F32,
  scatter_mul: F32_I32,
  scatter_min: F32_I32,
  scatter_max: F32_I32,
  custom_jvp_call: NONE,
  custom_vjp_call: NONE,
  custom_vjp_lin: NONE,
  while_loop: NONE,
  cond: NONE,
} satisfies { [P in Prim]: readonly VariantDType[] };

/** Rows whose missing variants are not checked for rejection: opaque wrappers accept any operand. */
export const OPAQUE_VARIANTS: readonly Prim[] = ["custom_jvp_call", "custom_vjp_call", "custom_vjp_lin"];
