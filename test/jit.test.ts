/**
 * `jit` (API.md "Transforms"): results equal those of the eager function,
 * the staged code is cached per argument signature (shapes, dtypes, pytree
 * structure, weak typing and static arguments), and jit composes with every
 * other transform.
 *
 * Expected values come from plain-JS references and closed forms; the eager
 * function is used only for the "jit equals eager" contract itself.
 *
 * Tolerances (float64):
 * - jit vs eager: 1e-12 relative. Both run the same kernels; the staged graph
 *   may merge common subexpressions or fold constants, which changes at most
 *   the order of a few roundings (each ~1e-16 relative).
 * - vs plain-JS references and closed forms: 1e-12 relative (the same
 *   mathematics, evaluated with a few roundings' difference; the largest
 *   values involved are O(10)).
 * - vs central finite differences (h = 1e-5): 1e-7 relative. Truncation
 *   error ~h²|f'''|/6 ≈ 1e-10 and rounding ~1e-16·|f|/h ≈ 1e-11 for the O(1)
 *   functions used here.
 * - float32: 1e-5 relative (float32 epsilon 1.2e-7 times the handful of
 *   operations involved).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { fdJacobian } from "./support/reference.js";
import { arr, expectClose, vals } from "./support/assert.js";

type A = nb.NDArray;

const CF = 1e-12;
const FD = 1e-7;
const F32 = 1e-5; /** Two pytrees have the same structure, and leaves of equal shape, dtype and (to tol) value. */
function expectTreesClose(got: unknown, expected: unknown, tol: number): void {
  const [gl, gd] = nb.tree.flatten(got);
  const [el, ed] = nb.tree.flatten(expected);
  expect(gd.toString()).toBe(ed.toString());
  expect(gl.length).toBe(el.length);
  gl.forEach((g, i) => {
    const e = el[i] as A;
    expect(g).toBeInstanceOf(nb.NDArray);
    expect((g as A).dtype).toBe(e.dtype);
    expectClose(g as A, vals(e), [...e.shape], tol);
  });
}

// ---------------------------------------------------------------------------

