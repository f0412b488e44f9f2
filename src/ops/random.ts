/**
 * `nb.random`: functional, counter-based random numbers. A key is an int32
 * array of shape [2]; the same key always gives the same numbers, on every
 * platform (Threefry-2x32, integer arithmetic only). Split keys instead of
 * reusing them.
 * @module
 */
import { DTypeError } from "../core/errors.js";
import { DType, isFloat } from "../core/dtype.js";
import { ArrayLike, ConcreteArray, NDArray } from "../core/ndarray.js";
import { Shape, broadcastShapes, checkShape } from "../core/shape.js";
import { bind1 } from "../core/trace.js";
import { RANDOM_BITS, RANDOM_UNIFORM } from "../prims/random.js";
import { slicePrim } from "../prims/wrap.js";
import "./methods.js";
import { asArray, dtypeArg, intArg, numberArg, optionsArg, sizeArg } from "./validate.js";
import { add, cos, less, log, mul, sqrt, sub } from "./elementwise.js";
import { reshape } from "./shape.js";

/**
 * A key from an integer seed (0 <= seed < 2^53).
 * @example const k = nb.random.key(0);
 */
export function key(seed: number): NDArray {
  intArg("random.key", "seed", seed, { min: 0 }, DTypeError);
  const d = new Int32Array([Math.floor(seed / 4294967296) | 0, (seed >>> 0) | 0]);
  return new ConcreteArray(d, [2], "int32");
}

function checkedKey(k: ArrayLike, op: string): NDArray {
  const a = asArray(k, op, "key");
  if (a.dtype !== "int32" || a.ndim === 0 || a.shape[a.ndim - 1] !== 2)
    throw new DTypeError(`${op}: expected a key (int32 array of shape [2]), got ${a.dtype} [${a.shape.join(",")}]`);
  return a;
}

/**
 * `n` new independent keys, shape [n, 2]: take rows with `take`, not `toArray()`
 * (plain numbers are not a key).
 * @example
 * const keys = nb.random.split(nb.random.key(0));
 * const x = nb.random.normal(nb.take(keys, 0, 0), [3]);
 */
export function split(k: ArrayLike, n = 2): NDArray {
  const a = checkedKey(k, "random.split");
  intArg("random.split", "n", n, { min: 0, max: 2 ** 30 - 1 });
  sizeArg("random.split", [...a.shape, n]);
  const bits = bind1(RANDOM_BITS, [a], { shape: [n * 2] });
  return reshape(bits, [...a.shape.slice(0, -1), n, 2]);
}

function floatDType(op: string, d: DType | undefined): DType {
  const dt = d ?? "float64";
  if (!isFloat(dt)) throw new DTypeError(`${op}: dtype must be float32 or float64, got ${dt}`);
  return dt;
}

/**
 * Uniform samples in [minval, maxval).
 * @example nb.random.uniform(nb.random.key(0), [3]);
 */
export function uniform(
  k: ArrayLike,
  shape: Shape = [],
  options: { dtype?: DType; minval?: number; maxval?: number } = {},
): NDArray {
  return uniformAs("random.uniform", k, shape, options);
}

function uniformAs(fn: string, k: ArrayLike, shape: unknown, options: unknown): NDArray {
  const key = checkedKey(k, fn);
  const s = checkShape(fn, shape);
  const o = optionsArg(fn, options, ["dtype", "minval", "maxval"]);
  const dt = floatDType(fn, dtypeArg(fn, o.dtype, "float64"));
  const lo = o.minval === undefined ? 0 : numberArg(fn, "minval", o.minval);
  const hi = o.maxval === undefined ? 1 : numberArg(fn, "maxval", o.maxval);
  const u = bind1(RANDOM_UNIFORM, [key], { shape: s, dtype: dt });
  return lo === 0 && hi === 1 ? u : add(mul(u, hi - lo), lo);
}

/**
 * Standard normal samples (Box–Muller).
 * @example nb.random.normal(nb.random.key(0), [2, 2]);
 */
export function normal(k: ArrayLike, shape: Shape = [], options: { dtype?: DType } = {}): NDArray {
  const key = checkedKey(k, "random.normal");
  const s = checkShape("random.normal", shape);
  const dt = floatDType(
    "random.normal",
    dtypeArg("random.normal", optionsArg("random.normal", options, ["dtype"]).dtype, "float64"),
  );
  const ks = split(key, 2);
  const k1 = reshape(slicePrim(ks, [0, 0], [1, 2]), [2]);
  const k2 = reshape(slicePrim(ks, [1, 0], [2, 2]), [2]);
  const u1 = sub(1, uniform(k1, s, { dtype: dt })); // in (0, 1]
  const u2 = uniform(k2, s, { dtype: dt });
  return mul(sqrt(mul(log(u1), -2)), cos(mul(u2, 2 * Math.PI)));
}

/**
 * Bernoulli samples (bool) with probability `p` of true.
 * @example nb.random.bernoulli(nb.random.key(0), 0.3, [5]);
 */
export function bernoulli(k: ArrayLike, p: ArrayLike = 0.5, shape?: Shape): NDArray {
  const key = checkedKey(k, "random.bernoulli");
  const pa = asArray(p, "random.bernoulli", "p");
  const s = shape === undefined ? pa.shape : checkShape("random.bernoulli", shape);
  broadcastShapes("random.bernoulli", pa.shape, s);
  const dtype = isFloat(pa.dtype) && pa.dtype === "float32" ? "float32" : "float64";
  return less(uniformAs("random.bernoulli", key, s, { dtype }), pa);
}
