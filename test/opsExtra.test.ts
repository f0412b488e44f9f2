/**
 * The NumPy-style ops beyond the core set: take, takeAlongAxis, sort /
 * argsort, argmax / argmin, cumsum / cumprod, flip, tile, pad. Values are
 * compared with plain-JS references of the NumPy semantics written here;
 * gradients with closed forms derived by hand (scatter-add for repeated
 * indices, permutations for sort, exact products for cumprod at zeros) and
 * with finite differences (checkGrads, order 2, both modes).
 *
 * Tolerances: the ops are pure data movement (gather, permute, pad, tile) and
 * are compared exactly; cumsum / cumprod of O(1) numbers accumulate a few
 * roundings, compared at 1e-12 · (1 + |value|). Finite differences use
 * checkGrads' float64 defaults (step 1e-5, atol = rtol = 1e-6).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";
import { ravel, sizeOf, unravel } from "./support/reference.js";
import { type Random, fcSeed, fcSettings, seeded } from "./support/rng.js";

type A = nb.NDArray;

const { RUNS } = fcSettings({ seed: 0, runs: 20 });

function vals(x: A): number[] {
  return Array.from(x.toTypedArray() as ArrayLike<number>, Number);
}
// ---------------------------------------------------------------------------
// plain-JS n-d arrays

interface R {
  shape: number[];
  data: number[];
}
const toNb = (r: R, dtype: nb.DType = "float64"): A =>
  nb.array(dtype === "int32" ? Int32Array.from(r.data) : Float64Array.from(r.data), { shape: r.shape });

function build(shape: number[], f: (idx: number[]) => number): R {
  return { shape, data: Array.from({ length: sizeOf(shape) }, (_, i) => f(unravel(i, shape))) };
}
const at = (r: R, idx: readonly number[]): number => r.data[ravel(idx, r.shape)]!;
const wrap = (i: number, n: number): number => (i < 0 ? i + n : i);

function expectExact(x: A, want: R, what: string): void {
  expect(x.shape, `${what}: shape`).toEqual(want.shape);
  expect(vals(x), what).toEqual(want.data);
}
function expectClose(x: A, want: R, tol: number, what: string): void {
  expect(x.shape, `${what}: shape`).toEqual(want.shape);
  const g = vals(x);
  want.data.forEach((w, i) => {
    if (!(Math.abs(g[i]! - w) <= tol * (1 + Math.abs(w))))
      expect.fail(`${what}: element ${i} is ${g[i]}, expected ${w}`);
  });
}

const rand = (r: Random, shape: number[], lo = -2, hi = 2): R => build(shape, () => r(lo, hi));
const i32 = (data: number[], shape = [data.length]): A => nb.array(Int32Array.from(data), { shape });

const grads2 = { order: 2, modes: ["fwd", "rev"] as ("fwd" | "rev")[] };

// ---------------------------------------------------------------------------
// take

/** NumPy take along an axis (negative indices wrap). */
function takeRef(x: R, idx: R, axis: number): R {
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  const k = idx.shape.length;
  return build(shape, (o) => {
    const j = at(idx, o.slice(axis, axis + k));
    return at(x, [...o.slice(0, axis), wrap(j, x.shape[axis]!), ...o.slice(axis + k)]);
  });
}

