/**
 * `nb.linalg`: identities as seeded fast-check properties (unbatched and with
 * leading batch dimensions), derivatives of every function against finite
 * differences (checkGrads, order 2, both modes), and errors.
 *
 * Expected values come from identities checked with plain-JS matrix
 * arithmetic (products, a Gauss–Jordan inverse, an LU determinant written
 * here), never from nabla's own output.
 *
 * Input domains are built by mapping uniform draws, never by filtering:
 * - "well conditioned": M + (n + 1) I with M's entries in [-1, 1] (diagonal
 *   signs optionally flipped). Every row is strictly diagonally dominant with
 *   margin >= 1, so by Varah's bound ‖A⁻¹‖∞ <= 1 and ‖A‖∞ <= 2n + 1: the
 *   condition number is at most 2n + 1 <= 9 for n <= 4.
 * - SPD: `arbSpdMatrix` (A Aᵀ + n I, condition number <= n + 1).
 * - symmetric with separated eigenvalues (for eigh's derivatives):
 *   diag(1, 2.5, 4) + 0.2 · sym(M), whose eigenvalues stay >= 0.8 apart
 *   (Weyl: each moves by at most ‖0.2 sym(M)‖₂ <= 0.6).
 *
 * Tolerances (float64, unit roundoff u ≈ 1.1e-16): the factorizations are
 * backward stable, so residuals like ‖A x − b‖ are O(n u ‖A‖ ‖x‖) and forward
 * errors O(cond · n u); with n <= 4 and cond <= 9 both are below 1e-13. We
 * compare residuals at 1e-12 and forward errors at 1e-10 (relative to the
 * size of the quantities), leaving orders of magnitude of headroom while a
 * wrong result (an O(1) error) fails by ten orders. float32 (u ≈ 6e-8): the
 * same bounds scale to ~1e-5; we use 1e-4. Derivatives: checkGrads' float64
 * defaults (central differences, step 1e-5, atol = rtol = 1e-6; see
 * src/testing).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { arbSpdMatrix, checkGrads } from "../src/testing/index.js";
import { sizeOf } from "./support/reference.js";
import { fcSeed, fcSettings, seeded } from "./support/rng.js";

type A = nb.NDArray;

const { RUNS } = fcSettings({ seed: 0, runs: 20 });
const fcOpts = (seed: number) => ({ seed: fcSeed(seed), numRuns: RUNS });

// ---------------------------------------------------------------------------
// plain-JS matrices (row-major number[][])

type M = number[][];

function vals(x: A): number[] {
  return Array.from(x.toTypedArray() as ArrayLike<number>, Number);
}
/** The matrices of an [..., m, n] array, in batch order. */
function mats(x: A): M[] {
  const s = x.shape;
  const m = s[s.length - 2]!;
  const n = s[s.length - 1]!;
  const v = vals(x);
  const out: M[] = [];
  for (let b = 0; b < v.length / (m * n); b++)
    out.push(Array.from({ length: m }, (_, i) => v.slice(b * m * n + i * n, b * m * n + (i + 1) * n)));
  return out;
}
/** The vectors of an [..., n] array. */
function vecs(x: A): number[][] {
  const n = x.shape[x.ndim - 1]!;
  const v = vals(x);
  return Array.from({ length: v.length / n }, (_, b) => v.slice(b * n, (b + 1) * n));
}
const fromMats = (ms: M[], batch: number[], dtype: "float32" | "float64" = "float64"): A => {
  const flat = ms.flatMap((m) => m.flat());
  const shape = [...batch, ms[0]!.length, ms[0]![0]!.length];
  return nb.array(dtype === "float32" ? Float32Array.from(flat) : Float64Array.from(flat), { shape });
};
const matmul = (a: M, b: M): M => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const T = (a: M): M => a[0]!.map((_, j) => a.map((row) => row[j]!));
const eyeM = (n: number): M =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const maxAbs = (a: M): number => Math.max(0, ...a.flat().map(Math.abs));
const tril = (a: M): M => a.map((row, i) => row.map((v, j) => (j <= i ? v : 0)));
const triu = (a: M): M => a.map((row, i) => row.map((v, j) => (j >= i ? v : 0)));
const sym = (a: M): M => a.map((row, i) => row.map((v, j) => 0.5 * (v + a[j]![i]!)));

/** Gauss–Jordan inverse with partial pivoting. */
function invM(a: M): M {
  const n = a.length;
  const w = a.map((row, i) => [...row, ...eyeM(n)[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(w[r]![c]!) > Math.abs(w[p]![c]!)) p = r;
    [w[c], w[p]] = [w[p]!, w[c]!];
    const d = w[c]![c]!;
    for (let j = 0; j < 2 * n; j++) w[c]![j]! /= d;
    for (let r = 0; r < n; r++)
      if (r !== c) {
        const f = w[r]![c]!;
        for (let j = 0; j < 2 * n; j++) w[r]![j]! -= f * w[c]![j]!;
      }
  }
  return w.map((row) => row.slice(n));
}

/** Determinant by LU with partial pivoting. */
function detM(a: M): number {
  const n = a.length;
  const w = a.map((r) => r.slice());
  let det = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(w[r]![c]!) > Math.abs(w[p]![c]!)) p = r;
    if (p !== c) {
      [w[c], w[p]] = [w[p]!, w[c]!];
      det = -det;
    }
    det *= w[c]![c]!;
    for (let r = c + 1; r < n; r++) {
      const f = w[r]![c]! / w[c]![c]!;
      for (let j = c; j < n; j++) w[r]![j]! -= f * w[c]![j]!;
    }
  }
  return det;
}

