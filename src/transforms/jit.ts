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
import { ConcreteArray, type NDArray, isIntegralWeak, markIntegralWeak } from "../core/ndarray.js";
import { SETTINGS } from "../core/config.js";
import { Plan, compile } from "./plan.js";
import { type OptimizeLevel, optimize } from "./passes/index.js";
import { fnArg, flattenToArrays, jitOptions, unflatten } from "./common.js";
import { getDefaultDevice, withStagingDevice } from "../core/device.js";
import { placementOf, runGraphOn } from "../device/run.js";
import { treeKey, valueKey } from "./jitKey.js";
import type { ArraysOf, DefaultArgs, JitParams, Returned } from "../core/types.js";

interface Compiled {
  graph: Graph;
  outDef: TreeDef;
  /** Direct evaluation on concrete arrays, with fused elementwise loops. */
  plan: Plan;
  /** Whether every constant of the graph is concrete and on the CPU (else the plan cannot run). */
  concreteConsts: boolean;
}

function readCacheSize(v: unknown): number {
  if (v === undefined) return 256;
  if (typeof v !== "number" || !(Number.isInteger(v) || v === Infinity) || v < 1)
    throw new NablaError(`jit: cacheSize must be a positive integer (or Infinity), got ${String(v)}`);
  return v;
}

function readLevel(v: unknown): OptimizeLevel {
  if (v === undefined) return "exact";
  if (v !== "exact" && v !== "full") throw new NablaError(`jit: optimize must be "exact" or "full", got ${String(v)}`);
  return v;
}

function readStatics(v: unknown): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((k) => !Number.isInteger(k)))
    throw new NablaError(`jit: staticArgnums must be an array of integers, got ${String(v)}`);
  return v.slice() as number[];
}

function readDevice(v: unknown): "cpu" | "webgpu" | undefined {
  if (v === undefined || v === "cpu" || v === "webgpu") return v;
  throw new NablaError(`jit: device must be "cpu" or "webgpu", got ${String(v)}`);
}

const NO_STATICS: ReadonlySet<number> = new Set();

/** A call's signature as `jit`'s key sees it (no static arguments; a structure of plain nodes). */
interface Signature {
  readonly target: string;
  readonly debug: boolean;
  readonly def: TreeDef;
  readonly avals: readonly {
    readonly shape: readonly number[];
    readonly dtype: string;
    readonly weak: boolean;
    /** a weak scalar whose value is an integer (promotion with int32/bool depends on it) */
    readonly integral: boolean;
  }[];
  readonly entry: Compiled;
}

/** Whether a structure has only leaves, arrays, plain objects and null/undefined (no registered nodes, whose metadata `equals` does not compare). */
function plainStructure(def: TreeDef): boolean {
  const stack = [def];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    if (d.kind === "custom") return false;
    for (const c of d.children) stack.push(c);
  }
  return true;
}

/** Whether a call's structure and leaves give the key of `last` (same kinds, keys, shapes, dtypes, weakness). */
function sameSignature(last: Signature, def: TreeDef, leaves: readonly NDArray[]): boolean {
  const avals = last.avals;
  // (last.def is plain, and equals compares every node's kind: def is plain too)
  if (leaves.length !== avals.length || !last.def.equals(def)) return false;
  for (let i = 0; i < leaves.length; i++) {
    const l = leaves[i];
    const a = avals[i];
    if (l === undefined || a === undefined || l.dtype !== a.dtype || l.weakType !== a.weak) return false;
    if (a.weak && isIntegralWeak(l) !== a.integral) return false;
    const s = l.shape;
    if (s.length !== a.shape.length) return false;
    for (let k = 0; k < s.length; k++) if (s[k] !== a.shape[k]) return false;
  }
  return true;
}

