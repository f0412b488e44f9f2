/**
 * `nabla/optim`: optax-style optimisers as pure functions over pytrees.
 * Each optimiser is `{ init(params), update(grads, state, params?) }`;
 * `update` returns `[updates, newState]` and `applyUpdates(params, updates)`
 * applies them. States are pytrees of arrays (the step count is a 0-d int32
 * array), so a training step runs inside `jit` and under `vmap`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const loss = (p: { w: nb.NDArray }) => nb.sum(nb.square(nb.sub(p.w, 3)));
 * const opt = optim.adam(0.1);
 * let params = { w: nb.zeros([2]) };
 * let state = opt.init(params);
 * for (let i = 0; i < 100; i++) {
 *   const [updates, next] = opt.update(nb.grad(loss)(params), state);
 *   params = optim.applyUpdates(params, updates);
 *   state = next;
 * }
 */
export type { ArrayTree, GradientTransformation, LearningRate, Schedule, StateKind, StateOf } from "./types.js";
export {
  sgd,
  adam,
  adamw,
  rmsprop,
  adagrad,
  chain,
  clipByGlobalNorm,
  applyUpdates,
  type AdamOptions,
  type SgdState,
  type SgdKind,
  type AdamState,
  type AdamKind,
  type RmspropState,
  type RmspropKind,
  type AdagradState,
  type AdagradKind,
  type EmptyKind,
  type ChainKind,
  type StatesOf,
} from "./optimizers.js";
export { constant, exponentialDecay, cosineDecay, warmupCosineDecay, piecewiseConstant } from "./schedules.js";
