/**
 * `nb.linalg`: matrix functions over the last two axes (leading axes batch).
 * Every function is differentiable to any order in both modes.
 * @module
 */
import { DTypeError, ShapeError, fmtShape, fmtValue, at } from "../core/errors.js";
import { floatOf } from "../core/dtype.js";
import { ArrayLike, ConcreteArray, NDArray } from "../core/ndarray.js";
import { normAxis } from "../core/shape.js";
import {
  broadcastPrim,
  choleskyPrim,
  detPrim,
  eighPrim,
  expmPrim,
  keepShape,
  luPrim,
  promoted,
  qrPrim,
  slogdetPrim,
  solvePrim,
  svdPrim,
  transposePrim,
  triangularSolvePrim,
} from "../prims/wrap.js";
import "./methods.js";
import { eye, zeros } from "./creation.js";
import { asArray, boolArg, numberArg, optionsArg } from "./validate.js";
import { abs, add, astype, div, greater, mul, notEqual, pow, sqrt, stopGradient, sub, where } from "./elementwise.js";
import { max, min, sum } from "./reduce.js";
import { broadcastTo, expandDims, reshape } from "./shape.js";
import { matmul } from "./matmul.js";

function floatMatrix(op: string, x: ArrayLike): NDArray {
  let a = asArray(x, op);
  if (a.dtype === "bool") throw new DTypeError(`${op}: expected a numeric matrix, got bool`);
  a = astype(a, floatOf(a.dtype));
  const s = a.shape;
  if (s.length < 2 || s[s.length - 1] !== s[s.length - 2])
    throw new ShapeError(`${op}: expected square matrices [..., n, n], got ${fmtShape(s)}`);
  return a;
}

/**
 * The matrix and right-hand side of a solve, both in their promoted float
 * dtype (float32 with float64 gives float64, as every binary operation), the
 * right-hand side as [..., n, k] with batch dims broadcast to the matrix's;
 * remembers if it was a vector.
 */
function solveOperands(op: string, x: ArrayLike, y: ArrayLike): [NDArray, NDArray, boolean] {
  const a0 = floatMatrix(op, x);
  const b0 = asArray(y, op);
  if (b0.dtype === "bool") throw new DTypeError(`${op}: expected a numeric right-hand side, got bool`);
  const dt = floatOf(promoted(op, [a0, b0]));
  const a = astype(a0, dt);
  let b = astype(b0, dt);
  const n = at(a.shape, a.ndim - 1, op);
  const vec = b.ndim === a.ndim - 1 || b.ndim === 1;
  if (vec) b = reshape(b, [...b.shape, 1]);
  if (b.shape[b.ndim - 2] !== n)
    throw new ShapeError(
      `${op}: matrix ${fmtShape(a.shape)} and right-hand side ${fmtShape(b0.shape)} are not aligned`,
    );
  const batch = a.shape.slice(0, -2);
  b = broadcastPrim(b, [...batch, n, at(b.shape, b.ndim - 1, op)]);
  return [a, b, vec];
}

/**
 * Solves A x = b (pivoted LU; no explicit inverse). `b` is [..., n] or [..., n, k].
 * @example nb.linalg.solve([[2, 0], [0, 4]], [2, 4]); // array([1., 1.])
 */
export function solve(a: ArrayLike, b: ArrayLike): NDArray {
  const [A, B, vec] = solveOperands("solve", a, b);
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
  const [A, B, vec] = solveOperands("triangularSolve", a, b);
  const o = optionsArg("triangularSolve", options, ["lower", "transposeA"]);
  const lower = o.lower === undefined ? true : boolArg("triangularSolve", "lower", o.lower);
  const transposeA = o.transposeA === undefined ? false : boolArg("triangularSolve", "transposeA", o.transposeA);
  const x = triangularSolvePrim(A, B, lower, transposeA);
  return vec ? reshape(x, x.shape.slice(0, -1)) : x;
}

