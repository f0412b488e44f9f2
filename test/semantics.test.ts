/**
 * Semantics of API.md "Transforms" and the derivative conventions:
 * nesting without perturbation confusion, JS control flow on traced values,
 * escaped tracers, conventions at non-smooth points, numerical stability at
 * |x| = 1e3, argnums/hasAux, valueAndGrad, linearize == jvp, stopGradient.
 *
 * Expected values are hand-derived (stated next to each check). Tolerance
 * 1e-12 relative for float64 results of a few operations; exact equality
 * where the result is an exact small integer or a conventional value.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

type A = nb.NDArray;
const TOL = 1e-12;

function vals(x: A): number[] {
  return Array.from(x.toTypedArray(), Number);
}

function expectClose(x: A, expected: number[] | number, shape?: number[], tol = TOL): void {
  const e = typeof expected === "number" ? [expected] : expected;
  if (shape) expect(x.shape).toEqual(shape);
  const g = vals(x);
  expect(g.length).toBe(e.length);
  g.forEach((v, i) => {
    if (!(Math.abs(v - e[i]!) <= tol * (1 + Math.abs(e[i]!)))) expect.fail(`element ${i}: got ${v}, expected ${e[i]}`);
  });
}

/** JS comparison through valueOf, as a user would write `x > 0`. */
const num = (x: A): number => x as unknown as number;

describe("nesting without perturbation confusion", () => {
  it("grad(x => x * grad(y => x + y)(1))(1) is 1", () => {
    // inner derivative is 1 (x is a constant to it); outer: d/dx (x · 1) = 1
    const g = nb.grad((x: A) => nb.mul(x, nb.grad((y: A) => nb.add(x, y))(1)))(1);
    expect(g.item()).toBe(1);
  });

  it("grad(x => x * grad(y => x * y)(2))(1) is 2", () => {
    // inner derivative is x; f(x) = x², f'(1) = 2
    const g = nb.grad((x: A) => nb.mul(x, nb.grad((y: A) => nb.mul(x, y))(2)))(1);
    expect(g.item()).toBe(2);
  });

  it("the same nesting through jvp and vjp", () => {
    const viaJvp = nb.jvp((x: A) => nb.mul(x, nb.jvp((y: A) => nb.mul(x, y), [2], [1])[1]), [1], [1])[1];
    expect(viaJvp.item()).toBe(2);
    const viaVjp = nb.grad((x: A) => nb.mul(x, nb.vjp((y: A) => nb.mul(x, y), 2)[1](1)[0]))(1);
    expect(viaVjp.item()).toBe(2);
    const [p, t] = nb.jvp((x: A) => nb.jvp((y: A) => nb.mul(x, y), [1], [1])[1], [3], [1]);
    expect(p.item()).toBe(3); // the inner tangent is x
    expect(t.item()).toBe(1);
  });

  it("jvp inside grad and grad inside jvp", () => {
    // h(x) = ∂/∂y [x y²] at y = x = 2x²;  h'(x) = 4x
    const h = (x: A) => nb.jvp((y: A) => nb.mul(nb.mul(x, y), y), [x], [nb.onesLike(x)])[1];
    expectClose(nb.grad(h)(2), 8, []);
    const k = (x: A) => nb.grad((y: A) => nb.mul(nb.mul(x, y), y))(x);
    const [v, dv] = nb.jvp(k, [2], [1]);
    expectClose(v, 8, []);
    expectClose(dv, 8, []);
  });

  it("vjp inside grad", () => {
    // h(x) = vjp of y ↦ x sin y at y = x, ct = 1:  x cos x;  h'(x) = cos x - x sin x
    const h = (x: A) => nb.vjp((y: A) => nb.mul(x, nb.sin(y)), x)[1](nb.onesLike(x))[0];
    for (const x of [0.3, -1.1, 2]) expectClose(nb.grad(h)(x), Math.cos(x) - x * Math.sin(x), []);
  });

  it("jacfwd(jacrev) with a closure over the outer argument", () => {
    // inner(x) = jacrev(y ↦ x ⊙ sin y)(x) = diag(x cos x); d/dx_k of entry (i, j) = δ_ij δ_ik (cos x_i - x_i sin x_i)
    const xs = [0.4, -0.9];
    const J = nb.jacfwd((x: A) => nb.jacrev((y: A) => nb.mul(x, nb.sin(y)))(x))(nb.array(xs));
    const expected: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 2; j++)
        for (let k = 0; k < 2; k++)
          expected.push(i === j && j === k ? Math.cos(xs[i]!) - xs[i]! * Math.sin(xs[i]!) : 0);
    expectClose(J, expected, [2, 2, 2]);
  });

  it("triple nesting: grad(grad(grad(x³ · grad(y => x y)(1))))", () => {
    // inner grad = x, so f(x) = x⁴ and f'''(x) = 24 x
    const f = (x: A) => nb.mul(nb.mul(nb.mul(x, x), x), nb.grad((y: A) => nb.mul(x, y))(1));
    expectClose(nb.grad(nb.grad(nb.grad(f)))(1.5), 36, []);
  });
});

