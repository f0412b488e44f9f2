/**
 * Taylor mode (`jet`) of scatter_mul and of the higher-order primitives
 * (cond, while_loop, custom_jvp_call, custom_vjp_call, custom_vjp_lin,
 * linear_solve, customRoot, checkpoint_name, remat_saved, debug_callback):
 * each to order 6–8 against nested `jvp` of the same program (an independent
 * route: the JVP rules and the chain rule) and against closed forms written
 * in plain JS; under jit once (the staged graph holds one cond / while_loop,
 * not an unrolled one) and under vmap once.
 *
 * A series x(t) = x0 + Σ_k d_k t^k / k! (derivative terms, API.md's
 * convention); the reference differentiates t ↦ f(x(t)) k times at t = 0.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { apply } from "./properties/primitiveSpecs.js";
import { fact, nestedAll } from "./support/jet.js";

type A = nb.NDArray;
const vals = (x: A): number[] => Array.from(x.toTypedArray(), Number);
/** Entry k of a list that must have it. */
const entry = <V>(xs: readonly V[], k: number): V => {
  const v = xs[k];
  if (v === undefined) throw new Error(`no entry ${k}`);
  return v;
};

/** |got − want| ≤ tol · (1 + max|want|) elementwise, naming `what`. */
function expectNear(got: A, want: A | number[], tol: number, what: string): void {
  const g = vals(got);
  const w = Array.isArray(want) ? want : vals(want);
  expect(g.length, what).toBe(w.length);
  const scale = 1 + Math.max(0, ...w.map(Math.abs));
  g.forEach((v, i) => {
    if (!(Math.abs(v - w[i]!) <= tol * scale)) expect.fail(`${what}, element ${i}: got ${v}, expected ${w[i]}`);
  });
}

/** jet of a one-output function of one input against nested jvp, every order. */
function againstNested(f: (x: A) => A, x: A, ds: A[], tol: number, what: string): A[] {
  const [, s] = nb.jet(f, [x], [ds]);
  const ref = nestedAll(([v]) => [f(v!)], [x], [ds]);
  s.forEach((d, k) => expectNear(d, ref[k]![0]!, tol, `${what}: order ${k + 1}`));
  return s;
}

/** The unit series x(t) = x0 + t as K derivative terms. */
const unit = (K: number): number[] => [1, ...Array<number>(K - 1).fill(0)];

/** Top-level equations of a staged program with primitive `prim`. */
const count = (g: nb.Graph, prim: string): number => g.equations.filter((e) => e.prim === prim).length;

// ---------------------------------------------------------------------------
// plain-JS truncated polynomials (coefficients of t^0..t^K)

const polyMul = (a: number[], b: number[], K: number): number[] =>
  Array.from({ length: K + 1 }, (_, k) => {
    let s = 0;
    for (let i = 0; i <= k; i++) s += (a[i] ?? 0) * (b[k - i] ?? 0);
    return s;
  });

