/**
 * The page behind test/webgpuApi.test.ts, run in headless Chromium on
 * SwiftShader: every public function of the "." entry (with nb.linalg,
 * nb.random, nb.debug, nb.tree), of nabla/nn and of nabla/optim is called
 * with float32 arrays on "cpu" and the same arrays on "webgpu". Each case
 * reports the GPU call's error (a synchronous read of a GPU array throws
 * DeviceError) or how far its outputs are from the CPU's; the page also
 * reports the names each module exports, so that the test fails for a new
 * export without a case here. Reports `{ noAdapter }` or
 * `{ exports, cases }` through `window.__result`.
 */
import * as nb from "../../src/index.js";
import * as nn from "../../src/nn/index.js";
import * as optim from "../../src/optim/index.js";

type A = nb.NDArray;
const w = window as unknown as { __result?: unknown };

/** mulberry32, as test/support/rng.ts (that module imports vitest, which a page cannot). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = seeded(11);

/** float32 CPU array of `shape`, uniform in [lo, hi). */
function u(shape: number[], lo = -1, hi = 1): A {
  const n = shape.reduce((p, d) => p * d, 1);
  return nb.array(
    Array.from({ length: n }, () => lo + (hi - lo) * rnd()),
    { dtype: "float32", shape },
  );
}
const f32 = (x: nb.Nested): A => nb.array(x, { dtype: "float32" });
const i32 = (x: nb.Nested): A => nb.array(x, { dtype: "int32" });
const bool = (x: nb.Nested): A => nb.array(x, { dtype: "bool" });
/** A well-conditioned symmetric positive definite float32 n x n matrix. */
function spd(n: number): A {
  const m = u([n, n]);
  return nb.astype(nb.add(nb.matmul(m, nb.transpose(m)), nb.mul(nb.eye(n, n, { dtype: "float32" }), n)), "float32");
}
/** A well-conditioned float32 n x n matrix (diagonally dominant). */
function wellConditioned(n: number): A {
  return nb.add(u([n, n]), nb.mul(nb.eye(n, n, { dtype: "float32" }), n));
}

/** One call: `f` applied to `args` (trees of arrays) on the CPU, then to the same trees put on "webgpu". */
interface Case {
  args: unknown[];
  f: (...xs: never[]) => unknown;
  /** Outputs that are uncommitted CPU arrays by design (creation functions): not required on "webgpu". */
  cpuOutput?: boolean;
  /** Float outputs that are float64 on the CPU and float32 on "webgpu" (which has no float64). */
  float64OnCpu?: boolean;
}

const S = (x: A): A => nb.sum(nb.mul(x, x));
const key = nb.random.key(0);
const k1 = nb.random.key(1);

/**
 * The cases, by `namespace.name` (a `#variant` suffix for more than one case of a function). Every
 * exported function has one (the test checks it against the page's `exports`).
 */
