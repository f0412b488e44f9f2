/**
 * Property tests generated from the primitive spec table: for every
 * primitive, its kernel against a plain-JS reference; for differentiable
 * primitives, JVP against central differences, VJP through the adjoint
 * identity and the recursion to third order in every combination of modes;
 * for the others, a zero JVP.
 *
 * Run counts: NABLA_FC_RUNS (default 10) per property; NABLA_FC_SEED fixes
 * the seed (default below). fast-check prints the seed and the shrunk
 * counterexample on failure; rerun with NABLA_FC_SEED=<seed> to reproduce.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../../src/index.js";
import { ALL_RULES, ruleOf, type Prim } from "../support/primitives.js";
import { checkGrads } from "../../src/testing/index.js";
import { PRIMS, SPECS, apply, erfRef, threefry, toRef, type Case, type PrimSpec, type Ref } from "./primitiveSpecs.js";
import { fcSettings } from "../support/rng.js";

const { SEED, RUNS } = fcSettings({ seed: 20240917, runs: 10 });
const opts = (runs = RUNS): fc.Parameters<unknown> => ({ seed: SEED, numRuns: runs });

type NDArray = nb.NDArray;

/**
 * Reference comparison: shapes and dtypes exactly; int32 and bool values
 * exactly; floats within rtol · max(1, |want|), rtol 1e-12 by default for
 * float64 (the reference uses the same Math functions or a different
 * summation order, so only a few ulps may differ) and 1e-6 for float32
 * outputs (one float32 rounding of a float64 value differing in the last ulps).
 */
function compareOutputs(prim: Prim, got: Ref[], want: Ref[], rtol?: number): void {
  if (got.length !== want.length) throw new Error(`${prim}: ${got.length} outputs, reference has ${want.length}`);
  got.forEach((g, k) => {
    const w = want[k]!;
    if (g.dtype !== w.dtype) throw new Error(`${prim}: output ${k} has dtype ${g.dtype}, reference ${w.dtype}`);
    if (g.shape.length !== w.shape.length || g.shape.some((d, i) => d !== w.shape[i]))
      throw new Error(`${prim}: output ${k} has shape [${g.shape}], reference [${w.shape}]`);
    const exact = g.dtype === "int32" || g.dtype === "bool" || rtol === 0;
    const tol = rtol ?? (g.dtype === "float32" ? 1e-6 : 1e-12);
    g.data.forEach((v, i) => {
      const r = w.data[i]!;
      const ok = exact ? Object.is(v, r) || v === r : Math.abs(v - r) <= tol * Math.max(1, Math.abs(r));
      if (!ok) throw new Error(`${prim}: output ${k}, flat index ${i}: kernel gave ${v}, reference ${r} (rtol ${tol})`);
    });
  });
}

const isFloat = (x: NDArray): boolean => x.dtype === "float64" || x.dtype === "float32";

function wrtOf(spec: PrimSpec<Prim>, c: Case): number[] {
  const w = spec.diff!.wrt;
  return w === "all" ? c.args.map((_, i) => i) : w.slice();
}

/** The primitive as a function of the operands `wrt`, the others closed over. */
function partial(prim: Prim, c: Case, wrt: readonly number[]): [(...xs: NDArray[]) => NDArray[], NDArray[]] {
  const f = (...xs: NDArray[]): NDArray[] => {
    const args = c.args.slice();
    wrt.forEach((k, i) => (args[k] = xs[i]!));
    return apply(prim, args, c.params);
  };
  return [f, wrt.map((k) => c.args[k]!)];
}

function allZero(x: NDArray | null): boolean {
  return x === null || Array.from(x.toTypedArray() as ArrayLike<number>).every((v) => v === 0);
}

it("the spec table covers exactly the primitives of the rule table", () => {
  expect([...PRIMS].sort()).toEqual(Object.keys(ALL_RULES).sort());
  for (const [name, row] of Object.entries(ALL_RULES)) expect(row.name).toBe(name);
});

