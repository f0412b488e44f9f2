/**
 * Creating arrays: from JS values (`array`), filled (`full`, `zeros`,
 * `ones`, ...), ranges and the identity.
 */
import "./methods.js";
import { DTypeError, ShapeError, fmtShape } from "../core/errors.js";
import { DType, isDType } from "../core/dtype.js";
import { ArrayLike, ConcreteArray, NDArray, Nested, fromNested } from "../core/ndarray.js";
import { Shape, checkShape, sizeOf } from "../core/shape.js";
import * as W from "../prims/wrap.js";
import { astype } from "./elementwise.js";
import { asArray } from "./operand.js";
import { stack } from "./shape.js";

function typedDType(t: unknown): DType | null {
  if (t instanceof Float64Array) return "float64";
  if (t instanceof Float32Array) return "float32";
  if (t instanceof Int32Array) return "int32";
  return null;
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
    out = dtype !== undefined && dtype !== data.dtype ? astype(data, dtype) : data;
    if (data.weakType && out === data && data instanceof ConcreteArray)
      out = new ConcreteArray(data.data, data.shape, data.dtype, false);
  } else if (ArrayBuffer.isView(data)) {
    const td = typedDType(data);
    if (td === null) throw new DTypeError(`array: unsupported typed array ${data.constructor.name}`);
    const copy = (data as Float64Array).slice();
    let c = new ConcreteArray(copy, [copy.length], td);
    if (dtype !== undefined && dtype !== td) c = astype(c, dtype).concrete("array");
    out = c;
  } else if (containsNDArray(data)) {
    out = stackNested(data);
    if (dtype !== undefined && dtype !== out.dtype) out = astype(out, dtype);
  } else {
    out = fromNested(data, dtype);
  }
  if (shape !== undefined) {
    const s = checkShape("array", shape);
    if (sizeOf(s) !== out.size) throw new ShapeError(`array: cannot give shape ${fmtShape(s)} to ${out.size} elements`);
    out = W.reshape(out, s);
  }
  return out;
}

function containsNDArray(d: unknown): boolean {
  if (d instanceof NDArray) return true;
  if (Array.isArray(d)) return d.some(containsNDArray);
  return false;
}

/** `nb.array` of nested lists containing arrays (tracers included): stacks them. */
function stackNested(data: Nested | NDArray): NDArray {
  if (data instanceof NDArray) return data;
  if (!Array.isArray(data)) return asArray(data as Nested);
  if (data.length === 0) return array([]);
  return stack((data as readonly (Nested | NDArray)[]).map((d) => stackNested(d)));
}

interface DTypeOpt {
  dtype?: DType;
}

function checkedDType(op: string, d: DType | undefined, dflt: DType): DType {
  if (d === undefined) return dflt;
  if (!isDType(d)) throw new DTypeError(`${op}: unknown dtype ${String(d)}`);
  return d;
}

/** An array filled with `value`. @example nb.full([2, 2], 7); */
export function full(shape: Shape, value: number | boolean, options: DTypeOpt = {}): NDArray {
  const s = checkShape("full", shape);
  const dt = checkedDType("full", options.dtype, typeof value === "boolean" ? "bool" : "float64");
  return W.full(s, Number(value), dt);
}
/** An array of zeros. @example nb.zeros([2, 3]); */
export const zeros = (shape: Shape, options: DTypeOpt = {}): NDArray => full(shape, 0, options);
/** An array of ones. @example nb.ones([3]); */
export const ones = (shape: Shape, options: DTypeOpt = {}): NDArray => full(shape, 1, options);
/** Zeros with the shape and dtype of `x`. @example nb.zerosLike(nb.ones([2, 2])); */
export const zerosLike = (x: ArrayLike): NDArray => {
  const a = asArray(x, "zerosLike");
  return full(a.shape, 0, { dtype: a.dtype });
};
/** Ones with the shape and dtype of `x`. @example nb.onesLike([1, 2, 3]); */
export const onesLike = (x: ArrayLike): NDArray => {
  const a = asArray(x, "onesLike");
  return full(a.shape, 1, { dtype: a.dtype });
};

/**
 * Evenly spaced values in [start, stop): int32 when all arguments are
 * integers (as JAX), else float64.
 * @example nb.arange(3); // array([0, 1, 2], dtype=int32)
 */
export function arange(start: number, stop?: number, step = 1): NDArray {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0) throw new ShapeError("arange: step must not be zero");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dt: DType = [start, stop, step].every(Number.isInteger) ? "int32" : "float64";
  if (dt === "int32" && n > 0) {
    const last = start + (n - 1) * step;
    for (const v of [start, last])
      if (v < -(2 ** 31) || v > 2 ** 31 - 1)
        throw new DTypeError(`arange: value ${v} does not fit int32 (integer arguments give an int32 range)`);
  }
  const data = dt === "int32" ? new Int32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new ConcreteArray(data, [n], dt);
}

/** `num` evenly spaced float64 values from start to stop inclusive. @example nb.linspace(0, 1, 5); */
export function linspace(start: number, stop: number, num: number): NDArray {
  if (!Number.isInteger(num) || num < 0)
    throw new ShapeError(`linspace: num must be a non-negative integer, got ${num}`);
  const d = new Float64Array(num);
  for (let i = 0; i < num; i++) d[i] = num === 1 ? start : start + ((stop - start) * i) / (num - 1);
  if (num > 1) d[num - 1] = stop;
  return new ConcreteArray(d, [num], "float64");
}

/** The n x m identity (m = n by default). @example nb.eye(2); */
export function eye(n: number, m?: number, options: DTypeOpt = {}): NDArray {
  const cols = m ?? n;
  checkShape("eye", [n, cols]);
  return W.eye(n, cols, checkedDType("eye", options.dtype, "float64"));
}
