/**
 * Checkpoint policies (JAX's `jax.checkpoint_policies`): which intermediate
 * values reverse mode may keep from the forward pass of a `checkpoint`ed
 * function instead of recomputing them. The function is staged; the forward
 * pass evaluates the graph and keeps the inputs plus the values of the
 * equations the policy calls saveable; the backward pass replays the graph
 * under `vjp`, where each saved equation yields its saved value (its tangent
 * is the primitive's JVP rule at the replayed inputs), so it is not recomputed.
 */
import { NablaError, at } from "../core/errors.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import { asArray } from "../ops/operand.js";
import { Equation, Graph, Var, stageClosed } from "../core/graph.js";
import { Aval, BatchResult, Dim, Rule, avalOf, bind, bind1 } from "../core/trace.js";
import type { Rule as Row } from "../prims/rule.js";

/**
 * A checkpoint policy: whether an equation's outputs may be saved for the backward pass.
 * @example
 * const policy: nb.CheckpointPolicy = nb.checkpointPolicies.dotsSaveable;
 */
export interface CheckpointPolicy {
  /** The policy's name, for messages. */
  readonly name: string;
  /** Whether the outputs of an equation (primitive name and parameters) are saved. */
  saveable(prim: string, params: unknown): boolean;
}

export interface NameParams {
  name: string;
}

/** `checkpoint_name`: the identity, tagging a value for `saveOnlyTheseNames`. */
export const CHECKPOINT_NAME: Row<NameParams, 1, 1> = {
  name: "checkpoint_name",
  abstractEval: ([a]) => [a],
  impl: ([x]) => [x],
  jvp: (_p, [t]) => [t],
  transpose: ([ct]) => [ct],
  vmap: ([x], [d]): BatchResult => [[x], [d]],
};

export interface SavedParams {
  /** The saved outputs come first among the operands; the rest are the equation's inputs. */
  nSaved: number;
  rule: Rule;
  params: unknown;
}

/** An equation whose outputs were saved: yields them, with the equation's own JVP at the replayed inputs. */
export const REMAT_SAVED: Rule<SavedParams> = {
  name: "remat_saved",
  opaque: true,
  printParams: ({ rule }) => ({ prim: rule.name }),
  abstractEval: (avals: Aval[], p: SavedParams) => avals.slice(0, p.nSaved),
  impl: (xs, p) => xs.slice(0, p.nSaved),
  jvp(primals: NDArray[], tangents: (NDArray | null)[], _o: NDArray[], p: SavedParams) {
    const saved = primals.slice(0, p.nSaved);
    const ins = primals.slice(p.nSaved);
    const ts = tangents.slice(p.nSaved);
    if (ts.every((t) => t === null)) return saved.map(() => null);
    if (p.rule.jvpFull !== undefined) return p.rule.jvpFull(ins, ts, p.params)[1];
    return p.rule.jvp(ins, ts, saved, p.params);
  },
  // the saved values are batched like the operands they came from
  vmap: (args: NDArray[], dims: Dim[], p: SavedParams): BatchResult => [
    args.slice(0, p.nSaved),
    dims.slice(0, p.nSaved),
  ],
};

/** Evaluates a closed graph on [consts, inputs], substituting or recording the outputs of saveable equations. */
function run(
  g: Graph,
  args: readonly NDArray[],
  policy: CheckpointPolicy,
  io: { saved: NDArray[] } | { record: NDArray[] },
): NDArray[] {
  const env = new Map<Var, NDArray>();
  const read = (v: Var | null): NDArray => {
    const x = v === null ? undefined : env.get(v);
    if (x === undefined) throw new NablaError("checkpoint: internal: a variable of the staged graph has no value");
    return x;
  };
  g.inVars.forEach((v, i) => env.set(v, at(args, i, "checkpoint")));
  let k = 0;
  for (const e of g.equations as Equation[]) {
    const ins = e.inputs.map(read);
    let outs: NDArray[];
    if (policy.saveable(e.prim, e.params)) {
      if ("saved" in io) {
        const vals = io.saved.slice(k, k + e.outs.length);
        k += e.outs.length;
        outs = bind(REMAT_SAVED, [...vals, ...ins], { nSaved: vals.length, rule: e.rule, params: e.params });
      } else {
        outs = bind(e.rule, ins, e.params);
        io.record.push(...outs);
      }
    } else outs = bind(e.rule, ins, e.params);
    e.outs.forEach((v, i) => env.set(v, at(outs, i, "checkpoint")));
  }
  return g.outs.map(read);
}

