/**
 * `nabla/fp`: fp-ts instances for {@link NDArray} and Either-returning
 * variants of the throwing API.
 *
 * Every `...E` function behaves like its namesake in `nabla` but returns
 * `Left(error)` where that would throw a {@link NablaError}, and `Right(value)`
 * otherwise. Errors that are not NablaErrors (bugs, or exceptions thrown by
 * user code) are rethrown unchanged. Transforms still take and return plain
 * functions, so they compose with `pipe` and `flow` from fp-ts.
 *
 * @example
 * import * as nb from "nabla";
 * import * as nbf from "nabla/fp";
 * import { pipe } from "fp-ts/lib/function.js";
 * import * as E from "fp-ts/lib/Either.js";
 *
 * const d2 = pipe(nb.sin, nb.grad, nb.grad); // x => -sin(x)
 * nbf.gradE(nb.sin)(nb.array([1, 2])); // Left(GradError: grad of a non-scalar output)
 * pipe(nbf.arrayE([[1, 2], [3]]), E.isLeft); // true: ragged literal
 */
import type { Either } from "fp-ts/lib/Either.js";
import { left, right } from "fp-ts/lib/Either.js";
import type { Eq } from "fp-ts/lib/Eq.js";
import type { Monoid } from "fp-ts/lib/Monoid.js";
import type { Semigroup } from "fp-ts/lib/Semigroup.js";
import type { Show } from "fp-ts/lib/Show.js";
import * as nb from "../index.js";
import { describe } from "../core/pytree.js";
import { dtypeArg, shapeArg } from "../ops/validate.js";
import type {
  ArgnumsOf,
  ArrayLike,
  ArraysOf,
  DType,
  DefaultArgs,
  DiffParams,
  GradOptions,
  GradResult,
  HessianOf,
  JacOptions,
  JacobianOf,
  NDArray,
  Returned,
  Shape,
  TangentOf,
  ValueAndGradResult,
} from "../index.js";

/**
 * A value, or the NablaError that prevented it.
 * @example
 * const r: nbf.Result<nb.NDArray> = nbf.arrayE([1, 2]);
 * E.isRight(r); // true
 */
export type Result<A> = Either<nb.NablaError, A>;

// ---------------------------------------------------------------------------
// Either-returning variants

/** Throws NablaError naming `fn` unless `f` is a function. */
function fnCheck(fn: string, f: unknown, what: string): void {
  if (typeof f !== "function") throw new nb.NablaError(`${fn}: expected a function for ${what}, got ${describe(f)}`);
}

/**
 * Runs `make` (creating a transformed function, e.g. `nb.grad(f, options)`): a NablaError it throws
 * (a bad `f` or options) is thrown again naming `fn`, the public function called (`gradE`), in place
 * of its namesake `inner` (`grad`).
 */
function creating<A>(fn: string, inner: string, make: () => A): A {
  try {
    return make();
  } catch (e) {
    throw renamed(fn, inner, e);
  }
}

/** `e` with its message's leading `inner: ` replaced by `fn: ` (a NablaError of the same class). */
function renamed(fn: string, inner: string, e: unknown): unknown {
  if (!(e instanceof nb.NablaError) || e.message.startsWith(`${fn}: `)) return e;
  const Ctor = e.constructor as new (message: string) => nb.NablaError;
  const rest = e.message.startsWith(`${inner}: `) ? e.message.slice(inner.length + 2) : e.message;
  const out = new Ctor(`${fn}: ${rest}`);
  Object.defineProperty(out, "cause", { value: e, configurable: true, writable: true });
  return out;
}

/**
 * Runs `thunk`, returning `Right(value)`, or `Left(error)` if it throws a
 * NablaError; any other exception is rethrown.
 * @example
 * nbf.attempt(() => nb.add([1, 2], [1, 2, 3])); // Left(ShapeError)
 * nbf.attempt(() => nb.add([1, 2], [3, 4]));    // Right(array([4., 6.]))
 */
export function attempt<A>(thunk: () => A): Result<A> {
  fnCheck("attempt", thunk, "the thunk");
  try {
    return right(thunk());
  } catch (e) {
    if (e instanceof nb.NablaError) return left(e);
    throw e;
  }
}

/**
 * Lifts a throwing function into one that returns a {@link Result}.
 * Use it for transforms without an `E` variant, e.g. `liftE(nb.vmap(f))`.
 * @example
 * const safeMatmul = nbf.liftE(nb.matmul);
 * safeMatmul(nb.eye(2), nb.ones([3])); // Left(ShapeError: matmul: shapes [2,2] and [3] are not aligned)
 */
export function liftE<Args extends readonly unknown[], R>(f: (...args: Args) => R): (...args: Args) => Result<R> {
  fnCheck("liftE", f, "f");
  return (...args) => attempt(() => f(...args));
}

