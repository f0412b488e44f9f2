/**
 * The immutable n-d array. {@link NDArray} is the public type; concrete
 * arrays ({@link ConcreteArray}) own typed-array storage, and tracers (see
 * `trace.ts`) are NDArrays that stand for values during a transform.
 *
 * The operation methods (`x.add(y)`, `x.sum()`, ...) are not defined here:
 * they are the public operations of `src/ops`, a layer above, which installs
 * them on the prototype and declares their types (`src/ops/methods.ts`).
 */
import { DeviceError, NablaError, ShapeError, at, fmtShape } from "./errors.js";
import { DType, TypedArray, allocate } from "./dtype.js";
import { Shape, sizeOf, stridesOf } from "./shape.js";

/** The longest JS array V8 allocates in fast mode (FixedArray::kMaxLength on 64-bit), for toArray. */
const MAX_JS_ARRAY = 2 ** 27 - 3;

/**
 * @internal The storage of an array that lives on a device other than the CPU (a GPU buffer): the
 * device's runtime implements it; the core only asks where it is and reads it back asynchronously.
 */
export interface DeviceStorage {
  /** The device's name ("webgpu"). */
  readonly device: string;
  /** Whether the array was placed explicitly (devicePut): JAX's committed arrays. */
  readonly committed: boolean;
  /** The elements, read back asynchronously (batched with other reads). */
  read(): Promise<TypedArray>;
}

/** Nested JS arrays of numbers or booleans. */
export type Nested = number | boolean | readonly Nested[];
/** Anything an operation accepts where an array is expected. */
export type ArrayLike = NDArray | Nested | Float32Array | Float64Array | Int32Array;

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

  /**
   * The device the array lives on: "cpu" or "webgpu" (a tracer reports its concrete value's device,
   * or the device its `jit` stages for).
   * @example
   * nb.array([1, 2]).device; // "cpu"
   */
  abstract readonly device: string;

  /** @internal Throws TracerError for a tracer whose transform has returned; nothing for concrete arrays. */
  assertLive(_op: string): void {}

  /** Nested JS arrays of the values (a plain number or boolean for 0-d arrays). */
  toArray(): Nested {
    return this.concrete("toArray").toArray();
  }
  /** The single element of a size-1 array as a number; ShapeError otherwise. */
  item(): number {
    const c = this.concrete("item");
    onCpu(c, "item");
    if (c.size !== 1)
      throw new ShapeError(`item: array of shape ${fmtShape(c.shape)} has ${c.size} elements, expected 1`);
    return Number(readElement(c));
  }
  /** JS coercion (`x > 0`, `+x`) gives the element of a size-1 array. */
  valueOf(): number {
    const c = this.concrete("valueOf");
    onCpu(c, "valueOf");
    if (c.size !== 1)
      throw new ShapeError(`valueOf: array of shape ${fmtShape(c.shape)} cannot be used as a number; use toArray()`);
    return Number(readElement(c));
  }
  /** JS coercion: the NumPy-like rendering for strings (`${x}`), the element of a size-1 array otherwise. */
  [Symbol.toPrimitive](hint: string): number | string {
    if (hint === "string") return this.toString();
    if (hint === "default" && this.size !== 1) return this.toString();
    return this.valueOf();
  }
  /** A fresh copy of the elements in row-major order. */
  toTypedArray(): TypedArray {
    const c = this.concrete("toTypedArray");
    onCpu(c, "toTypedArray");
    return storageOf(c).slice();
  }
  /**
   * A fresh copy of the elements in row-major order, asynchronously: the accessor that works on every
   * device (API.md "Devices"); on the CPU it resolves at once. A tracer's promise rejects with
   * TracerError. Mutating the result never changes the array.
   * @example
   * const x = nb.array([1, 2, 3]);
   * const copy = await x.data(); // Float64Array [1, 2, 3]
   * copy[0] = 99;
   * x.toArray(); // [1, 2, 3]
   */
  async data(): Promise<TypedArray> {
    const c = this.concrete("data");
    const d = readDevice(c);
    return d === null ? storageOf(c).slice() : d.read();
  }
}

