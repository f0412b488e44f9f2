/**
 * Control flow: `cond`, `whileLoop`, `forLoop`, `scan`. They are written
 * over the other transforms rather than as primitives: a concrete predicate
 * picks its branch, and a traced one (under jit, vmap or makeGraph) evaluates
 * both branches and selects elementwise, which is what batching needs and
 * keeps both modes of differentiation. Loops run in JS (unrolled when
 * staged), so they differentiate in both modes; `whileLoop` needs a
 * condition with a concrete value, or a batched one under vmap.
 */
import { NablaError, ShapeError, TracerError, fmtShape } from "../core/errors.js";
import { ArrayLike, NDArray, asArray } from "../core/ndarray.js";
import { flatten, unflatten } from "../core/pytree.js";
import { shapesEqual } from "../core/shape.js";
import { reshape, slicePrim, stack, stopGradient, where, zeros } from "../ops/ops.js";
import { isFloat } from "../core/dtype.js";
import { flattenToArrays } from "./common.js";
import { BatchTracer } from "./vmap.js";
import { stageClosed } from "../core/graph.js";
import { avalOf, bind } from "../core/trace.js";
import type { ArraysOf, Carry, Returned, Staged } from "../core/types.js";

/** The concrete boolean value of a predicate, or null when it is traced without one. */
function concretePred(pred: NDArray, op: string): boolean | null {
  if (pred.size !== 1)
    throw new ShapeError(`${op}: the predicate must have one element, got shape ${fmtShape(pred.shape)}`);
  try {
    return pred.item() !== 0;
  } catch (e) {
    if (e instanceof TracerError) return null;
    throw e;
  }
}

/** Operands as a branch should see them: themselves where `pred == taken`, constants (stopGradient) elsewhere. */
function maskOperands(pred: NDArray, operands: unknown[], taken: boolean): unknown[] {
  return operands.map((op) => {
    const [leaves, def] = flatten(op);
    return unflatten(
      def,
      leaves.map((l) => {
        if (!(l instanceof NDArray) || !isFloat(l.dtype)) return l;
        const held = stopGradient(l);
        return taken ? where(pred, l, held) : where(pred, held, l);
      }),
    );
  });
}

/**
 * `pred ? trueFn(...operands) : falseFn(...operands)`. Under transforms that
 * have no concrete predicate (jit, vmap, makeGraph) both branches run and the
 * results are selected elementwise; they must then have the same structure
 * and shapes.
 * @example nb.cond(nb.greater(x, 0), (v) => nb.mul(v, 2), (v) => nb.neg(v), x);
 */
export function cond<Ops extends unknown[], R1 extends Returned, R2 extends Returned>(
  pred: ArrayLike,
  trueFn: (...operands: NoInfer<Ops>) => R1,
  falseFn: (...operands: NoInfer<Ops>) => R2,
  ...operands: Ops
): Staged<R1 | R2>;
export function cond(
  pred: ArrayLike,
  trueFn: (...operands: any[]) => unknown,
  falseFn: (...operands: any[]) => unknown,
  ...operands: unknown[]
): any {
  const p = asArray(pred, "cond");
  const c = concretePred(p, "cond");
  if (c !== null) return c ? trueFn(...operands) : falseFn(...operands);
  const pb = reshape(p, []);
  // each branch sees its operands only where it is taken (elsewhere through stopGradient), so the
  // derivative of the branch not taken — possibly NaN outside its domain — cannot leak into the result
  const [tl, td] = flattenToArrays(trueFn(...maskOperands(pb, operands, true)), "cond");
  const [fl, fd] = flattenToArrays(falseFn(...maskOperands(pb, operands, false)), "cond");
  if (!td.equals(fd)) throw new ShapeError(`cond: branches return different structures: ${td} and ${fd}`);
  tl.forEach((t, i) => {
    const f = fl[i]!;
    if (!shapesEqual(t.shape, f.shape) || t.dtype !== f.dtype)
      throw new ShapeError(
        `cond: branch outputs differ at leaf ${i}: ${t.dtype}${fmtShape(t.shape)} and ${f.dtype}${fmtShape(f.shape)}`,
      );
  });
  return unflatten(
    td,
    tl.map((t, i) => where(pb, t, fl[i]!)),
  );
}