describe("jit equals eager (and plain-JS references)", () => {
  const x3 = [0.3, -1.2, 0.7];
  const cases: { name: string; f: (...a: any[]) => unknown; args: () => unknown[]; ref: number[] }[] = [
    {
      name: "sum(sin x · exp x)",
      f: (x: A) => nb.sum(nb.mul(nb.sin(x), nb.exp(x))),
      args: () => [arr(x3)],
      ref: [x3.reduce((s, v) => s + Math.sin(v) * Math.exp(v), 0)],
    },
    {
      name: "tanh(W x + b) (matmul, broadcasting)",
      f: (W: A, x: A, b: A) => nb.tanh(nb.add(nb.matmul(W, x), b)),
      args: () => [arr([1, 2, 3, -1, 0.5, 0.25], [2, 3]), arr(x3), arr([0.1, -0.2])],
      ref: [Math.tanh(0.3 - 2.4 + 2.1 + 0.1), Math.tanh(-0.3 - 0.6 + 0.175 - 0.2)],
    },
    {
      name: "softmax of a row",
      f: (x: A) => nb.softmax(x),
      args: () => [arr(x3)],
      ref: (() => {
        const e = x3.map(Math.exp);
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((v) => v / s);
      })(),
    },
    {
      name: "the same subexpression used twice (CSE must not change values)",
      f: (x: A) => nb.add(nb.mul(nb.exp(x), nb.exp(x)), nb.exp(x)),
      args: () => [arr(x3)],
      ref: x3.map((v) => Math.exp(v) * Math.exp(v) + Math.exp(v)),
    },
    {
      name: "constants only (folded) plus an input",
      f: (x: A) => nb.add(x, nb.mul(nb.ones([3]), nb.exp(nb.array(1)))),
      args: () => [arr(x3)],
      ref: x3.map((v) => v + Math.E),
    },
    {
      name: "reductions over axes, reshape and transpose",
      f: (x: A) => nb.sum(nb.transpose(nb.reshape(x, [2, 3])), 1),
      args: () => [arr([1, 2, 3, 4, 5, 6])],
      ref: [5, 7, 9],
    },
    {
      name: "a JS number argument (0-d float64)",
      f: (x: A) => nb.mul(nb.cos(x), x),
      args: () => [0.5],
      ref: [Math.cos(0.5) * 0.5],
    },
    {
      name: "maximum / where / comparisons",
      f: (x: A) => nb.where(nb.greater(x, 0), nb.maximum(x, 0.5), nb.neg(x)),
      args: () => [arr(x3)],
      ref: x3.map((v) => (v > 0 ? Math.max(v, 0.5) : -v)),
    },
    {
      name: "slice, concatenate and take",
      f: (x: A) => nb.concatenate([nb.slice(x, [1], [3]), nb.take(x, nb.array([2, 0], { dtype: "int32" }), 0)]),
      args: () => [arr(x3)],
      ref: [-1.2, 0.7, 0.7, 0.3],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const jf = nb.jit(c.f);
      const got = jf(...c.args());
      expectTreesClose(got, c.f(...c.args()), CF);
      // the same values again from the cache, and against the JS reference
      const again = jf(...c.args()) as A;
      expect(jf.cacheSize()).toBe(1);
      expectClose(again, c.ref, undefined, CF);
    });
  }

  it("elementwise chains (fused when compiled) in float32, int32 and bool, with size-1 operands", () => {
    // float32 with weak scalars: every intermediate rounds to float32, as Math.fround does in JS
    const f32 = (x: A, s: A) => nb.div(nb.add(nb.mul(x, 1.1), s), nb.sub(x, 2));
    const xv = [0.5, -3, 7.25, 100];
    const x = nb.array(xv, { dtype: "float32" });
    const s = nb.array([0.3], { dtype: "float32" });
    const fr = Math.fround;
    const ref32 = xv.map((v) => fr(fr(fr(v * fr(1.1)) + fr(0.3)) / fr(v - 2)));
    const y = nb.jit(f32)(x, s);
    expect(y.dtype).toBe("float32");
    // float32 results are exactly representable: the same roundings give the same bits
    expectClose(y, ref32, [4], 0);
    expectClose(y, vals(f32(x, s)), [4], 0);

    // int32: a·b + 7, then max with −a (integers well inside int32: exact)
    const fi = (a: A, b: A) => nb.maximum(nb.add(nb.mul(a, b), 7), nb.neg(a));
    const ai = [3, -4, 1000, -7];
    const bi = [2, 5, -3, 0];
    const yi = nb.jit(fi)(nb.array(ai, { dtype: "int32" }), nb.array(bi, { dtype: "int32" }));
    expect(yi.dtype).toBe("int32");
    expect(vals(yi)).toEqual(ai.map((a, i) => Math.max(a * bi[i]! + 7, -a)));

    // bool logic feeding a select
    const fb = (a: A, b: A) => nb.where(nb.logicalAnd(nb.greater(a, 0), nb.logicalNot(nb.less(b, 1))), a, b);
    const av = [1, -1, 2, 3];
    const bv = [5, 5, 0.5, 1];
    const yb = nb.jit(fb)(arr(av), arr(bv));
    expectClose(
      yb,
      av.map((a, i) => (a > 0 && !(bv[i]! < 1) ? a : bv[i]!)),
      [4],
      0,
    );
    const cmp = nb.jit((a: A, b: A) => nb.logicalOr(nb.equal(a, b), nb.greater(a, 2)))(arr(av), arr([1, 0, 0, 0]));
    expect(cmp.dtype).toBe("bool");
    expect(cmp.toArray()).toEqual([true, false, false, true]);
  });

  it("pytrees in and out: objects (keys sorted), arrays and nested containers", () => {
    const f = (p: { w: A; b: A }, xs: [A, A]) => ({
      y: nb.add(nb.mul(p.w, xs[0]), p.b),
      parts: [nb.sum(xs[1]), { z: nb.neg(p.b) }] as const,
    });
    const p = { w: arr([2, 3]), b: arr([0.5, -0.5]) };
    const xs: [A, A] = [arr([1, -1]), arr([4, 5, 6])];
    const out = nb.jit(f)(p, xs);
    expect(Object.keys(out).sort()).toEqual(["parts", "y"]);
    expectClose(out.y, [2.5, -3.5], [2], CF);
    expectClose(out.parts[0], 15, [], CF);
    expectClose(out.parts[1].z, [-0.5, 0.5], [2], CF);
    expectTreesClose(out, f(p, xs), CF);
  });

  it("outputs that are inputs, constants, or JS numbers become NDArray leaves", () => {
    const f = nb.jit((x: A) => [x, nb.ones([2]), 3]);
    const [a, b, c] = f(arr([1, 2])) as A[];
    expectClose(a!, [1, 2], [2], 0);
    expectClose(b!, [1, 1], [2], 0);
    expectClose(c!, 3, [], 0);
  });

  it("null and undefined containers pass through as empty subtrees", () => {
    const f = nb.jit((x: A, _n: null) => ({ a: nb.mul(x, 2), n: null }));
    const out = f(arr([1, 2]), null);
    expectClose(out.a, [2, 4], [2], 0);
    expect(out.n).toBeNull();
  });

  it("float32, int32 and bool inputs keep their dtypes", () => {
    const f32 = nb.jit((x: A) => nb.mul(nb.exp(x), 2));
    const y = f32(nb.array([0.5, 1], { dtype: "float32" }));
    expect(y.dtype).toBe("float32");
    expectClose(y, [2 * Math.exp(0.5), 2 * Math.exp(1)], [2], F32);

    const isum = nb.jit((x: A) => nb.sum(x));
    const s = isum(nb.array([1, 2, 3], { dtype: "int32" }));
    expect(s.dtype).toBe("int32");
    expect(s.item()).toBe(6);

    const sel = nb.jit((c: A, x: A) => nb.where(c, x, nb.neg(x)));
    const r = sel(nb.array([true, false]), arr([3, 4]));
    expectClose(r, [3, -4], [2], 0);
  });

  it("a JS number argument is weakly typed, as eagerly (API.md Additions: Semantics settled)", () => {
    const f = nb.jit((s: A, x: A) => nb.mul(s, x));
    const x = nb.array([1, 2], { dtype: "float32" });
    const y = f(2, x);
    expect(y.dtype).toBe("float32");
    expectClose(y, [2, 4], [2], 0);
    // ... so it does not share the cache entry of the strong nb.array(3)
    expect(f(nb.array(3), x).dtype).toBe("float64");
    expect(f.cacheSize()).toBe(2);
  });

  it("a weakly typed array argument keeps its weak type (float32 · weak stays float32, as eagerly)", () => {
    // nb.mul(2, 3) of two JS numbers is weakly typed (JAX rules, API.md "Arrays")
    const weak = nb.mul(2, 3);
    const x = nb.array([1, 2], { dtype: "float32" });
    const f = (s: A, v: A) => nb.mul(s, v);
    expect(f(weak, x).dtype).toBe("float32"); // the eager contract
    const jf = nb.jit(f);
    const y = jf(weak, x);
    expectClose(y, [6, 12], [2], 0);
    expect(y.dtype).toBe("float32");
  });

  it("a closed-over array is a constant of the staged function", () => {
    const W = arr([1, 2, 3, 4], [2, 2]);
    const f = nb.jit((x: A) => nb.matmul(W, x));
    expectClose(f(arr([1, -1])), [-1, -1], [2], CF);
  });

  it("jit of jit", () => {
    const inner = nb.jit((x: A) => nb.mul(nb.sin(x), x));
    const outer = nb.jit((x: A) => nb.sum(inner(nb.add(x, 1))));
    const x = [0.2, 0.4];
    expectClose(
      outer(arr(x)),
      x.reduce((s, v) => s + Math.sin(v + 1) * (v + 1), 0),
      [],
      CF,
    );
  });
});