/** Asserts max |a - b| <= tol · scale, with a message naming the quantity. */
function expectNear(a: M, b: M, tol: number, scale: number, what: string): void {
  expect(a.length, `${what}: rows`).toBe(b.length);
  let worst = 0;
  a.forEach((row, i) => {
    expect(row.length, `${what}: columns`).toBe(b[i]!.length);
    row.forEach((v, j) => (worst = Math.max(worst, Number.isNaN(v) ? Infinity : Math.abs(v - b[i]![j]!))));
  });
  if (!(worst <= tol * scale)) expect.fail(`${what}: max |difference| ${worst} > ${tol} · ${scale}`);
}

// ---------------------------------------------------------------------------
// arbitraries (built by map, never filter)

const unit = fc.double({ min: -1, max: 1, noNaN: true });
const entries = (k: number) => fc.array(unit, { minLength: k, maxLength: k });
/** Leading batch dimensions: none, [2] or [2, 1]. */
const arbBatch = fc.constantFrom<number[]>([], [2], [2, 1]);

/** Well-conditioned square matrices (strictly diagonally dominant, optionally negative diagonal entries). */
function arbWellConditioned(opts: { batch?: boolean; minN?: number; maxN?: number } = {}) {
  return fc
    .record({
      n: fc.integer({ min: opts.minN ?? 1, max: opts.maxN ?? 4 }),
      batch: opts.batch ? arbBatch : fc.constant<number[]>([]),
    })
    .chain(({ n, batch }) =>
      fc.record({
        n: fc.constant(n),
        batch: fc.constant(batch),
        m: entries(sizeOf(batch) * n * n),
        flips: fc.array(fc.boolean(), { minLength: sizeOf(batch) * n, maxLength: sizeOf(batch) * n }),
      }),
    )
    .map(({ n, batch, m, flips }) => {
      const ms: M[] = [];
      for (let b = 0; b < sizeOf(batch); b++)
        ms.push(
          Array.from({ length: n }, (_, i) =>
            Array.from(
              { length: n },
              (_, j) => m[(b * n + i) * n + j]! + (i === j ? (flips[b * n + i] ? -1 : 1) * (n + 1) : 0),
            ),
          ),
        );
      return { n, batch, ms };
    });
}

/** SPD matrices with batch dimensions, from arbSpdMatrix. */
function arbSpdBatch() {
  return fc
    .record({ n: fc.integer({ min: 1, max: 4 }), batch: arbBatch })
    .chain(({ n, batch }) =>
      fc.record({
        n: fc.constant(n),
        batch: fc.constant(batch),
        list: fc.array(arbSpdMatrix({ n }), { minLength: sizeOf(batch), maxLength: sizeOf(batch) }),
      }),
    )
    .map(({ n, batch, list }) => ({ n, batch, ms: list.flatMap(mats) }));
}

// ---------------------------------------------------------------------------
// identities