describe("take", () => {
  const r = seeded(1, -2, 2);
  const x = rand(r, [3, 4]);

  it("along each axis (also negative), with 1-D, 2-D and 0-D indices, negative indices wrapping", () => {
    const cases: [number[], number[], number][] = [
      [[2, 0, -1], [3], 0],
      [[3, -4, 1, 1], [4], 1],
      [[0, 2, -1, 1, 3, 3], [2, 3], -1],
      [[1], [], 0],
      [[-2, 0], [1, 2], -2],
    ];
    for (const [d, s, ax] of cases) {
      const want = takeRef(x, { shape: s, data: d }, ax < 0 ? ax + 2 : ax);
      expectExact(nb.take(toNb(x), i32(d, s), ax), want, `take axis ${ax} indices ${d}`);
    }
  });

  it("with no axis takes from the flattened array; integer-valued JS numbers are accepted as indices", () => {
    const flat = { shape: [12], data: x.data };
    expectExact(
      nb.take(toNb(x), [11, 0, -12, 5]),
      takeRef(flat, { shape: [4], data: [11, 0, -12, 5] }, 0),
      "flattened take",
    );
    expect(vals(nb.take([10, 20, 30], [2, 0, 2]))).toEqual([30, 10, 30]);
  });

  it("non-integer or float-array indices throw DTypeError", () => {
    expect(() => nb.take([1, 2, 3], [0.5])).toThrow(nb.DTypeError);
    expect(() => nb.grad((i: A) => nb.sum(nb.take(nb.array([1, 2, 3]), i)))(nb.array([0, 1]))).toThrow(nb.DTypeError);
    expect(() => nb.take(nb.zeros([2, 2]), [0], 2)).toThrow(nb.ShapeError);
  });

  it("the gradient scatter-adds: repeated indices accumulate (closed form)", () => {
    // f(x) = sum(take(x, idx, 0) * w): df/dx[i, :] = sum over the positions p with idx[p] = i of w[p, :]
    const idx = [0, 2, 0, 0, -1];
    const w = rand(r, [5, 4]);
    const g = nb.grad((v: A) => nb.sum(nb.mul(nb.take(v, i32(idx), 0), toNb(w))))(toNb(x)) as A;
    const want = build([3, 4], ([i, j]) => idx.reduce((s, p, k) => s + (wrap(p, 3) === i ? at(w, [k, j!]) : 0), 0));
    expectClose(g, want, 1e-14, "scatter-add gradient");
    // and the one-line case from the issue: grad(sum(take(x, [1, 1, 1]))) = [0, 3, 0]
    expect(vals(nb.grad((v: A) => nb.sum(nb.take(v, [1, 1, 1])))(nb.array([5, 6, 7])) as A)).toEqual([0, 3, 0]);
  });

  it("finite differences (order 2, fwd and rev), also along axis 1 with 2-D repeated indices", () => {
    checkGrads((v: A) => nb.take(v, i32([2, 0, 2, -1]), 0), [toNb(x)], grads2);
    checkGrads(
      (v: A) => nb.mul(nb.take(v, i32([1, 1, 3, 0, 1, 2], [3, 2]), 1), nb.sin(nb.take(v, i32([0]), 1))),
      [toNb(x)],
      grads2,
    );
  });
});

// ---------------------------------------------------------------------------
// takeAlongAxis

function takeAlongRef(x: R, idx: R, axis: number): R {
  // indices broadcast against x off the axis
  const shape = x.shape.map((d, i) => (i === axis ? idx.shape[axis]! : Math.max(d, idx.shape[i]!)));
  return build(shape, (o) => {
    const ii = o.map((v, k) => (idx.shape[k] === 1 ? 0 : v));
    const j = wrap(at(idx, ii), x.shape[axis]!);
    const xi = o.map((v, k) => (k === axis ? j : x.shape[k] === 1 ? 0 : v));
    return at(x, xi);
  });
}

