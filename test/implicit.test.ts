/**
 * Implicit differentiation (API.md "New transforms and tools"): `customRoot`
 * and `customLinearSolve`. Every expected value is a closed form of the
 * solution's derivatives, written in plain JS.
 *
 * To show that derivatives come from the implicit function theorem and not
 * from the solver's iterations, the solvers wrap their result in
 * `stopGradient` (differentiating through them would give zero), and the
 * Newton and fixed-point iterations run a fixed number of steps.
 *
 * Tolerance (float64): 1e-10 relative. The solvers converge to the last bit
 * or so (Newton from O(1) guesses, 40 steps; the fixed point contracts by
 * ≤ 0.32 per step, 60 steps → 1e-30), and the derivatives are a few dozen
 * roundings of O(1)–O(10) values; a wrong rule is off by O(1).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { arr, expectClose } from "./support/assert.js";

type A = nb.NDArray;
/** Element i of a vector, as a 0-d array. */
const el = (x: A, i: number): A => nb.take(x, i);
const TOL = 1e-10;

/** Newton's method for a scalar equation, 40 steps, not differentiable (stopGradient). */
const newton1 = (f: (x: A) => A, x0: A): A =>
  nb.stopGradient(nb.forLoop(0, 40, (_i, x: A) => nb.sub(x, nb.div(f(x), nb.grad((y: A) => nb.sum(f(y)))(x))), x0));
const scalarTangentSolve = (g: (x: A) => A, y: A): A => nb.div(y, g(nb.onesLike(y)));

// x² − a = 0  ⇒  x = √a, x' = 1/(2√a), x'' = −a^(−3/2)/4
const sqrtRoot = (a: A): A =>
  nb.customRoot((x: A) => nb.sub(nb.mul(x, x), a), nb.array(1), newton1, scalarTangentSolve);
const d1 = (a: number): number => 0.5 / Math.sqrt(a);
const d2 = (a: number): number => -0.25 * a ** -1.5;

describe("customRoot, scalar Newton solve (x² = a)", () => {
  it("value, first and second derivatives against the closed form", () => {
    expectClose(sqrtRoot(nb.array(4)), 2, [], TOL);
    expectClose(nb.grad(sqrtRoot)(nb.array(4)), d1(4), [], TOL);
    expectClose(nb.jvp(sqrtRoot, [nb.array(4)], [nb.array(1)])[1], d1(4), [], TOL);
    expectClose(nb.grad(nb.grad(sqrtRoot))(nb.array(4)), d2(4), [], TOL);
    // forward-over-reverse and forward-over-forward agree with the closed form too
    expectClose(nb.jvp(nb.grad(sqrtRoot), [nb.array(2.5)], [nb.array(1)])[1], d2(2.5), [], TOL);
    const fwd = (a: A): A => nb.jvp(sqrtRoot, [a], [nb.onesLike(a)])[1];
    expectClose(nb.jvp(fwd, [nb.array(2.5)], [nb.array(1)])[1], d2(2.5), [], TOL);
  });
  it("under jit and vmap (and vmap of grad of grad)", () => {
    expectClose(nb.jit(nb.grad(sqrtRoot))(nb.array(9)), d1(9), [], TOL);
    expectClose(nb.jit(nb.grad(nb.grad(sqrtRoot)))(nb.array(9)), d2(9), [], TOL);
    const as = [0.5, 2, 7];
    expectClose(nb.vmap(sqrtRoot)(arr(as)), as.map(Math.sqrt), [3], TOL);
    expectClose(nb.vmap(nb.grad(sqrtRoot))(arr(as)), as.map(d1), [3], TOL);
    expectClose(nb.vmap(nb.grad(nb.grad(sqrtRoot)))(arr(as)), as.map(d2), [3], TOL);
    expectClose(nb.jit(nb.vmap(nb.grad(sqrtRoot)))(arr(as)), as.map(d1), [3], TOL);
    // grad of a sum over a vmapped root: the batched rule differentiates per example
    expectClose(nb.grad((a: A) => nb.sum(nb.vmap(sqrtRoot)(a)))(arr(as)), as.map(d1), [3], TOL);
  });
});

// F(x, θ) = [x0² − θ0, x0·x1 − θ1] = 0  ⇒  x0 = √θ0, x1 = θ1/√θ0
const newtonN = (f: (x: A) => A, x0: A): A =>
  nb.stopGradient(nb.forLoop(0, 40, (_i, x: A) => nb.sub(x, nb.linalg.solve(nb.jacfwd(f)(x), f(x))), x0));
