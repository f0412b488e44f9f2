/**
 * The composed operations of issue 9, part A: std/var, isnan/isinf/isfinite,
 * nanToNum, isclose/allclose, tril/triu, split, roll, repeat, meshgrid.
 *
 * Values are compared with plain-JS references of the NumPy semantics written
 * here (no nabla code). Data movement (tril, split, roll, repeat, meshgrid)
 * is compared exactly. std/var of O(1) numbers: a few roundings per element,
 * 1e-14 relative. Derivatives: closed forms (d var / dx = 2 (x - mean) /
 * (n - ddof)) at 1e-14, and checkGrads (central differences with its float64
 * defaults h = 1e-5, atol = rtol = 1e-6; order 3, forward and reverse, which
 * includes the adjoint identity for reverse mode). The linear ops have zero
 * second and third derivatives, which the order-3 check also verifies. vmap
 * against a loop over slices and jit against eager are compared exactly
 * (same kernels on the same numbers).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";

type A = nb.NDArray;
const vals = (x: A): number[] => Array.from(x.toTypedArray() as ArrayLike<number>, Number);
const order3 = { order: 3, modes: ["fwd", "rev"] as ("fwd" | "rev")[] };

/** Seeded values (mulberry32) in [lo, hi). */
function rand(n: number, seed: number, lo = -2, hi = 2): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push(lo + ((hi - lo) * ((t ^ (t >>> 14)) >>> 0)) / 4294967296);
  }
  return out;
}
const arr = (shape: number[], seed: number): A =>
  nb.array(
    Float64Array.from(
      rand(
        shape.reduce((p, d) => p * d, 1),
        seed,
      ),
    ),
    { shape },
  );

/** vmap(f) over axis 0 equals f applied to each slice and stacked; jit(f) equals f. */
function expectBatchesAndJits(f: (x: A) => A, x: A): void {
  const eager = f(x);
  expect(vals(nb.jit(f)(x))).toEqual(vals(eager));
  const xs = nb.stack([x, nb.mul(x, 2), nb.neg(x)]);
  const batched = nb.vmap(f)(xs);
  const loop = [0, 1, 2].map((i) => vals(f(nb.reshape(nb.slice(xs, [i], [i + 1]), x.shape))));
  expect(batched.shape).toEqual([3, ...eager.shape]);
  expect(vals(batched)).toEqual(loop.flat());
}

describe("var and std", () => {
  /** Plain-JS two-pass variance of the lists. */
  const varRef = (xs: number[], ddof: number): number => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - ddof);
  };

  it("values over all axes, one axis, keepdims, ddof (1e-14 relative)", () => {
    const x = arr([3, 4], 1);
    const d = vals(x);
    const close = (got: number[], want: number[]) =>
      want.forEach((w, i) => expect(Math.abs(got[i]! - w)).toBeLessThanOrEqual(1e-14 * Math.abs(w)));
    close(vals(nb.var(x)), [varRef(d, 0)]);
    close(vals(nb.std(x, null, false, 1)), [Math.sqrt(varRef(d, 1))]);
    const cols = [0, 1, 2, 3].map((j) => [0, 1, 2].map((i) => d[i * 4 + j]!));
    close(
      vals(nb.var(x, 0)),
      cols.map((c) => varRef(c, 0)),
    );
    const v = nb.var(x, -1, true, 1);
    expect(v.shape).toEqual([3, 1]);
    close(
      vals(v),
      [0, 1, 2].map((i) => varRef(d.slice(i * 4, i * 4 + 4), 1)),
    );
    expect(vals(x.std(1))).toEqual(vals(nb.std(x, 1)));
    expect(vals(nb.var([1, 2, 3, 4]))).toEqual([1.25]);
    // int32 input computes in float64
    expect(nb.var(nb.array([1, 2, 3, 4], { dtype: "int32" })).dtype).toBe("float64");
    // float32 stays float32
    expect(nb.std(nb.array(Float32Array.from([1, 2, 3]))).dtype).toBe("float32");
    // n - ddof <= 0: inf or NaN, as NumPy
    expect(vals(nb.var([1, 2], null, false, 2))).toEqual([Infinity]);
  });

  it("two passes: no cancellation when the mean is large (E[x²] - E[x]² would give 0 or garbage)", () => {
    const big = [1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4];
    // the deviations are exact integers, so the exact answer 1.25 is what a two-pass variance gives
    expect(vals(nb.var(big))).toEqual([1.25]);
    expect(vals(nb.std([1e15, 1e15 + 2]))).toEqual([1]);
  });

  it("gradient in closed form: d var / dx_i = 2 (x_i - mean) / (n - ddof) (1e-14)", () => {
    const x = arr([5], 2);
    const d = vals(x);
    const m = d.reduce((a, b) => a + b, 0) / 5;
    for (const ddof of [0, 1]) {
      const g = vals(nb.grad((s: A) => nb.var(s, null, false, ddof))(x));
      g.forEach((v, i) => expect(Math.abs(v - (2 * (d[i]! - m)) / (5 - ddof))).toBeLessThanOrEqual(1e-14));
    }
  });

  it("central differences to order 3, both modes, over axes and keepdims", () => {
    const x = arr([2, 3], 3);
    checkGrads((s: A) => nb.var(s), [x], order3);
    checkGrads((s: A) => nb.var(s, 1, true, 1), [x], order3);
    checkGrads((s: A) => nb.std(s, 0), [x], order3);
  });

  it("under vmap and jit", () => {
    expectBatchesAndJits((s) => nb.var(s, 0), arr([3, 2], 4));
    expectBatchesAndJits((s) => nb.std(s, null, true, 1), arr([3, 2], 5));
  });
});

