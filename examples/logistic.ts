/**
 * Logistic regression on a synthetic, linearly separable (up to label noise)
 * dataset, trained with Adam under `jit`: `npx tsx examples/logistic.ts`.
 */
import * as nb from "../src/index.js";
import * as nn from "../src/nn/index.js";
import { dim } from "./util.js";
import { type Dataset, type TrainOptions, type TrainResult, isMain, keyAt, trainAdam, withReload } from "./data.js";

type Params = { w: nb.NDArray; b: nb.NDArray };

/** n points in d dimensions; label 1 where a fixed hyperplane (plus logistic noise) says so. */
export function makeData(seed: number, n = 512, d = 5): Dataset {
  const keys = nb.random.split(nb.random.key(seed), 3);
  const x = nb.random.normal(keyAt(keys, 0), [n, d]);
  const wTrue = nb.random.normal(keyAt(keys, 1), [d]);
  const u = nb.random.uniform(keyAt(keys, 2), [n], { minval: 1e-9, maxval: 1 - 1e-9 });
  const noise = nb.log(nb.div(u, nb.sub(1, u))); // logistic noise, scale 1/4 below
  const y = nb.astype(nb.greater(nb.add(nb.mul(nb.matmul(x, wTrue), 2), nb.mul(noise, 0.25)), 0.5), "float64");
  return { x, y };
}

const logits = (p: Params, x: nb.NDArray): nb.NDArray => nb.add(nb.matmul(x, p.w), p.b);
const loss = (p: Params, x: nb.NDArray, y: nb.NDArray): nb.NDArray =>
  nb.mean(nn.sigmoidBinaryCrossEntropy(logits(p, x), y));
const accuracy = (p: Params, data: Dataset): number =>
  nb.mean(nb.astype(nb.equal(nb.greater(logits(p, data.x), 0), nb.greater(data.y, 0.5)), "float64")).item();

/** Trains the model; returns the parameters, the loss per epoch and the final accuracy. */
export function main(options: TrainOptions = {}): TrainResult<Params> {
  const opts = { epochs: 15, batchSize: 64, learningRate: 0.05, seed: 0, log: true, ...options };
  const data = makeData(opts.seed);
  const d = dim(data.x, 1);
  const params: Params = { w: nb.zeros([d]), b: nb.zeros([]) };
  const result = trainAdam(params, data, loss, accuracy, opts);
  // ── Saving the parameters: a safetensors file through nabla/io, loaded back and compared ──
  return withReload(result, (p) => accuracy(p, data), opts.log);
}

if (isMain(import.meta.url)) main();
