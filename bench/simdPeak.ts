/**
 * The measured WebAssembly SIMD peak of this machine (issue 8), one thread: a
 * hand-written loop of independent f32x4 / f64x2 multiply and add chains on
 * locals only (no memory). Per iteration each of `n` chains does
 * x = x · c (c = 1, so x stays put) and s = s + x: n multiplies and n adds,
 * independent across chains, so with enough chains the loop runs at the
 * issue rate of the vector units (Zen 4: 2 FP mul + 2 FP add per cycle).
 * A single dependent chain of adds gives the add latency, from which the
 * clock is estimated (Zen 4: 3 cycles per vaddps/vaddpd).
 *
 *   node --import tsx bench/simdPeak.ts
 */
import { Code, F64, I32, OP, SIMD, V128, body, moduleBytes } from "../src/kernels/wasm/encoder.js";

/** peak(iters) → f64: n chains of (x·c, s+x) for `iters` iterations; returns lane 0 of Σs. */
function chains(f64: boolean, n: number, unroll: number): number[] {
  const iters = 0;
  const cst = 1; // v128 locals from 1
  const x = (i: number) => 2 + i;
  const s = (i: number) => 2 + n + i;
  const mul = f64 ? SIMD.f64x2Mul : SIMD.f32x4Mul;
  const add = f64 ? SIMD.f64x2Add : SIMD.f32x4Add;
  const c = new Code();
  const one = new Uint8Array(f64 ? new Float64Array([1, 1]).buffer : new Float32Array([1, 1, 1, 1]).buffer);
  const small = new Uint8Array(
    f64 ? new Float64Array([1e-3, 1e-3]).buffer : new Float32Array([1e-3, 1e-3, 1e-3, 1e-3]).buffer,
  );
  c.v128(one).set(cst);
  for (let i = 0; i < n; i++) c.v128(small).set(x(i)).v128zero().set(s(i));
  c.op(OP.loop).op(OP.void);
  for (let u = 0; u < unroll; u++)
    for (let i = 0; i < n; i++) {
      c.get(x(i)).get(cst).simd(mul).set(x(i));
      c.get(s(i)).get(x(i)).simd(add).set(s(i));
    }
  c.get(iters).i32(1).op(OP.i32Sub).tee(iters).op(OP.brIf).op(0);
  c.op(OP.end);
  // Σ s, lane 0 (keeps every chain live)
  c.get(s(0));
  for (let i = 1; i < n; i++) c.get(s(i)).simd(add);
  if (f64) c.lane(SIMD.f64x2ExtractLane, 0);
  else c.lane(SIMD.f32x4ExtractLane, 0).op(0xbb); // f64.promote_f32
  return body([[1 + 2 * n, V128]], c);
}

/** lat(iters) → f64: one dependent chain of f64x2 adds (unrolled 8×). */
function latency(): number[] {
  const c = new Code();
  c.v128zero().set(1);
  const inc = new Uint8Array(new Float64Array([1, 1]).buffer);
  c.v128(inc).set(2);
  c.op(OP.loop).op(OP.void);
  for (let u = 0; u < 8; u++) c.get(1).get(2).simd(SIMD.f64x2Add).set(1);
  c.get(0).i32(1).op(OP.i32Sub).tee(0).op(OP.brIf).op(0);
  c.op(OP.end);
  c.get(1).lane(SIMD.f64x2ExtractLane, 0);
  return body([[2, V128]], c);
}

const T = { params: [I32], results: [F64] };
const CHAINS = [1, 2, 4, 5, 6, 7];
const UNROLL = 4;
const funcs = [{ name: "lat", type: T, body: latency() }];
for (const f64 of [false, true])
  for (const n of CHAINS) funcs.push({ name: `${f64 ? "f64" : "f32"}_${n}`, type: T, body: chains(f64, n, UNROLL) });
const mod = new WebAssembly.Instance(
  new WebAssembly.Module(moduleBytes({ memory: { import: false, minPages: 1 }, funcs })),
  {},
);
const ex = mod.exports as Record<string, (iters: number) => number>;
const fn = (name: string): ((iters: number) => number) => {
  const f = ex[name];
  if (f === undefined) throw new Error(`simdPeak: no export ${name}`);
  return f;
};

function time(f: (n: number) => number, iters: number): number {
  let best = Infinity;
  for (let r = 0; r < 15; r++) {
    const t0 = process.hrtime.bigint();
    f(iters);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

export interface SimdPeak {
  /** Clock estimate from the dependent add chain (3 cycles per add, Zen 4). */
  readonly ghz: number;
  /** Best GFLOP/s over the chain counts, one thread. */
  readonly float32: number;
  readonly float64: number;
  /** One line per measurement. */
  readonly lines: readonly string[];
}

/** Measures the one-thread WebAssembly SIMD peak (about a second). */
export function measureSimdPeak(iters = 20_000_000): SimdPeak {
  const lines: string[] = [];
  fn("lat")(1000);
  const lat = time(fn("lat"), iters / 4);
  const addsPerSec = ((iters / 4) * 8) / lat;
  const ghz = (addsPerSec * 3) / 1e9; // Zen 4 vaddpd latency: 3 cycles
  lines.push(
    `dependent f64x2.add chain: ${(1e9 / addsPerSec).toFixed(3)} ns/add -> ~${ghz.toFixed(2)} GHz if 3 cycles`,
  );
  const best = { float32: 0, float64: 0 };
  for (const f64 of [false, true])
    for (const n of CHAINS) {
      const f = fn(`${f64 ? "f64" : "f32"}_${n}`);
      f(1000);
      const it = iters / UNROLL / Math.max(1, n / 2);
      const t = time(f, it);
      const lanes = f64 ? 2 : 4;
      const flops = it * UNROLL * n * 2 * lanes;
      const gf = flops / t / 1e9;
      const k = f64 ? "float64" : "float32";
      best[k] = Math.max(best[k], gf);
      lines.push(
        `${f64 ? "f64x2" : "f32x4"} ${n} chains: ${gf.toFixed(1)} GFLOP/s, ${(gf / ghz).toFixed(2)} FLOP/cycle, ` +
          `${((it * UNROLL * n * 2) / t / ghz / 1e9).toFixed(2)} vector ops/cycle`,
      );
    }
  return { ghz, ...best, lines };
}

if (import.meta.url === `file://${process.argv[1]}`) for (const l of measureSimdPeak().lines) console.log(l);
