/**
 * `saveFile` / `loadFile` for bundles that target browsers (the `"browser"` condition of
 * `nabla/io`): there is no file system, so both throw; `saveSafetensors` / `loadSafetensors`
 * work everywhere.
 *
 * @internal The public functions are re-exported by `nabla/io`.
 */
import { NablaError } from "../index.js";
import type { SafetensorsTree, SaveSafetensorsOptions } from "./codec.js";

const NO_FS = "needs Node's file system; in a browser use saveSafetensors / loadSafetensors with the bytes";

/**
 * In a browser bundle: throws `NablaError` (no file system). On Node, writes a safetensors file.
 * @example
 * import { saveFile } from "nabla/io";
 * // browser bundle: saveFile("params.safetensors", tree) throws NablaError
 */
export function saveFile(_path: string, _tree: unknown, _options?: SaveSafetensorsOptions): void {
  throw new NablaError(`saveFile: ${NO_FS}`);
}

/**
 * In a browser bundle: throws `NablaError` (no file system). On Node, reads a safetensors file.
 * @example
 * import { loadFile } from "nabla/io";
 * // browser bundle: loadFile("params.safetensors") throws NablaError
 */
export function loadFile(_path: string): SafetensorsTree {
  throw new NablaError(`loadFile: ${NO_FS}`);
}
