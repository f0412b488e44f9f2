/**
 * Shared pieces of the training examples: synthetic datasets drawn with
 * `nb.random` from fixed keys, shuffled mini-batches, and a jitted training
 * loop with `nabla/optim`.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as nb from "../src/index.js";
import { dim, elem } from "./util.js";
import * as io from "../src/io/index.js";
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
  const perm = nb.argsort(nb.random.uniform(key, [dim(data.x, 0)]));
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
  /** The parameters saved with nabla/io and loaded back (see {@link saveAndReload}). */
  reloaded?: Reloaded<P>;
}

/** Parameters after a round trip through a safetensors file. */
export interface Reloaded<P> {
  params: P;
  /** Whether every leaf came back with the same shape, dtype and bit-identical values. */
  equal: boolean;
  /** Size of the file written. */
  bytes: number;
}

/**
 * Saves `params` with nabla/io's `saveFile` (safetensors) in a fresh
 * temporary directory, loads them back with `loadFile`, compares every leaf
 * and removes the directory.
 */
export function saveAndReload<P extends Record<string, nb.NDArray>>(params: P): Reloaded<P> {
  const dir = mkdtempSync(join(tmpdir(), "nabla-example-"));
  try {
    const path = join(dir, "params.safetensors");
    io.saveFile(path, params);
    const loaded = io.loadFile(path) as unknown as P;
    const same = (a: nb.NDArray | undefined, b: unknown): boolean =>
      a !== undefined &&
      b instanceof nb.NDArray &&
      a.dtype === b.dtype &&
      a.shape.length === b.shape.length &&
      a.shape.every((d, i) => d === b.shape[i]) &&
      Array.from(a.toTypedArray() as ArrayLike<number>).every((v, i) =>
        Object.is(v, (b.toTypedArray() as ArrayLike<number>)[i]),
      );
    const keys = Object.keys(params);
    const equal =
      keys.length === Object.keys(loaded).length &&
      keys.every((k) => same(params[k], (loaded as Record<string, unknown>)[k]));
    return { params: loaded, equal, bytes: statSync(path).size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Saves and reloads the trained parameters, checks the reloaded model's accuracy, and prints both. */
export function withReload<P extends Record<string, nb.NDArray>>(
  result: TrainResult<P>,
  accuracy: (p: P) => number,
  log: boolean,
): TrainResult<P> {
  const reloaded = saveAndReload(result.params);
  const acc = accuracy(reloaded.params);
  if (log)
    console.log(
      `saved ${reloaded.bytes} bytes with nabla/io and loaded them back: parameters ${reloaded.equal ? "identical" : "DIFFER"}, accuracy ${(100 * acc).toFixed(1)}%`,
    );
  if (!reloaded.equal || acc !== result.accuracy)
    throw new Error("the reloaded parameters differ from the trained ones");
  return { ...result, reloaded };
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
    if (opts.log)
      console.log(`epoch ${String(epoch + 1).padStart(3)}  loss ${elem(losses, epoch, "losses").toFixed(5)}`);
  }
  const acc = accuracy(params, data);
  if (opts.log) console.log(`final accuracy ${(100 * acc).toFixed(1)}%`);
  return { params, losses, accuracy: acc };
}

/** Whether the module with this `import.meta.url` is the script node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
}
