/**
 * Control-flow primitives (API.md "Control flow primitives"): `cond`,
 * `whileLoop`, `forLoop`, `scan` — values against plain-JS loops, derivatives
 * in both modes against closed forms, forward-mode dual numbers computed in
 * plain JS, or central finite differences; behaviour under jit, vmap and
 * makeGraph; and which branches / bodies actually run (counted calls).
 *
 * Tolerances (float64):
 * - closed forms and plain-JS references (including JS dual-number
 *   derivatives, which perform the same arithmetic): 1e-12 relative — a
 *   few roundings apart, values of size at most O(100);
 * - central differences (h = 1e-5): 1e-7 relative (truncation
 *   ~h²|f'''|/6 ≈ 1e-10, rounding ~1e-16·|f|/h ≈ 1e-11 for O(1) functions).
 * Powers of two and sums of small integers are exact, compared with tolerance 0.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { fdJacobian } from "./support/reference.js";
import { arr, expectClose } from "./support/assert.js";
import { at } from "../src/core/errors.js";

type A = nb.NDArray;

const CF = 1e-12;
const FD = 1e-7;
const prims = (g: nb.Graph): string[] => g.equations.map((e) => e.prim as string);
/** Whether a branch was called on a value with a concrete value (evaluated), not staged abstractly. */
const evaluated = (v: A): boolean => {
  try {
    v.item();
    return true;
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------------------

describe("cond", () => {
  // piecewise: x > 0 ? x² : −3x (with counters on each branch: calls, and evaluations on concrete values;
  // the untaken branch of a concrete predicate is only staged abstractly, to check that the branches agree)
  function piecewise() {
    const calls = { t: 0, f: 0 };
    const ran = { t: 0, f: 0 };
    const fn = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => {
          calls.t++;
          if (evaluated(v)) ran.t++;
          return nb.mul(v, v);
        },
        (v: A) => {
          calls.f++;
          if (evaluated(v)) ran.f++;
          return nb.mul(v, -3);
        },
        x,
      );
    return { fn, calls, ran };
  }

  it("a concrete predicate runs only the taken branch (eager)", () => {
    const { fn, ran } = piecewise();
    expectClose(fn(nb.array(2)), 4, [], 0);
    expect(ran).toEqual({ t: 1, f: 0 });
    expectClose(fn(nb.array(-1.5)), 4.5, [], 0);
    expect(ran).toEqual({ t: 1, f: 1 });
    // JS booleans and numbers as predicates
    expectClose(
      nb.cond(
        true,
        () => nb.array(1),
        () => nb.array(2),
      ),
      1,
      [],
      0,
    );
    expectClose(
      nb.cond(
        0,
        () => nb.array(1),
        () => nb.array(2),
      ),
      2,
      [],
      0,
    );
  });

  it("under grad and jvp the predicate is concrete: only the taken branch runs, and is differentiated", () => {
    const { fn, ran } = piecewise();
    expectClose(nb.grad(fn)(3), 6, [], CF);
    expect(ran).toEqual({ t: 1, f: 0 });
    expectClose(nb.grad(fn)(-3), -3, [], CF);
    expect(ran).toEqual({ t: 1, f: 1 });
    const [y, dy] = nb.jvp(fn, [nb.array(0.5)], [nb.array(2)]);
    expectClose(y, 0.25, [], CF);
    expectClose(dy, 2, [], CF); // 2x · t = 2 · 0.5 · 2
    expect(ran).toEqual({ t: 2, f: 1 });
    // second order through the taken branch
    expectClose(nb.grad(nb.grad(fn))(1.5), 2, [], CF);
    expectClose(nb.grad(nb.grad(fn))(-1.5), 0, [], CF);
  });

  it("several operands, pytree operands and outputs", () => {
    const f = (p: { a: A; b: A }, s: A) =>
      nb.cond(
        nb.greater(s, 0),
        (q: { a: A; b: A }, t: A) => ({ sum: nb.add(q.a, q.b), t: [nb.mul(t, 2)] }),
        (q: { a: A; b: A }, t: A) => ({ sum: nb.sub(q.a, q.b), t: [nb.neg(t)] }),
        p,
        s,
      );
    const p = { a: arr([1, 2]), b: arr([10, 20]) };
    const r1 = f(p, nb.array(1));
    expectClose(r1.sum, [11, 22], [2], 0);
    expectClose(at(r1.t, 0), 2, [], 0);
    const r2 = f(p, nb.array(-1));
    expectClose(r2.sum, [-9, -18], [2], 0);
    expectClose(at(r2.t, 0), 1, [], 0);
    // the same under jit (both branches, selected)
    const jf = nb.jit(f);
    expectClose(jf(p, nb.array(-1)).sum, [-9, -18], [2], 0);
    expectClose(jf(p, nb.array(1)).sum, [11, 22], [2], 0);
    expect(jf.cacheSize()).toBe(1);
  });

  it("under jit both branches are traced once into a cond; the cache serves both predicates", () => {
    const { fn, calls, ran } = piecewise();
    const jf = nb.jit(fn);
    expectClose(jf(nb.array(2)), 4, [], 0);
    expect(calls).toEqual({ t: 1, f: 1 });
    expectClose(jf(nb.array(-2)), 6, [], 0);
    expectClose(jf(nb.array(5)), 25, [], 0);
    expect(calls).toEqual({ t: 1, f: 1 });
    expect(ran).toEqual({ t: 0, f: 0 });
    expect(jf.cacheSize()).toBe(1);
  });

  it("under jit a predicate that does not depend on the arguments still picks one branch", () => {
    let falseCalls = 0;
    const jf = nb.jit((x: A) =>
      nb.cond(
        nb.greater(nb.array(1), 0),
        (v: A) => nb.sin(v),
        (v: A) => {
          if (evaluated(v)) falseCalls++;
          return v;
        },
        x,
      ),
    );
    expectClose(jf(nb.array(1)), Math.sin(1), [], CF);
    expect(falseCalls).toBe(0);
  });

  it("grad through cond under jit, and jit(grad) — per-call branch derivative", () => {
    const { fn } = piecewise();
    const jg = nb.jit(nb.grad(fn));
    expectClose(jg(nb.array(2)), 4, [], CF);
    expectClose(jg(nb.array(-2)), -3, [], CF);
    expect(jg.cacheSize()).toBe(1);
    const gj = nb.grad(nb.jit(fn));
    expectClose(gj(nb.array(2)), 4, [], CF);
    expectClose(gj(nb.array(-2)), -3, [], CF);
  });

  it("under vmap: both branches run once (batched) and each example takes its own branch", () => {
    const { fn, calls } = piecewise();
    const xs = [-2, 0, 0.5, 3];
    const ref = xs.map((v) => (v > 0 ? v * v : -3 * v));
    expectClose(nb.vmap(fn)(arr(xs)), ref, [4], 0);
    expect(calls).toEqual({ t: 1, f: 1 });
  });

  it("grad through cond under vmap: per-example branch derivatives (vmap(grad), grad(sum∘vmap), jvp)", () => {
    const { fn } = piecewise();
    const xs = [-2, 0.5, 3, -0.1];
    const dref = xs.map((v) => (v > 0 ? 2 * v : -3));
    expectClose(nb.vmap(nb.grad(fn))(arr(xs)), dref, [4], CF);
    expectClose(nb.grad((x: A) => nb.sum(nb.vmap(fn)(x)))(arr(xs)), dref, [4], CF);
    const [, dy] = nb.jvp(nb.vmap(fn), [arr(xs)], [nb.ones([4])]);
    expectClose(dy, dref, [4], CF);
  });

  it("jit(grad) equals grad even where the untaken branch has a non-finite derivative", () => {
    // f(x) = x > 0 ? √x : x/2. At x = −1 the taken branch gives f'(−1) = 1/2; the untaken
    // √x has no real derivative there, and must not leak into the result (0 · NaN).
    const f = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => nb.sqrt(v),
        (v: A) => nb.mul(v, 0.5),
        x,
      );
    expectClose(nb.grad(f)(-1), 0.5, [], CF);
    expectClose(nb.jit(f)(-1), -0.5, [], CF);
    expectClose(nb.jit(nb.grad(f))(-1), 0.5, [], CF);
    expectClose(nb.grad(nb.jit(f))(-1), 0.5, [], CF);
    expectClose(nb.jit(nb.grad(f))(4), 0.25, [], CF);
  });

  it("vmap(grad) through cond: an example's derivative comes from its own branch only", () => {
    const f = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => nb.sqrt(v),
        (v: A) => nb.mul(v, 0.5),
        x,
      );
    expectClose(nb.vmap(nb.grad(f))(arr([-1, 4])), [0.5, 0.25], [2], CF);
  });

  it("under vmap an unbatched concrete predicate still picks one branch", () => {
    let falseCalls = 0;
    const f = nb.vmap((x: A) =>
      nb.cond(
        true,
        (v: A) => nb.mul(v, 2),
        (v: A) => {
          if (evaluated(v)) falseCalls++;
          return v;
        },
        x,
      ),
    );
    expectClose(f(arr([1, 2])), [2, 4], [2], 0);
    expect(falseCalls).toBe(0);
  });

  it("under makeGraph both branches are staged into a cond equation", () => {
    const g = nb.makeGraph((x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => nb.sin(v),
        (v: A) => nb.cos(v),
        x,
      ),
    )(nb.array(0));
    expect(prims(g)).toEqual(["gt", "cond"]);
    const p = g.equations[1]!.params as { whenTrue: nb.Graph; whenFalse: nb.Graph };
    expect(prims(p.whenTrue)).toEqual(["sin"]);
    expect(prims(p.whenFalse)).toEqual(["cos"]);
    expect(g.outs.length).toBe(1);
  });

  it("branches that differ in structure or shape are a ShapeError, in dtype a DTypeError, whatever the predicate", () => {
    const structure = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => [v, v],
        (v: A) => [v],
        x,
      );
    const shape = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => v,
        (v: A) => nb.stack([v, v]),
        x,
      );
    const dtype = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => v,
        (v: A) => nb.greater(v, 1),
        x,
      );
    for (const [f, E] of [
      [structure, nb.ShapeError],
      [shape, nb.ShapeError],
      [dtype, nb.DTypeError],
    ] as const) {
      const g = f as (x: A) => unknown;
      // eagerly too: the untaken branch is staged abstractly and must agree
      expect(() => f(nb.array(1))).toThrow(E);
      expect(() => f(nb.array(-1))).toThrow(E);
      expect(() => nb.grad((x: A) => nb.sum(nb.array(g(x) as A)))(nb.array(1))).toThrow(E);
      expect(() => nb.jit(g)(nb.array(1))).toThrow(E);
      expect(() => nb.vmap(g)(arr([1, -1]))).toThrow(E);
      expect(() => nb.makeGraph(g)(nb.array(1))).toThrow(E);
    }
  });

  it("a predicate with more than one element is a ShapeError", () => {
    expect(() =>
      nb.cond(
        nb.array([true, false]),
        () => 1,
        () => 2,
      ),
    ).toThrow(nb.ShapeError);
  });

  // lax.cond: the predicate is a scalar bool or integer (an integer is true when non-zero); a float one
  // (NaN, 0.5) is a TypeError there, a DTypeError here, eagerly, under grad, jit and vmap
  const one = () => nb.array(1);
  const two = () => nb.array(2);
  const taken = (pred: unknown): number => (nb.cond(pred as nb.ArrayLike, one, two) as A).item();

  it("a float predicate is a DTypeError naming cond and float64, whatever its value or the transform", () => {
    const floatPred = /^cond: the predicate must be bool or int32, got float64/;
    for (const p of [nb.array(NaN), nb.array(0.5), nb.array(1), nb.array(0), NaN, 0.5, -0.25, Infinity]) {
      expect(() => taken(p)).toThrow(nb.DTypeError);
      expect(() => taken(p)).toThrow(floatPred);
    }
    expect(() => taken(nb.array(1, { dtype: "float32" }))).toThrow(
      /^cond: the predicate must be bool or int32, got float32/,
    );
    const f = (x: A) => nb.cond(x, one, two);
    expect(() => nb.grad((x: A) => nb.mul(f(x), x))(nb.array(0.5))).toThrow(floatPred);
    expect(() => nb.jit(f)(nb.array(0.5))).toThrow(floatPred);
    expect(() => nb.makeGraph(f)(nb.array(0.5))).toThrow(floatPred);
    // under vmap the predicate seen per example is scalar, and still float
    expect(() => nb.vmap(f)(arr([0.5, NaN]))).toThrow(floatPred);
  });

  it("int32 predicates are true when non-zero; JS booleans and integer JS numbers are accepted", () => {
    const i32 = (v: number) => nb.array(v, { dtype: "int32" });
    expect([taken(i32(1)), taken(i32(-7)), taken(i32(0))]).toEqual([1, 1, 2]);
    expect([taken(true), taken(false), taken(1), taken(3), taken(0), taken(-0)]).toEqual([1, 2, 1, 1, 2, 2]);
    // staged (jit, makeGraph), batched (vmap, one int32 predicate per example) and differentiated
    const g = (p: A, x: A) =>
      nb.cond(
        p,
        (v: A) => nb.mul(v, v),
        (v: A) => nb.neg(v),
        x,
      );
    expect((nb.jit(g)(i32(2), nb.array(3)) as A).item()).toBe(9);
    expect((nb.jit(g)(i32(0), nb.array(3)) as A).item()).toBe(-3);
    expect(prims(nb.makeGraph(g)(i32(2), nb.array(3)))).toContain("cond");
    expect((nb.vmap(g)(nb.array([5, 0, -1], { dtype: "int32" }), arr([2, 3, 4])) as A).toArray()).toEqual([4, -3, 16]);
    expect(
      nb
        .grad((x: A) => g(i32(4), x) as A)(nb.array(3))
        .item(),
    ).toBe(6);
    expect(
      nb
        .grad((x: A) => g(i32(0), x) as A)(nb.array(3))
        .item(),
    ).toBe(-1);
  });

  it("a predicate must be a scalar: shape [1] is a ShapeError too, as in lax.cond", () => {
    for (const p of [nb.array([true]), nb.array([[1]], { dtype: "int32" }), nb.array([0.5])]) {
      expect(() => taken(p)).toThrow(nb.ShapeError);
      expect(() => taken(p)).toThrow(/^cond: the predicate must be a scalar \(shape \[\]\), got shape \[1(,1)?\]/);
    }
    // under vmap a per-example predicate of shape [1] is not scalar either
    expect(() => nb.vmap((p: A) => nb.cond(p, one, two))(nb.array([[true], [false]]))).toThrow(nb.ShapeError);
  });
});