/** Matrix inverse (as solve(A, I)). @example nb.linalg.inv([[2, 0], [0, 4]]); */
export function inv(a: ArrayLike): NDArray {
  const A = floatMatrix("inv", a);
  const n = at(A.shape, A.ndim - 1, "inv");
  return solvePrim(A, broadcastTo(eye(n, n, { dtype: A.dtype }), A.shape));
}

/**
 * [sign, log|det A|] (pivoted LU), stable where det over- or underflows.
 * @example const [s, l] = nb.linalg.slogdet([[2, 0], [0, 3]]); // 1, log 6
 */
export function slogdet(a: ArrayLike): [NDArray, NDArray] {
  const [s, l] = slogdetPrim(floatMatrix("slogdet", a));
  return [s, l];
}

/**
 * Determinant (completely pivoted LU, the product of the pivots). Its
 * gradient is the cofactor matrix adj(A)ᵀ, computed without dividing by the
 * determinant, so it is finite at singular matrices; higher derivatives
 * (minors of lower order) are finite everywhere too.
 * @example nb.linalg.det([[1, 2], [3, 4]]); // array(-2.)
 */
export function det(a: ArrayLike): NDArray {
  return detPrim(floatMatrix("det", a));
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
  return [q, r];
}

/**
 * Eigen-decomposition of the symmetric (A + Aᵀ)/2: [eigenvalues ascending,
 * eigenvectors as columns]. Derivatives assume distinct eigenvalues.
 * @example const [w, v] = nb.linalg.eigh([[2, 1], [1, 2]]); // w = [1, 3]
 */
export function eigh(a: ArrayLike): [NDArray, NDArray] {
  const [w, v] = eighPrim(floatMatrix("eigh", a));
  return [w, v];
}

/**
 * A norm order: a number (vector p-norms; matrix 1, -1, 2, -2, ±Infinity), "fro" or "nuc".
 * @example const ord: nb.linalg.NormOrd = "nuc";
 */
export type NormOrd = number | "fro" | "nuc";

/** Orders that take a maximum or minimum have no value over an empty axis. */
function nonEmpty(a: NDArray, axes: number[], ord: NormOrd): void {
  if (axes.some((ax) => a.shape[ax] === 0))
    throw new ShapeError(`norm: order ${String(ord)} over an empty axis of shape ${fmtShape(a.shape)}`);
}

/** Vector norm of order `ord` along `ax` (kept as size 1). */
function vectorNorm(a: NDArray, ord: NormOrd | undefined, ax: number): NDArray {
  if (ord === undefined || ord === 2) return sqrt(sum(mul(a, a), ax, true));
  if (ord === Infinity || ord === -Infinity) nonEmpty(a, [ax], ord);
  if (ord === Infinity) return max(abs(a), ax, true);
  if (ord === -Infinity) return min(abs(a), ax, true);
  if (ord === 0) return sum(astype(notEqual(a, 0), a.dtype), ax, true);
  if (ord === 1) return sum(abs(a), ax, true);
  if (typeof ord !== "number" || Number.isNaN(ord))
    throw new ShapeError(`norm: invalid order ${String(ord)} for vectors (shape ${fmtShape(a.shape)})`);
  return pow(sum(pow(abs(a), ord), ax, true), 1 / ord);
}

/**
 * Singular values (descending) of the matrices on the last two axes, by the SVD primitive (one-sided
 * Jacobi, as JAX's norm uses `svd(compute_uv=False)`): accurate relative to the largest singular value,
 * and with finite derivatives of a simple singular value even where another one is 0 (the square root
 * of the Gram matrix's eigenvalues would put an infinite derivative there).
 */
function singularValues(m: NDArray): NDArray {
  return svdPrim(m, false)[1];
}