describe("JS control flow on traced values", () => {
  // f(x) = x² for x > 0, else -5x
  const byItem = (x: A) => (x.item() > 0 ? nb.mul(x, x) : nb.mul(x, -5));
  const byValueOf = (x: A) => (num(x) > 0 ? nb.mul(x, x) : nb.mul(x, -5));

  for (const [name, f] of [
    ["item()", byItem],
    ["valueOf", byValueOf],
  ] as const) {
    it(`${name} takes the right branch under grad, jvp and vjp`, () => {
      expectClose(nb.grad(f)(3), 6, []);
      expectClose(nb.grad(f)(-3), -5, []);
      const [yp, tp] = nb.jvp(f, [2], [1]);
      expectClose(yp, 4, []);
      expectClose(tp, 4, []);
      const [yn, tn] = nb.jvp(f, [-2], [1]);
      expectClose(yn, 10, []);
      expectClose(tn, -5, []);
      const [y, pull] = nb.vjp(f, -1);
      expectClose(y, 5, []);
      expectClose(pull(1)[0], -5, []);
      // under nested transforms the concrete value is still available: f'' = 2 or 0
      expectClose(nb.grad(nb.grad(f))(3), 2, []);
      expectClose(nb.grad(nb.grad(f))(-3), 0, []);
      expectClose(nb.hessian(f)(3), 2, []);
    });
  }

  it("data-dependent loops: doubling until the value exceeds 10", () => {
    // starting from 0.7: 0.7 -> 1.4 -> 2.8 -> 5.6 -> 11.2, four doublings, so d/dx = 16
    const f = (x: A) => {
      let y = x;
      while (y.item() <= 10) y = nb.mul(y, 2);
      return y;
    };
    expectClose(nb.grad(f)(0.7), 16, []);
    expectClose(nb.jvp(f, [3], [1])[1], 4, []); // 3 -> 6 -> 12
  });

  it("under makeGraph there is no concrete value: item() and valueOf throw TracerError", () => {
    expect(() => nb.makeGraph(byItem)(1)).toThrow(nb.TracerError);
    expect(() => nb.makeGraph(byValueOf)(1)).toThrow(nb.TracerError);
    expect(() => nb.makeGraph((x: A) => nb.array(x.toArray()))(1)).toThrow(nb.TracerError);
    // also when the staged value is wrapped by an inner grad: no silent NaN
    expect(() => nb.makeGraph((x: A) => nb.grad(byItem)(x))(1)).toThrow(nb.TracerError);
    expect(() => nb.makeGraph((x: A) => nb.grad(byValueOf)(x))(1)).toThrow(nb.TracerError);
  });
});