/**
 * Stages `f` into a graph per argument signature and reuses it; results
 * equal those of `f`. Arguments listed in `staticArgnums` are passed through
 * as JS values and are part of the cache key, as are pytree structure
 * (with registered classes' metadata), shapes, dtypes and weak types. At
 * most `cacheSize` signatures (default 256) are kept, least recently used
 * evicted. The staged graph goes through the exact optimisation passes
 * (CSE, constant folding, identities exact in IEEE arithmetic, DCE: results
 * are those of eager code bit for bit); `optimize: "full"` also collects
 * sums, differences and scalings into linear combinations with like terms
 * merged (derivative graphs stop swelling; results may differ by rounding,
 * and x - x is 0 even for infinite x). `device` says where it runs ("cpu" or an initialised
 * "webgpu"); by default, where the arguments live, else `defaultDevice()` (docs/webgpu.md). On
 * "webgpu" the graph's equations are dispatched one by one to the device's kernels.
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
  options: { staticArgnums?: S; cacheSize?: number; optimize?: OptimizeLevel; device?: "cpu" | "webgpu" } = {},
): ((...args: JitParams<A, S>) => ArraysOf<R>) & {
  /** The number of argument signatures staged and cached so far. */
  cacheSize: () => number;
} {
  f = fnArg("jit", f);
  // options are read once, here (an object; staticArgnums non-negative integers without repeats)
  options = jitOptions("jit", options);
  const staticList = readStatics(options.staticArgnums);
  const maxEntries = readCacheSize(options.cacheSize);
  const level = readLevel(options.optimize);
  const device = readDevice(options.device);
  const cache = new Map<string, Compiled>();
  // the last call's signature and entry: a call repeating it (the common case) finds its entry by
  // comparing, without building the key (issue 8: the key was a third of a jitted scalar call)
  let last: Signature | null = null;
  const run = (...args: unknown[]): ArraysOf<R> => {
    // (no static arguments, the common case: no set to build, the arguments as they are)
    const statics: ReadonlySet<number> =
      staticList.length === 0
        ? NO_STATICS
        : new Set(
            staticList.map((k) => {
              if (k < -args.length || k >= args.length)
                throw new NablaError(
                  `jit: staticArgnums ${k} is out of range for a call with ${args.length} argument(s)`,
                );
              return k < 0 ? k + args.length : k;
            }),
          );
    const dyn = statics.size === 0 ? args : args.map((a, i) => (statics.has(i) ? null : a));
    const [leaves, def] = flattenToArrays(dyn, "jit", "the arguments");
    // where it runs: the device option, else where the arguments live, else the default device
    const target = placementOf("jit", device, leaves, getDefaultDevice());
    const repeat =
      last !== null && staticList.length === 0 && last.debug === SETTINGS.debugNans && last.target === target
        ? sameSignature(last, def, leaves)
        : false;
    const key = repeat
      ? ""
      : // the device is part of the key: staging on "webgpu" gives float32 where the CPU gives float64
        target +
        "|" +
        treeKey(def) +
        "|" +
        leaves.map((l) => fmtAval(avalOf(l)) + (l.weakType ? (isIntegralWeak(l) ? "wi" : "w") : "")).join(",") +
        "|" +
        args.map((a, i) => (statics.has(i) ? valueKey(a) : "")).join(",") +
        // debugNans stages its own graph: call sites recorded, no optimisation passes
        (SETTINGS.debugNans ? "|debugNans" : "");
    let c = repeat && last !== null ? last.entry : cache.get(key);
    if (repeat) {
      // (the entry is the most recently used one already: nothing ran since it did)
    } else if (c !== undefined) {
      // least recently used order: a hit moves to the end
      cache.delete(key);
      cache.set(key, c);
    } else {
      const stage = newTrace("jit", (m: MainTrace) => new StagingTrace(m, "jit", true));
      try {
        // weak-typed arguments (bare scalars) stay weak, so promotion matches eager evaluation
        const ins = leaves.map((l) => {
          const t = stage.newInput(avalOf(l), true);
          // an integral JS number promotes with int32/bool as eagerly (the key separates 2 from 2.5)
          if (isIntegralWeak(l)) markIntegralWeak(t);
          return t;
        });
        const traced = unflatten(def, ins) as unknown[];
        const full = args.map((a, i) => (statics.has(i) ? a : traced[i]));
        const [outs, outDef] = withStagingDevice(target, () => flattenToArrays(f(...(full as A)), "jit", "the output"));
        // the optimisation passes (CSE, constant folding, algebraic simplification; passes/); under
        // debugNans none, so every primitive the function applies is evaluated and checked as eagerly
        const built = stage.build(ins as StagingTracer[], outs);
        const graph = SETTINGS.debugNans ? built : optimize(built, level, { staged: true, device: target });
        c = {
          graph,
          outDef,
          plan: compile(graph),
          concreteConsts: graph.consts.every((k) => k instanceof ConcreteArray && k.device === "cpu"),
        };
      } finally {
        endTrace(stage);
      }
      if (cache.size >= maxEntries) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      cache.set(key, c);
    }
    if (c === undefined) throw new NablaError("jit: internal: no compiled entry after staging");
    if (!repeat)
      last =
        staticList.length === 0 && plainStructure(def)
          ? {
              target,
              debug: SETTINGS.debugNans,
              def,
              avals: leaves.map((l) => ({
                shape: l.shape,
                dtype: l.dtype,
                weak: l.weakType,
                integral: l.weakType && isIntegralWeak(l),
              })),
              entry: c,
            }
          : null;
    // concrete arguments run the compiled plan; traced ones go through bind, so jit composes with other transforms
    const allConcrete = leaves.every((l) => l instanceof ConcreteArray);
    const concrete = target === "cpu" && c.concreteConsts && allConcrete;
    // (under debugNans the plan runs the graph equation by equation, each primitive's outputs checked)
    const outs = concrete
      ? c.plan.run(leaves as ConcreteArray[])
      : allConcrete && target !== "cpu"
        ? runGraphOn("jit", target, c.graph, leaves as ConcreteArray[])
        : evalGraph(c.graph, leaves);
    return unflatten(c.outDef, outs) as ArraysOf<R>;
  };
  return Object.assign(run, { cacheSize: () => cache.size });
}