describe.each(PRIMS)("primitive %s", (prim) => {
  const spec = SPECS[prim] as unknown as PrimSpec<Prim>;

  it("kernel matches the plain-JS reference", () => {
    fc.assert(
      fc.property(spec.gen, (c) => {
        const norm = spec.normalize ?? ((o: Ref[]) => o);
        const got = norm(apply(prim, c.args, c.params).map(toRef));
        const want = norm(spec.ref(c.args.map(toRef), c.params));
        compareOutputs(prim, got, want, spec.refTol);
      }),
      opts(),
    );
  });

  const diff = spec.diff;
  if (diff !== null) {
    const gen = diff.gen ?? spec.gen;
    const order = diff.order ?? 3;

    it("jvp matches central differences (float64, order 1)", () => {
      fc.assert(
        fc.property(gen, (c) => {
          const [f, xs] = partial(prim, c, wrtOf(spec, c));
          checkGrads(f, xs, { order: 1, modes: ["fwd"] });
        }),
        opts(),
      );
    });

    it("vjp satisfies the adjoint identity against central differences (order 1)", () => {
      fc.assert(
        fc.property(gen, (c) => {
          const [f, xs] = partial(prim, c, wrtOf(spec, c));
          checkGrads(f, xs, { order: 1, modes: ["rev"] });
        }),
        opts(),
      );
    });

    it(`order ${order}: every composition of fwd and rev`, () => {
      fc.assert(
        fc.property(gen, (c) => {
          const [f, xs] = partial(prim, c, wrtOf(spec, c));
          checkGrads(f, xs, { order, modes: ["fwd", "rev"] });
        }),
        opts(),
      );
    });

    if (diff.wrt === "all" || diff.wrt.length > 1) {
      it("order 2 with respect to one operand at a time (the others constant)", () => {
        fc.assert(
          fc.property(gen, fc.nat(), (c, pick) => {
            const wrt = wrtOf(spec, c);
            const k = wrt[pick % wrt.length]!;
            const [f, xs] = partial(prim, c, [k]);
            checkGrads(f, xs, { order: 2, modes: ["fwd", "rev"] });
          }),
          opts(),
        );
      });
    }
  }

  const zeroGen = diff === null ? spec.gen : spec.zero;
  if (zeroGen !== undefined) {
    it("has a zero derivative: the JVP rule and jvp give zero tangents", () => {
      fc.assert(
        fc.property(zeroGen, (c) => {
          // the rule itself, with every operand perturbed
          const outs = apply(prim, c.args, c.params);
          const tangents = c.args.map((a) => nb.onesLike(a).astype(isFloat(a) ? a.dtype : "float64"));
          const touts = ruleOf(prim).jvp(c.args, tangents, outs, c.params);
          touts.forEach((t, i) => {
            if (!allZero(t)) throw new Error(`${prim}: JVP rule gave a nonzero tangent for output ${i}: ${String(t)}`);
          });
          // the jvp transform, with respect to the float operands
          const fl = c.args.flatMap((a, i) => (isFloat(a) ? [i] : []));
          if (fl.length === 0) return;
          const [f, xs] = partial(prim, c, fl);
          const [, tout] = nb.jvp(
            f,
            xs,
            xs.map((x) => nb.onesLike(x)),
          );
          (tout as NDArray[]).forEach((t, i) => {
            if (!allZero(t)) throw new Error(`${prim}: jvp gave a nonzero tangent for output ${i}: ${String(t)}`);
          });
        }),
        opts(),
      );
    });
  }
});

