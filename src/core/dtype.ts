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

/** Allocates zeroed storage for `n` elements of `dtype`. */
export function allocate(dtype: DType, n: number): TypedArray {
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