// ---------------------------------------------------------------------------

describe("the cache", () => {
  /** A jitted function that counts how often its body is traced. */
  function counted<P extends unknown[], R extends nb.Returned, const S extends readonly number[] = []>(
    body: (...a: P) => R,
    options?: { staticArgnums?: S },
  ) {
    const calls = { n: 0 };
    const f = nb.jit((...a: P) => {
      calls.n++;
      return body(...a);
    }, options);
    return { f, calls };
  }

  it("is keyed by shape and dtype, not by values", () => {
    const { f, calls } = counted((x: A) => nb.sum(nb.mul(x, x)));
    expectClose(f(arr([1, 2])), 5, [], 0);
    expectClose(f(arr([3, 4])), 25, [], 0);
    expect(f.cacheSize()).toBe(1);
    expect(calls.n).toBe(1);

    expectClose(f(arr([1, 2, 3])), 14, [], 0); // new shape
    expect(f.cacheSize()).toBe(2);
    expectClose(f(arr([1, 2], [2, 1])), 5, [], 0); // same size, new shape
    expect(f.cacheSize()).toBe(3);
    const g32 = f(nb.array([1, 2], { dtype: "float32" })); // new dtype
    expect(g32.dtype).toBe("float32");
    expectClose(g32, 5, [], 0);
    expect(f.cacheSize()).toBe(4);

    // every earlier signature is still cached
    f(arr([7, 8]));
    f(arr([1, 1, 1]));
    f(nb.array([0, 1], { dtype: "float32" }));
    expect(f.cacheSize()).toBe(4);
    expect(calls.n).toBe(4);
  });

  it("is keyed by pytree structure", () => {
    const { f, calls } = counted((t: unknown) =>
      nb.tree.leaves(t).reduce((s: A, l) => nb.add(s, nb.sum(l as A)), nb.array(0)),
    );
    expectClose(f([arr([1]), arr([2])]), 3, [], 0);
    expectClose(f({ a: arr([1]), b: arr([2]) }), 3, [], 0); // same leaves, other structure
    expect(f.cacheSize()).toBe(2);
    expectClose(f({ a: arr([5]), b: arr([6]) }), 11, [], 0);
    expect(f.cacheSize()).toBe(2);
    expectClose(f({ a: arr([5]), c: arr([6]) }), 11, [], 0); // other key
    expectClose(f([arr([1]), [arr([2])]]), 3, [], 0); // other nesting
    expect(f.cacheSize()).toBe(4);
    expect(calls.n).toBe(4);
  });

  it("a JS number shares the entry of a weakly typed 0-d float64 array; a strong one gets its own", () => {
    const { f, calls } = counted((s: A) => nb.mul(s, 2));
    f(1);
    f(2);
    expect(f.cacheSize()).toBe(1);
    f(nb.array(5)); // strong 0-d float64
    expect(f.cacheSize()).toBe(2);
    f(nb.mul(2, 3)); // weakly typed 0-d float64
    f(nb.mul(4, 1));
    expect(f.cacheSize()).toBe(2);
    expect(calls.n).toBe(2);
  });

  it("a failed trace leaves no cache entry", () => {
    const f = nb.jit((x: A) => (x.item() > 0 ? x : nb.neg(x)));
    expect(() => f(arr([1]))).toThrow(nb.TracerError);
    expect(f.cacheSize()).toBe(0);
    expect(() => f(arr([1]))).toThrow(nb.TracerError);
    expect(f.cacheSize()).toBe(0);
  });

  it("values captured by closure are baked in at trace time (JAX semantics)", () => {
    let scale = 2;
    const f = nb.jit((x: A) => nb.mul(x, scale));
    expectClose(f(arr([1])), [2], [1], 0);
    scale = 10;
    expectClose(f(arr([1])), [2], [1], 0); // cached
    expectClose(f(arr([1, 1])), [10, 10], [2], 0); // retraced for a new shape
  });
});

