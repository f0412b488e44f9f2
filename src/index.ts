/**
 * nabla: composable automatic differentiation for TypeScript.
 *
 * @example
 * import * as nb from "nabla";
 * const f = (x: nb.NDArray) => nb.sum(nb.mul(nb.sin(x), nb.exp(x)));
 * nb.grad(f)(nb.array([0.1, 0.2]));
 * nb.hessian(f)(nb.array([0.1, 0.2]));
 */
export { NablaError, ShapeError, DTypeError, TracerError, GradError, DeviceError } from "./core/errors.js";
export type { DType } from "./core/dtype.js";
export type { Shape } from "./core/shape.js";
export { NDArray } from "./core/ndarray.js";
export type { ArrayLike, Nested } from "./core/ndarray.js";
export { Graph } from "./core/graph.js";
export type { Equation } from "./core/graph.js";
export type * from "./core/types.js";
export type { GradOptions } from "./transforms/vjp.js";
export type { JacOptions } from "./transforms/jacobian.js";
// the NumPy-like operations, with the nb.linalg and nb.random namespaces (primitive wrappers stay private)
export * from "./ops/index.js";
export { jvp } from "./transforms/jvp.js";
export { linearize } from "./transforms/linearize.js";
export { vjp, grad, valueAndGrad } from "./transforms/vjp.js";
export { jacfwd, jacrev, hessian } from "./transforms/jacobian.js";
export { makeGraph } from "./transforms/makeGraph.js";
export { vmap } from "./transforms/vmap.js";
export { jit } from "./transforms/jit.js";
export { init, devices, defaultDevice, devicePut, deviceGet } from "./device/index.js";
export { customJvp, customVjp, checkpoint } from "./transforms/custom.js";
export { cond, whileLoop, forLoop, scan } from "./transforms/control.js";
// Taylor mode
export { jet } from "./transforms/jet.js";
export type { JetSeriesOf } from "./transforms/jet.js";
// implicit differentiation, linear transposition, parallel scans
export { customRoot, customLinearSolve } from "./transforms/implicit.js";
export { linearTranspose } from "./transforms/linearTranspose.js";
export { associativeScan } from "./transforms/associativeScan.js";
export * as debug from "./transforms/debug.js";
export { config } from "./transforms/config.js";
export { checkpointPolicies, checkpointName } from "./transforms/checkpointPolicy.js";
export type { CheckpointPolicy } from "./transforms/checkpointPolicy.js";
export * as tree from "./core/tree.js";
