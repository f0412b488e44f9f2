/**
 * The Graph IR produced by makeGraph: printed form (inline snapshots, each
 * checked by hand against the function it stages), equation counts, that
 * evaluating a staged graph gives the eager numbers, and that derivative
 * graphs do not swell with the derivative order.
 *
 * Evaluation uses the internal `evalGraph` (no public graph evaluator exists
 * until `jit`). Tolerance 1e-12 relative for float64: a staged graph runs the
 * same kernels as eager code, possibly with CSE-merged subexpressions, so
 * results agree to rounding.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { evalGraph } from "../src/core/graph.js";

type A = nb.NDArray;
const TOL = 1e-12;

function vals(x: A): number[] {
  return Array.from(x.toTypedArray(), Number);
}

function expectClose(got: number[], expected: number[], tol = TOL): void {
  expect(got.length).toBe(expected.length);
  got.forEach((v, i) => {
    if (!(Math.abs(v - expected[i]!) <= tol * (1 + Math.abs(expected[i]!))))
      expect.fail(`element ${i}: got ${v}, expected ${expected[i]}`);
  });
}

/** Stages f at args, evaluates the graph on the same args, and returns the flat outputs. */
function stageAndRun(f: (...xs: A[]) => A, ...args: A[]): [nb.Graph, A[]] {
  const g = nb.makeGraph(f)(...args);
  return [g, evalGraph(g, args)];
}

const sinExp = (x: A) => nb.mul(nb.sin(x), nb.exp(x));

describe("printed graphs (inline snapshots)", () => {
  it("x => sum(sin(x))", () => {
    const g = nb.makeGraph((x: A) => nb.sum(nb.sin(x)))(nb.zeros([3]));
    expect(g.toString()).toMatchInlineSnapshot(
      `"{ lambda a:f64[3] . let b:f64[3] = sin a ; c:f64[] = reduce_sum[axes=(0,)] b in ( c ) }"`,
    );
    expect(g.equations.length).toBe(2);
  });

  it("grad of sin(x)·exp(x)", () => {
    const g = nb.makeGraph(nb.grad(sinExp))(nb.array(0.5));
    expect(g.toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[] .
        let b:f64[] = sin a
            c:f64[] = cos a
            d:f64[] = exp a
            e:f64[] = mul b d
            f:f64[] = mul d c
            g:f64[] = add e f
        in ( g ) }"
    `);
    // d/dx (sin x · e^x) = sin x · e^x + e^x · cos x: sin, cos, exp, two products, one sum
    expect(g.equations.length).toBe(6);
  });

  it("a matmul with a constant matrix, and a two-argument matmul", () => {
    const W = nb.array([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const g = nb.makeGraph((x: A) => nb.tanh(nb.matmul(W, x)))(nb.zeros([3, 4]));
    expect(g.toString()).toMatchInlineSnapshot(
      `"{ lambda a:f64[2,3] ; b:f64[3,4] . let c:f64[2,4] = matmul a b ; d:f64[2,4] = tanh c in ( d ) }"`,
    );
    expect(g.equations.length).toBe(2);
    const h = nb.makeGraph((a: A, b: A) => nb.matmul(a, b))(nb.zeros([5, 2, 3]), nb.zeros([3, 4]));
    expect(h.toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[5,2,3] b:f64[3,4] .
        let c:f64[5,3,4] = broadcast[shape=(5,3,4)] b
            d:f64[5,2,4] = matmul a c
        in ( d ) }"
    `);
  });

  it("literals, float32 and weak scalars: x * 2 + 1", () => {
    const g = nb.makeGraph((x: A) => nb.add(nb.mul(x, 2), 1))(nb.zeros([2], { dtype: "float32" }));
    expect(g.toString()).toMatchInlineSnapshot(
      `"{ lambda a:f32[2] . let b:f32[2] = mul a 2.0:f32 ; c:f32[2] = add b 1.0:f32 in ( c ) }"`,
    );
    expect(g.equations.length).toBe(2);
  });

  it("a JS-number argument is weakly typed, as in eager code and jit: f32 array times 3 stays f32", () => {
    const f = (a: A, s: number): A => nb.mul(a, s);
    const x = nb.array(new Float32Array([1, 2]));
    const g = nb.makeGraph(f)(x, 3);
    expect(f(x, 3).dtype).toBe("float32");
    expect(nb.jit(f)(x, 3).dtype).toBe("float32");
    expect(g.outs[0]!.aval.dtype).toBe("float32");
    expect(g.toString()).not.toContain("f64[2]");
    expect(() => nb.makeGraph(f, { optimise: true } as never)).toThrow(/^makeGraph: unknown option "optimise"/);
  });

  it("pytree arguments and outputs flatten in order (object keys sorted)", () => {
    const g = nb.makeGraph((p: { w: A; b: A }) => ({ y: nb.add(p.w, p.b), n: nb.neg(p.w) }))({
      w: nb.zeros([2]),
      b: nb.zeros([2]),
    });
    expect(g.toString()).toMatchInlineSnapshot(
      `"{ lambda a:f64[2] b:f64[2] . let c:f64[2] = add b a ; d:f64[2] = neg b in ( d, c ) }"`,
    );
  });
});

