/**
 * Every example of examples/ runs at its CI sizes (SMALL, as
 * `npm run example -- NAME --small` does) and reaches the result it claims.
 * Bounds are stated per example; all arithmetic is float64.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import * as cnn from "../examples/cnn.js";
import * as maml from "../examples/maml.js";
import * as newton from "../examples/newton.js";
import * as perexample from "../examples/perexample.js";
import * as pinn from "../examples/pinn.js";

describe("examples", () => {
  it("newton: converges quadratically from (-1.2, 1) to the minimum (1, 1)", () => {
    const lines: string[] = [];
    const r = newton.main({ ...newton.SMALL, log: (l) => lines.push(l) });
    // the minimiser of Rosenbrock is exactly (1, 1); Newton reaches it to rounding
    expect(Math.abs(r.x[0]! - 1)).toBeLessThan(1e-12);
    expect(Math.abs(r.x[1]! - 1)).toBeLessThan(1e-12);
    expect(r.gradNorm).toBeLessThan(1e-10);
    // pure Newton from this start needs a handful of steps (7 here), not dozens
    expect(r.iterations).toBeLessThanOrEqual(10);
    expect(lines.length).toBe(r.iterations + 1); // a line per iteration
    expect(r.values[0]).toBeCloseTo(24.2, 12); // f(-1.2, 1) = 2.2² + 100·0.44²
  });

  it("perexample: vmap(grad) equals a loop of grad; clipped training reduces the loss", () => {
    const lines: string[] = [];
    const r = perexample.main({ ...perexample.SMALL, log: (l) => lines.push(l) });
    // the same float64 operations per example, batched or not: equal to rounding
    expect(r.maxDiffFromLoop).toBeLessThan(1e-14);
    // starting from w = 0 the loss is log 2 exactly
    expect(r.losses[0]).toBeCloseTo(Math.LN2, 14);
    // gradient descent with clipped per-example gradients (step 0.5, convex loss) decreases it every epoch
    for (let e = 1; e < r.losses.length; e++) expect(r.losses[e]!).toBeLessThan(r.losses[e - 1]!);
    expect(r.losses.at(-1)!).toBeLessThan(0.5);
    expect(r.accuracy).toBeGreaterThan(0.75);
    expect(lines.filter((l) => l.startsWith("epoch")).length).toBe(perexample.SMALL.epochs);
  });

  it("perexample: per-example gradients match the closed form (σ(w·x + b) − y)·[x, 1]", () => {
    const { xs, ys } = perexample.makeData(8, 3, 5);
    const p = { w: perexample.makeData(1, 3, 6).xs.reshape([3]), b: perexample.makeData(1, 1, 7).xs.reshape([]) };
    const g = perexample.perExampleGrads(p, xs, ys);
    const X = xs.toArray() as number[][];
    const Y = ys.toArray() as number[];
    const w = p.w.toArray() as number[];
    const gw = g.w.toArray() as number[][];
    const gb = g.b.toArray() as number[];
    X.forEach((x, i) => {
      const z = x.reduce((s, xj, j) => s + xj * w[j]!, p.b.item());
      const err = 1 / (1 + Math.exp(-z)) - Y[i]!;
      x.forEach((xj, j) => expect(Math.abs(gw[i]![j]! - err * xj)).toBeLessThan(1e-14));
      expect(Math.abs(gb[i]! - err)).toBeLessThan(1e-14);
    });
  });

  it("pinn: solves u'' = -π² sin(πx), u(0) = u(1) = 0, to within 1e-3 of sin(πx)", () => {
    const lines: string[] = [];
    const r = pinn.main({ ...pinn.SMALL, log: (l) => lines.push(l) });
    // measured 7.7e-5 at these sizes; 1e-3 is far below the O(1) error of an untrained network
    expect(r.maxError).toBeLessThan(1e-3);
    expect(r.residuals.at(-1)!).toBeLessThan(1e-3 * r.residuals[0]!);
    expect(lines.at(-1)).toMatch(/max \|u - sin\(pi x\)\|/);
  });

  it("maml: the meta-gradient (grad through an inner grad step) matches central differences", () => {
    const lines: string[] = [];
    const r = maml.main({ ...maml.SMALL, log: (l) => lines.push(l) });
    // central differences with ε = 1e-5: truncation O(ε²·|L'''|) ≈ 1e-10, rounding ≈ 1e-16·|L|/ε ≈ 1e-10
    const { grad, finiteDifference } = r.directional;
    expect(Math.abs(grad - finiteDifference)).toBeLessThan(1e-6 * Math.max(1, Math.abs(grad)));
    // the second-order term is really there: first-order MAML differs
    expect(r.secondOrderTerm).toBeGreaterThan(1e-4);
    // meta-training improves the post-adaptation loss on held-out tasks
    expect(r.heldOutAfter).toBeLessThan(r.heldOutBefore);
    expect(lines.filter((l) => l.startsWith("iter")).length).toBe(maml.SMALL.iterations);
  });

  it("cnn: conv layers trained with adam under jit tell horizontal from vertical bars (> 95%; chance 50%)", () => {
    const r = cnn.main({ ...cnn.SMALL, log: false });
    expect(r.losses.length).toBe(cnn.SMALL.epochs);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    // measured 100% on the training images and on 256 fresh ones; the bound leaves room for other seeds
    expect(r.accuracy).toBeGreaterThan(0.95);
    expect(cnn.accuracy(r.params, cnn.makeData(7, 256))).toBeGreaterThan(0.95);
    expect(r.losses.at(-1)!).toBeLessThan(0.2 * r.losses[0]!);
    // the parameters come back from a safetensors file bit for bit
    expect(r.reloaded?.equal).toBe(true);
    const labels = cnn.makeData(7, 256).y;
    const ones = nb.sum(labels).item() / 256;
    expect(Math.max(ones, 1 - ones)).toBeLessThan(0.65); // neither class dominates
  });
});
