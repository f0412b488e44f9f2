/**
 * Forward mode of a staged `while_loop` whose condition has no concrete value
 * (under `jit`, `makeGraph` or `vmap`, e.g. `jit(x => jvp(f, [x], [1]))`):
 * the JVP is itself a while loop over (primal, tangent) carries, so it stages
 * and batches like any loop. Reverse mode needs the trip count when the
 * derivative is built, so transposing such a loop is a GradError.
 */
import { GradError, at } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { NDArray } from "../core/ndarray.js";
import { evalGraph, stageClosed } from "../core/graph.js";
import { avalOf, bind } from "../core/trace.js";
import { zeros } from "../ops/index.js";
import { levelOf } from "./condRule.js";
import { jvpFlat } from "./jvp.js";
import { WHILE_LOOP, type WhileParams, split } from "./loopRules.js";

const zerosLike = (x: NDArray): NDArray => zeros(x.shape.slice(), { dtype: x.dtype });

/**
 * `[outs, tangentsOut]` of a while_loop with operands `[...condConsts, ...bodyConsts, ...carry]`, as a new
 * while_loop whose carry is the primal carry followed by a tangent for each float carry.
 */
export function stagedWhileJvp(
  primals: NDArray[],
  tangents: (NDArray | null)[],
  p: WhileParams,
): [NDArray[], (NDArray | null)[]] {
  const [cc, bc, init] = split(primals, p);
  const [, bct, initT] = split(tangents, p);
  const n = init.length;
  const none = init.map(() => null as NDArray | null);
  if (bct.every((t) => t === null) && initT.every((t) => t === null)) return [bind(WHILE_LOOP, primals, p), none];
  // every float carry gets a tangent (zeros where none comes in): the body may make it nonzero
  const tIdx = init.flatMap((x, i) => (isFloat(x.dtype) ? [i] : []));
  const t0 = tIdx.map((i) => initT[i] ?? zerosLike(at(init, i, "whileLoop")));
  const avals = [...init.map(avalOf), ...t0.map((t) => ({ ...avalOf(t), weak: false }))];
  const [cond, cc2] = stageClosed((ys) => evalGraph(p.cond, [...cc, ...ys.slice(0, n)]), avals, "whileLoop");
  const [body, bc2] = stageClosed(
    (ys) => {
      const carryT = none.slice();
      tIdx.forEach((i, k) => (carryT[i] = at(ys, n + k, "whileLoop")));
      const [o, to] = jvpFlat((zs) => evalGraph(p.body, zs), [...bc, ...ys.slice(0, n)], [...bct, ...carryT]);
      return [...o, ...tIdx.map((i) => to[i] ?? zerosLike(at(o, i, "whileLoop")))];
    },
    avals,
    "whileLoop",
  );
  const outs = bind(WHILE_LOOP, [...cc2, ...bc2, ...init, ...t0], {
    cond,
    body,
    nCond: cc2.length,
    nBody: bc2.length,
  });
  const tangentsOut = none.slice();
  tIdx.forEach((i, k) => (tangentsOut[i] = at(outs, n + k, "whileLoop")));
  // tangents from a higher level than the primals (linearize): the joint loop is recorded with the
  // tangents, so the primal outputs come from the primal loop, at the primals' level
  const primalsOut = levelOf(tangents) > levelOf(primals) ? bind(WHILE_LOOP, primals, p) : outs.slice(0, n);
  return [primalsOut, tangentsOut];
}

/** Transposing a staged while loop: reverse mode with a traced condition is not supported. */
export function whileTranspose(): never {
  throw new GradError(
    "whileLoop: reverse-mode differentiation (grad, vjp, jacrev) needs the loop's trip count when the " +
      "derivative is built, and the condition is traced here (e.g. jit(grad(f)) or makeGraph(grad(f))); " +
      "use forLoop with static bounds or scan, or grad(jit(f)); forward mode (jvp, jacfwd) works",
  );
}
