/**
 * `exportOnnx` at the edges: accuracy of the composed lowerings (log1p,
 * expm1, and float64 sinh and erf, which onnxruntime has no float64 kernel
 * for), NaN in reductions, bool and int32 programs, argument validation.
 *
 * The reference is nabla's eager evaluation of the same function (itself
 * checked against Math.log1p / Math.expm1 / Math.sinh and tabulated erf
 * values where those exist). Tolerances are in ulps of the dtype, stated
 * per test: float64 composites round a handful of times (each a few ulps at
 * most); float32 results are computed in float64 and rounded once, so they
 * are within 1 float32 ulp of nabla's (which rounds the float64 value too).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import * as nn from "../src/nn/index.js";
import { exportGraph, exportOnnx } from "../src/export/index.js";
import { bind } from "../src/core/trace.js";
import { ruleOf } from "./support/primitives.js";
import { vals } from "./support/assert.js";

type Ort = typeof import("onnxruntime-node");
let ort: Ort | null = null;
try {
  ort = await import("onnxruntime-node");
} catch {
  ort = null; // onnx.test.ts reports why; the runtime tests below are skipped
}

interface Out {
  data: number[];
  dims: number[];
  type: string;
}

/** Runs the exported model of `f` on `args` in onnxruntime; the outputs in order. */
async function runOnnx(f: (...a: any[]) => unknown, args: nb.NDArray[], opts: { opset?: number } = {}): Promise<Out[]> {
  const session = await ort!.InferenceSession.create(exportOnnx(f, args, opts));
  const feeds: Record<string, InstanceType<Ort["Tensor"]>> = {};
  args.forEach((x, i) => {
    const data = x.dtype === "bool" ? Uint8Array.from(x.toTypedArray()) : x.toTypedArray();
    feeds[`input_${i}`] = new ort!.Tensor(x.dtype, data as Float64Array, x.shape);
  });
  const out = await session.run(feeds);
  return session.outputNames.map((n) => {
    const t = out[n]!;
    return { data: Array.from(t.data as ArrayLike<number | boolean>, Number), dims: [...t.dims], type: t.type };
  });
}

/** The spacing of the dtype's numbers at |v| (subnormal spacing below the normal range). */
function ulp(v: number, dtype: "float64" | "float32"): number {
  const [bits, min] = dtype === "float64" ? [52, 2 ** -1074] : [23, 2 ** -149];
  const a = Math.abs(v);
  if (a === 0) return min;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return Math.max(min, 2 ** (e - bits));
}

/**
 * Expects onnxruntime's outputs to be nabla's within `ulps` ulps (of nabla's
 * value, in its dtype); NaN, ±∞ and ±0 must match exactly (Object.is: the
 * sign of zero too). Returns the largest error seen, in ulps.
 */
function expectUlps(got: Out, want: nb.NDArray, ulps: number, inputs?: number[]): number {
  expect(got.dims).toEqual(want.shape);
  expect(got.type).toBe(want.dtype);
  const dtype = want.dtype as "float64" | "float32";
  let worst = 0;
  vals(want).forEach((w, k) => {
    const g = got.data[k]!;
    const at = inputs === undefined ? `element ${k}` : `x = ${inputs[k]}`;
    if (!Number.isFinite(w) || w === 0 || !Number.isFinite(g) || g === 0) {
      if (!Object.is(g, w)) expect.fail(`${at}: onnxruntime ${g}, nabla ${w} (want identical)`);
      return;
    }
    const e = Math.abs(g - w) / ulp(w, dtype);
    worst = Math.max(worst, e);
    if (!(e <= ulps)) expect.fail(`${at}: onnxruntime ${g}, nabla ${w}: ${e.toFixed(1)} ulps (tol ${ulps})`);
  });
  return worst;
}

