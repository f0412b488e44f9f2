/**
 * Late-bound references to transforms, for primitive rules that need them
 * (custom rules batch and differentiate user functions). Filled in by the
 * transform modules when they load, which avoids import cycles.
 */
import type { NDArray } from "./ndarray.js";

export interface Hooks {
  /** vmap over flat lists with every input and output batched at axis 0. */
  vmapFlat(f: (xs: NDArray[]) => NDArray[], xs: NDArray[]): NDArray[];
  /** Forward mode over flat lists (null tangent = zero). */
  jvpFlat(
    f: (xs: NDArray[]) => NDArray[],
    primals: NDArray[],
    tangents: (NDArray | null)[],
  ): [NDArray[], (NDArray | null)[]];
  /** Reverse mode over flat lists: the cotangents of the inputs. */
  vjpFlat(f: (xs: NDArray[]) => NDArray[], primals: NDArray[], cts: (NDArray | null)[]): NDArray[];
}

export const HOOKS: Partial<Hooks> = {};

export function hook<K extends keyof Hooks>(k: K): Hooks[K] {
  const h = HOOKS[k];
  if (h === undefined) throw new Error(`internal: transform hook ${k} is not installed`);
  return h;
}
