/**
 * The one-pass Taylor rules of qr, eigh, svd and lu (src/transforms/jetRulesDecomp.ts): each against
 * nested `jvp` to order 8 (an independent route: the primitives' JVP rules and the chain rule),
 * square, rectangular and batched, svd with and without full matrices; against closed forms on paths
 * whose factors are known; under jit and vmap; and a structural check that the staged series grows
 * polynomially in the order (nested jvp doubles per order).
 *
 * Inputs are well conditioned by construction (see each generator): R's diagonal and the pivots away
 * from 0, eigenvalues and singular values distinct and at least 0.5 apart, singular values ≥ 1.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { apply } from "./properties/primitiveSpecs.js";
import type { Prim, Params } from "./support/primitives.js";
import { seeded, type Random } from "./support/rng.js";
import { fact, nestedAll } from "./support/jet.js";

type A = nb.NDArray;
type M = number[][];
const vals = (x: A): number[] => Array.from(x.toTypedArray(), Number);

/** |got - want| ≤ tol · (1 + max|want|) elementwise. */
function expectNear(got: A, want: A | number[], tol: number, what: string): number {
  const g = vals(got);
  const w = Array.isArray(want) ? want : vals(want);
  expect(g.length, what).toBe(w.length);
  const scale = 1 + Math.max(0, ...w.map(Math.abs));
  let worst = 0;
  g.forEach((v, i) => {
    const err = Math.abs(v - w[i]!);
    worst = Math.max(worst, err / scale);
    if (!(err <= tol * scale)) expect.fail(`${what}, element ${i}: got ${v}, expected ${w[i]} (error ${err})`);
  });
  return worst;
}

// ---------------------------------------------------------------------------
// plain-JS matrices (the generators and closed forms use no nabla operation)

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const matmulM = (a: M, b: M): M => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, l) => s + v * b[l]![j]!, 0)));
const transposeM = (a: M): M => a[0]!.map((_, j) => a.map((row) => row[j]!));
const randM = (r: Random, m: number, n: number, lo = -1, hi = 1): M =>
  range(m).map(() => range(n).map(() => r(lo, hi)));

/** A random m x n matrix with orthonormal columns (n ≤ m): Gram–Schmidt, twice, of a random matrix. */
function orthonormal(r: Random, m: number, n: number): M {
  const cols: number[][] = [];
  while (cols.length < n) {
    let v = range(m).map(() => r(-1, 1));
    for (let pass = 0; pass < 2; pass++)
      for (const c of cols) {
        const d = c.reduce((s, x, i) => s + x * v[i]!, 0);
        v = v.map((x, i) => x - d * c[i]!);
      }
    const nrm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    if (nrm > 0.1) cols.push(v.map((x) => x / nrm));
  }
  return transposeM(cols);
}

/** Stacks per-example matrices into one array [...batch, m, n] (batch = [] for one matrix). */
const arr = (ms: M[], batch: boolean): A => (batch ? nb.array(ms) : nb.array(ms[0]!));

/** Tall (m ≥ n) matrices with the top n x n block diagonally dominant (n + 1 on the diagonal): R well away from singular. */
const qrInput = (r: Random, m: number, n: number): M =>
  randM(r, m, n).map((row, i) => row.map((v, j) => v + (i === j ? n + 1 : 0)));

/** Q diag(w) Qᵀ plus an antisymmetric part (which eigh ignores), w_i = 1.5 i + [0, 0.5]: eigenvalues ≥ 1 apart. */
function eighInput(r: Random, n: number): M {
  const q = orthonormal(r, n, n);
  const w = range(n).map((i) => 1.5 * i + r(0, 0.5));
  const s = matmulM(
    q.map((row) => row.map((v, j) => v * w[j]!)),
    transposeM(q),
  );
  const k = randM(r, n, n, -0.5, 0.5);
  return s.map((row, i) => row.map((v, j) => v + k[i]![j]! - k[j]![i]!));
}

