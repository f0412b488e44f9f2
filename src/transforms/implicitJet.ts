/**
 * Taylor mode of the `linear_solve` primitive (implicit.ts, behind
 * `customLinearSolve`), by the implicit function theorem order by order, as
 * its JVP is to first order: the solver itself is never differentiated. With
 * A(t) the operator at the parameters' series, x(t) = Σ_k x_k t^k solves
 * A(t) x(t) = b(t), and since the matvec is linear in x, coefficient k reads
 *
 *   A_0 x_k = b_k − r_k,  r_k = [t^k] matvec(c(t), x_0 + x_1 t + … + x_{k−1} t^{k−1}),
 *
 * (the terms of coefficient k of A(t) x(t) other than A_0 x_k), so x_k is one
 * more solve with the same operator. r_k is the jet to order k of the
 * matvec, so K solves and O(K³) matvec coefficient products in all; with
 * constant parameters r_k = 0 and x_k = A_0⁻¹ b_k (the primitive is linear in b).
 *
 * `customRoot` is a `custom_jvp_call` (its rule the implicit derivative),
 * whose jet would by customJet.ts be the jet of its function, the solver,
 * as JAX's jet does with `lax.custom_root`: wrong for a solver whose
 * iterations are not to be differentiated (one under stopGradient gives zero
 * series). Its parameters carry {@link rootSeries} instead, the implicit
 * function theorem order by order: F(x(t), θ(t)) = 0 with F linear in x_k at
 * order k, so ∂_x F · x_k = −r_k, r_k = [t^k] F(x_0 + … + x_{k−1} t^{k−1}, θ(t)),
 * one tangent solve (the linear_solve the JVP uses) per order.
 */
import { at } from "../core/errors.js";
import type { NDArray } from "../core/ndarray.js";
import { bind } from "../core/trace.js";
import { neg, sub, zeros } from "../ops/index.js";
import type { T } from "../prims/rule.js";
import { LINEAR_SOLVE, type LinearSolveParams } from "./implicit.js";
import type { JetFullRule } from "./jetHigher.js";
import { hasTerms, jetNested } from "./jetNested.js";
import type { Series } from "./jetRules.js";

const zerosOf = (x: NDArray): NDArray => zeros(x.shape.slice(), { dtype: x.dtype });

export const linearSolveJet: JetFullRule<LinearSolveParams> = (primals, ins, p, K) => {
  const cs = primals.slice(0, p.nC);
  const csS = ins.slice(0, p.nC);
  const bS = ins.slice(p.nC);
  const x0 = bind(LINEAR_SOLVE, primals, p);
  const varying = csS.some(hasTerms);
  // per solution leaf, its coefficients 0..k so far
  const xs: T[][] = x0.map((x) => [x]);
  for (let k = 1; k <= K; k++) {
    let rhs: T[] = bS.map((s) => s?.[k] ?? null);
    if (varying) {
      const xS: Series[] = xs.map((c) => c.slice());
      const [, r] = jetNested((ys) => p.matvec(ys.slice(0, p.nC), ys.slice(p.nC)), [...cs, ...x0], [...csS, ...xS], k);
      rhs = rhs.map((b, i) => {
        const rk = r[i]?.[k - 1] ?? null;
        return rk === null ? b : b === null ? neg(rk) : sub(b, rk);
      });
    }
    const xk: T[] = rhs.every((b) => b === null)
      ? rhs
      : bind(LINEAR_SOLVE, [...cs, ...rhs.map((b, i) => b ?? zerosOf(at(x0, i, "customLinearSolve")))], p);
    xk.forEach((c, i) => at(xs, i, "customLinearSolve").push(c));
  }
  return [x0, xs.map((c) => c.slice(1))];
};

/**
 * The series of a root x(θ) of F(·, θ) (customRoot): operands θ (nC of them) then the initial guess (no
 * series), `root` the primal root, `ls` the linear_solve of ∂_x F at operands [root, θ] (customRoot's).
 */
export function rootSeries(
  F: (cs: NDArray[], xs: NDArray[]) => NDArray[],
  nC: number,
  root: (ps: NDArray[]) => NDArray[],
  ls: LinearSolveParams,
  primals: readonly NDArray[],
  ins: readonly (Series | null)[],
  K: number,
): [NDArray[], (T[] | null)[]] {
  const x0 = root(primals.slice());
  const cs = primals.slice(0, nC);
  const csS = ins.slice(0, nC);
  if (!csS.some(hasTerms)) return [x0, x0.map(() => null)];
  const xs: T[][] = x0.map((x) => [x]);
  for (let k = 1; k <= K; k++) {
    const xS: Series[] = xs.map((c) => c.slice());
    const [, r] = jetNested((ys) => F(ys.slice(0, nC), ys.slice(nC)), [...cs, ...x0], [...csS, ...xS], k);
    const rhs = r.map((c) => c?.[k - 1] ?? null);
    const xk: T[] = rhs.every((c) => c === null)
      ? rhs
      : bind(
          LINEAR_SOLVE,
          [...x0, ...cs, ...rhs.map((c, i) => (c === null ? zerosOf(at(x0, i, "customRoot")) : neg(c)))],
          ls,
        );
    xk.forEach((c, i) => at(xs, i, "customRoot").push(c));
  }
  return [x0, xs.map((c) => c.slice(1))];
}