/** Exact agreement (bools as truth values, see the bool test), dims and dtype included. */
function expectExact(got: Out, want: nb.NDArray, what: string): void {
  expect(got.dims, what).toEqual(want.shape);
  expect(got.type, what).toBe(want.dtype);
  const w = vals(want);
  const g = want.dtype === "bool" ? got.data.map((v) => Number(v !== 0)) : got.data;
  const ww = want.dtype === "bool" ? w.map((v) => Number(v !== 0)) : w;
  ww.forEach((v, k) => {
    if (!(Object.is(v, g[k]) || (Number.isNaN(v) && Number.isNaN(g[k]!))))
      expect.fail(`${what}: element ${k}: onnxruntime ${g[k]}, nabla ${v}`);
  });
}

const logspace = (lo: number, hi: number, n: number) =>
  Array.from({ length: n }, (_, k) => 10 ** (lo + ((hi - lo) * k) / (n - 1)));
const SPECIALS = [0, -0, Infinity, -Infinity, NaN];

describe.skipIf(ort === null)("exportOnnx: composed lowerings agree with nabla to a few ulps", () => {
  // 1e-300 .. 1e3 (and 1e300, 1.7e308), both signs, plus the points where the corrections switch
  const mags = [...logspace(-300, 3, 607), 1e300, 1.7e308, 2 ** -53, 2 ** -54, 3 * 2 ** -54, 0.5, 1, 2];
  const grid = [...mags, ...mags.map((v) => -v), ...SPECIALS];

  // float64: ≤ 4 ulps (measured ≤ 1: log/exp of onnxruntime are within 1 ulp, the correction adds a few roundings)
  // float32: ≤ 1 ulp (the float64 result rounded once, against nabla's float64 result rounded once)
  for (const [dtype, tol] of [
    ["float64", 4],
    ["float32", 1],
  ] as const) {
    it(`log1p and expm1 (${dtype}) near 0, at ±0 (sign kept), far out and at ±∞ / NaN`, async () => {
      const extra = [-1, -1 + 2 ** -53, -0.999999, -1.5, -745.2, -800, 709, 709.78, 710, 88.7, -103.9];
      const xs = [...grid, ...extra];
      const x = nb.array(xs, { dtype });
      // the oracle itself: nabla's float64 log1p/expm1 are Math's
      if (dtype === "float64") {
        expect(vals(nb.log1p(x)).every((v, k) => Object.is(v, Math.log1p(xs[k]!)))).toBe(true);
        expect(vals(nb.expm1(x)).every((v, k) => Object.is(v, Math.expm1(xs[k]!)))).toBe(true);
      }
      const f = (v: nb.NDArray) => [nb.log1p(v), nb.expm1(v)];
      const [l, e] = await runOnnx(f, [x]);
      const xv = vals(x);
      expectUlps(l!, nb.log1p(x), tol, xv);
      expectUlps(e!, nb.expm1(x), tol, xv);
    });
  }

  it("nn.elu near 0 (expm1 of small negatives)", async () => {
    for (const dtype of ["float64", "float32"] as const) {
      const x = nb.array([1e-10, -1e-7, 3e-6, 1e-17, -1e-30, 2], { dtype });
      const f = (v: nb.NDArray) => nn.elu(nb.neg(v));
      expectUlps((await runOnnx(f, [x]))[0]!, f(x), dtype === "float64" ? 4 : 1);
    }
  });

  // sinh, erf in float64: no onnxruntime kernel, composed. erf follows nabla's own algorithm operation for
  // operation; nabla's eager erf is within ~2.2 ulps of the true value and the model's within 1 (measured
  // against mpmath), so they may differ by 3 ulps; sinh ≤ 4 ulps (measured ≤ 2).
  const dense = [...Array.from({ length: 1201 }, (_, k) => -30 + k * 0.05), ...logspace(-300, 0, 301)];
  const sinhGrid = [
    ...dense,
    ...dense.map((v) => -v),
    19.999,
    20,
    20.001,
    355,
    700,
    710,
    710.47,
    711,
    -710.4,
    ...SPECIALS,
  ];
  it("sinh in float64: accurate near 0 (tiny and subnormal too), large |x|, overflow, ±0, ±∞, NaN", async () => {
    const x = nb.array(sinhGrid);
    expect(vals(nb.sinh(x)).every((v, k) => Object.is(v, Math.sinh(sinhGrid[k]!)))).toBe(true); // the oracle
    expectUlps((await runOnnx(nb.sinh, [x]))[0]!, nb.sinh(x), 4, vals(x));
  });

  it("erf in float64 (and exact GELU): tiny x, each table interval, |x| ≥ 6 → ±1, ±0, ±∞, NaN", async () => {
    const pts = [...dense.filter((v) => Math.abs(v) < 7), 5.999999, 6, 0.4999999, 0.5, 1e-310, 5e-324, ...SPECIALS];
    const xs = [...pts, ...pts.map((v) => -v)];
    const x = nb.array(xs);
    // the oracle against tabulated values (Abramowitz & Stegun 7.1; 16 digits from mpmath)
    const erf = vals(nb.erf(nb.array([0.5, 1, 2, 1e-20])));
    expect(erf[0]).toBeCloseTo(0.5204998778130465, 15);
    expect(erf[1]).toBeCloseTo(0.8427007929497149, 15);
    expect(erf[2]).toBeCloseTo(0.9953222650189527, 15);
    // erf x = 2x/√π for tiny x (the next term is 2x³/(3√π)): the closed form, within its own few roundings
    const tiny = (2 / Math.sqrt(Math.PI)) * 1e-20;
    expect(Math.abs(erf[3]! - tiny)).toBeLessThanOrEqual(3 * ulp(tiny, "float64"));
    expectUlps((await runOnnx(nb.erf, [x]))[0]!, nb.erf(x), 3, xs);
    const gelu = (v: nb.NDArray) => nn.gelu(v, { approximate: false });
    const g = nb.array([-1.5, -0.2, 0, 0.7, 2, 8, -8]);
    expectUlps((await runOnnx(gelu, [g]))[0]!, gelu(g), 4);
  });

  it("sinh and erf in float32 keep onnxruntime's float32 kernels, within 2 float32 ulps", async () => {
    const xs = [...dense.filter((v) => Math.abs(v) < 80), -1e-30, 1e-30, ...SPECIALS];
    const x = nb.array(xs, { dtype: "float32" });
    const [s, e] = await runOnnx((v: nb.NDArray) => [nb.sinh(v), nb.erf(v)], [x]);
    expectUlps(s!, nb.sinh(x), 2, vals(x));
    expectUlps(e!, nb.erf(x), 2, vals(x));
  });
});

