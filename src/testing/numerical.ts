/** Numerical differentiation: central differences with an estimate of their own error. */
import { at, fmtValue } from "../core/errors.js";
import { fnArg, listArg } from "../transforms/common.js";
import * as nb from "../index.js";
import type { ArraysOf, Returned, TangentOf } from "../index.js";
import { flatArrays, fmtShape, values } from "./common.js";
import { DEFAULTS, NOISE_ULPS, isFloatDType, workingDType } from "./tolerances.js";

type NDArray = nb.NDArray;

// ---------------------------------------------------------------------------
// numerical JVP

export interface NumericalJvp {
  /** The difference quotients, one per output leaf. */
  leaves: NDArray[];
  def: nb.tree.TreeDef;
  /** Per output leaf, per element: an estimate of the difference quotient's error (when requested). */
  uncertainty: Float64Array[];
  eps: number;
}

/**
 * Central differences D(ε) = (f(x + εt) − f(x − εt)) / 2ε. With `u` (the unit
 * roundoff of the working dtype) it also estimates D(ε)'s error per element:
 * - rounding: NOISE_ULPS · u · (|f(x + εt)| + |f(x − εt)|) / 2ε;
 * - truncation: |D(2ε) − D(ε)|. Truncation error grows as ε², so
 *   D(2ε) − D(ε) ≈ 3 × the truncation error of D(ε): a safe a-posteriori
 *   bound that is large only where f is far from its Taylor polynomial (near
 *   singularities, at high orders). It involves no derivative computed by
 *   AD, so it cannot hide an AD error. Where D(2ε) is not finite (f leaves
 *   its domain at x ± 2εt) the term is dropped rather than let an infinite
 *   tolerance pass anything.
 */
export function numericalJvpFlat(
  f: (...args: never[]) => unknown,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  eps: number | undefined,
  u?: number,
  op = "numericalJvp",
): NumericalJvp {
  const [ps, pdef] = flatArrays(primals, op, "the primals");
  const [tsRaw, tdef] = flatArrays(tangents, op, "the tangents");
  if (!pdef.equals(tdef))
    throw new nb.ShapeError(`${op}: tangents have structure ${tdef}, expected the structure of the primals ${pdef}`);
  const ts = tsRaw.map((t, i) => {
    const p = at(ps, i, op);
    if (t.shape.length !== p.shape.length || t.shape.some((d, k) => d !== p.shape[k]))
      throw new nb.ShapeError(`${op}: tangent leaf ${i} has shape ${fmtShape(t.shape)}, expected ${fmtShape(p.shape)}`);
    return t.dtype === p.dtype ? t : t.astype(p.dtype);
  });
  const e = eps ?? DEFAULTS[workingDType(ps)].eps;
  const shifted = (step: number): unknown[] =>
    nb.tree.unflatten(
      pdef,
      ps.map((p, i) => (isFloatDType(p.dtype) ? nb.add(p, nb.mul(at(ts, i, op), step)) : p)),
    ) as unknown[];
  const quotient = (h: number) => {
    const [plus, def] = flatArrays(f(...(shifted(h) as never[])), op, "the output");
    const [minus, defMinus] = flatArrays(f(...(shifted(-h) as never[])), op, "the output");
    if (!def.equals(defMinus))
      throw new nb.ShapeError(`${op}: the function returned structures ${def} and ${defMinus} at x ± εt`);
    const leaves = plus.map((a, i) => {
      const b = at(minus, i, op);
      if (!isFloatDType(a.dtype)) return nb.zeros(a.shape, { dtype: a.dtype });
      return nb.div(nb.sub(a, b), 2 * h);
    });
    return { plus, minus, def, leaves };
  };
  const d1 = quotient(e);
  let uncertainty: Float64Array[] = [];
  if (u !== undefined) {
    const d2 = quotient(2 * e);
    uncertainty = d1.leaves.map((l, i) => {
      const va = values(at(d1.plus, i, op));
      const vb = values(at(d1.minus, i, op));
      const q1 = values(l);
      const q2 = values(at(d2.leaves, i, op));
      return va.map((v, k) => {
        const rounding = (NOISE_ULPS * u * (Math.abs(v) + Math.abs(at(vb, k, op)))) / (2 * e);
        const truncation = Math.abs(at(q2, k, op) - at(q1, k, op));
        return rounding + (Number.isFinite(truncation) ? truncation : 0);
      });
    });
  }
  return { leaves: d1.leaves, def: d1.def, uncertainty, eps: e };
}

/**
 * Central-difference JVP: (f(x + εt) − f(x − εt)) / 2ε over pytrees of
 * arguments, with the output's structure and NDArray leaves (zeros for
 * non-float outputs). ε defaults to 1e-5 for float64 inputs and 1e-3 when
 * any input is float32.
 * @example
 * const [dy] = numericalJvp((x: nb.NDArray) => [nb.sin(x)], [nb.array(0.5)], [nb.array(1)]);
 * dy.item(); // ≈ Math.cos(0.5)
 */
export function numericalJvp<P extends readonly [] | readonly unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<[...P]>>) => R,
  primals: P,
  tangents: NoInfer<TangentOf<P>>,
  eps?: number,
): ArraysOf<R>;
export function numericalJvp(
  f: (...args: never[]) => unknown,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  eps?: number,
): any {
  f = fnArg("numericalJvp", f);
  listArg("numericalJvp", "primals", primals);
  listArg("numericalJvp", "tangents", tangents);
  if (eps !== undefined && !(typeof eps === "number" && Number.isFinite(eps) && eps > 0))
    throw new nb.NablaError(`numericalJvp: eps must be a finite number > 0, got ${fmtValue(eps)}`);
  const r = numericalJvpFlat(f, primals, tangents, eps);
  return nb.tree.unflatten(r.def, r.leaves);
}
