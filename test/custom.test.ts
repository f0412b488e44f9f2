/**
 * User-defined derivative rules (API.md "Transforms"): `customJvp`,
 * `customVjp` and `checkpoint`.
 *
 * Most rules here deliberately differ from the true derivative of the
 * wrapped function (e.g. sin with the "derivative" x²), so a matching result
 * proves that the transform used the rule rather than differentiating
 * through the function. Expected values are closed forms of the rule or
 * central finite differences of plain-JS functions.
 *
 * Tolerances (float64):
 * - closed forms: 1e-12 relative (exact derivatives, a few roundings apart,
 *   for values of size O(1)–O(10));
 * - central differences (h = 1e-5, test/support/reference.ts): 1e-7
 *   relative. Truncation ~h²|f'''|/6 ≈ 1e-10, rounding ~1e-16·|f|/h ≈ 1e-11
 *   for the O(1) functions used; a wrong rule is off by O(1).
 * - second derivatives by differences of an AD gradient: 1e-7 as well (the
 *   gradient is exact, so the same truncation/rounding analysis applies).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { fdJacobian } from "./support/reference.js";
import { arr, expectClose, vals } from "./support/assert.js";

type A = nb.NDArray;

const CF = 1e-12;
const FD = 1e-7;
/** Row-major n×n diagonal matrix. */
const diagOf = (d: number[]): number[] => d.flatMap((v, i) => d.map((_, j) => (i === j ? v : 0)));

const prims = (g: nb.Graph): string[] => g.equations.map((e) => e.prim as string);

// ---------------------------------------------------------------------------

