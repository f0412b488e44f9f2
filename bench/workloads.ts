/**
 * The benchmark workloads: their inputs (seeded, identical for every backend)
 * and their reference outputs, computed here in plain float64 JavaScript,
 * independently of nabla and of every peer.
 */
import { at } from "../src/core/errors.js";

/** A host array: row-major float64 data and its shape. */
export interface HostArray {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export type Kind =
  | "elementwise"
  | "matmul"
  | "mlpGrad"
  | "gradGradScalar"
  | "gradGradVector"
  | "hessian"
  | "jvp"
  | "perExampleGrad"
  | "longChain"
  | "gradSumElementwise"
  | "nthDerivScalar"
  | "rosenbrockHessian"
  | "pinnGrad"
  | "jacobian";

export interface Workload {
  /** Stable identifier, used in results.json and by `--filter`. */
  readonly id: string;
  /** "W" for the issue-8 workloads W1–W6 (the default `npm run bench`), "extra" for the older set. */
  readonly suite: "W" | "extra";
  readonly kind: Kind;
  /** One line for the table. */
  readonly title: string;
  /** Sizes and constants (all numbers, so they travel to Python as JSON). */
  readonly params: Readonly<Record<string, number>>;
  readonly inputs: Readonly<Record<string, HostArray>>;
  /** Reference outputs, in the order every backend returns them. */
  readonly reference: () => Float64Array[];
}

/**
 * A backend's copies of the workload's inputs, converted once by `convert`: `input(name)` looks one
 * up (a name the workload lacks is a bug in the backend, so it throws), `all` lists them for disposal.
 */
export function convertInputs<A>(w: Workload, convert: (h: HostArray) => A): { input: (name: string) => A; all: A[] } {
  const arrays = new Map(Object.entries(w.inputs).map(([k, h]) => [k, convert(h)] as const));
  const input = (name: string): A => {
    const a = arrays.get(name);
    if (a === undefined) throw new Error(`workload ${w.id} has no input ${name}`);
    return a;
  };
  return { input, all: [...arrays.values()] };
}

/** The workload's size or constant `name` (a name it lacks is a bug in the backend, so it throws). */
export function param(w: Workload, name: string): number {
  const v = w.params[name];
  if (v === undefined) throw new Error(`workload ${w.id} has no parameter ${name}`);
  return v;
}

// ---------------------------------------------------------------------------
// Seeded inputs

/** mulberry32: a small deterministic PRNG; returns floats in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi); rounded to float32 so both dtypes see the same inputs. */
function uniform(shape: readonly number[], seed: number, lo: number, hi: number): HostArray {
  const n = shape.reduce((p, d) => p * d, 1);
  const r = rng(seed);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(lo + (hi - lo) * r());
  return { shape, data };
}

function scalarInput(v: number): HostArray {
  return { shape: [], data: Float64Array.of(Math.fround(v)) };
}

// ---------------------------------------------------------------------------
// Reference helpers (float64, plain loops)

/** C[m,n] = A[m,k] @ B[k,n]. */
function mm(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const aip = at(a, i * k + p);
      for (let j = 0; j < n; j++) c[i * n + j] = at(c, i * n + j) + aip * at(b, p * n + j);
    }
  return c;
}

/** A[m,k]ᵀ @ B[m,n] -> [k,n]. */
function mmTA(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(k * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const aip = at(a, i * k + p);
      for (let j = 0; j < n; j++) c[p * n + j] = at(c, p * n + j) + aip * at(b, i * n + j);
    }
  return c;
}

/** A[m,n] @ B[k,n]ᵀ -> [m,k]. */
function mmTB(a: Float64Array, b: Float64Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * k);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += at(a, i * n + j) * at(b, p * n + j);
      c[i * k + p] = s;
    }
  return c;
}

function colSum(a: Float64Array, m: number, n: number): Float64Array {
  const s = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) s[j] = at(s, j) + at(a, i * n + j);
  return s;
}

/** f(x) = sin(x)·exp(x)·tanh(x) and its derivative. */
function chain(x: number): [number, number] {
  const s = Math.sin(x);
  const e = Math.exp(x);
  const t = Math.tanh(x);
  return [s * e * t, Math.cos(x) * e * t + s * e * t + s * e * (1 - t * t)];
}

// ---------------------------------------------------------------------------
// The workloads