describe("kernel values against known constants", () => {
  const erf = (v: number) => apply("erf", [nb.array(v)], {})[0]!.item();

  // reference values of erf to 16 digits (Abramowitz & Stegun table 7.1; DLMF 7.2)
  const KNOWN: [number, number][] = [
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
  ];

  it.each(KNOWN)("erf(%f) to 1e-15 and erf(-x) = -erf(x)", (x, want) => {
    expect(Math.abs(erf(x) - want)).toBeLessThanOrEqual(1e-15);
    expect(erf(-x)).toBe(-erf(x));
  });

  it.each(KNOWN)("the Simpson reference erf(%f) agrees to 1e-13", (x, want) => {
    expect(Math.abs(erfRef(x) - want)).toBeLessThanOrEqual(1e-13);
  });

  it("exp, sin, log1p, expm1 kernels equal Math on random inputs", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 8 }), (vs) => {
        const x = nb.array(vs);
        for (const [prim, f] of [
          ["exp", Math.exp],
          ["sin", Math.sin],
          ["log1p", (v: number) => Math.log1p(Math.abs(v))],
          ["expm1", Math.expm1],
        ] as const) {
          const arg = prim === "log1p" ? nb.array(vs.map(Math.abs)) : x;
          const got = Array.from(apply(prim, [arg], {})[0]!.toTypedArray() as Float64Array);
          expect(got).toEqual(vs.map((v) => f(v)));
        }
      }),
      opts(),
    );
  });

  it("logistic and softplus are accurate and finite at ±1000", () => {
    const x = nb.array([-1000, -30, 0, 30, 1000]);
    const sg = Array.from(apply("logistic", [x], {})[0]!.toTypedArray() as Float64Array);
    const want = [0, 1 / (1 + Math.exp(30)), 0.5, 1 / (1 + Math.exp(-30)), 1];
    sg.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(4e-16 * want[i]!));
    const sp = Array.from(apply("softplus", [x], {})[0]!.toTypedArray() as Float64Array);
    expect(sp[0]).toBe(0);
    expect(sp[4]).toBe(1000);
    expect(Math.abs(sp[1]! - Math.exp(-30))).toBeLessThan(1e-25);
    expect(sp[2]).toBeCloseTo(Math.LN2, 15);
  });

  // Threefry-2x32 known-answer vectors (Random123 kat_vectors; also JAX's random_test)
  const KAT: [[number, number], [number, number], [number, number]][] = [
    [
      [0, 0],
      [0, 0],
      [0x6b200159, 0x99ba4efe],
    ],
    [
      [0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x1cb996fc, 0xbb002be7],
    ],
    [
      [0x13198a2e, 0x03707344],
      [0x243f6a88, 0x85a308d3],
      [0xc4923a9c, 0x483df7a0],
    ],
  ];

  it.each(KAT)("the reference Threefry-2x32 matches the known answer for key %j, counter %j", (key, ctr, want) => {
    expect(threefry(key[0], key[1], ctr[0], ctr[1])).toEqual(want);
  });

  it("random_bits of key (0, 0) starts with threefry((0, 0), (0, 0))", () => {
    const key = nb.array(new Int32Array([0, 0]));
    const bits = Array.from(apply("random_bits", [key], { shape: [2] })[0]!.toTypedArray() as Int32Array);
    expect(bits.map((b) => b >>> 0)).toEqual([0x6b200159, 0x99ba4efe]);
  });
});