describe("customJvp", () => {
  // sinX2(x) = sin(x) in value, but its declared derivative is x² (not cos x)
  function makeSinX2() {
    const calls = { f: 0, rule: 0 };
    const g = nb.customJvp(
      (x: A) => {
        calls.f++;
        return nb.sin(x);
      },
      ([x]: [A], [dx]: [A]) => {
        calls.rule++;
        return [nb.sin(x), nb.mul(dx, nb.mul(x, x))];
      },
    );
    return { g, calls };
  }
  const xs = [0.4, -1.3, 2.1];

  it("eager evaluation runs the function, not the rule", () => {
    const { g, calls } = makeSinX2();
    expectClose(g(arr(xs)), xs.map(Math.sin), [3], CF);
    expect(calls).toEqual({ f: 1, rule: 0 });
  });

  it("jvp uses the rule", () => {
    const { g, calls } = makeSinX2();
    const t = [1, 0.5, -2];
    const [y, dy] = nb.jvp(g, [arr(xs)], [arr(t)]);
    expectClose(y, xs.map(Math.sin), [3], CF);
    expectClose(
      dy,
      xs.map((v, i) => v * v * t[i]!),
      [3],
      CF,
    );
    expect(calls.rule).toBeGreaterThan(0);
  });

  it("grad, jacfwd and jacrev use the rule", () => {
    const { g } = makeSinX2();
    const sq = xs.map((v) => v * v);
    expectClose(nb.grad((x: A) => nb.sum(g(x)))(arr(xs)), sq, [3], CF);
    expectClose(nb.jacfwd(g)(arr(xs)), diagOf(sq), [3, 3], CF);
    expectClose(nb.jacrev(g)(arr(xs)), diagOf(sq), [3, 3], CF);
  });

  it("higher orders differentiate the rule: hessian 2x, third derivative 2", () => {
    const { g } = makeSinX2();
    const s = (x: A) => nb.sum(g(x));
    expectClose(nb.hessian(s)(arr(xs)), diagOf(xs.map((v) => 2 * v)), [3, 3], CF);
    const scalar = (x: A) => g(x);
    expectClose(nb.grad(nb.grad(scalar))(0.7), 1.4, [], CF);
    expectClose(nb.grad(nb.grad(nb.grad(scalar)))(0.7), 2, [], CF);
    // forward-over-forward as well
    const d2 = nb.jvp((x: A) => nb.jvp(scalar, [x], [nb.array(1)])[1], [nb.array(0.7)], [nb.array(1)])[1];
    expectClose(d2, 1.4, [], CF);
  });

  it("vmap: values are f's, and per-example derivatives (vmap(grad), grad(sum∘vmap)) use the rule", () => {
    const { g } = makeSinX2();
    const rows = [
      [0.1, 0.2],
      [-0.5, 1.5],
      [2, -3],
    ];
    const X = arr(rows.flat(), [3, 2]);
    expectClose(nb.vmap(g)(X), rows.flat().map(Math.sin), [3, 2], CF);
    const sq = rows.flat().map((v) => v * v);
    expectClose(nb.vmap(nb.grad((x: A) => nb.sum(g(x))))(X), sq, [3, 2], CF);
    expectClose(nb.grad((x: A) => nb.sum(nb.vmap(g)(x)))(X), sq, [3, 2], CF);
    // jvp of vmap
    const [, dy] = nb.jvp(nb.vmap(g), [X], [nb.onesLike(X)]);
    expectClose(dy, sq, [3, 2], CF);
  });

  it("jit: values are f's, grad(jit) and jit(grad) use the rule", () => {
    const { g } = makeSinX2();
    const sq = xs.map((v) => v * v);
    expectClose(nb.jit(g)(arr(xs)), xs.map(Math.sin), [3], CF);
    expectClose(nb.grad((x: A) => nb.sum(nb.jit(g)(x)))(arr(xs)), sq, [3], CF);
    expectClose(nb.jit(nb.grad((x: A) => nb.sum(g(x))))(arr(xs)), sq, [3], CF);
  });

  it("makeGraph shows custom_jvp_call, and staged derivatives still use the rule", () => {
    const { g } = makeSinX2();
    const gr = nb.makeGraph(g)(nb.zeros([3]));
    expect(prims(gr)).toEqual(["custom_jvp_call"]);
    expect(gr.toString()).toContain("custom_jvp_call");
    // the staged gradient contains no cos (the true derivative of sin)
    const gg = nb.makeGraph(nb.grad((x: A) => nb.sum(g(x))))(nb.zeros([3]));
    expect(prims(gg)).not.toContain("cos");
  });

  it("vmap with an unbatched argument: per-example and summed derivatives use the rule", () => {
    // f(w, x) = w·x in value; declared tangent 10·dw·x + w·dx (the w-part deliberately wrong)
    const f = nb.customJvp(
      (w: A, x: A) => nb.mul(w, x),
      ([w, x]: [A, A], [dw, dx]: [A, A]) => [nb.mul(w, x), nb.add(nb.mul(nb.mul(dw, x), 10), nb.mul(dx, w))],
    );
    const X = arr([1, 2, 3]);
    const vf = nb.vmap(f, { inAxes: [null, 0] });
    expectClose(vf(2, X), [2, 4, 6], [3], CF);
    expectClose(nb.grad((w: A) => nb.sum(vf(w, X)))(2), 10 * 6, [], CF);
    const [gw, gx] = nb.vmap(nb.grad(f, { argnums: [0, 1] }), { inAxes: [null, 0] })(2, X);
    expectClose(gw!, [10, 20, 30], [3], CF);
    expectClose(gx!, [2, 2, 2], [3], CF);
    const [gw2] = nb.jit(nb.vmap(nb.grad(f, { argnums: [0, 1] }), { inAxes: [null, 0] }))(2, X);
    expectClose(gw2!, [10, 20, 30], [3], CF);
  });

  it("a numerically stable rule: d/dx log(1 + eˣ) = sigmoid(x), finite at x = 800", () => {
    // the naive derivative eˣ / (1 + eˣ) is ∞/∞ at x = 800 in float64
    const log1pexp = nb.customJvp(
      (x: A) => nb.log(nb.add(1, nb.exp(x))),
      ([x]: [A], [dx]: [A]) => [nb.log(nb.add(1, nb.exp(x))), nb.mul(dx, nb.sigmoid(x))],
    );
    const g = nb.grad((x: A) => nb.sum(log1pexp(x)))(arr([800, 0.3, -2]));
    expectClose(
      g,
      [800, 0.3, -2].map((v) => 1 / (1 + Math.exp(-v))),
      [3],
      CF,
    );
  });

  it("several arguments; only the perturbed one gets a tangent (zeros for the others)", () => {
    // f(x, y) = x·y in value; declared tangent dx·y + 10·x·dy (the y-part deliberately wrong)
    const seen: number[][] = [];
    let record = false; // under grad the tangents are symbolic (no concrete values to read)
    const f = nb.customJvp(
      (x: A, y: A) => nb.mul(x, y),
      ([x, y]: [A, A], [dx, dy]: [A, A]) => {
        if (record) seen.push(vals(dx), vals(dy));
        return [nb.mul(x, y), nb.add(nb.mul(dx, y), nb.mul(nb.mul(x, dy), 10))];
      },
    );
    const x = 1.5;
    const y = -0.4;
    const [gx, gy] = nb.grad((a: A, b: A) => f(a, b), { argnums: [0, 1] })(x, y);
    expectClose(gx!, y, [], CF);
    expectClose(gy!, 10 * x, [], CF);
    record = true;
    const [, t] = nb.jvp((b: A) => f(nb.array(x), b), [nb.array(y)], [nb.array(2)]);
    expectClose(t, 10 * x * 2, [], CF);
    // the rule was called with an (explicit) zero tangent for x
    expect(seen[0]).toEqual([0]);
    expect(seen[1]).toEqual([2]);
  });

  it("pytree arguments and outputs", () => {
    // f({a, b}) = [a·b, {s: a + b}] in value; declared tangents [3·(da·b + a·db), {s: da − db}]
    const f = nb.customJvp(
      (p: { a: A; b: A }) => [nb.mul(p.a, p.b), { s: nb.add(p.a, p.b) }],
      ([p]: { a: A; b: A }[], [dp]: { a: A; b: A }[]) => [
        [nb.mul(p!.a, p!.b), { s: nb.add(p!.a, p!.b) }],
        [nb.mul(nb.add(nb.mul(dp!.a, p!.b), nb.mul(p!.a, dp!.b)), 3), { s: nb.sub(dp!.a, dp!.b) }],
      ],
    );
    const p = { a: arr([1, 2]), b: arr([3, -1]) };
    const out = f(p);
    expectClose(out[0], [3, -2], [2], CF);
    expectClose(out[1].s, [4, 1], [2], CF);
    // loss = sum(out0) + sum(out1.s): ∂/∂a = 3b + 1, ∂/∂b = 3a − 1
    const g = nb.grad((q: { a: A; b: A }) => {
      const [m, o] = f(q);
      return nb.add(nb.sum(m), nb.sum(o.s));
    })(p);
    expectClose(g.a, [10, -2], [2], CF);
    expectClose(g.b, [2, 5], [2], CF);
    const [, t] = nb.jvp(f, [p], [{ a: arr([1, 0]), b: arr([0, 1]) }]);
    expectClose(t[0], [3 * 3, 3 * 2], [2], CF);
    expectClose(t[1].s, [1, -1], [2], CF);
  });

  it("malformed rule returns are NablaErrors", () => {
    const x = arr([0.5, 1]);
    const notPair = nb.customJvp((v: A) => nb.sin(v), (() => nb.array(3)) as never);
    expect(() => nb.jvp(notPair, [x], [x])).toThrow(nb.NablaError);
    const wrongStructure = nb.customJvp(
      (v: A) => nb.sin(v),
      // @ts-expect-error: the tangent output has another structure than f's output
      ([v]: A[], [dv]: A[]) => [nb.sin(v), [dv, dv]],
    );
    expect(() => nb.jvp(wrongStructure, [x], [x])).toThrow(nb.ShapeError);
    expect(() => nb.grad((v: A) => nb.sum(wrongStructure(v)))(x)).toThrow(nb.ShapeError);
    const wrongShape = nb.customJvp(
      (v: A) => nb.sin(v),
      ([v]: [A]) => [nb.sin(v), nb.ones([3])],
    );
    // a tangent that does not fit the primal output is a wrong rule (GradError), never broadcast
    expect(() => nb.jvp(wrongShape, [x], [x])).toThrow(nb.GradError);
  });
});

