/**
 * The eager fast paths of issue 8 keep every semantic check: 0-d kernels,
 * the one broadcast check of binary operations, two-operand promotion,
 * immutable arrays without Object.freeze, CSE through per-variable use lists,
 * pytree fast paths and transposition tables indexed by variable id. Each
 * fast path is compared with the general path it short-cuts (or a closed
 * form), and its error cases (dead tracers, bad shapes) are exercised on it.
 *
 * Values: 0-d results are compared exactly with the same JS arithmetic (the
 * kernels call the same scalar functions, so the bits agree); derivatives of
 * polynomials exactly (every operation is exact in float64 for these small
 * integers).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { promote, type DType } from "../src/core/dtype.js";
import { promoted } from "../src/prims/wrap.js";
import { ConcreteArray, scalar } from "../src/core/ndarray.js";

type A = nb.NDArray;

/** A tracer leaked out of its grad (its transform has returned). */
function leakedTracer(): A {
  let leaked: A | null = null;
  nb.grad((x: A) => {
    leaked = x;
    return nb.mul(x, x);
  })(2);
  return leaked!;
}

describe("0-d kernels", () => {
  it("unary and binary 0-d results are the scalar functions' bits, 0-d and size-1 alike", () => {
    for (const v of [0.3, -0, 1e-300, -2.5, Infinity, NaN]) {
      expect(Object.is(nb.sin(v).item(), Math.sin(v))).toBe(true);
      expect(Object.is(nb.sin(nb.array([v])).item(), Math.sin(v))).toBe(true);
      expect(Object.is(nb.mul(v, 3).item(), v * 3)).toBe(true);
      expect(Object.is(nb.mul(nb.array([[v]]), nb.array([3])).item(), v * 3)).toBe(true);
    }
  });

  it("int32 0-d products wrap to 32 bits (the int32 scalar function, not the float one)", () => {
    const a = nb.array(65537, { dtype: "int32" });
    // 65537² = 4295098369 = 2^32 + 131073: wraps to 131073
    expect(nb.mul(a, a).item()).toBe(131073);
    expect(nb.mul(a, a).dtype).toBe("int32");
    // 46341² = 2147488281 > 2^31 - 1: wraps to -2147479015
    const b = nb.array(46341, { dtype: "int32" });
    expect(nb.mul(b, b).item()).toBe(-2147479015);
  });

  it("0-d operands broadcast to the other operand's shape", () => {
    expect(nb.add(nb.array(1), nb.array([[1, 2]])).shape).toEqual([1, 2]);
    expect(nb.add(nb.array([[1, 2]]), 1).shape).toEqual([1, 2]);
    expect(nb.add(nb.array([[1], [2]]), nb.array([1, 2, 3])).shape).toEqual([2, 3]);
  });
});

describe("binary operations check once, and still check", () => {
  it("incompatible shapes throw ShapeError naming the public function", () => {
    expect(() => nb.notEqual(nb.zeros([2]), nb.zeros([3]))).toThrow(/^notEqual: shapes \[2\] and \[3\]/);
    expect(() => nb.arctan2(nb.zeros([2, 2]), nb.zeros([3]))).toThrow(nb.ShapeError);
  });

  it("a dead tracer throws TracerError on the eager and the traced paths", () => {
    const t = leakedTracer();
    expect(() => nb.mul(t, 2)).toThrow(nb.TracerError);
    expect(() => nb.add(2, t)).toThrow(nb.TracerError);
    expect(() => nb.sin(t)).toThrow(nb.TracerError);
    // mixed with a live tracer of another transform
    expect(() => nb.grad((x: A) => nb.mul(x, t))(1)).toThrow(nb.TracerError);
    expect(() => nb.jit((x: A) => nb.add(x, t))(1)).toThrow(nb.TracerError);
  });

  it("two-operand promotion agrees with promote() on every dtype, weakness and integrality", () => {
    const dtypes: DType[] = ["bool", "int32", "float32", "float64"];
    const values = [0, 2, 0.5];
    for (const da of dtypes)
      for (const db of dtypes)
        for (const wa of [false, true])
          for (const wb of [false, true])
            for (const va of values)
              for (const vb of values) {
                const a = scalar(da === "bool" ? Number(va !== 0) : va, da, wa);
                const b = scalar(db === "bool" ? Number(vb !== 0) : vb, db, wb);
                const integral = (x: ConcreteArray) => x.weakType && Number.isInteger(x.data[0]);
                const want = promote("t", [
                  { dtype: da, weak: wa, integral: integral(a) },
                  { dtype: db, weak: wb, integral: integral(b) },
                ]).dtype;
                expect(
                  promoted("t", [a, b]),
                  `${da}${wa ? "(weak)" : ""} ${va}, ${db}${wb ? "(weak)" : ""} ${vb}`,
                ).toBe(want);
              }
  });
});

