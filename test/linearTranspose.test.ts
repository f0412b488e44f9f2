/**
 * `linearTranspose` (API.md "New transforms and tools", "Conventions"): the
 * transpose of a linear function, one cotangent per primal.
 *
 * Checked by the adjoint identity ⟨c, f(t)⟩ = Σᵢ ⟨fᵀ(c)ᵢ, tᵢ⟩ for random t and
 * c, with f(t) evaluated eagerly (independent of the transposition), and by
 * the closed form Wᵀc for a matrix product. Tolerance (float64): 1e-12
 * relative to the sum of |terms| — each side is a sum of at most a few
 * hundred products of O(1) values, so rounding is ≲ 1e-14 of that scale.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { arr, expectClose, vals } from "./support/assert.js";

type A = nb.NDArray;

/** Deterministic pseudo-random values in [-1, 1) (LCG), independent of the library. */
function rand(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const randArr = (shape: number[], seed: number): A =>
  arr(
    rand(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
const dot = (a: A, b: A): number => vals(a).reduce((s, v, i) => s + v * vals(b)[i]!, 0);
const scale = (a: A, b: A): number => vals(a).reduce((s, v, i) => s + Math.abs(v * vals(b)[i]!), 0);

const W = randArr([4, 3], 1);
const CASES: [string, (...xs: A[]) => A, number[][], number[]][] = [
  ["matmul", (x) => nb.matmul(W, x), [[3]], [4]],
  ["reshape∘transpose∘slice", (x) => nb.reshape(nb.transpose(nb.slice(x, [0, 1], [3, 4])), [9]), [[3, 4]], [9]],
  ["broadcast add of two inputs", (x, y) => nb.sub(nb.mul(x, 3), nb.expandDims(y, 0)), [[2, 3], [3]], [2, 3]],
  ["sum, cumsum, concatenate", (x) => nb.concatenate([nb.cumsum(x, 0), nb.sum(x, 0, true)]), [[3, 2]], [4, 2]],
  ["division by a constant, take", (x) => nb.take(nb.div(x, 4), [2, 0, 2]), [[3]], [3]],
];

describe("linearTranspose", () => {
  for (const [name, f, inShapes, outShape] of CASES) {
    it(`adjoint identity: ${name}`, () => {
      const ts = inShapes.map((s, i) => randArr(s, 10 + i));
      const c = randArr(outShape, 99);
      const cts = nb.linearTranspose(f, ...inShapes.map((s) => nb.zeros(s)))(c);
      expect(cts.length).toBe(inShapes.length);
      const lhs = dot(c, f(...ts));
      const rhs = cts.reduce((s, ct, i) => s + dot(ct, ts[i]!), 0);
      cts.forEach((ct, i) => expect(ct.shape).toEqual(inShapes[i]));
      expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * (1 + scale(c, f(...ts))));
    });
  }
  it("matrix product: Wᵀ c (closed form), under jit and vmap over the cotangent", () => {
    const fT = nb.linearTranspose((x: A) => nb.matmul(W, x), nb.zeros([3]));
    const c = [1, -2, 0.5, 3];
    const want = [0, 1, 2].map((j) => c.reduce((s, ci, i) => s + vals(W)[i * 3 + j]! * ci, 0));
    expectClose(fT(arr(c))[0], want, [3], 1e-12);
    expectClose(nb.jit((ct: A) => fT(ct)[0])(arr(c)), want, [3], 1e-12);
    const batch = nb.vmap((ct: A) => fT(ct)[0])(nb.stack([arr(c), nb.mul(arr(c), 2)]));
    expectClose(batch, [...want, ...want.map((v) => 2 * v)], [2, 3], 1e-12);
  });
  it("is differentiable in values the function closes over: d/ds Σ (x ↦ s·x)ᵀ 1 = n", () => {
    const g = (s: A): A => nb.sum(nb.linearTranspose((x: A) => nb.mul(x, s), nb.zeros([3]))(nb.ones([3]))[0]);
    expectClose(nb.grad(g)(nb.array(2)), 3, [], 1e-12);
  });
  it("a non-linear function throws a NablaError naming linearTranspose and the primitive", () => {
    const z = nb.zeros([2]);
    expect(() => nb.linearTranspose(nb.sin, z)).toThrow(/^linearTranspose: the function is not linear.*sin/);
    expect(() => nb.linearTranspose((x: A) => nb.mul(x, x), z)).toThrow(/^linearTranspose: .*mul/);
    expect(() => nb.linearTranspose((x: A) => nb.add(x, 1), z)).toThrow(/^linearTranspose: .*affine/);
    expect(() => nb.linearTranspose(nb.exp, z)).toThrow(nb.NablaError);
    // a cotangent of the wrong shape
    const fT = nb.linearTranspose((x: A) => nb.mul(x, 2), z);
    expect(() => fT(nb.zeros([3]))).toThrow(/^linearTranspose: cotangent leaf 0 has shape \[3\], expected \[2\]/);
  });
});
