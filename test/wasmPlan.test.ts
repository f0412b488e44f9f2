/**
 * The compiled WebAssembly path (src/kernels/wasm/elementwise.ts) in jit plans
 * and eager kernels:
 * - with the size threshold at 0, random programs run through jit's fused
 *   WebAssembly loops and through the equation-by-equation interpreter (whose
 *   unary/binary kernels then use the same compiled code) give the same bits,
 *   for values and for derivatives of order 1 and 2;
 * - the compiled path and the JS path (WebAssembly disabled) agree within the
 *   error the two functions' stated accuracies allow;
 * - odd lengths (the scalar tail), single-element operands, float32 rounding
 *   and the folded sum are exercised at sizes around the threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withJs } from "./support/assert.js";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { arbProgram } from "../src/testing/index.js";
import { compile } from "../src/transforms/plan.js";
import { evalGraph } from "../src/core/graph.js";
import { ConcreteArray as ConcreteArrayClass, storageOf } from "../src/core/ndarray.js";
import type { ConcreteArray } from "../src/core/ndarray.js";
import { Arena, allocateKept, allocateUnpooled, isRewritten } from "../src/core/dtype.js";
import {
  compileElementwise,
  inMemory,
  keptInMemory,
  memoryArray,
  residentBytes,
  setWasmMinSize,
  wasmElementwiseAvailable,
  wasmMinSize,
} from "../src/kernels/wasm/elementwise.js";

const RUNS = Number(process.env.NABLA_FC_RUNS ?? 15);
const SEED = Number(process.env.NABLA_FC_SEED ?? 20261201);
type A = nb.NDArray;

const data = (x: A): number[] => Array.from(x.toTypedArray() as ArrayLike<number>);
function expectIdentical(a: A, b: A): void {
  expect(b.dtype).toBe(a.dtype);
  expect(b.shape).toEqual(a.shape);
  const x = data(a);
  const y = data(b);
  x.forEach((v, i) => expect(Object.is(v, y[i]), `element ${i}: ${v} vs ${y[i]}`).toBe(true));
}

describe.skipIf(!wasmElementwiseAvailable())("compiled WebAssembly loops in jit and eager", () => {
  let minSize = 0;
  beforeAll(() => {
    minSize = setWasmMinSize(0);
  });
  afterAll(() => {
    setWasmMinSize(minSize);
  });

  it("random programs: jit's compiled plan equals the interpreter bit for bit (values, order 1 and 2)", () => {
    let compiled = 0;
    fc.assert(
      fc.property(
        arbProgram({ maxDepth: 4 }).chain((p) => fc.tuple(fc.constant(p), p.input)),
        ([p, x]) => {
          expectIdentical(p.f(x), nb.jit(p.f)(x));
          const g = (z: A) => nb.sum(p.f(z));
          const g2 = (z: A) => nb.sum(nb.grad(g)(z));
          for (const h of [nb.grad(g), nb.grad(g2)]) {
            const graph = nb.makeGraph(h)(x);
            const plan = compile(graph);
            compiled += plan.wasmGroups;
            expectIdentical(evalGraph(graph, [x])[0]!, plan.run([x as ConcreteArray])[0]!);
          }
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    // the property is about the compiled loops: they must have run (most gradient graphs fuse some chain)
    expect(compiled).toBeGreaterThan(RUNS);
  });

  it("random programs: compiled and JS paths agree within the functions' accuracy (values, order 1 and 2)", () => {
    fc.assert(
      fc.property(
        arbProgram({ maxDepth: 3 }).chain((p) => fc.tuple(fc.constant(p), p.input)),
        ([p, x]) => {
          const g = (z: A) => nb.sum(p.f(z));
          const fs = [p.f, nb.grad(g), nb.grad((z: A) => nb.sum(nb.grad(g)(z)))];
          for (const f of fs) {
            const w = data(nb.jit(f)(x));
            const j = withJs(() => data(nb.jit(f)(x)));
            // each compiled function is within 2 ulp and V8's within 1 ulp of the exact value, so one
            // operation differs by at most 3 ulp (3·2^-52 relative); through a program of up to ~40
            // operations with inputs and constants in [-2, 2] (arbProgram's bounds, its divisions and powers
            // kept away from their poles) the difference stays below 1e-11 relative to max(1, |value|)
            w.forEach((v, i) => {
              const r = j[i]!;
              if (Number.isNaN(r)) expect(v).toBeNaN();
              else
                expect(Math.abs(v - r), `${p.expr} element ${i}`).toBeLessThanOrEqual(1e-11 * Math.max(1, Math.abs(r)));
            });
          }
        },
      ),
      { numRuns: RUNS, seed: SEED + 1 },
    );
  });
});

describe.skipIf(!wasmElementwiseAvailable())("compiled loops at the default threshold", () => {
  const n0 = wasmMinSize();
  const sizes = [n0, n0 + 1, n0 + 3, 3 * n0 + 1];
  const chain = (v: A) =>
    nb.sum(nb.add(nb.mul(nb.tanh(v), v), nb.div(nb.square(nb.sin(v)), nb.add(nb.exp(nb.neg(v)), 2))));
  for (const dtype of ["float64", "float32"] as const)
    for (const n of sizes)
      it(`${dtype}, n = ${n}: a fused chain with a scalar operand and a folded sum; grad; eager = jit`, () => {
        const xs = new Float64Array(n);
        for (let i = 0; i < n; i++) xs[i] = -3 + (6 * ((i * 7919) % n)) / n;
        const x = nb.array(xs, { dtype });
        const graph = nb.makeGraph(nb.grad(chain))(x);
        const plan = compile(graph);
        expect(plan.wasmGroups).toBeGreaterThan(0);
        // compiled fused loop = the interpreter (whose kernels are compiled at this size too), bit for bit
        expectIdentical(evalGraph(graph, [x])[0]!, plan.run([x as ConcreteArray])[0]!);
        expectIdentical(nb.jit(chain)(x), chain(x));
        // against the JS path: float64 per element within 1e-14 relative (a few ulp through ~10 operations);
        // float32 values are float64 results rounded once per operation: within 4 float32 ulp (2^-21 relative)
        const tol = dtype === "float64" ? 1e-14 : 2 ** -21;
        const w = data(plan.run([x as ConcreteArray])[0]!);
        const j = withJs(() => data(compile(graph).run([x as ConcreteArray])[0]!));
        w.forEach((v, i) => expect(Math.abs(v - j[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(j[i]!))));
        const sw = chain(x).item();
        const sj = withJs(() => chain(x).item());
        // the sum of n terms in the same order: only the terms differ (each within the tolerance above)
        expect(Math.abs(sw - sj)).toBeLessThanOrEqual(tol * n * 4);
      });

  it("eager kernels below the threshold stay on the JS loop (bit-identical to it)", () => {
    const x = nb.array(Array.from({ length: n0 - 1 }, (_, i) => i / 100 - 10));
    expectIdentical(
      withJs(() => nb.tanh(x)),
      nb.tanh(x),
    );
  });

  it("NaN, ±Infinity, ±0 and subnormals through the compiled eager kernels match the JS loops", () => {
    const sp = [NaN, Infinity, -Infinity, 0, -0, 5e-324, -5e-324, 1e-310, 710, -746, 1e300, -1e300, 3e7];
    const xs = Array.from({ length: n0 }, (_, i) => sp[i % sp.length]!);
    const x = nb.array(xs);
    const fns = [
      nb.exp,
      nb.expm1,
      nb.log,
      nb.log1p,
      nb.sin,
      nb.cos,
      nb.tan,
      nb.sinh,
      nb.cosh,
      nb.tanh,
      nb.erf,
      nb.sigmoid,
    ];
    for (const f of [...fns, nb.softplus, nb.sqrt]) {
      const w = data(f(x));
      const j = withJs(() => data(f(x)));
      // special values are exact in both paths; 3e7 (host reduction) and the finite results within 2 ulp
      w.forEach((v, i) => {
        const r = j[i]!;
        if (!Number.isFinite(r) || r === 0) expect(Object.is(v, r), `${f.name}(${xs[i]})`).toBe(true);
        else expect(Math.abs(v - r)).toBeLessThanOrEqual(3 * 2 ** -52 * Math.abs(r));
      });
    }
  });
});

describe.skipIf(!wasmElementwiseAvailable())("constants kept in the compiled loops' memory", () => {
  it("a plan's constant is copied in once; every call reads it in place and gives eager's bits", () => {
    const n = 20000; // above the compiled-loop threshold
    for (const dtype of ["float64", "float32"] as const) {
      const c = nb.astype(nb.sin(nb.arange(n)), dtype); // a constant of the staged graph (closed over)
      const f = (x: A): A => nb.tanh(nb.add(nb.mul(x, c), nb.exp(c)));
      const x0 = nb.astype(nb.cos(nb.arange(n)), dtype);
      const graph = nb.makeGraph(f, { optimize: true })(x0);
      const plan = compile(graph);
      expect(plan.wasmGroups).toBeGreaterThan(0);
      const before = residentBytes("constants");
      const first = plan.run([x0 as ConcreteArray])[0]!;
      const placed = residentBytes("constants") - before;
      // the constant c (and exp(c), folded or not) placed once, at most its padded bytes each
      expect(placed).toBeGreaterThan(0);
      expect(placed).toBeLessThanOrEqual(2 * (n + 4) * (dtype === "float64" ? 8 : 4));
      expectIdentical(f(x0), first);
      for (let k = 1; k <= 3; k++) {
        const x = nb.astype(nb.mul(nb.cos(nb.arange(n)), k + 0.5), dtype);
        expectIdentical(f(x), plan.run([x as ConcreteArray])[0]!);
      }
      // nothing more placed by the later calls
      expect(residentBytes("constants") - before).toBe(placed);
    }
  });

  it("a jit argument is copied in once per array: the same array again is read in place, a new one copied", () => {
    const n = 20000;
    for (const dtype of ["float64", "float32"] as const) {
      const f = nb.jit((x: A): A => nb.tanh(nb.mul(nb.sin(x), x)));
      const xs = [1, 2, 3].map((k) => nb.astype(nb.mul(nb.cos(nb.arange(n)), k + 0.25), dtype));
      const bytes = n * (dtype === "float64" ? 8 : 4);
      const eager = xs.map((x) => nb.tanh(nb.mul(nb.sin(x), x)));
      const b0 = residentBytes("arguments");
      expectIdentical(f(xs[0]!), eager[0]!);
      const one = residentBytes("arguments") - b0;
      expect(one).toBeGreaterThanOrEqual(bytes);
      expect(one).toBeLessThanOrEqual(bytes + 16);
      for (let k = 0; k < 3; k++) expectIdentical(f(xs[0]!), eager[0]!);
      expect(residentBytes("arguments") - b0).toBe(one);
      // new arrays: copied (values their own, not the first array's)
      expectIdentical(f(xs[1]!), eager[1]!);
      expectIdentical(f(xs[2]!), eager[2]!);
      expectIdentical(f(xs[0]!), eager[0]!);
      expect(residentBytes("arguments") - b0).toBe(3 * one);
    }
  });

  it("an argument whose storage a plan rewrites (kept or arena buffers) is copied in on every call, never kept", () => {
    // plans hand their own buffers to code inside them only as fresh arrays today (values read by
    // higher-order equations escape); an argument backed by a rewritten buffer must still never
    // be cached, or a later call would read the old elements
    const n = 20000;
    for (const dtype of ["float64", "float32"] as const) {
      const f = (x: A): A => nb.tanh(nb.mul(nb.sin(x), x));
      const graph = nb.makeGraph(f, { optimize: true })(nb.zeros([n], { dtype }));
      const plan = compile(graph);
      expect(plan.wasmGroups).toBeGreaterThan(0);
      const buf = allocateKept(dtype, n);
      expect(isRewritten(buf.buffer)).toBe(true);
      const x = new ConcreteArrayClass(buf, [n], dtype);
      const b0 = residentBytes("arguments");
      for (let k = 1; k <= 3; k++) {
        for (let i = 0; i < n; i++) buf[i] = Math.cos(i) * (k + 0.5);
        const fresh = nb.array(Float64Array.from(buf), { shape: [n] }).astype(dtype);
        expectIdentical(plan.run([x])[0]!, f(fresh));
      }
      expect(residentBytes("arguments")).toBe(b0);
    }
    expect(isRewritten(new Arena().take("float32", 4096).buffer)).toBe(true);
    // storage of every other kind is written once: not marked
    expect(isRewritten(new Float64Array(4).buffer)).toBe(false);
    expect(isRewritten(allocateUnpooled("float64", 4096).buffer)).toBe(false);
  });
});

describe.skipIf(!wasmElementwiseAvailable() || !keptInMemory())("arrays living in the compiled loops' memory", () => {
  it("start zeroed, are read and written in place by a compiled loop, with the bits of ordinary arrays", () => {
    const n = 5003; // not a whole number of vectors
    for (const dtype of ["float64", "float32"] as const) {
      const T = dtype === "float64" ? Float64Array : Float32Array;
      const x = memoryArray(dtype, n);
      const out = memoryArray(dtype, n);
      expect(x).not.toBeNull();
      expect(out).not.toBeNull();
      if (x === null || out === null) return;
      expect(x.length).toBe(n);
      expect(x.every((v) => v === 0)).toBe(true);
      expect(inMemory(x)).toBe(true);
      expect(inMemory(new T(n))).toBe(false);
      for (let i = 0; i < n; i++) x[i] = Math.sin(i) * 3;
      const y = new T(n);
      for (let i = 0; i < n; i++) y[i] = Math.cos(i);
      const yCopy = y.slice();
      const k = compileElementwise({
        dtype,
        scalarIn: [false, false],
        ops: [
          { op: "exp", args: [0] },
          { op: "mul", args: [2, 1] },
        ],
        outs: [3],
        sum: null,
      });
      expect(k).not.toBeNull();
      if (k === null) return;
      // the same program over ordinary arrays
      const want = new T(n);
      expect(k([x.slice(), y], [want], n)).not.toBeNull();
      expect(k([x, y], [out], n)).not.toBeNull();
      expect(Array.from(out)).toEqual(Array.from(want));
      // an input living in memory, written by the loop as its own output (in place)
      expect(k([x, y], [x], n)).not.toBeNull();
      expect(Array.from(x)).toEqual(Array.from(want));
      expect(Array.from(y)).toEqual(Array.from(yCopy));
    }
  });

  it("an output viewing a kept buffer in that memory gets storage of its own, unchanged by later calls", () => {
    const n = 6000;
    for (const dtype of ["float64", "float32"] as const) {
      // `a` is a compiled loop's kept result; its reshape (a view of it) is an output of the plan
      const f = (x: A, y: A): A[] => {
        const a = nb.mul(nb.tanh(x), nb.add(y, 1));
        const r = nb.sum(nb.reshape(a, [60, 100]), 0);
        return [nb.reshape(a, [100, 60]), nb.mul(r, 2)];
      };
      const jf = nb.jit(f);
      const xs = [0.5, 1.5, 2.5].map((k) => nb.astype(nb.mul(nb.cos(nb.arange(n)), k), dtype));
      const y = nb.astype(nb.sin(nb.mul(nb.arange(n), 0.1)), dtype);
      const first = jf(xs[0]!, y);
      const firstBits = (first[0] as ConcreteArray).toTypedArray().slice();
      for (const x of xs.slice(1)) jf(x, y).forEach((o, j) => expectIdentical(o, f(x, y)[j]!));
      const view = first[0] as ConcreteArray;
      expect(inMemory(storageOf(view))).toBe(false);
      expect(Array.from(view.toTypedArray())).toEqual(Array.from(firstBits));
      first.forEach((o, j) => expectIdentical(o, f(xs[0]!, y)[j]!));
    }
  });

  it("a plan's kept buffers between compiled loops give eager's bits on every call", () => {
    const n = 6000;
    for (const dtype of ["float64", "float32"] as const) {
      // two compiled loops around a partial reduction; the first loop's results are kept buffers
      const f = (x: A, y: A): A => {
        const a = nb.mul(nb.tanh(x), nb.add(y, 1));
        const b = nb.sub(nb.exp(nb.mul(a, 0.5)), y);
        const r = nb.sum(nb.reshape(a, [60, 100]), 0);
        const c = nb.mul(nb.reshape(b, [60, 100]), r);
        return nb.add(nb.sin(c), nb.mul(c, c));
      };
      const jf = nb.jit(f);
      for (let k = 0; k < 4; k++) {
        const x = nb.astype(nb.mul(nb.cos(nb.arange(n)), k + 0.5), dtype);
        const y = nb.astype(nb.sin(nb.mul(nb.arange(n), 0.1 * (k + 1))), dtype);
        expectIdentical(jf(x, y), f(x, y));
      }
    }
  });
});
