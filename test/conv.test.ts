/**
 * conv: against a direct-loop reference written out below (N-d, padding,
 * strides, dilation, groups), against PyTorch's conv2d outputs and gradients
 * (test/fixtures/conv2d.json, made by scripts/conv2d-fixture.py; CI needs no
 * Python), SAME/VALID geometry, derivatives of a 3-d convolution against
 * finite differences, jit and vmap, float32, and its errors. (The primitive's
 * derivatives to order 3 in every mode pair and its batching law are in
 * test/properties.)
 *
 * Tolerances (float64): the fixture's inputs are multiples of 1/8 in [-1, 1],
 * so every product is a multiple of 1/64 and every partial sum is exact in
 * float64 whatever the summation order: outputs and gradients must agree to
 * 1e-12 (they are in fact equal). Against the plain loop on uniform inputs:
 * sums of at most 54 products of O(1) numbers, summed in another order:
 * 1e-12 · (1 + |value|).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";

interface Tensor {
  shape: number[];
  data: number[];
}
const arr = (t: Tensor) => nb.array(Float64Array.from(t.data), { shape: t.shape });
const vals = (x: nb.NDArray) => Array.from(x.toTypedArray() as ArrayLike<number>, Number);

function maxDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

/** A seeded uniform draw in [-1, 1) (mulberry32). */
function uniform(seed: number, n: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
}
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const rand = (seed: number, shape: number[]) => ({ shape, data: uniform(seed, size(shape)) });

/** Row-major strides of a shape. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let i = shape.length - 1, s = 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i]!;
  }
  return out;
}

/**
 * The convolution by its definition, with nested loops: the input is first
 * copied into an explicitly zero-padded array, then every output element is
 * a sum over the input channels of its group and every kernel tap.
 */
function directConv(
  x: Tensor,
  w: Tensor,
  o: { strides: number[]; pad: [number, number][]; dilation: number[]; groups: number },
): Tensor {
  const nd = x.shape.length - 2;
  const [N, C] = x.shape as [number, number];
  const [O, Cg] = w.shape as [number, number];
  const padded = x.shape.map((d, i) => (i < 2 ? d : d + o.pad[i - 2]![0] + o.pad[i - 2]![1]));
  const xp = new Array<number>(size(padded)).fill(0);
  const xs = strides(x.shape);
  const ps = strides(padded);
  for (let f = 0; f < x.data.length; f++) {
    let g = 0;
    for (let i = 0; i < x.shape.length; i++) {
      const c = Math.floor(f / xs[i]!) % x.shape[i]!;
      g += (i < 2 ? c : c + o.pad[i - 2]![0]) * ps[i]!;
    }
    xp[g] = x.data[f]!;
  }
  const k = w.shape.slice(2);
  const outS = padded.slice(2).map((P, d) => Math.floor((P - ((k[d]! - 1) * o.dilation[d]! + 1)) / o.strides[d]!) + 1);
  const shape = [N, O, ...outS];
  const ws = strides(w.shape);
  const os = strides(shape);
  const data = new Array<number>(size(shape)).fill(0);
  for (let f = 0; f < data.length; f++) {
    const idx = shape.map((d, i) => Math.floor(f / os[i]!) % d);
    const [n, oc] = idx as [number, number];
    const g = Math.floor(oc / (O / o.groups));
    let acc = 0;
    for (let c = 0; c < Cg; c++)
      for (let t = 0; t < size(k); t++) {
        let xi = n * ps[0]! + (g * Cg + c) * ps[1]!;
        let wi = oc * ws[0]! + c * ws[1]!;
        let rem = t;
        for (let d = nd - 1; d >= 0; d--) {
          const tap = rem % k[d]!;
          rem = Math.floor(rem / k[d]!);
          xi += (idx[d + 2]! * o.strides[d]! + tap * o.dilation[d]!) * ps[d + 2]!;
          wi += tap * ws[d + 2]!;
        }
        acc += xp[xi]! * w.data[wi]!;
      }
    data[f] = acc;
  }
  void C;
  return { shape, data };
}

