/**
 * Raw kernels over typed-array storage. Inputs are assumed valid (the shape
 * rules in the primitive table have checked them); every kernel allocates its
 * output and never writes to an input.
 */
import { ConcreteArray } from "./ndarray.js";
import { DType, TypedArray, allocate } from "./dtype.js";
import { Shape, shapesEqual, sizeOf, stridesOf } from "./shape.js";
import { wasmMatmul } from "./wasmMatmul.js";

/** Strides of `inShape` aligned to `outShape` (0 on broadcast axes). */
function bcastStrides(inShape: Shape, outShape: Shape): number[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  const out = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < inShape.length; i++) out[off + i] = inShape[i] === 1 ? 0 : st[i]!;
  return out;
}

type UnaryLoop = (d: TypedArray, out: TypedArray, n: number) => void;
type BinaryLoop = (a: TypedArray, b: TypedArray, out: TypedArray, n: number, mode: number) => void;

/**
 * Loops specialised per scalar function: each is a separately generated
 * function, so its call to `f` stays monomorphic and V8 inlines it (a single
 * shared loop sees every `f` and calls them indirectly). Where code
 * generation is not allowed (a Content-Security-Policy without unsafe-eval),
 * the generic loops below are used.
 */
const UNARY_LOOPS = new WeakMap<Function, UnaryLoop>();
const BINARY_LOOPS = new WeakMap<Function, BinaryLoop>();
let specialise = true;

function genericUnary(f: (v: number) => number): UnaryLoop {
  return (d, out, n) => {
    for (let i = 0; i < n; i++) out[i] = f(d[i]!);
  };
}

function unaryLoop(f: (v: number) => number): UnaryLoop {
  let loop = UNARY_LOOPS.get(f);
  if (loop === undefined) {
    loop = genericUnary(f);
    if (specialise)
      try {
        loop = new Function(
          "f",
          '"use strict"; return function unary(d, out, n) { for (let i = 0; i < n; i++) out[i] = f(d[i]); };',
        )(f) as UnaryLoop;
      } catch {
        specialise = false;
      }
    UNARY_LOOPS.set(f, loop);
  }
  return loop;
}

// mode 0: both full; 1: a is a single element; 2: b is a single element
const BINARY_BODY =
  '"use strict"; return function binary(a, b, out, n, mode) {' +
  " if (mode === 0) { for (let i = 0; i < n; i++) out[i] = f(a[i], b[i]); }" +
  " else if (mode === 1) { const av = a[0]; for (let i = 0; i < n; i++) out[i] = f(av, b[i]); }" +
  " else { const bv = b[0]; for (let i = 0; i < n; i++) out[i] = f(a[i], bv); } };";

function binaryLoop(f: (x: number, y: number) => number): BinaryLoop {
  let loop = BINARY_LOOPS.get(f);
  if (loop === undefined) {
    loop = (a, b, out, n, mode) => {
      if (mode === 0) for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
      else if (mode === 1) for (let i = 0; i < n; i++) out[i] = f(a[0]!, b[i]!);
      else for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[0]!);
    };
    if (specialise)
      try {
        loop = new Function("f", BINARY_BODY)(f) as BinaryLoop;
      } catch {
        specialise = false;
      }
    BINARY_LOOPS.set(f, loop);
  }
  return loop;
}

export function unary(x: ConcreteArray, dtype: DType, weak: boolean, f: (v: number) => number): ConcreteArray {
  const n = x.data.length;
  const out = allocate(dtype, n);
  unaryLoop(f)(x.data, out, n);
  return new ConcreteArray(out, x.shape, dtype, weak);
}

