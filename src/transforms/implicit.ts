/**
 * Implicit differentiation: `customLinearSolve` and `customRoot`, with the
 * semantics of JAX's `lax.custom_linear_solve` and `lax.custom_root`. The
 * derivatives of a solution come from the implicit function theorem, never
 * from the solver's iterations:
 *
 * - x = A(θ)⁻¹ b: dx = A⁻¹ (db − (∂_θ A θ̇) x), and the transpose of b ↦ A⁻¹ b is
 *   c ↦ A⁻ᵀ c (the `linear_solve` primitive below, with JVP, transpose and
 *   batching rules).
 * - F(x*(θ), θ) = 0: ∂_x F dx* + ∂_θ F dθ = 0, so dx* = −(∂_x F)⁻¹ ∂_θ F dθ,
 *   a linear solve with the user's `tangentSolve` in both directions
 *   ((∂_x F)⁻ᵀ = tangentSolve applied to the transposed Jacobian).
 *
 * Values the user's functions close over (traced or not) are closure-converted
 * into operands, so every transform sees them.
 */
import { NablaError, ShapeError, fmtShape, at } from "../core/errors.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { TreeDef } from "../core/pytree.js";
import { shapesEqual } from "../core/shape.js";
import { evalGraph, stageClosed } from "../core/graph.js";
import { Aval, BatchResult, Dim, LinearIn, Rule, avalOf, bind } from "../core/trace.js";
import { neg, stopGradient, sub, zeros } from "../ops/index.js";
import { batchedFront } from "../prims/batching.js";
import { fnArg, flattenToArrays, unflatten } from "./common.js";
import { CUSTOM_JVP_CALL, CustomJvpParams } from "./customRules.js";
import { rootSeries } from "./implicitJet.js";
import { jvpFlat } from "./jvp.js";
import { linearizeFlat, orZeros, transposeGraph } from "./linearize.js";
import { vmapFlat } from "./vmap.js";
import type { ArraysOf } from "../core/types.js";

type Flat2 = (cs: NDArray[], xs: NDArray[]) => NDArray[];

export interface LinearSolveParams {
  /** Number of leading operands that parameterise the operator (the rest are b). */
  nC: number;
  /** x ↦ A x, given the parameters. */
  matvec: Flat2;
  /** b ↦ A⁻¹ b. */
  solve: Flat2;
  /** c ↦ A⁻ᵀ c (null: reverse mode unsupported). */
  tsolve: Flat2 | null;
  name: string;
}

const zerosOf = (a: Aval | NDArray): NDArray => zeros(a.shape, { dtype: a.dtype });

/** The transposed operator y ↦ Aᵀ y, by transposing the linearisation of x ↦ A x at 0. */
function transposeMatvec(matvec: Flat2, cs: NDArray[], like: readonly NDArray[], ys: NDArray[]): NDArray[] {
  const lin = linearizeFlat((xs) => matvec(cs, xs), like.map(zerosOf), "customLinearSolve");
  return orZeros(transposeGraph(lin.graph, ys), like as NDArray[]);
}

function transposed(p: LinearSolveParams): LinearSolveParams {
  if (p.tsolve === null)
    throw new NablaError(`${p.name}: reverse mode needs transposeSolve (the solve for the transposed operator)`);
  const mv = p.matvec;
  return {
    nC: p.nC,
    matvec: (cs, ys) => transposeMatvec(mv, cs, ys, ys),
    solve: p.tsolve,
    tsolve: p.solve,
    name: p.name,
  };
}

function concrete(outs: NDArray[], what: string): ConcreteArray[] {
  return outs.map((o) => {
    if (!(o instanceof ConcreteArray))
      throw new NablaError(`${what}: the solve closes over a traced value; close over it in matvec instead`);
    return o;
  });
}

/** The batched version of a flat function of (parameters, vector): every operand batched at axis 0. */
const batchedFn =
  (f: Flat2, nC: number): Flat2 =>
  (cs, xs) =>
    vmapFlat((zs) => f(zs.slice(0, nC), zs.slice(nC)), [...cs, ...xs]);

