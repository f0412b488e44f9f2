/** Reverse-mode transforms: vjp, grad, valueAndGrad. */
import { DTypeError, GradError, fmtShape, at } from "../core/errors.js";
import { allocate, isFloat } from "../core/dtype.js";
import { ConcreteArray, NDArray, float64Scalar } from "../core/ndarray.js";
import { flattenAs } from "../core/pytree.js";
import {
  checkStructure,
  fnArg,
  flattenToArrays,
  gradArgs,
  matchLeaves,
  normArgnums,
  requireFloat,
  unflatten,
} from "./common.js";
import { boolArg } from "../ops/validate.js";
import { Linearized, linearizeFlat, orZeros, transposeGraph } from "./linearize.js";
import type {
  ArgnumsOf,
  ArraysOf,
  DefaultArgs,
  DiffParams,
  GradResult,
  Returned,
  TangentOf,
  ValueAndGradResult,
} from "../core/types.js";

interface VjpCore {
  lin: Linearized;
  /** Cotangents of the primal leaves. */
  pull(cts: readonly (NDArray | null)[]): NDArray[];
  primals: NDArray[];
}

/** `f` takes the primals as one list (what `primals` is, with tracers for its leaves). */
function vjpCore(
  op: string,
  f: (primals: unknown[]) => unknown,
  primals: readonly unknown[],
  hasAux: boolean,
): VjpCore & { pdef: ReturnType<typeof flattenToArrays>[1] } {
  const [ps, pdef] = flattenToArrays(primals, op, "the arguments");
  requireFloat(op, ps);
  const lin = linearizeFlat((xs) => f(unflatten(pdef, xs) as unknown[]), ps, op, hasAux);
  return {
    lin,
    primals: ps,
    pdef,
    pull: (cts) => orZeros(transposeGraph(lin.graph, cts), ps),
  };
}

/**
 * Reverse mode: `[f(...primals), vjpFn]`; `vjpFn(ct)` returns one cotangent
 * per primal (an array), each with its primal's structure.
 * @example
 * const [y, pull] = nb.vjp((x) => nb.mul(x, x), 3);
 * pull(1); // [array(6.)]
 */
export function vjp<P extends unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<P>>) => R,
  ...primals: P
): [ArraysOf<R>, (ct: TangentOf<R>) => ArraysOf<P>] {
  f = fnArg("vjp", f);
  const core = vjpCore("vjp", (ps) => f(...(ps as ArraysOf<P>)), primals, false);
  const { lin } = core;
  const vjpFn = (ct: TangentOf<R>): ArraysOf<P> => {
    const [craw, cdef] = flattenAs(ct, "vjp", "the cotangent");
    checkStructure("vjp", "cotangent", lin.outDef, cdef);
    const cts = matchLeaves("vjp", "cotangent", lin.primalsOut, craw);
    return unflatten(core.pdef, core.pull(cts)) as ArraysOf<P>;
  };
  return [unflatten(lin.outDef, lin.primalsOut) as ArraysOf<R>, vjpFn];
}

/**
 * Options of `grad` and `valueAndGrad`.
 * @example
 * const opts: nb.GradOptions = { argnums: [0, 1], hasAux: false };
 */
export interface GradOptions {
  argnums?: number | readonly number[];
  hasAux?: boolean;
}

function gradImpl(op: string, f: (...args: any[]) => unknown, options: GradOptions) {
  // read once, when the transform is made: a flag must be a boolean (`{ hasAux: 1 }` is a mistake, not "truthy")
  const hasAux = options.hasAux === undefined ? false : boolArg(op, "hasAux", options.hasAux);
  return (...args: unknown[]): [NDArray, unknown, unknown] => {
    const nums = normArgnums(op, options.argnums, args.length);
    // the arguments with the differentiated ones replaced (no closures per argnum: issue 8)
    const g = (diff: unknown[]): unknown => {
      const full = args.slice();
      for (let i = 0; i < nums.length; i++) full[at(nums, i, op)] = diff[i];
      return f(...full);
    };
    const diffArgs = new Array<unknown>(nums.length);
    for (let i = 0; i < nums.length; i++) diffArgs[i] = args[at(nums, i, op)];
    const core = vjpCore(op, g, diffArgs, hasAux);
    const { lin } = core;
    if (lin.primalsOut.length !== 1 || lin.outDef.kind !== "leaf")
      throw new GradError(
        `${op}: the function must return a single scalar array, got a pytree with structure ${lin.outDef}`,
      );
    const out = at(lin.primalsOut, 0, "gradImpl");
    if (out.size !== 1)
      throw new GradError(
        `${op}: the function must return a scalar (size-1) array, got shape ${fmtShape(out.shape)}; use vjp or jacrev for non-scalar outputs`,
      );
    if (!isFloat(out.dtype)) throw new DTypeError(`${op}: the function must return a float array, got ${out.dtype}`);
    const cts = core.pull([onesLike(out)]);
    const trees = unflatten(core.pdef, cts) as unknown[];
    const grads = typeof options.argnums === "number" || options.argnums === undefined ? trees[0] : trees;
    return [out, grads, lin.aux];
  };
}

/** A size-1 array of ones shaped and typed as `x` (the seed cotangent; no option parsing). */
function onesLike(x: NDArray): NDArray {
  if (x.dtype === "float64" && x.shape.length === 0) return float64Scalar(1);
  const d = allocate(x.dtype, 1);
  d[0] = 1;
  return new ConcreteArray(d, x.shape, x.dtype);
}

/**
 * The gradient of a scalar function. With `argnums` an array, an array of
 * gradients; with `hasAux`, `f` returns `[out, aux]` and the result is
 * `[grads, aux]`.
 * @example
 * nb.grad((x) => nb.sum(nb.mul(x, x)))(nb.array([1, 2])); // array([2., 4.])
 * nb.grad(nb.grad(nb.sin))(0.5); // -sin(0.5)
 */
export function grad<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends GradOptions = {},
>(f: (...args: A) => R, options?: O): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => GradResult<X, R, O> {
  const [g, opts] = gradArgs("grad", f, options as GradOptions);
  const impl = gradImpl("grad", g, opts);
  return <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => {
    const [, g, aux] = impl(...args);
    return (opts.hasAux ? [g, aux] : g) as GradResult<X, R, O>;
  };
}

/**
 * Value and gradient in one pass: `[value, grads]`, or with `hasAux`
 * `[[value, aux], grads]`.
 * @example
 * const [v, g] = nb.valueAndGrad((x) => nb.mul(x, x))(3); // 9, 6
 */
export function valueAndGrad<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends GradOptions = {},
>(
  f: (...args: A) => R,
  options?: O,
): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => ValueAndGradResult<X, R, O> {
  const [g, opts] = gradArgs("valueAndGrad", f, options as GradOptions);
  const impl = gradImpl("valueAndGrad", g, opts);
  return <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => {
    const [v, g, aux] = impl(...args);
    return (opts.hasAux ? [[v, aux], g] : [v, g]) as ValueAndGradResult<X, R, O>;
  };
}
