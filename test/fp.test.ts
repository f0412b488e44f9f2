/**
 * nabla/fp: Either-returning variants and fp-ts instances. Expected values
 * come from closed forms or plain JS; instance laws are checked with
 * fast-check on integer-valued arrays (so float sums and products are exact).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { flow, pipe } from "fp-ts/lib/function.js";
import { concatAll } from "fp-ts/lib/Monoid.js";
import * as RA from "fp-ts/lib/ReadonlyArray.js";
import { contramap } from "fp-ts/lib/Eq.js";
import * as nb from "../src/index.js";
import * as nbf from "../src/fp/index.js";
import { nablaError } from "./support/assert.js";

const SEED = 20240611;
const opts = { seed: SEED, numRuns: 100 };

/** Unwraps a Right or fails the test with the Left. */
function rightOf<A>(r: E.Either<nb.NablaError, A>): A {
  if (E.isLeft(r)) throw new Error(`expected Right, got Left(${r.left.name}: ${r.left.message})`);
  return r.right;
}

/** Unwraps a Left or fails the test. */
function leftOf<A>(r: E.Either<nb.NablaError, A>): nb.NablaError {
  if (E.isRight(r)) throw new Error(`expected Left, got Right(${String(r.right)})`);
  return r.left;
}

/** The elements as plain numbers (-0 read as 0, so comparisons with JS references are exact). */
function values(x: nb.NDArray): number[] {
  return Array.from(x.toTypedArray(), (v) => v + 0);
}

// Small integer-valued float64 arrays of a shared random shape.
const arbShape = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 });
const arbInts = (n: number) => fc.array(fc.integer({ min: -20, max: 20 }), { minLength: n, maxLength: n });
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const arbTriple = arbShape.chain((shape) =>
  fc.tuple(fc.constant(shape), arbInts(size(shape)), arbInts(size(shape)), arbInts(size(shape))),
);
const mk = (shape: number[], data: number[]) => nb.array(new Float64Array(data), { shape });

describe("attempt and liftE", () => {
  it("returns Right with the value when nothing throws", () => {
    const r = nbf.attempt(() => nb.add(nb.array([1, 2]), nb.array([3, 4])));
    expect(values(rightOf(r))).toEqual([4, 6]);
  });

  it("returns Left with the NablaError subclass when nabla throws", () => {
    const e = leftOf(nbf.attempt(() => nb.add(nb.zeros([2]), nb.zeros([3]))));
    expect(e).toBeInstanceOf(nb.ShapeError);
    expect(e.message).toMatch(/add/);
  });

  it("rethrows errors that are not NablaErrors", () => {
    expect(() =>
      nbf.attempt(() => {
        throw new TypeError("user bug");
      }),
    ).toThrow(TypeError);
    const bad = nbf.gradE((_x: nb.NDArray) => {
      throw new RangeError("inside f");
    });
    expect(() => bad(1)).toThrow(RangeError);
  });

  it("lifts any throwing function", () => {
    const safeMatmul = nbf.liftE(nb.matmul);
    expect(leftOf(safeMatmul(nb.eye(2), nb.ones([3])))).toBeInstanceOf(nb.ShapeError);
    expect(values(rightOf(safeMatmul(nb.eye(2), nb.array([5, 7]))))).toEqual([5, 7]);
  });
});

