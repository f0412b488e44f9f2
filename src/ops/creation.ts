/**
 * Creating arrays: from JS values (`array`), filled (`full`, `zeros`,
 * `ones`, ...), ranges and the identity.
 */
import "./methods.js";
import { DTypeError, ShapeError, fmtShape, fmtValue } from "../core/errors.js";
import { DType } from "../core/dtype.js";
import { ArrayLike, ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { Shape, checkShape, sizeOf } from "../core/shape.js";
import * as W from "../prims/wrap.js";
import { astype } from "./elementwise.js";
import { defaultFloat } from "../core/device.js";
import { MAX_SIZE, asArray, boolArg, dtypeArg, intArg, literal, numberArg, optionsArg, sizeArg } from "./validate.js";

/**
 * Creates an array. JS numbers become float64 (float32 while `defaultDevice()` is "webgpu"),
 * booleans bool; typed arrays keep their element type (and are copied).
 * @example
 * nb.array([[1, 2], [3, 4]]);                 // float64, shape [2, 2]
 * nb.array(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] });
 */
export function array(data: ArrayLike, options: { dtype?: DType; shape?: Shape } = {}): NDArray {
  const o = optionsArg("array", options, ["dtype", "shape"]);
  const dtype = o.dtype === undefined ? undefined : dtypeArg("array", o.dtype, "float64");
  const shape = o.shape === undefined ? undefined : checkShape("array", o.shape);
  let out: NDArray;
  if (data instanceof NDArray) {
    // a tracer of a transform that has returned is no array to pass on (TracerError)
    data.assertLive("array");
    out = dtype !== undefined && dtype !== data.dtype ? astype(data, dtype) : data;
    if (data.weakType && out === data && data instanceof ConcreteArray)
      out = new ConcreteArray(storageOf(data), data.shape, data.dtype, false);
  } else {
    out = literal("array", data, dtype, "data");
    if (dtype !== undefined && dtype !== out.dtype) out = astype(out, dtype);
  }
  if (shape !== undefined) {
    if (sizeOf(shape) !== out.size)
      throw new ShapeError(`array: cannot give shape ${fmtShape(shape)} to ${out.size} elements`);
    out = W.reshape(out, shape);
  }
  return out;
}

interface DTypeOpt {
  dtype?: DType;
}

/** The dtype option of a creation function (undefined: `dflt`). */
function dtypeOption(fn: string, options: unknown, dflt: DType): DType {
  return dtypeArg(fn, optionsArg(fn, options, ["dtype"]).dtype, dflt);
}

/** `full` under the name the user called. */
function filled(fn: string, shape: unknown, value: unknown, options: unknown): NDArray {
  const s = checkShape(fn, shape);
  if (typeof value !== "number" && typeof value !== "boolean")
    throw new DTypeError(`${fn}: fill value must be a number or boolean, got ${fmtValue(value)}`);
  const dt = dtypeOption(fn, options, typeof value === "boolean" ? "bool" : defaultFloat());
  const v = Number(value);
  if (dt === "int32" && !(v >= -(2 ** 31) && v < 2 ** 31))
    throw new DTypeError(`${fn}: fill value ${fmtValue(v)} cannot be represented as int32`);
  return W.full(s, v, dt);
}

/** An array filled with `value`. @example nb.full([2, 2], 7); */
export function full(shape: Shape, value: number | boolean, options: DTypeOpt = {}): NDArray {
  return filled("full", shape, value, options);
}
/** An array of zeros. @example nb.zeros([2, 3]); */
export const zeros = (shape: Shape, options: DTypeOpt = {}): NDArray => filled("zeros", shape, 0, options);
/** An array of ones. @example nb.ones([3]); */
export const ones = (shape: Shape, options: DTypeOpt = {}): NDArray => filled("ones", shape, 1, options);
/** Zeros with the shape and dtype of `x`. @example nb.zerosLike(nb.ones([2, 2])); */
export const zerosLike = (x: ArrayLike): NDArray => {
  const a = asArray(x, "zerosLike");
  return W.full(a.shape, 0, a.dtype);
};
/** Ones with the shape and dtype of `x`. @example nb.onesLike([1, 2, 3]); */
export const onesLike = (x: ArrayLike): NDArray => {
  const a = asArray(x, "onesLike");
  return W.full(a.shape, 1, a.dtype);
};

/**
 * Evenly spaced values in [start, stop): int32 when all arguments are
 * integers (as JAX), else float64 (float32 while `defaultDevice()` is "webgpu").
 * @example nb.arange(3); // array([0, 1, 2], dtype=int32)
 */
export function arange(start: number, stop?: number, step = 1): NDArray {
  numberArg("arange", "start", start, true);
  if (stop === undefined) {
    stop = start;
    start = 0;
  } else numberArg("arange", "stop", stop, true);
  numberArg("arange", "step", step, true);
  if (step === 0) throw new ShapeError("arange: step must not be zero");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  sizeArg("arange", [n]);
  const dt: DType = [start, stop, step].every(Number.isInteger) ? "int32" : defaultFloat();
  const last = start + (n - 1) * step;
  if (dt === "int32" && n > 0 && (Math.min(start, last) < -(2 ** 31) || Math.max(start, last) >= 2 ** 31))
    throw new DTypeError(
      `arange: values from ${start} to ${last} do not fit in int32 (pass a fractional bound for float64 values)`,
    );
  const data = dt === "int32" ? new Int32Array(n) : dt === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new ConcreteArray(data, [n], dt);
}

/**
 * `num` evenly spaced float64 values (float32 while `defaultDevice()` is "webgpu") from start to stop,
 * stop included unless `endpoint` is false (then the step is (stop − start) / num), as NumPy's.
 * @example nb.linspace(0, 1, 5); // array([0.  , 0.25, 0.5 , 0.75, 1.  ])
 * @example nb.linspace(0, 1, 4, false); // array([0.  , 0.25, 0.5 , 0.75])
 */
export function linspace(start: number, stop: number, num: number, endpoint = true): NDArray {
  numberArg("linspace", "start", start, true);
  numberArg("linspace", "stop", stop, true);
  intArg("linspace", "num", num, { min: 0, max: MAX_SIZE });
  boolArg("linspace", "endpoint", endpoint);
  const dt = defaultFloat();
  const d = dt === "float32" ? new Float32Array(num) : new Float64Array(num);
  const div = endpoint ? num - 1 : num;
  for (let i = 0; i < num; i++) d[i] = div === 0 ? start : start + ((stop - start) * i) / div;
  if (endpoint && num > 1) d[num - 1] = stop;
  return new ConcreteArray(d, [num], dt);
}

/** The n x m identity (m = n by default). @example nb.eye(2); */
export function eye(n: number, m?: number, options: DTypeOpt = {}): NDArray {
  intArg("eye", "n", n, { min: 0, max: MAX_SIZE });
  const cols = m === undefined ? n : intArg("eye", "m", m, { min: 0, max: MAX_SIZE });
  sizeArg("eye", [n, cols]);
  return W.eye(n, cols, dtypeOption("eye", options, defaultFloat()));
}