describe("takeAlongAxis", () => {
  const r = seeded(2, -2, 2);
  const x = rand(r, [3, 4]);

  it("matches NumPy's take_along_axis, including broadcast indices", () => {
    expect(vals(nb.takeAlongAxis([[3, 1, 2]], [[1, 2, 0]], 1))).toEqual([1, 2, 3]);
    const cases: [R, number][] = [
      [{ shape: [3, 2], data: [0, 3, 1, 1, 3, 2] }, 1],
      [{ shape: [2, 4], data: [0, 1, 2, 0, 2, 2, 1, 0] }, 0],
      [{ shape: [1, 5], data: [3, 0, 0, 1, 2] }, 1], // broadcast over rows
      [{ shape: [3, 1], data: [1, 0, 3] }, -1],
    ];
    for (const [idx, ax] of cases) {
      const axis = ax < 0 ? ax + 2 : ax;
      expectExact(
        nb.takeAlongAxis(toNb(x), toNb(idx, "int32"), ax),
        takeAlongRef(x, idx, axis),
        `takeAlongAxis axis ${ax}`,
      );
    }
  });

  it("negative indices count from the end of the axis (as in take)", () => {
    const cases: [R, number][] = [
      [{ shape: [3, 2], data: [0, -1, 1, -4, -1, 2] }, 1],
      [{ shape: [2, 4], data: [0, -1, 2, 0, -3, 2, -2, 0] }, 0],
    ];
    for (const [idx, ax] of cases)
      expectExact(
        nb.takeAlongAxis(toNb(x), toNb(idx, "int32"), ax),
        takeAlongRef(x, idx, ax),
        `takeAlongAxis axis ${ax}, negative indices`,
      );
  });

  it("a rank mismatch throws ShapeError", () => {
    expect(() => nb.takeAlongAxis(toNb(x), i32([0, 1]), 1)).toThrow(nb.ShapeError);
  });

  it("mode: out-of-range indices fill (NaN, the default), clip or wrap, as JAX's take_along_axis / take", () => {
    // plain-JS reference for one index i into an axis of length n: null marks a filled position
    const pick = (i: number, n: number, mode: nb.TakeMode): number | null => {
      if (mode === "wrap") return ((i % n) + n) % n;
      const j = i < 0 ? i + n : i;
      if (mode === "clip") return Math.min(Math.max(j, 0), n - 1);
      return j >= 0 && j < n ? j : null;
    };
    const idx: R = { shape: [3, 3], data: [5, -1, 4, -5, 0, 3, -9, 8, 2] };
    for (const mode of ["fill", "clip", "wrap"] as const) {
      const want = build([3, 3], ([i, k]) => {
        const j = pick(at(idx, [i!, k!]), 4, mode);
        return j === null ? NaN : at(x, [i!, j]);
      });
      const got = nb.takeAlongAxis(toNb(x), toNb(idx, "int32"), 1, mode === "fill" ? {} : { mode });
      expectExact(got, want, `takeAlongAxis mode ${mode}`);
      expectExact(nb.takeAlongAxis(toNb(x), toNb(idx, "int32"), 1, { mode }), want, `takeAlongAxis mode ${mode}`);
    }
    // int32 and bool fill values as take's (JAX's): the most negative int32, true
    expect(vals(nb.takeAlongAxis(i32([7, 8]), i32([1, 2]), 0))).toEqual([8, -(2 ** 31)]);
    expect(nb.takeAlongAxis([true, false], i32([1, -3]), 0).toArray()).toEqual([false, true]);
    // an empty axis: fill gives the fill value, clip and wrap have nothing to take
    expect(vals(nb.takeAlongAxis(nb.zeros([2, 0]), i32([0, 1], [1, 2]), 1))).toEqual([NaN, NaN, NaN, NaN]);
    expect(() => nb.takeAlongAxis(nb.zeros([2, 0]), i32([0], [1, 1]), 1, { mode: "clip" })).toThrow(nb.ShapeError);
    // bad modes and indices outside int32 throw, naming takeAlongAxis
    expect(() => nb.takeAlongAxis(toNb(x), i32([0], [1, 1]), 1, { mode: "nearest" as never })).toThrow(
      /^takeAlongAxis: mode/,
    );
    expect(() => nb.takeAlongAxis([1, 2], [2 ** 31], 0)).toThrow(/^takeAlongAxis: index .* int32/);
  });

  it("mode gradients: filled positions get none (closed form); clip and wrap pass finite differences", () => {
    const idx: R = { shape: [3, 2], data: [1, 7, -1, -6, 2, 4] };
    const w = rand(r, [3, 2]);
    const g = nb.grad((v: A) => nb.sum(nb.mul(nb.takeAlongAxis(v, toNb(idx, "int32"), 1), toNb(w))))(toNb(x)) as A;
    // only in-range picks (1, -1 -> 3, 2) receive their weight; 7, -6 and 4 are filled
    const want = build([3, 4], ([i, j]) =>
      [0, 1].reduce((s, k) => {
        const raw = at(idx, [i!, k]);
        const jj = raw < 0 ? raw + 4 : raw;
        return s + (jj >= 0 && jj < 4 && jj === j ? at(w, [i!, k]) : 0);
      }, 0),
    );
    expectClose(g, want, 1e-14, "takeAlongAxis fill gradient");
    for (const mode of ["clip", "wrap"] as const)
      checkGrads((v: A) => nb.takeAlongAxis(v, toNb(idx, "int32"), 1, { mode }), [toNb(x)], grads2);
  });

  it("gradient: repeated picks accumulate (closed form) and finite differences", () => {
    const idx: R = { shape: [3, 3], data: [0, 0, 3, 1, 2, 1, 3, 3, 3] };
    const w = rand(r, [3, 3]);
    const g = nb.grad((v: A) => nb.sum(nb.mul(nb.takeAlongAxis(v, toNb(idx, "int32"), 1), toNb(w))))(toNb(x)) as A;
    const want = build([3, 4], ([i, j]) =>
      [0, 1, 2].reduce((s, k) => s + (at(idx, [i!, k]) === j ? at(w, [i!, k]) : 0), 0),
    );
    expectClose(g, want, 1e-14, "takeAlongAxis gradient");
    checkGrads((v: A) => nb.takeAlongAxis(v, toNb(idx, "int32"), 1), [toNb(x)], grads2);
    checkGrads((v: A) => nb.takeAlongAxis(v, i32([2, 0, 1, 1], [1, 4]), 0), [toNb(x)], grads2);
  });
});

