/**
 * The Taylor rules of det, cofactor, slogdet, expm and expm_frechet
 * (src/transforms/jetRulesMatrix.ts) against closed forms computed in plain
 * JS (the Laplace expansion of a matrix of polynomials, the log series of a
 * polynomial, the truncated power series of exp of a matrix series) and
 * against nested `jvp` (the primitives' JVP rules and the chain rule), at
 * order 8 where nested jvp is affordable; with batch dimensions, under `jit`
 * and `vmap`, at singular matrices, and differentiated.
 *
 * NABLA_JET_SLOW=1 also runs expm and expm_frechet against nested jvp at
 * order 8: their JVP rules double the matrix size per order (expm_frechet of
 * a 2n block matrix), so that reference costs O(2^K) evaluations of matrices
 * of size 2^K n (measured: 200 s for this file's three order-8 cases).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { apply } from "./properties/primitiveSpecs.js";
import type { Prim, Params } from "./support/primitives.js";
import { seeded } from "./support/rng.js";
import { fact, nestedAll } from "./support/jet.js";

type A = nb.NDArray;
type M = number[][];
const SLOW = process.env.NABLA_JET_SLOW === "1";
const K = 8;
const vals = (x: A): number[] => Array.from(x.toTypedArray(), Number);

/** |got - want| ≤ tol · (1 + max|want|) elementwise. */
function expectNear(got: A, want: A | number[], tol: number, what: string): void {
  const g = vals(got);
  const w = Array.isArray(want) ? want : vals(want);
  expect(g.length, what).toBe(w.length);
  const scale = 1 + Math.max(0, ...w.map(Math.abs));
  g.forEach((v, i) => {
    if (!(Math.abs(v - w[i]!) <= tol * scale)) expect.fail(`${what}, element ${i}: got ${v}, expected ${w[i]}`);
  });
}

// ---------------------------------------------------------------------------
// references in plain JS (normalised coefficients c_0..c_K; derivative terms are k! c_k)

type Poly = number[];
const zeroP = (): Poly => Array<number>(K + 1).fill(0);
function pmul(a: Poly, b: Poly): Poly {
  const out = zeroP();
  for (let i = 0; i <= K; i++) for (let j = 0; i + j <= K; j++) out[i + j]! += a[i]! * b[j]!;
  return out;
}
const padd = (a: Poly, b: Poly, s = 1): Poly => a.map((v, i) => v + s * b[i]!);
const minorOf = <X>(m: X[][], r: number, c: number): X[][] =>
  m.filter((_, i) => i !== r).map((row) => row.filter((_, j) => j !== c));

/** det of a matrix of polynomials by Laplace expansion along the first row (truncated after t^K). */
function detP(m: Poly[][]): Poly {
  if (m.length === 0) return [1, ...Array<number>(K).fill(0)];
  let acc = zeroP();
  m[0]!.forEach((p, j) => (acc = padd(acc, pmul(p, detP(minorOf(m, 0, j))), j % 2 === 0 ? 1 : -1)));
  return acc;
}

/** The cofactor matrix of a matrix of polynomials: (-1)^(i+j) det(minor ij). */
const cofP = (m: Poly[][]): Poly[][] =>
  m.map((row, i) => row.map((_, j) => detP(minorOf(m, i, j)).map((v) => ((i + j) % 2 === 0 ? v : -v))));

/** log|p(t)|: k p_0 q_k = k p_k - Σ_{j=1..k-1} j q_j p_{k-j}. */
function logP(p: Poly): Poly {
  const q = [Math.log(Math.abs(p[0]!))];
  for (let k = 1; k <= K; k++) {
    let s = k * p[k]!;
    for (let j = 1; j < k; j++) s -= j * q[j]! * p[k - j]!;
    q.push(s / (k * p[0]!));
  }
  return q;
}

/** The matrix of polynomials of A(t) = A0 + Σ_k d_k t^k / k! (d_k derivative terms). */
const polyMatrix = (a0: M, ds: M[]): Poly[][] =>
  a0.map((row, i) => row.map((v, j) => [v, ...ds.map((d, k) => d[i]![j]! / fact(k + 1))]));

const matmulM = (x: M, y: M): M => x.map((r) => y[0]!.map((_, j) => r.reduce((s, v, l) => s + v * y[l]![j]!, 0)));
const addM = (x: M, y: M, s = 1): M => x.map((r, i) => r.map((v, j) => v + s * y[i]![j]!));
const zerosM = (n: number): M => Array.from({ length: n }, () => Array<number>(n).fill(0));
const eyeM = (n: number): M =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));