/** `x = A⁻¹ b` for an operator given by a matvec; operands are the operator's parameters, then b. */
// jvpFull is required: the row's jvp delegates to it
export const LINEAR_SOLVE: Rule<LinearSolveParams> & Required<Pick<Rule<LinearSolveParams>, "jvpFull">> = {
  name: "linear_solve",
  opaque: true,
  printParams: ({ nC, name }) => ({ nC, name }),
  abstractEval: (avals: Aval[], p: LinearSolveParams) => avals.slice(p.nC),
  impl: (xs: ConcreteArray[], p: LinearSolveParams) => concrete(p.solve(xs.slice(0, p.nC), xs.slice(p.nC)), p.name),
  // A x = b  ⇒  A dx = db − (dA) x
  jvpFull(primals: NDArray[], tangents: (NDArray | null)[], p: LinearSolveParams): [NDArray[], NDArray[]] {
    const cs = primals.slice(0, p.nC);
    const bs = primals.slice(p.nC);
    const x = bind(LINEAR_SOLVE, primals, p);
    const dcs = tangents.slice(0, p.nC);
    let rhs = orZeros(tangents.slice(p.nC), bs);
    if (dcs.some((t) => t !== null)) {
      const dAx = jvpFlat((c) => p.matvec(c, x), cs, dcs)[1];
      rhs = rhs.map((r, i) => {
        const d = dAx[i];
        return d === null || d === undefined ? r : sub(r, d);
      });
    }
    return [x, bind(LINEAR_SOLVE, [...cs, ...rhs], p)];
  },
  jvp(primals: NDArray[], tangents: (NDArray | null)[], _o: NDArray[], p: LinearSolveParams) {
    return LINEAR_SOLVE.jvpFull(primals, tangents, p)[1];
  },
  // linear in b: the transpose of b ↦ A⁻¹ b is c ↦ A⁻ᵀ c
  transpose(cts: (NDArray | null)[], args: (NDArray | LinearIn)[], p: LinearSolveParams): (NDArray | null)[] {
    const cs = args.slice(0, p.nC);
    if (cs.some((c) => !(c instanceof NDArray)))
      throw new NablaError(`${p.name}: the operator's parameters must not be linear (transpose)`);
    if (cts.every((c) => c === null)) return args.map(() => null);
    const bAvals = args.slice(p.nC).map((a) => (a instanceof NDArray ? avalOf(a) : a.aval));
    const ctb = cts.map((c, i) => c ?? zerosOf(at(bAvals, i, "customLinearSolve")));
    const out = bind(LINEAR_SOLVE, [...(cs as NDArray[]), ...ctb], transposed(p));
    return [...cs.map(() => null), ...out];
  },
  vmap(args: NDArray[], dims: Dim[], p: LinearSolveParams, size: number): BatchResult {
    const xs = args.map((a, i) => batchedFront(a, at(dims, i, "customLinearSolve"), size));
    const params: LinearSolveParams = {
      nC: p.nC,
      matvec: batchedFn(p.matvec, p.nC),
      solve: batchedFn(p.solve, p.nC),
      tsolve: p.tsolve === null ? null : batchedFn(p.tsolve, p.nC),
      name: p.name,
    };
    const outs = bind(LINEAR_SOLVE, xs, params);
    return [outs, outs.map(() => 0)];
  },
};

const fmtAvals = (as: readonly Aval[]): string => as.map((a) => `${a.dtype}${fmtShape(a.shape)}`).join(", ");

/** A user function's outputs must have the shapes and dtypes of its input (a square system). */
function checkAvals(op: string, what: string, got: readonly Aval[], want: readonly Aval[]): void {
  if (
    got.some(
      (a, i) => !shapesEqual(a.shape, at(want, i, "checkAvals").shape) || a.dtype !== at(want, i, "checkAvals").dtype,
    )
  )
    throw new ShapeError(`${op}: ${what} returned ${fmtAvals(got)}, expected ${fmtAvals(want)} (its input's)`);
}