// ---------------------------------------------------------------------------

describe("whileLoop", () => {
  it("the condition must be a bool scalar (lax.while_loop): shape [1] and float conditions throw, naming whileLoop", () => {
    const body = (v: A): A => nb.add(v, 1);
    expect(() => nb.whileLoop((v: A) => nb.reshape(nb.less(v, 3), [1]), body, nb.array(0))).toThrow(
      /^whileLoop: the condition must be a scalar \(shape \[\]\), got shape \[1\]/,
    );
    expect(() => nb.whileLoop((v: A) => nb.reshape(nb.less(v, 3), [1]), body, nb.array(0))).toThrow(nb.ShapeError);
    expect(() => nb.whileLoop((v: A) => nb.sub(3, v), body, nb.array(0))).toThrow(nb.DTypeError);
    // the scalar form runs: 0 → 3
    expect(nb.whileLoop((v: A) => nb.less(v, 3), body, nb.array(0)).item()).toBe(3);
    expect(
      nb
        .jit((x: A) => nb.whileLoop((v: A) => nb.less(v, 3), body, x))(nb.array(0))
        .item(),
    ).toBe(3);
  });
  // v ↦ 2v while v < 10
  const doubleJs = (v: number): { v: number; k: number } => {
    let k = 0;
    while (v < 10) {
      v *= 2;
      k++;
    }
    return { v, k };
  };
  function doubler() {
    const calls = { body: 0 };
    const fn = (x: A | number) =>
      nb.whileLoop(
        (v: A) => nb.less(v, 10),
        (v: A) => {
          calls.body++;
          return nb.mul(v, 2);
        },
        x as A,
      );
    return { fn, calls };
  }
  const xs = [1, 3, 11, 0.5, 9.99, 10];

  it("eager: runs the iterations the condition asks for", () => {
    const { fn, calls } = doubler();
    expectClose(nb.array(fn(1)), 16, [], 0);
    expect(calls.body).toBe(4);
    calls.body = 0;
    expectClose(nb.array(fn(nb.array(11))), 11, [], 0);
    expect(calls.body).toBe(0); // condition false at once: the body never runs
  });

  it("pytree state: counter and value (Collatz steps)", () => {
    const collatzJs = (n: number): number => {
      let k = 0;
      while (n !== 1) {
        n = n % 2 === 0 ? n / 2 : 3 * n + 1;
        k++;
      }
      return k;
    };
    for (const n of [1, 6, 7, 27]) {
      const out = nb.whileLoop(
        (s: { n: A; k: A }) => nb.notEqual(s.n, 1),
        (s: { n: A; k: A }) => ({
          n: nb.where(
            nb.equal(nb.sub(s.n, nb.mul(nb.floor(nb.div(s.n, 2)), 2)), 0),
            nb.div(s.n, 2),
            nb.add(nb.mul(s.n, 3), 1),
          ),
          k: nb.add(s.k, 1),
        }),
        { n: nb.array(n), k: nb.array(0) },
      );
      expectClose(out.k, collatzJs(n), [], 0);
      expectClose(out.n, 1, [], 0);
    }
  });

  it("grad and jvp differentiate through the iterations taken: d/dv = 2^k", () => {
    const { fn } = doubler();
    for (const x of xs) {
      const { k } = doubleJs(x);
      expectClose(nb.grad(fn)(x), 2 ** k, [], 0);
      const [y, dy] = nb.jvp(fn, [nb.array(x)], [nb.array(1)]);
      expectClose(y, doubleJs(x).v, [], 0);
      expectClose(dy, 2 ** k, [], 0);
    }
  });

  it("Newton's iteration for √a, differentiated through the loop (JS dual-number reference)", () => {
    const newton = (a: A) =>
      nb.whileLoop(
        (s: [A, A]) => nb.logicalAnd(nb.greater(nb.abs(nb.sub(nb.mul(s[0], s[0]), a)), 1e-10), nb.less(s[1], 50)),
        (s: [A, A]): [A, A] => [nb.mul(nb.add(s[0], nb.div(a, s[0])), 0.5), nb.add(s[1], 1)],
        [nb.onesLike(a), nb.array(0)],
      )[0];
    // the same loop over dual numbers (v, dv/da)
    const newtonJs = (a: number): [number, number] => {
      let v = 1;
      let dv = 0;
      let k = 0;
      while (Math.abs(v * v - a) > 1e-10 && k < 50) {
        const nv = 0.5 * (v + a / v);
        dv = 0.5 * (dv + (v - a * dv) / (v * v));
        v = nv;
        k++;
      }
      return [v, dv];
    };
    for (const a of [2, 9, 0.3]) {
      const [v, dv] = newtonJs(a);
      expectClose(newton(nb.array(a)), v, [], CF);
      expectClose(nb.grad(newton)(a), dv, [], CF);
      // and the derivative approaches the closed form 1/(2√a) (to the loop's convergence, ~1e-6 here)
      expect(Math.abs(dv - 1 / (2 * Math.sqrt(a)))).toBeLessThan(1e-6);
    }
  });

  it("linearize through the loop: the linear map is fixed at the primal's trip count", () => {
    // v ↦ 3v while v < 10, from 1: three steps (27), derivative 27
    const [y, lin] = nb.linearize(
      (x: A) =>
        nb.whileLoop(
          (v: A) => nb.less(v, 10),
          (v: A) => nb.mul(v, 3),
          x,
        ),
      nb.array(1),
    );
    expectClose(y, 27, [], 0);
    expectClose(lin(nb.array(1)), 27, [], 0);
    expectClose(lin(nb.array(-0.5)), -13.5, [], 0);
  });

  it("under vmap each example runs its own trip count (vs a JS loop per example)", () => {
    const { fn, calls } = doubler();
    const out = nb.vmap(fn)(arr(xs));
    expectClose(
      out,
      xs.map((x) => doubleJs(x).v),
      [xs.length],
      0,
    );
    // the loop runs while any example is active: max trip count body calls
    expect(calls.body).toBe(Math.max(...xs.map((x) => doubleJs(x).k)));
  });

  it("under vmap with pytree state: per-example counters", () => {
    const f = nb.vmap((x: A) =>
      nb.whileLoop(
        (s: [A, A]) => nb.less(s[1], 10),
        (s: [A, A]): [A, A] => [nb.add(s[0], 1), nb.mul(s[1], 2)],
        [nb.array(0), x] as [A, A],
      ),
    );
    const [k, v] = f(arr(xs)) as [A, A];
    expectClose(
      k,
      xs.map((x) => doubleJs(x).k),
      [xs.length],
      0,
    );
    expectClose(
      v,
      xs.map((x) => doubleJs(x).v),
      [xs.length],
      0,
    );
  });

  it("vmap(grad) and grad(sum∘vmap): per-example 2^k", () => {
    const { fn } = doubler();
    const ref = xs.map((x) => 2 ** doubleJs(x).k);
    expectClose(nb.vmap(nb.grad(fn))(arr(xs)), ref, [xs.length], 0);
    expectClose(nb.grad((x: A) => nb.sum(nb.vmap(fn)(x)))(arr(xs)), ref, [xs.length], 0);
    const [, dy] = nb.jvp(nb.vmap(fn), [arr(xs)], [nb.ones([xs.length])]);
    expectClose(dy, ref, [xs.length], 0);
  });

  it("vmap(grad): finished examples' extra body evaluations do not leak into their derivative", () => {
    // v ↦ √(v − 2) while v > 2. Example 3.5 finishes after one step (at 1.22), 20 needs two;
    // the batched loop evaluates the body once more on the finished example, at √(1.22 − 2).
    const w = (x: A) =>
      nb.whileLoop(
        (v: A) => nb.greater(v, 2),
        (v: A) => nb.sqrt(nb.sub(v, 2)),
        x,
      );
    // plain-JS value and derivative (chain rule through the iterations taken)
    const wJs = (x: number): [number, number] => {
      let v = x;
      let d = 1;
      while (v > 2) {
        d *= 1 / (2 * Math.sqrt(v - 2));
        v = Math.sqrt(v - 2);
      }
      return [v, d];
    };
    const xs = [3.5, 20];
    expectClose(
      nb.vmap(w)(arr(xs)),
      xs.map((x) => wJs(x)[0]),
      [2],
      CF,
    );
    const [, dy] = nb.jvp(nb.vmap(w), [arr(xs)], [nb.ones([2])]);
    expectClose(
      dy,
      xs.map((x) => wJs(x)[1]),
      [2],
      CF,
    );
    expectClose(
      nb.vmap(nb.grad(w))(arr(xs)),
      xs.map((x) => wJs(x)[1]),
      [2],
      CF,
    );
    expectClose(
      nb.grad((x: A) => nb.sum(nb.vmap(w)(x)))(arr(xs)),
      xs.map((x) => wJs(x)[1]),
      [2],
      CF,
    );
  });

  it("vmap over a matrix with a per-row condition on the row's norm", () => {
    // scale each row by 3 until its squared norm exceeds 50
    const rows = [
      [1, 0],
      [2, 2],
      [0.1, 0.1],
      [8, 1],
    ];
    const js = rows.map((r) => {
      let v = r.slice();
      while (v[0]! * v[0]! + v[1]! * v[1]! <= 50) v = v.map((a) => a * 3);
      return v;
    });
    const f = nb.vmap((r: A) =>
      nb.whileLoop(
        (v: A) => nb.lessEqual(nb.sum(nb.mul(v, v)), 50),
        (v: A) => nb.mul(v, 3),
        r,
      ),
    );
    expectClose(f(arr(rows.flat(), [4, 2])), js.flat(), [4, 2], CF);
  });

  it("under jit and makeGraph it is staged as a while_loop primitive with the same values", () => {
    const { fn } = doubler();
    // JS reference: doubling until >= 10
    const ref = (x: number) => {
      while (x < 10) x *= 2;
      return x;
    };
    for (const x0 of [1, 3, 20, 0.7]) expectClose(nb.jit(fn)(nb.array(x0)), ref(x0), [], 0);
    expect(
      nb
        .makeGraph(fn)(nb.array(1))
        .equations.map((e) => e.prim),
    ).toEqual(["while_loop"]);
    // batched outside and inside jit: per-example trip counts
    expectClose(nb.vmap(nb.jit(fn))(arr([1, 3, 20])), [16, 12, 20], [3], 0);
    expectClose(nb.jit(nb.vmap(fn))(arr([1, 3, 20])), [16, 12, 20], [3], 0);
  });

  it("a staged loop differentiates when its conditions are concrete (grad(jit)), with per-example masking", () => {
    const { fn } = doubler();
    // d/dx of doubling k times is 2^k: x=3 doubles twice, x=20 never
    expectClose(nb.grad(nb.jit(fn))(3), 4, [], 0);
    expectClose(nb.grad((x: A) => nb.sum(nb.jit(nb.vmap(fn))(x)))(arr([1, 3, 20])), [16, 4, 1], [3], 0);
    // sqrt(v - 2) until v <= 2: finished examples must not see the body's NaN derivative (closed form by chain rule)
    const w = (x: A) =>
      nb.whileLoop(
        (v: A) => nb.greater(v, 2),
        (v: A) => nb.sqrt(nb.sub(v, 2)),
        x,
      );
    const dref = (x: number) => {
      let d = 1;
      while (x > 2) {
        d *= 0.5 / Math.sqrt(x - 2);
        x = Math.sqrt(x - 2);
      }
      return d;
    };
    expectClose(nb.grad((x: A) => nb.sum(nb.jit(nb.vmap(w))(x)))(arr([3.5, 20])), [dref(3.5), dref(20)], [2], CF);
  });

  it("reverse mode inside a staged function (jit(grad)) with a traced condition: GradError naming whileLoop", () => {
    const { fn } = doubler();
    expect(() => nb.jit(nb.grad(fn))(nb.array(3))).toThrow(nb.GradError);
    expect(() => nb.makeGraph(nb.grad(fn))(nb.array(3))).toThrow(nb.GradError);
    expect(() => nb.jit(nb.grad(fn))(nb.array(3))).toThrow(/^whileLoop: .*forLoop.*scan/);
  });

  it("a condition with more than one element is a ShapeError", () => {
    expect(() =>
      nb.whileLoop(
        (v: A) => nb.less(v, 10),
        (v: A) => nb.mul(v, 2),
        arr([1, 2]),
      ),
    ).toThrow(nb.ShapeError);
  });
});

