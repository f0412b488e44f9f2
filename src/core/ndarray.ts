/**
 * The immutable n-d array. {@link NDArray} is the public type; concrete
 * arrays ({@link ConcreteArray}) own typed-array storage, and tracers (see
 * `trace.ts`) are NDArrays that stand for values during a transform.
 */
import type * as OpsNS from "../ops/ops.js";
import { DTypeError, NablaError, ShapeError, fmtShape } from "./errors.js";
import { DType, TypedArray, allocate, isDType } from "./dtype.js";
import { Shape, checkShape, sizeOf, stridesOf } from "./shape.js";

/** Nested JS arrays of numbers or booleans. */
export type Nested = number | boolean | readonly Nested[];
/** Anything an operation accepts where an array is expected. */
export type ArrayLike = NDArray | Nested | Float32Array | Float64Array | Int32Array;

type Ops = typeof OpsNS;
let OPS: Ops | null = null;
/** @internal Installs the op implementations behind the NDArray methods (done by `ops.ts`). */
export function installOps(ops: Ops): void {
  OPS = ops;
}
function ops(): Ops {
  if (OPS === null) throw new NablaError("nabla: operations are not loaded (import from the package entry)");
  return OPS;
}

type AxisArg = number | readonly number[] | undefined;

/**
 * An immutable n-dimensional array of float64, float32, int32 or bool.
 * Every operation returns a new array; nothing mutates an input.
 * @example
 * const x = nb.array([[1, 2], [3, 4]]);
 * x.shape; // [2, 2]
 * x.mul(2).sum().item(); // 20
 */
