/**
 * nabla: composable automatic differentiation for TypeScript.
 *
 * @example
 * import * as nb from "nabla";
 * const f = (x: nb.NDArray) => nb.sum(nb.mul(nb.sin(x), nb.exp(x)));
 * nb.grad(f)(nb.array([0.1, 0.2]));
 * nb.hessian(f)(nb.array([0.1, 0.2]));
 */
export { NablaError, ShapeError, DTypeError, TracerError, GradError } from "./core/errors.js";
export type { DType } from "./core/dtype.js";
export type { Shape } from "./core/shape.js";
export { NDArray, array } from "./core/ndarray.js";
export type { ArrayLike, Nested } from "./core/ndarray.js";
export { Graph } from "./core/graph.js";
export type { Equation } from "./core/graph.js";
export type * from "./core/types.js";
export type { GradOptions } from "./transforms/vjp.js";
export type { JacOptions } from "./transforms/jacobian.js";
// the NumPy-like operations (internal primitive wrappers stay private)
export {
  astype,
  neg,
  exp,
  log,
  log1p,
  expm1,
  sin,
  cos,
  tan,
  tanh,
  sinh,
  cosh,
  arcsin,
  arccos,
  arctan,
  sqrt,
  erf,
  sigmoid,
  softplus,
  abs,
  sign,
  floor,
  ceil,
  round,
  square,
  reciprocal,
  relu,
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  arctan2,
  equal,
  notEqual,
  less,
  lessEqual,
  greater,
  greaterEqual,
  logicalAnd,
  logicalOr,
  logicalNot,
  where,
  clip,
  stopGradient,
  sum,
  mean,
  prod,
  max,
  min,
  logsumexp,
  argmax,
  argmin,
  reshape,
  transpose,
  broadcastTo,
  expandDims,
  squeeze,
  concatenate,
  stack,
  slice,
  take,
  takeAlongAxis,
  argsort,
  sort,
  cumsum,
  cumprod,
  flip,
  tile,
  pad,
  matmul,
  dot,
  outer,
  diag,
  trace,
  softmax,
  logSoftmax,
  full,
  zeros,
  ones,
  zerosLike,
  onesLike,
  arange,
  linspace,
  eye,
} from "./ops/ops.js";
export { jvp } from "./transforms/jvp.js";
export { linearize } from "./transforms/linearize.js";
export { vjp, grad, valueAndGrad } from "./transforms/vjp.js";
export { jacfwd, jacrev, hessian } from "./transforms/jacobian.js";
export { makeGraph } from "./transforms/makeGraph.js";
export { vmap } from "./transforms/vmap.js";
export { jit } from "./transforms/jit.js";
export { customJvp, customVjp, checkpoint } from "./transforms/custom.js";
export { cond, whileLoop, forLoop, scan } from "./transforms/control.js";
export * as tree from "./core/tree.js";
export * as linalg from "./ops/linalg.js";
export * as random from "./ops/random.js";