/**
 * Coefficients 0..K of exp(X(t)) for a matrix series X (coefficients 0..K): Σ_m X(t)^m / m!, each
 * power a Cauchy product of matrix series truncated after t^K, until the term is below 1e-18 of the
 * sum (the terms' norms fall like ‖X‖^m / m!; ‖X_0‖ ≤ 3 here, so no scaling is needed).
 */
function expSeries(X: M[]): M[] {
  const n = X[0]!.length;
  let term: M[] = [eyeM(n), ...Array.from({ length: K }, () => zerosM(n))];
  let sum = term.map((t) => t.map((r) => r.slice()));
  for (let m = 1; m < 200; m++) {
    const next = Array.from({ length: K + 1 }, () => zerosM(n));
    for (let i = 0; i <= K; i++)
      for (let j = 0; i + j <= K; j++) next[i + j] = addM(next[i + j]!, matmulM(term[i]!, X[j]!), 1 / m);
    term = next;
    sum = sum.map((s, k) => addM(s, term[k]!));
    const big = Math.max(...term.flat(2).map(Math.abs));
    if (big < 1e-18 * Math.max(1, ...sum.flat(2).map(Math.abs))) break;
  }
  return sum;
}

/** Series coefficients of A0 + Σ d_k t^k / k! as matrices [X_0, ..., X_K]. */
const seriesOf = (a0: M, ds: M[]): M[] => [a0, ...ds.map((d, k) => d.map((r) => r.map((v) => v / fact(k + 1))))];

/** Random derivative terms (uniform in (-0.5, 0.5)) for an n×n matrix. */
const randTerms = (r: ReturnType<typeof seeded>, n: number, order = K): M[] =>
  Array.from({ length: order }, () => Array.from({ length: n }, () => Array.from({ length: n }, () => r(-0.5, 0.5))));

const jetOf =
  (prim: Prim, out: number, params: object = {}) =>
  (a0: A, ds: A[], rest: A[] = []) =>
    nb.jet((x: A) => apply(prim, [x, ...rest], params as never)[out]!, [a0], [ds])[1];

// ---------------------------------------------------------------------------
// nested jvp

/**
 * jet of prim in the operands `wrt` (the others constant) against nested jvp to `order`. Tolerance:
 * float64 evaluations of the same polynomial in the input terms by the Taylor recurrences and by 2^K
 * chain-rule expansions; 1e-9 of each order's magnitude (1 + max |reference|), as for the other rules
 * (observed ≤ 1e-13 on these cases).
 */
function againstNested<P extends Prim>(prim: P, args: A[], params: Params[P], wrt: number[], seed: number, order = K) {
  const r = seeded(seed);
  const g = (xs: A[]): A[] => {
    const a = args.slice();
    wrt.forEach((k, i) => (a[k] = xs[i]!));
    return apply(prim, a, params);
  };
  const xs = wrt.map((k) => args[k]!);
  const ds = xs.map((x) =>
    Array.from({ length: order }, () =>
      nb.reshape(nb.array(Array.from({ length: x.size }, () => r(-0.5, 0.5))), x.shape),
    ),
  );
  const [ys, ss] = nb.jet((...v: A[]) => g(v), xs, ds);
  const ref = nestedAll(g, xs, ds, order);
  ys.forEach((y, o) => {
    if (y.dtype !== "float64") return;
    for (let k = 0; k < order; k++)
      expectNear(ss[o]![k]!, ref[k]![o]!, 1e-9, `${prim} wrt ${wrt}: output ${o}, order ${k + 1}`);
  });
}

// ---------------------------------------------------------------------------
// matrices

