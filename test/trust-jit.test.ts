// These tests hand nabla deliberately ill-typed or dynamically typed values (untrusted JSON,
// wrong arities, dead tracers) to check the runtime checks; each such line carries a
// `@ts-expect-error` (or a cast through unknown) saying why, and the rest is type-checked.
// The static types are tested in test/types.test.ts.
/**
 * Staged control flow and caches (issue 6, API.md "Semantics settled"): no
 * silent wrong answers under jit, cond, caches and dead tracers.
 *
 * - `cond` under jit / makeGraph / grad(jit) / jit(grad) / vmap: the untaken
 *   branch — NaN or infinite at the evaluation point, through operands or
 *   closed-over values — never reaches the result or its derivatives.
 *   Expected values are closed forms (derivatives of √x, 1/x, x², ...).
 * - jit's cache key: registered-class metadata, static arguments by the
 *   stated rule, LRU bound.
 * - Weak types of JS-number arguments through jit and vmap.
 * - Dead tracers throw TracerError on every use.
 * - A fast-check property over random programs containing `cond`.
 *
 * Tolerances (float64): closed forms 1e-12 relative (a few roundings of O(1)
 * values). jit against eager: 1e-10 relative — the same float64 operations,
 * but fusion and CSE may reorder a reduction or reuse a subexpression, a few
 * ulps amplified by at most a few levels of derivative chains with O(10)
 * factors. Exact expectations (0, powers of two) use tolerance 0.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { arbProgram, type Program } from "../src/testing/index.js";
import { arr, expectClose, vals } from "./support/assert.js";
import { fcSettings } from "./support/rng.js";

type A = nb.NDArray;

const CF = 1e-12;
const JIT = 1e-10;
const { SEED, RUNS } = fcSettings({ seed: 20261201, runs: 10 });

const prims = (g: nb.Graph): string[] => g.equations.map((e) => e.prim as string);

/** x and y agree elementwise (NaN only where the reference is NaN) within `tol` relative. */
function expectSame(x: A, ref: A, tol: number, what: string): void {
  expect(x.shape, what).toEqual(ref.shape);
  expect(x.dtype, what).toBe(ref.dtype);
  const a = vals(x);
  const b = vals(ref);
  a.forEach((v, i) => {
    const r = b[i]!;
    const ok = Number.isNaN(r) ? Number.isNaN(v) : v === r || Math.abs(v - r) <= tol * (1 + Math.abs(r));
    if (!ok) expect.fail(`${what}: element ${i} is ${v}, expected ${r}`);
  });
}

// ---------------------------------------------------------------------------

