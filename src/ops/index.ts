/**
 * The public operations, NumPy-like, one module per kind. The internal
 * primitive wrappers they build on live in `src/prims/wrap.ts`.
 */
import "./methods.js";
export * from "./creation.js";
export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./shape.js";
export * from "./indexing.js";
export * from "./matmul.js";
// issue 9, part A (opsA): statistics and float tests, arrangement, special functions
export * from "./stats.js";
export * from "./arrange.js";
export * from "./special.js";
export * as linalg from "./linalg.js";
export * as random from "./random.js";
export type { Methods } from "./methods.js";
