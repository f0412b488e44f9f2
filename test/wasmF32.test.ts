/**
 * Float32 compiled loops in f32x4 lanes (src/kernels/wasm/elementwise.ts, vmath32.ts):
 * - random float32 elementwise programs (every compiled float32 operation: the f32x4 arithmetic,
 *   sin/cos/tanh's float32 forms, the float64 kernels run by halves) through jit's fused loops
 *   and through the interpreter (whose kernels use the same compiled code) give the same bits,
 *   for values and derivatives of order 1 and 2, at every length 1..40 (the partial last
 *   vector of 1-3 lanes, the extra vector) and around chunk boundaries; and they agree with
 *   the JS loops (fround of the host's float64 functions) within the stated accuracies;
 * - special values (NaN, ±Infinity, ±0, subnormals, |x| > 2^20 for the host reduction) give
 *   the JS loops' values exactly, finite ones within 1 float32 ulp;
 * - sin and cos next to multiples of π/2 (where the reduction cancels) stay within 1 ulp of
 *   fround of the host's value;
 * - a threaded float32 loop gives the bits of the single-threaded one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectIdentical, withJs } from "./support/assert.js";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { compile } from "../src/transforms/plan.js";
import { evalGraph } from "../src/core/graph.js";
import type { ConcreteArray } from "../src/core/ndarray.js";
import {
  compileElementwise,
  elementwisePoolReady,
  setElementwiseThreading,
  setWasmMinSize,
  wasmElementwiseAvailable,
  wasmElementwiseThreaded,
} from "../src/kernels/wasm/elementwise.js";
import { setThreads } from "../src/kernels/threads.js";
import { SUM_CHUNK } from "../src/kernels/sumOrder.js";

const RUNS = Number(process.env.NABLA_FC_RUNS ?? 40);
const SEED = Number(process.env.NABLA_FC_SEED ?? 20261202);
type A = nb.NDArray;

const data = (x: A): number[] => Array.from(x.toTypedArray() as ArrayLike<number>);

const bits32 = new Float32Array(1);
const ints32 = new Int32Array(bits32.buffer);
function ord32(v: number): number {
  bits32[0] = v;
  const b = ints32[0] ?? 0;
  return b < 0 ? -(b & 0x7fffffff) : b;
}
/** float32 ulp distance; Infinity for a NaN mismatch or a wrong-signed zero. */
function ulp32(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === 0 && b === 0) return Object.is(a, b) ? 0 : Infinity;
  return Math.abs(ord32(a) - ord32(b));
}

/** A random program over float32 arrays: leaves x, unary and binary maps with bounded values. */
interface Prog {
  f: (x: A) => A;
  show: string;
}
const UNARY: [string, (a: A) => A][] = [
  ["sin", nb.sin],
  ["cos", nb.cos],
  ["tanh", nb.tanh],
  ["neg", nb.neg],
  ["abs", nb.abs],
  ["exp∘tanh", (a) => nb.exp(nb.tanh(a))],
  ["sqrt(1+·²)", (a) => nb.sqrt(nb.add(1, nb.square(a)))],
  ["sigmoid", nb.sigmoid],
];
const BINARY: [string, (a: A, b: A) => A][] = [
  ["add", nb.add],
  ["sub", nb.sub],
  ["mul", nb.mul],
  ["div(·, 1+·²)", (a, b) => nb.div(a, nb.add(1, nb.square(b)))],
  ["max", nb.maximum],
  ["min", nb.minimum],
];
const arbProg: fc.Arbitrary<Prog> = fc.letrec<{ node: Prog }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 4, depthSize: "small" },
    fc.constant<Prog>({ f: (x) => x, show: "x" }),
    fc
      .tuple(fc.constantFrom(...UNARY), tie("node"))
      .map(([[n, g], a]): Prog => ({ f: (x) => g(a.f(x)), show: `${n}(${a.show})` })),
    fc
      .tuple(fc.constantFrom(...BINARY), tie("node"), tie("node"))
      .map(([[n, g], a, b]): Prog => ({ f: (x) => g(a.f(x), b.f(x)), show: `${n}(${a.show}, ${b.show})` })),
  ),
})).node;
const arbInput = (n: number): fc.Arbitrary<A> =>
  fc
    .array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n })
    .map((xs) => nb.array(xs, { dtype: "float32" }));