export function binary(
  a: ConcreteArray,
  b: ConcreteArray,
  shape: Shape,
  dtype: DType,
  weak: boolean,
  f: (x: number, y: number) => number,
): ConcreteArray {
  const n = sizeOf(shape);
  const out = allocate(dtype, n);
  const ad = a.data;
  const bd = b.data;
  if (shapesEqual(a.shape, shape) && shapesEqual(b.shape, shape)) binaryLoop(f)(ad, bd, out, n, 0);
  else if (ad.length === 1 && shapesEqual(b.shape, shape)) binaryLoop(f)(ad, bd, out, n, 1);
  else if (bd.length === 1 && shapesEqual(a.shape, shape)) binaryLoop(f)(ad, bd, out, n, 2);
  else if (n > 0) {
    const nd = shape.length;
    const sa = bcastStrides(a.shape, shape);
    const sb = bcastStrides(b.shape, shape);
    const idx = new Int32Array(nd);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < n; i++) {
      out[i] = f(ad[ia]!, bd[ib]!);
      for (let k = nd - 1; k >= 0; k--) {
        ia += sa[k]!;
        ib += sb[k]!;
        if (++idx[k]! < shape[k]!) break;
        ia -= sa[k]! * shape[k]!;
        ib -= sb[k]! * shape[k]!;
        idx[k] = 0;
      }
    }
  }
  return new ConcreteArray(out, shape, dtype, weak);
}

