/**
 * The Taylor rule of `scatter_mul` (src/prims/scatter.ts): out = x · P with
 * P_p = Π_{j: idx_j = p} u_j, the product of every update at position p (1
 * where there is none). P's series per position is the Cauchy product of its
 * updates' series, computed for all positions at once by a segmented scan:
 * the updates are sorted by position (argsort of the clamped indices, the
 * kernel's clamping), so each position's updates form a contiguous segment;
 * an inclusive segmented product from the left by a log-depth scan
 * (Hillis–Steele: y_i ← y_i · y_{i−s} when i − s is in i's segment, s = 1,
 * 2, 4, …), each product a Cauchy product of series; the last entry of each
 * segment holds its position's product, scattered to the position. Only
 * products, selects, gathers and scatter-adds: exact at zero updates (no
 * division or logarithm), O(K² log m) products for K coefficients and m
 * updates. The output's series is then the Cauchy product x · P.
 */
import { isFloat } from "../core/dtype.js";
import { NDArray } from "../core/ndarray.js";
import { bind1 } from "../core/trace.js";
import { ARGSORT } from "../prims/indexing.js";
import { scatterCombinePrim } from "../prims/scatter.js";
import type { T } from "../prims/rule.js";
import { at } from "../core/errors.js";
import * as E from "../prims/elementwise.js";
import * as O from "../prims/wrap.js";
import type { JetRule, Series } from "./jetRules.js";

const add = (a: T, b: T): T => (a === null ? b : b === null ? a : O.add(a, b));
const mul = (a: T, b: T): T => (a === null || b === null ? null : O.mul(a, b));

/** Coefficients from..K of the Cauchy product a·b (null = 0). */
function product(a: readonly T[], b: readonly T[], K: number, from = 0): T[] {
  const out: T[] = [];
  for (let k = from; k <= K; k++) {
    let acc: T = null;
    for (let i = 0; i <= k; i++) acc = add(acc, mul(a[i] ?? null, b[k - i] ?? null));
    out.push(acc);
  }
  return out;
}

/**
 * Coefficients 0..K of P (positions [M, ...R]) for updates u0 ([m, ...R]) whose
 * series is `su` (coefficient 0 being u0) at indices idx [m], m ≥ 1;
 * coefficient 0 (the primal product) only when `withP0`, else null.
 */
function productSeries(idx: NDArray, u0: NDArray, su: Series, M: number, K: number, withP0: boolean): T[] {
  const m = at(idx.shape, 0, "jet");
  const rest = u0.shape.slice(1);
  // the position each update lands at: negative indices wrap, then clamp into [0, M), as the kernel
  const pos = O.clip(O.selectPrim(O.less(idx, 0), O.add(idx, M), idx), 0, M - 1);
  const perm = bind1(ARGSORT, [pos], { axis: 0, descending: false });
  const s = O.gatherPrim(pos, perm, 0);
  const zeroBegin = (a: NDArray) => a.shape.map(() => 0);
  const head = (a: NDArray, n: number) => O.slicePrim(a, zeroBegin(a), [n, ...a.shape.slice(1)]);
  const tail = (a: NDArray, n: number) =>
    O.slicePrim(a, [at(a.shape, 0, "jet") - n, ...a.shape.slice(1).map(() => 0)], a.shape);
  // down(a, n)_i = a_{i−n}, zero for i < n
  const down = (a: NDArray, n: number): NDArray => {
    const lo = a.shape.map(() => 0);
    lo[0] = n;
    return O.padPrim(
      head(a, m - n),
      lo,
      a.shape.map(() => 0),
    );
  };
  // [m, 1, ...] masks, to broadcast over the rows: i and i − n in one segment; i the last of its segment
  const rows = (mask: NDArray) => O.reshape(mask, [m, ...rest.map(() => 1)]);
  const sameAsDown = (n: number): NDArray =>
    rows(O.concatPrim([O.full([n], 0, "bool"), O.equal(tail(s, m - n), head(s, m - n))], 0));
  const last = rows(O.concatPrim([bind1(E.NE, [head(s, m - 1), tail(s, m - 1)], {}), O.full([1], 1, "bool")], 0));
  let pre: T[] = su.map((c) => (c === null ? null : O.gatherPrim(c, perm, 0)));
  for (let n = 1; n < m; n *= 2) {
    const same = sameAsDown(n);
    // the factor's series: pre_{i−n} inside the segment, the series 1 (1, 0, 0, ...) across its start
    const factor = pre.map((c, k) => (c === null ? null : O.selectPrim(same, down(c, n), k === 0 ? 1 : 0)));
    pre = product(pre, factor, K);
  }
  const P: T[] = [withP0 ? scatterCombinePrim("mul", O.full([M, ...rest], 1, u0.dtype), idx, u0) : null];
  for (let k = 1; k <= K; k++) {
    const c = pre[k] ?? null;
    P.push(c === null ? null : O.scatterAddPrim(O.selectPrim(last, c, 0), s, 0, M));
  }
  return P;
}

export const scatterMulJet: JetRule<{}, 3, 1> = (_p, [x0, idx, u0], [sx, , su], [out], _params, K) => {
  if (!isFloat(out.dtype)) return [null];
  const M = at(x0.shape, 0, "jet");
  const m = at(idx.shape, 0, "jet");
  const x: T[] = [x0];
  for (let k = 1; k <= K; k++) x.push(sx?.[k] ?? null);
  const uHasTerms = su !== null && su.slice(1).some((c) => c !== null);
  if (!uHasTerms || m === 0) {
    // P constant in t: out_k = x_k · P, which is scatter_mul of x_k
    const res = x.slice(1).map((c) => (c === null ? null : m === 0 ? c : scatterCombinePrim("mul", c, idx, u0)));
    return [res.some((c) => c !== null) ? res : null];
  }
  // P_0 enters the output's coefficients only through the operand's
  const P = productSeries(
    idx,
    u0,
    su,
    M,
    K,
    x.some((c, k) => k > 0 && c !== null),
  );
  return [product(x, P, K, 1)];
};
