/**
 * `nb.random.{randint, permutation, shuffle, categorical, choice,
 * truncatedNormal}`: supports, exact structural properties (permutations are
 * permutations, sampling without replacement has no repeats), and the
 * distributions by statistical tests.
 *
 * Statistical bounds: every test uses a fixed key, so each run is
 * deterministic and cannot flake; the bounds are those a correct sampler
 * would fail with probability about 1e-6 for a random key:
 * - chi-square goodness of fit with k degrees of freedom: the Wilson–Hilferty
 *   transform z = ((X/k)^(1/3) - (1 - 2/(9k))) / √(2/(9k)) is close to
 *   standard normal; we require z < 4.75 (upper tail 1e-6);
 * - sample means: within 5 standard errors σ/√n of the closed form (two-sided
 *   5.7e-7), σ from the closed-form variance.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

type A = nb.NDArray;
const vals = (x: A): number[] => Array.from(x.toTypedArray() as ArrayLike<number>, Number);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Wilson–Hilferty z-score of a chi-square statistic over observed counts with expected counts. */
function chiSquareZ(observed: number[], expected: number[]): number {
  const x = observed.reduce((acc, o, i) => acc + (o - expected[i]!) ** 2 / expected[i]!, 0);
  const k = observed.length - 1;
  return (Math.cbrt(x / k) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
}
function counts(xs: number[], n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const x of xs) c[x]!++;
  return c;
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("random.randint", () => {
  it("int32 values in [minval, maxval), uniform by chi-square (20000 draws, 10 values)", () => {
    const x = nb.random.randint(nb.random.key(11), [20000], 3, 13);
    expect(x.dtype).toBe("int32");
    const v = vals(x);
    expect(v.every((t) => Number.isInteger(t) && t >= 3 && t < 13)).toBe(true);
    const c = counts(
      v.map((t) => t - 3),
      10,
    );
    expect(chiSquareZ(c, new Array<number>(10).fill(2000))).toBeLessThan(4.75);
  });

  it("array bounds broadcast to the shape; the full int32 range; maxval <= minval gives minval", () => {
    const lo = nb.array([0, 100, -5]);
    const hi = nb.array([2, 103, -4]);
    const x = nb.random.randint(nb.random.key(1), [500, 3], lo, hi);
    expect(x.shape).toEqual([500, 3]);
    const v = vals(x);
    v.forEach((t, i) => {
      const j = i % 3;
      expect(t).toBeGreaterThanOrEqual([0, 100, -5][j]!);
      expect(t).toBeLessThan([2, 103, -4][j]!);
    });
    // both values of [0, 2), all three of [100, 103) occur
    expect(new Set(v.filter((_, i) => i % 3 === 0)).size).toBe(2);
    expect(new Set(v.filter((_, i) => i % 3 === 1)).size).toBe(3);
    const wide = vals(nb.random.randint(nb.random.key(2), [1000], -(2 ** 31), 2 ** 31 - 1));
    expect(wide.every((t) => t >= -(2 ** 31) && t < 2 ** 31 - 1)).toBe(true);
    expect(wide.some((t) => t < 0) && wide.some((t) => t > 0)).toBe(true);
    expect(vals(nb.random.randint(nb.random.key(3), [4], 5, 5))).toEqual([5, 5, 5, 5]);
  });

  it("the same key gives the same numbers; under vmap over keys equals the loop", () => {
    const k = nb.random.key(9);
    expect(vals(nb.random.randint(k, [6], 0, 100))).toEqual(vals(nb.random.randint(k, [6], 0, 100)));
    const keys = nb.random.split(k, 3);
    const vm = vals(nb.vmap((kk: A) => nb.random.randint(kk, [4], 0, 50))(keys));
    const loop = range(3).flatMap((i) => vals(nb.random.randint(nb.take(keys, i, 0), [4], 0, 50)));
    expect(vm).toEqual(loop);
  });
});

describe("random.permutation and shuffle", () => {
  it("every one of the 24 permutations of 4 is reached, uniformly by chi-square (2400 keys, vmap)", () => {
    const keys = nb.random.split(nb.random.key(5), 2400);
    const ps = vals(nb.vmap((k: A) => nb.random.permutation(k, 4))(keys));
    const seen = new Map<string, number>();
    for (let r = 0; r < 2400; r++) {
      const p = ps.slice(4 * r, 4 * r + 4);
      expect([...p].sort()).toEqual([0, 1, 2, 3]);
      const key = p.join("");
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect(seen.size).toBe(24);
    expect(chiSquareZ([...seen.values()], new Array<number>(24).fill(100))).toBeLessThan(4.75);
  });

  it("permuting an array moves whole slices along the axis; independent permutes each slice", () => {
    const x = nb.reshape(nb.arange(12), [3, 4]);
    const k = nb.random.key(7);
    const rows = nb.random.permutation(k, x).toArray() as number[][];
    expect(rows.map((r) => r[0]! / 4).sort()).toEqual([0, 1, 2]);
    rows.forEach((r) => expect(r).toEqual(range(4).map((j) => r[0]! + j)));
    const cols = nb.random.permutation(k, x, 1).toArray() as number[][];
    const c0 = cols[0]!;
    cols.forEach((r, i) => expect(r).toEqual(c0.map((v) => v + 4 * i)));
    const ind = nb.random.permutation(k, x, 1, true).toArray() as number[][];
    ind.forEach((r, i) => expect([...r].sort((a, b) => a - b)).toEqual(range(4).map((j) => 4 * i + j)));
    expect(vals(nb.random.shuffle(k, x, 1))).toEqual(vals(nb.random.permutation(k, x, 1)));
    // a gradient flows back through the permutation: d sum(w ∘ perm(x)) / dx = perm⁻¹(w)
    const w = nb.arange(4);
    const g = vals(nb.grad((y: A) => nb.sum(nb.mul(nb.random.permutation(k, y), w)))(nb.arange(4).astype("float64")));
    const p = vals(nb.random.permutation(k, 4));
    p.forEach((src, dst) => expect(g[src]).toBe(dst));
  });
});

describe("random.categorical", () => {
  it("frequencies match the probabilities by chi-square (20000 draws of 4 categories)", () => {
    const p = [0.1, 0.2, 0.3, 0.4];
    const x = nb.random.categorical(nb.random.key(21), nb.log(nb.array(p)), -1, [20000]);
    expect(x.dtype).toBe("int32");
    expect(
      chiSquareZ(
        counts(vals(x), 4),
        p.map((q) => q * 20000),
      ),
    ).toBeLessThan(4.75);
  });

  it("batched logits along axis 0 with a shape prefix; -Infinity is never drawn", () => {
    // logits [3 categories, 2 batch]; column 1 forbids category 0
    const logits = nb.array([
      [0, -Infinity],
      [0, 0],
      [Math.log(2), 0],
    ]);
    const x = nb.random.categorical(nb.random.key(4), logits, 0, [4000, 2]);
    expect(x.shape).toEqual([4000, 2]);
    const v = vals(x);
    const c0 = counts(
      v.filter((_, i) => i % 2 === 0),
      3,
    );
    const c1 = counts(
      v.filter((_, i) => i % 2 === 1),
      3,
    );
    expect(c1[0]).toBe(0);
    expect(chiSquareZ(c0, [1000, 1000, 2000])).toBeLessThan(4.75);
    expect(chiSquareZ(c1.slice(1), [2000, 2000])).toBeLessThan(4.75);
    expect(() => nb.random.categorical(nb.random.key(0), nb.zeros([3, 2]), 0, [4, 3])).toThrow(/^random.categorical/);
  });
});

describe("random.choice", () => {
  it("with replacement: uniform (chi-square), or by p (chi-square); shape and axis of an array", () => {
    const u = vals(nb.random.choice(nb.random.key(31), 5, [10000]));
    expect(chiSquareZ(counts(u, 5), new Array<number>(5).fill(2000))).toBeLessThan(4.75);
    const p = [0.5, 0, 0.25, 0.25];
    const w = vals(nb.random.choice(nb.random.key(32), 4, [8000], true, p));
    const c = counts(w, 4);
    expect(c[1]).toBe(0);
    expect(chiSquareZ([c[0]!, c[2]!, c[3]!], [4000, 2000, 2000])).toBeLessThan(4.75);
    const a = nb.reshape(nb.arange(6), [2, 3]);
    const s = nb.random.choice(nb.random.key(3), a, [4, 2], true, undefined, 1);
    expect(s.shape).toEqual([2, 4, 2]);
    const sv = s.toArray() as number[][][];
    sv[0]!.flat().forEach((v) => expect([0, 1, 2]).toContain(v));
    sv[1]!.flat().forEach((v, i) => expect(v).toBe(sv[0]!.flat()[i]! + 3));
  });

  it("without replacement: distinct values; with p the first draw is ∝ p (chi-square over 3000 keys)", () => {
    const d = vals(nb.random.choice(nb.random.key(41), 10, [10], false));
    expect([...d].sort((x, y) => x - y)).toEqual(range(10));
    const p = [0.1, 0.2, 0.3, 0.4];
    const keys = nb.random.split(nb.random.key(42), 3000);
    const draws = vals(nb.vmap((k: A) => nb.random.choice(k, 4, [3], false, p))(keys));
    const first: number[] = [];
    for (let r = 0; r < 3000; r++) {
      const row = draws.slice(3 * r, 3 * r + 3);
      expect(new Set(row).size).toBe(3);
      first.push(row[0]!);
    }
    expect(
      chiSquareZ(
        counts(first, 4),
        p.map((q) => q * 3000),
      ),
    ).toBeLessThan(4.75);
    expect(() => nb.random.choice(nb.random.key(0), 3, [4], false)).toThrow(/^random.choice: .*without replacement/);
  });
});

describe("random.truncatedNormal", () => {
  // standard normal density and lower tail at the bounds used (Φ from DLMF 7.2 / A&S table 26.1)
  const phi = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  const PHI_M1 = 0.15865525393145707;
  const PHI_2 = 0.9772498680518208;
  const Q_3 = 0.0013498980316300946; // 1 - Φ(3)

  it("stays in [lower, upper]; mean and variance of N(0, 1) on [-1, 2] within 5 standard errors", () => {
    const x = vals(nb.random.truncatedNormal(nb.random.key(51), -1, 2, [20000]));
    expect(x.every((v) => v >= -1 && v <= 2)).toBe(true);
    const z = PHI_2 - PHI_M1;
    const m = (phi(-1) - phi(2)) / z;
    const variance = 1 + (-1 * phi(-1) - 2 * phi(2)) / z - m * m;
    const se = Math.sqrt(variance / x.length);
    expect(Math.abs(mean(x) - m)).toBeLessThan(5 * se);
    const sv = mean(x.map((v) => (v - m) ** 2));
    // the variance of (x - m)² is below E(x - m)⁴ <= 3·max|x - m|²·variance; 5 standard errors of that
    expect(Math.abs(sv - variance)).toBeLessThan(5 * Math.sqrt((3 * 2.3 ** 2 * variance) / x.length));
  });

  it("one-sided tail [3, ∞): all >= 3, mean φ(3)/Q(3) within 5 standard errors", () => {
    const x = vals(nb.random.truncatedNormal(nb.random.key(52), 3, Infinity, [20000]));
    expect(x.every((v) => v >= 3 && Number.isFinite(v))).toBe(true);
    const m = phi(3) / Q_3;
    const variance = 1 + (3 * phi(3)) / Q_3 - m * m;
    expect(Math.abs(mean(x) - m)).toBeLessThan(5 * Math.sqrt(variance / x.length));
  });

  it("is the inverse CDF of the same key's uniform draw: erf(x/√2) = a + u (b - a) to 1e-15", () => {
    const k = nb.random.key(53);
    const [lo, hi] = [-2.5, 0.7];
    const x = nb.random.truncatedNormal(k, lo, hi, [2000]);
    const u = vals(nb.random.uniform(k, [2000]));
    const a = nb.erf(lo / Math.SQRT2).item();
    const b = nb.erf(hi / Math.SQRT2).item();
    const e = vals(nb.erf(nb.div(x, Math.SQRT2)));
    // erf is checked to 1e-15 (primitives test), the target a + u (b - a) and x/√2 carry a few ulps of
    // 1.1e-16: 1e-15 in all; the starting approximation alone is off by ~1e-3
    e.forEach((v, i) => expect(Math.abs(v - (a + u[i]! * (b - a)))).toBeLessThanOrEqual(1e-15));
  });

  it("array bounds broadcast to the shape; float32 output; bad shapes throw", () => {
    const x = nb.random.truncatedNormal(nb.random.key(54), nb.array([-1, 0, 5]), nb.array([1, 0.5, 6]), [300, 3], {
      dtype: "float32",
    });
    expect(x.dtype).toBe("float32");
    expect(x.shape).toEqual([300, 3]);
    vals(x).forEach((v, i) => {
      const j = i % 3;
      expect(v).toBeGreaterThanOrEqual(Math.fround([-1, 0, 5][j]!));
      expect(v).toBeLessThanOrEqual(Math.fround([1, 0.5, 6][j]!));
    });
    expect(() => nb.random.truncatedNormal(nb.random.key(0), nb.zeros([3]), 1, [2])).toThrow(/^random.truncatedNormal/);
  });
});
