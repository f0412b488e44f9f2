/**
 * matmul of operands given transposed (issue 8): the WebAssembly kernel reads
 * Aᵀ and Bᵀ in place (a strided A, a transposing pack of B) and `jit` plans
 * drop a transpose read only by matmuls. The kernel's claim is bit-identity
 * with the product of the materialised transposes (every output is the same
 * ascending-k sum of the same rounded products, see src/kernels/wasmMatmul.ts),
 * so the comparisons are exact (Object.is per element). The product itself is
 * checked against a float64 triple loop written here with the bound of
 * test/wasmMatmul.test.ts: |ĉ − ref| <= 1.01·K·u·Σ|a||b| (u = 2^-24 float32,
 * 2^-52 float64, covering both computations' rounding).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import * as nb from "../src/index.js";
import { ConcreteArray, storageOf } from "../src/core/ndarray.js";
import { evalGraph } from "../src/core/graph.js";
import { allocate } from "../src/core/dtype.js";
import { matmul, matmulT } from "../src/kernels/matmul.js";
import { matmulPoolReady, wasmMatmul, wasmMatmulAvailable } from "../src/kernels/wasmMatmul.js";
import { setThreads } from "../src/kernels/threads.js";
import { compile } from "../src/transforms/plan.js";
import { TRANSPOSE } from "../src/prims/shape.js";
import { seeded } from "./support/rng.js";

type Dt = "float32" | "float64";
type A = nb.NDArray;

function random(dt: Dt | "int32", n: number, r: () => number) {
  const d = allocate(dt, n);
  for (let i = 0; i < n; i++) d[i] = dt === "int32" ? Math.floor(r() * 9) - 4 : r();
  return d;
}

/** [.., r, c] -> [.., c, r] of B stacked matrices. */
function transposed<T extends ArrayLike<number> & { length: number }>(
  d: T,
  make: (n: number) => T,
  B: number,
  r: number,
  c: number,
): T {
  const out = make(d.length) as T & { [i: number]: number };
  for (let b = 0; b < B; b++)
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[b * r * c + j * r + i] = d[b * r * c + i * c + j]!;
  return out;
}

function expectSame(x: ArrayLike<number>, y: ArrayLike<number>, what: string): void {
  expect(y.length, what).toBe(x.length);
  let diff = -1;
  for (let i = 0; i < x.length && diff < 0; i++) if (!Object.is(x[i], y[i])) diff = i;
  expect(diff, `${what}: first differing element`).toBe(-1);
}

function expectProduct(
  c: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  dt: Dt,
): void {
  const u = dt === "float32" ? 2 ** -24 : 2 ** -52;
  let worst = 0;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      let S = 0;
      for (let k = 0; k < K; k++) {
        s += a[i * K + k]! * b[k * N + j]!;
        S += Math.abs(a[i * K + k]! * b[k * N + j]!);
      }
      worst = Math.max(worst, Math.abs(c[i * N + j]! - s) - (1.01 * K * u * S + 1e-300));
    }
  expect(worst).toBeLessThanOrEqual(0);
}

afterEach(() => void setThreads(0));

