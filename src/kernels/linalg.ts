/**
 * Linear-algebra kernels. Matrices are the last two axes; leading axes are
 * batch axes.
 */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions"); shapes are read with `at` before the loops.
import { at } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, allocate } from "../core/dtype.js";
import { Shape, sizeOf } from "../core/shape.js";

// float64 accumulation; results stored in the input dtype

/** Batch count and matrix extents of a [..., m, n] shape, for the primitive `op`. */
function batches(shape: Shape, op: string): { B: number; m: number; n: number } {
  const nd = shape.length;
  return { B: sizeOf(shape.slice(0, nd - 2)), m: at(shape, nd - 2, op), n: at(shape, nd - 1, op) };
}

function toF64(x: ConcreteArray): Float64Array {
  const d = storageOf(x);
  return d instanceof Float64Array ? d : Float64Array.from(d);
}

function store(data: Float64Array, shape: Shape, dtype: DType): ConcreteArray {
  const out = allocate(dtype, data.length);
  out.set(data);
  return new ConcreteArray(out, shape, dtype);
}

/** In-place LU with partial pivoting of an n x n row-major matrix; returns permutation parity (+1/-1) or 0 if singular. */
function luInPlace(a: Float64Array, off: number, n: number, piv: Int32Array): number {
  let sign = 1;
  for (let i = 0; i < n; i++) piv[i] = i;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(a[off + k * n + k]!);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(a[off + i * n + k]!);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = a[off + k * n + j]!;
        a[off + k * n + j] = a[off + p * n + j]!;
        a[off + p * n + j] = t;
      }
      const t = piv[k]!;
      piv[k] = piv[p]!;
      piv[p] = t;
      sign = -sign;
    }
    const pivot = a[off + k * n + k]!;
    if (pivot === 0) continue;
    for (let i = k + 1; i < n; i++) {
      const f = (a[off + i * n + k]! /= pivot);
      if (f !== 0) for (let j = k + 1; j < n; j++) a[off + i * n + j]! -= f * a[off + k * n + j]!;
    }
  }
  return sign;
}

/** Solves A X = B (A [..., n, n], B [..., n, k]) by pivoted LU. */
export function solve(a: ConcreteArray, b: ConcreteArray): ConcreteArray {
  const { B, n } = batches(a.shape, "solve");
  const k = at(b.shape, b.shape.length - 1, "solve");
  const lu = Float64Array.from(storageOf(a));
  const x = Float64Array.from(storageOf(b));
  const piv = new Int32Array(n);
  const col = new Float64Array(n);
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * n * n;
    const bo = bi * n * k;
    luInPlace(lu, ao, n, piv);
    for (let c = 0; c < k; c++) {
      for (let i = 0; i < n; i++) col[i] = x[bo + piv[i]! * k + c]!;
      for (let i = 0; i < n; i++) {
        let s = col[i]!;
        for (let j = 0; j < i; j++) s -= lu[ao + i * n + j]! * col[j]!;
        col[i] = s;
      }
      for (let i = n - 1; i >= 0; i--) {
        let s = col[i]!;
        for (let j = i + 1; j < n; j++) s -= lu[ao + i * n + j]! * col[j]!;
        col[i] = s / lu[ao + i * n + i]!;
      }
      for (let i = 0; i < n; i++) x[bo + i * k + c] = col[i]!;
    }
  }
  return store(x, b.shape, b.dtype);
}

/** [sign, log|det|] of each matrix, by pivoted LU. */
export function slogdet(a: ConcreteArray): [ConcreteArray, ConcreteArray] {
  const { B, n } = batches(a.shape, "slogdet");
  const lu = Float64Array.from(storageOf(a));
  const piv = new Int32Array(n);
  const sg = new Float64Array(B);
  const ld = new Float64Array(B);
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * n * n;
    let s = luInPlace(lu, ao, n, piv);
    let l = 0;
    for (let i = 0; i < n; i++) {
      const v = lu[ao + i * n + i]!;
      if (v < 0) s = -s;
      l += Math.log(Math.abs(v));
    }
    if (!Number.isFinite(l) && l < 0) s = 0;
    sg[bi] = s;
    ld[bi] = l;
  }
  const outShape = a.shape.slice(0, -2);
  return [store(sg, outShape, a.dtype), store(ld, outShape, a.dtype)];
}