// ---------------------------------------------------------------------------
// sort, argsort, argmax, argmin

/** Stable sorting permutation of a list: NaNs last, ties in original order (also when descending). */
function argsortList(v: number[], descending: boolean): number[] {
  return v
    .map((x, i) => i)
    .sort((i, j) => {
      const a = v[i]!;
      const b = v[j]!;
      if (Number.isNaN(a) || Number.isNaN(b))
        return Number.isNaN(a) && Number.isNaN(b) ? i - j : Number.isNaN(a) ? 1 : -1;
      if (a === b) return i - j;
      return (descending ? b > a : a > b) ? 1 : -1;
    });
}
/** Applies a per-line function along an axis. */
function alongAxis(x: R, axis: number, f: (line: number[]) => number[]): R {
  const out = { shape: x.shape.slice(), data: x.data.slice() };
  const n = x.shape[axis]!;
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    if (idx[axis] !== 0) continue;
    const pos = Array.from({ length: n }, (_, k) =>
      ravel(
        idx.map((v, a) => (a === axis ? k : v)),
        x.shape,
      ),
    );
    const res = f(pos.map((p) => x.data[p]!));
    pos.forEach((p, k) => (out.data[p] = res[k]!));
  }
  return out;
}

describe("sort and argsort", () => {
  const arbLine = fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -10, max: 10, noNaN: true })), {
    minLength: 1,
    maxLength: 9,
  });

  it("match a stable plain-JS sort, ascending and descending, with ties (property)", () => {
    fc.assert(
      fc.property(arbLine, fc.boolean(), (line, descending) => {
        const x = nb.array(Float64Array.from(line));
        const perm = argsortList(line, descending);
        const got = nb.argsort(x, -1, descending);
        expect(got.dtype).toBe("int32");
        expect(vals(got)).toEqual(perm);
        expect(vals(nb.sort(x, -1, descending))).toEqual(perm.map((i) => line[i]!));
      }),
      { seed: fcSeed(201), numRuns: RUNS },
    );
  });

  it("ties keep their original order (stable), infinities sort, NaNs go last ascending and first descending (JAX, torch)", () => {
    const v = [2, 1, 2, -Infinity, 1, NaN, Infinity, 2];
    expect(vals(nb.argsort(v))).toEqual([3, 1, 4, 0, 2, 7, 6, 5]);
    expect(vals(nb.argsort(v, -1, true))).toEqual([5, 6, 0, 2, 7, 1, 4, 3]);
    expect(vals(nb.sort(v)).slice(0, 7)).toEqual([-Infinity, 1, 1, 2, 2, 2, Infinity]);
    expect(Number.isNaN(vals(nb.sort(v))[7]!)).toBe(true);
  });

  it("sort along every axis of a 3-D array matches the reference", () => {
    const r = seeded(3, -2, 2);
    const x = build([2, 3, 4], () => Math.round(r(-3, 3))); // many ties
    for (const ax of [0, 1, 2, -1])
      for (const descending of [false, true]) {
        const axis = ax < 0 ? ax + 3 : ax;
        const perm = alongAxis(x, axis, (line) => argsortList(line, descending));
        const sorted = alongAxis(x, axis, (line) => argsortList(line, descending).map((i) => line[i]!));
        expectExact(nb.argsort(toNb(x), ax, descending), perm, `argsort axis ${ax} descending ${descending}`);
        expectExact(nb.sort(toNb(x), ax, descending), sorted, `sort axis ${ax} descending ${descending}`);
      }
  });

  it("the gradient of sort is the permutation: grad(sum(sort(x) * w)) puts w[k] at the k-th smallest element", () => {
    const x = [0.3, -1.2, 2.5, 0.7, -0.1];
    const w = [1, 10, 100, 1000, 10000];
    for (const descending of [false, true]) {
      const perm = argsortList(x, descending);
      const want = new Array<number>(5);
      perm.forEach((src, k) => (want[src] = w[k]!));
      const g = nb.grad((v: A) => nb.sum(nb.mul(nb.sort(v, -1, descending), w)))(nb.array(x)) as A;
      expect(vals(g)).toEqual(want);
    }
    // 2-D, along axis 0, with finite differences (distinct values: sort is locally a fixed permutation)
    const r = seeded(4, -2, 2);
    const m = toNb(rand(r, [4, 3]));
    checkGrads((v: A) => nb.sort(v, 0), [m], grads2);
    checkGrads((v: A) => nb.mul(nb.sort(v, -1, true), nb.sin(v)), [m], grads2);
  });

  it("argmax / argmin: first occurrence on ties, flattened by default, along axes, keepdims", () => {
    const x: R = { shape: [2, 4], data: [1, 5, 5, -2, 7, 0, 7, 7] };
    expect(nb.argmax(toNb(x)).item()).toBe(4);
    expect(nb.argmin(toNb(x)).item()).toBe(3);
    expect(vals(nb.argmax(toNb(x), 1))).toEqual([1, 0]);
    expect(vals(nb.argmin(toNb(x), 0))).toEqual([0, 1, 0, 0]);
    expect(vals(nb.argmax(toNb(x), -2))).toEqual([1, 0, 1, 1]);
    expect(nb.argmax(toNb(x), 1, true).shape).toEqual([2, 1]);
    expect(nb.argmax(toNb(x), 1).dtype).toBe("int32");
  });
});

