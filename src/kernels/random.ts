/** Counter-based random number kernels: Threefry-2x32 with 20 rounds. */
// Non-null assertions: only on typed-array reads inside loops, at indices the loop's bounds keep in
// range (see CONTRIBUTING.md, "Non-null assertions").
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { DType, allocate } from "../core/dtype.js";
import { Shape, sizeOf } from "../core/shape.js";

/** Rotation amounts of the four rounds of the even groups (0-3) and of the odd groups (4-7). */
const ROT = Uint8Array.of(13, 15, 26, 6, 17, 29, 16, 24);

/** Threefry-2x32 (20 rounds) of counter (c0, c1) under key (k0, k1); all arithmetic mod 2^32. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  // the key schedule ks = (k0, k1, 0x1bd11bda ^ k0 ^ k1): the input takes ks[0], ks[1] and group g
  // injects ks[(g + 1) % 3], ks[(g + 2) % 3], here (ka, kb), which rotate by one place per group
  let ka = k1 >>> 0;
  let kb = (0x1bd11bda ^ k0 ^ k1) >>> 0;
  let kc = k0 >>> 0;
  let x0 = (c0 + kc) >>> 0;
  let x1 = (c1 + ka) >>> 0;
  for (let g = 0; g < 5; g++) {
    for (let r = 0; r < 4; r++) {
      const rot = ROT[(g % 2) * 4 + r]!;
      x0 = (x0 + x1) >>> 0;
      x1 = ((x1 << rot) | (x1 >>> (32 - rot))) >>> 0;
      x1 = (x1 ^ x0) >>> 0;
    }
    x0 = (x0 + ka) >>> 0;
    x1 = (x1 + kb + g + 1) >>> 0;
    const t = ka;
    ka = kb;
    kb = kc;
    kc = t;
  }
  return [x0, x1];
}

/** `n` 32-bit words from a key: word 2i, 2i+1 = threefry(key, (i, 0)). */
function words(k0: number, k1: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i += 2) {
    const [a, b] = threefry2x32(k0, k1, i >>> 1, 0);
    out[i] = a;
    if (i + 1 < n) out[i + 1] = b;
  }
  return out;
}

/** Random 32-bit words (as int32 bit patterns) of `shape`, for each key in a [..., 2] batch of keys. */
export function randomBits(key: ConcreteArray, shape: Shape): ConcreteArray {
  const nk = storageOf(key).length / 2;
  const n = sizeOf(shape);
  const kd = storageOf(key);
  const out = new Int32Array(nk * n);
  for (let b = 0; b < nk; b++) out.set(new Int32Array(words(kd[2 * b]!, kd[2 * b + 1]!, n).buffer), b * n);
  return new ConcreteArray(out, [...key.shape.slice(0, -1), ...shape], "int32");
}

/** Uniform floats in [0, 1) of `shape` for each key: 53 random bits for float64, 24 for float32. */
export function randomUniform(key: ConcreteArray, shape: Shape, dtype: DType): ConcreteArray {
  const nk = storageOf(key).length / 2;
  const n = sizeOf(shape);
  const kd = storageOf(key);
  const out = allocate(dtype, nk * n);
  for (let b = 0; b < nk; b++) {
    const k0 = kd[2 * b]!;
    const k1 = kd[2 * b + 1]!;
    if (dtype === "float64") {
      const w = words(k0, k1, 2 * n);
      for (let i = 0; i < n; i++)
        out[b * n + i] = ((w[2 * i]! >>> 5) * 67108864 + (w[2 * i + 1]! >>> 6)) / 9007199254740992;
    } else {
      const w = words(k0, k1, n);
      for (let i = 0; i < n; i++) out[b * n + i] = (w[i]! >>> 8) / 16777216;
    }
  }
  return new ConcreteArray(out, [...key.shape.slice(0, -1), ...shape], dtype);
}
