/**
 * Random differentiable programs (`arbProgram`: smooth elementwise maps,
 * safe division and powers, keepdims reductions, softmax, reshape/transpose,
 * matmul chains, rolls, masked selects) checked with `checkGrads` against
 * central differences: order 2 in both modes (fwd, rev, fwd∘fwd, rev∘fwd,
 * fwd∘rev, rev∘rev) on every program, and order 3 on shallower ones.
 *
 * NABLA_FC_RUNS (default 10) scales the run counts; NABLA_FC_SEED fixes the
 * seed. On failure fast-check prints the seed and the shrunk program (its
 * expression and constants) with the input.
 */
import { it } from "vitest";
import fc from "fast-check";
import type { NDArray } from "../../src/index.js";
import { arbProgram, checkGrads, type Program } from "../../src/testing/index.js";
import { fcSettings } from "../support/rng.js";

const { SEED, RUNS } = fcSettings({ seed: 20240917, runs: 10 });

/** A program with an input drawn from its input arbitrary. */
const withInput = (p: fc.Arbitrary<Program>): fc.Arbitrary<[Program, NDArray]> =>
  p.chain((q) => q.input.map((x) => [q, x] as [Program, NDArray]));

it("random programs: derivatives to order 2 in both modes match central differences", () => {
  fc.assert(
    fc.property(withInput(arbProgram({ maxDepth: 4 })), ([p, x]) => {
      checkGrads(p.f, [x], { order: 2, modes: ["fwd", "rev"] });
    }),
    { seed: SEED, numRuns: 3 * RUNS },
  );
});

it("random programs: order 3 in every composition of modes (shallower programs)", () => {
  fc.assert(
    fc.property(withInput(arbProgram({ maxDepth: 2 })), ([p, x]) => {
      checkGrads(p.f, [x], { order: 3, modes: ["fwd", "rev"] });
    }),
    { seed: SEED + 1, numRuns: RUNS },
  );
});