describe.skipIf(ort === null)("exportOnnx: reductions with NaN, ties, ±∞ (nabla: NaN wins, first index)", () => {
  const rows = [
    [1, NaN, 3, 2],
    [-Infinity, 2, NaN, NaN],
    [NaN, 1, 5, NaN],
    [2, 5, 5, -1], // ties: the first index
    [-1, -1, 4, 4],
    [-Infinity, -Infinity, -Infinity, -Infinity],
    [Infinity, NaN, Infinity, 0], // NaN after +∞: NaN still wins
    [Infinity, Infinity, -Infinity, -Infinity],
  ];
  for (const dtype of ["float64", "float32"] as const)
    for (const opset of [17, 18])
      it(`max, min, argmax, argmin along each axis and over all (${dtype}, opset ${opset})`, async () => {
        const x = nb.array(rows, { dtype });
        const f = (a: nb.NDArray) => [
          nb.max(a, 1),
          nb.min(a, 1),
          nb.argmax(a, 1),
          nb.argmin(a, 1),
          nb.max(a, 0),
          nb.min(a, 0),
          nb.argmax(a, 0),
          nb.argmin(a, 0),
          nb.max(a),
          nb.min(nb.slice(a, [3, 0], [6, 4])), // no NaN in these rows
        ];
        // the reference semantics, written out for the first rows (axis 1)
        expect(vals(nb.argmax(x, 1))).toEqual([1, 2, 0, 1, 2, 0, 1, 0]);
        expect(vals(nb.argmin(x, 1))).toEqual([1, 2, 0, 3, 0, 0, 1, 2]);
        const got = await runOnnx(f, [x], { opset });
        f(x).forEach((w, i) => expectExact(got[i]!, w, `output ${i}`));
      });

  it("bool and int32 operands (no NaN handling) along both axes", async () => {
    const b = nb.array([
      [true, false, true],
      [false, false, false],
    ]);
    const i = nb.array(
      [
        [3, -1, 3],
        [-7, 2, -7],
      ],
      { dtype: "int32" },
    );
    for (const a of [b, i]) {
      const f = (v: nb.NDArray) => [
        nb.max(v, 1),
        nb.min(v, 1),
        nb.argmax(v, 1),
        nb.argmin(v, 1),
        nb.max(v, 0),
        nb.argmax(v, 0),
        nb.argmin(v, 0),
      ];
      const got = await runOnnx(f, [a]);
      f(a).forEach((w, k) => expectExact(got[k]!, w, `${a.dtype} output ${k}`));
    }
  });
});