/** U diag(s) Vᵀ with random orthonormal U, V, s_i = 1 + 0.7 (k - 1 - i) + [0, 0.2]: ≥ 1, ≥ 0.5 apart. */
function svdInput(r: Random, m: number, n: number): M {
  const k = Math.min(m, n);
  const u = orthonormal(r, m, k);
  const v = orthonormal(r, n, k);
  const s = range(k).map((i) => 1 + 0.7 * (k - 1 - i) + r(0, 0.2));
  return matmulM(
    u.map((row) => row.map((x, j) => x * s[j]!)),
    transposeM(v),
  );
}

/** P L U, L unit lower with |L_ij| < 0.5 below the diagonal, U upper with |u_ii| in [1, 2]: partial
 * pivoting picks P's rows (each pivot beats the entries below it by a factor 2) and no pivot is small. */
function luInput(r: Random, m: number, n: number): M {
  const k = Math.min(m, n);
  const l = range(m).map((i) => range(k).map((j) => (i === j ? 1 : i > j ? r(-0.5, 0.5) : 0)));
  const u = range(k).map((i) => range(n).map((j) => (i === j ? (r() < 0.5 ? -1 : 1) * r(1, 2) : j > i ? r(-1, 1) : 0)));
  const perm = range(m).sort(() => r() - 0.5);
  const plu = matmulM(l, u);
  return range(m).map((i) => plu[perm.indexOf(i)]!);
}

// ---------------------------------------------------------------------------
// nested-jvp reference

/** Random input terms shaped like x: uniform in (-0.5, 0.5), term j scaled by 1/j. */
const terms = (r: Random, x: A, K: number): A[] =>
  range(K).map((j) => nb.reshape(nb.array(range(x.size).map(() => r(-0.5, 0.5) / (j + 1))), x.shape));

/**
 * jet of prim at x against nested jvp to order K, every input term random. Tolerance: float64
 * evaluations of the same polynomial in the input terms, by the O(K²) recurrences and by 2^K
 * chain-rule expansions, on matrices of condition ≤ about 10 (R, pivots, eigen- and singular gaps):
 * 1e-11 of each order's magnitude bounds the rounding difference with margin (observed ≤ 6e-15).
 */
function againstNested<P extends Prim>(prim: P, x: A, params: Params[P], seed: number, K: number): number {
  const r = seeded(seed);
  const g = (v: A): A[] => apply(prim, [v], params);
  const ds = terms(r, x, K);
  const [ys, ss] = nb.jet((v: A) => g(v), [x], [ds]);
  const ref = nestedAll(([v]) => g(v ?? x), [x], [ds]);
  let worst = 0;
  ys.forEach((y, o) => {
    const s = ss[o]!;
    for (let k = 0; k < K; k++) {
      const what = `${prim} ${JSON.stringify(params)} [${x.shape}]: output ${o}, order ${k + 1}`;
      worst = Math.max(worst, expectNear(s[k]!, ref[k]![o]!, 1e-11, what));
    }
  });
  return worst;
}

