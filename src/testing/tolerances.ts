/** Tolerances of the gradient checks, per dtype, and why they are what they are. */
import * as nb from "../index.js";

type NDArray = nb.NDArray;
type DType = nb.DType;

// ---------------------------------------------------------------------------
// tolerances

/**
 * Unit roundoff of each float dtype (half the machine epsilon).
 */
export const UNIT_ROUNDOFF: Record<"float32" | "float64", number> = { float32: 2 ** -24, float64: 2 ** -53 };

/**
 * Default step and tolerances per dtype.
 *
 * A central difference (f(x + εt) − f(x − εt)) / 2ε has two errors:
 * truncation ε²/6 · |f'''| and rounding ≈ u·|f|/ε (u the unit roundoff).
 *
 * - float64 (u ≈ 1.1e-16): ε = 1e-5 balances the two at ≈ 1e-11 relative
 *   to the size of f and its third derivative. atol = rtol = 1e-6 leaves
 *   five orders of magnitude for third derivatives of the size f'''/f ≈ 1e4
 *   that the recursion to order 3 produces, while a wrong rule (an O(1)
 *   relative error) is still caught by six orders of magnitude.
 * - float32 (u ≈ 6e-8): ε = 1e-3 puts the rounding term at ≈ 6e-5·|f| and
 *   truncation at ≈ 2e-7·|f'''|; atol = rtol = 1e-2 is above both with
 *   room for the few ulps of float32 rounding each primitive adds along a
 *   chain, and still catches a wrong rule (an O(1) relative error).
 *
 * On top of atol + rtol·|expected|, each comparison adds an estimate of the
 * difference quotient's own error (see numericalJvpFlat): its rounding
 * floor NOISE_ULPS · u · (|f(x+εt)| + |f(x−εt)|) / 2ε (a finite difference
 * cannot resolve a derivative more finely than the rounding of the values
 * it subtracts; the factor allows for a few ulps of error per primitive in
 * f) and its truncation error, measured as |D(2ε) − D(ε)|.
 */
export const DEFAULTS: Record<"float32" | "float64", { eps: number; atol: number; rtol: number }> = {
  float64: { eps: 1e-5, atol: 1e-6, rtol: 1e-6 },
  float32: { eps: 1e-3, atol: 1e-2, rtol: 1e-2 },
};
export const NOISE_ULPS = 64;

/**
 * Tolerance of the adjoint identity between reverse and forward mode
 * (⟨Jᵀct, t⟩ against ⟨ct, J t⟩, both by AD), relative to the natural scale
 * Σ|ct_i (J t)_i|. Both sides are exact up to rounding, so only the growth
 * of rounding errors through f needs room: 1e-9 allows a growth of ~1e7
 * ulps in float64, 1e-4 of ~1e3 ulps in float32.
 */
export const ADJOINT_RTOL: Record<"float32" | "float64", number> = { float64: 1e-9, float32: 1e-4 };

export function isFloatDType(d: DType): d is "float32" | "float64" {
  return d === "float32" || d === "float64";
}

/** The least precise float dtype among the arrays (float64 if there is none). */
export function workingDType(xs: readonly NDArray[]): "float32" | "float64" {
  return xs.some((x) => x.dtype === "float32") ? "float32" : "float64";
}