describe("escaped tracers", () => {
  const leakFrom = (run: (f: (x: A) => A) => unknown): A => {
    let leaked: A | null = null;
    run((x: A) => {
      leaked = x;
      return nb.mul(x, x);
    });
    return leaked!;
  };
  const runners: [string, (f: (x: A) => A) => unknown][] = [
    ["grad", (f) => nb.grad(f)(1)],
    ["jvp", (f) => nb.jvp(f, [1], [1])],
    ["vjp", (f) => nb.vjp(f, 1)[1](1)],
    ["linearize", (f) => nb.linearize(f, 1)[1](1)],
    ["jacfwd", (f) => nb.jacfwd(f)(1)],
    ["makeGraph", (f) => nb.makeGraph(f)(1)],
  ];
  for (const [name, run] of runners) {
    it(`a tracer leaked from ${name} throws TracerError when used`, () => {
      const t = leakFrom(run);
      expect(() => nb.mul(t, 2)).toThrow(nb.TracerError);
      expect(() => t.add(1)).toThrow(nb.TracerError);
      expect(() => t.item()).toThrow(nb.TracerError);
      expect(() => t.toArray()).toThrow(nb.TracerError);
      expect(() => nb.grad((y: A) => nb.mul(y, t))(2)).toThrow(nb.TracerError);
    });
  }

  it("an inner tracer leaked into the outer transform throws TracerError", () => {
    expect(() =>
      nb.grad((x: A) => {
        let leak: A | null = null;
        nb.grad((y: A) => {
          leak = y;
          return nb.mul(y, x);
        })(x);
        return nb.mul(leak!, x);
      })(1),
    ).toThrow(nb.TracerError);
  });
});

