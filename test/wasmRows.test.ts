/**
 * Compiled loops run row by row (issue 8, EwProgram.rows): operands padded along the rows' axis read
 * in place (+0 outside their range), outputs stored in order or transposed. Each gives the bits of
 * the one-run loop over the materialised padded copies, its transposed outputs transposed after.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { compile } from "../src/transforms/plan.js";
import type { ConcreteArray } from "../src/core/ndarray.js";
import { compileElementwise, setWasmMinSize, wasmElementwiseAvailable } from "../src/kernels/wasm/elementwise.js";
import { withJs } from "./support/assert.js";
import { fcSettings } from "./support/rng.js";

const { SEED, RUNS } = fcSettings({ seed: 0x5045, runs: 80 });
const SPECIALS = [0.5, -0, Infinity, NaN, -2.25, 1e-310, 3, -Infinity, 1e-45, 0];

const sameBits = (got: ArrayLike<number>, want: ArrayLike<number>, what: string): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) expect.fail(`${what}, element ${i}: ${want[i]} became ${got[i]}`);
};

type Pad = { from: number; to: number } | null;

describe.skipIf(!wasmElementwiseAvailable())("compiled loops by rows", () => {
  it("give the bits of the one-run loop over padded copies, transposes included", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 12 }), // period, in vectors
        fc.integer({ min: 1, max: 9 }), // rows
        // per input: 0 full, 1 a single element, 2 padded
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 3, maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
        fc.nat(),
        (f32, vecs, count, kinds, edges, transposed, seed) => {
          const lanes = f32 ? 4 : 2;
          const period = vecs * lanes;
          const n = period * count;
          const T = f32 ? Float32Array : Float64Array;
          const v = (k: number) =>
            (k + seed) % 5 === 0 ? SPECIALS[(k + seed) % SPECIALS.length]! : Math.sin(k * 0.61 + seed) * 3;
          // a pad range [from, to) of the period, 1 ≤ to − from ≤ period
          const pads: Pad[] = kinds.map((kind, k) => {
            if (kind !== 2) return null;
            const [a, b] = edges[k]!;
            const from = a % period;
            return { from, to: from + 1 + (b % (period - from)) };
          });
          const given = kinds.map((kind, k) => {
            const len = kind === 1 ? 1 : kind === 2 ? count * (pads[k]!.to - pads[k]!.from) : n;
            const x = new T(len);
            for (let i = 0; i < len; i++) x[i] = v(i + 101 * k);
            return x;
          });
          // the padded copies (full length; a single element stays one)
          const copies = given.map((x, k) => {
            const d = pads[k];
            if (d === null || d === undefined) return x;
            const c = new T(n);
            let q = 0;
            for (let r = 0; r < count; r++) for (let j = d.from; j < d.to; j++) c[r * period + j] = x[q++]!;
            return c;
          });
          // out 0 = tanh(a0 · a_last) − a_last, out 1 = a0 · a_last (value indices after the inputs)
          const m = kinds.length;
          const ops = [
            { op: "mul", args: [0, m - 1] },
            { op: "tanh", args: [m] },
            { op: "sub", args: [m + 1, m - 1] },
          ];
          const scalarIn = kinds.map((k) => k === 1);
          const base = {
            dtype: f32 ? ("float32" as const) : ("float64" as const),
            scalarIn,
            ops,
            outs: [m + 2, m],
            sum: null,
          };
          const plain = compileElementwise(base);
          const rows = compileElementwise({ ...base, rows: { period, count, pads, transposed } });
          expect(plain).not.toBeNull();
          expect(rows).not.toBeNull();
          if (plain === null || rows === null) return;
          const want = [new T(n), new T(n)];
          expect(plain(copies, want, n)).not.toBeNull();
          const got = [new T(n).fill(7), new T(n).fill(7)];
          expect(rows(given, got, n)).not.toBeNull();
          want.forEach((w, j) => {
            let exp = w;
            if (transposed[j] === true) {
              exp = new T(n);
              for (let r = 0; r < count; r++) for (let c = 0; c < period; c++) exp[c * count + r] = w[r * period + c]!;
            }
            sameBits(got[j]!, exp, `${f32 ? "f32" : "f64"} ${count}×${period} pads ${JSON.stringify(pads)} out ${j}`);
          });
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("are declined with a sum, block operands, or a period that is not whole vectors", () => {
    const base = { dtype: "float32" as const, scalarIn: [false, false], ops: [{ op: "add", args: [0, 1] }], outs: [2] };
    const rows = { period: 8, count: 2, pads: [{ from: 1, to: 8 }, null], transposed: [true] };
    expect(compileElementwise({ ...base, sum: null, rows })).not.toBeNull();
    expect(compileElementwise({ ...base, sum: 2, rows })).toBeNull();
    expect(compileElementwise({ ...base, sum: null, rows: { ...rows, period: 6 } })).toBeNull();
    expect(compileElementwise({ ...base, sum: null, rows: { ...rows, pads: [{ from: 3, to: 3 }, null] } })).toBeNull();
    expect(compileElementwise({ ...base, sum: null, rows, blocks: [null, { block: 8, times: 2 }] })).toBeNull();
  });

  it("in a jit plan: padded sums (W4's form and others), transposed or not, with eager's bits and the JS loop's", () => {
    const was = setWasmMinSize(0);
    try {
      // [rows, period-to-be]: operands [rows, 1, k] padded along the last axis by (lo, hi)
      const cases: [number, number[][], boolean][] = [
        [
          200,
          [
            [1, 0],
            [0, 1],
          ],
          true,
        ], // W4
        [
          12,
          [
            [3, 1],
            [0, 4],
          ],
          true,
        ],
        [
          9,
          [
            [2, 2],
            [4, 0],
            [0, 4],
          ],
          false,
        ],
        [7, [[0, 6]], true],
      ];
      for (const dtype of ["float64", "float32"] as const)
        for (const [rows, pads, transposed] of cases) {
          const k = (lo: number, hi: number) => 200 - lo - hi;
          const width = (p: number[]) => k(p[0]!, p[1]!);
          // every operand padded to 200 along the last axis
          const xs = pads.map((p, j) =>
            nb.astype(
              nb.reshape(nb.sin(nb.add(nb.mul(nb.arange(rows * width(p)), 0.37), j)), [rows, 1, width(p)]),
              dtype,
            ),
          );
          const f = (...ys: nb.NDArray[]): nb.NDArray => {
            let acc: nb.NDArray | null = null;
            ys.forEach((y, j) => {
              const p = nb.pad(y, [[0, 0], [0, 0], pads[j]! as [number, number]]);
              acc = acc === null ? nb.mul(p, 1.5) : nb.sub(acc, nb.mul(p, p));
            });
            const r = nb.reshape(acc as unknown as nb.NDArray, [rows, 200]);
            return transposed ? nb.transpose(r) : r;
          };
          const what = `${dtype} ${rows} rows, pads ${JSON.stringify(pads)}${transposed ? ", transposed" : ""}`;
          const plan = compile(nb.makeGraph(f)(...xs));
          expect(plan.wasmGroups, what).toBe(1);
          expect(plan.rowwiseLoops, what).toBe(1);
          const got = plan.run(xs as ConcreteArray[])[0]!;
          expect(got.shape).toEqual(transposed ? [200, rows] : [rows, 200]);
          sameBits(got.toTypedArray(), f(...xs).toTypedArray(), `${what}, against eager`);
          const js = withJs(() => compile(nb.makeGraph(f)(...xs)).run(xs as ConcreteArray[])[0]!);
          sameBits(got.toTypedArray(), js.toTypedArray(), `${what}, against the JS loop`);
        }
    } finally {
      setWasmMinSize(was);
    }
  });
});