/** Stages `f` (a function of a pytree shaped like `like`) and closure-converts it: [flat F(cs, xs), cs]. */
function closed(
  op: string,
  f: (x: unknown) => unknown,
  like: NDArray[],
  def: TreeDef,
  what: string,
): [Flat2, NDArray[]] {
  let outAvals: Aval[] = [];
  const [g, consts] = stageClosed(
    (xs) => {
      const [outs, odef] = flattenToArrays(f(unflatten(def, xs)), op, `${what}'s output`);
      if (!odef.equals(def)) throw new ShapeError(`${op}: ${what} returned structure ${odef}, expected ${def}`);
      outAvals = outs.map(avalOf);
      return outs;
    },
    like.map(avalOf),
    op,
  );
  checkAvals(op, what, outAvals, like.map(avalOf));
  return [(cs, xs) => evalGraph(g, [...cs, ...xs]), consts];
}

/** A user's solver `(fn, y) => x` over pytrees, as a flat function of (parameters, y) for the operator `mv`. */
function flatSolver(
  op: string,
  solver: (fn: (x: any) => any, y: any) => unknown,
  mv: Flat2,
  def: TreeDef,
  what: string,
): Flat2 {
  return (cs, ys) => {
    const fn = (x: unknown): unknown => unflatten(def, mv(cs, flattenToArrays(x, op)[0]));
    const [out, odef] = flattenToArrays(solver(fn, unflatten(def, ys)), op, `${what}'s output`);
    if (!odef.equals(def)) throw new ShapeError(`${op}: ${what} returned structure ${odef}, expected ${def}`);
    checkAvals(op, what, out.map(avalOf), ys.map(avalOf));
    return out;
  };
}

/**
 * Solves the linear system `matvec(x) = b` with the user's `solve(matvec, b)`,
 * differentiating the solution implicitly (JAX's `lax.custom_linear_solve`):
 * forward mode solves again with the same operator, reverse mode uses
 * `transposeSolve(vecmat, c)` for the transposed operator (required for
 * `grad`). `matvec` may close over arrays being differentiated.
 * @example
 * const a = nb.array([[4, 1], [1, 3]]);
 * const solve = (_mv: unknown, b: nb.NDArray) => nb.linalg.solve(a, b);
 * nb.customLinearSolve((x) => nb.matmul(a, x), nb.array([1, 2]), solve, solve); // [1/11, 7/11]
 */
export function customLinearSolve<T>(
  matvec: (x: ArraysOf<T>) => unknown,
  b: T,
  solve: (matvec: (x: ArraysOf<T>) => ArraysOf<T>, b: ArraysOf<T>) => unknown,
  transposeSolve?: (vecmat: (x: ArraysOf<T>) => ArraysOf<T>, b: ArraysOf<T>) => unknown,
): ArraysOf<T> {
  const op = "customLinearSolve";
  matvec = fnArg(op, matvec, "matvec");
  solve = fnArg(op, solve, "solve");
  if (transposeSolve !== undefined) transposeSolve = fnArg(op, transposeSolve, "transposeSolve");
  const [bs, def] = flattenToArrays(b, op, "b");
  const [mv, consts] = closed(op, matvec as (x: unknown) => unknown, bs, def, "matvec");
  const nC = consts.length;
  const ts = transposeSolve;
  const params: LinearSolveParams = {
    nC,
    matvec: mv,
    solve: flatSolver(op, solve, mv, def, "solve"),
    tsolve:
      ts === undefined
        ? null
        : (cs, ys) => flatSolver(op, ts, (c, v) => transposeMatvec(mv, c, v, v), def, "transposeSolve")(cs, ys),
    name: op,
  };
  return unflatten(def, bind(LINEAR_SOLVE, [...consts, ...bs], params)) as ArraysOf<T>;
}

let NEXT_ID = 0;