describe("cond: the untaken branch never leaks (issue 6 repro)", () => {
  // f(x) = x > 0 ? g(x) : 0·x, with g undefined or singular at 0; f'(0) = 0 (the false branch)
  const cases: [string, (x: A) => A, (x: number) => number][] = [
    ["sqrt", nb.sqrt, (x) => 0.5 / Math.sqrt(x)],
    ["1/x", (x) => nb.div(1, x), (x) => -1 / (x * x)],
    ["log", nb.log, (x) => 1 / x],
  ];
  for (const [name, g, dg] of cases) {
    // the branches close over x (no operands) ...
    const closed = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        () => g(x),
        () => nb.mul(x, 0),
      );
    // ... or take it as an operand
    const operand = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => g(v),
        (v: A) => nb.mul(v, 0),
        x,
      );
    for (const [how, f] of [
      ["closed over", closed],
      ["operand", operand],
    ] as const) {
      it(`${name}, ${how}: grad at 0 is 0 under every composition; at 4 it is g'(4)`, () => {
        const variants: [string, (x: A | number) => A][] = [
          ["grad", nb.grad(f)],
          ["jit(grad)", nb.jit(nb.grad(f))],
          ["grad(jit)", nb.grad(nb.jit(f))],
          ["jit(grad(jit))", nb.jit(nb.grad(nb.jit(f)))],
          ["grad(grad) at 0 via jit", (x) => nb.grad(nb.jit(nb.grad(f)))(x)],
        ];
        for (const [label, h] of variants) {
          expect(h(0).item(), label).toBe(0);
          expect(h(-1.5).item(), label).toBe(0);
        }
        for (const [, h] of variants.slice(0, 4)) expectClose(h(4), dg(4), [], CF);
        // values: the untaken branch's NaN never reaches the result
        expect(nb.jit(f)(0).item()).toBe(0);
        expect(nb.jit(f)(-2).item()).toBe(-0);
        // vmap: per-example branches, with and without jit, forward and reverse
        const xs = arr([0, 4, -1, 0.25]);
        const ref = [0, dg(4), 0, dg(0.25)];
        expectClose(nb.vmap(nb.grad(f))(xs), ref, [4], CF);
        expectClose(nb.jit(nb.vmap(nb.grad(f)))(xs), ref, [4], CF);
        expectClose(nb.grad((v: A) => nb.sum(nb.vmap(f)(v)))(xs), ref, [4], CF);
        expectClose(nb.vmap(nb.grad(nb.jit(f)))(xs), ref, [4], CF);
        expectClose(nb.jvp(nb.vmap(f), [xs], [nb.onesLike(xs)])[1], ref, [4], CF);
        expectClose(nb.jacfwd(nb.jit(f))(0), 0, [], 0);
        expectClose(nb.jacrev(nb.jit(f))(0), 0, [], 0);
      });
    }
  }

  it("second derivatives through a staged cond: hessian, jit(grad(grad)), grad(grad(jit))", () => {
    // f(x) = x > 0 ? x³ : √(−x)·0 + x²; f''(2) = 12, f''(−3) = 2
    const f = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (v: A) => nb.pow(v, 3),
        (v: A) => nb.add(nb.mul(nb.sqrt(nb.neg(v)), 0), nb.mul(v, v)),
        x,
      );
    for (const [x, d2] of [
      [2, 12],
      [-3, 2],
    ] as const) {
      expectClose(nb.jit(nb.grad(nb.grad(f)))(x), d2, [], CF);
      expectClose(nb.grad(nb.grad(nb.jit(f)))(x), d2, [], CF);
      expectClose(nb.jit(nb.hessian(f))(x), d2, [], CF);
      expectClose(nb.hessian(nb.jit(f))(x), d2, [], CF);
    }
    // at 2 the false branch's √(−x) is NaN; at −3 the true branch is finite but must not contribute
    expectClose(nb.vmap(nb.grad(nb.grad(f)))(arr([2, -3])), [12, 2], [2], CF);
  });

  it("third derivatives through a staged cond: every composition of grad and jacfwd under jit", () => {
    // x > 0 ? x⁴ + 0·log x : sin x + 0·√(−x), each hazard NaN exactly where its branch is not taken;
    // the third derivative is 24x for x > 0, −cos x for x < 0
    const f = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        () => nb.add(nb.pow(x, 4), nb.mul(nb.log(x), 0)),
        () => nb.add(nb.sin(x), nb.mul(nb.sqrt(nb.neg(x)), 0)),
      );
    type Scalar = (x: A) => A;
    const D: ((g: Scalar) => Scalar)[] = [(g) => nb.grad(g), (g) => nb.jacfwd(g)];
    for (const a of D)
      for (const b of D)
        for (const c of D) {
          const d3 = nb.jit(a(b(c(f))));
          expectClose(d3(1.5), 36, [], CF);
          expectClose(d3(-0.7), -Math.cos(-0.7), [], CF);
        }
  });

  it("jit(grad(f)) stages a cond in the backward pass; makeGraph(f) holds both branch graphs", () => {
    const f = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        () => nb.sqrt(x),
        () => nb.mul(x, 0),
      );
    const g = nb.makeGraph(nb.grad(f))(nb.array(1));
    expect(prims(g)).toContain("cond");
    // forward mode under staging: one cond carrying primal and tangent together
    const gj = nb.makeGraph((x: A) => nb.jvp(f, [x], [1]))(nb.array(1));
    expect(prims(gj).filter((q) => q === "cond").length).toBe(1);
    const gf = nb.makeGraph(f)(nb.array(1));
    expect(prims(gf)).toEqual(["gt", "cond"]);
    const p = gf.equations[1]!.params as { whenTrue: nb.Graph; whenFalse: nb.Graph };
    expect(prims(p.whenTrue)).toEqual(["sqrt"]);
    expect(prims(p.whenFalse)).toEqual(["mul"]);
  });

  it("pytree operands and outputs, several closed-over arrays, int outputs", () => {
    const w = arr([1, -2]);
    const f = (p: { a: A; b: A }, s: A) =>
      nb.cond(
        nb.greater(s, 0),
        (q: { a: A; b: A }) => ({ y: nb.add(nb.mul(q.a, w), nb.log(s)), k: nb.array(1, { dtype: "int32" }) }),
        (q: { a: A; b: A }) => ({ y: nb.mul(q.b, nb.sqrt(nb.neg(s))), k: nb.array(2, { dtype: "int32" }) }),
        p,
      );
    const p = { a: arr([3, 4]), b: arr([5, 6]) };
    for (const s of [2, -4]) {
      const eager = f(p, nb.array(s));
      const staged = nb.jit(f)(p, nb.array(s));
      expectSame(staged.y, eager.y, JIT, "y");
      expect(staged.k.item()).toBe(s > 0 ? 1 : 2);
      expect(staged.k.dtype).toBe("int32");
      const loss = (q: { a: A; b: A }, t: A) => nb.sum(f(q, t).y);
      const [ga, gs] = nb.jit(nb.grad(loss, { argnums: [0, 1] }))(p, nb.array(s));
      // s > 0: d/da = w, d/db = 0, d/ds = 2/s; s < 0: d/da = 0, d/db = √(−s), d/ds = −Σb / (2√(−s))
      const ga2 = ga as { a: A; b: A };
      if (s > 0) {
        expectClose(ga2.a, [1, -2], [2], CF);
        expectClose(ga2.b, [0, 0], [2], 0);
        expectClose(gs as A, 2 / s, [], CF);
      } else {
        expectClose(ga2.a, [0, 0], [2], 0);
        expectClose(ga2.b, [2, 2], [2], CF);
        expectClose(gs as A, -11 / (2 * Math.sqrt(-s)), [], CF);
      }
    }
  });

  it("a nested cond under jit(grad) and vmap", () => {
    // x > 0 ? (x > 1 ? log(x) : x²) : 1/(x−1); derivatives 1/x, 2x, −1/(x−1)²
    const f = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        () =>
          nb.cond(
            nb.greater(x, 1),
            () => nb.log(x),
            () => nb.mul(x, x),
          ),
        () => nb.div(1, nb.sub(x, 1)),
      );
    const xs = [3, 0.5, -1, 1];
    const ref = xs.map((x) => (x > 0 ? (x > 1 ? 1 / x : 2 * x) : -1 / (x - 1) ** 2));
    for (const [i, x] of xs.entries()) {
      expectClose(nb.jit(nb.grad(f))(x), ref[i]!, [], CF);
      expectClose(nb.grad(nb.jit(f))(x), ref[i]!, [], CF);
    }
    expectClose(nb.vmap(nb.grad(f))(arr(xs)), ref, [4], CF);
    expectClose(nb.jit(nb.vmap(nb.grad(f)))(arr(xs)), ref, [4], CF);
  });

  it("eager cond still checks an untaken branch that reads a concrete value: TracerError naming cond", () => {
    // the untaken branch calls item(): it cannot be traced abstractly, so the branch check cannot run;
    // that is an error (as jax.lax.cond, which traces both branches), not a silent skip
    const f = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        () => x,
        (y: A) => (y.item() > -5 ? nb.stack([y, y]) : y),
        x,
      );
    for (const x of [nb.array(1)]) {
      expect(() => f(x)).toThrow(nb.TracerError);
      expect(() => f(x)).toThrow(/^cond: the branch not taken \(falseFn\) cannot be traced.*item/);
    }
    // the taken branch runs on concrete values and may read them; with the predicate flipped, the
    // concretising branch is taken and the other (traceable) one is checked: shapes [2] vs [] disagree
    expect(() => f(nb.array(-1))).toThrow(nb.ShapeError);
    // a traceable untaken branch that disagrees is caught whatever the predicate (and the library recovers)
    const g = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        (y: A) => (y.item() > 0 ? y : nb.neg(y)),
        (y: A) => nb.stack([y, y]),
        x,
      );
    expect(() => g(nb.array(1))).toThrow(nb.ShapeError);
    expect(
      vals(
        nb.cond(
          true,
          () => nb.array(3),
          () => nb.array(4),
        ) as A,
      ),
    ).toEqual([3]);
  });

  it("branches must agree in structure, shape and dtype whatever the predicate, eager or staged", () => {
    const bad: [(x: A) => unknown, typeof nb.ShapeError | typeof nb.DTypeError][] = [
      [
        (x) =>
          nb.cond(
            nb.greater(x, 0),
            () => [x],
            () => x,
          ),
        nb.ShapeError,
      ],
      [
        (x) =>
          nb.cond(
            nb.greater(x, 0),
            () => x,
            () => nb.stack([x, x]),
          ),
        nb.ShapeError,
      ],
      [
        (x) =>
          nb.cond(
            nb.greater(x, 0),
            () => x,
            () => nb.astype(x, "float32"),
          ),
        nb.DTypeError,
      ],
      [
        (x) =>
          nb.cond(
            nb.greater(x, 0),
            () => x,
            () => nb.astype(x, "int32"),
          ),
        nb.DTypeError,
      ],
    ];
    for (const [f, E] of bad) {
      for (const run of [
        () => f(nb.array(1)),
        () => f(nb.array(-1)),
        () => nb.jit(f)(nb.array(1)),
        () => nb.makeGraph(f)(nb.array(1)),
        () => nb.vmap(f)(arr([1, -1])),
        () => nb.grad((x: A) => nb.sum(nb.array(f(x) as A)))(nb.array(1)),
      ]) {
        expect(run).toThrow(E);
        expect(run).toThrow(/^cond: /);
      }
    }
    // a bare JS number in one branch is weakly typed: it takes the other branch's dtype
    const x32 = nb.array(2, { dtype: "float32" });
    const g = (x: A) =>
      nb.cond(
        nb.greater(x, 0),
        () => x,
        () => 0,
      );
    // eager cond may return the bare number 0 (its type says so); here both calls return arrays
    expect((g(x32) as A).dtype).toBe("float32");
    expect((g(nb.array(-1, { dtype: "float32" })) as A).dtype).toBe("float32");
    expect(nb.jit(g)(x32).dtype).toBe("float32");
    expect(
      nb
        .jit(g)(nb.array(-1, { dtype: "float32" }))
        .item(),
    ).toBe(0);
  });
});

