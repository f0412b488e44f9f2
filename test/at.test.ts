/**
 * at(x, ...indices).set/add/mul/min/max: against plain-JS loops (repeated,
 * negative and out-of-range indices, several index arrays broadcast together,
 * trailing axes), derivatives against finite differences and closed forms
 * (JAX's tie rule for min/max, overwritten updates get no gradient), vmap
 * over indices and values, jit, dtypes, errors; mul's higher derivatives at
 * zero updates against closed forms (exact: products of small integers) and
 * finite differences; get in each mode against loops. The combining-scatter
 * primitives' derivatives to order 3 (zero updates included for mul) and
 * batching law are in test/properties.
 *
 * Tolerances: the loops do the same float64 operations in the same order as
 * the kernels for set/min/max/mul (exact), and add sums at most 3 updates per
 * entry, possibly in another order: 1e-14 on O(1) values.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";

const vals = (x: nb.NDArray) => Array.from(x.toTypedArray() as ArrayLike<number>, Number);
const i32 = (v: number[]) => nb.array(Int32Array.from(v));
const f64 = (v: number[], shape = [v.length]) => nb.array(Float64Array.from(v), { shape });

function maxDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

const COMBINE = {
  set: (_a: number, b: number) => b,
  add: (a: number, b: number) => a + b,
  mul: (a: number, b: number) => a * b,
  min: Math.min,
  max: Math.max,
} as const;
type Op = keyof typeof COMBINE;
const OPS = Object.keys(COMBINE) as Op[];

/** x [n, r] with rows idx[j] combined with the rows of v [m, r] in order; out-of-range indices dropped. */
function rowsRef(x: number[], n: number, r: number, idx: number[], v: number[], op: Op): number[] {
  const out = x.slice();
  idx.forEach((k, j) => {
    const row = k < 0 ? k + n : k;
    if (row < 0 || row >= n) return;
    for (let q = 0; q < r; q++) out[row * r + q] = COMBINE[op](out[row * r + q]!, v[j * r + q]!);
  });
  return out;
}

describe("at: values", () => {
  const x = [0.5, -1, 2, 3, -0.25, 1.5, 4, -2];
  const idx = [1, -1, 1, 5, 3, -5, 0, 1]; // repeats (1 three times), negatives, out of range (5, -5)
  const v = [2, 3, -1, 7, 0.5, 9, 1.25, 4];
  it.each(OPS)("%s along axis 0 (repeated, negative and dropped indices)", (op) => {
    const got = nb.at(f64(x), i32(idx))[op](f64(v));
    expect(maxDiff(vals(got), rowsRef(x, 8, 1, idx, v, op))).toBeLessThan(1e-14);
  });

  it.each(OPS)("%s of rows with trailing axes, values broadcast", (op) => {
    const xm = [1, 2, 3, 4, 5, 6]; // [3, 2]
    const got = nb.at(f64(xm, [3, 2]), i32([2, 0, 2]))[op](f64([10, -10], [1, 2]));
    const want = rowsRef(xm, 3, 2, [2, 0, 2], [10, -10, 10, -10, 10, -10], op);
    expect(got.shape).toEqual([3, 2]);
    expect(maxDiff(vals(got), want)).toBeLessThan(1e-14);
  });

  it("several index arrays broadcast together address elements; a scalar index pair one element", () => {
    const m = nb.reshape(nb.arange(12), [3, 4]);
    // rows [[0], [2]] x cols [1, 3]: the four elements (0,1), (0,3), (2,1), (2,3)
    const got = nb.at(m, nb.array([[0], [2]], { dtype: "int32" }), i32([1, -1])).set(f64([-1, -2, -3, -4], [2, 2]));
    const want = Array.from({ length: 12 }, (_, i) => i);
    want[1] = -1;
    want[3] = -2;
    want[9] = -3;
    want[11] = -4;
    expect(vals(got)).toEqual(want);
    const one = nb.at(m, 1, 2).add(100);
    expect(vals(one)[6]).toBe(106);
    expect(vals(m)).toEqual(Array.from({ length: 12 }, (_, i) => i)); // the input is not mutated
  });

  it("set keeps the last of repeated updates; dtypes: int32 adds exactly, bool add is or", () => {
    expect(vals(nb.at(nb.zeros([2]), [0, 0, 0]).set([1, 2, 3]))).toEqual([3, 0]);
    const xi = nb.array([1, 2, 3], { dtype: "int32" });
    const ai = nb.at(xi, [0, 0]).add([5, 6]);
    expect(ai.dtype).toBe("int32");
    expect(vals(ai)).toEqual([12, 2, 3]);
    expect(vals(nb.at(xi, [2]).min(-7))).toEqual([1, 2, -7]);
    const b = nb.at(nb.array([false, false, true]), [1, 1]).add([true, false]);
    expect(b.dtype).toBe("bool");
    expect(vals(b)).toEqual([0, 1, 1]);
    // float values into an int32 array are cast to int32 (toward zero)
    expect(vals(nb.at(xi, [1]).set(2.7))).toEqual([1, 2, 3]);
  });
});

