/** Random-number primitives (counter-based, Threefry-2x32): no derivatives. */
import { DTypeError, fmtShape } from "../core/errors.js";
import { Aval, bind1 } from "../core/trace.js";
import * as K from "../kernels/random.js";
import { moveToFront } from "./batching.js";
import { Rule } from "./rule.js";
import type { Params } from "./table.js";

function checkKey(k: Aval): number[] {
  if (k.dtype !== "int32" || k.shape[k.shape.length - 1] !== 2)
    throw new DTypeError(
      `random: a key is an int32 array of shape [2] (from nb.random.key), got ${k.dtype}${fmtShape(k.shape)}`,
    );
  return k.shape.slice(0, -1);
}

// random 32-bit words from a key [..., 2] (Threefry-2x32): no derivative
export const RANDOM_BITS: Rule<Params["random_bits"], 1, 1> = {
  name: "random_bits",
  abstractEval: ([k], { shape }) => [{ shape: [...checkKey(k), ...shape], dtype: "int32", weak: false }],
  impl: ([k], { shape }) => [K.randomBits(k, shape)],
  jvp: () => [null],
  vmap: ([k], [d], p) => [[bind1(RANDOM_BITS, [moveToFront(k, d)], p)], [0]],
};

// uniform floats in [0, 1): a primitive because the bits-to-float conversion needs integer shifts no primitive has
export const RANDOM_UNIFORM: Rule<Params["random_uniform"], 1, 1> = {
  name: "random_uniform",
  abstractEval: ([k], { shape, dtype }) => [{ shape: [...checkKey(k), ...shape], dtype, weak: false }],
  impl: ([k], { shape, dtype }) => [K.randomUniform(k, shape, dtype)],
  jvp: () => [null],
  vmap: ([k], [d], p) => [[bind1(RANDOM_UNIFORM, [moveToFront(k, d)], p)], [0]],
};
