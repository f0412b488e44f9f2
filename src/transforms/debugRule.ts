/**
 * The `debug_callback` primitive behind `debug.callback` and `debug.print`: an
 * effect (no outputs; dead-code elimination keeps it) whose kernel calls the
 * user's function with concrete values — at once when eager or under
 * grad/jvp (primal values), when the compiled program runs under jit, and once
 * per example, in order, under vmap.
 */
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { BatchResult, Dim, Rule, bind } from "../core/trace.js";
import { take } from "../ops/index.js";

export interface DebugParams {
  /** Receives the operands' concrete values. */
  fn: (xs: ConcreteArray[]) => void;
}

/** Example `i` of a batched operand (batch axis `d`), or the operand itself when unbatched. */
const exampleOf = (x: ConcreteArray, d: Dim, i: number): ConcreteArray =>
  d === null ? x : (take(x, i, d) as ConcreteArray);

export const DEBUG_CALLBACK: Rule<DebugParams> = {
  name: "debug_callback",
  opaque: true,
  effect: true,
  printParams: () => ({}),
  abstractEval: () => [],
  impl(xs: ConcreteArray[], p: DebugParams) {
    p.fn(xs);
    return [];
  },
  // the callback sees primal values; it has no outputs, hence no tangents
  jvp: () => [],
  jvpFull(primals: NDArray[], _t: (NDArray | null)[], p: DebugParams): [NDArray[], NDArray[]] {
    bind(DEBUG_CALLBACK, primals, p);
    return [[], []];
  },
  vmap(args: NDArray[], dims: Dim[], p: DebugParams, size: number): BatchResult {
    const fn = (xs: ConcreteArray[]): void => {
      for (let i = 0; i < size; i++) p.fn(xs.map((x, j) => exampleOf(x, dims[j] ?? null, i)));
    };
    bind(DEBUG_CALLBACK, args, { fn });
    return [[], []];
  },
};
