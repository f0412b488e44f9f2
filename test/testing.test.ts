/**
 * Tests of `nabla/testing` itself: checkGrads must reject wrong derivatives
 * at the order and in the mode where they are wrong (a checker that cannot
 * fail is worthless), numericalJvp must match closed forms, and the
 * arbitraries must stay in their domains.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import {
  GradCheckError,
  arbArray,
  arbBroadcastPair,
  arbBroadcastShapes,
  arbProgram,
  arbShape,
  arbSpdMatrix,
  checkGrads,
  numericalJvp,
  type Domain,
} from "../src/testing/index.js";
import { fcSettings } from "./support/rng.js";
import { nablaError } from "./support/assert.js";

type NDArray = nb.NDArray;

const { SEED, RUNS } = fcSettings({ seed: 20240917, runs: 10 });
const opts = { seed: SEED, numRuns: 5 * RUNS };

const vals = (x: NDArray): number[] => Array.from(x.toTypedArray() as ArrayLike<number>);
const sg = nb.stopGradient;

/** The error checkGrads throws (or a failure if it throws nothing or something else). */
function gradCheckError(run: () => void): GradCheckError {
  try {
    run();
  } catch (e) {
    if (e instanceof GradCheckError) return e;
    throw e;
  }
  throw new Error("checkGrads accepted a wrong derivative");
}

const X = nb.array([0.3, -1.2, 2.1]);

// sin(x) in value, but derivative 1 everywhere.
const wrongFirst = (x: NDArray) => nb.add(x, sg(nb.sub(nb.sin(x), x)));
// sin(x) with the right first derivative (cos x, frozen) but second derivative 0 instead of -sin x.
const wrongSecond = (x: NDArray) => nb.add(sg(nb.sin(x)), nb.mul(nb.sub(x, sg(x)), sg(nb.cos(x))));
// sin(x) with right first and second derivatives (a frozen second-order Taylor polynomial) but third derivative 0.
const wrongThird = (x: NDArray) => {
  const d = nb.sub(x, sg(x));
  return nb.add(nb.add(sg(nb.sin(x)), nb.mul(d, sg(nb.cos(x)))), nb.mul(nb.mul(d, d), sg(nb.mul(nb.sin(x), -0.5))));
};