// ---------------------------------------------------------------------------
// cumsum, cumprod

describe("cumsum and cumprod", () => {
  const r = seeded(5, -2, 2);

  it("match running sums / products along each axis, flattened without an axis", () => {
    const x = rand(r, [2, 3, 4]);
    const run = (op: (a: number, b: number) => number) => (line: number[]) => {
      const out: number[] = [];
      line.forEach((v, i) => out.push(i === 0 ? v : op(out[i - 1]!, v)));
      return out;
    };
    for (const ax of [0, 1, 2, -1]) {
      const axis = ax < 0 ? ax + 3 : ax;
      expectClose(
        nb.cumsum(toNb(x), ax),
        alongAxis(
          x,
          axis,
          run((a, b) => a + b),
        ),
        1e-12,
        `cumsum axis ${ax}`,
      );
      expectClose(
        nb.cumprod(toNb(x), ax),
        alongAxis(
          x,
          axis,
          run((a, b) => a * b),
        ),
        1e-12,
        `cumprod axis ${ax}`,
      );
    }
    const flat = { shape: [24], data: x.data };
    expectClose(
      nb.cumsum(toNb(x)),
      alongAxis(
        flat,
        0,
        run((a, b) => a + b),
      ),
      1e-12,
      "cumsum flattened",
    );
    expectClose(
      nb.cumprod(toNb(x)),
      alongAxis(
        flat,
        0,
        run((a, b) => a * b),
      ),
      1e-12,
      "cumprod flattened",
    );
    // odd lengths and length 1 (the log-depth scan pads)
    expect(vals(nb.cumprod([2, 3, 4, 5, 6, 7, 8]))).toEqual([2, 6, 24, 120, 720, 5040, 40320]);
    expect(vals(nb.cumprod([5]))).toEqual([5]);
  });

  it("dtypes: int32 stays int32, bool counts as int32", () => {
    const c = nb.cumsum(i32([1, 2, 3]));
    expect(c.dtype).toBe("int32");
    expect(vals(c)).toEqual([1, 3, 6]);
    const b = nb.cumsum([true, false, true, true]);
    expect(b.dtype).toBe("int32");
    expect(vals(b)).toEqual([1, 1, 2, 3]);
    expect(vals(nb.cumprod(i32([2, -3, 4])))).toEqual([2, -6, -24]);
  });

  it("grad(sum ∘ cumsum) is the reversed running sum of the weights", () => {
    // f(x) = sum_k w_k sum_{i<=k} x_i: df/dx_j = sum_{k>=j} w_k
    const w = [1, -2, 0.5, 4];
    const g = nb.grad((v: A) => nb.sum(nb.mul(nb.cumsum(v), w)))(nb.array([0.1, 0.2, 0.3, 0.4])) as A;
    expect(vals(g)).toEqual([3.5, 2.5, 4.5, 4]);
  });

  it("grad(sum ∘ cumprod) is exact with zeros: [0, 2, 3] -> [1 + 2 + 6, 0, 0]", () => {
    // f = x0 + x0 x1 + x0 x1 x2: df/dx0 = 1 + x1 + x1 x2 = 9, df/dx1 = x0 + x0 x2 = 0, df/dx2 = x0 x1 = 0
    expect(vals(nb.grad((v: A) => nb.sum(nb.cumprod(v)))(nb.array([0, 2, 3])) as A)).toEqual([9, 0, 0]);
  });

  /** d/dx_j sum_k prod_{i<=k} x_i = sum_{k>=j} prod_{i<=k, i != j} x_i (no division: exact at zeros). */
  const gradSumCumprod = (x: number[]): number[] =>
    x.map((_, j) => {
      let s = 0;
      for (let k = j; k < x.length; k++) {
        let p = 1;
        for (let i = 0; i <= k; i++) if (i !== j) p *= x[i]!;
        s += p;
      }
      return s;
    });
  /** d²/dx_j dx_l of the same: sum_{k>=max(j,l)} prod_{i<=k, i not in {j,l}} x_i for j != l, 0 for j = l. */
  const hessSumCumprod = (x: number[]): number[] =>
    x.flatMap((_, j) =>
      x.map((__, l) => {
        if (j === l) return 0;
        let s = 0;
        for (let k = Math.max(j, l); k < x.length; k++) {
          let p = 1;
          for (let i = 0; i <= k; i++) if (i !== j && i !== l) p *= x[i]!;
          s += p;
        }
        return s;
      }),
    );

  it("gradient and Hessian of sum ∘ cumprod are exact with zeros anywhere (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 3 }), fc.double({ min: -2, max: 2, noNaN: true })),
          {
            minLength: 1,
            maxLength: 7,
          },
        ),
        (x) => {
          const f = (v: A): A => nb.sum(nb.cumprod(v));
          const g = nb.grad(f)(nb.array(Float64Array.from(x))) as A;
          expectClose(g, { shape: [x.length], data: gradSumCumprod(x) }, 1e-12, "grad of sum∘cumprod");
          const h = nb.hessian(f)(nb.array(Float64Array.from(x))) as A;
          expectClose(h, { shape: [x.length, x.length], data: hessSumCumprod(x) }, 1e-12, "hessian of sum∘cumprod");
        },
      ),
      { seed: fcSeed(202), numRuns: RUNS },
    );
    expect(vals(nb.grad((v: A) => nb.sum(nb.cumprod(v)))(nb.array([0, 2, 0, 3])) as A)).toEqual([3, 0, 0, 0]);
  });

  it("finite differences (order 2, fwd and rev), along axes, with a zero in the input", () => {
    const x = toNb(rand(r, [3, 4]));
    checkGrads((v: A) => nb.cumsum(v, 1), [x], grads2);
    checkGrads((v: A) => nb.mul(nb.cumsum(v, 0), nb.cos(v)), [x], grads2);
    checkGrads((v: A) => nb.cumprod(v, 1), [x], grads2);
    checkGrads(
      (v: A) => nb.cumprod(v, 0),
      [
        nb.array([
          [0.5, 0, -1.2],
          [2, 1.5, 0],
          [0, -0.7, 1.1],
        ]),
      ],
      grads2,
    );
  });
});

