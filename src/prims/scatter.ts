/**
 * Combining scatters (opsB, issue 9): out = x with the rows of u multiplied
 * into, or min'd or max'd into, the rows of x at int32 indices along axis 0
 * (x: [M, ...R], idx: [m], u: [m, ...R]); repeated indices all combine.
 * Index updates `at(x, i).mul/min/max` are built on them (`set` and `add`
 * use gather and scatter_add). Their derivative rules are written with
 * gather, scatter_add, select and the rows themselves, so every order follows.
 */
import { DTypeError, ShapeError, fmtShape } from "../core/errors.js";
import { NDArray } from "../core/ndarray.js";
import { shapesEqual } from "../core/shape.js";
import { bind1 } from "../core/trace.js";
import type { Aval } from "../core/trace.js";
import * as K from "../kernels/indexing.js";
import * as O from "./wrap.js";
import { BatchResult, Dim, batchedFront } from "./batching.js";
import { ARGSORT, offsetIndices } from "./indexing.js";
import { Rule, T, tadd } from "./rule.js";

type Combine = K.ScatterCombine;

/** The combining scatter `op` of u into x at idx (axis 0). */
export function scatterCombinePrim(op: Combine, x: NDArray, idx: NDArray, u: NDArray): NDArray {
  return bind1(ROWS[op], [x, idx, u], {});
}

function scatterAval(op: Combine, x: Aval, i: Aval, u: Aval): Aval {
  const name = `scatter_${op}`;
  if (i.dtype !== "int32") throw new DTypeError(`${name}: indices must be int32, got ${i.dtype}`);
  if (x.dtype !== u.dtype) throw new DTypeError(`${name}: operand ${x.dtype} and updates ${u.dtype} differ`);
  if (
    x.shape.length < 1 ||
    i.shape.length !== 1 ||
    !shapesEqual(u.shape, [i.shape[0]!, ...x.shape.slice(1)]) ||
    (x.shape[0] === 0 && i.shape[0]! > 0)
  )
    throw new ShapeError(
      `${name}: operand ${fmtShape(x.shape)}, indices ${fmtShape(i.shape)} and updates ${fmtShape(u.shape)} do not fit ([M, ...R], [m], [m, ...R])`,
    );
  return { shape: x.shape, dtype: x.dtype, weak: x.weak };
}

/**
 * min/max, as JAX: the output's tangent is the mean of the tangents of every
 * operand and update equal to the result at that position:
 * dout = (dx·[x = out] + Σ_j du_j·[u_j = out_idx_j]) / ([x = out] + Σ_j [u_j = out_idx_j]).
 */
function extremumJvp(x: NDArray, idx: NDArray, u: NDArray, dx: T, du: T, out: NDArray): T {
  const M = x.shape[0]!;
  const kept = O.equal(x, out);
  const hit = O.equal(u, O.gatherPrim(out, idx, 0));
  const count = O.add(O.convertTo(kept, x.dtype), O.scatterAddPrim(O.convertTo(hit, x.dtype), idx, 0, M));
  const num = tadd(
    dx === null ? null : O.selectPrim(kept, dx, 0),
    du === null ? null : O.scatterAddPrim(O.selectPrim(hit, du, 0), idx, 0, M),
  );
  return num === null ? null : O.div(num, count);
}

/**
 * mul: out = x·P with P = Π_j u_j per position, so dout = dx·P + x·Σ_j du_j·E_j
 * with E_j = Π_{k≠j, idx_k = idx_j} u_k, the product of the other updates of
 * u_j's position (exclusiveProducts). E is built from mul, select, gather and
 * scatter_add only (no division), so the rule holds at zeros and its own
 * derivatives, to every order, are those of the product.
 */
function mulJvp(x: NDArray, idx: NDArray, u: NDArray, dx: T, du: T): T {
  const M = x.shape[0]!;
  const ones = O.full(x.shape, 1, x.dtype);
  const tx = dx === null ? null : O.mul(dx, scatterCombinePrim("mul", ones, idx, u));
  if (du === null) return tx;
  return tadd(tx, O.mul(x, O.scatterAddPrim(O.mul(du, exclusiveProducts(idx, u, M)), idx, 0, M)));
}

/**
 * E_j = Π_{k≠j, idx_k = idx_j} u_k (1 where u_j is alone at its position), for
 * idx [m] and u [m, ...R], positions as the kernel's (negative indices wrap,
 * then clamp into [0, M)). The updates are sorted by position
 * (argsort of the positions), so each position's updates form a
 * contiguous segment; inclusive segmented products from the left (pre) and
 * from the right (suf) by a log-depth scan (Hillis–Steele: y_i *= y_{i∓s}
 * when i∓s is in i's segment, s = 1, 2, 4, ...); E_i = pre_{i-1}·suf_{i+1},
 * each factor 1 across a segment boundary; then unsorted by scattering back
 * through the permutation.
 */