describe("derivative conventions at special points (API.md)", () => {
  it("relu'(0) = 0 (and 1 / 0 away from 0)", () => {
    expect(nb.grad(nb.relu)(0).item()).toBe(0);
    expect(nb.grad(nb.relu)(2).item()).toBe(1);
    expect(nb.grad(nb.relu)(-2).item()).toBe(0);
    expect(nb.jvp(nb.relu, [0], [1])[1].item()).toBe(0);
  });

  it("abs'(0) = 1 (and sign(x) away from 0)", () => {
    expect(nb.grad(nb.abs)(0).item()).toBe(1);
    expect(nb.grad(nb.abs)(-2).item()).toBe(-1);
    expect(nb.jvp(nb.abs, [0], [1])[1].item()).toBe(1);
    expect(vals(nb.grad((x: A) => nb.sum(nb.abs(x)))(nb.array([0, -1, 3])))).toEqual([1, -1, 1]);
  });

  it("pow(x, 2) at 0: derivative 0 (not NaN), higher orders finite and exact", () => {
    const p2 = (x: A) => nb.pow(x, 2);
    let g: (x: A | number) => A = p2 as (x: A | number) => A;
    // derivatives of x² at 0: 0, 2, 0, 0
    for (const expected of [0, 2, 0, 0]) {
      g = nb.grad(g);
      expect(g(0).item()).toBe(expected);
    }
    // x³ at 0: 0, 0, 6, 0
    let h: (x: A | number) => A = ((x: A) => nb.pow(x, 3)) as (x: A | number) => A;
    for (const expected of [0, 0, 6, 0]) {
      h = nb.grad(h);
      expect(h(0).item()).toBe(expected);
    }
    // forward mode too, and elementwise with zeros among the inputs
    expect(nb.jvp(p2, [0], [1])[1].item()).toBe(0);
    expect(vals(nb.grad((x: A) => nb.sum(nb.pow(x, 2)))(nb.array([0, 1, -2])))).toEqual([0, 2, -4]);
    // with a traced exponent: H of x^y at (0, 2) is [[y(y-1)x^(y-2), x^(y-1)(1 + y log x)], [., x^y log² x]] -> [[2, 0], [0, 0]]
    const H = nb.hessian((v: A) => nb.pow(nb.slice(v, [0], [1]), nb.slice(v, [1], [2])).sum())(nb.array([0, 2]));
    expect(vals(H)).toEqual([2, 0, 0, 0]);
  });

  it("grad(prod) is exact with zeros", () => {
    expect(vals(nb.grad(nb.prod)(nb.array([0, 2, 3])))).toEqual([6, 0, 0]);
    expect(vals(nb.grad(nb.prod)(nb.array([0, 0, 3])))).toEqual([0, 0, 0]);
    expect(vals(nb.grad(nb.prod)(nb.array([2, 0, 3, 5])))).toEqual([0, 30, 0, 0]);
    // second derivatives: ∂²/∂x_i∂x_j = product of the others (i != j)
    expect(vals(nb.hessian(nb.prod)(nb.array([0, 2, 3])))).toEqual([0, 3, 2, 3, 0, 0, 2, 0, 0]);
    expect(vals(nb.hessian(nb.prod)(nb.array([0, 0, 3])))).toEqual([0, 3, 0, 3, 0, 0, 0, 0, 0]);
    // along an axis
    const g = nb.grad((x: A) => nb.sum(nb.prod(x, 1)))(
      nb.array([
        [0, 2, 3],
        [4, 0, 0],
      ]),
    );
    expect(vals(g)).toEqual([6, 0, 0, 0, 0, 0]);
    expect(vals(nb.jvp(nb.prod, [nb.array([0, 2, 3])], [nb.array([1, 1, 1])])[1])).toEqual([6]);
  });

  it("maximum/minimum ties split the gradient evenly", () => {
    const x = nb.array([1, 0, 3]);
    const y = nb.array([1, 2, 3]);
    const [gx, gy] = nb.grad((a: A, b: A) => nb.sum(nb.maximum(a, b)), { argnums: [0, 1] })(x, y);
    expect(vals(gx)).toEqual([0.5, 0, 0.5]);
    expect(vals(gy)).toEqual([0.5, 1, 0.5]);
    const [hx, hy] = nb.grad((a: A, b: A) => nb.sum(nb.minimum(a, b)), { argnums: [0, 1] })(x, y);
    expect(vals(hx)).toEqual([0.5, 1, 0.5]);
    expect(vals(hy)).toEqual([0.5, 0, 0.5]);
    expect(
      nb
        .grad((a: A) => nb.maximum(a, a))(2)
        .item(),
    ).toBe(1);
    expect(
      nb
        .grad((a: A) => nb.maximum(a, 0))(0)
        .item(),
    ).toBe(0.5);
    expect(nb.jvp((a: A, b: A) => nb.minimum(a, b), [1, 1], [1, 0])[1].item()).toBe(0.5);
  });

  it("max/min reduction ties split the gradient evenly", () => {
    expect(vals(nb.grad((x: A) => nb.max(x))(nb.array([3, 1, 3, 2])))).toEqual([0.5, 0, 0.5, 0]);
    const third = vals(nb.grad((x: A) => nb.min(x))(nb.array([1, 1, 1])));
    third.forEach((v) => expect(v).toBeCloseTo(1 / 3, 15));
    const g = nb.grad((x: A) => nb.sum(nb.max(x, 1)))(
      nb.array([
        [3, 1, 3],
        [1, 2, 0],
      ]),
    );
    expect(vals(g)).toEqual([0.5, 0, 0.5, 0, 1, 0]);
    expect(nb.jvp((x: A) => nb.max(x), [nb.array([2, 2])], [nb.array([1, 3])])[1].item()).toBe(2);
  });

  it("logsumexp is stable at |x| = 1e3 in value, gradient and Hessian", () => {
    const lse = (x: A) => nb.logsumexp(x);
    expectClose(lse(nb.array([1000, 1000, -1000])), 1000 + Math.LN2, []);
    expectClose(lse(nb.array([-1000, -1000])), -1000 + Math.LN2, []);
    expectClose(nb.grad(lse)(nb.array([1000, 1000, -1000])), [0.5, 0.5, 0], [3]);
    expectClose(nb.grad(lse)(nb.array([-1000, -1000])), [0.5, 0.5], [2]);
    // H = diag(p) - p pᵀ with p = [1/2, 1/2, 0]
    expectClose(nb.hessian(lse)(nb.array([1000, 1000, -1000])), [0.25, -0.25, 0, -0.25, 0.25, 0, 0, 0, 0], [3, 3]);
  });

  it("softplus is stable at |x| = 1e3 in value and derivatives", () => {
    expect(nb.softplus(1000).item()).toBe(1000);
    expect(nb.softplus(-1000).item()).toBe(0); // log1p(e^-1000) underflows to 0
    expect(nb.grad(nb.softplus)(1000).item()).toBe(1);
    expect(nb.grad(nb.softplus)(-1000).item()).toBe(0);
    // softplus'' = sigmoid(x)(1 - sigmoid(x)), 0 at both ends (not NaN)
    expect(nb.grad(nb.grad(nb.softplus))(1000).item()).toBe(0);
    expect(nb.grad(nb.grad(nb.softplus))(-1000).item()).toBe(0);
    expectClose(nb.grad(nb.softplus)(0), 0.5, []);
  });

  it("logSoftmax is stable at |x| = 1e3 in value and gradient", () => {
    const x = nb.array([1000, 0, -1000]);
    // log softmax = x - logsumexp(x) = x - 1000 (e^-1000 underflows)
    expectClose(nb.logSoftmax(x), [0, -1000, -2000], [3]);
    // ∇ Σ w_i logSoftmax(x)_i = w - (Σ w) softmax(x) = [1, 2, 3] - 6 [1, 0, 0]
    const w = nb.array([1, 2, 3]);
    expectClose(nb.grad((v: A) => nb.sum(nb.mul(nb.logSoftmax(v), w)))(x), [-5, 2, 3], [3]);
    expectClose(nb.grad((v: A) => nb.sum(nb.mul(nb.softmax(v), w)))(x), [0, 0, 0], [3]);
  });
});

