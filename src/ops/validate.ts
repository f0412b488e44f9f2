/**
 * The validation layer of the public operations: every argument a user
 * passes to a function of `src/ops` goes through one of these helpers at the
 * top of that function, so a bad argument of any type throws a
 * {@link NablaError} subclass whose message begins with the name of the
 * function the user called (`fn`), before any work or allocation happens.
 * Axes are checked by `normAxis`/`normAxes` (`src/core/shape.ts`).
 *
 * Internal to nabla (not re-exported by `index.ts`).
 */
import { defaultFloat } from "../core/device.js";
import { DTypeError, NablaError, ShapeError, fmtShape, fmtValue, at } from "../core/errors.js";
import { DType, allocate, isDType, isFloat } from "../core/dtype.js";
import { ConcreteArray, NDArray, scalar, storageOf } from "../core/ndarray.js";
import { MAX_NDIM, MAX_SIZE, Shape, checkShape, sizeOf } from "../core/shape.js";
import * as W from "../prims/wrap.js";
import { readOptions } from "../core/options.js";

export { MAX_NDIM, MAX_SIZE };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function typedDType(t: unknown): DType | null {
  if (t instanceof Float64Array) return "float64";
  if (t instanceof Float32Array) return "float32";
  if (t instanceof Int32Array) return "int32";
  return null;
}

/** `fn: ` or `fn: arg ` (the start of a message about one argument). */
function about(fn: string, arg: string | undefined): string {
  return arg === undefined ? `${fn}:` : `${fn}: ${arg}`;
}

/**
 * An ArrayLike argument as an NDArray: NDArrays as they are, JS numbers as
 * weak float64 scalars, booleans as bool scalars, float64/float32/int32 typed
 * arrays (copied), and rectangular nested JS arrays of numbers, booleans and
 * NDArrays. Anything else (strings, objects, Symbols, BigInts, null, holey,
 * ragged, cyclic or too deeply nested arrays) throws naming `fn`.
 */
export function asArray(x: unknown, fn = "array", arg?: string): NDArray {
  if (x instanceof NDArray) {
    // a tracer whose transform has returned: TracerError
    x.assertLive(fn);
    return x;
  }
  if (typeof x === "number") return scalar(x, "float64", true);
  if (typeof x === "boolean") return scalar(x ? 1 : 0, "bool");
  return literal(fn, x, undefined, arg);
}

/** A non-NDArray ArrayLike (typed array or nested list) as a strong concrete array (or a stack of NDArrays). */
export function literal(fn: string, x: unknown, dtype: DType | undefined, arg?: string): NDArray {
  if (typeof x === "number" || typeof x === "boolean")
    return fill(fn, [Number(x)], [], dtype ?? (typeof x === "boolean" ? "bool" : defaultFloat()));
  if (ArrayBuffer.isView(x)) {
    const td = typedDType(x);
    if (td === null)
      throw new DTypeError(
        `${about(fn, arg)} ${fmtValue(x)} is not supported (use a Float64Array, Float32Array or Int32Array)`,
      );
    const copy = (x as Float64Array).slice();
    if (dtype === undefined || dtype === td) return new ConcreteArray(copy, [copy.length], td);
    return fill(fn, Array.from(copy), [copy.length], dtype);
  }
  if (!Array.isArray(x))
    throw new DTypeError(
      `${about(fn, arg)} expected an array-like (a number, boolean, nested array or typed array), got ${fmtValue(x)}`,
    );
  // the shape from the first element of every level, refusing cycles and absurd depth
  const shape: number[] = [];
  const seen = new Set<unknown>();
  let probe: unknown = x;
  while (Array.isArray(probe)) {
    if (seen.has(probe)) throw new ShapeError(`${about(fn, arg)} is a cyclic array (it contains itself)`);
    if (shape.length === MAX_NDIM)
      throw new ShapeError(`${about(fn, arg)} is a nested array deeper than ${MAX_NDIM} levels`);
    seen.add(probe);
    shape.push(probe.length);
    probe = probe.length > 0 ? probe[0] : undefined;
  }
  if (probe instanceof NDArray || containsNDArray(x, 0)) return stackLiteral(fn, x, arg, 0);
  const flat: number[] = [];
  let allBool = true;
  const index: number[] = [];
  const where = () => `element [${index.join(",")}]`;
  const walk = (v: readonly unknown[], axis: number): void => {
    if (v.length !== shape[axis])
      throw new ShapeError(`${about(fn, arg)} is a ragged nested array (expected shape ${fmtShape(shape)})`);
    for (let i = 0; i < v.length; i++) {
      index[axis] = i;
      if (!(i in v)) throw new ShapeError(`${about(fn, arg)} has a hole at ${where()} (a holey array)`);
      const e = v[i];
      if (axis < shape.length - 1) {
        if (!Array.isArray(e))
          throw new ShapeError(`${about(fn, arg)} is a ragged nested array (expected shape ${fmtShape(shape)})`);
        walk(e, axis + 1);
      } else if (typeof e === "number") {
        allBool = false;
        flat.push(e);
      } else if (typeof e === "boolean") flat.push(e ? 1 : 0);
      else if (Array.isArray(e))
        throw new ShapeError(`${about(fn, arg)} is a ragged nested array (expected shape ${fmtShape(shape)})`);
      else throw new DTypeError(`${about(fn, arg)} has ${where()} ${fmtValue(e)}; expected a number or boolean`);
    }
  };
  walk(x, 0);
  index.length = 0;
  return fill(fn, flat, shape, dtype ?? (allBool && flat.length > 0 ? "bool" : defaultFloat()));
}

