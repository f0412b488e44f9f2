// particle: a charged particle from (0, 8) with velocity (0.75, 0), accelerated by the field of
// charges at (10, 10 − w) and (10, 0), integrated by Euler steps of 0.1 until it crosses the x axis
// (a data-dependent loop); the crossing point's x² is minimised over w by gradient descent. The
// force is −∇p of the potential p, so the objective contains a derivative and its minimisation
// differentiates through it (nested AD). ff, fr, rf, rr choose the modes of the outer (argmin) and
// inner (force) gradients. Output: the final w.
import * as nb from "nabla";
import { fn } from "./util.mjs";
import { argmin, gradFor } from "./solver.mjs";

const component = (v, i) => nb.reshape(nb.slice(v, [i], [i + 1]), []);

const DT = 0.1;

/** The potential of the two fixed charges at x (a point), for control w. */
function potential(x, w) {
  const charges = nb.stack([nb.stack([nb.array(10), nb.sub(10, w)]), nb.array([10, 0])]);
  return nb.sum(nb.reciprocal(nb.sqrt(nb.sum(nb.square(nb.sub(x, charges)), 1))));
}

// One Euler step (position, velocity) -> (position, velocity) with the force −∇p by the inner mode,
// staged once per mode with jit.
const eulerStep = Object.fromEntries(
  ["f", "r"].map((m) => [
    m,
    nb.jit((x, xdot, w) => {
      const force = nb.neg(gradFor(m)((x) => potential(x, w))(x));
      return [nb.add(x, nb.mul(DT, xdot)), nb.add(xdot, nb.mul(DT, force))];
    }),
  ]),
);

// For an outer reverse-mode derivative, each step is one node of the outer tape: its pullback is
// nabla's vjp of the step, staged with jit (so the backward pass runs compiled code per step).
const eulerStepRev = Object.fromEntries(
  ["f", "r"].map((m) => {
    const step = eulerStep[m];
    const pullback = nb.jit((x, xdot, w, ct) => nb.vjp(step, x, xdot, w)[1](ct));
    return [
      m,
      nb.customVjp(
        step,
        (x, xdot, w) => [step(x, xdot, w), [x, xdot, w]],
        (res, ct) => pullback(...res, ct),
      ),
    ];
  }),
);

/** x_0(t_f)² for control w (a 0-d array), with the inner gradient in mode `inner`. */
function naiveEuler(outer, inner, w) {
  const step = (outer === "r" ? eulerStepRev : eulerStep)[inner];
  let x = nb.array([0, 8]);
  let xdot = nb.array([0.75, 0]);
  for (;;) {
    const [xnew, xdotnew] = step(x, xdot, w);
    if (component(xnew, 1).item() <= 0) break;
    x = xnew;
    xdot = xdotnew;
  }
  // linear interpolation to the crossing
  const dtf = nb.neg(nb.div(component(x, 1), component(xdot, 1)));
  const xf = nb.add(x, nb.mul(dtf, xdot));
  return nb.square(component(xf, 0));
}

function particle(outer, inner, w0) {
  const w = argmin(gradFor(outer), (w) => naiveEuler(outer, inner, component(w, 0)), nb.array([w0]));
  return component(w, 0);
}

export const functions = Object.fromEntries(
  ["ff", "fr", "rf", "rr"].map((v) => [
    v,
    fn(
      (input) => input.w,
      (w0) => particle(v[0], v[1], w0),
      (w) => w.item(),
    ),
  ]),
);
