/**
 * Derivatives checked against hand-derived closed forms:
 * Rosenbrock gradient and Hessian, the softmax Jacobian diag(s) - s sᵀ, the
 * Hessian of logsumexp(A x), derivatives of sin(x)·e^x up to order 6 (nested
 * grad and nested jvp), and Jacobian shapes/values for n-d and pytree inputs
 * and outputs with argnums.
 *
 * Tolerances (float64): every expected value is computed in double precision
 * in this file; AD results differ from it only by rounding in a few dozen
 * operations, so entries are compared at 1e-12 relative to the problem's
 * scale (1 + max |entry|, or 2^(k/2) e^x for the k-th derivative of
 * sin·exp, whose value can cross zero). A wrong rule or order gives O(1)
 * relative errors.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { at } from "../src/core/errors.js";

type A = nb.NDArray;
const TOL = 1e-12;

function vals(x: A): number[] {
  return Array.from(x.toTypedArray(), Number);
}

function expectClose(x: A, expected: number[], shape: number[], tol = TOL, scale?: number): void {
  expect(x.shape).toEqual(shape);
  const s = scale ?? 1 + expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const got = vals(x);
  expect(got.length).toBe(expected.length);
  got.forEach((g, i) => {
    if (!(Math.abs(g - expected[i]!) <= tol * s))
      expect.fail(`element ${i}: got ${g}, expected ${expected[i]} (tol ${tol * s})`);
  });
}

const arr = (v: number[], shape?: number[]) => nb.array(new Float64Array(v), shape ? { shape } : {});

// ---------------------------------------------------------------------------

describe("Rosenbrock", () => {
  // f(x) = Σ_{i<n-1} 100 (x_{i+1} - x_i²)² + (1 - x_i)²
  const rosen = (x: A): A => {
    const n = x.shape[0]!;
    const a = nb.slice(x, [0], [n - 1]);
    const b = nb.slice(x, [1], [n]);
    return nb.sum(nb.add(nb.mul(nb.square(nb.sub(b, nb.square(a))), 100), nb.square(nb.sub(1, a))));
  };
  const rosenJs = (x: number[]) =>
    x.slice(0, -1).reduce((s, a, i) => s + 100 * (x[i + 1]! - a * a) ** 2 + (1 - a) ** 2, 0);
  // ∂f/∂x_j = -400 x_j (x_{j+1} - x_j²) - 2 (1 - x_j)   [j < n-1]
  //          + 200 (x_j - x_{j-1}²)                     [j > 0]
  const gradJs = (x: number[]) =>
    x.map((xj, j) => {
      let g = 0;
      if (j < x.length - 1) g += -400 * xj * (x[j + 1]! - xj * xj) - 2 * (1 - xj);
      if (j > 0) g += 200 * (xj - x[j - 1]! ** 2);
      return g;
    });
  // H_jj = 1200 x_j² - 400 x_{j+1} + 2 [j < n-1] + 200 [j > 0];  H_{j,j+1} = H_{j+1,j} = -400 x_j
  const hessJs = (x: number[]) => {
    const n = x.length;
    const H = new Array<number>(n * n).fill(0);
    for (let j = 0; j < n; j++) {
      if (j < n - 1) {
        H[j * n + j]! += 1200 * x[j]! ** 2 - 400 * x[j + 1]! + 2;
        H[j * n + j + 1] = -400 * x[j]!;
        H[(j + 1) * n + j] = -400 * x[j]!;
      }
      if (j > 0) H[j * n + j]! += 200;
    }
    return H;
  };

  const points = [
    [-1.2, 1],
    [1, 1, 1],
    [0.3, -0.7, 1.9],
    [0.5, -1.5, 2.5, 0.1, -0.3],
  ];
  for (const p of points) {
    it(`gradient and Hessian at ${JSON.stringify(p)}`, () => {
      const x = arr(p);
      expectClose(rosen(x), [rosenJs(p)], []);
      expectClose(nb.grad(rosen)(x), gradJs(p), [p.length]);
      expectClose(nb.hessian(rosen)(x), hessJs(p), [p.length, p.length]);
      expectClose(nb.jacrev(nb.grad(rosen))(x), hessJs(p), [p.length, p.length]);
    });
  }

  it("the gradient vanishes at the minimum and the Hessian there is the known tridiagonal", () => {
    expectClose(nb.grad(rosen)(arr([1, 1, 1])), [0, 0, 0], [3], 0);
    // at x = 1: H = [[802, -400, 0], [-400, 1002, -400], [0, -400, 200]]
    expectClose(nb.hessian(rosen)(arr([1, 1, 1])), [802, -400, 0, -400, 1002, -400, 0, -400, 200], [3, 3]);
  });
});

describe("softmax Jacobian = diag(s) - s sᵀ", () => {
  const softmaxJs = (v: number[]) => {
    const m = Math.max(...v);
    const e = v.map((a) => Math.exp(a - m));
    const s = e.reduce((p, q) => p + q, 0);
    return e.map((a) => a / s);
  };
  const jacJs = (s: number[]) => s.flatMap((si, i) => s.map((sj, j) => (i === j ? si : 0) - si * sj));

  for (const v of [
    [0.1, -0.4, 1.3, 2.2],
    [5, 5, 5],
    [-30, 0, 30],
  ]) {
    it(`at ${JSON.stringify(v)} in both modes`, () => {
      const J = jacJs(softmaxJs(v));
      expectClose(nb.jacfwd((x: A) => nb.softmax(x))(arr(v)), J, [v.length, v.length]);
      expectClose(nb.jacrev((x: A) => nb.softmax(x))(arr(v)), J, [v.length, v.length]);
    });
  }

  it("batched along the last axis: the Jacobian [2,3,2,3] is block diagonal", () => {
    const rows = [
      [0.2, -1, 0.5],
      [3, 1, -2],
    ];
    const blocks = rows.map((r) => jacJs(softmaxJs(r)));
    const expected: number[] = [];
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 3; i++)
        for (let c = 0; c < 2; c++) for (let j = 0; j < 3; j++) expected.push(b === c ? blocks[b]![i * 3 + j]! : 0);
    const x = arr(rows.flat(), [2, 3]);
    expectClose(nb.jacfwd((z: A) => nb.softmax(z, -1))(x), expected, [2, 3, 2, 3]);
    expectClose(nb.jacrev((z: A) => nb.softmax(z, 1))(x), expected, [2, 3, 2, 3]);
  });
});

describe("logsumexp(A x)", () => {
  // ∇ = Aᵀ p,  ∇² = Aᵀ (diag(p) - p pᵀ) A,  p = softmax(A x)
  const Am = [
    [0.5, -1.2, 0.3, 2.0],
    [1.1, 0.4, -0.7, -0.2],
    [-0.6, 0.9, 1.5, 0.8],
  ];
  const f = (x: A) => nb.logsumexp(nb.matmul(arr(Am.flat(), [3, 4]), x));

  for (const xv of [
    [0.3, -0.1, 0.8, 0.2],
    [2, -3, 1, 0.5],
  ]) {
    it(`gradient and Hessian at ${JSON.stringify(xv)}`, () => {
      const z = Am.map((row) => row.reduce((s, a, j) => s + a * xv[j]!, 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const se = e.reduce((a, b) => a + b, 0);
      const p = e.map((v) => v / se);
      const grad = [0, 1, 2, 3].map((j) => p.reduce((s, pi, i) => s + Am[i]![j]! * pi, 0));
      const H: number[] = [];
      for (let j = 0; j < 4; j++)
        for (let k = 0; k < 4; k++) {
          let h = 0;
          for (let i = 0; i < 3; i++)
            for (let l = 0; l < 3; l++) h += Am[i]![j]! * ((i === l ? p[i]! : 0) - p[i]! * p[l]!) * Am[l]![k]!;
          H.push(h);
        }
      const x = arr(xv);
      expectClose(f(x), [m + Math.log(se)], []);
      expectClose(nb.grad(f)(x), grad, [4]);
      expectClose(nb.hessian(f)(x), H, [4, 4]);
      expectClose(nb.jacfwd(nb.jacfwd(f))(x), H, [4, 4]);
      expectClose(nb.jacrev(nb.jacrev(f))(x), H, [4, 4]);
    });
  }
});

describe("derivatives of sin(x)·e^x up to order 6", () => {
  // d^k/dx^k [sin(x) e^x] = 2^(k/2) e^x sin(x + kπ/4)
  const f = (x: A) => nb.mul(nb.sin(x), nb.exp(x));
  const closed = (k: number, x: number) => 2 ** (k / 2) * Math.exp(x) * Math.sin(x + (k * Math.PI) / 4);
  const scale = (k: number, x: number) => 2 ** (k / 2) * Math.exp(x);
  const xs = [-1.3, 0, 0.5, 2];

  it("nested grad, k = 1..6", () => {
    let g: (x: A | number) => A = f as (x: A | number) => A;
    for (let k = 1; k <= 6; k++) {
      g = nb.grad(g);
      for (const x of xs) expectClose(g(x), [closed(k, x)], [], TOL, scale(k, x));
    }
  });

  it("nested jvp (the tangent output of jvp differentiated again), k = 1..6", () => {
    let g: (x: A) => A = f;
    for (let k = 1; k <= 6; k++) {
      const inner = g;
      g = (x: A) => nb.jvp(inner, [x], [nb.onesLike(x)])[1];
      for (const x of xs) expectClose(g(arr([x], [])), [closed(k, x)], [], TOL, scale(k, x));
    }
  });

  it("alternating grad and jvp, and elementwise on a vector, k = 1..6", () => {
    let g: (x: A) => A = f;
    const xv = arr(xs);
    for (let k = 1; k <= 6; k++) {
      const inner = g;
      // the elementwise derivative of a separable function: grad of the sum (odd k) or jvp with ones (even k)
      g =
        k % 2 === 1
          ? (x: A) => nb.grad((y: A) => nb.sum(inner(y)))(x)
          : (x: A) => nb.jvp(inner, [x], [nb.onesLike(x)])[1];
      const got = vals(g(xv));
      got.forEach((v, i) => {
        const x = xs[i]!;
        if (!(Math.abs(v - closed(k, x)) <= TOL * scale(k, x)))
          expect.fail(`k=${k}, x=${x}: got ${v}, expected ${closed(k, x)}`);
      });
    }
  });
});

describe("Jacobian shapes: out.shape ++ in.shape", () => {
  const shapeCases: [string, number[], (x: A) => A, number[]][] = [
    ["[2,3] -> [4]", [2, 3], (x) => nb.concatenate([nb.sum(x, 0), nb.sum(nb.sin(x), [0, 1], true).reshape([1])]), [4]],
    [
      "[] -> [2,2]",
      [],
      (x) =>
        nb.mul(
          x,
          nb.array([
            [1, 2],
            [3, 4],
          ]),
        ),
      [2, 2],
    ],
    ["[3] -> []", [3], (x) => nb.sum(nb.square(x)), []],
    ["[] -> []", [], (x) => nb.sin(x), []],
    ["[2,1,2] -> [2,2]", [2, 1, 2], (x) => nb.reshape(nb.exp(x), [2, 2]), [2, 2]],
  ];
  for (const [name, inShape, f, outShape] of shapeCases) {
    it(name, () => {
      const n = inShape.reduce((a, b) => a * b, 1);
      const x = arr(
        Array.from({ length: n }, (_, i) => 0.1 * (i + 1)),
        inShape,
      );
      const Jf = nb.jacfwd(f)(x);
      const Jr = nb.jacrev(f)(x);
      expect(Jf.shape).toEqual([...outShape, ...inShape]);
      expect(Jr.shape).toEqual([...outShape, ...inShape]);
    });
  }

  it("values of an n-d Jacobian: d exp(x)[i,j] / d x[k,l,m] for the [2,1,2] -> [2,2] reshape", () => {
    const xv = [0.1, 0.2, 0.3, 0.4];
    const J = nb.jacrev((x: A) => nb.reshape(nb.exp(x), [2, 2]))(arr(xv, [2, 1, 2]));
    const expected: number[] = [];
    for (let o = 0; o < 4; o++) for (let i = 0; i < 4; i++) expected.push(o === i ? Math.exp(xv[i]!) : 0);
    expectClose(J, expected, [2, 2, 2, 1, 2]);
  });

  it("pytree inputs and outputs nest as output-structure of input-structure", () => {
    // out1[i,j] = a_i · b_{j,0}  (i, j < 2);  out2 = Σ b²
    const f = (p: { a: A; b: A }) => [
      nb.mul(nb.reshape(p.a, [2, 1]), nb.reshape(nb.slice(p.b, [0, 0], [2, 1]), [1, 2])),
      nb.sum(nb.square(p.b)),
    ];
    const a = [0.5, -2];
    const b = [1.5, 3, -1];
    const p = { a: arr(a), b: arr(b, [3, 1]) };
    for (const jac of [nb.jacfwd, nb.jacrev]) {
      const J = jac(f)(p);
      expect(Array.isArray(J)).toBe(true);
      expect(J.length).toBe(2);
      // d out1[i,j] / d a_k = δ_ik b_j
      const d1a: number[] = [];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) d1a.push(i === k ? b[j]! : 0);
      expectClose(at(J, 0).a, d1a, [2, 2, 2]);
      // d out1[i,j] / d b_{l,0} = a_i δ_jl
      const d1b: number[] = [];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let l = 0; l < 3; l++) d1b.push(j === l ? a[i]! : 0);
      expectClose(at(J, 0).b, d1b, [2, 2, 3, 1]);
      expectClose(at(J, 1).a, [0, 0], [2]);
      expectClose(
        at(J, 1).b,
        b.map((v) => 2 * v),
        [3, 1],
      );
    }
  });

  it("argnums: a number gives the Jacobian, an array gives a list (even of one)", () => {
    // f(x, y) = [x0 y0, x1 y1, x0 + y2, y0 y1 y2]
    const f = (x: A, y: A) =>
      nb.stack([
        nb.mul(x.slice([0], [1]).reshape([]), y.slice([0], [1]).reshape([])),
        nb.mul(x.slice([1], [2]).reshape([]), y.slice([1], [2]).reshape([])),
        nb.add(x.slice([0], [1]).reshape([]), y.slice([2], [3]).reshape([])),
        nb.prod(y),
      ]);
    const xv = [2, 3];
    const yv = [5, 7, 11];
    const Jx = [yv[0]!, 0, 0, yv[1]!, 1, 0, 0, 0];
    const Jy = [xv[0]!, 0, 0, 0, xv[1]!, 0, 0, 0, 1, yv[1]! * yv[2]!, yv[0]! * yv[2]!, yv[0]! * yv[1]!];
    const x = arr(xv);
    const y = arr(yv);
    for (const jac of [nb.jacfwd, nb.jacrev]) {
      expectClose(jac(f)(x, y), Jx, [4, 2]);
      expectClose(jac(f, { argnums: 0 })(x, y), Jx, [4, 2]);
      expectClose(jac(f, { argnums: 1 })(x, y), Jy, [4, 3]);
      const both = jac(f, { argnums: [0, 1] })(x, y);
      expect(Array.isArray(both)).toBe(true);
      expectClose(both[0], Jx, [4, 2]);
      expectClose(both[1], Jy, [4, 3]);
      const one = jac(f, { argnums: [1] })(x, y);
      expect(Array.isArray(one)).toBe(true);
      expect(one.length).toBe(1);
      expectClose(one[0], Jy, [4, 3]);
    }
  });
});