function elementwise(n: number, label: string): Workload {
  const x = uniform([n], 11, -2, 2);
  return {
    id: `elementwise-${label}`,
    suite: "extra",
    kind: "elementwise",
    title: `sin(x)·exp(x)·tanh(x), n=${label}`,
    params: { n },
    inputs: { x },
    reference: () => [x.data.map((v) => chain(v)[0])],
  };
}

function matmul(n: number): Workload {
  const a = uniform([n, n], 21, -1, 1);
  const b = uniform([n, n], 22, -1, 1);
  return {
    id: `matmul-${n}`,
    suite: "extra",
    kind: "matmul",
    title: `matmul ${n}x${n} @ ${n}x${n}`,
    params: { n },
    inputs: { a, b },
    reference: () => [mm(a.data, b.data, n, n, n)],
  };
}

/**
 * grad of a 2-hidden-layer tanh MLP's softmax cross-entropy loss with respect
 * to all six parameter arrays (batch B, input D, hidden H, classes C):
 * h1 = tanh(x W1 + b1), h2 = tanh(h1 W2 + b2), z = h2 W3 + b3,
 * loss = -mean_b Σ_c y[b,c] · logSoftmax(z)[b,c].
 */
function mlpGrad(B: number, D: number, H: number, C: number): Workload {
  const s1 = 1 / Math.sqrt(D);
  const s2 = 1 / Math.sqrt(H);
  return mlpWorkload("mlp-grad", "extra", B, D, H, C, {
    x: uniform([B, D], 31, -1, 1),
    w1: uniform([D, H], 32, -s1, s1),
    b1: uniform([H], 33, -0.1, 0.1),
    w2: uniform([H, H], 34, -s2, s2),
    b2: uniform([H], 35, -0.1, 0.1),
    w3: uniform([H, C], 36, -s2, s2),
    b3: uniform([C], 37, -0.1, 0.1),
  });
}

type MlpInputs = Record<"x" | "w1" | "b1" | "w2" | "b2" | "w3" | "b3", HostArray>;

/** The MLP-gradient workload over given inputs; labels are one-hot, class (7b mod C) for row b. */
function mlpWorkload(
  id: string,
  suite: Workload["suite"],
  B: number,
  D: number,
  H: number,
  C: number,
  params: MlpInputs,
): Workload {
  const x = params.x;
  const y = { shape: [B, C], data: new Float64Array(B * C) };
  for (let b = 0; b < B; b++) y.data[b * C + ((b * 7) % C)] = 1;
  const inputs = { ...params, y };
  const reference = (): Float64Array[] => {
    const { w1, b1, w2, b2, w3, b3 } = inputs;
    const a1 = mm(x.data, w1.data, B, D, H);
    for (let i = 0; i < B * H; i++) a1[i] = Math.tanh(at(a1, i) + at(b1.data, i % H));
    const a2 = mm(a1, w2.data, B, H, H);
    for (let i = 0; i < B * H; i++) a2[i] = Math.tanh(at(a2, i) + at(b2.data, i % H));
    const z = mm(a2, w3.data, B, H, C);
    // dz = (softmax(z) - y) / B
    const dz = new Float64Array(B * C);
    for (let b = 0; b < B; b++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, at(z, b * C + c) + at(b3.data, c));
      let se = 0;
      for (let c = 0; c < C; c++) se += Math.exp(at(z, b * C + c) + at(b3.data, c) - m);
      for (let c = 0; c < C; c++)
        dz[b * C + c] = (Math.exp(at(z, b * C + c) + at(b3.data, c) - m) / se - at(y.data, b * C + c)) / B;
    }
    const gw3 = mmTA(a2, dz, B, H, C);
    const gb3 = colSum(dz, B, C);
    const d2 = mmTB(dz, w3.data, B, C, H);
    for (let i = 0; i < B * H; i++) d2[i] = at(d2, i) * (1 - at(a2, i) * at(a2, i));
    const gw2 = mmTA(a1, d2, B, H, H);
    const gb2 = colSum(d2, B, H);
    const d1 = mmTB(d2, w2.data, B, H, H);
    for (let i = 0; i < B * H; i++) d1[i] = at(d1, i) * (1 - at(a1, i) * at(a1, i));
    const gw1 = mmTA(x.data, d1, B, D, H);
    const gb1 = colSum(d1, B, H);
    return [gw1, gb1, gw2, gb2, gw3, gb3];
  };
  return {
    id,
    suite,
    kind: "mlpGrad",
    title: `grad MLP loss (batch ${B}, ${D}-${H}-${H}-${C})`,
    params: { B, D, H, C },
    inputs,
    reference,
  };
}

