/**
 * `nb.linalg`: matrix functions over the last two axes (leading axes batch).
 * Every function is differentiable to any order in both modes.
 */
import { DTypeError, ShapeError, fmtShape, fmtValue } from "../core/errors.js";
import { floatOf } from "../core/dtype.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import { normAxes } from "../core/shape.js";
import {
  broadcastPrim,
  choleskyPrim,
  eighPrim,
  qrPrim,
  slogdetPrim,
  solvePrim,
  triangularSolvePrim,
} from "../prims/wrap.js";
import "./methods.js";
import { eye } from "./creation.js";
import { asArray, boolArg, optionsArg } from "./validate.js";
import { abs, astype, exp, mul, sqrt } from "./elementwise.js";
import { max, sum } from "./reduce.js";
import { broadcastTo, reshape } from "./shape.js";

function floatMatrix(op: string, x: ArrayLike): NDArray {
  let a = asArray(x, op);
  if (a.dtype === "bool") throw new DTypeError(`${op}: expected a numeric matrix, got bool`);
  a = astype(a, floatOf(a.dtype));
  const s = a.shape;
  if (s.length < 2 || s[s.length - 1] !== s[s.length - 2])
    throw new ShapeError(`${op}: expected square matrices [..., n, n], got ${fmtShape(s)}`);
  return a;
}

/** Right-hand side as [..., n, k] with batch dims broadcast to the matrix's; remembers if it was a vector. */
function rhs(op: string, a: NDArray, y: ArrayLike): [NDArray, boolean] {
  let b = astype(asArray(y, op), a.dtype);
  const n = a.shape[a.ndim - 1]!;
  const vec = b.ndim === a.ndim - 1 || b.ndim === 1;
  if (vec) b = reshape(b, [...b.shape, 1]);
  if (b.shape[b.ndim - 2] !== n)
    throw new ShapeError(
      `${op}: matrix ${fmtShape(a.shape)} and right-hand side ${fmtShape(asArray(y).shape)} are not aligned`,
    );
  const batch = a.shape.slice(0, -2);
  b = broadcastPrim(b, [...batch, n, b.shape[b.ndim - 1]!]);
  return [b, vec];
}

/**
 * Solves A x = b (pivoted LU; no explicit inverse). `b` is [..., n] or [..., n, k].
 * @example nb.linalg.solve([[2, 0], [0, 4]], [2, 4]); // array([1., 1.])
 */
export function solve(a: ArrayLike, b: ArrayLike): NDArray {
  const A = floatMatrix("solve", a);
  const [B, vec] = rhs("solve", A, b);
  const x = solvePrim(A, B);
  return vec ? reshape(x, x.shape.slice(0, -1)) : x;
}

/**
 * Solves op(A) x = b for triangular A (only its lower or upper triangle is
 * read); `transposeA` solves with Aᵀ.
 * @example nb.linalg.triangularSolve([[2, 0], [1, 1]], [2, 2], { lower: true }); // array([1., 1.])
 */
export function triangularSolve(
  a: ArrayLike,
  b: ArrayLike,
  options: { lower?: boolean; transposeA?: boolean } = {},
): NDArray {
  const A = floatMatrix("triangularSolve", a);
  const [B, vec] = rhs("triangularSolve", A, b);
  const o = optionsArg("triangularSolve", options, ["lower", "transposeA"]);
  const lower = o.lower === undefined ? true : boolArg("triangularSolve", "lower", o.lower);
  const transposeA = o.transposeA === undefined ? false : boolArg("triangularSolve", "transposeA", o.transposeA);
  const x = triangularSolvePrim(A, B, lower, transposeA);
  return vec ? reshape(x, x.shape.slice(0, -1)) : x;
}

/** Matrix inverse (as solve(A, I)). @example nb.linalg.inv([[2, 0], [0, 4]]); */
export function inv(a: ArrayLike): NDArray {
  const A = floatMatrix("inv", a);
  const n = A.shape[A.ndim - 1]!;
  return solvePrim(A, broadcastTo(eye(n, n, { dtype: A.dtype }), A.shape));
}

/**
 * [sign, log|det A|] (pivoted LU), stable where det over- or underflows.
 * @example const [s, l] = nb.linalg.slogdet([[2, 0], [0, 3]]); // 1, log 6
 */
export function slogdet(a: ArrayLike): [NDArray, NDArray] {
  const [s, l] = slogdetPrim(floatMatrix("slogdet", a));
  return [s!, l!];
}

/** Determinant, sign · exp(log|det|). @example nb.linalg.det([[1, 2], [3, 4]]); // array(-2.) */
export function det(a: ArrayLike): NDArray {
  const [s, l] = slogdetPrim(floatMatrix("det", a));
  return mul(s!, exp(l!));
}

/**
 * Lower Cholesky factor L of the symmetric positive-definite (A + Aᵀ)/2, with
 * A = L Lᵀ; NaN when the matrix is not positive definite.
 * @example nb.linalg.cholesky([[4, 2], [2, 3]]);
 */
export function cholesky(a: ArrayLike): NDArray {
  return choleskyPrim(floatMatrix("cholesky", a));
}

/**
 * Reduced QR of an [..., m, n] matrix with m >= n: [Q, R], Qᵀ Q = I, R upper
 * triangular with a non-negative diagonal.
 * @example const [q, r] = nb.linalg.qr(nb.array([[1, 2], [3, 4], [5, 6]]));
 */
export function qr(a: ArrayLike): [NDArray, NDArray] {
  const A = astype(asArray(a, "qr"), floatOf(asArray(a).dtype));
  const [q, r] = qrPrim(A);
  return [q!, r!];
}

/**
 * Eigen-decomposition of the symmetric (A + Aᵀ)/2: [eigenvalues ascending,
 * eigenvectors as columns]. Derivatives assume distinct eigenvalues.
 * @example const [w, v] = nb.linalg.eigh([[2, 1], [1, 2]]); // w = [1, 3]
 */
export function eigh(a: ArrayLike): [NDArray, NDArray] {
  const [w, v] = eighPrim(floatMatrix("eigh", a));
  return [w!, v!];
}

/**
 * Vector or Frobenius norm (`ord` 2 / "fro" by default, also 1 and Infinity)
 * over `axis` (all axes by default).
 * @example nb.linalg.norm([3, 4]); // array(5.)
 */
export function norm(
  x: ArrayLike,
  ord: number | "fro" = 2,
  axis?: number | readonly number[],
  keepdims = false,
): NDArray {
  const a = asArray(x, "norm");
  const axes = normAxes("norm", axis, a.ndim);
  boolArg("norm", "keepdims", keepdims);
  if (typeof ord !== "number" && ord !== "fro" && ord !== "nuc")
    throw new ShapeError(`norm: ord must be a number, "fro" or "nuc", got ${fmtValue(ord)}`);
  if (ord === 1) return sum(abs(a), axes, keepdims);
  if (ord === Infinity) return max(abs(a), axes, keepdims);
  if (ord !== 2 && ord !== "fro") throw new ShapeError(`norm: unsupported ord ${String(ord)}`);
  return sqrt(sum(mul(a, a), axes, keepdims));
}