// ---------------------------------------------------------------------------

describe("forLoop", () => {
  it("values, with i passed as a JS number", () => {
    const seen: unknown[] = [];
    const out = nb.forLoop(
      2,
      6,
      (i: number, v: A) => {
        seen.push(i);
        return nb.add(nb.mul(v, 2), i);
      },
      nb.array(1),
    );
    let js = 1;
    for (let i = 2; i < 6; i++) js = 2 * js + i;
    expectClose(out, js, [], 0);
    expect(seen).toEqual([2, 3, 4, 5]);
    // an empty range returns init without calling the body
    let called = false;
    const same = nb.forLoop(
      3,
      3,
      (_i: number, v: A) => {
        called = true;
        return v;
      },
      nb.array(7),
    );
    expectClose(same, 7, [], 0);
    expect(called).toBe(false);
  });

  it("non-integer bounds are a NablaError", () => {
    expect(() => nb.forLoop(0, 2.5, (_i: number, v: A) => v, nb.array(0))).toThrow(nb.NablaError);
  });

  // p(x) = forLoop(0, 4, v ↦ v·x + (i + 1), 1) = x⁴ + x³ + 2x² + 3x + 4 (Horner)
  const horner = (x: A) => nb.forLoop(0, 4, (i: number, v: A) => nb.add(nb.mul(v, x), i + 1), nb.onesLike(x));
  const pJs = (x: number) => x ** 4 + x ** 3 + 2 * x ** 2 + 3 * x + 4;
  const dpJs = (x: number) => 4 * x ** 3 + 3 * x ** 2 + 4 * x + 3;
  const d2pJs = (x: number) => 12 * x ** 2 + 6 * x + 4;

  it("grad, second derivative and jvp (closed forms)", () => {
    const x = 0.7;
    expectClose(horner(nb.array(x)), pJs(x), [], CF);
    expectClose(nb.grad(horner)(x), dpJs(x), [], CF);
    expectClose(nb.grad(nb.grad(horner))(x), d2pJs(x), [], CF);
    const [, dy] = nb.jvp(horner, [nb.array(x)], [nb.array(-2)]);
    expectClose(dy, -2 * dpJs(x), [], CF);
  });

  it("under jit (unrolled, cached), vmap, and their compositions with grad", () => {
    let bodies = 0;
    const counted = (x: A) =>
      nb.forLoop(
        0,
        4,
        (i: number, v: A) => {
          bodies++;
          return nb.add(nb.mul(v, x), i + 1);
        },
        nb.onesLike(x),
      );
    const jf = nb.jit(counted);
    expectClose(jf(nb.array(1.5)), pJs(1.5), [], CF);
    expectClose(jf(nb.array(-0.5)), pJs(-0.5), [], CF);
    expect(bodies).toBe(4); // traced once
    expect(jf.cacheSize()).toBe(1);
    const xs = [-1, 0.25, 2];
    expectClose(nb.vmap(horner)(arr(xs)), xs.map(pJs), [3], CF);
    expectClose(nb.vmap(nb.grad(horner))(arr(xs)), xs.map(dpJs), [3], CF);
    expectClose(nb.jit(nb.vmap(nb.grad(horner)))(arr(xs)), xs.map(dpJs), [3], CF);
    expectClose(nb.grad(nb.jit(horner))(0.3), dpJs(0.3), [], CF);
    // the staged graph is unrolled: one add per iteration (the first mul, 1·x, may be simplified away)
    const g = nb.makeGraph(horner)(nb.array(0));
    expect(prims(g).filter((p) => p === "add").length).toBe(4);
    expect(prims(g).filter((p) => p === "mul").length).toBeGreaterThanOrEqual(3);
  });

  it("pytree state: Fibonacci pairs", () => {
    const fib = nb.forLoop(0, 10, (_i: number, s: { a: A; b: A }) => ({ a: s.b, b: nb.add(s.a, s.b) }), {
      a: nb.array(0),
      b: nb.array(1),
    });
    expectClose(fib.a, 55, [], 0);
    expectClose(fib.b, 89, [], 0);
  });
});

