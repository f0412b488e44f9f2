/**
 * The page test/webgpu.test.ts runs in headless Chromium (WebGPU on
 * SwiftShader): every check computes on "webgpu" and on "cpu" and reports
 * both (or the measured difference) in `window.__result`; the assertions
 * are made in Node by the test, against bounds stated there.
 */
import fc from "fast-check";
import * as nb from "../../src/index.js";
import { webgpuRuntime } from "../../src/device/webgpu.js";
import { GPU_KERNELS } from "../../src/prims/gpuTable.js";
import { RULES } from "../../src/prims/table.js";
import { KERNELS as EW } from "../../src/kernels/webgpu/elementwise.js";
import { PRIMS, SPECS, apply } from "../properties/primitiveSpecs.js";
import type { Prim } from "./primitives.js";

type NDArray = nb.NDArray;
type Row = Record<string, unknown>;
const result: Record<string, unknown> = {};
const w = window as unknown as { __result?: unknown; gc?: () => void };

/** mulberry32: a small seeded generator (test/support/rng.ts imports vitest, which does not bundle). */
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

/** Distance in float32 ulps (0 for two NaNs, Infinity for one NaN). */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === b) return 0;
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  const ord = (v: number) => (v < 0 ? -2147483648 - v : v);
  return Math.abs(ord(i[0]!) - ord(i[1]!));
}

const f32 = (xs: number[], shape?: number[]) => nb.array(xs, { dtype: "float32", ...(shape ? { shape } : {}) });
const gpu = <T>(x: T): T => nb.devicePut(x, "webgpu");
const host = (x: NDArray): number[] => Array.from(x.toTypedArray() as ArrayLike<number>);
const read = async (x: NDArray): Promise<number[]> => Array.from((await x.data()) as ArrayLike<number>);

/** Max ulp distance and max relative difference between two lists. */
function compare(a: readonly number[], b: readonly number[]): { ulp: number; rel: number; worst: number[] } {
  let ulp = 0;
  let rel = 0;
  let worst: number[] = [];
  if (a.length !== b.length) return { ulp: Infinity, rel: Infinity, worst: [a.length, b.length] };
  a.forEach((v, i) => {
    const u = ulps(v, b[i]!);
    if (u > ulp) {
      ulp = u;
      worst = [i, v, b[i]!];
    }
    const r = Number.isNaN(v) && Number.isNaN(b[i]!) ? 0 : Math.abs(v - b[i]!) / Math.max(Math.abs(b[i]!), 1e-30);
    if (r > rel || Number.isNaN(r)) rel = Number.isNaN(r) ? Infinity : r;
  });
  return { ulp, rel, worst };
}

let ONLY: readonly string[] | undefined;

async function section(name: string, f: () => Promise<unknown>): Promise<void> {
  if (ONLY !== undefined && !ONLY.includes(name)) return;
  const t0 = performance.now();
  try {
    result[name] = await f();
  } catch (e) {
    result[name] = { error: String((e as Error).stack ?? e) };
  }
  (result.ms as Record<string, number>)[name] = Math.round(performance.now() - t0);
}

/** Inputs for the ulp measurement of each float function: uniform in its range, plus small magnitudes. */
const DOMAINS: Record<string, [number, number]> = {
  exp: [-87, 88],
  log: [1e-30, 1e30],
  log1p: [-0.999, 100],
  expm1: [-20, 20],
  sin: [-100, 100],
  cos: [-100, 100],
  tan: [-1.5, 1.5],
  tanh: [-12, 12],
  sinh: [-20, 20],
  cosh: [-20, 20],
  asin: [-1, 1],
  acos: [-1, 1],
  atan: [-1000, 1000],
  sqrt: [0, 1e6],
  erf: [-7, 7],
  logistic: [-80, 80],
  softplus: [-80, 80],
};

