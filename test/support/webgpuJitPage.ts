/**
 * The page behind test/webgpuJit.test.ts, run in headless Chromium on
 * SwiftShader: jit plans on "webgpu" against eager evaluation on "webgpu"
 * (bit for bit) and against the CPU, dispatch and compile counts, and (with
 * `?bench` in the page's globals) an MLP step timed eager against jit. It
 * reports through `window.__result`: `{ skip }` without an adapter, else
 * `{ checks, failures, counts, bench }`.
 */
import * as nb from "../../src/index.js";
import { webgpuRuntime } from "../../src/device/webgpu.js";
import { gpuPlanOf } from "../../src/device/gpuPlan.js";
import type { GPUComputePipelineLike } from "../../src/kernels/webgpu/gpu.js";

type A = nb.NDArray;
type Fn = (...xs: A[]) => A | A[];

/** mulberry32, as test/support/rng.ts (that module imports vitest, which a page cannot). */
function seeded(seed: number): { (lo?: number, hi?: number): number; int(lo: number, hi: number): number } {
  let s = seed >>> 0;
  const next = (): number => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = (a = 0, b = 1): number => a + (b - a) * next();
  return Object.assign(r, { int: (a: number, b: number) => a + Math.floor(next() * (b - a)) });
}

const failures: string[] = [];
let section = "";
let checks = 0;
function check(ok: boolean, what: string): void {
  checks++;
  if (!ok && failures.length < 40) failures.push(what);
}

const asList = (r: A | A[]): A[] => (Array.isArray(r) ? r : [r]);

/** Element bits of an array's data (NaN counts as one value: WGSL may not keep NaN payloads). */
async function bitsOf(x: A): Promise<{ dtype: string; shape: string; words: number[] }> {
  const d = await x.data();
  const words: number[] = [];
  if (d instanceof Float32Array) {
    const u = new Uint32Array(d.buffer, d.byteOffset, d.length);
    d.forEach((v, i) => words.push(Number.isNaN(v) ? 0x7fc00000 : u[i]!));
  } else d.forEach((v: number) => words.push(Number.isNaN(v) ? 0x7fc00000 : v));
  return { dtype: x.dtype, shape: x.shape.join(","), words };
}

async function identical(what: string, a: A[], b: A[]): Promise<void> {
  check(a.length === b.length, `${what}: ${a.length} vs ${b.length} outputs`);
  for (let k = 0; k < Math.min(a.length, b.length); k++) {
    const x = await bitsOf(a[k]!);
    const y = await bitsOf(b[k]!);
    check(
      x.dtype === y.dtype && x.shape === y.shape,
      `${what} out ${k}: ${x.dtype}[${x.shape}] vs ${y.dtype}[${y.shape}]`,
    );
    const bad = x.words.findIndex((w, i) => w !== y.words[i]);
    check(
      bad < 0 && x.words.length === y.words.length,
      `${what} out ${k}: element ${bad} differs (${x.words[bad]} vs ${y.words[bad]})`,
    );
  }
}

/** Dispatches and pipeline compilations recorded on the runtime's context while `f` runs. */
function counting(): { dispatches: number; compiles: number; transfers: number; reset(): void } {
  const rt = webgpuRuntime()!;
  const c = {
    dispatches: 0,
    compiles: 0,
    transfers: 0,
    reset: () => ((c.dispatches = 0), (c.compiles = 0), (c.transfers = 0)),
  };
  const ctx = rt.ctx;
  const transfer = ctx.transfer.bind(ctx);
  ctx.transfer = (...args) => {
    c.transfers++;
    transfer(...args);
  };
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (...args) => {
    c.dispatches++;
    dispatch(...args);
  };
  const device = ctx.device;
  const create = device.createComputePipeline.bind(device);
  (device as { createComputePipeline: typeof create }).createComputePipeline = (d): GPUComputePipelineLike => {
    c.compiles++;
    return create(d);
  };
  return c;
}

const randArray = (r: ReturnType<typeof seeded>, shape: number[], lo = -2, hi = 2): A => {
  const n = shape.reduce((p, q) => p * q, 1);
  return nb.reshape(
    nb.array(
      Float32Array.from({ length: n }, () => r(lo, hi)),
      { dtype: "float32" },
    ),
    shape,
  );
};

/**
 * A random program over float32 operands x [R, C], row [C], col [R, 1] and a weak scalar s: a DAG of
 * elementwise operations (unary, binary with broadcasting, comparisons and where, int32 and bool
 * casts, reshapes), returning two of its values.
 */
