// The gradient-descent solver shared by particle and saddle (Pearlmutter & Siskind's benchmark
// procedure as GradBench specifies it): step size starting at 1e-5, doubled after 10 accepted
// steps and halved after a rejected one; stop when the gradient or the step is smaller than 1e-5.
// The comparisons read concrete values (`item()`), which nabla allows under grad/jvp/vjp, so the
// solver itself can be differentiated by an enclosing transform (nested AD).
import * as nb from "nabla";

/** The gradient of a scalar function of a vector by reverse mode: one vjp with cotangent 1. */
export const gradRev = (f) => (x) => {
  const [y, pullback] = nb.vjp(f, x);
  return pullback(nb.onesLike(y))[0];
};

/** The gradient of a scalar function of a vector by forward mode: one jvp per basis direction. */
export const gradFwd = (f) => (x) => {
  const n = x.shape[0];
  const eye = nb.eye(n);
  const row = (i) => nb.reshape(nb.slice(eye, [i, 0], [i + 1, n]), [n]);
  return nb.stack(Array.from({ length: n }, (_, i) => nb.jvp(f, [x], [row(i)])[1]));
};

/** The gradient transform for a mode letter: "f" forward, "r" reverse. */
export const gradFor = (mode) => (mode === "f" ? gradFwd : gradRev);

const norm = (v) => nb.sqrt(nb.sum(nb.mul(v, v)));
// the solver's own arithmetic, staged once (it runs tens of thousands of times in saddle)
const normJ = nb.jit(norm);
const propose = nb.jit((x, gx, eta) => {
  const next = nb.sub(x, nb.mul(eta, gx));
  return [next, norm(nb.sub(x, next))];
});

/** argmin_x f(x) from x0 by the benchmark's gradient descent, given f and its gradient g. */
export function descend(f, g, x0) {
  let x = x0;
  let fx = f(x);
  let gx = g(x);
  let eta = 1e-5;
  let i = 0;
  for (;;) {
    if (normJ(gx).item() <= 1e-5) return x;
    if (i === 10) {
      eta *= 2;
      i = 0;
      continue;
    }
    const [next, stepNorm] = propose(x, gx, eta);
    if (stepNorm.item() <= 1e-5) return x;
    const fnext = f(next);
    if (fnext.item() < fx.item()) {
      x = next;
      fx = fnext;
      gx = g(next);
      i++;
    } else {
      eta /= 2;
      i = 0;
    }
  }
}

/** argmin_x f(x) from x0, with `grad` the gradient transform. */
export const argmin = (grad, f, x0) => descend(f, grad(f), x0);

/** argmax_x f(x) = argmin_x −f(x). */
export const argmax = (grad, f, x0) => argmin(grad, (x) => nb.neg(f(x)), x0);