describe.skipIf(!wasmElementwiseAvailable())("float32 compiled loops in f32x4 lanes", () => {
  let minSize = 0;
  beforeAll(() => {
    minSize = setWasmMinSize(0);
  });
  afterAll(() => {
    setWasmMinSize(minSize);
  });

  it("random float32 programs, lengths 1..40: jit = interpreter bit for bit (values, order 1 and 2); = JS within accuracy", () => {
    let compiled = 0;
    fc.assert(
      fc.property(
        arbProg,
        fc.integer({ min: 1, max: 40 }).chain((n) => arbInput(n)),
        (p, x) => {
          const y = p.f(x);
          expect(y.dtype).toBe("float32");
          expectIdentical(y, nb.jit(p.f)(x), `${p.show}: jit`);
          const g = (z: A) => nb.sum(p.f(z));
          const g2 = (z: A) => nb.sum(nb.grad(g)(z));
          // the folded sum (lanes of a partial last vector included) = the eager kernel's sum
          expectIdentical(g(x), nb.jit(g)(x), `${p.show}: jit of the sum`);
          for (const h of [nb.grad(g), nb.grad(g2)]) {
            const graph = nb.makeGraph(h)(x);
            const plan = compile(graph);
            compiled += plan.wasmGroups;
            const [ref] = evalGraph(graph, [x]);
            const [got] = plan.run([x as ConcreteArray]);
            if (ref === undefined || got === undefined) throw new Error("no output");
            expectIdentical(ref, got, `${p.show}: compiled plan vs interpreter`);
          }
          // each compiled float32 operation is within 1 ulp of the correctly rounded value and the JS
          // one (fround of the host's float64 function) too, so one operation differs by at most
          // 2 ulp (2^-22 relative); through at most 15 operations of derivative at most ~2 in size on
          // values of at most ~3, the values differ by < 2^-22 · 15 · 4 < 2e-5 relative to max(1, |v|)
          const w = data(y);
          const j = withJs(() => data(p.f(x)));
          w.forEach((v, i) => {
            const r = j[i] ?? NaN;
            expect(Math.abs(v - r), `${p.show} element ${i}: ${v} vs JS ${r}`).toBeLessThanOrEqual(
              2e-5 * Math.max(1, Math.abs(r)),
            );
          });
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    expect(compiled).toBeGreaterThan(RUNS / 2);
  });

  it("W1's gradient in float32 around chunk boundaries and at every partial-vector length: plan = interpreter", () => {
    const w1 = (v: A) => {
      const s = nb.sin(v);
      return nb.sum(nb.add(nb.mul(nb.tanh(v), v), nb.mul(s, s)));
    };
    for (const n of [SUM_CHUNK - 1, SUM_CHUNK, SUM_CHUNK + 1, SUM_CHUNK + 2, SUM_CHUNK + 3, 2 * SUM_CHUNK + 6]) {
      const xs = Array.from({ length: n }, (_, i) => -2 + (4 * ((i * 7919) % n)) / n);
      const x = nb.array(xs, { dtype: "float32" });
      const graph = nb.makeGraph(nb.grad(w1))(x);
      const plan = compile(graph);
      expect(plan.wasmGroups).toBeGreaterThan(0);
      const [ref] = evalGraph(graph, [x]);
      const [got] = plan.run([x as ConcreteArray]);
      if (ref === undefined || got === undefined) throw new Error("no output");
      expectIdentical(ref, got, `n = ${n}`);
      expectIdentical(w1(x), nb.jit(w1)(x), `n = ${n}: the folded sum`);
      // against the analytic gradient in float64: (1 - tanh²x)·x + tanh x + 2 sin x cos x, each
      // float32 operation within 1 ulp: within 2^-20 relative to max(1, |g|)
      const d = data(got);
      xs.forEach((v, i) => {
        const xv = Math.fround(v);
        const t = Math.tanh(xv);
        const gv = (1 - t * t) * xv + t + 2 * Math.sin(xv) * Math.cos(xv);
        expect(Math.abs((d[i] ?? NaN) - gv), `n = ${n}, x = ${xv}`).toBeLessThanOrEqual(
          2 ** -20 * Math.max(1, Math.abs(gv)),
        );
      });
    }
  });

  const kernel = (op: string) => {
    const k = compileElementwise({
      dtype: "float32",
      scalarIn: [false],
      ops: [{ op, args: [0] }],
      outs: [1],
      sum: null,
    });
    if (k === null) throw new Error(`no kernel for ${op}`);
    return k;
  };
  const HOST: Record<string, (x: number) => number> = {
    sin: Math.sin,
    cos: Math.cos,
    tanh: Math.tanh,
    exp: Math.exp,
    sqrt: Math.sqrt,
    abs: Math.abs,
    neg: (x) => -x,
  };

  it("special values through the float32 kernels: exactly the JS loops' (finite within 1 ulp)", () => {
    const sp = [
      NaN,
      Infinity,
      -Infinity,
      0,
      -0,
      1.4e-45,
      -1.4e-45,
      1e-40,
      -3e-39,
      2 ** -13,
      -(2 ** -12),
      2 ** -12,
      9.01,
      9.02,
      -9.5,
      20,
      88.7,
      -104,
      3.4e38,
      -3.4e38,
      1048576,
      -1048577,
      3e7,
      -1e30,
      12345.678,
    ];
    for (const n of [sp.length, sp.length + 1, sp.length + 2, sp.length + 3]) {
      const xs = Float32Array.from({ length: n }, (_, i) => sp[(i * 7) % sp.length] ?? 0);
      for (const [op, f] of Object.entries(HOST)) {
        const out = new Float32Array(n);
        kernel(op)([xs], [out], n);
        out.forEach((v, i) => {
          const r = Math.fround(f(xs[i] ?? NaN));
          if (!Number.isFinite(r) || r === 0) expect(Object.is(v, r), `${op}(${xs[i]}) = ${v}, JS ${r}`).toBe(true);
          else expect(ulp32(v, r), `${op}(${xs[i]}) = ${v}, JS ${r}`).toBeLessThanOrEqual(1);
        });
      }
    }
  });

  it("sin and cos next to multiples of π/2 (up to 2^20): within 1 ulp of fround of the host's value", () => {
    const xs: number[] = [];
    const ks = [1, 2, 3, 4, 5, 7, 10, 11, 13, 22, 71, 100, 355, 710, 1000, 4096, 12345, 65536, 102944, 411774, 667544];
    for (const k of ks)
      for (const sign of [1, -1]) {
        const c = Math.fround((sign * k * Math.PI) / 2);
        bits32[0] = c;
        const b = ints32[0] ?? 0;
        for (let d = -16; d <= 16; d++) {
          ints32[0] = b + d;
          xs.push(bits32[0] ?? 0);
        }
      }
    const x = Float32Array.from(xs);
    for (const op of ["sin", "cos"]) {
      const out = new Float32Array(x.length);
      kernel(op)([x], [out], x.length);
      const f = op === "sin" ? Math.sin : Math.cos;
      out.forEach((v, i) =>
        expect(ulp32(v, Math.fround(f(x[i] ?? NaN))), `${op}(${x[i]}) = ${v}`).toBeLessThanOrEqual(1),
      );
    }
  });
});

describe.skipIf(!wasmElementwiseThreaded())("float32 loops on the pool", () => {
  it("W1's float32 gradient: the same bits on 1 and 2 threads", async () => {
    const was = setElementwiseThreading({ minWork: 0, minWorkPerElement: 0 });
    const threads = setThreads(2);
    try {
      await elementwisePoolReady();
      const g = nb.jit(
        nb.grad((v: A) => {
          const s = nb.sin(v);
          return nb.sum(nb.add(nb.mul(nb.tanh(v), v), nb.mul(s, s)));
        }),
      );
      for (const n of [4 * SUM_CHUNK + 1, 4 * SUM_CHUNK + 2, 4 * SUM_CHUNK + 7]) {
        const x = nb.array(
          Array.from({ length: n }, (_, i) => Math.sin(i) * 3),
          { dtype: "float32" },
        );
        const two = g(x);
        setThreads(1);
        const one = g(x);
        setThreads(2);
        expectIdentical(one, two, `n = ${n}`);
      }
    } finally {
      setThreads(threads);
      setElementwiseThreading(was);
    }
  });
});