describe("Either-returning variants", () => {
  it("arrayE: Right for a well-formed literal, Left(ShapeError) for a ragged one, Left(DTypeError) for a bad dtype", () => {
    const x = rightOf(
      nbf.arrayE([
        [1, 2],
        [3, 4],
      ]),
    );
    expect(x.shape).toEqual([2, 2]);
    expect(x.toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(leftOf(nbf.arrayE([[1, 2], [3]]))).toBeInstanceOf(nb.ShapeError);
    expect(leftOf(nbf.arrayE([1], { dtype: "complex64" as nb.DType }))).toBeInstanceOf(nb.DTypeError);
  });

  it("gradE: the gradient of sum(x^2) is 2x; non-scalar outputs and int inputs are Lefts", () => {
    const f = (x: nb.NDArray) => nb.sum(nb.mul(x, x));
    expect(values(rightOf(nbf.gradE(f)(nb.array([1, -2, 3]))))).toEqual([2, -4, 6]);
    expect(leftOf(nbf.gradE((x: nb.NDArray) => nb.mul(x, x))(nb.array([1, 2])))).toBeInstanceOf(nb.GradError);
    expect(leftOf(nbf.gradE(f)(nb.arange(3)))).toBeInstanceOf(nb.DTypeError);
  });

  it("gradE passes options through (argnums, hasAux)", () => {
    const f = (x: nb.NDArray, y: nb.NDArray) => nb.mul(x, nb.mul(y, y));
    const [gx, gy] = rightOf(nbf.gradE(f, { argnums: [0, 1] })(2, 3));
    expect(gx.item()).toBe(9);
    expect(gy.item()).toBe(12);
    const [g, aux] = rightOf(
      nbf.gradE((x: nb.NDArray) => [nb.mul(x, x), { cube: nb.mul(x, nb.mul(x, x)) }], { hasAux: true })(5),
    );
    expect(g.item()).toBe(10);
    expect(aux.cube.item()).toBe(125);
  });

  it("valueAndGradE gives [x^2, 2x]", () => {
    const [v, g] = rightOf(nbf.valueAndGradE((x: nb.NDArray) => nb.mul(x, x))(3));
    expect(v.item()).toBe(9);
    expect(g.item()).toBe(6);
    expect(leftOf(nbf.valueAndGradE((x: nb.NDArray) => x)(nb.ones([2])))).toBeInstanceOf(nb.GradError);
  });

  it("jvpE gives [sin x, cos x · t]; mismatched tangents are Lefts", () => {
    const [y, dy] = rightOf(nbf.jvpE(nb.sin, [0.5], [2]));
    expect(y.item()).toBeCloseTo(Math.sin(0.5), 14);
    expect(dy.item()).toBeCloseTo(2 * Math.cos(0.5), 14);
    const e = leftOf(nbf.jvpE(nb.sin, [nb.zeros([2])], [nb.ones([3])]));
    expect(e).toBeInstanceOf(nb.ShapeError);
    expect(e.message).toMatch(/\[3\]/);
  });

  it("vjpE: the pullback itself returns Results", () => {
    const [out, pull] = rightOf(nbf.vjpE((x: nb.NDArray) => nb.mul(x, x), 3));
    expect(out.item()).toBe(9);
    const [ct] = rightOf(pull(1));
    expect(ct.item()).toBe(6);
    expect(leftOf(pull(nb.ones([4])))).toBeInstanceOf(nb.ShapeError);
    expect(leftOf(nbf.vjpE((x: nb.NDArray) => x, nb.arange(2)))).toBeInstanceOf(nb.DTypeError);
  });

  it("linearizeE: the linear map itself returns Results", () => {
    const [y, push] = rightOf(nbf.linearizeE(nb.exp, 1));
    expect(y.item()).toBeCloseTo(Math.E, 14);
    expect(rightOf(push(2)).item()).toBeCloseTo(2 * Math.E, 14);
    expect(leftOf(push(nb.ones([2])))).toBeInstanceOf(nb.ShapeError);
  });

  it("jacfwdE and jacrevE agree with the closed form diag(cos x)", () => {
    const xs = [0.1, -0.7, 1.3];
    const expected = xs.flatMap((xi, i) => xs.map((_, j) => (i === j ? Math.cos(xi) : 0)));
    for (const jac of [nbf.jacfwdE, nbf.jacrevE]) {
      const J = rightOf(jac(nb.sin)(nb.array(xs)));
      expect(J.shape).toEqual([3, 3]);
      values(J).forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 14));
      expect(leftOf(jac(nb.sin)(nb.arange(2)))).toBeInstanceOf(nb.DTypeError);
    }
  });

  it("hessianE of the Rosenbrock function matches the closed form", () => {
    const rosen = (x: nb.NDArray) => {
      const a = nb.slice(x, [0], [1]);
      const b = nb.slice(x, [1], [2]);
      return nb.sum(nb.add(nb.square(nb.sub(1, a)), nb.mul(100, nb.square(nb.sub(b, nb.square(a))))));
    };
    const [a, b] = [0.5, -1.5];
    const H = rightOf(nbf.hessianE(rosen)(nb.array([a, b])));
    const expected = [2 - 400 * (b - a * a) + 800 * a * a, -400 * a, -400 * a, 200];
    values(H).forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 10));
    expect(leftOf(nbf.hessianE(rosen)(nb.array([1, 2], { dtype: "int32" })))).toBeInstanceOf(nb.DTypeError);
  });
});

