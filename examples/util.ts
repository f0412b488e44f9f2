/** Helpers shared by the examples. */

/** A sink for progress lines (console.log by default; tests collect them). */
export type Log = (line: string) => void;

/** A number in a fixed-width scientific format for progress lines. */
export function fmt(v: number): string {
  return v.toExponential(3).padStart(10);
}