/** Matrix norm of order `ord` over axes (r, c) (kept as size 1). */
function matrixNorm(a: NDArray, ord: NormOrd | undefined, r: number, c: number): NDArray {
  if (ord === undefined || ord === "fro") return sqrt(sum(mul(a, a), [r, c], true));
  if (typeof ord === "number" && Math.abs(ord) !== 2) nonEmpty(a, [r, c], ord);
  if (ord === 1 || ord === -1) return (ord === 1 ? max : min)(sum(abs(a), r, true), c, true);
  if (ord === Infinity || ord === -Infinity) return (ord > 0 ? max : min)(sum(abs(a), c, true), r, true);
  if (ord === 2 || ord === -2 || ord === "nuc") {
    const others = Array.from({ length: a.ndim }, (_, i) => i).filter((i) => i !== r && i !== c);
    const s = singularValues(transposePrim(a, [...others, r, c]));
    if (ord !== "nuc") nonEmpty(a, [r, c], ord);
    const v = ord === "nuc" ? sum(s, -1) : ord === 2 ? max(s, -1) : min(s, -1);
    return reshape(v, keepShape(a.shape, [r, c]));
  }
  throw new ShapeError(`norm: invalid order ${String(ord)} for matrices (shape ${fmtShape(a.shape)})`);
}

/**
 * Vector and matrix norms, as NumPy's and JAX's `norm`.
 *
 * - `axis` omitted: with `ord` omitted, the 2-norm of all elements; otherwise
 *   `x` must be 1-D (a vector norm) or 2-D (a matrix norm).
 * - `axis` a number (or one axis in an array): vector norms along it: `ord` 2
 *   (default), any other number p ((Σ|x|^p)^(1/p)), Infinity (max |x|),
 *   -Infinity (min |x|), 0 (the count of nonzeros).
 * - `axis` a pair (rows, columns): matrix norms: "fro" (default), "nuc" (sum
 *   of singular values), 1 / -1 (max / min column sum of |x|), Infinity /
 *   -Infinity (max / min row sum), 2 / -2 (largest / smallest singular value).
 *
 * Singular values come from `svd` (one-sided Jacobi), accurate to a few ulps
 * of the largest one. Derivatives: ord 2 needs a simple largest singular
 * value, -2 a simple smallest one (both finite where another singular value
 * is 0); "nuc" needs distinct singular values and is not differentiable
 * where one is 0 (like |x| at 0). An invalid `ord` throws `ShapeError`.
 * @example nb.linalg.norm([3, 4]); // array(5.)
 * @example nb.linalg.norm([[1, -2], [3, 4]], 1); // array(6.): the largest column sum
 */
export function norm(
  x: ArrayLike,
  ord?: NormOrd | null,
  axis?: number | readonly number[] | null,
  keepdims = false,
): NDArray {
  const x0 = asArray(x, "norm");
  boolArg("norm", "keepdims", keepdims);
  const a = astype(x0, floatOf(x0.dtype));
  const o = ord ?? undefined;
  // ord: a number (not NaN), "fro" or "nuc"; null/undefined the default (NumPy's ord=None)
  if (o !== undefined && !(typeof o === "number" && !Number.isNaN(o)) && o !== "fro" && o !== "nuc")
    throw new ShapeError(`norm: ord must be a number, "fro" or "nuc", got ${fmtValue(o)}`);
  let axes: number[];
  if (axis === undefined || axis === null) {
    if (o === undefined) {
      const all = Array.from({ length: a.ndim }, (_, i) => i);
      return finish(sqrt(sum(mul(a, a), all, true)), a.shape, all, keepdims);
    }
    if (a.ndim !== 1 && a.ndim !== 2)
      throw new ShapeError(`norm: order ${String(o)} without axis needs a 1-D or 2-D array, got ${fmtShape(a.shape)}`);
    axes = a.ndim === 1 ? [0] : [0, 1];
  } else {
    const list = typeof axis === "number" ? [axis] : Array.from(axis);
    axes = list.map((ax) => normAxis("norm", ax, a.ndim));
    if (axes.length < 1 || axes.length > 2 || new Set(axes).size !== axes.length)
      throw new ShapeError(`norm: axis must be one axis or two distinct axes, got [${list.join(", ")}]`);
  }
  const out =
    axes.length === 1
      ? vectorNorm(a, o, at(axes, 0, "norm"))
      : matrixNorm(a, o, at(axes, 0, "norm"), at(axes, 1, "norm"));
  return finish(out, a.shape, axes, keepdims);
}

