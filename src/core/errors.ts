/**
 * The error hierarchy. Every error nabla throws is a {@link NablaError}; the
 * subclasses say what kind of misuse it was, and messages name the operation
 * and the offending shapes or dtypes.
 */

/**
 * Base class of every error thrown by nabla.
 * @example
 * try { nb.add([1, 2], [1, 2, 3]); } catch (e) { e instanceof nb.NablaError; } // true
 */
export class NablaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Incompatible shapes, ragged literals, bad axes.
 * @example
 * nb.add(nb.zeros([2]), nb.zeros([3])); // throws ShapeError: add: shapes [2] and [3] ...
 */
export class ShapeError extends NablaError {}

/**
 * Bad dtypes, e.g. differentiating with respect to an int32 or bool input.
 * @example
 * nb.grad((x) => x.sum())(nb.arange(3)); // throws DTypeError
 */
export class DTypeError extends NablaError {}

/**
 * Misuse of traced values: an escaped tracer, or concretization where no
 * concrete value exists (under `makeGraph` / `jit`).
 * @example
 * let leaked; nb.grad((x) => { leaked = x; return x; })(1); leaked.mul(2); // throws TracerError
 */
export class TracerError extends NablaError {}

/**
 * Misuse of a differentiation transform, e.g. `grad` of a non-scalar output.
 * @example
 * nb.grad((x) => x)(nb.array([1, 2])); // throws GradError
 */
export class GradError extends NablaError {}

/**
 * Misuse of devices: reading a "webgpu" array synchronously (`item()`, `toArray()`,
 * `toTypedArray()`, `valueOf()`: use `await x.data()`), mixing arrays committed to different
 * devices in one operation, or naming a device that is not initialised.
 * @example
 * // after await nb.init("webgpu"):
 * nb.devicePut(nb.ones([2], { dtype: "float32" }), "webgpu").item(); // throws DeviceError
 */
export class DeviceError extends NablaError {}

/** Formats a shape the way messages print it: `[2,3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/**
 * A short, safe description of any value for messages: never throws (Symbols,
 * BigInts, cyclic objects) and never prints a large structure.
 */
export function fmtValue(v: unknown): string {
  switch (typeof v) {
    case "string":
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `the BigInt ${v}n`;
    case "symbol":
      return `the symbol ${v.toString()}`;
    case "function":
      return `a function${v.name ? ` (${v.name})` : ""}`;
    case "undefined":
    case "boolean":
      return String(v);
    default: {
      if (v === null) return "null";
      if (Array.isArray(v)) return `an array of length ${v.length}`;
      if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
      const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor;
      const name = typeof ctor?.name === "string" ? ctor.name : "";
      const shape = (v as { shape?: unknown }).shape;
      if (Array.isArray(shape) && typeof (v as { dtype?: unknown }).dtype === "string")
        return `an array of shape ${fmtShape(shape as number[])}`;
      return name === "" || name === "Object" ? "an object" : `an instance of ${name}`;
    }
  }
}

/**
 * @internal Element `i` of an array whose length the caller has already
 * established (an operand list of known arity, a loop within bounds, an axis
 * of a shape already checked). A missing element is a bug in nabla, not bad
 * input, so it throws a NablaError saying so, prefixed by `fn` (the public
 * function or primitive) when given, instead of letting `undefined` flow on.
 */
export function at<E>(xs: ArrayLike<E>, i: number, fn?: string): E;
/** @internal Entry `key` of a record the caller knows has it (the same check as for arrays). */
export function at<E>(xs: Readonly<Record<string, E>>, key: string, fn?: string): E;
export function at<E>(xs: Readonly<Record<number, E>>, key: number, fn?: string): E;
export function at<E>(xs: ArrayLike<E> | Readonly<Record<string | number, E>>, i: number | string, fn?: string): E {
  const v = (xs as Readonly<Record<string | number, E | undefined>>)[i];
  if (v === undefined) {
    const what =
      typeof i === "number" && "length" in xs
        ? `index ${i} out of range of length ${String(xs.length)}`
        : `no entry ${i}`;
    throw new NablaError(`${fn === undefined ? "" : `${fn}: `}internal: ${what}`);
  }
  return v;
}