describe("at: derivatives", () => {
  const x = f64([0.3, -1.2, 2.1, 0.7]);
  const idx = i32([2, 0, 2, -1]);
  const v = f64([1.1, 0.4, -0.6, 1.9]); // all values of x and v distinct: no ties for min/max
  it.each(OPS)("%s: order 2 in both modes against finite differences (in x and in the values)", (op) => {
    checkGrads((a: nb.NDArray, b: nb.NDArray) => nb.at(a, idx)[op](b), [x, v], { order: 2 });
  });

  it("set: overwritten updates and overwritten entries of x get no gradient", () => {
    const [gx, gv] = nb.grad(
      (a: nb.NDArray, b: nb.NDArray) => nb.sum(nb.mul(nb.at(a, [0, 0, 2]).set(b), f64([1, 2, 3]))),
      {
        argnums: [0, 1],
      },
    )(f64([1, 1, 1]), f64([5, 6, 7])) as [nb.NDArray, nb.NDArray];
    expect(vals(gx)).toEqual([0, 2, 0]);
    expect(vals(gv)).toEqual([0, 1, 3]); // the second write to row 0 wins
  });

  it("max/min: tied entries share the derivative equally (JAX's rule)", () => {
    // row 0: x = 1 and both updates 1 tie (three ways); row 2: the update 9 wins alone
    const f = (a: nb.NDArray, b: nb.NDArray) => nb.sum(nb.at(a, [0, 0, 2]).max(b));
    const [gx, gv] = nb.grad(f, { argnums: [0, 1] })(f64([1, 5, 3]), f64([1, 1, 9])) as [nb.NDArray, nb.NDArray];
    expect(maxDiff(vals(gx), [1 / 3, 1, 0])).toBeLessThan(1e-15);
    expect(maxDiff(vals(gv), [1 / 3, 1 / 3, 1])).toBeLessThan(1e-15);
    const gm = nb.grad((b: nb.NDArray) => nb.sum(nb.at(f64([2, 0]), [0, 0]).min(b)))(f64([2, 3]));
    expect(vals(gm)).toEqual([0.5, 0]);
  });

  it("mul with repeated indices and a zero update: the first derivative is the exclusive product", () => {
    // out0 = x0 · v0 · v1 · v2 with v1 = 0: d/dv1 = x0 · v0 · v2, d/dv0 = d/dv2 = 0
    const g = nb.grad((b: nb.NDArray) => nb.sum(nb.at(f64([2, 1]), [0, 0, 0]).mul(b)))(f64([3, 0, 5]));
    expect(vals(g)).toEqual([0, 30, 0]);
  });
});

