/**
 * Elementwise kernels over typed-array storage: unary and binary maps (with
 * NumPy broadcasting), select and dtype conversion. Inputs are assumed valid
 * (the primitives' shape rules have checked them); every kernel allocates its
 * output and never writes to an input.
 */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes, strides and parameters are read with
// `at` or destructured before the loops.
import { at } from "../core/errors.js";
import { ConcreteArray, firstElement, float64Scalar, storageOf } from "../core/ndarray.js";
import { DType, TypedArray, allocate, allocateOverwritten } from "../core/dtype.js";
import { Shape, shapesEqual, sizeOf } from "../core/shape.js";
import { type Triple, bcastStrides, lastStride, stridedRuns, walk3 } from "./strided.js";
import { eagerKernel } from "./wasm/elementwise.js";

type UnaryLoop = (d: TypedArray, out: TypedArray, n: number) => void;
type BinaryLoop = (a: TypedArray, b: TypedArray, out: TypedArray, n: number, mode: number, m: number) => void;
/** out[o++] = f(a[pa], b[pb]) over dims [n0, n1, n2] in row-major order, pa and pb through strides. */
type StridedLoop = (a: TypedArray, b: TypedArray, out: TypedArray, dims: Triple, sa: Triple, sb: Triple) => void;

/**
 * Loops specialised per scalar function: each is a separately generated
 * function, so its call to `f` stays monomorphic and V8 inlines it (a single
 * shared loop sees every `f` and calls them indirectly). Where code
 * generation is not allowed (a Content-Security-Policy without unsafe-eval),
 * the generic loops below are used.
 */
const UNARY_LOOPS = new WeakMap<Function, UnaryLoop>();
const BINARY_LOOPS = new WeakMap<Function, BinaryLoop>();
const STRIDED_LOOPS = new WeakMap<Function, StridedLoop>();
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

// mode 0: both full; 1: a is a single element; 2: b is a single element; with rows of length m:
// 3: b is one row repeated (broadcast over leading axes); 4: a is; 5: b is one element per row
// (broadcast over trailing axes); 6: a is
const BINARY_BODY =
  '"use strict"; return function binary(a, b, out, n, mode, m) {' +
  " if (mode === 0) { for (let i = 0; i < n; i++) out[i] = f(a[i], b[i]); }" +
  " else if (mode === 1) { const av = a[0]; for (let i = 0; i < n; i++) out[i] = f(av, b[i]); }" +
  " else if (mode === 2) { const bv = b[0]; for (let i = 0; i < n; i++) out[i] = f(a[i], bv); }" +
  " else if (mode === 3) { for (let i = 0; i < n; ) for (let j = 0; j < m; j++, i++) out[i] = f(a[i], b[j]); }" +
  " else if (mode === 4) { for (let i = 0; i < n; ) for (let j = 0; j < m; j++, i++) out[i] = f(a[j], b[i]); }" +
  " else if (mode === 5) { for (let i = 0, r = 0; i < n; r++) { const bv = b[r]; for (let j = 0; j < m; j++, i++) out[i] = f(a[i], bv); } }" +
  " else { for (let i = 0, r = 0; i < n; r++) { const av = a[r]; for (let j = 0; j < m; j++, i++) out[i] = f(av, b[i]); } } };";

/** Generic loops of the modes above (where code generation is not allowed). */
function genericBinary(f: (x: number, y: number) => number): BinaryLoop {
  return (a, b, out, n, mode, m) => {
    if (mode === 0) for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
    else if (mode === 1) {
      const av = at(a, 0, "binary");
      for (let i = 0; i < n; i++) out[i] = f(av, b[i]!);
    } else if (mode === 2) {
      const bv = at(b, 0, "binary");
      for (let i = 0; i < n; i++) out[i] = f(a[i]!, bv);
    } else if (mode === 3) for (let i = 0; i < n;) for (let j = 0; j < m; j++, i++) out[i] = f(a[i]!, b[j]!);
    else if (mode === 4) for (let i = 0; i < n;) for (let j = 0; j < m; j++, i++) out[i] = f(a[j]!, b[i]!);
    else if (mode === 5) for (let i = 0, r = 0; i < n; r++) for (let j = 0; j < m; j++, i++) out[i] = f(a[i]!, b[r]!);
    else for (let i = 0, r = 0; i < n; r++) for (let j = 0; j < m; j++, i++) out[i] = f(a[r]!, b[i]!);
  };
}

