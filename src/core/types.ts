/**
 * Type-level pytrees: how the transforms map the user's parameter and result
 * types. Nothing here exists at run time.
 *
 * A pytree type is mapped leaf by leaf: leaves (`NDArray`, JS numbers and
 * booleans, typed arrays) are replaced, JS arrays and tuples and plain objects
 * are mapped element by element, `null` and `undefined` stay as they are.
 */
import type { NDArray } from "./ndarray.js";
import type { TreeDef } from "./pytree.js";

/**
 * A pytree leaf as the transforms accept it: an `NDArray`, a JS number or
 * boolean, or a typed array (each becomes an `NDArray`).
 * @example
 * const leaves: nb.Leaf[] = [nb.array([1, 2]), 3, true, new Float64Array(2)];
 */
export type Leaf = NDArray | number | boolean | ArrayBufferView;

/**
 * The tree `T` with every leaf replaced by `L` (containers keep their shape and
 * their `readonly` modifiers).
 * @example
 * type T = nb.ReplaceLeaves<{ w: number; b: [number, nb.NDArray] }, string>; // { w: string; b: [string, string] }
 */
export type ReplaceLeaves<T, L> = T extends Leaf
  ? L
  : T extends null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? number extends T["length"]
        ? readonly E[] extends E
          ? // a recursive nested-array type such as Nested: map its leaf members once
            readonly NestedOf<ReplaceLeaves<Exclude<E, readonly unknown[]>, L>>[]
          : { [K in keyof T]: ReplaceLeaves<T[K], L> }
        : { [K in keyof T]: ReplaceLeaves<T[K], L> }
      : T extends object
        ? { [K in keyof T]: ReplaceLeaves<T[K], L> }
        : T;

/**
 * Arbitrarily nested arrays of `L` (what a {@link Nested} literal becomes when
 * its leaves are replaced).
 * @example
 * const xs: nb.NestedOf<nb.NDArray> = [nb.ones([2]), [nb.zeros([1])]];
 */
export type NestedOf<L> = L | readonly NestedOf<L>[];

/**
 * The tree `T` with `NDArray` leaves: what a transform returns for an input or
 * output of type `T` (`NDArray | number` leaves become `NDArray`).
 * @example
 * type P = nb.ArraysOf<{ w: number[]; b: nb.NDArray }>; // { w: nb.NDArray[]; b: nb.NDArray }
 */
export type ArraysOf<T> = ReplaceLeaves<T, NDArray>;

/**
 * The gradient type of an argument of type `T`: a tree of the same shape with
 * `NDArray` leaves.
 * @example
 * const g: nb.GradOf<{ w: nb.NDArray; b: number }> = nb.grad(loss)(params); // { w: NDArray; b: NDArray }
 */
export type GradOf<T> = ArraysOf<T>;

/**
 * A tree shaped like `T` whose leaves may be any {@link Leaf} (numbers become
 * arrays): the type of tangents and cotangents the transforms accept.
 * @example
 * const t: nb.TangentOf<[nb.NDArray, { s: nb.NDArray }]> = [nb.ones([2]), { s: 1 }];
 */
export type TangentOf<T> = ReplaceLeaves<T, NDArray | number>;

/** `argnums` as the options of `grad`, `valueAndGrad`, `jacfwd`, `jacrev`, `hessian` take it. */
export type Argnums = number | readonly number[];

/** The argnums an options type names (0 when absent). */
export type ArgnumsOf<O> = O extends { readonly argnums: infer N } ? (N extends Argnums ? N : 0) : 0;

/** The element of the parameter tuple `A` at a (possibly negative or unknown) index `N`. */
type ParamAt<A extends readonly unknown[], N extends number> = number extends N
  ? A[number]
  : `${N}` extends `-${string}`
    ? A[number]
    : N extends keyof A
      ? A[N]
      : A[number];

/**
 * The structure the derivative transforms give for the arguments `N` of a
 * function with parameters `A`: one argument's tree (number `N`) or a tuple of
 * them (array `N`), leaves mapped to `L`.
 * @example
 * type G = nb.ArgsTree<[nb.NDArray, number, string], [0, 1], nb.NDArray>; // [NDArray, NDArray]
 */
