/**
 * User-defined derivative rules and rematerialisation: `customJvp`,
 * `customVjp`, `checkpoint`. Each wraps the function in a primitive that
 * carries the user's rules (see src/ops/customRules.ts), so the rules hold
 * under every transform, including staging and batching.
 */
import { NablaError, ShapeError } from "../core/errors.js";
import { NDArray } from "../core/ndarray.js";
import { TreeDef, flatten } from "../core/pytree.js";
import { bind } from "../core/trace.js";
import { HOOKS } from "../core/hooks.js";
import { zeros } from "../ops/ops.js";
import { flattenToArrays, unflatten } from "./common.js";
import { jvpFlat } from "./jvp.js";
import { linearizeFlat, orZeros, transposeGraph } from "./linearize.js";
import { vjp } from "./vjp.js";
import { vmap } from "./vmap.js";
import type { ArrayParams, ArraysOf, CotangentsOf, DefaultArgs, Returned, TangentOf } from "../core/types.js";

HOOKS.jvpFlat = jvpFlat;
HOOKS.vjpFlat = (f, primals, cts) => {
  const lin = linearizeFlat(f, primals, "customVjp");
  return orZeros(transposeGraph(lin.graph, cts), primals);
};
HOOKS.vmapFlat = (f, xs) => vmap((...ys: NDArray[]) => f(ys))(...xs) as NDArray[];

let NEXT_ID = 0;

function flatOut(tree: unknown, op: string, holder: { def?: TreeDef }, what: string): NDArray[] {
  const [leaves, def] = flattenToArrays(tree, op);
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
  const id = NEXT_ID++;
  return (...args: unknown[]): unknown => {
    const [xs, inDef] = flattenToArrays(args, "customJvp");
    const out: { def?: TreeDef } = {};
    const outs = bind("custom_jvp_call", xs, {
      f: (ys) => flatOut(f(...(unflatten(inDef, ys) as unknown[])), "customJvp", out, "the output"),
      rule: (ps, ts) => {
        const r = rule(unflatten(inDef, ps) as unknown[], unflatten(inDef, ts) as unknown[]);
        if (!Array.isArray(r) || r.length !== 2)
          throw new NablaError("customJvp: the rule must return [primalOut, tangentOut]");
        return [
          flatOut(r[0], "customJvp", out, "the rule's primal output"),
          flatOut(r[1], "customJvp", out, "the rule's tangent output"),
        ];
      },
      id,
      name: f.name || "f",
    });
    return unflatten(out.def!, outs);
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
  return customVjpWith(f, fwd, bwd, true);
}

function customVjpWith(
  f: (...args: any[]) => unknown,
  fwd: (...args: any[]) => [unknown, unknown],
  bwd: (residuals: any, ct: any) => readonly unknown[],
  checkFwd: boolean,
): (...args: any[]) => any {
  const id = NEXT_ID++;
  return (...args: unknown[]): unknown => {
    const [xs, inDef] = flattenToArrays(args, "customVjp");
    const out: { def?: TreeDef } = {};
    let resDef: TreeDef | undefined;
    const outs = bind("custom_vjp_call", xs, {
      f: (ys) => flatOut(f(...(unflatten(inDef, ys) as unknown[])), "customVjp", out, "the output"),
      fwd: (ys) => {
        const r = fwd(...(unflatten(inDef, ys) as unknown[]));
        if (!Array.isArray(r) || r.length !== 2) throw new NablaError("customVjp: fwd must return [out, residuals]");
        const [rl, rd] = flattenToArrays(r[1], "customVjp");
        resDef = rd;
        return [flatOut(r[0], "customVjp", out, "fwd's output"), rl];
      },
      bwd: (res, cts) => {
        const ct = bwd(unflatten(resDef!, res), unflatten(out.def!, cts));
        if (!Array.isArray(ct) || ct.length !== args.length)
          throw new NablaError(`customVjp: bwd must return an array of ${args.length} cotangent(s), one per argument`);
        // null/undefined cotangents are zeros of the argument's structure
        const filled = ct.map((c, i) => c ?? zerosTree(args[i]));
        const [leaves, def] = flatten(filled);
        if (!def.equals(inDef)) throw new ShapeError(`customVjp: bwd returned structure ${def}, expected ${inDef}`);
        return leaves.map((l, i) =>
          l instanceof NDArray ? l : zeros(xs[i]!.shape, { dtype: xs[i]!.dtype }).add(l as number),
        );
      },
      id,
      name: f.name || "f",
      checkFwd,
    });
    return unflatten(out.def!, outs);
  };
}

function zerosTree(x: unknown): unknown {
  const [leaves, def] = flattenToArrays(x, "customVjp");
  return unflatten(
    def,
    leaves.map((l) => zeros(l.shape, { dtype: l.dtype })),
  );
}

/**
 * Same values as `f`, but reverse mode stores only `f`'s inputs and
 * recomputes its intermediates during the backward pass (trading time for
 * memory).
 * @example
 * const block = nb.checkpoint((x) => nb.tanh(nb.matmul(w, x)));
 */
export function checkpoint<A extends unknown[] = DefaultArgs, R extends Returned = Returned>(
  f: (...args: A) => R,
): (...args: ArrayParams<A>) => ArraysOf<R>;
export function checkpoint(f: (...args: any[]) => unknown): (...args: any[]) => any {
  // fwd runs f itself, so its outputs match f's by construction (no extra check)
  return customVjpWith(
    f,
    (...args: unknown[]) => [f(...args), args],
    (args: unknown[], ct: unknown) => vjp(f, ...args)[1](ct),
    false,
  );
}