describe("at: mul at zero updates, every order", () => {
  // f(v) = Σ at(x, [0, 0, 0]).mul(v) = x0·v0·v1·v2 + x1 is multilinear in v: ∂²f/∂vi∂vj = x0·v_k
  // ({i, j, k} = {0, 1, 2}), diagonal 0, and ∂³f/∂v0∂v1∂v2 = x0, whatever the zeros among v. All of these
  // are products of at most two of the (integer) values 2, 3, 5: exact in float64, so compared exactly.
  const x = f64([2, 1]);
  const f = (b: nb.NDArray) => nb.sum(nb.at(x, [0, 0, 0]).mul(b));
  const closedHessian = ([a, b, c]: number[]) => [0, 2 * c!, 2 * b!, 2 * c!, 0, 2 * a!, 2 * b!, 2 * a!, 0];
  const closedThird = (i: number, j: number, k: number) => (new Set([i, j, k]).size === 3 ? 2 : 0);
  const third = Array.from({ length: 27 }, (_, n) => closedThird(Math.floor(n / 9), Math.floor(n / 3) % 3, n % 3));
  const hessians = {
    "jacfwd(jacrev)": nb.hessian(f),
    "jacrev(jacrev)": nb.jacrev(nb.jacrev(f)),
    "jacfwd(jacfwd)": nb.jacfwd(nb.jacfwd(f)),
    "jacrev(jacfwd)": nb.jacrev(nb.jacfwd(f)),
  };
  it.each([[[3, 0, 5]], [[0, 0, 5]], [[0, 0, 0]], [[3, 4, 5]]])("second and third derivatives at v = %j", (v) => {
    for (const [name, h] of Object.entries(hessians)) {
      expect([name, vals(h(f64(v)) as nb.NDArray)]).toEqual([name, closedHessian(v)]);
      expect([name, vals(nb.jacfwd(h)(f64(v)) as nb.NDArray)]).toEqual([name, third]);
      expect([name, vals(nb.jacrev(h)(f64(v)) as nb.NDArray)]).toEqual([name, third]);
    }
  });

  it("mixed derivatives in x and the values at a zero update", () => {
    // g(a, b) = Σ at(a, [0, 0, 0]).mul(b): ∂²g/∂a0∂b = (b1·b2, b0·b2, b0·b1), zero on a1
    const g = (a: nb.NDArray, b: nb.NDArray) => nb.sum(nb.at(a, [0, 0, 0]).mul(b));
    const gb = (a: nb.NDArray, b: nb.NDArray) => nb.grad(g, { argnums: 1 })(a, b) as nb.NDArray;
    const mixed = nb.jacfwd(gb, { argnums: 0 })(x, f64([3, 0, 5])) as nb.NDArray;
    expect(mixed.shape).toEqual([3, 2]);
    expect(vals(mixed)).toEqual([0, 0, 15, 0, 0, 0]);
  });

  // Multilinear in each update, so central differences are exact up to rounding at any point, zeros
  // included: rows [M=3, 2]; indices repeat, -1 and 2 address the same row, several zero updates in one
  // row and across rows. checkGrads' own float64 tolerances apply.
  it("order 3 in both modes against finite differences, zero updates in repeated and wrapped rows", () => {
    const idx = i32([2, -1, 0, 2, 1, 0, -3]);
    const xs = f64([0.7, -1.1, 1.3, 0.4, -0.9, 2.0], [3, 2]);
    const vs = f64([0, 1.2, -0.8, 0, 1.5, 0, 0.6, 0, 0, 0, 1.1, -1.4, 0, 0.9], [7, 2]);
    checkGrads((a: nb.NDArray, b: nb.NDArray) => nb.at(a, idx).mul(b), [xs, vs], { order: 3 });
  });

  it("under vmap and jit the second derivative is the same closed form", () => {
    const vs = f64([3, 0, 5, 0, 0, 5], [2, 3]);
    const batched = nb.vmap(nb.jit(nb.hessian(f)))(vs) as nb.NDArray;
    expect(vals(batched)).toEqual([...closedHessian([3, 0, 5]), ...closedHessian([0, 0, 5])]);
  });

  it("prod and cumprod: gradient and Hessian at zeros (closed forms)", () => {
    // prod(v) = v0·v1·v2 at [0, 2, 3]: grad [6, 0, 0], Hessian ∂²/∂vi∂vj = v_k: [[0,3,2],[3,0,0],[2,0,0]]
    expect(vals(nb.grad((v: nb.NDArray) => nb.prod(v))(f64([0, 2, 3])))).toEqual([6, 0, 0]);
    expect(vals(nb.hessian((v: nb.NDArray) => nb.prod(v))(f64([0, 2, 3])) as nb.NDArray)).toEqual([
      0, 3, 2, 3, 0, 0, 2, 0, 0,
    ]);
    // Σ cumprod(v) = v0 + v0·v1 + v0·v1·v2 at [2, 0, 3]: grad [1 + v1 + v1·v2, v0 + v0·v2, v0·v1] = [1, 8, 0]
    expect(vals(nb.grad((v: nb.NDArray) => nb.sum(nb.cumprod(v)))(f64([2, 0, 3])))).toEqual([1, 8, 0]);
    // Hessian: ∂²/∂v0∂v1 = 1 + v2 = 4, ∂²/∂v0∂v2 = v1 = 0, ∂²/∂v1∂v2 = v0 = 2
    expect(vals(nb.hessian((v: nb.NDArray) => nb.sum(nb.cumprod(v)))(f64([2, 0, 3])) as nb.NDArray)).toEqual([
      0, 4, 0, 4, 0, 2, 0, 2, 0,
    ]);
  });
});

