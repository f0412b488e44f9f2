/**
 * The convolution primitive (channels first, N-d, feature groups, window
 * strides, padding, input and kernel dilation). It is bilinear, and both of
 * its transposes are convolutions again (as in JAX's conv_general_dilated):
 * the input cotangent convolves ct with the flipped, group-transposed kernel,
 * input-dilated by the strides; the kernel cotangent convolves the input
 * with ct used as a kernel dilated by the strides. Derivatives of every order
 * therefore stay convolutions.
 */
import { DTypeError, ShapeError, at, fmtShape } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { NDArray } from "../core/ndarray.js";
import type { Aval } from "../core/trace.js";
import { bind1 } from "../core/trace.js";
import * as K from "../kernels/conv.js";
import * as O from "./wrap.js";
import { Dim, BatchResult, batchedFront, moveToFront } from "./batching.js";
import { LinearRule, isLin, tadd } from "./rule.js";
import type { Params } from "./table.js";

type P = Params["conv"];

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

/** The convolution primitive. */
export function convPrim(x: NDArray, w: NDArray, p: P): NDArray {
  return bind1(CONV, [x, w], p);
}

function convAval(x: Aval, w: Aval, p: P): Aval {
  const nd = x.shape.length - 2;
  const sx = fmtShape(x.shape);
  const sw = fmtShape(w.shape);
  if (nd < 1 || w.shape.length !== nd + 2)
    throw new ShapeError(`conv: input ${sx} and kernel ${sw} must be [N, C, ...spatial] and [O, C/groups, ...spatial]`);
  if (x.dtype !== w.dtype) throw new DTypeError(`conv: operand dtypes differ (${x.dtype} and ${w.dtype})`);
  if (!isFloat(x.dtype)) throw new DTypeError(`conv: expected float operands, got ${x.dtype}`);
  for (const k of ["strides", "lo", "hi", "lhsDilation", "rhsDilation"] as const)
    if (p[k].length !== nd) throw new ShapeError(`conv: ${k} has ${p[k].length} entries for ${nd} spatial axes`);
  const G = p.groups;
  const { N, C, O: Oc, Cg, inS, kS } = K.convDims(x.shape, w.shape);
  if (G < 1 || C !== Cg * G || Oc % G !== 0)
    throw new ShapeError(
      `conv: input ${sx} has ${C} channels and kernel ${sw} ${Oc}x${Cg}, inconsistent with ${G} feature group(s)`,
    );
  const out = K.convOutSpatial(inS, kS, p);
  return { shape: [N, Oc, ...out], dtype: x.dtype, weak: false };
}

// d conv(x, w) = conv(dx, w) + conv(x, dw)
export const CONV: LinearRule<P, 2, 1> = {
  name: "conv",
  abstractEval: ([x, w], p) => [convAval(x, w, p)],
  impl: ([x, w], p, [o]) => [K.conv(x, w, p, o.dtype)],
  jvp: ([x, w], [dx = null, dw = null], _o, p) => [
    tadd(dx === null ? null : convPrim(dx, w, p), dw === null ? null : convPrim(x, dw, p)),
  ],
  transpose([ct = null], [x, w], p) {
    if (ct === null) return [null, null];
    if (isLin(x) && isLin(w)) throw new DTypeError("conv: transpose of a convolution of two linear operands");
    if (isLin(x) && !isLin(w)) return [transposeLhs(ct, w, x.aval.shape, p), null];
    if (isLin(w) && !isLin(x)) return [null, transposeRhs(ct, x, w.aval.shape, p)];
    return [null, null];
  },
  vmap: convBatch,
};

/**
 * ct [N, O, ...out] → x̄ [N, C, ...in]: the convolution of ct with the
 * spatially flipped kernel whose O and C/G axes swap within each group,
 * window strides = lhs dilation, lhs dilation = strides, and padding
 * lo' = dil(k) - 1 - lo, hi' = dil(I, ld) + dil(k) - 1 - dil(out, s) - lo'.
 */
