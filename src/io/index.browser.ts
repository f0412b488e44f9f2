/**
 * The `"browser"` build of `nabla/io` (see `index.ts`): the same exports, but `saveFile` and
 * `loadFile` throw `NablaError`, so a browser bundle never reaches `node:fs`.
 *
 * @example
 * import * as nb from "nabla";
 * import { saveSafetensors, loadSafetensors } from "nabla/io";
 * const back = loadSafetensors(saveSafetensors({ w: nb.ones([2]) })) as { w: nb.NDArray };
 * console.log(back.w.shape); // => [ 2 ]
 */
export * from "./safetensors.js";
export { saveFile, loadFile } from "./browser.js";