// ---------------------------------------------------------------------------
// flip, tile, pad

describe("flip", () => {
  const r = seeded(6, -2, 2);
  const x = rand(r, [2, 3, 2]);
  const flipRef = (axes: number[]): R =>
    build(x.shape, (o) =>
      at(
        x,
        o.map((v, k) => (axes.includes(k) ? x.shape[k]! - 1 - v : v)),
      ),
    );

  it("one axis (also negative), several axes, and all axes by default", () => {
    expectExact(nb.flip(toNb(x), 1), flipRef([1]), "flip axis 1");
    expectExact(nb.flip(toNb(x), -1), flipRef([2]), "flip axis -1");
    expectExact(nb.flip(toNb(x), [0, 2]), flipRef([0, 2]), "flip axes [0, 2]");
    expectExact(nb.flip(toNb(x)), flipRef([0, 1, 2]), "flip all");
    expect(() => nb.flip(toNb(x), 3)).toThrow(nb.ShapeError);
  });

  it("gradient: the flipped weights (closed form) and finite differences", () => {
    const w = rand(r, [2, 3, 2]);
    const g = nb.grad((v: A) => nb.sum(nb.mul(nb.flip(v, [0, 1]), toNb(w))))(toNb(x)) as A;
    expectExact(
      g,
      build(x.shape, (o) => at(w, [1 - o[0]!, 2 - o[1]!, o[2]!])),
      "flip gradient",
    );
    checkGrads((v: A) => nb.mul(nb.flip(v, 1), v), [toNb(x)], grads2);
  });
});

