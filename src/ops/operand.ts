/**
 * Operands of the public operations: any ArrayLike as an NDArray, checked by
 * the validation layer (`validate.ts`). Internal to nabla (not re-exported by
 * `index.ts`).
 */
export { asArray } from "./validate.js";
