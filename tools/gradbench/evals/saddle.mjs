// saddle: min over x of max over y of f(x, y) = (x0² + x1²) − (y0² + y1²) by nested gradient descent
// from the starting point s for both x and y, then the argmax y at the found x. The four functions
// choose the mode of the outer (argmin, and the final argmax) and the inner (argmax) gradients:
// ff, fr, rf, rr. Output: [x0, x1, y0, y1].
import * as nb from "nabla";
import { fn, f64, nested } from "./util.mjs";
import { argmax, argmin, descend, gradFor } from "./solver.mjs";

const f = (x, y) => nb.sub(nb.sum(nb.mul(x, x)), nb.sum(nb.mul(y, y)));
const negF = (x, y) => nb.neg(f(x, y));

// The inner argmax's objective and gradient (in y, by the inner mode) are staged once with jit;
// under the outer derivative they run as their (already differentiated) graphs on its tracers.
const innerObjective = nb.jit(negF);
const innerGradient = Object.fromEntries(
  ["f", "r"].map((m) => [m, nb.jit((x, y) => gradFor(m)((y) => negF(x, y))(y))]),
);

/** max_y f(x, y) by gradient descent from start, with the inner gradient in mode `inner`. */
function innerMax(inner, x, start) {
  const y = descend(
    (y) => innerObjective(x, y),
    (y) => innerGradient[inner](x, y),
    start,
  );
  return f(x, y);
}

function saddle(outer, inner, start) {
  const g0 = gradFor(outer);
  const x = argmin(g0, (p1) => innerMax(inner, p1, start), start);
  const y = argmax(g0, (p2) => f(x, p2), start);
  return nb.concatenate([x, y]);
}

const prepare = (input) => f64(input.start);

export const functions = Object.fromEntries(
  ["ff", "fr", "rf", "rr"].map((v) => [v, fn(prepare, (start) => saddle(v[0], v[1], start), nested)]),
);