describe("linalg identities (fast-check properties)", () => {
  it("solve(A, A x) ≈ x, for vector and matrix right-hand sides, with batch dims", () => {
    fc.assert(
      fc.property(
        arbWellConditioned({ batch: true }).chain((a) =>
          fc.record({ a: fc.constant(a), k: fc.integer({ min: 0, max: 2 }), x: entries(sizeOf(a.batch) * a.n * 2) }),
        ),
        ({ a, k, x }) => {
          const { n, batch, ms } = a;
          if (k === 0) {
            // vector right-hand side [..., n]
            const xs = ms.map((_, b) => x.slice(b * n, (b + 1) * n));
            const bs = ms.map((m, b) => m.map((row) => row.reduce((s, v, j) => s + v * xs[b]![j]!, 0)));
            const got = nb.linalg.solve(
              fromMats(ms, batch),
              nb.array(Float64Array.from(bs.flat()), { shape: [...batch, n] }),
            );
            expect(got.shape).toEqual([...batch, n]);
            vecs(got).forEach((g, b) => expectNear([g], [xs[b]!], 1e-10, 1, `solve vector rhs, batch ${b}`));
          } else {
            const xs = ms.map((_, b) =>
              Array.from({ length: n }, (_, i) => x.slice((b * n + i) * 2, (b * n + i) * 2 + k)),
            );
            const bs = ms.map((m, b) => matmul(m, xs[b]!));
            const got = nb.linalg.solve(fromMats(ms, batch), fromMats(bs, batch));
            expect(got.shape).toEqual([...batch, n, k]);
            mats(got).forEach((g, b) => expectNear(g, xs[b]!, 1e-10, 1, `solve matrix rhs, batch ${b}`));
          }
        },
      ),
      fcOpts(101),
    );
  });

  it("inv(A) A ≈ I and inv matches a plain-JS Gauss–Jordan inverse", () => {
    fc.assert(
      fc.property(arbWellConditioned({ batch: true }), ({ n, batch, ms }) => {
        const inv = nb.linalg.inv(fromMats(ms, batch));
        expect(inv.shape).toEqual([...batch, n, n]);
        mats(inv).forEach((iv, b) => {
          // residual of a backward-stable inverse: ‖X A − I‖ <= c n u cond
          expectNear(matmul(iv, ms[b]!), eyeM(n), 1e-12, 1, `inv(A) A, batch ${b}`);
          expectNear(iv, invM(ms[b]!), 1e-10, 1, `inv vs Gauss–Jordan, batch ${b}`);
        });
      }),
      fcOpts(102),
    );
  });

  it("cholesky(A) is lower triangular with a positive diagonal and L Lᵀ ≈ A (SPD A, batch dims)", () => {
    fc.assert(
      fc.property(arbSpdBatch(), ({ n, batch, ms }) => {
        const L = nb.linalg.cholesky(fromMats(ms, batch));
        expect(L.shape).toEqual([...batch, n, n]);
        mats(L).forEach((l, b) => {
          l.forEach((row, i) =>
            row.forEach((v, j) => {
              if (j > i) expect(v, `L[${i}][${j}] above the diagonal`).toBe(0);
              if (j === i) expect(v, `L[${i}][${i}]`).toBeGreaterThan(0);
            }),
          );
          const A = ms[b]!;
          expectNear(matmul(l, T(l)), A, 1e-12, maxAbs(A), `L Lᵀ, batch ${b}`);
        });
      }),
      fcOpts(103),
    );
  });

  it("cholesky reads only the symmetric part: cholesky(A + K) = cholesky(A) for antisymmetric K", () => {
    fc.assert(
      fc.property(
        arbSpdMatrix({ minN: 2, maxN: 4 }).chain((a) => fc.record({ a: fc.constant(a), k: entries(a.shape[0]! ** 2) })),
        ({ a, k }) => {
          const n = a.shape[0]!;
          const A = mats(a)[0]!;
          const K = Array.from({ length: n }, (_, i) =>
            Array.from({ length: n }, (_, j) => k[i * n + j]! - k[j * n + i]!),
          );
          const L1 = mats(nb.linalg.cholesky(fromMats([A], [])))[0]!;
          const L2 = mats(nb.linalg.cholesky(fromMats([A.map((row, i) => row.map((v, j) => v + K[i]![j]!))], [])))[0]!;
          expectNear(L2, L1, 1e-12, maxAbs(L1), "cholesky of A + antisymmetric");
        },
      ),
      fcOpts(104),
    );
  });

  it("det(A B) ≈ det(A) det(B), det matches a plain-JS LU determinant, and slogdet = [sign, log|det|]", () => {
    fc.assert(
      fc.property(
        arbWellConditioned({ batch: true }).chain((a) =>
          fc.record({
            a: fc.constant(a),
            bm: entries(sizeOf(a.batch) * a.n * a.n),
          }),
        ),
        ({ a, bm }) => {
          const { n, batch, ms } = a;
          // B: another well-conditioned matrix (diagonal n + 1 plus entries in [-1, 1])
          const bs = ms.map((_, b) =>
            Array.from({ length: n }, (_, i) =>
              Array.from({ length: n }, (_, j) => bm[(b * n + i) * n + j]! + (i === j ? n + 1 : 0)),
            ),
          );
          const dA = vals(nb.linalg.det(fromMats(ms, batch)));
          const dB = vals(nb.linalg.det(fromMats(bs, batch)));
          const dAB = vals(nb.linalg.det(nb.matmul(fromMats(ms, batch), fromMats(bs, batch))));
          const [sign, logabs] = nb.linalg.slogdet(fromMats(ms, batch));
          expect(sign.shape).toEqual(batch);
          expect(logabs.shape).toEqual(batch);
          ms.forEach((m, b) => {
            const ref = detM(m);
            // det of a backward-stable LU: relative error O(n u cond)
            expect(Math.abs(dA[b]! - ref)).toBeLessThanOrEqual(1e-10 * Math.abs(ref));
            expect(Math.abs(dAB[b]! - dA[b]! * dB[b]!)).toBeLessThanOrEqual(1e-10 * Math.abs(dA[b]! * dB[b]!));
            expect(vals(sign)[b]).toBe(Math.sign(ref));
            expect(Math.abs(vals(logabs)[b]! - Math.log(Math.abs(ref)))).toBeLessThanOrEqual(
              1e-10 * (1 + Math.abs(Math.log(Math.abs(ref)))),
            );
          });
        },
      ),
      fcOpts(105),
    );
  });

  it("grad of slogdet's log|det A| equals inv(A)ᵀ (plain-JS inverse and nabla's inv), with batch dims", () => {
    fc.assert(
      fc.property(arbWellConditioned({ batch: true }), ({ n, batch, ms }) => {
        const a = fromMats(ms, batch);
        const g = nb.grad((x: A) => nb.sum(nb.linalg.slogdet(x)[1]))(a) as A;
        expect(g.shape).toEqual([...batch, n, n]);
        const nbInv = mats(nb.linalg.inv(a));
        mats(g).forEach((gb, b) => {
          expectNear(gb, T(invM(ms[b]!)), 1e-10, 1, `d log|det| / dA vs plain-JS inv(A)ᵀ, batch ${b}`);
          expectNear(gb, T(nbInv[b]!), 1e-10, 1, `d log|det| / dA vs nb.linalg.inv(A)ᵀ, batch ${b}`);
        });
        // and det's gradient is det(A) inv(A)ᵀ (Jacobi's formula)
        const gd = nb.grad((x: A) => nb.sum(nb.linalg.det(x)))(a) as A;
        mats(gd).forEach((gb, b) => {
          const d = detM(ms[b]!);
          expectNear(
            gb,
            T(invM(ms[b]!)).map((row) => row.map((v) => v * d)),
            1e-10,
            Math.abs(d),
            `d det / dA, batch ${b}`,
          );
        });
      }),
      fcOpts(106),
    );
  });

  it("triangularSolve: lower / upper, with and without transposeA, reading only its triangle (batch dims)", () => {
    fc.assert(
      fc.property(
        arbWellConditioned({ batch: true }).chain((a) =>
          fc.record({
            a: fc.constant(a),
            lower: fc.boolean(),
            transposeA: fc.boolean(),
            vector: fc.boolean(),
            x: entries(sizeOf(a.batch) * a.n * 2),
          }),
        ),
        ({ a, lower, transposeA, vector, x }) => {
          const { n, batch, ms } = a;
          const k = vector ? 1 : 2;
          // the triangle the solve may read; the other triangle of ms is garbage it must ignore
          const tri = ms.map((m) => (lower ? tril(m) : triu(m)));
          const op = tri.map((t) => (transposeA ? T(t) : t));
          const xs = ms.map((_, b) =>
            Array.from({ length: n }, (_, i) => x.slice((b * n + i) * 2, (b * n + i) * 2 + k)),
          );
          const bs = op.map((o, b) => matmul(o, xs[b]!));
          const rhs = vector
            ? nb.array(Float64Array.from(bs.flatMap((m) => m.map((r) => r[0]!))), { shape: [...batch, n] })
            : fromMats(bs, batch);
          const got = nb.linalg.triangularSolve(fromMats(ms, batch), rhs, { lower, transposeA });
          expect(got.shape).toEqual(vector ? [...batch, n] : [...batch, n, k]);
          const gm = vector ? vecs(got).map((v) => v.map((e) => [e])) : mats(got);
          gm.forEach((g, b) =>
            expectNear(g, xs[b]!, 1e-10, 1, `triangularSolve lower=${lower} transposeA=${transposeA}, batch ${b}`),
          );
        },
      ),
      fcOpts(107),
    );
  });

  it("triangularSolve defaults to lower and no transpose", () => {
    const a = [
      [2, 100],
      [1, 4],
    ];
    // lower triangle [[2, 0], [1, 4]]: x = [1, 1] gives b = [2, 5]
    expect(vals(nb.linalg.triangularSolve(a, [2, 5]))).toEqual([1, 1]);
  });

  it("qr: Q R ≈ A, QᵀQ ≈ I, R upper triangular with a non-negative diagonal (m >= n, batch dims)", () => {
    fc.assert(
      fc.property(
        fc
          .record({ n: fc.integer({ min: 1, max: 4 }), extra: fc.integer({ min: 0, max: 2 }), batch: arbBatch })
          .chain(({ n, extra, batch }) =>
            fc.record({
              n: fc.constant(n),
              m: fc.constant(n + extra),
              batch: fc.constant(batch),
              e: entries(sizeOf(batch) * (n + extra) * n),
            }),
          ),
        ({ n, m, batch, e }) => {
          const as = Array.from({ length: sizeOf(batch) }, (_, b) =>
            Array.from({ length: m }, (_, i) => e.slice((b * m + i) * n, (b * m + i + 1) * n)),
          );
          const [q, r] = nb.linalg.qr(fromMats(as, batch));
          expect(q.shape).toEqual([...batch, m, n]);
          expect(r.shape).toEqual([...batch, n, n]);
          const rs = mats(r);
          mats(q).forEach((qb, b) => {
            const rb = rs[b]!;
            expectNear(matmul(qb, rb), as[b]!, 1e-12, 1 + maxAbs(as[b]!), `Q R, batch ${b}`);
            expectNear(matmul(T(qb), qb), eyeM(n), 1e-12, 1, `QᵀQ, batch ${b}`);
            rb.forEach((row, i) =>
              row.forEach((v, j) => {
                if (j < i) expect(v, `R[${i}][${j}] below the diagonal`).toBe(0);
                if (j === i) expect(v, `R[${i}][${i}]`).toBeGreaterThanOrEqual(0);
              }),
            );
          });
        },
      ),
      fcOpts(108),
    );
  });

  it("eigh: A V ≈ V diag(w), VᵀV ≈ I, w ascending, sum(w) = trace(A); non-symmetric input uses (A + Aᵀ)/2", () => {
    fc.assert(
      fc.property(
        fc
          .record({ n: fc.integer({ min: 1, max: 4 }), batch: arbBatch, symmetric: fc.boolean() })
          .chain(({ n, batch, symmetric }) =>
            fc.record({
              n: fc.constant(n),
              batch: fc.constant(batch),
              symmetric: fc.constant(symmetric),
              e: entries(sizeOf(batch) * n * n),
            }),
          ),
        ({ n, batch, symmetric, e }) => {
          const raw = Array.from({ length: sizeOf(batch) }, (_, b) =>
            Array.from({ length: n }, (_, i) => e.slice((b * n + i) * n, (b * n + i + 1) * n)),
          );
          const input = symmetric ? raw.map(sym) : raw;
          const [w, v] = nb.linalg.eigh(fromMats(input, batch));
          expect(w.shape).toEqual([...batch, n]);
          expect(v.shape).toEqual([...batch, n, n]);
          const ws = vecs(w);
          mats(v).forEach((vb, b) => {
            const S = sym(raw[b]!);
            const wb = ws[b]!;
            const scale = 1 + maxAbs(S);
            expectNear(
              matmul(S, vb),
              vb.map((row) => row.map((x, j) => x * wb[j]!)),
              1e-10,
              scale,
              `A V = V diag(w), batch ${b}`,
            );
            expectNear(matmul(T(vb), vb), eyeM(n), 1e-12, 1, `VᵀV, batch ${b}`);
            for (let i = 1; i < n; i++) expect(wb[i]!, `w ascending, batch ${b}`).toBeGreaterThanOrEqual(wb[i - 1]!);
            const tr = S.reduce((s, row, i) => s + row[i]!, 0);
            expect(Math.abs(wb.reduce((s, x) => s + x, 0) - tr)).toBeLessThanOrEqual(1e-12 * scale);
          });
        },
      ),
      fcOpts(109),
    );
  });

  it("slogdet is finite where det over- or underflows", () => {
    // det(s M) = s³ det M overflows / underflows float64 for s = 1e±120, its logarithm does not
    const m = [
      [2, 1, 0],
      [1, 3, 1],
      [0, 1, -4],
    ];
    const logDetM = Math.log(Math.abs(detM(m))); // det M = -22
    for (const s of [1e-120, 1e120]) {
      const [sign, l] = nb.linalg.slogdet(nb.mul(m, s));
      expect(sign.item()).toBe(-1);
      const want = 3 * Math.log(s) + logDetM;
      expect(Math.abs(l.item() - want)).toBeLessThanOrEqual(1e-12 * Math.abs(want));
    }
  });

  // qr(sA) = (Q, sR) and eigh(sA) = (s w, V) for s > 0. With s = 1e±170 every entry and every result
  // is a normal float64 (5e170 and 1e-170 are far inside [2.2e-308, 1.8e308]), but squares of the
  // entries over- or underflow: a kernel that scales its norms (as LAPACK does) is exact to rounding.
  it("qr is scale-equivariant far from 1 (no under/overflow inside the kernel)", () => {
    const a = [
      [3, 1],
      [4, 2],
      [0, 5],
    ];
    const [q1, r1] = nb.linalg.qr(a).map((x) => mats(x)[0]!);
    for (const s of [1e-170, 1e170]) {
      const [qs, rs] = nb.linalg.qr(nb.mul(a, s)).map((x) => mats(x)[0]!);
      expectNear(qs!, q1!, 1e-12, 1, `Q of ${s} A`);
      expectNear(
        rs!.map((row) => row.map((v) => v / s)),
        r1!,
        1e-12,
        maxAbs(r1!),
        `R of ${s} A / ${s}`,
      );
    }
  });

  it("eigh is scale-equivariant far from 1 (no under/overflow inside the kernel)", () => {
    const S = [
      [1, 2],
      [2, 1],
    ];
    const [w1, v1] = nb.linalg.eigh(S);
    for (const s of [1e-170, 1e170]) {
      const [ws, vs] = nb.linalg.eigh(nb.mul(S, s));
      expectNear([vals(ws).map((v) => v / s)], [vals(w1)], 1e-12, 3, `eigenvalues of ${s} S / ${s}`);
      expectNear(mats(vs)[0]!, mats(v1)[0]!, 1e-12, 1, `eigenvectors of ${s} S`);
    }
  });

  it("norm: 2 / fro, matrix 1 and Infinity, vector 1 and Infinity, over all axes and over one axis", () => {
    fc.assert(
      fc.property(entries(6), (e) => {
        const x = nb.array(Float64Array.from(e), { shape: [2, 3] });
        const rows = [e.slice(0, 3), e.slice(3)];
        const l2 = Math.sqrt(e.reduce((s, v) => s + v * v, 0));
        const tol = (v: number) => 1e-14 * (1 + Math.abs(v));
        expect(Math.abs(nb.linalg.norm(x).item() - l2)).toBeLessThanOrEqual(tol(l2));
        expect(Math.abs(nb.linalg.norm(x, "fro").item() - l2)).toBeLessThanOrEqual(tol(l2));
        // NumPy's matrix orders on 2-D input: 1 is the largest column sum of |x|, Infinity the largest row sum
        const colSums = [0, 1, 2].map((j) => Math.abs(rows[0]![j]!) + Math.abs(rows[1]![j]!));
        const l1 = Math.max(...colSums);
        expect(Math.abs(nb.linalg.norm(x, 1).item() - l1)).toBeLessThanOrEqual(tol(l1));
        const rowSums = rows.map((r) => r.reduce((s, v) => s + Math.abs(v), 0));
        const li = Math.max(...rowSums);
        expect(Math.abs(nb.linalg.norm(x, Infinity).item() - li)).toBeLessThanOrEqual(tol(li));
        // the vector orders over all elements (flattened)
        const flat = nb.reshape(x, [-1]);
        const v1 = e.reduce((s, v) => s + Math.abs(v), 0);
        expect(Math.abs(nb.linalg.norm(flat, 1).item() - v1)).toBeLessThanOrEqual(tol(v1));
        expect(nb.linalg.norm(flat, Infinity).item()).toBe(Math.max(...e.map(Math.abs)));
        const perRow = vals(nb.linalg.norm(x, 2, 1));
        rows.forEach((r, i) => {
          const want = Math.sqrt(r.reduce((s, v) => s + v * v, 0));
          expect(Math.abs(perRow[i]! - want)).toBeLessThanOrEqual(tol(want));
        });
        expect(nb.linalg.norm(x, 2, 0, true).shape).toEqual([1, 3]);
      }),
      fcOpts(110),
    );
  });

  it("float32 inputs give float32 results that satisfy the identities to float32 accuracy", () => {
    fc.assert(
      fc.property(arbWellConditioned(), ({ n, ms }) => {
        const a = fromMats(ms, [], "float32");
        const A32 = mats(a)[0]!; // the matrix as rounded to float32
        const x = nb.linalg.solve(a, nb.ones([n], { dtype: "float32" }));
        expect(x.dtype).toBe("float32");
        const r = matmul(A32, vecs(x).map((v) => v.map((e) => [e]))[0]!).map((row) => [row[0]! - 1]);
        expectNear(
          r,
          r.map(() => [0]),
          1e-4,
          2 * n + 1,
          "float32 solve residual",
        );
        const iv = nb.linalg.inv(a);
        expect(iv.dtype).toBe("float32");
        expectNear(matmul(mats(iv)[0]!, A32), eyeM(n), 1e-4, 1, "float32 inv(A) A");
        const [s, l] = nb.linalg.slogdet(a);
        expect([s.dtype, l.dtype]).toEqual(["float32", "float32"]);
        expect(Math.abs(l.item() - Math.log(Math.abs(detM(A32))))).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(l.item())));
        const spdM = matmul(A32, T(A32));
        const L = nb.linalg.cholesky(fromMats([spdM], [], "float32"));
        expect(L.dtype).toBe("float32");
        expectNear(matmul(mats(L)[0]!, T(mats(L)[0]!)), spdM, 1e-4, maxAbs(spdM), "float32 L Lᵀ");
        const [w, v] = nb.linalg.eigh(fromMats([spdM], [], "float32"));
        const [q, rr] = nb.linalg.qr(a);
        expect([w.dtype, v.dtype, q.dtype, rr.dtype]).toEqual(["float32", "float32", "float32", "float32"]);
      }),
      fcOpts(111),
    );
  });
});

