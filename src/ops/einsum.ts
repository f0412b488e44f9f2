/** Einstein summation, lowered to diagonals (gather), sums, transposes, reshapes and batched matmul. */
import "./methods.js";
import { DTypeError, NablaError, at } from "../core/errors.js";
import { ArrayLike, NDArray } from "../core/ndarray.js";
import * as W from "../prims/wrap.js";
import { asArray, sizeArg } from "./validate.js";
import { Label, contractionOrder, extent, parseEinsum } from "./einsumPlan.js";

interface Term {
  x: NDArray;
  labels: Label[];
}

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Takes the diagonal of every label that repeats within the term (the label moves to the end). */
function diagonals(t: Term): Term {
  let { x, labels } = t;
  for (;;) {
    const a = labels.findIndex((l, i) => labels.indexOf(l) !== i);
    if (a < 0) return { x, labels };
    const l = at(labels, a, "einsum");
    const first = labels.indexOf(l);
    const n = at(x.shape, a, "einsum");
    const others = labels.map((_, i) => i).filter((i) => i !== first && i !== a);
    // [...others, n, n] → [...others, n·n]; the diagonal is every (n + 1)-th element
    const moved = W.transposePrim(x, [...others, first, a]);
    const flat = W.reshape(moved, [...others.map((i) => at(x.shape, i, "einsum")), n * n]);
    const idx = W.mul(W.iota(n), n + 1);
    x = W.gatherPrim(flat, idx, others.length);
    labels = [...others.map((i) => at(labels, i, "einsum")), l];
  }
}

/** Sums the labels of the term that `keep` does not need. */
function sumOut(t: Term, keep: ReadonlySet<Label>): Term {
  const axes = t.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  if (axes.length === 0) return t;
  return { x: W.reduceSum(t.x, axes), labels: t.labels.filter((l) => keep.has(l)) };
}

/**
 * Drops the term's broadcast axes: those of extent 1 whose label is longer
 * elsewhere. The term does not depend on that index, so it simply leaves
 * the label to the operands that have it (the product broadcasts it).
 */
function squeezeBroadcast(t: Term, sizes: ReadonlyMap<Label, number>): Term {
  const keep = t.labels.map((l, i) => t.x.shape[i] !== 1 || sizes.get(l) === 1);
  if (keep.every(Boolean)) return t;
  return {
    x: W.reshape(
      t.x,
      t.x.shape.filter((_, i) => keep[i]),
    ),
    labels: t.labels.filter((_, i) => keep[i]),
  };
}

/** Contracts two terms as one batched matmul: [batch, aOnly, contracted] × [batch, contracted, bOnly]. */
function contract(a: Term, b: Term, keep: ReadonlySet<Label>, sizes: ReadonlyMap<Label, number>): Term {
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && keep.has(l));
  const con = a.labels.filter((l) => inB.has(l) && !keep.has(l));
  const aOnly = a.labels.filter((l) => !inB.has(l));
  const bOnly = b.labels.filter((l) => !inA.has(l));
  const ext = (ls: Label[]) => ls.map((l) => extent(sizes, l));
  const axesOf = (t: Term, ls: Label[]) => ls.map((l) => t.labels.indexOf(l));
  const am = W.reshape(W.transposePrim(a.x, axesOf(a, [...batch, ...aOnly, ...con])), [
    prod(ext(batch)),
    prod(ext(aOnly)),
    prod(ext(con)),
  ]);
  const bm = W.reshape(W.transposePrim(b.x, axesOf(b, [...batch, ...con, ...bOnly])), [
    prod(ext(batch)),
    prod(ext(con)),
    prod(ext(bOnly)),
  ]);
  const labels = [...batch, ...aOnly, ...bOnly];
  return { x: W.reshape(W.matmulPrim(am, bm), ext(labels)), labels };
}

/**
 * Einstein summation (NumPy's `einsum`): `spec` names each operand's axes
 * with letters, `->` the output's (implicit output: the letters that occur
 * once, alphabetically); a letter repeated within an operand takes its
 * diagonal, a letter absent from the output is summed. `...` stands for
 * broadcast leading axes; an axis of extent 1 broadcasts against the same
 * letter's extent n in another operand, as NumPy and jnp.einsum (the
 * operand is constant along it); within one operand a repeated letter's
 * axes must have equal extents. Lowered to diagonals, sums,
 * transposes, reshapes and batched matmuls, so it is differentiable to every
 * order and batchable; for up to three operands the pairwise order with the
 * fewest multiply-adds is chosen (greedy beyond). Operands are promoted to a
 * common dtype (bool to int32).
 * @example nb.einsum("ij,jk->ik", nb.eye(2), [[1, 2], [3, 4]]); // array([[1., 2.], [3., 4.]])
 * @example nb.einsum("ii", [[1, 2], [3, 4]]); // array(5.) (the trace)
 * @example nb.einsum("...i,...i->...", nb.ones([3, 2]), [1, 2]); // array([3., 3., 3.])
 * @example nb.einsum("ij,jk->ik", [[1], [2]], [[1, 2], [3, 4]]); // array([[4., 6.], [8., 12.]])
 */
export function einsum(spec: string, ...xs: ArrayLike[]): NDArray {
  if (typeof spec !== "string") throw new DTypeError(`einsum: subscripts must be a string, got ${typeof spec}`);
  if (xs.length === 0) throw new NablaError(`einsum: subscripts ${JSON.stringify(spec)} need at least one operand`);
  let as = xs.map((x, i) => asArray(x, "einsum", `operand ${i}`));
  const { inputs, output, sizes } = parseEinsum(
    spec,
    as.map((a) => a.shape),
  );
  sizeArg(
    "einsum",
    output.map((l) => sizes.get(l) ?? 1),
  );
  let dt = W.promoted("einsum", as);
  if (dt === "bool") dt = "int32";
  as = as.map((a) => W.convertTo(a, dt));
  let terms: Term[] = as.map((x, i) => diagonals(squeezeBroadcast({ x, labels: at(inputs, i, "einsum") }, sizes)));
  // sum each label that occurs in one operand only and not in the output, before any product
  terms = terms.map((t, i) =>
    sumOut(t, new Set([...output, ...terms.filter((_, k) => k !== i).flatMap((u) => u.labels)])),
  );
  for (const [i, j] of contractionOrder(
    terms.map((t) => t.labels),
    output,
    sizes,
  )) {
    const rest = terms.filter((_, k) => k !== i && k !== j);
    const keep = new Set([...output, ...rest.flatMap((t) => t.labels)]);
    const r = contract(at(terms, i, "einsum"), at(terms, j, "einsum"), keep, sizes);
    terms = [...rest, sumOut(r, keep)];
  }
  const last = sumOut(at(terms, 0, "einsum"), new Set(output));
  return W.transposePrim(
    last.x,
    output.map((l) => last.labels.indexOf(l)),
  );
}
