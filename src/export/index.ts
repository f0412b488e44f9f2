/**
 * `nabla/export`: staged programs out of the process — as versioned JSON
 * graphs (`exportGraph` / `importGraph`) and as ONNX models (`exportOnnx`).
 *
 * @example
 * import * as nb from "nabla";
 * import { exportGraph, importGraph, exportOnnx } from "nabla/export";
 * const f = (x: nb.NDArray) => nb.sum(nb.tanh(x));
 * const g = importGraph(JSON.parse(JSON.stringify(exportGraph(f, nb.zeros([3])))));
 * nb.grad(g)(nb.array([0, 1, 2]));
 * const model: Uint8Array = exportOnnx(f, [nb.zeros([3])]);
 */
export { exportGraph, importGraph } from "./json.js";
export { exportOnnx } from "./onnx.js";
export type { OnnxOptions } from "./onnx.js";
export { GRAPH_FORMAT, GRAPH_VERSION } from "./schema.js";
export type {
  AvalJSON,
  ConstJSON,
  EquationJSON,
  GraphBodyJSON,
  GraphJSON,
  ScalarJSON,
  TreeJSON,
  VarJSON,
} from "./schema.js";
