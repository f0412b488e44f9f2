/**
 * Jacobians and Hessians. The function is linearized once; `jacfwd` pushes
 * the whole input basis through the linear graph in one `vmap`ped pass,
 * `jacrev` pulls the whole output basis back through its transpose the same way. Results are assembled with
 * differentiable operations, so the transforms nest (`hessian = jacfwd(jacrev)`).
 * Output leaf shapes are `out.shape ++ in.shape`; pytrees nest as
 * output-structure of input-structure.
 */
import { DTypeError, ShapeError, at, fmtShape } from "../core/errors.js";
import { MAX_SIZE } from "../core/shape.js";
import { NDArray } from "../core/ndarray.js";
import { allocate, isFloat } from "../core/dtype.js";
import { ConcreteArray } from "../core/ndarray.js";
import { reshape, zeros } from "../ops/index.js";
import { slicePrim, transposePrim } from "../prims/wrap.js";
import { vmap } from "./vmap.js";
import { argnumsOption, fnArg, flattenToArrays, normArgnums, requireFloat, unflatten } from "./common.js";
import { evalLinear, linearizeFlat, orZeros, transposeGraph } from "./linearize.js";
import type { ArgnumsOf, DefaultArgs, DiffParams, HessianOf, JacobianOf, Returned } from "../core/types.js";

/**
 * Options of `jacfwd`, `jacrev` and `hessian`.
 * @example
 * const opts: nb.JacOptions = { argnums: [0, 1] };
 */
export interface JacOptions {
  argnums?: number | readonly number[];
}

/**
 * The standard basis of the concatenated leaves, split per leaf: leaf j gets
 * shape [n, ...leaf.shape], the rows of the n x n identity for its elements.
 */
function basisRows(leaves: readonly NDArray[]): { n: number; offsets: number[]; basis: NDArray[] } {
  const offsets: number[] = [];
  let n = 0;
  for (const l of leaves) {
    offsets.push(n);
    n += l.size;
  }
  const basis = leaves.map((l, j) => {
    const d = allocate(l.dtype, n * l.size);
    for (let k = 0; k < l.size; k++) d[(at(offsets, j, "basisRows") + k) * l.size + k] = 1;
    return new ConcreteArray(d, [n, ...l.shape], l.dtype);
  });
  return { n, offsets, basis };
}