describe("checkGrads rejects wrong derivatives", () => {
  it("GradCheckError is a NablaError", () => {
    const e = gradCheckError(() => checkGrads(wrongFirst, [X], { order: 1 }));
    expect(e).toBeInstanceOf(nb.NablaError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("GradCheckError");
  });

  it.each([["fwd"], ["rev"]] as const)("a wrong first derivative fails at order 1 in mode %s", (mode) => {
    const e = gradCheckError(() => checkGrads(wrongFirst, [X], { order: 1, modes: [mode] }));
    expect(e.message).toContain("order 1 of 1");
    expect(e.message).toContain(`mode ${mode}`);
    expect(e.message).toMatch(/exceeds tolerance/);
    expect(e.message).toMatch(
      mode === "fwd" ? /max \|error\| [\d.e+-]+ exceeds tolerance [\d.e+-]+/ : /\|error\| [\d.e+-]+ exceeds tolerance/,
    );
  });

  it("a wrong first derivative through a scalar loss fails too", () => {
    gradCheckError(() => checkGrads((x: NDArray) => nb.sum(wrongFirst(x)), [X], { order: 1 }));
  });

  it.each([["fwd"], ["rev"]] as const)(
    "a wrong second derivative passes order 1 but fails at order 2 in mode %s",
    (mode) => {
      expect(() => checkGrads(wrongSecond, [X], { order: 1, modes: [mode] })).not.toThrow();
      const e = gradCheckError(() => checkGrads(wrongSecond, [X], { order: 2, modes: [mode] }));
      expect(e.message).toContain("order 2 of 2");
      expect(e.message).toContain(`modes ${mode} → ${mode}`);
    },
  );

  it("a wrong third derivative passes order 2 and fails at order 3", () => {
    expect(() => checkGrads(wrongThird, [X], { order: 2 })).not.toThrow();
    const e = gradCheckError(() => checkGrads(wrongThird, [X], { order: 3 }));
    expect(e.message).toContain("order 3 of 3");
  });

  it("the mixed compositions are checked: a rev-only order-3 run reaches rev → rev → rev", () => {
    const e = gradCheckError(() => checkGrads(wrongThird, [X], { order: 3, modes: ["rev"] }));
    expect(e.message).toContain("modes rev → rev → rev");
  });

  it("a wrong derivative with respect to one argument of several is caught", () => {
    // d/dy is wrong (y instead of 2y); d/dx is right
    const f = (x: NDArray, y: NDArray) => nb.add(nb.sin(x), nb.add(sg(nb.mul(y, y)), nb.mul(nb.sub(y, sg(y)), sg(y))));
    gradCheckError(() => checkGrads(f, [nb.array([0.5, 1]), nb.array([0.7, -0.4])], { order: 1, modes: ["fwd"] }));
    gradCheckError(() => checkGrads(f, [nb.array([0.5, 1]), nb.array([0.7, -0.4])], { order: 1, modes: ["rev"] }));
  });

  it("a 1% error in float32 is caught, and a correct float32 function passes with the float32 defaults", () => {
    const x32 = nb.array([0.3, -1.2, 2.1], { dtype: "float32" });
    expect(() => checkGrads((x: NDArray) => nb.mul(nb.sin(x), nb.exp(x)), [x32], { order: 2 })).not.toThrow();
    // derivative scaled by 1.05
    const off = (x: NDArray) => nb.add(sg(nb.sin(x)), nb.mul(nb.sub(x, sg(x)), sg(nb.mul(nb.cos(x), 1.05))));
    gradCheckError(() => checkGrads(off, [x32], { order: 1 }));
  });

  it("float32 inside a float64 function gets float32 tolerances (read off the staged graph), and still catches 5% errors", () => {
    const roundTrip = (x: NDArray) => nb.mul(nb.sin(x.astype("float32")), 2).astype("float64");
    expect(() => checkGrads(roundTrip, [X], { order: 2 })).not.toThrow();
    const off = (x: NDArray) => {
      const y = x.astype("float32");
      return nb.add(sg(nb.sin(y)), nb.mul(nb.sub(y, sg(y)), sg(nb.mul(nb.cos(y), 1.05)))).astype("float64");
    };
    gradCheckError(() => checkGrads(off, [X], { order: 1 }));
  });

  it("is deterministic for a seed: the same failure message twice", () => {
    const m1 = gradCheckError(() => checkGrads(wrongFirst, [X], { order: 1, seed: 7 })).message;
    const m2 = gradCheckError(() => checkGrads(wrongFirst, [X], { order: 1, seed: 7 })).message;
    expect(m1).toBe(m2);
    const m3 = gradCheckError(() => checkGrads(wrongFirst, [X], { order: 1, seed: 8 })).message;
    expect(m3).not.toBe(m1);
  });

  it("non-finite values never pass vacuously: sqrt at 0 (derivative inf, central difference NaN) fails", () => {
    gradCheckError(() => checkGrads((x: NDArray) => nb.sqrt(x), [nb.array([0, 1])], { order: 1, modes: ["fwd"] }));
    gradCheckError(() => checkGrads((x: NDArray) => nb.sqrt(x), [nb.array([0, 1])], { order: 1, modes: ["rev"] }));
  });

  it("a custom rule whose primal output differs from f fails, even with the right derivative", () => {
    const x = nb.array([0.3, -1.2]);
    // derivative cos(x) is right for f = sin, but the rule's primal is sin(x) + 1
    const jvpOff = nb.customJvp(
      (a: NDArray) => nb.sin(a),
      ([a]: NDArray[], [da]: NDArray[]) => [nb.add(nb.sin(a!), 1), nb.mul(da!, nb.cos(a!))],
    );
    const m1 = gradCheckError(() => checkGrads(jvpOff, [x], { order: 1, modes: ["fwd"] })).message;
    expect(m1).toMatch(/primal output of jvp differs from the function's/);
    const vjpOff = nb.customVjp(
      (a: NDArray) => nb.sin(a),
      (a: NDArray) => [nb.add(nb.sin(a), 1), a],
      (a: NDArray, ct: NDArray) => [nb.mul(ct, nb.cos(a))],
    );
    const m2 = gradCheckError(() => checkGrads(vjpOff, [x], { order: 1, modes: ["rev"] })).message;
    expect(m2).toMatch(/primal output of vjp differs from the function's/);
    // a rule that computes the same primal another way passes: log1p(exp(x)) is softplus(x) to
    // rounding here (|x| < 2), far inside the float64 default tolerance 1e-6
    const ok = nb.customJvp(
      (a: NDArray) => nb.softplus(a),
      ([a]: NDArray[], [da]: NDArray[]) => [nb.log1p(nb.exp(a!)), nb.mul(da!, nb.sigmoid(a!))],
    );
    expect(() => checkGrads(ok, [x], { order: 1, modes: ["fwd"] })).not.toThrow();
  });

  it("tolerances are honoured: a huge atol accepts the wrong derivative", () => {
    expect(() => checkGrads(wrongFirst, [X], { order: 1, atol: 100, rtol: 0 })).not.toThrow();
  });
});

describe("checkGrads accepts correct derivatives", () => {
  it("order 3 on pytree arguments (object and array leaves, JS numbers) with pytree outputs", () => {
    // the JS number leaf reaches f as an array
    const f = (p: { a: NDArray; b: [NDArray, NDArray] }, s: NDArray) => ({
      u: nb.mul(nb.sin(p.a), p.b[0]),
      v: [nb.sum(nb.exp(nb.mul(p.a, s))), nb.mul(p.b[1], s)],
    });
    const args: [{ a: NDArray; b: [NDArray, number] }, NDArray] = [
      { a: nb.array([0.2, -0.5]), b: [nb.array(1.5), 0.7] },
      nb.array(0.3),
    ];
    checkGrads(f, args, { order: 3 });
  });

  it("order 3 in all compositions on smooth functions of matrices", () => {
    const A = nb.array([
      [0.5, -0.2],
      [0.1, 0.9],
    ]);
    checkGrads((a: NDArray) => nb.tanh(nb.matmul(a, nb.transpose(a))), [A], { order: 3 });
    checkGrads((a: NDArray) => nb.logsumexp(nb.mul(a, a), 1), [A], { order: 3 });
  });
});

describe("numericalJvp", () => {
  it("matches closed forms: d sin(x)[t] = cos(x) t within the central-difference error (1e-9 at ε = 1e-5)", () => {
    const x = nb.array([0.1, 1.3, -2]);
    const t = nb.array([1, -0.5, 2]);
    const d = numericalJvp((y: NDArray) => nb.sin(y), [x], [t]) as NDArray;
    vals(d).forEach((v, i) => expect(Math.abs(v - Math.cos(vals(x)[i]!) * vals(t)[i]!)).toBeLessThan(1e-9));
  });

  it("is exactly the central difference: for sin it equals cos(x) sin(ε)/ε", () => {
    // (sin(x + ε) − sin(x − ε)) / 2ε = cos(x) sin(ε) / ε exactly, so a large ε shows the formula
    const eps = 0.1;
    const d = numericalJvp((y: NDArray) => nb.sin(y), [nb.array(0.7)], [nb.array(1)], eps) as NDArray;
    expect(d.item()).toBeCloseTo((Math.cos(0.7) * Math.sin(eps)) / eps, 12);
  });

  it("works over pytrees and returns the output structure with NDArray leaves", () => {
    const f = (p: { a: NDArray; b: NDArray }) => [nb.mul(p.a, p.b), { e: nb.exp(p.a) }];
    const a = nb.array([0.5, -1]);
    const b = nb.array([2, 3]);
    const ta = nb.array([1, 0.5]);
    const tb = nb.array([-1, 2]);
    const [dab, { e: de }] = numericalJvp(f, [{ a, b }], [{ a: ta, b: tb }]) as [NDArray, { e: NDArray }];
    expect(dab).toBeInstanceOf(nb.NDArray);
    // d(ab) = ta b + a tb; d exp(a) = exp(a) ta
    const want1 = [0.5 * 0 + 1 * 2 + 0.5 * -1, 0.5 * 3 + -1 * 2];
    vals(dab).forEach((v, i) => expect(Math.abs(v - want1[i]!)).toBeLessThan(1e-8));
    const want2 = [Math.exp(0.5) * 1, Math.exp(-1) * 0.5];
    vals(de).forEach((v, i) => expect(Math.abs(v - want2[i]!)).toBeLessThan(1e-8));
  });

  it("gives zeros for non-float outputs", () => {
    const [, i] = numericalJvp(
      (x: NDArray) => [nb.sin(x), nb.argmax(x)],
      [nb.array([1, 2, 3])],
      [nb.array([1, 1, 1])],
    ) as NDArray[];
    expect(i!.dtype).toBe("int32");
    expect(vals(i!)).toEqual([0]);
  });

  it("rejects tangents whose structure differs from the primals", () => {
    // @ts-expect-error: the tangent is nested one level deeper than the primal
    expect(() => numericalJvp((x: NDArray) => x, [nb.array([1, 2])], [[nb.array([1, 2])]])).toThrow(nb.ShapeError);
  });
});

describe("arbitraries stay in their domains", () => {
  it("arbShape respects rank and dimension bounds", () => {
    fc.assert(
      fc.property(arbShape({ minRank: 1, maxRank: 2, minDim: 2, maxDim: 3 }), (s) => {
        expect(s.length).toBeGreaterThanOrEqual(1);
        expect(s.length).toBeLessThanOrEqual(2);
        for (const d of s) expect(d === 2 || d === 3).toBe(true);
      }),
      opts,
    );
  });

  const DOMAINS: [Domain, { min?: number; max?: number }, (v: number, n: number) => boolean][] = [
    ["bounded", {}, (v) => v >= -3 && v <= 3],
    ["bounded", { min: 1, max: 2 }, (v) => v >= 1 && v <= 2],
    ["any", {}, (v) => Number.isFinite(v) && Math.abs(v) <= 1e3],
    ["positive", {}, (v) => v >= 0.1 && v <= 10],
    ["positive", { min: 0.5, max: 0.6 }, (v) => v >= 0.5 && v <= 0.6],
    ["unit", {}, (v) => v >= -0.9 && v <= 0.9],
    ["nonzero", {}, (v) => Math.abs(v) >= 0.1 && Math.abs(v) <= 3],
    ["integer", {}, (v) => Number.isInteger(v) && v >= -3 && v <= 3],
    ["half", {}, (v) => Number.isInteger(2 * v) && v >= -3 && v <= 3],
  ];

  it.each(DOMAINS)("arbArray domain %s %j", (domain, bounds, inDomain) => {
    fc.assert(
      fc.property(arbArray({ domain, ...bounds, shape: { maxRank: 2, maxDim: 4 } }), (x) => {
        expect(x.dtype).toBe("float64");
        for (const v of vals(x)) expect(inDomain(v, x.size)).toBe(true);
      }),
      opts,
    );
  });

  it("arbArray domain distinct: pairwise distinct values at least (max − min)/(5n) apart", () => {
    fc.assert(
      fc.property(arbArray({ domain: "distinct", shape: { minRank: 1, maxRank: 2, maxDim: 4 } }), (x) => {
        const v = vals(x).sort((a, b) => a - b);
        for (const e of v) expect(Math.abs(e)).toBeLessThanOrEqual(3);
        for (let i = 1; i < v.length; i++) expect(v[i]! - v[i - 1]!).toBeGreaterThanOrEqual(6 / (5 * v.length) - 1e-12);
      }),
      opts,
    );
  });

  it("arbArray honours a fixed shape and the dtype", () => {
    fc.assert(
      fc.property(
        fc
          .constantFrom<nb.DType>("float64", "float32", "int32", "bool")
          .chain((dtype) => arbArray({ shape: [2, 3], dtype })),
        (x) => {
          expect(x.shape).toEqual([2, 3]);
          const v = vals(x);
          if (x.dtype === "bool") for (const e of v) expect(e === 0 || e === 1).toBe(true);
          if (x.dtype === "int32") for (const e of v) expect(Number.isInteger(e)).toBe(true);
        },
      ),
      opts,
    );
  });

  it("arbArray values spread over the domain (not piled at its ends)", () => {
    const xs = fc.sample(arbArray({ shape: [50], min: 0, max: 1 }), { seed: SEED, numRuns: 4 });
    const v = xs.flatMap(vals);
    const interior = v.filter((e) => e > 0.05 && e < 0.95).length;
    expect(interior / v.length).toBeGreaterThan(0.8);
  });

  /** NumPy broadcasting, written out: trailing axes equal or one of them 1. */
  const broadcastable = (...shapes: number[][]): boolean => {
    const nd = Math.max(...shapes.map((s) => s.length));
    for (let k = 1; k <= nd; k++) {
      const ds = new Set(shapes.map((s) => s[s.length - k] ?? 1).filter((d) => d !== 1));
      if (ds.size > 1) return false;
    }
    return true;
  };

  it("arbBroadcastPair gives shapes that broadcast, and arrays of such shapes in their domains", () => {
    fc.assert(
      fc.property(arbBroadcastPair(), ([a, b]) => {
        expect(broadcastable(a, b)).toBe(true);
      }),
      opts,
    );
    fc.assert(
      fc.property(arbBroadcastPair({ arrays: [{}, { domain: "positive" }] }), ([x, y]) => {
        expect(broadcastable([...x.shape], [...y.shape])).toBe(true);
        for (const v of vals(y)) expect(v).toBeGreaterThan(0);
      }),
      opts,
    );
  });

  it("arbBroadcastShapes(3) gives three mutually broadcastable shapes", () => {
    fc.assert(
      fc.property(arbBroadcastShapes(3), (ss) => {
        expect(ss).toHaveLength(3);
        expect(broadcastable(...ss)).toBe(true);
      }),
      opts,
    );
  });

  it("arbSpdMatrix gives symmetric matrices whose plain-JS Cholesky pivots are all >= n", () => {
    fc.assert(
      fc.property(arbSpdMatrix({ minN: 1, maxN: 4 }), (m) => {
        const n = m.shape[0]!;
        expect(m.shape).toEqual([n, n]);
        const a = vals(m);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(a[i * n + j]).toBe(a[j * n + i]);
        // Cholesky: the squared pivots are Schur complements, each >= the smallest eigenvalue (>= n)
        const L = new Array<number>(n * n).fill(0);
        for (let j = 0; j < n; j++) {
          let s = a[j * n + j]!;
          for (let k = 0; k < j; k++) s -= L[j * n + k]! ** 2;
          expect(s).toBeGreaterThanOrEqual(n - 1e-9);
          L[j * n + j] = Math.sqrt(s);
          for (let i = j + 1; i < n; i++) {
            let t = a[i * n + j]!;
            for (let k = 0; k < j; k++) t -= L[i * n + k]! * L[j * n + k]!;
            L[i * n + j] = t / L[j * n + j]!;
          }
        }
      }),
      opts,
    );
    fc.assert(
      fc.property(arbSpdMatrix(3), (m) => {
        expect(m.shape).toEqual([3, 3]);
      }),
      { seed: SEED, numRuns: 3 },
    );
  });

  it("arbProgram gives deterministic programs with finite outputs of the input's shape and a readable description", () => {
    fc.assert(
      fc.property(
        arbProgram().chain((p) => p.input.map((x) => [p, x] as const)),
        ([p, x]) => {
          expect(x.shape).toEqual(p.inputShape);
          const y = p.f(x);
          expect(y.shape).toEqual(p.inputShape);
          for (const v of vals(y)) expect(Number.isFinite(v)).toBe(true);
          expect(vals(p.f(x))).toEqual(vals(y));
          expect(String(p)).toMatch(/^x: f64\[\d,\d\] ↦ /);
          expect(fc.stringify(p)).toBe(String(p));
        },
      ),
      opts,
    );
  });
});

describe("bad input: checkGrads, numericalJvp and the arbitraries throw NablaErrors naming themselves", () => {
  // sin in value, with the derivative 5·t instead of cos(x)·t: every check in every mode must fail
  const wrongRule = nb.customJvp(
    (x: NDArray) => nb.sin(x),
    ([x]: NDArray[], [t]: NDArray[]) => [nb.sin(x!), nb.mul(t!, 5)],
  );

  it("the wrong rule is caught with valid modes (control)", () => {
    gradCheckError(() => checkGrads(wrongRule, [nb.ones([2])], { order: 1, modes: ["fwd"] }));
    gradCheckError(() => checkGrads(wrongRule, [nb.ones([2])], { order: 1, modes: ["rev"] }));
  });

  it.each([
    ["misspelt", ["fwrd"]],
    ["empty", []],
    ["long names", ["forward", "reverse"]],
    ["repeated", ["fwd", "fwd"]],
    ["one valid, one not", ["fwd", "backward"]],
    ["a string", "fwd"],
    ["holey", [, "rev"]], // eslint-disable-line no-sparse-arrays
  ] as [string, unknown][])("modes %s (%j) throws instead of checking nothing", (_what, modes) => {
    const e = nablaError(
      () => checkGrads(wrongRule, [nb.ones([2])], { modes } as unknown as { modes: ("fwd" | "rev")[] }),
      "checkGrads",
    );
    expect(e).not.toBeInstanceOf(GradCheckError);
    expect(e.message).toMatch(/^checkGrads: modes must be a non-empty array of distinct modes "fwd" and "rev"/);
  });

  it("unknown options are refused with the standard message (a typo would check with the defaults)", () => {
    const e = nablaError(() => checkGrads(nb.sin, [nb.ones([2])], { tol: 1 } as never), "checkGrads");
    expect(e.message).toBe(
      'checkGrads: unknown option "tol" (the options are "order", "modes", "eps", "atol", "rtol", "seed")',
    );
    nablaError(() => checkGrads(wrongFirst, [X], { order: 1, atol: 100, rtol: 0, Seed: 1 } as never), "checkGrads");
    nablaError(() => checkGrads(nb.sin, [X], [] as never), "checkGrads");
  });

  it.each([
    ["order", 0],
    ["order", 1.5],
    ["order", "2"],
    ["order", Infinity],
    ["eps", 0],
    ["eps", -1e-5],
    ["eps", NaN],
    ["eps", "1e-5"],
    ["atol", -1],
    ["atol", Infinity],
    ["rtol", "0.1"],
    ["rtol", NaN],
    ["seed", 1.5],
    ["seed", "7"],
  ] as [string, unknown][])("option %s = %j is refused", (key, value) => {
    const e = nablaError(() => checkGrads(nb.sin, [X], { order: 1, [key]: value }), "checkGrads");
    expect(e.message).toMatch(new RegExp(`^checkGrads: ${key} must be`));
  });

  it("valid edge values of the options are accepted (atol = rtol = 0 is exact comparison)", () => {
    expect(() => checkGrads(nb.sin, [X], { order: 1, eps: 1e-4, atol: 1e-6, rtol: 1e-6, seed: -3 })).not.toThrow();
    // zero tolerances still leave the difference quotient's own error estimate: a correct linear map passes
    expect(() => checkGrads((x: NDArray) => nb.mul(x, 2), [X], { order: 1, atol: 0, rtol: 0 })).not.toThrow();
  });

  it("errors name checkGrads, not the jvp/vjp it calls: a non-function, int32 arguments, bad outputs", () => {
    nablaError(() => checkGrads(3 as never, [nb.ones([2])]), "checkGrads");
    const int = nablaError(() => checkGrads(nb.sin, [nb.array([1, 2], { dtype: "int32" })]), "checkGrads");
    expect(int).toBeInstanceOf(nb.DTypeError);
    expect(int.message).toContain("int32");
    nablaError(() => checkGrads(nb.sin, nb.ones([2]) as never), "checkGrads");
    nablaError(() => checkGrads(nb.sin, [{ a: "x" }] as never), "checkGrads");
    nablaError(() => checkGrads((_x: NDArray) => "not an array" as never, [X]), "checkGrads");
    nablaError(() => checkGrads((_x: NDArray) => undefined as never, [X]), "checkGrads");
    // errors of the operations f calls keep their own names
    const inF = nablaError(() => checkGrads((x: NDArray) => nb.add(x, nb.ones([5])), [X]), "add");
    expect(inF).toBeInstanceOf(nb.ShapeError);
  });

  it("numericalJvp checks its arguments and names itself", () => {
    const x: [NDArray] = [nb.ones([2])];
    const sin = (v: NDArray) => nb.sin(v);
    const e = nablaError(() => numericalJvp(sin, x, x, "1" as never), "numericalJvp");
    expect(e.message).toMatch(/^numericalJvp: eps must be a finite number > 0, got the string "1"/);
    for (const eps of [0, -1e-3, NaN, Infinity]) nablaError(() => numericalJvp(sin, x, x, eps), "numericalJvp");
    nablaError(() => numericalJvp(sin, nb.ones([2]) as never, nb.ones([2]) as never), "numericalJvp");
    nablaError(() => numericalJvp(sin, x, nb.ones([2]) as never), "numericalJvp");
    nablaError(() => numericalJvp(3 as never, x, x), "numericalJvp");
    nablaError(() => numericalJvp(sin, [{ a: "x" }] as never, [{ a: "x" }] as never), "numericalJvp");
    nablaError(() => numericalJvp(((_x: NDArray) => "y") as never, x, x), "numericalJvp");
    // and the valid call still works: d sin(0)[1] = 1 up to the central-difference error
    const [d] = numericalJvp((v: NDArray) => [nb.sin(v)], [nb.array(0)], [nb.array(1)], 1e-4);
    expect(Math.abs(d!.item() - 1)).toBeLessThan(1e-8);
  });

  it("arbShape: an empty range, unknown keys and bad values throw NablaError when the arbitrary is built", () => {
    const e = nablaError(() => arbShape({ minRank: 3, maxRank: 1 }), "arbShape");
    expect(e.message).toContain("minRank 3 > maxRank 1");
    expect(nablaError(() => arbShape({ maxDim: 0 }), "arbShape").message).toContain(
      "minDim 1 (the default) > maxDim 0",
    );
    nablaError(() => arbShape({ maxrank: 2 } as never), "arbShape");
    nablaError(() => arbShape({ maxRank: "2" } as never), "arbShape");
    nablaError(() => arbShape({ minDim: -1 }), "arbShape");
    nablaError(() => arbShape({ maxRank: 1.5 }), "arbShape");
    nablaError(() => arbShape(3 as never), "arbShape");
    // zero-length axes are allowed
    fc.assert(
      fc.property(arbShape({ minDim: 0, maxDim: 0, minRank: 1 }), (s) => s.every((d) => d === 0)),
      opts,
    );
  });

  it("arbArray: an unknown domain lists the valid ones; bad keys, bounds, dtypes and shapes throw", () => {
    const e = nablaError(() => arbArray({ domain: "positve" as Domain }), "arbArray");
    for (const d of ["bounded", "any", "positive", "unit", "nonzero", "integer", "half", "distinct"])
      expect(e.message).toContain(`"${d}"`);
    nablaError(() => arbArray({ min: 3, max: 1 }), "arbArray");
    nablaError(() => arbArray({ domain: "positive", min: -1 }), "arbArray");
    nablaError(() => arbArray({ domain: "integer", min: 0.2, max: 0.8 }), "arbArray");
    nablaError(() => arbArray({ domain: "half", min: 0.1, max: 0.4 }), "arbArray");
    nablaError(() => arbArray({ min: NaN }), "arbArray");
    nablaError(() => arbArray({ max: "3" } as never), "arbArray");
    nablaError(() => arbArray({ dtype: "f64" as never }), "arbArray");
    nablaError(() => arbArray({ dtpye: "float32" } as never), "arbArray");
    nablaError(() => arbArray({ shape: [2, -1] }), "arbArray");
    nablaError(() => arbArray({ shape: "x" as never }), "arbArray");
    expect(nablaError(() => arbArray({ shape: { minRank: 3, maxRank: 1 } }), "arbArray").message).toContain(
      "shape.minRank 3 > shape.maxRank 1",
    );
    nablaError(() => arbArray({ shape: { maxrank: 1 } as never }), "arbArray");
    nablaError(() => arbArray({ dtype: "int32", min: 0, max: 2 ** 32 }), "arbArray");
  });

  it("arbBroadcastShapes, arbBroadcastPair, arbSpdMatrix and arbProgram check their options", () => {
    nablaError(() => arbBroadcastShapes(-1), "arbBroadcastShapes");
    nablaError(() => arbBroadcastShapes(2, { maxrank: 2 } as never), "arbBroadcastShapes");
    nablaError(() => arbBroadcastShapes(2, { maxDim: 0 }), "arbBroadcastShapes");
    nablaError(() => arbBroadcastPair({ maxRank: -1 }), "arbBroadcastPair");
    nablaError(() => arbBroadcastPair({ maxdim: 2 } as never), "arbBroadcastPair");
    // the arrays' options are checked at once, and a `shape` among them (which the pair decides) is refused
    nablaError(() => arbBroadcastPair({ arrays: [{}, { domain: "x" as Domain }] }), "arbBroadcastPair");
    nablaError(() => arbBroadcastPair({ arrays: { shape: [2] } as never }), "arbBroadcastPair");
    nablaError(() => arbBroadcastPair({ arrays: [{}] as never }), "arbBroadcastPair");
    nablaError(() => arbBroadcastPair({ arrays: { min: 2, max: 1 } }), "arbBroadcastPair");
    expect(nablaError(() => arbSpdMatrix({ minN: 3, maxN: 1 }), "arbSpdMatrix").message).toContain("minN 3 > maxN 1");
    nablaError(() => arbSpdMatrix(1.5), "arbSpdMatrix");
    nablaError(() => arbSpdMatrix({ size: 3 } as never), "arbSpdMatrix");
    nablaError(() => arbSpdMatrix({ dtype: "int32" as never }), "arbSpdMatrix");
    nablaError(() => arbSpdMatrix({ n: 2, maxN: 3 }), "arbSpdMatrix");
    nablaError(() => arbProgram({ maxdepth: 2 } as never), "arbProgram");
    nablaError(() => arbProgram({ maxDim: 0 }), "arbProgram");
    nablaError(() => arbProgram({ maxDepth: -1 }), "arbProgram");
    nablaError(() => arbProgram({ inputBound: NaN }), "arbProgram");
  });
});

describe("checkGrads sees higher derivatives at x = 0 and where f(x) = 0", () => {
  // value sin x, first derivative cos x (right), but its derivative is −sin x + 1 (x − stopGradient(x)
  // adds 1 to the second derivative and nothing to the value or first derivative)
  const sg = nb.stopGradient;
  const f = nb.customJvp(
    (x: nb.NDArray) => nb.sin(x),
    ([x], [dx]) => [nb.sin(x!), nb.mul(dx!, nb.add(nb.cos(x!), nb.sub(x!, sg(x!))))],
  );
  it("the wrong second derivative is real (AD gives 1 at 0, the closed form −sin 0 = 0)", () => {
    const h = nb.grad((x: nb.NDArray) => nb.sum(nb.grad((y: nb.NDArray) => nb.sum(f(y)))(x)));
    expect(h(nb.array([0])).toArray()).toEqual([1]);
  });
  it("order 1 passes (the first derivative is right); orders 2 and 3 throw at x = 0, in each mode", () => {
    const x = [nb.array([0])] as const;
    const fx = (v: nb.NDArray): nb.NDArray => f(v);
    checkGrads(fx, x, { order: 1 });
    for (const modes of [["fwd"], ["rev"]] as const)
      for (const order of [2, 3]) expect(() => checkGrads(fx, x, { order, modes: [...modes] })).toThrow(GradCheckError);
  });
});

describe("checkGrads at large inputs: central-difference steps fitted to the grid", () => {
  // x − 1e8 at 1e8 + 0.5: the derivative is exactly 1, and p ± εt rounded to p's grid (ulp 1.5e-8 against a
  // step of 1e-5) made the quotient off by 0.2% (a false alarm); sin at 1e6 and 1e8 likewise
  it("correct functions pass at 1e8 (float64) and 1e4 (float32)", () => {
    checkGrads((x: nb.NDArray) => nb.sub(x, 1e8), [nb.array([1e8 + 0.5, -1e8])]);
    checkGrads((x: nb.NDArray) => nb.sin(x), [nb.array([1e6, 1e8])]);
    checkGrads((x: nb.NDArray) => nb.sub(x, 1e4), [nb.array([1e4 + 0.5], { dtype: "float32" })]);
  });
  it("and a derivative wrong by 1e-3 there is still caught", () => {
    const wrong = nb.customJvp(
      (x: nb.NDArray) => nb.sub(x, 1e8),
      ([x], [dx]) => [nb.sub(x!, 1e8), nb.mul(dx!, 1.001)],
    );
    expect(() => checkGrads((x: nb.NDArray) => wrong(x), [nb.array([1e8 + 0.5])], { order: 1 })).toThrow(
      GradCheckError,
    );
  });
});