/** Storage of `dtype` from plain numbers; values int32 cannot represent throw. */
function fill(fn: string, values: readonly number[], shape: Shape, dtype: DType): ConcreteArray {
  const out = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = at(values, i, fn);
    if (dtype === "int32" && !(v >= INT32_MIN && v < INT32_MAX + 1))
      throw new DTypeError(`${fn}: value ${fmtValue(v)} cannot be represented as int32`);
    out[i] = dtype === "bool" ? (v !== 0 ? 1 : 0) : v;
  }
  return new ConcreteArray(out, shape, dtype);
}

/** Whether a nested list holds an NDArray (depth-bounded: cycles end at MAX_NDIM). */
function containsNDArray(d: unknown, depth: number): boolean {
  if (d instanceof NDArray) return true;
  if (!Array.isArray(d) || depth > MAX_NDIM) return false;
  for (const e of d) if (containsNDArray(e, depth + 1)) return true;
  return false;
}

/** A nested list containing NDArrays (tracers included): its items converted and stacked along a new axis 0. */
function stackLiteral(fn: string, x: unknown, arg: string | undefined, depth: number): NDArray {
  if (x instanceof NDArray) return x;
  if (!Array.isArray(x)) return asArray(x, fn, arg);
  if (depth >= MAX_NDIM) throw new ShapeError(`${about(fn, arg)} is a nested array deeper than ${MAX_NDIM} levels`);
  if (x.length === 0) return W.full([0], 0, defaultFloat());
  const items: NDArray[] = [];
  for (let i = 0; i < x.length; i++) {
    if (!(i in x)) throw new ShapeError(`${about(fn, arg)} has a hole at index ${i} (a holey array)`);
    items.push(stackLiteral(fn, x[i], arg, depth + 1));
  }
  const s0 = at(items, 0, fn).shape;
  for (const a of items)
    if (a.shape.length !== s0.length || a.shape.some((d, i) => d !== s0[i]))
      throw new ShapeError(
        `${about(fn, arg)} is a ragged nested array (items of shapes ${items.map((b) => fmtShape(b.shape)).join(", ")})`,
      );
  const dt = W.promoted(fn, items);
  return W.concatPrim(
    items.map((a) => W.reshape(W.convertTo(a, dt), [1, ...a.shape])),
    0,
  );
}

/** A list of ArrayLikes (`concatenate`, `stack`): a non-empty JS array. */
export function arrayListArg(fn: string, xs: unknown, arg = "xs"): NDArray[] {
  if (!Array.isArray(xs)) throw new ShapeError(`${fn}: ${arg} must be a list of arrays, got ${fmtValue(xs)}`);
  if (xs.length === 0) throw new ShapeError(`${fn}: ${arg} must be a non-empty list of arrays`);
  const out: NDArray[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (!(i in xs)) throw new ShapeError(`${fn}: ${arg} has a hole at index ${i} (a holey array)`);
    out.push(asArray(xs[i], fn, `${arg}[${i}]`));
  }
  return out;
}