function transposeLhs(ct: NDArray, w: NDArray, xShape: readonly number[], p: P): NDArray {
  const nd = xShape.length - 2;
  const G = p.groups;
  const Oc = at(w.shape, 0, "conv");
  const Cg = at(w.shape, 1, "conv");
  const kS = w.shape.slice(2);
  const sp = range(2, nd + 2);
  // w [G·Og, Cg, k] → [G, Og, Cg, k] → [G, Cg, Og, k] → [G·Cg, Og, k], flipped
  let wt = O.reshape(w, [G, Oc / G, Cg, ...kS]);
  wt = O.transposePrim(wt, [0, 2, 1, ...range(3, nd + 3)]);
  wt = O.revPrim(O.reshape(wt, [G * Cg, Oc / G, ...kS]), sp);
  const lo = kS.map((k, d) => K.dilated(k, at(p.rhsDilation, d, "conv")) - 1 - at(p.lo, d, "conv"));
  const hi = kS.map(
    (k, d) =>
      K.dilated(at(xShape, d + 2, "conv"), at(p.lhsDilation, d, "conv")) +
      K.dilated(k, at(p.rhsDilation, d, "conv")) -
      1 -
      K.dilated(at(ct.shape, d + 2, "conv"), at(p.strides, d, "conv")) -
      at(lo, d, "conv"),
  );
  return convPrim(ct, wt, {
    strides: p.lhsDilation,
    lo,
    hi,
    lhsDilation: p.strides,
    rhsDilation: p.rhsDilation,
    groups: G,
  });
}

/**
 * ct [N, O, ...out] → w̄ [O, C/G, ...k]: the convolution of x, with its
 * channels-in-group as the batch axis and (group, example) as features, by ct
 * [O, N, ...out] as a kernel dilated by the strides; window strides = rhs
 * dilation, padding lo, hi' = dil(out, s) - dil(I, ld) + dil(k, rd) - lo - 1.
 */
function transposeRhs(ct: NDArray, x: NDArray, wShape: readonly number[], p: P): NDArray {
  const nd = wShape.length - 2;
  const G = p.groups;
  const N = at(x.shape, 0, "conv");
  const Cg = at(x.shape, 1, "conv") / G;
  const inS = x.shape.slice(2);
  // x [N, G·Cg, in] → [N, G, Cg, in] → [Cg, G, N, in] → [Cg, G·N, in]
  let xt = O.reshape(x, [N, G, Cg, ...inS]);
  xt = O.reshape(O.transposePrim(xt, [2, 1, 0, ...range(3, nd + 3)]), [Cg, G * N, ...inS]);
  const ctT = O.transposePrim(ct, [1, 0, ...range(2, nd + 2)]);
  const hi = inS.map(
    (I, d) =>
      K.dilated(at(ct.shape, d + 2, "conv"), at(p.strides, d, "conv")) -
      K.dilated(I, at(p.lhsDilation, d, "conv")) +
      K.dilated(at(wShape, d + 2, "conv"), at(p.rhsDilation, d, "conv")) -
      at(p.lo, d, "conv") -
      1,
  );
  const r = convPrim(xt, ctT, {
    strides: p.rhsDilation,
    lo: p.lo,
    hi,
    lhsDilation: p.lhsDilation,
    rhsDilation: p.strides,
    groups: G,
  }); // [Cg, O, k]
  return O.transposePrim(r, [1, 0, ...range(2, nd + 2)]);
}

/**
 * Batching: a batched input folds its batch axis into N; a batched kernel
 * folds into O as extra feature groups (the input, broadcast if unbatched,
 * folds its batch axis into C), so each batch member convolves only its own
 * channels.
 */
function convBatch([x, w]: [NDArray, NDArray], [dx = null, dw = null]: [Dim, Dim], p: P, size: number): BatchResult {
  const nd = x.ndim - (dx === null ? 2 : 3);
  if (dw === null) {
    const xb = moveToFront(x, dx ?? 0); // [B, N, C, in]
    const B = at(xb.shape, 0, "conv");
    const N = at(xb.shape, 1, "conv");
    const out = convPrim(O.reshape(xb, [B * N, ...xb.shape.slice(2)]), w, p);
    return [[O.reshape(out, [B, N, ...out.shape.slice(1)])], [0]];
  }
  const xb = batchedFront(x, dx, size); // [B, N, C, in]
  const B = at(xb.shape, 0, "conv");
  const N = at(xb.shape, 1, "conv");
  const C = at(xb.shape, 2, "conv");
  const xm = O.reshape(O.transposePrim(xb, [1, 0, ...range(2, nd + 3)]), [N, B * C, ...xb.shape.slice(3)]);
  const wb = moveToFront(w, dw); // [B, O, Cg, k]
  const wm = O.reshape(wb, [B * at(wb.shape, 1, "conv"), ...wb.shape.slice(2)]);
  const out = convPrim(xm, wm, { ...p, groups: B * p.groups }); // [N, B·O, out]
  return [[O.reshape(out, [N, B, at(wb.shape, 1, "conv"), ...out.shape.slice(2)])], [1]];
}