// order 8 on one case per primitive, 6 on the others: the nested-jvp reference costs 2^K JVPs (about
// 0.3-2 s at order 8 on these sizes, against 1-40 ms for jet)
describe("jet of qr, eigh, svd, lu against nested jvp (orders 8 and 6, every input term random)", () => {
  it("qr: square, tall, batched", () => {
    const r = seeded(1);
    againstNested("qr", arr([qrInput(r, 4, 2)], false), {}, 11, 8);
    againstNested("qr", arr([qrInput(r, 3, 3)], false), {}, 12, 6);
    againstNested("qr", arr([qrInput(r, 3, 2), qrInput(r, 3, 2)], true), {}, 13, 6);
  });

  it("eigh: 3 x 3 with an antisymmetric part, 1 x 1, batched", () => {
    const r = seeded(2);
    againstNested("eigh", arr([eighInput(r, 3)], false), {}, 21, 8);
    againstNested("eigh", arr([eighInput(r, 1)], false), {}, 22, 6);
    againstNested("eigh", arr([eighInput(r, 3), eighInput(r, 3)], true), {}, 23, 6);
  });

  it("svd: square, tall and wide, thin and full matrices, batched", () => {
    const r = seeded(3);
    againstNested("svd", arr([svdInput(r, 4, 2)], false), { fullMatrices: true }, 30, 8);
    let seed = 31;
    for (const [m, n] of [
      [3, 3],
      [4, 2],
      [2, 4],
    ] as const)
      for (const fullMatrices of [false, true])
        againstNested("svd", arr([svdInput(r, m, n)], false), { fullMatrices }, seed++, 6);
    againstNested("svd", arr([svdInput(r, 3, 2), svdInput(r, 3, 2)], true), { fullMatrices: true }, seed, 6);
  });

  it("lu: square, tall and wide, batched", () => {
    const r = seeded(4);
    againstNested("lu", arr([luInput(r, 3, 3)], false), {}, 41, 8);
    againstNested("lu", arr([luInput(r, 4, 2)], false), {}, 42, 6);
    againstNested("lu", arr([luInput(r, 2, 4)], false), {}, 43, 6);
    againstNested("lu", arr([luInput(r, 3, 3), luInput(r, 3, 3)], true), {}, 44, 6);
  });
});

// ---------------------------------------------------------------------------
// closed forms

/** k-th derivative at 0 of the rotation by angle t in the plane (p, q) of R^m (k = 0: the identity). */
function rotationDeriv(m: number, p: number, q: number, k: number): M {
  const c = k === 0 ? 1 : Math.round(Math.cos((k * Math.PI) / 2));
  const s = Math.round(Math.sin((k * Math.PI) / 2));
  return range(m).map((i) =>
    range(m).map((j) => {
      if ((i === p && j === p) || (i === q && j === q)) return c;
      if (i === p && j === q) return -s;
      if (i === q && j === p) return s;
      return i === j && k === 0 ? 1 : 0;
    }),
  );
}

/** Derivative term k + 1 as its normalised Taylor coefficient x_{k+1} = d_{k+1} / (k + 1)!. */
const coef = (d: A, k: number): A => nb.mul(d, 1 / fact(k + 1));
/** The closed form's derivative term k + 1, as a coefficient. */
const coefM = (x: M, k: number): number[] => x.flat().map((v) => v / fact(k + 1));
const scaleM = (a: M, c: number): M => a.map((row) => row.map((v) => v * c));
const addM = (a: M, b: M): M => a.map((row, i) => row.map((v, j) => v + b[i]![j]!));
const zerosM = (m: number, n: number): M => range(m).map(() => range(n).map(() => 0));
/** The columns of x with the signs that make them match the primal's columns `ref` (diag(sᵀ)). */
const alignCols = (x: M, ref: M, got: A): M => {
  const g = got.toArray() as M;
  const signs = ref[0]!.map((_, j) =>
    Math.sign(range(ref.length).reduce((acc, i) => acc + ref[i]![j]! * g[i]![j]!, 0)),
  );
  return x.map((row) => row.map((v, j) => v * signs[j]!));
};