describe("at: get", () => {
  // x [4, 3] with x[r, c] = 10·r + c; the reference reads by explicit loops
  const xm = nb.array(
    Float64Array.from({ length: 12 }, (_, n) => 10 * Math.floor(n / 3) + (n % 3)),
    { shape: [4, 3] },
  );
  const ref = (r: number, c: number) => 10 * r + c;
  const reduce = (i: number, n: number, mode: "fill" | "clip" | "wrap"): number | null => {
    if (mode === "wrap") return ((i % n) + n) % n;
    const j = i < 0 ? i + n : i;
    if (mode === "clip") return Math.min(Math.max(j, 0), n - 1);
    return j >= 0 && j < n ? j : null;
  };
  const rows = [0, -1, 3, 4, -5, 9, 2];
  it.each(["fill", "clip", "wrap"] as const)("rows of a matrix, mode %s, against a loop", (mode) => {
    const got = nb.at(xm, i32(rows)).get({ mode });
    expect(got.shape).toEqual([7, 3]);
    const want = rows.flatMap((i) =>
      [0, 1, 2].map((c) => (reduce(i, 4, mode) === null ? NaN : ref(reduce(i, 4, mode)!, c))),
    );
    expect(vals(got)).toEqual(want);
  });

  it.each(["fill", "clip", "wrap"] as const)("two index arrays broadcast together, mode %s", (mode) => {
    const r = nb.array([[0], [-2], [7]], { dtype: "int32" }); // [3, 1]
    const c = i32([2, -1, 3, -4]); // [4]
    const got = nb.at(xm, r, c).get({ mode });
    expect(got.shape).toEqual([3, 4]);
    const want = [0, -2, 7].flatMap((i) =>
      [2, -1, 3, -4].map((j) => {
        const a = reduce(i, 4, mode);
        const b = reduce(j, 3, mode);
        return a === null || b === null ? NaN : ref(a, b);
      }),
    );
    expect(vals(got)).toEqual(want);
  });

  it("fill values: the dtype's default, or fillValue; int32 and bool", () => {
    expect(vals(nb.at(f64([1, 2]), [0, 2]).get({ fillValue: -7 }))).toEqual([1, -7]);
    const xi = nb.array([4, 5], { dtype: "int32" });
    const gi = nb.at(xi, [1, 2]).get();
    expect(gi.dtype).toBe("int32");
    expect(vals(gi)).toEqual([5, -(2 ** 31)]);
    expect(vals(nb.at(nb.array([false, false]), [0, -3]).get())).toEqual([0, 1]);
    expect(vals(nb.at(nb.zeros([0, 2]), [0]).get())).toEqual([NaN, NaN]);
    expect(nb.at(xm, i32([])).get().shape).toEqual([0, 3]);
  });

  it("derivative: repeated indices accumulate, filled entries get none; order 2 against finite differences", () => {
    // Σ_j w_j · x[idx_j] has gradient Σ_{j: idx_j = i} w_j at x_i; index 5 is filled (NaN · 0 is avoided
    // by reading it with fillValue 0), so it contributes nothing
    const w = f64([1, 2, 4, 8]);
    const g = nb.grad((a: nb.NDArray) => nb.sum(nb.mul(nb.at(a, [1, 1, -1, 5]).get({ fillValue: 0 }), w)))(
      f64([0.5, -1, 2]),
    );
    expect(vals(g)).toEqual([0, 3, 4]);
    checkGrads((a: nb.NDArray) => nb.at(a, i32([2, 0, 2]), i32([1, -1, 0])).get(), [xm], { order: 2 });
    checkGrads((a: nb.NDArray) => nb.at(a, i32([3, -9, 8])).get({ mode: "wrap" }), [xm], { order: 2 });
  });

  it("vmap over the indices and over x equals a loop; jit equals eager", () => {
    const idx = nb.array(
      [
        [0, 3],
        [-1, 9],
      ],
      { dtype: "int32" },
    );
    for (const mode of ["fill", "clip", "wrap"] as const) {
      const f = (i: nb.NDArray) => nb.at(xm, i).get({ mode });
      const batched = vals(nb.vmap(f)(idx) as nb.NDArray);
      const loop = [0, 1].flatMap((k) => vals(f(nb.take(idx, nb.array(k, { dtype: "int32" }), 0))));
      expect(batched).toEqual(loop);
      expect(vals(nb.jit(f)(i32([2, -7])))).toEqual(vals(f(i32([2, -7]))));
      const byX = vals(nb.vmap((a: nb.NDArray) => nb.at(a, i32([1, 5])).get({ mode }))(xm) as nb.NDArray);
      const loopX = [0, 1, 2, 3].flatMap((r) =>
        vals(nb.at(nb.take(xm, nb.array(r, { dtype: "int32" }), 0), i32([1, 5])).get({ mode })),
      );
      expect(byX).toEqual(loopX);
    }
  });

  it.each([
    [
      "an unknown mode",
      () => nb.at(xm, [0]).get({ mode: "drop" as "fill" }),
      /^at\.get: mode must be "fill", "clip" or "wrap"/,
    ],
    ["an unknown option", () => nb.at(xm, [0]).get({ fill: 0 } as never), /^at\.get: unknown option "fill"/],
    [
      "a fill value that is not a number",
      () => nb.at(xm, [0]).get({ fillValue: "0" as never }),
      /^at\.get: fillValue must be/,
    ],
    [
      "a fill value with mode clip",
      () => nb.at(xm, [0]).get({ mode: "clip", fillValue: 0 }),
      /^at\.get: fillValue applies to mode "fill" only/,
    ],
    [
      "clip into an empty axis",
      () => nb.at(nb.zeros([0]), [0]).get({ mode: "clip" }),
      /^at\.get: cannot clip indices into x of shape \[0\]/,
    ],
  ] as const)("%s throws", (_name, f, msg) => {
    expect(f).toThrow(nb.NablaError);
    expect(f).toThrow(msg);
  });
});

