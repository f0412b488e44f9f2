/** Assertion helpers shared by the tests. */
import { expect } from "vitest";
import * as nb from "../../src/index.js";
import { setWasmElementwise } from "../../src/kernels/wasm/elementwise.js";

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

/** Expects `b` to equal `a` bit for bit: same dtype, shape and every element by `Object.is`. */
export function expectIdentical(a: nb.NDArray, b: nb.NDArray, what = "array"): void {
  expect(b.dtype, what).toBe(a.dtype);
  expect(b.shape, what).toEqual(a.shape);
  const x = vals(a);
  const y = vals(b);
  const bad = x.findIndex((v, i) => !Object.is(v, y[i]));
  expect(bad, `${what}: element ${bad}: ${x[bad]} vs ${y[bad]}`).toBe(-1);
}

/** Runs `f` with jit's compiled (WebAssembly) loops off, i.e. the JS loops, restoring the setting after. */
export function withJs<T>(f: () => T): T {
  const was = setWasmElementwise(false);
  try {
    return f();
  } finally {
    setWasmElementwise(was);
  }
}

/** The NablaError `run` throws, checked to begin with `fn: ` (a failure if it throws nothing or anything else). */
export function nablaError(run: () => unknown, fn: string): nb.NablaError {
  let thrown: unknown;
  try {
    run();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `${fn}: expected a NablaError, none was thrown`).toBeInstanceOf(nb.NablaError);
  const e = thrown as nb.NablaError;
  expect(e.message.startsWith(`${fn}: `), e.message).toBe(true);
  return e;
}
