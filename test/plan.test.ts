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
import { fcSettings } from "./support/rng.js";

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

  it("does not fuse operands that need real broadcasting", () => {
    const g = nb.makeGraph((a: A, b: A) => nb.sin(nb.add(a, b)))(nb.zeros([3, 1]), nb.zeros([1, 4]));
    const a = nb.array([[1], [2], [3]]) as ConcreteArray;
    const b = nb.array([[0.5, 1, 1.5, 2]]) as ConcreteArray;
    const [out] = compile(g).run([a, b]);
    const want = [1, 2, 3].flatMap((p) => [0.5, 1, 1.5, 2].map((q) => Math.sin(p + q)));
    expect(out!.shape).toEqual([3, 4]);
    expect(Array.from(out!.toTypedArray())).toEqual(want);
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