const CASES: Record<string, Case> = {
  // --- creation (their results are uncommitted CPU arrays; those taking arrays follow them)
  "nb.array": { args: [u([3])], f: (x: A) => nb.array(x) },
  "nb.array#literal": { args: [], f: () => nb.array([1, 2, 3]), cpuOutput: true },
  "nb.full": { args: [], f: () => nb.full([2, 3], 1.5, { dtype: "float32" }), cpuOutput: true },
  "nb.zeros": { args: [], f: () => nb.zeros([2, 3], { dtype: "float32" }), cpuOutput: true },
  "nb.ones": { args: [], f: () => nb.ones([2, 3], { dtype: "float32" }), cpuOutput: true },
  // uncommitted CPU arrays as the other creation functions (docs/webgpu.md, "Placement")
  "nb.zerosLike": { args: [u([2, 3])], f: (x: A) => nb.zerosLike(x), cpuOutput: true },
  "nb.onesLike": { args: [u([2, 3])], f: (x: A) => nb.onesLike(x), cpuOutput: true },
  "nb.arange": { args: [], f: () => nb.arange(0, 1, 0.25), cpuOutput: true },
  "nb.linspace": { args: [], f: () => nb.linspace(0, 1, 5), cpuOutput: true },
  "nb.eye": { args: [], f: () => nb.eye(3, 4, { dtype: "float32" }), cpuOutput: true },
  "nb.meshgrid": { args: [u([3]), u([2])], f: (a: A, b: A) => nb.meshgrid(a, b, { indexing: "ij" }) },
  "nb.astype": { args: [u([5], -3, 3)], f: (x: A) => [nb.astype(x, "int32"), nb.astype(x, "bool")] },
  // --- elementwise
  "nb.neg": { args: [u([7])], f: (x: A) => nb.neg(x) },
  "nb.exp": { args: [u([7], -3, 3)], f: (x: A) => nb.exp(x) },
  "nb.log": { args: [u([7], 0.1, 5)], f: (x: A) => nb.log(x) },
  "nb.log1p": { args: [u([7], -0.5, 5)], f: (x: A) => nb.log1p(x) },
  "nb.expm1": { args: [u([7], -3, 3)], f: (x: A) => nb.expm1(x) },
  "nb.sin": { args: [u([7], -3, 3)], f: (x: A) => nb.sin(x) },
  "nb.cos": { args: [u([7], -3, 3)], f: (x: A) => nb.cos(x) },
  "nb.tan": { args: [u([7], -1.2, 1.2)], f: (x: A) => nb.tan(x) },
  "nb.tanh": { args: [u([7], -3, 3)], f: (x: A) => nb.tanh(x) },
  "nb.sinh": { args: [u([7], -3, 3)], f: (x: A) => nb.sinh(x) },
  "nb.cosh": { args: [u([7], -3, 3)], f: (x: A) => nb.cosh(x) },
  "nb.arcsin": { args: [u([7])], f: (x: A) => nb.arcsin(x) },
  "nb.arccos": { args: [u([7])], f: (x: A) => nb.arccos(x) },
  "nb.arctan": { args: [u([7], -5, 5)], f: (x: A) => nb.arctan(x) },
  "nb.sqrt": { args: [u([7], 0, 5)], f: (x: A) => nb.sqrt(x) },
  "nb.square": { args: [u([7])], f: (x: A) => nb.square(x) },
  "nb.reciprocal": { args: [u([7], 0.5, 3)], f: (x: A) => nb.reciprocal(x) },
  "nb.abs": { args: [u([7])], f: (x: A) => nb.abs(x) },
  "nb.sign": { args: [f32([-2, 0, 3])], f: (x: A) => nb.sign(x) },
  "nb.floor": { args: [u([7], -3, 3)], f: (x: A) => nb.floor(x) },
  "nb.ceil": { args: [u([7], -3, 3)], f: (x: A) => nb.ceil(x) },
  "nb.round": { args: [f32([-2.5, -0.4, 0.5, 1.5, 2.7])], f: (x: A) => nb.round(x) },
  "nb.sigmoid": { args: [u([7], -5, 5)], f: (x: A) => nb.sigmoid(x) },
  "nb.relu": { args: [u([7])], f: (x: A) => nb.relu(x) },
  "nb.softplus": { args: [u([7], -5, 5)], f: (x: A) => nb.softplus(x) },
  "nb.erf": { args: [u([7], -2, 2)], f: (x: A) => nb.erf(x) },
  "nb.add": { args: [u([2, 3]), u([3])], f: (x: A, y: A) => nb.add(x, y) },
  "nb.sub": { args: [u([2, 3]), u([3])], f: (x: A, y: A) => nb.sub(x, y) },
  "nb.mul": { args: [u([2, 3]), u([3])], f: (x: A, y: A) => nb.mul(x, y) },
  "nb.div": { args: [u([2, 3]), u([3], 1, 2)], f: (x: A, y: A) => nb.div(x, y) },
  "nb.pow": { args: [u([4], 0.5, 2), u([4], -2, 2)], f: (x: A, y: A) => [nb.pow(x, y), nb.pow(x, 3)] },
  "nb.pow#int": { args: [i32([1, -2, 3])], f: (x: A) => nb.pow(x, 3) },
  "nb.maximum": { args: [u([5]), u([5])], f: (x: A, y: A) => nb.maximum(x, y) },
  "nb.minimum": { args: [u([5]), u([5])], f: (x: A, y: A) => nb.minimum(x, y) },
  "nb.arctan2": { args: [u([5]), u([5])], f: (y: A, x: A) => nb.arctan2(y, x) },
  "nb.equal": { args: [f32([1, 2, 3]), f32([1, 0, 3])], f: (x: A, y: A) => nb.equal(x, y) },
  "nb.notEqual": { args: [f32([1, 2, 3]), f32([1, 0, 3])], f: (x: A, y: A) => nb.notEqual(x, y) },
  "nb.less": { args: [u([5]), u([5])], f: (x: A, y: A) => nb.less(x, y) },
  "nb.lessEqual": { args: [f32([1, 2, 3]), f32([1, 3, 2])], f: (x: A, y: A) => nb.lessEqual(x, y) },
  "nb.greater": { args: [u([5]), u([5])], f: (x: A, y: A) => nb.greater(x, y) },
  "nb.greaterEqual": { args: [f32([1, 2, 3]), f32([1, 3, 2])], f: (x: A, y: A) => nb.greaterEqual(x, y) },
  "nb.logicalAnd": {
    args: [bool([true, false, true]), bool([true, true, false])],
    f: (x: A, y: A) => nb.logicalAnd(x, y),
  },
  "nb.logicalOr": {
    args: [bool([true, false, false]), bool([false, false, true])],
    f: (x: A, y: A) => nb.logicalOr(x, y),
  },
  "nb.logicalNot": { args: [bool([true, false])], f: (x: A) => nb.logicalNot(x) },
  "nb.where": { args: [bool([true, false, true]), u([3]), u([3])], f: (c: A, x: A, y: A) => nb.where(c, x, y) },
  "nb.clip": { args: [u([6], -2, 2)], f: (x: A) => nb.clip(x, -0.5, 0.5) },
  "nb.clip#arrays": { args: [u([6], -2, 2), f32(-0.5), f32(0.7)], f: (x: A, lo: A, hi: A) => nb.clip(x, lo, hi) },
  "nb.stopGradient": { args: [u([3])], f: (x: A) => nb.stopGradient(x) },
  // --- statistics and float tests
  "nb.std": { args: [u([3, 4])], f: (x: A) => [nb.std(x), nb.std(x, 1, true, 1)] },
  "nb.var": { args: [u([3, 4])], f: (x: A) => [nb.var(x), nb.var(x, 0)] },
  "nb.isnan": { args: [f32([NaN, 1, Infinity])], f: (x: A) => nb.isnan(x) },
  "nb.isinf": { args: [f32([NaN, 1, -Infinity])], f: (x: A) => nb.isinf(x) },
  "nb.isfinite": { args: [f32([NaN, 1, Infinity])], f: (x: A) => nb.isfinite(x) },
  "nb.nanToNum": { args: [f32([NaN, 1, Infinity, -Infinity])], f: (x: A) => nb.nanToNum(x, { posinf: 9, neginf: -9 }) },
  "nb.isclose": { args: [f32([1, 2, 3]), f32([1, 2.5, 3])], f: (x: A, y: A) => nb.isclose(x, y) },
  "nb.allclose": { args: [f32([1, 2, 3]), f32([1, 2, 3])], f: (x: A, y: A) => nb.allclose(x, y) },
  // --- special functions
  "nb.lgamma": { args: [u([5], 0.5, 6)], f: (x: A) => nb.lgamma(x) },
  "nb.digamma": { args: [u([5], 0.5, 6)], f: (x: A) => nb.digamma(x) },
  "nb.erfc": { args: [u([5], -2, 2)], f: (x: A) => nb.erfc(x) },
  "nb.erfinv": { args: [u([5], -0.9, 0.9)], f: (x: A) => nb.erfinv(x) },
  "nb.logit": { args: [u([5], 0.1, 0.9)], f: (x: A) => nb.logit(x) },
  "nb.xlogy": { args: [f32([0, 1, 2]), f32([0, 2, 3])], f: (x: A, y: A) => nb.xlogy(x, y) },
  "nb.xlog1py": { args: [f32([0, 1, 2]), f32([-1, 2, 3])], f: (x: A, y: A) => nb.xlog1py(x, y) },
  // --- reductions
  "nb.sum": { args: [u([3, 4])], f: (x: A) => [nb.sum(x), nb.sum(x, 1), nb.sum(x, [0, 1], true)] },
  "nb.mean": { args: [u([3, 4])], f: (x: A) => [nb.mean(x), nb.mean(x, 0)] },
  "nb.prod": { args: [u([3, 4], 0.5, 1.5)], f: (x: A) => [nb.prod(x), nb.prod(x, 1)] },
  "nb.max": { args: [u([3, 4])], f: (x: A) => [nb.max(x), nb.max(x, 1)] },
  "nb.min": { args: [u([3, 4])], f: (x: A) => [nb.min(x), nb.min(x, 0, true)] },
  "nb.logsumexp": { args: [u([3, 4], -5, 5)], f: (x: A) => [nb.logsumexp(x), nb.logsumexp(x, 1)] },
  "nb.argmax": { args: [u([3, 4])], f: (x: A) => [nb.argmax(x), nb.argmax(x, 1)] },
  "nb.argmin": { args: [u([3, 4])], f: (x: A) => [nb.argmin(x), nb.argmin(x, 0)] },
  "nb.softmax": { args: [u([3, 4], -3, 3)], f: (x: A) => nb.softmax(x) },
  "nb.logSoftmax": { args: [u([3, 4], -3, 3)], f: (x: A) => nb.logSoftmax(x, 0) },
  "nb.cumsum": { args: [u([3, 4])], f: (x: A) => [nb.cumsum(x), nb.cumsum(x, 1)] },
  "nb.cumprod": { args: [u([3, 4], 0.5, 1.5)], f: (x: A) => nb.cumprod(x, 1) },
  "nb.sort": { args: [u([3, 4])], f: (x: A) => [nb.sort(x), nb.sort(x, 0, true)] },
  "nb.argsort": { args: [u([3, 4])], f: (x: A) => [nb.argsort(x), nb.argsort(x, 0, true)] },
  // --- shape and arrangement
  "nb.reshape": { args: [u([2, 6])], f: (x: A) => nb.reshape(x, [3, -1]) },
  "nb.transpose": { args: [u([2, 3, 4])], f: (x: A) => [nb.transpose(x), nb.transpose(x, [1, 0, 2])] },
  "nb.broadcastTo": { args: [u([3])], f: (x: A) => nb.broadcastTo(x, [2, 3]) },
  "nb.expandDims": { args: [u([3])], f: (x: A) => nb.expandDims(x, 0) },
  "nb.squeeze": { args: [u([1, 3, 1])], f: (x: A) => nb.squeeze(x) },
  "nb.concatenate": { args: [u([2, 3]), u([1, 3])], f: (x: A, y: A) => nb.concatenate([x, y]) },
  "nb.stack": { args: [u([3]), u([3])], f: (x: A, y: A) => nb.stack([x, y], 1) },
  "nb.slice": { args: [u([4, 5])], f: (x: A) => nb.slice(x, [1, 0], [3, 4]) },
  "nb.flip": { args: [u([3, 4])], f: (x: A) => [nb.flip(x), nb.flip(x, 1)] },
  "nb.tile": { args: [u([2, 3])], f: (x: A) => nb.tile(x, [2, 1]) },
  "nb.pad": {
    args: [u([2, 3])],
    f: (x: A) =>
      nb.pad(
        x,
        [
          [1, 0],
          [0, 2],
        ],
        { value: 7 },
      ),
  },
  "nb.tril": { args: [u([3, 3])], f: (x: A) => nb.tril(x) },
  "nb.triu": { args: [u([3, 3])], f: (x: A) => nb.triu(x, 1) },
  "nb.split": { args: [u([6, 2])], f: (x: A) => [nb.split(x, 3), nb.split(x, [1, 4], 0)] },
  "nb.split#arraySections": { args: [u([6, 2]), i32([1, 4])], f: (x: A, s: A) => nb.split(x, s) },
  "nb.roll": { args: [u([3, 4])], f: (x: A) => [nb.roll(x, 1), nb.roll(x, [1, -1], [0, 1])] },
  "nb.roll#arrayShift": { args: [u([3, 4]), i32(2)], f: (x: A, s: A) => nb.roll(x, s, 1) },
  "nb.repeat": { args: [u([3])], f: (x: A) => [nb.repeat(x, 2), nb.repeat(x, [1, 0, 2], 0)] },
  "nb.repeat#totalRepeatLength": {
    args: [u([3]), i32([1, 0, 2])],
    f: (x: A, r: A) => nb.repeat(x, r, 0, { totalRepeatLength: 3 }),
  },
  "nb.repeat#arrayRepeats": { args: [u([3]), i32([1, 0, 2])], f: (x: A, r: A) => nb.repeat(x, r, 0) },
  // --- indexing
  "nb.take": {
    args: [u([4, 3]), i32([2, 0, 3])],
    f: (x: A, i: A) => [nb.take(x, i, 0), nb.take(x, i, null, { mode: "clip" })],
  },
  "nb.takeAlongAxis": {
    args: [
      u([2, 3]),
      i32([
        [2, 0],
        [1, 1],
      ]),
    ],
    f: (x: A, i: A) => nb.takeAlongAxis(x, i, 1),
  },
  "nb.at": {
    args: [u([4]), i32([1, 3, 1]), u([3])],
    f: (x: A, i: A, v: A) => [
      nb.at(x, i).get(),
      nb.at(x, i).set(v),
      nb.at(x, i).add(v),
      nb.at(x, i).mul(v),
      nb.at(x, i).min(v),
      nb.at(x, i).max(v),
    ],
  },
  // --- linear algebra, conv, einsum
  "nb.matmul": { args: [u([2, 3, 4]), u([4, 5])], f: (a: A, b: A) => nb.matmul(a, b) },
  "nb.dot": { args: [u([4]), u([4])], f: (a: A, b: A) => nb.dot(a, b) },
  "nb.outer": { args: [u([3]), u([2])], f: (a: A, b: A) => nb.outer(a, b) },
  "nb.diag": { args: [u([3, 3]), u([3])], f: (a: A, v: A) => [nb.diag(a), nb.diag(v)] },
  "nb.trace": { args: [u([3, 3])], f: (a: A) => nb.trace(a) },
  "nb.einsum": {
    args: [u([2, 3]), u([3, 4])],
    f: (a: A, b: A) => [nb.einsum("ij,jk->ik", a, b), nb.einsum("ij->", a)],
  },
  "nb.conv": {
    args: [u([1, 2, 6, 6]), u([3, 2, 3, 3])],
    f: (x: A, k: A) => [nb.conv(x, k), nb.conv(x, k, { strides: [2, 1], padding: "SAME" })],
  },
  "linalg.solve": { args: [wellConditioned(3), u([3, 2])], f: (a: A, b: A) => nb.linalg.solve(a, b) },
  "linalg.triangularSolve": {
    args: [nb.tril(wellConditioned(3)), u([3, 2])],
    f: (a: A, b: A) => nb.linalg.triangularSolve(a, b, { lower: true }),
  },
  "linalg.inv": { args: [wellConditioned(3)], f: (a: A) => nb.linalg.inv(a) },
  "linalg.det": { args: [wellConditioned(3)], f: (a: A) => nb.linalg.det(a) },
  "linalg.slogdet": { args: [wellConditioned(3)], f: (a: A) => nb.linalg.slogdet(a) },
  "linalg.cholesky": { args: [spd(3)], f: (a: A) => nb.linalg.cholesky(a) },
  "linalg.qr": { args: [u([4, 3])], f: (a: A) => nb.linalg.qr(a) },
  "linalg.eigh": { args: [spd(3)], f: (a: A) => nb.linalg.eigh(a) },
  "linalg.eigvalsh": { args: [spd(3)], f: (a: A) => nb.linalg.eigvalsh(a) },
  "linalg.svd": {
    args: [u([4, 3])],
    f: (a: A) => [nb.linalg.svd(a, { fullMatrices: false }), nb.linalg.svd(a, { computeUv: false })],
  },
  "linalg.lu": { args: [wellConditioned(3)], f: (a: A) => nb.linalg.lu(a) },
  "linalg.expm": { args: [u([3, 3], -0.5, 0.5)], f: (a: A) => nb.linalg.expm(a) },
  "linalg.pinv": { args: [u([4, 3])], f: (a: A) => nb.linalg.pinv(a) },
  "linalg.lstsq": { args: [u([5, 3]), u([5, 2])], f: (a: A, b: A) => nb.linalg.lstsq(a, b) },
  "linalg.lstsq#vector": { args: [u([5, 3]), u([5])], f: (a: A, b: A) => nb.linalg.lstsq(a, b) },
  "linalg.norm": {
    args: [u([3, 4])],
    f: (a: A) => [nb.linalg.norm(a), nb.linalg.norm(a, 1, 1), nb.linalg.norm(a, "fro"), nb.linalg.norm(a, 2)],
  },
  // --- random (the bits are the CPU's Threefry on every device)
  "random.key": { args: [], f: () => nb.random.key(3), cpuOutput: true },
  "random.split": { args: [key], f: (k: A) => nb.random.split(k, 3) },
  "random.uniform": {
    args: [key],
    f: (k: A) => nb.random.uniform(k, [5], { dtype: "float32", minval: -2, maxval: 3 }),
  },
  "random.normal": { args: [key], f: (k: A) => nb.random.normal(k, [5], { dtype: "float32" }) },
  "random.bernoulli": { args: [key, u([5], 0, 1)], f: (k: A, p: A) => nb.random.bernoulli(k, p) },
  "random.randint": { args: [key, f32(-3), f32(7)], f: (k: A, lo: A, hi: A) => nb.random.randint(k, [6], lo, hi) },
  "random.permutation": {
    args: [key, u([5])],
    f: (k: A, x: A) => [nb.random.permutation(k, 5), nb.random.permutation(k, x)],
  },
  "random.shuffle": { args: [key, u([4, 2])], f: (k: A, x: A) => nb.random.shuffle(k, x) },
  "random.categorical": { args: [key, u([2, 4], -2, 2)], f: (k: A, l: A) => nb.random.categorical(k, l) },
  "random.choice": {
    args: [key, u([5]), u([5], 0.1, 1)],
    f: (k: A, a: A, p: A) => [
      nb.random.choice(k, a, [3]),
      nb.random.choice(k, 5, [3], false),
      nb.random.choice(k, a, [2], false, nb.div(p, nb.sum(p))),
    ],
  },
  "random.truncatedNormal": {
    args: [key, f32([-1, 0]), f32([1, 2])],
    f: (k: A, lo: A, hi: A) => nb.random.truncatedNormal(k, lo, hi, [3, 2], { dtype: "float32" }),
  },
  // the CPU-by-transfer path of the float64 random functions under jit, vmap and grad
  "random.randint#jit": { args: [key], f: (k: A) => nb.jit((kk: A) => nb.random.randint(kk, [4], 0, 1000))(k) },
  "random.permutation#vmap": {
    args: [nb.random.split(key, 3)],
    f: (ks: A) => nb.vmap((kk: A) => nb.random.permutation(kk, 6))(ks),
  },
  "random.truncatedNormal#grad": {
    args: [key, f32([-1, 0]), f32([1, 2])],
    f: (k: A, lo: A, hi: A) =>
      nb.grad((l: A) => nb.sum(nb.random.truncatedNormal(k, l, hi, [3, 2], { dtype: "float32" })))(lo),
  },
  // --- transforms
  "nb.grad": { args: [u([3])], f: (x: A) => nb.grad((v: A) => nb.sum(nb.mul(nb.sin(v), v)))(x) },
  "nb.valueAndGrad": { args: [u([3])], f: (x: A) => nb.valueAndGrad(S)(x) },
  "nb.jvp": { args: [u([3]), u([3])], f: (x: A, t: A) => nb.jvp((v: A) => nb.exp(v), [x], [t]) },
  "nb.vjp": {
    args: [u([3]), u([3])],
    f: (x: A, c: A) => {
      const [y, back] = nb.vjp((v: A) => nb.tanh(v), x);
      return [y, back(c)];
    },
  },
  "nb.linearize": {
    args: [u([3]), u([3])],
    f: (x: A, t: A) => {
      const [y, lin] = nb.linearize((v: A) => nb.sin(v), x);
      return [y, lin(t)];
    },
  },
  "nb.jacfwd": { args: [u([3])], f: (x: A) => nb.jacfwd((v: A) => nb.mul(nb.sin(v), 2))(x) },
  "nb.jacrev": { args: [u([3])], f: (x: A) => nb.jacrev((v: A) => nb.mul(nb.sin(v), 2))(x) },
  "nb.hessian": { args: [u([3])], f: (x: A) => nb.hessian((v: A) => nb.sum(nb.exp(v)))(x) },
  "nb.vmap": { args: [u([4, 3])], f: (x: A) => nb.vmap((v: A) => nb.sum(nb.sin(v)))(x) },
  "nb.jit": { args: [u([3])], f: (x: A) => nb.jit((v: A) => nb.mul(nb.exp(v), 3))(x) },
  "nb.makeGraph": {
    args: [u([3])],
    f: (x: A) =>
      nb
        .makeGraph((v: A) => nb.sin(nb.exp(v)))(x)
        .equations.map((e) => e.prim),
  },
  "nb.customJvp": {
    args: [u([3]), u([3])],
    f: (x: A, t: A) => {
      const g = nb.customJvp(
        (v: A) => nb.sin(v),
        ([v]: A[], [dv]: A[]) => [nb.sin(v!), nb.mul(nb.cos(v!), dv!)],
      );
      return nb.jvp(g, [x], [t]);
    },
  },
  "nb.customVjp": {
    args: [u([3])],
    f: (x: A) => {
      const g = nb.customVjp(
        (v: A) => nb.sin(v),
        (v: A) => [nb.sin(v), [v]],
        (res: A[], ct: A) => [nb.mul(nb.cos(res[0]!), ct)],
      );
      return nb.grad((v: A) => nb.sum(g(v)))(x);
    },
  },
  "nb.checkpoint": {
    args: [u([3])],
    f: (x: A) =>
      nb.grad(nb.checkpoint((v: A) => nb.sum(nb.sin(nb.sin(v))), { policy: nb.checkpointPolicies.dotsSaveable }))(x),
  },
  "nb.checkpointName": {
    args: [u([3])],
    f: (x: A) => {
      const g = nb.checkpoint((v: A) => nb.sum(nb.exp(nb.checkpointName(nb.sin(v), "s"))), {
        policy: nb.checkpointPolicies.saveOnlyTheseNames("s"),
      });
      return nb.grad(g)(x);
    },
  },
  "nb.cond": {
    args: [f32(1), u([3])],
    f: (p: A, x: A) => [
      nb.cond(
        nb.greater(p, 0),
        (v: A) => nb.sin(v),
        (v: A) => nb.cos(v),
        x,
      ),
      nb.grad((v: A) =>
        nb.sum(
          nb.cond(
            nb.less(p, 0),
            (a: A) => nb.sin(a),
            (a: A) => nb.exp(a),
            v,
          ),
        ),
      )(x),
    ],
  },
  "nb.whileLoop": {
    args: [u([3], 0.1, 1)],
    f: (x: A) =>
      nb.whileLoop(
        (v: A) => nb.less(nb.sum(v), 20),
        (v: A) => nb.mul(v, 2),
        x,
      ),
  },
  "nb.forLoop": { args: [u([3])], f: (x: A) => nb.forLoop(0, 4, (i: number, v: A) => nb.add(nb.mul(v, 0.5), i), x) },
  "nb.scan": {
    args: [u([2]), u([4, 2])],
    f: (c: A, xs: A) => nb.scan((carry: A, x: A) => [nb.add(carry, x), nb.mul(carry, x)], c, xs),
  },
  "nb.associativeScan": {
    args: [u([5])],
    f: (x: A) => [nb.associativeScan(nb.add, x), nb.associativeScan(nb.maximum, x, { reverse: true })],
  },
  "nb.jet": {
    args: [u([3]), u([3]), u([3])],
    f: (x: A, t1: A, t2: A) => nb.jet((v: A) => nb.sin(nb.exp(v)), [x], [[t1, t2]]),
  },
  "nb.linearTranspose": {
    args: [u([3, 2]), u([3])],
    f: (m: A, c: A) => nb.linearTranspose((v: A) => nb.matmul(m, v), nb.zeros([2], { dtype: "float32" }))(c),
  },
  "nb.customRoot": {
    args: [u([3], 1, 4)],
    f: (a: A) => {
      const root = (v: A): A =>
        nb.customRoot(
          (x: A) => nb.sub(nb.mul(x, x), v),
          nb.onesLike(v),
          (f: (x: A) => A, x0: A) => nb.forLoop(0, 12, (_i: number, x: A) => nb.sub(x, nb.div(f(x), nb.mul(2, x))), x0),
          (g: (x: A) => A, y: A) => nb.div(y, g(nb.onesLike(y))),
        );
      return [root(a), nb.grad((v: A) => nb.sum(root(v)))(a)];
    },
  },
  "nb.customLinearSolve": {
    args: [spd(3), u([3])],
    f: (m: A, b: A) => {
      const solve = (_mv: unknown, r: A): A => nb.linalg.solve(m, r);
      const x = nb.customLinearSolve((v: A) => nb.matmul(m, v), b, solve, solve);
      const g = nb.grad((r: A) => nb.sum(nb.customLinearSolve((v: A) => nb.matmul(m, v), r, solve, solve)))(b);
      return [x, g];
    },
  },
  "debug.callback": {
    args: [u([3])],
    f: (x: A) => {
      const seen: A[] = [];
      nb.debug.callback((v: A) => void seen.push(v), nb.mul(x, 2));
      nb.jit((v: A) => {
        nb.debug.callback((c: A) => void seen.push(c), nb.sin(v));
        return v;
      })(x);
      return seen;
    },
  },
  "debug.print": { args: [u([2])], f: (x: A) => printed(() => nb.debug.print("x = {} and {}", x, nb.sum(x))) },
  // --- devices, trees, config (no values read; here for completeness)
  "nb.devicePut": { args: [u([3])], f: (x: A) => nb.devicePut(nb.mul(x, 2), x.device as "cpu" | "webgpu") },
  // CPU arrays, by design
  "nb.deviceGet": { args: [u([3])], f: (x: A) => nb.deviceGet({ y: nb.exp(x) }), cpuOutput: true },
  "nb.init": { args: [], f: () => nb.init("cpu"), cpuOutput: true },
  "nb.devices": { args: [], f: () => nb.devices().includes("cpu"), cpuOutput: true },
  "nb.defaultDevice": { args: [], f: () => ["cpu", "webgpu"].includes(nb.defaultDevice()), cpuOutput: true },
  "nb.config": { args: [], f: () => nb.config().debugNans, cpuOutput: true },
  "tree.map": { args: [{ a: u([2]), b: [u([3])] }], f: (t: object) => nb.tree.map((v) => nb.exp(v as A), t) },
  "tree.flatten": { args: [{ a: u([2]), b: [u([3])] }], f: (t: object) => nb.tree.flatten(t)[0] },
  "tree.unflatten": {
    args: [{ a: u([2]), b: [u([3])] }],
    f: (t: object) => {
      const [leaves, def] = nb.tree.flatten(t);
      return nb.tree.unflatten(
        def,
        leaves.map((v) => nb.neg(v as A)),
      );
    },
  },
  "tree.leaves": { args: [{ a: u([2]), b: [u([3])] }], f: (t: object) => nb.tree.leaves(t) },
  "tree.structure": { args: [{ a: u([2]), b: [u([3])] }], f: (t: object) => String(nb.tree.structure(t)) },
  "tree.register": { args: [], f: () => typeof nb.tree.register, cpuOutput: true },
  // --- nabla/nn
  "nn.gelu": { args: [u([5], -3, 3)], f: (x: A) => [nn.gelu(x), nn.gelu(x, { approximate: false })] },
  "nn.silu": { args: [u([5], -3, 3)], f: (x: A) => nn.silu(x) },
  "nn.elu": { args: [u([5], -3, 3)], f: (x: A) => nn.elu(x, 0.5) },
  "nn.leakyRelu": { args: [u([5], -3, 3)], f: (x: A) => nn.leakyRelu(x) },
  "nn.logSigmoid": { args: [u([5], -3, 3)], f: (x: A) => nn.logSigmoid(x) },
  "nn.softsign": { args: [u([5], -3, 3)], f: (x: A) => nn.softsign(x) },
  "nn.oneHot": { args: [i32([2, 0, 1])], f: (l: A) => nn.oneHot(l, 4, { dtype: "float32" }) },
  "nn.softmaxCrossEntropy": {
    args: [u([3, 4], -2, 2), i32([1, 0, 3]), nb.softmax(u([3, 4]))],
    f: (z: A, l: A, p: A) => [nn.softmaxCrossEntropy(z, l), nn.softmaxCrossEntropy(z, p)],
  },
  "nn.sigmoidBinaryCrossEntropy": {
    args: [u([4], -2, 2), f32([0, 1, 1, 0])],
    f: (z: A, l: A) => nn.sigmoidBinaryCrossEntropy(z, l),
  },
  "nn.mse": { args: [u([4]), u([4])], f: (p: A, t: A) => nn.mse(p, t) },
  "nn.huber": { args: [u([4], -3, 3), u([4])], f: (p: A, t: A) => nn.huber(p, t, { delta: 0.5 }) },
  "nn.computeFans": { args: [], f: () => nn.computeFans([3, 4, 5]), cpuOutput: true },
  "nn.glorotUniform": { args: [key], f: (k: A) => nn.glorotUniform(k, [3, 4], { dtype: "float32" }) },
  "nn.glorotNormal": { args: [key], f: (k: A) => nn.glorotNormal(k, [3, 4], { dtype: "float32" }) },
  "nn.heUniform": { args: [key], f: (k: A) => nn.heUniform(k, [3, 4], { dtype: "float32" }) },
  "nn.heNormal": { args: [key], f: (k: A) => nn.heNormal(k, [3, 4], { dtype: "float32" }) },
  "nn.lecunNormal": { args: [key], f: (k: A) => nn.lecunNormal(k, [3, 4], { dtype: "float32" }) },
  "nn.lecunUniform": { args: [key], f: (k: A) => nn.lecunUniform(k, [3, 4], { dtype: "float32" }) },
  "nn.orthogonal": { args: [k1], f: (k: A) => nn.orthogonal(k, [4, 3], { dtype: "float32" }) },
  // --- nabla/optim: two steps of each optimizer on float32 parameters; schedules at a float32 step
  "optim.sgd": {
    args: [params(), params()],
    f: (p: Params, g: Params) => steps(optim.sgd(0.1, { momentum: 0.9, nesterov: true }), p, g),
  },
  "optim.adam": { args: [params(), params()], f: (p: Params, g: Params) => steps(optim.adam(0.01), p, g) },
  "optim.adamw": {
    args: [params(), params()],
    f: (p: Params, g: Params) => steps(optim.adamw(0.01, { weightDecay: 0.1 }), p, g),
  },
  "optim.rmsprop": { args: [params(), params()], f: (p: Params, g: Params) => steps(optim.rmsprop(0.01), p, g) },
  "optim.adagrad": { args: [params(), params()], f: (p: Params, g: Params) => steps(optim.adagrad(0.1), p, g) },
  "optim.clipByGlobalNorm": {
    args: [params(), params()],
    f: (p: Params, g: Params) => steps(optim.clipByGlobalNorm(0.5), p, g),
  },
  "optim.chain": {
    args: [params(), params()],
    f: (p: Params, g: Params) =>
      steps(optim.chain(optim.clipByGlobalNorm(1), optim.adam(optim.cosineDecay(0.1, 10))), p, g),
  },
  "optim.applyUpdates": { args: [params(), params()], f: (p: Params, g: Params) => optim.applyUpdates(p, g) },
  "optim.constant": { args: [f32(3)], f: (s: A) => optim.constant(0.1)(s), float64OnCpu: true, cpuOutput: true },
  "optim.exponentialDecay": {
    args: [f32(7)],
    f: (s: A) => optim.exponentialDecay(1, 5, 0.5, 1, true)(s),
    float64OnCpu: true,
  },
  "optim.cosineDecay": { args: [f32(4)], f: (s: A) => optim.cosineDecay(1, 10, 0.1)(s), float64OnCpu: true },
  "optim.warmupCosineDecay": {
    args: [f32([2, 8])],
    f: (s: A) => optim.warmupCosineDecay(0, 1, 4, 20)(s),
    float64OnCpu: true,
  },
  "optim.piecewiseConstant": {
    args: [f32([3, 12])],
    f: (s: A) => optim.piecewiseConstant(1, { 5: 0.5, 10: 0.1 })(s),
    float64OnCpu: true,
  },
};