// ---------------------------------------------------------------------------

describe("jit cache key (API.md: structure with metadata, shapes, dtypes, weak types, statics)", () => {
  class Layer {
    constructor(
      readonly w: A,
      readonly act: unknown,
    ) {}
  }
  nb.tree.register(
    Layer,
    (l) => [[l.w], l.act],
    (act, [w]) => new Layer(w as A, act),
  );
  /** The plain-JS activation the test associates with a metadata value (independent of nabla's key). */
  const activate = (act: unknown, w: A): A => {
    if (act === "relu") return nb.relu(w);
    if (act === "tanh") return nb.tanh(w);
    if (typeof act === "number") return nb.mul(w, Number.isNaN(act) ? 7 : 1 / act);
    if (Array.isArray(act)) return nb.mul(w, act.length);
    if (typeof act === "function") return nb.mul(w, (act as () => number)());
    if (act instanceof Map) return nb.mul(w, act.get("k") as number);
    return nb.mul(w, (act as { k: number }).k);
  };

  it("registered-class metadata is part of the key; outputs carry this call's metadata", () => {
    const f = nb.jit((l: Layer) => ({ y: activate(l.act, l.w), l }));
    const w = arr([-1, 0.5]);
    const relu = f(new Layer(w, "relu"));
    expectClose(relu.y, [0, 0.5], [2], 0);
    const tanh = f(new Layer(w, "tanh"));
    expectClose(tanh.y, [Math.tanh(-1), Math.tanh(0.5)], [2], CF);
    expect(tanh.l).toBeInstanceOf(Layer);
    expect(tanh.l.act).toBe("tanh");
    expect(f(new Layer(w, "relu")).l.act).toBe("relu");
    expect(f.cacheSize()).toBe(2);
  });

  it("two registered classes with the same name and shape of metadata do not share an entry", () => {
    const make = () => {
      class Box {
        constructor(readonly v: A) {}
      }
      nb.tree.register(
        Box,
        (b) => [[b.v], null],
        (_m, [v]) => new Box(v as A),
      );
      return Box;
    };
    const B1 = make();
    const B2 = make();
    const f = nb.jit((b: { v: A }) => b);
    expect(f(new B1(arr([1])))).toBeInstanceOf(B1);
    expect(f(new B2(arr([1])))).toBeInstanceOf(B2);
  });

  it("static arguments: Object.is for primitives, structure for arrays and plain objects, identity otherwise", () => {
    let traces = 0;
    const f = nb.jit(
      (x: A, s: unknown) => {
        traces++;
        return activate(s, x);
      },
      { staticArgnums: [1] },
    );
    const x = arr([2, -3]);
    const check = (s: unknown, retrace: boolean) => {
      const before = traces;
      expectSame(f(x, s), activate(s, x), 0, `static ${String(s)}`);
      expect(traces - before, `static ${String(s)}`).toBe(retrace ? 1 : 0);
    };
    check(NaN, true);
    check(NaN, false); // NaN matches NaN
    check(Infinity, true); // and is not Infinity
    check(0, true);
    check(-0, true); // 0 and -0 differ
    check(0, false);
    check({ k: 2 }, true);
    check({ k: 2 }, false); // plain objects structurally
    check({ k: 3 }, true);
    check([1, 2], true);
    check([1, 2], false);
    // closures with the same source text are different functions
    const mk = (k: number) => () => k;
    const one = mk(1);
    check(one, true);
    check(mk(5), true);
    check(one, false);
    // every Map is its own key (identity)
    const m = new Map([["k", 4]]);
    check(m, true);
    check(new Map([["k", 6]]), true);
    check(m, false);
  });

  it("a call repeating the last signature reuses its entry; a change in any part of the key does not", () => {
    const traced: string[] = [];
    const body = (t: { a: A; b?: unknown; c?: unknown }): A => {
      const extra = t.b ?? t.c;
      const e = Array.isArray(extra) ? (extra[0] as A | number) : 0;
      return nb.add(nb.mul(t.a, 2), e);
    };
    const f = nb.jit((t: { a: A; b?: unknown; c?: unknown }) => {
      traced.push(`${Object.keys(t).join("")}:${t.a.shape}:${t.a.dtype}`);
      return body(t);
    });
    const x2 = arr([1, 2]);
    const x3 = arr([1, 2, 3]);
    const calls: [{ a: A; b?: unknown; c?: unknown }, boolean][] = [
      [{ a: x2, b: [arr([5])] }, true],
      [{ a: x2, b: [arr([6])] }, false], // same signature: the last entry
      [{ a: x3, b: [arr([6])] }, true], // another shape
      [{ a: x2, b: [arr([7])] }, false], // back: found by key
      [{ a: x2, b: [arr([7])] }, false],
      [{ a: x2, b: [4] }, true], // a weak scalar (a JS number) instead of a [1] array
      [{ a: x2, b: [nb.array(4)] }, true], // a strong 0-d array
      [{ a: x2, c: [nb.array(4)] }, true], // another key
      [{ a: nb.astype(x2, "float32"), c: [nb.array(4, { dtype: "float32" })] }, true], // another dtype
      [{ a: x2, b: null }, true],
      [{ a: x2, b: undefined }, true], // undefined is not null
      [{ a: x2, b: undefined }, false],
    ];
    for (const [t, retrace] of calls) {
      const before = traced.length;
      const got = f(t);
      const want = body(t);
      expect(got.shape).toEqual(want.shape);
      expect(got.dtype).toBe(want.dtype);
      expect(Array.from(got.toTypedArray())).toEqual(Array.from(want.toTypedArray()));
      expect(traced.length - before, JSON.stringify(traced)).toBe(retrace ? 1 : 0);
    }
    // debugNans stages a graph of its own, and turning it off finds the plain entry again
    nb.config({ debugNans: true });
    try {
      f({ a: x2, b: undefined });
      expect(traced).toHaveLength(9);
    } finally {
      nb.config({ debugNans: false });
    }
    f({ a: x2, b: undefined });
    expect(traced).toHaveLength(9);
  });

  it("a bounded LRU cache: cacheSize entries, least recently used evicted", () => {
    const traced: number[] = [];
    const f = nb.jit(
      (x: A, k: number) => {
        traced.push(k);
        return nb.mul(x, k);
      },
      { staticArgnums: [1], cacheSize: 2 },
    );
    const x = arr([1]);
    for (const k of [1, 2, 1, 3, 1, 2]) expectClose(f(x, k), [k], [1], 0);
    // 1, 2 traced; 1 hit (now most recent); 3 evicts 2; 1 hit; 2 retraced (evicting 3)
    expect(traced).toEqual([1, 2, 3, 2]);
    expect(f.cacheSize()).toBe(2);
    // the default bound is 256
    const g = nb.jit((v: A, k: number) => nb.mul(v, k), { staticArgnums: [1] });
    for (let k = 0; k < 300; k++) g(x, k);
    expect(g.cacheSize()).toBe(256);
    for (const bad of [0, -1, 1.5, NaN, "2"])
      expect(() => nb.jit((v: A) => v, { cacheSize: bad as number })).toThrow(/^jit: cacheSize/);
  });

  it("property: alternating static arguments and metadata give what eager gives", () => {
    const pool: unknown[] = [
      "relu",
      "tanh",
      NaN,
      0,
      -0,
      Infinity,
      2,
      [1, 2, 3],
      [1, 2],
      { k: 2 },
      { k: -1 },
      (() => {
        const k = 3;
        return () => k;
      })(),
      (() => {
        const k = 4;
        return () => k;
      })(),
      new Map([["k", 5]]),
      new Map([["k", 6]]),
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(pool.length - 1), fc.nat(pool.length - 1)), { minLength: 1, maxLength: 12 }),
        (calls) => {
          const f = nb.jit((l: Layer, s: unknown) => ({ y: nb.add(activate(l.act, l.w), activate(s, l.w)), l }), {
            staticArgnums: [1],
            cacheSize: 3,
          });
          const w = arr([-0.5, 2]);
          for (const [i, j] of calls) {
            const l = new Layer(w, pool[i]);
            const out = f(l, pool[j]);
            expectSame(out.y, nb.add(activate(l.act, w), activate(pool[j], w)), 0, `call (${i}, ${j})`);
            expect(Object.is(out.l.act, pool[i])).toBe(true);
          }
        },
      ),
      { seed: SEED, numRuns: 5 * RUNS },
    );
  });
});

