/**
 * Jacobians and Hessians. The function is linearized once; `jacfwd` pushes
 * each input basis vector through the linear graph, `jacrev` pulls each
 * output basis vector back through its transpose. Results are assembled with
 * differentiable operations, so the transforms nest (`hessian = jacfwd(jacrev)`).
 * Output leaf shapes are `out.shape ++ in.shape`; pytrees nest as
 * output-structure of input-structure.
 */
import { NDArray } from "../core/ndarray.js";
import { allocate } from "../core/dtype.js";
import { ConcreteArray } from "../core/ndarray.js";
import { reshape, stack, transposePrim, zeros } from "../ops/ops.js";
import { flattenToArrays, normArgnums, requireFloat, unflatten } from "./common.js";
import { evalLinear, linearizeFlat, transposeGraph } from "./linearize.js";

interface JacOptions {
  argnums?: number | readonly number[];
}

function oneHot(shape: readonly number[], dtype: NDArray["dtype"], k: number): NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = allocate(dtype, n);
  d[k] = 1;
  return new ConcreteArray(d, shape.slice(), dtype);
}

/** Stacks `rows` (each of shape `inner`) along a new leading axis, or zeros when there are none. */
function stackRows(rows: NDArray[], inner: readonly number[], dtype: NDArray["dtype"]): NDArray {
  return rows.length === 0 ? zeros([0, ...inner], { dtype }) : stack(rows, 0);
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
    // blocks[i][j]: d out_i / d in_j with shape out_i.shape ++ in_j.shape
    const blocks: NDArray[][] = outs.map(() => []);
    if (mode === "fwd") {
      ps.forEach((p, j) => {
        const cols: NDArray[][] = outs.map(() => []);
        for (let k = 0; k < p.size; k++) {
          const ts = ps.map((_, jj) => (jj === j ? oneHot(p.shape, p.dtype, k) : null));
          const touts = evalLinear(lin.graph, ts);
          touts.forEach((t, i) => cols[i]!.push(t ?? zeros(outs[i]!.shape, { dtype: outs[i]!.dtype })));
        }
        outs.forEach((o, i) => {
          // [n_in, ...out] -> [...out, n_in] -> [...out, ...in]
          const st = stackRows(cols[i]!, o.shape, o.dtype);
          const perm = [...o.shape.map((_, a) => a + 1), 0];
          blocks[i]![j] = reshape(transposePrim(st, perm), [...o.shape, ...p.shape]);
        });
      });
    } else {
      outs.forEach((o, i) => {
        const rows: NDArray[][] = ps.map(() => []);
        for (let k = 0; k < o.size; k++) {
          const cts = outs.map((_, ii) => (ii === i ? oneHot(o.shape, o.dtype, k) : null));
          const cin = transposeGraph(lin.graph, cts);
          cin.forEach((c, j) => rows[j]!.push(c ?? zeros(ps[j]!.shape, { dtype: ps[j]!.dtype })));
        }
        ps.forEach((p, j) => {
          blocks[i]![j] = reshape(stackRows(rows[j]!, p.shape, p.dtype), [...o.shape, ...p.shape]);
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
export function jacfwd(f: (...args: any[]) => unknown, options: JacOptions = {}): (...args: any[]) => any {
  return jacobian("jacfwd", "fwd", f, options);
}

/**
 * Reverse-mode Jacobian: leaves of shape `out.shape ++ in.shape`.
 * @example nb.jacrev((x) => nb.sin(x))(nb.array([0, 1])); // diag(cos x)
 */
export function jacrev(f: (...args: any[]) => unknown, options: JacOptions = {}): (...args: any[]) => any {
  return jacobian("jacrev", "rev", f, options);
}

/**
 * The Hessian, `jacfwd(jacrev(f))`.
 * @example nb.hessian((x) => nb.sum(nb.pow(x, 3)))(nb.array([1, 2])); // diag(6x)
 */
export function hessian(f: (...args: any[]) => unknown, options: JacOptions = {}): (...args: any[]) => any {
  return jacfwd(jacrev(f, options), options);
}

