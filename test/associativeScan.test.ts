/**
 * `associativeScan` (API.md "New transforms and tools"): a parallel prefix
 * equal to a sequential scan, differentiable and batchable. References are
 * sequential scans in plain JS over the same random data (a deterministic
 * LCG), for lengths 0–17 (every shape of the odd–even recursion up to four
 * levels), several axes and both directions.
 *
 * Tolerance (float64): 1e-12 relative. Parallel and sequential orders of
 * a sum/product of ≤ 17 O(1) terms differ by a few roundings (≲ 1e-15
 * relative per operation); max is exact.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { arr, expectClose, vals } from "./support/assert.js";

type A = nb.NDArray;
const TOL = 1e-12;

function rand(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

/** Sequential inclusive scan over n items of size k (flat row-major, items along the leading axis). */
function seqScan(data: number[], n: number, k: number, op: (a: number[], b: number[]) => number[], reverse: boolean) {
  const items = Array.from({ length: n }, (_, i) => data.slice(i * k, (i + 1) * k));
  const order = reverse ? items.slice().reverse() : items;
  const out: number[][] = [];
  order.forEach((it, i) => out.push(i === 0 ? it : op(out[i - 1]!, it)));
  return (reverse ? out.reverse() : out).flat();
}
const elementwise = (f: (a: number, b: number) => number) => (a: number[], b: number[]) => a.map((v, i) => f(v, b[i]!));
const mat2 = (a: number[], b: number[]) => [
  a[0]! * b[0]! + a[1]! * b[2]!,
  a[0]! * b[1]! + a[1]! * b[3]!,
  a[2]! * b[0]! + a[3]! * b[2]!,
  a[2]! * b[1]! + a[3]! * b[3]!,
];

const FNS: [string, (a: A, b: A) => A, (a: number[], b: number[]) => number[], number[]][] = [
  ["add", nb.add, elementwise((a, b) => a + b), [3]],
  ["mul", nb.mul, elementwise((a, b) => a * b), [3]],
  ["max", nb.maximum, elementwise(Math.max), [3]],
  ["2×2 matrix product", nb.matmul, mat2, [2, 2]],
];

describe("associativeScan equals a sequential scan", () => {
  for (const [name, fn, ref, item] of FNS) {
    it(`${name}: lengths 0–17, forward and reverse`, () => {
      const k = item.reduce((a, b) => a * b, 1);
      for (let n = 0; n <= 17; n++)
        for (const reverse of [false, true]) {
          // mul/matmul: values near 1 keep products O(1)
          const data = name === "add" || name === "max" ? rand(n * k, n + 1) : rand(n * k, n + 1, 0.6, 1.4);
          const got = nb.associativeScan(fn, arr(data, [n, ...item]), { reverse });
          expectClose(got, seqScan(data, n, k, ref, reverse), [n, ...item], TOL);
        }
    });
  }
  it("along another axis (axis 1 and axis -1 of a [2, n, 3] array)", () => {
    const n = 7;
    const data = rand(2 * n * 3, 5);
    const x = arr(data, [2, n, 3]);
    // reference: per (b, c), the sequential cumulative sum along the middle axis
    const want = new Array<number>(data.length).fill(0);
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = 0; i < n; i++) want[(b * n + i) * 3 + c] = s += data[(b * n + i) * 3 + c]!;
      }
    expectClose(nb.associativeScan(nb.add, x, { axis: 1 }), want, [2, n, 3], TOL);
    const xt = nb.transpose(x, [0, 2, 1]);
    const got = nb.transpose(nb.associativeScan(nb.add, xt, { axis: -1 }), [0, 2, 1]);
    expectClose(got, want, [2, n, 3], TOL);
  });
  it("pytree elements: the affine recurrence h_i = a_i h_{i-1} + b_i", () => {
    const n = 11;
    const a = rand(n, 3, 0.5, 1.5);
    const b = rand(n, 4);
    // (a1, b1) ∘ (a2, b2) = (a1 a2, a2 b1 + b2)
    const comp = (p: { a: A; b: A }, q: { a: A; b: A }) => ({ a: nb.mul(p.a, q.a), b: nb.add(nb.mul(q.a, p.b), q.b) });
    const out = nb.associativeScan(comp, { a: arr(a), b: arr(b) });
    const h: number[] = [];
    b.forEach((bi, i) => h.push(i === 0 ? bi : a[i]! * h[i - 1]! + bi));
    expectClose(out.b, h, [n], TOL);
  });
});

describe("associativeScan under transforms", () => {
  const n = 9;
  const x0 = rand(n, 7, 0.6, 1.4);
  const w = rand(n, 8);
  // L(x) = Σ_i w_i Π_{k≤i} x_k  ⇒  ∂L/∂x_j = Σ_{i≥j} w_i Π_{k≤i} x_k / x_j
  const loss = (x: A): A => nb.sum(nb.mul(arr(w), nb.associativeScan(nb.mul, x)));
  const p = x0.map((_, i) => x0.slice(0, i + 1).reduce((s, v) => s * v, 1));
  const dL = x0.map((xj, j) => w.reduce((s, wi, i) => (i >= j ? s + (wi * p[i]!) / xj : s), 0));
  it("grad and jvp against the closed form, under jit", () => {
    expectClose(nb.grad(loss)(arr(x0)), dL, [n], TOL);
    expectClose(nb.jit(nb.grad(loss))(arr(x0)), dL, [n], TOL);
    const t = rand(n, 9);
    const [, dy] = nb.jvp(loss, [arr(x0)], [arr(t)]);
    expect(Math.abs(dy.item() - dL.reduce((s, d, i) => s + d * t[i]!, 0))).toBeLessThanOrEqual(TOL * 10);
  });
  it("vmap over a batch of sequences equals the per-sequence scans (and its grad)", () => {
    const batch = [x0, rand(n, 11, 0.6, 1.4), rand(n, 12, 0.6, 1.4)];
    const got = nb.vmap((x: A) => nb.associativeScan(nb.mul, x))(arr(batch.flat(), [3, n]));
    const want = batch.flatMap((s) =>
      seqScan(
        s,
        n,
        1,
        elementwise((a, b) => a * b),
        false,
      ),
    );
    expectClose(got, want, [3, n], TOL);
    const g = nb.vmap(nb.grad(loss))(arr(batch.flat(), [3, n]));
    expectClose(nb.take(g, 0, 0), dL, [n], TOL);
    expect(vals(g).length).toBe(3 * n);
  });
  it("bad input: a non-elementwise fn and mismatched leaf lengths throw ShapeErrors naming associativeScan", () => {
    expect(() => nb.associativeScan((a: A) => nb.sum(a), nb.zeros([4]))).toThrow(/^associativeScan: fn returned shape/);
    expect(() => nb.associativeScan((a: A[]) => a, [nb.zeros([4]), nb.zeros([3])])).toThrow(
      /^associativeScan: every leaf of elems needs length 4/,
    );
    expect(() => nb.associativeScan(nb.add, nb.array(1))).toThrow(nb.ShapeError);
  });
});