// ---------------------------------------------------------------------------

describe("weak types through jit and vmap", () => {
  const x32 = nb.array([1, 2], { dtype: "float32" });
  it("a JS number argument is weakly typed, as eagerly", () => {
    const f = (x: A, s: A) => x.mul(s);
    expect(f(x32, 2 as never).dtype).toBe("float32");
    expect(nb.jit(f)(x32, 2).dtype).toBe("float32");
    expect(nb.vmap(f, { inAxes: [0, null] })(x32, 2).dtype).toBe("float32");
    expect(nb.jit(nb.vmap(f, { inAxes: [0, null] }))(x32, 2).dtype).toBe("float32");
    expectClose(nb.jit(f)(x32, 2), [2, 4], [2], 0);
  });
  it("... and under grad and jvp", () => {
    const [y, dy] = nb.jvp((s: A) => nb.mul(x32, s), [2], [1]);
    expect(y.dtype).toBe("float32");
    expect(dy.dtype).toBe("float32");
    expectClose(dy, [1, 2], [2], 0);
    const g = nb.grad((v: A, s: number) => nb.sum(nb.mul(v, s)))(x32, 3);
    expect(g.dtype).toBe("float32");
    expectClose(g, [3, 3], [2], 0);
    expect(nb.grad((v: A, s: A) => nb.sum(nb.mul(v, s)), { argnums: 1 })(x32, 3).dtype).toBe("float64");
  });
  it("weak type is part of the cache key", () => {
    let traces = 0;
    const f = nb.jit((x: A, s: A) => {
      traces++;
      return nb.mul(x, s);
    });
    expect(f(x32, 2).dtype).toBe("float32");
    expect(f(x32, nb.array(2)).dtype).toBe("float64"); // a strong float64 scalar promotes
    expect(f(x32, 3).dtype).toBe("float32");
    expect(traces).toBe(2);
  });
  it("an integral JS number with int32 or bool arrays promotes as eagerly (int32), a fractional one to float64", () => {
    const xi = nb.array([1, 2, 3], { dtype: "int32" });
    const b = nb.array([true, false]);
    let traces = 0;
    const f = (x: A, s: number): A => nb.mul(x, s);
    const jf = nb.jit((x: A, s: number) => {
      traces++;
      return f(x, s);
    });
    // eager is the oracle for the dtype, and the values are the closed forms
    for (const [x, s, want] of [
      [xi, 2, [2, 4, 6]],
      [xi, 2.5, [2.5, 5, 7.5]],
      [xi, -3, [-3, -6, -9]],
      [b, 2, [2, 0]],
      [b, 0.5, [0.5, 0]],
    ] as [A, number, number[]][]) {
      const e = f(x, s);
      const j = jf(x, s);
      expect(j.dtype).toBe(e.dtype);
      expect(vals(j)).toEqual(want);
      expect(vals(e)).toEqual(want);
    }
    // int32 with 2 then -3: one trace (both integral); 2.5 its own; bool with 2 and with 0.5
    expect(traces).toBe(4);
    expect(jf(xi, 7).dtype).toBe("int32"); // the repeat path compares integrality too
    expect(jf(xi, 7.5).dtype).toBe("float64");
    expect(traces).toBe(4);
  });
});