/**
 * How an operand of shape `s` (size elements) lies over the output `shape` (n elements, neither
 * empty): "full" when the shapes agree; m > 0 when it is one row of length m repeated (broadcast
 * over leading axes only); -m when it is one element per row of length m (broadcast over
 * trailing axes only); 0 otherwise (a general broadcast).
 */
function layout(s: Shape, shape: Shape, size: number, n: number): "full" | number {
  if (shapesEqual(s, shape)) return "full";
  const off = shape.length - s.length;
  // leading axes broadcast: past its leading unit axes, the operand's shape is the output's suffix
  let k = 0;
  while (k < s.length && s[k] === 1) k++;
  let suffix = true;
  for (let i = k; i < s.length; i++) if (s[i] !== shape[off + i]) suffix = false;
  if (suffix) return size;
  // trailing axes broadcast: same rank, the operand's axes before its trailing unit axes agree
  if (off !== 0) return 0;
  let e = s.length;
  while (e > 0 && s[e - 1] === 1) e--;
  for (let i = 0; i < e; i++) if (s[i] !== shape[i]) return 0;
  return -(n / size);
}

function binaryLoop(f: (x: number, y: number) => number): BinaryLoop {
  let loop = BINARY_LOOPS.get(f);
  if (loop === undefined) {
    loop = genericBinary(f);
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

// the general broadcast over a walk of at most three merged axes (see walk3)
const STRIDED_BODY =
  '"use strict"; return function strided(a, b, out, [n0, n1, n2], [a0, a1, a2], [b0, b1, b2]) {' +
  " let o = 0;" +
  " for (let i0 = 0, p0 = 0, q0 = 0; i0 < n0; i0++, p0 += a0, q0 += b0)" +
  " for (let i1 = 0, p1 = p0, q1 = q0; i1 < n1; i1++, p1 += a1, q1 += b1)" +
  " for (let i2 = 0, p = p1, q = q1; i2 < n2; i2++, p += a2, q += b2) out[o++] = f(a[p], b[q]); };";

/** The generic loop of STRIDED_BODY (where code generation is not allowed). */
function genericStrided(f: (x: number, y: number) => number): StridedLoop {
  return (a, b, out, [n0, n1, n2], [a0, a1, a2], [b0, b1, b2]) => {
    let o = 0;
    for (let i0 = 0, p0 = 0, q0 = 0; i0 < n0; i0++, p0 += a0, q0 += b0)
      for (let i1 = 0, p1 = p0, q1 = q0; i1 < n1; i1++, p1 += a1, q1 += b1)
        for (let i2 = 0, p = p1, q = q1; i2 < n2; i2++, p += a2, q += b2) out[o++] = f(a[p]!, b[q]!);
  };
}

function stridedLoop(f: (x: number, y: number) => number): StridedLoop {
  let loop = STRIDED_LOOPS.get(f);
  if (loop === undefined) {
    loop = genericStrided(f);
    if (specialise)
      try {
        loop = new Function("f", STRIDED_BODY)(f) as StridedLoop;
      } catch {
        specialise = false;
      }
    STRIDED_LOOPS.set(f, loop);
  }
  return loop;
}

export function unary(x: ConcreteArray, dtype: DType, weak: boolean, f: (v: number) => number): ConcreteArray {
  // float64 0-d: the element as a number in and out, no typed array (issue 8)
  if (dtype === "float64" && x.shape.length === 0) return float64Scalar(f(firstElement(x)), weak);
  const n = x.size;
  const out = allocateOverwritten(dtype, n); // every element written below
  // one element: no loop to look up and call (and no storage made for a number-backed 0-d x)
  if (n === 1) out[0] = f(firstElement(x));
  else {
    const xd = storageOf(x);
    // large float arrays: the compiled WebAssembly loop (wasm branch), else the JS loop
    const k = x.dtype === dtype ? eagerKernel(f, 1, 0, dtype, n) : null;
    if (k === null || k([xd], [out], n) === null) unaryLoop(f)(xd, out, n);
  }
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
  // float64 0-d operands and result: elements as numbers, no typed array (issue 8)
  if (dtype === "float64" && shape.length === 0) return float64Scalar(f(firstElement(a), firstElement(b)), weak);
  const n = sizeOf(shape);
  const out = allocateOverwritten(dtype, n); // every element written below
  const ad = storageOf(a);
  const bd = storageOf(b);
  // one element each (any shapes of size 1): no loop to look up and call
  if (n === 1 && ad.length === 1 && bd.length === 1) {
    out[0] = f(at(ad, 0, "binary"), at(bd, 0, "binary"));
    return new ConcreteArray(out, shape, dtype, weak);
  }
  const mode =
    shapesEqual(a.shape, shape) && shapesEqual(b.shape, shape)
      ? 0
      : ad.length === 1 && shapesEqual(b.shape, shape)
        ? 1
        : bd.length === 1 && shapesEqual(a.shape, shape)
          ? 2
          : -1;
  // large float arrays: the compiled WebAssembly loop (wasm branch), else the JS loop
  const k = mode >= 0 && a.dtype === dtype && b.dtype === dtype ? eagerKernel(f, 2, mode, dtype, n) : null;
  if (k !== null && k([ad, bd], [out], n) !== null) return new ConcreteArray(out, shape, dtype, weak);
  if (mode >= 0) binaryLoop(f)(ad, bd, out, n, mode, 0);
  else if (n > 0) broadcastBinary(a, b, ad, bd, out, shape, n, f);
  return new ConcreteArray(out, shape, dtype, weak);
}

/** The binary map of operands broadcast to `shape` (n > 0 elements) into `out`. */
function broadcastBinary(
  a: ConcreteArray,
  b: ConcreteArray,
  ad: TypedArray,
  bd: TypedArray,
  out: TypedArray,
  shape: Shape,
  n: number,
  f: (x: number, y: number) => number,
): void {
  // one operand full, the other a row repeated or one element per row (a bias, a softmax's
  // max): loops without strides (the same elements in the same order as the strided walk)
  const la = layout(a.shape, shape, ad.length, n);
  const lb = layout(b.shape, shape, bd.length, n);
  if (la === "full" && typeof lb === "number" && lb !== 0) binaryLoop(f)(ad, bd, out, n, lb > 0 ? 3 : 5, Math.abs(lb));
  else if (lb === "full" && typeof la === "number" && la !== 0)
    binaryLoop(f)(ad, bd, out, n, la > 0 ? 4 : 6, Math.abs(la));
  else {
    const sa = bcastStrides(a.shape, shape);
    const sb = bcastStrides(b.shape, shape);
    const w = walk3(shape, [sa, sb]);
    if (w !== null) {
      stridedLoop(f)(ad, bd, out, w.dims, at(w.strides, 0, "binary"), at(w.strides, 1, "binary"));
      return;
    }
    const ia = lastStride(sa);
    const ib = lastStride(sb);
    let o = 0;
    stridedRuns(shape, [sa, sb], (len, pa, pb) => {
      for (let j = 0; j < len; j++, pa += ia, pb += ib) out[o++] = f(ad[pa]!, bd[pb]!);
    });
  }
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
  const sc = bcastStrides(c.shape, shape);
  const sx = bcastStrides(x.shape, shape);
  const sy = bcastStrides(y.shape, shape);
  const [ic, ix, iy] = [lastStride(sc), lastStride(sx), lastStride(sy)];
  const cd = storageOf(c);
  const xd = storageOf(x);
  const yd = storageOf(y);
  let o = 0;
  stridedRuns(shape, [sc, sx, sy], (len, pc, px, py) => {
    for (let j = 0; j < len; j++, pc += ic, px += ix, py += iy) out[o++] = cd[pc] ? xd[px]! : yd[py]!;
  });
  return new ConcreteArray(out, shape, dtype, weak);
}

/** Copies `x` to a new array of `dtype` (float to int truncates toward zero, to bool tests != 0). */
export function cast(x: ConcreteArray, dtype: DType, weak = false): ConcreteArray {
  const n = storageOf(x).length;
  const out = allocate(dtype, n);
  const d = storageOf(x);
  if (dtype === "bool") for (let i = 0; i < n; i++) out[i] = d[i] !== 0 ? 1 : 0;
  else if (dtype === "int32") for (let i = 0; i < n; i++) out[i] = Math.trunc(d[i]!);
  else out.set(d);
  return new ConcreteArray(out, x.shape, dtype, weak);
}
