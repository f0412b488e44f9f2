/**
 * A multilayer perceptron classifying points of three concentric rings (not
 * linearly separable), trained with Adam under `jit`:
 * `npx tsx examples/mlp.ts`.
 */
import * as nb from "../src/index.js";
import * as nn from "../src/nn/index.js";
import { elem } from "./util.js";
import { type Dataset, type TrainOptions, type TrainResult, isMain, keyAt, trainAdam, withReload } from "./data.js";

type Params = { w1: nb.NDArray; b1: nb.NDArray; w2: nb.NDArray; b2: nb.NDArray; w3: nb.NDArray; b3: nb.NDArray };

/** n points in the plane: class c (int32, i mod 3) at radius 1 + c with Gaussian jitter 0.15. */
export function makeData(seed: number, n = 600, classes = 3): Dataset {
  const keys = nb.random.split(nb.random.key(seed), 2);
  const y = nb.array(Int32Array.from({ length: n }, (_, i) => i % classes));
  const angle = nb.random.uniform(keyAt(keys, 0), [n], { minval: 0, maxval: 2 * Math.PI });
  const radius = nb.add(nb.add(nb.astype(y, "float64"), 1), nb.mul(nb.random.normal(keyAt(keys, 1), [n]), 0.15));
  const x = nb.stack([nb.mul(radius, nb.cos(angle)), nb.mul(radius, nb.sin(angle))], 1);
  return { x, y };
}

function init(seed: number, sizes: readonly number[]): Params {
  const keys = nb.random.split(nb.random.key(seed + 100), 3);
  const layer = (i: number) => nn.heNormal(keyAt(keys, i), [elem(sizes, i, "sizes"), elem(sizes, i + 1, "sizes")]);
  return {
    w1: layer(0),
    b1: nb.zeros([elem(sizes, 1, "sizes")]),
    w2: layer(1),
    b2: nb.zeros([elem(sizes, 2, "sizes")]),
    w3: nn.glorotUniform(keyAt(keys, 2), [elem(sizes, 2, "sizes"), elem(sizes, 3, "sizes")]),
    b3: nb.zeros([elem(sizes, 3, "sizes")]),
  };
}

const forward = (p: Params, x: nb.NDArray): nb.NDArray => {
  const h1 = nn.gelu(nb.add(nb.matmul(x, p.w1), p.b1));
  const h2 = nn.gelu(nb.add(nb.matmul(h1, p.w2), p.b2));
  return nb.add(nb.matmul(h2, p.w3), p.b3);
};
const loss = (p: Params, x: nb.NDArray, y: nb.NDArray): nb.NDArray => nb.mean(nn.softmaxCrossEntropy(forward(p, x), y));
const accuracy = (p: Params, data: Dataset): number =>
  nb.mean(nb.astype(nb.equal(nb.argmax(forward(p, data.x), -1), data.y), "float64")).item();

/** Trains the model; returns the parameters, the loss per epoch and the final accuracy. */
export function main(options: TrainOptions & { hidden?: number } = {}): TrainResult<Params> {
  const { hidden = 32, ...rest } = options;
  const opts = { epochs: 20, batchSize: 50, learningRate: 0.01, seed: 0, log: true, ...rest };
  const data = makeData(opts.seed);
  const result = trainAdam(init(opts.seed, [2, hidden, hidden, 3]), data, loss, accuracy, opts);
  // ── Saving the parameters: a safetensors file through nabla/io, loaded back and compared ──
  return withReload(result, (p) => accuracy(p, data), opts.log);
}

if (isMain(import.meta.url)) main();
