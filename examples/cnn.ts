/**
 * A small convolutional network on synthetic 8×8 images: is the bright bar
 * horizontal or vertical? Two `nb.conv` layers (3×3, "SAME"; the second with
 * stride 2), ReLU, global average pooling and a dense layer, trained with
 * Adam under `jit`; the parameters are saved with nabla/io and loaded back.
 * `npx tsx examples/cnn.ts [--small]` (`--small`: fewer images and epochs, for CI).
 */
import * as nb from "../src/index.js";
import * as nn from "../src/nn/index.js";
import { dim } from "./util.js";
import { type Dataset, type TrainOptions, type TrainResult, isMain, keyAt, trainAdam, withReload } from "./data.js";

type Params = { k1: nb.NDArray; b1: nb.NDArray; k2: nb.NDArray; b2: nb.NDArray; w: nb.NDArray; b: nb.NDArray };

/** The sizes CI uses. */
export const SMALL = { n: 256, epochs: 6 } as const;
const SIDE = 8;

/**
 * n images [n, 64] (flattened 8×8) with labels [n] (int32: 0 horizontal, 1
 * vertical): a bar of brightness 1 to 2 in a random row or column, over
 * uniform noise in [0, 0.5].
 */
export function makeData(seed: number, n = 512): Dataset {
  const keys = nb.random.split(nb.random.key(seed), 4);
  const cls = nb.astype(nb.greater(nb.random.uniform(keyAt(keys, 0), [n]), 0.5), "int32");
  const pos = nb.astype(nb.floor(nb.mul(nb.random.uniform(keyAt(keys, 1), [n]), SIDE)), "int32");
  const level = nb.add(1, nb.random.uniform(keyAt(keys, 2), [n, 1, 1]));
  const noise = nb.mul(nb.random.uniform(keyAt(keys, 3), [n, SIDE, SIDE]), 0.5);
  const grid = nb.arange(SIDE);
  // rows[i, r, c] = (r == pos_i), cols[i, r, c] = (c == pos_i)
  const onRow = nb.astype(nb.equal(nb.reshape(grid, [1, SIDE, 1]), nb.reshape(pos, [n, 1, 1])), "float64");
  const onCol = nb.astype(nb.equal(nb.reshape(grid, [1, 1, SIDE]), nb.reshape(pos, [n, 1, 1])), "float64");
  const bar = nb.where(nb.reshape(nb.equal(cls, 1), [n, 1, 1]), onCol, onRow);
  const images = nb.add(noise, nb.mul(bar, level));
  return { x: nb.reshape(images, [n, SIDE * SIDE]), y: cls };
}

function init(seed: number): Params {
  const keys = nb.random.split(nb.random.key(seed + 100), 3);
  const conv = { inAxis: 1, outAxis: 0 }; // channels-first kernels [out, in, kh, kw]
  return {
    k1: nn.heNormal(keyAt(keys, 0), [4, 1, 3, 3], conv),
    b1: nb.zeros([4]),
    k2: nn.heNormal(keyAt(keys, 1), [8, 4, 3, 3], conv),
    b2: nb.zeros([8]),
    w: nn.glorotUniform(keyAt(keys, 2), [8, 2]),
    b: nb.zeros([2]),
  };
}

const bias = (b: nb.NDArray) => nb.reshape(b, [1, dim(b, 0), 1, 1]);
const forward = (p: Params, x: nb.NDArray): nb.NDArray => {
  const img = nb.reshape(x, [dim(x, 0), 1, SIDE, SIDE]);
  const h1 = nb.relu(nb.add(nb.conv(img, p.k1, { padding: "SAME" }), bias(p.b1))); // [B, 4, 8, 8]
  const h2 = nb.relu(nb.add(nb.conv(h1, p.k2, { padding: "SAME", strides: 2 }), bias(p.b2))); // [B, 8, 4, 4]
  const pooled = nb.mean(h2, [2, 3]); // [B, 8]
  return nb.add(nb.matmul(pooled, p.w), p.b);
};
const loss = (p: Params, x: nb.NDArray, y: nb.NDArray): nb.NDArray => nb.mean(nn.softmaxCrossEntropy(forward(p, x), y));
/** The fraction of `data` classified correctly by the network `p`. */
export const accuracy = (p: Params, data: Dataset): number =>
  nb.mean(nb.astype(nb.equal(nb.argmax(forward(p, data.x), -1), data.y), "float64")).item();

/** Trains the network; returns the parameters, the loss per epoch and the final accuracy. */
export function main(options: TrainOptions & { n?: number } = {}): TrainResult<Params> {
  const { n = 512, ...rest } = options;
  const opts = { epochs: 12, batchSize: 32, learningRate: 0.02, seed: 0, log: true, ...rest };
  const data = makeData(opts.seed, n);
  const result = trainAdam(init(opts.seed), data, loss, accuracy, opts);
  return withReload(result, (p) => accuracy(p, data), opts.log);
}

if (isMain(import.meta.url)) main(process.argv.includes("--small") ? SMALL : {});
