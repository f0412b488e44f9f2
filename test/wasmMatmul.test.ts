/**
 * The WebAssembly SIMD matmul kernel (src/core/wasmMatmul.ts) against a plain-JS
 * triple loop in float64 written here.
 *
 * Inputs are uniform in [-1, 1) from a seeded generator, rounded to the
 * kernel's dtype first, so the reference sees exactly the numbers the kernel
 * sees. Tolerances, per output c = Σ_k a_k b_k with S = Σ_k |a_k||b_k|:
 * - float64: the kernel computes the same ascending-k sum of rounded products
 *   as the reference (so in practice the results are bit-identical), but we
 *   only assert the standard dot-product bound |ĉ − c| <= γ_K·S with
 *   u = 2^-53, γ_K ≈ K·u, for each of the two computations: 2·K·2^-53·S, taken
 *   as 1e-12·S (K <= 513 here, so 2·K·2^-53 <= 1.2e-13; 8x headroom), so
 *   a future reordering (FMA, split accumulators) still passes while a wrong
 *   index (an O(S) error) fails by ten orders.
 * - float32: the kernel rounds every product and partial sum to float32, so
 *   |ĉ − c| <= γ_K·S with u = 2^-24 (Higham, Accuracy and Stability, 3.1),
 *   where c is the exact sum; the float64 reference is within K·2^-53·S of c.
 *   We assert |ĉ − ref| <= 1.01·K·2^-24·S + 1e-300.
 * - K = 0: every output is exactly 0.
 *
 * Timing (wasm vs the JS kernel at 128² and 256²) is printed, never asserted.
 */
import { describe, expect, it, vi } from "vitest";
import { WASM_MATMUL_MIN_WORK, moduleBytes, wasmMatmul, wasmMatmulAvailable } from "../src/kernels/wasmMatmul.js";
import { matmul } from "../src/kernels/matmul.js";
import { ConcreteArray } from "../src/core/ndarray.js";
import { seeded } from "./support/rng.js";

type Dt = "float32" | "float64";

function randomArray(dt: Dt, n: number, next: () => number): Float32Array | Float64Array {
  const x = dt === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = 2 * next() - 1;
  return x;
}

/** Reference product in float64 plus S[i,j] = Σ_k |a||b|. */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number) {
  const c = new Float64Array(M * N);
  const s = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let acc = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        const p = a[i * K + k]! * b[k * N + j]!;
        acc += p;
        abs += Math.abs(p);
      }
      c[i * N + j] = acc;
      s[i * N + j] = abs;
    }
  return { c, s };
}

function tolerance(dt: Dt, K: number, S: number): number {
  return dt === "float64" ? 1e-12 * S : 1.01 * K * 2 ** -24 * S + 1e-300;
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 1],
  [2, 3, 1],
  [3, 5, 2],
  [5, 1, 3],
  [4, 4, 4],
  [7, 9, 11],
  [9, 2, 8],
  [13, 17, 3],
  [4, 0, 5],
  [0, 3, 4],
  [3, 4, 0],
  [1, 64, 64],
  [64, 64, 1],
  [16, 16, 16],
  [32, 16, 32], // panel stride 128 B (float32) / 256 B: the padded-stride path
  [67, 131, 45],
  // threads branch: K blocks of 256 (a partial last block), column blocks of 8 panels
  // (64 float32 / 32 float64 columns) with a partial last panel, tall and wide
  [5, 300, 67],
  [67, 257, 70],
  [300, 3, 5],
  [3, 5, 300],
  [1, 513, 1],
];

const maybe = wasmMatmulAvailable ? describe : describe.skip;
if (!wasmMatmulAvailable) console.warn("wasmMatmul tests skipped: WebAssembly SIMD is unavailable in this runtime");

describe("wasmMatmul module", () => {
  it.skipIf(!wasmMatmulAvailable)("returns null (the JS kernel) when the operands' layout passes 2 GiB", () => {
    // A alone is M·K·4 = 2^32 bytes: rounded up to 16 with 32-bit integer arithmetic, B's offset
    // would wrap to 0 and the whole layout look 2 MiB long. The check runs before any operand
    // is read, so short placeholder arrays stand in for A and B.
    expect(wasmMatmul(new Float32Array(4), new Float32Array(4), 32768, 32768, 1, "float32", 0)).toBeNull();
    expect(wasmMatmul(new Float64Array(4), new Float64Array(4), 16384, 16384, 2, "float64", 0)).toBeNull();
  });

  it("the emitted bytes are a wasm module (validate agrees with availability)", () => {
    const bytes = moduleBytes();
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect(typeof WebAssembly === "object" && WebAssembly.validate(bytes)).toBe(wasmMatmulAvailable);
  });

  it("reports unavailable (and returns null) when validation fails or WebAssembly throws", async () => {
    for (const stub of [
      () => false,
      () => {
        throw new Error("no wasm");
      },
    ]) {
      vi.resetModules();
      const spy = vi.spyOn(WebAssembly, "validate").mockImplementation(stub);
      try {
        const m = await import("../src/kernels/wasmMatmul.js");
        expect(m.wasmMatmulAvailable).toBe(false);
        expect(m.wasmMatmul(new Float64Array(64 * 64), new Float64Array(64 * 64), 64, 64, 64, "float64", 0)).toBeNull();
      } finally {
        spy.mockRestore();
        vi.resetModules();
      }
    }
  });
});