// ---------------------------------------------------------------------------
// derivatives against finite differences

function wc(r: () => number, n: number, batch: number[] = [], flip = false): A {
  const ms = Array.from({ length: sizeOf(batch) }, () =>
    Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => r() + (i === j ? (flip && i === 1 ? -1 : 1) * (n + 1) : 0)),
    ),
  );
  return fromMats(ms, batch);
}
const randn = (r: () => number, shape: number[]): A =>
  nb.array(Float64Array.from({ length: sizeOf(shape) }, r), { shape });
function spdOf(r: () => number, n: number, batch: number[] = []): A {
  const ms = Array.from({ length: sizeOf(batch) }, () => {
    const m = Array.from({ length: n }, () => Array.from({ length: n }, r));
    return matmul(m, T(m)).map((row, i) => row.map((v, j) => v + (i === j ? n : 0)));
  });
  return fromMats(ms, batch);
}
/** Symmetric with eigenvalues >= 0.8 apart: diag(1, 2.5, 4) + 0.2 sym(M). */
function separated(r: () => number, batch: number[] = []): A {
  const ms = Array.from({ length: sizeOf(batch) }, () => {
    const m = Array.from({ length: 3 }, () => Array.from({ length: 3 }, r));
    return sym(m).map((row, i) => row.map((v, j) => 0.2 * v + (i === j ? [1, 2.5, 4][i]! : 0)));
  });
  return fromMats(ms, batch);
}

