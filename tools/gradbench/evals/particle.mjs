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

const X0 = nb.array([0, 8]);
const V0 = nb.array([0.75, 0]);

/** The height after one more Euler step from (x, ẋ): the loop stops when it would be ≤ 0. */
const ahead = (x, xdot) => component(nb.add(x, nb.mul(DT, xdot)), 1);

/**
 * The Euler loop for the inner mode m: w ↦ (position x, velocity ẋ, next height h) just before the
 * crossing, with the outer derivative by forward mode (`f`) or reverse mode (`r`).
 *
 * One step (x, ẋ) ↦ (x + Δt ẋ, ẋ − Δt ∇p(x)), also returning the height after the following step
 * (the stopping test), is staged with jit, and so are its jvp and its vjp (nabla's, of the staged
 * step). The loop's derivative rules run the data-dependent loop on concrete values: forward mode
 * pushes the tangents through each step's staged jvp; reverse mode records the states and pulls
 * the cotangents back through each step's staged vjp, last step first (the custom reverse rule a
 * JAX user writes for a while loop). The loop itself is a `whileLoop` on the height, so the rules'
 * output shapes are known without running it.
 */
function eulerLoops(m) {
  const step = nb.jit((x, xdot, w) => {
    const force = nb.neg(gradFor(m)((x) => potential(x, w))(x));
    const next = [nb.add(x, nb.mul(DT, xdot)), nb.add(xdot, nb.mul(DT, force))];
    return [...next, ahead(...next)];
  });
  const stepJvp = nb.jit((x, xdot, w, tx, txdot, tw) => nb.jvp(step, [x, xdot, w], [tx, txdot, tw]));
  const stepVjp = nb.jit((x, xdot, w, ct) => nb.vjp(step, x, xdot, w)[1](ct));
  const init = [X0, V0, ahead(X0, V0)];
  const loop = (w) =>
    nb.whileLoop(
      ([, , h]) => nb.greater(h, 0),
      ([x, xdot]) => step(x, xdot, w),
      init,
    );
  const forward = nb.customJvp(loop, ([w], [tw]) => {
    let state = init;
    let tangent = init.map((v) => nb.zerosLike(v));
    while (state[2].item() > 0) [state, tangent] = stepJvp(state[0], state[1], w, tangent[0], tangent[1], tw);
    return [state, tangent];
  });
  const reverse = nb.customVjp(
    loop,
    (w) => {
      const states = [];
      let state = init;
      while (state[2].item() > 0) {
        states.push(state);
        state = step(state[0], state[1], w);
      }
      return [state, { w, states }];
    },
    ({ w, states }, ct) => {
      let ctState = ct;
      let ctW = nb.zerosLike(w);
      for (let k = states.length - 1; k >= 0; k--) {
        const [cx, cxdot, cw] = stepVjp(states[k][0], states[k][1], w, ctState);
        // the height entering a step is not one of its inputs: its cotangent stops here
        ctState = [cx, cxdot, nb.zerosLike(ct[2])];
        ctW = nb.add(ctW, cw);
      }
      return [ctW];
    },
  );
  return { f: forward, r: reverse };
}

const LOOPS = { f: eulerLoops("f"), r: eulerLoops("r") };

/** x_0(t_f)² for control w (a 0-d array): outer/inner derivative modes pick the loop. */
function naiveEuler(outer, inner, w) {
  const [x, xdot] = LOOPS[inner][outer](w);
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