maybe("wasmMatmul", () => {
  for (const dt of ["float32", "float64"] as const) {
    it(`${dt}: matches a float64 triple loop on fixed and random shapes`, () => {
      const next = seeded(dt === "float32" ? 1 : 2);
      const shapes = [...SHAPES];
      for (let t = 0; t < 30; t++)
        shapes.push([1 + Math.floor(next() * 20), Math.floor(next() * 20), 1 + Math.floor(next() * 20)]);
      // every M from 1 to 67 (whole and partial 4-row blocks and row chunks), random K and N up to 67
      for (let M = 1; M <= 67; M++) shapes.push([M, 1 + Math.floor(next() * 67), 1 + Math.floor(next() * 67)]);
      for (const [M, K, N] of shapes) {
        const a = randomArray(dt, M * K, next);
        const b = randomArray(dt, K * N, next);
        const c = wasmMatmul(a, b, M, K, N, dt, 0);
        expect(c, `${M}x${K}x${N}`).not.toBeNull();
        expect(c).toBeInstanceOf(dt === "float32" ? Float32Array : Float64Array);
        expect(c!.length).toBe(M * N);
        const ref = reference(a, b, M, K, N);
        for (let i = 0; i < M * N; i++) {
          const err = Math.abs(c![i]! - ref.c[i]!);
          if (!(err <= tolerance(dt, K, ref.s[i]!)))
            expect.fail(`${dt} ${M}x${K}x${N} at ${i}: got ${c![i]}, want ${ref.c[i]} (err ${err})`);
          if (K === 0) expect(c![i]).toBe(0);
        }
      }
    });

    it(`${dt}: does not modify its inputs, and repeated calls (memory reuse, growth) agree`, () => {
      const next = seeded(3);
      const a = randomArray(dt, 6 * 5, next);
      const b = randomArray(dt, 5 * 3, next);
      const a0 = a.slice();
      const b0 = b.slice();
      const first = wasmMatmul(a, b, 6, 5, 3, dt, 0)!;
      // a larger product in between grows memory and overwrites the padding
      const big = randomArray(dt, 200 * 200, next);
      wasmMatmul(big, big, 200, 200, 200, dt, 0);
      expect(wasmMatmul(a, b, 6, 5, 3, dt, 0)).toEqual(first);
      expect(a).toEqual(a0);
      expect(b).toEqual(b0);
    });

    it(`${dt}: NaN and Inf propagate to exactly the affected outputs`, () => {
      const [M, K, N] = [6, 5, 7];
      const next = seeded(4);
      const a = randomArray(dt, M * K, next);
      const b = randomArray(dt, K * N, next);
      a[1 * K + 2] = NaN; // row 1 of C is NaN
      b[3 * N + 4] = NaN; // column 4 of C is NaN
      a[4 * K + 0] = Infinity; // row 4: ±Inf where b[0, j] != 0
      b[1 * N + 6] = -Infinity; // column 6: ±Inf (or NaN with row 4's Inf)
      const c = wasmMatmul(a, b, M, K, N, dt, 0)!;
      const ref = reference(a, b, M, K, N).c;
      let nans = 0;
      for (let i = 0; i < M * N; i++) {
        if (Number.isNaN(ref[i]!)) {
          nans++;
          expect(c[i], `at ${i}`).toBeNaN();
        } else if (!Number.isFinite(ref[i]!)) expect(c[i], `at ${i}`).toBe(ref[i]);
        else expect(Number.isFinite(c[i]!), `at ${i}`).toBe(true);
      }
      expect(nans).toBeGreaterThanOrEqual(M + N - 1);
      for (let j = 0; j < N; j++) expect(c[1 * N + j]).toBeNaN();
      for (let i = 0; i < M; i++) expect(c[i * N + 4]).toBeNaN();
    });

    it(`${dt}: returns null below the size threshold and for non-float dtypes`, () => {
      const a = new Float64Array(4);
      expect(wasmMatmul(a, a, 2, 2, 2, dt)).toBeNull();
      expect(WASM_MATMUL_MIN_WORK[dt]).toBeGreaterThan(8);
      expect(wasmMatmul(new Int32Array(4), new Int32Array(4), 2, 2, 2, "int32", 0)).toBeNull();
    });
  }

  it("prints timings against the JS kernel (not asserted)", () => {
    const time = (f: () => unknown): number => {
      for (let i = 0; i < 3; i++) f();
      const ts: number[] = [];
      const t0 = performance.now();
      while (ts.length < 5 || (performance.now() - t0 < 150 && ts.length < 200)) {
        const s = performance.now();
        f();
        ts.push(performance.now() - s);
      }
      ts.sort((x, y) => x - y);
      return ts[ts.length >> 1]!;
    };
    const lines: string[] = [];
    const next = seeded(5);
    for (const n of [128, 256])
      for (const dt of ["float32", "float64"] as const) {
        const a = randomArray(dt, n * n, next);
        const b = randomArray(dt, n * n, next);
        const A = new ConcreteArray(a, [n, n], dt);
        const B = new ConcreteArray(b, [n, n], dt);
        const tj = time(() => matmul(A, B, dt));
        const tw = time(() => wasmMatmul(a, b, n, n, n, dt));
        const gf = (t: number) => ((2 * n * n * n) / t / 1e6).toFixed(1);
        lines.push(
          `${n}x${n} ${dt}: js ${tj.toFixed(2)} ms (${gf(tj)} GFLOP/s), wasm ${tw.toFixed(2)} ms (${gf(tw)} GFLOP/s), ${(tj / tw).toFixed(1)}x`,
        );
      }
    console.log(lines.join("\n"));
  });
});