function randomProgram(r: ReturnType<typeof seeded>): { f: Fn; desc: string } {
  const steps: string[] = [];
  const plan: ((vals: A[]) => A)[] = [];
  const count = r.int(3, 14);
  const unary: [string, (a: A) => A][] = [
    ["sin", nb.sin],
    ["cos", nb.cos],
    ["tanh", nb.tanh],
    ["exp", nb.exp],
    ["log", nb.log],
    ["sqrt", nb.sqrt],
    ["abs", nb.abs],
    ["neg", nb.neg],
    ["sigmoid", nb.sigmoid],
    ["softplus", nb.softplus],
    ["erf", nb.erf],
    ["expm1", nb.expm1],
    ["log1p", nb.log1p],
    ["floor", nb.floor],
    ["round", nb.round],
    ["sign", nb.sign],
  ];
  const binary: [string, (a: A, b: A) => A][] = [
    ["add", nb.add],
    ["sub", nb.sub],
    ["mul", nb.mul],
    ["div", nb.div],
    ["maximum", nb.maximum],
    ["minimum", nb.minimum],
    ["pow", nb.pow],
  ];
  // values derived from the weak scalar alone stay float64 on the CPU (as in eager evaluation); a where of two
  // of them would be a float64 result on the GPU, eager's DTypeError: where's branches avoid that
  const weakOnly: boolean[] = [false, false, false, true];
  for (let k = 0; k < count; k++) {
    const kind = r.int(0, 10);
    // values: 0 x, 1 row, 2 col, 3 s, then the results (all broadcast-compatible with [R, C])
    const pick = (): number => r.int(0, 4 + plan.length);
    if (kind < 4) {
      const [name, op] = unary[r.int(0, unary.length)]!;
      const a = pick();
      weakOnly.push(weakOnly[a]!);
      steps.push(`${name}(v${a})`);
      plan.push((v) => op(v[a]!));
    } else if (kind < 8) {
      const [name, op] = binary[r.int(0, binary.length)]!;
      const a = pick();
      const b = pick();
      weakOnly.push(weakOnly[a]! && weakOnly[b]!);
      steps.push(`${name}(v${a}, v${b})`);
      plan.push((v) => op(v[a]!, v[b]!));
    } else if (kind === 8) {
      const a = pick();
      const b = pick();
      let c = pick();
      if (weakOnly[c]! && weakOnly[b]!) c = 0;
      weakOnly.push(false);
      steps.push(`where(v${a} > v${b}, v${c}, v${b})`);
      plan.push((v) => nb.where(nb.greater(v[a]!, v[b]!), v[c]!, v[b]!));
    } else {
      let a = pick();
      if (weakOnly[a]!) a = 0;
      weakOnly.push(false);
      steps.push(`f32(i32(v${a} * 3)) + f32(v${a} < 0.5) via reshape`);
      plan.push((v) => {
        const x = v[a]!;
        const i = nb.astype(nb.mul(x, 3), "int32");
        const b = nb.astype(nb.less(x, 0.5), "float32");
        const flat = nb.reshape(nb.add(nb.astype(i, "float32"), b), [-1]);
        return nb.reshape(flat, x.shape);
      });
    }
  }
  const f: Fn = (x, row, col, s) => {
    const vals: A[] = [x!, row!, col!, s!];
    for (const p of plan) vals.push(p(vals));
    return [vals[vals.length - 1]!, vals[4 + Math.floor(plan.length / 2)]!];
  };
  return { f, desc: steps.map((s, i) => `v${i + 4} = ${s}`).join("; ") };
}