const denseTangentSolve = (g: (x: A) => A, y: A): A => nb.linalg.solve(nb.jacfwd(g)(y), y);
const vecRoot = (th: A): A =>
  nb.customRoot(
    (x: A) => {
      const [x0, x1] = [el(x, 0), el(x, 1)];
      return nb.stack([nb.sub(nb.mul(x0, x0), el(th, 0)), nb.sub(nb.mul(x0, x1), el(th, 1))]);
    },
    arr([1, 1]),
    newtonN,
    denseTangentSolve,
  );

describe("customRoot, vector Newton solve", () => {
  const [t0, t1] = [2.25, 0.7];
  it("Jacobian and the Hessian of x1 = θ1/√θ0 against closed forms", () => {
    expectClose(vecRoot(arr([t0, t1])), [Math.sqrt(t0), t1 / Math.sqrt(t0)], [2], TOL);
    // rows: dx0/dθ = [1/(2√θ0), 0], dx1/dθ = [−θ1/(2θ0^1.5), 1/√θ0]
    const J = [0.5 / Math.sqrt(t0), 0, -t1 / (2 * t0 ** 1.5), 1 / Math.sqrt(t0)];
    expectClose(nb.jacrev(vecRoot)(arr([t0, t1])), J, [2, 2], TOL);
    expectClose(nb.jacfwd(vecRoot)(arr([t0, t1])), J, [2, 2], TOL);
    // ∂²x1: [[3θ1/(4θ0^2.5), −1/(2θ0^1.5)], [−1/(2θ0^1.5), 0]]
    const H = [(3 * t1) / (4 * t0 ** 2.5), -0.5 * t0 ** -1.5, -0.5 * t0 ** -1.5, 0];
    const x1 = (th: A): A => el(vecRoot(th), 1);
    expectClose(nb.hessian(x1)(arr([t0, t1])), H, [2, 2], TOL);
    expectClose(nb.jit(nb.hessian(x1))(arr([t0, t1])), H, [2, 2], TOL);
  });
  it("under vmap", () => {
    const ths = [
      [t0, t1],
      [4, -1],
    ];
    const want = ths.flatMap(([a, b]) => [0.5 / Math.sqrt(a!), 0, -b! / (2 * a! ** 1.5), 1 / Math.sqrt(a!)]);
    expectClose(nb.vmap(nb.jacrev(vecRoot))(arr(ths.flat(), [2, 2])), want, [2, 2, 2], TOL);
  });
});

// fixed point x = √(θ + x)  ⇔  x² − x − θ = 0, x = (1 + √(1+4θ))/2, x' = 1/√(1+4θ), x'' = −2(1+4θ)^(−3/2)
const fixedPoint = (th: A): A =>
  nb.customRoot(
    (x: A) => nb.sub(x, nb.sqrt(nb.add(th, x))),
    nb.array(1),
    (f, x0) => nb.stopGradient(nb.forLoop(0, 60, (_i, x: A) => nb.sub(x, f(x)), x0)),
    scalarTangentSolve,
  );

describe("customRoot, fixed-point iteration", () => {
  it("first and second derivatives, eager, jit and vmap", () => {
    const th = 1.3;
    const s = Math.sqrt(1 + 4 * th);
    expectClose(fixedPoint(nb.array(th)), (1 + s) / 2, [], TOL);
    expectClose(nb.grad(fixedPoint)(nb.array(th)), 1 / s, [], TOL);
    expectClose(nb.grad(nb.grad(fixedPoint))(nb.array(th)), -2 / s ** 3, [], TOL);
    expectClose(nb.jit(nb.grad(nb.grad(fixedPoint)))(nb.array(th)), -2 / s ** 3, [], TOL);
    const ths = [0.4, 1.3, 5];
    expectClose(
      nb.vmap(nb.grad(fixedPoint))(arr(ths)),
      ths.map((t) => 1 / Math.sqrt(1 + 4 * t)),
      [3],
      TOL,
    );
  });
  it("rejects f whose output differs from its input's shape", () => {
    expect(() =>
      nb.customRoot(
        (x: A) => nb.stack([x, x]),
        nb.array(1),
        (_f, x0) => x0,
        scalarTangentSolve,
      ),
    ).toThrow(/^customRoot: f returned float64\[2\], expected float64\[\]/);
  });
  it("a solve that closes over the differentiated parameter is refused under grad, naming customRoot", () => {
    // (closure conversion of solve is not implemented: close over parameters in f, which is converted)
    const heron = (a: A): A =>
      nb.customRoot(
        (x: A) => nb.sub(nb.mul(x, x), a),
        nb.array(1),
        (_f, x0) => nb.forLoop(0, 30, (_i, x: A) => nb.mul(nb.add(x, nb.div(a, x)), 0.5), x0 as A),
        scalarTangentSolve,
      );
    expect(heron(nb.array(4)).item()).toBeCloseTo(2, 14);
    expect(() => nb.grad(heron)(nb.array(4))).toThrow(/^customRoot: .*closes over a traced value/);
  });
});

