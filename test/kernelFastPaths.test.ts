/**
 * The eager kernels' layout fast paths (issue 8): binary maps where one
 * operand is a row repeated (a bias) or one element per row (a softmax's
 * max), and reductions over a leading or trailing block of axes. Each result
 * is compared element by element with a reference computed here by explicit
 * index arithmetic (no kernel code): the fast paths do the same scalar
 * operations in the same order as the general strided walk, so equality is
 * exact (toEqual on the typed arrays, NaN included), in float32 and float64.
 */
import { describe, expect, it } from "vitest";
import { ConcreteArray, storageOf } from "../src/core/ndarray.js";
import { allocate, type DType } from "../src/core/dtype.js";
import { sizeOf, stridesOf } from "../src/core/shape.js";
import { binary } from "../src/kernels/elementwise.js";
import { reduce } from "../src/kernels/reduce.js";
import { seeded } from "./support/rng.js";

function arr(shape: number[], dtype: DType, r: () => number): ConcreteArray {
  const d = allocate(dtype, sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = r();
  return new ConcreteArray(d, shape, dtype);
}

/** Reads `x` broadcast to `shape` at row-major positions of `shape` (strides computed once). */
function reader(x: ConcreteArray, shape: number[]): (i: number) => number {
  const st = stridesOf(shape);
  const xs = stridesOf(x.shape);
  const off = shape.length - x.shape.length;
  const d = storageOf(x);
  return (i) => {
    let p = 0;
    for (let k = 0; k < shape.length; k++) {
      const kk = k - off;
      if (kk >= 0 && x.shape[kk] !== 1) p += (Math.floor(i / st[k]!) % shape[k]!) * xs[kk]!;
    }
    return d[p]!;
  };
}

const f = (x: number, y: number): number => x * 3 - y / 7; // not symmetric: operand order matters

describe("binary: operands broadcast over leading or trailing axes", () => {
  const cases: [number[], number[], number[]][] = [
    [[128, 512], [512], [128, 512]], // bias
    [
      [128, 512],
      [1, 512],
      [128, 512],
    ],
    [[512], [128, 512], [128, 512]],
    [
      [128, 10],
      [128, 1],
      [128, 10],
    ], // softmax's max
    [
      [128, 1],
      [128, 10],
      [128, 10],
    ],
    [
      [3, 4, 5],
      [4, 5],
      [3, 4, 5],
    ],
    [
      [3, 4, 5],
      [3, 4, 1],
      [3, 4, 5],
    ],
    [
      [3, 4, 5],
      [3, 1, 1],
      [3, 4, 5],
    ],
    [
      [3, 1, 5],
      [3, 4, 5],
      [3, 4, 5],
    ], // a middle axis: the general walk
    [
      [3, 4, 5],
      [1, 4, 1],
      [3, 4, 5],
    ],
    [
      [2, 1],
      [1, 3],
      [2, 3],
    ], // both broadcast
    [[7], [1], [7]],
  ];
  for (const dtype of ["float32", "float64"] as const)
    for (const [sa, sb, so] of cases)
      it(`${dtype} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () => {
        const r = seeded(sa.length * 100 + sb.length, -2, 2);
        const a = arr(sa, dtype, r);
        const b = arr(sb, dtype, r);
        if (storageOf(b).length > 1) storageOf(b)[1] = NaN;
        const got = binary(a, b, so, dtype, false, f);
        const want = allocate(dtype, sizeOf(so));
        const [ra, rb] = [reader(a, so), reader(b, so)];
        for (let i = 0; i < want.length; i++) want[i] = f(ra(i), rb(i));
        expect(got.shape).toEqual(so);
        expect(storageOf(got)).toEqual(want);
      });
});

describe("reduce: leading, trailing and other axis blocks", () => {
  const cases: [number[], number[]][] = [
    [[128, 512], [0]], // a bias gradient
    [[128, 10], [1]], // a softmax's sum
    [
      [3, 4, 5],
      [0, 1],
    ],
    [
      [3, 4, 5],
      [1, 2],
    ],
    [
      [3, 4, 5],
      [0, 2],
    ], // not a block: the strided walk
    [[3, 4, 5], [1]],
    [[3, 4, 5], [2]],
    [[6, 1, 2], [0]],
  ];
  for (const dtype of ["float32", "float64"] as const)
    for (const [shape, axes] of cases)
      for (const [name, init, combine] of [
        ["sum", 0, (s: number, v: number) => s + v],
        ["max", -Infinity, (m: number, v: number) => (v > m || Number.isNaN(v) ? v : m)],
      ] as const)
        it(`${name} ${dtype} ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`, () => {
          const r = seeded(shape.length * 10 + axes[0]!, -1, 1);
          const x = arr(shape, dtype, r);
          const got = reduce(x, axes, dtype, init, combine);
          const outShape = shape.filter((_, i) => !axes.includes(i));
          // reference: for each output position, fold the inputs that map to it in ascending order
          const acc = new Float64Array(sizeOf(outShape)).fill(init);
          const st = stridesOf(shape);
          const ost = stridesOf(outShape);
          for (let i = 0; i < sizeOf(shape); i++) {
            let o = 0;
            for (let k = 0, j = 0; k < shape.length; k++)
              if (!axes.includes(k)) o += (Math.floor(i / st[k]!) % shape[k]!) * ost[j++]!;
            acc[o] = combine(acc[o]!, storageOf(x)[i]!);
          }
          const want = allocate(dtype, acc.length);
          want.set(acc);
          expect(got.shape).toEqual(outShape);
          expect(storageOf(got)).toEqual(want);
        });
});
