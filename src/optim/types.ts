/**
 * Types shared by `nabla/optim`: trees typed from the parameters, and a
 * "state kind" encoding that lets one transformation object type its state
 * for every parameter tree it is initialised with.
 */
import type { ArrayLike, NDArray } from "../index.js";

/**
 * The tree of arrays with the structure of `P`: every leaf (an `NDArray` or a
 * number) becomes an `NDArray`; arrays, tuples, plain objects and
 * `null`/`undefined` keep their shape. (`any` stays `any`.)
 *
 * @example
 * import type { ArrayTree } from "nabla/optim";
 * type T = ArrayTree<{ w: number; b: [number, number] }>; // { w: NDArray; b: [NDArray, NDArray] }
 */
export type ArrayTree<P> = 0 extends 1 & P ? P : ArrayTreeOf<P>;
type ArrayTreeOf<P> = P extends NDArray | number
  ? NDArray
  : P extends null | undefined
    ? P
    : P extends readonly unknown[]
      ? { -readonly [K in keyof P]: ArrayTree<P[K]> }
      : P extends object
        ? { -readonly [K in keyof P]: ArrayTree<P[K]> }
        : never;

/**
 * A schedule: maps the step count (0 on the first update) to a value, e.g. a
 * learning rate. Works on traced counts, so it runs inside `jit` and `vmap`.
 *
 * @example
 * import * as optim from "nabla/optim";
 * const s: optim.Schedule = optim.exponentialDecay(0.1, 10, 0.5);
 * s(10).item(); // 0.05
 */
export type Schedule = (count: ArrayLike) => NDArray;

/**
 * A learning rate: a constant or a schedule of the step count.
 *
 * @example
 * import * as optim from "nabla/optim";
 * const lr: optim.LearningRate = optim.cosineDecay(1e-2, 100);
 */
export type LearningRate = number | Schedule;

/**
 * Encodes how a transformation's state depends on the parameter tree `P`
 * (a type-level function): `state` may mention `this["params"]`.
 *
 * @example
 * import type { ArrayTree, StateKind, StateOf } from "nabla/optim";
 * type MyState<P> = { acc: ArrayTree<P> };
 * interface MyKind extends StateKind { readonly state: MyState<this["params"]> }
 * type S = StateOf<MyKind, { w: number }>; // { acc: { w: NDArray } }
 */
export interface StateKind {
  readonly params: unknown;
  readonly state: unknown;
}

/**
 * The state of a transformation of kind `K` for parameters of type `P`.
 *
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StateOf<optim.AdamKind, { w: number }>; // AdamState<{ w: number }>
 */
export type StateOf<K extends StateKind, P> = (K & { readonly params: P })["state"];

/**
 * An optax-style gradient transformation: pure `init` and `update`. States
 * are pytrees of arrays (the step count a 0-d int32 array), so `update`
 * runs inside `jit` and under `vmap`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const opt: optim.GradientTransformation<optim.SgdKind> = optim.sgd(0.1);
 * const params = { w: nb.array([1, 2]) };
 * const state = opt.init(params);
 * const [updates] = opt.update({ w: nb.array([1, 1]) }, state);
 * optim.applyUpdates(params, updates).w.toArray(); // [0.9, 1.9]
 */
export interface GradientTransformation<K extends StateKind = StateKind> {
  /** The initial state for `params`. */
  init<P>(params: P): StateOf<K, P>;
  /**
   * Transforms `updates` (usually gradients) into parameter updates, given
   * the state; returns `[updates, newState]`. `params` is needed by
   * transformations that depend on the parameters (weight decay).
   */
  update<P>(updates: P, state: NoInfer<StateOf<K, P>>, params?: unknown): [ArrayTree<P>, StateOf<K, P>];
}
