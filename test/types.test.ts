/**
 * Type tests: checked by `tsc` (npm run typecheck covers test/), so a
 * transform whose type degrades (to `any`, `unknown`, or a wrong tree) fails
 * the build. `expectTypeOf(...).toEqualTypeOf<T>()` is an exact comparison
 * (`any` is not equal to `NDArray`), and every `@ts-expect-error` line must
 * stay an error. At run time the calls run too: the ill-typed ones that
 * nabla rejects must throw; the values themselves are checked by the other
 * tests.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import * as nb from "../src/index.js";
import * as nbf from "../src/fp/index.js";
import { numericalJvp } from "../src/testing/index.js";

type A = nb.NDArray;
type Params = { w: A; b: A };
const params: Params = { w: nb.array([1, 2]), b: nb.array(0.5) };
const x = nb.array([0.5, -1]);
const loss = (p: Params, xs: A) => nb.sum(nb.add(nb.mul(p.w, xs), p.b));

describe("type-level pytrees", () => {
  it("ArraysOf maps leaves to NDArray and keeps containers", () => {
    expectTypeOf<nb.ArraysOf<number>>().toEqualTypeOf<A>();
    expectTypeOf<nb.ArraysOf<A | number>>().toEqualTypeOf<A>();
    expectTypeOf<nb.ArraysOf<{ a: number; b: [A, boolean]; c: null }>>().toEqualTypeOf<{
      a: A;
      b: [A, A];
      c: null;
    }>();
    expectTypeOf<nb.ArraysOf<number[]>>().toEqualTypeOf<A[]>();
    // the recursive Nested literal type maps without an infinite instantiation
    expectTypeOf<nb.ArraysOf<nb.ArrayLike>>().toEqualTypeOf<A | readonly nb.NestedOf<A>[]>();
    expect(true).toBe(true);
  });
});

describe("grad and valueAndGrad", () => {
  it("keep the parameters and give the gradient of the argument's tree type", () => {
    const g = nb.grad(loss);
    expectTypeOf(g(params, x)).toEqualTypeOf<Params>();
    // the differentiated argument also takes numbers at its leaves; the others keep their types
    expectTypeOf(g).parameter(0).toEqualTypeOf<{ w: A | number; b: A | number }>();
    // @ts-expect-error: a string is not the parameter tree
    expect(() => g("not params", x)).toThrow(nb.ShapeError);
    // @ts-expect-error: the second argument is not differentiated, so it stays an NDArray
    g(params, 3);
    // @ts-expect-error: missing argument
    expect(() => g(params)).toThrow();
    expectTypeOf(nb.grad(nb.sin)(0.5)).toEqualTypeOf<A>();
    // unannotated callbacks take arrays
    expectTypeOf(nb.grad((v) => nb.sum(nb.mul(v, v)))(x)).toEqualTypeOf<A>();
    expect(true).toBe(true);
  });

  it("argnums: a number picks one argument, a tuple gives a tuple", () => {
    expectTypeOf(nb.grad(loss, { argnums: 1 })(params, x)).toEqualTypeOf<A>();
    expectTypeOf(nb.grad(loss, { argnums: [0, 1] })(params, x)).toEqualTypeOf<[Params, A]>();
    expectTypeOf(nb.grad(loss, { argnums: [1, 0] })(params, 2)).toEqualTypeOf<[A, Params]>();
    expect(true).toBe(true);
  });

  it("hasAux gives [grads, aux] and valueAndGrad [value, grads] or [[value, aux], grads]", () => {
    // a function defined on its own needs a tuple return type (or `as const`) for its aux type
    const withAux = (p: Params): [A, { label: string; n: A }] => [nb.sum(p.w), { label: "loss", n: p.b }];
    // inline, the literal [out, aux] is inferred as a tuple
    expectTypeOf(nb.grad((p: Params) => [nb.sum(p.w), p.b.shape], { hasAux: true })(params)).toEqualTypeOf<
      [Params, readonly number[]]
    >();
    expectTypeOf(nb.grad(withAux, { hasAux: true })(params)).toEqualTypeOf<[Params, { label: string; n: A }]>();
    expectTypeOf(nb.valueAndGrad(loss)(params, x)).toEqualTypeOf<[A, Params]>();
    expectTypeOf(nb.valueAndGrad(withAux, { hasAux: true })(params)).toEqualTypeOf<
      [[A, { label: string; n: A }], Params]
    >();
    expect(true).toBe(true);
  });

  it("nest: grad(grad(f)) and composition with fp-ts pipe", () => {
    const d2 = nb.grad(nb.grad(nb.sin));
    expectTypeOf(d2(1)).toEqualTypeOf<A>();
    expect(true).toBe(true);
  });
});

describe("jvp, vjp, linearize", () => {
  it("jvp: primals and tangents are trees of the same type; results are arrays", () => {
    const [y, dy] = nb.jvp(loss, [params, x], [{ w: nb.ones([2]), b: 0 }, x]);
    expectTypeOf(y).toEqualTypeOf<A>();
    expectTypeOf(dy).toEqualTypeOf<A>();
    // @ts-expect-error: the tangent tree lacks the key b
    expect(() => nb.jvp(loss, [params, x], [{ w: 1 }, x])).toThrow(nb.ShapeError);
    const [o] = nb.jvp((v: A) => ({ s: nb.sin(v), c: [nb.cos(v)] }), [x], [x]);
    expectTypeOf(o).toEqualTypeOf<{ s: A; c: A[] }>();
    expect(true).toBe(true);
  });

  it("vjp: the pullback is typed by the output and returns one cotangent per primal", () => {
    const [out, pull] = nb.vjp((p: Params, v: A) => ({ y: nb.mul(p.w, v), z: p.b }), params, x);
    expectTypeOf(out).toEqualTypeOf<{ y: A; z: A }>();
    expectTypeOf(pull).parameter(0).toEqualTypeOf<{ y: A | number; z: A | number }>();
    expectTypeOf(pull({ y: nb.ones([2]), z: 1 })).toEqualTypeOf<[Params, A]>();
    // @ts-expect-error: the cotangent must have the output's structure
    expect(() => pull(nb.ones([2]))).toThrow(nb.ShapeError);
    expect(true).toBe(true);
  });

  it("linearize: the linear map takes tangents like the primals", () => {
    const [y, push] = nb.linearize(loss, params, x);
    expectTypeOf(y).toEqualTypeOf<A>();
    expectTypeOf(push).parameters.toEqualTypeOf<[{ w: A | number; b: A | number }, A | number]>();
    expectTypeOf(push(params, x)).toEqualTypeOf<A>();
    expect(true).toBe(true);
  });
});

describe("jacobians and hessians are trees of trees", () => {
  it("jacfwd, jacrev: output tree of input trees", () => {
    const f = (p: Params) => ({ y: nb.mul(p.w, p.b), s: nb.sum(p.w) });
    expectTypeOf(nb.jacfwd(f)(params)).toEqualTypeOf<{ y: Params; s: Params }>();
    expectTypeOf(nb.jacrev(f)(params)).toEqualTypeOf<{ y: Params; s: Params }>();
    expectTypeOf(nb.jacrev(loss, { argnums: [0, 1] })(params, x)).toEqualTypeOf<[Params, A]>();
    expectTypeOf(nb.jacfwd(nb.sin)(x)).toEqualTypeOf<A>();
    expect(true).toBe(true);
  });

  it("hessian: input tree of input trees", () => {
    expectTypeOf(nb.hessian((p: Params) => nb.sum(p.w))(params)).toEqualTypeOf<{ w: Params; b: Params }>();
    expectTypeOf(nb.hessian(nb.sin)(0.5)).toEqualTypeOf<A>();
    expect(true).toBe(true);
  });
});

describe("vmap, jit, makeGraph, checkpoint keep the parameters", () => {
  it("vmap and jit: same parameters (numbers accepted at leaves), NDArray results", () => {
    const f = (p: Params, v: A) => [nb.mul(p.w, v), 2] as const;
    const vf = nb.vmap(f, { inAxes: [null, 0] });
    expectTypeOf(vf(params, x)).toEqualTypeOf<readonly [A, A]>();
    // @ts-expect-error: wrong parameter tree
    vf({ w: x }, x);
    const jf = nb.jit(f);
    expectTypeOf(jf(params, x)).toEqualTypeOf<readonly [A, A]>();
    expectTypeOf(jf.cacheSize()).toEqualTypeOf<number>();
    // static arguments keep their types
    const js = nb.jit((v: A, mode: "sin" | "cos") => (mode === "sin" ? nb.sin(v) : nb.cos(v)), {
      staticArgnums: [1],
    });
    expectTypeOf(js).parameters.toEqualTypeOf<[A | number, "sin" | "cos"]>();
    // @ts-expect-error: not one of the static values
    js(x, "tan");
    expectTypeOf(nb.jit(nb.grad(loss))(params, x)).toEqualTypeOf<Params>();
    expectTypeOf(nb.makeGraph(loss)(params, x)).toEqualTypeOf<nb.Graph>();
    expectTypeOf(nb.checkpoint(loss)(params, x)).toEqualTypeOf<A>();
    expect(true).toBe(true);
  });
});

describe("custom rules are typed from f", () => {
  it("customJvp: ([x]: [NDArray], [dx]) => ... compiles; the rule's outputs must match f's", () => {
    const f = nb.customJvp(
      (v: A) => nb.softplus(v),
      ([v]: [A], [dv]) => {
        expectTypeOf(dv).toEqualTypeOf<A>();
        return [nb.softplus(v), nb.mul(dv, nb.sigmoid(v))];
      },
    );
    expectTypeOf(f).parameters.toEqualTypeOf<[v: A | number]>();
    expectTypeOf(f(x)).toEqualTypeOf<A>();
    nb.customJvp(
      (v: A) => ({ a: v }),
      // @ts-expect-error: the tangent output must have the output's structure { a }
      ([v]: [A], [dv]: [A]) => [{ a: v }, dv],
    );
    expect(true).toBe(true);
  });

  it("customVjp: residuals typed by fwd, cotangent by f's output, one cotangent per argument", () => {
    const f = nb.customVjp(
      (u: A, v: A) => nb.mul(u, v),
      (u, v) => [nb.mul(u, v), [u, v]],
      (res, ct) => {
        expectTypeOf(res).toEqualTypeOf<[A, A]>();
        expectTypeOf(ct).toEqualTypeOf<A>();
        return [nb.mul(ct, res[1]), null];
      },
    );
    expectTypeOf(f(x, x)).toEqualTypeOf<A>();
    nb.customVjp(
      (u: A) => u,
      (u) => [u, null],
      // @ts-expect-error: two cotangents for one argument
      (_res, ct) => [ct, ct],
    );
    expect(true).toBe(true);
  });
});

describe("control flow is typed by its carry", () => {
  it("cond, whileLoop, forLoop, scan", () => {
    expectTypeOf(
      nb.cond(
        nb.greater(nb.sum(x), 0),
        (v) => nb.mul(v, 2),
        (v) => nb.neg(v),
        x,
      ),
    ).toEqualTypeOf<A>();
    // eagerly a branch's value comes back as it is; staged, its leaves are arrays
    expectTypeOf(
      nb.cond(
        true,
        () => 1,
        () => 2,
      ),
    ).toEqualTypeOf<number | A>();
    const w = nb.whileLoop(
      (s) => nb.less(s.i, 10),
      (s) => ({ i: nb.add(s.i, 1), v: nb.mul(s.v, 2) }),
      { i: 0, v: x },
    );
    expectTypeOf(w).toEqualTypeOf<{ i: number; v: A } | { i: A; v: A }>();
    expectTypeOf(nb.forLoop(0, 3, (i, v: A) => nb.add(v, i), x)).toEqualTypeOf<A>();
    const [c, ys] = nb.scan((carry: A, xi) => [nb.add(carry, xi), { sq: nb.mul(xi, xi) }], x, nb.ones([3, 2]));
    expectTypeOf(c).toEqualTypeOf<A>();
    expectTypeOf(ys).toEqualTypeOf<{ sq: A }>();
    const stop = (s: { i: A }) => nb.less(s.i, 10);
    const body = (s: { i: A }) => s.i;
    // @ts-expect-error: the body must return the carry's structure
    expect(() => nb.whileLoop(stop, body, { i: x })).toThrow(nb.ShapeError);
    expect(true).toBe(true);
  });
});

describe("tree.* and nabla/fp", () => {
  it("tree.map/flatten/unflatten/leaves/structure", () => {
    const t = { a: x, b: [1, 2] as [number, number] };
    expectTypeOf(nb.tree.map((l) => String(l), t)).toEqualTypeOf<{ a: string; b: [string, string] }>();
    expectTypeOf(nb.tree.map((l, r) => nb.add(l, r), t, t)).toEqualTypeOf<{ a: A; b: [A, A] }>();
    // an annotated leaf parameter does not change the tree's type
    expectTypeOf(nb.tree.map((v: number) => v * 10, { a: 1, b: [2] })).toEqualTypeOf<{ a: number; b: number[] }>();
    const [leaves, def] = nb.tree.flatten(t);
    expectTypeOf(leaves).toEqualTypeOf<(A | number)[]>();
    expectTypeOf(
      nb.tree.unflatten(
        def,
        leaves.map((l) => nb.array(l)),
      ),
    ).toEqualTypeOf<{ a: A; b: [A, A] }>();
    expectTypeOf(nb.tree.leaves(t)).toEqualTypeOf<(A | number)[]>();
    expectTypeOf(nb.tree.unflatten(nb.tree.structure(t), [true, false, true])).toEqualTypeOf<{
      a: boolean;
      b: [boolean, boolean];
    }>();
    expect(true).toBe(true);
  });

  it("fp: Result carries the real type", () => {
    const r = nbf.gradE(loss)(params, x);
    expectTypeOf(r).toEqualTypeOf<nbf.Result<Params>>();
    if (E.isRight(r)) expectTypeOf(r.right.w).toEqualTypeOf<A>();
    expectTypeOf(nbf.jvpE(nb.sin, [0.5], [1])).toEqualTypeOf<nbf.Result<[A, A]>>();
    const v = nbf.vjpE(loss, params, x);
    if (E.isRight(v)) expectTypeOf(v.right[1](1)).toEqualTypeOf<nbf.Result<[Params, A]>>();
    expectTypeOf(nbf.hessianE((p: Params) => nb.sum(p.w))(params)).toEqualTypeOf<
      nbf.Result<{ w: Params; b: Params }>
    >();
    expectTypeOf(numericalJvp(loss, [params, x], [params, x])).toEqualTypeOf<A>();
    expect(true).toBe(true);
  });
});