/** The staged graph of `f` at these arguments, with the values it closes over. */
export function stagePolicy(f: (xs: NDArray[]) => NDArray[], xs: NDArray[]): [Graph, NDArray[]] {
  return stageClosed(f, xs.map(avalOf), "checkpoint");
}

/** Forward pass: outputs and the saved values (in equation order). */
export function forwardSaving(g: Graph, args: NDArray[], policy: CheckpointPolicy): [NDArray[], NDArray[]] {
  const rec: NDArray[] = [];
  return [run(g, args, policy, { record: rec }), rec];
}

/** Backward-pass replay: the graph's outputs, with saved equations not recomputed. */
export function replay(g: Graph, args: readonly NDArray[], policy: CheckpointPolicy, saved: NDArray[]): NDArray[] {
  return run(g, args, policy, { saved });
}

export function policyArg(op: string, p: unknown): CheckpointPolicy | undefined {
  if (p === undefined) return undefined;
  if (p === null || typeof p !== "object" || typeof (p as CheckpointPolicy).saveable !== "function")
    throw new NablaError(
      `${op}: policy must be one of checkpointPolicies (nothingSaveable, dotsSaveable, saveOnlyTheseNames(...))`,
    );
  return p as CheckpointPolicy;
}

/** Save nothing: reverse mode keeps only the inputs and recomputes everything (checkpoint's default). */
const nothingSaveable: CheckpointPolicy = Object.freeze({ name: "nothingSaveable", saveable: () => false });
/** Save the results of matrix products (`matmul`); recompute everything else. */
const dotsSaveable: CheckpointPolicy = Object.freeze({
  name: "dotsSaveable",
  saveable: (prim: string) => prim === "matmul",
});

/**
 * Policies for `checkpoint(f, { policy })`: `nothingSaveable` (the default),
 * `dotsSaveable` (keep matrix products), `saveOnlyTheseNames(...names)` (keep
 * the values tagged with `checkpointName(x, name)` for one of the names).
 * @example
 * const block = nb.checkpoint((x: nb.NDArray) => nb.tanh(nb.matmul(w, x)), {
 *   policy: nb.checkpointPolicies.dotsSaveable,
 * });
 */
export const checkpointPolicies = Object.freeze({
  nothingSaveable,
  dotsSaveable,
  /**
   * Save the values tagged by `checkpointName(x, name)` with one of `names`.
   * @example
   * const policy = nb.checkpointPolicies.saveOnlyTheseNames("hidden");
   */
  saveOnlyTheseNames(...names: string[]): CheckpointPolicy {
    names.forEach((n) => {
      if (typeof n !== "string") throw new NablaError(`saveOnlyTheseNames: names must be strings, got ${typeof n}`);
    });
    const set = new Set(names);
    return Object.freeze({
      name: `saveOnlyTheseNames(${names.join(", ")})`,
      saveable: (prim: string, params: unknown) => prim === "checkpoint_name" && set.has((params as NameParams).name),
    });
  },
});

/**
 * Tags `x` with a name for `checkpointPolicies.saveOnlyTheseNames` (the
 * identity otherwise, in value and derivative).
 * @example
 * const h = nb.checkpointName(nb.tanh(nb.array([1, 2])), "hidden");
 */
export function checkpointName(x: ArrayLike, name: string): NDArray {
  const a = asArray(x, "checkpointName");
  if (typeof name !== "string") throw new NablaError(`checkpointName: name must be a string, got ${typeof name}`);
  return bind1(CHECKPOINT_NAME, [a], { name });
}