// ---------------------------------------------------------------------------

describe("dead tracers always throw TracerError", () => {
  const leak = (): A => {
    let t: A | undefined;
    nb.grad((y: A) => ((t = y), y))(1);
    return t!;
  };
  it("returned from another transform, or used in a no-op operation", () => {
    const t = leak();
    const uses: [string, () => unknown][] = [
      ["jit", () => nb.jit((_: A) => t)(1)],
      ["jacfwd", () => nb.jacfwd((_: A) => t)(1)],
      ["jacrev", () => nb.jacrev((_: A) => t)(1)],
      ["grad", () => nb.grad((_: A) => t)(1)],
      ["vmap", () => nb.vmap((_: A) => t)(arr([1, 2]))],
      ["makeGraph", () => nb.makeGraph((_: A) => t)(1)],
      ["jvp", () => nb.jvp(() => t, [1], [1])],
      ["vjp", () => nb.vjp(() => t, 1)],
      [
        "cond",
        () =>
          nb.cond(
            true,
            () => t,
            () => t,
          ),
      ],
      ["reshape", () => t.reshape(t.shape)],
      ["astype", () => t.astype(t.dtype)],
      ["sum over no axes", () => nb.sum(t, [])],
      ["broadcastTo", () => nb.broadcastTo(t, t.shape)],
      ["item", () => t.item()],
      ["add", () => nb.add(t, 0)],
      ["a jitted function's argument", () => nb.jit((v: A) => v)(t)],
    ];
    for (const [name, use] of uses) expect(use, name).toThrow(nb.TracerError);
    // the library still works afterwards
    expectClose(nb.grad((y: A) => nb.mul(y, y))(3), 6, [], 0);
  });
});

