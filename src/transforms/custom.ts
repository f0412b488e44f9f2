/**
 * User-defined derivative rules and rematerialisation: `customJvp`,
 * `customVjp`, `checkpoint`. Each wraps the function in a primitive that
 * carries the user's rules (see customRules.ts), so the rules hold
 * under every transform, including staging and batching.
 */
import { DTypeError, GradError, NablaError, ShapeError, fmtShape, at as elementAt } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { shapesEqual } from "../core/shape.js";
import { NDArray } from "../core/ndarray.js";
import { TreeDef, flatten } from "../core/pytree.js";
import { Tracer, bind, traceDepth } from "../core/trace.js";
import { zeros } from "../ops/index.js";
import { fnArg, flattenToArrays, readOptions, toLeaf, unflatten } from "./common.js";
import { evalGraph } from "../core/graph.js";
import {
  CheckpointPolicy,
  checkpointPolicies,
  forwardSaving,
  policyArg,
  replay,
  stagePolicy,
} from "./checkpointPolicy.js";
import { CUSTOM_JVP_CALL, CUSTOM_VJP_CALL } from "./customRules.js";
import { vjp } from "./vjp.js";
import type { ArrayParams, ArraysOf, CotangentsOf, DefaultArgs, Returned, TangentOf } from "../core/types.js";

let NEXT_ID = 0;

/** A structure recorded while `fn`'s function ran (bind runs it before returning, or before a rule needs it). */
function recorded(def: TreeDef | undefined, fn: string): TreeDef {
  if (def === undefined) throw new NablaError(`${fn}: internal: an output structure was not recorded`);
  return def;
}

function flatOut(tree: unknown, op: string, holder: { def?: TreeDef }, what: string): NDArray[] {
  const [leaves, def] = flattenToArrays(tree, op, what);
  if (holder.def === undefined) holder.def = def;
  else if (!holder.def.equals(def))
    throw new ShapeError(
      `${op}: ${what} has structure ${def}, expected ${holder.def} (the function's output structure)`,
    );
  return leaves;
}

/**
 * Gives `f` its own JVP rule: `rule(primals, tangents)` returns
 * `[primalOut, tangentOut]` (arguments as arrays of the call's arguments).
 * Reverse mode transposes the rule's linear tangent map; higher orders
 * differentiate the rule.
 * @example
 * const safeLog1pExp = nb.customJvp(
 *   (x) => nb.softplus(x),
 *   ([x], [dx]) => [nb.softplus(x), nb.mul(dx, nb.sigmoid(x))],
 * );
 */
export function customJvp<A extends unknown[] = DefaultArgs, R extends Returned = Returned>(
  f: (...args: A) => R,
  rule: (primals: NoInfer<ArraysOf<A>>, tangents: NoInfer<ArraysOf<A>>) => [TangentOf<R>, TangentOf<R>],
): (...args: ArrayParams<A>) => ArraysOf<R>;
export function customJvp(
  f: (...args: any[]) => unknown,
  rule: (primals: any[], tangents: any[]) => [unknown, unknown],
): (...args: any[]) => any {
  f = fnArg("customJvp", f);
  rule = fnArg("customJvp", rule, "rule");
  const id = NEXT_ID++;
  return (...args: unknown[]): unknown => {
    const [xs, inDef] = flattenToArrays(args, "customJvp");
    const out: { def?: TreeDef } = {};
    const outs = bind(CUSTOM_JVP_CALL, xs, {
      f: (ys) => flatOut(f(...(unflatten(inDef, ys) as unknown[])), "customJvp", out, "the output"),
      rule: (ps, ts) => {
        const r = rule(unflatten(inDef, ps) as unknown[], unflatten(inDef, ts) as unknown[]);
        if (!Array.isArray(r) || r.length !== 2)
          throw new NablaError("customJvp: the rule must return [primalOut, tangentOut]");
        const po = flatOut(r[0], "customJvp", out, "the rule's primal output");
        const to = flatOut(r[1], "customJvp", out, "the rule's tangent output");
        return [po, to.map((t, i) => checkedTangent(t, elementAt(po, i, "customJvp"), i))];
      },
      id,
      name: f.name || "f",
    });
    return unflatten(recorded(out.def, "customJvp"), outs);
  };
}

/**
 * Gives `f` its own reverse-mode rule: `fwd(...args)` returns
 * `[out, residuals]`, `bwd(residuals, ct)` returns one cotangent per argument
 * (null for none). Forward mode works too, by transposing `bwd`.
 * @example
 * const clipGrad = nb.customVjp(
 *   (x) => x,
 *   (x) => [x, null],
 *   (_res, ct) => [nb.clip(ct, -1, 1)],
 * );
 */
