/**
 * `exportGraph` / `importGraph` round trips: the imported function equals the
 * original in value, gradient and second derivatives (Hessians and
 * Hessian-vector products computed from the original function directly, not
 * from the graph under test), and `vmap` / `jit` of it work.
 *
 * Tolerance (float64): 1e-12 relative, justified in test/support/export.ts.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { exportGraph, importGraph, GRAPH_FORMAT, GRAPH_VERSION } from "../src/export/index.js";
import { arbProgram, type Program } from "../src/testing/index.js";
import { expectSame } from "./support/export.js";
import { vals } from "./support/assert.js";
import { fcSettings } from "./support/rng.js";

const { SEED, RUNS } = fcSettings({ seed: 20261201, runs: 10 });

/** Export, write as text, read back, import. */
// the imported function has the signature of the exported one (stated as importGraph's type argument)
const roundTrip = <F extends (...a: never[]) => unknown>(f: F, ...args: unknown[]): F =>
  importGraph<F>(JSON.parse(JSON.stringify(exportGraph(f, ...args))));

const withInput = (p: fc.Arbitrary<Program>): fc.Arbitrary<[Program, nb.NDArray]> =>
  p.chain((q) => q.input.map((x) => [q, x] as [Program, nb.NDArray]));

describe("exportGraph", () => {
  it("writes the documented schema: format, version, trees, avals, equations and literal data", () => {
    const json = exportGraph((x: nb.NDArray) => nb.sum(nb.mul(nb.sin(x), 2)), nb.zeros([3]));
    expect(json.format).toBe(GRAPH_FORMAT);
    expect(json.version).toBe(GRAPH_VERSION);
    expect(json.inTree).toEqual({ array: ["leaf"] });
    expect(json.outTree).toBe("leaf");
    expect(json.graph.inputs).toEqual([{ id: 0, aval: { shape: [3], dtype: "float64", weak: false } }]);
    expect(json.graph.consts).toEqual([{ id: 1, aval: { shape: [], dtype: "float64", weak: true }, data: [2] }]);
    expect(json.graph.equations.map((e) => [e.prim, e.params, e.inputs])).toEqual([
      ["sin", {}, [0]],
      ["mul", {}, [2, 1]],
      ["reduce_sum", { axes: [0] }, [3]],
    ]);
    expect(json.graph.outputs).toEqual([4]);
  });

  it("writes non-finite and signed-zero data as strings and reads them back bit for bit", () => {
    const c = nb.array([NaN, Infinity, -Infinity, -0, 1.5]);
    const g = roundTrip((x: nb.NDArray) => nb.add(x, c), nb.zeros([5]));
    const out = vals(g(nb.zeros([5])));
    expect(out.slice(0, 3)).toEqual([NaN, Infinity, -Infinity]);
    expect(Object.is(out[3], -0 + 0)).toBe(true); // -0 + 0 is +0 in IEEE arithmetic
    const data = exportGraph((x: nb.NDArray) => nb.add(x, c), nb.zeros([5])).graph.consts[0]!.data;
    expect(data).toEqual(["NaN", "Infinity", "-Infinity", "-0", 1.5]);
  });

  it("keeps the pytree structure of arguments and result", () => {
    const f = (p: { w: nb.NDArray; b: nb.NDArray }, xs: [nb.NDArray, null]) => ({
      y: nb.add(nb.matmul(xs[0], p.w), p.b),
      n: [nb.sum(p.w)],
    });
    const p = {
      w: nb.array([
        [1, 2],
        [3, 4],
      ]),
      b: nb.array([0.5, -1]),
    };
    const xs: [nb.NDArray, null] = [nb.array([[1, -1]]), null];
    expectSame(roundTrip(f, p, xs)(p, xs), f(p, xs));
  });

  it("exports a staged while_loop with its condition and body as sub-graphs", () => {
    const f = (x: nb.NDArray) =>
      nb.whileLoop(
        (v: nb.NDArray) => nb.less(nb.sum(v), 10),
        (v: nb.NDArray) => nb.mul(v, 1.5),
        x,
      );
    const json = exportGraph(f, nb.zeros([2]));
    const loop = json.graph.equations.find((e) => e.prim === "while_loop")!;
    expect(Object.keys(loop.params).sort()).toEqual(["body", "cond", "nBody", "nCond"]);
    const g = importGraph(JSON.stringify(json));
    const x = nb.array([0.5, 1]);
    expectSame(g(x), f(x));
    // derivatives of the loop unroll it on concrete values, in both graphs alike
    expectSame(nb.grad((v: nb.NDArray) => nb.sum(g(v)))(x), nb.grad((v: nb.NDArray) => nb.sum(f(v)))(x));
  });

  it("refuses primitives that carry JavaScript functions, naming them", () => {
    const f = nb.customJvp(
      (x: nb.NDArray) => nb.sin(x),
      ([x], [dx]) => [nb.sin(x), nb.mul(dx, nb.cos(x))],
    );
    expect(() => exportGraph(f, nb.zeros([2]))).toThrow(nb.NablaError);
    expect(() => exportGraph(f, nb.zeros([2]))).toThrow(/^exportGraph: the primitive custom_jvp_call/);
    const c = nb.checkpoint((x: nb.NDArray) => nb.sin(x));
    expect(() => exportGraph(c, nb.zeros([2]))).toThrow(/custom_vjp_call/);
    // the derivative program of a custom rule is made of ordinary primitives and exports
    const df = nb.grad((x: nb.NDArray) => nb.sum(f(x)));
    const x = nb.array([0.3, -1.2]);
    expectSame(roundTrip(df, x)(x), nb.cos(x));
  });

  it("refuses a program that closes over a tracer of an enclosing transform", () => {
    nb.grad((y: nb.NDArray) => {
      expect(() => exportGraph((x: nb.NDArray) => nb.mul(x, y), nb.zeros([2]))).toThrow(/^exportGraph: .*traced value/);
      return y;
    })(nb.array(1));
  });
});