describe("composition with fp-ts", () => {
  it("pipe(f, nb.grad, nb.grad) is the second derivative", () => {
    const d2 = pipe(nb.sin, nb.grad, nb.grad);
    for (const x of [-1, 0.3, 2]) expect(d2(x).item()).toBeCloseTo(-Math.sin(x), 13);
  });

  it("flow composes transforms: third derivative of sin(x)·exp(x) is 2^(3/2) e^x sin(x + 3π/4)", () => {
    const d3 = flow(nb.grad, nb.grad, nb.grad)((x: nb.NDArray) => nb.mul(nb.sin(x), nb.exp(x)));
    const x = 0.4;
    expect(d3(x).item()).toBeCloseTo(2 ** 1.5 * Math.exp(x) * Math.sin(x + (3 * Math.PI) / 4), 12);
  });

  it("chains Results: a ragged literal short-circuits, a good one flows through gradE", () => {
    const f = (x: nb.NDArray) => nb.sum(nb.exp(x));
    const run = (data: nb.Nested) => pipe(nbf.arrayE(data), E.chain(nbf.gradE(f)));
    expect(values(rightOf(run([0, 1])))).toEqual([1, Math.exp(1)]);
    expect(leftOf(run([[0, 1], [2]]))).toBeInstanceOf(nb.ShapeError);
    // mapLeft sees the error class name
    const named = pipe(
      run([[0], []]),
      E.mapLeft((e) => e.name),
    );
    expect(named).toEqual(E.left("ShapeError"));
  });
});

describe("EqNDArray", () => {
  it("compares shape, dtype and values", () => {
    const eq = nbf.EqNDArray.equals;
    expect(eq(nb.array([1, 2]), nb.array([1, 2]))).toBe(true);
    expect(eq(nb.array([1, 2]), nb.array([1, 3]))).toBe(false);
    expect(eq(nb.array([1, 2]), nb.array([1, 2], { dtype: "float32" }))).toBe(false);
    expect(eq(nb.array([1, 2, 3, 4]), nb.array([1, 2, 3, 4], { shape: [2, 2] }))).toBe(false);
    expect(eq(nb.array([1]), nb.array(1))).toBe(false);
    expect(eq(nb.zeros([0, 2]), nb.zeros([0, 3]))).toBe(false);
    expect(eq(nb.array([true, false]), nb.array([true, false]))).toBe(true);
  });

  it("is reflexive for NaN and identifies 0 with -0", () => {
    expect(nbf.EqNDArray.equals(nb.array([NaN, 1]), nb.array([NaN, 1]))).toBe(true);
    expect(nbf.EqNDArray.equals(nb.array([0]), nb.array([-0]))).toBe(true);
  });

  it("satisfies the Eq laws (reflexive, symmetric, transitive) on random arrays", () => {
    const eq = nbf.EqNDArray.equals;
    fc.assert(
      fc.property(arbTriple, ([shape, a, b, c]) => {
        const [x, y, z] = [mk(shape, a), mk(shape, b), mk(shape, c)];
        expect(eq(x, mk(shape, a))).toBe(true);
        expect(eq(x, y)).toBe(eq(y, x));
        if (eq(x, y) && eq(y, z)) expect(eq(x, z)).toBe(true);
        expect(eq(x, y)).toBe(a.every((v, i) => v === b[i]));
      }),
      opts,
    );
  });

  it("lifts through fp-ts combinators", () => {
    const eqList = RA.getEq(nbf.EqNDArray);
    expect(eqList.equals([nb.array(1), nb.array([2])], [nb.array(1), nb.array([2])])).toBe(true);
    expect(eqList.equals([nb.array(1)], [nb.array(2)])).toBe(false);
    const byGrad = contramap((f: (x: nb.NDArray) => nb.NDArray) => nb.grad(f)(nb.array(0.25)) as nb.NDArray)(
      nbf.EqNDArray,
    );
    // d/dx x^2 = 2x and d/dx (x^2 + 7) agree everywhere
    expect(
      byGrad.equals(
        (x) => nb.mul(x, x),
        (x) => nb.add(nb.mul(x, x), 7),
      ),
    ).toBe(true);
    expect(
      byGrad.equals(
        (x) => nb.mul(x, x),
        (x) => nb.mul(x, 3),
      ),
    ).toBe(false);
  });
});