export function customVjp<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  Res extends Returned = Returned,
>(
  f: (...args: A) => R,
  fwd: (...args: NoInfer<ArraysOf<A>>) => [TangentOf<R>, Res],
  bwd: (residuals: ArraysOf<Res>, ct: NoInfer<ArraysOf<R>>) => CotangentsOf<NoInfer<A>>,
): (...args: ArrayParams<A>) => ArraysOf<R>;
export function customVjp(
  f: (...args: any[]) => unknown,
  fwd: (...args: any[]) => [unknown, unknown],
  bwd: (residuals: any, ct: any) => readonly unknown[],
): (...args: any[]) => any {
  f = fnArg("customVjp", f);
  fwd = fnArg("customVjp", fwd, "fwd");
  bwd = fnArg("customVjp", bwd, "bwd");
  return customVjpWith(f, fwd, bwd, true);
}

function customVjpWith(
  f: (...args: any[]) => unknown,
  fwd: (...args: any[]) => [unknown, unknown],
  bwd: (residuals: any, ct: any) => readonly unknown[],
  checkFwd: boolean,
  op = "customVjp",
): (...args: any[]) => any {
  const id = NEXT_ID++;
  return (...args: unknown[]): unknown => {
    const [xs, inDef] = flattenToArrays(args, op);
    const out: { def?: TreeDef } = {};
    let resDef: TreeDef | undefined;
    const outs = bind(CUSTOM_VJP_CALL, xs, {
      f: (ys) => flatOut(f(...(unflatten(inDef, ys) as unknown[])), op, out, "the output"),
      fwd: (ys) => {
        const r = fwd(...(unflatten(inDef, ys) as unknown[]));
        if (!Array.isArray(r) || r.length !== 2) throw new NablaError(`${op}: fwd must return [out, residuals]`);
        const [rl, rd] = flattenToArrays(r[1], op);
        resDef = rd;
        return [flatOut(r[0], op, out, "fwd's output"), rl];
      },
      bwd: (res, cts) => {
        const ct = bwd(unflatten(recorded(resDef, op), res), unflatten(recorded(out.def, op), cts));
        if (!Array.isArray(ct) || ct.length !== args.length)
          throw new NablaError(`${op}: bwd must return an array of ${args.length} cotangent(s), one per argument`);
        // null/undefined cotangents are zeros of the argument's structure
        const filled = ct.map((c, i) => c ?? zerosTree(args[i]));
        const [leaves, def] = flatten(filled);
        if (!def.equals(inDef)) throw new ShapeError(`${op}: bwd returned structure ${def}, expected ${inDef}`);
        return leaves.map((l, i) => {
          const x = elementAt(xs, i, op);
          if (!(l instanceof NDArray)) return zeros(x.shape, { dtype: x.dtype }).add(l as number);
          const wrongShape = !shapesEqual(l.shape, x.shape);
          if (wrongShape || (isFloat(x.dtype) && l.dtype !== x.dtype)) {
            const msg = `${op}: bwd's cotangent ${i} is ${avalText(l)}, but the argument it belongs to is ${avalText(x)}`;
            throw wrongShape ? new ShapeError(msg) : new DTypeError(msg);
          }
          return l;
        });
      },
      id,
      name: f.name || "f",
      checkFwd,
    });
    return unflatten(recorded(out.def, op), outs);
  };
}

const avalText = (x: NDArray): string => `${x.dtype}${fmtShape(x.shape)}`;

/**
 * A custom JVP rule's tangent must have its primal output's shape and (for
 * float outputs) dtype: never broadcast or converted silently.
 */
function checkedTangent(t: NDArray, p: NDArray, i: number): NDArray {
  if (shapesEqual(t.shape, p.shape) && (t.dtype === p.dtype || !isFloat(p.dtype))) return t;
  throw new GradError(
    `customJvp: the rule's tangent output ${i} is ${avalText(t)}, but the primal output is ${avalText(p)}`,
  );
}

function zerosTree(x: unknown): unknown {
  // only the leaves' shapes and dtypes are read (x may hold tracers of a transform that has returned)
  const [leaves, def] = flatten(x);
  return unflatten(
    def,
    leaves.map((l) => {
      const a = l instanceof NDArray ? l : toLeaf(l, "customVjp");
      return zeros(a.shape, { dtype: a.dtype });
    }),
  );
}

