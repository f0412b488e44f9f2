/** Value checks against the float64 reference, made before anything is timed. */
import type { FloatDType, HostOutputs } from "../backends/types.js";

/** Relative tolerance, measured against the largest reference magnitude of each output. */
export const TOLERANCE: Readonly<Record<FloatDType, number>> = { float32: 2e-3, float64: 1e-8 };

export interface CheckResult {
  /** Within the dtype's tolerance. */
  readonly ok: boolean;
  /** A float64 result outside the float64 tolerance but within the float32 one: timed, flagged. */
  readonly imprecise: boolean;
  /** max over outputs of max|out - ref| / max|ref| (Infinity for NaN or a size mismatch). */
  readonly relErr: number;
  readonly message: string;
}

export function check(out: HostOutputs, ref: readonly Float64Array[], dtype: FloatDType): CheckResult {
  if (out.length !== ref.length)
    return { ok: false, imprecise: false, relErr: Infinity, message: `${out.length} outputs, expected ${ref.length}` };
  let worst = 0;
  let where = "";
  for (let k = 0; k < ref.length; k++) {
    const o = out[k]!;
    const r = ref[k]!;
    if (o.length !== r.length)
      return {
        ok: false,
        imprecise: false,
        relErr: Infinity,
        message: `output ${k} has ${o.length} elements, expected ${r.length}`,
      };
    let scale = 0;
    for (let i = 0; i < r.length; i++) scale = Math.max(scale, Math.abs(r[i]!));
    scale = Math.max(scale, 1e-30);
    for (let i = 0; i < r.length; i++) {
      const d = Math.abs(o[i]! - r[i]!);
      const e = Number.isNaN(d) ? Infinity : d / scale;
      if (e > worst) {
        worst = e;
        where = `output ${k}[${i}] = ${o[i]}, expected ${r[i]}`;
      }
    }
  }
  const ok = worst <= TOLERANCE[dtype];
  const imprecise = !ok && dtype === "float64" && worst <= TOLERANCE.float32;
  return { ok, imprecise, relErr: worst, message: ok ? "" : where };
}
