/**
 * The `while_loop` primitive, which `whileLoop` stages when its condition has
 * no concrete value (under `jit` and `makeGraph`). Operands are the cond
 * graph's constants, the body graph's constants, then the carry; both graphs
 * are closure-converted, so everything they read is an operand that every
 * transform sees.
 *
 * - Evaluation runs the loop in JS on concrete values.
 * - Differentiation unrolls: each iteration's condition is read concretely and
 *   the body is pushed forward with `jvpFlat`, so the linearized graph is the
 *   unrolled loop and reverse mode works (as for the eager `whileLoop`).
 *   When the condition has no concrete value either (staging inside the
 *   derivative, e.g. `jit(grad(f))`) it throws TracerError.
 * - Batching builds a new loop over the batched carry that runs while any
 *   example is active, keeping finished examples' values.
 */
import { ShapeError, TracerError, fmtShape, at } from "../core/errors.js";
import { ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { Graph, evalGraph, evalGraph1, outAval, stageClosed } from "../core/graph.js";
import { Aval, BatchResult, Dim, Rule, avalOf, bind } from "../core/trace.js";
import { shapesEqual } from "../core/shape.js";
import { astype, greater, max, reshape, stopGradient, where } from "../ops/index.js";
import { batchedFront } from "../prims/batching.js";
import { jvpFlat } from "./jvp.js";
import { vmapFlat } from "./vmap.js";
import { stagedWhileJvp, whileTranspose } from "./whileJvp.js";

export interface WhileParams {
  cond: Graph;
  body: Graph;
  /** Number of cond-graph constants, then of body-graph constants, at the front of the operands. */
  nCond: number;
  nBody: number;
}

function split(xs: NDArray[], p: WhileParams): [NDArray[], NDArray[], NDArray[]] {
  return [xs.slice(0, p.nCond), xs.slice(p.nCond, p.nCond + p.nBody), xs.slice(p.nCond + p.nBody)];
}

/** The condition's concrete value, or a TracerError explaining where it is missing. */
export function truth(c: NDArray, what: string): boolean {
  let v: ConcreteArray;
  try {
    v = c.concrete("whileLoop");
  } catch (e) {
    if (e instanceof TracerError)
      throw new TracerError(
        `whileLoop: ${what} needs the loop condition's value at every step, and it is traced here ` +
          "(e.g. jit(grad(f)) or makeGraph(grad(f)) around a staged loop); use grad(jit(f)), or forLoop/scan",
      );
    throw e;
  }
  return storageOf(v)[0] !== 0;
}

/** Whether the condition has a concrete value. */
export function concreteAt(c: NDArray): boolean {
  try {
    // on a device (webgpu) the value is not read synchronously: the JVP is a staged loop (run by transfer)
    return c.concrete("whileLoop").device === "cpu";
  } catch (e) {
    if (e instanceof TracerError) return false;
    throw e;
  }
}

const fmt = (as: readonly Aval[]) => as.map((a) => `${a.dtype}${fmtShape(a.shape)}`).join(", ");

// jvpFull is required: the row's jvp delegates to it
export const WHILE_LOOP: Rule<WhileParams> & Required<Pick<Rule<WhileParams>, "jvpFull">> = {
  name: "while_loop",
  abstractEval(avals: Aval[], p: WhileParams): Aval[] {
    const carry = avals.slice(p.nCond + p.nBody);
    const outs = p.body.outs.map((v) => outAval(v, "whileLoop"));
    if (
      outs.length !== carry.length ||
      outs.some(
        (o, i) => o.dtype !== at(carry, i, "whileLoop").dtype || !shapesEqual(o.shape, at(carry, i, "whileLoop").shape),
      )
    )
      throw new ShapeError(`whileLoop: the body returns (${fmt(outs)}) for a carry of (${fmt(carry)})`);
    const c = p.cond.outs[0]?.aval;
    if (p.cond.outs.length !== 1 || c === undefined || c.shape.some((d) => d !== 1))
      throw new ShapeError(
        `whileLoop: the condition must return one element, got (${fmt(p.cond.outs.map((v) => outAval(v, "whileLoop")))})`,
      );
    return carry.map((a) => ({ shape: a.shape, dtype: a.dtype, weak: a.weak }));
  },
  impl(xs: ConcreteArray[], p: WhileParams): ConcreteArray[] {
    const [cc, bc, init] = split(xs, p);
    let carry: NDArray[] = init;
    while (truth(evalGraph1(p.cond, [...cc, ...carry], "whileLoop"), "evaluation"))
      carry = evalGraph(p.body, [...bc, ...carry]);
    return carry as ConcreteArray[];
  },
  jvp(primals: NDArray[], tangents: (NDArray | null)[], _o: NDArray[], p: WhileParams): (NDArray | null)[] {
    return WHILE_LOOP.jvpFull(primals, tangents, p)[1];
  },
  jvpFull(primals: NDArray[], tangents: (NDArray | null)[], p: WhileParams): [NDArray[], (NDArray | null)[]] {
    const [cc, bc, init] = split(primals, p);
    // no concrete condition (jit(jvp(f)), vmap(jvp(f))): the JVP is a loop over (primal, tangent) carries
    if (!concreteAt(evalGraph1(p.cond, [...cc, ...init], "whileLoop"))) return stagedWhileJvp(primals, tangents, p);
    const bct = tangents.slice(p.nCond, p.nCond + p.nBody);
    let carry = init;
    let carryT = tangents.slice(p.nCond + p.nBody);
    const jvp = jvpFlat;
    while (truth(evalGraph1(p.cond, [...cc, ...carry], "whileLoop"), "differentiation")) {
      const [outs, touts] = jvp((xs) => evalGraph(p.body, xs), [...bc, ...carry], [...bct, ...carryT]);
      carry = outs;
      carryT = touts;
    }
    return [carry, carryT];
  },
  // only a loop staged by stagedWhileJvp reaches a linear graph: reverse mode with a traced condition
  transpose: whileTranspose,
  // batched: a new loop over the batched carry that runs while any example is active; finished examples
  // keep their value and enter the body only through stopGradient. Built as graphs, so it stages too.
  vmap(args: NDArray[], dims: Dim[], p: WhileParams, size: number): BatchResult {
    const xs = args.map((a, i) => batchedFront(a, at(dims, i, "whileLoop"), size));
    const [cc, bc, init] = split(xs, p);
    const vm = vmapFlat;
    const nc = cc.length;
    const nb = bc.length;
    const condOf = (ys: NDArray[]) =>
      reshape(evalGraph1(p.cond, [...ys.slice(0, nc), ...ys.slice(nc + nb)], "whileLoop"), []);
    const avals = init.map(avalOf);
    const [cond, cc2] = stageClosed(
      (carry) => [
        greater(
          max(
            astype(
              at(
                vm((ys) => [condOf(ys)], [...cc, ...bc, ...carry]),
                0,
                "whileLoop",
              ),
              "int32",
            ),
          ),
          0,
        ),
      ],
      avals,
      "whileLoop",
    );
    const [body, bc2] = stageClosed(
      (carry) =>
        vm(
          (ys) => {
            const cur = ys.slice(nc + nb);
            const on = condOf(ys);
            const masked = cur.map((x) => where(on, x, stopGradient(x)));
            const next = evalGraph(p.body, [...ys.slice(nc, nc + nb), ...masked]);
            return next.map((n, i) => where(on, n, at(cur, i, "whileLoop")));
          },
          [...cc, ...bc, ...carry],
        ),
      avals,
      "whileLoop",
    );
    const outs = bind(WHILE_LOOP, [...cc2, ...bc2, ...init], { cond, body, nCond: cc2.length, nBody: bc2.length });
    return [outs, outs.map(() => 0)];
  },
};