async function main(): Promise<unknown> {
  if (!(await nb.init("webgpu"))) return { skip: "no WebGPU adapter (navigator.gpu or requestAdapter failed)" };
  const rt = webgpuRuntime()!;
  const c = counting();
  const counts: Record<string, number> = {};
  const r = seeded(20261202);
  const gpu = (x: A): A => nb.devicePut(x, "webgpu");

  section = "1";
  // 1. a chain of 10 elementwise operations: one dispatch; the second call compiles nothing
  {
    const chain = (x: A): A => {
      let y = nb.sin(x);
      y = nb.mul(y, 2);
      y = nb.add(y, x);
      y = nb.tanh(y);
      y = nb.exp(y);
      y = nb.add(y, 1);
      y = nb.mul(y, y);
      y = nb.sqrt(y);
      y = nb.sigmoid(y);
      return nb.log1p(y);
    };
    const x = gpu(randArray(r, [1000]));
    const eager = chain(x);
    await eager.data();
    const jf = nb.jit(chain);
    c.reset();
    const first = jf(x);
    await first.data();
    counts.chainDispatches = c.dispatches;
    counts.chainCompilesFirst = c.compiles;
    c.reset();
    const second = jf(x);
    await second.data();
    counts.chainDispatchesSecond = c.dispatches;
    counts.chainCompilesSecond = c.compiles;
    await identical("chain of 10", [eager], [first]);
    await identical("chain of 10, second call", [eager], [second]);
    // against the CPU: each of these float32 functions is within a few ulp of the CPU (elementwise.ts), and every
    // step is well conditioned on [-2, 2] (no cancellation: 2 sin x and x share their sign; exp(tanh) + 1 > 1),
    // so each step at most doubles the relative error carried in; a relative 1e-5 (about 84 ulp) bounds ten steps
    const cpu = await chain(nb.array((await x.data()) as Float32Array, { dtype: "float32" })).data();
    const got = await first.data();
    let worst = 0;
    got.forEach(
      (v: number, i: number) => (worst = Math.max(worst, Math.abs(v - cpu[i]!) / Math.max(1e-6, Math.abs(cpu[i]!)))),
    );
    counts.chainWorstRelVsCpu = worst;
    check(worst <= 1e-5, `chain vs CPU: relative error ${worst}`);
  }

  section = "2";
  // 2. the chain with a trailing sum: one fused region, then the reduction (its kernel, or the transfer)
  {
    const f = (x: A): A[] => {
      const y = nb.mul(nb.tanh(nb.add(nb.mul(x, x), 0.5)), nb.cos(x));
      return [nb.sum(y), y];
    };
    const x = gpu(randArray(r, [64, 33]));
    const eager = f(x);
    c.reset();
    const jitted = nb.jit(f)(x);
    await jitted[1]!.data();
    counts.sumDispatches = c.dispatches;
    // the reduction's own dispatches, eagerly on the region's output (its kernel's passes; 0 for the transfer)
    await jitted[1]!.data();
    c.reset();
    await nb.sum(jitted[1]!).data();
    counts.sumKernelDispatches = c.dispatches;
    await identical("chain + sum (the elementwise output)", [eager[1]!], [jitted[1]!]);
    const a = (await eager[0]!.data())[0]!;
    const b = (await jitted[0]!.data())[0]!;
    // the same reduction runs on the same values in both: equal
    check(Object.is(a, b), `chain + sum: ${a} vs ${b}`);
  }

  section = "3";
  // 3. random programs with broadcasting, casts, comparisons, reshapes and a weak scalar: jit equals eager
  {
    let programs = 0;
    let regions = 0;
    for (let t = 0; t < 40; t++) {
      const R = r.int(1, 9);
      const C = r.int(1, 40);
      const p = randomProgram(r);
      const args = [gpu(randArray(r, [R, C])), gpu(randArray(r, [C])), gpu(randArray(r, [R, 1]))];
      const s = Math.round(r(-3, 3) * 4) / 4;
      section = `3: program ${t}: ${p.desc}`;
      const eager = asList(p.f(...args, s as unknown as A));
      const jitted = asList(nb.jit(p.f)(...args, s as unknown as A));
      await identical(`program ${t} (${R}x${C}): ${p.desc}`, eager, jitted);
      const g = nb.makeGraph(p.f)(...args, nb.array(s, { dtype: "float32" }));
      regions += gpuPlanOf(g, 8).regions;
      programs++;
    }
    counts.programs = programs;
    counts.programRegions = regions;
  }

  section = "4";
  // 4. more inputs and outputs than a shader may bind: cut into regions, still equal to eager
  {
    const xs = Array.from({ length: 12 }, () => gpu(randArray(r, [50])));
    const f = (...v: A[]): A[] => {
      const outs: A[] = [];
      let acc = v[0]!;
      for (let k = 1; k < v.length; k++) {
        acc = nb.add(nb.mul(acc, 0.5), nb.sin(v[k]!));
        if (k % 3 === 0) outs.push(acc);
      }
      return [...outs, acc];
    };
    const eager = f(...xs);
    c.reset();
    const jitted = nb.jit(f)(...xs);
    await identical("12 inputs, 5 outputs", eager, jitted);
    counts.wideDispatches = c.dispatches;
  }

  section = "5";
  // 5. int32 and bool programs
  {
    const f = (x: A, y: A): A[] => {
      const i = nb.astype(nb.mul(x, 100), "int32");
      const j = nb.astype(nb.mul(y, 7), "int32");
      const q = nb.add(nb.mul(i, j), nb.sub(nb.abs(nb.add(j, 3)), nb.maximum(i, nb.sign(j))));
      const m = nb.logicalOr(nb.greater(q, 0), nb.logicalNot(nb.less(x, y)));
      return [q, m, nb.where(m, nb.astype(q, "float32"), x)];
    };
    const x = gpu(randArray(r, [7, 9]));
    const y = gpu(randArray(r, [9]));
    c.reset();
    const jitted = nb.jit(f)(x, y);
    counts.intDispatches = c.dispatches;
    await identical("int32 and bool", f(x, y), jitted);
  }

  section = "6";
  // 6. grad of a loss under jit on webgpu equals eager grad on webgpu
  {
    const loss = (w: A, x: A): A => nb.sum(nb.tanh(nb.mul(nb.add(nb.mul(x, w), 0.1), w)));
    const w = gpu(randArray(r, [40]));
    const x = gpu(randArray(r, [40]));
    const eager = nb.grad(loss)(w, x);
    const jitted = nb.jit(nb.grad(loss))(w, x);
    await identical("grad under jit", [eager], [jitted]);
  }
  section = "7";
  // 7. CPU arguments under jit({ device: "webgpu" }), a closed-over GPU constant, weak scalars computed on the
  // CPU (float64, as eager evaluation leaves them), and a float64 argument (eager's DTypeError)
  {
    const k = gpu(randArray(r, [5, 6]));
    const f = (x: A, s: A): A[] => {
      const e = nb.exp(s); // a weak float64 scalar: stays on the CPU
      const y = nb.add(nb.mul(x, e), k);
      return [nb.where(nb.greater(y, 0.5), y, nb.mul(y, s)), e];
    };
    const xc = randArray(r, [5, 6]);
    const eager = f(gpu(xc), 0.75 as unknown as A);
    c.reset();
    const jitted = nb.jit(f, { device: "webgpu" })(xc, 0.75 as unknown as A);
    await identical("CPU arguments, a GPU constant, weak scalars", eager, jitted);
    check(jitted[0]!.device === "webgpu", `result device ${jitted[0]!.device}`);
    counts.weakDispatches = c.dispatches;
    let threw = "";
    try {
      nb.jit((x: A) => nb.sin(x), { device: "webgpu" })(nb.array([1, 2]));
    } catch (e) {
      threw = e instanceof Error ? e.name : String(e);
    }
    check(threw === "DTypeError", `float64 argument: ${threw || "no error"}`);
  }
  section = "8";
  // 8. special values (NaN, ±Infinity, ±0, subnormals, huge), a live broadcast output, and empty arrays
  {
    const special = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3e38, -3e38, 1, -1, 0.5, 88.8, -104, 20, 1e-8];
    const x = gpu(nb.array(Float32Array.from(special), { dtype: "float32" }));
    const y = gpu(nb.array(Float32Array.from([...special].reverse()), { dtype: "float32" }));
    const f = (a: A, b: A): A[] => [
      nb.add(nb.mul(nb.exp(a), nb.tanh(b)), nb.log1p(nb.abs(a))),
      nb.maximum(nb.pow(a, b), nb.minimum(nb.expm1(b), nb.sqrt(a))),
      nb.where(nb.less(a, b), nb.softplus(a), nb.div(nb.sigmoid(b), a)),
      nb.astype(nb.add(nb.astype(nb.mul(a, 1e9), "int32"), nb.astype(nb.sign(b), "int32")), "float32"),
    ];
    await identical("special values", f(x, y), nb.jit(f)(x, y));
    const row = gpu(randArray(r, [7]));
    const g = (v: A, m: A): A[] => {
      const t = nb.broadcastTo(nb.sin(v), [3, 7]);
      return [t, nb.mul(t, m)];
    };
    const m = gpu(randArray(r, [3, 7]));
    c.reset();
    const jitted = nb.jit(g)(row, m);
    counts.broadcastDispatches = c.dispatches;
    await identical("a live broadcast", g(row, m), jitted);
    const e = gpu(nb.zeros([0, 3], { dtype: "float32" }));
    const h = (v: A): A => nb.exp(nb.add(nb.sin(v), 1));
    await identical("empty arrays", [h(e)], [nb.jit(h)(e)]);
  }
  void rt;
  return { checks, failures, counts, bench: (globalThis as { __bench?: boolean }).__bench ? await bench(c) : null };
}

