/**
 * The strided kernels over merged axes (issue 8, W5): broadcasts, transposes,
 * slices, partial reductions over any axes and binary maps with both operands
 * broadcast walk at most three merged axes in nested loops. On random shapes
 * (unit axes, broadcast axes, middle axes), random axes and permutations, with
 * NaN, ±Infinity and ±0 among the elements, each result is compared with a
 * reference computed here by explicit index arithmetic, element by element
 * with Object.is (so -0 and NaN count), in float32 and float64: the kernels do
 * the same scalar operations in the same order as a row-major walk.
 */
import { describe, expect, it } from "vitest";
import { ConcreteArray, storageOf } from "../src/core/ndarray.js";
import { allocate, type DType } from "../src/core/dtype.js";
import { sizeOf, stridesOf } from "../src/core/shape.js";
import { binary } from "../src/kernels/elementwise.js";
import { reduce, reduceSum } from "../src/kernels/reduce.js";
import { broadcastTo, slice, transpose } from "../src/kernels/movement.js";
import { type Random, seeded } from "./support/rng.js";

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0];

function arr(shape: number[], dtype: DType, r: Random): ConcreteArray {
  const d = allocate(dtype, sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = r() < 0.08 ? SPECIAL[r.int(0, SPECIAL.length)]! : r(-4, 4);
  return new ConcreteArray(d, shape, dtype);
}

/** The multi-index of row-major position i of `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const st = stridesOf(shape);
  return shape.map((d, k) => Math.floor(i / st[k]!) % d);
}

/** The flat position of multi-index idx (aligned to the right) in `shape`, broadcast axes read at 0. */
function ravelBroadcast(idx: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  const off = idx.length - shape.length;
  let p = 0;
  shape.forEach((d, k) => {
    if (d !== 1) p += idx[k + off]! * st[k]!;
  });
  return p;
}

function randomShape(r: Random, rank: number): number[] {
  return Array.from({ length: rank }, () => (r() < 0.3 ? 1 : r.int(2, 6)));
}

/** Compares typed arrays element by element with Object.is (after rounding the reference to dtype). */
function expectSame(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) bad.push(`${i}: ${got[i]} vs ${want[i]}`);
  expect(bad.slice(0, 5)).toEqual([]);
}

