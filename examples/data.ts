/**
 * Shared pieces of the training examples: synthetic datasets drawn with
 * `nb.random` from fixed keys, shuffled mini-batches, and a jitted training
 * loop with `nabla/optim`.
 */
import { pathToFileURL } from "node:url";
import * as nb from "../src/index.js";
import * as optim from "../src/optim/index.js";

/** A dataset: inputs `[n, d]` and labels `[n]` (float 0/1 or int32 classes). */
export interface Dataset {
  x: nb.NDArray;
  y: nb.NDArray;
}

/** The i-th key of `n` split from `key`. */
export function keyAt(keys: nb.NDArray, i: number): nb.NDArray {
  return nb.reshape(nb.slice(keys, [i, 0], [i + 1, 2]), [2]);
}

/** Rows of `data` in a random order (a permutation by sorting uniform draws). */
export function shuffle(key: nb.NDArray, data: Dataset): Dataset {
  const perm = nb.argsort(nb.random.uniform(key, [data.x.shape[0]!]));
  return { x: nb.take(data.x, perm, 0), y: nb.take(data.y, perm, 0) };
}

/** Consecutive mini-batches of `size` rows (the last, shorter batch is dropped so that shapes, and jit plans, stay fixed). */
export function batches(data: Dataset, size: number): Dataset[] {
  const [n, d] = data.x.shape as [number, number];
  const out: Dataset[] = [];
  for (let i = 0; i + size <= n; i += size)
    out.push({ x: nb.slice(data.x, [i, 0], [i + size, d]), y: nb.slice(data.y, [i], [i + size]) });
  return out;
}

/** Options shared by the examples. */
export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  /** Print the loss of each epoch (default true). */
  log?: boolean;
}

/** What a training run reports. */
export interface TrainResult<P> {
  params: P;
  /** Mean training loss of each epoch. */
  losses: number[];
  /** Accuracy on the whole training set after the last epoch. */
  accuracy: number;
}

/**
 * Trains `params` on `data` with Adam under `jit`: each epoch shuffles the
 * data, takes one optimiser step per mini-batch and prints the mean loss.
 */
export function trainAdam<P extends Record<string, nb.NDArray>>(
  params: P,
  data: Dataset,
  loss: (p: P, x: nb.NDArray, y: nb.NDArray) => nb.NDArray,
  accuracy: (p: P, data: Dataset) => number,
  opts: Required<TrainOptions>,
): TrainResult<P> {
  const opt = optim.adam(opts.learningRate);
  // P is generic here, so its leaf-mapped types cannot be simplified: state the step's type once
  type Step = (
    p: P,
    s: optim.AdamState<P>,
    x: nb.NDArray,
    y: nb.NDArray,
  ) => readonly [P, optim.AdamState<P>, nb.NDArray];
  const step = nb.jit((p: P, s: optim.AdamState<P>, x: nb.NDArray, y: nb.NDArray) => {
    const [value, grads] = nb.valueAndGrad(
      loss as unknown as (p: nb.NDArray, x: nb.NDArray, y: nb.NDArray) => nb.NDArray,
    )(p as unknown as nb.NDArray, x, y) as unknown as [nb.NDArray, P];
    const [updates, s2] = opt.update(grads, s);
    return [optim.applyUpdates(p, updates) as P, s2, value] as const;
  }) as unknown as Step;
  let state = opt.init(params);
  const keys = nb.random.split(nb.random.key(opts.seed + 1), opts.epochs);
  const losses: number[] = [];
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    let total = 0;
    const bs = batches(shuffle(keyAt(keys, epoch), data), opts.batchSize);
    for (const b of bs) {
      const [p2, s2, value] = step(params, state, b.x, b.y);
      [params, state] = [p2, s2];
      total += value.item();
    }
    losses.push(total / bs.length);
    if (opts.log) console.log(`epoch ${String(epoch + 1).padStart(3)}  loss ${losses[epoch]!.toFixed(5)}`);
  }
  const acc = accuracy(params, data);
  if (opts.log) console.log(`final accuracy ${(100 * acc).toFixed(1)}%`);
  return { params, losses, accuracy: acc };
}

/** Whether the module with this `import.meta.url` is the script node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
}
