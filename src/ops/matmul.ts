/** Products: matmul, dot, outer, and the diagonal and trace of a matrix. */
import "./methods.js";
import { ShapeError, fmtShape, at } from "../core/errors.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import { type Shape, broadcastShapes } from "../core/shape.js";
import * as W from "../prims/wrap.js";
import { eye } from "./creation.js";
import { asArray } from "./operand.js";
import { intArg } from "./validate.js";
import { mul } from "./elementwise.js";
import { sum } from "./reduce.js";
import { reshape } from "./shape.js";

/**
 * The broadcast batch dimensions `p` and `q` of matmul's operands (of shapes `xShape` and `yShape`):
 * a mismatch names the operands' full shapes, not only the batch parts.
 */
function batchShape(p: Shape, q: Shape, xShape: Shape, yShape: Shape): number[] {
  for (let i = 1; i <= Math.min(p.length, q.length); i++) {
    const d = at(p, p.length - i, "matmul");
    const e = at(q, q.length - i, "matmul");
    if (d !== e && d !== 1 && e !== 1)
      throw new ShapeError(
        `matmul: the batch dimensions ${fmtShape(p)} and ${fmtShape(q)} of shapes ${fmtShape(xShape)} and ` +
          `${fmtShape(yShape)} cannot be broadcast together`,
      );
  }
  return broadcastShapes("matmul", p, q);
}

/**
 * Matrix product with NumPy semantics (1-D operands, broadcast batch dims).
 * Of two bool operands, a bool result: the or of ands.
 * @example nb.matmul(nb.eye(2), [1, 2]); // array([1., 2.])
 */
