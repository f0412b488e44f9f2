/**
 * `linearTranspose` (JAX's `jax.linear_transpose`): stages a linear function
 * at the primals' shapes and dtypes and transposes its graph, so the result
 * maps an output cotangent c to Aᵀ c without linearising anything.
 */
import { NablaError, ShapeError } from "../core/errors.js";
import { ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { TreeDef, flattenAs } from "../core/pytree.js";
import { Graph, StagingTrace, StagingTracer, evalGraph } from "../core/graph.js";
import { MainTrace, avalOf, endTrace, newTrace } from "../core/trace.js";
import { runtimeOf } from "../core/device.js";
import { zeros } from "../ops/index.js";
import { checkStructure, fnArg, flattenToArrays, matchLeaves, requireFloat, unflatten } from "./common.js";
import { orZeros, transposeGraph } from "./linearize.js";
import type { ArraysOf, Returned } from "../core/types.js";

const OP = "linearTranspose";

function notLinear(why: string): NablaError {
  return new NablaError(`${OP}: the function is not linear in its inputs (${why})`);
}

/**
 * Whether every element of the concrete CPU outputs at 0 is 0 (an affine map with an offset is not
 * linear); true when traced. Outputs on a device (a function closing over GPU arrays) cannot be read
 * synchronously: their test is left to the device, whose next read rejects with the same error.
 */
function zeroAtZero(g: Graph, ins: readonly NDArray[]): boolean {
  const outs = evalGraph(
    g,
    ins.map((x) => zeros(x.shape, { dtype: x.dtype })),
  );
  const concrete = outs.filter((o): o is ConcreteArray => o instanceof ConcreteArray);
  for (const device of new Set(concrete.map((o) => o.device)))
    if (device !== "cpu")
      runtimeOf(device)?.checkLater(
        concrete.filter((o) => o.device === device),
        (values) => (values.every((d) => d.every((v) => v === 0)) ? null : notLinear(AFFINE)),
      );
  return concrete.every((o) => o.device !== "cpu" || storageOf(o).every((v) => v === 0));
}

const AFFINE = "it is affine: f(0) is not 0";

/**
 * The transpose of a linear function: `linearTranspose(f, ...primals)`
 * returns `(ct) => [ctOfPrimal0, ctOfPrimal1, ...]`, the cotangents of the
 * primals (only their shapes and dtypes are used) for an output cotangent of
 * `f`'s output structure. Throws a NablaError naming the primitive when `f`
 * is not linear.
 * @example
 * const f = (x: nb.NDArray) => nb.mul(nb.sum(x), 2);
 * const fT = nb.linearTranspose(f, nb.zeros([3]));
 * fT(nb.array(1)); // [array([2., 2., 2.])]
 */
export function linearTranspose<P extends unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<P>>) => R,
  ...primals: P
): (ct: ArraysOf<R>) => ArraysOf<P> {
  f = fnArg(OP, f);
  const [ps, pdef] = flattenToArrays(primals, OP);
  requireFloat(OP, ps);
  let outDef: TreeDef | undefined;
  let outLike: NDArray[] = [];
  const stage = newTrace(OP, (m: MainTrace) => new StagingTrace(m, OP));
  let g: Graph;
  try {
    const ins = ps.map((x) => stage.newInput(avalOf(x)));
    const [outs, def] = flattenToArrays(f(...(unflatten(pdef, ins) as ArraysOf<P>)), OP, "the output");
    outDef = def;
    outLike = outs.map((o) => zeros(o.shape, { dtype: o.dtype }));
    g = stage.build(ins as StagingTracer[], outs);
  } finally {
    endTrace(stage);
  }
  const transpose = (cts: NDArray[]): NDArray[] => {
    try {
      return orZeros(transposeGraph(g, cts), ps);
    } catch (e) {
      if (e instanceof NablaError) throw notLinear(e.message);
      throw e;
    }
  };
  // every equation on the path from the inputs must transpose: checked once, with zero cotangents
  transpose(outLike);
  if (!zeroAtZero(g, ps)) throw notLinear(AFFINE);
  const def = outDef;
  return (ct: ArraysOf<R>): ArraysOf<P> => {
    const [raw, cdef] = flattenAs(ct, OP, "the cotangent");
    checkStructure(OP, "cotangent", def, cdef);
    const cts = matchLeaves(OP, "cotangent", outLike, raw);
    const res = unflatten(pdef, transpose(cts)) as unknown[];
    if (!Array.isArray(res)) throw new ShapeError(`${OP}: internal: primals are not a list`);
    return res as ArraysOf<P>;
  };
}
