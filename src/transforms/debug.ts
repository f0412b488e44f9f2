/**
 * `nb.debug`: `print` and `callback`, which see concrete values inside `jit`,
 * `vmap` (once per example, in order) and `grad` (primal values).
 * @module
 */
import { NablaError } from "../core/errors.js";
import { ConcreteArray } from "../core/ndarray.js";
import { describe, flatten } from "../core/pytree.js";
import { deviceGet } from "../device/index.js";
import { bind } from "../core/trace.js";
import { DEBUG_CALLBACK } from "./debugRule.js";
import { flattenToArrays, unflatten } from "./common.js";

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
 * example, in order) and `grad` (primal values) too. Values on "webgpu" are
 * printed once they are read back (asynchronously, in the order of the prints).
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
  stageCallback("print", (...vs: unknown[]) => printValues(format, vs), values);
}

/** The prints waiting for values on a device, in the order they were made. */
let printing: Promise<void> = Promise.resolve();

/**
 * Prints `format` with `vs`: at once when every array is on the CPU, else once the device arrays are
 * read back (asynchronously: "webgpu" arrays are never read synchronously), after the prints before it.
 * A read that rejects (a `debugNans` report) is printed with `console.error` instead.
 */
function printValues(format: string, vs: unknown[]): void {
  const onDevice = flatten(vs)[0].some((l) => l instanceof ConcreteArray && l.device !== "cpu");
  if (!onDevice) {
    console.log(formatValues(format, vs));
    return;
  }
  const values = deviceGet(vs);
  printing = printing
    .then(() => values)
    .then(
      (host) => console.log(formatValues(format, host)),
      (e: unknown) => console.error(e),
    );
}