describe("importGraph(exportGraph(f)) equals f", () => {
  it("on random programs: value, gradient, Hessian, vmap and jit", () => {
    fc.assert(
      fc.property(withInput(arbProgram({ maxDepth: 3 })), ([p, x]) => {
        const g = roundTrip(p.f, x);
        expectSame(g(x), p.f(x));
        const sf = (h: (x: nb.NDArray) => nb.NDArray) => (v: nb.NDArray) => nb.sum(h(v));
        expectSame(nb.grad(sf(g))(x), nb.grad(sf(p.f))(x));
        expectSame(nb.hessian(sf(g))(x), nb.hessian(sf(p.f))(x));
        const xs = nb.stack([x, nb.mul(x, 0.5)]);
        expectSame(nb.vmap(g)(xs), nb.stack([p.f(x), p.f(nb.mul(x, 0.5))]));
        expectSame(nb.jit(nb.grad(sf(g)))(x), nb.grad(sf(p.f))(x));
      }),
      { seed: SEED, numRuns: 3 * RUNS },
    );
  });

  // a two-layer tanh MLP with a squared-error loss
  const params = {
    w1: nb.array([
      [0.3, -0.2, 0.5],
      [0.1, 0.4, -0.6],
    ]),
    b1: nb.array([0.05, -0.1, 0.2]),
    w2: nb.array([[0.7], [-0.3], [0.2]]),
    b2: nb.array([0.1]),
  };
  type P = typeof params;
  const xb = nb.array([
    [0.5, -1],
    [1.5, 0.2],
    [-0.3, 0.8],
    [0, 1],
  ]);
  const yb = nb.array([[1], [0], [-1], [0.5]]);
  const mlp = (p: P, x: nb.NDArray) => nb.add(nb.matmul(nb.tanh(nb.add(nb.matmul(x, p.w1), p.b1)), p.w2), p.b2);
  const loss = (p: P, x: nb.NDArray, y: nb.NDArray) => nb.mean(nb.square(nb.sub(mlp(p, x), y)));
  const dir = nb.tree.map((w: nb.NDArray) => nb.mul(nb.cos(nb.add(w, 1)), 0.5), params) as P;

  it("on an MLP loss: value, gradient and Hessian-vector product", () => {
    const g = roundTrip(loss, params, xb, yb);
    expectSame(g(params, xb, yb), loss(params, xb, yb));
    expectSame(nb.grad(g)(params, xb, yb), nb.grad(loss)(params, xb, yb));
    const hvp = (h: typeof loss) => nb.jvp((p: P) => nb.grad(h)(p, xb, yb), [params], [dir])[1];
    expectSame(hvp(g), hvp(loss));
  });

  it("on derivative programs: the MLP-loss gradient and a Hessian-vector product, exported themselves", () => {
    const dl = nb.grad(loss);
    expectSame(roundTrip(dl, params, xb, yb)(params, xb, yb), dl(params, xb, yb));
    const hvp = (p: P, v: P) => nb.jvp((q: P) => nb.grad(loss)(q, xb, yb), [p], [v])[1];
    const g = roundTrip(hvp, params, dir);
    expectSame(g(params, dir), hvp(params, dir));
    // and the imported gradient program differentiates again (third derivative of the loss, in one direction)
    const d3 = (h: typeof hvp) => nb.grad((p: P) => nb.sum(h(p, dir).w1))(params);
    expectSame(d3(g), d3(hvp));
  });

  it("on a PINN-like residual: u'' + u = sin x at collocation points, with its parameter gradient", () => {
    const net = {
      a: nb.array([[0.4, -0.7, 1.1, 0.3]]),
      c: nb.array([0.1, 0.2, -0.3, 0.05]),
      v: nb.array([[0.5], [0.25], [-0.4], [0.8]]),
    };
    type N = typeof net;
    const u = (p: N, t: nb.NDArray) =>
      nb.sum(nb.matmul(nb.tanh(nb.add(nb.matmul(nb.reshape(t, [1, 1]), p.a), p.c)), p.v));
    const residual = (p: N, ts: nb.NDArray) => {
      const upp = nb.vmap((t: nb.NDArray) => nb.grad(nb.grad((s: nb.NDArray) => u(p, s)))(t))(ts);
      const uu = nb.vmap((t: nb.NDArray) => u(p, t))(ts);
      return nb.mean(nb.square(nb.sub(nb.add(upp, uu), nb.sin(ts))));
    };
    const ts = nb.linspace(0, 2, 5);
    const g = roundTrip(residual, net, ts);
    expectSame(g(net, ts), residual(net, ts));
    expectSame(nb.grad(g)(net, ts), nb.grad(residual)(net, ts));
    const second = (h: typeof residual) => nb.grad((p: N) => nb.sum(nb.grad(h)(p, ts).v))(net);
    expectSame(second(g), second(residual));
  });

  it("checks call-time arguments against the exported avals", () => {
    const g = roundTrip((x: nb.NDArray, y: nb.NDArray) => nb.add(x, y), nb.zeros([2]), nb.zeros([2]));
    expect(() => g(nb.zeros([3]), nb.zeros([2]))).toThrow(nb.ShapeError);
    expect(() => g(nb.zeros([3]), nb.zeros([2]))).toThrow(/^importGraph: argument leaf 0 has shape \[3\]/);
    expect(() => g(nb.zeros([2], { dtype: "float32" }), nb.zeros([2]))).toThrow(nb.DTypeError);
    // wrong arities and structures, as an untyped caller could pass them
    const loose = g as unknown as (...args: unknown[]) => unknown;
    expect(() => loose(nb.zeros([2]))).toThrow(nb.ShapeError);
    expect(() => loose([nb.zeros([2]), nb.zeros([2])])).toThrow(nb.ShapeError);
  });
});