describe("grad options", () => {
  const f = (x: nb.ArrayLike, y: nb.ArrayLike, z: nb.ArrayLike) => nb.mul(nb.mul(nb.mul(x, x), y), nb.sin(z));
  // ∂f/∂x = 2xy sin z, ∂f/∂y = x² sin z, ∂f/∂z = x² y cos z
  const [x, y, z] = [1.5, -2, 0.3];
  const d = [2 * x * y * Math.sin(z), x * x * Math.sin(z), x * x * y * Math.cos(z)];

  it("argnums as a number picks one argument", () => {
    expectClose(nb.grad(f)(x, y, z), d[0]!, []);
    expectClose(nb.grad(f, { argnums: 0 })(x, y, z), d[0]!, []);
    expectClose(nb.grad(f, { argnums: 2 })(x, y, z), d[2]!, []);
  });

  it("argnums as an array gives an array of gradients in that order", () => {
    const gs = nb.grad(f, { argnums: [2, 0] })(x, y, z);
    expect(Array.isArray(gs)).toBe(true);
    expect(gs.length).toBe(2);
    expectClose(gs[0], d[2]!, []);
    expectClose(gs[1], d[0]!, []);
    const one = nb.grad(f, { argnums: [1] })(x, y, z);
    expect(Array.isArray(one)).toBe(true);
    expectClose(one[0], d[1]!, []);
  });

  it("hasAux: f returns [out, aux]; grad returns [grads, aux], valueAndGrad [[value, aux], grads]", () => {
    const h = (v: A) => [nb.sum(nb.mul(v, v)), { double: nb.mul(v, 2), tag: 7 }] as const;
    const v = nb.array([1, 2]);
    const [g, aux] = nb.grad(h, { hasAux: true })(v);
    expectClose(g, [2, 4], [2]);
    expect(aux.tag).toBe(7);
    // the aux value is a usable concrete array, not an escaped tracer
    expectClose(aux.double, [2, 4], [2]);
    expectClose(aux.double.mul(2), [4, 8], [2]);
    const [[val, aux2], g2] = nb.valueAndGrad(h, { hasAux: true })(v);
    expectClose(val, 5, []);
    expectClose(aux2.double, [2, 4], [2]);
    expectClose(g2, [2, 4], [2]);
    const [[gx, gy], aux3] = nb.grad((a: A, b: A) => [nb.mul(a, b), [nb.add(a, b), null] as const], {
      argnums: [0, 1],
      hasAux: true,
    })(3, 4);
    expectClose(gx, 4, []);
    expectClose(gy, 3, []);
    expectClose(aux3[0], 7, []);
    expect(aux3[1]).toBeNull();
  });

  it("hasAux passes non-array auxiliary data (strings, flags) through unchanged, as JAX does", () => {
    const info = { label: "loss", step: 3, ok: true };
    const [g, aux] = nb.grad((a: A) => [nb.mul(a, a), info], { hasAux: true })(3);
    expectClose(g, 6, []);
    expect(aux.label).toBe("loss");
    expect(aux.step).toBe(3);
    expect(aux.ok).toBe(true);
  });

  it("valueAndGrad returns [value, grads]", () => {
    const [v, g] = nb.valueAndGrad(f, { argnums: [0, 1, 2] })(x, y, z);
    expectClose(v, x * x * y * Math.sin(z), []);
    g.forEach((gi: A, i: number) => expectClose(gi, d[i]!, []));
  });
});

