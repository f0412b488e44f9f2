/** The seeded random generator of the gradient checks (random tangents and cotangents). */
import * as nb from "../index.js";
import { isFloatDType } from "./tolerances.js";

type NDArray = nb.NDArray;

/**
 * A seedable pseudo-random generator: a Weyl sequence (steps of the 32-bit
 * golden-ratio constant) hashed by MurmurHash3's 32-bit finalizer, with
 * standard normals by Box–Muller. Deterministic: the same seed gives the
 * same sequence. Statistical quality is ample for random test directions.
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  }
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** An array of standard normals shaped and typed like `like` (zeros for non-float dtypes). */
  like(like: NDArray): NDArray {
    if (!isFloatDType(like.dtype)) return nb.zeros(like.shape, { dtype: like.dtype });
    const d = new Float64Array(like.size);
    for (let i = 0; i < d.length; i++) d[i] = this.normal();
    return nb.array(d, { shape: like.shape, dtype: like.dtype });
  }
}
