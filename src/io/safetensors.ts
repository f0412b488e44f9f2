/**
 * The public functions of `nabla/io` that work on bytes (everywhere, no Node module).
 *
 * @internal Re-exported by `nabla/io`.
 */
import { readHeader, encodeSafetensors, decodeSafetensors, setOwn } from "./codec.js";
import type { SafetensorsTree, SaveSafetensorsOptions } from "./codec.js";

export { safetensorsName, safetensorsPath, MAX_HEADER_BYTES, MAX_TREE_DEPTH, TREE_METADATA_KEY } from "./codec.js";
export type { SafetensorsTree, SaveSafetensorsOptions } from "./codec.js";

// ---------------------------------------------------------------------------
// the public functions

/**
 * Serialises a pytree of arrays to the safetensors format.
 *
 * Leaves must be `NDArray`s (float64 → F64, float32 → F32, int32 → I32, bool → BOOL) in nested
 * arrays and plain objects; `null` and `undefined` are kept as empty nodes. Each tensor is named by
 * its path ({@link safetensorsName}: `layers.0.w`), and the structure is stored in
 * `__metadata__["nabla.pytree"]`, so {@link loadSafetensors} rebuilds the same nested objects and
 * arrays. Registered pytree classes, numbers and other leaves throw `NablaError`.
 * @example
 * import * as nb from "nabla";
 * import { saveSafetensors, loadSafetensors } from "nabla/io";
 * const params = { layers: [{ w: nb.ones([2, 3]), b: nb.zeros([3]) }], step: nb.array(7, { dtype: "int32" }) };
 * const bytes = saveSafetensors(params); // a Uint8Array
 * const back = loadSafetensors(bytes) as typeof params;
 * console.log(back.layers[0]?.w.shape); // => [ 2, 3 ]
 */
export function saveSafetensors(tree: unknown, options?: SaveSafetensorsOptions): Uint8Array {
  return encodeSafetensors(tree, options, "saveSafetensors");
}

/**
 * Reads a safetensors file (its bytes) back into a pytree of arrays.
 *
 * A file written by {@link saveSafetensors} gives back the tree it was given. A file written by
 * another library (no nabla structure in its metadata) gives a flat object `{ tensorName: NDArray }`.
 * F64 reads as float64; F32, F16, BF16, F8_E5M2 and F8_E4M3 as float32 (exactly); I32, I16, I8, U16
 * and U8 as int32; U32, I64 and U64 as int32 when every value fits (else `DTypeError`); BOOL as bool.
 * A malformed file throws a `NablaError` whose message begins with `loadSafetensors`.
 * @example
 * import * as nb from "nabla";
 * import { saveSafetensors, loadSafetensors } from "nabla/io";
 * const tree = loadSafetensors(saveSafetensors({ w: nb.array([1, 2]) }));
 * console.log(tree); // => { w: array([1., 2.]) }
 * loadSafetensors(new Uint8Array(3)); // throws NablaError
 */
export function loadSafetensors(bytes: Uint8Array | ArrayBuffer): SafetensorsTree {
  return decodeSafetensors(bytes, "loadSafetensors");
}

/**
 * The `__metadata__` strings of a safetensors file (its header is validated, its tensors are not
 * decoded). Files written by nabla include the entry `"nabla.pytree"` describing the tree.
 * @example
 * import * as nb from "nabla";
 * import { saveSafetensors, safetensorsMetadata } from "nabla/io";
 * const bytes = saveSafetensors({ w: nb.ones([2]) }, { metadata: { format: "pt" } });
 * console.log(safetensorsMetadata(bytes).format); // => pt
 */
export function safetensorsMetadata(bytes: Uint8Array | ArrayBuffer): Record<string, string> {
  const { header } = readHeader(bytes, "safetensorsMetadata");
  const out: Record<string, string> = {};
  for (const [k, v] of header.metadata ?? []) setOwn(out, k, v);
  return out;
}