// ---------------------------------------------------------------------------

describe("scan", () => {
  const cumsumJs = (v: number[]) => {
    let s = 0;
    return v.map((a) => (s += a));
  };
  const cumprodJs = (v: number[]) => {
    let p = 1;
    return v.map((a) => (p *= a));
  };
  const xs = [0.5, -2, 3, 1.25, 4];
  const cumsum = (x: A, init: A | number = 0) => nb.scan((c: A, v: A) => [nb.add(c, v), nb.add(c, v)], init as A, x);
  const cumprod = (x: A) => nb.scan((c: A, v: A) => [nb.mul(c, v), nb.mul(c, v)], nb.array(1), x);

  it("cumulative sum and product (vs JS)", () => {
    const [total, running] = cumsum(arr(xs));
    expectClose(total, cumsumJs(xs).at(-1)!, [], CF);
    expectClose(running, cumsumJs(xs), [5], CF);
    const [p, ps] = cumprod(arr(xs));
    expectClose(p, cumprodJs(xs).at(-1)!, [], CF);
    expectClose(ps, cumprodJs(xs), [5], CF);
  });

  it("scans the leading axis of matrices: ys stack along a new leading axis", () => {
    // carry: running row sum; y: the carry's dot with the row
    const rows = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const [c, ys] = nb.scan((cr: A, r: A) => [nb.add(cr, r), nb.dot(cr, r)], nb.zeros([2]), arr(rows.flat(), [3, 2]));
    expectClose(c, [9, 12], [2], 0);
    // carries before each row: [0,0], [1,2], [4,6]
    expectClose(ys, [0, 1 * 3 + 2 * 4, 4 * 5 + 6 * 6], [3], 0);
  });

  it("reverse: scans from the end, ys in the original order", () => {
    const [total, suffix] = nb.scan((c: A, v: A) => [nb.add(c, v), nb.add(c, v)], nb.array(0), arr(xs), {
      reverse: true,
    });
    const suffixJs = cumsumJs(xs.slice().reverse()).reverse();
    expectClose(total, suffixJs[0]!, [], CF);
    expectClose(suffix, suffixJs, [5], CF);
    // order matters for a non-commutative carry: c ↦ 10c + x
    const [digits] = nb.scan((c: A, v: A) => [nb.add(nb.mul(c, 10), v), c], nb.array(0), arr([1, 2, 3]), {
      reverse: true,
    });
    expectClose(digits, 321, [], 0);
  });

  it("length with xs null: a generator", () => {
    const [c, ys] = nb.scan(
      (cr: A, x: null) => {
        expect(x).toBeNull();
        return [nb.mul(cr, 2), cr];
      },
      nb.array(1),
      null,
      { length: 5 },
    );
    expectClose(c, 32, [], 0);
    expectClose(ys, [1, 2, 4, 8, 16], [5], 0);
  });

  it("pytree carry and xs, pytree ys", () => {
    type C = { s: A; p: A };
    const a = [1, 2, 3];
    const b = [
      [0.5, 1],
      [2, -1],
      [1, 1],
    ];
    const [carry, ys] = nb.scan(
      (c: C, x: [A, { b: A }]) => {
        const s = nb.add(c.s, x[0]);
        const p = nb.mul(c.p, nb.sum(x[1].b));
        return [
          { s, p },
          { both: [s, p], row: nb.mul(x[1].b, x[0]) },
        ];
      },
      { s: nb.array(0), p: nb.array(1) },
      [arr(a), { b: arr(b.flat(), [3, 2]) }],
    );
    const sums = b.map((r) => r[0]! + r[1]!);
    expectClose(carry.s, 6, [], 0);
    expectClose(carry.p, cumprodJs(sums).at(-1)!, [], CF);
    expectClose(at(ys.both, 0), cumsumJs(a), [3], 0);
    expectClose(at(ys.both, 1), cumprodJs(sums), [3], CF);
    expectClose(
      ys.row,
      b.flatMap((r, i) => r.map((v) => v * a[i]!)),
      [3, 2],
      CF,
    );
  });

  it("zero-length xs: carry is init and ys has a leading 0", () => {
    const [c, ys] = nb.scan((cr: A, r: A) => [nb.add(cr, nb.sum(r)), nb.stack([r, r])], nb.array(5), nb.zeros([0, 3]));
    expectClose(nb.array(c), 5, [], 0);
    expect(ys.shape).toEqual([0, 2, 3]);
    expect(ys.dtype).toBe("float64");
    const [c2, ys2] = nb.scan((cr: A) => [cr, { a: cr, b: nb.zeros([4], { dtype: "int32" }) }], nb.array(1), null, {
      length: 0,
    });
    expectClose(nb.array(c2), 1, [], 0);
    expect(ys2.a.shape).toEqual([0]);
    expect(ys2.b.shape).toEqual([0, 4]);
    expect(ys2.b.dtype).toBe("int32");
  });

  it("zero-length xs under grad and jit: the carry passes through", () => {
    const f = (c0: A, x: A) => nb.scan((c: A, v: A) => [nb.add(c, v), nb.mul(c, v)], c0, x);
    expectClose(nb.grad((c0: A) => f(c0, nb.zeros([0]))[0])(2), 1, [], 0);
    const [c, ys] = nb.jit(f)(nb.array(2), nb.zeros([0]));
    expectClose(c, 2, [], 0);
    expect(ys.shape).toEqual([0]);
  });

  it("gradients: closed forms for cumsum and cumprod", () => {
    // d/dx_i sum(cumsum(x)) = n − i
    expectClose(
      nb.grad((x: A) => nb.sum(cumsum(x)[1]))(arr(xs)),
      xs.map((_, i) => xs.length - i),
      [5],
      CF,
    );
    // d/dx_i prod(x) = prod(x)/x_i (no zeros in xs)
    const P = xs.reduce((p, v) => p * v, 1);
    expectClose(
      nb.grad((x: A) => cumprod(x)[0])(arr(xs)),
      xs.map((v) => P / v),
      [5],
      CF,
    );
    // the carry's initial value: d/dc0 sum(cumsum(x, c0)) = n
    expectClose(nb.grad((c0: A) => nb.sum(cumsum(arr(xs), c0)[1]))(0.3), xs.length, [], CF);
  });

  // a small RNN: h_t = tanh(w·h_{t−1} + x_t); loss = sum_t h_t² + h_T
  const rnnJs = (v: number[]): number[] => {
    const [w, h0, ...x] = v as [number, number, ...number[]];
    let h = h0;
    let loss = 0;
    for (const xt of x) {
      h = Math.tanh(w * h + xt);
      loss += h * h;
    }
    return [loss + h];
  };
  const rnn = (w: A, h0: A, x: A) => {
    const [hT, hs] = nb.scan(
      (h: A, xt: A) => {
        const hn = nb.tanh(nb.add(nb.mul(w, h), xt));
        return [hn, hn];
      },
      h0,
      x,
    );
    return nb.add(nb.sum(nb.mul(hs, hs)), hT);
  };
  const v0 = [0.8, 0.1, 0.5, -0.3, 1.2, 0.05];

  it("gradients of an RNN through scan: reverse mode, forward mode and reverse scan (finite differences)", () => {
    const J = fdJacobian(rnnJs, v0);
    const w = nb.array(v0[0]!);
    const h0 = nb.array(v0[1]!);
    const x = arr(v0.slice(2));
    expectClose(rnn(w, h0, x), rnnJs(v0), [], CF);
    const [gw, gh, gx] = nb.grad(rnn, { argnums: [0, 1, 2] })(w, h0, x);
    expectClose(gw!, J[0]!, [], FD);
    expectClose(gh!, J[1]!, [], FD);
    expectClose(gx!, J.slice(2), [4], FD);
    const t = [0.3, -1, 0.2, 0.5, -0.7, 1.1];
    const [, dy] = nb.jvp(rnn, [w, h0, x], [nb.array(t[0]!), nb.array(t[1]!), arr(t.slice(2))]);
    expectClose(
      dy,
      J.reduce((s, jv, i) => s + jv * t[i]!, 0),
      [],
      FD,
    );
    // the same RNN run backwards over time is the forward RNN on the reversed sequence
    const rnnRev = (xx: A) => {
      const [hT, hs] = nb.scan(
        (h: A, xt: A) => {
          const hn = nb.tanh(nb.add(nb.mul(w, h), xt));
          return [hn, hn];
        },
        h0,
        xx,
        { reverse: true },
      );
      return nb.add(nb.sum(nb.mul(hs, hs)), hT);
    };
    const revX = v0.slice(2).reverse();
    const Jr = fdJacobian(rnnJs, [v0[0]!, v0[1]!, ...revX])
      .slice(2)
      .reverse();
    expectClose(nb.grad(rnnRev)(x), Jr, [4], FD);
  });

  it("hessian through scan (finite differences of the closed-form gradient of cumprod)", () => {
    // H_ij of prod(x) = prod(x)/(x_i x_j) for i ≠ j, 0 on the diagonal
    const x3 = [0.5, -2, 3];
    const P = x3.reduce((p, v) => p * v, 1);
    const H = x3.flatMap((a, i) => x3.map((b, j) => (i === j ? 0 : P / (a * b))));
    expectClose(nb.hessian((x: A) => cumprod(x)[0])(arr(x3)), H, [3, 3], CF);
  });

  it("under vmap (per-example sequences) and with vmap(grad)", () => {
    const seqs = [
      [1, 2, 3],
      [0.5, -1, 4],
    ];
    const [tot, run] = nb.vmap((s: A) => cumsum(s))(arr(seqs.flat(), [2, 3]));
    expectClose(
      tot,
      seqs.map((s) => cumsumJs(s).at(-1)!),
      [2],
      CF,
    );
    expectClose(run, seqs.flatMap(cumsumJs), [2, 3], CF);
    // batched RNN gradients wrt the inputs, per sequence
    const w = nb.array(v0[0]!);
    const h0 = nb.array(v0[1]!);
    const X = [v0.slice(2), [0.2, 0.2, -0.4, 0.9]];
    const ref = X.flatMap((xr) => fdJacobian(rnnJs, [v0[0]!, v0[1]!, ...xr]).slice(2));
    expectClose(nb.vmap(nb.grad((xr: A) => rnn(w, h0, xr)))(arr(X.flat(), [2, 4])), ref, [2, 4], FD);
    // vmap over the carry's initial value with unbatched xs
    const hs0 = [0.1, -0.6];
    const refH = hs0.map((h) => rnnJs([v0[0]!, h, ...v0.slice(2)])[0]!);
    expectClose(nb.vmap((h: A) => rnn(w, h, arr(v0.slice(2))))(arr(hs0)), refH, [2], CF);
  });

  it("hessian of the RNN in its inputs (second-order central differences)", () => {
    const w = nb.array(v0[0]!);
    const h0 = nb.array(v0[1]!);
    const x0 = v0.slice(2);
    const F = (x: number[]) => rnnJs([v0[0]!, v0[1]!, ...x])[0]!;
    // H_ij ≈ [F(x+h·ei+h·ej) − F(x+h·ei−h·ej) − F(x−h·ei+h·ej) + F(x−h·ei−h·ej)] / 4h², h = 1e-4:
    // truncation ~h²·(fourth derivative) ≈ 1e-8, rounding ~1e-16·|F|/h² ≈ 1e-8; compared at 1e-6.
    const h = 1e-4;
    const H = x0.flatMap((_, i) =>
      x0.map((__, j) => {
        const at = (si: number, sj: number) => {
          const x = x0.slice();
          x[i]! += si * h;
          x[j]! += sj * h;
          return F(x);
        };
        return (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h);
      }),
    );
    expectClose(nb.hessian((x: A) => rnn(w, h0, x))(arr(x0)), H, [4, 4], 1e-6);
  });

  it("under vmap with xs batched along axis 1", () => {
    const f = (c0: A, x: A) => nb.scan((c: A, v: A) => [nb.add(c, v), nb.mul(c, v)], c0, x);
    // columns [1, 3, 5] and [2, 4, 6]
    const [c, ys] = nb.vmap(f, { inAxes: [null, 1] })(nb.array(0), arr([1, 2, 3, 4, 5, 6], [3, 2]));
    expectClose(c, [9, 12], [2], 0);
    // carries before each step: [0, 1, 4] and [0, 2, 6]
    expectClose(ys, [0, 3, 20, 0, 8, 36], [2, 3], 0);
  });

  it("under jit: equal to the JS reference, cached per length", () => {
    let traces = 0;
    const jf = nb.jit((x: A) => {
      traces++;
      return cumsum(x);
    });
    const [t1, r1] = jf(arr(xs));
    expectClose(t1, cumsumJs(xs).at(-1)!, [], CF);
    expectClose(r1, cumsumJs(xs), [5], CF);
    jf(arr(xs.map((v) => 2 * v)));
    expect(traces).toBe(1);
    const [, r2] = jf(arr([1, 2]));
    expectClose(r2, [1, 3], [2], 0);
    expect(jf.cacheSize()).toBe(2);
    // jit(grad) of the RNN
    const J = fdJacobian(rnnJs, v0);
    const jg = nb.jit(nb.grad(rnn, { argnums: [0, 2] }));
    const [gw, gx] = jg(nb.array(v0[0]!), nb.array(v0[1]!), arr(v0.slice(2)));
    expectClose(gw!, J[0]!, [], FD);
    expectClose(gx!, J.slice(2), [4], FD);
  });

  it("malformed inputs and returns", () => {
    const f = (c: A, x: A) => [nb.add(c, x), x] as [A, A];
    expect(() => nb.scan(f, nb.array(0), nb.array(3))).toThrow(nb.ShapeError); // 0-d xs leaf
    // @ts-expect-error: f takes one array per step, xs is a pair
    expect(() => nb.scan(f, nb.array(0), [nb.zeros([2]), nb.zeros([3])])).toThrow(nb.ShapeError);
    expect(() => nb.scan(f, nb.array(0), nb.zeros([2]), { length: 3 })).toThrow(nb.ShapeError);
    // @ts-expect-error: with xs null, f's x is null
    expect(() => nb.scan(f, nb.array(0), null)).toThrow(nb.ShapeError); // neither xs nor length
    expect(() => nb.scan(((c: A) => c) as never, nb.array(0), nb.zeros([2]))).toThrow(nb.NablaError);
    let k = 0;
    expect(() => nb.scan((c: A, x: A) => [c, k++ === 0 ? x : [x, x]], nb.array(0), nb.zeros([3]))).toThrow(
      nb.ShapeError,
    );
  });
});