/** Solves op(A) X = B with A triangular (only its triangle is read). */
export function triangularSolve(
  a: ConcreteArray,
  b: ConcreteArray,
  lower: boolean,
  transposeA: boolean,
): ConcreteArray {
  const { B, n } = batches(a.shape, "triangular_solve");
  const k = at(b.shape, b.shape.length - 1, "triangular_solve");
  const A = toF64(a);
  const x = Float64Array.from(storageOf(b));
  // element (i, j) of op(A)
  const el = transposeA
    ? (o: number, i: number, j: number) => A[o + j * n + i]!
    : (o: number, i: number, j: number) => A[o + i * n + j]!;
  const low = lower !== transposeA; // op(A) is lower triangular
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * n * n;
    const bo = bi * n * k;
    for (let c = 0; c < k; c++) {
      if (low)
        for (let i = 0; i < n; i++) {
          let s = x[bo + i * k + c]!;
          for (let j = 0; j < i; j++) s -= el(ao, i, j) * x[bo + j * k + c]!;
          x[bo + i * k + c] = s / el(ao, i, i);
        }
      else
        for (let i = n - 1; i >= 0; i--) {
          let s = x[bo + i * k + c]!;
          for (let j = i + 1; j < n; j++) s -= el(ao, i, j) * x[bo + j * k + c]!;
          x[bo + i * k + c] = s / el(ao, i, i);
        }
    }
  }
  return store(x, b.shape, b.dtype);
}

/** Lower Cholesky factor (reads the lower triangle); NaN where the matrix is not positive definite. */
export function cholesky(a: ConcreteArray): ConcreteArray {
  const { B, n } = batches(a.shape, "cholesky");
  const A = toF64(a);
  const L = new Float64Array(A.length);
  for (let bi = 0; bi < B; bi++) {
    const o = bi * n * n;
    for (let j = 0; j < n; j++) {
      let s = A[o + j * n + j]!;
      for (let k = 0; k < j; k++) s -= L[o + j * n + k]! ** 2;
      const d = s > 0 ? Math.sqrt(s) : NaN;
      L[o + j * n + j] = d;
      for (let i = j + 1; i < n; i++) {
        let t = A[o + i * n + j]!;
        for (let k = 0; k < j; k++) t -= L[o + i * n + k]! * L[o + j * n + k]!;
        L[o + i * n + j] = t / d;
      }
    }
  }
  return store(L, a.shape, a.dtype);
}

