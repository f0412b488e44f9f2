/**
 * `oneHot` and the losses of `nabla/nn` (optax's definitions), stable for
 * logits of magnitude 1e3 and differentiable to every order.
 */
import { at } from "../core/errors.js";
import * as nb from "../index.js";
import type { ArrayLike, DType, NDArray } from "../index.js";
import { checkNumber, floatInput, guard, readOptions } from "./common.js";

const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

function labelInput(op: string, labels: ArrayLike): NDArray {
  const l = labels instanceof nb.NDArray ? labels : guard(op, () => nb.array(labels));
  if (l.dtype === "bool") throw new nb.DTypeError(`${op}: labels must be numbers, got bool`);
  return l;
}

/**
 * One-hot encoding: `out[..., j] = labels[...] == j` for `j < n`, in
 * `dtype` (default float64); out-of-range labels give a row of zeros.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.oneHot([0, 2], 3); // array([[1., 0., 0.], [0., 0., 1.]])
 */
export function oneHot(labels: ArrayLike, n: number, options?: { dtype?: DType }): NDArray {
  const op = "oneHot";
  const l = labelInput(op, labels);
  if (!Number.isInteger(n) || n < 0) throw new nb.ShapeError(`${op}: n must be a non-negative integer, got ${n}`);
  const dtype = readOptions(op, options, ["dtype"]).dtype ?? "float64";
  const classes = nb.arange(n).astype(l.dtype === "int32" ? "int32" : "float64");
  return guard(op, () => nb.astype(nb.equal(nb.expandDims(l, -1), classes), dtype));
}

/**
 * Softmax cross-entropy over the last axis, per example (shape
 * `logits.shape[:-1]`; take the mean yourself). The labels decide the form:
 * int32 labels of shape `logits.shape[:-1]` are class indices
 * (`logsumexp(z) − z[label]`; labels outside `[0, n)` give NaN), float
 * labels of shape `logits.shape` are probabilities
 * (`−Σ labels · logSoftmax(z)`, with `0 · log 0 = 0` where a logit is −∞,
 * so masked classes with label 0 add nothing).
 *
 * @example
 * import * as nb from "nabla";
 * import * as nn from "nabla/nn";
 * const logits = nb.array([[2, 0, -1], [0, 1000, 0]]);
 * nn.softmaxCrossEntropy(logits, nb.array([0, 1], { dtype: "int32" }));
 * nn.softmaxCrossEntropy(logits, nb.array([[1, 0, 0], [0.5, 0.5, 0]]));
 */
export function softmaxCrossEntropy(logits: ArrayLike, labels: ArrayLike): NDArray {
  const op = "softmaxCrossEntropy";
  const z = floatInput(op, logits, "logits");
  const l = labelInput(op, labels);
  if (z.ndim < 1) throw new nb.ShapeError(`${op}: logits must have a class axis, got shape ${fmt(z.shape)}`);
  const n = at(z.shape, z.ndim - 1, "softmaxCrossEntropy");
  const batch = z.shape.slice(0, -1);
  if (l.dtype === "int32") {
    if (l.ndim !== batch.length || l.shape.some((d, i) => d !== batch[i]))
      throw new nb.ShapeError(
        `${op}: integer labels must have shape ${fmt(batch)} (logits ${fmt(z.shape)} without the class axis), got ${fmt(l.shape)}`,
      );
    const picked = nb.squeeze(nb.takeAlongAxis(z, nb.expandDims(l, -1), -1), -1);
    const loss = nb.sub(nb.logsumexp(z, -1), picked);
    const valid = nb.logicalAnd(nb.greaterEqual(l, 0), nb.less(l, n));
    return nb.where(valid, loss, NaN);
  }
  if (l.ndim !== z.ndim || l.shape.some((d, i) => d !== z.shape[i]))
    throw new nb.ShapeError(
      `${op}: probability labels must have the shape of the logits ${fmt(z.shape)}, got ${fmt(l.shape)} (use int32 labels for class indices)`,
    );
  // 0·log p is 0 where p = 0 (a logit masked with −inf), the convention of optax's safe cross-entropy.
  // Only there: elsewhere the derivative with respect to a zero label stays −log p.
  const lsm = nb.logSoftmax(z, -1);
  const masked = nb.logicalAnd(nb.equal(l, 0), nb.equal(lsm, -Infinity));
  return nb.neg(nb.sum(nb.where(masked, 0, nb.mul(l, lsm)), -1));
}

/**
 * Elementwise binary cross-entropy of `labels` (probabilities in [0, 1])
 * against `sigmoid(logits)`: `−y·log σ(z) − (1 − y)·log σ(−z)`, computed
 * through softplus, so it is stable at any magnitude. Shapes broadcast.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.sigmoidBinaryCrossEntropy([1000, -2, 0], [1, 0, 1]);
 */
export function sigmoidBinaryCrossEntropy(logits: ArrayLike, labels: ArrayLike): NDArray {
  const op = "sigmoidBinaryCrossEntropy";
  const z = floatInput(op, logits, "logits");
  const y = floatInput(op, labels, "labels");
  // −y·log σ(z) − (1 − y)·log σ(−z) = y·softplus(−z) + (1 − y)·softplus(z)
  return guard(op, () => nb.add(nb.mul(y, nb.softplus(nb.neg(z))), nb.mul(nb.sub(1, y), nb.softplus(z))));
}

/**
 * Mean squared error: the mean over all elements of `(predictions − targets)²`
 * (shapes broadcast), a 0-d array.
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.mse([1, 2, 3], [1, 2, 5]).item(); // 4/3
 */
export function mse(predictions: ArrayLike, targets: ArrayLike): NDArray {
  const op = "mse";
  const p = floatInput(op, predictions, "predictions");
  const t = floatInput(op, targets, "targets");
  return guard(op, () => nb.mean(nb.square(nb.sub(p, t))));
}

/**
 * Elementwise Huber loss (optax's `huber_loss`) of `e = predictions − targets`:
 * `½e²` for `|e| ≤ delta`, `delta·(|e| − ½delta)` beyond (default delta 1).
 *
 * @example
 * import * as nn from "nabla/nn";
 * nn.huber([0.5, 3], [0, 0], { delta: 1 }); // array([0.125, 2.5])
 */
export function huber(predictions: ArrayLike, targets: ArrayLike, options?: { delta?: number }): NDArray {
  const op = "huber";
  const p = floatInput(op, predictions, "predictions");
  const t = floatInput(op, targets, "targets");
  const delta = checkNumber(op, "delta", readOptions(op, options, ["delta"]).delta ?? 1, { lo: 0, openLo: true });
  return guard(op, () => {
    const abs = nb.abs(nb.sub(p, t));
    const quadratic = nb.minimum(abs, delta);
    return nb.add(nb.mul(nb.square(quadratic), 0.5), nb.mul(nb.sub(abs, quadratic), delta));
  });
}
