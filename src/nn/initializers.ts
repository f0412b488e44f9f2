/**
 * Weight initialisers of `nabla/nn`, as `jax.nn.initializers` defines them:
 * variance scaling with fans computed from the shape, and orthogonal.
 * Everything is built from `nb.random` and array operations, so
 * initialisers also run under `jit` and `vmap` (e.g. over keys).
 */
import { at } from "../core/errors.js";
import * as nb from "../index.js";
import type { ArrayLike, DType, NDArray, Shape } from "../index.js";
import { onHost } from "../ops/host.js";
import { asArray } from "../ops/operand.js";
import { checkNumber, guard, readOptions } from "./common.js";

/**
 * Options of the variance-scaling initialisers. `inAxis`/`outAxis` say which
 * axes of the shape are the input and output features (JAX's defaults −2
 * and −1: a dense kernel `[in, out]`, a conv kernel `[..., in, out]`); the
 * remaining axes form the receptive field. For nabla's channels-first conv
 * kernels `[out, in, ...]` pass `{ inAxis: 1, outAxis: 0 }`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const o: nn.InitOptions = { dtype: "float32", inAxis: 1, outAxis: 0 };
 * nn.heNormal(nb.random.key(0), [8, 4, 3, 3], o);
 */
export interface InitOptions {
  dtype?: DType;
  inAxis?: number;
  outAxis?: number;
}

const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

function checkShapeArg(op: string, shape: Shape, minRank: number): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new nb.ShapeError(`${op}: shape must be an array of non-negative integers, got ${String(shape)}`);
  if (shape.length < minRank)
    throw new nb.ShapeError(`${op}: shape ${fmt(shape)} must have at least ${minRank} dimensions`);
  return [...shape];
}

function floatDType(op: string, dtype: DType | undefined): "float32" | "float64" {
  const d = dtype ?? "float64";
  if (d !== "float32" && d !== "float64") throw new nb.DTypeError(`${op}: dtype must be float32 or float64, got ${d}`);
  return d;
}

function axisOf(op: string, name: string, axis: number, rank: number, shape: readonly number[]): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new nb.ShapeError(`${op}: ${name} ${axis} is out of range for shape ${fmt(shape)}`);
  return axis < 0 ? axis + rank : axis;
}

/**
 * `[fanIn, fanOut]` of a weight shape (JAX's `_compute_fans`): the sizes of
 * the input and output axes, each times the receptive-field size (the
 * product of the other axes).
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.computeFans([3, 3, 16, 32]); // [144, 288]
 */
export function computeFans(shape: Shape, options?: { inAxis?: number; outAxis?: number }): [number, number] {
  const o = readOptions("computeFans", options, ["inAxis", "outAxis"]);
  return fans("computeFans", checkShapeArg("computeFans", shape, 2), o.inAxis, o.outAxis);
}

function fans(op: string, s: readonly number[], inAxis = -2, outAxis = -1): [number, number] {
  const i = axisOf(op, "inAxis", inAxis, s.length, s);
  const j = axisOf(op, "outAxis", outAxis, s.length, s);
  if (i === j) throw new nb.ShapeError(`${op}: inAxis and outAxis must differ, both are ${i}`);
  const field = s.reduce((p, d, k) => (k === i || k === j ? p : p * d), 1);
  return [at(s, i, "fans") * field, at(s, j, "fans") * field];
}

type Mode = "fanIn" | "fanOut" | "fanAvg";
type Distribution = "truncatedNormal" | "uniform";

// the standard deviation of a standard normal truncated to [−2, 2]
const TRUNCATED_STD = 0.8796256610342398;
// erf(2/√2): uniforms in (−ERF2, ERF2) map to normals in (−2, 2) through √2·erfinv
const ERF2 = 0.9544997361036416;
// Giles (2010), "Approximating the erfinv function": single-precision central branch (w < 5)
const GILES = [
  2.81022636e-8, 3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164,
  0.246640727, 1.50140941,
];

/** erfinv(y) for |y| ≤ erf(2/√2) ≈ 0.9545: Giles' approximation (error ≤ 5e-8), then two Newton steps. */
function erfinvCentral(y: NDArray): NDArray {
  const w = nb.sub(nb.neg(nb.log(nb.mul(nb.sub(1, y), nb.add(1, y)))), 2.5);
  let p = nb.full(w.shape, at(GILES, 0, "erfinvCentral"), { dtype: "float64" });
  for (const c of GILES.slice(1)) p = nb.add(nb.mul(p, w), c);
  let x = nb.mul(p, y);
  // x ← x − (erf x − y) / erf'(x),  erf'(x) = 2/√π · e^(−x²)
  for (let k = 0; k < 2; k++)
    x = nb.sub(x, nb.mul(nb.sub(nb.erf(x), y), nb.mul(nb.exp(nb.square(x)), Math.sqrt(Math.PI) / 2)));
  return x;
}

/** Standard normal samples truncated to [−2, 2] (inverse-CDF sampling), float64. */
function truncatedStandardNormal(key: ArrayLike, shape: number[]): NDArray {
  const u = nb.random.uniform(key, shape, { minval: -ERF2, maxval: ERF2 });
  return nb.clip(nb.mul(erfinvCentral(u), Math.SQRT2), -2, 2);
}