describe("conv against a direct loop", () => {
  const cases: {
    name: string;
    x: number[];
    w: number[];
    strides: number[];
    pad: [number, number][];
    dilation: number[];
    groups: number;
  }[] = [
    { name: "1-d", x: [2, 3, 9], w: [4, 3, 3], strides: [2], pad: [[1, 2]], dilation: [1], groups: 1 },
    {
      name: "1-d dilated, grouped",
      x: [1, 4, 10],
      w: [6, 2, 3],
      strides: [1],
      pad: [[0, 1]],
      dilation: [3],
      groups: 2,
    },
    {
      name: "2-d",
      x: [2, 2, 6, 5],
      w: [3, 2, 3, 2],
      strides: [1, 2],
      pad: [
        [1, 1],
        [0, 2],
      ],
      dilation: [1, 2],
      groups: 1,
    },
    {
      name: "2-d depthwise",
      x: [1, 3, 5, 5],
      w: [6, 1, 2, 2],
      strides: [2, 2],
      pad: [
        [1, 0],
        [1, 1],
      ],
      dilation: [1, 1],
      groups: 3,
    },
    {
      name: "3-d",
      x: [1, 2, 4, 5, 3],
      w: [2, 2, 2, 3, 2],
      strides: [1, 2, 1],
      pad: [
        [1, 0],
        [1, 1],
        [0, 1],
      ],
      dilation: [2, 1, 1],
      groups: 1,
    },
  ];
  it.each(cases)("$name", (c) => {
    const x = rand(1, c.x);
    const w = rand(2, c.w);
    const want = directConv(x, w, c);
    const got = nb.conv(arr(x), arr(w), {
      strides: c.strides,
      padding: c.pad,
      dilation: c.dilation,
      featureGroupCount: c.groups,
    });
    expect(got.shape).toEqual(want.shape);
    const scale = Math.max(1, ...want.data.map(Math.abs));
    expect(maxDiff(vals(got), want.data)).toBeLessThan(1e-12 * scale);
  });

  it('"SAME" keeps ceil(in / stride) and pads as JAX (odd cell at the end); "VALID" pads nothing', () => {
    for (const [I, k, s] of [
      [5, 3, 1],
      [6, 3, 2],
      [7, 2, 3],
      [4, 4, 1],
    ] as const) {
      const x = rand(3, [1, 1, I]);
      const w = rand(4, [1, 1, k]);
      const total = Math.max((Math.ceil(I / s) - 1) * s + k - I, 0);
      const pad: [number, number][] = [[Math.floor(total / 2), total - Math.floor(total / 2)]];
      const same = nb.conv(arr(x), arr(w), { strides: s, padding: "SAME" });
      expect(same.shape).toEqual([1, 1, Math.ceil(I / s)]);
      expect(maxDiff(vals(same), directConv(x, w, { strides: [s], pad, dilation: [1], groups: 1 }).data)).toBeLessThan(
        1e-12,
      );
      const valid = nb.conv(arr(x), arr(w), { strides: s, padding: "VALID" });
      expect(valid.shape).toEqual([1, 1, Math.floor((I - k) / s) + 1]);
    }
  });
});

describe("conv against PyTorch conv2d (test/fixtures/conv2d.json)", () => {
  const fixture = JSON.parse(readFileSync(new URL("./fixtures/conv2d.json", import.meta.url), "utf8")) as {
    cases: {
      name: string;
      stride: number[];
      padding: number[];
      dilation: number[];
      groups: number;
      x: Tensor;
      w: Tensor;
      ct: Tensor;
      y: Tensor;
      dx: Tensor;
      dw: Tensor;
    }[];
  };
  it("has the five geometries", () =>
    expect(fixture.cases.map((c) => c.name)).toEqual(["plain", "stride-pad", "dilated", "groups", "depthwise"]));
  it.each(fixture.cases)("$name: outputs and both gradients", (c) => {
    const opts: nb.ConvOptions = {
      strides: c.stride,
      padding: c.padding.map((p) => [p, p] as [number, number]),
      dilation: c.dilation,
      featureGroupCount: c.groups,
    };
    const y = nb.conv(arr(c.x), arr(c.w), opts);
    expect(y.shape).toEqual(c.y.shape);
    expect(maxDiff(vals(y), c.y.data)).toBeLessThan(1e-12);
    const ct = arr(c.ct);
    const [dx, dw] = nb.grad((x: nb.NDArray, w: nb.NDArray) => nb.sum(nb.mul(ct, nb.conv(x, w, opts))), {
      argnums: [0, 1],
    })(arr(c.x), arr(c.w)) as [nb.NDArray, nb.NDArray];
    expect(maxDiff(vals(dx), c.dx.data)).toBeLessThan(1e-12);
    expect(maxDiff(vals(dw), c.dw.data)).toBeLessThan(1e-12);
  });
});

