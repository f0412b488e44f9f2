/** Staging a function into a Graph. */
import { Graph, StagingTrace, StagingTracer } from "../core/graph.js";
import { MainTrace, avalOf, endTrace, newTrace } from "../core/trace.js";
import { fnArg, flattenToArrays, unflatten } from "./common.js";
import type { ArrayParams, DefaultArgs } from "../core/types.js";

/**
 * Stages `f` at the shapes and dtypes of the arguments into a Graph, whose
 * `toString()` prints the IR and whose `equations` lists its equations.
 * @example
 * nb.makeGraph((x) => nb.sum(nb.sin(x)))(nb.zeros([3])).toString();
 * // { lambda a:f64[3] . let b:f64[3] = sin a ; c:f64[] = reduce_sum[axes=(0,)] b in ( c ) }
 */
export function makeGraph<A extends unknown[] = DefaultArgs>(
  f: (...args: A) => unknown,
): (...args: ArrayParams<A>) => Graph {
  f = fnArg("makeGraph", f);
  return (...args: unknown[]): Graph => {
    const [xs, def] = flattenToArrays(args, "makeGraph");
    const stage = newTrace("makeGraph", (m: MainTrace) => new StagingTrace(m, "makeGraph"));
    try {
      const ins = xs.map((x) => stage.newInput(avalOf(x)));
      const [outs] = flattenToArrays(f(...(unflatten(def, ins) as A)), "makeGraph", "the output");
      return stage.build(ins as StagingTracer[], outs);
    } finally {
      endTrace(stage);
    }
  };
}
