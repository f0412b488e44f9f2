/**
 * Transpose sinking (src/transforms/passes/transposes.ts): a 2-d transpose of an elementwise
 * result moves onto its operands, a transposing chain after eyeMatmul's guard moves into the
 * `cond`, and a cond operand only the true branch reads is moved inside it. The rewrites only move
 * elements, so every value must be eager's bit for bit: checked on random elementwise programs
 * (signed zeros, ±∞ and NaN among the elements, float32 and float64), on the rewritten graph
 * evaluated directly and under jit; and the transposes must be gone where every full operand is a
 * transpose, and stay (values unchanged) where one is not.
 *
 * NABLA_FC_RUNS (default 10) scales the run counts; NABLA_FC_SEED fixes the seed.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { type Graph, evalGraph } from "../src/core/graph.js";
import { sinkThroughElementwise } from "../src/transforms/passes/transposes.js";
import { expectIdentical } from "./support/assert.js";

type A = nb.NDArray;
const RUNS = Number(process.env.NABLA_FC_RUNS ?? 10);
const SEED = Number(process.env.NABLA_FC_SEED ?? 20261203);

const transposes = (g: Graph): number => g.equations.filter((e) => e.prim === "transpose").length;

/** Ways of writing a 2-d transpose: plainly, or as vmap leaves it (through a unit axis). */
type Style = "plain" | "unit";
function T(x: A, style: Style): A {
  if (style === "plain") return nb.transpose(x);
  const [r, c] = x.shape as [number, number];
  return nb.reshape(nb.transpose(nb.reshape(x, [r, c, 1]), [1, 0, 2]), [c, r]);
}

/** An elementwise expression over R×C values: leaves, then unary and binary operations. */
type Leaf = "tb" | "a" | "row" | "col" | "s";
type Expr =
  | { leaf: Leaf; style: Style }
  | { op: "neg" | "tanh"; x: Expr }
  | { op: "add" | "mul" | "sub" | "max"; x: Expr; y: Expr };

const style = fc.constantFrom<Style>("plain", "unit");
const leaf = fc.record({ leaf: fc.constantFrom<Leaf>("tb", "tb", "row", "col", "s", "a"), style });
const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.record({ op: fc.constantFrom("neg" as const, "tanh" as const), x: tie("e") }),
    fc.record({
      op: fc.constantFrom("add" as const, "mul" as const, "sub" as const, "max" as const),
      x: tie("e"),
      y: tie("e"),
    }),
  ),
})).e;

const element = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -3, max: 3, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, Infinity, -Infinity, NaN) },
);

/** Whether every full-size leaf of `e` is a transposed operand (then the rewrite removes every transpose). */
/** The subexpressions of an operation. */
const kids = (e: Expr): Expr[] => ("leaf" in e ? [] : "y" in e ? [e.x, e.y] : [e.x]);
const allTransposed = (e: Expr): boolean => ("leaf" in e ? e.leaf !== "a" : kids(e).every(allTransposed));
const hasFull = (e: Expr): boolean => ("leaf" in e ? e.leaf === "a" || e.leaf === "tb" : kids(e).some(hasFull));

function build(e: Expr, env: { a: A; b: A; row: A; col: A; s: A }): A {
  if ("leaf" in e) {
    if (e.leaf === "tb") return T(env.b, e.style);
    return env[e.leaf];
  }
  if (!("y" in e)) return e.op === "neg" ? nb.neg(build(e.x, env)) : nb.tanh(build(e.x, env));
  const x = build(e.x, env);
  const y = build(e.y, env);
  return e.op === "add"
    ? nb.add(x, y)
    : e.op === "mul"
      ? nb.mul(x, y)
      : e.op === "sub"
        ? nb.sub(x, y)
        : nb.maximum(x, y);
}

/** The program's operands a [r, c], b [c, r], row [c], col [r, 1] and s [], elements drawn from `seed`. */
function operands(r: number, c: number, dtype: "float32" | "float64", seed: readonly number[]): [A, A, A, A, A] {
  const dt = dtype === "float32" ? Float32Array : Float64Array;
  const take = (n: number, off: number, shape: number[]): A =>
    nb.array(new dt(Array.from({ length: n }, (_, i) => seed[(off + i) % seed.length]!)), { shape });
  return [take(r * c, 0, [r, c]), take(r * c, 7, [c, r]), take(c, 13, [c]), take(r, 29, [r, 1]), take(1, 41, [])];
}

