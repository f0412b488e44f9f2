/**
 * Accuracy of the WebAssembly SIMD transcendentals (src/kernels/wasm/vmath.ts)
 * against correctly rounded float64 references from mpmath
 * (test/fixtures/wasm_math_ref.json, made by wasm_math_ref.py beside it:
 * special points incl. NaN, ±Infinity, ±0, subnormals and the overflow
 * thresholds, dense sweeps, and log-uniform random inputs over the domain).
 *
 * Stated accuracy: float64 within 2 ulp of the correctly rounded value (ulp
 * distance = difference of the ordered bit patterns; NaN must give NaN, and
 * ±0 must keep its sign where the reference has one); float32 within 1 ulp of
 * the correctly rounded float32 value.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as S from "../src/kernels/scalar.js";
import { compileElementwise, wasmElementwiseAvailable } from "../src/kernels/wasm/elementwise.js";

// NABLA_WASM_MATH_FIXTURE: a larger fixture made by wasm_math_ref.py (see its header) for a long run
const FIXTURE_PATH =
  process.env["NABLA_WASM_MATH_FIXTURE"] ?? new URL("./fixtures/wasm_math_ref.json", import.meta.url);
const FIXTURE = JSON.parse(readFileSync(FIXTURE_PATH, "utf8")) as Record<string, string>;
// NABLA_WASM_MATH_REPORT=1 prints each function's worst ulp
const REPORT = process.env["NABLA_WASM_MATH_REPORT"] === "1";

function decode(hex: string): [Float64Array, Float64Array] {
  const n = hex.length / 32;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  const dv = new DataView(new ArrayBuffer(8));
  const read = (o: number) => {
    dv.setBigUint64(0, BigInt("0x" + hex.slice(o, o + 16)));
    return dv.getFloat64(0);
  };
  for (let i = 0; i < n; i++) {
    xs[i] = read(32 * i);
    ys[i] = read(32 * i + 16);
  }
  return [xs, ys];
}

const bits64 = new Float64Array(1);
const ints64 = new BigInt64Array(bits64.buffer);
/** Position of a double on the ordered line of doubles (−0 and +0 both 0). */
function ord64(v: number): bigint {
  bits64[0] = v;
  const b = ints64[0]!;
  return b < 0n ? -(b & 0x7fffffffffffffffn) : b;
}
/** ulp distance; Infinity for a NaN mismatch or a wrong-signed zero. */
export function ulp64(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === 0 && b === 0) return Object.is(a, b) ? 0 : Infinity;
  const d = ord64(a) - ord64(b);
  return Number(d < 0n ? -d : d);
}
const bits32 = new Float32Array(1);
const ints32 = new Int32Array(bits32.buffer);
function ord32(v: number): number {
  bits32[0] = v;
  const b = ints32[0]!;
  return b < 0 ? -(b & 0x7fffffff) : b;
}
function ulp32(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === 0 && b === 0) return Object.is(a, b) ? 0 : Infinity;
  return Math.abs(ord32(a) - ord32(b));
}

const FNS = [
  "exp",
  "expm1",
  "log",
  "log1p",
  "sin",
  "cos",
  "tan",
  "sinh",
  "cosh",
  "tanh",
  "erf",
  "logistic",
  "softplus",
] as const;

function kernel(op: string, dtype: "float32" | "float64") {
  const k = compileElementwise({ dtype, scalarIn: [false], ops: [{ op, args: [0] }], outs: [1], sum: null });
  if (k === null) throw new Error(`no kernel for ${op}`);
  return k;
}

