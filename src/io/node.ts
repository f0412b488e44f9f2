/// <reference types="node" />
/**
 * `saveFile` / `loadFile`: safetensors files on Node's file system. Only this module of
 * `nabla/io` imports `node:fs` (bundlers targeting browsers get `browser.ts` instead).
 *
 * @internal The public functions are re-exported by `nabla/io`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { NablaError } from "../index.js";
import { decodeSafetensors, encodeSafetensors } from "./codec.js";
import type { SafetensorsTree, SaveSafetensorsOptions } from "./codec.js";

function fsError(fn: string, verb: string, path: string, e: unknown): NablaError {
  const err = new NablaError(
    `${fn}: cannot ${verb} ${JSON.stringify(path)}: ${e instanceof Error ? e.message : String(e)}`,
  );
  Object.defineProperty(err, "cause", { value: e, configurable: true, writable: true });
  return err;
}

/**
 * Writes a pytree of arrays to a safetensors file (Node only), as {@link saveSafetensors} encodes it.
 * @example
 * import * as nb from "nabla";
 * import { saveFile, loadFile } from "nabla/io";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const path = join(tmpdir(), "params.safetensors");
 * saveFile(path, { w: nb.ones([2, 2]) });
 * console.log((loadFile(path) as { w: nb.NDArray }).w.shape); // => [ 2, 2 ]
 */
export function saveFile(path: string, tree: unknown, options?: SaveSafetensorsOptions): void {
  if (typeof path !== "string") throw new NablaError(`saveFile: the path must be a string, got ${typeof path}`);
  const bytes = encodeSafetensors(tree, options, "saveFile");
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw fsError("saveFile", "write", path, e);
  }
}

/**
 * Reads a safetensors file into a pytree of arrays (Node only), as {@link loadSafetensors} decodes it.
 * @example
 * import * as nb from "nabla";
 * import { saveFile, loadFile } from "nabla/io";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const path = join(tmpdir(), "counts.safetensors");
 * saveFile(path, [nb.array([1, 2], { dtype: "int32" })]);
 * console.log((loadFile(path) as nb.NDArray[])[0]?.dtype); // => int32
 */
export function loadFile(path: string): SafetensorsTree {
  if (typeof path !== "string") throw new NablaError(`loadFile: the path must be a string, got ${typeof path}`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw fsError("loadFile", "read", path, e);
  }
  return decodeSafetensors(bytes, "loadFile");
}
