// ode: s steps of classical Runge-Kutta (RK4) on [0, 2] for y0' = x0, y_i' = x_i y_{i−1} with
// y(0) = 0; `gradient` is the gradient of the last component of y(2) with respect to x (reverse
// mode through the unrolled loop).
import * as nb from "nabla";
import { fn, f64, nested } from "./util.mjs";

/** y' = x · (1, y_0, ..., y_{n−2}). */
const rhs = (x, y) => nb.mul(x, nb.concatenate([nb.ones([1]), nb.slice(y, [0], [y.shape[0] - 1])]));

function rk4(x, s) {
  const h = 2 / s;
  const step = (_i, y) => {
    const k1 = rhs(x, y);
    const k2 = rhs(x, nb.add(y, nb.mul(h / 2, k1)));
    const k3 = rhs(x, nb.add(y, nb.mul(h / 2, k2)));
    const k4 = rhs(x, nb.add(y, nb.mul(h, k3)));
    const incr = nb.add(nb.add(k1, nb.mul(2, k2)), nb.add(nb.mul(2, k3), k4));
    return nb.add(y, nb.mul(h / 6, incr));
  };
  return nb.forLoop(0, s, step, nb.zerosLike(x));
}

const primal = nb.jit(rk4, { staticArgnums: [1] });
const gradient = nb.jit(
  nb.grad((x, s) => {
    const y = rk4(x, s);
    return nb.reshape(nb.slice(y, [y.shape[0] - 1], [y.shape[0]]), []);
  }),
  { staticArgnums: [1] },
);
const prepare = (input) => ({ x: f64(input.x), s: input.s });

export const functions = {
  primal: fn(prepare, ({ x, s }) => primal(x, s), nested),
  gradient: fn(prepare, ({ x, s }) => gradient(x, s), nested),
};