/**
 * `nb.array` returning a Result: `Left(ShapeError)` for ragged literals,
 * `Left(DTypeError)` for unknown dtypes.
 * @example
 * nbf.arrayE([[1, 2], [3, 4]]); // Right(array([[1., 2.], [3., 4.]]))
 * nbf.arrayE([[1, 2], [3]]);    // Left(ShapeError: ragged nested array)
 */
export function arrayE(data: ArrayLike, options?: { dtype?: DType; shape?: Shape }): Result<NDArray> {
  return attempt(() => nb.array(data, options));
}

/**
 * `nb.grad` whose transformed function returns a Result instead of throwing.
 * @example
 * nbf.gradE((x: nb.NDArray) => x.mul(x).sum())(nb.array([1, 2])); // Right(array([2., 4.]))
 * nbf.gradE((x: nb.NDArray) => x.mul(x))(nb.array([1, 2]));       // Left(GradError: non-scalar output)
 */
export function gradE<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends GradOptions = {},
>(
  f: (...args: A) => R,
  options?: O,
): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => Result<GradResult<X, R, O>> {
  const g = creating("gradE", "grad", () => nb.grad(f, options));
  return <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => attempt(() => g<X>(...args));
}

/**
 * `nb.valueAndGrad` returning `Right([value, grads])` or a Left.
 * @example
 * nbf.valueAndGradE((x: nb.NDArray) => x.mul(x))(3); // Right([array(9.), array(6.)])
 */
export function valueAndGradE<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends GradOptions = {},
>(
  f: (...args: A) => R,
  options?: O,
): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => Result<ValueAndGradResult<X, R, O>> {
  const g = creating("valueAndGradE", "valueAndGrad", () => nb.valueAndGrad(f, options));
  return <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => attempt(() => g<X>(...args));
}

/**
 * `nb.jvp` returning `Right([primalOut, tangentOut])` or a Left.
 * @example
 * nbf.jvpE(nb.sin, [0], [1]);        // Right([array(0.), array(1.)])
 * nbf.jvpE(nb.sin, [nb.zeros([2])], [nb.ones([3])]); // Left(ShapeError: tangent leaf 0 has shape [3], expected [2])
 */
export function jvpE<P extends readonly [] | readonly unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<[...P]>>) => R,
  primals: P,
  tangents: NoInfer<TangentOf<P>>,
): Result<[ArraysOf<R>, ArraysOf<R>]> {
  return attempt(() => nb.jvp(f, primals, tangents));
}

/**
 * `nb.vjp` returning `Right([primalOut, vjpFn])`, where `vjpFn` itself
 * returns a Result (a cotangent of the wrong shape is a Left).
 * @example
 * const r = nbf.vjpE((x: nb.NDArray) => x.mul(x), 3);
 * if (E.isRight(r)) r.right[1](1); // Right([array(6.)])
 */
export function vjpE<P extends unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<P>>) => R,
  ...primals: P
): Result<[ArraysOf<R>, (ct: TangentOf<R>) => Result<ArraysOf<P>>]> {
  return attempt(() => {
    const [out, pull] = nb.vjp(f, ...primals);
    return [out, liftE(pull)];
  });
}

/**
 * `nb.linearize` returning `Right([primalOut, jvpFn])`, where `jvpFn`
 * itself returns a Result.
 * @example
 * const r = nbf.linearizeE(nb.exp, 0);
 * if (E.isRight(r)) r.right[1](2); // Right(array(2.))
 */
export function linearizeE<P extends unknown[], R extends Returned>(
  f: (...args: NoInfer<ArraysOf<P>>) => R,
  ...primals: P
): Result<[ArraysOf<R>, (...tangents: TangentOf<P>) => Result<ArraysOf<R>>]> {
  return attempt(() => {
    const [out, push] = nb.linearize(f, ...primals);
    return [out, liftE(push)];
  });
}

/**
 * `nb.jacfwd` whose transformed function returns a Result.
 * @example
 * nbf.jacfwdE((x: nb.NDArray) => x.mul(2))(nb.array([1, 2])); // Right(array([[2., 0.], [0., 2.]]))
 */
export function jacfwdE<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends JacOptions = {},
>(
  f: (...args: A) => R,
  options?: O,
): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => Result<JacobianOf<X, R, O>> {
  const g = creating("jacfwdE", "jacfwd", () => nb.jacfwd(f, options));
  return <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => attempt(() => g<X>(...args));
}

/**
 * `nb.jacrev` whose transformed function returns a Result.
 * @example
 * nbf.jacrevE((x: nb.NDArray) => x.mul(2))(nb.arange(2)); // Left(DTypeError: int32 input)
 */
