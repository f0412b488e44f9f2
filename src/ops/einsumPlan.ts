/**
 * Parsing and contraction planning for `einsum` (internal to nabla, not
 * re-exported): the subscripts as label lists (ellipsis dimensions get labels
 * of their own, aligned from the right across operands), and the pairwise
 * contraction order with the fewest multiply-adds.
 */
import { NablaError, ShapeError, at, fmtShape } from "../core/errors.js";

/** A label: a letter's char code, or ELLIPSIS + k for the k-th broadcast ellipsis dimension. */
export type Label = number;
const ELLIPSIS = 1000;

/** The parsed subscripts: a label list per operand, the output's labels, and each label's extent. */
export interface EinsumSpec {
  inputs: Label[][];
  output: Label[];
  sizes: Map<Label, number>;
}

function terms(spec: string): { ins: string[]; out: string | null } {
  const s = spec.replace(/\s+/g, "");
  const parts = s.split("->");
  if (parts.length > 2) throw new NablaError(`einsum: subscripts ${JSON.stringify(spec)} have more than one "->"`);
  return { ins: at(parts, 0, "einsum").split(","), out: parts.length === 2 ? at(parts, 1, "einsum") : null };
}

/** Letters and at most one "..." of a term, as labels (the ellipsis as null, expanded later). */
function tokens(term: string, spec: string): (number | null)[] {
  const out: (number | null)[] = [];
  let seen = false;
  for (let i = 0; i < term.length;) {
    if (term.startsWith("...", i)) {
      if (seen) throw new NablaError(`einsum: subscripts ${JSON.stringify(spec)}: a term has more than one "..."`);
      seen = true;
      out.push(null);
      i += 3;
      continue;
    }
    const c = at(term, i, "einsum");
    if (!/[a-zA-Z]/.test(c))
      throw new NablaError(`einsum: subscripts ${JSON.stringify(spec)}: ${JSON.stringify(c)} is not a letter`);
    out.push(c.charCodeAt(0));
    i++;
  }
  return out;
}

/**
 * Parses subscripts against the operand shapes. A label's extent is the one
 * its axes share, an axis of extent 1 broadcasting against any other (for
 * letters and ellipsis dimensions alike, as NumPy's and jnp.einsum); a
 * letter repeated within one operand (a diagonal) needs equal extents there.
 */
export function parseEinsum(spec: string, shapes: readonly (readonly number[])[]): EinsumSpec {
  const { ins, out } = terms(spec);
  if (ins.length !== shapes.length)
    throw new NablaError(
      `einsum: subscripts ${JSON.stringify(spec)} name ${ins.length} operand(s), ${shapes.length} given`,
    );
  const toks = ins.map((t) => tokens(t, spec));
  const ellRank = toks.map((t, k) => {
    const named = t.filter((l) => l !== null).length;
    const shape = at(shapes, k, "einsum");
    const hasEll = t.includes(null);
    if (hasEll ? shape.length < named : shape.length !== named)
      throw new ShapeError(
        `einsum: operand ${k} of shape ${fmtShape(shape)} does not match its subscripts ${JSON.stringify(ins[k])}`,
      );
    return shape.length - named;
  });
  const R = Math.max(0, ...ellRank);
  const sizes = new Map<Label, number>();
  const inputs = toks.map((t, k) => {
    const shape = at(shapes, k, "einsum");
    const labels: Label[] = [];
    for (const l of t)
      if (l === null) for (let e = R - at(ellRank, k, "einsum"); e < R; e++) labels.push(ELLIPSIS + e);
      else labels.push(l);
    // one label per axis: the ellipsis stands for the axes the letters leave (checked above)
    labels.forEach((l, ax) => {
      const n = at(shape, ax, "einsum");
      const first = labels.indexOf(l);
      const m = at(shape, first, "einsum");
      // a diagonal needs equal extents (NumPy raises; broadcasting inside one operand is not defined)
      if (first !== ax && m !== n)
        throw new ShapeError(
          `einsum: index ${JSON.stringify(String.fromCharCode(l))} repeats in operand ${k} of shape ${fmtShape(shape)} with extents ${m} and ${n} (a diagonal needs equal extents)`,
        );
      const prev = sizes.get(l);
      // extent 1 broadcasts against any other (letters too, as NumPy and jnp.einsum)
      if (prev === undefined || prev === 1) sizes.set(l, n);
      else if (n !== prev && n !== 1)
        throw new ShapeError(
          `einsum: index ${l >= ELLIPSIS ? "..." : JSON.stringify(String.fromCharCode(l))} has extents ${prev} and ${n} (operand ${k}, shape ${fmtShape(shape)})`,
        );
    });
    return labels;
  });
  const ell = Array.from({ length: R }, (_, e) => ELLIPSIS + e);
  let output: Label[];
  if (out === null) {
    // implicit: the broadcast ellipsis dimensions, then the letters that occur once, in alphabetical order
    const count = new Map<Label, number>();
    for (const t of toks) for (const l of t) if (l !== null) count.set(l, (count.get(l) ?? 0) + 1);
    output = [
      ...ell,
      ...[...count]
        .filter(([, c]) => c === 1)
        .map(([l]) => l)
        .sort((a, b) => a - b),
    ];
  } else {
    output = [];
    for (const l of tokens(out, spec))
      if (l === null) output.push(...ell);
      else {
        if (!sizes.has(l))
          throw new NablaError(
            `einsum: output index ${JSON.stringify(String.fromCharCode(l))} of ${JSON.stringify(spec)} is not in any input`,
          );
        if (output.includes(l))
          throw new NablaError(
            `einsum: output index ${JSON.stringify(String.fromCharCode(l))} of ${JSON.stringify(spec)} repeats`,
          );
        output.push(l);
      }
    if (R > 0 && !out.includes("..."))
      throw new NablaError(`einsum: subscripts ${JSON.stringify(spec)} use "..." in the inputs but not the output`);
  }
  return { inputs, output, sizes };
}