describe("linalg derivatives match finite differences (checkGrads, order 2, fwd and rev)", () => {
  const r = seeded(7, -1, 1);
  const opts = { order: 2, modes: ["fwd", "rev"] as ("fwd" | "rev")[] };

  it("solve, in both arguments, vector and matrix right-hand sides, batched", () => {
    checkGrads((a: A, b: A) => nb.linalg.solve(a, b), [wc(r, 3, [], true), randn(r, [3, 2])], opts);
    checkGrads((a: A, b: A) => nb.linalg.solve(a, b), [wc(r, 3), randn(r, [3])], opts);
    checkGrads((a: A, b: A) => nb.linalg.solve(a, b), [wc(r, 2, [2]), randn(r, [2, 2, 1])], opts);
  });

  it("triangularSolve, in both arguments, for lower / upper and transposeA", () => {
    for (const lower of [true, false])
      for (const transposeA of [false, true])
        checkGrads(
          (a: A, b: A) => nb.linalg.triangularSolve(a, b, { lower, transposeA }),
          [wc(r, 3), randn(r, [3, 2])],
          opts,
        );
  });

  it("inv, det and slogdet (order 3 for det)", () => {
    checkGrads((a: A) => nb.linalg.inv(a), [wc(r, 3, [], true)], opts);
    checkGrads((a: A) => nb.linalg.det(a), [wc(r, 3, [], true)], { ...opts, order: 3 });
    checkGrads((a: A) => nb.linalg.slogdet(a)[1], [wc(r, 3, [2], true)], opts);
    // slogdet as a pair: the sign is piecewise constant (zero derivative)
    checkGrads((a: A) => nb.linalg.slogdet(a), [wc(r, 2, [], true)], opts);
  });

  it("cholesky: general tangents (only the symmetric part matters) and a symmetric parametrisation", () => {
    checkGrads((a: A) => nb.linalg.cholesky(a), [spdOf(r, 3)], opts);
    checkGrads((a: A) => nb.linalg.cholesky(a), [spdOf(r, 2, [2])], opts);
    // S = P Pᵀ + 2I, perturbing P: symmetric perturbations of S
    checkGrads(
      (p: A) => nb.linalg.cholesky(nb.add(nb.matmul(p, nb.transpose(p)), nb.mul(nb.eye(3), 2))),
      [randn(r, [3, 3])],
      opts,
    );
  });

  it("cholesky and eigh ignore antisymmetric tangents (their input is symmetrised)", () => {
    const k = randn(r, [3, 3]);
    const anti = nb.sub(k, nb.transpose(k));
    const [, tl] = nb.jvp((a: A) => nb.linalg.cholesky(a), [spdOf(r, 3)], [anti]) as [A, A];
    expect(Math.max(...vals(tl).map(Math.abs))).toBeLessThanOrEqual(1e-13);
    const [, [tw, tv]] = nb.jvp((a: A) => nb.linalg.eigh(a), [separated(r)], [anti]) as [unknown, [A, A]];
    expect(Math.max(...vals(tw).map(Math.abs), ...vals(tv).map(Math.abs))).toBeLessThanOrEqual(1e-13);
  });

  it("qr: both factors (full column rank, m > n and m = n)", () => {
    checkGrads(
      (a: A) => nb.linalg.qr(a),
      [
        nb.add(
          randn(r, [4, 3]),
          nb.pad(nb.eye(3), [
            [0, 1],
            [0, 0],
          ]),
        ),
      ],
      opts,
    );
    checkGrads((a: A) => nb.linalg.qr(a), [wc(r, 3)], opts);
    checkGrads((a: A) => nb.linalg.qr(a), [randn(r, [2, 3, 2])], opts);
  });

  it("eigh: eigenvalues, eigenvectors, and a sign-invariant function of the eigenvectors", () => {
    checkGrads((a: A) => nb.linalg.eigh(a)[0], [separated(r)], opts);
    checkGrads((a: A) => nb.linalg.eigh(a), [separated(r)], opts);
    checkGrads((a: A) => nb.linalg.eigh(a), [separated(r, [2])], opts);
    // V diag(w³) Vᵀ = S³ whatever the eigenvectors' signs
    checkGrads(
      (a: A) => {
        const [w, v] = nb.linalg.eigh(a);
        return nb.matmul(nb.mul(v, nb.pow(w, 3)), nb.transpose(v));
      },
      [separated(r)],
      opts,
    );
  });

  it("norm (vector 2, 3, 1, Infinity along an axis; matrix fro, 1, Infinity, 2, -2, nuc; away from kinks)", () => {
    const x = nb.array([
      [0.7, -1.3, 0.4],
      [2.1, -0.6, 1.1],
    ]);
    checkGrads((v: A) => nb.linalg.norm(v), [x], opts);
    checkGrads((v: A) => nb.linalg.norm(v, 2, 1), [x], opts);
    checkGrads((v: A) => nb.linalg.norm(v, 3, 1), [x], opts);
    checkGrads((v: A) => nb.linalg.norm(v, 1, 0), [x], opts);
    checkGrads((v: A) => nb.linalg.norm(v, Infinity, 1), [x], opts);
    for (const ord of ["fro", 1, Infinity, 2, -2, "nuc"] as const)
      checkGrads((v: A) => nb.linalg.norm(v, ord), [x], opts);
  });

  it("norm 2 at rank-deficient matrices: gradient u₁v₁ᵀ (closed form) and second order against finite differences", () => {
    // σ₁ is simple at each of these, so ‖A‖₂ is smooth there although another singular value is 0
    const cases: [number[][], number[][]][] = [
      [
        [
          [1, 0],
          [0, 0],
        ],
        [
          [1, 0],
          [0, 0],
        ],
      ],
      [
        [
          [3, 0],
          [4, 0],
        ],
        [
          [0.6, 0],
          [0.8, 0],
        ],
      ],
      [
        [
          [1, 2],
          [2, 4],
          [0, 0],
        ],
        [
          [0.2, 0.4],
          [0.4, 0.8],
          [0, 0],
        ],
      ],
      [
        [
          [1, 2, 0],
          [2, 4, 0],
        ],
        [
          [0.2, 0.4, 0],
          [0.4, 0.8, 0],
        ],
      ],
    ];
    for (const [a, g] of cases) {
      const norm2 = (v: A): A => nb.linalg.norm(v, 2);
      for (const d of [nb.grad(norm2), nb.jit(nb.grad(norm2)), nb.jacfwd(norm2)]) {
        const got = d(nb.array(a)).toArray() as number[][];
        got.flat().forEach((v, i) => expect(Math.abs(v - g.flat()[i]!)).toBeLessThan(1e-12));
      }
      checkGrads(norm2, [nb.array(a)], opts);
    }
    // at [[1, 0], [0, 0]]: ‖A + E‖₂ = 1 + E₀₀ + (E₀₁² + E₁₀²)/2 + O(|E|³), so the Hessian is 1 at (01, 01) and (10, 10)
    const h = vals(
      nb.hessian((v: A) => nb.linalg.norm(v, 2))(
        nb.array([
          [1, 0],
          [0, 0],
        ]),
      ),
    );
    expect(h).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].map((_, k) => (k === 5 || k === 10 ? 1 : 0)));
  });

  it("checkGrads catches a wrong derivative here (the harness is not vacuous)", () => {
    // AD sees d det / dA only, finite differences see d(det + sum A) / dA: they differ by 1 per entry
    const wrong = (a: A): A => nb.add(nb.linalg.det(a), nb.stopGradient(nb.sum(a)));
    expect(() => checkGrads(wrong, [wc(r, 2)], { order: 1, modes: ["fwd"] })).toThrow();
  });
});