function exclusiveProducts(idx: NDArray, u: NDArray, M: number): NDArray {
  const m = idx.shape[0]!;
  if (m === 0) return u;
  const rest = u.shape.slice(1);
  // out-of-range indices clamp as in the kernel, so that, e.g., M and M + 1 share the last position
  const wrapped = O.clip(O.selectPrim(O.less(idx, 0), O.add(idx, M), idx), 0, M - 1);
  const perm = bind1(ARGSORT, [wrapped], { axis: 0, descending: false });
  const s = O.gatherPrim(wrapped, perm, 0);
  const us = O.gatherPrim(u, perm, 0);
  const zeroBegin = (a: NDArray) => a.shape.map(() => 0);
  const head = (a: NDArray, n: number) => O.slicePrim(a, zeroBegin(a), [n, ...a.shape.slice(1)]);
  const tail = (a: NDArray, n: number) => O.slicePrim(a, [a.shape[0]! - n, ...a.shape.slice(1).map(() => 0)], a.shape);
  // shifted(a, k)_i = a_{i-k} (k > 0) or a_{i+|k|} (k < 0), zero where that is outside [0, m)
  const shifted = (a: NDArray, k: number): NDArray => {
    const n = Math.abs(k);
    const pad = a.shape.map(() => 0);
    const lo = pad.slice();
    const hi = pad.slice();
    if (k > 0) lo[0] = n;
    else hi[0] = n;
    return O.padPrim(k > 0 ? head(a, m - n) : tail(a, m - n), lo, hi);
  };
  // same(k)_i: i and i-k (or i+|k|) are in one segment, as [m, 1, ...] to broadcast over rows
  const same = (k: number): NDArray => {
    const n = Math.abs(k);
    const eq = O.equal(tail(s, m - n), head(s, m - n));
    const none = O.full([n], 0, "bool");
    const mask = k > 0 ? O.concatPrim([none, eq], 0) : O.concatPrim([eq, none], 0);
    return O.reshape(mask, [m, ...rest.map(() => 1)]);
  };
  const times = (y: NDArray, k: number) => O.mul(y, O.selectPrim(same(k), shifted(y, k), 1));
  let pre = us;
  let suf = us;
  for (let k = 1; k < m; k *= 2) {
    pre = times(pre, k);
    suf = times(suf, -k);
  }
  const excl =
    m === 1
      ? O.full(us.shape, 1, us.dtype)
      : O.mul(O.selectPrim(same(1), shifted(pre, 1), 1), O.selectPrim(same(-1), shifted(suf, -1), 1));
  return O.scatterAddPrim(excl, perm, 0, m);
}

/**
 * Batching: every operand gets the batch axis in front, and the batch merges
 * into the scattered axis (x: [B·M, ...R], indices offset by b·M after
 * wrapping and clamping, updates [B·m, ...R]).
 */
function scatterBatch(op: Combine) {
  return ([x, i, u]: NDArray[], [dx = null, di = null, du = null]: Dim[], _p: {}, size: number): BatchResult => {
    const xb = batchedFront(x!, dx, size);
    const ib = batchedFront(i!, di, size);
    const ub = batchedFront(u!, du, size);
    const M = xb.shape[1]!;
    const flat = (a: NDArray) => O.reshape(a, [a.shape[0]! * a.shape[1]!, ...a.shape.slice(2)]);
    const out = scatterCombinePrim(
      op,
      flat(xb),
      O.reshape(offsetIndices(ib, M), [ib.shape[0]! * ib.shape[1]!]),
      flat(ub),
    );
    return [[O.reshape(out, xb.shape)], [0]];
  };
}

function row(op: Combine): Rule<{}> {
  return {
    name: `scatter_${op}`,
    abstractEval: ([x, i, u]) => [scatterAval(op, x!, i!, u!)],
    impl: ([x, i, u]) => [K.scatterCombine(x!, i!, u!, op)],
    jvp: ([x, i, u], [dx = null, , du = null], [out]) => [
      op === "mul" ? mulJvp(x!, i!, u!, dx, du) : extremumJvp(x!, i!, u!, dx, du, out!),
    ],
    vmap: scatterBatch(op),
  };
}

// out[idx_j] *= u_j for every j
export const SCATTER_MUL = row("mul");
// out[idx_j] = min(out[idx_j], u_j) for every j
export const SCATTER_MIN = row("min");
// out[idx_j] = max(out[idx_j], u_j) for every j
export const SCATTER_MAX = row("max");

const ROWS: Record<Combine, Rule<{}>> = { mul: SCATTER_MUL, min: SCATTER_MIN, max: SCATTER_MAX };
