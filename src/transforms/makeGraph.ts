/** Staging a function into a Graph. */
import { Graph, StagingTrace, StagingTracer } from "../core/graph.js";
import { MainTrace, avalOf, endTrace, newTrace } from "../core/trace.js";
import { fnArg, flattenToArrays, readOptions, unflatten } from "./common.js";
import type { ArrayParams, DefaultArgs } from "../core/types.js";
import { NablaError } from "../core/errors.js";
import { type OptimizeLevel, optimize } from "./passes/index.js";

/**
 * Stages `f` at the shapes and dtypes of the arguments into a Graph, whose
 * `toString()` prints the IR and whose `equations` lists its equations.
 * With `{ optimize: true }` the graph is the one `jit` compiles, after its
 * exact optimisation passes (CSE, constant folding, exact identities, DCE);
 * with `{ optimize: "full" }` also after collecting linear combinations
 * (what `jit(f, { optimize: "full" })` compiles).
 * @example
 * nb.makeGraph((x) => nb.sum(nb.sin(x)))(nb.zeros([3])).toString();
 * // { lambda a:f64[3] . let b:f64[3] = sin a ; c:f64[] = reduce_sum[axes=(0,)] b in ( c ) }
 * nb.makeGraph((x) => nb.sub(nb.add(x, x), x), { optimize: "full" })(nb.zeros([3])).equations.length; // 0
 */
export function makeGraph<A extends unknown[] = DefaultArgs>(
  f: (...args: A) => unknown,
  options: { optimize?: boolean | OptimizeLevel } = {},
): (...args: ArrayParams<A>) => Graph {
  f = fnArg("makeGraph", f);
  const o = readOptions("makeGraph", options, ["optimize"]).optimize;
  if (o !== undefined && o !== true && o !== false && o !== "exact" && o !== "full")
    throw new NablaError(`makeGraph: optimize must be a boolean, "exact" or "full", got ${String(o)}`);
  const level: OptimizeLevel | null = o === true ? "exact" : o === false || o === undefined ? null : o;
  return (...args: unknown[]): Graph => {
    const [xs, def] = flattenToArrays(args, "makeGraph");
    const stage = newTrace("makeGraph", (m: MainTrace) => new StagingTrace(m, "makeGraph", true));
    try {
      const ins = xs.map((x) => stage.newInput(avalOf(x), true));
      const [outs] = flattenToArrays(f(...(unflatten(def, ins) as A)), "makeGraph", "the output");
      const g = stage.build(ins as StagingTracer[], outs);
      return level === null ? g : optimize(g, level, { staged: true });
    } finally {
      endTrace(stage);
    }
  };
}
