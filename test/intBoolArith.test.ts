/**
 * int32 matmul wraps modulo 2^32 exactly (two's complement, as JAX), the oracle Math.imul and `| 0`
 * written out in plain JS loops.
 *
 * A bool array holds only true and false (NumPy and JAX): arithmetic on two bool operands either
 * stays in {0, 1} (add is logical or, mul logical and, a product of bool matrices is an or of ands)
 * or is refused (sub). Every result is checked by its int32 cast, which shows a stored 2 or 255.
 * The expected values are truth tables written out by hand.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

const t = nb.array([true, true, false, false]);
const u = nb.array([true, false, true, false]);
const ints = (x: nb.NDArray): number[] => Array.from(nb.astype(x, "int32").toTypedArray());

describe("arithmetic on bool operands", () => {
  it("add is logical or, eagerly, as a method, under jit and vmap; mul is logical and", () => {
    const or = [1, 1, 1, 0];
    for (const r of [nb.add(t, u), t.add(u), nb.jit(nb.add)(t, u), nb.vmap(nb.add)(t, u) as nb.NDArray]) {
      expect(r.dtype).toBe("bool");
      expect(ints(r)).toEqual(or);
    }
    expect(ints(nb.add(t, t))).toEqual([1, 1, 0, 0]);
    expect(nb.equal(nb.add(t, t), true).toArray()).toEqual([true, true, false, false]);
    expect(ints(nb.add(t, true))).toEqual([1, 1, 1, 1]);
    expect(ints(nb.add(nb.reshape(t, [4, 1]), u))).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0]);
    expect(ints(nb.mul(t, u))).toEqual([1, 0, 0, 0]);
    // a bool with a number is not bool arithmetic: it promotes (true + 1 = 2 in int32)
    expect(nb.add(t, 1).dtype).toBe("int32");
    expect(ints(nb.add(t, 1))).toEqual([2, 2, 1, 1]);
  });

  it("sub of two bools throws DTypeError naming sub and the shapes", () => {
    expect(() => nb.sub(t, u)).toThrow(nb.DTypeError);
    expect(() => nb.sub(t, u)).toThrow(/^sub: boolean subtract is not supported \(bool\[4\] and bool\[4\]\)/);
    expect(() => nb.jit(nb.sub)(t, u)).toThrow(/^sub: boolean subtract/);
    expect(ints(nb.sub(t, 1))).toEqual([0, 0, -1, -1]);
  });

  it("matmul and dot of bools: an or of ands, stored as 0 or 1", () => {
    const a = nb.array([
      [true, true],
      [false, true],
      [false, false],
    ]);
    const b = nb.array([[true], [true]]);
    for (const r of [nb.matmul(a, b), nb.jit(nb.matmul)(a, b)]) {
      expect(r.dtype).toBe("bool");
      expect(ints(r)).toEqual([1, 1, 0]);
    }
    const d = nb.dot(t, t);
    expect(d.dtype).toBe("bool");
    expect(ints(d)).toEqual([1]);
    expect(ints(nb.dot(nb.array([false, true]), nb.array([true, false])))).toEqual([0]);
  });
});

describe("int32 matmul wraps modulo 2^32", () => {
  it("products and sums past 2^53 keep their low 32 bits: eager, jit, transposed operands, batched, einsum", () => {
    const n = 7;
    const A = Array.from({ length: n * n }, (_, i) => (2147483647 - i * 99991) | 0);
    const B = Array.from({ length: n * n }, (_, i) => (-2147483600 + i * 77777) | 0);
    const want: number[] = [];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s = (s + Math.imul(A[i * n + k]!, B[k * n + j]!)) | 0;
        want.push(s);
      }
    const a = nb.array(A, { dtype: "int32", shape: [n, n] });
    const b = nb.array(B, { dtype: "int32", shape: [n, n] });
    const flat = (x: nb.NDArray): number[] => Array.from(x.toTypedArray());
    for (const r of [
      nb.matmul(a, b),
      nb.jit(nb.matmul)(a, b),
      nb.jit((x: nb.NDArray, y: nb.NDArray) => nb.matmul(nb.transpose(x), y))(nb.transpose(a), b),
      nb.einsum("ij,jk->ik", a, b),
    ]) {
      expect(r.dtype).toBe("int32");
      expect(flat(r)).toEqual(want);
    }
    expect(flat(nb.matmul(nb.stack([a, a]), nb.stack([b, b])))).toEqual([...want, ...want]);
  });
});