export type ArgsTree<A extends readonly unknown[], N, L> = N extends number
  ? ReplaceLeaves<ParamAt<A, N>, L>
  : N extends readonly number[]
    ? { -readonly [K in keyof N]: N[K] extends number ? ReplaceLeaves<ParamAt<A, N[K]>, L> : never }
    : never;

/**
 * The gradient `grad(f, options)` returns for a function with parameters `A`:
 * `GradOf<A[0]>` by default, the argument(s) `argnums` names otherwise.
 * @example
 * type G = nb.GradsOf<[nb.NDArray, { b: number }], { argnums: [0, 1] }>; // [NDArray, { b: NDArray }]
 */
export type GradsOf<A extends readonly unknown[], O> = ArgsTree<A, ArgnumsOf<O>, NDArray>;

/**
 * Any value, spelled so that an array literal returned by a callback is
 * inferred as a tuple (`[loss, aux]` stays `[NDArray, Aux]`).
 * @example
 * const f = (x: nb.NDArray): nb.Returned => [nb.sum(x), { n: 1 }];
 */
export type Returned = {} | null | undefined | readonly [];

/** The aux value of a `hasAux` function returning `[out, aux]`. */
export type AuxOf<R> = R extends readonly [unknown, infer X] ? X : R extends readonly unknown[] ? R[number] : unknown;

/** Whether an options type sets `hasAux: true`. */
type HasAux<O> = O extends { readonly hasAux: true } ? true : false;

/**
 * What `grad(f, options)(...args)` returns for arguments `X` and result `R`:
 * the gradients, or with `hasAux` `[grads, aux]`.
 * @example
 * type G = nb.GradResult<[nb.NDArray], [nb.NDArray, string], { hasAux: true }>; // [NDArray, string]
 */
export type GradResult<X extends readonly unknown[], R, O> =
  HasAux<O> extends true ? [GradsOf<X, O>, AuxOf<R>] : GradsOf<X, O>;

/**
 * What `valueAndGrad(f, options)(...args)` returns: `[value, grads]`, or with
 * `hasAux` `[[value, aux], grads]`.
 * @example
 * type V = nb.ValueAndGradResult<[nb.NDArray], nb.NDArray, {}>; // [NDArray, NDArray]
 */
export type ValueAndGradResult<X extends readonly unknown[], R, O> =
  HasAux<O> extends true ? [[NDArray, AuxOf<R>], GradsOf<X, O>] : [NDArray, GradsOf<X, O>];

/**
 * The Jacobian of a function with parameters `A` and result `R` with respect
 * to the arguments `argnums` of `O`: the output tree with every leaf replaced
 * by the input tree (leaf shapes `out.shape ++ in.shape`).
 * @example
 * type J = nb.JacobianOf<[nb.NDArray], { y: nb.NDArray }, {}>; // { y: NDArray }
 */
export type JacobianOf<A extends readonly unknown[], R, O> = ReplaceLeaves<R, ArgsTree<A, ArgnumsOf<O>, NDArray>>;

/**
 * The Hessian `jacfwd(jacrev(f))`: the Jacobian tree with every leaf replaced
 * by the input tree once more.
 * @example
 * type H = nb.HessianOf<[{ a: nb.NDArray }], nb.NDArray, {}>; // { a: { a: NDArray } }
 */
export type HessianOf<A extends readonly unknown[], R, O> = ReplaceLeaves<
  JacobianOf<A, R, O>,
  ArgsTree<A, ArgnumsOf<O>, NDArray>
>;

/**
 * One cotangent per argument of a function with parameters `A`, as a custom
 * VJP's `bwd` returns them (`null` or `undefined` for a zero cotangent).
 * @example
 * const cts: nb.CotangentsOf<[nb.NDArray, number]> = [nb.ones([2]), null];
 */
export type CotangentsOf<A extends readonly unknown[]> = {
  readonly [K in keyof A]: TangentOf<A[K]> | null | undefined;
};

