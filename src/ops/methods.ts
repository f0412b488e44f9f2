/**
 * The NDArray methods: `x.add(y)` is `add(x, y)`, `x.sum(0)` is `sum(x, 0)`,
 * and so on for the operations listed below, plus `x.T` and `x.flatten()`.
 *
 * The NDArray class lives in `src/core`, below the operations, so it cannot
 * call them itself. This module puts them on its prototype when it is first
 * imported: the one module of nabla with a load-time side effect, which
 * `package.json` declares in `"sideEffects"` so bundlers keep it. Every
 * module of `src/ops` imports it, so any code that can make an array has
 * loaded it. The method types are derived from the operations' own types
 * (module augmentation below), so the two cannot drift apart.
 */
import { ArrayLike, NDArray } from "../core/ndarray.js";
import * as ops from "./index.js";

type Ops = typeof ops;

/** The operations that are also methods (the array is their first argument). */
const METHODS = [
  "astype",
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "maximum",
  "minimum",
  "arctan2",
  "neg",
  "exp",
  "log",
  "log1p",
  "expm1",
  "sin",
  "cos",
  "tan",
  "tanh",
  "sinh",
  "cosh",
  "arcsin",
  "arccos",
  "arctan",
  "sqrt",
  "square",
  "reciprocal",
  "abs",
  "sign",
  "floor",
  "ceil",
  "round",
  "sigmoid",
  "relu",
  "softplus",
  "erf",
  "equal",
  "notEqual",
  "less",
  "lessEqual",
  "greater",
  "greaterEqual",
  "logicalAnd",
  "logicalOr",
  "logicalNot",
  "clip",
  "sum",
  "mean",
  "prod",
  "max",
  "min",
  "logsumexp",
  "argmax",
  "argmin",
  "reshape",
  "transpose",
  "broadcastTo",
  "expandDims",
  "squeeze",
  "slice",
  "take",
  "cumsum",
  "cumprod",
  "flip",
  "sort",
  "argsort",
  "matmul",
  "dot",
  "softmax",
  "logSoftmax",
  // issue 9, part A (opsA): the NumPy ndarray methods among the new operations
  "std",
  "var",
  "repeat",
] as const satisfies readonly (keyof Ops)[];

type MethodName = (typeof METHODS)[number];
/** An operation `(x, ...rest) => R` as the method `(...rest) => R`. */
type AsMethod<F> = F extends (x: ArrayLike, ...rest: infer A) => infer R ? (...args: A) => R : never;

/**
 * The NDArray methods, typed from the operations (`x.op(...rest)` is `op(x, ...rest)`).
 * @example
 * nb.array([1, 2]).add(1).sum(); // array(5.)
 */
export type Methods = { [K in keyof Pick<Ops, MethodName>]: AsMethod<Ops[K]> };

declare module "../core/ndarray.js" {
  interface NDArray extends Methods {
    /** The transpose (axes reversed). */
    readonly T: NDArray;
    /** The elements as a 1-D array. */
    flatten(): NDArray;
  }
}

for (const name of METHODS) {
  Object.defineProperty(NDArray.prototype, name, {
    value: function (this: NDArray, ...args: unknown[]): NDArray {
      return (ops[name] as (x: NDArray, ...rest: unknown[]) => NDArray)(this, ...args);
    },
    writable: true,
    configurable: true,
  });
}
Object.defineProperty(NDArray.prototype, "T", {
  get(this: NDArray): NDArray {
    return ops.transpose(this);
  },
  configurable: true,
});
Object.defineProperty(NDArray.prototype, "flatten", {
  value: function (this: NDArray): NDArray {
    return ops.reshape(this, [-1]);
  },
  writable: true,
  configurable: true,
});