/** An MLP step (forward, loss, grad, SGD update) eager against jit: dispatches per step and milliseconds. */
async function bench(c: { dispatches: number; transfers: number; reset(): void }): Promise<unknown> {
  let r = seeded(7);
  const batch = 64;
  const sizes = [64, 128, 128, 10];
  const init = (): A[] => {
    r = seeded(8);
    const ps: A[] = [];
    for (let k = 0; k + 1 < sizes.length; k++) {
      ps.push(nb.devicePut(randArray(r, [sizes[k]!, sizes[k + 1]!], -0.1, 0.1), "webgpu"));
      ps.push(nb.devicePut(nb.zeros([sizes[k + 1]!], { dtype: "float32" }), "webgpu"));
    }
    return ps;
  };
  const x = nb.devicePut(randArray(r, [batch, sizes[0]!]), "webgpu");
  const y = nb.devicePut(randArray(r, [batch, sizes[sizes.length - 1]!]), "webgpu");
  const loss = (ps: A[], xb: A, yb: A): A => {
    let h = xb;
    for (let k = 0; k < ps.length; k += 2) {
      h = nb.add(nb.matmul(h, ps[k]!), ps[k + 1]!);
      if (k + 2 < ps.length) h = nb.tanh(h);
    }
    const d = nb.sub(h, yb);
    return nb.mean(nb.mul(d, d));
  };
  const step = (ps: A[], xb: A, yb: A): A[] => {
    const [l, gs] = nb.valueAndGrad(loss)(ps, xb, yb) as unknown as [A, A[]];
    return [l, ...ps.map((p, i) => nb.sub(p, nb.mul(gs[i]!, 0.05)))];
  };
  const run = async (
    f: typeof step,
    steps: number,
  ): Promise<{ ms: number; dispatches: number; transfers: number; loss: number }> => {
    let ps = init();
    let out = f(ps, x, y);
    await out[0]!.data(); // warm-up (compiles)
    ps = out.slice(1);
    c.reset();
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      out = f(ps, x, y);
      ps = out.slice(1);
    }
    const l = (await out[0]!.data())[0]!;
    const ms = (performance.now() - t0) / steps;
    return { ms, dispatches: c.dispatches / steps, transfers: c.transfers / steps, loss: l };
  };
  const jstep = nb.jit(step);
  // alternated, twice each, so a load change on the shared machine shows as a spread rather than a ratio
  const eager = [await run(step, 30)];
  const jitted = [await run(jstep, 30)];
  eager.push(await run(step, 30));
  jitted.push(await run(jstep, 30));
  const ps = init();
  const plan = gpuPlanOf(nb.makeGraph(step)(ps, x, y), 8);
  // where fusion matters most: a 10-operation elementwise chain on 2^20 elements
  const chain = (v: A): A => {
    const t = nb.add(nb.exp(nb.tanh(nb.add(nb.mul(nb.sin(v), 2), v))), 1);
    return nb.log1p(nb.sigmoid(nb.sqrt(nb.mul(t, t))));
  };
  const big = nb.devicePut(randArray(r, [1 << 20]), "webgpu");
  const time = async (f: (v: A) => A, reps: number): Promise<{ ms: number; dispatches: number }> => {
    await f(big).data();
    c.reset();
    const t0 = performance.now();
    let out = big;
    for (let k = 0; k < reps; k++) out = f(big);
    await out.data();
    return { ms: (performance.now() - t0) / reps, dispatches: c.dispatches / reps };
  };
  const jchain = nb.jit(chain);
  const chainEager = [await time(chain, 10)];
  const chainJit = [await time(jchain, 10)];
  chainEager.push(await time(chain, 10));
  chainJit.push(await time(jchain, 10));
  return { sizes, batch, eager, jit: jitted, jitSteps: plan.steps, chain1M: { eager: chainEager, jit: chainJit } };
}

main().then(
  (res) => ((window as { __result?: unknown }).__result = res),
  (e: unknown) =>
    ((window as { __result?: unknown }).__result = {
      error: `in section ${section}: ${String(e instanceof Error ? (e.stack ?? e.message) : e)}`,
    }),
);
