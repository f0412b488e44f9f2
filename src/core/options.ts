/**
 * The one validator of options objects, used by the public operations, the
 * transforms, `nabla/optim` and `nabla/nn`: every function that takes an
 * options argument reads it here, so a bad one gives the same message
 * everywhere.
 */
import { NablaError, fmtValue } from "./errors.js";

/**
 * @internal `options` read once: `undefined` (no options) gives an empty
 * object; anything but a plain object (null, a number, an array, a Date, a
 * Map, an NDArray: a misplaced argument) throws NablaError, as does a key not
 * among `keys` when `keys` is given. Returns a frozen shallow copy, so later
 * mutation of the caller's object changes nothing.
 *
 * @example
 * readOptions("vmap", { inAxes: 0 }, ["inAxes", "outAxes"]); // { inAxes: 0 }
 * readOptions("vmap", { inaxes: 0 }, ["inAxes", "outAxes"]);
 * // NablaError: vmap: unknown option "inaxes" (the options are "inAxes", "outAxes")
 */
export function readOptions<O extends object>(fn: string, options: O | undefined, keys?: readonly string[]): O {
  if (options === undefined) return Object.freeze({}) as O;
  const proto: unknown = typeof options === "object" && options !== null ? Object.getPrototypeOf(options) : undefined;
  if (proto !== Object.prototype && proto !== null)
    throw new NablaError(`${fn}: options must be a plain object, got ${fmtValue(options)}`);
  if (keys !== undefined)
    for (const k of Object.keys(options))
      if (!keys.includes(k))
        throw new NablaError(
          `${fn}: unknown option ${JSON.stringify(k)} ` +
            (keys.length === 0
              ? "(it takes no options)"
              : `(the options are ${keys.map((q) => JSON.stringify(q)).join(", ")})`),
        );
  return Object.freeze({ ...options });
}