type Params = { w: A; b: A };
function params(): Params {
  return { w: u([2, 3]), b: u([3]) };
}
/** Two steps of `tx` from `p` with gradients `g` (the second at half of them): the parameters and the state. */
function steps<K extends optim.StateKind>(tx: optim.GradientTransformation<K>, p: Params, g: Params): unknown {
  // the state lives with the parameters (as it does when a jit on "webgpu" returns it)
  let state = nb.devicePut(tx.init(p), p.w.device as "cpu" | "webgpu");
  let q = p;
  for (const scale of [1, 0.5]) {
    const gs = nb.tree.map((v: A) => nb.mul(v, scale), g) as Params;
    const [upd, next] = tx.update(gs, state, q);
    q = optim.applyUpdates(q, upd);
    state = next;
  }
  return [q, state];
}

/** What `f` prints with console.log (debug.print on "webgpu" may print when the values arrive). */
async function printed(f: () => void): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...xs: unknown[]) => void lines.push(xs.map(String).join(" "));
  try {
    f();
    await new Promise((ok) => setTimeout(ok, 200));
  } finally {
    console.log = log;
  }
  return lines;
}

/** A leaf of a case's output: an array's data, or a JSON-able scalar. */
type Leaf =
  | { kind: "array"; shape: number[]; dtype: string; device: string; values: number[] }
  | { kind: "value"; value: string };

