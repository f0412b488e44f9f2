/**
 * Compiled loops reading operands broadcast along middle axes in place (issue 8, EwProgram.blocks):
 * element i of such an operand is its element ⌊i / (block·times)⌋·block + i mod block, and the loop
 * gives the bits of the same loop over the tiled copy.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { compile } from "../src/transforms/plan.js";
import type { ConcreteArray } from "../src/core/ndarray.js";
import { compileElementwise, wasmElementwiseAvailable } from "../src/kernels/wasm/elementwise.js";
import { withJs } from "./support/assert.js";
import { fcSettings } from "./support/rng.js";

const { SEED, RUNS } = fcSettings({ seed: 0xb10c, runs: 60 });
const SPECIALS = [0.5, -0, Infinity, NaN, -2.25, 1e-310, 3, -Infinity, 1e-45];

const sameBits = (got: ArrayLike<number>, want: ArrayLike<number>, what: string): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) expect.fail(`${what}, element ${i}: ${want[i]} became ${got[i]}`);
};

describe.skipIf(!wasmElementwiseAvailable())("compiled loops over block operands read in place", () => {
  it("give the bits of the loop over the tiled copy", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 6 }), // block, in units of two vectors
        fc.integer({ min: 1, max: 4 }), // times
        fc.integer({ min: 1, max: 20 }), // rows
        fc.nat(),
        (f32, units, times, rows, seed) => {
          const lanes = f32 ? 4 : 2;
          const block = units * 2 * lanes;
          const n = rows * times * block;
          const T = f32 ? Float32Array : Float64Array;
          const v = (k: number) =>
            (k + seed) % 7 === 0 ? SPECIALS[(k + seed) % SPECIALS.length]! : Math.sin(k * 0.37 + seed) * 4;
          const x = new T(n);
          for (let i = 0; i < n; i++) x[i] = v(i);
          const y = new T(n / times);
          for (let i = 0; i < n / times; i++) y[i] = v(i + 5);
          const tiled = new T(n);
          for (let i = 0; i < n; i++) tiled[i] = y[Math.floor(i / (block * times)) * block + (i % block)]!;
          const prog = (blocks?: ({ block: number; times: number } | null)[]) =>
            compileElementwise({
              dtype: f32 ? "float32" : "float64",
              scalarIn: [false, false],
              ops: [
                { op: "mul", args: [0, 1] },
                { op: "tanh", args: [2] },
                { op: "sub", args: [3, 1] },
              ],
              outs: [4, 2],
              sum: null,
              ...(blocks === undefined ? {} : { blocks }),
            });
          const plain = prog();
          const blocked = prog([null, { block, times }]);
          expect(plain).not.toBeNull();
          expect(blocked).not.toBeNull();
          if (plain === null || blocked === null) return;
          const [w0, w1, g0, g1] = [new T(n), new T(n), new T(n), new T(n)];
          expect(plain([x, tiled], [w0, w1], n)).not.toBeNull();
          expect(blocked([x, y], [g0, g1], n)).not.toBeNull();
          sameBits(g0, w0, `block ${block} × ${times}, ${rows} rows, out 0`);
          sameBits(g1, w1, `block ${block} × ${times}, ${rows} rows, out 1`);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("in a jit plan: W5's [256, 1, 32] operands read as [256, 2, 32] in place, with eager's bits", () => {
    // blocks of 32 (whole vector pairs): read in place; blocks of 6 (f64: three vectors) or 3: copied
    const cases: [number[], number[], boolean][] = [
      [[256, 2, 32], [256, 1, 32], true],
      [[64, 3, 2, 16], [64, 1, 1, 16], true],
      [[512, 2, 6], [512, 1, 6], false],
      [[700, 4, 3], [700, 1, 3], false],
    ];
    for (const dtype of ["float64", "float32"] as const)
      for (const [full, small, inPlace] of cases) {
        const size = (sh: number[]) => sh.reduce((a, b) => a * b, 1);
        const arr = (sh: number[], k: number) =>
          nb.astype(nb.reshape(nb.sin(nb.add(nb.mul(nb.arange(size(sh)), 0.37), k)), sh), dtype);
        const [x, y] = [arr(full, 0), arr(small, 1)];
        const f = (x: nb.NDArray, y: nb.NDArray) => nb.sub(nb.tanh(nb.mul(x, y)), nb.mul(nb.exp(y), x));
        const plan = compile(nb.makeGraph(f)(x, y));
        // (exp y is a loop of its own, over y)
        expect(plan.wasmGroups).toBeGreaterThanOrEqual(2);
        // the JS loop kept for a compiled one that declines reads the block operand in place too
        if (inPlace) expect(plan.blockwiseLoops).toBeGreaterThanOrEqual(1);
        else expect(plan.blockwiseLoops).toBe(0);
        const got = plan.run([x, y] as ConcreteArray[])[0]!.toTypedArray();
        sameBits(got, f(x, y).toTypedArray(), `${dtype} [${full}] · [${small}]`);
        // exact arithmetic: the JS loops (no compiled ones) give the same bits
        const g = (x: nb.NDArray, y: nb.NDArray) => nb.sub(nb.mul(x, y), nb.mul(nb.add(y, 1), x));
        const viaPlan = compile(nb.makeGraph(g)(x, y))
          .run([x, y] as ConcreteArray[])[0]!
          .toTypedArray();
        const viaJs = withJs(() =>
          compile(nb.makeGraph(g)(x, y))
            .run([x, y] as ConcreteArray[])[0]!
            .toTypedArray(),
        );
        sameBits(viaPlan, viaJs, `${dtype} [${full}] · [${small}], exact, against the JS loops`);
      }
  });

  it("are declined with a sum or a block that is not whole pairs of vectors", () => {
    const base = { dtype: "float64" as const, scalarIn: [false, false], ops: [{ op: "add", args: [0, 1] }], outs: [2] };
    expect(compileElementwise({ ...base, sum: 2, blocks: [null, { block: 8, times: 2 }] })).toBeNull();
    expect(compileElementwise({ ...base, sum: null, blocks: [null, { block: 6, times: 2 }] })).toBeNull();
    expect(compileElementwise({ ...base, sum: null, blocks: [null, { block: 8, times: 2 }] })).not.toBeNull();
  });
});
