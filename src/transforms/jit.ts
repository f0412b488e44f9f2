/**
 * `jit`: stages the function into a Graph once per argument signature
 * (shapes, dtypes, pytree structure and static arguments) and evaluates the
 * cached graph afterwards. Evaluation goes through `bind`, so a jitted
 * function can itself be differentiated, vmapped or staged.
 */
import { NablaError } from "../core/errors.js";
import { Graph, StagingTrace, StagingTracer, evalGraph } from "../core/graph.js";
import { MainTrace, avalOf, endTrace, fmtAval, newTrace } from "../core/trace.js";
import { TreeDef } from "../core/pytree.js";
import { flattenToArrays, unflatten } from "./common.js";

interface Compiled {
  graph: Graph;
  outDef: TreeDef;
}

function staticKey(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    throw new NablaError("jit: static arguments must be JSON-serialisable values (used as cache keys)");
  }
}

/**
 * Stages `f` into a graph per argument signature and reuses it; results
 * equal those of `f`. Arguments listed in `staticArgnums` are passed through
 * as JS values (and are part of the cache key).
 * @example
 * const f = nb.jit((x) => nb.sum(nb.mul(x, x)));
 * f(nb.array([1, 2])); // array(5.) (staged once for f64[2])
 */
export function jit(
  f: (...args: any[]) => unknown,
  options: { staticArgnums?: readonly number[] } = {},
): ((...args: any[]) => any) & { cacheSize: () => number } {
  const statics = new Set(options.staticArgnums ?? []);
  const cache = new Map<string, Compiled>();
  const run = (...args: unknown[]): unknown => {
    const dyn = args.map((a, i) => (statics.has(i) ? null : a));
    const [leaves, def] = flattenToArrays(dyn, "jit");
    const key =
      def.toString() +
      "|" +
      leaves.map((l) => fmtAval(avalOf(l)) + (l.weakType ? "w" : "")).join(",") +
      "|" +
      args.map((a, i) => (statics.has(i) ? staticKey(a) : "")).join(",");
    let c = cache.get(key);
    if (c === undefined) {
      const stage = newTrace("jit", (m: MainTrace) => new StagingTrace(m, "jit"));
      try {
        const ins = leaves.map((l) => stage.newInput(avalOf(l)));
        const traced = unflatten(def, ins) as unknown[];
        const full = args.map((a, i) => (statics.has(i) ? a : traced[i]));
        const [outs, outDef] = flattenToArrays(f(...full), "jit");
        c = { graph: stage.build(ins as StagingTracer[], outs), outDef };
      } finally {
        endTrace(stage);
      }
      cache.set(key, c);
    }
    return unflatten(c.outDef, evalGraph(c.graph, leaves));
  };
  return Object.assign(run, { cacheSize: () => cache.size });
}