describe.skipIf(!wasmElementwiseAvailable())("WASM SIMD transcendentals", () => {
  for (const name of FNS)
    it(`${name} float64: within 2 ulp of the correctly rounded value on ${FIXTURE[name]!.length / 32} points`, () => {
      const [xs, ys] = decode(FIXTURE[name]!);
      const out = new Float64Array(xs.length);
      kernel(name, "float64")([xs], [out], xs.length);
      let worst = 0;
      let at = 0;
      for (let i = 0; i < xs.length; i++) {
        const u = ulp64(out[i]!, ys[i]!);
        if (u > worst) [worst, at] = [u, i];
      }
      if (REPORT) console.log(`${name} float64: worst ${worst} ulp at ${xs[at]} (${xs.length} points)`);
      // 2 ulp: the stated bound (each kernel's rounding budget is in vmath.ts)
      expect(worst, `${name}(${xs[at]}) = ${out[at]}, reference ${ys[at]}`).toBeLessThanOrEqual(2);
    });

  // The JS path (the rows' scalar functions, used where WebAssembly is unavailable and below the size
  // threshold) meets the same stated float64 bound on the same points, so the two paths agree within it.
  const JS: Record<string, (x: number) => number> = {
    exp: Math.exp,
    expm1: Math.expm1,
    log: Math.log,
    log1p: Math.log1p,
    sin: Math.sin,
    cos: Math.cos,
    tan: Math.tan,
    sinh: Math.sinh,
    cosh: Math.cosh,
    tanh: Math.tanh,
    erf: S.erf,
    logistic: S.logistic,
    softplus: S.softplus,
  };
  for (const [name, f] of Object.entries(JS))
    it(`${name}: the JS path is within 2 ulp of the correctly rounded value too`, () => {
      const [xs, ys] = decode(FIXTURE[name]!);
      let worst = 0;
      let at = 0;
      for (let i = 0; i < xs.length; i++) {
        const u = ulp64(f(xs[i]!), ys[i]!);
        if (u > worst) [worst, at] = [u, i];
      }
      if (REPORT) console.log(`${name} JS float64: worst ${worst} ulp at ${xs[at]}`);
      expect(worst, `JS ${name}(${xs[at]}) = ${f(xs[at]!)}, reference ${ys[at]}`).toBeLessThanOrEqual(2);
    });

  // float32: every 4099th float32 bit pattern (about a million inputs over both signs and all exponents;
  // NABLA_WASM_F32_STRIDE=1 is the exhaustive run;
  // NaN/±Inf/±0/subnormals included), against Math.fround of the host's float64 Math function. fdlibm's
  // float64 results (V8) are within 1 float64 ulp, so fround of them is the correctly rounded float32 value
  // except within 2^-28 float32 ulp of a midpoint, where it is one of the two neighbours; the kernel's
  // result is fround of a value within 2 float64 ulp, so the two differ by at most 1 float32 ulp there.
  const HOST: Record<string, (x: number) => number> = {
    exp: Math.exp,
    expm1: Math.expm1,
    log: Math.log,
    log1p: Math.log1p,
    sin: Math.sin,
    cos: Math.cos,
    tan: Math.tan,
    sinh: Math.sinh,
    cosh: Math.cosh,
    tanh: Math.tanh,
    // the JS kernels' float64 formulas (a few float64 ulp, erf's ~1e-15: far below float32's resolution; the
    // band near midpoints where fround of them can be the other neighbour widens, still to 1 ulp at most)
    erf: S.erf,
    logistic: S.logistic,
    softplus: S.softplus,
  };
  const STRIDE = Number(process.env["NABLA_WASM_F32_STRIDE"] ?? 4099);
  const all = new Int32Array(Math.ceil(2 ** 32 / STRIDE));
  for (let i = 0, b = 0; i < all.length; i++, b += STRIDE) all[i] = b | 0;
  const inputs = new Float32Array(all.buffer);
  for (const [name, f] of Object.entries(HOST))
    it(`${name} float32: within 1 ulp of the correctly rounded float32 on ${inputs.length} strided inputs`, () => {
      const out = new Float32Array(inputs.length);
      kernel(name, "float32")([inputs], [out], inputs.length);
      let worst = 0;
      let at = 0;
      for (let i = 0; i < inputs.length; i++) {
        const u = ulp32(out[i]!, Math.fround(f(inputs[i]!)));
        if (u > worst) [worst, at] = [u, i];
      }
      if (REPORT) console.log(`${name} float32: worst ${worst} ulp at ${inputs[at]} (${inputs.length} inputs)`);
      expect(worst, `${name}(${inputs[at]}) = ${out[at]}`).toBeLessThanOrEqual(1);
    });
});

// Every float32 input, in chunks (NABLA_WASM_F32_EXHAUSTIVE=tanh,sin,... names the functions; a few
// minutes each): the same criterion as the strided run above, over all 2^32 bit patterns.
const EXHAUSTIVE = (process.env["NABLA_WASM_F32_EXHAUSTIVE"] ?? "").split(",").filter((s) => s !== "");
describe.skipIf(!wasmElementwiseAvailable() || EXHAUSTIVE.length === 0)("float32 kernels on every input", () => {
  const HOST32: Record<string, (x: number) => number> = {
    exp: Math.exp,
    sin: Math.sin,
    cos: Math.cos,
    tanh: Math.tanh,
  };
  for (const name of EXHAUSTIVE)
    it(
      `${name} float32: within 1 ulp of the correctly rounded float32 on all 2^32 inputs`,
      { timeout: 3_600_000 },
      () => {
        const f = HOST32[name];
        if (f === undefined) throw new Error(`NABLA_WASM_F32_EXHAUSTIVE: no host reference for ${name}`);
        const k = kernel(name, "float32");
        const CH = 1 << 22;
        const bits = new Int32Array(CH);
        const xs = new Float32Array(bits.buffer);
        const out = new Float32Array(CH);
        let worst = 0;
        let worstX = 0;
        for (let base = 0; base < 2 ** 32; base += CH) {
          for (let i = 0; i < CH; i++) bits[i] = (base + i) | 0;
          k([xs], [out], CH);
          for (let i = 0; i < CH; i++) {
            const u = ulp32(out[i]!, Math.fround(f(xs[i]!)));
            if (u > worst) [worst, worstX] = [u, xs[i]!];
          }
        }
        if (REPORT) console.log(`${name} float32: worst ${worst} ulp at ${worstX} (all inputs)`);
        expect(worst, `${name}(${worstX})`).toBeLessThanOrEqual(1);
      },
    );
});