async function measureUlps(): Promise<Row> {
  const r = rng(7);
  const n = 20000;
  const out: Row = {};
  const unary = nb as unknown as Record<string, (x: NDArray) => NDArray>;
  const names: Record<string, string> = { logistic: "sigmoid", asin: "arcsin", acos: "arccos", atan: "arctan" };
  for (const [fn, [lo, hi]] of Object.entries(DOMAINS)) {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const u = r();
      // half uniform on the range, half log-uniform magnitudes in [1e-6, hi] (small arguments)
      if (i % 2 === 0) xs.push(lo + (hi - lo) * u);
      else {
        const m = Math.exp(Math.log(1e-6) + (Math.log(Math.max(Math.abs(hi), Math.abs(lo))) - Math.log(1e-6)) * u);
        const v = r() < 0.5 && lo < 0 ? -m : m;
        xs.push(Math.min(hi, Math.max(lo, v)));
      }
    }
    const x = f32(xs);
    const op = unary[names[fn] ?? fn]!;
    const c = host(op(x));
    const g = await read(op(gpu(x)));
    out[fn] = compare(g, c);
  }
  // binary: div, pow (positive bases; negative bases with integer exponents), atan2
  const pairs = (f: (u: number, v: number) => [number, number]) => {
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < n; i++) {
      const [x, y] = f(r(), r());
      a.push(x);
      b.push(y);
    }
    return [f32(a), f32(b)] as const;
  };
  const bin: [string, (a: NDArray, b: NDArray) => NDArray, readonly [NDArray, NDArray]][] = [
    ["div", nb.div, pairs((u, v) => [(u - 0.5) * 1e4, (v - 0.5) * 100])],
    ["pow", nb.pow, pairs((u, v) => [u * 10, (v - 0.5) * 20])],
    ["powNegInt", nb.pow, pairs((u, v) => [(u - 0.5) * 10, Math.round((v - 0.5) * 16)])],
    ["atan2", nb.arctan2, pairs((u, v) => [(u - 0.5) * 200, (v - 0.5) * 200])],
  ];
  for (const [name, op, [a, b]] of bin) out[name] = compare(await read(op(gpu(a), gpu(b))), host(op(a, b)));
  return out;
}

/** The spec's cases in float32: float64 operands and dtype parameters become float32. */
function to32(x: unknown): unknown {
  if (x instanceof nb.NDArray) return x.dtype === "float64" ? nb.astype(x, "float32") : x;
  if (x === "float64") return "float32";
  if (Array.isArray(x)) return x.map(to32);
  if (x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, to32(v)]));
  return x;
}

async function primitives(): Promise<Row> {
  const out: Row = {};
  for (const prim of PRIMS) {
    const spec = SPECS[prim] as { gen: fc.Arbitrary<{ args: NDArray[]; params: unknown }> };
    const cases = fc.sample(spec.gen, { numRuns: 3, seed: 4242 });
    const row = {
      native: Object.prototype.hasOwnProperty.call(GPU_KERNELS, prim),
      elementwise: Object.prototype.hasOwnProperty.call(EW, prim),
      // a row of the first-order table: without a kernel it runs by transfer, exactly the CPU kernel
      // (higher-order rows run their user functions, whose primitives use the native kernels)
      firstOrder: Object.prototype.hasOwnProperty.call(RULES, prim),
      cases: 0,
      skipped: 0,
      ulp: 0,
      rel: 0,
      exact: true,
      errors: [] as string[],
    };
    for (const c of cases) {
      const args = c.args.map((a) => to32(a) as NDArray);
      const params = to32(c.params) as never;
      let cpu: NDArray[];
      try {
        cpu = apply(prim as Prim, args, params);
      } catch {
        row.skipped++; // the CPU rejects the float32 version of this case (e.g. a float64-only parameter)
        continue;
      }
      try {
        const outs = apply(
          prim as Prim,
          args.map((a) => (a.dtype === "float64" ? a : gpu(a))),
          params,
        );
        const got = await Promise.all(outs.map(read));
        if (outs.length !== cpu.length) throw new Error(`${outs.length} outputs, cpu ${cpu.length}`);
        cpu.forEach((o, k) => {
          if (o.dtype !== outs[k]!.dtype || o.shape.join() !== outs[k]!.shape.join())
            throw new Error(`output ${k}: ${outs[k]!.dtype}[${outs[k]!.shape}] vs cpu ${o.dtype}[${o.shape}]`);
          const cmp = compare(got[k]!, host(o));
          row.ulp = Math.max(row.ulp, cmp.ulp);
          row.rel = Math.max(row.rel, cmp.rel);
          if (cmp.ulp !== 0) row.exact = false;
        });
        row.cases++;
      } catch (e) {
        row.errors.push(String(e).slice(0, 300));
      }
    }
    out[prim] = row;
  }
  return out;
}