describe("scatter_mul: Cauchy products of each position's updates", () => {
  // x: [4, 2]; indices wrap (negative) and clamp (past the end) as the kernel: positions 1, 1, 1, 3, 1, 3;
  // positions 0 and 2 get no update; zeros in the updates' primals (two at position 1, column 0)
  const idx = nb.array([1, -3, 1, 3, 1, 7], { dtype: "int32" });
  const pos = [1, 1, 1, 3, 1, 3];
  const x0 = [0.5, -1.2, 2, 0.3, 1.5, -0.7, 0.9, 1.1];
  const u0 = [0, 2, 1.3, -0.4, 0, 0.5, 0.8, 1.7, -1.1, 0.6, 1.2, -0.9];
  const K = 8;
  // derivative terms of order j: deterministic, scaled by 1/j so coefficients stay moderate
  const xd = (j: number) => x0.map((_, i) => (Math.sin(3 * i + j) * 0.7) / j);
  const ud = (j: number) => u0.map((_, i) => (Math.cos(2 * i + 5 * j) * 0.6) / j);
  const toA = (v: number[], shape: number[]) => nb.reshape(nb.array(v), shape);
  const X = toA(x0, [4, 2]);
  const U = toA(u0, [6, 2]);
  const dX = Array.from({ length: K }, (_, j) => toA(xd(j + 1), [4, 2]));
  const dU = Array.from({ length: K }, (_, j) => toA(ud(j + 1), [6, 2]));
  const smul = (x: A, u: A): A => apply("scatter_mul", [x, idx, u], {})[0]!;

  /** The derivative terms of the output by plain-JS polynomial products: element (p, c), order k. */
  function closedForm(withX: boolean, withU: boolean): number[][] {
    const series = (v0: number[], d: (j: number) => number[], on: boolean, i: number) =>
      Array.from({ length: K + 1 }, (_, k) => (k === 0 ? v0[i]! : on ? d(k)[i]! / fact(k) : 0));
    const out: number[][] = Array.from({ length: K }, () => Array<number>(8).fill(0));
    for (let p = 0; p < 4; p++)
      for (let c = 0; c < 2; c++) {
        let acc = series(x0, xd, withX, 2 * p + c);
        pos.forEach((q, j) => {
          if (q === p) acc = polyMul(acc, series(u0, ud, withU, 2 * j + c), K);
        });
        for (let k = 1; k <= K; k++) out[k - 1]![2 * p + c] = acc[k]! * fact(k);
      }
    return out;
  }

  it("order 8 in the operand and the updates: closed form (polynomial products) and nested jvp", () => {
    for (const [withX, withU] of [
      [true, true],
      [false, true],
      [true, false],
    ] as const) {
      const zero = dX.map((d) => nb.zerosLike(d));
      const zeroU = dU.map((d) => nb.zerosLike(d));
      const [y, s] = nb.jet(smul, [X, U], [withX ? dX : zero, withU ? dU : zeroU]);
      expectNear(y, smul(X, U), 0, "primal");
      const want = closedForm(withX, withU);
      // float64: each coefficient is a sum of at most a few hundred products of O(1) values (products of
      // ≤ 5 series, order ≤ 8, times k! ≤ 40320 on both sides); 1e-12 relative to 1 + max|want| covers the
      // rounding (measured ≤ 1e-15)
      s.forEach((d, k) => expectNear(d, want[k]!, 1e-12, `x ${withX}, u ${withU}: order ${k + 1}`));
    }
    // nested jvp (the JVP rule's exclusive products, an independent route) to order 6 (2^K JVP
    // evaluations, kept short), every term nonzero
    const [, s] = nb.jet(smul, [X, U], [dX.slice(0, 6), dU.slice(0, 6)]);
    const ref = nestedAll(([a, b]) => [smul(a!, b!)], [X, U], [dX.slice(0, 6), dU.slice(0, 6)]);
    s.forEach((d, k) => expectNear(d, ref[k]![0]!, 1e-12, `nested jvp: order ${k + 1}`));
  });

  it("exact at zero updates: u(t) = t at a position with two of them gives t² there, no NaN", () => {
    // x = 1 everywhere, updates 0 + t at rows 0 and 2 (position 1), the others constant 1: out(t) = t² at
    // position 1 (both columns), so the second derivative is 2 and every other order 0
    const ones = nb.ones([4, 2]);
    const u = nb.array([
      [0, 0],
      [1, 1],
      [0, 0],
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    const du = nb.array([
      [1, 1],
      [0, 0],
      [1, 1],
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    const [y, s] = nb.jet((v: A) => smul(ones, v), [u], [[du, ...Array.from({ length: 5 }, () => nb.zerosLike(u))]]);
    expectNear(y, [1, 1, 0, 0, 1, 1, 1, 1], 0, "primal");
    s.forEach((d, k) =>
      expectNear(d, k === 1 ? [0, 0, 2, 2, 0, 0, 0, 0] : Array<number>(8).fill(0), 0, `order ${k + 1}`),
    );
  });

  it("the public at().mul, under jit and vmap", () => {
    // position 0 multiplied twice, position 2 once, by updates depending on v
    const f = (v: A) =>
      nb
        .at(v, nb.array([0, 2, 0], { dtype: "int32" }))
        .mul(nb.sin(nb.take(v, nb.array([1, 1, 2], { dtype: "int32" }))));
    const v0 = nb.array([0.4, -0.9, 1.3]);
    const ds = Array.from({ length: 6 }, (_, j) => nb.array([0.3 / (j + 1), -0.2, 0.5 / (j + 1)]));
    const s = againstNested(f, v0, ds, 1e-12, "at().mul");
    // jit both ways: the same operations, fused differently
    const [, s1] = nb.jet(nb.jit(f), [v0], [ds]);
    const s2 = nb.jit((v: A, ...d: A[]) => nb.jet(f, [v], [d])[1])(v0, ...ds);
    s.forEach((d, k) => {
      expectNear(s1[k]!, d, 1e-13, `jet(jit): order ${k + 1}`);
      expectNear(s2[k]!, d, 1e-13, `jit(jet): order ${k + 1}`);
    });
    // vmap over the primal: per example equals the loop
    const per = (v: A) => nb.jet(f, [v], [ds])[1][5]!;
    const vs = nb.stack([v0, nb.mul(v0, -0.5)]);
    expectNear(nb.vmap(per)(vs), nb.stack([per(v0), per(nb.mul(v0, -0.5))]), 1e-13, "vmap(jet)");
  });

  it("polynomial in K: the staged series program grows like K², not 2^K", () => {
    const eqs = (k: number) =>
      nb.makeGraph((a: A, b: A) => nb.jet(smul, [a, b], [dX.slice(0, k), dU.slice(0, k)])[1])(X, U).equations.length;
    const [e4, e8] = [eqs(4), eqs(8)];
    // a Cauchy-product scan: (K+1)(K+2)/2 products per scan step, 45/15 = 3 times as many from K = 4 to 8
    // (measured 138 and 376 equations); the nested-jvp fallback staged 1353 and 73723
    expect(e8 / e4).toBeLessThan(5);
    expect(e8).toBeLessThan(1000);
  });
});

describe("cond: the series of the taken branch", () => {
  // sin for x > 0, exp otherwise; the predicate has no concrete value under jit, nor batched under vmap
  const f = (x: A) => nb.cond(nb.greater(x, 0), nb.sin, nb.exp, x);
  const K = 8;
  const closed = (x: number, k: number) => (x > 0 ? Math.sin(x + (k * Math.PI) / 2) : Math.exp(x));

  it("order 8, closed forms and nested jvp; under jit a single cond", () => {
    for (const x of [0.7, -0.4]) {
      const xs = nb.array(x);
      // eager cond with a concrete predicate runs the branch itself; jit stages the cond primitive, which
      // jet then meets with a predicate known at once
      const [, s] = nb.jet(nb.jit(f), [xs], [unit(K)]);
      // float64: O(K²) rounded operations per coefficient of O(1) values: 1e-13
      s.forEach((d, k) => expectNear(d, [closed(x, k + 1)], 1e-13, `x = ${x}: order ${k + 1}`));
      const ref = nestedAll(([v]) => [nb.jit(f)(v!)], [xs], [unit(K).map((c) => nb.array(c))]);
      s.forEach((d, k) => expectNear(d, ref[k]![0]!, 1e-12, `nested jvp, x = ${x}: order ${k + 1}`));
      // staged: the predicate is traced, jet binds one cond of the jetted branches
      const g = (v: A) => nb.jet(f, [v], [unit(K)])[1];
      expect(count(nb.makeGraph(g)(xs), "cond")).toBe(1);
      nb.jit(g)(xs).forEach((d, k) => expectNear(d, [closed(x, k + 1)], 1e-13, `jit(jet), x = ${x}: order ${k + 1}`));
    }
  });

  it("under vmap: a batched predicate selects per example", () => {
    const xs = nb.array([0.7, -0.4, 1.9, -2.2]);
    for (const k of [1, 4, 8]) {
      const d = nb.vmap((v: A) => nb.jet(f, [v], [unit(K)])[1][k - 1]!)(xs);
      expectNear(
        d,
        vals(xs).map((x) => closed(x, k)),
        1e-13,
        `vmap(jet): order ${k}`,
      );
    }
  });

  it("series in the closed-over values and the operands, several outputs, integer outputs", () => {
    const h = (v: A) => {
      const w = nb.mul(v, 2);
      const [a, b, i] = nb.cond(
        nb.less(nb.sum(v), 10),
        (u: A) => [nb.mul(nb.tanh(u), w), nb.sum(nb.exp(u)), nb.array(1, { dtype: "int32" })],
        (u: A) => [u, nb.sum(u), nb.array(2, { dtype: "int32" })],
        nb.sin(v),
      ) as [A, A, A];
      return nb.add(nb.sum(nb.mul(a, nb.astype(i, "float64"))), b);
    };
    const v0 = nb.array([0.3, -0.8]);
    const ds = Array.from({ length: 6 }, (_, j) => nb.array([1 / (j + 1), 0.5]));
    const s = againstNested(nb.jit(h), v0, ds, 1e-11, "jet(jit)");
    const s2 = nb.jit((v: A) => nb.jet(h, [v], [ds])[1])(v0);
    // float64, order ≤ 6 of tanh·(2 sin) and exp∘sin (magnitudes ≤ 1e3): 1e-11 relative
    s.forEach((d, k) => expectNear(s2[k]!, d, 1e-12, `jit(jet): order ${k + 1}`));
  });
});

describe("while_loop: the series of the composed bodies", () => {
  // y ← y·x while i < n: x^n by repeated multiplication. The counter starts at 0·stopGradient(x), traced
  // under jit, so staging keeps the loop as a while_loop primitive; x is closed over by the body
  const power = (n: number) => (x: A) => {
    const [, y] = nb.whileLoop(
      ([i]: [A, A]) => nb.less(i, n),
      ([i, y]: [A, A]) => [nb.add(i, 1), nb.mul(y, x)] as [A, A],
      [nb.mul(nb.stopGradient(x), 0), nb.onesLike(x)] as [A, A],
    );
    return y;
  };
  const K = 8;
  // d^k (x0 + t)^n / dt^k at 0 = n!/(n−k)! x0^(n−k) for k ≤ n, 0 beyond
  const closed = (n: number, x: number, k: number) => (k > n ? 0 : (fact(n) / fact(n - k)) * x ** (n - k));

  it("x^n to order 8: closed form (zero past n) and nested jvp; under jit a single loop", () => {
    for (const n of [5, 9]) {
      const x = 1.1;
      const [, s] = nb.jet(nb.jit(power(n)), [x], [unit(K)]);
      // float64: the series of n products of polynomials, magnitudes up to 9!/1! x^8 ≈ 8e5: 1e-13 relative
      s.forEach((d, k) => expectNear(d, [closed(n, x, k + 1)], 1e-13, `n = ${n}: order ${k + 1}`));
      // nested jvp to order 6 (2^K JVP evaluations of the loop, kept short)
      const ref = nestedAll(([v]) => [nb.jit(power(n))(v!)], [nb.array(x)], [unit(6).map((c) => nb.array(c))]);
      ref.forEach((r, k) => expectNear(entry(s, k), r[0]!, 1e-12, `nested jvp, n = ${n}: order ${k + 1}`));
      const g = (v: A) => nb.jet(power(n), [v], [unit(K)])[1];
      expect(count(nb.makeGraph(g)(nb.array(x)), "while_loop")).toBe(1);
      nb.jit(g)(nb.array(x)).forEach((d, k) =>
        expectNear(d, [closed(n, x, k + 1)], 1e-13, `jit(jet), n = ${n}: order ${k + 1}`),
      );
    }
  });

  it("under vmap: per example equals the closed form", () => {
    const xs = nb.array([0.5, -1.3, 2]);
    const d = nb.vmap((v: A) => nb.jet(power(6), [v], [unit(K)])[1][2]!)(xs);
    expectNear(
      d,
      vals(xs).map((x) => closed(6, x, 3)),
      1e-13,
      "vmap(jet), order 3",
    );
  });

  it("a nonlinear carry with every input term, against nested jvp (eager and staged)", () => {
    // c ← sin(1.5 c) + 0.1 w, three times; w closed over, the input series random
    const loop = (v: A) => {
      const w = nb.cos(v);
      const [, c] = nb.whileLoop(
        ([i]: [A, A]) => nb.less(i, 3),
        ([i, c]: [A, A]) => [nb.add(i, 1), nb.add(nb.sin(nb.mul(c, 1.5)), nb.mul(w, 0.1))] as [A, A],
        [nb.mul(nb.stopGradient(nb.sum(v)), 0), v] as [A, A],
      );
      return nb.sum(c);
    };
    const v0 = nb.array([0.3, -0.8, 1.1]);
    const ds = Array.from({ length: 6 }, (_, j) => nb.array([0.5 / (j + 1), -0.3, 0.2 / (j + 1)]));
    // float64, order ≤ 6 of three composed sines (magnitudes ≤ 1e2): 1e-11 relative
    const s = againstNested(nb.jit(loop), v0, ds, 1e-11, "jet(jit)");
    const s2 = nb.jit((v: A) => nb.jet(loop, [v], [ds])[1])(v0);
    s.forEach((d, k) => expectNear(s2[k]!, d, 1e-12, `jit(jet): order ${k + 1}`));
  });
});

describe("custom rules: jet follows the primal function, as JAX's jet", () => {
  const K = 8;

  it("customJvp with a rule that is not the derivative: jet gives the primal's series, jvp the rule's", () => {
    // the rule claims d sin = 2 dx; jet ignores it (JAX's jet calls the wrapped function)
    const f = nb.customJvp(
      (x: A) => nb.sin(x),
      ([x], [dx]) => [nb.sin(x), nb.mul(dx, 2)],
    );
    const x = 0.6;
    expectNear(nb.jvp(f, [x], [1])[1], [2], 0, "jvp uses the rule");
    for (const g of [f, nb.jit(f)]) {
      const [y, s] = nb.jet(g, [x], [unit(K)]);
      expectNear(y, [Math.sin(x)], 1e-15, "primal");
      // float64, O(K²) operations of O(1) values: 1e-13
      s.forEach((d, k) => expectNear(d, [Math.sin(x + ((k + 1) * Math.PI) / 2)], 1e-13, `order ${k + 1}`));
    }
    const s2 = nb.jit((v: A) => nb.jet(f, [v], [unit(K)])[1])(nb.array(x));
    s2.forEach((d, k) => expectNear(d, [Math.sin(x + ((k + 1) * Math.PI) / 2)], 1e-13, `jit(jet): order ${k + 1}`));
    // a correct rule (softplus): jet equals nested jvp of the same program
    const softplus = nb.customJvp(
      (u: A) => nb.log1p(nb.exp(u)),
      ([u], [du]) => [nb.log1p(nb.exp(u)), nb.mul(du, nb.sigmoid(u))],
    );
    const ds = Array.from({ length: 6 }, (_, j) => nb.array([0.5 / (j + 1), -0.4]));
    againstNested((v: A) => nb.sum(softplus(nb.mul(v, v))), nb.array([0.3, -1.2]), ds, 1e-12, "softplus");
    // under vmap
    const xs = nb.array([0.6, -1, 2.5]);
    const d3 = nb.vmap((v: A) => nb.jet(f, [v], [unit(K)])[1][2]!)(xs);
    expectNear(
      d3,
      vals(xs).map((v) => -Math.cos(v)),
      1e-13,
      "vmap(jet): order 3",
    );
  });

  it("customVjp with a backward pass that is not the transpose: jet follows the primal", () => {
    const f = nb.customVjp(
      (x: A) => nb.exp(x),
      (x: A) => [nb.exp(x), x] as [A, A],
      (_r: A, ct: A) => [nb.mul(ct, 0)],
    );
    const x = -0.3;
    expectNear(nb.grad(f)(x), [0], 0, "grad uses bwd");
    const [, s] = nb.jet(f, [x], [unit(K)]);
    s.forEach((d, k) => expectNear(d, [Math.exp(x)], 1e-14, `order ${k + 1}`));
    const d = nb.vmap((v: A) => nb.jet(f, [v], [unit(K)])[1][7]!)(nb.array([0, 1]));
    expectNear(d, [1, Math.E], 1e-14, "vmap(jet): order 8");
    // checkpoint is a customVjp whose fwd calls f: its jet is f's
    const c = nb.checkpoint((v: A) => nb.mul(nb.sin(v), nb.exp(v)));
    // d^k sin·exp = 2^(k/2) e^x sin(x + kπ/4); float64 O(K²) operations: 1e-13 of the scale 2^(k/2) e^x
    nb.jet(c, [x], [unit(K)])[1].forEach((dk, k) =>
      expectNear(
        dk,
        [2 ** ((k + 1) / 2) * Math.exp(x) * Math.sin(x + ((k + 1) * Math.PI) / 4)],
        1e-13,
        `checkpoint: order ${k + 1}`,
      ),
    );
  });

  it("custom_vjp_lin (a customVjp under jvp): residuals with series, and a tangent-only series", () => {
    // f(x) = x·sin(x) with a correct custom VJP; jvp inside jet binds custom_vjp_lin over the residuals
    const f = nb.customVjp(
      (x: A) => nb.mul(x, nb.sin(x)),
      (x: A) => [nb.mul(x, nb.sin(x)), x] as [A, A],
      (x: A, ct: A) => [nb.mul(ct, nb.add(nb.sin(x), nb.mul(x, nb.cos(x))))],
    );
    const ds = Array.from({ length: 6 }, (_, j) => nb.array([0.7 / (j + 1), 0.2]));
    const v = nb.array([1, -0.5]);
    // the derivative of f along v, as a function of x: residuals (x) carry the series
    againstNested((x: A) => nb.sum(nb.jvp(f, [x], [v])[1]), nb.array([0.4, 1.3]), ds, 1e-12, "residual series");
    // a fixed point, the tangent with the series: linear, so term k is f'(x0)·d_k
    const x0 = nb.array([0.4, 1.3]);
    const [, s] = nb.jet((t: A) => nb.jvp(f, [x0], [t])[1], [v], [ds]);
    const slope = vals(x0).map((x) => Math.sin(x) + x * Math.cos(x));
    s.forEach((d, k) =>
      expectNear(
        d,
        vals(ds[k]!).map((c, i) => c * slope[i]!),
        1e-14,
        `tangent series: order ${k + 1}`,
      ),
    );
  });
});

describe("linear_solve and customRoot: the implicit function theorem order by order", () => {
  // A(θ) = A0 + θ E (2×2), b fixed: x(θ) = A(θ)⁻¹ b; with θ(t) = θ0 + t,
  // d^k x/dt^k = (−1)^k k! (A⁻¹ E)^k A⁻¹ b at θ0 (plain JS below)
  const A0 = [
    [3, 1],
    [0.5, 2],
  ];
  const E = [
    [1, -0.5],
    [0.3, 0.8],
  ];
  const b = [1, -2];
  const th0 = 0.4;
  const mat = (th: A) => nb.add(nb.array(A0), nb.mul(th, nb.array(E)));
  // a solve that sees the operator only through its matvec (its columns A e_j), then solves densely
  const denseSolve = (mv: (x: A) => A, y: A): A =>
    nb.linalg.solve(nb.stack([mv(nb.array([1, 0])), mv(nb.array([0, 1]))], 1), y);
  const solveAt = (th: A): A => nb.customLinearSolve((x: A) => nb.matmul(mat(th), x), nb.array(b), denseSolve);
  function closed(K: number): number[][] {
    const a = A0.map((r, i) => r.map((c, j) => c + th0 * E[i]![j]!));
    const det = a[0]![0]! * a[1]![1]! - a[0]![1]! * a[1]![0]!;
    const inv = [
      [a[1]![1]! / det, -a[0]![1]! / det],
      [-a[1]![0]! / det, a[0]![0]! / det],
    ];
    const mv = (m: number[][], v: number[]) => m.map((r) => r[0]! * v[0]! + r[1]! * v[1]!);
    let x = mv(inv, b);
    const out: number[][] = [];
    for (let k = 1; k <= K; k++) {
      x = mv(inv, mv(E, x)).map((c) => -c);
      out.push(x.map((c) => c * fact(k)));
    }
    return out;
  }

  it("customLinearSolve with a varying operator: closed form and nested jvp to order 7; jit; vmap", () => {
    const K = 7;
    const want = closed(K);
    const [y, s] = nb.jet(solveAt, [th0], [unit(K)]);
    expectNear(y, vals(solveAt(nb.array(th0))), 0, "primal");
    // float64, κ(A) ≈ 2: one solve per order and O(K²) products; magnitudes up to 7!·‖A⁻¹E‖^7 ≈ 1: 1e-12
    s.forEach((d, k) => expectNear(d, want[k]!, 1e-12, `order ${k + 1}`));
    const ref = nestedAll(([v]) => [solveAt(v!)], [nb.array(th0)], [unit(K).map((c) => nb.array(c))]);
    s.forEach((d, k) => expectNear(d, ref[k]![0]!, 1e-12, `nested jvp: order ${k + 1}`));
    const sj = nb.jit((v: A) => nb.jet(solveAt, [v], [unit(K)])[1])(nb.array(th0));
    s.forEach((d, k) => expectNear(sj[k]!, d, 1e-13, `jit(jet): order ${k + 1}`));
    const sv = nb.vmap((v: A) => nb.jet(solveAt, [v], [unit(K)])[1][3]!)(nb.array([th0, th0]));
    expectNear(sv, [...want[3]!, ...want[3]!], 1e-12, "vmap(jet): order 4");
  });

  it("customRoot: implicit series even when the solver is not differentiable (stopGradient)", () => {
    // x² − a = 0 by 40 Newton steps under stopGradient: x = √a, d^k √(a0 + t) = (1/2)_k-falling a0^(1/2−k)
    const newton = (f: (x: A) => A, x0: A): A =>
      nb.stopGradient(nb.forLoop(0, 40, (_i, x: A) => nb.sub(x, nb.div(f(x), nb.mul(2, x))), x0));
    const root = (a: A): A =>
      nb.customRoot(
        (x: A) => nb.sub(nb.mul(x, x), a),
        nb.array(1),
        newton,
        (g, y) => nb.div(y, g(nb.array(1))),
      );
    const K = 6;
    const a0 = 2.5;
    const want = (k: number) => {
      let c = 1;
      for (let j = 0; j < k; j++) c *= 0.5 - j;
      return c * a0 ** (0.5 - k);
    };
    const [, s] = nb.jet(root, [a0], [unit(K)]);
    // float64: Newton converges to the last bit; one division per order: 1e-12 relative
    s.forEach((d, k) => expectNear(d, [want(k + 1)], 1e-12, `order ${k + 1}`));
    const sv = nb.jet(nb.vmap(root), [nb.array([a0, a0])], [unit(K).map((c) => nb.full([2], c))])[1];
    sv.forEach((d, k) => expectNear(d, [want(k + 1), want(k + 1)], 1e-12, `jet(vmap): order ${k + 1}`));
  });
});

describe("identity-like and effect primitives", () => {
  it("checkpointName passes the series through; debug.callback runs once, on the primal", () => {
    const K = 6;
    const [, s] = nb.jet((x: A) => nb.sin(nb.checkpointName(x, "h")), [0.9], [unit(K)]);
    s.forEach((d, k) => expectNear(d, [Math.sin(0.9 + ((k + 1) * Math.PI) / 2)], 1e-14, `order ${k + 1}`));
    const seen: number[] = [];
    const [, s2] = nb.jet(
      (x: A) => {
        nb.debug.callback((v: A) => seen.push(v.item()), x);
        return nb.exp(x);
      },
      [0.25],
      [unit(K)],
    );
    expect(seen).toEqual([0.25]);
    s2.forEach((d, k) => expectNear(d, [Math.exp(0.25)], 1e-14, `exp: order ${k + 1}`));
  });

  it("grad of a checkpoint with a saving policy (remat_saved) under jet, against nested jvp", () => {
    const w = nb.array([
      [0.5, -0.3],
      [0.2, 0.8],
    ]);
    const block = nb.checkpoint((x: A) => nb.sum(nb.tanh(nb.matmul(w, nb.sin(x)))), {
      policy: nb.checkpointPolicies.dotsSaveable,
    });
    const h = (x: A) => nb.sum(nb.mul(nb.grad(block)(x), nb.array([1, -2])));
    const ds = Array.from({ length: 6 }, (_, j) => nb.array([0.6 / (j + 1), -0.3]));
    // float64, order ≤ 6 of tanh∘matmul∘sin and its gradient (magnitudes ≤ 1e2): 1e-11 relative
    againstNested(h, nb.array([0.2, -0.7]), ds, 1e-11, "grad(checkpoint)");
  });
});

describe("found on the way", () => {
  it("an array of exactly 9 leaves flattens (vmap returning 9 outputs)", () => {
    const outs = nb.vmap((v: A) => Array.from({ length: 9 }, (_, i) => nb.mul(v, i)))(nb.array([1, 2]));
    expect(outs.map(vals)).toEqual(Array.from({ length: 9 }, (_, i) => [i, 2 * i]));
  });
});
