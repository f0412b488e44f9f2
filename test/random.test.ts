/**
 * `nb.random`: Threefry-2x32 against the published Random123 known-answer
 * vectors, determinism and a pinned stream (cross-platform reproducibility),
 * key splitting, and the distributions of uniform / normal / bernoulli
 * checked with statistical tests whose bounds are stated below, plus vmap
 * over keys.
 *
 * Statistical bounds: every test uses a fixed key, so a run is deterministic;
 * the bounds are chosen so that a correct generator would fail them with a
 * small probability for a random key (quoted per test). With n samples:
 * - a sample mean of a variable with standard deviation σ has standard error
 *   σ/√n; we allow 5 standard errors (two-sided false-failure probability
 *   5.7e-7);
 * - the sample variance of N(0, 1) has standard error √(2/n); 5 of them;
 * - the Kolmogorov–Smirnov statistic D of n samples against the true CDF
 *   exceeds 1.95/√n with probability 0.001.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { threefry2x32 } from "../src/kernels/random.js";

type A = nb.NDArray;

function vals(x: A): number[] {
  return Array.from(x.toTypedArray() as ArrayLike<number>, Number);
}

// ---------------------------------------------------------------------------
// plain-JS Threefry-2x32 (20 rounds), written from the Threefry specification
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
// rotation constants R = 13 15 26 6 17 29 16 24, key-schedule parity
// 0x1BD11BDA, a key injection before the first round and after every 4.

function refThreefry(key: [number, number], ctr: [number, number]): [number, number] {
  const R = [13, 15, 26, 6, 17, 29, 16, 24];
  const k = [key[0] >>> 0, key[1] >>> 0, (0x1bd11bda ^ key[0] ^ key[1]) >>> 0];
  let x0 = (ctr[0] + k[0]!) >>> 0;
  let x1 = (ctr[1] + k[1]!) >>> 0;
  for (let round = 0; round < 20; round++) {
    const rot = R[round % 8]!;
    x0 = (x0 + x1) >>> 0;
    x1 = ((x1 << rot) | (x1 >>> (32 - rot))) >>> 0;
    x1 = (x1 ^ x0) >>> 0;
    if (round % 4 === 3) {
      const s = (round + 1) / 4; // injection number 1..5
      x0 = (x0 + k[s % 3]!) >>> 0;
      x1 = (x1 + k[(s + 1) % 3]! + s) >>> 0;
    }
  }
  return [x0, x1];
}

describe("Threefry-2x32 known answers (Random123 kat_vectors, threefry2x32_20)", () => {
  const KAT: { key: [number, number]; ctr: [number, number]; out: [number, number] }[] = [
    { key: [0, 0], ctr: [0, 0], out: [0x6b200159, 0x99ba4efe] },
    { key: [0xffffffff, 0xffffffff], ctr: [0xffffffff, 0xffffffff], out: [0x1cb996fc, 0xbb002be7] },
    { key: [0x13198a2e, 0x03707344], ctr: [0x243f6a88, 0x85a308d3], out: [0xc4923a9c, 0x483df7a0] },
  ];

  it.each(KAT)("key $key counter $ctr", ({ key, ctr, out }) => {
    const got = threefry2x32(key[0], key[1], ctr[0], ctr[1]).map((v) => v >>> 0);
    expect(got).toEqual(out);
    // the plain-JS reference agrees on the published vectors (so it is a valid oracle below)
    expect(refThreefry(key, ctr)).toEqual(out);
  });

  it("accepts int32 bit patterns (negative numbers) as well as uint32", () => {
    expect(threefry2x32(-1, -1, -1, -1).map((v) => v >>> 0)).toEqual([0x1cb996fc, 0xbb002be7]);
  });

  it("agrees with the plain-JS reference on pseudo-random keys and counters", () => {
    let s = 0x9e3779b9;
    const next = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s;
    };
    for (let i = 0; i < 500; i++) {
      const key: [number, number] = [next(), next()];
      const ctr: [number, number] = [next(), next()];
      expect(threefry2x32(key[0], key[1], ctr[0], ctr[1]).map((v) => v >>> 0)).toEqual(refThreefry(key, ctr));
    }
  });
});

// ---------------------------------------------------------------------------
// the streams

/** The key of a seed as the two uint32 words the generator documents: [seed / 2^32, seed mod 2^32]. */
const keyWords = (seed: number): [number, number] => [Math.floor(seed / 4294967296) >>> 0, seed >>> 0];
/** Word i of the stream of a key: words 2j, 2j+1 are Threefry(key, counter (j, 0)). */
const word = (k: [number, number], i: number): number => refThreefry(k, [Math.floor(i / 2), 0])[i % 2]!;