describe("isnan, isinf, isfinite, nanToNum", () => {
  const x = nb.array([1, NaN, Infinity, -Infinity, -0, 3]);
  it("classify each value (bool), and integers are always finite", () => {
    expect(vals(nb.isnan(x))).toEqual([0, 1, 0, 0, 0, 0]);
    expect(vals(nb.isinf(x))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(vals(nb.isfinite(x))).toEqual([1, 0, 0, 0, 1, 1]);
    for (const f of [nb.isnan, nb.isinf, nb.isfinite]) expect(f(x).dtype).toBe("bool");
    const i = nb.array([1, 2], { dtype: "int32" });
    expect(vals(nb.isnan(i))).toEqual([0, 0]);
    expect(vals(nb.isinf(i))).toEqual([0, 0]);
    expect(vals(nb.isfinite(i))).toEqual([1, 1]);
    expect(vals(nb.isfinite(nb.array(Float32Array.from([Infinity, 1]))))).toEqual([0, 1]);
  });
  it("nanToNum: defaults (0, ±largest finite of the dtype) and options", () => {
    expect(vals(nb.nanToNum(x))).toEqual([1, 0, Number.MAX_VALUE, -Number.MAX_VALUE, -0, 3]);
    expect(vals(nb.nanToNum(x, { nan: -1, posinf: 9, neginf: -9 }))).toEqual([1, -1, 9, -9, -0, 3]);
    const f32 = nb.nanToNum(nb.array(Float32Array.from([Infinity])));
    expect(f32.dtype).toBe("float32");
    expect(vals(f32)).toEqual([3.4028234663852886e38]);
    // the input is not mutated
    expect(vals(x)).toEqual([1, NaN, Infinity, -Infinity, -0, 3]);
  });
  it("nanToNum's derivative: 1 at finite entries, 0 at replaced ones", () => {
    expect(vals(nb.grad((s: A) => nb.sum(nb.mul(nb.nanToNum(s), 2)))(x))).toEqual([2, 0, 0, 0, 2, 2]);
  });
  it("under vmap and jit", () => {
    const y = nb.array([
      [1, NaN, Infinity],
      [-Infinity, 2, NaN],
    ]);
    for (const f of [nb.isnan, nb.isinf, nb.isfinite, (s: A) => nb.nanToNum(s, { posinf: 5 })])
      expectBatchesAndJits(f, y);
  });
});

describe("isclose and allclose", () => {
  it("NumPy's test |a - b| <= atol + rtol |b|, infinities, NaN", () => {
    const a = [1, 1.1, 1e-9, Infinity, -Infinity, Infinity, NaN, 100];
    const b = [1 + 1e-9, 1, 0, Infinity, -Infinity, -Infinity, NaN, 100.001];
    // plain-JS NumPy semantics
    const ref = a.map((ai, i) => {
      const bi = b[i]!;
      if (Number.isFinite(ai) && Number.isFinite(bi)) return Math.abs(ai - bi) <= 1e-8 + 1e-5 * Math.abs(bi) ? 1 : 0;
      return ai === bi ? 1 : 0;
    });
    expect(vals(nb.isclose(a, b))).toEqual(ref);
    expect(vals(nb.isclose(a, b, { equalNan: true }))).toEqual(ref.map((v, i) => (i === 6 ? 1 : v)));
    expect(vals(nb.isclose(1, 1.5, { rtol: 0, atol: 0.5 }))).toEqual([1]);
    expect(vals(nb.isclose(1, 1.5, { rtol: 0, atol: 0.49 }))).toEqual([0]);
    // broadcasting, ints
    expect(nb.isclose([[1, 2]], nb.array([1, 3], { dtype: "int32" })).shape).toEqual([1, 2]);
  });
  it("allclose is a 0-d bool array (as jnp.allclose), usable under jit", () => {
    const r = nb.allclose([1, 2], [1, 2 + 1e-9]);
    expect(r.shape).toEqual([]);
    expect(r.dtype).toBe("bool");
    expect(r.item()).toBe(1);
    expect(nb.allclose([1, 2], [1, 2.1]).item()).toBe(0);
    expect(nb.allclose([NaN], [NaN]).item()).toBe(0);
    expect(nb.allclose([NaN], [NaN], { equalNan: true }).item()).toBe(1);
    expect(
      nb
        .jit((p: A, q: A) => nb.allclose(p, q))(nb.array([1, 2]), nb.array([1, 2]))
        .item(),
    ).toBe(1);
    expect(
      vals(
        nb.vmap((p: A) => nb.allclose(p, [1, 2]))(
          nb.array([
            [1, 2],
            [1, 3],
          ]),
        ),
      ),
    ).toEqual([1, 0]);
  });
});

describe("tril and triu", () => {
  const x = arr([2, 3, 4], 6);
  const d = vals(x);
  const ref = (k: number, lower: boolean) =>
    d.map((v, f) => {
      const i = Math.floor(f / 4) % 3;
      const j = f % 4;
      return (lower ? j - i <= k : j - i >= k) ? v : 0;
    });
  it("keep j - i <= k (tril) / >= k (triu) on the last two axes", () => {
    for (const k of [-3, -1, 0, 1, 2, 5]) {
      expect(vals(nb.tril(x, k))).toEqual(ref(k, true));
      expect(vals(nb.triu(x, k))).toEqual(ref(k, false));
    }
    expect(
      nb.tril(
        nb.array([
          [true, true],
          [true, true],
        ]),
      ).dtype,
    ).toBe("bool");
    expect(() => nb.tril([1, 2])).toThrow(nb.ShapeError);
  });
  it("derivatives (order 3), vmap and jit", () => {
    checkGrads((s: A) => nb.tril(s, 1), [arr([3, 3], 7)], order3);
    checkGrads((s: A) => nb.triu(s, -1), [arr([2, 3], 8)], order3);
    expectBatchesAndJits((s) => nb.tril(s), arr([3, 3], 9));
    expectBatchesAndJits((s) => nb.triu(s, 1), arr([2, 3, 3], 10));
  });
});

describe("split", () => {
  const x = arr([6, 2], 11);
  const d = vals(x);
  const rows = (lo: number, hi: number) => d.slice(lo * 2, hi * 2);
  it("into equal sections or at indices (clamped, negative from the end), along any axis", () => {
    expect(nb.split(x, 3).map(vals)).toEqual([rows(0, 2), rows(2, 4), rows(4, 6)]);
    expect(nb.split(x, [1, 4]).map(vals)).toEqual([rows(0, 1), rows(1, 4), rows(4, 6)]);
    expect(nb.split(x, [-2, 10]).map(vals)).toEqual([rows(0, 4), rows(4, 6), []]);
    // decreasing indices: NumPy takes x[0:4], x[4:2] (empty) and x[2:6]
    expect(nb.split(x, [4, 2]).map(vals)).toEqual([rows(0, 4), [], rows(2, 6)]);
    expect(nb.split(x, 2, 1).map(vals)).toEqual([d.filter((_, i) => i % 2 === 0), d.filter((_, i) => i % 2 === 1)]);
    expect(() => nb.split(x, 4)).toThrow(nb.ShapeError);
  });
  it("derivatives (order 3), vmap and jit", () => {
    checkGrads((s: A) => nb.split(s, [1, 3]), [arr([4, 2], 12)], order3);
    expectBatchesAndJits((s) => nb.split(s, 2, 1)[1]!, arr([3, 4], 13));
  });
});

describe("roll", () => {
  const x = arr([3, 4], 14);
  const d = vals(x);
  const at = (i: number, j: number) => d[(((i % 3) + 3) % 3) * 4 + (((j % 4) + 4) % 4)]!;
  it("flattened, one axis, tuples of shifts and axes, repeated axes add", () => {
    expect(vals(nb.roll([1, 2, 3, 4], 1))).toEqual([4, 1, 2, 3]);
    expect(vals(nb.roll([1, 2, 3, 4], -5))).toEqual([2, 3, 4, 1]);
    const flat = vals(nb.roll(x, 5));
    expect(flat).toEqual(d.map((_, f) => d[(((f - 5) % 12) + 12) % 12]!));
    const grid = (f: (i: number, j: number) => number) => [0, 1, 2].flatMap((i) => [0, 1, 2, 3].map((j) => f(i, j)));
    expect(vals(nb.roll(x, 1, 0))).toEqual(grid((i, j) => at(i - 1, j)));
    expect(vals(nb.roll(x, [1, -2], [0, 1]))).toEqual(grid((i, j) => at(i - 1, j + 2)));
    expect(vals(nb.roll(x, 2, [0, 1]))).toEqual(grid((i, j) => at(i - 2, j - 2)));
    expect(vals(nb.roll(x, [1, 1], [1, 1]))).toEqual(grid((i, j) => at(i, j - 2)));
    expect(() => nb.roll(x, [1, 2], [0, 1, 0])).toThrow(nb.ShapeError);
  });
  it("derivatives (order 3), vmap and jit", () => {
    checkGrads((s: A) => nb.roll(s, [1, 2], [0, 1]), [arr([2, 3], 15)], order3);
    expectBatchesAndJits((s) => nb.roll(s, 1), arr([2, 3], 16));
    expectBatchesAndJits((s) => nb.roll(s, -1, 1), arr([2, 3], 17));
  });
});

describe("repeat", () => {
  it("each element, flattened or along an axis, with one count or a count per element", () => {
    expect(vals(nb.repeat([1, 2], 2))).toEqual([1, 1, 2, 2]);
    expect(
      vals(
        nb.repeat(
          [
            [1, 2],
            [3, 4],
          ],
          2,
        ),
      ),
    ).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    const r = nb.repeat(
      [
        [1, 2],
        [3, 4],
      ],
      [1, 2],
      0,
    );
    expect(r.shape).toEqual([3, 2]);
    expect(vals(r)).toEqual([1, 2, 3, 4, 3, 4]);
    expect(
      vals(
        nb.repeat(
          [
            [1, 2],
            [3, 4],
          ],
          [0, 3],
          -1,
        ),
      ),
    ).toEqual([2, 2, 2, 4, 4, 4]);
    expect(vals(nb.array([5]).repeat(3))).toEqual([5, 5, 5]);
    expect(nb.repeat([1, 2], 0).shape).toEqual([0]);
    expect(() => nb.repeat([1, 2], [1, 2, 3])).toThrow(nb.ShapeError);
  });
  it("its gradient sums the copies (closed form), order 3, vmap and jit", () => {
    const g = nb.grad((s: A) => nb.sum(nb.mul(nb.repeat(s, [1, 3], 0), nb.array([[1], [2], [3], [4]]))))(
      nb.array([
        [1, 1],
        [1, 1],
      ]),
    );
    expect(vals(g)).toEqual([1, 1, 9, 9]);
    checkGrads((s: A) => nb.repeat(s, [2, 0, 1], 1), [arr([2, 3], 18)], order3);
    expectBatchesAndJits((s) => nb.repeat(s, 2, 0), arr([2, 3], 19));
  });
});

describe("roll, split, repeat with array arguments (JAX's traced shift and counts)", () => {
  const i32 = (v: number | number[]) => nb.array(v, { dtype: "int32" });
  const x = arr([3, 4], 20);
  const d = vals(x);
  // the reference: out[i, j] = x[(i - s0) mod 3, (j - s1) mod 4], written here
  const rolled = (s0: number, s1: number) =>
    [0, 1, 2].flatMap((i) => [0, 1, 2, 3].map((j) => d[((((i - s0) % 3) + 3) % 3) * 4 + ((((j - s1) % 4) + 4) % 4)]!));
  it("roll by a traced shift under jit: one axis, several, repeated, flattened; equals the reference", () => {
    const one = nb.jit((a: A, s: A) => nb.roll(a, s, 1));
    const two = nb.jit((a: A, s: A) => nb.roll(a, s, [0, 1]));
    const same = nb.jit((a: A, s: A) => nb.roll(a, s, [1, 1]));
    const flat = nb.jit((a: A, s: A) => nb.roll(a, s));
    for (const s of [0, 1, 3, 4, -1, -9, 2 ** 31 - 1, -(2 ** 31)]) {
      expect(vals(one(x, i32(s)))).toEqual(rolled(0, s));
      expect(vals(two(x, i32([s, -1 - s])))).toEqual(rolled(s, -1 - s));
      expect(vals(same(x, i32([s, 2 ** 31 - 1])))).toEqual(rolled(0, (s % 4) + ((2 ** 31 - 1) % 4)));
      expect(vals(flat(x, i32(s)))).toEqual(d.map((_, f) => d[(((f - s) % 12) + 12) % 12]!));
    }
    // a concrete int32 array is a static shift
    expect(vals(nb.roll(x, i32([1, -2]), [0, 1]))).toEqual(rolled(1, -2));
  });

  it("roll: vmap over shifts equals a loop; derivatives in x with a traced shift (order 3)", () => {
    const shifts = i32([0, 2, -1, 7]);
    const batched = nb.vmap((s: A) => nb.roll(x, s, 1))(shifts) as A;
    expect(vals(batched)).toEqual([0, 2, -1, 7].flatMap((s) => rolled(0, s)));
    const both = nb.vmap((a: A, s: A) => nb.roll(a, s, 0))(nb.stack([x, nb.neg(x)]), i32([1, 2])) as A;
    expect(vals(both)).toEqual([...rolled(1, 0), ...rolled(2, 0).map((v) => -v)]);
    const f = nb.jit((a: A, s: A) => nb.roll(a, s, [0, 1]));
    checkGrads((a: A) => f(a, i32([1, -3])), [arr([2, 3], 21)], order3);
  });

  it("split and repeat take concrete int32 arrays; traced ones throw TracerError naming the function", () => {
    expect(nb.split(x, i32([1, -1]), 1).map(vals)).toEqual(nb.split(x, [1, -1], 1).map(vals));
    expect(nb.split(x, i32(3)).map(vals)).toEqual(nb.split(x, 3).map(vals));
    expect(vals(nb.repeat(x, i32([2, 0, 1]), 0))).toEqual(vals(nb.repeat(x, [2, 0, 1], 0)));
    expect(() => nb.jit((a: A, s: A) => nb.split(a, s)[0]!)(x, i32([1]))).toThrow(nb.TracerError);
    expect(() => nb.jit((a: A, s: A) => nb.split(a, s)[0]!)(x, i32([1]))).toThrow(/^split: sections must be concrete/);
    expect(() => nb.jit((a: A, r: A) => nb.repeat(a, r, 0))(x, i32([1, 1, 1]))).toThrow(
      /^repeat: repeats is a traced int32 array of shape \[3\]: give options\.totalRepeatLength/,
    );
  });

  // the reference: row i copied c_i times, then cut to T or padded with the last row (JAX's total_repeat_length)
  const repeatedRows = (counts: number[], T: number) => {
    const idx = counts.flatMap((c, i) => Array.from({ length: Math.max(c, 0) }, () => i)).slice(0, T);
    while (idx.length < T) idx.push(2);
    return idx.flatMap((i) => d.slice(i * 4, i * 4 + 4));
  };
  it("repeat with totalRepeatLength: static and traced counts cut or pad to it", () => {
    const traced = (T: number) => nb.jit((a: A, r: A) => nb.repeat(a, r, 0, { totalRepeatLength: T }));
    for (const [counts, T] of [
      [[1, 2, 3], 6],
      [[1, 2, 3], 4],
      [[0, 0, 1], 5],
      [[2, 0, 0], 2],
      [[0, 0, 0], 3],
      [[1, 1, 1], 0],
    ] as [number[], number][]) {
      const want = repeatedRows(counts, T);
      expect(vals(nb.repeat(x, counts, 0, { totalRepeatLength: T }))).toEqual(want);
      const got = traced(T)(x, i32(counts));
      expect(got.shape).toEqual([T, 4]);
      expect(vals(got)).toEqual(want);
    }
    // one traced count for every element
    expect(vals(traced(4)(x, i32(2)))).toEqual(repeatedRows([2, 2, 2], 4));
    // negative traced counts count as 0 (they cannot be checked)
    expect(vals(traced(3)(x, i32([-2, 1, 2])))).toEqual(repeatedRows([0, 1, 2], 3));
  });

  it("repeat with traced counts: vmap over counts equals a loop; gradient sums the copies (closed form)", () => {
    const f = (r: A) => nb.repeat(x, r, 0, { totalRepeatLength: 4 });
    const counts = [
      [1, 2, 1],
      [0, 4, 0],
      [3, 0, 0],
    ];
    expect(vals(nb.vmap(f)(i32(counts.flat()).reshape([3, 3])) as A)).toEqual(
      counts.flatMap((c) => repeatedRows(c, 4)),
    );
    // Σ_p w_p · x[idx_p] with idx = [0, 1, 1, 2] (counts [1, 2, 5] cut to 4): row gradients w0, w1 + w2, w3
    const w = nb.array([[1], [2], [4], [8]]);
    const g = nb.jit(nb.grad((a: A, r: A) => nb.sum(nb.mul(nb.repeat(a, r, 0, { totalRepeatLength: 4 }), w))))(
      x,
      i32([1, 2, 5]),
    );
    expect(vals(g)).toEqual([1, 1, 1, 1, 6, 6, 6, 6, 8, 8, 8, 8]);
  });

  it.each([
    [
      "a float shift array",
      () => nb.roll(x, nb.array(1)),
      nb.DTypeError,
      /^roll: shift given as an array must be int32/,
    ],
    [
      "a 2-d shift array",
      () => nb.roll(x, nb.array([[1]], { dtype: "int32" }), 0),
      nb.ShapeError,
      /^roll: shift must be 0-d or 1-d/,
    ],
    ["a float sections array", () => nb.split(x, nb.array([1])), nb.DTypeError, /^split: sections given as an array/],
    [
      "negative concrete counts",
      () => nb.repeat(x, i32([1, -1, 0]), 0),
      nb.ShapeError,
      /^repeat: repeats\[1\] must be/,
    ],
    [
      "traced counts of the wrong length",
      () => nb.jit((a: A, r: A) => nb.repeat(a, r, 0, { totalRepeatLength: 2 }))(x, i32([1, 1])),
      nb.ShapeError,
      /^repeat: repeats of shape \[2\] do not match axis 0 of length 3/,
    ],
    [
      "a bad totalRepeatLength",
      () => nb.repeat(x, 1, 0, { totalRepeatLength: -1 }),
      nb.ShapeError,
      /^repeat: totalRepeatLength must be an integer/,
    ],
    ["an unknown option", () => nb.repeat(x, 1, 0, { total: 1 } as never), nb.NablaError, /^repeat: unknown option/],
    [
      "padding from an empty axis",
      () => nb.repeat(nb.zeros([0]), [], 0, { totalRepeatLength: 1 }),
      nb.ShapeError,
      /^repeat: totalRepeatLength 1 pads with the last element/,
    ],
  ] as const)("%s throws", (_name, f, cls, msg) => {
    expect(f).toThrow(cls);
    expect(f).toThrow(msg);
  });
});

describe("meshgrid", () => {
  it("'xy' (default) swaps the first two axes, 'ij' does not", () => {
    const [X, Y] = nb.meshgrid([1, 2, 3], [4, 5]);
    expect(X!.shape).toEqual([2, 3]);
    expect(vals(X!)).toEqual([1, 2, 3, 1, 2, 3]);
    expect(vals(Y!)).toEqual([4, 4, 4, 5, 5, 5]);
    const [I, J, K] = nb.meshgrid([1, 2, 3], [4, 5], [6], { indexing: "ij" });
    expect(I!.shape).toEqual([3, 2, 1]);
    expect(vals(I!)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(vals(J!)).toEqual([4, 5, 4, 5, 4, 5]);
    expect(vals(K!)).toEqual([6, 6, 6, 6, 6, 6]);
    const [P, Q, R] = nb.meshgrid([1, 2], [3, 4, 5], [6, 7]);
    expect(P!.shape).toEqual([3, 2, 2]);
    expect(vals(Q!).slice(0, 4)).toEqual([3, 3, 3, 3]);
    expect(vals(R!).slice(0, 4)).toEqual([6, 7, 6, 7]);
    expect(nb.meshgrid()).toEqual([]);
    expect(() => nb.meshgrid([[1, 2]])).toThrow(nb.ShapeError);
    expect(() => nb.meshgrid([1], { indexing: "xz" as never })).toThrow(nb.NablaError);
  });
  it("derivatives (order 3), vmap and jit", () => {
    checkGrads((a: A, b: A) => nb.meshgrid(a, b), [arr([3], 20), arr([2], 21)], order3);
    expectBatchesAndJits((s) => nb.meshgrid(s, nb.array([1, 2]))[0]!, arr([3], 22));
  });
});