/** Deterministic test matrices: nonsingular, rank n - 1 in two patterns, rounded singular. */
function matrices(): [string, M][] {
  const r = seeded(91);
  const rand = (n: number): M => Array.from({ length: n }, () => Array.from({ length: n }, () => r(-2, 2)));
  const out: [string, M][] = [
    ["1×1", [[0.7]]],
    ["1×1 zero", [[0]]],
    ["2×2 zero (rank 0)", zerosM(2)],
    [
      "2×2 rank 1",
      [
        [1, 2],
        [2, 4],
      ],
    ],
    // the counterexample of the reverted rule: the second row 1.12037·(the first), rounded, so the computed
    // determinant is ~1e-16 instead of 0; the A⁻¹ route gave 0.0625 for a second derivative of 0.0669
    [
      "2×2 rounded singular",
      [
        [-2, 0.9464128687977791],
        [-2.240740679204464, 1.0603329072188903],
      ],
    ],
  ];
  for (const n of [2, 3, 4]) {
    out.push([`${n}×${n} random`, rand(n)]);
    const rows = rand(n);
    rows[n - 1] = rows[0]!.map((v) => 1.37 * v);
    out.push([`${n}×${n} rank ${n - 1} (dependent rows)`, rows]);
    const cols = rand(n);
    for (const row of cols) row[1] = -0.7 * row[0]!;
    out.push([`${n}×${n} rank ${n - 1} (dependent leading columns)`, cols]);
  }
  out.push(["3×3 identity", eyeM(3)]);
  return out;
}