describe.skipIf(!wasmMatmulAvailable)("wasmMatmul with transposed operands", () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [5, 7, 9],
    [33, 300, 17], // two K blocks, a partial panel
    [64, 513, 3],
    [131, 67, 149], // several row chunks, threaded (M·K·N > 2^20)
    [128, 128, 512],
  ];
  for (const dt of ["float32", "float64"] as const)
    for (const threads of [1, 2])
      it(`${dt}, ${threads} thread(s): Aᵀ, Bᵀ and both give the bits of the materialised transposes' product`, async () => {
        setThreads(threads);
        await matmulPoolReady();
        const r = seeded(dt === "float32" ? 41 : 42, -1, 1);
        const make = (n: number) => allocate(dt, n) as Float32Array | Float64Array;
        for (const [M, K, N] of shapes) {
          const a = random(dt, M * K, r) as Float32Array | Float64Array;
          const b = random(dt, K * N, r) as Float32Array | Float64Array;
          const ref = wasmMatmul(a, b, M, K, N, dt, 0)!;
          expectProduct(ref, a, b, M, K, N, dt);
          const at = transposed(a, make, 1, M, K);
          const bt = transposed(b, make, 1, K, N);
          for (const [ta, tb] of [
            [true, false],
            [false, true],
            [true, true],
          ] as const) {
            const c = wasmMatmul(ta ? at : a, tb ? bt : b, M, K, N, dt, 0, { a: ta, b: tb })!;
            expectSame(ref, c, `${M}x${K}x${N} ta=${ta} tb=${tb}`);
          }
        }
      });

  it("NaN and Inf in a transposed operand reach exactly the outputs they feed", () => {
    const [M, K, N] = [9, 11, 13];
    const r = seeded(43, -1, 1);
    const a = random("float64", M * K, r) as Float64Array;
    const b = random("float64", K * N, r) as Float64Array;
    b[3 * N + 5] = NaN; // B[3, 5]: column 5 of C
    a[2 * K + 4] = Infinity; // A[2, 4]: row 2 of C
    const c = wasmMatmul(
      transposed(a, (n) => new Float64Array(n), 1, M, K),
      transposed(b, (n) => new Float64Array(n), 1, K, N),
      M,
      K,
      N,
      "float64",
      0,
      { a: true, b: true },
    )!;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) expect(Number.isFinite(c[i * N + j]!), `${i},${j}`).toBe(i !== 2 && j !== 5);
  });
});