/** The extent of label `l`: parseEinsum records one for every label of every operand. */
export function extent(sizes: ReadonlyMap<Label, number>, l: Label): number {
  const n = sizes.get(l);
  if (n === undefined) throw new NablaError(`einsum: internal: no extent for label ${l}`);
  return n;
}

/** Multiply-adds of contracting two operands: the product of the extents of every label of either. */
export function pairCost(a: readonly Label[], b: readonly Label[], sizes: ReadonlyMap<Label, number>): number {
  let c = 1;
  for (const l of new Set([...a, ...b])) c *= extent(sizes, l);
  return c;
}

/** Labels of contracting a and b: those still needed by `keep` (the output and the other operands). */
export function pairResult(a: readonly Label[], b: readonly Label[], keep: ReadonlySet<Label>): Label[] {
  return [...new Set([...a, ...b])].filter((l) => keep.has(l));
}

/**
 * The contraction order: a list of pairs of positions in the shrinking
 * operand list (the pair's result goes to the end). Up to three operands,
 * every order is costed and the cheapest taken; beyond, greedily the
 * cheapest pair at each step.
 */
export function contractionOrder(
  inputs: readonly (readonly Label[])[],
  output: readonly Label[],
  sizes: ReadonlyMap<Label, number>,
): [number, number][] {
  const keepFor = (ops: readonly (readonly Label[])[], i: number, j: number) =>
    new Set([...output, ...ops.filter((_, k) => k !== i && k !== j).flat()]);
  const step = (ops: readonly (readonly Label[])[], i: number, j: number) => {
    const a = at(ops, i, "einsum");
    const b = at(ops, j, "einsum");
    const res = pairResult(a, b, keepFor(ops, i, j));
    return { cost: pairCost(a, b, sizes), next: [...ops.filter((_, k) => k !== i && k !== j), res] };
  };
  const pairs = (n: number): [number, number][] => {
    const out: [number, number][] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
    return out;
  };
  if (inputs.length <= 3) {
    const search = (ops: readonly (readonly Label[])[]): { cost: number; path: [number, number][] } => {
      if (ops.length < 2) return { cost: 0, path: [] };
      let best = { cost: Infinity, path: [] as [number, number][] };
      for (const [i, j] of pairs(ops.length)) {
        const s = step(ops, i, j);
        const rest = search(s.next);
        if (s.cost + rest.cost < best.cost) best = { cost: s.cost + rest.cost, path: [[i, j], ...rest.path] };
      }
      return best;
    };
    return search(inputs).path;
  }
  const path: [number, number][] = [];
  let ops = inputs;
  while (ops.length > 1) {
    let best: { i: number; j: number; cost: number; next: (readonly Label[])[] } | null = null;
    for (const [i, j] of pairs(ops.length)) {
      const s = step(ops, i, j);
      if (best === null || s.cost < best.cost) best = { i, j, ...s };
    }
    if (best === null) throw new NablaError(`einsum: internal: no pair to contract among ${ops.length} operands`);
    path.push([best.i, best.j]);
    ops = best.next;
  }
  return path;
}
