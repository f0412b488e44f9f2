/** Comparison of an imported graph's results with the original function's. */
import { expect } from "vitest";
import * as nb from "../../src/index.js";
import { vals } from "./assert.js";

/**
 * float64: 1e-12 relative. The imported graph runs the same primitives in
 * the same order as the original; the only differences come from jit's
 * fused loops and staging-time identities, which the design keeps exact, so
 * anything above rounding is a real discrepancy.
 */
const TOL = 1e-12;

/** Same shape and values: |a - b| <= TOL (1 + |b|), NaN matching NaN. */
export function expectSame(a: unknown, b: unknown): void {
  const [la, da] = nb.tree.flatten(a);
  const [lb, db] = nb.tree.flatten(b);
  expect(String(da)).toBe(String(db));
  la.forEach((x, i) => {
    const y = lb[i] as nb.NDArray;
    expect(x).toBeInstanceOf(nb.NDArray);
    expect((x as nb.NDArray).shape).toEqual(y.shape);
    expect((x as nb.NDArray).dtype).toBe(y.dtype);
    const u = vals(x as nb.NDArray);
    const v = vals(y);
    u.forEach((p, k) => {
      const q = v[k]!;
      if (!(Number.isNaN(p) && Number.isNaN(q)) && !(Math.abs(p - q) <= TOL * (1 + Math.abs(q))))
        expect.fail(`leaf ${i} element ${k}: imported ${p}, original ${q}`);
    });
  });
}
