/**
 * `nabla/nn`: functional neural-network helpers (no classes, no state):
 * weight initialisers taking a key and a shape, activations, `oneHot`, and
 * losses that are stable for logits of magnitude 1e3.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const [k1, k2] = [nb.random.key(1), nb.random.key(2)];
 * const params = { w: nn.glorotUniform(k1, [4, 3]), b: nb.zeros([3]) };
 * const x = nb.random.normal(k2, [8, 4]);
 * const labels = nb.array([0, 1, 2, 0, 1, 2, 0, 1], { dtype: "int32" });
 * const loss = (p: typeof params) =>
 *   nb.mean(nn.softmaxCrossEntropy(nb.add(nb.matmul(nn.gelu(x), p.w), p.b), labels));
 * nb.grad(loss)(params);
 */
export { gelu, silu, elu, leakyRelu, logSigmoid, softsign } from "./activations.js";
export { oneHot, softmaxCrossEntropy, sigmoidBinaryCrossEntropy, mse, huber } from "./losses.js";
export {
  computeFans,
  glorotUniform,
  glorotNormal,
  heUniform,
  heNormal,
  lecunNormal,
  lecunUniform,
  orthogonal,
  type InitOptions,
} from "./initializers.js";