describe("determinism and a pinned stream", () => {
  it("the same key gives the same numbers on every call; different keys give different numbers", () => {
    const k = nb.random.key(42);
    expect(vals(nb.random.uniform(k, [50]))).toEqual(vals(nb.random.uniform(nb.random.key(42), [50])));
    expect(vals(nb.random.normal(k, [50]))).toEqual(vals(nb.random.normal(k, [50])));
    expect(vals(nb.random.bernoulli(k, 0.5, [50]))).toEqual(vals(nb.random.bernoulli(k, 0.5, [50])));
    expect(vals(nb.random.split(k, 3))).toEqual(vals(nb.random.split(k, 3)));
    const a = vals(nb.random.uniform(nb.random.key(0), [50]));
    const b = vals(nb.random.uniform(nb.random.key(1), [50]));
    expect(a.filter((v, i) => v === b[i]).length).toBe(0);
    // seeds that differ only above 2^32 give different keys
    expect(vals(nb.random.key(2 ** 32))).not.toEqual(vals(nb.random.key(0)));
  });

  it("keys are int32 [2]; split(key, n) is [n, 2] and follows the documented counter scheme", () => {
    const k = nb.random.key(2 ** 40 + 12345);
    expect(k.dtype).toBe("int32");
    expect(k.shape).toEqual([2]);
    expect(vals(k).map((v) => v >>> 0)).toEqual(keyWords(2 ** 40 + 12345));
    const s = nb.random.split(k, 3);
    expect(s.dtype).toBe("int32");
    expect(s.shape).toEqual([3, 2]);
    const kw = keyWords(2 ** 40 + 12345);
    expect(vals(s).map((v) => v >>> 0)).toEqual(Array.from({ length: 6 }, (_, i) => word(kw, i)));
    expect(nb.random.split(k).shape).toEqual([2, 2]);
  });

  it("uniform float64 / float32 values are pinned by plain-JS integer arithmetic (same on every platform)", () => {
    // float64: 53 bits, (w0 >>> 5) · 2^26 + (w1 >>> 6), over 2^53; float32: 24 bits, (w >>> 8) / 2^24
    const kw = keyWords(7);
    const u64 = vals(nb.random.uniform(nb.random.key(7), [5]));
    expect(u64).toEqual(
      Array.from({ length: 5 }, (_, i) => ((word(kw, 2 * i) >>> 5) * 67108864 + (word(kw, 2 * i + 1) >>> 6)) / 2 ** 53),
    );
    const u32 = vals(nb.random.uniform(nb.random.key(7), [5], { dtype: "float32" }));
    expect(u32).toEqual(Array.from({ length: 5 }, (_, i) => (word(kw, i) >>> 8) / 2 ** 24));
  });
});

describe("split", () => {
  it("gives distinct keys, distinct from the parent, also when split again", () => {
    const parent = nb.random.key(0);
    const ks = nb.random.split(parent, 64);
    const seen = new Set<string>([vals(parent).join(",")]);
    const rows = vals(ks);
    for (let i = 0; i < 64; i++) seen.add(`${rows[2 * i]},${rows[2 * i + 1]}`);
    const grand = nb.random.split(nb.reshape(nb.slice(ks, [0, 0], [1, 2]), [2]), 64);
    const g = vals(grand);
    for (let i = 0; i < 64; i++) seen.add(`${g[2 * i]},${g[2 * i + 1]}`);
    expect(seen.size).toBe(1 + 64 + 64);
  });

  it("streams of sibling keys are uncorrelated (|r| < 5/√n)", () => {
    const ks = nb.random.split(nb.random.key(3), 2);
    const n = 20000;
    const a = vals(nb.random.uniform(nb.reshape(nb.slice(ks, [0, 0], [1, 2]), [2]), [n]));
    const b = vals(nb.random.uniform(nb.reshape(nb.slice(ks, [1, 0], [2, 2]), [2]), [n]));
    const ma = a.reduce((s, v) => s + v, 0) / n;
    const mb = b.reduce((s, v) => s + v, 0) / n;
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < n; i++) {
      sab += (a[i]! - ma) * (b[i]! - mb);
      saa += (a[i]! - ma) ** 2;
      sbb += (b[i]! - mb) ** 2;
    }
    // the sample correlation of independent variables has standard error 1/√n
    expect(Math.abs(sab / Math.sqrt(saa * sbb))).toBeLessThan(5 / Math.sqrt(n));
  });
});

// ---------------------------------------------------------------------------
// distributions

/** Kolmogorov–Smirnov statistic of samples against a CDF. */
function ks(samples: number[], cdf: (x: number) => number): number {
  const s = samples.slice().sort((x, y) => x - y);
  const n = s.length;
  let d = 0;
  s.forEach((x, i) => {
    const F = cdf(x);
    d = Math.max(d, Math.abs(F - i / n), Math.abs((i + 1) / n - F));
  });
  return d;
}

/** erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, far below the KS bounds used). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
const normalCdf = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2));

describe("uniform", () => {
  const n = 20000;
  for (const dtype of ["float64", "float32"] as const) {
    it(`${dtype}: in [0, 1), the right dtype and shape, and uniformly distributed (KS)`, () => {
      const u = nb.random.uniform(nb.random.key(11), [n / 4, 4], { dtype });
      expect(u.dtype).toBe(dtype);
      expect(u.shape).toEqual([n / 4, 4]);
      const v = vals(u);
      expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...v)).toBeLessThan(1);
      expect(ks(v, (x) => x)).toBeLessThan(1.95 / Math.sqrt(n));
      // mean 1/2, standard deviation 1/√12
      expect(Math.abs(v.reduce((s, x) => s + x, 0) / n - 0.5)).toBeLessThan(5 / Math.sqrt(12) / Math.sqrt(n));
    });
  }

  it("float64 samples carry more than 32 random bits, float32 samples 24", () => {
    const v = vals(nb.random.uniform(nb.random.key(5), [200]));
    // a float64 made from one 32-bit word would be a multiple of 2^-32
    expect(v.filter((x) => !Number.isInteger(x * 2 ** 32)).length).toBeGreaterThan(150);
    const w = vals(nb.random.uniform(nb.random.key(5), [200], { dtype: "float32" }));
    expect(w.every((x) => Number.isInteger(x * 2 ** 24))).toBe(true);
  });

  it("[minval, maxval): bounds and KS against the scaled uniform CDF", () => {
    const lo = -2;
    const hi = 3;
    const v = vals(nb.random.uniform(nb.random.key(12), [n], { minval: lo, maxval: hi }));
    expect(Math.min(...v)).toBeGreaterThanOrEqual(lo);
    expect(Math.max(...v)).toBeLessThan(hi);
    expect(ks(v, (x) => (x - lo) / (hi - lo))).toBeLessThan(1.95 / Math.sqrt(n));
    // float32 with bounds whose scaled values are exactly representable: still inside [minval, maxval)
    const w = vals(nb.random.uniform(nb.random.key(12), [n], { dtype: "float32", minval: -2, maxval: 2 }));
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...w)).toBeLessThan(2);
  });

  it("a 0-d sample by default, and a zero-size shape", () => {
    expect(nb.random.uniform(nb.random.key(0)).shape).toEqual([]);
    expect(nb.random.uniform(nb.random.key(0), [0, 3]).shape).toEqual([0, 3]);
  });
});

describe("normal", () => {
  it("float64: mean ≈ 0 and variance ≈ 1 (5 standard errors), KS against the normal CDF", () => {
    const n = 100000;
    const v = vals(nb.random.normal(nb.random.key(2024), [n]));
    expect(v.every(Number.isFinite)).toBe(true);
    const mean = v.reduce((s, x) => s + x, 0) / n;
    const variance = v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n)); // 0.0158
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n)); // 0.0224
    expect(ks(v, normalCdf)).toBeLessThan(1.95 / Math.sqrt(n));
  });

  it("float32: dtype, shape, and the same moments on fewer samples", () => {
    const n = 20000;
    const x = nb.random.normal(nb.random.key(9), [100, n / 100], { dtype: "float32" });
    expect(x.dtype).toBe("float32");
    expect(x.shape).toEqual([100, n / 100]);
    const v = vals(x);
    const mean = v.reduce((s, a) => s + a, 0) / n;
    const variance = v.reduce((s, a) => s + (a - mean) ** 2, 0) / (n - 1);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(ks(v, normalCdf)).toBeLessThan(1.95 / Math.sqrt(n));
  });
});

describe("bernoulli", () => {
  it("frequency of true ≈ p (5 standard errors √(p(1-p)/n)), bool dtype", () => {
    const n = 100000;
    for (const p of [0.3, 0.5, 0.9]) {
      const b = nb.random.bernoulli(nb.random.key(77), p, [n]);
      expect(b.dtype).toBe("bool");
      const freq = vals(b).reduce((s, x) => s + x, 0) / n;
      expect(Math.abs(freq - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it("p = 0 is never true, p = 1 always; an array p broadcasts against the shape", () => {
    expect(vals(nb.random.bernoulli(nb.random.key(1), 0, [1000])).every((x) => x === 0)).toBe(true);
    expect(vals(nb.random.bernoulli(nb.random.key(1), 1, [1000])).every((x) => x === 1)).toBe(true);
    const n = 20000;
    const b = nb.random.bernoulli(nb.random.key(2), nb.array([0.1, 0.8]), [n, 2]);
    expect(b.shape).toEqual([n, 2]);
    const v = vals(b);
    [0.1, 0.8].forEach((p, j) => {
      let c = 0;
      for (let i = 0; i < n; i++) c += v[2 * i + j]!;
      expect(Math.abs(c / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    });
    // without a shape, the shape of p
    expect(nb.random.bernoulli(nb.random.key(3), nb.array([0.2, 0.4, 0.6])).shape).toEqual([3]);
  });
});

// ---------------------------------------------------------------------------
// vmap over keys

describe("vmap over split keys equals a loop over the keys", () => {
  const keys = nb.random.split(nb.random.key(31), 5);
  const keyAt = (i: number): A => nb.reshape(nb.slice(keys, [i, 0], [i + 1, 2]), [2]);
  const loop = (f: (k: A) => A): number[] => [0, 1, 2, 3, 4].flatMap((i) => vals(f(keyAt(i))));

  const cases: [string, (k: A) => A][] = [
    ["uniform", (k) => nb.random.uniform(k, [3, 2])],
    ["uniform float32 with bounds", (k) => nb.random.uniform(k, [4], { dtype: "float32", minval: -1, maxval: 1 })],
    ["normal", (k) => nb.random.normal(k, [3])],
    ["bernoulli", (k) => nb.random.bernoulli(k, 0.4, [6])],
    ["split", (k) => nb.random.split(k, 3)],
    [
      "normal of a split key",
      (k) => nb.random.normal(nb.reshape(nb.slice(nb.random.split(k), [1, 0], [2, 2]), [2]), [2]),
    ],
  ];
  it.each(cases)("%s", (_name, f) => {
    const got = nb.vmap(f)(keys) as A;
    expect(got.shape[0]).toBe(5);
    expect(vals(got)).toEqual(loop(f));
  });

  it("normal of several keys at once ([..., 2], as uniform takes) stacks the per-key samples, also under vmap", () => {
    const ks = nb.reshape(keys.slice([0, 0], [4, 2]), [2, 2, 2]); // four keys as a [2, 2] grid
    const per = [0, 1, 2, 3].flatMap((i) => vals(nb.random.normal(keyAt(i), [3])));
    const got = nb.random.normal(ks, [3]);
    expect(got.shape).toEqual([2, 2, 3]);
    expect(vals(got)).toEqual(per);
    // each example carries two keys
    const byVmap = nb.vmap((k: A) => nb.random.normal(k, [3]))(ks) as A;
    expect(byVmap.shape).toEqual([2, 2, 3]);
    expect(vals(byVmap)).toEqual(per);
  });

  it("keys mapped along axis 1, and a per-example probability mapped alongside an unmapped key", () => {
    const kt = nb.transpose(keys); // [2, 5]
    const got = nb.vmap((k: A) => nb.random.uniform(k, [2]), { inAxes: 1 })(kt) as A;
    expect(vals(got)).toEqual(loop((k) => nb.random.uniform(k, [2])));
    const ps = nb.array([0, 1, 0, 1]);
    const b = nb.vmap((k: A, p: A) => nb.random.bernoulli(k, p, [3]), { inAxes: [null, 0] })(nb.random.key(4), ps) as A;
    expect(vals(b)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
  });
});

describe("random errors", () => {
  it("invalid seeds, keys, dtypes and counts throw NablaErrors", () => {
    expect(() => nb.random.key(-1)).toThrow(nb.NablaError);
    expect(() => nb.random.key(1.5)).toThrow(nb.NablaError);
    expect(() => nb.random.uniform(nb.array([1, 2]), [2])).toThrow(nb.DTypeError); // float64, not a key
    expect(() => nb.random.uniform(nb.zeros([3], { dtype: "int32" }), [2])).toThrow(nb.DTypeError); // wrong shape
    expect(() => nb.random.uniform(nb.random.key(0), [2], { dtype: "int32" })).toThrow(nb.DTypeError);
    expect(() => nb.random.normal(nb.random.key(0), [2], { dtype: "bool" })).toThrow(nb.DTypeError);
    expect(() => nb.random.split(nb.random.key(0), -1)).toThrow(nb.ShapeError);
    expect(() => nb.random.uniform(nb.random.key(0), [-1])).toThrow(nb.ShapeError);
  });

  it("samples are constants to differentiation: the gradient through a sample's use is the usual one", () => {
    // f(x) = sum(x * u) with u a fixed uniform sample: grad = u
    const u = nb.random.uniform(nb.random.key(8), [4]);
    const g = nb.grad((x: A) => nb.sum(nb.mul(x, nb.random.uniform(nb.random.key(8), [4]))))(nb.ones([4])) as A;
    expect(vals(g)).toEqual(vals(u));
  });
});