/** The leaves of `out` in order (NDArray, numbers, strings and booleans; functions and other objects by their type). */
async function leavesOf(out: unknown): Promise<Leaf[]> {
  const v = out instanceof Promise ? await (out as Promise<unknown>) : out;
  if (v instanceof nb.NDArray) {
    const d = await v.data();
    return [{ kind: "array", shape: [...v.shape], dtype: v.dtype, device: v.device, values: Array.from(d, Number) }];
  }
  if (Array.isArray(v)) return (await Promise.all(v.map(leavesOf))).flat();
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype)
    return (
      await Promise.all(
        Object.keys(v)
          .sort()
          .map((k) => leavesOf((v as Record<string, unknown>)[k])),
      )
    ).flat();
  return [{ kind: "value", value: typeof v === "object" || typeof v === "function" ? typeof v : JSON.stringify(v) }];
}

/** One case's report: errors, or the measured difference of the GPU's outputs from the CPU's. */
interface CaseRow {
  cpuError?: string;
  gpuError?: string;
  /** Why the outputs do not match (structure, shapes, dtypes, values of an exact output). */
  mismatch?: string;
  /** Worst relative error over the float outputs (see the test for the measure). */
  rel: number;
  /** Where the worst error is: leaf, element, the GPU's value, the CPU's. */
  worst?: number[];
  /** Devices of the GPU call's array outputs. */
  devices: string[];
  cpuOutput: boolean;
  leaves: number;
}

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function runCase(c: Case): Promise<CaseRow> {
  const row: CaseRow = { rel: 0, devices: [], cpuOutput: c.cpuOutput === true, leaves: 0 };
  const call = c.f as (...xs: unknown[]) => unknown;
  let cpu: Leaf[];
  try {
    cpu = await leavesOf(call(...c.args));
  } catch (e) {
    row.cpuError = errorText(e);
    return row;
  }
  let gpuOut: Leaf[];
  const prev = nb.defaultDevice();
  try {
    // creation functions make their arrays where the default device says
    if (c.cpuOutput === true) nb.defaultDevice("webgpu");
    const gargs = c.args.map((a) => nb.devicePut(a, "webgpu"));
    gpuOut = await leavesOf(call(...gargs));
  } catch (e) {
    row.gpuError = errorText(e);
    return row;
  } finally {
    nb.defaultDevice(prev as "cpu" | "webgpu");
  }
  row.leaves = cpu.length;
  if (gpuOut.length !== cpu.length) {
    row.mismatch = `${gpuOut.length} leaves on webgpu, ${cpu.length} on cpu`;
    return row;
  }
  cpu.forEach((a, k) => {
    const b = gpuOut[k]!;
    if (row.mismatch !== undefined) return;
    if (a.kind === "value" || b.kind === "value") {
      if (a.kind !== b.kind || (a.kind === "value" && b.kind === "value" && a.value !== b.value))
        row.mismatch = `leaf ${k}: ${JSON.stringify(b)} on webgpu, ${JSON.stringify(a)} on cpu`;
      return;
    }
    row.devices.push(b.device);
    // creation functions give float32 under defaultDevice("webgpu"), float64 on "cpu"
    const dtypeOk =
      b.dtype === a.dtype ||
      ((c.cpuOutput === true || c.float64OnCpu === true) && a.dtype === "float64" && b.dtype === "float32");
    if (!dtypeOk || b.shape.join() !== a.shape.join()) {
      row.mismatch = `leaf ${k}: ${b.dtype}[${b.shape.join()}] on webgpu, ${a.dtype}[${a.shape.join()}] on cpu`;
      return;
    }
    if (a.dtype !== "float32" && a.dtype !== "float64") {
      const bad = a.values.findIndex((v, i) => v !== b.values[i]);
      if (bad >= 0)
        row.mismatch = `leaf ${k} (${a.dtype}) element ${bad}: ${b.values[bad]} on webgpu, ${a.values[bad]} on cpu`;
      return;
    }
    // relative error per element, against at least 2^-7 of the output's largest magnitude
    const scale = a.values.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0) / 128;
    a.values.forEach((v, i) => {
      const g = b.values[i]!;
      if (Object.is(v, g) || (Number.isNaN(v) && Number.isNaN(g)) || v === g) return;
      const r = Math.abs(g - v) / Math.max(Math.abs(v), scale, 1e-30);
      if (!(r <= row.rel)) {
        row.rel = Number.isNaN(r) ? Infinity : r;
        row.worst = [k, i, g, v];
      }
    });
  });
  return row;
}

function exportsOf(): Record<string, string[]> {
  const fns = (m: object): string[] =>
    Object.entries(m)
      .filter(([, v]) => typeof v === "function")
      .map(([k]) => k)
      .sort();
  return {
    nb: fns(nb),
    linalg: fns(nb.linalg),
    random: fns(nb.random),
    debug: fns(nb.debug),
    tree: fns(nb.tree),
    nn: fns(nn),
    optim: fns(optim),
  };
}

export async function run(): Promise<void> {
  if (!(await nb.init("webgpu"))) {
    w.__result = { noAdapter: true };
    return;
  }
  const cases: Record<string, CaseRow> = {};
  for (const [name, c] of Object.entries(CASES)) cases[name] = await runCase(c);
  w.__result = { exports: exportsOf(), cases };
}