// ---------------------------------------------------------------------------

describe("staticArgnums", () => {
  it("static arguments are plain JS values usable in JS control flow, and part of the key", () => {
    let traces = 0;
    const power = nb.jit(
      (x: A, n: number) => {
        traces++;
        let y: A = nb.onesLike(x);
        for (let i = 0; i < n; i++) y = nb.mul(y, x);
        return y;
      },
      { staticArgnums: [1] },
    );
    expectClose(power(arr([2, 3]), 3), [8, 27], [2], 0);
    expectClose(power(arr([4, 5]), 3), [64, 125], [2], 0);
    expect(power.cacheSize()).toBe(1);
    expectClose(power(arr([2, 3]), 2), [4, 9], [2], 0);
    expect(power.cacheSize()).toBe(2);
    expectClose(power(arr([2, 3]), 0), [1, 1], [2], 0);
    expect(power.cacheSize()).toBe(3);
    power(arr([2, 3]), 2);
    expect(power.cacheSize()).toBe(3);
    expect(traces).toBe(3);
  });

  it("static strings, booleans and objects, in any position", () => {
    const f = nb.jit(
      (mode: string, x: A, opts: { scale: number; neg: boolean }) => {
        const y = mode === "sin" ? nb.sin(x) : nb.cos(x);
        const z = nb.mul(y, opts.scale);
        return opts.neg ? nb.neg(z) : z;
      },
      { staticArgnums: [0, 2] },
    );
    expectClose(f("sin", 0.5, { scale: 2, neg: false }), 2 * Math.sin(0.5), [], CF);
    expectClose(f("cos", 0.5, { scale: 2, neg: false }), 2 * Math.cos(0.5), [], CF);
    expectClose(f("cos", 0.5, { scale: 3, neg: true }), -3 * Math.cos(0.5), [], CF);
    expectClose(f("cos", 0.9, { scale: 3, neg: true }), -3 * Math.cos(0.9), [], CF);
    expect(f.cacheSize()).toBe(3);
  });

  it("a static argument that contains itself is keyed by identity from the repeated node on", () => {
    const circular: { self?: unknown } = {};
    circular.self = circular;
    const other: { self?: unknown } = {};
    other.self = other;
    let traces = 0;
    const f = nb.jit(
      (x: A, _c: unknown) => {
        traces++;
        return x;
      },
      { staticArgnums: [1] },
    );
    expectClose(f(arr([1]), circular), [1], [1], 0);
    f(arr([2]), circular);
    expect(traces).toBe(1);
    f(arr([2]), other);
    expect(traces).toBe(2);
  });

  it("static arguments under grad of jit", () => {
    const f = nb.jit((x: A, k: number) => nb.sum(nb.pow(x, k)), { staticArgnums: [1] });
    const g = nb.grad((x: A) => f(x, 3))(arr([1, 2]));
    expectClose(g, [3, 12], [2], CF);
  });
});

