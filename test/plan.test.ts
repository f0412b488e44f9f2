/**
 * The compiled plans behind `jit` (src/core/plan.ts): running a staged graph
 * with direct kernel calls and fused elementwise loops must give exactly the
 * eager result — the same bits, since the fused code uses the same scalar
 * functions and rounds every intermediate to its equation's dtype.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { arbProgram } from "../src/testing/index.js";
import { compile } from "../src/transforms/plan.js";
import { ConcreteArray } from "../src/core/ndarray.js";
import { evalGraph } from "../src/core/graph.js";
import { gather } from "../src/kernels/strided.js";
import { fcSettings } from "./support/rng.js";
import { withJs } from "./support/assert.js";

const { SEED, RUNS } = fcSettings({ seed: 20261126, runs: 25 });

type A = nb.NDArray;

function bits(x: A): { dtype: string; shape: readonly number[]; data: number[] } {
  return { dtype: x.dtype, shape: x.shape, data: Array.from(x.toTypedArray() as ArrayLike<number>) };
}

function expectIdentical(a: A, b: A): void {
  const x = bits(a);
  const y = bits(b);
  expect(y.dtype).toBe(x.dtype);
  expect(y.shape).toEqual(x.shape);
  x.data.forEach((v, i) => expect(Object.is(v, y.data[i])).toBe(true));
}

describe("jit plans equal eager evaluation bit for bit", () => {
  it("on random programs: the plan equals evaluating the same graph equation by equation, and eager", () => {
    fc.assert(
      fc.property(
        arbProgram().chain((p) => fc.tuple(fc.constant(p), p.input)),
        ([p, x]) => {
          // the primal: staging only shares identical subexpressions, so jit is bit-identical to eager
          expectIdentical(p.f(x), nb.jit(p.f)(x));
          // the gradient graph: the compiled plan against equation-by-equation evaluation of the same graph.
          // (Against eager grad only closeness holds: sharing equal residuals in a staged graph can change the
          // order in which cotangent contributions are summed, a last-bit difference.)
          const g = (z: A) => nb.sum(p.f(z));
          const graph = nb.makeGraph(nb.grad(g))(x);
          const viaPlan = compile(graph).run([x as ConcreteArray])[0]!;
          expectIdentical(evalGraph(graph, [x])[0]!, viaPlan);
          const eager = nb.grad(g)(x).toTypedArray();
          const jitted = nb.jit(nb.grad(g))(x).toTypedArray();
          // float64: a reordered sum of k terms differs by at most ~k ulp of the largest term; 1e-12 relative is ample
          Array.from(eager as ArrayLike<number>).forEach((v, i) =>
            expect(Math.abs(v - (jitted[i] as number))).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(v))),
          );
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  const x = nb.array([-2.5, -1, -0.25, 0, 0.3, 1, 2.5, 7]);
  const cases: [string, (x: A) => A][] = [
    ["float64 transcendental chain", (v) => nb.mul(nb.mul(nb.sin(v), nb.exp(v)), nb.tanh(v))],
    [
      "float32 chain (rounded at every step)",
      (v) => {
        const y = v.astype("float32");
        return nb.div(nb.add(nb.mul(y, y), 0.1), nb.add(nb.exp(y), 1));
      },
    ],
    [
      "int32 arithmetic and casts",
      (v) => nb.add(nb.astype(nb.mul(v, 3), "int32"), nb.astype(nb.less(v, 0.1), "int32")),
    ],
    [
      "comparisons, logic and select",
      (v) => nb.where(nb.logicalAnd(nb.greater(v, -1), nb.lessEqual(v, 1)), nb.sqrt(nb.abs(v)), nb.neg(v)),
    ],
    [
      "NaN-propagating max/min, softplus, sigmoid, erf, round",
      (v) =>
        nb.add(
          nb.maximum(nb.minimum(nb.log(v), 0.5), nb.softplus(v)),
          nb.add(nb.erf(v), nb.round(nb.mul(nb.sigmoid(v), 4))),
        ),
    ],
    ["a reduction between two elementwise runs", (v) => nb.mul(nb.sum(nb.sin(v)), nb.cos(v))],
    ["broadcast scalars inside a run", (v) => nb.add(nb.mul(v, nb.array(2)), nb.array([1]))],
  ];
  it.each(cases)("%s", (_name, f) => {
    expectIdentical(f(x), nb.jit(f)(x));
  });
});

describe("fusion", () => {
  it("fuses a chain of elementwise equations into one loop and keeps values used later", () => {
    const g = nb.makeGraph((v: A) => {
      const a = nb.sin(v);
      const b = nb.mul(a, nb.exp(v));
      return [nb.sum(a), nb.tanh(b)];
    })(nb.zeros([4]));
    const plan = compile(g);
    expect(plan.fusedGroups).toBeGreaterThanOrEqual(1);
    const x = nb.array([0.1, 0.2, 0.3, 0.4]) as ConcreteArray;
    const [s, t] = plan.run([x]);
    // plain-JS reference
    const xs = [0.1, 0.2, 0.3, 0.4];
    expect(s!.item()).toBe(xs.map(Math.sin).reduce((p, q) => p + q, 0));
    xs.forEach((v, i) => expect(t!.toTypedArray()[i]).toBe(Math.tanh(Math.sin(v) * Math.exp(v))));
  });

  it("folds a full sum into the loop, bit-identical to the reduce kernel, for float64, float32 and int32", () => {
    const fs: [string, (v: A) => A | A[]][] = [
      ["f64", (v) => nb.sum(nb.mul(nb.sin(v), v))],
      ["f32", (v) => nb.sum(nb.mul(nb.sin(v.astype("float32")), 3))],
      ["i32", (v) => nb.sum(nb.astype(nb.mul(v, 1000), "int32"))],
      // the summed value is also returned: it must still be written out
      [
        "live",
        (v) => {
          const t = nb.exp(nb.neg(v));
          return [nb.sum(t), t];
        },
      ],
    ];
    const x = nb.array(Array.from({ length: 37 }, (_, i) => Math.sin(i) * 3)) as ConcreteArray;
    for (const [, f] of fs) {
      const g = nb.makeGraph(f)(x);
      const plan = compile(g);
      expect(plan.fusedGroups).toBeGreaterThanOrEqual(1);
      const got = plan.run([x]);
      const want = evalGraph(g, [x]);
      got.forEach((o, i) => expectIdentical(want[i]!, o));
    }
  });

  it("operands that need real broadcasting (read from tiled copies) give the broadcast result", () => {
    const g = nb.makeGraph((a: A, b: A) => nb.sin(nb.add(a, b)))(nb.zeros([3, 1]), nb.zeros([1, 4]));
    const a = nb.array([[1], [2], [3]]) as ConcreteArray;
    const b = nb.array([[0.5, 1, 1.5, 2]]) as ConcreteArray;
    const [out] = compile(g).run([a, b]);
    const want = [1, 2, 3].flatMap((p) => [0.5, 1, 1.5, 2].map((q) => Math.sin(p + q)));
    expect(out!.shape).toEqual([3, 4]);
    expect(Array.from(out!.toTypedArray())).toEqual(want);
  });

  it("operands broadcast along middle or trailing axes (read in place by blocks) give eager's bits", () => {
    // [full shape, operand shape]: one run of broadcast axes after axes of the operand's own (read in
    // place, block by block), and shapes with two runs or a leading one (read from copies)
    const cases: [number[], number[]][] = [
      [
        [5, 3, 4],
        [5, 1, 4],
      ],
      [
        [5, 3, 2, 4],
        [5, 1, 1, 4],
      ],
      [
        [6, 7],
        [6, 1],
      ],
      [
        [2, 3, 4, 5],
        [2, 3, 1, 1],
      ],
      [
        [3, 2, 4, 2],
        [3, 1, 4, 1],
      ],
      [
        [2, 3, 4],
        [1, 3, 1],
      ],
      [
        [4, 3, 5],
        [3, 1],
      ],
    ];
    const specials = [0.5, -0, Infinity, NaN, -2.25, 1e-310, 3];
    for (const dtype of ["float64", "float32"] as const)
      for (const [full, small] of cases) {
        const n = full.reduce((a, b) => a * b, 1);
        const m = small.reduce((a, b) => a * b, 1);
        const x = nb.astype(
          nb.array(
            Array.from({ length: n }, (_, i) => specials[i % 7]! + i / 7),
            { shape: full },
          ),
          dtype,
        );
        const y = nb.astype(
          nb.array(
            Array.from({ length: m }, (_, i) => specials[(i + 3) % 7]! - i),
            { shape: small },
          ),
          dtype,
        );
        const f = (x: A, y: A): A => nb.exp(nb.sub(nb.mul(x, y), nb.tanh(y)));
        const want = Array.from(f(x, y).toTypedArray());
        const got = Array.from((nb.jit(f)(x, y) as A).toTypedArray());
        got.forEach((v, i) => {
          if (!Object.is(v, want[i])) expect.fail(`${dtype} ${full} · ${small}, element ${i}: ${want[i]} became ${v}`);
        });
      }
  });

  it("one large elementwise equation is a loop of its own: a broadcast operand, a transposed result", () => {
    for (const dtype of ["float64", "float32"] as const) {
      const arr = (s: number[], k: number) =>
        nb.astype(nb.reshape(nb.sin(nb.add(nb.mul(nb.arange(s.reduce((a, b) => a * b, 1)), 0.37), k)), s), dtype);
      // W5's mul of [256, 2, 32] by [256, 1, 32]; W6's jacfwd ends in a transpose of a product
      const x = arr([256, 2, 32], 0);
      const y = arr([256, 1, 32], 1);
      const mul = (x: A, y: A): A => nb.mul(x, y);
      const p1 = compile(nb.makeGraph(mul)(x, y));
      expect(p1.fusedGroups).toBe(1);
      expectIdentical(mul(x, y), p1.run([x, y] as ConcreteArray[])[0]!);
      const m = arr([100, 100], 2);
      const v = arr([100], 3);
      const mt = (m: A, v: A): A => nb.transpose(nb.mul(m, v));
      const p2 = compile(nb.makeGraph(mt)(m, v));
      expect(p2.fusedGroups).toBe(1);
      expectIdentical(mt(m, v), p2.run([m, v] as ConcreteArray[])[0]!);
      // below the compiled loops' size, the eager kernel runs it
      const s = arr([8, 4], 4);
      expect(compile(nb.makeGraph(mul)(s, arr([8, 1], 5))).fusedGroups).toBe(0);
    }
  });

  it("a JS loop over operands broadcast along middle axes in blocks of one length runs block by block", () => {
    // W5's form, [256, 1, 32] read as [256, 2, 32], and [5, 1, 4] read as [5, 3, 4] with a
    // [5, 3, 1] operand (blocks of another length: element by element)
    const cases: [number[], number[], number[] | null, number][] = [
      [[256, 2, 32], [256, 1, 32], [256, 1, 32], 1],
      [[5, 3, 4], [5, 1, 4], null, 1],
      [[5, 3, 4], [5, 1, 4], [5, 3, 1], 0],
    ];
    for (const dtype of ["float64", "float32"] as const)
      for (const [full, small, other, blockwise] of cases) {
        const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
        const arr = (s: number[], k: number) =>
          nb.astype(nb.reshape(nb.sin(nb.add(nb.mul(nb.arange(size(s)), 0.37), k)), s), dtype);
        const [x, y, z] = [arr(full, 0), arr(small, 1), arr(other ?? small, 2)];
        const f = (x: A, y: A, z: A): A => nb.sub(nb.mul(x, y), nb.mul(nb.add(x, z), y));
        withJs(() => {
          const plan = compile(nb.makeGraph(f)(x, y, z));
          expect(plan.blockwiseLoops).toBe(blockwise);
          expectIdentical(f(x, y, z), plan.run([x, y, z] as ConcreteArray[])[0]!);
          // the same loop with its result transposed (written in place by the loop)
          const rows = full.slice(0, -1).reduce((a, b) => a * b, 1);
          const ft = (x: A, y: A, z: A): A => nb.transpose(nb.reshape(f(x, y, z), [rows, full[full.length - 1]!]));
          const tplan = compile(nb.makeGraph(ft)(x, y, z));
          expect(tplan.blockwiseLoops).toBe(blockwise);
          expectIdentical(ft(x, y, z), tplan.run([x, y, z] as ConcreteArray[])[0]!);
        });
      }
  });

  it("operands padded along one axis (read row by row, in segments) give eager's bits, transposed or not", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })), {
          minLength: 2,
          maxLength: 3,
        }),
        fc.constantFrom("float64", "float32"),
        fc.boolean(),
        (dims, axisPick, lohi, dtype, transposed) => {
          const axis = axisPick % dims.length;
          // every operand padded to the same extent D along `axis`: its own extent is D - lo - hi
          const D = Math.max(...lohi.map(([lo, hi]) => lo + hi)) + 1 + (axisPick % 3);
          const operands = lohi.map(([lo, hi], k) => {
            const shape = dims.map((d, a) => (a === axis ? D - lo - hi : d));
            const m = shape.reduce((a, b) => a * b, 1);
            const x = nb.astype(
              nb.array(
                Array.from({ length: m }, (_, i) => (i % 5) - 1.75 + k / 3),
                { shape },
              ),
              dtype,
            );
            const pads = dims.map((_, a): [number, number] => (a === axis ? [lo, hi] : [0, 0]));
            return { x, pads };
          });
          const f = (...xs: A[]): A => {
            let acc: A | null = null;
            xs.forEach((x, k) => {
              const p = nb.pad(x, operands[k]!.pads);
              acc = acc === null ? nb.mul(p, 1.5) : nb.sub(acc, nb.tanh(p));
            });
            const r = acc as unknown as A;
            return transposed ? nb.transpose(nb.reshape(r, [r.shape[0]!, -1])) : r;
          };
          const xs = operands.map((o) => o.x);
          const want = Array.from(f(...xs).toTypedArray());
          const got = Array.from((nb.jit(f)(...xs) as A).toTypedArray());
          got.forEach((v, i) => {
            if (!Object.is(v, want[i]))
              expect.fail(`${dtype} ${dims} axis ${axis} ${lohi}, element ${i}: ${want[i]} became ${v}`);
          });
        },
      ),
      { numRuns: RUNS * 8, seed: SEED },
    );
    // W4's form: two operands padded at either end of the last axis, the result transposed: one
    // loop, run row by row
    for (const dtype of ["float64", "float32"] as const) {
      const q = nb.astype(nb.reshape(nb.sin(nb.arange(200 * 199)), [200, 1, 199]), dtype);
      const w = nb.astype(nb.reshape(nb.cos(nb.arange(200 * 199)), [200, 1, 199]), dtype);
      const f = (q: A, w: A): A =>
        nb.transpose(
          nb.reshape(
            nb.add(
              nb.pad(q, [
                [0, 0],
                [0, 0],
                [1, 0],
              ]),
              nb.pad(w, [
                [0, 0],
                [0, 0],
                [0, 1],
              ]),
            ),
            [200, 200],
          ),
        );
      const plan = compile(nb.makeGraph(f)(q, w));
      expect(plan.rowwiseLoops).toBe(1);
      expectIdentical(f(q, w), plan.run([q as ConcreteArray, w as ConcreteArray])[0]!);
    }
  });

  it("a very long scalar chain (longer than one fused loop) gives the eager value", () => {
    const f = (v: A) => {
      let y = v;
      for (let i = 0; i < 2000; i++) y = nb.sin(y);
      return y;
    };
    let want = 0.5;
    for (let i = 0; i < 2000; i++) want = Math.sin(want);
    expect(nb.jit(f)(0.5).item()).toBe(want);
  });
});

// jit2 (issue 8, structure-aware jit): loops over reshapes and broadcast operands; block-copy movement kernels
describe("fusion across reshapes and broadcasts", () => {
  const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  it("one loop over mul(onehot, x) broadcasts, reshapes and a broadcast equation, equal to the interpreter bit for bit", () => {
    // the shape of a Hessian by slices: [m, k] one-hot rows times a broadcast [k] vector, reshaped to [m, 1, k]
    const m = 40;
    const k = 39;
    const onehot = nb.reshape(nb.array(seq(m * k, (i) => (Math.floor(i / k) === i % k ? 1 : 0))), [m, k]);
    const f = (v: A, w: A) => {
      const a = nb.mul(onehot, v); // [m, k] * [k]
      const b = nb.reshape(nb.sub(nb.add(a, a), nb.sin(a)), [m, 1, k]);
      const c = nb.mul(nb.mul(b, nb.reshape(v, [1, k])), w); // [m, 1, k] * [1, k] * [m, 1, 1]
      return nb.add(nb.broadcastTo(nb.reshape(v, [1, 1, k]), [m, 1, k]), nb.tanh(c));
    };
    for (const dtype of ["float64", "float32"] as const) {
      const v = nb.array(
        seq(k, (i) => Math.sin(i) * 2),
        { dtype },
      );
      const w = nb
        .array(
          seq(m, (i) => Math.cos(i * 0.7)),
          { dtype },
        )
        .reshape([m, 1, 1]);
      const g = nb.makeGraph(f)(v, w);
      const plan = compile(g);
      // the [m, k] / [m, 1, k] arithmetic is a single loop (the reshapes and broadcasts inside it)
      expect(plan.fusedGroups).toBe(1);
      const got = plan.run([v as ConcreteArray, w as ConcreteArray])[0]!;
      expectIdentical(evalGraph(g, [v, w])[0]!, got);
      expectIdentical(f(v, w), nb.jit(f)(v, w));
    }
  });

  it("the Rosenbrock Hessian (W4's graph) through jit equals eager bit for bit and the closed form", () => {
    const n = 50;
    const rosen = (x: A) => {
      const head = nb.slice(x, [0], [n - 1]);
      const tail = nb.slice(x, [1], [n]);
      const d = nb.sub(tail, nb.mul(head, head));
      const e = nb.sub(1, head);
      return nb.sum(nb.add(nb.mul(nb.mul(d, d), 100), nb.mul(e, e)));
    };
    const xs = seq(n, (i) => Math.sin(i * 1.3) * 1.5);
    const x = nb.array(xs);
    const want = nb.hessian(rosen)(x);
    const got = nb.jit(nb.hessian(rosen))(x);
    expectIdentical(want, got);
    // H_ii = [i<n-1](1200 x_i^2 - 400 x_{i+1} + 2) + [i>0] 200, H_i,i+1 = H_i+1,i = -400 x_i; exact up to
    // rounding of a few float64 operations on values below 1e4: 1e-9 absolute is ample
    const h = got.toTypedArray();
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let ref = 0;
        if (i === j) ref = (i < n - 1 ? 1200 * xs[i]! ** 2 - 400 * xs[i + 1]! + 2 : 0) + (i > 0 ? 200 : 0);
        else if (j === i + 1) ref = -400 * xs[i]!;
        else if (i === j + 1) ref = -400 * xs[j]!;
        expect(Math.abs((h[i * n + j] as number) - ref)).toBeLessThanOrEqual(1e-9);
      }
  });

  it("movement kernels' block paths (long contiguous runs, 2-d blocked transpose) give the element-by-element result", () => {
    for (const dtype of ["float64", "float32", "int32"] as const) {
      const r = 37;
      const c = 70;
      const vals = seq(r * c, (i) => (i * 7919) % 1000);
      const x = nb.array(vals, { dtype }).reshape([r, c]);
      // transpose: out[j][i] = x[i][j]
      const t = nb.transpose(x).toTypedArray();
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) expect(t[j * r + i]).toBe(vals[i * c + j]);
      // rank-3 (with a unit axis) transposes under every permutation: collapsed to a copy, a 2-d block
      // transpose, or the strided loop; out[idx] = x[idx permuted back]
      const shape3 = [r, 1, c];
      const x3 = nb.reshape(x, shape3);
      for (const perm of [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
      ]) {
        const got = nb.transpose(x3, perm);
        expect(got.shape).toEqual(perm.map((p) => shape3[p]));
        const os = got.shape;
        const want = seq(r * c, (o) => {
          const oi = [Math.floor(o / (os[1]! * os[2]!)), Math.floor(o / os[2]!) % os[1]!, o % os[2]!];
          const ii = [0, 0, 0];
          perm.forEach((p, a) => (ii[p] = oi[a]!));
          return vals[ii[0]! * c + ii[2]!]!;
        });
        expect(Array.from(got.toTypedArray())).toEqual(want);
      }
      // slice of whole rows (runs of 60 contiguous elements)
      const s = nb.slice(x, [2, 5], [30, 65]).toTypedArray();
      for (let i = 2; i < 30; i++) for (let j = 5; j < 65; j++) expect(s[(i - 2) * 60 + (j - 5)]).toBe(vals[i * c + j]);
      // pad: zeros around, x inside
      const p = nb
        .pad(x, [
          [1, 2],
          [3, 0],
        ])
        .toTypedArray();
      for (let i = 0; i < r + 3; i++)
        for (let j = 0; j < c + 3; j++) {
          const inside = i >= 1 && i < r + 1 && j >= 3;
          expect(p[i * (c + 3) + j]).toBe(inside ? vals[(i - 1) * c + (j - 3)] : 0);
        }
      // broadcast of a row (contiguous runs) and of a column (constant runs)
      const row = nb.array(vals.slice(0, c), { dtype });
      const col = nb.array(vals.slice(0, r), { dtype }).reshape([r, 1]);
      const br = nb.broadcastTo(row, [r, c]).toTypedArray();
      const bc = nb.broadcastTo(col, [r, c]).toTypedArray();
      for (let i = 0; i < r; i++)
        for (let j = 0; j < c; j++) {
          expect(br[i * c + j]).toBe(vals[j]);
          expect(bc[i * c + j]).toBe(vals[i]);
        }
    }
  });

  it("gather through strides (broadcast axes of stride 0 anywhere, rows repeated by doubling) gives the indexed elements", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (axes, reversed) => {
          const shape = axes.map(([d]) => d);
          // a row-major source over the axes that are not broadcast (stride 0), read forwards or
          // with its last axis reversed
          const own = axes.map(([d, b]) => (b ? 1 : d));
          const size = own.reduce((a, b) => a * b, 1);
          const d = Float64Array.from({ length: size + 3 }, (_, i) => i * 1.5 - 7);
          const strides = new Array<number>(shape.length).fill(0);
          let acc = 1;
          for (let a = shape.length - 1; a >= 0; a--) {
            strides[a] = axes[a]![1] ? 0 : acc;
            acc *= own[a]!;
          }
          const last = shape.length - 1;
          let base = 2;
          if (reversed && strides[last]! !== 0) {
            base += (shape[last]! - 1) * strides[last]!;
            strides[last] = -strides[last]!;
          }
          const n = shape.reduce((a, b) => a * b, 1);
          const out = new Float64Array(n);
          gather(d, out, shape, strides, base);
          for (let o = 0; o < n; o++) {
            let rem = o;
            let p = base;
            for (let a = last; a >= 0; a--) {
              p += (rem % shape[a]!) * strides[a]!;
              rem = Math.floor(rem / shape[a]!);
            }
            if (out[o] !== d[p]) return false;
          }
          return true;
        },
      ),
      { numRuns: RUNS * 12, seed: SEED },
    );
  });
});
