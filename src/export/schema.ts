/**
 * The JSON schema of an exported graph (format `nabla.graph`, version 1),
 * documented in docs/export.md. Everything is plain JSON: numbers, strings,
 * booleans, arrays and objects; array data is inline.
 */
import type { DType } from "../core/dtype.js";

/**
 * The format name every graph file carries.
 * @example
 * exportGraph((x: nb.NDArray) => nb.sin(x), nb.zeros([2])).format === GRAPH_FORMAT; // true
 */
export const GRAPH_FORMAT = "nabla.graph";
/**
 * The newest version of the format this build reads and the one it writes.
 * @example
 * exportGraph((x: nb.NDArray) => nb.sin(x), nb.zeros([2])).version; // GRAPH_VERSION (1)
 */
export const GRAPH_VERSION = 1;

/** An abstract value: shape, dtype and whether it is weakly typed (from a bare JS scalar). */
export interface AvalJSON {
  shape: number[];
  dtype: DType;
  weak: boolean;
}

/** One element of literal data: a number, or "NaN", "Infinity", "-Infinity", "-0". */
export type ScalarJSON = number | "NaN" | "Infinity" | "-Infinity" | "-0";

/** A variable definition: its id (unique within its graph) and aval. */
export interface VarJSON {
  id: number;
  aval: AvalJSON;
}

/** A constant of a graph: a variable with its data in row-major order (bools as 0/1). */
export interface ConstJSON extends VarJSON {
  data: ScalarJSON[];
}

/** One equation `outs = prim[params](inputs)`; `inputs` are variable ids. */
export interface EquationJSON {
  prim: string;
  params: Record<string, unknown>;
  inputs: number[];
  outs: VarJSON[];
}

/** A graph body: inputs, constants, equations in order, and output variable ids. */
export interface GraphBodyJSON {
  inputs: VarJSON[];
  consts: ConstJSON[];
  equations: EquationJSON[];
  outputs: number[];
}

/** The pytree structure of the arguments or of the result. */
export type TreeJSON =
  "leaf" | { none: "null" | "undefined" } | { array: TreeJSON[] } | { object: [key: string, child: TreeJSON][] };

/**
 * A staged program as JSON: the output of `exportGraph`, the input of `importGraph`.
 * @example
 * const g: GraphJSON = exportGraph((x) => nb.sum(nb.sin(x)), nb.zeros([3]));
 * g.graph.equations.map((e) => e.prim); // ["sin", "reduce_sum"]
 */
export interface GraphJSON {
  format: typeof GRAPH_FORMAT;
  version: number;
  /** Structure of the argument list (an array tree, one child per argument). */
  inTree: TreeJSON;
  /** Structure of the result. */
  outTree: TreeJSON;
  graph: GraphBodyJSON;
}