/** Reduced QR (m >= n) by Householder reflections: Q [..., m, n], R [..., n, n] with R's diagonal >= 0. */
export function qr(a: ConcreteArray): [ConcreteArray, ConcreteArray] {
  const { B, m, n } = batches(a.shape, "qr");
  const A = toF64(a);
  const Q = new Float64Array(B * m * n);
  const R = new Float64Array(B * n * n);
  const W = new Float64Array(m * n);
  const v = new Float64Array(m);
  // the Householder vectors of one matrix: vector k at vs[k·m ..]
  const vs = new Float64Array(n * m);
  for (let bi = 0; bi < B; bi++) {
    W.set(A.subarray(bi * m * n, (bi + 1) * m * n));
    for (let k = 0; k < n; k++) {
      // norms are computed on scaled copies so squares neither overflow nor underflow
      let big = 0;
      for (let i = k; i < m; i++) big = Math.max(big, Math.abs(W[i * n + k]!));
      v.fill(0);
      if (big === 0) {
        vs.set(v, k * m);
        continue;
      }
      let norm = 0;
      for (let i = k; i < m; i++) norm += (W[i * n + k]! / big) ** 2;
      norm = Math.sqrt(norm);
      const x0 = W[k * n + k]! / big;
      const alpha = x0 > 0 ? -norm : norm;
      for (let i = k; i < m; i++) v[i] = W[i * n + k]! / big;
      v[k]! -= alpha;
      let vn = 0;
      for (let i = k; i < m; i++) vn += v[i]! ** 2;
      vs.set(v, k * m);
      const vk = vs.subarray(k * m, (k + 1) * m);
      if (vn === 0) continue;
      for (let j = k; j < n; j++) {
        let s = 0;
        for (let i = k; i < m; i++) s += vk[i]! * W[i * n + j]!;
        const f = (2 * s) / vn;
        for (let i = k; i < m; i++) W[i * n + j]! -= f * vk[i]!;
      }
    }
    // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of I
    const Qb = new Float64Array(m * n);
    for (let i = 0; i < n; i++) Qb[i * n + i] = 1;
    for (let k = n - 1; k >= 0; k--) {
      const vk = vs.subarray(k * m, (k + 1) * m);
      let vn = 0;
      for (let i = k; i < m; i++) vn += vk[i]! ** 2;
      if (vn === 0) continue;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let i = k; i < m; i++) s += vk[i]! * Qb[i * n + j]!;
        const f = (2 * s) / vn;
        for (let i = k; i < m; i++) Qb[i * n + j]! -= f * vk[i]!;
      }
    }
    // make diag(R) non-negative
    for (let k = 0; k < n; k++) {
      const sgn = W[k * n + k]! < 0 ? -1 : 1;
      for (let j = 0; j < n; j++) R[bi * n * n + k * n + j] = j >= k ? sgn * W[k * n + j]! : 0;
      for (let i = 0; i < m; i++) Q[bi * m * n + i * n + k] = sgn * Qb[i * n + k]!;
    }
  }
  const batch = a.shape.slice(0, -2);
  return [store(Q, [...batch, m, n], a.dtype), store(R, [...batch, n, n], a.dtype)];
}

/** Symmetric eigendecomposition by cyclic Jacobi: eigenvalues ascending, eigenvectors as columns. */
export function eigh(a: ConcreteArray): [ConcreteArray, ConcreteArray] {
  const { B, n } = batches(a.shape, "eigh");
  const A = toF64(a);
  const W = new Float64Array(B * n);
  const V = new Float64Array(B * n * n);
  const S = new Float64Array(n * n);
  const U = new Float64Array(n * n);
  for (let bi = 0; bi < B; bi++) {
    const o = bi * n * n;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) S[i * n + j] = 0.5 * (A[o + i * n + j]! + A[o + j * n + i]!);
    // work on S / max|S| so the convergence test's squares neither overflow nor underflow
    let scale = 0;
    for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(S[i]!));
    if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
    for (let i = 0; i < n * n; i++) S[i]! /= scale;
    U.fill(0);
    for (let i = 0; i < n; i++) U[i * n + i] = 1;
    for (let sweep = 0; sweep < 100; sweep++) {
      let off = 0;
      let tot = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const v = S[i * n + j]! ** 2;
          tot += v;
          if (i !== j) off += v;
        }
      if (off <= 1e-30 * tot || off === 0) break;
      for (let p = 0; p < n - 1; p++)
        for (let q = p + 1; q < n; q++) {
          const apq = S[p * n + q]!;
          if (apq === 0) continue;
          const theta = (S[q * n + q]! - S[p * n + p]!) / (2 * apq);
          const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          const c = 1 / Math.sqrt(t * t + 1);
          const s = t * c;
          rotate(S, p, q, n, n, c, s); // columns p, q
          rotate(S, p * n, q * n, 1, n, c, s); // rows p, q
          rotate(U, p, q, n, n, c, s);
        }
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => S[i * n + i]! - S[j * n + j]!);
    order.forEach((src, dst) => {
      W[bi * n + dst] = S[src * n + src]! * scale;
      // sign convention: the largest-magnitude component of each eigenvector is positive
      let big = 0;
      for (let k = 0; k < n; k++) if (Math.abs(U[k * n + src]!) > Math.abs(U[big * n + src]!)) big = k;
      const sg = U[big * n + src]! < 0 ? -1 : 1;
      for (let k = 0; k < n; k++) V[o + k * n + dst] = sg * U[k * n + src]!;
    });
  }
  return [store(W, a.shape.slice(0, -1), a.dtype), store(V, a.shape, a.dtype)];
}

