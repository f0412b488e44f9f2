/** Convolution (N-d, channels first), lowered to the `conv` primitive. */
import "./methods.js";
import { DTypeError, NablaError, ShapeError, fmtShape, fmtValue, at } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import { dilated } from "../kernels/conv.js";
import { convPrim } from "../prims/conv.js";
import * as W from "../prims/wrap.js";
import { asArray, intArg, intListArg, optionsArg } from "./validate.js";

/**
 * Options of {@link conv}. Per-axis values may be one number for every
 * spatial axis. `padding`: "VALID" (none, the default), "SAME" (output
 * extent ceil(in / stride), the odd cell at the end, as JAX), or one
 * `[lo, hi]` pair per spatial axis (negative values crop).
 * @example const opts: nb.ConvOptions = { strides: 2, padding: "SAME" };
 */
export interface ConvOptions {
  /** Window strides (default 1). */
  strides?: number | readonly number[];
  /** "VALID", "SAME" or [lo, hi] per spatial axis. */
  padding?: "SAME" | "VALID" | readonly (readonly [number, number])[];
  /** Kernel (rhs, atrous) dilation (default 1). */
  dilation?: number | readonly number[];
  /** Input (lhs) dilation, as in a transposed convolution (default 1). */
  lhsDilation?: number | readonly number[];
  /** Feature groups: C and O are split into this many groups (default 1; C for depthwise). */
  featureGroupCount?: number;
}

const OPTIONS = ["strides", "padding", "dilation", "lhsDilation", "featureGroupCount"] as const;

function perAxis(v: unknown, nd: number, arg: string): number[] {
  if (v === undefined) return new Array<number>(nd).fill(1);
  const xs = typeof v === "number" ? new Array<number>(nd).fill(v) : intListArg("conv", arg, v, { min: 1 });
  if (xs.length !== nd) throw new ShapeError(`conv: ${arg} has ${xs.length} entries for ${nd} spatial axes`);
  return xs.map((s, i) => intArg("conv", `${arg}[${i}]`, s, { min: 1 }));
}

/**
 * N-d convolution (cross-correlation, as in deep learning frameworks) of
 * `x` [N, C, ...spatial] with the kernel `w` [O, C / groups, ...window]:
 * out[n, o, p] = Σ_{c, t} x[n, g·C/G + c, p·stride + t·dilation - lo] · w[o, c, t]
 * where g is o's group. The result is [N, O, ...out]. Differentiable in
 * both operands to every order (its transposes are convolutions: the input
 * gradient is an input-dilated convolution with the flipped kernel) and
 * batchable. Integer operands are computed in float64.
 * @example
 * const x = nb.reshape(nb.arange(5), [1, 1, 5]);
 * nb.conv(x, nb.array([[[1, -1]]])); // array([[[-1., -1., -1., -1.]]])
 * @example
 * const img = nb.ones([1, 1, 4, 4]);
 * nb.conv(img, nb.ones([2, 1, 3, 3]), { padding: "SAME" }).shape; // [1, 2, 4, 4]
 */
export function conv(x: ArrayLike, w: ArrayLike, options?: ConvOptions): NDArray {
  let a = asArray(x, "conv", "x");
  let k = asArray(w, "conv", "w");
  const o = optionsArg("conv", options, OPTIONS);
  const nd = a.ndim - 2;
  if (nd < 1 || k.ndim !== a.ndim)
    throw new ShapeError(
      `conv: x ${fmtShape(a.shape)} and w ${fmtShape(k.shape)} must be [N, C, ...spatial] and [O, C/groups, ...window] with at least one spatial axis`,
    );
  if (a.dtype === "bool" || k.dtype === "bool")
    throw new DTypeError(`conv: operands must be numeric, got ${a.dtype} and ${k.dtype}`);
  let dt = W.promoted("conv", [a, k]);
  if (!isFloat(dt)) dt = "float64";
  a = W.convertTo(a, dt);
  k = W.convertTo(k, dt);
  const strides = perAxis(o.strides, nd, "strides");
  const rhsDilation = perAxis(o.dilation, nd, "dilation");
  const lhsDilation = perAxis(o.lhsDilation, nd, "lhsDilation");
  const groups =
    o.featureGroupCount === undefined ? 1 : intArg("conv", "featureGroupCount", o.featureGroupCount, { min: 1 });
  const C = at(a.shape, 1, "conv");
  const Oc = at(k.shape, 0, "conv");
  if (C % groups !== 0 || C / groups !== k.shape[1] || Oc % groups !== 0)
    throw new ShapeError(
      `conv: x ${fmtShape(a.shape)} (${C} channels) and w ${fmtShape(k.shape)} do not fit featureGroupCount ${groups} (need w.shape[1] = C / groups and O divisible by groups)`,
    );
  const inS = a.shape.slice(2);
  const kS = k.shape.slice(2);
  const span = (d: number) => dilated(at(inS, d, "conv"), at(lhsDilation, d, "conv"));
  const win = (d: number) => dilated(at(kS, d, "conv"), at(rhsDilation, d, "conv"));
  let lo: number[];
  let hi: number[];
  const pad = o.padding ?? "VALID";
  if (pad === "VALID") {
    lo = new Array<number>(nd).fill(0);
    hi = lo.slice();
  } else if (pad === "SAME") {
    // out = ceil(span / s); total padding (out - 1)·s + window - span, the extra cell at the end
    const total = inS.map((_, d) => {
      const out = Math.ceil(span(d) / at(strides, d, "conv"));
      return Math.max((out - 1) * at(strides, d, "conv") + win(d) - span(d), 0);
    });
    lo = total.map((t) => Math.floor(t / 2));
    hi = total.map((t, d) => t - at(lo, d, "conv"));
  } else {
    if (!Array.isArray(pad) || pad.length !== nd)
      throw new NablaError(`conv: padding must be "SAME", "VALID" or ${nd} [lo, hi] pair(s), got ${fmtValue(pad)}`);
    const pairs = pad.map((pr: unknown, d) => {
      if (!Array.isArray(pr) || pr.length !== 2)
        throw new NablaError(`conv: padding[${d}] must be a [lo, hi] pair, got ${fmtValue(pr)}`);
      return [intArg("conv", `padding[${d}][0]`, pr[0]), intArg("conv", `padding[${d}][1]`, pr[1])] as const;
    });
    lo = pairs.map((p) => p[0]);
    hi = pairs.map((p) => p[1]);
  }
  for (let d = 0; d < nd; d++)
    if (span(d) + at(lo, d, "conv") + at(hi, d, "conv") < win(d))
      throw new ShapeError(
        `conv: spatial axis ${d} of x ${fmtShape(a.shape)} (padded to ${span(d) + at(lo, d, "conv") + at(hi, d, "conv")}) is smaller than the dilated window ${win(d)} of w ${fmtShape(k.shape)}`,
      );
  return convPrim(a, k, { strides, lo, hi, lhsDilation, rhsDilation, groups });
}
