/**
 * The batching law, `vmap(f)(xs)` = stacking `f` over the slices of `xs`, for
 * every primitive of the table (at every mapped-axis position, with unmapped
 * arguments mixed in, multi-output primitives included) and for composed
 * functions (nested vmap, pytrees, outAxes, vmap with grad / jacfwd /
 * hessian / jvp in both nesting orders), plus vmap's errors, jacfwd/jacrev
 * against finite differences for multi-leaf pytrees, and the Hessian of a
 * 200-dimensional function against its closed form.
 *
 * Where expected values come from:
 * - per-primitive: the primitive applied eagerly to each slice (the law
 *   itself); batched inputs are assembled and batched outputs sliced in plain
 *   JS, so no nabla op other than the primitive under test is involved. The
 *   examples are drawn from the primitive's spec in primitiveSpecs.ts (the
 *   generator and domain the reference and derivative tests use; one spec per
 *   primitive, and a row of the table without one fails);
 * - composed functions: closed-form derivatives written out in plain JS, and
 *   plain-JS central differences of the function's values.
 *
 * Tolerances (float64):
 * - vmap against a loop of the same primitive: both run the same kernel on
 *   the same numbers, only the batching rule's reshuffling (transposes,
 *   broadcasts, merged gathers) differs, which is exact; reductions and
 *   matrix kernels may accumulate in a different order, so we allow
 *   1e-12 · (1 + |value|) (a few hundred ulps for the O(1) values used);
 *   float32 results 1e-6 · (1 + |value|) (float32 ulp 1.2e-7, a few roundings).
 *   int32 and bool results must be identical.
 * - closed forms: 1e-10 · (1 + |value|) (a handful of roundings of O(1)
 *   quantities, with headroom).
 * - central differences with h = 1e-5 on O(1) smooth functions: truncation
 *   h²·|f'''|/6 ≈ 2e-11, rounding ≈ 1e-16/h ≈ 1e-11; compared at
 *   1e-7 · (1 + |value|).
 * - 200-dim Hessian against its closed form: entries are sums of 200 products
 *   of O(1) numbers, rounding ≈ 200 · 1e-16; compared at 1e-9 · (1 + |value|).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import { ALL_RULES, ruleOf, type Params, type Prim } from "../support/primitives.js";
import { bind } from "../../src/core/trace.js";
import {
  DTYPE_VARIANTS,
  OPAQUE_VARIANTS,
  SPECS,
  asDType,
  type Case as SpecCase,
  type PrimSpec,
  type VariantDType,
} from "./primitiveSpecs.js";
import fc from "fast-check";
import { at } from "../../src/core/errors.js";
import { fdJacobian, sizeOf } from "../support/reference.js";
import { fcSeed, seeded } from "../support/rng.js";

type A = nb.NDArray;
type DT = nb.DType;

// ---------------------------------------------------------------------------
// plain-JS helpers

function vals(x: A): number[] {
  return Array.from(x.toTypedArray() as ArrayLike<number>, Number);
}

/** An array of `shape` and `dtype` from flat values (bool: nonzero = true). */
function mk(data: readonly number[], shape: readonly number[], dtype: DT = "float64"): A {
  if (dtype === "bool")
    return nb.array(nb.array(Float64Array.from(data.map((v) => (v ? 1 : 0))), { shape }), { dtype: "bool" });
  const typed =
    dtype === "float32" ? Float32Array.from(data) : dtype === "int32" ? Int32Array.from(data) : Float64Array.from(data);
  return nb.array(typed, { shape });
}

/** Plain-JS stack of equal-shape arrays along `axis` (0 <= axis <= rank). */
function stackAt(xs: readonly A[], axis: number): A {
  const s = xs[0]!.shape;
  const B = xs.length;
  const out = [...s.slice(0, axis), B, ...s.slice(axis)];
  const flatIn = xs.map(vals);
  const pre = sizeOf(s.slice(0, axis));
  const post = sizeOf(s.slice(axis));
  const data = new Array<number>(pre * B * post);
  for (let p = 0; p < pre; p++)
    for (let b = 0; b < B; b++) for (let q = 0; q < post; q++) data[(p * B + b) * post + q] = flatIn[b]![p * post + q]!;
  return mk(data, out, xs[0]!.dtype);
}

/** Plain-JS slice `b` along `axis` of an array, as a flat list and shape. */
function sliceAt(x: A, axis: number, b: number): { data: number[]; shape: number[] } {
  const s = x.shape;
  const v = vals(x);
  const pre = sizeOf(s.slice(0, axis));
  const B = s[axis]!;
  const post = sizeOf(s.slice(axis + 1));
  const data: number[] = [];
  for (let p = 0; p < pre; p++) for (let q = 0; q < post; q++) data.push(v[(p * B + b) * post + q]!);
  return { data, shape: [...s.slice(0, axis), ...s.slice(axis + 1)] };
}

