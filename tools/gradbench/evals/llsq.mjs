// llsq: y(x) = ½ Σ_i (s_i − Σ_j x_j t_i^j)² with t_i = −1 + 2i/(n−1), s_i = sign(t_i), n points and
// m = |x| coefficients; vectorised as the residual s − T x of the n×m Vandermonde matrix T.
import * as nb from "nabla";
import { fn, f64, nested, scalar } from "./util.mjs";

function llsq(x, t, s) {
  const powers = nb.arange(x.shape[0]);
  const vander = nb.pow(nb.expandDims(t, 1), nb.expandDims(powers, 0)); // t_i^j, with 0^0 = 1
  const r = nb.sub(s, nb.matmul(vander, x));
  return nb.mul(0.5, nb.sum(nb.mul(r, r)));
}

const primal = nb.jit(llsq);
const gradient = nb.jit(nb.grad(llsq));

function prepare(input) {
  const n = input.n;
  const t = Float64Array.from({ length: n }, (_, i) => -1 + (i * 2) / (n - 1));
  return { x: f64(input.x), t: nb.array(t), s: nb.array(t.map(Math.sign)) };
}

export const functions = {
  primal: fn(prepare, ({ x, t, s }) => primal(x, t, s), scalar),
  gradient: fn(prepare, ({ x, t, s }) => gradient(x, t, s), nested),
};
