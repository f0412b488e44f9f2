/**
 * `nabla/testing`: gradient checking against finite differences and
 * fast-check arbitraries for arrays, shapes and random differentiable
 * programs.
 *
 * `checkGrads` follows JAX's `jax.test_util.check_grads`: at every order it
 * checks forward mode against central differences and reverse mode through
 * the adjoint identity ⟨ct, J·t⟩ = ⟨Jᵀ·ct, t⟩, then recurses on the JVP
 * function and on the VJP function, so order 3 covers fwd∘fwd∘fwd, ...,
 * rev∘rev∘rev.
 *
 * @example
 * import * as nb from "nabla";
 * import { checkGrads } from "nabla/testing";
 * checkGrads((x: nb.NDArray) => nb.sum(nb.sin(x)), [nb.array([0.1, 0.2])], { order: 3 });
 */
export { GradCheckError, checkGrads, type CheckGradsOptions } from "./checkGrads.js";
export { numericalJvp } from "./numerical.js";
export {
  arbArray,
  arbBroadcastPair,
  arbBroadcastShapes,
  arbShape,
  arbSpdMatrix,
  type ArrayOptions,
  type BroadcastOptions,
  type Domain,
  type ShapeOptions,
  type SpdOptions,
} from "./arbitraries.js";
export { arbProgram, type Program, type ProgramOptions } from "./programs.js";
