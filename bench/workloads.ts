/**
 * The benchmark workloads: their inputs (seeded, identical for every backend)
 * and their reference outputs, computed here in plain float64 JavaScript,
 * independently of nabla and of every peer.
 */

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
  | "longChain";

export interface Workload {
  /** Stable identifier, used in results.json and by `--filter`. */
  readonly id: string;
  readonly kind: Kind;
  /** One line for the table. */
  readonly title: string;
  /** Sizes and constants (all numbers, so they travel to Python as JSON). */
  readonly params: Readonly<Record<string, number>>;
  readonly inputs: Readonly<Record<string, HostArray>>;
  /** Reference outputs, in the order every backend returns them. */
  readonly reference: () => Float64Array[];
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
      const aip = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += aip * b[p * n + j];
    }
  return c;
}

/** A[m,k]ᵀ @ B[m,n] -> [k,n]. */
function mmTA(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(k * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      for (let j = 0; j < n; j++) c[p * n + j] += aip * b[i * n + j];
    }
  return c;
}

/** A[m,n] @ B[k,n]ᵀ -> [m,k]. */
function mmTB(a: Float64Array, b: Float64Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * k);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * b[p * n + j];
      c[i * k + p] = s;
    }
  return c;
}

function colSum(a: Float64Array, m: number, n: number): Float64Array {
  const s = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) s[j] += a[i * n + j];
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
  const x = uniform([B, D], 31, -1, 1);
  const y = { shape: [B, C], data: new Float64Array(B * C) };
  for (let b = 0; b < B; b++) y.data[b * C + ((b * 7) % C)] = 1;
  const inputs = {
    x,
    y,
    w1: uniform([D, H], 32, -s1, s1),
    b1: uniform([H], 33, -0.1, 0.1),
    w2: uniform([H, H], 34, -s2, s2),
    b2: uniform([H], 35, -0.1, 0.1),
    w3: uniform([H, C], 36, -s2, s2),
    b3: uniform([C], 37, -0.1, 0.1),
  };
  const reference = (): Float64Array[] => {
    const { w1, b1, w2, b2, w3, b3 } = inputs;
    const a1 = mm(x.data, w1.data, B, D, H);
    for (let i = 0; i < B * H; i++) a1[i] = Math.tanh(a1[i] + b1.data[i % H]);
    const a2 = mm(a1, w2.data, B, H, H);
    for (let i = 0; i < B * H; i++) a2[i] = Math.tanh(a2[i] + b2.data[i % H]);
    const z = mm(a2, w3.data, B, H, C);
    // dz = (softmax(z) - y) / B
    const dz = new Float64Array(B * C);
    for (let b = 0; b < B; b++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, z[b * C + c] + b3.data[c]);
      let se = 0;
      for (let c = 0; c < C; c++) se += Math.exp(z[b * C + c] + b3.data[c] - m);
      for (let c = 0; c < C; c++)
        dz[b * C + c] = (Math.exp(z[b * C + c] + b3.data[c] - m) / se - y.data[b * C + c]) / B;
    }
    const gw3 = mmTA(a2, dz, B, H, C);
    const gb3 = colSum(dz, B, C);
    const d2 = mmTB(dz, w3.data, B, C, H);
    for (let i = 0; i < B * H; i++) d2[i] *= 1 - a2[i] * a2[i];
    const gw2 = mmTA(a1, d2, B, H, H);
    const gb2 = colSum(d2, B, H);
    const d1 = mmTB(d2, w2.data, B, H, H);
    for (let i = 0; i < B * H; i++) d1[i] *= 1 - a1[i] * a1[i];
    const gw1 = mmTA(x.data, d1, B, D, H);
    const gb1 = colSum(d1, B, H);
    return [gw1, gb1, gw2, gb2, gw3, gb3];
  };
  return {
    id: "mlp-grad",
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
    kind: "gradGradScalar",
    title: `grad(grad(sin(x)·exp(x))) at ${x0}`,
    params: {},
    inputs: { x },
    reference: () => [Float64Array.of(2 * Math.cos(x.data[0]) * Math.exp(x.data[0]))],
  };
}

/** The elementwise second derivative of f(x) = Σ tanh(sin(x)), as grad(x => sum(grad(f)(x))). */
function gradGradVector(n: number, label: string): Workload {
  const x = uniform([n], 41, -2, 2);
  return {
    id: `gradgrad-vector-${label}`,
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
          for (let k = 0; k < n; k++) s += a.data[k * n + i] * Math.sin(ax[k]) * a.data[k * n + j];
          h[i * n + j] -= s;
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
    kind: "jvp",
    title: `jvp of sin·exp·tanh, n=${label}`,
    params: { n },
    inputs: { x, v },
    reference: () => {
      const p = new Float64Array(n);
      const t = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const [f, df] = chain(x.data[i]);
        p[i] = f;
        t[i] = df * v.data[i];
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
          for (let i = 0; i < D; i++) s += x.data[b * D + i] * w.data[i * H + j];
          h[j] = Math.tanh(s);
          out += h[j] * u.data[j];
        }
        const r = 2 * (out - y.data[b]);
        for (let j = 0; j < H; j++) {
          du[b * H + j] = r * h[j];
          const g = r * u.data[j] * (1 - h[j] * h[j]);
          for (let i = 0; i < D; i++) dw[(b * D + i) * H + j] = g * x.data[b * D + i];
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
    kind: "longChain",
    title: `grad through ${3 * steps} scalar ops`,
    params: { steps, c },
    inputs: { x },
    reference: () => {
      let v = x.data[0];
      let d = 1;
      for (let k = 0; k < steps; k++) {
        d *= 1 + c * Math.cos(v);
        v = v + c * Math.sin(v);
      }
      return [Float64Array.of(d)];
    },
  };
}

/** All workloads, in table order. */
export function workloads(): Workload[] {
  return [
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