// ---------------------------------------------------------------------------

describe("jit composes with the other transforms", () => {
  // f(x) = sum(sin(x) · x²): ∇f = cos x · x² + 2x sin x ; ∇²f diagonal 2 sin x + 4x cos x − x² sin x
  const f = (x: A) => nb.sum(nb.mul(nb.sin(x), nb.mul(x, x)));
  const xs = [0.4, -1.1, 2.3];
  const gradRef = xs.map((v) => Math.cos(v) * v * v + 2 * v * Math.sin(v));
  const hessDiag = xs.map((v) => 2 * Math.sin(v) + 4 * v * Math.cos(v) - v * v * Math.sin(v));
  const hessRef = xs.flatMap((_, i) => xs.map((__, j) => (i === j ? hessDiag[i]! : 0)));

  it("grad(jit(f)) — closed form", () => {
    expectClose(nb.grad(nb.jit(f))(arr(xs)), gradRef, [3], CF);
  });

  it("jit(grad(f)) — closed form, reused from the cache", () => {
    const g = nb.jit(nb.grad(f));
    expectClose(g(arr(xs)), gradRef, [3], CF);
    expectClose(g(arr(xs.map((v) => v)))!, gradRef, [3], CF);
    expect(g.cacheSize()).toBe(1);
  });

  it("jit(hessian(f)) and hessian(jit(f)) — closed form", () => {
    expectClose(nb.jit(nb.hessian(f))(arr(xs)), hessRef, [3, 3], CF);
    expectClose(nb.hessian(nb.jit(f))(arr(xs)), hessRef, [3, 3], CF);
  });

  it("grad(grad(jit(scalar f))) — third-order closed form via jvp of grad", () => {
    // g(x) = x³ e^x: g'' = (6x + 6x² + x³) e^x
    const g = nb.jit((x: A) => nb.mul(nb.mul(x, nb.mul(x, x)), nb.exp(x)));
    const x = 0.7;
    expectClose(nb.grad(nb.grad(g))(x), (6 * x + 6 * x * x + x ** 3) * Math.exp(x), [], CF);
  });

  it("jvp and vjp of jit(f) with a pytree argument — finite differences", () => {
    const h = nb.jit((p: { a: A; b: A }) => nb.mul(nb.sin(p.a), nb.exp(p.b)));
    const hJs = (v: number[]): number[] => [Math.sin(v[0]!) * Math.exp(v[2]!), Math.sin(v[1]!) * Math.exp(v[3]!)];
    const a = [0.3, -0.8];
    const b = [0.1, 0.5];
    const J = fdJacobian(hJs, [...a, ...b]); // [2, 4]
    const t = [0.7, -0.2, 1.1, 0.4];
    const [y, dy] = nb.jvp(h, [{ a: arr(a), b: arr(b) }], [{ a: arr(t.slice(0, 2)), b: arr(t.slice(2)) }]);
    expectClose(y, hJs([...a, ...b]), [2], CF);
    expectClose(
      dy,
      [0, 1].map((i) => t.reduce((s, tj, j) => s + J[i * 4 + j]! * tj, 0)),
      [2],
      FD,
    );
    const [, back] = nb.vjp(h, { a: arr(a), b: arr(b) });
    const ct = [0.3, -1.5];
    const [gp] = back(arr(ct));
    const expected = [0, 1, 2, 3].map((j) => ct.reduce((s, c, i) => s + c * J[i * 4 + j]!, 0));
    expectClose(gp.a, expected.slice(0, 2), [2], FD);
    expectClose(gp.b, expected.slice(2), [2], FD);
  });

  it("vmap(jit(f)) and jit(vmap(f)) — per-example closed forms", () => {
    const rows = [
      [0.1, 0.2, 0.3],
      [-1, 0.5, 2],
    ];
    const X = arr(rows.flat(), [2, 3]);
    const ref = rows.map((r) => r.reduce((s, v) => s + Math.sin(v) * v * v, 0));
    expectClose(nb.vmap(nb.jit(f))(X), ref, [2], CF);
    const jv = nb.jit(nb.vmap(f));
    expectClose(jv(X), ref, [2], CF);
    expect(jv.cacheSize()).toBe(1);
    // per-example gradients under both orders
    const gref = rows.flatMap((r) => r.map((v) => Math.cos(v) * v * v + 2 * v * Math.sin(v)));
    expectClose(nb.vmap(nb.jit(nb.grad(f)))(X), gref, [2, 3], CF);
    expectClose(nb.jit(nb.vmap(nb.grad(f)))(X), gref, [2, 3], CF);
  });

  it("vmap(jit(f)) with inAxes null broadcasts the unbatched argument", () => {
    const g = nb.jit((w: A, x: A) => nb.dot(w, x));
    const W = arr([1, 2, 3]);
    const X = arr([1, 0, 0, 0, 1, 1], [2, 3]);
    expectClose(nb.vmap(g, { inAxes: [null, 0] })(W, X), [1, 5], [2], CF);
  });

  it("a jitted function closing over an outer grad tracer (no perturbation confusion)", () => {
    // d/dx [ jit(y => x·y)(3) · x ] = d/dx 3x² = 6x
    const out = nb.grad((x: A) => nb.mul(nb.jit((y: A) => nb.mul(x, y))(3), x))(2);
    expectClose(out, 12, [], CF);
    // canonical nesting check with jit in the middle: d/dx [x · d/dy (x + y)] = 1
    const n = nb.grad((x: A) => nb.mul(x, nb.jit(nb.grad((y: A) => nb.add(x, y)))(1)))(1);
    expectClose(n, 1, [], CF);
  });

  it("a jitted function closing over an outer vmap tracer", () => {
    const out = nb.vmap((x: A) => nb.jit((y: A) => nb.mul(x, y))(3))(arr([1, 2]));
    expectClose(out, [3, 6], [2], 0);
  });

  it("a cached trace that captured an outer tracer is never reused with a stale value: TracerError", () => {
    let outer: A = nb.array(0);
    const jf = nb.jit((y: A) => nb.mul(outer, y));
    const g = (x: A) => {
      outer = x;
      return jf(2);
    };
    expectClose(nb.grad(g)(3), 2, [], 0);
    // the cache entry holds the first grad's (now dead) tracer
    expect(() => nb.grad(g)(5)).toThrow(nb.TracerError);
  });

  it("jacfwd and jacrev of jit(f) — finite differences", () => {
    const g = nb.jit((x: A) => nb.stack([nb.mul(nb.sum(x), nb.prod(x)), nb.sum(nb.exp(x))]));
    const gJs = (v: number[]) => [
      v.reduce((a, b) => a + b, 0) * v.reduce((a, b) => a * b, 1),
      v.reduce((a, b) => a + Math.exp(b), 0),
    ];
    const x = [0.5, 1.5, -0.7];
    const J = fdJacobian(gJs, x);
    expectClose(nb.jacfwd(g)(arr(x)), J, [2, 3], FD);
    expectClose(nb.jacrev(g)(arr(x)), J, [2, 3], FD);
  });
});

