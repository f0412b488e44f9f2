/**
 * A short tour of nabla: `npm run demo`.
 *
 * Gradient, JVP, VJP and Hessian of small functions; printed graphs; a sixth
 * derivative by nesting `grad` six times, checked against its closed form;
 * and how the derivative graphs grow with the order.
 */
import * as nb from "../src/index.js";
import { dim } from "./util.js";

const section = (title: string): void => console.log(`\n=== ${title} ===`);
const fmt = (v: number): string => v.toPrecision(15);

// f(x) = Σ x_i² sin x_i,  ∇f = 2x sin x + x² cos x
section("grad");
const f = (x: nb.NDArray) => nb.sum(nb.mul(nb.square(x), nb.sin(x)));
const x = nb.array([0.5, 1, 2]);
console.log("x       =", x.toString());
console.log("f(x)    =", f(x).toString());
console.log("∇f(x)   =", nb.grad(f)(x).toString());
console.log("closed  =", nb.array([0.5, 1, 2].map((v) => 2 * v * Math.sin(v) + v * v * Math.cos(v))).toString());

// Forward mode: push a tangent through polar → cartesian coordinates.
section("jvp");
const polar = (p: nb.NDArray) => {
  const r = nb.slice(p, [0], [1]);
  const theta = nb.slice(p, [1], [2]);
  return nb.concatenate([nb.mul(r, nb.cos(theta)), nb.mul(r, nb.sin(theta))]);
};
const [r0, t0] = [2, Math.PI / 6];
const [xy, dxy] = nb.jvp(polar, [nb.array([r0, t0])], [nb.array([0, 1])]);
console.log("(r, θ) = (2, π/6), tangent (0, 1): moving along the circle");
console.log("point   =", xy.toString());
console.log("J·t     =", dxy.toString());
console.log("closed  =", nb.array([-r0 * Math.sin(t0), r0 * Math.cos(t0)]).toString(), " (-r sin θ, r cos θ)");

// Reverse mode: pull a cotangent back through the same map.
section("vjp");
const [, pull] = nb.vjp(polar, nb.array([r0, t0]));
const [ct] = pull(nb.array([1, 0]));
console.log("ct = (1, 0): ctᵀ·J =", ct.toString());
console.log("closed             =", nb.array([Math.cos(t0), -r0 * Math.sin(t0)]).toString(), " (cos θ, -r sin θ)");

// The Rosenbrock function Σ (1 - x_i)² + 100 (x_{i+1} - x_i²)².
section("hessian (Rosenbrock)");
const rosenbrock = (v: nb.NDArray) => {
  const n = dim(v, 0);
  const a = nb.slice(v, [0], [n - 1]);
  const b = nb.slice(v, [1], [n]);
  return nb.sum(nb.add(nb.square(nb.sub(1, a)), nb.mul(100, nb.square(nb.sub(b, nb.square(a))))));
};
const [px, py] = [1, 2];
const p = nb.array([px, py]);
console.log(`at (x, y) = (${px}, ${py}):`);
console.log("value   =", rosenbrock(p).toString());
console.log("grad    =", nb.grad(rosenbrock)(p).toString());
// ∇f = [-2(1 - x) - 400 x (y - x²), 200 (y - x²)]
console.log("closed  =", nb.array([-2 * (1 - px) - 400 * px * (py - px * px), 200 * (py - px * px)]).toString());
console.log("hessian =");
console.log(nb.hessian(rosenbrock)(p).toString());
// H = [[2 - 400 (y - x²) + 800 x², -400 x], [-400 x, 200]]
console.log("closed form =");
console.log(
  nb
    .array([
      [2 - 400 * (py - px * px) + 800 * px * px, -400 * px],
      [-400 * px, 200],
    ])
    .toString(),
);

section("printed graphs (makeGraph)");
console.log("rosenbrock at f64[2]:");
console.log(nb.makeGraph(rosenbrock)(p).toString());
const h = (x: nb.NDArray) => nb.mul(nb.sin(x), nb.exp(x));
console.log("grad of sin(x)·exp(x):");
console.log(nb.makeGraph(nb.grad(h))(0).toString());

// d^k/dx^k [sin(x) e^x] = 2^(k/2) e^x sin(x + kπ/4)
section("sixth derivative of sin(x)·exp(x)");
let d6: (x: number) => nb.NDArray = h as never;
for (let k = 0; k < 6; k++) d6 = nb.grad(d6);
const x0 = 0.7;
const got = d6(x0).item();
const closed = 2 ** 3 * Math.exp(x0) * Math.sin(x0 + (6 * Math.PI) / 4);
console.log(`x = ${x0}`);
console.log(`grad^6      = ${fmt(got)}`);
console.log(`closed form = ${fmt(closed)}   (2^(k/2) e^x sin(x + kπ/4), k = 6)`);
console.log(`difference  = ${(got - closed).toExponential(2)}`);

// Graph size of the k-th derivative, by nested grad and by nested jvp.
section("equations in makeGraph of the k-th derivative of sin(x)·exp(x)");
const jvpOnce = (g: (x: nb.NDArray) => nb.NDArray) => (x: nb.NDArray) => nb.jvp(g, [x], [1])[1] as nb.NDArray;
let byGrad: (x: nb.NDArray) => nb.NDArray = h;
let byJvp: (x: nb.NDArray) => nb.NDArray = h;
console.log(" k   grad^k   jvp^k");
for (let k = 1; k <= 6; k++) {
  byGrad = nb.grad(byGrad);
  byJvp = jvpOnce(byJvp);
  const ng = nb.makeGraph(byGrad)(0).equations.length;
  const nj = nb.makeGraph(byJvp)(0).equations.length;
  console.log(`${String(k).padStart(2)} ${String(ng).padStart(8)} ${String(nj).padStart(7)}`);
}