describe("det and cofactor", () => {
  it("closed form: det and cofactor of A(t) by Laplace expansion on polynomials, order 8, singular or not", () => {
    const r = seeded(92);
    for (const [name, a0] of matrices()) {
      const n = a0.length;
      const dsM = randTerms(r, n);
      const ds = dsM.map((d) => nb.array(d));
      const P = polyMatrix(a0, dsM);
      const det = detP(P);
      const cof = cofP(P);
      const sd = jetOf("det", 0)(nb.array(a0), ds);
      const sc = jetOf("cofactor", 0)(nb.array(a0), ds);
      for (let k = 1; k <= K; k++) {
        // float64: coefficients of products of ≤ 4 polynomials with entries ≤ 2 (terms ≤ 0.5 / k!), through
        // a bordered matrix of condition ≤ 4.5 s_1/s_{n-1} (≤ 60 for these matrices): 1e-12 of the
        // order's magnitude (observed ≤ 4e-14)
        expectNear(sd[k - 1]!, [fact(k) * det[k]!], 1e-12, `det ${name}, order ${k}`);
        expectNear(
          sc[k - 1]!,
          cof.flat().map((p) => fact(k) * p[k]!),
          1e-12,
          `cofactor ${name}, order ${k}`,
        );
      }
    }
  });

  it("det(A + tB) has derivative terms k! c_k, exactly zero above n, and cofactor(I + tB) = adj(I + tB)ᵀ", () => {
    const r = seeded(93);
    for (const n of [2, 3, 4]) {
      const a0 = randTerms(r, n, 1)[0]!.map((row) => row.map((v) => 4 * v));
      a0[n - 1] = a0[0]!.map((v) => -v); // singular
      const b = randTerms(r, n, 1)[0]!;
      const ds = [nb.array(b), ...Array.from({ length: K - 1 }, () => nb.zeros([n, n]))];
      const want = detP(polyMatrix(a0, [b, ...Array.from({ length: K - 1 }, () => zerosM(n))]));
      const s = jetOf("det", 0)(nb.array(a0), ds);
      // float64, 1e-12 as above; above order n the closed form is 0 and the rule's value a cancellation,
      // multiplied by k! as a derivative term (observed ≤ 7e-14)
      s.forEach((c, i) => expectNear(c, [i < n ? fact(i + 1) * want[i + 1]! : 0], 1e-12, `n = ${n}, order ${i + 1}`));
    }
    // adj(I + tB) = det(I + tB) (I + tB)⁻¹ = (Σ_i e_i t^i)(Σ_j (-t)^j B^j) for 3×3 B, a polynomial of degree 2
    // (Cayley–Hamilton): t¹: e1 I - B, t²: e2 I - e1 B + B², with e_k B's elementary symmetric polynomials
    // (from its traces by Newton's identities); the cofactor matrix is its transpose
    const bn = randTerms(r, 3, 1)[0]!;
    const tr = (x: M) => x[0]![0]! + x[1]![1]! + x[2]![2]!;
    const b2 = matmulM(bn, bn);
    const e1 = tr(bn);
    const e2 = (e1 * e1 - tr(b2)) / 2;
    const T = (x: M): M => x[0]!.map((_, j) => x.map((row) => row[j]!));
    const want1 = T(
      addM(
        eyeM(3).map((row) => row.map((v) => e1 * v)),
        bn,
        -1,
      ),
    ).flat();
    const want2 = T(addM(addM(b2, bn, -e1), eyeM(3), e2))
      .flat()
      .map((v) => 2 * v);
    const sc = jetOf("cofactor", 0)(nb.eye(3), [
      nb.array(bn),
      ...Array.from({ length: K - 1 }, () => nb.zeros([3, 3])),
    ]);
    // float64 derivative terms of entries ≤ 2 (order 2 doubled): 1e-12 of the order's magnitude
    expectNear(sc[0]!, want1, 1e-12, "cofactor(I + tB), order 1");
    expectNear(sc[1]!, want2, 1e-12, "cofactor(I + tB), order 2");
    for (let k = 2; k < K; k++) expectNear(sc[k]!, Array<number>(9).fill(0), 1e-12, `cofactor(I + tB), order ${k + 1}`);
  });

  it("a concrete matrix of rank n - 2 or close to it keeps nested jvp, exact there", () => {
    const r = seeded(94);
    const rank1: M = [
      [1, 2, -1],
      [2, 4, -2],
      [-0.5, -1, 0.5],
    ];
    // singular values 2, 2e-3, 0: the bordered series would lose ~8 digits at order 8 (see tooIllConditioned)
    const q1 = nb.linalg.qr(nb.array(randTerms(r, 3, 1)[0]!))[0];
    const q2 = nb.linalg.qr(nb.array(randTerms(r, 3, 1)[0]!))[0];
    const near = nb.matmul(
      nb.matmul(
        q1,
        nb.array([
          [2, 0, 0],
          [0, 2e-3, 0],
          [0, 0, 0],
        ]),
      ),
      nb.transpose(q2),
    );
    for (const [name, a0] of [
      ["zero 3×3", zerosM(3)],
      ["rank 1 3×3", rank1],
      [
        "singular values 2, 2e-3, 0",
        vals(near).reduce<M>((m, v, i) => (i % 3 === 0 ? [...m, [v]] : (m[m.length - 1]!.push(v), m)), []),
      ],
    ] as [string, M][]) {
      const dsM = randTerms(r, 3, 5);
      const P = polyMatrix(a0, dsM);
      const det = detP(P);
      const cof = cofP(P);
      const ds = dsM.map((d) => nb.array(d));
      const sd = jetOf("det", 0)(nb.array(a0), ds);
      const sc = jetOf("cofactor", 0)(nb.array(a0), ds);
      for (let k = 1; k <= 5; k++) {
        // float64, the nested-jvp minors route: 1e-12 of the order's magnitude (observed ≤ 1e-15)
        expectNear(sd[k - 1]!, [fact(k) * det[k]!], 1e-12, `det ${name}, order ${k}`);
        expectNear(
          sc[k - 1]!,
          cof.flat().map((p) => fact(k) * p[k]!),
          1e-12,
          `cofactor ${name}, order ${k}`,
        );
      }
    }
  });

  it("against nested jvp to order 8, batched, singular and not", () => {
    const r = seeded(95);
    const m3 = randTerms(r, 3, 2).map((m) => m.map((row) => row.map((v) => 4 * v)));
    m3[1]![2] = m3[1]![0]!.map((v) => -1.5 * v);
    const batch3 = nb.array(m3);
    againstNested("det", [batch3], {}, [0], 96);
    againstNested("cofactor", [batch3], {}, [0], 97);
    const batch2 = nb.array([
      [
        [1, 2],
        [2, 4],
      ],
      [
        [0.3, -1],
        [0.8, 1.2],
      ],
    ]);
    againstNested("det", [batch2], {}, [0], 98);
    againstNested("cofactor", [batch2], {}, [0], 99);
  });

  it("under jit (a traced singular matrix: the bordered series, no fallback) and vmap", () => {
    const r = seeded(100);
    const a0 = randTerms(r, 3, 1)[0]!.map((row) => row.map((v) => 4 * v));
    a0[2] = a0[0]!.map((v) => 0.6 * v);
    const dsM = randTerms(r, 3);
    const P = polyMatrix(a0, dsM);
    const det = detP(P);
    const cof = cofP(P);
    const ds = dsM.map((d) => nb.array(d));
    const jd = nb.jit((a: A, d: A[]) => jetOf("det", 0)(a, d))(nb.array(a0), ds);
    const jc = nb.jit((a: A, d: A[]) => jetOf("cofactor", 0)(a, d))(nb.array(a0), ds);
    // vmap over a batch of two matrices (the singular one and its transpose plus the identity), one series
    const other = addM(
      a0[0]!.map((_, j) => a0.map((row) => row[j]!)),
      eyeM(3),
    );
    const Po = polyMatrix(other, dsM);
    const vd = nb.vmap((a: A) => nb.stack(jetOf("det", 0)(a, ds)))(nb.array([a0, other]));
    const vc = nb.vmap((a: A) => nb.stack(jetOf("cofactor", 0)(a, ds)))(nb.array([a0, other]));
    const detO = detP(Po);
    const cofO = cofP(Po);
    for (let k = 1; k <= K; k++) {
      // float64, the same recurrences staged or batched: 1e-12 as for the eager closed-form test
      expectNear(jd[k - 1]!, [fact(k) * det[k]!], 1e-12, `jit det, order ${k}`);
      expectNear(
        jc[k - 1]!,
        cof.flat().map((p) => fact(k) * p[k]!),
        1e-12,
        `jit cofactor, order ${k}`,
      );
      const pick = (x: A, b: number) => nb.slice(x, [b, k - 1], [b + 1, k]);
      expectNear(pick(vd, 0), [fact(k) * det[k]!], 1e-12, `vmap det 0, order ${k}`);
      expectNear(pick(vd, 1), [fact(k) * detO[k]!], 1e-12, `vmap det 1, order ${k}`);
      expectNear(
        pick(vc, 0),
        cof.flat().map((p) => fact(k) * p[k]!),
        1e-12,
        `vmap cofactor 0, order ${k}`,
      );
      expectNear(
        pick(vc, 1),
        cofO.flat().map((p) => fact(k) * p[k]!),
        1e-12,
        `vmap cofactor 1, order ${k}`,
      );
    }
  });

  it("differentiated: d/ds of det's coefficient k at A_0 + sC is [t^k] ⟨cofactor A(t), C⟩ (singular A_0)", () => {
    const r = seeded(101);
    const a0 = randTerms(r, 3, 1)[0]!.map((row) => row.map((v) => 4 * v));
    a0[2] = a0[1]!.map((v) => -2 * v);
    const c = randTerms(r, 3, 1)[0]!;
    const dsM = randTerms(r, 3);
    const ds = dsM.map((d) => nb.array(d));
    const cof = cofP(polyMatrix(a0, dsM));
    const [, tan] = nb.jvp((a: A) => nb.stack(jetOf("det", 0)(a, ds)), [nb.array(a0)], [nb.array(c)]);
    for (let k = 1; k <= K; k++) {
      const want = fact(k) * cof.reduce((s, row, i) => s + row.reduce((t, p, j) => t + p[k]! * c[i]![j]!, 0), 0);
      // float64, the JVP of the recurrences (the border's derivative is stopped: the series do not depend
      // on it): 1e-11 of the order's magnitude (observed ≤ 2e-14)
      expectNear(nb.slice(tan, [k - 1], [k]), [want], 1e-11, `order ${k}`);
    }
  });

  it("are the O(K²) series rules, not nested jvp: the staged order-8 series is small", () => {
    const x = nb.add(nb.mul(nb.eye(5), 3), nb.reshape(nb.mul(nb.sin(nb.arange(25)), 0.5), [5, 5]));
    const count = (prim: Prim): number =>
      nb.makeGraph((a: A) => {
        const ds = Array.from({ length: 8 }, (_, j) => nb.mul(a, 1 / (j + 1)));
        return nb.jet((v: A) => apply(prim, [v], {})[0]!, [a], [ds])[1][7]!;
      })(x).equations.length;
    // measured on this 5×5 matrix: det 358, cofactor 548 equations (K + 1 solves of the bordered matrix,
    // O(K²) products); with nested jvp in their place 4694 and 3696 (and 50 to 200 times the staging time)
    expect(count("det")).toBeLessThan(700);
    expect(count("cofactor")).toBeLessThan(700);
  });
});