describe("matmulT: every path (WebAssembly, JS, batched, integer) equals matmul of the materialised transposes", () => {
  const cases: [Dt | "int32", number, number, number, number][] = [
    ["float32", 1, 40, 50, 60],
    ["float64", 1, 40, 50, 60],
    ["float64", 1, 3, 4, 5], // below the WebAssembly threshold: the JS kernel
    ["float32", 3, 7, 9, 11], // batched
    ["float64", 2, 30, 20, 30],
    ["int32", 2, 4, 5, 6],
  ];
  for (const [dt, B, M, K, N] of cases)
    it(`${dt} [${B}] ${M}x${K}x${N}`, () => {
      const r = seeded(M * 100 + N, -1, 1);
      const a = random(dt, B * M * K, r);
      const b = random(dt, B * K * N, r);
      const shape = (x: number, y: number) => (B === 1 ? [x, y] : [B, x, y]);
      const A_ = new ConcreteArray(a, shape(M, K), dt);
      const B_ = new ConcreteArray(b, shape(K, N), dt);
      const ref = storageOf(matmul(A_, B_, dt));
      const make = (n: number) => allocate(dt, n);
      const At = new ConcreteArray(transposed(a, make, B, M, K), shape(K, M), dt);
      const Bt = new ConcreteArray(transposed(b, make, B, K, N), shape(N, K), dt);
      for (const [ta, tb] of [
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const c = matmulT(ta ? At : A_, tb ? Bt : B_, dt, ta, tb);
        expect(c.shape).toEqual(shape(M, N));
        expectSame(ref, storageOf(c), `ta=${ta} tb=${tb}`);
      }
    });
});

describe("jit plans read transposed matmul operands in place", () => {
  function mlp(p: { w1: A; w2: A }, x: A): A {
    const h = nb.tanh(nb.matmul(x, p.w1));
    return nb.sum(nb.mul(nb.matmul(h, p.w2), nb.matmul(h, p.w2)));
  }
  for (const dt of ["float32", "float64"] as const)
    it(`${dt}: the gradient graph's transposes are dropped, and the plan equals equation-by-equation evaluation`, () => {
      const r = seeded(dt === "float32" ? 51 : 52, -0.5, 0.5);
      const mk = (shape: number[]) =>
        nb.array(random(dt, shape[0]! * shape[1]!, r) as Float32Array | Float64Array, { shape });
      const p = { w1: mk([40, 64]), w2: mk([64, 48]) };
      const x = mk([32, 40]);
      const f = (w1: A, w2: A) => nb.grad((q: { w1: A; w2: A }) => mlp(q, x))({ w1, w2 });
      const graph = nb.makeGraph((w1: A, w2: A) => {
        const g = f(w1, w2) as { w1: A; w2: A };
        return [g.w1, g.w2];
      })(p.w1, p.w2);
      const plan = compile(graph);
      // hᵀ·g for both weights' gradients and g·W2ᵀ for h's cotangent
      expect(plan.matmulTransposes).toBeGreaterThanOrEqual(2);
      const got = plan.run([p.w1 as ConcreteArray, p.w2 as ConcreteArray]);
      const want = evalGraph(graph, [p.w1, p.w2]);
      got.forEach((g, i) =>
        expectSame(
          (want[i] as ConcreteArray).toTypedArray() as Float64Array,
          (g as ConcreteArray).toTypedArray() as Float64Array,
          `output ${i}`,
        ),
      );
    });

  it("a transpose also read by something other than a matmul, or returned, is kept", () => {
    const x = nb.array(random("float64", 12, seeded(53, -1, 1)) as Float64Array, { shape: [3, 4] });
    const cases: ((x: A) => A[])[] = [
      (x) => [nb.matmul(nb.transpose(x), x), nb.transpose(x)],
      (x) => [nb.matmul(x, nb.transpose(x)), nb.exp(nb.transpose(x))],
    ];
    for (const f of cases) {
      const graph = nb.makeGraph(f)(x);
      const plan = compile(graph);
      expect(plan.matmulTransposes).toBe(0);
      const got = plan.run([x as ConcreteArray]);
      evalGraph(graph, [x]).forEach((w, i) =>
        expectSame(
          (w as ConcreteArray).toTypedArray() as Float64Array,
          (got[i] as ConcreteArray).toTypedArray() as Float64Array,
          `output ${i}`,
        ),
      );
    }
    // read only by matmuls (here twice): dropped, same values
    const graph = nb.makeGraph((x: A) => [nb.matmul(nb.transpose(x), x), nb.matmul(x, nb.transpose(x))])(x);
    const plan = compile(graph);
    expect(plan.matmulTransposes).toBeGreaterThanOrEqual(1);
    const got = plan.run([x as ConcreteArray]);
    evalGraph(graph, [x]).forEach((w, i) =>
      expectSame(
        (w as ConcreteArray).toTypedArray() as Float64Array,
        (got[i] as ConcreteArray).toTypedArray() as Float64Array,
        `output ${i}`,
      ),
    );
  });
});

describe("eager gradients read transposed matmul operands in place", () => {
  function loss(p: { w1: A; w2: A }, x: A): A {
    const h = nb.tanh(nb.matmul(x, p.w1));
    return nb.sum(nb.mul(nb.matmul(h, p.w2), nb.matmul(h, p.w2)));
  }
  for (const dt of ["float32", "float64"] as const)
    it(`${dt}: no transpose is materialised, and the gradient has the bits of the primitive path`, () => {
      const r = seeded(dt === "float32" ? 61 : 62, -0.5, 0.5);
      const mk = (shape: number[]) =>
        nb.array(random(dt, shape[0]! * shape[1]!, r) as Float32Array | Float64Array, { shape });
      const p = { w1: mk([40, 64]), w2: mk([64, 48]) };
      const x = mk([32, 40]);
      const g = nb.grad((q: { w1: A; w2: A }) => loss(q, x));
      const spy = vi.spyOn(TRANSPOSE, "impl");
      const fast = g(p) as { w1: A; w2: A };
      expect(spy).not.toHaveBeenCalled();
      // debugNans makes every operation go through bind (the transpose primitive, then matmul)
      const was = nb.config().debugNans;
      nb.config({ debugNans: true });
      let slow: { w1: A; w2: A };
      try {
        slow = g(p) as { w1: A; w2: A };
      } finally {
        nb.config({ debugNans: was });
      }
      expect(spy).toHaveBeenCalled();
      spy.mockRestore();
      for (const k of ["w1", "w2"] as const)
        expectSame(slow[k].toTypedArray() as Float64Array, fast[k].toTypedArray() as Float64Array, k);
      // and under a transform (here jit), the primitive path: the same values within float32 rounding
      const j = nb.jit(g)(p) as { w1: A; w2: A };
      const tol = dt === "float32" ? 1e-5 : 1e-12; // a staged graph may sum cotangents in another order
      for (const k of ["w1", "w2"] as const) {
        const a = fast[k].toTypedArray() as Float64Array;
        const b = j[k].toTypedArray() as Float64Array;
        const scale = Math.max(...Array.from(a, Math.abs));
        a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(tol * scale));
      }
    });
});