/** grad(grad(f))(x0) for the scalar f(x) = sin(x)·exp(x); f'' = 2 cos(x) e^x. */
function gradGradScalar(x0: number): Workload {
  const x = scalarInput(x0);
  return {
    id: "gradgrad-scalar",
    suite: "extra",
    kind: "gradGradScalar",
    title: `grad(grad(sin(x)·exp(x))) at ${x0}`,
    params: {},
    inputs: { x },
    reference: () => [Float64Array.of(2 * Math.cos(at(x.data, 0)) * Math.exp(at(x.data, 0)))],
  };
}

/** The elementwise second derivative of f(x) = Σ tanh(sin(x)), as grad(x => sum(grad(f)(x))). */
function gradGradVector(n: number, label: string): Workload {
  const x = uniform([n], 41, -2, 2);
  return {
    id: `gradgrad-vector-${label}`,
    suite: "extra",
    kind: "gradGradVector",
    title: `grad(sum∘grad(Σ tanh(sin x))), n=${label}`,
    params: { n },
    inputs: { x },
    reference: () => [
      x.data.map((v) => {
        const t = Math.tanh(Math.sin(v));
        const c = Math.cos(v);
        return -2 * t * (1 - t * t) * c * c - (1 - t * t) * Math.sin(v);
      }),
    ],
  };
}

/** Hessian of f(x) = Σ sin(A x) + ½ Σ x²; H = I - Aᵀ diag(sin(Ax)) A. */
function hessian(n: number): Workload {
  const a = uniform([n, n], 51, -1 / Math.sqrt(n), 1 / Math.sqrt(n));
  const x = uniform([n], 52, -1, 1);
  return {
    id: `hessian-${n}`,
    suite: "extra",
    kind: "hessian",
    title: `hessian of Σ sin(Ax) + ½|x|², n=${n}`,
    params: { n },
    inputs: { a, x },
    reference: () => {
      const ax = mm(a.data, x.data, n, n, 1);
      const h = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        h[i * n + i] = 1;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += at(a.data, k * n + i) * Math.sin(at(ax, k)) * at(a.data, k * n + j);
          h[i * n + j] = at(h, i * n + j) - s;
        }
      }
      return [h];
    },
  };
}

/** jvp of the elementwise chain: returns [f(x), f'(x)·v]. */
function jvp(n: number, label: string): Workload {
  const x = uniform([n], 61, -2, 2);
  const v = uniform([n], 62, -1, 1);
  return {
    id: `jvp-${label}`,
    suite: "extra",
    kind: "jvp",
    title: `jvp of sin·exp·tanh, n=${label}`,
    params: { n },
    inputs: { x, v },
    reference: () => {
      const p = new Float64Array(n);
      const t = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const [f, df] = chain(at(x.data, i));
        p[i] = f;
        t[i] = df * at(v.data, i);
      }
      return [p, t];
    },
  };
}

/**
 * Per-example gradients, vmap(grad(loss), inAxes [null, 0, 0]), for
 * loss(params, x, y) = (tanh(x W) · u - y)² with W [D,H], u [H], x [D].
 * Outputs: dW [B,D,H], du [B,H].
 */
function perExampleGrad(B: number, D: number, H: number): Workload {
  const inputs = {
    w: uniform([D, H], 71, -1 / Math.sqrt(D), 1 / Math.sqrt(D)),
    u: uniform([H], 72, -1 / Math.sqrt(H), 1 / Math.sqrt(H)),
    x: uniform([B, D], 73, -1, 1),
    y: uniform([B], 74, -1, 1),
  };
  return {
    id: "per-example-grad",
    suite: "extra",
    kind: "perExampleGrad",
    title: `vmap(grad) per-example, B=${B}, ${D}->${H}->1`,
    params: { B, D, H },
    inputs,
    reference: () => {
      const { w, u, x, y } = inputs;
      const dw = new Float64Array(B * D * H);
      const du = new Float64Array(B * H);
      const h = new Float64Array(H);
      for (let b = 0; b < B; b++) {
        let out = 0;
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let i = 0; i < D; i++) s += at(x.data, b * D + i) * at(w.data, i * H + j);
          h[j] = Math.tanh(s);
          out += at(h, j) * at(u.data, j);
        }
        const r = 2 * (out - at(y.data, b));
        for (let j = 0; j < H; j++) {
          du[b * H + j] = r * at(h, j);
          const g = r * at(u.data, j) * (1 - at(h, j) * at(h, j));
          for (let i = 0; i < D; i++) dw[(b * D + i) * H + j] = g * at(x.data, b * D + i);
        }
      }
      return [dw, du];
    },
  };
}