/**
 * A loop carry that starts as `T`: the initial value itself, or the same tree
 * with `NDArray` leaves once it has been through the body or been staged.
 * @example
 * const v: nb.Carry<number> = nb.whileLoop((v) => nb.less(v, 10), (v) => nb.mul(v, 2), 1); // number | NDArray
 */
export type Carry<T> = T | ArraysOf<T>;

/** The parameter keys (as strings) that argnums `N` names; none when `N` is not a literal. */
type DiffKeys<N> = N extends number
  ? number extends N
    ? never
    : `${N}`
  : N extends readonly number[]
    ? number extends N[number]
      ? never
      : `${N[number]}`
    : never;

/**
 * The parameters of a derivative transform's result for a function with
 * parameters `A` differentiated at argnums `N`: the differentiated arguments
 * also accept numbers at their leaves (they become arrays), the others are
 * passed to `f` unchanged and keep their types.
 * @example
 * type P = nb.DiffParams<[nb.NDArray, string], 0>; // [NDArray | number, string]
 */
export type DiffParams<A extends readonly unknown[], N> = {
  [K in keyof A]: number extends K ? TangentOf<A[K]> : K extends DiffKeys<N> ? TangentOf<A[K]> : A[K];
};

/**
 * The parameters a transform assumes for a callback whose parameters are not
 * annotated: one or more arrays.
 * @example
 * const g = nb.grad((x) => nb.sum(nb.mul(x, x))); // x: NDArray
 */
export type DefaultArgs = [NDArray, ...NDArray[]];

/**
 * The result of a function transformed by `jit`, `vmap`, `makeGraph`,
 * `customJvp`, `customVjp` or `checkpoint` takes these parameters: `A` with
 * numbers also accepted at the leaves (the transform turns every leaf into an
 * array before `f` sees it).
 * @example
 * type P = nb.ArrayParams<[nb.NDArray, { s: nb.NDArray }]>; // [NDArray | number, { s: NDArray | number }]
 */
export type ArrayParams<A extends readonly unknown[]> = { [K in keyof A]: TangentOf<A[K]> };

/**
 * The parameters of `jit(f, { staticArgnums: S })`: the static arguments keep
 * their types (they reach `f` unchanged), the others accept numbers at their
 * leaves.
 * @example
 * type P = nb.JitParams<[nb.NDArray, string], [1]>; // [NDArray | number, string]
 */
export type JitParams<A extends readonly unknown[], S extends readonly number[]> = {
  [K in keyof A]: number extends K ? TangentOf<A[K]> : K extends `${S[number]}` ? A[K] : TangentOf<A[K]>;
};

/**
 * A value that is `T` when computed eagerly and `T` with `NDArray` leaves when
 * staged (under `jit`, `vmap`, `makeGraph`), as `cond` returns it.
 * @example
 * const y: nb.Staged<number> = nb.cond(true, () => 1, () => 2); // number | NDArray
 */
export type Staged<T> = T | ArraysOf<T>;

/**
 * The union of the leaf types of a tree type (`unknown` for `unknown`).
 * @example
 * type L = nb.LeafOf<{ a: nb.NDArray; b: [number, boolean] }>; // NDArray | number | boolean
 */
export type LeafOf<T> = unknown extends T
  ? unknown
  : T extends Leaf
    ? T
    : T extends null | undefined
      ? never
      : T extends readonly (infer E)[]
        ? readonly E[] extends E
          ? Exclude<E, readonly unknown[]>
          : LeafOf<E>
        : T extends object
          ? [keyof T] extends [never]
            ? unknown // an object type that names no keys (object, {}): its leaves are unknown
            : LeafOf<T[keyof T]>
          : never;

declare const treeType: unique symbol;

/**
 * A {@link TreeDef} that remembers the type of the tree it describes, so that
 * `tree.unflatten` can rebuild that type.
 * @example
 * const def: nb.TreeDefOf<{ a: number }> = nb.tree.structure({ a: 1 });
 */
export type TreeDefOf<T> = TreeDef & { readonly [treeType]?: T };