/**
 * LU with complete pivoting of the n x n matrix at `off` (in place): P A Q = L U
 * with `rows[i]`, `cols[j]` the source row and column of position (i, j).
 * Returns the parity of the two permutations (+1/-1). Complete pivoting is
 * rank revealing: a matrix of rank r has its zero pivots at the end, in
 * positions r..n-1, which the cofactor kernel relies on.
 */
function luComplete(a: Float64Array, off: number, n: number, rows: Int32Array, cols: Int32Array): number {
  let sign = 1;
  for (let i = 0; i < n; i++) rows[i] = cols[i] = i;
  const swapRows = (i: number, j: number) => {
    for (let c = 0; c < n; c++) {
      const t = a[off + i * n + c]!;
      a[off + i * n + c] = a[off + j * n + c]!;
      a[off + j * n + c] = t;
    }
  };
  const swapCols = (i: number, j: number) => {
    for (let r = 0; r < n; r++) {
      const t = a[off + r * n + i]!;
      a[off + r * n + i] = a[off + r * n + j]!;
      a[off + r * n + j] = t;
    }
  };
  for (let k = 0; k < n; k++) {
    let pr = k;
    let pc = k;
    let best = -1;
    for (let i = k; i < n; i++)
      for (let j = k; j < n; j++) {
        const v = Math.abs(a[off + i * n + j]!);
        // NaN entries win, so a NaN matrix gives NaN rather than a silent zero
        if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
          best = v;
          pr = i;
          pc = j;
        }
      }
    if (pr !== k) {
      swapRows(k, pr);
      [rows[k], rows[pr]] = [rows[pr]!, rows[k]!];
      sign = -sign;
    }
    if (pc !== k) {
      swapCols(k, pc);
      [cols[k], cols[pc]] = [cols[pc]!, cols[k]!];
      sign = -sign;
    }
    const pivot = a[off + k * n + k]!;
    if (pivot === 0) break; // the rest of the matrix is zero
    for (let i = k + 1; i < n; i++) {
      const f = (a[off + i * n + k]! /= pivot);
      if (f !== 0) for (let j = k + 1; j < n; j++) a[off + i * n + j]! -= f * a[off + k * n + j]!;
    }
  }
  return sign;
}

/** Determinants of [..., n, n] matrices: the product of the pivots of a completely pivoted LU (no logarithms). */
export function det(a: ConcreteArray): ConcreteArray {
  const { B, n } = batches(a.shape, "det");
  const lu = Float64Array.from(storageOf(a));
  const rows = new Int32Array(n);
  const cols = new Int32Array(n);
  const out = new Float64Array(B);
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * n * n;
    let d = luComplete(lu, ao, n, rows, cols);
    for (let i = 0; i < n; i++) d *= lu[ao + i * n + i]!;
    out[bi] = d;
  }
  return store(out, a.shape.slice(0, -2), a.dtype);
}

/**
 * Cofactor matrices C (C_ij = (-1)^(i+j) det(A without row i and column j),
 * so C = adj(A)ᵀ and d det = Σ C ∘ dA) of [..., n, n] matrices, in O(n³) and
 * finite at singular matrices: no division by the determinant.
 *
 * With M = P A Q = L U (complete pivoting), adj(M) = adj(U) L⁻¹, and
 * adj(U) = p · Y where p is the product of the first n - 1 pivots and
 * Y = u_nn U⁻¹ solves U Y = u_nn I by back substitution whose last row needs
 * no division (y_n = e_n). The remaining divisions are by the first n - 1
 * pivots, which complete pivoting keeps nonzero unless the rank is below
 * n - 1, where every cofactor is zero. Then C_A[rows_i, cols_j] = ±adj(M)_ji.
 */