describe("ShowNDArray", () => {
  it("renders like toString", () => {
    const x = nb.array([
      [1, 2],
      [3, 4],
    ]);
    expect(nbf.ShowNDArray.show(x)).toBe(x.toString());
    expect(nbf.ShowNDArray.show(nb.array([1, 2]))).toBe("array([1., 2.])");
  });
});

describe("Semigroup and Monoid instances", () => {
  it("SemigroupSum adds elementwise (plain-JS reference) and is associative", () => {
    const { concat } = nbf.SemigroupSum;
    fc.assert(
      fc.property(arbTriple, ([shape, a, b, c]) => {
        const [x, y, z] = [mk(shape, a), mk(shape, b), mk(shape, c)];
        expect(values(concat(x, y))).toEqual(a.map((v, i) => v + b[i]!));
        expect(values(concat(concat(x, y), z))).toEqual(values(concat(x, concat(y, z))));
      }),
      opts,
    );
  });

  it("SemigroupProduct multiplies elementwise (plain-JS reference) and is associative", () => {
    const { concat } = nbf.SemigroupProduct;
    fc.assert(
      fc.property(arbTriple, ([shape, a, b, c]) => {
        const [x, y, z] = [mk(shape, a), mk(shape, b), mk(shape, c)];
        expect(values(concat(x, y))).toEqual(a.map((v, i) => v * b[i]! + 0));
        expect(values(concat(concat(x, y), z))).toEqual(values(concat(x, concat(y, z))));
      }),
      opts,
    );
  });

  it("SemigroupSum broadcasts", () => {
    const r = nbf.SemigroupSum.concat(nb.array([[1], [2]]), nb.array([10, 20, 30]));
    expect(r.toArray()).toEqual([
      [11, 21, 31],
      [12, 22, 32],
    ]);
  });

  it("getMonoidSum: empty is zeros of the shape and dtype, and is an identity", () => {
    fc.assert(
      fc.property(arbTriple, ([shape, a]) => {
        const M = nbf.getMonoidSum(shape);
        const x = mk(shape, a);
        expect(nbf.EqNDArray.equals(M.concat(M.empty, x), x)).toBe(true);
        expect(nbf.EqNDArray.equals(M.concat(x, M.empty), x)).toBe(true);
      }),
      opts,
    );
    const M32 = nbf.getMonoidSum([2, 3], "float32");
    expect(M32.empty.dtype).toBe("float32");
    expect(M32.empty.shape).toEqual([2, 3]);
    expect(values(M32.empty)).toEqual([0, 0, 0, 0, 0, 0]);
    const total = concatAll(nbf.getMonoidSum([2]))([nb.array([1, 2]), nb.array([3, 4]), nb.array([5, 6])]);
    expect(values(total)).toEqual([9, 12]);
    expect(values(concatAll(nbf.getMonoidSum([2]))([]))).toEqual([0, 0]);
  });

  it("getMonoidProduct: empty is ones, and is an identity", () => {
    fc.assert(
      fc.property(arbTriple, ([shape, a]) => {
        const M = nbf.getMonoidProduct(shape);
        const x = mk(shape, a);
        expect(nbf.EqNDArray.equals(M.concat(M.empty, x), x)).toBe(true);
        expect(nbf.EqNDArray.equals(M.concat(x, M.empty), x)).toBe(true);
      }),
      opts,
    );
    const p = concatAll(nbf.getMonoidProduct([2]))([nb.array([1, 2]), nb.array([3, 4])]);
    expect(values(p)).toEqual([3, 8]);
    expect(nbf.getMonoidProduct([], "int32").empty.toArray()).toBe(1);
  });

  it("the sum monoid folds gradients: grad of a sum is the sum of grads", () => {
    const fs = [(x: nb.NDArray) => nb.sum(nb.sin(x)), (x: nb.NDArray) => nb.sum(nb.mul(x, x))];
    const x = nb.array([0.2, -0.9]);
    const summed = concatAll(nbf.getMonoidSum([2]))(fs.map((f) => nb.grad(f)(x)));
    const expected = [0.2, -0.9].map((v) => Math.cos(v) + 2 * v);
    values(summed).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 14));
  });
});