export abstract class NDArray {
  abstract readonly shape: Shape;
  abstract readonly dtype: DType;
  /** @internal True for arrays made from bare JS scalars (JAX's weak types). */
  abstract readonly weakType: boolean;

  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** @internal The concrete value of this array (a tracer's concrete primal), or a TracerError. */
  abstract concrete(op: string): ConcreteArray;

  /** Nested JS arrays of the values (a plain number or boolean for 0-d arrays). */
  toArray(): Nested {
    return this.concrete("toArray").toArray();
  }
  /** The single element of a size-1 array as a number; ShapeError otherwise. */
  item(): number {
    const c = this.concrete("item");
    if (c.size !== 1)
      throw new ShapeError(`item: array of shape ${fmtShape(c.shape)} has ${c.size} elements, expected 1`);
    return Number(c.data[0]);
  }
  /** JS coercion (`x > 0`, `+x`) gives the element of a size-1 array. */
  valueOf(): number {
    const c = this.concrete("valueOf");
    if (c.size !== 1)
      throw new ShapeError(`valueOf: array of shape ${fmtShape(c.shape)} cannot be used as a number; use toArray()`);
    return Number(c.data[0]);
  }
  [Symbol.toPrimitive](hint: string): number | string {
    if (hint === "string") return this.toString();
    if (hint === "default" && this.size !== 1) return this.toString();
    return this.valueOf();
  }
  /** A fresh copy of the elements in row-major order. */
  toTypedArray(): TypedArray {
    return this.concrete("toTypedArray").data.slice();
  }
  /** This array converted to another dtype. */
  astype(dtype: DType): NDArray {
    return ops().astype(this, dtype);
  }

  // ---- elementwise ----
  add(y: ArrayLike): NDArray {
    return ops().add(this, y);
  }
  sub(y: ArrayLike): NDArray {
    return ops().sub(this, y);
  }
  mul(y: ArrayLike): NDArray {
    return ops().mul(this, y);
  }
  div(y: ArrayLike): NDArray {
    return ops().div(this, y);
  }
  pow(y: ArrayLike): NDArray {
    return ops().pow(this, y);
  }
  maximum(y: ArrayLike): NDArray {
    return ops().maximum(this, y);
  }
  minimum(y: ArrayLike): NDArray {
    return ops().minimum(this, y);
  }
  arctan2(x: ArrayLike): NDArray {
    return ops().arctan2(this, x);
  }
  neg(): NDArray {
    return ops().neg(this);
  }
  exp(): NDArray {
    return ops().exp(this);
  }
  log(): NDArray {
    return ops().log(this);
  }
  log1p(): NDArray {
    return ops().log1p(this);
  }
  expm1(): NDArray {
    return ops().expm1(this);
  }
  sin(): NDArray {
    return ops().sin(this);
  }
  cos(): NDArray {
    return ops().cos(this);
  }
  tan(): NDArray {
    return ops().tan(this);
  }
  tanh(): NDArray {
    return ops().tanh(this);
  }
  sinh(): NDArray {
    return ops().sinh(this);
  }
  cosh(): NDArray {
    return ops().cosh(this);
  }
  arcsin(): NDArray {
    return ops().arcsin(this);
  }
  arccos(): NDArray {
    return ops().arccos(this);
  }
  arctan(): NDArray {
    return ops().arctan(this);
  }
  sqrt(): NDArray {
    return ops().sqrt(this);
  }
  square(): NDArray {
    return ops().square(this);
  }
  reciprocal(): NDArray {
    return ops().reciprocal(this);
  }
  abs(): NDArray {
    return ops().abs(this);
  }
  sign(): NDArray {
    return ops().sign(this);
  }
  floor(): NDArray {
    return ops().floor(this);
  }
  ceil(): NDArray {
    return ops().ceil(this);
  }
  round(): NDArray {
    return ops().round(this);
  }
  sigmoid(): NDArray {
    return ops().sigmoid(this);
  }
  relu(): NDArray {
    return ops().relu(this);
  }
  softplus(): NDArray {
    return ops().softplus(this);
  }
  erf(): NDArray {
    return ops().erf(this);
  }
  // ---- comparison and logic ----
  equal(y: ArrayLike): NDArray {
    return ops().equal(this, y);
  }
  notEqual(y: ArrayLike): NDArray {
    return ops().notEqual(this, y);
  }
  less(y: ArrayLike): NDArray {
    return ops().less(this, y);
  }
  lessEqual(y: ArrayLike): NDArray {
    return ops().lessEqual(this, y);
  }
  greater(y: ArrayLike): NDArray {
    return ops().greater(this, y);
  }
  greaterEqual(y: ArrayLike): NDArray {
    return ops().greaterEqual(this, y);
  }
  logicalAnd(y: ArrayLike): NDArray {
    return ops().logicalAnd(this, y);
  }
  logicalOr(y: ArrayLike): NDArray {
    return ops().logicalOr(this, y);
  }
  logicalNot(): NDArray {
    return ops().logicalNot(this);
  }
  clip(lo: ArrayLike, hi: ArrayLike): NDArray {
    return ops().clip(this, lo, hi);
  }
  // ---- reductions ----
  sum(axis?: AxisArg, keepdims = false): NDArray {
    return ops().sum(this, axis, keepdims);
  }
  mean(axis?: AxisArg, keepdims = false): NDArray {
    return ops().mean(this, axis, keepdims);
  }
  prod(axis?: AxisArg, keepdims = false): NDArray {
    return ops().prod(this, axis, keepdims);
  }
  max(axis?: AxisArg, keepdims = false): NDArray {
    return ops().max(this, axis, keepdims);
  }
  min(axis?: AxisArg, keepdims = false): NDArray {
    return ops().min(this, axis, keepdims);
  }
  logsumexp(axis?: AxisArg, keepdims = false): NDArray {
    return ops().logsumexp(this, axis, keepdims);
  }
  argmax(axis?: number, keepdims = false): NDArray {
    return ops().argmax(this, axis, keepdims);
  }
  argmin(axis?: number, keepdims = false): NDArray {
    return ops().argmin(this, axis, keepdims);
  }
  // ---- shape ----
  reshape(shape: Shape): NDArray {
    return ops().reshape(this, shape);
  }
  transpose(perm?: readonly number[]): NDArray {
    return ops().transpose(this, perm);
  }
  /** The transpose (axes reversed). */
  get T(): NDArray {
    return ops().transpose(this);
  }
  broadcastTo(shape: Shape): NDArray {
    return ops().broadcastTo(this, shape);
  }
  expandDims(axis: number): NDArray {
    return ops().expandDims(this, axis);
  }
  squeeze(axis?: number | readonly number[]): NDArray {
    return ops().squeeze(this, axis);
  }
  slice(begin: readonly number[], end: readonly number[]): NDArray {
    return ops().slice(this, begin, end);
  }
  take(indices: ArrayLike, axis?: number): NDArray {
    return ops().take(this, indices, axis);
  }
  flatten(): NDArray {
    return ops().reshape(this, [-1]);
  }
  cumsum(axis?: number): NDArray {
    return ops().cumsum(this, axis);
  }
  cumprod(axis?: number): NDArray {
    return ops().cumprod(this, axis);
  }
  flip(axis?: number | readonly number[]): NDArray {
    return ops().flip(this, axis);
  }
  sort(axis = -1): NDArray {
    return ops().sort(this, axis);
  }
  argsort(axis = -1): NDArray {
    return ops().argsort(this, axis);
  }
  // ---- linear algebra ----
  matmul(y: ArrayLike): NDArray {
    return ops().matmul(this, y);
  }
  dot(y: ArrayLike): NDArray {
    return ops().dot(this, y);
  }
  softmax(axis = -1): NDArray {
    return ops().softmax(this, axis);
  }
  logSoftmax(axis = -1): NDArray {
    return ops().logSoftmax(this, axis);
  }
}

/**
 * @internal An array with storage. `data` is owned by the array and never
 * handed out: `toTypedArray()` copies.
 */
export class ConcreteArray extends NDArray {
  /** A frozen array. */
  readonly shape: Shape;
  constructor(
    readonly data: TypedArray,
    shape: Shape,
    readonly dtype: DType,
    readonly weakType: boolean = false,
  ) {
    super();
    this.shape = frozenShape(shape);
    // shape, dtype and the storage reference cannot be reassigned
    Object.freeze(this);
  }
  concrete(): ConcreteArray {
    return this;
  }
  override toArray(): Nested {
    const { data, shape, dtype } = this;
    const conv = dtype === "bool" ? (v: number) => v !== 0 : (v: number) => v;
    if (shape.length === 0) return conv(data[0]!);
    const strides = stridesOf(shape);
    const rec = (axis: number, off: number): Nested[] => {
      const out: Nested[] = [];
      for (let i = 0; i < shape[axis]!; i++) {
        const o = off + i * strides[axis]!;
        out.push(axis === shape.length - 1 ? conv(data[o]!) : rec(axis + 1, o));
      }
      return out;
    };
    return rec(0, 0);
  }
  override toString(): string {
    return formatArray(this);
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return formatArray(this);
  }
}

const EMPTY_SHAPE: Shape = Object.freeze([]);
/** Frozen 1-d shapes by length, shared (bounded), so the common case allocates and freezes nothing. */
const SHAPES_1D = new Map<number, Shape>();

/**
 * @internal `shape` as a frozen array: itself when already frozen, else frozen in place (or a shared
 * equal frozen shape). Only the library's own arrays reach here: public functions copy the shapes
 * they are given (checkShape), so a caller's array is never frozen. Frozen arrays are slow in some
 * V8 builtins (slice, every), which is why 0-d and 1-d shapes are shared instead of frozen anew.
 */
export function frozenShape(shape: Shape): Shape {
  if (Object.isFrozen(shape)) return shape;
  if (shape.length === 0) return EMPTY_SHAPE;
  if (shape.length === 1) {
    const d = shape[0]!;
    let s = SHAPES_1D.get(d);
    if (s === undefined) {
      s = Object.freeze(shape);
      if (SHAPES_1D.size < 4096) SHAPES_1D.set(d, s);
    }
    return s;
  }
  return Object.freeze(shape);
}

function formatSpecial(v: number): string | null {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return null;
}

/** Decimal digits after the point needed to show `v` at 8-digit precision. */
function decimalsNeeded(s: string): number {
  const frac = s.split(".")[1] ?? "";
  return frac.replace(/0+$/, "").length;
}

/** Formats the elements NumPy-style: shared precision, fixed or scientific notation for the whole array. */
function formatElements(data: TypedArray, dtype: DType): string[] {
  const vals: number[] = Array.from(data as Float64Array);
  if (dtype === "bool") return vals.map((v) => (v ? "True" : "False"));
  if (dtype === "int32") return vals.map(String);
  const finite = vals.filter((v) => Number.isFinite(v));
  const allInt = finite.every((v) => Number.isInteger(v));
  const maxAbs = finite.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const minAbs = finite.filter((v) => v !== 0).reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
  const sci = maxAbs >= 1e16 || (!allInt && (minAbs < 1e-4 || maxAbs >= 1e8 || maxAbs / minAbs > 1e3));
  if (sci) {
    const parts = finite.map((v) => v.toExponential(8));
    const dec = Math.max(0, ...parts.map((p) => decimalsNeeded(p.split("e")[0]!)));
    return vals.map((v) => {
      const sp = formatSpecial(v);
      if (sp !== null) return sp;
      const [m, e] = v.toExponential(dec).split("e") as [string, string];
      const sign = e[0] === "-" ? "-" : "+";
      const digits = e.replace(/^[+-]/, "").padStart(2, "0");
      return `${dec === 0 ? `${m}.` : m}e${sign}${digits}`;
    });
  }
  if (allInt) return vals.map((v) => formatSpecial(v) ?? `${v === 0 ? 0 : v}.`);
  const dec = Math.max(0, ...finite.map((v) => decimalsNeeded(v.toFixed(8))));
  // NumPy style: shared precision, trailing zeros shown as spaces so the points align
  return vals.map((v) => {
    const sp = formatSpecial(v);
    if (sp !== null) return sp;
    let t = v.toFixed(dec);
    if (t === `-${(0).toFixed(dec)}`) t = (0).toFixed(dec);
    const trimmed = t.replace(/0+$/, "");
    return trimmed.padEnd(t.length, " ");
  });
}

/** Arrays larger than this print summarised, NumPy-style: 3 items at each end of long axes. */
const SUMMARY_THRESHOLD = 1000;
const EDGE_ITEMS = 3;

function formatArray(x: ConcreteArray): string {
  const { data, shape, dtype } = x;
  const suffix = dtype === "float64" ? "" : `, dtype=${dtype}`;
  const summarise = data.length > SUMMARY_THRESHOLD;
  // indices shown along an axis (-1 marks the "..." gap)
  const shown = (d: number): number[] =>
    summarise && d > 2 * EDGE_ITEMS
      ? [
          ...Array.from({ length: EDGE_ITEMS }, (_, i) => i),
          -1,
          ...Array.from({ length: EDGE_ITEMS }, (_, i) => d - EDGE_ITEMS + i),
        ]
      : Array.from({ length: d }, (_, i) => i);
  const strides = stridesOf(shape);
  // format only the elements that are shown, so precision and width follow them (as NumPy does)
  const offsets: number[] = [];
  const collect = (axis: number, off: number): void => {
    if (axis === shape.length) {
      offsets.push(off);
      return;
    }
    for (const i of shown(shape[axis]!)) if (i >= 0) collect(axis + 1, off + i * strides[axis]!);
  };
  collect(0, 0);
  const picked = allocate(dtype, offsets.length);
  offsets.forEach((o, k) => (picked[k] = data[o]!));
  const texts = formatElements(picked, dtype);
  const strs = new Map<number, string>(offsets.map((o, k) => [o, texts[k]!]));
  const width = texts.reduce((m, t) => Math.max(m, t.length), 0);
  if (shape.length === 0) return `array(${texts[0]}${suffix})`;
  const rec = (axis: number, off: number, indent: string): string => {
    const parts: string[] = [];
    for (const i of shown(shape[axis]!)) {
      if (i < 0) {
        parts.push("...");
        continue;
      }
      const o = off + i * strides[axis]!;
      parts.push(axis === shape.length - 1 ? strs.get(o)!.padStart(width) : rec(axis + 1, o, indent + " "));
    }
    if (axis === shape.length - 1) return `[${parts.join(", ")}]`;
    const sep = "," + "\n".repeat(shape.length - 1 - axis) + indent + " ";
    return `[${parts.join(sep)}]`;
  };
  return `array(${rec(0, 0, "      ")}${suffix})`;
}

// ---------------------------------------------------------------------------
// Construction from JS values

/** @internal Nested literals deeper than this many axes throw (NumPy's limit; it also stops cyclic arrays). */
export const MAX_LITERAL_RANK = 64;

/** @internal The error for a nested literal deeper than {@link MAX_LITERAL_RANK} axes. */
export function tooDeep(op: string): ShapeError {
  return new ShapeError(`${op}: nested arrays deeper than ${MAX_LITERAL_RANK} axes (or a cyclic array)`);
}

/** @internal Wraps a JS number as a 0-d array; weak when it stands for a bare scalar operand. */
export function scalar(v: number, dtype: DType = "float64", weak = false): ConcreteArray {
  const d = allocate(dtype, 1);
  d[0] = v;
  return new ConcreteArray(d, [], dtype, weak);
}

function typedDType(t: unknown): DType | null {
  if (t instanceof Float64Array) return "float64";
  if (t instanceof Float32Array) return "float32";
  if (t instanceof Int32Array) return "int32";
  return null;
}

/** @internal Converts nested JS arrays (no NDArray leaves) to a concrete array. */
export function fromNested(data: Nested, dtype: DType | undefined, op = "array"): ConcreteArray {
  const shape: number[] = [];
  let probe: Nested = data;
  while (Array.isArray(probe)) {
    if (shape.length >= MAX_LITERAL_RANK) throw tooDeep(op);
    shape.push(probe.length);
    probe = probe.length > 0 ? (probe[0] as Nested) : 0;
  }
  const n = sizeOf(shape);
  const flat: (number | boolean)[] = new Array(n);
  let k = 0;
  let allBool = n > 0;
  const walk = (v: Nested, axis: number): void => {
    if (axis === shape.length) {
      if (Array.isArray(v)) throw new ShapeError(`${op}: ragged nested array (expected shape ${fmtShape(shape)})`);
      if (typeof v === "boolean") flat[k++] = v;
      else if (typeof v === "number") {
        allBool = false;
        flat[k++] = v;
      } else throw new ShapeError(`${op}: unsupported element ${String(v)}`);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis])
      throw new ShapeError(`${op}: ragged nested array (expected shape ${fmtShape(shape)})`);
    for (const e of v as readonly Nested[]) walk(e, axis + 1);
  };
  walk(data, 0);
  if (shape.length === 0 && typeof data === "boolean") allBool = true;
  const dt: DType = dtype ?? (allBool ? "bool" : "float64");
  const out = allocate(dt, n);
  for (let i = 0; i < n; i++) out[i] = Number(flat[i]);
  return new ConcreteArray(out, shape, dt);
}