export function cofactor(a: ConcreteArray): ConcreteArray {
  const { B, n } = batches(a.shape, "cofactor");
  const lu = Float64Array.from(storageOf(a));
  const rows = new Int32Array(n);
  const cols = new Int32Array(n);
  const out = new Float64Array(storageOf(a).length);
  const y = new Float64Array(n * n);
  for (let bi = 0; bi < B; bi++) {
    const o = bi * n * n;
    const sign = luComplete(lu, o, n, rows, cols);
    let p = sign;
    for (let i = 0; i < n - 1; i++) p *= lu[o + i * n + i]!;
    if (p === 0) continue; // rank < n - 1: all cofactors vanish
    const last = lu[o + (n - 1) * n + (n - 1)]!;
    // Y = u_nn U⁻¹ (upper triangular), column by column
    y.fill(0);
    for (let j = 0; j < n; j++) {
      y[(n - 1) * n + j] = j === n - 1 ? 1 : 0;
      for (let i = n - 2; i >= 0; i--) {
        let s = i === j ? last : 0;
        for (let l = i + 1; l < n; l++) s -= lu[o + i * n + l]! * y[l * n + j]!;
        y[i * n + j] = s / lu[o + i * n + i]!;
      }
    }
    // X = Y L⁻¹, row by row: x L = y with L unit lower, so x_j = y_j - Σ_{l>j} x_l L_lj
    for (let r = 0; r < n; r++)
      for (let j = n - 1; j >= 0; j--) {
        let s = y[r * n + j]!;
        for (let l = j + 1; l < n; l++) s -= y[r * n + l]! * lu[o + l * n + j]!;
        y[r * n + j] = s;
      }
    // adj(M) = p X; cof(A)[rows_i][cols_j] = adj(M)[j][i] (the sign of the permutations is in p)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[o + rows[i]! * n + cols[j]!] = p * y[j * n + i]!;
  }
  return store(out, a.shape, a.dtype);
}

// ---------------------------------------------------------------------------
// opsC: SVD (one-sided Jacobi), rectangular LU with partial pivoting, expm (Padé, scaling and squaring)

/**
 * Completes the orthonormal columns of the dim x cols column-major `q` whose
 * `have[j]` is true: each missing column becomes the standard basis vector
 * with the largest component orthogonal to those already present
 * (Gram–Schmidt applied twice), normalised.
 */
function complete(q: Float64Array, dim: number, cols: number, have: boolean[]): void {
  const r = new Float64Array(dim);
  const project = (j: number) => {
    for (let pass = 0; pass < 2; pass++)
      for (let c = 0; c < cols; c++) {
        if (!have[c] || c === j) continue;
        let d = 0;
        for (let i = 0; i < dim; i++) d += q[c * dim + i]! * r[i]!;
        for (let i = 0; i < dim; i++) r[i]! -= d * q[c * dim + i]!;
      }
  };
  for (let j = 0; j < cols; j++) {
    if (have[j]) continue;
    let best = -1;
    let bestNorm = -1;
    for (let e = 0; e < dim; e++) {
      r.fill(0);
      r[e] = 1;
      project(j);
      let nn = 0;
      for (let i = 0; i < dim; i++) nn += r[i]! * r[i]!;
      if (nn > bestNorm + 1e-12) {
        bestNorm = nn;
        best = e;
      }
    }
    r.fill(0);
    r[best] = 1;
    project(j);
    let nn = 0;
    for (let i = 0; i < dim; i++) nn += r[i]! * r[i]!;
    const inv = 1 / Math.sqrt(nn);
    for (let i = 0; i < dim; i++) q[j * dim + i] = r[i]! * inv;
    have[j] = true;
  }
}

/**
 * SVD of the m x n (m >= n) row-major matrix at `off` by one-sided (Hestenes)
 * Jacobi: columns are rotated in pairs until mutually orthogonal (|g_p·g_q| <=
 * ε‖g_p‖‖g_q‖), the rotations accumulating in V. Returns the column-major
 * U (m x (full ? m : n)), S (descending) and V (n x n), with each column of V
 * having its largest-magnitude component positive.
 */