function jacobian(op: string, mode: "fwd" | "rev", f: (...args: any[]) => unknown, options: JacOptions) {
  return (...args: unknown[]): any => {
    const nums = normArgnums(op, options.argnums, args.length);
    const [ps, pdef] = flattenToArrays(
      nums.map((k) => args[k]),
      op,
    );
    requireFloat(op, ps);
    const lin = linearizeFlat(
      (xs) => {
        const diff = unflatten(pdef, xs) as unknown[];
        const full = args.slice();
        nums.forEach((k, i) => (full[k] = diff[i]));
        return f(...full);
      },
      ps,
      op,
    );
    const outs = lin.primalsOut;
    // every entry of the Jacobian is materialised (and the basis it is built from): refuse one no typed array holds
    const nIn = ps.reduce((t, p) => t + p.size, 0);
    const nOut = outs.reduce((t, o) => t + o.size, 0);
    if (nIn * nOut > MAX_SIZE)
      throw new ShapeError(
        `${op}: the Jacobian of outputs ${outs.map((o) => fmtShape(o.shape)).join(", ")} with respect to inputs ` +
          `${ps.map((p) => fmtShape(p.shape)).join(", ")} would have ${nIn * nOut} elements, more than the limit 2^31 - 1`,
      );
    // blocks[i][j]: d out_i / d in_j with shape out_i.shape ++ in_j.shape
    const blocks: NDArray[][] = outs.map(() => []);
    if (mode === "fwd") {
      // one batched pass of the linear map over the basis of all inputs
      const rows = basisRows(ps);
      const touts =
        rows.n === 0
          ? outs.map((o) => zeros([0, ...o.shape], { dtype: o.dtype }))
          : (vmap((...ts: NDArray[]) => orZeros(evalLinear(lin.graph, ts), outs))(...rows.basis) as NDArray[]);
      outs.forEach((o, i) => {
        ps.forEach((p, j) => {
          const t = at(touts, i, "jacobian");
          const part = slicePrim(
            t,
            [at(rows.offsets, j, "jacobian"), ...o.shape.map(() => 0)],
            [at(rows.offsets, j, "jacobian") + p.size, ...o.shape],
          );
          // [n_in, ...out] -> [...out, n_in] -> [...out, ...in]
          const perm = [...o.shape.map((_, a) => a + 1), 0];
          at(blocks, i, "jacobian")[j] = reshape(transposePrim(part, perm), [...o.shape, ...p.shape]);
        });
      });
    } else {
      // as jax.jacrev: reverse mode needs float outputs (an int or bool output has no cotangent; its
      // rows would be silent zeros). jacfwd, like jax.jacfwd, gives zeros for them
      for (let i = 0; i < outs.length; i++) {
        const o = at(outs, i, op);
        if (!isFloat(o.dtype))
          throw new DTypeError(
            `${op}: reverse mode requires float outputs, but output leaf ${i} has dtype ${o.dtype} ` +
              `(shape ${fmtShape(o.shape)}): an int or bool output has no derivative`,
          );
      }
      // one batched pass of the transposed linear map over the basis of all outputs
      const rows = basisRows(outs);
      const cins =
        rows.n === 0
          ? ps.map((p) => zeros([0, ...p.shape], { dtype: p.dtype }))
          : (vmap((...cts: NDArray[]) => orZeros(transposeGraph(lin.graph, cts), ps))(...rows.basis) as NDArray[]);
      outs.forEach((o, i) => {
        ps.forEach((p, j) => {
          const c = at(cins, j, "jacobian");
          const part = slicePrim(
            c,
            [at(rows.offsets, i, "jacobian"), ...p.shape.map(() => 0)],
            [at(rows.offsets, i, "jacobian") + o.size, ...p.shape],
          );
          at(blocks, i, "jacobian")[j] = reshape(part, [...o.shape, ...p.shape]);
        });
      });
    }
    const single = typeof options.argnums === "number" || options.argnums === undefined;
    const perOut = blocks.map((row) => {
      const trees = unflatten(pdef, row) as unknown[];
      return single ? trees[0] : trees;
    });
    return unflatten(lin.outDef, perOut);
  };
}

/**
 * Forward-mode Jacobian: leaves of shape `out.shape ++ in.shape`.
 * @example nb.jacfwd((x) => nb.mul(x, x))(nb.array([1, 2])); // [[2, 0], [0, 4]]
 */
export function jacfwd<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends JacOptions = {},
>(f: (...args: A) => R, options?: O): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => JacobianOf<X, R, O> {
  f = fnArg("jacfwd", f);
  return jacobian("jacfwd", "fwd", f, argnumsOption("jacfwd", options));
}

/**
 * Reverse-mode Jacobian: leaves of shape `out.shape ++ in.shape`.
 * @example nb.jacrev((x) => nb.sin(x))(nb.array([0, 1])); // diag(cos x)
 */
export function jacrev<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends JacOptions = {},
>(f: (...args: A) => R, options?: O): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => JacobianOf<X, R, O> {
  f = fnArg("jacrev", f);
  return jacobian("jacrev", "rev", f, argnumsOption("jacrev", options));
}

/**
 * The Hessian, `jacfwd(jacrev(f))`.
 * @example nb.hessian((x) => nb.sum(nb.pow(x, 3)))(nb.array([1, 2])); // diag(6x)
 */
export function hessian<
  A extends unknown[] = DefaultArgs,
  R extends Returned = Returned,
  const O extends JacOptions = {},
>(f: (...args: A) => R, options?: O): <X extends DiffParams<A, ArgnumsOf<O>>>(...args: X) => HessianOf<X, R, O> {
  f = fnArg("hessian", f);
  const opts = argnumsOption("hessian", options);
  // both passes report errors as hessian (the function the user called)
  return jacobian("hessian", "fwd", jacobian("hessian", "rev", f, opts), opts);
}
