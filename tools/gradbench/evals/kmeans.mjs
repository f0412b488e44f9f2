// kmeans: cost(P, C) = Σ_i min_j |P_i − C_j|² (all pairs by one matrix product), and the Newton
// direction J / H of the cost in C, where the Hessian H is diagonal: the gradient J by reverse
// mode and H·1 (= diag H) by forward mode over it, both from one jvp of grad.
import * as nb from "nabla";
import { fn, f64, nested, scalar } from "./util.mjs";

function cost(points, centroids) {
  const p2 = nb.expandDims(nb.sum(nb.mul(points, points), 1), 0); // [1, n]
  const c2 = nb.expandDims(nb.sum(nb.mul(centroids, centroids), 1), 1); // [k, 1]
  const cross = nb.matmul(centroids, nb.transpose(points)); // [k, n]
  const dists = nb.sub(nb.add(p2, c2), nb.mul(2, cross));
  return nb.sum(nb.min(dists, 0));
}

const primal = nb.jit(cost);
const dir = nb.jit((points, centroids) => {
  const g = nb.grad((c) => cost(points, c));
  const [j, hdiag] = nb.jvp(g, [centroids], [nb.onesLike(centroids)]);
  return nb.div(j, hdiag);
});
const prepare = (input) => ({ points: f64(input.points), centroids: f64(input.centroids) });

export const functions = {
  cost: fn(prepare, ({ points, centroids }) => primal(points, centroids), scalar),
  dir: fn(prepare, ({ points, centroids }) => dir(points, centroids), nested),
};