describe("slogdet", () => {
  it("closed form: log|det A(t)| as the log series of the Laplace-expanded determinant, order 8", () => {
    const r = seeded(110);
    const a3: M = [
      [3, 0.5, -0.4],
      [0.2, -2.5, 0.3],
      [-0.6, 0.1, 4],
    ];
    for (const [name, a0] of [
      ["3×3", a3],
      [
        "diagonal with a negative entry",
        [
          [2, 0, 0],
          [0, -0.5, 0],
          [0, 0, 1.5],
        ],
      ],
      ["1×1", [[-0.8]]],
    ] as [string, M][]) {
      const dsM = randTerms(r, a0.length).map((d) => d.map((row) => row.map((v) => 0.5 * v)));
      const want = logP(detP(polyMatrix(a0, dsM)));
      const [sg, s] = nb.jet((x: A) => apply("slogdet", [x], {}), [nb.array(a0)], [dsM.map((d) => nb.array(d))]);
      expect(vals(sg[0]!)).toEqual([Math.sign(detP(polyMatrix(a0, dsM))[0]!)]);
      s[0]!.forEach((c) => expect(vals(c)).toEqual([0]));
      // float64; log|det|'s coefficient k is of size (‖ΔA‖ ‖A⁻¹‖)^k ≤ 1 here (singular values ≥ 0.5, terms
      // ≤ 0.25 / k!): 1e-12 of the order's magnitude (observed ≤ 1e-15)
      s[1]!.forEach((c, i) => expectNear(c, [fact(i + 1) * want[i + 1]!], 1e-12, `${name}, order ${i + 1}`));
    }
  });

  it("of (1 + t) A: log|det| = log|det A| + 3 log(1 + t); against nested jvp to order 8, batched; jit; vmap", () => {
    const a3 = nb.array([
      [3, 0.5, -0.4],
      [0.2, 2.5, 0.3],
      [-0.6, 0.1, 4],
    ]);
    const [, s] = nb.jet(
      (a: A) => apply("slogdet", [a], {})[1]!,
      [nb.neg(a3)],
      [[nb.neg(a3), ...Array.from({ length: K - 1 }, () => nb.zerosLike(a3))]],
    );
    // d^k 3 log(1 + t) = 3 (-1)^(k-1) (k-1)!; float64, 1e-12 relative
    s.forEach((c, i) => expectNear(c, [3 * (-1) ** i * fact(i)], 1e-12, `order ${i + 1}`));
    const b3 = nb.array([
      [0.4, -1, 0.3],
      [0.7, 0.2, -0.5],
      [-0.2, 0.9, 0.1],
    ]);
    againstNested("slogdet", [nb.stack([nb.neg(a3), nb.add(a3, b3)])], {}, [0], 111);
    const ds = [b3, nb.transpose(b3), ...Array.from({ length: K - 2 }, () => nb.zerosLike(b3))];
    const eager = jetOf("slogdet", 1)(a3, ds);
    const jitted = nb.jit((a: A, d: A[]) => jetOf("slogdet", 1)(a, d))(a3, ds);
    const mapped = nb.vmap((a: A) => nb.stack(jetOf("slogdet", 1)(a, ds)))(nb.stack([a3, nb.add(a3, b3)]));
    const second = jetOf("slogdet", 1)(nb.add(a3, b3), ds);
    // the same operations staged or batched: 1e-13 of the order's magnitude
    eager.forEach((c, i) => {
      expectNear(jitted[i]!, c, 1e-13, `jit, order ${i + 1}`);
      expectNear(nb.slice(mapped, [0, i], [1, i + 1]), c, 1e-13, `vmap 0, order ${i + 1}`);
      expectNear(nb.slice(mapped, [1, i], [2, i + 1]), second[i]!, 1e-13, `vmap 1, order ${i + 1}`);
    });
  });
});