describe("jet of the decompositions against closed forms (order 8)", () => {
  const K = 8;

  it("eigh of [[1, t], [t, 3]]: λ = 2 ∓ √(1 + t²), eigenvectors [1 + r, ∓t]-like", () => {
    const [[w, v], [ws, vs]] = nb.jet(
      (x: A) => nb.linalg.eigh(x),
      [
        nb.array([
          [1, 0],
          [0, 3],
        ]),
      ],
      [
        [
          nb.array([
            [0, 1],
            [1, 0],
          ]),
          ...range(K - 1).map(() => nb.zeros([2, 2])),
        ],
      ],
    );
    expectNear(w, [1, 3], 1e-15, "eigenvalues");
    // d^k √(1 + t²) at 0: 1/2 · 2!, -1/8 · 4!, 1/16 · 6!, -5/128 · 8! at the even orders
    const c = [0, 1, 0, -3, 0, 45, 0, -1575];
    // float64, each coefficient a handful of products of exact inputs: 1e-13 of the order's magnitude
    ws.forEach((d, k) => expectNear(d, [-c[k]!, c[k]!], 1e-13, `eigenvalues, order ${k + 1}`));
    // columns [1 + r, -t] / n(t) and [t, 1 + r] / n(t), r = √(1 + t²), n = √(2 (1 + r + t²)), by jet of
    // those elementary functions (sqrt, div, mul rules, not eigh's)
    const [, cols] = nb.jet(
      (t: A) => {
        const r = nb.sqrt(nb.add(1, nb.square(t)));
        const nrm = nb.sqrt(nb.mul(2, nb.add(nb.add(1, r), nb.square(t))));
        const a = nb.div(nb.add(1, r), nrm);
        const b = nb.div(t, nrm);
        return nb.stack([nb.stack([a, b]), nb.stack([nb.neg(b), a])]);
      },
      [nb.array(0)],
      [[nb.array(1), ...range(K - 1).map(() => nb.array(0))]],
    );
    const e = [
      [1, 0],
      [0, 1],
    ];
    // float64 against an O(K²) recurrence of its own: 1e-12
    vs.forEach((d, k) =>
      expectNear(d, alignCols(cols[k]!.toArray() as M, e, v).flat(), 1e-12, `eigenvectors, order ${k + 1}`),
    );
  });

  it("qr of B(t) Q₀ R₀ (B a rotation by t): Q = B(t) Q₀, R = R₀", () => {
    const r = seeded(5);
    const m = 4;
    const q0 = orthonormal(r, m, 2);
    const r0 = [
      [1.5, 0.3],
      [0, 0.8],
    ];
    const a0 = matmulM(q0, r0);
    const ds = range(K).map((k) => nb.array(matmulM(rotationDeriv(m, 1, 3, k + 1), a0)));
    const [[q, rr], [qs, rs]] = nb.jet((x: A) => nb.linalg.qr(x), [nb.array(a0)], [ds]);
    expectNear(q, q0.flat(), 1e-14, "Q");
    expectNear(rr, r0.flat(), 1e-14, "R");
    // float64, orthonormal Q₀ and κ(R₀) ≈ 2, compared as normalised coefficients (x_k = d_k / k!): 1e-13
    qs.forEach((d, k) =>
      expectNear(coef(d, k), coefM(matmulM(rotationDeriv(m, 1, 3, k + 1), q0), k), 1e-13, `Q, order ${k + 1}`),
    );
    rs.forEach((d, k) => expectNear(coef(d, k), zerosM(2, 2).flat(), 1e-13, `R, order ${k + 1}`));
  });

  it("svd of B₁(t) U₀ diag(s₀ + t c) V₀ᵀ B₂(t)ᵀ: U = B₁(t) U₀, S = s₀ + t c, V = B₂(t) V₀", () => {
    const r = seeded(6);
    for (const [m, n] of [
      [3, 3],
      [4, 2],
      [2, 3],
    ] as const) {
      const k0 = Math.min(m, n);
      const u0 = orthonormal(r, m, k0);
      const v0 = orthonormal(r, n, k0);
      const s0 = range(k0).map((i) => 1 + 0.8 * (k0 - 1 - i));
      const c = range(k0).map(() => r(-1, 1));
      const mid = (b: number): M => {
        const sv = b === 0 ? s0 : b === 1 ? c : s0.map(() => 0);
        return matmulM(
          u0.map((row) => row.map((x, j) => x * sv[j]!)),
          transposeM(v0),
        );
      };
      // A^(k) = Σ_{a+b+e=k} k!/(a! b! e!) B₁^(a) M^(b) B₂^(e)ᵀ (M linear in t: b ≤ 1)
      const aDeriv = (k: number): M => {
        let acc = zerosM(m, n);
        for (let a = 0; a <= k; a++)
          for (let b = 0; b <= Math.min(1, k - a); b++) {
            const e = k - a - b;
            const term = matmulM(
              matmulM(rotationDeriv(m, 0, m - 1, a), mid(b)),
              transposeM(rotationDeriv(n, 0, n - 1, e)),
            );
            acc = addM(acc, scaleM(term, fact(k) / (fact(a) * fact(b) * fact(e))));
          }
        return acc;
      };
      const [[u, s, vh], [us, ss, vhs]] = nb.jet(
        (x: A) => nb.linalg.svd(x, { fullMatrices: false }),
        [nb.array(aDeriv(0))],
        [range(K).map((k) => nb.array(aDeriv(k + 1)))],
      );
      expectNear(s, s0, 1e-14, `S [${m}, ${n}]`);
      const vT = nb.transpose(vh);
      // float64, compared as normalised coefficients: the input terms grow like 2^k (two rotations) while
      // the outputs stay O(1), so both jet and nested jvp lose digits to cancellation with the order
      // (measured on the 3 x 3 case at order 8: coefficient errors 1e-13 for jet, 5e-14 for nested jvp);
      // singular values ≥ 1 and ≥ 0.8 apart: 1e-12
      us.forEach((d, k) =>
        expectNear(
          coef(d, k),
          coefM(alignCols(matmulM(rotationDeriv(m, 0, m - 1, k + 1), u0), u0, u), k),
          1e-12,
          `U [${m}, ${n}], order ${k + 1}`,
        ),
      );
      ss.forEach((d, k) =>
        expectNear(coef(d, k), k === 0 ? c : s0.map(() => 0), 1e-12, `S [${m}, ${n}], order ${k + 1}`),
      );
      vhs.forEach((d, k) =>
        expectNear(
          coef(nb.transpose(d), k),
          coefM(alignCols(matmulM(rotationDeriv(n, 0, n - 1, k + 1), v0), v0, vT), k),
          1e-12,
          `V [${m}, ${n}], order ${k + 1}`,
        ),
      );
    }
  });

  it("lu of P (L₀ + t L₁)(U₀ + t U₁): L and U are those lines, P constant", () => {
    const r = seeded(7);
    for (const [m, n] of [
      [3, 3],
      [4, 2],
      [2, 3],
    ] as const) {
      const k0 = Math.min(m, n);
      const l0 = range(m).map((i) => range(k0).map((j) => (i === j ? 1 : i > j ? r(-0.5, 0.5) : 0)));
      const u0 = range(k0).map((i) => range(n).map((j) => (i === j ? r(1, 2) : j > i ? r(-1, 1) : 0)));
      const l1 = range(m).map((i) => range(k0).map((j) => (i > j ? r(-1, 1) : 0)));
      const u1 = range(k0).map((i) => range(n).map((j) => (j >= i ? r(-1, 1) : 0)));
      const perm = range(m).reverse();
      const pm = range(m).map((i) => range(m).map((j) => (perm[j] === i ? 1 : 0)));
      const p = (x: M): M => matmulM(pm, x);
      const a0 = p(matmulM(l0, u0));
      const d1 = p(addM(matmulM(l1, u0), matmulM(l0, u1)));
      const d2 = scaleM(p(matmulM(l1, u1)), 2);
      const ds = [nb.array(d1), nb.array(d2), ...range(K - 2).map(() => nb.zeros([m, n]))];
      const [[pp, l, u], [ps, ls, uss]] = nb.jet((x: A) => nb.linalg.lu(x), [nb.array(a0)], [ds]);
      expectNear(pp, pm.flat(), 0, "P");
      expectNear(l, l0.flat(), 1e-14, "L");
      expectNear(u, u0.flat(), 1e-14, "U");
      // float64, pivots in [1, 2], compared as normalised coefficients x_k = d_k / k! (the derivative
      // terms scale each coefficient's rounding by k!, up to 4e4): 1e-14
      ps.forEach((d, k) => expectNear(d, zerosM(m, m).flat(), 0, `P [${m}, ${n}], order ${k + 1}`));
      ls.forEach((d, k) =>
        expectNear(coef(d, k), (k === 0 ? l1 : zerosM(m, k0)).flat(), 1e-14, `L [${m}, ${n}], order ${k + 1}`),
      );
      uss.forEach((d, k) =>
        expectNear(coef(d, k), (k === 0 ? u1 : zerosM(k0, n)).flat(), 1e-14, `U [${m}, ${n}], order ${k + 1}`),
      );
    }
  });
});

