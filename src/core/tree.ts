/**
 * `nb.tree`: flatten, rebuild and map pytrees (nested arrays, plain objects
 * and registered classes whose leaves are arrays or numbers).
 * @module
 */
export { map, flatten, unflatten, leaves, structure, register, TreeDef } from "./pytree.js";