describe("expm and expm_frechet", () => {
  const a2 = nb.array([
    [0.3, -0.2],
    [0.1, 0.4],
  ]);
  const e2 = nb.array([
    [1, 0.5],
    [-0.3, 0.2],
  ]);
  const toM = (x: A): M => {
    const n = x.shape[0]!;
    const v = vals(x);
    return Array.from({ length: n }, (_, i) => v.slice(i * n, (i + 1) * n));
  };
  /** Derivative terms 1..K of L(A(t), E(t)) as the top-right block of exp([[A, E], [0, A]]) (plain JS). */
  const frechetRef = (As: M[], Es: M[]): M[] => {
    const n = As[0]!.length;
    const big = As.map((a, k) =>
      Array.from({ length: 2 * n }, (_, i) =>
        Array.from({ length: 2 * n }, (_, j) =>
          i < n ? (j < n ? a[i]![j]! : Es[k]![i]![j - n]!) : j < n ? 0 : a[i - n]![j - n]!,
        ),
      ),
    );
    return expSeries(big)
      .slice(1)
      .map((m, k) => m.slice(0, n).map((row) => row.slice(n).map((v) => fact(k + 1) * v)));
  };

  it("closed forms: expm(tA) = Σ tᵏAᵏ/k!, expm(A + tI) = eᵗ expm(A), and any series by exp's power series", () => {
    const b3 = nb.array([
      [0.4, -1, 0.3],
      [0.7, 0.2, -0.5],
      [-0.2, 0.9, 0.1],
    ]);
    const id3 = nb.eye(3);
    const s = jetOf("expm", 0)(nb.zerosLike(b3), [b3, ...Array.from({ length: K - 1 }, () => nb.zerosLike(b3))]);
    let p = id3;
    s.forEach((c, i) => {
      p = nb.matmul(p, b3);
      // float64 scaling-and-squaring of the 27×27 block matrix: 1e-12 of the order's magnitude
      expectNear(c, p, 1e-12, `expm(tB), order ${i + 1}`);
    });
    const eA = expSeries([toM(b3), ...Array.from({ length: K }, () => zerosM(3))])[0]!.flat();
    const s2 = jetOf("expm", 0)(b3, [id3, ...Array.from({ length: K - 1 }, () => nb.zerosLike(b3))]);
    // every derivative term of e^t expm(B) at 0 is expm(B); float64, 1e-12
    s2.forEach((c, i) => expectNear(c, eA, 1e-12, `expm(B + tI), order ${i + 1}`));
    // a general series, norms ≈ 3 (the block matrix takes squarings), one batch of two
    const r = seeded(120);
    const a0s = [randTerms(r, 3, 1)[0]!.map((row) => row.map((v) => 5 * v)), toM(b3)];
    const dsM = randTerms(r, 3);
    const ds = dsM.map((d) => nb.array([d, d]));
    const s3 = jetOf("expm", 0)(nb.array(a0s), ds);
    a0s.forEach((a0, b) => {
      const want = expSeries(seriesOf(a0, dsM));
      // float64, ‖X‖ ≤ 3: exp's terms up to e^3 ≈ 20 on both sides: 1e-12 of the order's magnitude
      for (let k = 1; k <= K; k++)
        expectNear(
          nb.slice(s3[k - 1]!, [b, 0, 0], [b + 1, 3, 3]),
          want[k]!.flat().map((v) => fact(k) * v),
          1e-12,
          `series ${b}, order ${k}`,
        );
    });
  });

  it("expm_frechet: L(A + tI, E + tF) = eᵗ (L(A, E) + t L(A, F)), any series by exp's power series; constant A", () => {
    const f2 = nb.array([
      [0.2, -0.7],
      [0.4, 0.1],
    ]);
    const zeros = Array.from({ length: K - 1 }, () => nb.zerosLike(a2));
    const [, s] = nb.jet(
      (a: A, e: A) => apply("expm_frechet", [a, e], {})[0]!,
      [a2, e2],
      [
        [nb.eye(2), ...zeros],
        [f2, ...zeros],
      ],
    );
    // L(A, E) as order 1 of L(A, tE) = t L(A, E), by the same plain-JS reference
    const lin = (e: A) =>
      frechetRef(
        [toM(a2), ...Array.from({ length: K }, () => zerosM(2))],
        [zerosM(2), toM(e), ...Array.from({ length: K - 1 }, () => zerosM(2))],
      )[0]!;
    const LE = lin(e2).flat();
    const LF = lin(f2).flat();
    // d^k/dt^k e^t (L_E + t L_F) at 0 = L_E + k L_F; float64, 1e-12 of the order's magnitude
    s.forEach((c, i) =>
      expectNear(
        c,
        LE.map((v, j) => v + (i + 1) * LF[j]!),
        1e-12,
        `order ${i + 1}`,
      ),
    );
    const r = seeded(121);
    const aM = randTerms(r, 2, 1)[0]!.map((row) => row.map((v) => 4 * v));
    const eM = randTerms(r, 2, 1)[0]!;
    const dA = randTerms(r, 2);
    const dE = randTerms(r, 2);
    const want = frechetRef(seriesOf(aM, dA), seriesOf(eM, dE));
    const [, s2] = nb.jet(
      (a: A, e: A) => apply("expm_frechet", [a, e], {})[0]!,
      [nb.array(aM), nb.array(eM)],
      [dA.map((d) => nb.array(d)), dE.map((d) => nb.array(d))],
    );
    // float64, ‖[[A, E], [0, A]]‖ ≤ 2.5: 1e-12 of the order's magnitude
    s2.forEach((c, i) => expectNear(c, want[i]!.flat(), 1e-12, `series, order ${i + 1}`));
    // constant A: the rule maps E's coefficients (linear in E)
    const [, s3] = nb.jet(
      (e: A) => apply("expm_frechet", [nb.array(aM), e], {})[0]!,
      [nb.array(eM)],
      [dE.map((d) => nb.array(d))],
    );
    const want3 = frechetRef(
      seriesOf(
        aM,
        dA.map(() => zerosM(2)),
      ),
      seriesOf(eM, dE),
    );
    s3.forEach((c, i) => expectNear(c, want3[i]!.flat(), 1e-12, `constant A, order ${i + 1}`));
  });

  it(
    "against nested jvp (order 6 and 5; order 8 with NABLA_JET_SLOW=1), batched",
    () => {
      const batch = nb.stack([a2, nb.mul(e2, 0.5)]);
      againstNested("expm", [batch], {}, [0], 122, SLOW ? 8 : 6);
      againstNested("expm_frechet", [a2, e2], {}, [0, 1], 123, SLOW ? 8 : 5);
      againstNested("expm_frechet", [batch, nb.stack([e2, a2])], {}, [0], 124, SLOW ? 8 : 5);
    },
    SLOW ? 3_600_000 : undefined,
  );

  it("under jit and vmap as eager", () => {
    const r = seeded(125);
    const ds = randTerms(r, 2).map((d) => nb.array(d));
    const two = nb.stack([a2, e2]);
    const eager = [jetOf("expm", 0)(a2, ds), jetOf("expm", 0)(e2, ds)];
    const jitted = nb.jit((a: A, d: A[]) => jetOf("expm", 0)(a, d))(a2, ds);
    const mapped = nb.vmap((a: A) => nb.stack(jetOf("expm", 0)(a, ds)))(two);
    const fe = nb.jit((a: A, d: A[]) => jetOf("expm_frechet", 0)(a, d, [e2]))(a2, ds);
    const fm = nb.vmap((a: A) => nb.stack(jetOf("expm_frechet", 0)(a, ds, [e2])))(two);
    const fEager = [jetOf("expm_frechet", 0)(a2, ds, [e2]), jetOf("expm_frechet", 0)(e2, ds, [e2])];
    // the same operations staged or batched: 1e-13 of the order's magnitude
    for (let k = 0; k < K; k++) {
      expectNear(jitted[k]!, eager[0]![k]!, 1e-13, `jit expm, order ${k + 1}`);
      expectNear(fe[k]!, fEager[0]![k]!, 1e-13, `jit expm_frechet, order ${k + 1}`);
      for (const b of [0, 1]) {
        expectNear(
          nb.slice(mapped, [b, k, 0, 0], [b + 1, k + 1, 2, 2]),
          eager[b]![k]!,
          1e-13,
          `vmap expm ${b}, order ${k + 1}`,
        );
        expectNear(
          nb.slice(fm, [b, k, 0, 0], [b + 1, k + 1, 2, 2]),
          fEager[b]![k]!,
          1e-13,
          `vmap expm_frechet ${b}, order ${k + 1}`,
        );
      }
    }
  });

  it("are the series rules, not nested jvp: the staged order-8 series is small", () => {
    const a3 = nb.array([
      [3, 0.5, -0.4],
      [0.2, 2.5, 0.3],
      [-0.6, 0.1, 4],
    ]);
    const count = (g: (x: A) => A): number =>
      nb.makeGraph((x: A) => {
        const [, s] = nb.jet(g, [x], [Array.from({ length: 8 }, (_, j) => nb.mul(x, 1 / (j + 1)))]);
        return s[7]!;
      })(a3).equations.length;
    // measured: expm and expm_frechet 27 equations each (one block matrix, one primitive), slogdet 89 (K
    // solves); with nested jvp in their place 1492, 3139 and 293
    expect(count((x) => apply("expm", [x], {})[0]!)).toBeLessThan(150);
    expect(count((x) => apply("expm_frechet", [x, a3], {})[0]!)).toBeLessThan(150);
    expect(count((x) => apply("slogdet", [x], {})[1]!)).toBeLessThan(150);
  });
});