// ---------------------------------------------------------------------------
// errors

describe("linalg errors", () => {
  const rect = nb.zeros([2, 3]);
  it("non-square matrices throw ShapeError", () => {
    expect(() => nb.linalg.solve(rect, nb.zeros([2]))).toThrow(nb.ShapeError);
    expect(() => nb.linalg.triangularSolve(rect, nb.zeros([2]))).toThrow(nb.ShapeError);
    expect(() => nb.linalg.inv(rect)).toThrow(nb.ShapeError);
    expect(() => nb.linalg.det(rect)).toThrow(nb.ShapeError);
    expect(() => nb.linalg.slogdet(rect)).toThrow(nb.ShapeError);
    expect(() => nb.linalg.cholesky(rect)).toThrow(nb.ShapeError);
    expect(() => nb.linalg.eigh(rect)).toThrow(nb.ShapeError);
    // 1-D and 0-D inputs
    expect(() => nb.linalg.inv(nb.zeros([3]))).toThrow(nb.ShapeError);
    expect(() => nb.linalg.det(nb.zeros([]))).toThrow(nb.ShapeError);
  });

  it("qr of a wide matrix (m < n) throws ShapeError", () => {
    expect(() => nb.linalg.qr(rect)).toThrow(nb.ShapeError);
    expect(() => nb.linalg.qr(nb.zeros([3]))).toThrow(nb.ShapeError);
  });

  it("misaligned right-hand sides throw ShapeError", () => {
    expect(() => nb.linalg.solve(nb.eye(3), nb.zeros([2]))).toThrow(nb.ShapeError);
    expect(() => nb.linalg.solve(nb.eye(3), nb.zeros([2, 1]))).toThrow(nb.ShapeError);
    expect(() => nb.linalg.triangularSolve(nb.eye(3), nb.zeros([4, 2]))).toThrow(nb.ShapeError);
  });

  it("bool matrices throw DTypeError", () => {
    const b = nb.array([
      [true, false],
      [false, true],
    ]);
    expect(() => nb.linalg.solve(b, nb.ones([2]))).toThrow(nb.DTypeError);
    expect(() => nb.linalg.inv(b)).toThrow(nb.DTypeError);
    expect(() => nb.linalg.det(b)).toThrow(nb.DTypeError);
    expect(() => nb.linalg.slogdet(b)).toThrow(nb.DTypeError);
    expect(() => nb.linalg.cholesky(b)).toThrow(nb.DTypeError);
    expect(() => nb.linalg.eigh(b)).toThrow(nb.DTypeError);
    expect(() => nb.linalg.triangularSolve(b, nb.ones([2]))).toThrow(nb.DTypeError);
  });

  it("int32 matrices are promoted to float64 (JAX semantics), but cannot be differentiated (DTypeError)", () => {
    const i = nb
      .array([
        [2, 1],
        [1, 3],
      ])
      .astype("int32");
    const x = nb.linalg.solve(i, [3, 4]);
    expect(x.dtype).toBe("float64");
    expect(vals(x)).toEqual([1, 1]);
    expect(nb.linalg.det(i).dtype).toBe("float64");
    expect(Math.abs(nb.linalg.det(i).item() - 5)).toBeLessThanOrEqual(1e-14);
    expect(() => nb.grad((a: A) => nb.linalg.det(a))(i)).toThrow(nb.DTypeError);
    expect(() => nb.grad((a: A) => nb.sum(nb.linalg.cholesky(a)))(i)).toThrow(nb.DTypeError);
  });

  it("every error is a NablaError whose message names the operation and the shape", () => {
    try {
      nb.linalg.inv(rect);
      expect.fail("inv of a 2x3 matrix did not throw");
    } catch (e) {
      expect(e).toBeInstanceOf(nb.NablaError);
      expect(String((e as Error).message)).toMatch(/inv/);
      expect(String((e as Error).message)).toMatch(/2,\s*3|2x3|\[2, ?3\]/);
    }
  });
});