export function jacrevE<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends JacOptions = {},
>(
  f: (...args: A) => R,
  options?: O,
): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => Result<JacobianOf<X, R, O>> {
  const g = creating("jacrevE", "jacrev", () => nb.jacrev(f, options));
  return <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => attempt(() => g<X>(...args));
}

/**
 * `nb.hessian` whose transformed function returns a Result.
 * @example
 * nbf.hessianE((x: nb.NDArray) => x.pow(3).sum())(nb.array([1, 2])); // Right(array([[6., 0.], [0., 12.]]))
 */
export function hessianE<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends JacOptions = {},
>(
  f: (...args: A) => R,
  options?: O,
): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => Result<HessianOf<X, R, O>> {
  const g = creating("hessianE", "hessian", () => nb.hessian(f, options));
  return <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => attempt(() => g<X>(...args));
}

// ---------------------------------------------------------------------------
// instances

/** Throws NablaError naming `fn` unless `x` is an NDArray. */
function ndarrayArg(fn: string, x: unknown, what: string): void {
  if (!(x instanceof nb.NDArray)) throw new nb.NablaError(`${fn}: ${what} must be an NDArray, got ${describe(x)}`);
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Structural equality of arrays: same shape, same dtype and the same values
 * (NaN equals NaN, so the relation is reflexive; 0 equals -0).
 * @example
 * nbf.EqNDArray.equals(nb.array([1, 2]), nb.array([1, 2]));                     // true
 * nbf.EqNDArray.equals(nb.array([1, 2]), nb.array([1, 2], { dtype: "float32" })); // false
 */
export const EqNDArray: Eq<NDArray> = {
  equals(x, y) {
    ndarrayArg("EqNDArray.equals", x, "x");
    ndarrayArg("EqNDArray.equals", y, "y");
    if (x === y) return true;
    if (x.dtype !== y.dtype || !sameShape(x.shape, y.shape)) return false;
    const a = x.toTypedArray();
    const b = y.toTypedArray();
    for (let i = 0; i < a.length; i++) {
      const u = a[i];
      const v = b[i];
      if (u !== v && !(Number.isNaN(u) && Number.isNaN(v))) return false;
    }
    return true;
  },
};

/**
 * Renders an array as `toString()` does (NumPy-like).
 * @example
 * nbf.ShowNDArray.show(nb.array([1, 2])); // "array([1., 2.])"
 */
export const ShowNDArray: Show<NDArray> = {
  show: (x) => {
    ndarrayArg("ShowNDArray.show", x, "x");
    return x.toString();
  },
};

/**
 * Elementwise addition (with broadcasting and dtype promotion) as a Semigroup.
 * @example
 * nbf.SemigroupSum.concat(nb.array([1, 2]), nb.array([10, 20])); // array([11., 22.])
 */
export const SemigroupSum: Semigroup<NDArray> = {
  concat: (x, y) => creating("SemigroupSum.concat", "add", () => nb.add(x, y)),
};

/**
 * Elementwise multiplication (with broadcasting and dtype promotion) as a Semigroup.
 * @example
 * nbf.SemigroupProduct.concat(nb.array([1, 2]), nb.array([10, 20])); // array([10., 40.])
 */
export const SemigroupProduct: Semigroup<NDArray> = {
  concat: (x, y) => creating("SemigroupProduct.concat", "mul", () => nb.mul(x, y)),
};

/**
 * The Monoid of elementwise addition on arrays of one shape and dtype
 * (float64 by default); `empty` is the zero array.
 * @example
 * import { concatAll } from "fp-ts/lib/Monoid.js";
 * concatAll(nbf.getMonoidSum([2]))([nb.array([1, 2]), nb.array([3, 4])]); // array([4., 6.])
 * concatAll(nbf.getMonoidSum([2]))([]);                                   // array([0., 0.])
 */
export function getMonoidSum(shape: Shape, dtype: DType = "float64"): Monoid<NDArray> {
  const s = shapeArg("getMonoidSum", shape);
  const dt = dtypeArg("getMonoidSum", dtype, "float64");
  return { concat: SemigroupSum.concat, empty: nb.zeros(s, { dtype: dt }) };
}

/**
 * The Monoid of elementwise multiplication on arrays of one shape and dtype
 * (float64 by default); `empty` is the array of ones.
 * @example
 * import { concatAll } from "fp-ts/lib/Monoid.js";
 * concatAll(nbf.getMonoidProduct([2]))([nb.array([1, 2]), nb.array([3, 4])]); // array([3., 8.])
 */
export function getMonoidProduct(shape: Shape, dtype: DType = "float64"): Monoid<NDArray> {
  const s = shapeArg("getMonoidProduct", shape);
  const dt = dtypeArg("getMonoidProduct", dtype, "float64");
  return { concat: SemigroupProduct.concat, empty: nb.ones(s, { dtype: dt }) };
}