function svdTall(a: Float64Array, off: number, m: number, n: number, full: boolean, trans: boolean) {
  // g: column-major working copy (column j = A[:, j]), scaled by max|A| against overflow
  const g = new Float64Array(m * n);
  let scale = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      const v = trans ? a[off + j * m + i]! : a[off + i * n + j]!;
      g[j * m + i] = v;
      scale = Math.max(scale, Math.abs(v));
    }
  if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
  for (let i = 0; i < m * n; i++) g[i]! /= scale;
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const eps = 2.220446049250313e-16;
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const x = g[p * m + i]!;
          const y = g[q * m + i]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // the rotation diagonalising [[α, γ], [γ, β]]: tan θ = t, the smaller root of t² + 2ζt - 1 = 0
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotate(g, p * m, q * m, 1, m, c, s);
        rotate(v, p * n, q * n, 1, n, c, s);
      }
    if (!rotated) break;
  }
  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += g[j * m + i]! ** 2;
    norms[j] = Math.sqrt(s);
  }
  const order = Array.from({ length: n }, (_, j) => j).sort((x, y) => norms[y]! - norms[x]! || x - y);
  const uc = full ? m : n;
  const U = new Float64Array(m * uc);
  const V = new Float64Array(n * n);
  const S = new Float64Array(n);
  const top = order[0];
  const smax = top === undefined ? 0 : at(norms, top, "svd");
  const have = new Array<boolean>(uc).fill(false);
  order.forEach((src, dst) => {
    S[dst] = norms[src]! * scale;
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(v[src * n + i]!) > Math.abs(v[src * n + big]!)) big = i;
    const sg = v[src * n + big]! < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) V[dst * n + i] = sg * v[src * n + i]!;
    // a column whose singular value is at the rounding level of the largest has no reliable direction
    if (norms[src]! > m * eps * smax && norms[src]! > 0) {
      for (let i = 0; i < m; i++) U[dst * m + i] = (sg * g[src * m + i]!) / norms[src]!;
      have[dst] = true;
    }
  });
  complete(U, m, uc, have);
  return { U, S, V, uc };
}

/**
 * Singular value decompositions A = U diag(S) Vh of [..., m, n] matrices
 * (S descending, k = min(m, n)): U [..., m, full ? m : k], Vh [..., full ? n : k, n].
 */
export function svd(a: ConcreteArray, full: boolean): [ConcreteArray, ConcreteArray, ConcreteArray] {
  const { B, m, n } = batches(a.shape, "svd");
  const A = toF64(a);
  const k = Math.min(m, n);
  const um = full ? m : k;
  const vn = full ? n : k;
  const Uo = new Float64Array(B * m * um);
  const So = new Float64Array(B * k);
  const Vo = new Float64Array(B * vn * n);
  for (let b = 0; b < B; b++) {
    const off = b * m * n;
    if (m >= n) {
      // A = U S Vᵀ directly
      const { U, S, V } = svdTall(A, off, m, n, full, false);
      for (let i = 0; i < m; i++) for (let j = 0; j < um; j++) Uo[b * m * um + i * um + j] = U[j * m + i]!;
      So.set(S, b * k);
      for (let i = 0; i < vn; i++) for (let j = 0; j < n; j++) Vo[b * vn * n + i * n + j] = V[i * n + j]!;
    } else {
      // Aᵀ = U' S V'ᵀ, so A = V' S U'ᵀ: U = V', Vh = U'ᵀ
      const { U, S, V } = svdTall(A, off, n, m, full, true);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) Uo[b * m * um + i * um + j] = V[j * m + i]!;
      So.set(S, b * k);
      for (let i = 0; i < vn; i++) for (let j = 0; j < n; j++) Vo[b * vn * n + i * n + j] = U[i * n + j]!;
    }
  }
  const batch = a.shape.slice(0, -2);
  return [
    store(Uo, [...batch, m, um], a.dtype),
    store(So, [...batch, k], a.dtype),
    store(Vo, [...batch, vn, n], a.dtype),
  ];
}