// ---------------------------------------------------------------------------

describe("customVjp", () => {
  // sin in value; declared cotangent map ct ↦ 2·ct·cos x (twice the true one), linear in ct
  function makeSin2() {
    const calls = { f: 0, fwd: 0, bwd: 0 };
    const g = nb.customVjp(
      (x: A) => {
        calls.f++;
        return nb.sin(x);
      },
      (x: A) => {
        calls.fwd++;
        return [nb.sin(x), nb.cos(x)];
      },
      (c: A, ct: A) => {
        calls.bwd++;
        return [nb.mul(nb.mul(ct, c), 2)];
      },
    );
    return { g, calls };
  }
  const xs = [0.4, -1.3, 2.1];
  const twoCos = xs.map((v) => 2 * Math.cos(v));

  it("eager evaluation runs f only", () => {
    const { g, calls } = makeSin2();
    expectClose(g(arr(xs)), xs.map(Math.sin), [3], CF);
    expect(calls).toEqual({ f: 1, fwd: 0, bwd: 0 });
  });

  it("grad, vjp and jacrev use fwd/bwd", () => {
    const { g, calls } = makeSin2();
    expectClose(nb.grad((x: A) => nb.sum(g(x)))(arr(xs)), twoCos, [3], CF);
    expect(calls.fwd).toBe(1);
    expect(calls.bwd).toBe(1);
    const [y, back] = nb.vjp(g, arr(xs));
    expectClose(y, xs.map(Math.sin), [3], CF);
    const ct = [1, -2, 0.5];
    const [gx] = back(arr(ct));
    expectClose(
      gx,
      twoCos.map((v, i) => v * ct[i]!),
      [3],
      CF,
    );
    expectClose(nb.jacrev(g)(arr(xs)), diagOf(twoCos), [3, 3], CF);
  });

  it("vmap(grad) and grad(sum∘vmap) use bwd per example", () => {
    const { g } = makeSin2();
    const rows = [
      [0.1, 0.2],
      [-0.5, 1.5],
    ];
    const X = arr(rows.flat(), [2, 2]);
    const ref = rows.flat().map((v) => 2 * Math.cos(v));
    expectClose(nb.vmap(g)(X), rows.flat().map(Math.sin), [2, 2], CF);
    expectClose(nb.vmap(nb.grad((x: A) => nb.sum(g(x))))(X), ref, [2, 2], CF);
    expectClose(nb.grad((x: A) => nb.sum(nb.vmap(g)(x)))(X), ref, [2, 2], CF);
  });

  it("vmap with an unbatched argument: grad, vmap(grad), forward mode and hessian", () => {
    // f(w, x) = w·x in value; declared cotangents (10·ct·x, ct·w) (the w-part deliberately wrong)
    const f = nb.customVjp(
      (w: A, x: A) => nb.mul(w, x),
      (w: A, x: A) => [nb.mul(w, x), [w, x]],
      ([w, x]: [A, A], ct: A) => [nb.mul(nb.mul(ct, x), 10), nb.mul(ct, w)],
    );
    const X = arr([1, 2, 3]);
    const vf = nb.vmap(f, { inAxes: [null, 0] });
    expectClose(vf(2, X), [2, 4, 6], [3], CF);
    // the unbatched argument's cotangent sums over the batch
    expectClose(nb.grad((w: A) => nb.sum(vf(w, X)))(2), 10 * 6, [], CF);
    const [gw, gx] = nb.vmap(nb.grad(f, { argnums: [0, 1] }), { inAxes: [null, 0] })(2, X);
    expectClose(gw!, [10, 20, 30], [3], CF);
    expectClose(gx!, [2, 2, 2], [3], CF);
    const [, dy] = nb.jvp((w: A) => vf(w, X), [nb.array(2)], [nb.array(1)]);
    expectClose(dy, [10, 20, 30], [3], CF);
    // hessian of sum(vf(2, x²)) in x: gradient 2x·w = 4x ⇒ 4·I
    expectClose(nb.hessian((x: A) => nb.sum(vf(nb.array(2), nb.mul(x, x))))(X), diagOf([4, 4, 4]), [3, 3], CF);
  });

  it("forward mode (jvp, jacfwd) transposes bwd when bwd is linear in ct", () => {
    const { g } = makeSin2();
    const t = [0.3, 1, -1];
    const [y, dy] = nb.jvp(g, [arr(xs)], [arr(t)]);
    expectClose(y, xs.map(Math.sin), [3], CF);
    expectClose(
      dy,
      twoCos.map((v, i) => v * t[i]!),
      [3],
      CF,
    );
    expectClose(nb.jacfwd(g)(arr(xs)), diagOf(twoCos), [3, 3], CF);
    // linearize too
    const [, lin] = nb.linearize(g, arr(xs));
    expectClose(
      lin(arr(t)),
      twoCos.map((v, i) => v * t[i]!),
      [3],
      CF,
    );
  });

  it("forward mode of a multi-argument, non-diagonal bwd (transposition gives J t, not Jᵀ t)", () => {
    // f(x) = A x with bwd ct ↦ Aᵀ ct : J = A, so jvp must give A t
    const Amat = [1, 2, 3, 4, 5, 6]; // [2, 3]
    const Aa = arr(Amat, [2, 3]);
    const f = nb.customVjp(
      (x: A) => nb.matmul(Aa, x),
      (x: A) => [nb.matmul(Aa, x), null],
      (_r: null, ct: A) => [nb.matmul(nb.transpose(Aa), ct)],
    );
    const t = [1, -1, 2];
    const [, dy] = nb.jvp(f, [arr([0, 0, 0])], [arr(t)]);
    expectClose(dy, [1 - 2 + 6, 4 - 5 + 12], [2], CF);
    expectClose(nb.jacfwd(f)(arr([0.1, 0.2, 0.3])), Amat, [2, 3], CF);
    expectClose(nb.jacrev(f)(arr([0.1, 0.2, 0.3])), Amat, [2, 3], CF);
  });

  it("hessian and jit(grad) differentiate through bwd and the residuals", () => {
    const { g } = makeSin2();
    // grad = 2 cos x (through the residual cos x) ⇒ hessian diag(−2 sin x)
    expectClose(nb.hessian((x: A) => nb.sum(g(x)))(arr(xs)), diagOf(xs.map((v) => -2 * Math.sin(v))), [3, 3], CF);
    expectClose(nb.jit(nb.grad((x: A) => nb.sum(g(x))))(arr(xs)), twoCos, [3], CF);
    expectClose(nb.grad((x: A) => nb.sum(nb.jit(g)(x)))(arr(xs)), twoCos, [3], CF);
  });

  it("makeGraph shows custom_vjp_call", () => {
    const { g } = makeSin2();
    const gr = nb.makeGraph(g)(nb.zeros([3]));
    expect(prims(gr)).toEqual(["custom_vjp_call"]);
    expect(gr.toString()).toContain("custom_vjp_call");
  });

  it("a non-linear bwd (gradient clipping) is used by reverse mode", () => {
    const clipGrad = nb.customVjp(
      (x: A) => x,
      (x: A) => [x, null],
      (_r: null, ct: A) => [nb.clip(ct, -1, 1)],
    );
    // d/dx sum(5·x) = 5, clipped to 1; d/dx sum(0.3·x) = 0.3 (unchanged); −4 → −1
    const g = nb.grad((x: A) => nb.sum(nb.mul(clipGrad(x), arr([5, 0.3, -4]))))(arr([1, 2, 3]));
    expectClose(g, [1, 0.3, -1], [3], CF);
  });

  it("several arguments; null cotangents from bwd are zeros of the argument's shape", () => {
    const f = nb.customVjp(
      (x: A, y: A) => nb.mul(x, y),
      (x: A, y: A) => [nb.mul(x, y), [x, y]],
      ([, y]: [A, A], ct: A) => [nb.mul(ct, y), null],
    );
    const x = arr([1, 2, 3]);
    const y = arr([4, 5, 6], [3]);
    const [gx, gy] = nb.grad((a: A, b: A) => nb.sum(f(a, b)), { argnums: [0, 1] })(x, y);
    expectClose(gx!, [4, 5, 6], [3], CF);
    expectClose(gy!, [0, 0, 0], [3], CF);
    // undefined works like null
    const h = nb.customVjp(
      (a: A, b: A) => nb.add(a, b),
      (a: A, b: A) => [nb.add(a, b), null],
      (_r: null, ct: A) => [undefined, ct],
    );
    const [ha, hb] = nb.grad((a: A, b: A) => nb.sum(h(a, b)), { argnums: [0, 1] })(arr([1, 1]), arr([2, 2]));
    expectClose(ha!, [0, 0], [2], CF);
    expectClose(hb!, [1, 1], [2], CF);
  });

  it("JS-number cotangent leaves are filled to the argument's shape", () => {
    const f = nb.customVjp(
      (x: A) => nb.sin(x),
      (x: A) => [nb.sin(x), null],
      () => [7],
    );
    expectClose(nb.grad((x: A) => nb.sum(f(x)))(arr([1, 2])), [7, 7], [2], CF);
  });

  it("pytree arguments, outputs and residuals (against finite differences)", () => {
    type P = { w: A; b: A };
    // f(p, x) = {y: w·x + b, n: sum(w²)}; residuals {w, x: [x]} (nested)
    const seenCt: { y: number[]; n: number[] }[] = [];
    const f = nb.customVjp(
      (p: P, x: A) => ({ y: nb.add(nb.mul(p.w, x), p.b), n: nb.sum(nb.mul(p.w, p.w)) }),
      (p: P, x: A) => [
        { y: nb.add(nb.mul(p.w, x), p.b), n: nb.sum(nb.mul(p.w, p.w)) },
        { w: p.w, x: [x] as [A], none: null },
      ],
      (r: { w: A; x: [A]; none: null }, ct: { y: A; n: A }) => {
        seenCt.push({ y: vals(ct.y), n: vals(ct.n) });
        expect(r.none).toBeNull();
        return [{ w: nb.add(nb.mul(ct.y, r.x[0]), nb.mul(nb.mul(r.w, 2), ct.n)), b: ct.y }, nb.mul(ct.y, r.w)];
      },
    );
    // loss = sum(y²) + 3n
    const loss = (p: P, x: A) => {
      const o = f(p, x);
      return nb.add(nb.sum(nb.mul(o.y, o.y)), nb.mul(o.n, 3));
    };
    const lossJs = (v: number[]): number[] => {
      const [w0, w1, b0, b1, x0, x1] = v as [number, number, number, number, number, number];
      const y0 = w0 * x0 + b0;
      const y1 = w1 * x1 + b1;
      return [y0 * y0 + y1 * y1 + 3 * (w0 * w0 + w1 * w1)];
    };
    const v = [0.5, -1, 0.2, 0.1, 2, -0.3];
    const J = fdJacobian(lossJs, v);
    const [gp, gx] = nb.grad(loss, { argnums: [0, 1] })(
      { w: arr(v.slice(0, 2)), b: arr(v.slice(2, 4)) },
      arr(v.slice(4)),
    );
    expectClose(gp!.w, J.slice(0, 2), [2], FD);
    expectClose(gp!.b, J.slice(2, 4), [2], FD);
    expectClose(gx!, J.slice(4), [2], FD);
    // the cotangent of n arrived as an array (3), of y as 2y
    expect(seenCt[0]!.n).toEqual([3]);

    // an output unused by the loss reaches bwd as a zero cotangent array
    seenCt.length = 0;
    const gOnlyY = nb.grad((p: P) => nb.sum(f(p, arr([1, 1])).y))({ w: arr([1, 2]), b: arr([0, 0]) });
    expectClose(gOnlyY.w, [1, 1], [2], CF);
    expectClose(gOnlyY.b, [1, 1], [2], CF);
    expect(seenCt[0]!.n).toEqual([0]);
  });

  it("malformed fwd/bwd returns are NablaErrors", () => {
    const x = arr([0.5, 1]);
    const loss = (g: (v: A) => A) => (v: A) => nb.sum(g(v));
    const fwdNotPair = nb.customVjp(
      (v: A) => nb.sin(v),
      ((v: A) => nb.sin(v)) as never,
      (_r: null, ct: A) => [ct],
    );
    expect(() => nb.grad(loss(fwdNotPair))(x)).toThrow(nb.NablaError);
    const bwdTooMany = nb.customVjp(
      (v: A) => nb.sin(v),
      (v: A) => [nb.sin(v), null],
      // @ts-expect-error: two cotangents for one argument
      (_r: null, ct: A) => [ct, ct],
    );
    expect(() => nb.grad(loss(bwdTooMany))(x)).toThrow(nb.NablaError);
    const bwdNotArray = nb.customVjp(
      (v: A) => nb.sin(v),
      (v: A) => [nb.sin(v), null],
      ((_r: null, ct: A) => ct) as never,
    );
    expect(() => nb.grad(loss(bwdNotArray))(x)).toThrow(nb.NablaError);
    const bwdStructure = nb.customVjp(
      (p: { a: A }) => nb.sin(p.a),
      (p: { a: A }) => [nb.sin(p.a), null],
      // @ts-expect-error: the cotangent of p must be an object like p
      (_r: null, ct: A) => [[ct]],
    );
    expect(() => nb.grad((p: { a: A }) => nb.sum(bwdStructure(p)))({ a: x })).toThrow(nb.ShapeError);
    const bwdShape = nb.customVjp(
      (v: A) => nb.sin(v),
      (v: A) => [nb.sin(v), null],
      () => [nb.ones([3])],
    );
    expect(() => nb.grad(loss(bwdShape))(x)).toThrow(nb.ShapeError);
  });

  it("fwd's primal output must match f's (shape checked under grad and vjp alike)", () => {
    const x = arr([0.5, 1]);
    const bad = nb.customVjp(
      (v: A) => nb.sin(v),
      () => [nb.ones([3]), null],
      (_r: null, ct: A) => [ct],
    );
    expect(() => nb.grad((v: A) => nb.sum(bad(v)))(x)).toThrow(nb.ShapeError);
    // vjp's primal output would otherwise disagree with f(x) (shape [3] vs [2])
    expect(() => nb.vjp(bad, x)).toThrow(nb.ShapeError);
  });
});