describe.skipIf(ort === null)("exportOnnx: bool and int32 programs give models onnxruntime runs", () => {
  const b = nb.array([
    [true, false],
    [false, true],
  ]);
  const c = nb.array([
    [true, true],
    [false, false],
  ]);
  const i = nb.array(
    [
      [3, -1],
      [2, 7],
    ],
    { dtype: "int32" },
  );
  const idx = nb.array([1, 0, 3, -5], { dtype: "int32" });
  // nabla's eager bool results are compared as truth values: its bool add/matmul/scatter_add store counts
  // (2 for true + true) in the bool array, which onnxruntime has as true
  const cases: [string, (a: nb.NDArray, q: nb.NDArray) => nb.NDArray, nb.NDArray, nb.NDArray][] = [
    ["max(bool)", (a) => nb.max(a, 1), b, c],
    ["argmax(bool)", (a) => nb.argmax(a, 1), b, c],
    ["less(bool, true)", (a) => nb.less(a, true), b, c],
    [
      "lt/le/gt/ge(bool, bool)",
      (a, q) => nb.stack([nb.less(a, q), nb.lessEqual(a, q), nb.greater(a, q), nb.greaterEqual(a, q)]),
      b,
      c,
    ],
    ["where with bool values", (a, q) => nb.where(a, q, nb.logicalNot(q)), b, c],
    ["take(bool) (fill mode: a select)", (a) => nb.take(a, idx, 1), b, c],
    [
      "take(bool), clip and wrap",
      (a) => nb.stack([nb.take(a, idx, 1, { mode: "clip" }), nb.take(a, idx, 1, { mode: "wrap" })]),
      b,
      c,
    ],
    ["add/mul(bool)", (a, q) => nb.stack([nb.add(a, q), nb.mul(a, q)]), b, c],
    ["maximum/minimum(bool)", (a, q) => nb.stack([nb.maximum(a, q), nb.minimum(a, q)]), b, c],
    ["matmul(bool)", (a, q) => nb.matmul(a, q), b, c],
    ["floor/ceil/round(int32)", (a) => nb.stack([nb.floor(a), nb.ceil(a), nb.round(a)]), i, i],
    [
      "sign/abs/neg(int32), less(int32, float)",
      (a) => nb.stack([nb.sign(a), nb.abs(a), nb.neg(a), nb.less(a, 2.5).astype("int32")]),
      i,
      i,
    ],
  ];
  for (const [what, f, x, y] of cases)
    it(what, async () => {
      const got = await runOnnx(f, [x, y]);
      expectExact(got[0]!, f(x, y), what);
    });

  it("float → int32 conversion as nabla's: truncated, wrapped modulo 2³², 0 for NaN and ±∞", async () => {
    const xs = [2.7, -2.7, -0.5, 2 ** 31, -(2 ** 31) - 1, 3e9, -3e9, 1e10, 1e20, -1e300, NaN, Infinity, -Infinity, -0];
    for (const dtype of ["float64", "float32"] as const) {
      const x = nb.array(xs, { dtype });
      const f = (v: nb.NDArray) => v.astype("int32");
      // the closed form: JS ToInt32 of the (dtype-rounded) value
      expect(vals(f(x))).toEqual(vals(x).map((v) => v | 0));
      expectExact((await runOnnx(f, [x]))[0]!, f(x), dtype);
    }
  });

  it("primitives reached only inside nabla: int32 div (by zero too), reduce_sum of bool", async () => {
    const div = (a: nb.NDArray, q: nb.NDArray) => bind(ruleOf("div"), [a, q], {})[0]!;
    const x = nb.array([7, -7, 7, 0, -(2 ** 31), 5], { dtype: "int32" });
    const y = nb.array([2, 2, 0, 0, -1, -3], { dtype: "int32" });
    expect(vals(div(x, y))).toEqual([3, -3, 0, 0, -(2 ** 31), -1]); // ToInt32 of the quotient
    expectExact((await runOnnx(div, [x, y]))[0]!, div(x, y), "div");
    const rs = (a: nb.NDArray) => bind(ruleOf("reduce_sum"), [a], { axes: [1] })[0]!;
    expectExact((await runOnnx(rs, [b]))[0]!, rs(b), "reduce_sum");
    // bool division has no int32 reading: refused at export, naming the primitive
    const bdiv = (a: nb.NDArray, q: nb.NDArray) => bind(ruleOf("div"), [a, q], {})[0]!;
    expect(() => exportOnnx(bdiv, [b, c])).toThrow(/^exportOnnx: ONNX cannot express the primitive\(s\) div/);
  });
});