describe("zero-length axes", () => {
  const z = (s: number[]) => nb.zeros(s);
  const CASES: [Prim, NDArray[], object][] = [
    ["matmul", [z([2, 0]), z([0, 3])], {}],
    ["reduce_sum", [z([2, 0])], { axes: [1] }],
    ["reduce_min", [z([0, 2])], { axes: [1] }],
    ["slice", [nb.ones([3])], { begin: [1], end: [1] }],
    ["pad", [z([0, 2])], { lo: [1, 0], hi: [0, 1] }],
    ["concatenate", [nb.ones([2, 0]), nb.ones([2, 2])], { axis: 1 }],
    ["transpose", [z([0, 2])], { perm: [1, 0] }],
    ["broadcast", [z([1, 0])], { shape: [3, 0] }],
    ["reshape", [z([0, 3])], { shape: [3, 0] }],
    ["cumsum", [z([0, 2])], { axis: 0, reverse: false }],
    ["rev", [z([0, 2])], { axes: [0] }],
    ["gather", [nb.ones([3, 2]), nb.array(new Int32Array([]))], { axis: 0 }],
    ["argsort", [z([0])], { axis: 0, descending: false }],
    ["argmax", [nb.ones([0, 2])], { axis: 1 }],
    ["exp", [z([0, 3])], {}],
    ["add", [z([0, 3]), z([1, 3])], {}],
  ];

  it.each(CASES)(
    "%s: kernel matches the reference, derivatives to order 2 where differentiable",
    (prim, args, params) => {
      const spec = SPECS[prim] as unknown as PrimSpec<Prim>;
      const p = params as Case["params"];
      compareOutputs(prim, apply(prim, args, p).map(toRef), spec.ref(args.map(toRef), p));
      if (spec.diff !== null) {
        const fl = args.flatMap((a, i) => (a.dtype === "float64" ? [i] : []));
        const [f, xs] = partial(prim, { args, params: p }, fl);
        checkGrads(f, xs, { order: 2 });
      }
    },
  );
});

describe("derivative conventions at special points (API.md)", () => {
  const at = (v: number) => nb.array(v);
  const grad2 = (prim: Prim, x: number, y: number) =>
    (
      nb.grad((a: NDArray, b: NDArray) => apply(prim, [a, b], {})[0]!, { argnums: [0, 1] })(at(x), at(y)) as NDArray[]
    ).map((g) => g.item());

  it("|x|'(0) = 1", () => {
    expect(
      nb
        .grad((x: NDArray) => apply("abs", [x], {})[0]!)(at(0))
        .item(),
    ).toBe(1);
  });

  it("ties in max and min split the derivative evenly", () => {
    expect(grad2("max", 2, 2)).toEqual([0.5, 0.5]);
    expect(grad2("min", -1, -1)).toEqual([0.5, 0.5]);
    const g = nb.grad((x: NDArray) => apply("reduce_max", [x], { axes: [0] })[0]!)(nb.array([1, 3, 3])) as NDArray;
    expect(vals(g)).toEqual([0, 0.5, 0.5]);
    const h = nb.grad((x: NDArray) => apply("reduce_min", [x], { axes: [1] })[0]!.sum())(
      nb.array([
        [2, 2, 2],
        [0, 1, 5],
      ]),
    ) as NDArray;
    expect(vals(h)).toEqual([1 / 3, 1 / 3, 1 / 3, 1, 0, 0]);
  });

  it("pow(x, 2) at 0: first derivative 0 (not NaN), second 2, third 0; pow(x, 0)' = 0; ∂/∂y x^y = 0 at x = 0", () => {
    const p2 = (x: NDArray) => apply("pow", [x, at(2)], {})[0]!;
    expect(nb.grad(p2)(at(0)).item()).toBe(0);
    expect(nb.grad(nb.grad(p2))(at(0)).item()).toBe(2);
    expect(
      nb
        .grad(nb.grad(nb.grad(p2)))(at(0))
        .item(),
    ).toBe(0);
    expect(
      nb
        .grad((x: NDArray) => apply("pow", [x, at(0)], {})[0]!)(at(0))
        .item(),
    ).toBe(0);
    expect(grad2("pow", 0, 2)).toEqual([0, 0]);
    // x^y with y traced too: d²/dx² at (0, 2) is 2, and the mixed and y-y second derivatives vanish
    const hess = nb.hessian(
      (v: NDArray) =>
        apply("pow", [nb.reshape(nb.slice(v, [0], [1]), []), nb.reshape(nb.slice(v, [1], [2]), [])], {})[0]!,
    )(nb.array([0, 2])) as NDArray;
    expect(vals(hess)).toEqual([2, 0, 0, 0]);
  });
});

function vals(x: NDArray): number[] {
  return Array.from(x.toTypedArray() as ArrayLike<number>);
}
