/**
 * `nb.random`: functional, counter-based random numbers. A key is an int32
 * array of shape [2]; the same key always gives the same numbers, on every
 * platform (Threefry-2x32, integer arithmetic only). Split keys instead of
 * reusing them.
 * @module
 */
import { DTypeError, ShapeError, fmtShape, at } from "../core/errors.js";
import { DType, isFloat } from "../core/dtype.js";
import { ArrayLike, ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { Shape, broadcastShapes, checkShape, normAxis, shapesEqual, sizeOf } from "../core/shape.js";
import { bind1 } from "../core/trace.js";
import { RANDOM_BITS, RANDOM_UNIFORM } from "../prims/random.js";
import { slicePrim } from "../prims/wrap.js";
import "./methods.js";
import { onHost } from "./host.js";
import { asArray, boolArg, dtypeArg, intArg, numberArg, optionsArg, sizeArg } from "./validate.js";
import {
  abs,
  add,
  astype,
  clip,
  cos,
  div,
  erf,
  exp,
  floor,
  greater,
  less,
  log,
  minimum,
  mul,
  neg,
  sign,
  sqrt,
  sub,
  where,
} from "./elementwise.js";
import { argmax } from "./reduce.js";
import { argsort, take, takeAlongAxis } from "./indexing.js";
import { broadcastTo, reshape, slice, transpose } from "./shape.js";

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
  // a key of shape [...lead, 2] (several keys, as uniform takes) splits to [...lead, 2, 2]
  const lead = key.shape.slice(0, -1);
  const ks = split(key, 2);
  const row = (i: number): NDArray =>
    reshape(slicePrim(ks, [...lead.map(() => 0), i, 0], [...lead, i + 1, 2]), [...lead, 2]);
  const k1 = row(0);
  const k2 = row(1);
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

// ---------------------------------------------------------------------------
// opsC: randint, permutation, shuffle, categorical, choice, truncatedNormal

/** A single key (int32 [2]). */
function singleKey(k: ArrayLike, op: string): NDArray {
  const a = checkedKey(k, op);
  if (a.ndim !== 1)
    throw new DTypeError(`${op}: expected one key (int32 array of shape [2]), got ${a.dtype} ${fmtShape(a.shape)}`);
  return a;
}

/**
 * A numeric (not bool) array argument, refusing NaN where concrete on the CPU (one on a device is not
 * read synchronously: its NaN goes unchecked, as a traced one's does). Cast to float64 where used.
 */
function numericArg(op: string, arg: string, v: unknown): NDArray {
  const a = asArray(v, op, arg);
  if (a.dtype === "bool") throw new DTypeError(`${op}: ${arg} must be numeric, got bool`);
  if (a instanceof ConcreteArray && a.device === "cpu" && Array.from(storageOf(a), Number).some(Number.isNaN))
    throw new DTypeError(`${op}: ${arg} contains NaN`);
  return a;
}

const f64 = (x: NDArray): NDArray => astype(x, "float64");

/**
 * `shape`, checked to be what `shapes` broadcast to together with it (the
 * operands must broadcast to the requested shape, not enlarge it).
 */
function targetShape(op: string, shape: unknown, ...shapes: Shape[]): number[] {
  const s = shape === undefined ? broadcastShapes(op, ...shapes) : checkShape(op, shape);
  const b = broadcastShapes(op, s, ...shapes);
  if (!shapesEqual(b, s))
    throw new ShapeError(
      `${op}: operands of shapes ${shapes.map((x) => fmtShape(x)).join(", ")} do not broadcast to shape ${fmtShape(s)}`,
    );
  return s;
}

/** Gumbel(0, 1) noise -log(-log u) of `shape`. */
function gumbel(key: NDArray, shape: Shape): NDArray {
  const u = bind1(RANDOM_UNIFORM, [key], { shape: shape.slice(), dtype: "float64" });
  return neg(log(neg(log(u))));
}

/**
 * Uniform random integers in [minval, maxval) (int32), as JAX's `randint`:
 * `minval` and `maxval` broadcast to `shape` and are clipped to the int32
 * range; where maxval <= minval the result is minval. Each value is
 * floor(minval + u (maxval - minval)) of a 53-bit uniform u, so the
 * probabilities differ from uniform by at most (maxval - minval) / 2^53
 * relative (below 5e-7 for any int32 range).
 * @example nb.random.randint(nb.random.key(0), [5], 0, 10); // five digits
 */
export function randint(k: ArrayLike, shape: Shape, minval: ArrayLike, maxval: ArrayLike): NDArray {
  const fn = "random.randint";
  const key = singleKey(k, fn);
  const lo0 = numericArg(fn, "minval", minval);
  const hi0 = numericArg(fn, "maxval", maxval);
  const s = targetShape(fn, checkShape(fn, shape), lo0.shape, hi0.shape);
  return onHost(
    (kk, l, h) => {
      const lo = clip(floor(f64(l)), -(2 ** 31), 2 ** 31 - 1);
      const hi = clip(floor(f64(h)), -(2 ** 31), 2 ** 31 - 1);
      const u = bind1(RANDOM_UNIFORM, [kk], { shape: s, dtype: "float64" });
      const v = minimum(floor(add(lo, mul(u, sub(hi, lo)))), sub(hi, 1)); // the minimum guards against rounding up to hi
      return astype(broadcastTo(where(greater(hi, lo), v, lo), s), "int32");
    },
    [key, lo0, hi0],
  );
}

/** argsort of 53-bit uniforms of `shape` under `key` along `axis` (on the CPU when the key is on a device). */
function uniformOrder(key: NDArray, shape: number[], axis = -1): NDArray {
  return onHost((kk) => argsort(bind1(RANDOM_UNIFORM, [kk], { shape, dtype: "float64" }), axis), [key]);
}

/**
 * A random permutation, as JAX's `permutation`: of arange(n) for an integer
 * `x` (int32), else of `x`'s slices along `axis` (all slices moved together;
 * with `independent`, each 1-D slice along `axis` permuted on its own).
 * Sorting 53-bit uniform keys: every permutation is equally likely up to
 * ties, of probability below n² / 2^54.
 * @example nb.random.permutation(nb.random.key(0), 5); // e.g. [3, 0, 4, 1, 2]
 * @example nb.random.permutation(nb.random.key(1), nb.array([[1, 2], [3, 4], [5, 6]])); // rows shuffled
 */
export function permutation(k: ArrayLike, x: number | ArrayLike, axis = 0, independent = false): NDArray {
  return permuted("random.permutation", k, x, axis, independent);
}

function permuted(fn: string, k: ArrayLike, x: unknown, axis: unknown, independent: unknown): NDArray {
  const key = singleKey(k, fn);
  boolArg(fn, "independent", independent);
  if (typeof x === "number") {
    const n = intArg(fn, "n", x, { min: 0, max: 2 ** 31 - 1 });
    normAxis(fn, axis, 1); // arange(n) is 1-D
    return uniformOrder(key, [n]);
  }
  const a = asArray(x, fn, "x");
  if (a.ndim === 0)
    throw new ShapeError(`${fn}: x must be an integer or an array of at least 1 dimension, got shape []`);
  const ax = normAxis(fn, axis, a.ndim);
  if (independent) return takeAlongAxis(a, uniformOrder(key, a.shape.slice(), ax), ax);
  return take(a, uniformOrder(key, [at(a.shape, ax, fn)]), ax);
}

/**
 * Shuffles `x` along `axis` (all slices moved together): `permutation(key,
 * x, axis)` for an array.
 * @example nb.random.shuffle(nb.random.key(0), nb.arange(4)); // e.g. [2., 0., 3., 1.]
 */
export function shuffle(k: ArrayLike, x: ArrayLike, axis = 0): NDArray {
  if (typeof x === "number")
    throw new ShapeError(`random.shuffle: x must be an array of at least 1 dimension, got the number ${x}`);
  return permuted("random.shuffle", k, x, axis, false);
}

/**
 * Samples from categorical distributions given by unnormalised log
 * probabilities, as JAX's `categorical` (the Gumbel-max trick): indices
 * (int32) along `axis` of `logits`; `shape` (default: logits' shape without
 * `axis`) must have the batch shape as a broadcastable suffix. Entries of
 * -Infinity are never drawn.
 * @example nb.random.categorical(nb.random.key(0), nb.log(nb.array([0.2, 0.8])), -1, [4]);
 */
export function categorical(k: ArrayLike, logits: ArrayLike, axis = -1, shape?: Shape): NDArray {
  const fn = "random.categorical";
  const key = singleKey(k, fn);
  const l0 = asArray(logits, fn, "logits");
  if (l0.dtype === "bool") throw new DTypeError(`${fn}: logits must be numeric, got bool`);
  if (l0.ndim === 0) throw new ShapeError(`${fn}: logits must have at least 1 dimension, got shape []`);
  const ax = normAxis(fn, axis, l0.ndim);
  if (l0.shape[ax] === 0) throw new ShapeError(`${fn}: no categories along axis ${ax} of shape ${fmtShape(l0.shape)}`);
  const perm = [...Array.from({ length: l0.ndim }, (_, i) => i).filter((i) => i !== ax), ax];
  const batch = perm.slice(0, -1).map((i) => at(l0.shape, i, fn));
  const s = targetShape(fn, shape, batch);
  const c = at(l0.shape, ax, fn);
  // the float64 noise and sum on the CPU when an operand is on a device
  return onHost((kk, lg) => argmax(add(transpose(f64(lg), perm), gumbel(kk, [...s, c])), -1), [key, l0]); // [...batch, c]
}

/**
 * Random samples from `a` (arange(a) for an integer) along `axis`, as JAX's
 * `choice`: `shape` samples (result shape: a's shape with `axis` replaced
 * by `shape`), with or without replacement, uniformly or with probabilities
 * `p` (1-D, length a.shape[axis], non-negative; normalised here). Without
 * replacement and with `p`, the Gumbel-top-k trick: successive draws
 * proportional to the remaining probabilities.
 * @example nb.random.choice(nb.random.key(0), 5, [3], false); // three distinct values of 0..4
 */
export function choice(
  k: ArrayLike,
  a: number | ArrayLike,
  shape: Shape = [],
  replace = true,
  p?: ArrayLike,
  axis = 0,
): NDArray {
  const fn = "random.choice";
  const key = singleKey(k, fn);
  const s = checkShape(fn, shape);
  boolArg(fn, "replace", replace);
  let n: number;
  let arr: NDArray | null = null;
  let ax = 0;
  if (typeof a === "number") {
    n = intArg(fn, "a", a, { min: 0, max: 2 ** 31 - 1 });
    normAxis(fn, axis, 1); // arange(a) is 1-D
  } else {
    arr = asArray(a, fn, "a");
    if (arr.ndim === 0)
      throw new ShapeError(`${fn}: a must be an integer or an array of at least 1 dimension, got shape []`);
    ax = normAxis(fn, axis, arr.ndim);
    n = at(arr.shape, ax, "choice");
  }
  const count = sizeOf(s);
  if (count > 0 && n === 0) throw new ShapeError(`${fn}: cannot take ${count} samples from an empty population`);
  if (!replace && count > n)
    throw new ShapeError(`${fn}: cannot take ${count} samples from ${n} without replacement (shape ${fmtShape(s)})`);
  let pa: NDArray | null = null;
  if (p !== undefined) {
    pa = numericArg(fn, "p", p);
    if (pa.ndim !== 1 || pa.shape[0] !== n)
      throw new ShapeError(`${fn}: p must be 1-D of length ${n}, got shape ${fmtShape(pa.shape)}`);
  }
  let idx: NDArray;
  if (replace) idx = pa === null ? randint(key, s, 0, n) : categorical(key, log(f64(pa)), -1, s);
  else {
    const order =
      pa === null
        ? permutation(key, n)
        : onHost((kk, q) => argsort(add(log(f64(q)), gumbel(kk, [n])), -1, true), [key, pa]);
    idx = reshape(slice(order, [0], [count]), s);
  }
  if (arr === null) return idx;
  const flat = take(arr, reshape(idx, [count]), ax);
  return reshape(flat, [...arr.shape.slice(0, ax), ...s, ...arr.shape.slice(ax + 1)]);
}

/**
 * The inverse error function on (-1, 1) (±Infinity at ±1): Winitzki's
 * closed-form approximation (relative error below 2e-3) refined by four
 * Newton steps y ← y - (erf y - x) / (2/√π · e^{-y²}), whose quadratic
 * convergence brings it to rounding level where erf's slope is not tiny.
 */
function erfinvNewton(x: NDArray): NDArray {
  const a = 0.147;
  const l = log(mul(sub(1, x), add(1, x))); // ln(1 - x²) without cancelling 1 - x²
  const t = add(2 / (Math.PI * a), mul(l, 0.5));
  let y = mul(sign(x), sqrt(sub(sqrt(sub(mul(t, t), div(l, a))), t)));
  const inside = less(abs(x), 1);
  y = where(inside, y, 0);
  for (let i = 0; i < 4; i++) y = sub(y, div(sub(erf(y), x), mul(2 / Math.sqrt(Math.PI), exp(neg(mul(y, y))))));
  return where(inside, y, mul(sign(x), Infinity));
}

/**
 * Samples of the standard normal truncated to [lower, upper], as JAX's
 * `truncated_normal` (inverse CDF: u uniform between erf(lower/√2) and
 * erf(upper/√2), x = √2 erfinv(u), clipped to the bounds); `lower` and
 * `upper` (±Infinity allowed) broadcast to `shape` (default: their
 * broadcast shape). Accurate for bounds within about ±6, beyond which
 * the resolution of the uniform draw (2^-53 of erf's range) limits it.
 * @example nb.random.truncatedNormal(nb.random.key(0), -1, 1, [3]); // values in [-1, 1]
 */
export function truncatedNormal(
  k: ArrayLike,
  lower: ArrayLike,
  upper: ArrayLike,
  shape?: Shape,
  options: { dtype?: DType } = {},
): NDArray {
  const fn = "random.truncatedNormal";
  const key = singleKey(k, fn);
  const lower0 = numericArg(fn, "lower", lower);
  const upper0 = numericArg(fn, "upper", upper);
  const dt = floatDType(fn, dtypeArg(fn, optionsArg(fn, options, ["dtype"]).dtype, "float64"));
  const s = targetShape(fn, shape, lower0.shape, upper0.shape);
  return onHost(
    (kk, l, h) => {
      const lo = f64(l);
      const hi = f64(h);
      const a = erf(div(lo, Math.SQRT2));
      const b = erf(div(hi, Math.SQRT2));
      const u = bind1(RANDOM_UNIFORM, [kk], { shape: s, dtype: "float64" });
      const x = mul(erfinvNewton(add(a, mul(u, sub(b, a)))), Math.SQRT2);
      return astype(clip(x, lo, hi), dt);
    },
    [key, lower0, upper0],
  );
}