describe("conv transforms", () => {
  const x3 = arr(rand(5, [1, 2, 3, 4, 3]));
  const w3 = arr(rand(6, [2, 1, 2, 2, 2]));
  const opts: nb.ConvOptions = { strides: [1, 2, 1], padding: "SAME", dilation: [1, 1, 2], featureGroupCount: 2 };

  it("3-d, grouped: derivatives to order 2 in both modes match finite differences", () => {
    checkGrads((x: nb.NDArray, w: nb.NDArray) => nb.conv(x, w, opts), [x3, w3], { order: 2 });
  });

  it("jit equals eager; vmap over a batch of kernels equals a loop", () => {
    const f = (x: nb.NDArray, w: nb.NDArray) => nb.conv(x, w, opts);
    expect(maxDiff(vals(nb.jit(f)(x3, w3)), vals(f(x3, w3)))).toBeLessThan(1e-14);
    const ws = arr(rand(7, [3, 2, 1, 2, 2, 2]));
    const batched = nb.vmap(f, { inAxes: [null, 0] })(x3, ws) as nb.NDArray;
    for (let b = 0; b < 3; b++) {
      const wb = nb.take(ws, nb.array(b, { dtype: "int32" }), 0);
      expect(maxDiff(vals(nb.take(batched, nb.array(b, { dtype: "int32" }), 0)), vals(f(x3, wb)))).toBeLessThan(1e-14);
    }
  });

  it("float32 in, float32 out (within float32 rounding of the float64 result); ints compute in float64", () => {
    const x = nb.astype(x3, "float32");
    const w = nb.astype(w3, "float32");
    const y = nb.conv(x, w, opts);
    expect(y.dtype).toBe("float32");
    // inputs rounded to float32 (relative 6e-8 each), sums of 8 products of O(1) values
    expect(maxDiff(vals(y), vals(nb.conv(nb.astype(x, "float64"), nb.astype(w, "float64"), opts)))).toBeLessThan(1e-6);
    expect(nb.conv(nb.ones([1, 1, 3], { dtype: "int32" }), nb.ones([1, 1, 2], { dtype: "int32" })).dtype).toBe(
      "float64",
    );
  });
});

describe("conv errors", () => {
  const x = nb.ones([1, 2, 5]);
  const w = nb.ones([3, 2, 2]);
  it.each([
    ["a rank mismatch", () => nb.conv(x, nb.ones([3, 2])), nb.ShapeError, /^conv: x \[1,2,5\] and w \[3,2\]/],
    ["no spatial axis", () => nb.conv(nb.ones([1, 2]), nb.ones([1, 2])), nb.ShapeError, /^conv: /],
    [
      "channels vs groups",
      () => nb.conv(x, w, { featureGroupCount: 2 }),
      nb.ShapeError,
      /^conv: .*featureGroupCount 2/,
    ],
    ["a window larger than the input", () => nb.conv(x, nb.ones([1, 2, 6])), nb.ShapeError, /^conv: spatial axis 0/],
    ["a bad padding", () => nb.conv(x, w, { padding: "FULL" as "SAME" }), nb.NablaError, /^conv: padding/],
    [
      "a wrong number of strides",
      () => nb.conv(x, w, { strides: [1, 1] }),
      nb.ShapeError,
      /^conv: strides has 2 entries/,
    ],
    ["a zero dilation", () => nb.conv(x, w, { dilation: 0 }), nb.ShapeError, /^conv: dilation\[0\]/],
    ["an unknown option", () => nb.conv(x, w, { stride: 2 } as nb.ConvOptions), nb.NablaError, /^conv: unknown option/],
    [
      "bool operands",
      () => nb.conv(nb.ones([1, 1, 2], { dtype: "bool" }), nb.ones([1, 1, 1])),
      nb.DTypeError,
      /^conv: /,
    ],
  ] as const)("%s", (_name, f, cls, msg) => {
    expect(f).toThrow(cls);
    expect(f).toThrow(msg);
  });
});
