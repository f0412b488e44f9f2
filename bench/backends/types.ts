import type { Workload } from "../workloads.js";

export type FloatDType = "float32" | "float64";
export type Mode = "eager" | "jit";

/** Outputs readable on the host: forcing any lazy or asynchronous computation, copied where the library has no view of its results (TF.js, jax-js: dataSync). */
export type HostOutputs = ArrayLike<number>[];

/** One prepared (workload, dtype, mode): `run` computes and forces the outputs. */
export interface Runner {
  run(): HostOutputs;
  /** Frees backend memory held for this workload (TF.js tensors, jax-js arrays). */
  dispose?(): void;
  /** Says how the workload is expressed when it differs from the obvious (shown in the notes). */
  note?: string;
}

/** Returned instead of a runner when a backend cannot express a workload. */
export class Unsupported {
  constructor(readonly reason: string) {}
}

/** A backend of one library: the in-process peers and nabla itself. */
export interface Backend {
  /** Column key, e.g. "tfjs-wasm". */
  readonly name: string;
  readonly dtypes: readonly FloatDType[];
  readonly modes: readonly Mode[];
  /** Called once before any workload of this backend runs (e.g. switches the TF.js backend). */
  activate?(): Promise<void>;
  prepare(w: Workload, dtype: FloatDType, mode: Mode): Runner | Unsupported;
}
