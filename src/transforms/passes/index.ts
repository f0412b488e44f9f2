/** jit's optimisation passes (graph → graph), see `passes.ts`. */
export { cse, foldConstants, simplify, combineLinear, optimize, dce, type OptimizeLevel } from "./passes.js";
