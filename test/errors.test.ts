/**
 * The error hierarchy of API.md "Errors": every error is an nb.NablaError;
 * ShapeError, DTypeError, TracerError and GradError are its subclasses; the
 * message names the operation and the offending shapes or dtypes.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { at } from "../src/core/errors.js";

type A = nb.NDArray;

/** Runs `f`, expecting it to throw an instance of `cls`; returns the error. */
function thrown<E extends Error>(f: () => unknown, cls: abstract new (...args: never[]) => E): E {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    expect(e).toBeInstanceOf(nb.NablaError);
    expect(e).toBeInstanceOf(Error);
    return e as E;
  }
  return expect.fail(`expected ${cls.name} to be thrown`);
}

describe("error classes", () => {
  it("NablaError is the base class of every nabla error", () => {
    for (const cls of [nb.ShapeError, nb.DTypeError, nb.TracerError, nb.GradError]) {
      const e = new cls("x");
      expect(e).toBeInstanceOf(nb.NablaError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(cls.name);
    }
    expect(new nb.NablaError("m").name).toBe("NablaError");
    // a misuse that is none of the specific kinds still throws a NablaError naming the transform:
    // with hasAux, f must return a pair [out, aux]
    const e = thrown(() => nb.grad((x: A) => nb.mul(x, x), { hasAux: true })(nb.array(2)), nb.NablaError);
    expect(e.message).toMatch(/grad/);
    expect(e.message).toMatch(/aux/);
    // and a sample of misuses of every kind are all NablaErrors
    const misuses: (() => unknown)[] = [
      () => nb.add([1, 2], [1, 2, 3]),
      () => nb.grad((x: A) => nb.sum(x))(nb.arange(3)),
      () => nb.makeGraph((x: A) => x.item())(1),
      () => nb.grad((x: A) => x)(nb.array([1, 2])),
      () => nb.array([[1], [2, 3]]),
      () => nb.zeros([2]).item(),
    ];
    for (const m of misuses) thrown(m, nb.NablaError);
  });

  it("ShapeError: incompatible shapes, ragged literals, bad axes; message names op and shapes", () => {
    let e = thrown(() => nb.add(nb.zeros([2]), nb.zeros([3])), nb.ShapeError);
    expect(e.message).toMatch(/\badd\b/);
    expect(e.message).toContain("[2]");
    expect(e.message).toContain("[3]");

    e = thrown(() => nb.matmul(nb.zeros([2, 3]), nb.zeros([4, 5])), nb.ShapeError);
    expect(e.message).toMatch(/matmul/);
    expect(e.message).toContain("[2,3]");
    expect(e.message).toContain("[4,5]");

    e = thrown(() => nb.reshape(nb.zeros([2, 3]), [4, -1]), nb.ShapeError);
    expect(e.message).toMatch(/reshape/);
    expect(e.message).toContain("[2,3]");

    e = thrown(() => nb.array([[1, 2], [3]]), nb.ShapeError);
    expect(e.message).toMatch(/array/);
    expect(e.message).toMatch(/ragged/);

    e = thrown(() => nb.sum(nb.zeros([2, 3]), 2), nb.ShapeError);
    expect(e.message).toMatch(/sum/);
    expect(e.message).toMatch(/axis 2/);

    e = thrown(() => nb.concatenate([nb.zeros([2, 3]), nb.zeros([2, 4])], 0), nb.ShapeError);
    expect(e.message).toMatch(/concatenate/);
    expect(e.message).toContain("[2,3]");
    expect(e.message).toContain("[2,4]");

    e = thrown(() => nb.jvp(nb.sin, [nb.zeros([2])], [nb.zeros([3])]), nb.ShapeError);
    expect(e.message).toMatch(/jvp/);
    expect(e.message).toContain("[3]");
    expect(e.message).toContain("[2]");

    e = thrown(() => nb.array([1, 2]).item(), nb.ShapeError);
    expect(e.message).toMatch(/item/);
    expect(e.message).toContain("[2]");
  });

  it("DTypeError: differentiating with respect to int32 or bool inputs, bad dtypes; message names op and dtypes", () => {
    let e = thrown(() => nb.grad((x: A) => nb.sum(x))(nb.arange(3)), nb.DTypeError);
    expect(e.message).toMatch(/grad/);
    expect(e.message).toMatch(/int32/);
    expect(e.message).toContain("[3]");

    e = thrown(() => nb.jacrev((x: A) => nb.sum(x))(nb.array([true, false])), nb.DTypeError);
    expect(e.message).toMatch(/jacrev/);
    expect(e.message).toMatch(/bool/);

    e = thrown(
      () => nb.jvp((x: A) => x, [nb.array([1, 2], { dtype: "int32" })], [nb.array([1, 1], { dtype: "int32" })]),
      nb.DTypeError,
    );
    expect(e.message).toMatch(/jvp/);
    expect(e.message).toMatch(/int32/);

    e = thrown(() => nb.neg(nb.array([true])), nb.DTypeError);
    expect(e.message).toMatch(/neg/);
    expect(e.message).toMatch(/bool/);

    e = thrown(() => nb.array([1], { dtype: "complex64" as nb.DType }), nb.DTypeError);
    expect(e.message).toMatch(/array/);
    expect(e.message).toMatch(/complex64/);

    // hessian is jacfwd(jacrev(f)) inside, but its errors name hessian
    e = thrown(() => nb.hessian((x: A) => nb.sum(x))(nb.array([1, 2], { dtype: "int32" })), nb.DTypeError);
    expect(e.message).toMatch(/^hessian: /);
    expect(e.message).toMatch(/int32/);

    e = thrown(() => nb.jvp(nb.sin, [nb.zeros([2])], [nb.zeros([2], { dtype: "float32" })]), nb.DTypeError);
    expect(e.message).toMatch(/jvp/);
    expect(e.message).toMatch(/float32/);
    expect(e.message).toMatch(/float64/);
  });

  it("TracerError: escaped tracers and concretization while staging; message names op and aval", () => {
    let leaked: A | null = null;
    nb.grad((x: A) => {
      leaked = x;
      return nb.mul(x, x);
    })(nb.zeros([2, 2]).sum());
    let e = thrown(() => nb.mul(leaked!, 2), nb.TracerError);
    expect(e.message).toMatch(/\bmul\b/);
    expect(e.message).toMatch(/escaped|after its transform returned/);
    // nb.array and devicePut of a dead tracer throw at once (they used to hand it back)
    expect(thrown(() => nb.array(leaked!), nb.TracerError).message).toMatch(/^array: .*escaped tracer/);
    expect(thrown(() => nb.array(leaked!, { dtype: "float64" }), nb.TracerError).message).toMatch(/^array: /);
    expect(thrown(() => nb.devicePut(leaked!, "cpu"), nb.TracerError).message).toMatch(/^devicePut: /);

    e = thrown(() => nb.makeGraph((x: A) => (x.item() > 0 ? x : nb.neg(x)))(nb.zeros([1, 1])), nb.TracerError);
    expect(e.message).toMatch(/item/);
    expect(e.message).toMatch(/f64\[1,1\]|\[1,1\]/);

    e = thrown(
      () => nb.makeGraph((x: A) => ((x as unknown as number) > 0 ? x : nb.neg(x)))(nb.array(1, { dtype: "float32" })),
      nb.TracerError,
    );
    expect(e.message).toMatch(/valueOf/);
    expect(e.message).toMatch(/f32/);
  });

  it("GradError: grad of a non-scalar output, bad argnums; message names op and shapes", () => {
    let e = thrown(() => nb.grad((x: A) => nb.mul(x, 2))(nb.array([1, 2])), nb.GradError);
    expect(e.message).toMatch(/grad/);
    expect(e.message).toContain("[2]");

    e = thrown(() => nb.valueAndGrad((x: A) => nb.outer(x, x))(nb.array([1, 2, 3])), nb.GradError);
    expect(e.message).toMatch(/valueAndGrad/);
    expect(e.message).toContain("[3,3]");

    e = thrown(() => nb.grad((x: A) => [x, x])(nb.array(1)), nb.GradError);
    expect(e.message).toMatch(/grad/);

    e = thrown(() => nb.hessian((x: A) => nb.sum(x), { argnums: 3 })(nb.array([1])), nb.GradError);
    expect(e.message).toMatch(/^hessian: argnums 3/);

    e = thrown(() => nb.grad((x: A, y: A) => nb.mul(x, y), { argnums: 2 })(nb.array(1), nb.array(2)), nb.GradError);
    expect(e.message).toMatch(/grad/);
    expect(e.message).toMatch(/argnums/);
  });

  it("matmul, take and takeAlongAxis name the operands' own shapes, not intermediate ones", () => {
    // batch dimensions that do not broadcast: both operands' full shapes, not only [2] and [3]
    let e = thrown(() => nb.matmul(nb.zeros([2, 3, 4]), nb.zeros([3, 4, 5])), nb.ShapeError);
    expect(e.message).toMatch(/^matmul: /);
    expect(e.message).toContain("[2,3,4]");
    expect(e.message).toContain("[3,4,5]");
    e = thrown(() => nb.matmul(nb.zeros([5, 2, 2, 3]), nb.zeros([4, 3, 1])), nb.ShapeError);
    expect(e.message).toContain("[5,2,2,3]");
    expect(e.message).toContain("[4,3,1]");
    // an axis out of range: the shape as well as the rank
    for (const axis of [2, -3]) {
      e = thrown(() => nb.take(nb.zeros([2, 3]), [0], axis), nb.ShapeError);
      expect(e.message).toMatch(new RegExp(`^take: axis ${axis} is out of bounds for an array of rank 2`));
      expect(e.message).toContain("[2,3]");
      e = thrown(() => nb.takeAlongAxis(nb.zeros([2, 3]), nb.zeros([2, 1], { dtype: "int32" }), axis), nb.ShapeError);
      expect(e.message).toMatch(/^takeAlongAxis: /);
      expect(e.message).toContain("[2,3]");
    }
    // indices that do not broadcast against x off the axis: x's and the indices' shapes, not [2,1] and [3,1]
    e = thrown(() => nb.takeAlongAxis(nb.zeros([2, 3]), nb.zeros([3, 1], { dtype: "int32" }), 1), nb.ShapeError);
    expect(e.message).toMatch(/^takeAlongAxis: /);
    expect(e.message).toContain("[2,3]");
    expect(e.message).toContain("[3,1]");
    expect(e.message).not.toContain("[2,1]");
  });
});

describe("at(): the checked read that replaces non-null assertions", () => {
  it("returns the element or entry when present (0, false and null included)", () => {
    expect(at([0, 1], 0)).toBe(0);
    expect(at([false], 0, "f")).toBe(false);
    expect(at([null], 0, "f")).toBe(null);
    expect(at({ a: 2 }, "a", "f")).toBe(2);
    expect(at({ 3: "x" } as Record<number, string>, 3, "f")).toBe("x");
  });
  it("throws a NablaError naming the function and saying the bug is nabla's", () => {
    expect(thrown(() => at([1], 2, "svd"), nb.NablaError).message).toBe(
      "svd: internal: index 2 out of range of length 1",
    );
    expect(thrown(() => at([1], -1), nb.NablaError).message).toBe("internal: index -1 out of range of length 1");
    expect(thrown(() => at({ a: 1 } as Record<string, number>, "b", "adam"), nb.NablaError).message).toBe(
      "adam: internal: no entry b",
    );
  });
});