/**
 * Whether any element of a predicate is true, looking through vmap's batch
 * tracers; null when there is no concrete value (under jit or makeGraph).
 */
function anyTrue(pred: NDArray): boolean | null {
  let x: NDArray = pred;
  while (x instanceof BatchTracer) x = x.val;
  try {
    return x.concrete("whileLoop").data.some((v) => v !== 0);
  } catch (e) {
    if (e instanceof TracerError) return null;
    throw e;
  }
}

/**
 * `while (condFn(v)) v = bodyFn(v)`, returning the final `v` (a pytree).
 * Eagerly and under grad/jvp/vjp it runs the iterations the condition asks
 * for (and differentiates through them). Under vmap every example runs until
 * its own condition fails: the loop continues while any example is active and
 * finished examples keep their value. Under jit or makeGraph the condition
 * has no concrete value and it throws TracerError.
 * @example nb.whileLoop((v) => nb.less(v, 10), (v) => nb.mul(v, 2), 1); // array(16.)
 */
export function whileLoop<T extends Returned>(
  condFn: (val: NoInfer<Carry<T>>) => ArrayLike,
  bodyFn: (val: NoInfer<Carry<T>>) => NoInfer<Carry<T>>,
  init: T,
): Carry<T>;
export function whileLoop<T>(condFn: (val: T) => unknown, bodyFn: (val: T) => T, init: T): T {
  let val = init;
  for (;;) {
    const c = asArray(condFn(val) as ArrayLike, "whileLoop");
    if (c.size !== 1)
      throw new ShapeError(`whileLoop: the condition must have one element, got shape ${fmtShape(c.shape)}`);
    const v = concretePred(c, "whileLoop");
    if (v === false) return val;
    if (v === true) {
      val = bodyFn(val);
      continue;
    }
    const any = anyTrue(c);
    if (any === null) return stagedWhile(condFn, bodyFn, val);
    if (!any) return val;
    // batched: step the active examples, keep the finished ones (which enter the body only through
    // stopGradient, so its derivative at their values cannot leak into their gradients)
    const pb = reshape(c, []);
    const [next, nd] = flattenToArrays(bodyFn(maskOperands(pb, [val], true)[0] as T), "whileLoop");
    const [cur, cd] = flattenToArrays(val, "whileLoop");
    if (!nd.equals(cd)) throw new ShapeError(`whileLoop: the body returned structure ${nd}, expected ${cd}`);
    val = unflatten(
      cd,
      next.map((n, i) => where(pb, n, cur[i]!)),
    ) as T;
  }
}

/** Stages the loop as a `while_loop` primitive (its condition has no concrete value here, e.g. under jit). */
function stagedWhile<T>(condFn: (val: T) => unknown, bodyFn: (val: T) => T, init: T): T {
  const [leaves, def] = flattenToArrays(init, "whileLoop");
  const avals = leaves.map(avalOf);
  const [cond, cc] = stageClosed(
    (xs) => [asArray(condFn(unflatten(def, xs) as T) as ArrayLike, "whileLoop")],
    avals,
    "whileLoop",
  );
  const [body, bc] = stageClosed(
    (xs) => {
      const [out, od] = flattenToArrays(bodyFn(unflatten(def, xs) as T), "whileLoop");
      if (!od.equals(def)) throw new ShapeError(`whileLoop: the body returned structure ${od}, expected ${def}`);
      return out;
    },
    avals,
    "whileLoop",
  );
  const outs = bind("while_loop", [...cc, ...bc, ...leaves], { cond, body, nCond: cc.length, nBody: bc.length });
  return unflatten(def, outs) as T;
}

/**
 * `for (i = lower; i < upper; i++) v = bodyFn(i, v)` with JS-number bounds;
 * `i` is passed as a JS number. Differentiable in both modes; unrolled when staged.
 * @example nb.forLoop(0, 3, (i, v) => nb.add(v, i), 0); // array(3.)
 */
