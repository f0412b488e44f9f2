/**
 * Debugging inside transforms: `debug.callback` and `debug.print` stage a
 * `debug_callback` primitive, an effect (no outputs; dead-code elimination
 * keeps it) whose kernel calls the user's function with concrete values:
 * at once when eager or under grad/jvp (primal values), when the compiled
 * program runs under jit, and once per example, in order, under vmap.
 */
import { NablaError } from "../core/errors.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { describe } from "../core/pytree.js";
import { BatchResult, Dim, Rule, bind } from "../core/trace.js";
import { take } from "../ops/index.js";
import { flattenToArrays, unflatten } from "./common.js";

export interface DebugParams {
  /** Receives the operands' concrete values. */
  fn: (xs: ConcreteArray[]) => void;
}

/** Example `i` of a batched operand (batch axis `d`), or the operand itself when unbatched. */
const exampleOf = (x: ConcreteArray, d: Dim, i: number): ConcreteArray =>
  d === null ? x : (take(x, i, d) as ConcreteArray);

export const DEBUG_CALLBACK: Rule<DebugParams> = {
  name: "debug_callback",
  opaque: true,
  effect: true,
  printParams: () => ({}),
  abstractEval: () => [],
  impl(xs: ConcreteArray[], p: DebugParams) {
    p.fn(xs);
    return [];
  },
  // the callback sees primal values; it has no outputs, hence no tangents
  jvp: () => [],
  jvpFull(primals: NDArray[], _t: (NDArray | null)[], p: DebugParams): [NDArray[], NDArray[]] {
    bind(DEBUG_CALLBACK, primals, p);
    return [[], []];
  },
  vmap(args: NDArray[], dims: Dim[], p: DebugParams, size: number): BatchResult {
    const fn = (xs: ConcreteArray[]): void => {
      for (let i = 0; i < size; i++) p.fn(xs.map((x, j) => exampleOf(x, dims[j] ?? null, i)));
    };
    bind(DEBUG_CALLBACK, args, { fn });
    return [[], []];
  },
};

/**
 * Calls `fn` with the concrete values of `values` (pytrees of arrays, same
 * structure), also inside `jit` (when the compiled function runs), `vmap`
 * (once per example, in order) and `grad`/`jvp` (with primal values).
 * Returns nothing and changes no value.
 * @example
 * const seen: number[] = [];
 * nb.jit((x: nb.NDArray) => {
 *   nb.debug.callback((v: nb.NDArray) => seen.push(v.item()), x);
 *   return nb.mul(x, 2);
 * })(nb.array(3)); // seen = [3]
 */
export function callback<V extends unknown[]>(fn: (...values: V) => void, ...values: V): void {
  // not fnArg: the callback returns nothing
  if (typeof fn !== "function") throw new NablaError(`callback: fn must be a function, got ${describe(fn)}`);
  stageCallback("callback", fn as (...vs: unknown[]) => void, values);
}

function stageCallback(op: string, fn: (...vs: unknown[]) => void, values: unknown[]): void {
  const [xs, def] = flattenToArrays(values, op, "the values");
  bind(DEBUG_CALLBACK, xs, { fn: (cs: ConcreteArray[]) => void fn(...(unflatten(def, cs) as unknown[])) });
}

/** Replaces `{}` (next value) and `{0}`, `{1}`, … (by position) in `format`. */
function formatValues(format: string, values: readonly unknown[]): string {
  let next = 0;
  return format.replace(/\{(\d*)\}/g, (_m, k: string) => {
    const i = k === "" ? next++ : Number(k);
    if (i >= values.length)
      throw new NablaError(
        `print: the format ${JSON.stringify(format)} needs value ${i}, got ${values.length} value(s)`,
      );
    return String(values[i]);
  });
}

/**
 * Prints `format` with `{}` / `{0}`-style placeholders replaced by the
 * concrete values (with `console.log`), inside `jit`, `vmap` (one line per
 * example, in order) and `grad` (primal values) too.
 * @example
 * nb.vmap((x: nb.NDArray) => {
 *   nb.debug.print("x = {}", x);
 *   return x;
 * })(nb.array([1, 2])); // prints "x = array(1.)" then "x = array(2.)"
 */
export function print(format: string, ...values: unknown[]): void {
  if (typeof format !== "string") throw new NablaError(`print: format must be a string, got ${describe(format)}`);
  // the placeholders are checked now, not only when the values arrive
  formatValues(
    format,
    values.map(() => ""),
  );
  stageCallback("print", (...vs: unknown[]) => console.log(formatValues(format, vs)), values);
}