// ---------------------------------------------------------------------------

/**
 * Random programs containing cond: f(x) = cond(s > 0, T, F) with s = Σx − t, where
 * T = g1(x) + √s (NaN when s < 0) and F = g2(x) + log(−s) (NaN when s > 0), g1, g2 from arbProgram,
 * the hazards reached through closed-over values or operands. |s| ≥ 0.3 keeps the predicate away from 0.
 */
interface CondProgram {
  f: (x: A) => A;
  xs: A[];
  show: string;
}
const arbCondProgram: fc.Arbitrary<CondProgram> = arbProgram({ maxDepth: 2, maxDim: 2 }).chain((g1: Program) =>
  arbProgram({ maxDepth: 2, maxDim: 2 })
    .filter((g2) => g2.inputShape.join() === g1.inputShape.join())
    .chain((g2) =>
      fc
        .tuple(
          g1.input,
          fc.double({ min: -1, max: 1, noNaN: true }),
          fc.array(fc.tuple(fc.boolean(), fc.double({ min: 0.3, max: 2, noNaN: true })), {
            minLength: 2,
            maxLength: 3,
          }),
          fc.boolean(),
        )
        .map(([x0, t, targets, viaOperands]): CondProgram => {
          const n = g1.inputShape[0]! * g1.inputShape[1]!;
          const s0 = nb.sum(x0).item() - t;
          // inputs shifted so that s = ±margin: both sides of the predicate
          const xs = targets.map(([pos, m]) => nb.add(x0, ((pos ? m : -m) - s0) / n));
          const sOf = (x: A) => nb.sub(nb.sum(x), t);
          const f = viaOperands
            ? (x: A) =>
                nb.cond(
                  nb.greater(sOf(x), 0),
                  (v: A, s: A) => nb.add(g1.f(v), nb.sqrt(s)),
                  (v: A, s: A) => nb.add(g2.f(v), nb.log(nb.neg(s))),
                  x,
                  sOf(x),
                )
            : (x: A) => {
                const s = sOf(x);
                return nb.cond(
                  nb.greater(s, 0),
                  () => nb.add(g1.f(x), nb.sqrt(s)),
                  () => nb.add(g2.f(x), nb.log(nb.neg(s))),
                );
              };
          const show = `cond(Σx − ${t} > 0, ${g1.expr} + √s, ${g2.expr} + log(−s)) via ${viaOperands ? "operands" : "closure"}`;
          const p: CondProgram = { f, xs, show };
          Object.defineProperty(p, fc.toStringMethod, {
            value: () => `${show}\n  at ${xs.join(", ")}`,
            enumerable: false,
          });
          return p;
        }),
    ),
);