// ---------------------------------------------------------------------------
// transforms and cost

const CASES: [string, (x: A) => A[], (r: Random) => M][] = [
  ["qr", (x) => nb.linalg.qr(x), (r) => qrInput(r, 3, 2)],
  ["eigh", (x) => nb.linalg.eigh(x), (r) => eighInput(r, 3)],
  ["svd", (x) => nb.linalg.svd(x, { fullMatrices: true }), (r) => svdInput(r, 3, 2)],
  ["lu", (x) => nb.linalg.lu(x), (r) => luInput(r, 3, 2)],
];

describe("jet of the decompositions composes", () => {
  const K = 5;

  it.each(CASES)("%s: under jit and under vmap it equals eager jet", (_name, f, gen) => {
    const r = seeded(8);
    const x = nb.array(gen(r));
    const ds = terms(r, x, K);
    const [y0, s0] = nb.jet(f, [x], [ds]);
    // the rule staged: jit(jet)
    const [y1, s1] = nb.jit((v: A, ...d: A[]) => nb.jet(f, [v], [d]))(x, ...ds);
    // same operations, possibly fused or regrouped: 1e-13 of each order's magnitude
    y0.forEach((y, o) => {
      expectNear(y1[o]!, y, 1e-13, `jit: output ${o}`);
      s0[o]!.forEach((d, k) => expectNear(s1[o]![k]!, d, 1e-13, `jit: output ${o}, order ${k + 1}`));
    });
    // batched: vmap(jet) over two inputs and their terms equals jet of each
    const x2 = nb.array(gen(r));
    const ds2 = terms(r, x2, K);
    const [yb, sb] = nb.vmap((v: A, ...d: A[]) => nb.jet(f, [v], [d]))(
      nb.stack([x, x2]),
      ...ds.map((d, k) => nb.stack([d, ds2[k]!])),
    );
    const [y2, s2] = nb.jet(f, [x2], [ds2]);
    y0.forEach((_, o) => {
      expectNear(yb[o]!, nb.stack([y0[o]!, y2[o]!]), 1e-13, `vmap: output ${o}`);
      s0[o]!.forEach((d, k) =>
        expectNear(sb[o]![k]!, nb.stack([d, s2[o]![k]!]), 1e-13, `vmap: output ${o}, order ${k + 1}`),
      );
    });
  });

  it.each(CASES)("%s: the staged series grows polynomially in the order, not as 2^K", (_name, f, gen) => {
    const r = seeded(9);
    const x = nb.array(gen(r));
    const count = (K: number): number =>
      nb.makeGraph((v: A) => nb.jet(f, [v], [terms(seeded(10), v, K)])[1].flat())(x).equations.length;
    const [c4, c8] = [count(4), count(8)];
    // O(K²) products: doubling K multiplies the count by about 3.6 at most (Σ_{k≤8} k / Σ_{k≤4} k;
    // measured 2.3-3.1, e.g. qr 90 → 250 equations); K nested JVPs multiply it by 60-80 (qr 337 → 20337)
    expect(c8 / c4).toBeLessThan(5);
  });
});
