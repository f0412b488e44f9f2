/**
 * nabla/nn: activations and losses against closed forms written in plain
 * JS, their derivatives against finite differences (`checkGrads`, order 2,
 * both modes, its float64 default tolerances 1e-6) and closed forms,
 * stability at logits of magnitude 1e3, and initialisers checked
 * statistically.
 *
 * Statistical bounds: a sample variance of n independent draws has
 * standard error σ²·√((κ − 1)/n) with κ the kurtosis (1.8 for a uniform,
 * at most 3 for a truncated normal); each check allows 5 standard errors,
 * so a correct initialiser fails it with probability below 1e-6 (and the
 * keys are fixed, so the outcome is deterministic).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import * as nn from "../src/nn/index.js";
import { checkGrads } from "../src/testing/index.js";
import { expectClose, vals } from "./support/assert.js";

const TOL = 1e-14; // float64 closed forms: a handful of roundings
const sig = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
// Φ(x) at x = −2, −1, 0.5, 1, 2 (standard normal CDF, published tables to 16 digits)
const PHI: Record<number, number> = {
  [-2]: 0.022750131948179195,
  [-1]: 0.15865525393145707,
  0.5: 0.6914624612740131,
  1: 0.8413447460685429,
  2: 0.9772498680518208,
};
const phi = (x: number): number => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
const XS = [-2, -1, 0.5, 1, 2];
const grad1 = (f: (x: nb.NDArray) => nb.NDArray) => (x: number[]) =>
  nb.grad((a: nb.NDArray) => nb.sum(f(a)))(nb.array(x)) as nb.NDArray;

describe("activations: values against closed forms", () => {
  it("gelu exact is x·Φ(x); the default is the tanh approximation", () => {
    expectClose(
      nn.gelu(XS, { approximate: false }),
      XS.map((x) => x * PHI[x]!),
      [5],
      TOL,
    );
    const tanhForm = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    expectClose(nn.gelu(XS), XS.map(tanhForm), [5], TOL);
    expectClose(nn.gelu(XS, { approximate: true }), XS.map(tanhForm), [5], TOL);
    // the approximation is close to, but not equal to, the exact form
    const diff = vals(nn.gelu(XS)).map((v, i) => Math.abs(v - XS[i]! * PHI[XS[i]!]!));
    expect(Math.max(...diff)).toBeGreaterThan(1e-5);
    expect(Math.max(...diff)).toBeLessThan(1e-3);
  });

  it("silu, elu, leakyRelu, logSigmoid, softsign", () => {
    const xs = [-3, -0.5, 0, 0.5, 3];
    expectClose(
      nn.silu(xs),
      xs.map((x) => x * sig(x)),
      [5],
      TOL,
    );
    expectClose(
      nn.elu(xs),
      xs.map((x) => (x > 0 ? x : Math.expm1(x))),
      [5],
      TOL,
    );
    expectClose(
      nn.elu(xs, 0.7),
      xs.map((x) => (x > 0 ? x : 0.7 * Math.expm1(x))),
      [5],
      TOL,
    );
    expectClose(
      nn.leakyRelu(xs),
      xs.map((x) => (x >= 0 ? x : 0.01 * x)),
      [5],
      TOL,
    );
    expectClose(
      nn.leakyRelu(xs, 0.2),
      xs.map((x) => (x >= 0 ? x : 0.2 * x)),
      [5],
      TOL,
    );
    expectClose(
      nn.logSigmoid(xs),
      xs.map((x) => -softplus(-x)),
      [5],
      TOL,
    );
    expectClose(
      nn.softsign(xs),
      xs.map((x) => x / (1 + Math.abs(x))),
      [5],
      TOL,
    );
  });

  it("keep float32 and promote int32 to float64", () => {
    const x32 = nb.array([-1, 2], { dtype: "float32" });
    for (const f of [nn.gelu, nn.silu, nn.elu, nn.leakyRelu, nn.logSigmoid, nn.softsign])
      expect((f as (x: nb.NDArray) => nb.NDArray)(x32).dtype).toBe("float32");
    expect(nn.silu(nb.array([1, 2], { dtype: "int32" })).dtype).toBe("float64");
  });
});

describe("activations: derivatives", () => {
  const pts = nb.array([-1.7, -0.4, 0.3, 1.2, 2.5]);
  const fns: [string, (x: nb.NDArray) => nb.NDArray][] = [
    ["gelu exact", (x) => nn.gelu(x, { approximate: false })],
    ["gelu tanh", (x) => nn.gelu(x)],
    ["silu", nn.silu],
    ["elu", (x) => nn.elu(x, 0.8)],
    ["leakyRelu", (x) => nn.leakyRelu(x, 0.1)],
    ["logSigmoid", nn.logSigmoid],
    ["softsign", nn.softsign],
  ];
  for (const [name, f] of fns)
    it(`${name}: checkGrads to order 2 away from kinks`, () => checkGrads(f, [pts], { order: 2 }));

  it("first derivatives match closed forms", () => {
    const xs = [-2, -1, 0.5, 1, 2];
    expectClose(
      grad1((x) => nn.gelu(x, { approximate: false }))(xs),
      xs.map((x) => PHI[x]! + x * phi(x)),
      [5],
      TOL,
    );
    expectClose(
      grad1(nn.silu)(xs),
      xs.map((x) => sig(x) * (1 + x * (1 - sig(x)))),
      [5],
      TOL,
    );
    expectClose(
      grad1((x) => nn.elu(x, 0.5))(xs),
      xs.map((x) => (x > 0 ? 1 : 0.5 * Math.exp(x))),
      [5],
      TOL,
    );
    expectClose(
      grad1(nn.logSigmoid)(xs),
      xs.map((x) => sig(-x)),
      [5],
      TOL,
    );
    expectClose(
      grad1(nn.softsign)(xs),
      xs.map((x) => 1 / (1 + Math.abs(x)) ** 2),
      [5],
      TOL,
    );
  });

  it("values and gradients stay finite and exact at ±1e3", () => {
    const big = [-1000, 1000];
    expectClose(nn.logSigmoid(big), [-1000, 0], [2], TOL);
    expectClose(grad1(nn.logSigmoid)(big), [1, 0], [2], TOL);
    expectClose(nn.silu(big), [0, 1000], [2], TOL);
    expectClose(grad1(nn.silu)(big), [0, 1], [2], TOL);
    // elu's exponential never sees +1e3, so its reverse-mode gradient is not inf·0
    expectClose(nn.elu(big), [-1, 1000], [2], TOL);
    expectClose(grad1(nn.elu)(big), [0, 1], [2], TOL);
    for (const approximate of [true, false]) {
      expectClose(nn.gelu(big, { approximate }), [0, 1000], [2], TOL);
      expectClose(grad1((x) => nn.gelu(x, { approximate }))(big), [0, 1], [2], TOL);
    }
    expectClose(grad1(nn.softsign)(big), [1 / 1001 ** 2, 1 / 1001 ** 2], [2], TOL);
  });
});

describe("oneHot", () => {
  it("encodes labels along a new last axis, out-of-range labels as zero rows", () => {
    const o = nn.oneHot(
      nb.array(
        [
          [0, 2],
          [3, -1],
        ],
        { dtype: "int32" },
      ),
      3,
    );
    expect(o.dtype).toBe("float64");
    expect(o.shape).toEqual([2, 2, 3]);
    expect(vals(o)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(nn.oneHot([1], 2, { dtype: "float32" }).dtype).toBe("float32");
    expect(vals(nn.oneHot([1, 0], 2, { dtype: "int32" }))).toEqual([0, 1, 1, 0]);
  });
  it("rejects a bad n or bool labels", () => {
    expect(() => nn.oneHot([0], -1)).toThrow(/^oneHot: n/);
    expect(() => nn.oneHot([true], 2)).toThrow(nb.DTypeError);
  });
});

describe("losses", () => {
  const logits = [
    [2, -1, 0.5],
    [0.1, 0.2, -3],
  ];
  const lse = (r: number[]): number => {
    const m = Math.max(...r);
    return m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
  };
  const softmaxJs = (r: number[]): number[] => r.map((v) => Math.exp(v - lse(r)));
  const int = (xs: number[]) => nb.array(xs, { dtype: "int32" });

  it("softmaxCrossEntropy with int32 labels: logsumexp(z) − z[label]", () => {
    const labels = [1, 0];
    const l = nn.softmaxCrossEntropy(logits, int(labels));
    expectClose(
      l,
      logits.map((r, i) => lse(r) - r[labels[i]!]!),
      [2],
      TOL,
    );
  });

  it("softmaxCrossEntropy with probabilities: −Σ p·logSoftmax(z); one-hot probabilities equal int labels", () => {
    const p = [
      [0.2, 0.5, 0.3],
      [1, 0, 0],
    ];
    const want = logits.map((r, i) => -r.reduce((s, v, j) => s + p[i]![j]! * (v - lse(r)), 0));
    expectClose(nn.softmaxCrossEntropy(logits, p), want, [2], TOL);
    expectClose(
      nn.softmaxCrossEntropy(logits, nn.oneHot(int([2, 1]), 3)),
      vals(nn.softmaxCrossEntropy(logits, int([2, 1]))),
      [2],
      TOL,
    );
  });

  it("softmaxCrossEntropy with probabilities and a logit masked by −∞: 0·log 0 = 0, finite value and gradient", () => {
    // closed forms: the masked class drops out, so the row is the cross-entropy over the other two classes,
    // and d/dz = softmax(z) − p with softmax 0 at the masked class
    const z = nb.array([[-Infinity, 0, 1]]);
    const p = nb.array([[0, 0.5, 0.5]]);
    expectClose(nn.softmaxCrossEntropy(z, p), [Math.log(1 + Math.E) - 0.5], [1], TOL);
    const g = nb.grad((zz: nb.NDArray) => nb.sum(nn.softmaxCrossEntropy(zz, p)))(z);
    expectClose(g, [0, 1 / (1 + Math.E) - 0.5, Math.E / (1 + Math.E) - 0.5], [1, 3], TOL);
    // mass on a masked class is an infinite loss, not 0
    expect(nn.softmaxCrossEntropy(z, [[0.5, 0.5, 0]]).item()).toBe(Infinity);
    // with finite logits a zero label keeps its derivative −logSoftmax(z)_j (soft labels that are learned)
    const zf = [[2, -1, 0.5]];
    const gl = nb.grad((pp: nb.NDArray) => nb.sum(nn.softmaxCrossEntropy(zf, pp)))(nb.array([[0, 0.4, 0.6]]));
    const r = zf[0]!;
    expectClose(
      gl,
      r.map((v) => -(v - lse(r))),
      [1, 3],
      TOL,
    );
  });

  it("softmaxCrossEntropy: out-of-range integer labels give NaN; mismatched shapes throw ShapeError", () => {
    const l = vals(nn.softmaxCrossEntropy(logits, int([3, -1])));
    expect(l.every(Number.isNaN)).toBe(true);
    expect(() => nn.softmaxCrossEntropy(logits, int([0]))).toThrow(
      /^softmaxCrossEntropy: integer labels must have shape \[2\].*\[1\]/,
    );
    expect(() => nn.softmaxCrossEntropy(logits, [[1, 0]])).toThrow(/^softmaxCrossEntropy: probability labels/);
    expect(() => nn.softmaxCrossEntropy(3, int([]))).toThrow(nb.ShapeError);
  });

  it("softmaxCrossEntropy at logits of magnitude 1e3: exact values, gradient softmax − onehot", () => {
    const z = [
      [1000, -1000, 0],
      [-1000, 1000, 999],
    ];
    const labels = [1, 2];
    const f = (a: nb.NDArray) => nb.sum(nn.softmaxCrossEntropy(a, int(labels)));
    expectClose(nn.softmaxCrossEntropy(z, int(labels)), [2000, Math.log1p(Math.exp(-1)) + 1], [2], TOL);
    const g = nb.grad(f)(nb.array(z)) as nb.NDArray;
    const want = z.flatMap((r, i) => softmaxJs(r).map((s, j) => s - (j === labels[i] ? 1 : 0)));
    expectClose(g, want, [2, 3], TOL);
    // probabilities: the same gradient form, softmax − p
    const p = [
      [0.25, 0.75, 0],
      [0, 0.5, 0.5],
    ];
    const gp = nb.grad((a: nb.NDArray) => nb.sum(nn.softmaxCrossEntropy(a, p)))(nb.array(z)) as nb.NDArray;
    expectClose(
      gp,
      z.flatMap((r, i) => softmaxJs(r).map((s, j) => s - p[i]![j]!)),
      [2, 3],
      TOL,
    );
    expect(vals(nn.softmaxCrossEntropy(z, p)).every(Number.isFinite)).toBe(true);
  });

  it("sigmoidBinaryCrossEntropy: y·softplus(−z) + (1−y)·softplus(z), gradient σ(z) − y, also at ±1e3", () => {
    const z = [-1000, 1000, 1000, -1000, -0.7, 2];
    const y = [1, 1, 0, 0.3, 0.4, 0];
    const want = z.map((v, i) => y[i]! * softplus(-v) + (1 - y[i]!) * softplus(v));
    expectClose(nn.sigmoidBinaryCrossEntropy(z, y), want, [6], TOL);
    const g = nb.grad((a: nb.NDArray) => nb.sum(nn.sigmoidBinaryCrossEntropy(a, y)))(nb.array(z)) as nb.NDArray;
    expectClose(
      g,
      z.map((v, i) => sig(v) - y[i]!),
      [6],
      TOL,
    );
  });

  it("mse is the mean of squared errors, gradient 2(p − t)/n", () => {
    const p = [1, 2, 3, 4.5];
    const t = [0.5, 2, 5, 4];
    expectClose(nn.mse(p, t), (0.25 + 0 + 4 + 0.25) / 4, [], TOL);
    const g = nb.grad((a: nb.NDArray) => nn.mse(a, t))(nb.array(p)) as nb.NDArray;
    expectClose(
      g,
      p.map((v, i) => (2 * (v - t[i]!)) / 4),
      [4],
      TOL,
    );
    expect(() => nn.mse([1, 2], [1, 2, 3])).toThrow(/^mse: /);
  });

  it("huber: ½e² inside delta, delta(|e| − ½delta) outside; gradient clip(e, −delta, delta)", () => {
    const p = [0.3, -2, 5, 1000, -1000];
    const t = [0, 0, 1, 0, 0];
    for (const delta of [1, 2.5]) {
      const e = p.map((v, i) => v - t[i]!);
      const want = e.map((v) => (Math.abs(v) <= delta ? 0.5 * v * v : delta * (Math.abs(v) - 0.5 * delta)));
      expectClose(nn.huber(p, t, { delta }), want, [5], TOL);
      const g = nb.grad((a: nb.NDArray) => nb.sum(nn.huber(a, t, { delta })))(nb.array(p)) as nb.NDArray;
      expectClose(
        g,
        e.map((v) => Math.max(-delta, Math.min(delta, v))),
        [5],
        TOL,
      );
    }
    expectClose(nn.huber([3], [0]), [2.5], [1], TOL); // default delta 1
    expect(() => nn.huber([1], [0], { delta: 0 })).toThrow(/^huber: delta/);
  });

  it("checkGrads to order 2 for every loss (away from kinks)", () => {
    const z = nb.array([
      [0.4, -1.3, 2.1],
      [1.1, 0.2, -0.6],
    ]);
    checkGrads((a: nb.NDArray) => nn.softmaxCrossEntropy(a, int([2, 0])), [z], { order: 2 });
    checkGrads(
      (a: nb.NDArray, p: nb.NDArray) => nn.softmaxCrossEntropy(a, p),
      [
        z,
        nb.array([
          [0.2, 0.3, 0.5],
          [0.6, 0.1, 0.3],
        ]),
      ],
      {
        order: 2,
      },
    );
    checkGrads(
      nn.sigmoidBinaryCrossEntropy,
      [
        z,
        nb.array([
          [1, 0, 0.5],
          [0.2, 1, 0],
        ]),
      ],
      { order: 2 },
    );
    checkGrads(
      nn.mse,
      [
        z,
        nb.array([
          [0, 1, 2],
          [3, 4, 5],
        ]),
      ],
      { order: 2 },
    );
    checkGrads(
      (a: nb.NDArray, b: nb.NDArray) => nn.huber(a, b, { delta: 1.5 }),
      [
        z,
        nb.array([
          [0, 1, 0],
          [3, 0, 0],
        ]),
      ],
      {
        order: 2,
      },
    );
  });
});

// ---------------------------------------------------------------------------
// Initialisers

const sampleStats = (x: nb.NDArray) => {
  const v = vals(x);
  const n = v.length;
  const mean = v.reduce((s, a) => s + a, 0) / n;
  const variance = v.reduce((s, a) => s + (a - mean) ** 2, 0) / (n - 1);
  const maxAbs = v.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
  return { n, mean, variance, maxAbs, v };
};

describe("initialisers", () => {
  it("computeFans as JAX: [in, out] dense and [..., in, out] conv; other layouts through the axes", () => {
    expect(nn.computeFans([300, 400])).toEqual([300, 400]);
    expect(nn.computeFans([3, 3, 16, 32])).toEqual([144, 288]);
    expect(nn.computeFans([32, 16, 3, 3], { inAxis: 1, outAxis: 0 })).toEqual([144, 288]);
    expect(() => nn.computeFans([5])).toThrow(/^computeFans: shape \[5\] must have at least 2/);
  });

  const shape = [300, 400];
  const [fanIn, fanOut] = [300, 400];
  const cases: [string, typeof nn.glorotUniform, number, "uniform" | "truncated"][] = [
    ["glorotUniform", nn.glorotUniform, 2 / (fanIn + fanOut), "uniform"],
    ["glorotNormal", nn.glorotNormal, 2 / (fanIn + fanOut), "truncated"],
    ["heUniform", nn.heUniform, 2 / fanIn, "uniform"],
    ["heNormal", nn.heNormal, 2 / fanIn, "truncated"],
    ["lecunNormal", nn.lecunNormal, 1 / fanIn, "truncated"],
    ["lecunUniform", nn.lecunUniform, 1 / fanIn, "uniform"],
  ];
  cases.forEach(([name, init, variance, kind], k) => {
    it(`${name}: variance ${variance.toPrecision(4)} within 5 standard errors, zero mean, ${kind} support`, () => {
      const w = init(nb.random.key(100 + k), shape);
      expect(w.shape).toEqual(shape);
      expect(w.dtype).toBe("float64");
      const s = sampleStats(w);
      const kurtosis = kind === "uniform" ? 1.8 : 3;
      expect(Math.abs(s.variance / variance - 1)).toBeLessThan(5 * Math.sqrt((kurtosis - 1) / s.n));
      expect(Math.abs(s.mean)).toBeLessThan((5 * Math.sqrt(variance)) / Math.sqrt(s.n));
      if (kind === "uniform") {
        const limit = Math.sqrt(3 * variance);
        expect(s.maxAbs).toBeLessThanOrEqual(limit);
        expect(s.maxAbs).toBeGreaterThan(0.999 * limit);
      } else {
        // a normal of std σ/0.8796 truncated at two of its standard deviations
        const bound = (2 * Math.sqrt(variance)) / 0.8796256610342398;
        expect(s.maxAbs).toBeLessThanOrEqual(bound * (1 + 1e-12));
        expect(s.maxAbs).toBeGreaterThan(0.99 * bound);
        // P(|z| < 1 | |z| < 2) = (2Φ(1) − 1)/(2Φ(2) − 1) for the underlying standard normal
        const p = (2 * PHI[1]! - 1) / (2 * PHI[2]! - 1);
        const inside = s.v.filter((a) => Math.abs(a) < bound / 2).length / s.n;
        expect(Math.abs(inside - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / s.n));
      }
    });
  });

  it("dtype option, determinism by key, and bad arguments", () => {
    const a = nn.heNormal(nb.random.key(5), [4, 3], { dtype: "float32" });
    expect(a.dtype).toBe("float32");
    expect(vals(nn.heNormal(nb.random.key(5), [4, 3]))).toEqual(vals(nn.heNormal(nb.random.key(5), [4, 3])));
    expect(vals(nn.heNormal(nb.random.key(6), [4, 3]))).not.toEqual(vals(nn.heNormal(nb.random.key(5), [4, 3])));
    expect(() => nn.glorotUniform(nb.random.key(0), [4, 3], { dtype: "int32" })).toThrow(/^glorotUniform: dtype/);
    expect(() => nn.lecunNormal(nb.random.key(0), [7])).toThrow(/^lecunNormal: shape \[7\]/);
    expect(() => nn.heUniform(nb.random.key(0), [2, 2], { inAxis: 3 })).toThrow(/^heUniform: inAxis 3/);
    expect(() => nn.glorotNormal(nb.array([1, 2, 3], { dtype: "int32" }), [2, 2])).toThrow(/^glorotNormal: /);
  });

  it("a conv kernel's variance follows its fans (OIHW with inAxis 1, outAxis 0)", () => {
    const w = nn.heUniform(nb.random.key(9), [64, 32, 3, 3], { inAxis: 1, outAxis: 0 });
    const s = sampleStats(w);
    const variance = 2 / (32 * 9);
    expect(Math.abs(s.variance / variance - 1)).toBeLessThan(5 * Math.sqrt(0.8 / s.n));
  });

  it("run under vmap over keys (equal to a loop)", () => {
    const keys = nb.random.split(nb.random.key(3), 3);
    const batched = nb.vmap((k: nb.NDArray) => nn.glorotNormal(k, [3, 4]))(keys) as nb.NDArray;
    const loop = [0, 1, 2].flatMap((i) =>
      vals(nn.glorotNormal(nb.reshape(nb.slice(keys, [i, 0], [i + 1, 2]), [2]), [3, 4])),
    );
    expectClose(batched, loop, [3, 3, 4], 1e-15);
    const qs = nb.vmap((k: nb.NDArray) => nn.orthogonal(k, [4, 3]))(keys) as nb.NDArray;
    const qLoop = [0, 1, 2].flatMap((i) =>
      vals(nn.orthogonal(nb.reshape(nb.slice(keys, [i, 0], [i + 1, 2]), [2]), [4, 3])),
    );
    expectClose(qs, qLoop, [3, 4, 3], 1e-13);
  });

  describe("orthogonal", () => {
    const gram = (m: nb.NDArray) => nb.matmul(nb.transpose(m), m);
    it("tall: QᵀQ = I; wide: QQᵀ = I; with scale, scale²·I (to 1e-13)", () => {
      expectClose(gram(nn.orthogonal(nb.random.key(1), [6, 4])), vals(nb.eye(4)), [4, 4], 1e-13);
      expectClose(gram(nb.transpose(nn.orthogonal(nb.random.key(2), [3, 5]))), vals(nb.eye(3)), [3, 3], 1e-13);
      const q = nn.orthogonal(nb.random.key(3), [5, 5], { scale: 2 });
      expectClose(gram(q), vals(nb.mul(nb.eye(5), 4)), [5, 5], 1e-13);
      expectClose(gram(nb.transpose(q)), vals(nb.mul(nb.eye(5), 4)), [5, 5], 1e-13);
    });
    it("conv shapes: the column axis gives the columns, the other axes the rows", () => {
      const hwio = nn.orthogonal(nb.random.key(4), [3, 3, 4, 8]);
      expectClose(gram(nb.reshape(hwio, [36, 8])), vals(nb.eye(8)), [8, 8], 1e-13);
      const oihw = nn.orthogonal(nb.random.key(5), [8, 4, 3, 3], { columnAxis: 0 });
      expect(oihw.shape).toEqual([8, 4, 3, 3]);
      expectClose(gram(nb.reshape(nb.transpose(oihw, [1, 2, 3, 0]), [36, 8])), vals(nb.eye(8)), [8, 8], 1e-13);
    });
    it("entries of a Haar-random [200, 50] Q have mean 0 and variance 1/200", () => {
      const s = sampleStats(nn.orthogonal(nb.random.key(6), [200, 50]));
      expect(Math.abs(s.variance * 200 - 1)).toBeLessThan(5 * Math.sqrt(2 / s.n));
      expect(Math.abs(s.mean)).toBeLessThan(5 * Math.sqrt(1 / 200 / s.n));
    });
    it("float32 output and bad arguments", () => {
      expect(nn.orthogonal(nb.random.key(0), [3, 3], { dtype: "float32" }).dtype).toBe("float32");
      expect(() => nn.orthogonal(nb.random.key(0), [3])).toThrow(/^orthogonal: shape/);
      expect(() => nn.orthogonal(nb.random.key(0), [3, 3], { columnAxis: 2 })).toThrow(/^orthogonal: columnAxis/);
    });
  });
});

describe("options", () => {
  it("an unknown option key (a typo) or a non-boolean flag throws NablaError naming the function", () => {
    const bad = <T>(o: Record<string, unknown>): T => o as T;
    const key = nb.random.key(0);
    expect(() => nn.gelu([1], bad({ approx: false }))).toThrow(
      /^gelu: unknown option "approx" \(the options are "approximate"\)/,
    );
    expect(() => nn.gelu([1], bad({ approximate: "false" }))).toThrow(/^gelu: approximate must be true or false/);
    expect(() => nn.huber([1], [0], bad({ delta_: 2 }))).toThrow(/^huber: unknown option "delta_"/);
    expect(() => nn.oneHot([0], 2, bad({ dtyp: "float32" }))).toThrow(/^oneHot: unknown option "dtyp"/);
    expect(() => nn.heNormal(key, [3, 2], bad({ dtyp: "float32" }))).toThrow(/^heNormal: unknown option "dtyp"/);
    expect(() => nn.orthogonal(key, [3, 2], bad({ column: 0 }))).toThrow(/^orthogonal: unknown option "column"/);
    expect(() => nn.computeFans([3, 2], bad({ in: 0 }))).toThrow(/^computeFans: unknown option "in"/);
    expect(() => nn.gelu([1], bad({ approx: false }))).toThrow(nb.NablaError);
    // the documented keys still work
    expect(nn.gelu([1], { approximate: false }).shape).toEqual([1]);
    expect(nn.heNormal(key, [3, 2], { dtype: "float32", inAxis: 0, outAxis: 1 }).dtype).toBe("float32");
  });
});
