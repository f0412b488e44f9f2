// lse: LSE(x) = a + log Σ exp(x − a) with a = max x, written from primitives (max, exp, sum, log);
// the gradient by reverse mode. Both staged once per input shape with jit.
import * as nb from "nabla";
import { fn, f64, nested, scalar } from "./util.mjs";

function lse(x) {
  const a = nb.max(x);
  return nb.add(a, nb.log(nb.sum(nb.exp(nb.sub(x, a)))));
}

const primal = nb.jit(lse);
const gradient = nb.jit(nb.grad(lse));
const prepare = (input) => f64(input.x);

export const functions = {
  primal: fn(prepare, primal, scalar),
  gradient: fn(prepare, gradient, nested),
};