describe("staged graphs evaluate to the eager numbers", () => {
  it("sum(sin(x)) and grad of sin·exp", () => {
    const xv = [0.3, -1.2, 2.5];
    const x = nb.array(xv);
    const f = (v: A) => nb.sum(nb.sin(v));
    const [, [out]] = stageAndRun(f, x);
    expectClose(vals(out!), [xv.reduce((s, v) => s + Math.sin(v), 0)]);
    expectClose(vals(out!), vals(f(x)));
    const gf = nb.grad((v: A) => nb.sum(sinExp(v)));
    const [, [g]] = stageAndRun(gf, x);
    expectClose(
      vals(g!),
      xv.map((v) => Math.exp(v) * (Math.sin(v) + Math.cos(v))),
    );
    expectClose(vals(g!), vals(gf(x)));
  });

  it("matmul, softmax and a Hessian", () => {
    const a = nb.array([
      [1, -2, 0.5],
      [0.3, 0.7, -1],
    ]);
    const b = nb.array([0.2, -0.1, 0.4]);
    const f = (m: A, v: A) => nb.softmax(nb.matmul(m, v));
    const [, [y]] = stageAndRun(f, a, b);
    expectClose(vals(y!), vals(f(a, b)));
    const z = [1 * 0.2 + 2 * 0.1 + 0.5 * 0.4, 0.3 * 0.2 - 0.7 * 0.1 - 0.4];
    const e = z.map(Math.exp);
    expectClose(
      vals(y!),
      e.map((v) => v / (e[0]! + e[1]!)),
    );
    const h = nb.hessian((v: A) => nb.logsumexp(nb.matmul(a, v)));
    const [, [H]] = stageAndRun(h, b);
    expectClose(vals(H!), vals(h(b)));
  });

  it("equations reference only earlier variables; the graph has one output per output leaf", () => {
    const g = nb.makeGraph((x: A, y: A) => [nb.mul(x, y), nb.sin(nb.add(x, y)), x])(nb.zeros([2]), nb.zeros([2]));
    expect(g.outs.length).toBe(3);
    expect(g.inVars.length).toBe(2);
    const defined = new Set([...g.inVars, ...g.constVars]);
    for (const e of g.equations) {
      for (const v of e.inputs) expect(defined.has(v)).toBe(true);
      for (const v of e.outs) defined.add(v);
    }
    // x + y, sin, x * y (the third output is an input variable)
    expect(g.equations.map((e) => e.prim).sort()).toEqual(["add", "mul", "sin"]);
    expect(g.outs[2]).toBe(g.inVars[0]);
  });
});

describe("derivative graphs do not swell", () => {
  // k-th derivative of sin(x)·e^x, closed form 2^(k/2) e^x sin(x + kπ/4)
  const closed = (k: number, x: number) => 2 ** (k / 2) * Math.exp(x) * Math.sin(x + (k * Math.PI) / 4);
  const x0 = 0.7;

  function counts(step: (f: (x: A) => A) => (x: A) => A): number[] {
    const out: number[] = [];
    let f: (x: A) => A = sinExp;
    for (let k = 1; k <= 6; k++) {
      f = step(f);
      const [g, [y]] = stageAndRun(f, nb.array(x0));
      // the staged k-th derivative is numerically right
      expectClose(vals(y!), [closed(k, x0)], 1e-11);
      out.push(g.equations.length);
    }
    return out;
  }

  // Bound: the k-th derivative is Σ_j C(k, j) sin^(j)(x) e^x, and sin^(j) cycles through
  // ±sin, ±cos, so with CSE and symbolic zeros a graph needs sin, cos, exp plus a number of
  // products and sums polynomial in k. Without them reverse mode re-differentiates the
  // whole previous graph and roughly doubles it per order (jax-js: 6, 12, 25, 53, 113, 241
  // under grad; ×3 per order under jvp: 6, 17, 54, 176, 570, 1820). We require strictly less
  // than doubling at every order and fewer than 100 equations at order 6 (exponential growth
  // from 6 equations at ×2 would give 192).
  function checkGrowth(c: number[]): void {
    expect(c[0]).toBe(6); // sin, cos, exp, 2 × mul, add
    for (let k = 1; k < c.length; k++) expect(c[k]!).toBeLessThan(2 * c[k - 1]!);
    expect(c[5]!).toBeLessThan(100);
  }

  it("grad applied k times, k = 1..6", () => {
    const c = counts((f) => nb.grad(f));
    checkGrowth(c);
  });

  it("jvp applied k times (each taking the tangent output), k = 1..6", () => {
    const c = counts((f) => (x: A) => nb.jvp(f, [x], [nb.onesLike(x)])[1]);
    checkGrowth(c);
  });
});