describe("tile", () => {
  const r = seeded(7, -2, 2);
  const x = rand(r, [2, 3]);
  /** NumPy tile: x is promoted to len(reps) dims (or reps to x's rank) by leading ones, then repeated. */
  function tileRef(a: R, reps: number[]): R {
    const nd = Math.max(a.shape.length, reps.length);
    const s = [...new Array<number>(nd - a.shape.length).fill(1), ...a.shape];
    const rr = [...new Array<number>(nd - reps.length).fill(1), ...reps];
    const lifted = { shape: s, data: a.data };
    return build(
      s.map((d, i) => d * rr[i]!),
      (o) =>
        at(
          lifted,
          o.map((v, i) => v % s[i]!),
        ),
    );
  }

  it("matches NumPy's tile for an integer, shorter, equal and longer reps", () => {
    for (const reps of [[2], [3, 1], [2, 2], [2, 1, 3], [1, 0]])
      expectExact(nb.tile(toNb(x), reps), tileRef(x, reps), `tile ${reps}`);
    expectExact(nb.tile(toNb(x), 2), tileRef(x, [2]), "tile 2");
    expect(vals(nb.tile([1, 2], 2))).toEqual([1, 2, 1, 2]);
    expect(() => nb.tile(toNb(x), [-1])).toThrow(nb.ShapeError);
  });

  it("gradient: the sum of the weights over the copies (closed form) and finite differences", () => {
    const w = rand(r, [4, 6]);
    const g = nb.grad((v: A) => nb.sum(nb.mul(nb.tile(v, [2, 2]), toNb(w))))(toNb(x)) as A;
    const want = build(
      [2, 3],
      ([i, j]) => at(w, [i!, j!]) + at(w, [i! + 2, j!]) + at(w, [i!, j! + 3]) + at(w, [i! + 2, j! + 3]),
    );
    expectClose(g, want, 1e-14, "tile gradient");
    checkGrads((v: A) => nb.tile(nb.sin(v), [2, 1, 2]), [toNb(x)], grads2);
  });
});

