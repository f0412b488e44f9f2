// gmm: the log-posterior of a Gaussian mixture (ADBench's objective, with GradBench's inputs: weights
// alpha, means mu, log-diagonals q and strictly-lower-triangular parts l of the precision factors,
// a Wishart prior with gamma and m) and its gradient by reverse mode with respect to alpha, mu, q, l.
// Vectorised over points and components: the n×k×d centred points times the k factors is one
// batched matrix product.
import * as nb from "nabla";
import { fn, f64, scalar } from "./util.mjs";

/** log Γ(a) for a positive multiple of ½, exactly from factorials: Γ(a) = (a−1)Γ(a−1). */
function logGammaHalfInteger(a) {
  let acc = Number.isInteger(a) ? 0 : 0.5 * Math.log(Math.PI);
  for (let v = Number.isInteger(a) ? 1 : 0.5; v < a - 0.25; v++) acc += Math.log(v);
  return acc;
}

/** The multivariate log-gamma function log Γ_p(a) (for half-integer a). */
function logMultiGamma(a, p) {
  let acc = ((p * (p - 1)) / 4) * Math.log(Math.PI);
  for (let j = 1; j <= p; j++) acc += logGammaHalfInteger(a + (1 - j) / 2);
  return acc;
}

/** Gather indices turning l (padded with a trailing 0) into row-major d×d factors: L[j][i] for j > i. */
function lowerIndex(d) {
  const lsz = (d * (d - 1)) / 2;
  const idx = new Int32Array(d * d).fill(lsz);
  let p = 0;
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) idx[j * d + i] = p++;
  return nb.array(idx);
}

function objective(alpha, mu, q, l, c, wishart) {
  const { x, lidx } = c;
  const { gamma, m } = wishart;
  const [n, d] = x.shape;
  const k = alpha.shape[0];
  const qdiag = nb.exp(q); // [k, d]
  const sumQ = nb.sum(q, 1); // [k]
  const lpad = nb.concatenate([l, nb.zeros([k, 1])], 1);
  const lower = nb.reshape(nb.take(lpad, lidx, 1), [k, d, d]);
  const xc = nb.sub(nb.expandDims(x, 0), nb.expandDims(mu, 1)); // [k, n, d]
  const lx = nb.add(nb.mul(nb.expandDims(qdiag, 1), xc), nb.matmul(xc, nb.transpose(lower, [0, 2, 1])));
  const inner = nb.sub(nb.expandDims(nb.add(alpha, sumQ), 1), nb.mul(0.5, nb.sum(nb.mul(lx, lx), 2))); // [k, n]
  const slse = nb.sum(nb.logsumexp(inner, 0));
  const constant = -n * d * 0.5 * Math.log(2 * Math.PI);
  // Wishart prior
  const dof = d + m + 1;
  const frob = nb.add(nb.sum(nb.mul(qdiag, qdiag), 1), nb.sum(nb.mul(l, l), 1));
  const priorOut = nb.sum(nb.sub(nb.mul(0.5 * gamma * gamma, frob), nb.mul(m, sumQ)));
  const cst = dof * d * (Math.log(gamma) - 0.5 * Math.log(2)) - logMultiGamma(0.5 * dof, d);
  const prior = nb.add(nb.neg(priorOut), k * cst);
  return nb.add(nb.sub(nb.add(constant, slse), nb.mul(n, nb.logsumexp(alpha))), prior);
}

// the Wishart parameters are plain numbers, static for jit
const primal = nb.jit(objective, { staticArgnums: [5] });
const jacobian = nb.jit(nb.grad(objective, { argnums: [0, 1, 2, 3] }), { staticArgnums: [5] });

function prepare(input) {
  return {
    alpha: f64(input.alpha),
    mu: f64(input.mu),
    q: f64(input.q),
    l: f64(input.l),
    c: { x: f64(input.x), lidx: lowerIndex(input.d) },
    wishart: { gamma: input.gamma, m: input.m },
  };
}

const args = (p) => [p.alpha, p.mu, p.q, p.l, p.c, p.wishart];

export const functions = {
  objective: fn(prepare, (p) => primal(...args(p)), scalar),
  jacobian: fn(
    prepare,
    (p) => jacobian(...args(p)),
    ([alpha, mu, q, l]) => ({ alpha: alpha.toArray(), mu: mu.toArray(), q: q.toArray(), l: l.toArray() }),
  ),
};