it("property: random programs with cond — jit, grad(jit), jit(grad), vmap equal eager", () => {
  fc.assert(
    fc.property(arbCondProgram, ({ f, xs }) => {
      const loss = (x: A) => nb.sum(f(x));
      const g = nb.grad(loss);
      for (const x of xs) {
        const y = f(x);
        const dy = g(x);
        expect(vals(dy).every(Number.isFinite)).toBe(true);
        expectSame(nb.jit(f)(x), y, JIT, "jit(f)");
        expectSame(nb.grad(nb.jit(loss))(x), dy, JIT, "grad(jit(f))");
        expectSame(nb.jit(g)(x), dy, JIT, "jit(grad(f))");
      }
      const X = nb.stack(xs);
      expectSame(nb.vmap(f)(X), nb.stack(xs.map(f)), JIT, "vmap(f)");
      expectSame(nb.vmap(g)(X), nb.stack(xs.map(g)), JIT, "vmap(grad(f))");
      expectSame(nb.jit(nb.vmap(g))(X), nb.stack(xs.map(g)), JIT, "jit(vmap(grad(f)))");
      expectSame(nb.grad((v: A) => nb.sum(nb.vmap(f)(v)))(X), nb.stack(xs.map(g)), JIT, "grad(sum∘vmap(f))");
    }),
    { seed: SEED + 1, numRuns: RUNS },
  );
});

