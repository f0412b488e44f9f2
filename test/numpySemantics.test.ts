/**
 * Forward semantics found to differ from NumPy / jax.numpy by the audit of 2026-12-06. The expected
 * values are NumPy 1.24's outputs for the same calls (written out here), or C99's pow special cases.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { vals } from "./support/assert.js";

describe("pow's special cases (C99, NumPy, XLA)", () => {
  it("1^y = 1 for every y, NaN and ±Infinity included; (-1)^±Infinity = 1: eager, jit, float32, large arrays", () => {
    const xs = [1, 1, 1, -1, -1];
    const ys = [Infinity, -Infinity, NaN, Infinity, -Infinity];
    for (const dtype of ["float64", "float32"] as const)
      for (const reps of [1, 1000]) {
        const x = nb.array(
          Array.from({ length: 5 * reps }, (_, i) => xs[i % 5]!),
          { dtype },
        );
        const y = nb.array(
          Array.from({ length: 5 * reps }, (_, i) => ys[i % 5]!),
          { dtype },
        );
        expect(vals(nb.pow(x, y)).every((v) => v === 1)).toBe(true);
        expect(
          vals(nb.jit((a: nb.NDArray, b: nb.NDArray) => nb.pow(nb.mul(a, 1), b))(x, y)).every((v) => v === 1),
        ).toBe(true);
      }
    // and the derivative in y, log(1)·1 = 0, is finite there
    expect(
      nb
        .grad((b: nb.NDArray) => nb.pow(1, b))(nb.array(NaN))
        .item(),
    ).toBe(0);
    // the rest is Math.pow: NaN^0 = 1, (-8)^(1/3) = NaN
    expect(vals(nb.pow([NaN, -8], [0, 1 / 3]))).toEqual([1, NaN]);
  });
});

describe("NumPy's optional arguments", () => {
  const m = nb.array([
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
    [9, 10, 11],
  ]);
  it("diag(x, k) and trace(x, offset) on a 4x3 matrix for every k", () => {
    // np.diag(np.arange(12.).reshape(4, 3), k), np.trace(..., k)
    const want: [number, number[], number][] = [
      [-4, [], 0],
      [-3, [9], 9],
      [-1, [3, 7, 11], 21],
      [0, [0, 4, 8], 12],
      [1, [1, 5], 6],
      [2, [2], 2],
      [3, [], 0],
      [5, [], 0],
    ];
    for (const [k, d, t] of want) {
      expect(vals(nb.diag(m, k))).toEqual(d);
      expect(nb.trace(m, k).item()).toBe(t);
    }
    expect(nb.diag([1, 2], 1).toArray()).toEqual([
      [0, 1, 0],
      [0, 0, 2],
      [0, 0, 0],
    ]);
    expect(nb.diag([1, 2], -1).toArray()).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [0, 2, 0],
    ]);
    // the derivative of trace(a, 1) is the indicator of the first superdiagonal
    expect(
      nb
        .grad((a: nb.NDArray) => nb.trace(a, 1))(m)
        .toArray(),
    ).toEqual([
      [0, 1, 0],
      [0, 0, 1],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(() => nb.diag(m, 1.5)).toThrow(/^diag: k must be an integer/);
    expect(() => nb.trace(m, NaN)).toThrow(/^trace: offset must be an integer/);
  });

  it("round(x, decimals), half to even, negative decimals, int32", () => {
    // np.round([1.234, 2.5, -1.255, 1234.5], 2), np.round([1234.5, 1250, 1350], -2)
    expect(vals(nb.round([1.234, 2.5, -1.255, 1234.5], 2))).toEqual([1.23, 2.5, -1.25, 1234.5]);
    expect(vals(nb.round([1234.5, 1250, 1350], -2))).toEqual([1200, 1200, 1400]);
    const i = nb.round(nb.array([1234, 1250, 1350], { dtype: "int32" }), -2);
    expect(i.dtype).toBe("int32");
    expect(vals(i)).toEqual([1200, 1200, 1400]);
    expect(vals(nb.round(nb.array([1, 2], { dtype: "int32" }), 3))).toEqual([1, 2]);
    expect(nb.round(2.5).item()).toBe(2);
    expect(nb.array([1.234]).round(1).item()).toBe(1.2);
  });

  it("linspace(start, stop, num, endpoint = false)", () => {
    // np.linspace(0, 1, 4, endpoint=False), np.linspace(0, 1, 1, endpoint=False)
    expect(vals(nb.linspace(0, 1, 4, false))).toEqual([0, 0.25, 0.5, 0.75]);
    expect(vals(nb.linspace(0, 1, 1, false))).toEqual([0]);
    expect(vals(nb.linspace(0, 1, 0, false))).toEqual([]);
    expect(vals(nb.linspace(2, 3, 5))).toEqual([2, 2.25, 2.5, 2.75, 3]);
    expect(() => nb.linspace(0, 1, 4, "no" as unknown as boolean)).toThrow(/^linspace: endpoint must be true or false/);
  });
});

describe("other NumPy agreements", () => {
  it("relu(NaN) is NaN (jax.nn.relu = maximum(x, 0)); its derivative at 0 stays 0", () => {
    expect(vals(nb.relu([NaN, -1, 0, 2]))).toEqual([NaN, 0, 0, 2]);
    expect(
      nb
        .grad((x: nb.NDArray) => nb.relu(x))(nb.array(0))
        .item(),
    ).toBe(0);
    expect(
      nb
        .grad((x: nb.NDArray) => nb.relu(x))(nb.array(3))
        .item(),
    ).toBe(1);
  });

  it("dot of N-D arrays over an empty contracted axis gives zeros (np.dot)", () => {
    const a = nb.dot(nb.zeros([2, 3, 0]), nb.zeros([0, 4]));
    expect(a.shape).toEqual([2, 3, 4]);
    expect(vals(a).every((v) => v === 0)).toBe(true);
    expect(nb.dot(nb.zeros([2, 3, 0]), nb.zeros([0])).shape).toEqual([2, 3]);
  });

  it("meshgrid keeps each vector's dtype (np.meshgrid, jnp.meshgrid)", () => {
    const [X, Y] = nb.meshgrid(nb.array([1, 2], { dtype: "int32" }), [0.5, 1.5]);
    expect([X!.dtype, Y!.dtype]).toEqual(["int32", "float64"]);
    expect(X!.toArray()).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });
});

describe("sort and argsort with NaN (JAX's order: descending is the ascending order reversed, ties kept)", () => {
  const x = nb.array([1, NaN, 3, NaN, 2, 3]);
  it("NaNs last ascending and first descending, in index order; ties in index order both ways", () => {
    for (const run of [(f: () => nb.NDArray) => f(), (f: () => nb.NDArray) => nb.jit(f)()]) {
      expect(vals(run(() => nb.argsort(x)))).toEqual([0, 4, 2, 5, 1, 3]);
      expect(vals(run(() => nb.argsort(x, -1, true)))).toEqual([1, 3, 2, 5, 4, 0]);
      expect(vals(run(() => nb.sort(x, -1, true)))).toEqual([NaN, NaN, 3, 3, 2, 1]);
    }
    expect(vals(nb.argsort(nb.array([NaN, 1, NaN], { dtype: "float32" }), -1, true))).toEqual([0, 2, 1]);
  });
});