/** Drops the reduced (size-1) axes unless `keepdims`. */
function finish(r: NDArray, shape: readonly number[], axes: readonly number[], keepdims: boolean): NDArray {
  return keepdims
    ? r
    : reshape(
        r,
        shape.filter((_, i) => !axes.includes(i)),
      );
}

// ---------------------------------------------------------------------------
// opsC: svd, eigvalsh, lu, lstsq, pinv, expm

/** A float (ints and bools are not decomposed) array of matrices [..., m, n]. */
function floatRect(op: string, x: ArrayLike): NDArray {
  const a = asArray(x, op);
  if (a.dtype === "bool") throw new DTypeError(`${op}: expected a numeric matrix, got bool`);
  if (a.ndim < 2) throw new ShapeError(`${op}: expected matrices [..., m, n], got ${fmtShape(a.shape)}`);
  return astype(a, floatOf(a.dtype));
}

/** Swaps the last two axes. */
function mT(x: NDArray): NDArray {
  const nd = x.ndim;
  return transposePrim(x, [...Array.from({ length: nd - 2 }, (_, i) => i), nd - 1, nd - 2]);
}

/** Options of `linalg.svd`. @example const o: nb.linalg.SvdOptions = { fullMatrices: false }; */
export interface SvdOptions {
  /** U [..., m, m] and Vh [..., n, n] (default true), else U [..., m, k], Vh [..., k, n] with k = min(m, n). */
  fullMatrices?: boolean;
  /** Compute U and Vh (default true); false returns the singular values alone. */
  computeUv?: boolean;
}

/**
 * Singular value decomposition of the matrices on the last two axes, as
 * NumPy's: [U, S, Vh] with A = U diag(S) Vh, S descending and non-negative;
 * `S` alone when `computeUv` is false. One-sided Jacobi, accurate to a few
 * ulps relative to the largest singular value. Derivatives (all orders)
 * of U and Vh assume distinct singular values: at repeated ones (an
 * orthogonal matrix, say) they are NaN (the singular vectors are not unique
 * there), while those of S stay finite. A single zero singular value is
 * allowed: S⁻¹ is taken as 0 there (as JAX does), exact for a square matrix;
 * for a non-square one that singular vector is not unique and its tangent
 * is taken within the span of the computed singular vectors. With `fullMatrices` the completing
 * columns of U (m > n) or rows of Vh (n > m) are a basis of the complement
 * whose tangent is chosen orthogonal to it.
 * @example const [u, s, vh] = nb.linalg.svd([[3, 0], [0, -2]]); // s = [3, 2]
 * @example nb.linalg.svd([[3, 0], [0, 4]], { computeUv: false }); // array([4., 3.])
 */
export function svd(x: ArrayLike, options?: SvdOptions & { computeUv?: true }): [NDArray, NDArray, NDArray];
export function svd(x: ArrayLike, options: SvdOptions & { computeUv: false }): NDArray;
export function svd(x: ArrayLike, options?: SvdOptions): NDArray | [NDArray, NDArray, NDArray];
export function svd(x: ArrayLike, options: SvdOptions = {}): NDArray | [NDArray, NDArray, NDArray] {
  const a = floatRect("svd", x);
  const o = optionsArg("svd", options, ["fullMatrices", "computeUv"]);
  const full = o.fullMatrices === undefined ? true : boolArg("svd", "fullMatrices", o.fullMatrices);
  const uv = o.computeUv === undefined ? true : boolArg("svd", "computeUv", o.computeUv);
  const [u, s, vh] = svdPrim(a, uv && full);
  return uv ? [u, s, vh] : s;
}

/**
 * Eigenvalues (ascending) of the symmetric (A + Aᵀ)/2, as `eigh`'s first
 * result; dλ_i = v_iᵀ dA v_i (distinct eigenvalues).
 * @example nb.linalg.eigvalsh([[2, 1], [1, 2]]); // array([1., 3.])
 */
export function eigvalsh(a: ArrayLike): NDArray {
  return eighPrim(floatMatrix("eigvalsh", a))[0];
}