export function matmul(x: ArrayLike, y: ArrayLike): NDArray {
  let a = asArray(x, "matmul");
  let b = asArray(y, "matmul");
  const xShape = a.shape;
  const yShape = b.shape;
  if (a.ndim === 0 || b.ndim === 0)
    throw new ShapeError(`matmul: operands must be at least 1-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const dt = W.promoted("matmul", [a, b]);
  // bool operands: counted in int32, then tested != 0 (an or of ands, as JAX's bool dot)
  const boolean = dt === "bool";
  a = W.convertTo(a, boolean ? "int32" : dt);
  b = W.convertTo(b, boolean ? "int32" : dt);
  const aVec = a.ndim === 1;
  const bVec = b.ndim === 1;
  if (aVec) a = reshape(a, [1, at(a.shape, 0, "matmul")]);
  if (bVec) b = reshape(b, [at(b.shape, 0, "matmul"), 1]);
  const M = at(a.shape, a.ndim - 2, "matmul");
  const Ka = at(a.shape, a.ndim - 1, "matmul");
  const Kb = at(b.shape, b.ndim - 2, "matmul");
  const N = at(b.shape, b.ndim - 1, "matmul");
  if (Ka !== Kb) throw new ShapeError(`matmul: shapes ${fmtShape(xShape)} and ${fmtShape(yShape)} are not aligned`);
  const batch = batchShape(a.shape.slice(0, -2), b.shape.slice(0, -2), xShape, yShape);
  a = W.broadcastPrim(a, [...batch, M, Ka]);
  b = W.broadcastPrim(b, [...batch, Kb, N]);
  let out = W.matmulPrim(a, b);
  if (aVec || bVec) out = reshape(out, [...batch, ...(aVec ? [] : [M]), ...(bVec ? [] : [N])]);
  return boolean ? W.toBool(out) : out;
}

/**
 * Dot product: scalars multiply, vectors and matrices as `matmul`, N-D as
 * NumPy (sum over the last axis of x and the second-to-last of y).
 * @example nb.dot([1, 2], [3, 4]); // array(11.)
 */
export function dot(x: ArrayLike, y: ArrayLike): NDArray {
  const a = asArray(x, "dot");
  const b = asArray(y, "dot");
  if (a.ndim === 0 || b.ndim === 0) return mul(a, b);
  if (a.shape[a.ndim - 1] !== b.shape[b.ndim === 1 ? 0 : b.ndim - 2])
    throw new ShapeError(`dot: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} are not aligned`);
  if (a.ndim <= 2 && b.ndim <= 2) return matmul(a, b);
  // N-D: out[..., i, ..., j] = sum_k a[..., i, k] b[..., k, j]
  const K0 = at(a.shape, a.ndim - 1, "dot");
  const kb = b.ndim === 1 ? 0 : b.ndim - 2;
  if (b.shape[kb] !== K0)
    throw new ShapeError(`dot: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} are not aligned`);
  const bPerm = [...b.shape.map((_, i) => i).filter((i) => i !== kb), kb];
  const bRest = bPerm.slice(0, -1).map((i) => at(b.shape, i, "dot"));
  // explicit sizes, not -1: with K0 = 0 a -1 has no value (the result is then zeros)
  const bt = reshape(W.transposePrim(b, [kb, ...bPerm.slice(0, -1)]), [K0, bRest.reduce((p, d) => p * d, 1)]);
  const out = matmul(reshape(a, [a.shape.slice(0, -1).reduce((p, d) => p * d, 1), K0]), bt);
  return reshape(out, [...a.shape.slice(0, -1), ...bRest]);
}

/** Outer product of two vectors (flattened). @example nb.outer([1, 2], [3, 4]).shape; // [2, 2] */
export function outer(x: ArrayLike, y: ArrayLike): NDArray {
  return mul(reshape(asArray(x, "outer", "x"), [-1, 1]), reshape(asArray(y, "outer", "y"), [-1]));
}

/**
 * The `k`-th diagonal of a matrix (2-D input: `a[i, i + k]`, above the main one for k > 0, below for
 * k < 0; empty when it lies outside), or from a vector the square matrix with it on the `k`-th
 * diagonal, as NumPy's and jnp's `diag`.
 * @example nb.diag([[1, 2], [3, 4]]); // array([1., 4.])
 * @example nb.diag([[1, 2], [3, 4]], 1); // array([2.])
 * @example nb.diag([1, 2], -1).shape; // [3, 3]
 */
export function diag(x: ArrayLike, k = 0): NDArray {
  const a = asArray(x, "diag");
  intArg("diag", "k", k);
  if (a.ndim === 1) {
    const n = at(a.shape, 0, "diag");
    const d = mul(reshape(a, [n, 1]), eye(n, n, { dtype: a.dtype }));
    if (k === 0) return d;
    // M[i, i + k] = v[i]: k zero columns before and k zero rows after (k < 0: rows before, columns after)
    const u = Math.abs(k);
    return k > 0 ? W.padPrim(d, [0, u], [u, 0]) : W.padPrim(d, [u, 0], [0, u]);
  }
  if (a.ndim !== 2) throw new ShapeError(`diag: expected a 1-D or 2-D array, got shape ${fmtShape(a.shape)}`);
  let n = at(a.shape, 0, "diag");
  let m = at(a.shape, 1, "diag");
  let b = a;
  if (k !== 0) {
    // the k-th diagonal of a is the main diagonal of a without its first k columns (k > 0) or -k rows
    const r0 = k < 0 ? Math.min(-k, n) : 0;
    const c0 = k > 0 ? Math.min(k, m) : 0;
    b = W.slicePrim(a, [r0, c0], [n, m]);
    n -= r0;
    m -= c0;
  }
  const len = Math.min(n, m);
  if (len === 0) return reshape(W.slicePrim(reshape(b, [-1]), [0], [0]), [0]);
  // element (i, i) sits at flat index i (m + 1): view the flat array as rows of m + 1
  const flat = W.padPrim(reshape(b, [n * m]), [0], [len * (m + 1) - n * m > 0 ? len * (m + 1) - n * m : 0]);
  const rows = reshape(W.slicePrim(flat, [0], [len * (m + 1)]), [len, m + 1]);
  return reshape(W.slicePrim(rows, [0, 0], [len, 1]), [len]);
}

/**
 * Sum of the `offset`-th diagonal (see {@link diag}), as NumPy's `trace` of a matrix.
 * @example nb.trace(nb.eye(3)); // array(3.)
 * @example nb.trace([[1, 2], [3, 4]], 1); // array(2.)
 */
export function trace(x: ArrayLike, offset = 0): NDArray {
  const a = asArray(x, "trace");
  intArg("trace", "offset", offset);
  if (a.ndim !== 2) throw new ShapeError(`trace: expected a 2-D array, got shape ${fmtShape(a.shape)}`);
  return sum(diag(a, offset));
}