/**
 * LU with partial pivoting of [..., m, n] matrices (k = min(m, n)): A = P L U
 * with P [..., m, m] a permutation matrix, L [..., m, k] unit lower
 * trapezoidal, U [..., k, n] upper trapezoidal (jax.scipy.linalg.lu).
 */
export function lu(a: ConcreteArray): [ConcreteArray, ConcreteArray, ConcreteArray] {
  const { B, m, n } = batches(a.shape, "lu");
  const k = Math.min(m, n);
  const A = Float64Array.from(storageOf(a));
  const Po = new Float64Array(B * m * m);
  const Lo = new Float64Array(B * m * k);
  const Uo = new Float64Array(B * k * n);
  const perm = new Int32Array(m);
  for (let b = 0; b < B; b++) {
    const o = b * m * n;
    for (let i = 0; i < m; i++) perm[i] = i;
    for (let j = 0; j < k; j++) {
      let p = j;
      for (let i = j + 1; i < m; i++) if (Math.abs(A[o + i * n + j]!) > Math.abs(A[o + p * n + j]!)) p = i;
      if (p !== j) {
        for (let c = 0; c < n; c++) {
          const t = A[o + j * n + c]!;
          A[o + j * n + c] = A[o + p * n + c]!;
          A[o + p * n + c] = t;
        }
        [perm[j], perm[p]] = [perm[p]!, perm[j]!];
      }
      const pivot = A[o + j * n + j]!;
      if (pivot === 0) continue;
      for (let i = j + 1; i < m; i++) {
        const f = (A[o + i * n + j]! /= pivot);
        if (f !== 0) for (let c = j + 1; c < n; c++) A[o + i * n + c]! -= f * A[o + j * n + c]!;
      }
    }
    // row i of Pᵀ A is row perm[i] of A: P[perm[i], i] = 1
    for (let i = 0; i < m; i++) Po[b * m * m + perm[i]! * m + i] = 1;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < k; j++) Lo[b * m * k + i * k + j] = i === j ? 1 : i > j ? A[o + i * n + j]! : 0;
    for (let i = 0; i < k; i++) for (let j = i; j < n; j++) Uo[b * k * n + i * n + j] = A[o + i * n + j]!;
  }
  const batch = a.shape.slice(0, -2);
  return [
    store(Po, [...batch, m, m], a.dtype),
    store(Lo, [...batch, m, k], a.dtype),
    store(Uo, [...batch, k, n], a.dtype),
  ];
}

/** C = A B for n x n row-major matrices. */
function mm(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let l = 0; l < n; l++) {
      const v = a[i * n + l]!;
      if (v !== 0) for (let j = 0; j < n; j++) c[i * n + j]! += v * b[l * n + j]!;
    }
  return c;
}

/**
 * θ_m of Higham (2005), Table 2.3: the largest ‖A‖₁ for which the [m/m] Padé approximant is accurate
 * to ε, for m = 3, 5, 7, 9 (as [m, θ_m]) and for m = 13.
 */
const PADE_THETA: readonly (readonly [number, number])[] = [
  [3, 1.495585217958292e-2],
  [5, 2.53939833006323e-1],
  [7, 9.504178996162932e-1],
  [9, 2.097847961257068],
];
const PADE_THETA_13 = 5.371920351148152;

/**
 * The [m/m] Padé approximant r_m(A) = q(A)⁻¹ p(A), p(x) = Σ b_j x^j, q(x) = p(-x),
 * b_j = (2m - j)! m! / ((2m)! j! (m - j)!) (computed by b_{j+1} = b_j (m - j) / ((2m - j)(j + 1))).
 */
