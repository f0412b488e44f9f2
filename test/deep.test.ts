/**
 * Deep graphs: reverse and forward mode over chains of 100,000 primitive
 * applications complete (no recursion proportional to graph depth, so no
 * stack overflow) and give the analytic derivative. No timing assertions.
 *
 * Tolerance: the analytic derivative is itself a product of 1e5 rounded
 * factors, and AD accumulates the same product in a different order; each
 * factor carries relative error ~1.1e-16, so the two may differ by
 * ~1e5 · 1.1e-16 ≈ 1e-11 relative. We compare at 1e-9 relative.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

type A = nb.NDArray;
const N = 100_000;
const TOL = 1e-9;

function expectRel(got: number, expected: number): void {
  if (!(Math.abs(got - expected) <= TOL * Math.abs(expected)))
    expect.fail(`got ${got}, expected ${expected} (rel tol ${TOL})`);
}

describe("chains of 100,000 primitives", () => {
  it("grad of sin applied 100,000 times is the product of cos of the iterates", () => {
    const f = (x: A) => {
      let y = x;
      for (let i = 0; i < N; i++) y = nb.sin(y);
      return y;
    };
    // d/dx sin^(N)(x) = Π_{i<N} cos(x_i), x_0 = x, x_{i+1} = sin(x_i)
    let v = 0.5;
    let d = 1;
    for (let i = 0; i < N; i++) {
      d *= Math.cos(v);
      v = Math.sin(v);
    }
    const [y, g] = nb.valueAndGrad(f)(0.5);
    expect(Math.abs(y.item() - v)).toBeLessThanOrEqual(1e-15);
    expectRel(g.item(), d);
    // forward mode over the same chain
    expectRel(nb.jvp(f, [0.5], [1])[1].item(), d);
  });

  it("vjp through 100,000 mixed primitives on a vector (mul, add, tanh in turn)", () => {
    // y <- tanh(0.999 y + 0.001 c) repeated N/3 times (three primitives per step)
    const steps = Math.floor(N / 3) + 1;
    const c = nb.array([0.3, -0.2]);
    const f = (x: A) => {
      let y = x;
      for (let i = 0; i < steps; i++) y = nb.tanh(nb.add(nb.mul(y, 0.999), nb.mul(c, 0.001)));
      return y;
    };
    // elementwise chain: dy/dx = Π 0.999 (1 - tanh²(z_i))
    const x0 = [0.8, -1.5];
    const cs = [0.3, -0.2];
    const expected = x0.map((x, j) => {
      let y = x;
      let d = 1;
      for (let i = 0; i < steps; i++) {
        y = Math.tanh(0.999 * y + 0.001 * cs[j]!);
        d *= 0.999 * (1 - y * y);
      }
      return d;
    });
    const [, pull] = nb.vjp(f, nb.array(x0));
    const [g] = pull(nb.array([1, 1]));
    const got = Array.from(g.toTypedArray(), Number);
    got.forEach((v, j) => expectRel(v, expected[j]!));
  });
});