/**
 * d x_K / d x_0 through K steps of x ← x + c·sin(x) (3 scalar ops per step), from x_0 = 0.3;
 * c·K ≈ 3.3 keeps the derivative near 1.5 for both lengths.
 */
function longChain(steps: number, c: number, label: string): Workload {
  const x = scalarInput(0.3);
  return {
    id: `long-chain-${label}`,
    suite: "extra",
    kind: "longChain",
    title: `grad through ${3 * steps} scalar ops`,
    params: { steps, c },
    inputs: { x },
    reference: () => {
      let v = at(x.data, 0);
      let d = 1;
      for (let k = 0; k < steps; k++) {
        d *= 1 + c * Math.cos(v);
        v = v + c * Math.sin(v);
      }
      return [Float64Array.of(d)];
    },
  };
}

// ---------------------------------------------------------------------------
// Issue 8's workloads W1–W6

/** W1: grad of Σ (tanh(x)·x + sin(x)²); d/dx = (1 − tanh²x)·x + tanh x + 2 sin x cos x. */
function w1(n: number): Workload {
  const x = uniform([n], 101, -2, 2);
  return {
    id: "W1-elementwise-grad",
    suite: "W",
    kind: "gradSumElementwise",
    title: `W1 grad Σ(tanh(x)·x + sin(x)²), n=${n >= 1e5 && Number.isInteger(Math.log10(n)) ? `1e${Math.log10(n)}` : n}`,
    params: { n },
    inputs: { x },
    reference: () => [
      x.data.map((v) => {
        const t = Math.tanh(v);
        return (1 - t * t) * v + t + 2 * Math.sin(v) * Math.cos(v);
      }),
    ],
  };
}

/** W2: the MLP 784→512→512→10, batch 128 (by default); weights 0.05·U[−1, 1), biases 0, inputs U[0, 1). */
function w2(B = 128, D = 784, H = 512, C = 10): Workload {
  const zeros = (n: number): HostArray => ({ shape: [n], data: new Float64Array(n) });
  const w = mlpWorkload("W2-mlp-grad", "W", B, D, H, C, {
    x: uniform([B, D], 201, 0, 1),
    w1: uniform([D, H], 202, -0.05, 0.05),
    b1: zeros(H),
    w2: uniform([H, H], 203, -0.05, 0.05),
    b2: zeros(H),
    w3: uniform([H, C], 204, -0.05, 0.05),
    b3: zeros(C),
  });
  return { ...w, title: `W2 grad MLP ${D}→${H}→${H}→${C}, batch ${B}` };
}

/** W3: d⁴/dx⁴ of sin(x)·eˣ by nested grad = −4 eˣ sin x. */
function w3(x0: number): Workload {
  const x = scalarInput(x0);
  return {
    id: "W3-4th-derivative",
    suite: "W",
    kind: "nthDerivScalar",
    title: `W3 4th derivative of sin(x)·exp(x) at ${x0}, per call`,
    params: { order: 4 },
    inputs: { x },
    reference: () => [Float64Array.of(-4 * Math.exp(at(x.data, 0)) * Math.sin(at(x.data, 0)))],
  };
}

/**
 * W4: Hessian of Rosenbrock f(x) = Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², written with slices.
 * Tridiagonal: Hᵢᵢ = [i<n−1](1200xᵢ² − 400xᵢ₊₁ + 2) + [i>0]·200, Hᵢ,ᵢ₊₁ = −400xᵢ.
 */
function w4(n: number): Workload {
  const x = uniform([n], 401, -1.5, 1.5);
  return {
    id: "W4-rosenbrock-hessian",
    suite: "W",
    kind: "rosenbrockHessian",
    title: `W4 hessian of Rosenbrock, n=${n}`,
    params: { n },
    inputs: { x },
    reference: () => {
      const v = x.data;
      const h = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        if (i < n - 1) {
          h[i * n + i] = at(h, i * n + i) + 1200 * at(v, i) * at(v, i) - 400 * at(v, i + 1) + 2;
          h[i * n + i + 1] = h[(i + 1) * n + i] = -400 * at(v, i);
        }
        if (i > 0) h[i * n + i] = at(h, i * n + i) + 200;
      }
      return [h];
    },
  };
}