// ---------------------------------------------------------------------------

describe("concretization and leaks under jit", () => {
  it("item() and valueOf() of a traced value throw TracerError", () => {
    expect(() => nb.jit((x: A) => nb.mul(x, x.item()))(arr([2]))).toThrow(nb.TracerError);
    expect(() => nb.jit((x: A) => nb.mul(x, x.valueOf() as number))(arr([2]))).toThrow(nb.TracerError);
    // JS comparison of a tracer goes through valueOf
    expect(() => nb.jit((x: A) => ((x as unknown as number) > 0 ? x : nb.neg(x)))(2)).toThrow(nb.TracerError);
    // also under grad of jit (grad would allow item(), the inner jit must not)
    expect(() => nb.grad(nb.jit((x: A) => nb.mul(x, x.item())))(2)).toThrow(nb.TracerError);
  });

  it("item() is fine on values that do not depend on the arguments", () => {
    const f = nb.jit((x: A) => nb.mul(x, nb.array([3]).item()));
    expectClose(f(arr([2])), [6], [1], 0);
  });

  it("a tracer leaked from a jitted function throws TracerError when used later", () => {
    let leaked: A | undefined;
    const f = nb.jit((x: A) => {
      leaked = nb.sin(x);
      return nb.cos(x);
    });
    f(arr([1]));
    expect(leaked).toBeDefined();
    expect(() => nb.mul(leaked!, 2)).toThrow(nb.TracerError);
    // the library is still usable afterwards
    expectClose(nb.jit((x: A) => nb.mul(x, 2))(arr([1])), [2], [1], 0);
  });
});

// ---------------------------------------------------------------------------

describe("makeGraph of a jitted function", () => {
  it("stages the jitted body with the argument's avals", () => {
    const f = nb.jit((x: A) => nb.sum(nb.mul(nb.sin(x), nb.exp(x))));
    const g = nb.makeGraph(f)(nb.zeros([3]));
    const prims = g.equations.map((e) => e.prim as string);
    expect(prims).toContain("sin");
    expect(prims).toContain("exp");
    expect(prims).toContain("mul");
    expect(prims).toContain("reduce_sum");
    expect(g.inVars.length).toBe(1);
    expect(g.outs.length).toBe(1);
    expect(g.toString()).toMatch(/lambda a:f64\[3\]/);
    expect(g.toString()).toMatch(/f64\[\]/);
  });

  it("makeGraph(grad(jit(f))) contains the derivative's primitives", () => {
    const f = nb.jit((x: A) => nb.sum(nb.sin(x)));
    const g = nb.makeGraph(nb.grad(f))(nb.zeros([2]));
    expect(g.equations.map((e) => e.prim as string)).toContain("cos");
  });
});
