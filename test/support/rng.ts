/**
 * The seeded randomness of the tests, in one place: `seeded` (mulberry32) for
 * plain-JS test data, and `fcSettings` for the fast-check properties (whose
 * seed fast-check prints with a counterexample).
 *
 * - `NABLA_FC_SEED`: the seed of the properties, to reproduce a reported failure.
 * - `NABLA_FC_RUNS`: runs per property (a positive integer; the file's default otherwise).
 */
import { onTestFailed } from "vitest";

/** A seeded uniform generator: `r()` in the default range, `r(lo, hi)` in [lo, hi), `r.int(lo, hi)` an integer in [lo, hi). */
export interface Random {
  (lo?: number, hi?: number): number;
  int(lo: number, hi: number): number;
  readonly seed: number;
}

/**
 * mulberry32 from `seed`, uniform in [lo, hi) (default [0, 1)). Created inside
 * a test, a failure of that test prints the seed.
 */
export function seeded(seed: number, lo = 0, hi = 1): Random {
  let s = seed >>> 0;
  const next = (): number => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  try {
    onTestFailed(() => console.error(`test data from seeded(${seed})`));
  } catch {
    // created while collecting tests (module scope): the seed is the literal in the file
  }
  const r = (a = lo, b = hi): number => a + (b - a) * next();
  return Object.assign(r, { int: (a: number, b: number) => a + Math.floor(next() * (b - a)), seed });
}

/**
 * The seed of one property whose file fixes a seed per property: NABLA_FC_SEED
 * when set (so the seed fast-check printed reproduces the failure), else `fixed`.
 */
export function fcSeed(fixed: number): number {
  const seed = Number(process.env.NABLA_FC_SEED);
  return process.env.NABLA_FC_SEED !== undefined && Number.isInteger(seed) ? seed : fixed;
}

/** The seed and runs per property: NABLA_FC_SEED and NABLA_FC_RUNS when set, else the file's defaults. */
export function fcSettings(defaults: { seed: number; runs: number }): { SEED: number; RUNS: number } {
  const runs = Number(process.env.NABLA_FC_RUNS);
  return { SEED: fcSeed(defaults.seed), RUNS: Number.isInteger(runs) && runs > 0 ? runs : defaults.runs };
}
