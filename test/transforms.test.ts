/**
 * Unit tests of each transform's contract (API.md "Transforms"): argument and
 * result structure, shapes and dtypes, and values checked against hand-derived
 * closed forms or central finite differences computed here in plain JS.
 *
 * Tolerances (float64): closed forms are compared at 1e-12 relative (exact
 * derivatives, a few roundings apart). Central differences with step h = 1e-5
 * have truncation error ~h²·|f'''|/6 ≈ 1e-10 and rounding error
 * ~eps·|f|/h ≈ 1e-11 for the O(1) functions used, so they are compared at
 * 1e-7. float32 closed forms are compared at 1e-5 (float32 epsilon 1.2e-7,
 * times the handful of operations in each derivative).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { fdJacobian } from "./support/reference.js";
import { expectClose } from "./support/assert.js";

type A = nb.NDArray;
const CF = 1e-12;
const FD = 1e-7;
const F32 = 1e-5;

// f(x) = [x0 x1 sin(x2), exp(x0) + x1²]; the same function in nabla and in JS.
const fNb = (x: A): A => {
  const x0 = nb.slice(x, [0], [1]);
  const x1 = nb.slice(x, [1], [2]);
  const x2 = nb.slice(x, [2], [3]);
  return nb.concatenate([nb.mul(nb.mul(x0, x1), nb.sin(x2)), nb.add(nb.exp(x0), nb.mul(x1, x1))]);
};
const fJs = ([a, b, c]: number[]): number[] => [a! * b! * Math.sin(c!), Math.exp(a!) + b! * b!];
const jacClosed = ([a, b, c]: number[]): number[] => [
  b! * Math.sin(c!),
  a! * Math.sin(c!),
  a! * b! * Math.cos(c!),
  Math.exp(a!),
  2 * b!,
  0,
];
const X0 = [0.3, -1.2, 0.7];

describe("grad", () => {
  it("a JS number argument is a 0-d float64 array; the gradient is an NDArray", () => {
    const g = nb.grad((x: A) => nb.mul(nb.sin(x), x))(0.5);
    expect(g).toBeInstanceOf(nb.NDArray);
    expect(g.shape).toEqual([]);
    expect(g.dtype).toBe("float64");
    expectClose(g, Math.cos(0.5) * 0.5 + Math.sin(0.5), [], CF);
  });

  it("gradient of a scalar function of a matrix has the matrix's shape (closed form)", () => {
    // f(X) = sum(X²) + sum(sin X) ; ∇f = 2X + cos X
    const data = [0.1, -0.4, 1.3, 2.2, -0.9, 0.6];
    const X = nb.array(new Float64Array(data), { shape: [2, 3] });
    const g = nb.grad((x: A) => nb.add(nb.sum(nb.mul(x, x)), nb.sum(nb.sin(x))))(X);
    expectClose(
      g,
      data.map((v) => 2 * v + Math.cos(v)),
      [2, 3],
      CF,
    );
  });

  it("float32 inputs give float32 gradients", () => {
    const x = nb.array([0.5, 1.5], { dtype: "float32" });
    const g = nb.grad((v: A) => nb.sum(nb.mul(nb.exp(v), 3)))(x);
    expect(g.dtype).toBe("float32");
    expectClose(g, [3 * Math.exp(0.5), 3 * Math.exp(1.5)], [2], F32);
  });

  it("a size-1 output of any rank is accepted", () => {
    const g = nb.grad((v: A) => nb.reshape(nb.sum(nb.mul(v, v)), [1, 1]))(nb.array([1, 2]));
    expectClose(g, [2, 4], [2], CF);
  });

  it("an output that does not depend on the argument has a zero gradient of the argument's shape", () => {
    const g = nb.grad((_x: A) => nb.array(3))(nb.array([1, 2, 3]));
    expectClose(g, [0, 0, 0], [3], 0);
    const h = nb.grad((x: A) => nb.sum(nb.stopGradient(nb.mul(x, x))))(nb.array([1, 2]));
    expectClose(h, [0, 0], [2], 0);
  });

  it("extra arguments are constants by default", () => {
    const g = nb.grad((x: A, y: A) => nb.sum(nb.mul(x, y)))(nb.array([1, 2]), nb.array([5, 7]));
    expectClose(g, [5, 7], [2], CF);
  });

  it("agrees with central finite differences on a composite function", () => {
    const f = (x: A) =>
      nb.sum(
        nb.mul(
          nb.tanh(
            nb.matmul(
              nb.array([
                [1, -2, 0.5],
                [0.3, 0.7, -1],
              ]),
              x,
            ),
          ),
          nb.array([1.5, -0.5]),
        ),
      );
    const fj = (x: number[]) => {
      const r0 = Math.tanh(x[0]! - 2 * x[1]! + 0.5 * x[2]!);
      const r1 = Math.tanh(0.3 * x[0]! + 0.7 * x[1]! - x[2]!);
      return [1.5 * r0 - 0.5 * r1];
    };
    expectClose(nb.grad(f)(nb.array(X0)), fdJacobian(fj, X0), [3], FD);
  });
});

describe("valueAndGrad", () => {
  it("returns [value, gradient]", () => {
    const [v, g] = nb.valueAndGrad((x: A) => nb.sum(nb.exp(x)))(nb.array([0, 1]));
    expectClose(v, 1 + Math.E, [], CF);
    expectClose(g, [1, Math.E], [2], CF);
  });
  it("with argnums array gives an array of gradients", () => {
    const [v, [gx, gy]] = nb.valueAndGrad((x: A, y: A) => nb.mul(nb.mul(x, x), y), { argnums: [0, 1] })(3, 4);
    expectClose(v, 36, [], CF);
    expectClose(gx, 24, [], CF);
    expectClose(gy, 9, [], CF);
  });
});

describe("jvp", () => {
  it("returns [f(primals), J·tangents]; the tangent output matches the closed-form Jacobian", () => {
    const t = [1, -2, 0.5];
    const [y, dy] = nb.jvp(fNb, [nb.array(X0)], [nb.array(t)]);
    expectClose(y, fJs(X0), [2], CF);
    const J = jacClosed(X0);
    expectClose(
      dy,
      [0, 1].map((i) => J[3 * i]! * t[0]! + J[3 * i + 1]! * t[1]! + J[3 * i + 2]! * t[2]!),
      [2],
      CF,
    );
  });

  it("takes pytrees of primals and tangents; number tangents are accepted", () => {
    const f = (p: { a: A; b: A[] }, c: A) => nb.add(nb.mul(p.a, p.b[0]!), nb.mul(c, 2));
    const [y, dy] = nb.jvp(f, [{ a: 3, b: [4] }, 5], [{ a: 1, b: [0] }, 1]);
    expectClose(y, 22, [], CF);
    // d = b·da + a·db + 2·dc = 4 + 0 + 2
    expectClose(dy, 6, [], CF);
  });

  it("outputs may be pytrees; outputs independent of the input get zero tangents of their shape", () => {
    const [y, dy] = nb.jvp(
      (x: A) => ({ s: nb.sin(x), k: nb.zeros([2, 2]) }),
      [nb.array([0.1, 0.2])],
      [nb.array([1, 1])],
    );
    expectClose(y.s, [Math.sin(0.1), Math.sin(0.2)], [2], CF);
    expectClose(dy.s, [Math.cos(0.1), Math.cos(0.2)], [2], CF);
    expect(dy.k).toBeInstanceOf(nb.NDArray);
    expectClose(dy.k, [0, 0, 0, 0], [2, 2], 0);
  });

  it("a JS-number output becomes an NDArray leaf", () => {
    const [y, dy] = nb.jvp((_x: A) => 3, [1], [1]);
    expect(y).toBeInstanceOf(nb.NDArray);
    expect(dy).toBeInstanceOf(nb.NDArray);
    expect(y.item()).toBe(3);
    expect(dy.item()).toBe(0);
  });

  it("float32 primals keep float32 tangents", () => {
    const x = nb.array([0.25], { dtype: "float32" });
    const [y, dy] = nb.jvp(nb.sin, [x], [nb.array([2], { dtype: "float32" })]);
    expect(y.dtype).toBe("float32");
    expect(dy.dtype).toBe("float32");
    expectClose(dy, [2 * Math.cos(0.25)], [1], F32);
  });

  it("tangents must match the primals in structure and shape", () => {
    expect(() => nb.jvp(nb.sin, [nb.zeros([2])], [nb.zeros([3])])).toThrow(nb.ShapeError);
    // @ts-expect-error: two tangents for one primal
    expect(() => nb.jvp(nb.sin, [nb.zeros([2])], [nb.zeros([2]), 1])).toThrow(nb.ShapeError);
    // @ts-expect-error: the tangent's structure differs from the primal's
    expect(() => nb.jvp((p: { a: A }) => p.a, [{ a: 1 }], [{ b: 1 }])).toThrow(nb.ShapeError);
  });
});

describe("vjp", () => {
  it("returns [f(primals), vjpFn]; vjpFn(ct) gives one cotangent per primal (an array)", () => {
    const [y, pull] = nb.vjp(fNb, nb.array(X0));
    expectClose(y, fJs(X0), [2], CF);
    const ct = [0.7, -1.1];
    const cts = pull(nb.array(ct));
    expect(Array.isArray(cts)).toBe(true);
    expect(cts.length).toBe(1);
    const J = jacClosed(X0);
    expectClose(
      cts[0],
      [0, 1, 2].map((j) => ct[0]! * J[j]! + ct[1]! * J[3 + j]!),
      [3],
      CF,
    );
    // the pullback can be applied again
    expectClose(pull(nb.array([1, 0]))[0], J.slice(0, 3), [3], CF);
  });

  it("several primals, pytree primals and pytree outputs", () => {
    const f = (p: { w: A; b: A }, x: A) => ({ out: nb.add(nb.mul(p.w, x), p.b), sq: nb.sum(nb.mul(x, x)) });
    const w = nb.array([1, 2]);
    const b = nb.array([3, 4]);
    const x = nb.array([5, 6]);
    const [y, pull] = nb.vjp(f, { w, b }, x);
    expectClose(y.out, [8, 16], [2], CF);
    expectClose(y.sq, 61, [], CF);
    const [gp, gx] = pull({ out: nb.array([1, -1]), sq: nb.array(2) });
    expectClose(gp.w, [5, -6], [2], CF); // ct * x
    expectClose(gp.b, [1, -1], [2], CF);
    expectClose(gx, [1 + 2 * 2 * 5, -2 + 2 * 2 * 6], [2], CF); // ct*w + 2 * ct_sq * x
  });

  it("an unused primal gets a zero cotangent of its shape and dtype", () => {
    const [, pull] = nb.vjp((x: A, _y: A) => nb.sin(x), nb.array(1), nb.zeros([2, 3], { dtype: "float32" }));
    const [, gy] = pull(1);
    expect(gy.dtype).toBe("float32");
    expectClose(gy, [0, 0, 0, 0, 0, 0], [2, 3], 0);
  });

  it("the cotangent must match the output's shape", () => {
    const [, pull] = nb.vjp(nb.sin, nb.zeros([3]));
    expect(() => pull(nb.zeros([2]))).toThrow(nb.ShapeError);
  });
});

describe("linearize", () => {
  it("returns [f(primals), jvpFn]; jvpFn is the Jacobian, reusable for many tangents", () => {
    const [y, lin] = nb.linearize(fNb, nb.array(X0));
    expectClose(y, fJs(X0), [2], CF);
    const J = jacClosed(X0);
    for (const t of [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0.5, -0.25, 2],
    ]) {
      expectClose(
        lin(nb.array(t)),
        [0, 1].map((i) => J[3 * i]! * t[0]! + J[3 * i + 1]! * t[1]! + J[3 * i + 2]! * t[2]!),
        [2],
        CF,
      );
    }
  });

  it("several primals", () => {
    const [y, lin] = nb.linearize((a: A, b: A) => nb.mul(nb.sin(a), b), 0.5, 2);
    expectClose(y, 2 * Math.sin(0.5), [], CF);
    expectClose(lin(1, 0), 2 * Math.cos(0.5), [], CF);
    expectClose(lin(0, 1), Math.sin(0.5), [], CF);
  });
});

describe("jacfwd, jacrev, hessian", () => {
  it("Jacobian of R^3 -> R^2 equals the closed form in both modes", () => {
    for (const jac of [nb.jacfwd, nb.jacrev]) {
      expectClose(jac(fNb)(nb.array(X0)), jacClosed(X0), [2, 3], CF);
    }
  });

  it("agree with central finite differences", () => {
    const J = fdJacobian(fJs, X0);
    expectClose(nb.jacfwd(fNb)(nb.array(X0)), J, [2, 3], FD);
    expectClose(nb.jacrev(fNb)(nb.array(X0)), J, [2, 3], FD);
  });

  it("Hessian of sum(x³) + x0·x1 is diag(6x) + [[0,1],[1,0]]", () => {
    const h = nb.hessian((x: A) =>
      nb.add(nb.sum(nb.mul(nb.mul(x, x), x)), nb.mul(nb.slice(x, [0], [1]), nb.slice(x, [1], [2])).sum()),
    )(nb.array([0.5, -2]));
    expectClose(h, [3, 1, 1, -12], [2, 2], CF);
  });

  it("with argnums: a number gives one Jacobian, an array a list of Jacobians", () => {
    const f = (a: A, b: A) => nb.mul(a, nb.sin(b));
    const a = nb.array([1, 2]);
    const b = nb.array([0.3, 0.4]);
    expectClose(nb.jacrev(f, { argnums: 1 })(a, b), [Math.cos(0.3), 0, 0, 2 * Math.cos(0.4)], [2, 2], CF);
    const [ja, jb] = nb.jacfwd(f, { argnums: [0, 1] })(a, b);
    expectClose(ja, [Math.sin(0.3), 0, 0, Math.sin(0.4)], [2, 2], CF);
    expectClose(jb, [Math.cos(0.3), 0, 0, 2 * Math.cos(0.4)], [2, 2], CF);
  });

  it("jacrev of a bool or int32 output is a DTypeError naming jacrev, the dtype and shape (jax.jacrev)", () => {
    const x = nb.array([1, 2]);
    const boolOut = (v: A) => nb.greater(v, 0);
    const intOut = (v: A) => nb.astype(v, "int32");
    let e: unknown;
    for (const [f, want] of [
      [boolOut, /^jacrev: reverse mode requires float outputs, but output leaf 0 has dtype bool \(shape \[2\]\)/],
      [intOut, /^jacrev: reverse mode requires float outputs, but output leaf 0 has dtype int32 \(shape \[2\]\)/],
    ] as const) {
      expect(() => nb.jacrev(f)(x)).toThrow(nb.DTypeError);
      expect(() => nb.jacrev(f)(x)).toThrow(want);
    }
    // a float leaf beside an int one does not hide it: the int leaf is named by its index
    expect(() => nb.jacrev((v: A) => [nb.sin(v), nb.astype(nb.sum(v), "int32")])(x)).toThrow(
      /^jacrev: .*output leaf 1 has dtype int32 \(shape \[\]\)/,
    );
    // hessian (jacfwd of jacrev) reports as hessian, the function called
    try {
      nb.hessian((v: A) => nb.astype(nb.sum(v), "int32"))(x);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(nb.DTypeError);
    expect((e as Error).message).toMatch(/^hessian: reverse mode requires float outputs.*int32/);
    // jacfwd, as jax.jacfwd, pushes tangents through: an int output has zero derivative of shape out ++ in
    const j = nb.jacfwd(intOut)(x);
    expect(j.shape).toEqual([2, 2]);
    expect(j.toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });
});

describe("boolean and unknown options of the transforms", () => {
  it("grad and valueAndGrad: hasAux must be a boolean (not 1, 0 or a string), read when the transform is made", () => {
    const f = (y: A): [A, number] => [nb.sum(y), 1];
    for (const [name, t] of [
      ["grad", nb.grad],
      ["valueAndGrad", nb.valueAndGrad],
    ] as const)
      for (const bad of [1, 0, "true", null]) {
        const make = () => (t as (f: unknown, o: unknown) => unknown)(f, { hasAux: bad });
        expect(make).toThrow(nb.NablaError);
        expect(make).toThrow(new RegExp(`^${name}: hasAux must be true or false, got `));
      }
    // booleans still work (and false means no aux)
    const [g, aux] = nb.grad(f, { hasAux: true })(nb.array([1, 2]));
    expect([g.toArray(), aux]).toEqual([[1, 1], 1]);
    expect(
      nb
        .grad((y: A) => nb.sum(y), { hasAux: false })(nb.array([1, 2]))
        .toArray(),
    ).toEqual([1, 1]);
  });

  it("checkpoint: an unknown option is a NablaError naming checkpoint and the options it takes", () => {
    expect(() => nb.checkpoint(nb.sin, { polcy: null } as never)).toThrow(
      /^checkpoint: unknown option "polcy" \(the options are "policy"\)/,
    );
    expect(() => nb.checkpoint(nb.sin, 3 as never)).toThrow(/^checkpoint: options must be a plain object/);
    const policy = nb.checkpointPolicies.dotsSaveable;
    expect(nb.checkpoint(nb.sin, { policy })(nb.array(0)).item()).toBe(0);
  });

  it("checkpoint: errors from the function's output name checkpoint, not customVjp, eager and under transforms", () => {
    const deep = (x: unknown): unknown => {
      let d = x;
      for (let i = 0; i < 10001; i++) d = [d];
      return d;
    };
    const bad = [(y: A) => deep(y) as A, () => "a" as unknown as A];
    const policy = nb.checkpointPolicies.dotsSaveable;
    for (const f of bad)
      for (const run of [
        () => nb.checkpoint(f)(nb.array(1)),
        () => nb.checkpoint(f, { policy })(nb.array(1)),
        () => nb.grad((x: A) => nb.sum(nb.checkpoint(f)(x)))(nb.array(1)),
        () => nb.jit((x: A) => nb.checkpoint(f)(x))(nb.array(1)),
      ]) {
        expect(run).toThrow(nb.NablaError);
        expect(run).toThrow(/^checkpoint: .*in the output/);
      }
  });
});

describe("makeGraph and stopGradient", () => {
  it("makeGraph returns a Graph with equations and a printed form", () => {
    const g = nb.makeGraph((x: A) => nb.sum(nb.exp(x)))(nb.zeros([4]));
    expect(g).toBeInstanceOf(nb.Graph);
    expect(g.equations.map((e) => e.prim)).toEqual(["exp", "reduce_sum"]);
    expect(g.toString()).toContain("f64[4]");
  });

  it("stopGradient is the identity on values and blocks derivatives in every mode", () => {
    const f = (x: A) => nb.mul(x, nb.stopGradient(nb.mul(x, x)));
    expectClose(nb.stopGradient(nb.array([1, 2])), [1, 2], [2], 0);
    expectClose(nb.grad(f)(3), 9, [], CF); // d/dx [x · c] with c = x² = 9
    expectClose(nb.jvp(f, [3], [1])[1], 9, [], CF);
    expectClose(nb.jacrev(f)(3), 9, [], CF);
    expectClose(nb.grad(nb.grad(f))(3), 0, [], CF);
  });
});
