/**
 * Control flow: `cond`, `whileLoop`, `forLoop`, `scan`. A concrete `cond`
 * predicate picks its branch in JS; a predicate with no concrete value
 * (under jit, makeGraph, or batched under vmap) stages the `cond` primitive,
 * whose row is in condRule.ts (a batched predicate evaluates both branches
 * and selects per example). `forLoop` and `scan` are not primitives: they
 * run in JS over the other transforms (unrolled when staged). `whileLoop` runs in
 * JS while its condition has a concrete value (eagerly, under grad/jvp/vjp)
 * or a batched one (under vmap); when the condition is traced with no value
 * (under jit or makeGraph) it stages the `while_loop` primitive, whose row is
 * in loopRules.ts.
 */
import { DTypeError, NablaError, ShapeError, TracerError, at, fmtShape, fmtValue } from "../core/errors.js";
import { ArrayLike, ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { flatten, flattenAs, unflatten } from "../core/pytree.js";
import { shapesEqual } from "../core/shape.js";
import { astype, reshape, stack, stopGradient, where, zeros } from "../ops/index.js";
import { asArray } from "../ops/operand.js";
import { intArg } from "../ops/validate.js";
import { slicePrim } from "../prims/wrap.js";
import { isFloat } from "../core/dtype.js";
import { fnArg, flattenToArrays, scanOptions } from "./common.js";
import { BatchTracer } from "./vmap.js";
import { stageClosed } from "../core/graph.js";
import { avalOf, bind } from "../core/trace.js";
import { WHILE_LOOP } from "./loopRules.js";
import { concreteCond, stagedCond } from "./condRule.js";
import type { ArraysOf, Carry, Returned, Staged } from "../core/types.js";
import { devicePut } from "../device/index.js";
import { setOnDevice } from "../ops/host.js";

/** The concrete boolean value of a predicate, or null when it is traced without one. */
function concretePred(pred: NDArray, op: string): boolean | null {
  if (pred.size !== 1)
    throw new ShapeError(`${op}: the predicate must have one element, got shape ${fmtShape(pred.shape)}`);
  try {
    // a predicate on a device (webgpu) is not read synchronously: the cond is staged and runs by transfer
    if (pred.device !== "cpu") return null;
    return pred.item() !== 0;
  } catch (e) {
    if (e instanceof TracerError) return null;
    throw e;
  }
}

/** An operand as a branch should see it: itself where `pred == taken`, a constant (stopGradient) elsewhere. */
function maskOperand(pred: NDArray, operand: unknown, taken: boolean): unknown {
  const [leaves, def] = flatten(operand);
  return unflatten(
    def,
    leaves.map((l) => {
      if (!(l instanceof NDArray) || !isFloat(l.dtype)) return l;
      const held = stopGradient(l);
      return taken ? where(pred, l, held) : where(pred, held, l);
    }),
  );
}

/**
 * `cond`'s predicate as a scalar bool array, as lax.cond takes it: a bool or int32 scalar (an int32 is
 * true when non-zero), a JS boolean, or an integer JS number. A float predicate throws DTypeError (NaN
 * and 0.5 are not truth values), a non-scalar one ShapeError. Under vmap the predicate seen here is
 * the per-example one (a BatchTracer's shape excludes the batch axis), so a batched predicate is scalar.
 */
function condPred(pred: ArrayLike): NDArray {
  if (typeof pred === "number") {
    if (!Number.isInteger(pred))
      throw new DTypeError(
        `cond: the predicate must be bool or int32, got float64 (the JS number ${fmtValue(pred)}; ` +
          `a JS number predicate must be an integer)`,
      );
    return asArray(pred !== 0, "cond");
  }
  const p = asArray(pred, "cond");
  if (p.ndim !== 0)
    throw new ShapeError(`cond: the predicate must be a scalar (shape []), got shape ${fmtShape(p.shape)}`);
  if (p.dtype === "bool") return p;
  if (p.dtype === "int32") return astype(p, "bool");
  throw new DTypeError(`cond: the predicate must be bool or int32, got ${p.dtype} (shape ${fmtShape(p.shape)})`);
}

/**
 * `pred ? trueFn(...operands) : falseFn(...operands)`. The predicate is a
 * scalar: a bool or int32 array (an int32 is true when non-zero, as in
 * lax.cond), a JS boolean, or an integer JS number; a float predicate (even
 * 0.5 or NaN) throws DTypeError and a non-scalar one ShapeError. (whileLoop's
 * condition is stricter, as lax.while_loop's: a boolean only.) Both branches
 * must return the same structure, shapes and dtypes (checked whatever the
 * predicate). A concrete predicate runs only its branch; one without a
 * concrete value (under jit or makeGraph) stages a `cond` primitive that
 * runs only the taken branch once the predicate is known; a batched one
 * (vmap, a predicate per example) selects per example, with no derivative
 * leaking from the untaken branch.
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
): unknown {
  trueFn = fnArg("cond", trueFn, "trueFn");
  falseFn = fnArg("cond", falseFn, "falseFn");
  const p = condPred(pred);
  const c = concretePred(p, "cond");
  return c === null ? stagedCond(p, trueFn, falseFn, operands) : concreteCond(c, trueFn, falseFn, operands);
}

/**
 * Whether any element of a predicate is true, looking through vmap's batch
 * tracers; null when there is no concrete value (under jit or makeGraph).
 */
function anyTrue(pred: NDArray): boolean | null {
  let x: NDArray = pred;
  while (x instanceof BatchTracer) x = x.val;
  try {
    const c = x.concrete("whileLoop");
    // a condition on a device (webgpu) is not read synchronously: the loop is staged and runs by transfer
    if (c.device !== "cpu") return null;
    return storageOf(c).some((v) => v !== 0);
  } catch (e) {
    if (e instanceof TracerError) return null;
    throw e;
  }
}

/**
 * A loop body must keep its carry's structure, shapes and dtypes (API.md,
 * "Loop carries"): `next` is the body's output for the carry `prev`. A carry
 * leaf that is a bare JS number (or weakly typed) may take the dtype the body
 * gives it, as a weak scalar would in any operation; its shape may not change.
 */
function checkCarry(op: string, prev: unknown, next: unknown): void {
  const [pl, pd] = flattenAs(prev, op, "the carry");
  const [nl, nd] = flattenToArrays(next, op);
  if (!pd.equals(nd)) throw new ShapeError(`${op}: the body changed the carry's structure from ${pd} to ${nd}`);
  pl.forEach((raw, i) => {
    const a = raw instanceof NDArray ? raw : asArray(raw as ArrayLike, op);
    const b = at(nl, i, op);
    const was = `${a.dtype}${fmtShape(a.shape)}`;
    const now = `${b.dtype}${fmtShape(b.shape)}`;
    if (!shapesEqual(a.shape, b.shape))
      throw new ShapeError(`${op}: the body changed carry leaf ${i} from ${was} to ${now}`);
    const weak = !(raw instanceof NDArray) || raw.weakType;
    if (a.dtype !== b.dtype && !weak)
      throw new DTypeError(`${op}: the body changed carry leaf ${i} from ${was} to ${now}`);
  });
}

/**
 * `while (condFn(v)) v = bodyFn(v)`, returning the final `v` (a pytree);
 * `condFn` returns a bool scalar (shape [], as lax.while_loop). Eagerly and under grad/jvp/vjp it runs the iterations the condition asks
 * for (and differentiates through them). Under vmap every example runs until
 * its own condition fails: the loop continues while any example is active and
 * finished examples keep their value. Under jit or makeGraph the condition
 * has no concrete value and the loop is staged as one `while_loop` primitive
 * (which `grad(jit(f))` differentiates by unrolling; `jit(grad(f))` throws
 * TracerError, since the unrolling needs the condition's values).
 * @example nb.whileLoop((v) => nb.less(v, 10), (v) => nb.mul(v, 2), 1); // array(16.)
 */
export function whileLoop<T extends Returned>(
  condFn: (val: NoInfer<Carry<T>>) => ArrayLike,
  bodyFn: (val: NoInfer<Carry<T>>) => NoInfer<Carry<T>>,
  init: T,
): Carry<T>;
export function whileLoop<T>(condFn: (val: T) => unknown, bodyFn: (val: T) => T, init: T): T {
  condFn = fnArg("whileLoop", condFn, "condFn");
  bodyFn = fnArg("whileLoop", bodyFn, "bodyFn");
  // the initial carry is a pytree of arrays even when the body never runs
  flattenToArrays(init, "whileLoop", "the initial carry");
  let val = init;
  for (;;) {
    const c = asArray(condFn(val) as ArrayLike, "whileLoop");
    // as lax.while_loop: a scalar (shape [1] is refused too, as by cond)
    if (c.ndim !== 0)
      throw new ShapeError(`whileLoop: the condition must be a scalar (shape []), got shape ${fmtShape(c.shape)}`);
    // as lax.while_loop: the condition is a boolean (a number such as `() => 1` is a mistake, and would loop forever)
    if (c.dtype !== "bool")
      throw new DTypeError(`whileLoop: the condition must be a boolean scalar, got dtype ${c.dtype}`);
    const v = concretePred(c, "whileLoop");
    if (v === false) return val;
    if (v === true) {
      const next = bodyFn(val);
      checkCarry("whileLoop", val, next);
      val = next;
      continue;
    }
    const any = anyTrue(c);
    if (any === null) return stagedWhile(condFn, bodyFn, val);
    if (!any) return val;
    // batched: step the active examples, keep the finished ones (which enter the body only through
    // stopGradient, so its derivative at their values cannot leak into their gradients)
    const pb = reshape(c, []);
    const out = bodyFn(maskOperand(pb, val, true) as T);
    checkCarry("whileLoop", val, out);
    const [next] = flattenToArrays(out, "whileLoop");
    const [cur, cd] = flattenToArrays(val, "whileLoop");
    val = unflatten(
      cd,
      next.map((n, i) => where(pb, n, at(cur, i, "whileLoop"))),
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
      const carry = unflatten(def, xs) as T;
      const next = bodyFn(carry);
      checkCarry("whileLoop", carry, next);
      return flattenToArrays(next, "whileLoop")[0];
    },
    avals,
    "whileLoop",
  );
  const outs = bind(WHILE_LOOP, [...cc, ...bc, ...leaves], { cond, body, nCond: cc.length, nBody: bc.length });
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
  bodyFn = fnArg("forLoop", bodyFn, "bodyFn");
  // the loop index is int32, as in lax.fori_loop
  const int32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
  lower = intArg("forLoop", "lower", lower, int32, NablaError);
  upper = intArg("forLoop", "upper", upper, int32, NablaError);
  flattenToArrays(init, "forLoop", "the initial carry");
  let val = init;
  for (let i = lower; i < upper; i++) {
    const next = bodyFn(i, val);
    checkCarry("forLoop", val, next);
    val = next;
  }
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
  f = fnArg("scan", f);
  options = scanOptions("scan", options);
  flattenToArrays(init, "scan", "the initial carry");
  const [leaves, def] = flattenToArrays(xs, "scan");
  const lengths = new Set(leaves.map((l) => l.shape[0] ?? -1));
  if (lengths.has(-1)) throw new ShapeError("scan: every leaf of xs needs a leading axis to scan over");
  if (options.length !== undefined) lengths.add(options.length);
  if (lengths.size !== 1)
    throw new ShapeError(
      lengths.size === 0
        ? "scan: give xs or options.length"
        : `scan: leading axes of xs (and length) differ: ${[...lengths].join(", ")}`,
    );
  const n = at([...lengths], 0, "scan");
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
    checkCarry("scan", carry, r[0]);
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
  if (yDef === null) throw new NablaError("scan: internal: no y structure after a non-empty scan");
  const stacked = at(ys, 0, "scan").map((_, j) => stack(ys.map((y) => at(y, j, "scan"))));
  return [carry, unflatten(yDef, stacked)];
}

/** A committed true on "webgpu": the predicate of the host computations' conds (made once). */
let deviceTrue: NDArray | null = null;

// onHost's device path (src/ops/host.ts): a cond with a predicate on "webgpu" and `fn` as both branches
// is staged as the cond primitive, which runs the branch on the CPU by transfer
setOnDevice((fn, xs) => {
  deviceTrue ??= devicePut(new ConcreteArray(Uint8Array.of(1), [], "bool"), "webgpu");
  return stagedCond(deviceTrue, fn, fn, xs) as NDArray;
});