// ---------------------------------------------------------------------------

describe("whileLoop with a traced condition: forward mode staged, reverse mode a GradError", () => {
  // Newton's iteration for √a from 1; d√a/da = 1/(2√a), d²√a/da² = −1/(4 a^1.5), to the loop's
  // convergence (|v² − a| ≤ 1e-13, so v and its derivatives are within ~1e-13 relative: compared at 1e-10)
  const newton = (a: A) =>
    nb.whileLoop(
      (s: [A, A]) => nb.logicalAnd(nb.greater(nb.abs(nb.sub(nb.mul(s[0], s[0]), a)), 1e-13), nb.less(s[1], 60)),
      (s: [A, A]): [A, A] => [nb.mul(nb.add(s[0], nb.div(a, s[0])), 0.5), nb.add(s[1], 1)],
      [nb.onesLike(a), nb.array(0)],
    )[0];
  const d1 = (a: number) => 0.5 / Math.sqrt(a);
  const d2 = (a: number) => -0.25 / a ** 1.5;
  const TOL = 1e-10;

  it("jit(jvp), jit(jacfwd), jit(linearize), jit(jacfwd(jacfwd)) against closed forms", () => {
    for (const a of [4, 9, 0.3]) {
      expectClose(nb.jit((x: A) => nb.jvp(newton, [x], [1])[1])(a), d1(a), [], TOL);
      expectClose(nb.jit(nb.jacfwd(newton))(a), d1(a), [], TOL);
      expectClose(nb.jit((x: A) => nb.linearize(newton, x)[1](2))(a), 2 * d1(a), [], TOL);
      expectClose(nb.jit(nb.jacfwd(nb.jacfwd(newton)))(a), d2(a), [], TOL);
    }
    // the loop is staged once: a while_loop in the graph, not an unrolled chain
    const g = nb.makeGraph((x: A) => nb.jvp(newton, [x], [1])[1])(nb.array(4));
    expect(prims(g)).toContain("while_loop");
  });

  it("vmap(jvp) and jit(vmap(jvp)): per-example trip counts", () => {
    const as = [4, 9, 0.3, 100];
    const f = (x: A) => nb.jvp(newton, [x], [1])[1];
    expectClose(nb.vmap(f)(arr(as)), as.map(d1), [4], TOL);
    expectClose(nb.jit(nb.vmap(f))(arr(as)), as.map(d1), [4], TOL);
    expectClose(nb.jit(nb.vmap(nb.jacfwd(newton)))(arr(as)), as.map(d1), [4], TOL);
  });

  it("reverse mode with a traced condition is a GradError naming whileLoop and suggesting forLoop/scan", () => {
    for (const run of [
      () => nb.jit(nb.grad(newton))(nb.array(4)),
      () => nb.makeGraph(nb.grad(newton))(nb.array(4)),
      () => nb.jit(nb.jacrev(newton))(nb.array(4)),
      () => nb.jit((x: A) => nb.vjp(newton, x)[1](1))(nb.array(4)),
    ]) {
      expect(run).toThrow(nb.GradError);
      expect(run).toThrow(/^whileLoop: .*forLoop.*scan/);
    }
    // with a concrete condition reverse mode works (grad(jit(f)) unrolls the staged loop)
    expectClose(nb.grad(nb.jit(newton))(4), d1(4), [], TOL);
    expectClose(nb.grad(newton)(4), d1(4), [], TOL);
    // and the library still works after the error
    expectClose(nb.jit(nb.grad((x: A) => nb.mul(x, x)))(3), 6, [], 0);
  });
});
