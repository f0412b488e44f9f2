/** Helpers shared by the examples. */

/** A sink for progress lines (console.log by default; tests collect them). */
export type Log = (line: string) => void;

/** A number in a fixed-width scientific format for progress lines. */
export function fmt(v: number): string {
  return v.toExponential(3).padStart(10);
}

/**
 * The length of axis `axis` of a shape (`tsconfig` has `noUncheckedIndexedAccess`, so `shape[0]`
 * is `number | undefined`; this says what is wrong instead of asserting).
 */
export function dim(x: { readonly shape: readonly number[] }, axis: number): number {
  const n = x.shape[axis];
  if (n === undefined) throw new RangeError(`axis ${axis} out of range for shape [${x.shape.join(", ")}]`);
  return n;
}

/** Element `i` of a list, or a RangeError naming `what` when there is none. */
export function elem<T>(xs: readonly T[], i: number, what = "list"): T {
  const v = xs[i];
  if (v === undefined) throw new RangeError(`${what}: no element ${i} of ${xs.length}`);
  return v;
}