describe("exportOnnx / exportGraph argument validation", () => {
  const x = nb.array(1);
  const id = (v: nb.NDArray) => v;
  const bad: [string, () => unknown, RegExp][] = [
    ["f not a function", () => exportOnnx(5 as never, [x]), /^exportOnnx: expected a function, got number 5/],
    ["f a class", () => exportOnnx(class {} as never, [x]), /^exportOnnx: expected a function/],
    ["f async", () => exportOnnx(async (v: nb.NDArray) => v, [x]), /^exportOnnx: f is an async function/],
    ["f returns a Promise", () => exportOnnx((v: nb.NDArray) => Promise.resolve(v), [x]), /^exportOnnx: /],
    ["f returns undefined", () => exportOnnx(() => undefined, [x]), /^exportOnnx: f returned undefined/],
    ["options null", () => exportOnnx(id, [x], null as never), /^exportOnnx: options must be a plain object/],
    ["options a number", () => exportOnnx(id, [x], 17 as never), /^exportOnnx: options must be a plain object/],
    ["unknown option", () => exportOnnx(id, [x], { opsett: 18 } as never), /^exportOnnx: unknown option "opsett"/],
    ["opset a string", () => exportOnnx(id, [x], { opset: "17" as never }), /^exportOnnx: opset the string "17"/],
    [
      "inputNames a string",
      () => exportOnnx(id, [x], { inputNames: "a" as never }),
      /^exportOnnx: inputNames must be an array/,
    ],
    [
      "outputNames a number",
      () => exportOnnx(id, [x], { outputNames: 1 as never }),
      /^exportOnnx: outputNames must be an array/,
    ],
    ["exampleArgs not an array", () => exportOnnx(id, x as never), /^exportOnnx: exampleArgs must be an array/],
    [
      "exportGraph: f not a function",
      () => exportGraph(5 as never, x),
      /^exportGraph: expected a function, got number 5/,
    ],
    ["exportGraph: f async", () => exportGraph(async (v: nb.NDArray) => v, x), /^exportGraph: f is an async function/],
  ];
  for (const [what, call, msg] of bad)
    it(what, () => {
      expect(call).toThrow(nb.NablaError);
      expect(call).toThrow(msg);
    });

  it("still accepts no options, undefined options and each known option", () => {
    expect(exportOnnx(id, [x])).toBeInstanceOf(Uint8Array);
    expect(exportOnnx(id, [x], undefined)).toBeInstanceOf(Uint8Array);
    expect(exportOnnx(id, [x], { opset: 18, inputNames: ["a"], outputNames: ["b"] })).toBeInstanceOf(Uint8Array);
    expect(exportGraph(id, x).format).toBe("nabla.graph");
  });
});