// A(θ) = [[θ, 1], [1, 2]], b = [1, 1]: x = [1/(2θ−1), (θ−1)/(2θ−1)],
// x' = [−2, 1]/(2θ−1)², x'' = [8, −4]/(2θ−1)³
/** a / b, and 0 where b = 0 (the solver meets b = 0 for a zero right-hand side). */
const safeDiv = (a: A, b: A): A => {
  const zero = nb.equal(b, 0);
  return nb.where(zero, 0, nb.div(a, nb.where(zero, 1, b)));
};
/** Conjugate gradients for a 2×2 SPD operator: exact in 2 steps, not differentiable. */
const cg = (mv: (x: A) => A, b: A): A => {
  let x = nb.zerosLike(b);
  let r = b;
  let p = r;
  for (let k = 0; k < 2; k++) {
    const ap = mv(p);
    const rr = nb.sum(nb.mul(r, r));
    const alpha = safeDiv(rr, nb.sum(nb.mul(p, ap)));
    x = nb.add(x, nb.mul(alpha, p));
    const r2 = nb.sub(r, nb.mul(alpha, ap));
    p = nb.add(r2, nb.mul(safeDiv(nb.sum(nb.mul(r2, r2)), rr), p));
    r = r2;
  }
  return nb.stopGradient(x);
};
const opOf = (th: A) => (x: A) =>
  nb.stack([nb.add(nb.mul(th, el(x, 0)), el(x, 1)), nb.add(el(x, 0), nb.mul(2, el(x, 1)))]);
const solveFor = (th: A, b: A): A => nb.customLinearSolve(opOf(th), b, cg, cg);

describe("customLinearSolve", () => {
  const th = 3;
  const q = 2 * th - 1;
  const b = arr([1, 1]);
  it("value and derivatives in the operator's parameter, to order 2, eager/jit/vmap", () => {
    const x = (t: A): A => solveFor(t, b);
    expectClose(x(nb.array(th)), [1 / q, (th - 1) / q], [2], TOL);
    expectClose(nb.jacfwd(x)(nb.array(th)), [-2 / q ** 2, 1 / q ** 2], [2], TOL);
    expectClose(nb.jacrev(x)(nb.array(th)), [-2 / q ** 2, 1 / q ** 2], [2], TOL);
    expectClose(nb.jacfwd(nb.jacrev(x))(nb.array(th)), [8 / q ** 3, -4 / q ** 3], [2], TOL);
    expectClose(nb.jacrev(nb.jacrev(x))(nb.array(th)), [8 / q ** 3, -4 / q ** 3], [2], TOL);
    expectClose(nb.jit(nb.jacrev(x))(nb.array(th)), [-2 / q ** 2, 1 / q ** 2], [2], TOL);
    const ts = [3, 5];
    expectClose(
      nb.vmap(nb.jacrev(x))(arr(ts)),
      ts.flatMap((t) => [-2 / (2 * t - 1) ** 2, 1 / (2 * t - 1) ** 2]),
      [2, 2],
      TOL,
    );
  });
  it("derivative in b is A⁻ᵀ w for the loss w·x", () => {
    // A = [[3, 1], [1, 2]] is symmetric: A⁻ᵀ w = A⁻¹ w = [2w0 − w1, 3w1 − w0]/5 for w = [1, −2]
    const loss = (bb: A): A => nb.sum(nb.mul(arr([1, -2]), solveFor(nb.array(th), bb)));
    expectClose(nb.grad(loss)(b), [(2 + 2) / 5, (-6 - 1) / 5], [2], TOL);
    expectClose(nb.jit(nb.grad(loss))(b), [4 / 5, -7 / 5], [2], TOL);
  });
  it("reverse mode without transposeSolve throws a NablaError naming customLinearSolve", () => {
    const noT = (t: A): A => nb.sum(nb.customLinearSolve(opOf(t), b, cg));
    expect(nb.jvp(noT, [nb.array(th)], [nb.array(1)])[1].item()).toBeCloseTo(-1 / q ** 2, 10);
    expect(() => nb.grad(noT)(nb.array(th))).toThrow(nb.NablaError);
    expect(() => nb.grad(noT)(nb.array(th))).toThrow(/^customLinearSolve: reverse mode needs transposeSolve/);
  });
});