// `x.data` is the shared method, not storage: frozen so that `x.data[0] = 99` throws instead of
// silently adding a property to it
Object.freeze(NDArray.prototype.data);
// and non-writable, so that `x.data = buffer` throws (arrays are not frozen objects: see ConcreteArray)
Object.defineProperty(NDArray.prototype, "data", { writable: false });

/** Reads a concrete array's storage; set by ConcreteArray's static block (the storage field is #private). */
let readStorage: (x: ConcreteArray) => TypedArray;
/** A concrete array's device storage (null on the CPU). */
let readDevice: (x: ConcreteArray) => DeviceStorage | null;
/** Makes an array whose elements live on a device. */
let makeDeviceArray: (s: DeviceStorage, shape: Shape, dtype: DType) => ConcreteArray;

/** The DeviceError of a synchronous reader (`item`, `toArray`, ...) on an array that lives on a device. */
function deviceRead(x: ConcreteArray, op: string, d: DeviceStorage): DeviceError {
  return new DeviceError(
    `${op}: the array (shape ${fmtShape(x.shape)}, ${x.dtype}) lives on "${d.device}" and cannot be read synchronously; ` +
      "use await x.data()",
  );
}

/** Throws DeviceError when `x` lives on a device (a synchronous reader named `op` cannot read it). */
function onCpu(x: ConcreteArray, op: string): void {
  const d = readDevice(x);
  if (d !== null) throw deviceRead(x, op, d);
}

/** The storage of a number-backed 0-d array, made; or DeviceError for an array on a device. */
function slowStorage(x: ConcreteArray, value: number, device: DeviceStorage | null): TypedArray {
  if (device !== null) throw deviceRead(x, "storageOf", device);
  return Float64Array.of(value);
}
/** Reads the first element without making the storage of a number-backed 0-d array. */
let readElement: (x: ConcreteArray) => number;
/** Makes a number-backed float64 0-d array. */
let makeFloat64Scalar: (v: number, weak: boolean) => ConcreteArray;
/** The storage placeholder of number-backed arrays before it is made (never read). */
const NO_STORAGE = new Float64Array(0);

/**
 * @internal The storage of a concrete array, shared, not copied: for kernels, primitives, transforms,
 * io and export only, which never write to it. Nothing public reaches it (the field is `#private`);
 * public reads go through `toTypedArray()`/`data()`, which copy.
 */
export function storageOf(x: ConcreteArray): TypedArray {
  return readStorage(x);
}

/** @internal The device storage of a concrete array, or null when it lives on the CPU. */
export function deviceStorageOf(x: ConcreteArray): DeviceStorage | null {
  return readDevice(x);
}

/** @internal An array of `shape` and `dtype` whose elements are `s` (on a device; never weak). */
export function deviceArray(s: DeviceStorage, shape: Shape, dtype: DType): ConcreteArray {
  return makeDeviceArray(s, shape, dtype);
}

/** CPU arrays placed explicitly with devicePut(x, "cpu") (JAX's committed arrays): rare, so a set, not a field. */
const COMMITTED_CPU = new WeakSet<ConcreteArray>();

/** @internal Marks a CPU array as committed to the CPU (devicePut). */
export function commitToCpu(x: ConcreteArray): void {
  COMMITTED_CPU.add(x);
}

/** @internal Whether a CPU array was committed to the CPU by devicePut. */
export function committedToCpu(x: ConcreteArray): boolean {
  return COMMITTED_CPU.has(x);
}

/**
 * @internal The first element of a non-empty concrete array (the element of a size-1 one), read
 * without making the storage of a number-backed 0-d array: the scalar fast paths' reader.
 */
export function firstElement(x: ConcreteArray): number {
  return readElement(x);
}

/**
 * @internal A float64 0-d array holding `v` (weak or not), without typed-array storage until its
 * storage is read: what the 0-d kernels and bare JS numbers make.
 */
export function float64Scalar(v: number, weak = false): ConcreteArray {
  return makeFloat64Scalar(v, weak);
}