/** A shape argument: a JS array of non-negative safe integers whose product is at most 2^31 - 1. */
export function shapeArg(fn: string, shape: unknown, arg = "shape"): number[] {
  return checkShape(fn, shape, arg);
}

/** Throws ShapeError naming `fn` if `shape` has more than 2^31 - 1 elements (call before allocating). */
export function sizeArg(fn: string, shape: Shape): void {
  const n = sizeOf(shape);
  if (n > MAX_SIZE)
    throw new ShapeError(`${fn}: shape ${fmtShape(shape)} has ${n} elements, more than the limit 2^31 - 1`);
}

/** An integer argument in [min, max] (JS numbers only). */
export function intArg(
  fn: string,
  arg: string,
  v: unknown,
  range: { min?: number; max?: number } = {},
  cls: new (m: string) => NablaError = ShapeError,
): number {
  const { min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new cls(`${fn}: ${arg} must be an integer in [${min}, ${max}], got ${fmtValue(v)}`);
  return v;
}

/** A JS number argument (`finite`: NaN and ±Infinity refused). */
export function numberArg(fn: string, arg: string, v: unknown, finite = false): number {
  if (typeof v !== "number" || (finite && !Number.isFinite(v)))
    throw new NablaError(`${fn}: ${arg} must be a ${finite ? "finite " : ""}number, got ${fmtValue(v)}`);
  return v;
}

/** A boolean argument (`keepdims`, `descending`, options flags). */
export function boolArg(fn: string, arg: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new NablaError(`${fn}: ${arg} must be true or false, got ${fmtValue(v)}`);
  return v;
}

/** A dtype argument (undefined: `dflt`). */
export function dtypeArg(fn: string, d: unknown, dflt: DType): DType {
  if (d === undefined) return dflt;
  if (!isDType(d))
    throw new DTypeError(`${fn}: unknown dtype ${fmtValue(d)} (expected "float64", "float32", "int32" or "bool")`);
  return d;
}

/**
 * An options object: undefined (no options) or a plain object whose keys are
 * among `keys`, read by the one options validator ({@link readOptions}, the
 * same checks and messages as the transforms'). Returns it as a record of
 * unknowns for the caller to check.
 */
export function optionsArg<K extends string>(
  fn: string,
  v: unknown,
  keys: readonly K[],
): { readonly [P in K]?: unknown } {
  // readOptions checks at run time that `v` is undefined or a plain object
  return readOptions(fn, v as { readonly [P in K]?: unknown } | undefined, keys);
}

/** A list of integers (slice bounds, permutations, tile reps): a JS array of integers, no holes. */
export function intListArg(fn: string, arg: string, v: unknown, range: { min?: number; max?: number } = {}): number[] {
  if (!Array.isArray(v)) throw new ShapeError(`${fn}: ${arg} must be an array of integers, got ${fmtValue(v)}`);
  if (v.length > MAX_NDIM) throw new ShapeError(`${fn}: ${arg} has ${v.length} entries, more than ${MAX_NDIM}`);
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (!(i in v)) throw new ShapeError(`${fn}: ${arg} has a hole at index ${i} (a holey array)`);
    out.push(intArg(fn, `${arg}[${i}]`, v[i], range));
  }
  return out;
}

/**
 * Integer indices as int32 (integral float literals convert; other dtypes throw naming `op`). An
 * array on a device is not read: bool converts (always in range), float throws as on the CPU.
 */
export function indexArray(indices: unknown, op: string): NDArray {
  const i = indices instanceof NDArray ? indices : asArray(indices, op, "indices");
  if (i.dtype === "int32") return i;
  if (i instanceof ConcreteArray && i.device === "cpu")
    for (const v of storageOf(i))
      if (!(v >= -(2 ** 31) && v < 2 ** 31))
        throw new DTypeError(`${op}: index ${fmtValue(v)} is outside the int32 range`);
  if (i instanceof ConcreteArray && !isFloat(i.dtype)) return W.astype(i, "int32");
  if (i instanceof ConcreteArray && !(indices instanceof NDArray)) {
    for (const v of storageOf(i)) {
      if (!Number.isInteger(v)) throw new DTypeError(`${op}: indices must be integers, got ${v}`);
      if (v < INT32_MIN || v > INT32_MAX) throw new DTypeError(`${op}: index ${v} is outside the int32 range`);
    }
    return W.astype(i, "int32");
  }
  throw new DTypeError(`${op}: indices must be int32, got ${i.dtype}`);
}