// ---------------------------------------------------------------------------

describe("customJvp / customVjp closing over a value a transform traces", () => {
  // the rules say nothing about the closed-over w: its derivative would be lost (it was silently 0)
  const withJvp = (w: A) =>
    nb.customJvp(
      (u: A) => nb.mul(u, w),
      ([u], [t]) => [nb.mul(u!, w), nb.mul(t!, w)],
    );
  const withVjp = (w: A) =>
    nb.customVjp(
      (u: A) => nb.mul(u, w),
      (u: A) => [nb.mul(u, w), u],
      (_u: A, ct: A) => [nb.mul(ct, w)],
    );
  const w0 = nb.array([1.5, 2.5]);
  const x0 = nb.array([2, 3]);
  const closes = /closes over a traced value.*pass (that value|it) as an argument instead/;
  for (const [name, mk] of [
    ["customJvp", withJvp],
    ["customVjp", withVjp],
  ] as const) {
    it(`${name}: an inner grad's tracer under an outer grad or jvp throws, naming ${name}`, () => {
      const inner = (x: A): A => nb.grad((w: A) => nb.sum(mk(w)(x)))(w0);
      expect(() => nb.grad((x: A) => nb.sum(inner(x)))(x0)).toThrow(new RegExp(`^${name}: `));
      expect(() => nb.grad((x: A) => nb.sum(inner(x)))(x0)).toThrow(closes);
      expect(() => nb.jvp(inner, [x0], [nb.onesLike(x0)])).toThrow(closes);
    });
    it(`${name}: the value passed as an argument instead gives the closed form`, () => {
      const f2 = (u: A, w: A): A => nb.mul(u, w);
      const cj =
        name === "customJvp"
          ? nb.customJvp(f2, ([u, w], [du, dw]) => [nb.mul(u!, w!), nb.add(nb.mul(du!, w!), nb.mul(u!, dw!))])
          : nb.customVjp(
              f2,
              (u: A, w: A) => [nb.mul(u, w), [u, w]],
              ([u, w]: A[], ct: A) => [nb.mul(ct, w!), nb.mul(ct, u!)],
            );
      // d/dx Σ_w d/dw Σ u·w = d/dx Σ x = [1, 1]
      const g = nb.grad((x: A) => nb.sum(nb.grad((w: A) => nb.sum(cj(x, w)), { argnums: 0 })(w0)))(x0);
      expectClose(g, [1, 1], [2], 1e-15);
    });
  }
  it("customJvp: a closure over the same transform's tracer throws too (grad w.r.t. w of f(2w))", () => {
    expect(() => nb.grad((w: A) => nb.sum(withJvp(w)(nb.mul(w, 2))))(w0)).toThrow(closes);
  });
});