/**
 * Same values as `f`, but reverse mode stores only `f`'s inputs and
 * recomputes its intermediates during the backward pass (trading time for
 * memory). With `{ policy }` (one of `checkpointPolicies`), the values the
 * policy saves are kept from the forward pass too and not recomputed.
 * Checkpoints nest. Under a transform `f` is staged once per call to find
 * the values it closes over from outer transforms (e.g. a weight an outer
 * `grad` differentiates): they become operands of the checkpoint and are
 * differentiated like its arguments.
 * @example
 * const block = nb.checkpoint((x) => nb.tanh(nb.matmul(w, x)));
 */
export function checkpoint<A extends unknown[] = DefaultArgs, R extends Returned = Returned>(
  f: (...args: A) => R,
  options?: { policy?: CheckpointPolicy },
): (...args: ArrayParams<A>) => ArraysOf<R>;
export function checkpoint(
  f: (...args: any[]) => unknown,
  options?: { policy?: CheckpointPolicy },
): (...args: any[]) => any {
  f = fnArg("checkpoint", f);
  const policy =
    policyArg("checkpoint", readOptions("checkpoint", options, ["policy"]).policy) ??
    checkpointPolicies.nothingSaveable;
  const saveNothing = policy === checkpointPolicies.nothingSaveable;
  // nothing saved and nothing closed over from outer transforms: fwd runs f itself (its outputs match
  // f's by construction) and keeps only the arguments; bwd runs f again under vjp. Nothing else is
  // retained between the passes (a staged graph kept for the backward pass would be, per call)
  const plain = customVjpWith(
    f,
    (...args: unknown[]) => [f(...args), args],
    (args: unknown[], ct: unknown) => vjp(f, ...args)[1](ct),
    false,
    "checkpoint",
  );
  return (...args: unknown[]): unknown => {
    // no transform active: no closed-over value can be a live tracer
    if (saveNothing && traceDepth() === 0) return plain(...args);
    const [xs, inDef] = flattenToArrays(args, "checkpoint");
    let outDef: TreeDef | undefined;
    const [g, consts] = stagePolicy((ys) => {
      const [outs, def] = flattenToArrays(f(...(unflatten(inDef, ys) as unknown[])), "checkpoint", "the output");
      outDef = def;
      return outs;
    }, xs);
    // traced constants (closed-over values of outer transforms) become operands, to be differentiated;
    // concrete ones stay closed over (an operand would get a materialised zero tangent)
    const traced = consts.flatMap((c, i) => (c instanceof Tracer ? [i] : []));
    // f is staged (as JAX's checkpoint stages a jaxpr) to find the values it closes over from outer
    // transforms (tracers): they become operands of the checkpoint, differentiated like its arguments.
    // Without them and without a policy, the graph is dropped and the plain form runs
    if (saveNothing && traced.length === 0) return plain(...args);
    const full = (zs: NDArray[]): NDArray[] => {
      const cs = consts.slice();
      traced.forEach((j, k) => (cs[j] = elementAt(zs, k, "checkpoint")));
      return [...cs, ...zs.slice(traced.length)];
    };
    const operands = [...traced.map((j) => elementAt(consts, j, "checkpoint")), ...xs];
    const float = operands.map((z) => isFloat(z.dtype));
    const inner = customVjpWith(
      (...zs: NDArray[]) => evalGraph(g, full(zs)),
      (...zs: NDArray[]) => {
        const [outs, saved] = forwardSaving(g, full(zs), policy);
        return [outs, [zs, saved]];
      },
      ([zs, saved]: [NDArray[], NDArray[]], ct: NDArray[]) => {
        const idx = zs.flatMap((_z, i) => (float[i] ? [i] : []));
        const at = (ws: NDArray[]): NDArray[] => {
          const all = zs.slice();
          idx.forEach((j, k) => (all[j] = elementAt(ws, k, "checkpoint")));
          return full(all);
        };
        const cts = vjp(
          (...ws: NDArray[]) => replay(g, at(ws), policy, saved),
          ...idx.map((j) => elementAt(zs, j, "checkpoint")),
        )[1](ct);
        const out: (NDArray | null)[] = zs.map(() => null);
        idx.forEach((j, k) => (out[j] = elementAt(cts, k, "checkpoint")));
        return out;
      },
      false,
      "checkpoint",
    );
    return unflatten(recorded(outDef, "checkpoint"), inner(...operands) as NDArray[]);
  };
}
