/**
 * Structure-aware jit rewrites (src/transforms/passes/structure.ts): matmul with an identity basis
 * (`eyeMatmul`). Snapshots of the rewritten graphs (checked by hand against the graph rewritten), a
 * property test that the default (exact) rewrite keeps every value bit for bit — finite operands,
 * signed zeros, ±∞ and NaN included — and that "full" agrees on finite operands up to the sign of
 * zero, and checks that the rewrite fires on the Jacobians of W6 and that jit(jacobian) still
 * composes with grad and vmap.
 *
 * NABLA_FC_RUNS (default 10) scales the run counts; NABLA_FC_SEED fixes the seed.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { type Graph, evalGraph } from "../src/core/graph.js";
import { eyeMatmul } from "../src/transforms/passes/structure.js";

type A = nb.NDArray;
const RUNS = Number(process.env.NABLA_FC_RUNS ?? 10);
const SEED = Number(process.env.NABLA_FC_SEED ?? 20261202);

const bitsOf = (x: A): number[] => Array.from(x.toTypedArray() as ArrayLike<number>);

/** A number as printed in failure messages (-0 shown as such). */
const fmt = (v: number | undefined): string => (Object.is(v, -0) ? "-0" : String(v));

function expectIdentical(want: A, got: A, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  expect(got.dtype, what).toBe(want.dtype);
  const [x, y] = [bitsOf(want), bitsOf(got)];
  x.forEach((v, i) => {
    if (!Object.is(v, y[i])) expect.fail(`${what}, element ${i}: ${fmt(v)} became ${fmt(y[i])}`);
  });
}

/** The matmul equations of a graph's top level (a cond's branches not included). */
const matmuls = (g: Graph): number => g.equations.filter((e) => e.prim === "matmul").length;

describe("eyeMatmul on small graphs", () => {
  it("A·I: the broadcast product under a cond on Σ A·0 being NaN, whose true branch is the matmul", () => {
    // (every size: jit makes a guarded rewrite from EYE_MATMUL_MIN_WORK multiply-adds)
    const g = eyeMatmul(nb.makeGraph((a: A) => nb.matmul(a, nb.eye(3)))(nb.zeros([2, 3])), false, 0);
    expect(g.toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[3,3] ; b:f64[2,3] .
        let c:f64[2,3] = add b 0.0
            d:f64[2,3] = mul b 0.0
            e:f64[] = reduce_sum[axes=(0,1)] d
            f:bool[] = ne e e
            g:f64[2,3] = cond[whenFalse={ lambda a:f64[2,3] b:f64[2,3] c:f64[3,3] . ( b ) } whenTrue={ lambda a:f64[2,3] b:f64[2,3] c:f64[3,3] . let d:f64[2,3] = matmul a c in ( d ) }] f b c a
        in ( g ) }"
    `);
    // "full": A itself
    const h = nb.makeGraph((a: A) => nb.matmul(a, nb.eye(3)), { optimize: "full" })(nb.zeros([2, 3]));
    expect(h.toString()).toMatchInlineSnapshot(`"{ lambda a:f64[2,3] . ( a ) }"`);
  });

  it("(I·u)ᵀ on the left, through vmap-style unit axes: u·B + 0, P rebuilt only in the true branch", () => {
    const f = (b: A, u: A) => {
      const p = nb.mul(nb.eye(3), u); // p[r, c] = u[c]
      const t = nb.reshape(nb.transpose(nb.reshape(p, [3, 3, 1]), [1, 0, 2]), [3, 3]); // pᵀ
      return nb.matmul(t, b);
    };
    const g = eyeMatmul(nb.makeGraph(f)(nb.zeros([3, 2]), nb.zeros([3])), false, 0);
    expect(g.toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[3,3] ; b:f64[3,2] c:f64[3] .
        let d:f64[3,1] = reshape[shape=(3,1)] c
            e:f64[3,2] = mul b d
            f:f64[3,2] = add e 0.0
            g:f64[3,2] = mul b 0.0
            h:f64[] = reduce_sum[axes=(0,1)] g
            i:f64[3] = mul c 0.0
            j:f64[] = reduce_sum[axes=(0,)] i
            k:f64[] = add h j
            l:bool[] = ne k k
            m:f64[3,2] = cond[whenFalse={ lambda a:f64[3,2] b:f64[3,2] c:f64[3,3] d:f64[3] . ( b ) } whenTrue={ lambda a:f64[3,2] b:f64[3,2] c:f64[3,3] d:f64[3] .
        let e:f64[3,3] = mul c d
            f:f64[3,3,1] = reshape[shape=(3,3,1)] e
            g:f64[3,3,1] = transpose[perm=(1,0,2)] f
            h:f64[3,3] = reshape[shape=(3,3)] g
            i:f64[3,2] = matmul h a
        in ( i ) }] l b f a c
        in ( m ) }"
    `);
  });

  it("n = 1 needs no guard; a matrix that is not the identity is left alone", () => {
    const one = nb.makeGraph((a: A) => nb.matmul(nb.ones([1, 1]), a), { optimize: true })(nb.zeros([1, 4]));
    expect(one.toString()).toMatchInlineSnapshot(`"{ lambda a:f64[1,4] . let b:f64[1,4] = add a 0.0 in ( b ) }"`);
    const notEye = nb.array([
      [1, 0],
      [1e-300, 1],
    ]);
    const g = eyeMatmul(nb.makeGraph((a: A) => nb.matmul(a, notEye))(nb.zeros([2, 2])), false, 0);
    expect(matmuls(g)).toBe(1);
    // I·s (a traced scalar u) is diagonal: rewritten, to a·s + 0 under the guard
    const twice = (a: A, k: A) => nb.matmul(a, nb.mul(nb.eye(2), k));
    const a0 = nb.array([
      [-0, 3],
      [Infinity, 1],
    ]);
    const k0 = nb.array(2);
    const scaled = eyeMatmul(nb.makeGraph(twice)(a0, k0), false, 0);
    expect(matmuls(scaled)).toBe(0);
    expectIdentical(twice(a0, k0), evalGraph(scaled, [a0, k0])[0]!, "I·s");
  });
});