export function forLoop<T extends Returned>(
  lower: number,
  upper: number,
  bodyFn: (i: number, val: NoInfer<Carry<T>>) => NoInfer<Carry<T>>,
  init: T,
): Carry<T>;
export function forLoop<T>(lower: number, upper: number, bodyFn: (i: number, val: T) => T, init: T): T {
  if (!Number.isInteger(lower) || !Number.isInteger(upper))
    throw new NablaError(`forLoop: bounds must be integers, got ${lower} and ${upper}`);
  let val = init;
  for (let i = lower; i < upper; i++) val = bodyFn(i, val);
  return val;
}

/**
 * Scans `f(carry, x) -> [carry, y]` over the leading axis of the pytree `xs`,
 * returning `[finalCarry, ys]` with the `y`s stacked along a new leading axis.
 * `length` is required when `xs` is null; `reverse` scans from the end.
 * @example
 * const [total, running] = nb.scan((c, x) => [nb.add(c, x), nb.add(c, x)], 0, nb.array([1, 2, 3]));
 * // total = 6, running = [1, 3, 6]
 */
export function scan<C extends Returned, X extends Returned = null, Y extends Returned = Returned>(
  f: (carry: NoInfer<Carry<C>>, x: NoInfer<ArraysOf<X>>) => [NoInfer<Carry<C>>, Y],
  init: C,
  xs?: X,
  options?: { length?: number; reverse?: boolean },
): [Carry<C>, ArraysOf<Y>];
export function scan<C>(
  f: (carry: C, x: any) => [C, unknown],
  init: C,
  xs: unknown = null,
  options: { length?: number; reverse?: boolean } = {},
): [C, any] {
  const [leaves, def] = flattenToArrays(xs, "scan");
  const lengths = new Set(leaves.map((l) => (l.ndim === 0 ? -1 : l.shape[0]!)));
  if (lengths.has(-1)) throw new ShapeError("scan: every leaf of xs needs a leading axis to scan over");
  if (options.length !== undefined) lengths.add(options.length);
  if (lengths.size !== 1)
    throw new ShapeError(
      lengths.size === 0
        ? "scan: give xs or options.length"
        : `scan: leading axes of xs (and length) differ: ${[...lengths].join(", ")}`,
    );
  const n = [...lengths][0]!;
  const sliceAt = (i: number): unknown =>
    unflatten(
      def,
      leaves.map((l) =>
        reshape(slicePrim(l, [i, ...l.shape.slice(1).map(() => 0)], [i + 1, ...l.shape.slice(1)]), l.shape.slice(1)),
      ),
    );
  let carry = init;
  const ys: NDArray[][] = [];
  let yDef: ReturnType<typeof flatten>[1] | null = null;
  for (let k = 0; k < n; k++) {
    const i = options.reverse ? n - 1 - k : k;
    const r = f(carry, sliceAt(i));
    if (!Array.isArray(r) || r.length !== 2) throw new NablaError("scan: f must return [carry, y]");
    carry = r[0] as C;
    const [yl, yd] = flattenToArrays(r[1], "scan");
    if (yDef === null) yDef = yd;
    else if (!yDef.equals(yd)) throw new ShapeError(`scan: f returned y of structure ${yd}, earlier ${yDef}`);
    ys.push(yl);
  }
  if (options.reverse) ys.reverse();
  if (n === 0) {
    // no iterations: y's shapes come from one call on zero-valued example slices (values unused)
    const example = unflatten(
      def,
      leaves.map((l) => zeros(l.shape.slice(1), { dtype: l.dtype })),
    );
    const [yl, yd] = flattenToArrays((f(init, example) as unknown[])[1], "scan");
    return [
      carry,
      unflatten(
        yd,
        yl.map((y) => zeros([0, ...y.shape], { dtype: y.dtype })),
      ),
    ];
  }
  const stacked = ys[0]!.map((_, j) => stack(ys.map((y) => y[j]!)));
  return [carry, unflatten(yDef!, stacked)];
}