/**
 * A root `x*` of `f` (`f(x*) = 0`) found by the user's `solve(f, initialGuess)`,
 * differentiated by the implicit function theorem (JAX's `lax.custom_root`):
 * dx* = −(∂f/∂x)⁻¹ (∂f/∂θ) dθ for the arrays θ that `f` closes over, where
 * `tangentSolve(g, y)` solves the linear system `g(x) = y` (g is the Jacobian
 * of `f` at the root, or its transpose in reverse mode). The solver's
 * iterations are never differentiated, and the initial guess has no derivative.
 * @example
 * // sqrt(a) as the root of x² − a, by Newton's method
 * const sqrtRoot = (a: nb.NDArray) =>
 *   nb.customRoot(
 *     (x: nb.NDArray) => nb.sub(nb.mul(x, x), a),
 *     nb.array(1),
 *     (f, x0) => nb.forLoop(0, 30, (_i, x) => nb.sub(x, nb.div(f(x), nb.mul(2, x))), x0),
 *     (g, y) => nb.div(y, g(nb.array(1))),
 *   );
 * nb.grad(sqrtRoot)(nb.array(4)); // 1 / (2·2) = 0.25
 */
export function customRoot<T>(
  f: (x: ArraysOf<T>) => unknown,
  initialGuess: T,
  solve: (f: (x: ArraysOf<T>) => ArraysOf<T>, initialGuess: ArraysOf<T>) => unknown,
  tangentSolve: (g: (x: ArraysOf<T>) => ArraysOf<T>, y: ArraysOf<T>) => unknown,
): ArraysOf<T> {
  const op = "customRoot";
  f = fnArg(op, f, "f");
  solve = fnArg(op, solve, "solve");
  tangentSolve = fnArg(op, tangentSolve, "tangentSolve");
  const [x0s, def] = flattenToArrays(initialGuess, op, "the initial guess");
  const [F, consts] = closed(op, f as (x: unknown) => unknown, x0s, def, "f");
  const nC = consts.length;
  const nX = x0s.length;
  const rootFlat = flatSolver(op, solve, F, def, "solve");
  // the tangent system: operands are the root, then f's parameters; (∂f/∂x) v by forward mode
  const jx: Flat2 = (cs, vs) =>
    jvpFlat((xs) => F(cs.slice(nX), xs), cs.slice(0, nX), vs)[1].map((t, i) => t ?? zerosOf(at(vs, i, "customRoot")));
  // tangentSolve serves both directions: with (∂f/∂x) forward, with its transpose in reverse mode
  const tSolve = flatSolver(op, tangentSolve, jx, def, "tangentSolve");
  const tSolveT = flatSolver(op, tangentSolve, (c, v) => transposeMatvec(jx, c, v, v), def, "tangentSolve");
  const lsParams: LinearSolveParams = { nC: nX + nC, matvec: jx, solve: tSolve, tsolve: tSolveT, name: op };
  const params: CustomJvpParams = {
    f: (ys) => rootFlat(ys.slice(0, nC), ys.slice(nC).map(stopGradient)),
    rule: (ps, ts) => {
      // the root itself, differentiable again by this rule (so higher orders are implicit too)
      const xs = bind(CUSTOM_JVP_CALL, ps, params);
      const cs = ps.slice(0, nC);
      const dF = jvpFlat((c) => F(c, xs), cs, ts.slice(0, nC))[1];
      const rhs = dF.map((d, i) => (d === null || d === undefined ? zerosOf(at(xs, i, "customRoot")) : neg(d)));
      return [xs, bind(LINEAR_SOLVE, [...xs, ...cs, ...rhs], lsParams)];
    },
    id: NEXT_ID++,
    name: op,
    op,
    // Taylor mode by the implicit function theorem too, not through the solver
    jet: (ps, ins, K) => rootSeries(F, nC, (qs) => bind(CUSTOM_JVP_CALL, qs, params), lsParams, ps, ins, K),
  };
  return unflatten(def, bind(CUSTOM_JVP_CALL, [...consts, ...x0s], params)) as ArraysOf<T>;
}