function pade(a: Float64Array, n: number, m: number): Float64Array {
  const u = new Float64Array(n * n); // odd part
  const v = new Float64Array(n * n); // even part
  let pw: Float64Array = new Float64Array(n * n);
  for (let i = 0; i < n; i++) pw[i * n + i] = 1;
  let bj = 1;
  for (let j = 0; j <= m; j++) {
    const t = j % 2 === 1 ? u : v;
    for (let i = 0; i < n * n; i++) t[i]! += bj * pw[i]!;
    bj = (bj * (m - j)) / ((2 * m - j) * (j + 1));
    if (j < m) pw = mm(pw, a, n);
  }
  // solve (V - U) R = V + U
  const q = new Float64Array(n * n);
  const p = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) {
    q[i] = v[i]! - u[i]!;
    p[i] = v[i]! + u[i]!;
  }
  const piv = new Int32Array(n);
  luInPlace(q, 0, n, piv);
  const r = new Float64Array(n * n);
  const col = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) col[i] = p[piv[i]! * n + c]!;
    for (let i = 0; i < n; i++) {
      let s = col[i]!;
      for (let j = 0; j < i; j++) s -= q[i * n + j]! * col[j]!;
      col[i] = s;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = col[i]!;
      for (let j = i + 1; j < n; j++) s -= q[i * n + j]! * col[j]!;
      col[i] = s / q[i * n + i]!;
    }
    for (let i = 0; i < n; i++) r[i * n + c] = col[i]!;
  }
  return r;
}

/**
 * e^X of the n x n row-major `x` (overwritten) by Higham's (2005) scaling and
 * squaring: the lowest Padé degree m in {3, 5, 7, 9} with ‖X‖₁ <= θ_m, else
 * degree 13 on X / 2^s with ‖X / 2^s‖₁ <= θ₁₃, squared s times.
 */
function expmOne(x: Float64Array, n: number): Float64Array {
  let norm1 = 0;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(x[i * n + j]!);
    norm1 = Math.max(norm1, s);
  }
  const low = PADE_THETA.find(([, th]) => norm1 <= th);
  if (low !== undefined) return pade(x, n, low[0]);
  if (!Number.isFinite(norm1)) return new Float64Array(n * n).fill(NaN);
  const s = Math.max(0, Math.ceil(Math.log2(norm1 / PADE_THETA_13)));
  const f = 2 ** -s;
  for (let i = 0; i < n * n; i++) x[i]! *= f;
  let r = pade(x, n, 13);
  for (let i = 0; i < s; i++) r = mm(r, r, n);
  return r;
}

/** Matrix exponentials of [..., n, n] matrices (`expmOne` on each). */
export function expm(a: ConcreteArray): ConcreteArray {
  const { B, n } = batches(a.shape, "expm");
  const A = toF64(a);
  const out = new Float64Array(A.length);
  for (let b = 0; b < B; b++) out.set(expmOne(A.slice(b * n * n, (b + 1) * n * n), n), b * n * n);
  return store(out, a.shape, a.dtype);
}

/**
 * Fréchet derivatives L(A, E) = ∫₀¹ e^{sA} E e^{(1-s)A} ds of the exponential, as the top-right
 * block of exp([[A, E], [0, A]]) (Higham 2008, Theorem 3.6 / Mathias 1996).
 */
export function expmFrechet(a: ConcreteArray, e: ConcreteArray): ConcreteArray {
  const { B, n } = batches(a.shape, "expm_frechet");
  const A = toF64(a);
  const E = toF64(e);
  const out = new Float64Array(A.length);
  const N = 2 * n;
  for (let b = 0; b < B; b++) {
    const big = new Float64Array(N * N);
    const o = b * n * n;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        big[i * N + j] = A[o + i * n + j]!;
        big[(i + n) * N + j + n] = A[o + i * n + j]!;
        big[i * N + j + n] = E[o + i * n + j]!;
      }
    const r = expmOne(big, N);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[o + i * n + j] = r[i * N + j + n]!;
  }
  return store(out, a.shape, a.dtype);
}

/**
 * A Givens rotation of two strided vectors of `a` in place: for k < len, with x = a[i + k·stride]
 * and y = a[j + k·stride], a[i + k·stride] = c·x − s·y and a[j + k·stride] = s·x + c·y.
 */
function rotate(a: Float64Array, i: number, j: number, stride: number, len: number, c: number, s: number): void {
  for (let k = 0, oi = i, oj = j; k < len; k++, oi += stride, oj += stride) {
    const x = a[oi]!;
    const y = a[oj]!;
    a[oi] = c * x - s * y;
    a[oj] = s * x + c * y;
  }
}