describe("checkpoint", () => {
  // f(x) = sum(sin x · eˣ): ∇f = eˣ(sin x + cos x), ∇²f = diag(2 eˣ cos x)
  const fJs = (v: number[]): number[] => [v.reduce((s, a) => s + Math.sin(a) * Math.exp(a), 0)];
  // calls: JS calls of f (under a transform checkpoint also stages f once per call, to find the values
  // it closes over from outer transforms); evals: evaluations of its body (a debug.callback inside it
  // runs at each evaluation, staged or not: the forward pass, the backward recomputation)
  function makeCounted() {
    const calls = { n: 0 };
    const evals = { n: 0 };
    const f = (x: A) => {
      calls.n++;
      nb.debug.callback((_x: A) => void evals.n++, x);
      return nb.sum(nb.mul(nb.sin(x), nb.exp(x)));
    };
    return { f, c: nb.checkpoint(f), calls, evals };
  }
  const xs = [0.3, -0.7, 1.2];
  const gradRef = xs.map((v) => Math.exp(v) * (Math.sin(v) + Math.cos(v)));

  it("same value as the function; forward-only evaluation runs it once", () => {
    const { c, calls } = makeCounted();
    expectClose(c(arr(xs)), fJs(xs), [], CF);
    expect(calls.n).toBe(1);
  });

  it("grad: same derivative (closed form and finite differences)", () => {
    const { c } = makeCounted();
    const g = nb.grad(c)(arr(xs));
    expectClose(g, gradRef, [3], CF);
    expectClose(g, fdJacobian(fJs, xs), [3], FD);
  });

  it("under grad the function runs once forward and once more in the backward pass", () => {
    const { c, calls, evals } = makeCounted();
    nb.grad(c)(arr(xs));
    // staged once, run forward, run again in the backward pass
    expect(calls.n).toBe(3);
    expect(evals.n).toBe(2);
    // vjp: the forward pass alone runs it once, the pullback once more
    evals.n = 0;
    const [y, back] = nb.vjp(c, arr(xs));
    expect(evals.n).toBe(1);
    expectClose(y, fJs(xs), [], CF);
    expectClose(
      back(nb.array(2))[0],
      gradRef.map((v) => 2 * v),
      [3],
      CF,
    );
    expect(evals.n).toBe(2);
  });

  it("hessian (closed form), jvp and vmap(grad) agree with the plain function", () => {
    const { f, c } = makeCounted();
    expectClose(nb.hessian(c)(arr(xs)), diagOf(xs.map((v) => 2 * Math.exp(v) * Math.cos(v))), [3, 3], CF);
    const t = [1, -2, 0.5];
    const [y, dy] = nb.jvp(c, [arr(xs)], [arr(t)]);
    expectClose(y, fJs(xs), [], CF);
    expectClose(
      dy,
      gradRef.reduce((s, gv, i) => s + gv * t[i]!, 0),
      [],
      CF,
    );
    const rows = [
      [0.1, 0.2, 0.3],
      [-1, 0.5, 0.9],
    ];
    const X = arr(rows.flat(), [2, 3]);
    const perEx = rows.flat().map((v) => Math.exp(v) * (Math.sin(v) + Math.cos(v)));
    expectClose(nb.vmap(nb.grad(c))(X), perEx, [2, 3], CF);
    expectClose(
      nb.vmap(c)(X),
      rows.map((r) => fJs(r)[0]!),
      [2],
      CF,
    );
    expectClose(nb.vmap(nb.grad(c))(X), vals(nb.vmap(nb.grad(f))(X)), [2, 3], CF);
  });

  it("vmap(hessian(checkpoint)) (closed form: d²/dx² x sin x = 2 cos x − x sin x)", () => {
    const c = nb.checkpoint((x: A) => nb.sum(nb.mul(nb.sin(x), x)));
    const rows = [
      [1, 2],
      [3, 4],
    ];
    const d2 = (v: number) => 2 * Math.cos(v) - v * Math.sin(v);
    expectClose(
      nb.vmap(nb.hessian(c))(arr(rows.flat(), [2, 2])),
      rows.flatMap((r) => diagOf(r.map(d2))),
      [2, 2, 2],
      CF,
    );
  });

  it("jit(grad(checkpoint)) traces it once, then reuses the cache; each call runs it forward and again backward", () => {
    const { c, calls, evals } = makeCounted();
    const jg = nb.jit(nb.grad(c));
    expectClose(jg(arr(xs)), gradRef, [3], CF);
    // staged by checkpoint, then traced forward and backward by jit's staging
    expect(calls.n).toBe(3);
    expect(evals.n).toBe(2);
    calls.n = 0;
    evals.n = 0;
    expectClose(jg(arr(xs)), gradRef, [3], CF);
    expect(calls.n).toBe(0);
    expect(evals.n).toBe(2);
  });

  it("closes over tracers of outer transforms (they become its operands): grad, grad of grad, jvp, vmap", () => {
    // h(w) = Σ_c sin(w · (w c)) with the checkpointed block closing over w: h = Σ sin(w² c), c = [1, 2]
    const c = [1, 2];
    const h = (w: A) => nb.sum(nb.checkpoint((v: A) => nb.sin(nb.mul(v, w)))(nb.mul(w, arr(c))));
    const d1 = (w: number) => c.reduce((s, k) => s + 2 * w * k * Math.cos(w * w * k), 0);
    const d2 = (w: number) =>
      c.reduce((s, k) => s + 2 * k * Math.cos(w * w * k) - 4 * w * w * k * k * Math.sin(w * w * k), 0);
    // closed forms in float64: a handful of operations each, 1e-12
    expectClose(nb.grad(h)(nb.array(0.7)), d1(0.7), [], CF);
    expectClose(nb.grad(nb.grad(h))(nb.array(0.7)), d2(0.7), [], CF);
    expectClose(nb.jvp(h, [nb.array(0.7)], [nb.array(1)])[1], d1(0.7), [], CF);
    expectClose(nb.vmap(nb.grad(h))(arr([0.3, -1.1])), [d1(0.3), d1(-1.1)], [2], CF);
    expectClose(nb.jit(nb.grad(nb.grad(h)))(nb.array(-0.4)), d2(-0.4), [], CF);
    // only the closed-over value traced (the argument constant), and nested checkpoints
    const k = (w: A) =>
      nb.sum(nb.checkpoint((v: A) => nb.checkpoint((u: A) => nb.sin(nb.mul(u, w)))(nb.mul(v, w)))(arr(c)));
    // k = Σ sin(w² c) as well
    expectClose(nb.grad(k)(nb.array(0.7)), d1(0.7), [], CF);
    expectClose(nb.grad(nb.grad(k))(nb.array(0.7)), d2(0.7), [], CF);
    expectClose(nb.vmap(nb.grad(k))(arr([0.3, -1.1])), [d1(0.3), d1(-1.1)], [2], CF);
  });

  it("several and pytree arguments: tanh(W x + b) block against finite differences", () => {
    const block = nb.checkpoint((p: { W: A; b: A }, x: A) => nb.tanh(nb.add(nb.matmul(p.W, x), p.b)));
    const loss = (p: { W: A; b: A }, x: A) => nb.sum(nb.mul(block(p, x), arr([1, -2])));
    const lossJs = (v: number[]): number[] => {
      // v = W (2×2 row-major), b (2), x (2)
      const y0 = Math.tanh(v[0]! * v[6]! + v[1]! * v[7]! + v[4]!);
      const y1 = Math.tanh(v[2]! * v[6]! + v[3]! * v[7]! + v[5]!);
      return [y0 - 2 * y1];
    };
    const v = [0.5, -0.3, 0.8, 0.1, 0.05, -0.2, 1.1, -0.6];
    const J = fdJacobian(lossJs, v);
    const [gp, gx] = nb.grad(loss, { argnums: [0, 1] })(
      { W: arr(v.slice(0, 4), [2, 2]), b: arr(v.slice(4, 6)) },
      arr(v.slice(6)),
    );
    expectClose(gp!.W, J.slice(0, 4), [2, 2], FD);
    expectClose(gp!.b, J.slice(4, 6), [2], FD);
    expectClose(gx!, J.slice(6), [2], FD);
  });

  it("nested checkpoints and a chain of them keep the derivative", () => {
    const inner = nb.checkpoint((x: A) => nb.sin(x));
    const outer = nb.checkpoint((x: A) => nb.exp(inner(x)));
    // d/dx sum(exp(sin x)) = cos x · exp(sin x)
    expectClose(
      nb.grad((x: A) => nb.sum(outer(x)))(arr(xs)),
      xs.map((v) => Math.cos(v) * Math.exp(Math.sin(v))),
      [3],
      CF,
    );
    const layer = nb.checkpoint((x: A) => nb.tanh(x));
    const chainJs = (v: number[]) => [Math.tanh(Math.tanh(Math.tanh(v[0]!)))];
    expectClose(nb.grad((x: A) => layer(layer(layer(x))))(0.4), fdJacobian(chainJs, [0.4]), [], FD);
  });
});
