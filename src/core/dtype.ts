/** Element types, their storage, and JAX-style promotion with weak scalars. */
import { DTypeError } from "./errors.js";

/** The element types an {@link NDArray} can hold. */
export type DType = "float32" | "float64" | "int32" | "bool";

/** Typed-array storage of each dtype. */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool"];

export function isDType(d: unknown): d is DType {
  return d === "float32" || d === "float64" || d === "int32" || d === "bool";
}

export function isFloat(d: DType): boolean {
  return d === "float32" || d === "float64";
}

/** Allocates zeroed storage for `n` elements of `dtype` (from the active arena's free buffers when it has one). */
export function allocate(dtype: DType, n: number): TypedArray {
  if (ARENA !== null && n >= ARENA_MIN) return ARENA.take(dtype, n);
  return fresh(dtype, n);
}

/**
 * {@link allocate} for a caller that writes every element before anything reads one: a buffer
 * reused from the active arena is not zeroed first (a new one is zero, as always).
 */
export function allocateOverwritten(dtype: DType, n: number): TypedArray {
  if (ARENA !== null && n >= ARENA_MIN) return ARENA.take(dtype, n, false);
  return fresh(dtype, n);
}

/** {@link allocateOverwritten} of a float dtype, typed as float storage. */
export function allocateFloat(dtype: "float32" | "float64", n: number): Float32Array | Float64Array {
  const b = allocateOverwritten(dtype, n);
  if (b instanceof Float32Array || b instanceof Float64Array) return b;
  throw new DTypeError(`allocate: internal: ${dtype} storage is a ${b.constructor.name}`);
}

/**
 * Zeroed storage never taken from nor recorded by an arena: for buffers kept beyond one run of a
 * plan (jit's plan memory), which the arena must never hand out or release.
 */
export function allocateUnpooled(dtype: DType, n: number): TypedArray {
  return fresh(dtype, n);
}

/** Buffers whose elements are rewritten after they were first filled (jit's kept and arena buffers). */
const REWRITTEN = new WeakSet<ArrayBufferLike>();

/**
 * {@link allocateUnpooled} for a buffer a plan keeps from run to run and writes again on every
 * run: marked, so nothing caches a copy of its elements ({@link isRewritten}).
 */
export function allocateKept(dtype: DType, n: number): TypedArray {
  const b = fresh(dtype, n);
  REWRITTEN.add(b.buffer);
  return b;
}

/**
 * @internal Whether storage backed by `buf` may be written again after it was filled (a jit
 * plan's kept or arena buffer, which a plan can hand to code inside it as an array's storage).
 * Every other array's storage is written once, before the array exists, and never again.
 */
export function isRewritten(buf: ArrayBufferLike): boolean {
  return REWRITTEN.has(buf);
}

function fresh(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case "float64":
      return new Float64Array(n);
    case "float32":
      return new Float32Array(n);
    case "int32":
      return new Int32Array(n);
    case "bool":
      return new Uint8Array(n);
  }
}

/** Arrays smaller than this many elements are always allocated (cheap on the JS heap). */
export const ARENA_MIN = 1024;
/** The most bytes an arena keeps in its free lists (beyond, released buffers are left to the GC). */
const ARENA_MAX_BYTES = 64 * 1024 * 1024;

/**
 * @internal Storage reuse for a jit plan (issue 8: allocating and collecting the large typed arrays
 * of intermediates was a third of W5's time). While active (`withArena`), `allocate` of at least
 * ARENA_MIN elements hands out a released buffer of the same dtype and length, zeroed, or a new
 * one, and records it as handed out in the current run. The plan releases a buffer (`release`)
 * only when no live value of the run holds it and it was handed out in this run, so a released
 * buffer is never visible to anything outside the plan.
 */
export class Arena {
  readonly #free = new Map<string, TypedArray[]>();
  #bytes = 0;
  /** The buffers handed out in the current run, by their ArrayBuffer (views share it). */
  handed = new Map<ArrayBufferLike, TypedArray>();

  /** A buffer of n elements of dtype: a released one (zeroed when `zero`) or a new one. */
  take(dtype: DType, n: number, zero = true): TypedArray {
    const list = this.#free.get(`${dtype}:${n}`);
    let b = list?.pop();
    if (b !== undefined) {
      this.#bytes -= b.byteLength;
      if (zero) b.fill(0);
    } else {
      b = fresh(dtype, n);
      REWRITTEN.add(b.buffer);
    }
    this.handed.set(b.buffer, b);
    return b;
  }

  /** Makes the buffer handed out in this run that backs `buf` free for reuse (it must be dead). */
  release(buf: ArrayBufferLike): void {
    const b = this.handed.get(buf);
    if (b === undefined) return;
    this.handed.delete(buf);
    if (this.#bytes + b.byteLength > ARENA_MAX_BYTES) return;
    const dtype: DType =
      b instanceof Float64Array
        ? "float64"
        : b instanceof Float32Array
          ? "float32"
          : b instanceof Int32Array
            ? "int32"
            : "bool";
    const key = `${dtype}:${b.length}`;
    const list = this.#free.get(key);
    if (list === undefined) this.#free.set(key, [b]);
    else list.push(b);
    this.#bytes += b.byteLength;
  }
}

let ARENA: Arena | null = null;

/** @internal Runs `f` with `arena` active for `allocate` (the previous arena restored after). */
export function withArena<T>(arena: Arena | null, f: () => T): T {
  const prev = ARENA;
  ARENA = arena;
  try {
    return f();
  } finally {
    ARENA = prev;
  }
}

/** Short names used by the IR printer. */
export const SHORT: Record<DType, string> = { float64: "f64", float32: "f32", int32: "i32", bool: "bool" };

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

/** An operand as promotion sees it: its dtype, whether it is a weak JS scalar, and (for weak scalars) whether it is integral. */
export interface PromoteIn {
  dtype: DType;
  weak: boolean;
  integral?: boolean;
}

/**
 * The result dtype of combining operands (JAX rules, adapted to JS numbers):
 * strong dtypes promote along bool < int32 < float32 < float64; a weak JS
 * scalar takes the dtype of the strong operands, except that a non-integral
 * scalar with only int/bool strong operands gives float64. The result is weak
 * only if every operand is.
 */
export function promote(op: string, ins: readonly PromoteIn[]): { dtype: DType; weak: boolean } {
  let strong: DType | null = null;
  let weakD: DType | null = null;
  let allIntegral = true;
  for (const x of ins) {
    if (x.weak) {
      weakD = weakD === null || RANK[x.dtype] > RANK[weakD] ? x.dtype : weakD;
      if (!x.integral) allIntegral = false;
    } else {
      strong = strong === null || RANK[x.dtype] > RANK[strong] ? x.dtype : strong;
    }
  }
  if (strong === null) {
    if (weakD === null) throw new DTypeError(`${op}: no operands`);
    return { dtype: weakD, weak: true };
  }
  if (weakD === null || isFloat(strong) || !isFloat(weakD)) {
    return { dtype: weakD !== null && RANK[weakD] > RANK[strong] && !isFloat(weakD) ? weakD : strong, weak: false };
  }
  // strong is int32/bool, weak is a float scalar
  if (allIntegral) return { dtype: strong === "bool" ? "int32" : strong, weak: false };
  return { dtype: "float64", weak: false };
}

/** The float dtype an op on `d` computes in (ints and bools compute in float64). */
export function floatOf(d: DType): DType {
  return isFloat(d) ? d : "float64";
}