/**
 * The reference gradient of W5's loss, by hand: per point, with a = pW1, h1 = tanh a, b = h1W2,
 * h2 = tanh b, u = h2·w3, s = 1 − h², d1 = −2h1s1, Bₖₘ = Σⱼ W2ⱼₘ s1ⱼ W1ₖⱼ (= ∂bₘ/∂pₖ) and
 * Cₖₘ = Σⱼ W2ⱼₘ d1ⱼ W1ₖⱼ² (= ∂²bₘ/∂pₖ²), the Laplacian is Δu = Σₘ w3ₘ (s2ₘ ΣₖCₖₘ − 2h2ₘs2ₘ ΣₖBₖₘ²);
 * its reverse sweep is written out below.
 */
function pinnReference(P: HostArray, W1: HostArray, W2: HostArray, w3: HostArray, N: number, K: number, J: number) {
  const M = J;
  const g1 = new Float64Array(K * J);
  const g2 = new Float64Array(J * M);
  const g3 = new Float64Array(M);
  const vec = (): Float64Array => new Float64Array(J);
  const [h1, s1, d1, h2, s2, sC, sB2] = [vec(), vec(), vec(), vec(), vec(), vec(), vec()];
  const Bk = new Float64Array(K * M);
  const Ck = new Float64Array(K * M);
  const gh1 = new Float64Array(J);
  const gs1 = new Float64Array(J);
  const gd1 = new Float64Array(J);
  for (let n = 0; n < N; n++) {
    const p = P.data.subarray(n * K, n * K + K);
    for (let j = 0; j < J; j++) {
      let a = 0;
      for (let k = 0; k < K; k++) a += at(p, k) * at(W1.data, k * J + j);
      h1[j] = Math.tanh(a);
      s1[j] = 1 - at(h1, j) * at(h1, j);
      d1[j] = -2 * at(h1, j) * at(s1, j);
    }
    Bk.fill(0);
    Ck.fill(0);
    let L = 0;
    for (let m = 0; m < M; m++) {
      let b = 0;
      for (let j = 0; j < J; j++) b += at(h1, j) * at(W2.data, j * M + m);
      h2[m] = Math.tanh(b);
      s2[m] = 1 - at(h2, m) * at(h2, m);
      sC[m] = 0;
      sB2[m] = 0;
      for (let k = 0; k < K; k++) {
        let bb = 0;
        let cc = 0;
        for (let j = 0; j < J; j++) {
          const w1 = at(W1.data, k * J + j);
          bb += at(W2.data, j * M + m) * at(s1, j) * w1;
          cc += at(W2.data, j * M + m) * at(d1, j) * w1 * w1;
        }
        Bk[k * M + m] = bb;
        Ck[k * M + m] = cc;
        sC[m] = at(sC, m) + cc;
        sB2[m] = at(sB2, m) + bb * bb;
      }
      L += at(w3.data, m) * (at(s2, m) * at(sC, m) - 2 * at(h2, m) * at(s2, m) * at(sB2, m));
    }
    const gL = (2 * L) / N;
    gh1.fill(0);
    gs1.fill(0);
    gd1.fill(0);
    for (let m = 0; m < M; m++) {
      const t = at(w3.data, m);
      g3[m] = at(g3, m) + gL * (at(s2, m) * at(sC, m) - 2 * at(h2, m) * at(s2, m) * at(sB2, m));
      const gb = gL * t * (-2 * at(h2, m) * at(sC, m) - 2 * (1 - 3 * at(h2, m) * at(h2, m)) * at(sB2, m)) * at(s2, m);
      const gC = gL * t * at(s2, m);
      const gSB2 = gL * t * (-2 * at(h2, m) * at(s2, m));
      for (let j = 0; j < J; j++) {
        const w2 = at(W2.data, j * M + m);
        g2[j * M + m] = at(g2, j * M + m) + gb * at(h1, j);
        gh1[j] = at(gh1, j) + gb * w2;
        for (let k = 0; k < K; k++) {
          const w1 = at(W1.data, k * J + j);
          const gB = gSB2 * 2 * at(Bk, k * M + m);
          g2[j * M + m] = at(g2, j * M + m) + gB * at(s1, j) * w1 + gC * at(d1, j) * w1 * w1;
          gs1[j] = at(gs1, j) + gB * w2 * w1;
          gd1[j] = at(gd1, j) + gC * w2 * w1 * w1;
          g1[k * J + j] = at(g1, k * J + j) + gB * w2 * at(s1, j) + gC * w2 * at(d1, j) * 2 * w1;
        }
      }
    }
    for (let j = 0; j < J; j++) {
      const g = at(gh1, j) + at(gs1, j) * (-2 * at(h1, j)) + at(gd1, j) * (-2 + 6 * at(h1, j) * at(h1, j));
      const ga = g * at(s1, j);
      for (let k = 0; k < K; k++) g1[k * J + j] = at(g1, k * J + j) + ga * at(p, k);
    }
  }
  return [g1, g2, g3];
}