describe("bad input: errors name the nabla/fp function called", () => {
  it("getMonoidSum / getMonoidProduct check the shape and dtype themselves (not zeros / ones)", () => {
    expect(nablaError(() => nbf.getMonoidSum([-1]), "getMonoidSum")).toBeInstanceOf(nb.ShapeError);
    expect(nablaError(() => nbf.getMonoidProduct([-1]), "getMonoidProduct")).toBeInstanceOf(nb.ShapeError);
    nablaError(() => nbf.getMonoidSum("2" as never), "getMonoidSum");
    nablaError(() => nbf.getMonoidProduct([2, 1.5]), "getMonoidProduct");
    expect(nablaError(() => nbf.getMonoidSum([2], "f64" as never), "getMonoidSum")).toBeInstanceOf(nb.DTypeError);
    expect(nablaError(() => nbf.getMonoidProduct([2], "f64" as never), "getMonoidProduct")).toBeInstanceOf(
      nb.DTypeError,
    );
    // the valid calls are unchanged
    expect(Array.from(nbf.getMonoidSum([2], "int32").empty.toTypedArray())).toEqual([0, 0]);
    expect(nbf.getMonoidProduct([]).empty.item()).toBe(1);
  });

  it("attempt and liftE refuse a non-function with a NablaError (not a TypeError)", () => {
    nablaError(() => nbf.attempt(3 as never), "attempt");
    nablaError(() => nbf.liftE(3 as never), "liftE");
    // a thunk returning undefined is fine
    expect(E.isRight(nbf.attempt(() => undefined))).toBe(true);
  });

  it("the E variants of the transforms name themselves when the transform cannot be built", () => {
    expect(nablaError(() => nbf.gradE(3 as never), "gradE").message).not.toMatch(/^gradE: grad:/);
    const e = nablaError(() => nbf.gradE(nb.sin, { argnum: 1 } as never), "gradE");
    expect(e.message).toContain('unknown option "argnum"');
    nablaError(() => nbf.valueAndGradE(3 as never), "valueAndGradE");
    nablaError(() => nbf.jacfwdE(nb.sin, { argnum: 0 } as never), "jacfwdE");
    nablaError(() => nbf.jacrevE(3 as never), "jacrevE");
    nablaError(() => nbf.hessianE(3 as never), "hessianE");
  });

  it("the instances check their arguments and name themselves", () => {
    nablaError(() => nbf.EqNDArray.equals(3 as never, nb.ones([1])), "EqNDArray.equals");
    nablaError(() => nbf.EqNDArray.equals(nb.ones([1]), [1] as never), "EqNDArray.equals");
    nablaError(
      () => nbf.EqNDArray.equals({ dtype: "float64", shape: [1] } as never, { dtype: "float64", shape: [1] } as never),
      "EqNDArray.equals",
    );
    nablaError(() => nbf.ShowNDArray.show(null as never), "ShowNDArray.show");
    const sum = nablaError(() => nbf.SemigroupSum.concat(nb.ones([2]), nb.ones([3])), "SemigroupSum.concat");
    expect(sum).toBeInstanceOf(nb.ShapeError);
    expect(sum.message).toContain("[2]");
    const prod = nablaError(
      () => concatAll(nbf.getMonoidProduct([2]))([nb.ones([2]), nb.ones([3])]),
      "SemigroupProduct.concat",
    );
    expect(prod).toBeInstanceOf(nb.ShapeError);
  });
});