describe("at: transforms and errors", () => {
  it("vmap over indices and values equals a loop; jit equals eager", () => {
    const x = f64([1, 2, 3]);
    const idx = nb.array(
      [
        [0, 2],
        [1, 1],
      ],
      { dtype: "int32" },
    );
    const v = f64([10, 20, 30, 40], [2, 2]);
    for (const op of OPS) {
      const f = (i: nb.NDArray, b: nb.NDArray) => nb.at(x, i)[op](b);
      const batched = vals(nb.vmap(f)(idx, v) as nb.NDArray);
      const loop = [0, 1].flatMap((k) =>
        vals(f(nb.take(idx, nb.array(k, { dtype: "int32" }), 0), nb.take(v, nb.array(k, { dtype: "int32" }), 0))),
      );
      expect(batched).toEqual(loop);
      expect(vals(nb.jit(f)(i32([2, 2]), f64([5, 6])))).toEqual(vals(f(i32([2, 2]), f64([5, 6]))));
    }
  });

  it.each([
    ["no index", () => nb.at(nb.zeros([2])), nb.NablaError, /^at: give at least one index/],
    [
      "too many index arrays",
      () => nb.at(nb.zeros([2]), 0, 0),
      nb.ShapeError,
      /^at: 2 index arrays for x of shape \[2\]/,
    ],
    ["non-integer indices", () => nb.at(nb.zeros([2]), [0.5]), nb.DTypeError, /^at: /],
    ["indices that do not broadcast", () => nb.at(nb.zeros([3, 3]), [0, 1], [0, 1, 2]), nb.ShapeError, /^at: /],
    [
      "values of the wrong shape",
      () => nb.at(nb.zeros([3]), [0, 1]).set([1, 2, 3]),
      nb.ShapeError,
      /^at\.set: shapes \[3\] and \[2\]/,
    ],
    [
      "values of more dimensions than the indexed shape",
      () => nb.at(nb.zeros([3]), [0, 1]).mul(nb.ones([2, 2])),
      nb.ShapeError,
      /^at\.mul: values of shape \[2,2\] do not broadcast to the indexed shape \[2\]/,
    ],
    [
      "values that are not arrays",
      () => nb.at(nb.zeros([3]), [0]).add("a" as unknown as number),
      nb.NablaError,
      /^at\.add: /,
    ],
  ] as const)("%s", (_name, f, cls, msg) => {
    expect(f).toThrow(cls);
    expect(f).toThrow(msg);
  });
});