/**
 * Creates an array. JS numbers become float64, booleans bool; typed arrays
 * keep their element type (and are copied).
 * @example
 * nb.array([[1, 2], [3, 4]]);                 // float64, shape [2, 2]
 * nb.array(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] });
 */
export function array(data: ArrayLike, options: { dtype?: DType; shape?: Shape } = {}): NDArray {
  const { dtype, shape } = options;
  if (dtype !== undefined && !isDType(dtype)) throw new DTypeError(`array: unknown dtype ${String(dtype)}`);
  let out: NDArray;
  if (data instanceof NDArray) {
    out = dtype !== undefined && dtype !== data.dtype ? ops().astype(data, dtype) : data;
    if (data.weakType && out === data && data instanceof ConcreteArray)
      out = new ConcreteArray(data.data, data.shape, data.dtype, false);
  } else if (ArrayBuffer.isView(data)) {
    const td = typedDType(data);
    if (td === null) throw new DTypeError(`array: unsupported typed array ${data.constructor.name}`);
    const copy = (data as Float64Array).slice();
    let c = new ConcreteArray(copy, [copy.length], td);
    if (dtype !== undefined && dtype !== td) c = ops().astype(c, dtype).concrete("array");
    out = c;
  } else if (containsNDArray(data)) {
    out = ops().stackNested(data);
    if (dtype !== undefined && dtype !== out.dtype) out = ops().astype(out, dtype);
  } else {
    out = fromNested(data, dtype);
  }
  if (shape !== undefined) {
    const s = checkShape("array", shape);
    if (sizeOf(s) !== out.size) throw new ShapeError(`array: cannot give shape ${fmtShape(s)} to ${out.size} elements`);
    out = ops().reshape(out, s);
  }
  return out;
}

function containsNDArray(d: unknown, depth = 0): boolean {
  if (d instanceof NDArray) return true;
  if (!Array.isArray(d)) return false;
  if (depth >= MAX_LITERAL_RANK) throw tooDeep("array");
  return d.some((e) => containsNDArray(e, depth + 1));
}

/** @internal Converts an operand to an NDArray; bare JS numbers become weak float64 scalars. */
export function asArray(x: ArrayLike, op = "array"): NDArray {
  if (x instanceof NDArray) return x;
  if (typeof x === "number") return scalar(x, "float64", true);
  if (typeof x === "boolean") return scalar(x ? 1 : 0, "bool");
  if (x === null || x === undefined) throw new ShapeError(`${op}: expected an array, got ${String(x)}`);
  return array(x);
}

/** @internal True if `x` is a weak scalar whose value is an integer (for promotion). */
export function isIntegralWeak(x: NDArray): boolean {
  if (!(x instanceof ConcreteArray) || !x.weakType) return false;
  for (let i = 0; i < x.data.length; i++) if (!Number.isInteger(x.data[i]!)) return false;
  return true;
}