export function select(
  c: ConcreteArray,
  x: ConcreteArray,
  y: ConcreteArray,
  shape: Shape,
  dtype: DType,
  weak: boolean,
): ConcreteArray {
  const n = sizeOf(shape);
  const out = allocate(dtype, n);
  const nd = shape.length;
  const sc = bcastStrides(c.shape, shape);
  const sx = bcastStrides(x.shape, shape);
  const sy = bcastStrides(y.shape, shape);
  const idx = new Int32Array(nd);
  let ic = 0;
  let ix = 0;
  let iy = 0;
  const cd = c.data;
  const xd = x.data;
  const yd = y.data;
  for (let i = 0; i < n; i++) {
    out[i] = cd[ic] ? xd[ix]! : yd[iy]!;
    for (let k = nd - 1; k >= 0; k--) {
      ic += sc[k]!;
      ix += sx[k]!;
      iy += sy[k]!;
      if (++idx[k]! < shape[k]!) break;
      ic -= sc[k]! * shape[k]!;
      ix -= sx[k]! * shape[k]!;
      iy -= sy[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return new ConcreteArray(out, shape, dtype, weak);
}

/** Copies `x` to a new array of `dtype` (float to int truncates toward zero, to bool tests != 0). */
export function cast(x: ConcreteArray, dtype: DType, weak = false): ConcreteArray {
  const n = x.data.length;
  const out = allocate(dtype, n);
  const d = x.data;
  if (dtype === "bool") for (let i = 0; i < n; i++) out[i] = d[i] !== 0 ? 1 : 0;
  else if (dtype === "int32") for (let i = 0; i < n; i++) out[i] = Math.trunc(d[i]!);
  else out.set(d);
  return new ConcreteArray(out, x.shape, dtype, weak);
}

/** Reduces over `axes` (sorted); `combine` folds into an accumulator started at `init`. */
export function reduce(
  x: ConcreteArray,
  axes: readonly number[],
  dtype: DType,
  init: number,
  combine: (acc: number, v: number) => number,
): ConcreteArray {
  const shape = x.shape;
  const nd = shape.length;
  const outShape = shape.filter((_, i) => !axes.includes(i));
  const m = sizeOf(outShape);
  const acc = new Float64Array(m).fill(init);
  const d = x.data;
  const n = d.length;
  if (axes.length === nd) {
    let a = init;
    for (let i = 0; i < n; i++) a = combine(a, d[i]!);
    acc[0] = a;
  } else if (n > 0) {
    const ost = stridesOf(outShape);
    const so = new Array<number>(nd).fill(0);
    let j = 0;
    for (let i = 0; i < nd; i++) if (!axes.includes(i)) so[i] = ost[j++]!;
    const idx = new Int32Array(nd);
    let o = 0;
    for (let i = 0; i < n; i++) {
      acc[o] = combine(acc[o]!, d[i]!);
      for (let k = nd - 1; k >= 0; k--) {
        o += so[k]!;
        if (++idx[k]! < shape[k]!) break;
        o -= so[k]! * shape[k]!;
        idx[k] = 0;
      }
    }
  }
  const out = allocate(dtype, m);
  out.set(acc);
  return new ConcreteArray(out, outShape, dtype);
}

/** Index of the first maximum (or minimum) along one axis; NaN counts as the extreme. */
export function argReduce(x: ConcreteArray, axis: number, isMax: boolean): ConcreteArray {
  const shape = x.shape;
  const outShape = shape.filter((_, i) => i !== axis);
  const len = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const outer = sizeOf(shape.slice(0, axis));
  const out = new Int32Array(outer * inner);
  const d = x.data;
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let best = 0;
      let bv = d[o * len * inner + i]!;
      if (!Number.isNaN(bv))
        for (let k = 1; k < len; k++) {
          const v = d[(o * len + k) * inner + i]!;
          if (Number.isNaN(v) || (isMax ? v > bv : v < bv)) {
            best = k;
            bv = v;
            if (Number.isNaN(v)) break;
          }
        }
      out[o * inner + i] = best;
    }
  return new ConcreteArray(out, outShape, "int32");
}

export function broadcastTo(x: ConcreteArray, shape: Shape): ConcreteArray {
  if (shapesEqual(x.shape, shape)) return x;
  const n = sizeOf(shape);
  const out = allocate(x.dtype, n);
  const d = x.data;
  if (d.length === 1) out.fill(d[0]!);
  else if (n > 0) {
    const nd = shape.length;
    const s = bcastStrides(x.shape, shape);
    const idx = new Int32Array(nd);
    let ix = 0;
    for (let i = 0; i < n; i++) {
      out[i] = d[ix]!;
      for (let k = nd - 1; k >= 0; k--) {
        ix += s[k]!;
        if (++idx[k]! < shape[k]!) break;
        ix -= s[k]! * shape[k]!;
        idx[k] = 0;
      }
    }
  }
  return new ConcreteArray(out, shape, x.dtype, x.weakType);
}

/** Gathers `x` through per-output-axis input strides starting at `base` into `outShape`. */
function gather(x: ConcreteArray, outShape: Shape, inStrides: readonly number[], base: number): TypedArray {
  const n = sizeOf(outShape);
  const out = allocate(x.dtype, n);
  const d = x.data;
  const nd = outShape.length;
  if (n === 0) return out;
  const idx = new Int32Array(nd);
  let ix = base;
  for (let i = 0; i < n; i++) {
    out[i] = d[ix]!;
    for (let k = nd - 1; k >= 0; k--) {
      ix += inStrides[k]!;
      if (++idx[k]! < outShape[k]!) break;
      ix -= inStrides[k]! * outShape[k]!;
      idx[k] = 0;
    }
  }
  return out;
}

export function transpose(x: ConcreteArray, perm: readonly number[]): ConcreteArray {
  const st = stridesOf(x.shape);
  const outShape = perm.map((p) => x.shape[p]!);
  return new ConcreteArray(
    gather(
      x,
      outShape,
      perm.map((p) => st[p]!),
      0,
    ),
    outShape,
    x.dtype,
    x.weakType,
  );
}

export function slice(x: ConcreteArray, begin: readonly number[], end: readonly number[]): ConcreteArray {
  const st = stridesOf(x.shape);
  const outShape = begin.map((b, i) => end[i]! - b);
  let base = 0;
  for (let i = 0; i < begin.length; i++) base += begin[i]! * st[i]!;
  return new ConcreteArray(gather(x, outShape, st, base), outShape, x.dtype, x.weakType);
}

/** Writes `src` into `dst` (of shape `dstShape`) at per-axis offsets `at`. */
function scatterInto(src: ConcreteArray, dst: TypedArray, dstShape: Shape, at: readonly number[]): void {
  const shape = src.shape;
  const n = src.data.length;
  if (n === 0) return;
  const st = stridesOf(dstShape);
  const nd = shape.length;
  let o = 0;
  for (let i = 0; i < nd; i++) o += at[i]! * st[i]!;
  const idx = new Int32Array(nd);
  const d = src.data;
  for (let i = 0; i < n; i++) {
    dst[o] = d[i]!;
    for (let k = nd - 1; k >= 0; k--) {
      o += st[k]!;
      if (++idx[k]! < shape[k]!) break;
      o -= st[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
}

export function pad(x: ConcreteArray, lo: readonly number[], hi: readonly number[]): ConcreteArray {
  const outShape = x.shape.map((d, i) => d + lo[i]! + hi[i]!);
  const out = allocate(x.dtype, sizeOf(outShape));
  scatterInto(x, out, outShape, lo);
  return new ConcreteArray(out, outShape, x.dtype, x.weakType);
}

export function concatenate(xs: readonly ConcreteArray[], axis: number, dtype: DType): ConcreteArray {
  const outShape = xs[0]!.shape.slice();
  outShape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  const out = allocate(dtype, sizeOf(outShape));
  const at = new Array<number>(outShape.length).fill(0);
  for (const x of xs) {
    scatterInto(x, out, outShape, at);
    at[axis]! += x.shape[axis]!;
  }
  return new ConcreteArray(out, outShape, dtype);
}

/** Batched matrix product: a [...B, M, K] times b [...B, K, N] with equal batch dims. */
export function matmul(a: ConcreteArray, b: ConcreteArray, dtype: DType): ConcreteArray {
  const nd = a.shape.length;
  const M = a.shape[nd - 2]!;
  const K = a.shape[nd - 1]!;
  const N = b.shape[nd - 1]!;
  const batchShape = a.shape.slice(0, nd - 2);
  const B = sizeOf(batchShape);
  // WebAssembly SIMD when available and the product is large enough (float32 then accumulates in float32, as peers do)
  if ((dtype === "float32" || dtype === "float64") && B > 0) {
    const out = allocate(dtype, B * M * N);
    let ok = true;
    for (let bi = 0; bi < B && ok; bi++) {
      const c = wasmMatmul(
        a.data.subarray(bi * M * K, (bi + 1) * M * K),
        b.data.subarray(bi * K * N, (bi + 1) * K * N),
        M,
        K,
        N,
        dtype,
      );
      if (c === null) ok = false;
      else out.set(c, bi * M * N);
    }
    if (ok) return new ConcreteArray(out, [...batchShape, M, N], dtype);
  }
  const acc = new Float64Array(B * M * N);
  matmulF64(f64(a.data), f64(b.data), acc, B, M, K, N);
  if (dtype === "float64") return new ConcreteArray(acc, [...batchShape, M, N], dtype);
  const out = allocate(dtype, B * M * N);
  out.set(acc);
  return new ConcreteArray(out, [...batchShape, M, N], dtype);
}

/** The data as Float64Array (no copy when it already is one), so hot loops stay monomorphic. */
function f64(d: TypedArray): Float64Array {
  return d instanceof Float64Array ? d : Float64Array.from(d);
}

function matmulF64(
  ad: Float64Array,
  bd: Float64Array,
  acc: Float64Array,
  B: number,
  M: number,
  K: number,
  N: number,
): void {
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * M * K;
    const bo = bi * K * N;
    const co = bi * M * N;
    for (let i = 0; i < M; i++) {
      const crow = co + i * N;
      const arow = ao + i * K;
      let k = 0;
      // four rows of b per pass: fewer loads and stores of the accumulator row
      for (; k + 3 < K; k += 4) {
        const a0 = ad[arow + k]!;
        const a1 = ad[arow + k + 1]!;
        const a2 = ad[arow + k + 2]!;
        const a3 = ad[arow + k + 3]!;
        const b0 = bo + k * N;
        const b1 = b0 + N;
        const b2 = b1 + N;
        const b3 = b2 + N;
        for (let j = 0; j < N; j++)
          acc[crow + j] = acc[crow + j]! + a0 * bd[b0 + j]! + a1 * bd[b1 + j]! + a2 * bd[b2 + j]! + a3 * bd[b3 + j]!;
      }
      for (; k < K; k++) {
        const av = ad[arow + k]!;
        const brow = bo + k * N;
        for (let j = 0; j < N; j++) acc[crow + j] = acc[crow + j]! + av * bd[brow + j]!;
      }
    }
  }
}

/** The error function (Abramowitz–Stegun 7.1.26 is too coarse; this uses a series / continued fraction to ~1e-15). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // continued fraction for erfc (Lentz)
  const x2 = ax * ax;
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-x2) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}