/**
 * LU decomposition with partial pivoting, as `jax.scipy.linalg.lu`: [P, L, U]
 * with A = P L U for [..., m, n] matrices, P [..., m, m] a permutation
 * matrix, L [..., m, k] unit lower triangular, U [..., k, n] upper triangular
 * (k = min(m, n)). Differentiable where the leading k x k block of Pᵀ A is
 * nonsingular (P has zero derivative).
 * @example const [p, l, u] = nb.linalg.lu([[1, 2], [3, 4]]); // p = [[0, 1], [1, 0]]
 */
export function lu(a: ArrayLike): [NDArray, NDArray, NDArray] {
  const [p, l, u] = luPrim(floatRect("lu", a));
  return [p, l, u];
}

/**
 * Matrix exponential of the square matrices on the last two axes: Padé
 * approximation with scaling and squaring (Higham 2005; degrees 3, 5, 7, 9,
 * 13). Its derivative in direction E is the top-right block of
 * expm([[A, E], [0, A]]), so derivatives of every order are exact.
 * @example nb.linalg.expm([[0, 1], [-1, 0]]); // [[cos 1, sin 1], [-sin 1, cos 1]]
 */
export function expm(a: ArrayLike): NDArray {
  return expmPrim(floatMatrix("expm", a));
}

/** The relative cut-off of small singular values: a number >= 0, or max(m, n)·ε of the dtype. */
function cutoff(op: string, rcond: unknown, a: NDArray): number {
  if (rcond !== undefined) {
    const r = numberArg(op, "rcond", rcond, true);
    return r < 0 ? (a.dtype === "float32" ? 2 ** -23 : 2 ** -52) : r;
  }
  const eps = a.dtype === "float32" ? 2 ** -23 : 2 ** -52;
  return Math.max(at(a.shape, a.ndim - 1, op), at(a.shape, a.ndim - 2, op)) * eps;
}

/**
 * The pseudo-inverse with cut-off `rc`: its value V diag(1/s) Uᵀ from the
 * thin SVD (1/s replaced by 0 for singular values <= rc·s_max), its
 * derivatives those of a smooth F that equals A⁺ on every matrix of the
 * same rank r near A: with Q, W the kept left and right singular vectors at
 * A (constants), C = A W and D = Qᵀ A have full rank r and M = Qᵀ A W is
 * invertible, so A = C M⁻¹ D is a full-rank factorisation and
 * A⁺ = D⁺ M C⁺ = Dᵀ(D Dᵀ)⁻¹ M (CᵀC)⁻¹Cᵀ. Dropped singular directions are
 * masked to zero columns, with 1 on the diagonal of the Gram matrices so
 * they stay invertible (a diagonal-dominant solve: no singular-value gaps,
 * so repeated singular values are fine). Returned as p + (F − stop(F)), the
 * bracket exactly zero in value; matmul and solve only, so every order.
 */
function pinvOf(a: NDArray, rc: number): NDArray {
  const [u0, s0, vh0] = svdPrim(a, false);
  const [u, s, vh] = [stopGradient(u0), stopGradient(s0), stopGradient(vh0)];
  const keep = greater(s, mul(max(s, -1, true), rc));
  const inv = where(keep, div(1, where(keep, s, 1)), 0);
  const p = matmul(mul(mT(vh), expandDims(inv, -2)), mT(u));
  const k = at(s.shape, s.ndim - 1, "pinv");
  if (k === 0) return p;
  const kept = expandDims(astype(keep, a.dtype), -2); // [..., 1, k]
  const q = mul(u, kept); // [..., m, k]
  const w = mul(mT(vh), kept); // [..., n, k]
  const e = mul(eye(k, k, { dtype: a.dtype }), sub(1, kept)); // [..., k, k]: 1 for dropped directions
  const c = matmul(a, w); // [..., m, k]
  const d = matmul(mT(q), a); // [..., k, n]
  const cPlus = solvePrim(add(matmul(mT(c), c), e), mT(c)); // (CᵀC)⁻¹Cᵀ [..., k, m]
  const dPlus = mT(solvePrim(add(matmul(d, mT(d)), e), d)); // Dᵀ(DDᵀ)⁻¹ [..., n, k]
  const f = matmul(matmul(dPlus, matmul(d, w)), cPlus);
  return add(p, sub(f, stopGradient(f)));
}