describe.each(["float32", "float64"] as const)("%s", (dtype) => {
  it("broadcastTo with long rows: contiguous rows copied as blocks, constant rows filled (lengths 1..300)", () => {
    const r = seeded(82);
    for (let t = 0; t < 120; t++) {
      const len = r() < 0.5 ? r.int(1, 40) : r.int(40, 300);
      const a = r.int(1, 5);
      const b = r.int(1, 4);
      // [b, len] repeated over a leading axis; [a, 1] and [a, b, 1] repeated along the last axis
      const cases: [number[], number[]][] = [
        [
          [b, len],
          [a, b, len],
        ],
        [
          [a, 1],
          [a, len],
        ],
        [
          [a, b, 1],
          [a, b, len],
        ],
        [
          [a, 1, len],
          [a, b, len],
        ],
      ];
      for (const [s, out] of cases) {
        const x = arr(s, dtype, r);
        const want = allocate(dtype, sizeOf(out));
        const d = storageOf(x);
        for (let i = 0; i < want.length; i++) want[i] = d[ravelBroadcast(unravel(i, out), s)]!;
        expectSame(storageOf(broadcastTo(x, out)), want);
      }
    }
  });

  it("broadcastTo of random shapes (unit axes anywhere, new leading axes)", () => {
    const r = seeded(81);
    for (let t = 0; t < 300; t++) {
      const out = randomShape(r, r.int(1, 6));
      // the operand: a suffix of the output's axes, some set to 1
      const k = r.int(0, out.length + 1);
      const s = out.slice(out.length - k).map((d) => (r() < 0.4 ? 1 : d));
      const x = arr(s, dtype, r);
      const want = allocate(dtype, sizeOf(out));
      const d = storageOf(x);
      for (let i = 0; i < want.length; i++) want[i] = d[ravelBroadcast(unravel(i, out), s)]!;
      expectSame(storageOf(broadcastTo(x, out)), want);
    }
  });

  it("transpose by random permutations and slices by random bounds", () => {
    const r = seeded(82);
    for (let t = 0; t < 200; t++) {
      const shape = randomShape(r, r.int(1, 6));
      const x = arr(shape, dtype, r);
      const d = storageOf(x);
      const perm = shape.map((_, i) => i).sort(() => r() - 0.5);
      const outShape = perm.map((p) => shape[p]!);
      const want = allocate(dtype, sizeOf(outShape));
      for (let i = 0; i < want.length; i++) {
        const oi = unravel(i, outShape);
        const ii = new Array<number>(shape.length);
        perm.forEach((p, k) => (ii[p] = oi[k]!));
        want[i] = d[ravelBroadcast(ii, shape)]!;
      }
      expectSame(storageOf(transpose(x, perm)), want);
      const begin = shape.map((n) => r.int(0, n));
      const end = shape.map((n, i) => r.int(begin[i]! + 1, n + 1));
      const sShape = begin.map((b, i) => end[i]! - b);
      const ws = allocate(dtype, sizeOf(sShape));
      for (let i = 0; i < ws.length; i++)
        ws[i] =
          d[
            ravelBroadcast(
              unravel(i, sShape).map((v, k) => v + begin[k]!),
              shape,
            )
          ]!;
      expectSame(storageOf(slice(x, begin, end)), ws);
    }
  });

  it("reduce_sum and a max over random axes: each output folds its elements in ascending order", () => {
    const r = seeded(83);
    const mx = (m: number, v: number): number => (v > m || Number.isNaN(v) ? v : m);
    for (let t = 0; t < 300; t++) {
      const shape = randomShape(r, r.int(1, 6));
      const x = arr(shape, dtype, r);
      const d = storageOf(x);
      const axes = shape.map((_, i) => i).filter(() => r() < 0.5);
      if (axes.length === shape.length) axes.pop(); // full sums have their own chunked order (sumOrder.ts)
      const outShape = shape.filter((_, i) => !axes.includes(i));
      const sums = new Float64Array(sizeOf(outShape));
      const maxs = new Float64Array(sizeOf(outShape)).fill(-Infinity);
      for (let i = 0; i < d.length; i++) {
        const o = ravelBroadcast(
          unravel(i, shape).filter((_, k) => !axes.includes(k)),
          outShape,
        );
        sums[o] = sums[o]! + d[i]!;
        maxs[o] = mx(maxs[o]!, d[i]!);
      }
      const ws = allocate(dtype, sums.length);
      ws.set(sums);
      const wm = allocate(dtype, maxs.length);
      wm.set(maxs);
      const got = reduceSum(x, axes, dtype);
      expect(got.shape).toEqual(outShape);
      expectSame(storageOf(got), ws);
      expectSame(storageOf(reduce(x, axes, dtype, -Infinity, mx)), wm);
    }
  });

  it("binary maps with both operands broadcast (middle axes, unit axes, different ranks)", () => {
    const r = seeded(84);
    const f = (x: number, y: number): number => x * 3 - y / 7; // not symmetric: operand order matters
    const f32 = (x: number, y: number): number => Math.fround(x * 3 - y / 7);
    for (let t = 0; t < 300; t++) {
      const out = randomShape(r, r.int(1, 6));
      const pick = (): number[] => {
        const k = r.int(0, out.length + 1);
        return out.slice(out.length - k).map((d) => (r() < 0.4 ? 1 : d));
      };
      const sa = pick();
      const sb = pick();
      const a = arr(sa, dtype, r);
      const b = arr(sb, dtype, r);
      const ad = storageOf(a);
      const bd = storageOf(b);
      const want = allocate(dtype, sizeOf(out));
      for (let i = 0; i < want.length; i++) {
        const idx = unravel(i, out);
        want[i] = f(ad[ravelBroadcast(idx, sa)]!, bd[ravelBroadcast(idx, sb)]!);
      }
      expectSame(storageOf(binary(a, b, out, dtype, false, dtype === "float32" ? f32 : f)), want);
    }
  });
});
