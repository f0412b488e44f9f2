/** The `nb.tree` namespace. */
export { map, flatten, unflatten, leaves, structure, register, TreeDef } from "./pytree.js";
