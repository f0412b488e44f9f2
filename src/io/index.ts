/**
 * `nabla/io`: pytrees of arrays in the safetensors format (Hugging Face's; read and written by
 * PyTorch, JAX/Flax, MLX, candle, ...). `saveSafetensors` / `loadSafetensors` work on bytes
 * everywhere; `saveFile` / `loadFile` use Node's file system (a bundle for browsers, through the
 * `"browser"` export condition, gets versions that throw `NablaError`).
 *
 * Tensor names are pytree paths joined by "." (`layers.0.w`, see `safetensorsName`); the tree's
 * structure (nested plain objects and arrays, `null`, `undefined`) is stored in
 * `__metadata__["nabla.pytree"]`, so loading a file nabla wrote gives back the same tree. A file
 * written elsewhere loads as a flat object `{ tensorName: NDArray }`.
 *
 * @example
 * import * as nb from "nabla";
 * import { saveSafetensors, loadSafetensors } from "nabla/io";
 * const params = { w: nb.ones([3, 2]), b: nb.zeros([2]) };
 * const back = loadSafetensors(saveSafetensors(params)) as typeof params;
 * console.log(back.w.shape); // => [ 3, 2 ]
 */
export * from "./safetensors.js";
export { saveFile, loadFile } from "./node.js";