/** W5: PINN loss mean((Δu)²), u = tanh(tanh(p·W1)·W2)·w3, over N points p in [−1, 1)²; grad in (W1, W2, w3). */
function w5(N: number, J: number): Workload {
  const K = 2;
  const inputs = {
    p: uniform([N, K], 501, -1, 1),
    W1: uniform([K, J], 502, -1, 1),
    W2: uniform([J, J], 503, -1 / Math.sqrt(J), 1 / Math.sqrt(J)),
    w3: uniform([J], 504, -1 / Math.sqrt(J), 1 / Math.sqrt(J)),
  };
  return {
    id: "W5-pinn-grad",
    suite: "W",
    kind: "pinnGrad",
    title: `W5 grad of mean(Δu²), vmap(hessian), ${N} points, 2-${J}-${J}-1`,
    params: { N, J },
    inputs,
    reference: () => pinnReference(inputs.p, inputs.W1, inputs.W2, inputs.w3, N, K, J),
  };
}

/** W6: Jacobian of x ↦ tanh(Wx + b), J = diag(1 − tanh²(Wx + b))·W, by jacfwd or jacrev. */
function w6(n: number, mode: "jacfwd" | "jacrev"): Workload {
  const inputs = {
    w: uniform([n, n], 601, -1 / Math.sqrt(n), 1 / Math.sqrt(n)),
    b: uniform([n], 602, -0.5, 0.5),
    x: uniform([n], 603, -1, 1),
  };
  return {
    id: `W6-${mode}`,
    suite: "W",
    kind: "jacobian",
    title: `W6 ${mode} of tanh(Wx + b), ${n}x${n}`,
    params: { n, forward: mode === "jacfwd" ? 1 : 0 },
    inputs,
    reference: () => {
      const { w, b, x } = inputs;
      const jac = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        let z = at(b.data, i);
        for (let j = 0; j < n; j++) z += at(w.data, i * n + j) * at(x.data, j);
        const t = Math.tanh(z);
        for (let j = 0; j < n; j++) jac[i * n + j] = (1 - t * t) * at(w.data, i * n + j);
      }
      return [jac];
    },
  };
}

/**
 * W1–W6 at issue 8's sizes ("full"), or reduced for slow devices ("small": the WebGPU bench's
 * `--small` on a software adapter) and smoke tests ("tiny"); the ids stay the same.
 */
export function wWorkloads(size: "full" | "small" | "tiny" = "full"): Workload[] {
  if (size === "small")
    return [w1(100_000), w2(32, 196, 128, 10), w3(0.7), w4(100), w5(64, 16), w6(50, "jacfwd"), w6(50, "jacrev")];
  if (size === "tiny")
    return [w1(1000), w2(8, 16, 16, 10), w3(0.7), w4(12), w5(6, 8), w6(8, "jacfwd"), w6(8, "jacrev")];
  return [w1(1_000_000), w2(), w3(0.7), w4(200), w5(256, 32), w6(100, "jacfwd"), w6(100, "jacrev")];
}

/** All workloads, in table order. */
export function workloads(): Workload[] {
  return [
    ...wWorkloads("full"),
    elementwise(100_000, "1e5"),
    elementwise(1_000_000, "1e6"),
    matmul(128),
    matmul(256),
    mlpGrad(64, 128, 128, 10),
    gradGradScalar(0.7),
    gradGradVector(100_000, "1e5"),
    hessian(100),
    jvp(100_000, "1e5"),
    perExampleGrad(128, 32, 64),
    longChain(334, 0.01, "1k"),
    longChain(3334, 0.001, "10k"),
  ];
}