/**
 * Moore–Penrose pseudo-inverse of the matrices on the last two axes, from
 * the SVD: singular values <= rcond·s_max count as zero (default rcond
 * max(m, n)·ε, as NumPy 2's rtol). Derivatives (all orders) exact wherever
 * A has full rank (repeated singular values allowed); at a rank-deficient A
 * (rank r after the cut-off) they are exact along matrices of rank r (the
 * Golub–Pereyra derivative there, as JAX's), the only derivatives that
 * exist: A⁺ is not continuous in directions that change the rank
 * (pinv(diag(1, t)) jumps at t = 0), and in those directions the result is
 * that of a smooth extension, not a derivative of A⁺.
 * @example nb.linalg.pinv([[1, 0], [0, 2], [0, 0]]); // [[1, 0, 0], [0, 0.5, 0]]
 */
export function pinv(a: ArrayLike, rcond?: number): NDArray {
  const A = floatRect("pinv", a);
  return pinvOf(A, cutoff("pinv", rcond, A));
}

/**
 * Least-squares solution of a x = b, as NumPy's `lstsq` (a [m, n], b [m] or
 * [m, k]): [x, residuals, rank, s] with x = pinv(a) b (the minimum-norm
 * solution), residuals the squared 2-norms of the columns of b - a x when
 * m > n and the rank is n (else an empty array; under a transform, and on
 * "webgpu", where the rank is not read, they are returned whenever m > n,
 * as JAX does),
 * rank (int32) the number of singular values above rcond·s_max (default
 * rcond max(m, n)·ε, NumPy ≥ 1.14), s the singular values. Derivatives of x
 * as `pinv`'s (exact at full rank; at a rank-deficient a, exact along
 * matrices of the same rank); of s as `svd`'s.
 * @example const [x] = nb.linalg.lstsq([[1, 0], [1, 1], [1, 2]], [1, 2, 3]); // x = [1, 1]
 */
export function lstsq(a: ArrayLike, b: ArrayLike, rcond?: number): [NDArray, NDArray, NDArray, NDArray] {
  const A0 = asArray(a, "lstsq");
  const B0 = asArray(b, "lstsq");
  if (A0.dtype === "bool" || B0.dtype === "bool")
    throw new DTypeError(`lstsq: expected numeric arrays, got ${A0.dtype} and ${B0.dtype}`);
  if (A0.ndim !== 2 || (B0.ndim !== 1 && B0.ndim !== 2) || B0.shape[0] !== A0.shape[0])
    throw new ShapeError(
      `lstsq: expected a [m, n] matrix and a [m] or [m, k] right-hand side, got ${fmtShape(A0.shape)} and ${fmtShape(B0.shape)}`,
    );
  const dt = floatOf(promoted("lstsq", [A0, B0]));
  const A = astype(A0, dt);
  const B = astype(B0, dt);
  const m = at(A.shape, 0, "lstsq");
  const n = at(A.shape, 1, "lstsq");
  const rc = cutoff("lstsq", rcond, A);
  const p = pinvOf(A, rc);
  const s = svdPrim(A, false)[1];
  const keep = greater(s, mul(max(stopGradient(s), -1, true), rc));
  const x = matmul(p, B);
  const rank = sum(astype(keep, "int32"));
  // the rank is read only where it is known without waiting: not under a transform, nor on a device
  // ("webgpu": read asynchronously only), where residuals are returned whenever m > n, as JAX does
  const known = rank instanceof ConcreteArray && rank.device === "cpu" ? (rank.item() as number) : null;
  let residuals: NDArray;
  if (m > n && (known === null || known === n)) {
    const r = sub(B, matmul(A, x));
    residuals = sum(mul(r, r), 0);
    if (B.ndim === 1) residuals = reshape(residuals, [1]);
  } else residuals = zeros([0], { dtype: dt });
  return [x, residuals, rank, s];
}
