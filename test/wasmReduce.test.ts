/**
 * Compiled partial sums (issue 8): reduce_sum over a middle block of axes in WebAssembly gives the
 * JS walk's bits — each output the float64 fold of its elements in ascending order from +0, rounded
 * once to float32 — on special values (NaN, ±Infinity, ±0, subnormals, overflow to Infinity).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { withJs } from "./support/assert.js";
import { fcSettings } from "./support/rng.js";
import { wasmElementwiseAvailable, wasmSumMiddle } from "../src/kernels/wasm/elementwise.js";

const SPECIALS = [0.5, -0, Infinity, NaN, -2.25, 1e-310, 3, -Infinity, 1.7e308, -1.7e308, 1e-45, 3.4e38];

/** The fold by hand: out[i0, i2] = (((+0 + x[i0, 0, i2]) + x[i0, 1, i2]) + ...), rounded to the dtype. */
function reference(d: ArrayLike<number>, n0: number, n1: number, n2: number, f32: boolean): number[] {
  const out: number[] = [];
  for (let i0 = 0; i0 < n0; i0++)
    for (let i2 = 0; i2 < n2; i2++) {
      let a = 0;
      for (let i1 = 0; i1 < n1; i1++) a += d[(i0 * n1 + i1) * n2 + i2]!;
      out.push(f32 ? Math.fround(a) : a);
    }
  return out;
}

const sameBits = (got: ArrayLike<number>, want: ArrayLike<number>, what: string): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) expect.fail(`${what}, element ${i}: ${want[i]} became ${got[i]}`);
};

const { SEED, RUNS } = fcSettings({ seed: 0x5e11, runs: 150 });

describe.skipIf(!wasmElementwiseAvailable())("compiled partial sums", () => {
  it("give the float64 fold in ascending order, rounded once, on special and random values", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 2, max: 37 }),
        fc.boolean(),
        fc.nat(),
        (n0, n1, n2, f32, seed) => {
          const n = n0 * n1 * n2;
          const vals = Array.from({ length: n }, (_, i) =>
            (i + seed) % 5 === 0
              ? SPECIALS[(i + seed) % SPECIALS.length]!
              : Math.sin(i + seed) * 10 ** (((i + seed) % 9) - 4),
          );
          const d = f32 ? Float32Array.from(vals) : Float64Array.from(vals);
          const out = f32 ? new Float32Array(n0 * n2) : new Float64Array(n0 * n2);
          expect(wasmSumMiddle(d, out, n0, n1, n2)).toBe(true);
          sameBits(out, reference(d, n0, n1, n2, f32), `${f32 ? "f32" : "f64"} [${n0}, ${n1}, ${n2}]`);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("reduce_sum over middle or leading axes gives the JS walk's bits, eager and in jit", () => {
    const cases: [number[], number[]][] = [
      [[256, 2, 32], [1]], // W5's
      [[128, 512], [0]], // W2's bias gradient
      [[3, 1000, 3], [1]],
      [[64, 2, 1, 33], [1]],
      [
        [4, 5, 6, 50],
        [1, 2],
      ],
      [
        [2, 3, 4, 100],
        [0, 1],
      ],
    ];
    for (const dtype of ["float64", "float32"] as const)
      for (const [shape, axes] of cases) {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = nb.astype(
          nb.array(
            Array.from({ length: n }, (_, i) =>
              i % 11 === 0 ? SPECIALS[i % SPECIALS.length]! : Math.sin(i) * 10 ** ((i % 7) - 3),
            ),
            { shape },
          ),
          dtype,
        );
        const f = (x: nb.NDArray) => nb.sum(nb.mul(x, 2), axes);
        const want = withJs(() => f(x).toTypedArray());
        sameBits(f(x).toTypedArray(), want, `${dtype} [${shape}] over ${axes}, eager`);
        sameBits((nb.jit(f)(x) as nb.NDArray).toTypedArray(), want, `${dtype} [${shape}] over ${axes}, jit`);
      }
  });

  it("declines what it does not compute: integer arrays and mismatched lengths", () => {
    expect(wasmSumMiddle(new Int32Array(8), new Int32Array(4), 1, 2, 4)).toBe(false);
    expect(wasmSumMiddle(new Float64Array(8), new Float64Array(3), 1, 2, 4)).toBe(false);
  });
});