describe("pad", () => {
  const r = seeded(8, -2, 2);
  const x = rand(r, [2, 3]);
  function padRef(a: R, pairs: [number, number][], value: number): R {
    const shape = a.shape.map((d, i) => d + pairs[i]![0] + pairs[i]![1]);
    return build(shape, (o) => {
      const src = o.map((v, i) => v - pairs[i]![0]);
      return src.every((v, i) => v >= 0 && v < a.shape[i]!) ? at(a, src) : value;
    });
  }

  it("one width for every side, one [before, after] pair for every axis, a pair per axis, with a value", () => {
    expectExact(
      nb.pad(toNb(x), 1),
      padRef(
        x,
        [
          [1, 1],
          [1, 1],
        ],
        0,
      ),
      "pad 1",
    );
    expectExact(
      nb.pad(toNb(x), [2, 0]),
      padRef(
        x,
        [
          [2, 0],
          [2, 0],
        ],
        0,
      ),
      "pad [2, 0]",
    );
    expectExact(
      nb.pad(toNb(x), [
        [0, 1],
        [3, 2],
      ]),
      padRef(
        x,
        [
          [0, 1],
          [3, 2],
        ],
        0,
      ),
      "pad per axis",
    );
    expectExact(
      nb.pad(
        toNb(x),
        [
          [1, 0],
          [0, 2],
        ],
        { value: -7.5 },
      ),
      padRef(
        x,
        [
          [1, 0],
          [0, 2],
        ],
        -7.5,
      ),
      "pad with a value",
    );
    expect(vals(nb.pad([1, 2], 1))).toEqual([0, 1, 2, 0]);
    expect(() => nb.pad(toNb(x), [[1, 1]])).toThrow(nb.ShapeError);
    expect(() => nb.pad(toNb(x), -1)).toThrow(nb.ShapeError);
  });

  it("keeps the dtype (int32 with an int value)", () => {
    const p = nb.pad(i32([1, 2]), 1, { value: 9 });
    expect(p.dtype).toBe("int32");
    expect(vals(p)).toEqual([9, 1, 2, 9]);
  });

  it("gradient: the interior of the weights (the value gets none) and finite differences", () => {
    const w = rand(r, [5, 4]);
    const g = nb.grad((v: A) =>
      nb.sum(
        nb.mul(
          nb.pad(
            v,
            [
              [2, 1],
              [0, 1],
            ],
            { value: 3 },
          ),
          toNb(w),
        ),
      ),
    )(toNb(x)) as A;
    expectExact(
      g,
      build([2, 3], ([i, j]) => at(w, [i! + 2, j!])),
      "pad gradient",
    );
    checkGrads(
      (v: A) =>
        nb.pad(
          nb.mul(v, v),
          [
            [1, 2],
            [2, 0],
          ],
          { value: 0.5 },
        ),
      [toNb(x)],
      grads2,
    );
  });
});