/**
 * jet (order 3) of every differentiable primitive in float32 with its operands and series terms on
 * "webgpu", against the same jet on the CPU: per primitive the worst |gpu - cpu| / (1 + max |cpu|)
 * over the orders, outputs and cases.
 */
async function jetEvery(): Promise<Row> {
  const K = 3;
  const out: Row = {};
  for (const prim of PRIMS) {
    const spec = SPECS[prim] as {
      gen: fc.Arbitrary<{ args: NDArray[]; params: unknown }>;
      diff: { wrt: "all" | readonly number[]; gen?: fc.Arbitrary<{ args: NDArray[]; params: unknown }> } | null;
    };
    if (spec.diff === null) continue;
    const cases = fc.sample(spec.diff.gen ?? spec.gen, { numRuns: 2, seed: 77 });
    const row = { cases: 0, skipped: 0, rel: 0, errors: [] as string[] };
    const r = rng(3);
    for (const c of cases) {
      const args = c.args.map((a) => to32(a) as NDArray);
      const params = to32(c.params) as never;
      const w = spec.diff.wrt;
      const wrt = (w === "all" ? args.map((_, i) => i) : w.slice()).filter((k) => args[k]!.dtype === "float32");
      if (wrt.length === 0) continue;
      const terms = wrt.map((k) =>
        Array.from({ length: K }, () =>
          f32(
            Array.from({ length: args[k]!.size }, () => r() - 0.5),
            [...args[k]!.shape],
          ),
        ),
      );
      const jetOn = (place: (a: NDArray) => NDArray): [NDArray[], NDArray[][]] => {
        const placed = args.map((a) => (a.dtype === "float64" ? a : place(a)));
        const g = (...xs: NDArray[]): NDArray[] => {
          const all = placed.slice();
          wrt.forEach((k, i) => (all[k] = xs[i]!));
          return apply(prim as Prim, all, params);
        };
        return nb.jet(
          g,
          wrt.map((k) => placed[k]!),
          terms.map((ts) => ts.map(place)),
        ) as unknown as [NDArray[], NDArray[][]];
      };
      let cpu: [NDArray[], NDArray[][]];
      try {
        cpu = jetOn((a) => a);
      } catch {
        row.skipped++; // the CPU rejects the float32 version of this case
        continue;
      }
      try {
        const [ys, ss] = jetOn(gpu);
        for (let o = 0; o < ys.length; o++) {
          if (ys[o]!.dtype !== "float32") continue;
          for (const [got, want] of [[ys[o]!, cpu[0][o]!], ...ss[o]!.map((t, k) => [t, cpu[1][o]![k]!])] as [
            NDArray,
            NDArray,
          ][]) {
            if (got.device !== "webgpu") throw new Error(`a result on ${got.device}`);
            const g = await read(got);
            const h = host(want);
            const scale = 1 + Math.max(0, ...h.map((v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
            h.forEach((v, i) => {
              const d = g[i] === v || (Number.isNaN(v) && Number.isNaN(g[i]!)) ? 0 : Math.abs(g[i]! - v) / scale;
              row.rel = Math.max(row.rel, Number.isNaN(d) ? Infinity : d);
            });
          }
        }
        row.cases++;
      } catch (e) {
        row.errors.push(String((e as Error).stack ?? e).slice(0, 400));
      }
    }
    out[prim] = row;
  }
  return out;
}

/** int32 semantics: division by zero, wrapping products and powers, conversions that wrap. */
async function int32(): Promise<Row> {
  const i32 = (xs: number[]) => nb.array(xs, { dtype: "int32" });
  const a = i32([7, -7, 7, -7, 0, 2147483647, -2147483648, 5, 3, -3, 1, -1, 2]);
  const b = i32([2, 2, -2, -2, 0, 2, -1, 0, 31, 3, -5, -3, -1]);
  const out: Row = {};
  // the primitives themselves (nb.div divides ints as floats)
  for (const name of ["div", "mul", "pow", "add", "sub", "max", "min", "neg", "abs", "sign"] as const) {
    const ab = name === "neg" || name === "abs" || name === "sign" ? [a] : [a, b];
    const cpu = host(apply(name, ab, {})[0]!);
    out[name] = { gpu: await read(apply(name, ab.map(gpu), {})[0]!), cpu };
  }
  const big = f32([3e9, -3e9, 5e9, 2.5, -2.5, NaN, Infinity, 2147483520, -2147483648]);
  out.convert = { gpu: await read(nb.astype(gpu(big), "int32")), cpu: host(nb.astype(big, "int32")) };
  out.toBool = { gpu: await read(nb.astype(gpu(big), "bool")), cpu: host(nb.astype(big, "bool")) };
  return out;
}

/** A small function touching many primitives, its derivatives and transforms, on both devices. */
async function transforms(): Promise<Row> {
  const r = rng(11);
  const xs = Array.from({ length: 6 }, () => r() * 2 - 1);
  const x = f32(xs);
  const xg = gpu(x);
  const W = f32(
    Array.from({ length: 12 }, () => r() - 0.5),
    [6, 2],
  );
  const Wg = gpu(W);
  const f = (v: NDArray, w: NDArray = W): NDArray =>
    nb.add(nb.sum(nb.tanh(nb.matmul(nb.reshape(v, [1, 6]), w))), nb.sum(nb.mul(nb.exp(nb.sin(v)), 0.5)));
  const fg = (v: NDArray) => f(v, Wg);
  type Both = () => [NDArray | NDArray[], NDArray | NDArray[]];
  const checks: [string, Both][] = [];
  const pair = (name: string, both: Both): void => void checks.push([name, both]);
  const run1 = async ([, both]: [string, Both]): Promise<unknown> => {
    const [c, g] = both();
    const cs = Array.isArray(c) ? c : [c];
    const gs = Array.isArray(g) ? g : [g];
    const timeout = new Promise<null>((ok) => setTimeout(() => ok(null), 20_000));
    const got = await Promise.race([Promise.all(gs.map(read)), timeout]);
    if (got === null) return { error: "no result within 20 s" };
    return { ...compare(got.flat(), cs.flatMap(host)), devices: gs.map((v) => v.device) };
  };
  const oneX = () => nb.onesLike(x);
  pair("value", () => [f(x), fg(xg)]);
  pair("grad", () => [nb.grad(f)(x), nb.grad(fg)(xg)]);
  pair("grad2", () => [
    nb.grad((v: NDArray) => nb.sum(nb.grad(f)(v)))(x),
    nb.grad((v: NDArray) => nb.sum(nb.grad(fg)(v)))(xg),
  ]);
  pair("jvp", () => [nb.jvp(f, [x], [oneX()]), nb.jvp(fg, [xg], [gpu(oneX())])]);
  pair("jvp2", () => [
    nb.jvp((v: NDArray) => nb.jvp(f, [v], [nb.onesLike(v)])[1], [x], [oneX()]),
    nb.jvp((v: NDArray) => nb.jvp(fg, [v], [nb.onesLike(v)])[1], [xg], [gpu(oneX())]),
  ]);
  pair("hessian", () => [nb.hessian(f)(x), nb.hessian(fg)(xg)]);
  pair("vmap", () => [nb.vmap(f)(nb.stack([x, nb.neg(x)])), nb.vmap(fg)(gpu(nb.stack([x, nb.neg(x)])))]);
  pair("vmapGrad", () => [
    nb.vmap(nb.grad(f))(nb.stack([x, nb.neg(x)])),
    nb.vmap(nb.grad(fg))(gpu(nb.stack([x, nb.neg(x)]))),
  ]);
  pair("jit", () => [nb.jit(f)(x), nb.jit(fg)(xg)]);
  pair("jitGrad", () => [nb.jit(nb.grad(f))(x), nb.jit(nb.grad(fg))(xg)]);
  pair("gradJit", () => [nb.grad(nb.jit(f))(x), nb.grad(nb.jit(fg))(xg)]);
  pair("jitDevice", () => [nb.jit(f)(x), nb.jit(f, { device: "webgpu" })(x)]);
  const twice = (v: NDArray) => nb.mul(v, 2);
  pair("cond", () => [
    nb.cond(nb.greater(nb.sum(x), 0), twice, nb.sin, x),
    nb.cond(nb.greater(nb.sum(xg), 0), twice, nb.sin, xg),
  ]);
  const viaCond = (v: NDArray) => nb.sum(nb.cond(nb.less(nb.sum(v), 100), nb.sin, (u: NDArray) => u, v));
  pair("condGrad", () => [nb.grad(viaCond)(x), nb.grad(viaCond)(xg)]);
  const small = (v: NDArray) => nb.less(nb.sum(nb.abs(v)), 100);
  pair("whileLoop", () => [nb.whileLoop(small, twice, x), nb.whileLoop(small, twice, xg)]);
  const loop = (v: NDArray) => nb.whileLoop(small, (u: NDArray) => nb.add(nb.mul(u, 2), nb.sin(u)), v);
  pair("whileJvp", () => [nb.jvp(loop, [x], [oneX()]), nb.jvp(loop, [xg], [gpu(oneX())])]);
  const sq = nb.customJvp(
    (v: NDArray) => nb.mul(v, v),
    ([v], [t]) => [nb.mul(v!, v!), nb.mul(nb.mul(v!, t!), 2)],
  );
  const viaSq = (v: NDArray) => nb.sum(nb.sin(sq(v)));
  pair("customJvp", () => [nb.grad(viaSq)(x), nb.grad(viaSq)(xg)]);
  const cube = nb.customVjp(
    (v: NDArray) => nb.mul(nb.mul(v, v), v),
    (v: NDArray) => [nb.mul(nb.mul(v, v), v), v],
    (v: NDArray, ct: NDArray) => [nb.mul(nb.mul(nb.mul(v, v), 3), ct)],
  );
  const viaCube = (v: NDArray) => nb.sum(nb.sin(cube(v)));
  pair("customVjp", () => [nb.grad(viaCube)(x), nb.grad(viaCube)(xg)]);
  // jet: GPU primals and series terms (zero terms on the GPU too), eagerly and under jit
  const jetTerms = (v: NDArray) => [nb.onesLike(v), nb.zerosLike(v), nb.mul(nb.onesLike(v), 0.5)];
  const jetOf = (g: (v: NDArray) => NDArray, v: NDArray, put: (t: NDArray) => NDArray) => {
    const [y, ds] = nb.jet(g, [v], [jetTerms(v).map(put)]);
    return [y, ...ds];
  };
  const id = (t: NDArray) => t;
  pair("jet", () => [jetOf(f, x, id), jetOf(fg, xg, gpu)]);
  pair("jetJit", () => [jetOf(nb.jit(f), x, id), jetOf(nb.jit(fg), xg, gpu)]);
  // control flow with the predicate on the GPU (cond, while_loop by transfer) under jet
  pair("jetCond", () => [jetOf(viaCond, x, id), jetOf(viaCond, xg, gpu)]);
  pair("jetWhile", () => [jetOf((v) => nb.sum(loop(v)), x, id), jetOf((v) => nb.sum(loop(v)), xg, gpu)]);
  // x^y with the exponent an array on the GPU: the general rule (it cannot be read synchronously)
  const y3 = f32([3, 2, 3, 2, 3, 2]);
  pair("jetPowGpuExponent", () => [
    jetOf((v) => nb.pow(nb.add(nb.abs(v), 0.5), y3), x, id),
    jetOf((v) => nb.pow(nb.add(nb.abs(v), 0.5), gpu(y3)), xg, gpu),
  ]);
  pair("gradPowGpuExponent", () => [
    nb.grad((v: NDArray) => nb.sum(nb.pow(v, f32([3]))))(x),
    nb.grad((v: NDArray) => nb.sum(nb.pow(v, gpu(f32([3])))))(xg),
  ]);
  // linearTranspose of a function closing over a GPU matrix (its zero test runs on the GPU)
  const ct2 = f32([0.5, -2]);
  pair("linearTranspose", () => [
    nb.linearTranspose((v: NDArray) => nb.matmul(nb.reshape(v, [1, 6]), W), x)(nb.reshape(ct2, [1, 2])),
    nb.linearTranspose((v: NDArray) => nb.matmul(nb.reshape(v, [1, 6]), Wg), xg)(gpu(nb.reshape(ct2, [1, 2]))),
  ]);
  // devicePut of tracers: the identity on values, the CPU function's results with the arrays on the GPU
  const viaPut = (d: "cpu" | "webgpu") => (v: NDArray) => nb.sum(nb.sin(nb.devicePut(nb.mul(v, v), d)));
  pair("devicePutGrad", () => [nb.grad(viaPut("cpu"))(x), nb.grad(viaPut("webgpu"))(x)]);
  pair("devicePutGradGpu", () => [nb.grad(viaPut("cpu"))(x), nb.grad(viaPut("webgpu"))(xg)]);
  pair("devicePutJvp", () => [nb.jvp(viaPut("cpu"), [x], [oneX()]), nb.jvp(viaPut("webgpu"), [x], [oneX()])]);
  // inside jit the identity, on the jit's device
  pair("devicePutJitGpu", () => [nb.jit(viaPut("cpu"))(x), nb.jit(viaPut("webgpu"))(xg)]);
  pair("devicePutJitDevice", () => [nb.jit(viaPut("cpu"))(x), nb.jit(viaPut("webgpu"), { device: "webgpu" })(x)]);
  pair("devicePutVmap", () => [
    nb.vmap(viaPut("cpu"))(nb.stack([x, nb.neg(x)])),
    nb.vmap(viaPut("webgpu"))(nb.stack([x, nb.neg(x)])),
  ]);
  pair("devicePutGradJit", () => [nb.grad(nb.jit(viaPut("cpu")))(x), nb.grad(nb.jit(viaPut("webgpu")))(xg)]);
  const out: Row = {};
  for (const c of checks) {
    if (ONLY !== undefined) console.warn(`transforms: ${c[0]}`);
    try {
      out[c[0]] = await run1(c);
    } catch (e) {
      out[c[0]] = { error: String((e as Error).stack ?? e).slice(0, 600) };
    }
  }
  return out;
}

async function errors(): Promise<Row> {
  const x = gpu(f32([1]));
  const out: Row = {};
  const catchOf = (f: () => unknown): string => {
    try {
      f();
      return "no error";
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  };
  out.item = catchOf(() => x.item());
  out.toArray = catchOf(() => x.toArray());
  out.toTypedArray = catchOf(() => x.toTypedArray());
  out.coercion = catchOf(() => +x);
  out.putFloat64 = catchOf(() => gpu(nb.array([1, 2])));
  out.astypeFloat64 = catchOf(() => nb.astype(x, "float64"));
  out.mixed = catchOf(() => nb.add(x, nb.devicePut(f32([2]), "cpu")));
  out.putToCpu = catchOf(() => nb.devicePut(x, "cpu"));
  out.printed = String(x);
  out.weakScalar = await read(nb.add(x, 2));
  out.deviceGet = host((await nb.deviceGet([nb.add(x, 1)]))[0]!);
  // the default device: creation without a dtype gives float32, so it mixes with GPU arrays
  nb.defaultDevice("webgpu");
  try {
    out.defaultDtypes = [nb.zeros([2]).dtype, nb.array([1, 2]).dtype, nb.linspace(0, 1, 3).dtype, nb.eye(2).dtype];
    out.defaultMix = await read(nb.add(x, nb.ones([1])));
    out.defaultJit = nb.jit((v: NDArray) => nb.mul(v, 2))(nb.ones([2])).device;
  } finally {
    nb.defaultDevice("cpu");
  }
  out.cpuDtype = nb.zeros([2]).dtype;
  // one jitted function called on the CPU, then on webgpu: the cache entry of one device is not reused
  // on the other (a traced function may depend on where it runs, e.g. through its tracers' device)
  const byDevice = nb.jit((v: NDArray) => nb.mul(v, v.device === "webgpu" ? 2 : 3));
  const onCpu = byDevice(nb.ones([1], { dtype: "float32" }));
  const onGpu = byDevice(x);
  out.jitCacheByDevice = [onCpu.device, host(onCpu), onGpu.device, await read(onGpu)];
  out.jitTracerDevice = nb.jit((v: NDArray) => {
    out.tracerDevice = v.device;
    return v;
  })(x).device;
  return out;
}

/** The message of what `f` throws or its promise rejects with ("no error" when neither). */
async function failure(f: () => unknown): Promise<string> {
  try {
    await f();
    return "no error";
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

/**
 * What depends on GPU values that cannot be read synchronously: debugNans (reported by the next
 * read), linearTranspose's zero test, float and bool index arrays on the GPU, devicePut of tracers
 * from "webgpu" to "cpu". Each next to what the CPU does with the same call.
 */
async function deferred(): Promise<Row> {
  const out: Row = {};
  const x = f32([0.5, 1, 2]);
  const xg = gpu(x);
  nb.config({ debugNans: true });
  try {
    // eagerly: a native kernel (log), then a transfer (erfinv, run on the CPU): each is reported by
    // the next read, which then rejects no more
    out.nanCpu = await failure(() => nb.log(nb.neg(x)));
    out.nanGpu = await failure(() => nb.log(nb.neg(xg)).data());
    out.nanAfter = await read(nb.log(xg));
    out.nanTransferCpu = await failure(() => nb.erfinv(nb.add(x, 1)));
    out.nanTransferGpu = await failure(() => nb.erfinv(nb.add(xg, 1)).data());
    // the first read completing among those requested after it reports it, once
    const bad = nb.sqrt(nb.neg(xg));
    out.nanOtherRead = await failure(() => nb.add(xg, 1).data());
    out.nanBadAfter = await read(bad);
    // a read requested before the operation is not rejected by it
    const early = nb.mul(xg, 2).data();
    const bad2 = nb.log(nb.sub(xg, 1));
    out.nanEarly = Array.from((await early) as Float32Array);
    out.nanLater = await failure(() => bad2.data());
    // one NaN among 5,000 elements, beyond the first workgroup's stride
    const big = Array.from({ length: 5000 }, (_, i) => (i === 4321 ? -1 : i + 1));
    out.nanLargeCpu = await failure(() => nb.log(f32(big)));
    out.nanLargeGpu = await failure(() => nb.log(gpu(f32(big))).data());
    out.nanLargeOk = await failure(() => nb.log(gpu(f32(big.map(Math.abs)))).data());
    // NaN in, NaN out: nothing to report (on both devices)
    const withNan = f32([NaN, 1, 2]);
    out.nanInputCpu = await failure(() => nb.log(withNan));
    out.nanInputGpu = await failure(() => nb.log(gpu(withNan)).data());
    // under jit: the call site recorded when the function was staged
    const h = (v: NDArray) => nb.sum(nb.sqrt(nb.sub(v, 1)));
    out.nanJitCpu = await failure(() => nb.jit(h)(x));
    out.nanJitGpu = await failure(() => nb.jit(h)(xg).data());
    out.nanJitOk = await read(nb.jit((v: NDArray) => nb.sqrt(v))(xg));
    // derivatives: the first primitive making a NaN, in grad's backward pass too
    out.nanGradCpu = await failure(() => nb.grad((v: NDArray) => nb.sum(nb.sqrt(nb.sub(v, 1))))(x));
    out.nanGradGpu = await failure(() =>
      nb
        .grad((v: NDArray) => nb.sum(nb.sqrt(nb.sub(v, 1))))(xg)
        .data(),
    );
  } finally {
    nb.config({ debugNans: false });
  }
  out.nanOff = await read(nb.log(nb.neg(xg)));
  // linearTranspose of an affine function whose offset lives on the GPU: the next read rejects
  const W = f32([1, 2, 3, 4, 5, 6], [3, 2]);
  const b = f32([1, 1]);
  const affine = (w: NDArray, c: NDArray) => (v: NDArray) => nb.add(nb.matmul(v, w), c);
  out.affineCpu = await failure(() => nb.linearTranspose(affine(W, b), x)(f32([1, 2])));
  out.affineGpu = await failure(async () => {
    const [ct] = nb.linearTranspose(affine(gpu(W), gpu(b)), xg)(gpu(f32([1, 2])));
    return ct!.data();
  });
  out.affineAfter = await read(nb.add(xg, 1));
  out.linearZeroOffset = await read(nb.linearTranspose(affine(gpu(W), gpu(f32([0, 0]))), xg)(gpu(f32([1, 2])))[0]!);
  // index arrays on the GPU: float throws as on the CPU (not read), bool converts
  const fi = f32([2, 0]);
  out.floatIndexCpu = await failure(() => nb.take(x, fi));
  out.floatIndexGpu = await failure(() => nb.take(xg, gpu(fi)));
  out.floatAtCpu = await failure(() => nb.at(x, fi).set(0));
  out.floatAtGpu = await failure(() => nb.at(xg, gpu(fi)).set(0));
  const bi = nb.array([true, false, true]);
  out.boolIndex = { gpu: await read(nb.take(xg, gpu(bi))), cpu: host(nb.take(x, bi)) };
  out.boolAt = { gpu: await read(nb.at(xg, gpu(bi)).add(5)), cpu: host(nb.at(x, bi).add(5)) };
  // devicePut of a GPU tracer to "cpu": the DeviceError of the array itself
  out.putTracerToCpu = await failure(() => nb.grad((v: NDArray) => nb.sum(nb.devicePut(v, "cpu")))(xg));
  out.putToCpu = await failure(() => nb.devicePut(xg, "cpu"));
  // inside a jit running on "cpu", to "webgpu": the jit's device decides
  out.putInCpuJit = await failure(() => nb.jit((v: NDArray) => nb.devicePut(nb.sin(v), "webgpu"))(x));
  return out;
}

async function batching(): Promise<Row> {
  const ctx = webgpuRuntime()!.ctx;
  const x = gpu(f32([1, 2, 3, 4]));
  await x.data();
  const ys = Array.from({ length: 16 }, (_, i) => nb.mul(nb.add(x, i), 2));
  const before = ctx.submissions;
  const got = await Promise.all(ys.map(read));
  return { submissions: ctx.submissions - before, first: got[0], last: got[15] };
}

/**
 * Linear least squares trained on "webgpu": each step is one jitted call computing the loss, its gradient
 * (valueAndGrad) and the SGD update. Every `steps / 20` steps, after forced collections, the bytes
 * of GPU buffers allocated (in use or pooled), the bytes asked for since the start and the number of
 * buffers live arrays hold are sampled.
 */
async function memory(steps: number): Promise<Row> {
  const rt = webgpuRuntime()!;
  const r = rng(5);
  const rand = (shape: number[], s: number) =>
    f32(
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * s),
      shape,
    );
  // features and a column of ones (the offset's), targets of a linear map plus noise
  const x0 = nb.concatenate([rand([32, 4], 2), nb.ones([32, 1], { dtype: "float32" })], 1);
  const y0 = nb.add(nb.matmul(x0, f32([0.5, -1, 2, 0.25, 0.5], [5, 1])), rand([32, 1], 0.2));
  const X = gpu(x0);
  const Y = gpu(y0);
  let params = gpu(rand([5, 1], 1));
  const loss = (w1: NDArray, x: NDArray, y: NDArray) => nb.mean(nb.square(nb.sub(nb.matmul(x, w1), y)));
  const step = nb.jit((p: NDArray, x: NDArray, y: NDArray): [NDArray, NDArray] => {
    const [l, g] = nb.valueAndGrad(loss)(p, x, y);
    return [l, nb.sub(p, nb.mul(g, 0.1))];
  });
  // the least-squares minimum, in float64 on the CPU
  const x64 = nb.astype(x0, "float64");
  const y64 = nb.astype(y0, "float64");
  const best = host(loss(nb.linalg.lstsq(x64, y64)[0], x64, y64))[0]!;
  const first = (await read(loss(params, X, Y)))[0]!;
  const bytes: number[] = [];
  const buffers: number[] = [];
  const requested: number[] = [];
  const requested0 = rt.ctx.requestedBytes;
  // the pool keeps the buffers earlier sections released: the bytes before training are the baseline
  w.gc?.();
  await new Promise((ok) => setTimeout(ok, 0));
  const base = rt.liveBytes;
  const losses: number[] = [];
  const every = Math.max(100, Math.floor(steps / 20));
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const [l, next] = step(params, X, Y);
    params = next;
    if ((i + 1) % 100 === 0) {
      const v = await read(l);
      if ((i + 1) % every === 0) {
        losses.push(v[0]!);
        w.gc?.();
        await new Promise((ok) => setTimeout(ok, 0));
        w.gc?.();
        await new Promise((ok) => setTimeout(ok, 0));
        bytes.push(rt.liveBytes);
        buffers.push(rt.liveBuffers);
        requested.push(rt.ctx.requestedBytes - requested0);
      }
    }
  }
  return {
    steps,
    every,
    first,
    best,
    base,
    bytes,
    buffers,
    requested,
    losses,
    ms: Math.round(performance.now() - t0),
    gc: typeof w.gc === "function",
  };
}

/** Runs every section and sets `window.__result`; `steps` is the memory test's training steps. */
export async function run(steps: number, only?: readonly string[]): Promise<void> {
  result.ms = {};
  ONLY = only;
  if (!(await nb.init("webgpu"))) {
    w.__result = { noAdapter: true };
    return;
  }
  await section("errors", errors);
  await section("batching", batching);
  await section("int32", int32);
  await section("ulps", measureUlps);
  await section("transforms", transforms);
  await section("deferred", deferred);
  await section("jet", jetEvery);
  await section("primitives", primitives);
  await section("memory", () => memory(steps));
  result.native = Object.keys(GPU_KERNELS).sort();
  w.__result = result;
}