/**
 * @internal An array with storage. The storage is a `#private` field, owned by the array and never
 * handed out: `toTypedArray()` and `data()` copy; the library reads it through {@link storageOf}.
 */
export class ConcreteArray extends NDArray {
  // Shape, dtype and the storage reference cannot be reassigned: they live in private fields behind
  // getters (assigning one throws TypeError in strict code, as on a frozen object). Not
  // Object.freeze(this): freezing costs more than the rest of a 0-d operation (issue 8).
  // Float64 0-d arrays made by the scalar paths hold their element as a number (#value) and make
  // the one-element typed array only when something reads the storage (issue 8: a Float64Array and
  // its buffer per scalar were most of what a scalar chain allocates). Not observable: the storage
  // is private and, once made, never replaced.
  #data: TypedArray | null;
  #value: number;
  /** Where the elements are when they are not on the CPU (then #data is null). */
  #device: DeviceStorage | null = null;
  readonly #shape: Shape;
  readonly #dtype: DType;
  readonly #weak: boolean;
  constructor(data: TypedArray, shape: Shape, dtype: DType, weakType = false) {
    super();
    this.#data = data;
    this.#value = 0;
    this.#shape = frozenShape(shape);
    this.#dtype = dtype;
    this.#weak = weakType;
  }
  static {
    readStorage = (x) => x.#data ?? (x.#data = slowStorage(x, x.#value, x.#device));
    readElement = (x) =>
      x.#data !== null ? at(x.#data, 0) : x.#device === null ? x.#value : at(slowStorage(x, 0, x.#device), 0);
    readDevice = (x) => x.#device;
    makeDeviceArray = (d, shape, dtype) => {
      const x = new ConcreteArray(NO_STORAGE, shape, dtype, false);
      x.#data = null;
      x.#device = d;
      return x;
    };
    makeFloat64Scalar = (v, weak) => {
      const x = new ConcreteArray(NO_STORAGE, EMPTY_SHAPE, "float64", weak);
      x.#data = null;
      x.#value = v;
      return x;
    };
  }
  /** A frozen array. */
  get shape(): Shape {
    return this.#shape;
  }
  get dtype(): DType {
    return this.#dtype;
  }
  get weakType(): boolean {
    return this.#weak;
  }
  /** @internal The weak-type flag under its abstract-value name: a concrete array is its own aval. */
  get weak(): boolean {
    return this.#weak;
  }
  get device(): string {
    return this.#device === null ? "cpu" : this.#device.device;
  }
  concrete(): ConcreteArray {
    return this;
  }
  override toArray(): Nested {
    onCpu(this, "toArray");
    const { shape, dtype } = this;
    const data = readStorage(this);
    const conv = dtype === "bool" ? (v: number) => v !== 0 : (v: number) => v;
    if (shape.length === 0) return conv(at(data, 0, "toArray"));
    const longest = Math.max(...shape);
    if (longest > MAX_JS_ARRAY)
      throw new ShapeError(
        `toArray: shape ${fmtShape(shape)} has an axis of ${longest} elements, more than a JS array holds (${MAX_JS_ARRAY}); use toTypedArray()`,
      );
    const strides = stridesOf(shape);
    const last = shape.length - 1;
    const rec = (axis: number, off: number): Nested[] => {
      const d = at(shape, axis, "toArray");
      const stride = at(strides, axis, "toArray");
      // sized up front: growing by push past ~1.1e8 elements is a fatal error in V8, not an exception
      const out = new Array<Nested>(d);
      if (axis === last) for (let i = 0; i < d; i++) out[i] = conv(at(data, off + i * stride, "toArray"));
      else for (let i = 0; i < d; i++) out[i] = rec(axis + 1, off + i * stride);
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

/** @internal The frozen 0-d shape, shared. */
export const EMPTY_SHAPE: Shape = Object.freeze([]);
/** Frozen 1-d shapes by length, shared (bounded), so the common case allocates and freezes nothing. */
const SHAPES_1D = new Map<number, Shape>();

/**
 * @internal `shape` as a frozen array: itself when already frozen, else frozen in place (or a shared
 * equal frozen shape). Only the library's own arrays reach here: public functions copy the shapes
 * they are given (checkShape), so a caller's array is never frozen. Frozen arrays are slow in some
 * V8 builtins (slice, every), which is why 0-d and 1-d shapes are shared instead of frozen anew.
 */
export function frozenShape(shape: Shape): Shape {
  // 0-d first: Object.isFrozen is a runtime call, dearer than the length test
  if (shape.length === 0) return EMPTY_SHAPE;
  if (Object.isFrozen(shape)) return shape;
  if (shape.length === 1) {
    const d = at(shape, 0);
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
    // toExponential always writes an "e": the mantissa is what precedes it, the exponent what follows
    const dec = Math.max(0, ...parts.map((p) => decimalsNeeded(p.slice(0, p.indexOf("e")))));
    return vals.map((v) => {
      const sp = formatSpecial(v);
      if (sp !== null) return sp;
      const t = v.toExponential(dec);
      const m = t.slice(0, t.indexOf("e"));
      const e = t.slice(t.indexOf("e") + 1);
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
  const { shape, dtype } = x;
  const dev = readDevice(x);
  if (dev !== null) return `Array(shape=${fmtShape(shape)}, dtype=${dtype}, device=${dev.device})`;
  const data = storageOf(x);
  const suffix = dtype === "float64" ? "" : `, dtype=${dtype}`;
  // no elements: nothing to show, however long the other axes (NumPy prints the shape)
  if (data.length === 0) return `array([]${shape.length === 1 ? "" : `, shape=${fmtShape(shape)}`}${suffix})`;
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
    const stride = at(strides, axis, "toString");
    for (const i of shown(at(shape, axis, "toString"))) if (i >= 0) collect(axis + 1, off + i * stride);
  };
  collect(0, 0);
  const picked = allocate(dtype, offsets.length);
  offsets.forEach((o, k) => (picked[k] = at(data, o, "toString")));
  const texts = formatElements(picked, dtype);
  const strs = new Map<number, string>(offsets.map((o, k) => [o, at(texts, k, "toString")]));
  const width = texts.reduce((m, t) => Math.max(m, t.length), 0);
  if (shape.length === 0) return `array(${texts[0]}${suffix})`;
  const rec = (axis: number, off: number, indent: string): string => {
    const parts: string[] = [];
    const stride = at(strides, axis, "toString");
    for (const i of shown(at(shape, axis, "toString"))) {
      if (i < 0) {
        parts.push("...");
        continue;
      }
      const o = off + i * stride;
      if (axis < shape.length - 1) {
        parts.push(rec(axis + 1, o, indent + " "));
        continue;
      }
      const text = strs.get(o);
      if (text === undefined) throw new NablaError(`toString: internal: element at offset ${o} was not formatted`);
      parts.push(text.padStart(width));
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
  if (dtype === "float64") return makeFloat64Scalar(v, weak);
  const d = allocate(dtype, 1);
  d[0] = v;
  return new ConcreteArray(d, [], dtype, weak);
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

/** Staged weak scalars whose values are integers whenever the staged program runs (see markIntegralWeak). */
const INTEGRAL_WEAK = new WeakSet<NDArray>();

/**
 * @internal Marks a staged weak scalar as integral: `jit` stages an integral JS-number argument so and
 * keys its cache on it, so `int32 array * 2` is int32 under jit as eagerly (eager promotion reads the
 * value, as JAX reads Python's int type). Only the argument itself: what is computed from it under the
 * trace is an ordinary weak float.
 */
export function markIntegralWeak(x: NDArray): void {
  INTEGRAL_WEAK.add(x);
}

/** @internal True if `x` is a weak scalar whose value is an integer (for promotion). */
export function isIntegralWeak(x: NDArray): boolean {
  if (!x.weakType) return false;
  if (!(x instanceof ConcreteArray)) return INTEGRAL_WEAK.has(x);
  const d = storageOf(x);
  for (const v of d) if (!Number.isInteger(v)) return false;
  return true;
}
