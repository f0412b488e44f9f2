/**
 * `jit`: stages the function into a Graph once per argument signature
 * (shapes, dtypes, pytree structure and static arguments) and compiles it
 * into a plan (kernels called directly, elementwise runs fused into one
 * generated loop). Concrete arguments run the plan; traced arguments evaluate
 * the graph through `bind`, so a jitted function can itself be
 * differentiated, vmapped or staged.
 */
import { NablaError } from "../core/errors.js";
import { Graph, StagingTrace, StagingTracer, evalGraph } from "../core/graph.js";
import { MainTrace, avalOf, endTrace, fmtAval, newTrace } from "../core/trace.js";
import { TreeDef } from "../core/pytree.js";
import { ConcreteArray } from "../core/ndarray.js";
import { Plan, compile } from "../core/plan.js";
import { flattenToArrays, unflatten } from "./common.js";
import type { ArraysOf, DefaultArgs, JitParams, Returned } from "../core/types.js";

interface Compiled {
  graph: Graph;
  outDef: TreeDef;
  /** Direct evaluation on concrete arrays, with fused elementwise loops. */
  plan: Plan;
  /** Whether every constant of the graph is concrete (else the plan cannot run). */
  concreteConsts: boolean;
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
export function jit<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const S extends readonly number[] = [],
>(
  f: (...args: A) => R,
  options: { staticArgnums?: S } = {},
): ((...args: JitParams<A, S>) => ArraysOf<R>) & { cacheSize: () => number } {
  const statics = new Set(options.staticArgnums ?? []);
  const cache = new Map<string, Compiled>();
  const run = (...args: unknown[]): ArraysOf<R> => {
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
        // weak-typed arguments (bare scalars) stay weak, so promotion matches eager evaluation
        const ins = leaves.map((l) => stage.newInput(avalOf(l), true));
        const traced = unflatten(def, ins) as unknown[];
        const full = args.map((a, i) => (statics.has(i) ? a : traced[i]));
        const [outs, outDef] = flattenToArrays(f(...(full as A)), "jit");
        const graph = stage.build(ins as StagingTracer[], outs);
        c = {
          graph,
          outDef,
          plan: compile(graph),
          concreteConsts: graph.consts.every((k) => k instanceof ConcreteArray),
        };
      } finally {
        endTrace(stage);
      }
      cache.set(key, c);
    }
    // concrete arguments run the compiled plan; traced ones go through bind, so jit composes with other transforms
    const concrete = c.concreteConsts && leaves.every((l) => l instanceof ConcreteArray);
    const outs = concrete ? c.plan.run(leaves as ConcreteArray[]) : evalGraph(c.graph, leaves);
    return unflatten(c.outDef, outs) as ArraysOf<R>;
  };
  return Object.assign(run, { cacheSize: () => cache.size });
}