describe("sinkThroughElementwise", () => {
  it("T(f(Tb, a, row, col, s)) keeps eager's bits, and drops every transpose when every full operand is transposed", () => {
    const arb = fc.record({
      r: fc.integer({ min: 2, max: 4 }),
      c: fc.integer({ min: 2, max: 5 }),
      dtype: fc.constantFrom("float32" as const, "float64" as const),
      e: expr,
      out: style,
      seed: fc.array(element, { minLength: 64, maxLength: 64 }),
    });
    fc.assert(
      fc.property(arb, ({ r, c, dtype, e, out, seed }) => {
        const f = (a: A, b: A, row: A, col: A, s: A): A =>
          T(nb.add(nb.zerosLike(a), build(e, { a, b, row, col, s })), out);
        const args = operands(r, c, dtype, seed);
        const what = JSON.stringify({ r, c, dtype, e, out });
        const eager = f(...args);
        expectIdentical(eager, nb.jit(f)(...args) as A, `jit ${what}`);
        const g = nb.makeGraph(f)(...args);
        const sunk = sinkThroughElementwise(g);
        expectIdentical(eager, evalGraph(sunk, [...args])[0]!, `pass ${what}`);
        // zerosLike(a) is a full operand that is not transposed: the transpose stays (the pass leaves it)
        expect(transposes(sunk), what).toBeGreaterThan(0);
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });

  it("drops the transposes when every full operand is a transpose", () => {
    const arb = fc.record({
      r: fc.integer({ min: 2, max: 4 }),
      c: fc.integer({ min: 2, max: 5 }),
      dtype: fc.constantFrom("float32" as const, "float64" as const),
      e: expr.filter((e) => !("leaf" in e) && allTransposed(e) && hasFull(e)),
      out: style,
      seed: fc.array(element, { minLength: 64, maxLength: 64 }),
    });
    fc.assert(
      fc.property(arb, ({ r, c, dtype, e, out, seed }) => {
        const args = operands(r, c, dtype, seed);
        const f = (a: A, b: A, row: A, col: A, s: A): A => T(build(e, { a, b, row, col, s }), out);
        const what = JSON.stringify({ r, c, dtype, e, out });
        const eager = f(...args);
        const g = nb.makeGraph(f)(...args);
        const sunk = sinkThroughElementwise(g);
        // (staging may already have cancelled the operations, e.g. neg(neg(x)): then there is nothing to sink through)
        if (g.equations.some((q) => q.rule.scalar !== undefined)) expect(transposes(sunk), what).toBe(0);
        expectIdentical(eager, evalGraph(sunk, [...args])[0]!, `pass ${what}`);
        expectIdentical(eager, nb.jit(f)(...args) as A, `jit ${what}`);
      }),
      { seed: SEED + 1, numRuns: RUNS * 10 },
    );
  });

  it("leaves a transpose whose source is read elsewhere or is not elementwise", () => {
    const a = nb.array([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = nb.array([
      [1, -0],
      [2, 3],
      [NaN, 4],
    ]);
    const shared = (a: A, b: A): [A, A] => {
      const m = nb.mul(nb.transpose(b), a);
      return [nb.transpose(m), m]; // m is read twice: sinking would compute it twice
    };
    const g = nb.makeGraph(shared)(a, b);
    expect(sinkThroughElementwise(g)).toBe(g);
    const reduce = (a: A): A => nb.transpose(nb.cumsum(a, 1));
    const g2 = nb.makeGraph(reduce)(a);
    expect(sinkThroughElementwise(g2)).toBe(g2);
  });
});

describe("Jacobians by jacrev and jacfwd (W6): the transposes around eyeMatmul's guard are gone", () => {
  const n = 24;
  const W = nb.random.normal(nb.random.key(3), [n, n]);
  const x0 = nb.random.normal(nb.random.key(4), [n]);
  const b0 = nb.random.normal(nb.random.key(5), [n]);
  const f = (x: A, w: A, b: A) => nb.tanh(nb.add(nb.matmul(w, x), b));

  it.each([
    ["jacrev", nb.jacrev],
    ["jacfwd", nb.jacfwd],
  ] as const)("%s: no transpose is left outside the cond; values are eager's, finite or not", (_name, jac) => {
    const j = jac(f);
    const g = nb.makeGraph(j, { optimize: true })(x0, W, b0);
    expect(transposes(g)).toBe(0);
    expect(g.equations.filter((e) => e.prim === "cond")).toHaveLength(1);
    const jj = nb.jit(j);
    for (const dtype of ["float64", "float32"] as const) {
      const w = W.astype(dtype);
      const [x, b] = [x0.astype(dtype), b0.astype(dtype)];
      expectIdentical(j(x, w, b) as A, jj(x, w, b) as A, `finite ${dtype}`);
      // a non-finite element takes the true branch (the matmul, then the moved chain)
      for (const bad of [Infinity, NaN, -Infinity]) {
        const wb = nb.add(
          w,
          nb
            .array(
              Array.from({ length: n * n }, (_, k) => (k === 5 ? bad : 0)),
              { shape: [n, n] },
            )
            .astype(dtype),
        );
        expectIdentical(j(x, wb, b) as A, jj(x, wb, b) as A, `${bad} ${dtype}`);
      }
    }
  });
});