/** Elements that exercise the exactness argument: ordinary values, signed zeros, ±∞, NaN, huge values (overflow). */
const element = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 1e308, -1e308) },
);

/** A structured product: A·P or P·B with P = I, I·u (u along either axis), optionally transposed vmap-style. */
interface Case {
  n: number;
  m: number;
  left: boolean;
  scale: "none" | "rows" | "cols";
  transposed: boolean;
  dtype: "float32" | "float64";
  x: number[];
  u: number[];
}

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 1, max: 5 }),
    m: fc.integer({ min: 1, max: 4 }),
    left: fc.boolean(),
    scale: fc.constantFrom("none", "rows", "cols"),
    transposed: fc.boolean(),
    dtype: fc.constantFrom("float32", "float64"),
  })
  .chain((c) =>
    fc.record({
      n: fc.constant(c.n),
      m: fc.constant(c.m),
      left: fc.constant(c.left),
      scale: fc.constant(c.scale),
      transposed: fc.constant(c.transposed),
      dtype: fc.constant(c.dtype),
      x: fc.array(element, { minLength: c.n * c.m, maxLength: c.n * c.m }),
      u: fc.array(element, { minLength: c.n, maxLength: c.n }),
    }),
  ) as fc.Arbitrary<Case>;

function program(c: Case): { f: (x: A, u: A) => A; x: A; u: A } {
  const { n, m } = c;
  const f = (x: A, u: A): A => {
    let p = nb.astype(nb.eye(n), c.dtype);
    if (c.scale === "cols") p = nb.mul(p, u); // p[r, c] = u[c]
    if (c.scale === "rows") p = nb.mul(nb.reshape(u, [n, 1]), p); // p[r, c] = u[r]
    if (c.transposed) p = nb.reshape(nb.transpose(nb.reshape(p, [n, n, 1]), [1, 0, 2]), [n, n]);
    return c.left ? nb.matmul(p, x) : nb.matmul(x, p);
  };
  const dt = c.dtype === "float32" ? Float32Array : Float64Array;
  const x = nb.array(dt.from(c.x), { shape: c.left ? [n, m] : [m, n] });
  return { f, x, u: nb.array(dt.from(c.u), { shape: [n] }) };
}