function varianceScaling(op: string, scale: number, mode: Mode, distribution: Distribution) {
  return (key: ArrayLike, shape: Shape, options?: InitOptions): NDArray => {
    const s = checkShapeArg(op, shape, 2);
    const o = readOptions(op, options, ["dtype", "inAxis", "outAxis"]);
    const dtype = floatDType(op, o.dtype);
    const [fanIn, fanOut] = fans(op, s, o.inAxis, o.outAxis);
    const fan = mode === "fanIn" ? fanIn : mode === "fanOut" ? fanOut : (fanIn + fanOut) / 2;
    const variance = scale / Math.max(1, fan);
    const std = distribution === "uniform" ? Math.sqrt(3 * variance) : Math.sqrt(variance) / TRUNCATED_STD;
    const draw = (k: NDArray): NDArray =>
      distribution === "uniform" ? nb.random.uniform(k, s, { minval: -1, maxval: 1 }) : truncatedStandardNormal(k, s);
    // float64 samples, scaled, then cast: on the CPU by transfer for a key on "webgpu" (the CPU's numbers)
    return guard(op, () => onHost((k) => nb.astype(nb.mul(draw(k), std), dtype), [asArray(key, op, "key")]));
  };
}

/**
 * Glorot (Xavier) uniform: U(−l, l) with `l = √(6 / (fanIn + fanOut))`, i.e.
 * variance `2 / (fanIn + fanOut)`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const w = nn.glorotUniform(nb.random.key(0), [784, 128]);
 */
export const glorotUniform = varianceScaling("glorotUniform", 1, "fanAvg", "uniform");

/**
 * Glorot (Xavier) normal: a normal truncated at ±2 standard deviations,
 * rescaled (as JAX) to variance `2 / (fanIn + fanOut)`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const w = nn.glorotNormal(nb.random.key(0), [784, 128], { dtype: "float32" });
 */
export const glorotNormal = varianceScaling("glorotNormal", 1, "fanAvg", "truncatedNormal");

/**
 * He (Kaiming) uniform: U(−l, l) with `l = √(6 / fanIn)`, variance `2 / fanIn`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const k = nn.heUniform(nb.random.key(0), [16, 3, 3, 3], { inAxis: 1, outAxis: 0 }); // OIHW conv kernel
 */
export const heUniform = varianceScaling("heUniform", 2, "fanIn", "uniform");

/**
 * He (Kaiming) normal: truncated normal (±2σ, rescaled as JAX) with variance `2 / fanIn`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const w = nn.heNormal(nb.random.key(1), [256, 256]);
 */
export const heNormal = varianceScaling("heNormal", 2, "fanIn", "truncatedNormal");

/**
 * LeCun normal: truncated normal (±2σ, rescaled as JAX) with variance `1 / fanIn`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const w = nn.lecunNormal(nb.random.key(2), [64, 10]);
 */
export const lecunNormal = varianceScaling("lecunNormal", 1, "fanIn", "truncatedNormal");

/**
 * LeCun uniform: U(−l, l) with `l = √(3 / fanIn)`, variance `1 / fanIn`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const w = nn.lecunUniform(nb.random.key(2), [64, 10]);
 */
export const lecunUniform = varianceScaling("lecunUniform", 1, "fanIn", "uniform");

/**
 * A (scaled) orthogonal matrix, as JAX's `orthogonal`: the shape is viewed
 * as a matrix with `shape[columnAxis]` columns and the product of the other
 * axes as rows; the rows (if fewer) or the columns are orthonormal, times
 * `scale`. The Q factor of a Gaussian matrix with R's diagonal made positive
 * (`nb.linalg.qr`), so uniformly (Haar) distributed.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const q = nn.orthogonal(nb.random.key(0), [4, 4]);
 * nb.matmul(nb.transpose(q), q); // ≈ eye(4)
 */
export function orthogonal(
  key: ArrayLike,
  shape: Shape,
  options?: { dtype?: DType; scale?: number; columnAxis?: number },
): NDArray {
  const op = "orthogonal";
  const s = checkShapeArg(op, shape, 2);
  const o = readOptions(op, options, ["dtype", "scale", "columnAxis"]);
  const dtype = floatDType(op, o.dtype);
  const scale = checkNumber(op, "scale", o.scale ?? 1);
  const col = axisOf(op, "columnAxis", o.columnAxis ?? -1, s.length, s);
  const nCols = at(s, col, "orthogonal");
  const nRows = s.reduce((p, d, k) => (k === col ? p : p * d), 1);
  const [m, n] = nRows < nCols ? [nCols, nRows] : [nRows, nCols];
  const build = (k: NDArray): NDArray => {
    const a = nb.random.normal(k, [m, n]);
    // nb.linalg.qr already makes R's diagonal non-negative (JAX multiplies Q by sign(diag R))
    let q = n === 0 ? nb.zeros([m, 0]) : nb.linalg.qr(a)[0];
    if (nRows < nCols) q = nb.transpose(q);
    // q is [nRows, nCols]: rows laid out as the non-column axes, then the column axis moved into place
    const rest = s.filter((_, j) => j !== col);
    const moved = nb.reshape(q, [...rest, nCols]);
    const perm = s.map((_, j) => (j < col ? j : j === col ? s.length - 1 : j - 1));
    return nb.astype(nb.mul(nb.transpose(moved, perm), scale), dtype);
  };
  // float64 samples and factorisation: on the CPU by transfer for a key on "webgpu" (the CPU's numbers)
  return guard(op, () => onHost(build, [asArray(key, op, "key")]));
}
