/**
 * Fixed-length lists as tuple types: the primitive rows (src/prims/rule.ts)
 * and the WebGPU kernels (src/kernels/webgpu/kernel.ts) take their operands
 * as tuples, so that they destructure them by position.
 */

/** `N` values of type `X` as a tuple (`X[]` for a variadic list, `N = number`, or past four). */
export type Tuple<X, N extends number> = number extends N
  ? X[]
  : N extends 0
    ? []
    : N extends 1
      ? [X]
      : N extends 2
        ? [X, X]
        : N extends 3
          ? [X, X, X]
          : N extends 4
            ? [X, X, X, X]
            : X[];

/** Whether `xs` has exactly `n` elements: narrows it to `Tuple<X, N>`. */
export function hasLength<X, N extends number>(xs: readonly X[], n: N): xs is Tuple<X, N> {
  return xs.length === n;
}