describe("eyeMatmul never changes values", () => {
  it("exact: jit and the pass itself equal eager bit for bit (±0, ±∞, NaN, overflow included)", () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const { f, x, u } = program(c);
        const what = JSON.stringify(c);
        const eager = f(x, u);
        expectIdentical(eager, nb.jit(f)(x, u), `jit ${what}`);
        const g = nb.makeGraph(f)(x, u);
        const rewritten = eyeMatmul(g, false, 0); // every size (jit applies it from EYE_MATMUL_MIN_WORK)
        expect(rewritten, what).not.toBe(g); // the rewrite fired
        expect(matmuls(rewritten), what).toBe(0);
        expectIdentical(eager, evalGraph(rewritten, [x, u])[0]!, `eyeMatmul ${what}`);
      }),
      { seed: SEED, numRuns: RUNS * 20 },
    );
  });

  it("full: equal to eager on finite operands, up to the sign of zero", () => {
    const finite = arbCase.map((c) => ({
      ...c,
      x: c.x.map((v) => (Number.isFinite(v) && Math.abs(v) < 1e300 ? v : 0.5)),
      u: c.u.map((v) => (Number.isFinite(v) && Math.abs(v) < 1e300 ? v : -2)),
    }));
    fc.assert(
      fc.property(finite, (c) => {
        const { f, x, u } = program(c);
        const want = bitsOf(f(x, u));
        const got = bitsOf(nb.jit(f, { optimize: "full" })(x, u));
        // === identifies +0 and -0: the one difference "full" allows on finite operands
        want.forEach((v, i) => {
          if (v !== got[i]) expect.fail(`${JSON.stringify(c)}, element ${i}: ${v} became ${got[i]}`);
        });
      }),
      { seed: SEED + 1, numRuns: RUNS * 10 },
    );
  });
});

describe("Jacobians over an identity basis (W6)", () => {
  const n = 24; // n³ = 13824 multiply-adds, above EYE_MATMUL_MIN_WORK
  const W = nb.random.normal(nb.random.key(3), [n, n]);
  const x0 = nb.random.normal(nb.random.key(4), [n]);
  const b0 = nb.random.normal(nb.random.key(5), [n]);
  const f = (x: A, w: A, b: A) => nb.tanh(nb.add(nb.matmul(w, x), b));

  it("jit(jacfwd), jit(jacrev): no n×n matmul left, values those of eager and of diag(1 - tanh²)·W", () => {
    // the closed form J = diag(1 - tanh(Wx + b)²)·W, by elementwise products
    const t = nb.tanh(nb.add(nb.matmul(W, x0), b0));
    const closed = bitsOf(nb.mul(W, nb.reshape(nb.sub(1, nb.mul(t, t)), [n, 1])));
    for (const jac of [nb.jacfwd, nb.jacrev]) {
      const j = jac(f);
      const g = nb.makeGraph(j, { optimize: true })(x0, W, b0);
      // the only matmul left is the primal W·x ([n, n]·[n, 1])
      expect(g.equations.filter((e) => e.prim === "matmul").map((e) => e.inputs[1]!.aval.shape)).toEqual([[n, 1]]);
      const got = nb.jit(j)(x0, W, b0) as A;
      expectIdentical(j(x0, W, b0) as A, got, jac.name);
      // each element is one product of W[i, j] and 1 - t_i² (the matmul adds only zeros): equal exactly
      bitsOf(got).forEach((v, i) => expect(v).toBe(closed[i]));
    }
  });

  it("jit(jacrev) composes: grad through it and vmap over it agree with eager", () => {
    const j = nb.jacrev(f);
    const jj = nb.jit(j);
    const loss = (fn: (x: A, w: A, b: A) => unknown) => (w: A) => nb.sum(nb.sin(fn(x0, w, b0) as A));
    // reverse mode through the rewritten graph differentiates A·u + 0 where eager differentiates the
    // matmul: with finite values both give each cotangent element as one product plus zeros, so equal bits
    expectIdentical(nb.grad(loss(j))(W), nb.grad(loss(jj))(W), "grad(jit(jacrev))");
    // a batch of W with an infinite element in one example: that example takes the matmul branch
    const Ws = nb.stack([
      W,
      nb.add(
        W,
        nb.array(
          Array.from({ length: n * n }, (_, k) => (k === 3 ? Infinity : 0)),
          { shape: [n, n] },
        ),
      ),
    ]);
    const vm = (fn: (x: A, w: A, b: A) => unknown) => nb.vmap((w: A) => fn(x0, w, b0) as A);
    expectIdentical(vm(j)(Ws), vm(jj)(Ws), "vmap(jit(jacrev))");
  });
});