describe("linearize equals jvp; stopGradient", () => {
  const fns: [string, (x: A) => A][] = [
    ["sin·exp", (x) => nb.mul(nb.sin(x), nb.exp(x))],
    ["softmax", (x) => nb.softmax(x)],
    [
      "matmul",
      (x) =>
        nb.matmul(
          nb.array([
            [1, 2, 3],
            [4, 5, 6],
          ]),
          nb.tanh(x),
        ),
    ],
    ["prod", (x) => nb.prod(x)],
    ["cumulative", (x) => nb.concatenate([x, nb.mul(x, nb.sum(x, 0, true)), nb.max(x, 0, true)])],
  ];
  for (const [name, f] of fns) {
    it(`linearize(${name}) applied to several tangents equals jvp`, () => {
      const x = nb.array([0.3, -0.8, 1.7]);
      const [y, lin] = nb.linearize(f, x);
      expectClose(y, vals(f(x)));
      for (const t of [
        [1, 0, 0],
        [0, 1, 0],
        [0.5, -2, 0.25],
      ]) {
        const [yj, tj] = nb.jvp(f, [x], [nb.array(t)]);
        expectClose(yj, vals(y));
        expectClose(lin(nb.array(t)), vals(tj));
      }
    });
  }

  it("stopGradient blocks derivatives at every order and in every mode", () => {
    // f(x) = x² · c with c = stopGradient(x) evaluated at x: f' = 2 x c, f'' = 2 c
    const f = (x: A) => nb.mul(nb.mul(x, x), nb.stopGradient(x));
    expectClose(f(nb.array(3)), 27, []);
    expectClose(nb.grad(f)(3), 18, []);
    expectClose(nb.grad(nb.grad(f))(3), 6, []);
    expectClose(nb.jvp(f, [3], [1])[1], 18, []);
    expectClose(nb.hessian(f)(3), 6, []);
    // a stopped inner gradient is a constant to the outer derivative
    const g = (x: A) => nb.mul(x, nb.stopGradient(nb.grad((y: A) => nb.mul(nb.mul(x, y), y))(x)));
    // inner = 2x² = 18 at x = 3, treated as a constant: g' = 18
    expectClose(nb.grad(g)(3), 18, []);
  });
});