function close(got: number, want: number, tol: number): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  return Math.abs(got - want) <= tol * (1 + Math.abs(want));
}

function expectValues(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!close(got[i]!, want[i]!, tol))
      expect.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (tol ${tol})`);
}

function expectArray(x: A, want: number[], shape: readonly number[], tol: number, what: string): void {
  expect(x.shape, `${what}: shape`).toEqual(shape);
  expectValues(vals(x), want, tol, what);
}

// ---------------------------------------------------------------------------
// the batching law of each primitive

const B = 3; // batch size

/** Positions of a mapped axis for an operand of per-example rank r: first, middle, last, and negative spellings. */
function axisChoices(r: number): number[] {
  return [0, Math.floor((r + 1) / 2), r, -1, -(r + 1)];
}

const norm = (ax: number, r: number): number => (ax < 0 ? ax + r + 1 : ax);

/** Runs the batching law for one primitive, one case, and one assignment of axes (null = unmapped). */
function checkLaw(
  prim: Prim,
  c: { params: Params[Prim] },
  examples: A[][],
  axes: (number | null)[],
  label: string,
): void {
  const nargs = examples[0]!.length;
  const batched = Array.from({ length: nargs }, (_, j) => {
    const ax = axes[j]!;
    if (ax === null) return examples[0]![j]!;
    return stackAt(
      examples.map((e) => e[j]!),
      norm(ax, examples[0]![j]!.ndim),
    );
  });
  const f = (...xs: A[]): A[] => bind(ruleOf(prim), xs, c.params);
  const got = nb.vmap(f, { inAxes: axes })(...batched) as A[];
  const want = examples.map((e) => f(...e.map((x, j) => (axes[j] === null ? examples[0]![j]! : x))));
  expect(got.length, `${label}: number of outputs`).toBe(want[0]!.length);
  got.forEach((g, k) => {
    const w0 = want[0]![k]!;
    expect(g.dtype, `${label}: output ${k} dtype`).toBe(w0.dtype);
    expect(g.shape, `${label}: output ${k} shape`).toEqual([B, ...w0.shape]);
    const tol = w0.dtype === "float64" ? 1e-12 : w0.dtype === "float32" ? 1e-6 : 0;
    for (let b = 0; b < B; b++) {
      const s = sliceAt(g, 0, b);
      expectValues(s.data, vals(want[b]![k]!), tol, `${label}: output ${k}, example ${b}`);
    }
  });
}

// --- the batching law on the per-primitive specs (the generators and domains of the derivative tests) ---

/**
 * B examples of `prim` drawn from its spec's generator (primitiveSpecs.ts, the one spec per primitive
 * the reference and derivative tests use) that share operand shapes, dtypes and weak types: the largest
 * such group among the samples, its first case's params used for every example. null when no group
 * reaches B. Examples are distinct (a repeated draw is skipped).
 */
function specExamples(
  prim: Prim,
  seed: number,
  dtype?: VariantDType,
): { c: { params: Params[Prim] }; examples: A[][] } | null {
  const spec = SPECS[prim] as unknown as PrimSpec<Prim>;
  const groups = new Map<string, SpecCase<Prim>[]>();
  const seen = new Set<string>(); // distinct examples only, so that a rule mixing up examples cannot pass
  for (const drawn of fc.sample(spec.gen, { seed, numRuns: 120 })) {
    // a dtype variant: the cases with a float64 operand, that operand in `dtype`
    if (dtype !== undefined && !drawn.args.some((a) => a.dtype === "float64")) continue;
    const c = dtype === undefined ? drawn : asDType(drawn, dtype);
    const key = JSON.stringify(c.args.map((a) => [a.shape, a.dtype, a.weakType]));
    const data = JSON.stringify([key, c.args.map((a) => vals(a).map(String))]);
    if (seen.has(data)) continue;
    seen.add(data);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const best = [...groups.values()].reduce<SpecCase<Prim>[]>((m, g) => (g.length > m.length ? g : m), []);
  const first = best[0];
  if (first === undefined || best.length < B) return null;
  return { c: { params: first.params }, examples: best.slice(0, B).map((c) => c.args) };
}

describe("vmap of every primitive on its spec's cases equals stacking the primitive over slices", () => {
  const prims = Object.keys(ALL_RULES) as Prim[];

  it("every primitive of the table has a spec", () => {
    expect(prims.filter((p) => !Object.hasOwn(SPECS, p))).toEqual([]);
    expect(prims.length).toBeGreaterThan(60);
  });

  it.each(prims.map((prim, i) => ({ prim, i })))("$prim", ({ prim, i }) => {
    const seed = fcSeed(7919 * (i + 1));
    const drawn = specExamples(prim, seed);
    expect(
      drawn,
      `${prim}: ${B} spec cases of equal operand avals distinct among 120 samples (seed ${seed})`,
    ).not.toBeNull();
    const { c, examples } = drawn!;
    const nargs = at(examples, 0).length;
    const choices = at(examples, 0).map((x) => axisChoices(x.ndim));
    for (let k = 0; k < 5; k++) {
      const axes = choices.map((ch, j) => at(ch, (k + j) % ch.length));
      checkLaw(prim, c, examples, axes, `${prim} (seed ${seed}) inAxes [${axes.join(",")}]`);
    }
    for (let mask = 1; mask < (1 << nargs) - 1; mask++)
      for (const k of [0, 2]) {
        const axes = choices.map((ch, j) => ((mask >> j) & 1 ? at(ch, (k + j) % ch.length) : null));
        checkLaw(prim, c, examples, axes, `${prim} (seed ${seed}) inAxes [${axes.join(",")}]`);
      }
  });
});

// --- the same law in the other dtypes each primitive accepts (float32, int32) ---

// Tolerances are checkLaw's per output dtype: float32 results 1e-6 · (1 + |value|) (vmap and the loop run
// the same float32 kernel; only a batched matrix or reduction kernel's accumulation order may differ, a
// few float32 roundings at ulp 1.2e-7 on the small operands the specs draw); int32 and bool results exact.
describe("vmap of every primitive in float32 and int32 (DTYPE_VARIANTS) equals stacking it over slices", () => {
  const prims = Object.keys(ALL_RULES) as Prim[];
  const variants = prims.flatMap((prim, i) => DTYPE_VARIANTS[prim].map((dtype) => ({ prim, dtype, i })));

  it("covers float32 for most primitives and int32 for the integer-capable ones", () => {
    expect(variants.filter((v) => v.dtype === "float32").length).toBeGreaterThan(70);
    expect(variants.filter((v) => v.dtype === "int32").length).toBeGreaterThan(35);
  });

  it.each(variants)("$prim in $dtype", ({ prim, dtype, i }) => {
    const seed = fcSeed(7919 * (i + 1)); // the float64 law's samples, converted
    const drawn = specExamples(prim, seed, dtype);
    expect(drawn, `${prim} in ${dtype}: ${B} distinct spec cases of equal operand avals (seed ${seed})`).not.toBeNull();
    const { c, examples } = drawn!;
    // the variant really is in `dtype`: some operand has it (the spec drew it as float64)
    expect(
      at(examples, 0).some((x) => x.dtype === dtype),
      `${prim}: an operand in ${dtype}`,
    ).toBe(true);
    const choices = at(examples, 0).map((x) => axisChoices(x.ndim));
    for (let k = 0; k < 3; k++) {
      const axes = choices.map((ch, j) => at(ch, (k + j) % ch.length));
      checkLaw(prim, c, examples, axes, `${prim} in ${dtype} (seed ${seed}) inAxes [${axes.join(",")}]`);
    }
  });

  it("every dtype a primitive is not listed for is rejected (the table is complete)", () => {
    // first-order rows reject a dtype in their shape rule (DTypeError); while_loop's and cond's closed
    // graphs fix their operands' avals, and a mismatch is reported as a NablaError naming the transform
    const graphRows: readonly Prim[] = ["while_loop", "cond"];
    for (const prim of prims) {
      if (OPAQUE_VARIANTS.includes(prim)) continue;
      const spec = SPECS[prim] as unknown as PrimSpec<Prim>;
      const cases = fc
        .sample(spec.gen, { seed: fcSeed(31), numRuns: 20 })
        .filter((c) => c.args.some((x) => x.dtype === "float64"));
      for (const dtype of ["float32", "int32"] as const) {
        if ((DTYPE_VARIANTS[prim] as readonly VariantDType[]).includes(dtype)) continue;
        for (const c of cases)
          expect(() => bind(ruleOf(prim), asDType(c, dtype).args, c.params), `${prim} in ${dtype}`).toThrow(
            graphRows.includes(prim) ? nb.NablaError : nb.DTypeError,
          );
      }
    }
  });
});

// ---------------------------------------------------------------------------
// composed functions

describe("vmap of composed functions", () => {
  const r = seeded(12345);

  it("a composed function equals its loop, for inAxes 0, 1, -1 and outAxes 0, 1, -1", () => {
    // f(x) = sum_j sin(x_j) * x_j^2 - mean(x), per row; plus a vector output 2x + cos x
    const f = (x: A): [A, A] => [
      nb.sub(nb.sum(nb.mul(nb.sin(x), nb.square(x))), nb.mean(x)),
      nb.add(nb.mul(x, 2), nb.cos(x)),
    ];
    const rows = Array.from({ length: 4 }, () => Array.from({ length: 3 }, () => r(-2, 2)));
    const ref = (row: number[]): [number, number[]] => [
      row.reduce((s, v) => s + Math.sin(v) * v * v, 0) - row.reduce((s, v) => s + v, 0) / row.length,
      row.map((v) => 2 * v + Math.cos(v)),
    ];
    const xs0 = mk(rows.flat(), [4, 3]); // mapped axis 0
    const xs1 = mk(
      [0, 1, 2].flatMap((j) => rows.map((row) => row[j]!)),
      [3, 4],
    ); // mapped axis 1
    for (const [xs, inAx] of [
      [xs0, 0],
      [xs1, 1],
      [xs1, -1],
    ] as const) {
      for (const outAx of [0, 1, -1]) {
        const [s, v] = nb.vmap(f, { inAxes: inAx, outAxes: [0, outAx] })(xs) as [A, A];
        expectArray(
          s,
          rows.map((row) => ref(row)[0]),
          [4],
          1e-10,
          `scalar output, inAxes ${inAx}`,
        );
        const vo = outAx === 0 ? 0 : 1;
        expect(v.shape).toEqual(vo === 0 ? [4, 3] : [3, 4]);
        rows.forEach((row, b) =>
          expectValues(sliceAt(v, vo, b).data, ref(row)[1], 1e-10, `vector output, inAxes ${inAx} outAxes ${outAx}`),
        );
      }
    }
  });

  it("nested vmap maps two axes (inner over axis 1 of the slices, outer over axis 0)", () => {
    // g(u, w) = u · w + u², mapped over rows of X [2, 3, 4] (outer axis 0, inner axis 1) and over w's rows
    // X is [2 (outer b), 4 (k), 3 (inner i)], W is [3 (inner i), 2 (outer b)]; out[b, i, k] = g(X[b, :, i], W[i, b])[k]
    const X = Array.from({ length: 2 * 3 * 4 }, () => r(-1, 1));
    const W = Array.from({ length: 3 * 2 }, () => r(-1, 1));
    const g = (u: A, w: A): A => nb.add(nb.mul(u, w), nb.square(u));
    const inner = nb.vmap(g, { inAxes: [1, 0] }); // u [4, 3] over axis 1, w [3] over axis 0 -> [3, 4]
    const outer = nb.vmap(inner, { inAxes: [0, 1] }); // X over axis 0, W over axis 1 -> [2, 3, 4]
    const x = mk(X, [2, 4, 3]);
    const w = mk(W, [3, 2]);
    const out = outer(x, w) as A; // [2 outer, 3 inner, 4]
    expect(out.shape).toEqual([2, 3, 4]);
    const want: number[] = [];
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 3; i++)
        for (let k = 0; k < 4; k++) {
          const u = X[(b * 4 + k) * 3 + i]!;
          want.push(u * W[i * 2 + b]! + u * u);
        }
    expectValues(vals(out), want, 1e-12, "nested vmap");
  });

  it("pytree arguments with per-argument inAxes (null for parameters) and pytree outputs", () => {
    const params = { w: mk([0.5, -1, 2], [3]), b: mk([0.25], []) };
    const X = Array.from({ length: 4 * 3 }, () => r(-1, 1));
    const f = (p: { w: A; b: A }, x: A): { y: A; z: [A, A] } => {
      const y = nb.add(nb.sum(nb.mul(p.w, x)), p.b);
      return { y, z: [nb.mul(x, y), nb.tanh(y)] };
    };
    const out = nb.vmap(f, { inAxes: [null, 0] })(params, mk(X, [4, 3])) as { y: A; z: [A, A] };
    const ys = [0, 1, 2, 3].map((b) => 0.5 * X[b * 3]! - X[b * 3 + 1]! + 2 * X[b * 3 + 2]! + 0.25);
    expectArray(out.y, ys, [4], 1e-12, "y");
    expectArray(
      out.z[0],
      X.map((v, i) => v * ys[Math.floor(i / 3)]!),
      [4, 3],
      1e-12,
      "z[0]",
    );
    expectArray(out.z[1], ys.map(Math.tanh), [4], 1e-12, "z[1]");
    // a mapped pytree argument: every leaf mapped along axis 1
    const g = (p: { a: A; c: [A] }): A => nb.sub(nb.sum(p.a), nb.mul(p.c[0], 3));
    const a = mk([1, 2, 3, 4, 5, 6], [2, 3]);
    const c = mk([10, 20, 30], [3]);
    const got = nb.vmap(g, { inAxes: [-1] })({ a, c: [c] }) as A;
    expectArray(got, [1 + 4 - 30, 2 + 5 - 60, 3 + 6 - 90], [3], 0, "mapped pytree leaves");
    // an unmapped output leaf is broadcast along the batch
    const h = nb.vmap((x: A) => [nb.sin(x), nb.array(7)])(mk([0, 1], [2])) as [A, A];
    expectArray(h[1], [7, 7], [2], 0, "unmapped output leaf");
  });

  it("per-example gradients: vmap(grad(loss), inAxes [null, 0]) equals the closed form and a loop of grad", () => {
    // loss(w, x) = 0.5 (w·x - t)² + 0.1 sum(w⁴), t = sum(x) / 2; grad_w = (w·x - t) x + 0.4 w³
    const loss = (w: A, x: A): A => {
      const e = nb.sub(nb.sum(nb.mul(w, x)), nb.div(nb.sum(x), 2));
      return nb.add(nb.mul(nb.square(e), 0.5), nb.mul(nb.sum(nb.pow(w, 4)), 0.1));
    };
    const w = [0.3, -0.7, 1.1];
    const X = Array.from({ length: 5 }, () => Array.from({ length: 3 }, () => r(-2, 2)));
    const perEx = nb.vmap(nb.grad(loss), { inAxes: [null, 0] })(mk(w, [3]), mk(X.flat(), [5, 3])) as A;
    const closed = X.flatMap((x) => {
      const e = w.reduce((s, wi, i) => s + wi * x[i]!, 0) - x.reduce((s, v) => s + v, 0) / 2;
      return x.map((xi, i) => e * xi + 0.4 * w[i]! ** 3);
    });
    expectArray(perEx, closed, [5, 3], 1e-10, "per-example gradients vs closed form");
    const loop = X.flatMap((x) => vals(nb.grad(loss)(mk(w, [3]), mk(x, [3])) as A));
    expectValues(vals(perEx), loop, 1e-12, "per-example gradients vs a loop of grad");
    // the batch along axis 1 and the gradient with respect to the mapped argument
    const XT = [0, 1, 2].flatMap((j) => X.map((x) => x[j]!));
    const gx = nb.vmap(nb.grad(loss, { argnums: 1 }), { inAxes: [null, 1] })(mk(w, [3]), mk(XT, [3, 5])) as A;
    const closedX = X.flatMap((x) => {
      const e = w.reduce((s, wi, i) => s + wi * x[i]!, 0) - x.reduce((s, v) => s + v, 0) / 2;
      return w.map((wi) => e * (wi - 0.5));
    });
    expectArray(gx, closedX, [5, 3], 1e-10, "per-example input gradients");
  });

  it("per-example gradients with pytree parameters, and per-example VJPs", () => {
    // loss({w, b}, x) = tanh(w·x + b): grad_w = (1 - t²) x, grad_b = 1 - t²
    const loss = (p: { w: A; b: A }, x: A): A => nb.tanh(nb.add(nb.sum(nb.mul(p.w, x)), p.b));
    const w = [0.4, -0.3];
    const b = 0.2;
    const X = Array.from({ length: 4 }, () => [r(-2, 2), r(-2, 2)]);
    const g = nb.vmap(nb.grad(loss), { inAxes: [null, 0] })(
      { w: mk(w, [2]), b: mk([b], []) },
      mk(X.flat(), [4, 2]),
    ) as { w: A; b: A };
    const s = X.map((x) => 1 - Math.tanh(w[0]! * x[0]! + w[1]! * x[1]! + b) ** 2);
    expectArray(
      g.w,
      X.flatMap((x, i) => x.map((v) => s[i]! * v)),
      [4, 2],
      1e-10,
      "per-example grad_w",
    );
    expectArray(g.b, s, [4], 1e-10, "per-example grad_b");
    // vmap of a VJP: per-example cotangents pulled back through f(x) = x² sin(x)
    const f = (x: A): A => nb.mul(nb.square(x), nb.sin(x));
    const xs = Array.from({ length: 6 }, () => r(-2, 2));
    const cts = Array.from({ length: 6 }, () => r(-1, 1));
    const pulled = nb.vmap((x: A, ct: A) => nb.vjp(f, x)[1](ct)[0], { inAxes: [1, 0] })(
      mk(xs, [2, 3]),
      mk(cts, [3, 2]),
    ) as A;
    // example b: x = xs[:, b] (column b of [2, 3]), ct = cts[b, :]
    const want: number[] = [];
    for (let bb = 0; bb < 3; bb++)
      for (let i = 0; i < 2; i++) {
        const x = xs[i * 3 + bb]!;
        want.push(cts[bb * 2 + i]! * (2 * x * Math.sin(x) + x * x * Math.cos(x)));
      }
    expectArray(pulled, want, [3, 2], 1e-10, "vmap(vjp)");
  });

  it("grad(x => sum(vmap(f)(x))) equals the closed form", () => {
    // f(row) = sum(sin(row) * row) * row[0]; d/dx_bj of sum_b f = (cos x_j x_j + sin x_j) x_0 + [j == 0] s
    const f = (row: A): A => nb.mul(nb.sum(nb.mul(nb.sin(row), row)), nb.take(row, [0]).reshape([]));
    const X = Array.from({ length: 3 }, () => Array.from({ length: 4 }, () => r(-2, 2)));
    for (const inAx of [0, 1]) {
      const x =
        inAx === 0
          ? mk(X.flat(), [3, 4])
          : mk(
              [0, 1, 2, 3].flatMap((j) => X.map((row) => row[j]!)),
              [4, 3],
            );
      const g = nb.grad((x: A) => nb.sum(nb.vmap(f, { inAxes: inAx })(x)))(x) as A;
      const want = X.map((row) => {
        const s = row.reduce((a, v) => a + Math.sin(v) * v, 0);
        return row.map((v, j) => (Math.cos(v) * v + Math.sin(v)) * row[0]! + (j === 0 ? s : 0));
      });
      const flatWant = inAx === 0 ? want.flat() : [0, 1, 2, 3].flatMap((j) => want.map((row) => row[j]!));
      expectArray(g, flatWant, inAx === 0 ? [3, 4] : [4, 3], 1e-10, `grad of sum of vmap (inAxes ${inAx})`);
    }
  });

  it("jacfwd(vmap(f)) and jacrev(vmap(f)) equal central differences (block-diagonal Jacobian)", () => {
    const f = (row: A): A =>
      nb.stack([nb.mul(nb.exp(nb.take(row, [0]).reshape([])), nb.sum(row)), nb.prod(nb.cos(row))]);
    const ref = (x: number[]): number[] => {
      const out: number[] = [];
      for (let b = 0; b < 3; b++) {
        const row = x.slice(b * 2, b * 2 + 2);
        out.push(Math.exp(row[0]!) * (row[0]! + row[1]!), Math.cos(row[0]!) * Math.cos(row[1]!));
      }
      return out;
    };
    const x = Array.from({ length: 6 }, () => r(-1, 1));
    const fd = fdJacobian(ref, x);
    const jf = nb.jacfwd(nb.vmap(f))(mk(x, [3, 2])) as A;
    const jr = nb.jacrev(nb.vmap(f))(mk(x, [3, 2])) as A;
    expectArray(jf, fd, [3, 2, 3, 2], 1e-7, "jacfwd(vmap(f))");
    expectArray(jr, fd, [3, 2, 3, 2], 1e-7, "jacrev(vmap(f))");
    // and vmap(jacfwd(f)) gives the diagonal blocks
    const vj = nb.vmap(nb.jacfwd(f))(mk(x, [3, 2])) as A;
    const blocks: number[] = [];
    for (let b = 0; b < 3; b++)
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) blocks.push(fd[(b * 2 + i) * 6 + b * 2 + j]!);
    expectArray(vj, blocks, [3, 2, 2], 1e-7, "vmap(jacfwd(f))");
  });

  it("vmap(hessian(f)) equals the closed-form per-example Hessians", () => {
    // f(x) = sum(x³) + x0 x1 x2; H = diag(6x) + [[0, x2, x1], [x2, 0, x0], [x1, x0, 0]]
    const f = (x: A): A => nb.add(nb.sum(nb.pow(x, 3)), nb.prod(x));
    const X = Array.from({ length: 4 }, () => Array.from({ length: 3 }, () => r(-2, 2)));
    const H = nb.vmap(nb.hessian(f))(mk(X.flat(), [4, 3])) as A;
    const want = X.flatMap(([a, b, c]) => [6 * a!, c!, b!, c!, 6 * b!, a!, b!, a!, 6 * c!]);
    expectArray(H, want, [4, 3, 3], 1e-10, "vmap(hessian(f))");
    // with the batch on the last axis and outputs stacked on the last axis
    const XT = [0, 1, 2].flatMap((j) => X.map((x) => x[j]!));
    const H2 = nb.vmap(nb.hessian(f), { inAxes: -1, outAxes: -1 })(mk(XT, [3, 4])) as A;
    expect(H2.shape).toEqual([3, 3, 4]);
    X.forEach(([a, b, c], k) =>
      expectValues(
        sliceAt(H2, 2, k).data,
        [6 * a!, c!, b!, c!, 6 * b!, a!, b!, a!, 6 * c!],
        1e-10,
        `vmap(hessian) example ${k}`,
      ),
    );
  });

  it("vmap(jvp) with mapped primals and tangents, and jvp(vmap(f))", () => {
    // f(x) = x sin(x); d f = (sin x + x cos x) dx
    const f = (x: A): A => nb.mul(x, nb.sin(x));
    const xs = Array.from({ length: 6 }, () => r(-2, 2));
    const ts = Array.from({ length: 6 }, () => r(-1, 1));
    const df = (x: number, t: number): number => (Math.sin(x) + x * Math.cos(x)) * t;
    const pushed = nb.vmap((x: A, t: A) => nb.jvp(f, [x], [t]), { inAxes: [0, 0] })(mk(xs, [3, 2]), mk(ts, [3, 2])) as [
      A,
      A,
    ];
    expectArray(
      pushed[0],
      xs.map((x) => x * Math.sin(x)),
      [3, 2],
      1e-12,
      "vmap(jvp) primal",
    );
    expectArray(
      pushed[1],
      xs.map((x, i) => df(x, ts[i]!)),
      [3, 2],
      1e-10,
      "vmap(jvp) tangent",
    );
    // the same tangent for every example (unmapped)
    const t0 = [0.5, -2];
    const shared = nb.vmap((x: A, t: A) => nb.jvp(f, [x], [t])[1], { inAxes: [0, null] })(
      mk(xs, [3, 2]),
      mk(t0, [2]),
    ) as A;
    expectArray(
      shared,
      xs.map((x, i) => df(x, t0[i % 2]!)),
      [3, 2],
      1e-10,
      "vmap(jvp) unmapped tangent",
    );
    // jvp of a vmapped function
    const [, tout] = nb.jvp(nb.vmap(f, { inAxes: 1 }), [mk(xs, [2, 3])], [mk(ts, [2, 3])]) as [A, A];
    // vmap over axis 1 of [2, 3] gives [3, 2] with out[b, i] = f(x[i, b])
    const want: number[] = [];
    for (let b = 0; b < 3; b++) for (let i = 0; i < 2; i++) want.push(df(xs[i * 3 + b]!, ts[i * 3 + b]!));
    expectArray(tout, want, [3, 2], 1e-10, "jvp(vmap(f))");
  });

  it("vmap over linalg and indexing inside a gradient: grad of a batched log-likelihood", () => {
    // L(A) = sum_b logabsdet(A + diag(x_b)) ; dL/dA = sum_b inv(A + diag(x_b))ᵀ (checked by central differences)
    const A0 = Array.from({ length: 4 }, (_, i) => (i % 3 === 0 ? 3 : 0) + r(-0.5, 0.5));
    const Xs = Array.from({ length: 3 * 2 }, () => r(0, 1));
    const L = (a: A): A =>
      nb.sum(
        nb.vmap((x: A) => nb.linalg.slogdet(nb.add(a, nb.mul(nb.eye(2), nb.reshape(x, [2, 1]))))[1])(mk(Xs, [3, 2])),
      );
    const g = nb.grad(L)(mk(A0, [2, 2])) as A;
    const ref = (a: number[]): number[] => {
      let s = 0;
      for (let b = 0; b < 3; b++) {
        const m = [a[0]! + Xs[b * 2]!, a[1]!, a[2]!, a[3]! + Xs[b * 2 + 1]!];
        s += Math.log(Math.abs(m[0]! * m[3]! - m[1]! * m[2]!));
      }
      return [s];
    };
    expectArray(g, fdJacobian(ref, A0), [2, 2], 1e-7, "grad of vmapped slogdet");
  });
});

describe("vmap errors", () => {
  it("mismatched mapped sizes throw ShapeError", () => {
    const f = nb.vmap((x: A, y: A) => nb.add(x, y));
    expect(() => f(nb.zeros([3]), nb.zeros([4]))).toThrow(nb.ShapeError);
    // the same leaf sizes but on different axes
    const g = nb.vmap((x: A, y: A) => nb.add(x, y), { inAxes: [0, 1] });
    expect(() => g(nb.zeros([3, 4]), nb.zeros([3, 4]))).toThrow(nb.ShapeError);
    // pytree leaves of one argument disagree
    expect(() => nb.vmap((p: A[]) => nb.add(p[0]!, p[1]!))([nb.zeros([2]), nb.zeros([5])])).toThrow(nb.ShapeError);
  });

  it("an out-of-range inAxes or an inAxes list of the wrong length throws ShapeError", () => {
    expect(() => nb.vmap((x: A) => x, { inAxes: 2 })(nb.zeros([3, 4]))).toThrow(nb.ShapeError);
    expect(() => nb.vmap((x: A) => x, { inAxes: -3 })(nb.zeros([3, 4]))).toThrow(nb.ShapeError);
    expect(() => nb.vmap((x: A, y: A) => nb.add(x, y), { inAxes: [0] })(nb.zeros([3]), nb.zeros([3]))).toThrow(
      nb.ShapeError,
    );
  });

  it("item() and valueOf() of a batched value throw TracerError", () => {
    expect(() => nb.vmap((x: A) => (x.item() > 0 ? x : nb.neg(x)))(nb.array([1, -2]))).toThrow(nb.TracerError);
    expect(() => nb.vmap((x: A) => (+x > 0 ? x : nb.neg(x)))(nb.array([1, -2]))).toThrow(nb.TracerError);
    expect(() => nb.vmap((x: A) => x.toArray() as never)(nb.array([1, -2]))).toThrow(nb.TracerError);
  });

  it("a batch tracer that escapes vmap throws TracerError when used", () => {
    let leaked: A | null = null;
    nb.vmap((x: A) => {
      leaked = x;
      return x;
    })(nb.array([1, 2]));
    expect(() => nb.add(leaked!, 1)).toThrow(nb.TracerError);
  });

  it("errors of the batched primitive are raised with the per-example shapes", () => {
    // per-example [3] @ [2] do not align, whatever the batch
    expect(() => nb.vmap((a: A, b: A) => nb.dot(a, b))(nb.zeros([4, 3]), nb.zeros([4, 2]))).toThrow(nb.ShapeError);
    expect(() => nb.vmap((a: A) => nb.linalg.inv(a))(nb.zeros([4, 2, 3]))).toThrow(nb.ShapeError);
  });
});

// ---------------------------------------------------------------------------
// jacobians of pytrees, and a large Hessian

describe("jacfwd and jacrev of pytree functions", () => {
  // f({a: [2], b: [2, 2]}, c: []) = { u: a * c + b @ a (shape [2]), v: sum(sin b) * a0 (shape []) }
  const f = (p: { a: A; b: A }, c: A): { u: A; v: A } => ({
    u: nb.add(nb.mul(p.a, c), nb.matmul(p.b, p.a)),
    v: nb.mul(nb.sum(nb.sin(p.b)), nb.take(p.a, [0]).reshape([])),
  });
  /** Flat reference: inputs [a0, a1, b00, b01, b10, b11, c] -> outputs [u0, u1, v]. */
  const ref = (x: number[]): number[] => {
    const [a0, a1, b00, b01, b10, b11, c] = x as [number, number, number, number, number, number, number];
    return [
      a0 * c + b00 * a0 + b01 * a1,
      a1 * c + b10 * a0 + b11 * a1,
      (Math.sin(b00) + Math.sin(b01) + Math.sin(b10) + Math.sin(b11)) * a0,
    ];
  };
  const x = [0.3, -0.8, 0.5, 1.2, -0.4, 0.9, 1.7];
  const p = { a: mk(x.slice(0, 2), [2]), b: mk(x.slice(2, 6), [2, 2]) };
  const c = mk([x[6]!], []);
  const J = fdJacobian(ref, x); // [3, 7]
  /** The block of J for output rows and input columns. */
  const block = (rows: number[], cols: number[]): number[] => rows.flatMap((i) => cols.map((j) => J[i * 7 + j]!));
  const U = [0, 1];
  const V = [2];
  const Acols = [0, 1];
  const Bcols = [2, 3, 4, 5];
  const Ccols = [6];

  for (const [name, jac] of [
    ["jacfwd", nb.jacfwd],
    ["jacrev", nb.jacrev],
  ] as const) {
    it(`${name} over argnums [0, 1] has output-of-input structure and finite-difference values`, () => {
      const out = jac(f, { argnums: [0, 1] })(p, c) as { u: [{ a: A; b: A }, A]; v: [{ a: A; b: A }, A] };
      expectArray(out.u[0].a, block(U, Acols), [2, 2], 1e-7, `${name} du/da`);
      expectArray(out.u[0].b, block(U, Bcols), [2, 2, 2], 1e-7, `${name} du/db`);
      expectArray(out.u[1], block(U, Ccols), [2], 1e-7, `${name} du/dc`);
      expectArray(out.v[0].a, block(V, Acols), [2], 1e-7, `${name} dv/da`);
      expectArray(out.v[0].b, block(V, Bcols), [2, 2], 1e-7, `${name} dv/db`);
      expectArray(out.v[1], block(V, Ccols), [], 1e-7, `${name} dv/dc`);
    });
    it(`${name} with the default argnums differentiates the first (pytree) argument only`, () => {
      const out = jac(f)(p, c) as { u: { a: A; b: A }; v: { a: A; b: A } };
      expectArray(out.u.a, block(U, Acols), [2, 2], 1e-7, `${name} du/da`);
      expectArray(out.v.b, block(V, Bcols), [2, 2], 1e-7, `${name} dv/db`);
    });
  }

  it("jacfwd and jacrev agree with each other on every leaf", () => {
    const jf = nb.jacfwd(f, { argnums: [0, 1] })(p, c);
    const jr = nb.jacrev(f, { argnums: [0, 1] })(p, c);
    const lf = nb.tree.leaves(jf) as A[];
    const lr = nb.tree.leaves(jr) as A[];
    expect(lf.length).toBe(6);
    expect(lr.length).toBe(6);
    lf.forEach((l, i) => expectArray(lr[i]!, vals(l), l.shape, 1e-12, `leaf ${i}`));
  });
});

describe("hessian of a 200-dimensional function", () => {
  it("equals (A + Aᵀ)/2 - diag(sin x) for f(x) = 0.5 xᵀAx + sum(sin x)", () => {
    const n = 200;
    const r = seeded(2024);
    const Adata = Array.from({ length: n * n }, () => r(-1, 1));
    const xdata = Array.from({ length: n }, () => r(-3, 3));
    const Am = mk(Adata, [n, n]);
    const f = (x: A): A => nb.add(nb.mul(nb.dot(x, nb.matmul(Am, x)), 0.5), nb.sum(nb.sin(x)));
    const t0 = performance.now();
    const H = nb.hessian(f)(mk(xdata, [n])) as A;
    const ms = performance.now() - t0;
    console.log(`hessian of a ${n}-dimensional function (eager): ${ms.toFixed(0)} ms`);
    const want: number[] = [];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        want.push(0.5 * (Adata[i * n + j]! + Adata[j * n + i]!) - (i === j ? Math.sin(xdata[i]!) : 0));
    expectArray(H, want, [n, n], 1e-9, "200-dim Hessian");
  });
});
