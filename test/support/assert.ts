/** Assertion helpers shared by the tests. */
import { expect } from "vitest";
import * as nb from "../../src/index.js";

/** The elements of an array as JS numbers (row-major). */
export function vals(x: nb.NDArray): number[] {
  return Array.from(x.toTypedArray(), Number);
}

/** Elementwise |x - expected| <= tol · (1 + |expected|), with an optional shape check. */
export function expectClose(
  x: nb.NDArray,
  expected: number[] | number,
  shape: number[] | undefined,
  tol: number,
): void {
  expect(x).toBeInstanceOf(nb.NDArray);
  const e = typeof expected === "number" ? [expected] : expected;
  if (shape !== undefined) expect(x.shape).toEqual(shape);
  const g = vals(x);
  expect(g.length).toBe(e.length);
  g.forEach((v, i) => {
    if (!(Math.abs(v - e[i]!) <= tol * (1 + Math.abs(e[i]!))))
      expect.fail(`element ${i}: got ${v}, expected ${e[i]} (tol ${tol})`);
  });
}

/** A float64 array from flat data and an optional shape. */
export const arr = (data: number[], shape?: number[]): nb.NDArray =>
  nb.array(new Float64Array(data), shape === undefined ? {} : { shape });