describe("immutable arrays", () => {
  it("shape, dtype and storage cannot be reassigned; the shape is frozen", () => {
    const x = nb.array([1, 2]) as unknown as Record<string, unknown>;
    expect(() => (x.shape = [3])).toThrow(TypeError);
    expect(() => (x.dtype = "int32")).toThrow(TypeError);
    expect(() => (x.data = new Float64Array(2))).toThrow(TypeError);
    expect(() => (x.weakType = true)).toThrow(TypeError);
    expect(Object.isFrozen(nb.array([1, 2]).shape)).toBe(true);
    expect(Object.isFrozen(nb.array(1).shape)).toBe(true);
    expect(nb.array([1, 2]).toArray()).toEqual([1, 2]);
  });
});

describe("CSE through per-variable use lists", () => {
  const count = (f: (x: A, y: A) => A): number => nb.makeGraph(f)(nb.zeros([3]), nb.zeros([3])).equations.length;

  it("merges repeated and commuted parameterless equations, not different ones", () => {
    // mul(x, y) twice and mul(y, x): one mul; then the add of it to itself
    expect(count((x, y) => nb.add(nb.mul(x, y), nb.mul(y, x)))).toBe(2);
    // sub does not commute: two subs and an add
    expect(count((x, y) => nb.add(nb.sub(x, y), nb.sub(y, x)))).toBe(3);
    // same operands, different primitives: mul, add, and the final add
    expect(count((x, y) => nb.add(nb.mul(x, y), nb.add(x, y)))).toBe(3);
    // unary: sin(x) twice is one sin
    expect(count((x) => nb.mul(nb.sin(x), nb.sin(x)))).toBe(2);
  });

  it("merges beyond a variable's first 16 equations (the keyed overflow)", () => {
    const f = (x: A, y: A): A => {
      const once = (): A[] => Array.from({ length: 30 }, (_, k) => nb.mul(nb.add(x, k), y));
      const a = once();
      const b = once();
      let s = a[0]!;
      for (let k = 1; k < 30; k++) s = nb.add(s, a[k]!);
      for (let k = 0; k < 30; k++) expect(b[k]).toBe(a[k]);
      return s;
    };
    // 30 adds of x and a literal, 30 muls by y (each the newest operand of its mul), 29 adds
    expect(count(f)).toBe(89);
  });

  it("equations with parameters are still merged by key", () => {
    expect(count((x) => nb.add(nb.sum(x, 0), nb.sum(x, 0)))).toBe(2);
    // keepdims is reduce_sum then reshape; the reduce_sum is shared: reduce_sum, reshape, add
    expect(count((x) => nb.add(nb.sum(x, 0, true), nb.sum(x, 0)))).toBe(3);
    // different axes parameters are different equations: two reduce_sums, one add
    expect(nb.makeGraph((x: A) => nb.add(nb.sum(x, 0), nb.sum(x, 1)))(nb.zeros([3, 3])).equations.length).toBe(3);
  });
});

describe("pytree fast paths", () => {
  it("a leaf and flat arrays of leaves have the general path's structure", () => {
    expect(nb.tree.structure(1).toString()).toBe("*");
    expect(nb.tree.structure([1, nb.array(2), true]).toString()).toBe("[*, *, *]");
    expect(nb.tree.structure([1, 2]).equals(nb.tree.structure([nb.array([1]), 3]))).toBe(true);
    expect(nb.tree.structure([1, 2]).equals(nb.tree.structure([1, [2]]))).toBe(false);
    const [leaves, def] = nb.tree.flatten([1, 2]);
    expect(nb.tree.unflatten(def, leaves)).toEqual([1, 2]);
    expect(nb.tree.unflatten(nb.tree.structure(5), [7])).toBe(7);
  });

  it("holey and undefined items still take the general path", () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => nb.tree.flatten([1, , 2])).toThrow(nb.ShapeError);
    expect(nb.tree.structure([1, undefined]).toString()).not.toBe("[*, *]");
  });

  it("returned lists are fresh (the caller's array is not kept)", () => {
    const xs = [1, 2];
    const [leaves] = nb.tree.flatten(xs);
    expect(leaves).not.toBe(xs);
  });
});

describe("transposition tables", () => {
  it("gradients through one trace (dense ids) and through cond and jit (other graphs) are right", () => {
    // d/dx (x³ + 2x) = 3x² + 2: 29 at 3
    const f = (x: A): A => nb.add(nb.mul(nb.mul(x, x), x), nb.mul(x, 2));
    expect(nb.grad(f)(3).item()).toBe(29);
    expect(nb.grad(nb.jit(f))(3).item()).toBe(29);
    expect(nb.jit(nb.grad(f))(3).item()).toBe(29);
    const g = (x: A): A =>
      nb.cond(
        nb.greater(x, 0),
        (y: A) => f(y),
        (y: A) => nb.neg(y),
        x,
      );
    expect(nb.grad(g)(3).item()).toBe(29);
    expect(nb.grad(g)(-3).item()).toBe(-1);
    expect(nb.grad(nb.grad(f))(3).item()).toBe(18);
  });
});
