/**
 * Vectorising map. A batch tracer carries a value with one extra axis (its
 * batch axis, or null when the value is the same for every example); each
 * primitive's batching rule maps the whole batch in one application.
 */
import { NablaError, ShapeError, TracerError, fmtShape, at } from "../core/errors.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { Aval, Dim, MainTrace, Rule, Trace, Tracer, bind, endTrace, newTrace } from "../core/trace.js";
import type { ArrayParams, ArraysOf, DefaultArgs, Returned } from "../core/types.js";
import { flatten, flattenAs } from "../core/pytree.js";
import { broadcastPrim } from "../prims/wrap.js";
import { moveFromFront, moveToFront } from "../prims/batching.js";
import { fnArg, toLeaf, unflatten, vmapOptions } from "./common.js";

export class BatchTracer extends Tracer {
  readonly aval: Aval;
  constructor(
    readonly trace: BatchTrace,
    readonly val: NDArray,
    readonly bdim: Dim,
  ) {
    super();
    const shape = val.shape.slice();
    if (bdim !== null) shape.splice(bdim, 1);
    this.aval = { shape, dtype: val.dtype, weak: val.weakType };
  }
  /** The batched value's device (it has no concrete value of its own shape). */
  override get device(): string {
    return this.val.device;
  }
}

export class BatchTrace extends Trace {
  constructor(
    main: MainTrace,
    readonly size: number,
  ) {
    super(main);
  }
  pure(x: NDArray): Tracer {
    return new BatchTracer(this, x, null);
  }
  processPrimitive<P>(prim: Rule<P>, args: Tracer[], params: P): NDArray[] {
    const ts = args as BatchTracer[];
    const vals = ts.map((t) => t.val);
    const dims = ts.map((t) => t.bdim);
    if (dims.every((d) => d === null)) return bind(prim, vals, params);
    const [outs, odims] = prim.vmap(vals, dims, params, this.size);
    return outs.map((o, i) => (odims[i] === null ? o : new BatchTracer(this, o, at(odims, i, "BatchTrace"))));
  }
  concreteOf(t: Tracer): ConcreteArray {
    throw new TracerError(
      `vmap: the batched array of per-example shape ${fmtShape(t.shape)} has no single concrete value ` +
        `(JS control flow on traced values is not possible under vmap; use nb.where)`,
    );
  }
}

type Axes = number | null | readonly (number | null)[];

/**
 * Vectorising map: `vmap(f)(xs)` equals stacking `f` over the slices of `xs`
 * along `inAxes` (null = unmapped argument), with results stacked along
 * `outAxes`. Composes with every other transform.
 * @example
 * nb.vmap((x) => nb.sum(nb.mul(x, x)))(nb.array([[1, 2], [3, 4]])); // array([5., 25.])
 * nb.vmap(nb.grad(loss), { inAxes: [null, 0] })(params, batch); // per-example gradients
 */
export function vmap<A extends unknown[] = DefaultArgs, R extends Returned = Returned>(
  f: (...args: A) => R,
  options: { inAxes?: Axes; outAxes?: number | readonly number[] } = {},
): (...args: ArrayParams<A>) => ArraysOf<R> {
  f = fnArg("vmap", f);
  options = vmapOptions("vmap", options);
  return (...args: unknown[]): ArraysOf<R> => {
    const inAxes = options.inAxes === undefined ? 0 : options.inAxes;
    const perArg: (number | null)[] = Array.isArray(inAxes)
      ? (inAxes as (number | null)[])
      : args.map(() => inAxes as number | null);
    if (perArg.length !== args.length)
      throw new ShapeError(`vmap: inAxes has ${perArg.length} entries for ${args.length} arguments`);
    // flatten each argument, remembering its axis
    const leaves: NDArray[] = [];
    const axes: (number | null)[] = [];
    const defs = args.map((a, i) => {
      const [ls, def] = flattenAs(a, "vmap", `argument ${i}`);
      for (const l of ls) {
        const x = toLeaf(l, "vmap");
        const ax = at(perArg, i, "vmap");
        if (ax !== null && (!Number.isInteger(ax) || ax < -x.ndim || ax >= x.ndim))
          throw new ShapeError(`vmap: inAxes ${ax} is out of range for argument ${i} of shape ${fmtShape(x.shape)}`);
        leaves.push(x);
        axes.push(ax === null ? null : ax < 0 ? ax + x.ndim : ax);
      }
      return def;
    });
    const sizes = new Set<number>();
    leaves.forEach((x, i) => {
      const ax = axes[i];
      if (ax !== null && ax !== undefined) sizes.add(at(x.shape, ax, "vmap"));
    });
    if (sizes.size === 0) throw new ShapeError("vmap: at least one argument must be mapped (inAxes all null)");
    if (sizes.size > 1)
      throw new ShapeError(
        `vmap: mapped axes have different sizes: ${leaves.map((x, i) => (axes[i] === null ? "-" : `${fmtShape(x.shape)}@${axes[i]}`)).join(", ")}`,
      );
    const size = at([...sizes], 0, "vmap");
    const trace = newTrace("vmap", (m: MainTrace) => new BatchTrace(m, size));
    let outLeaves: NDArray[];
    let outDef: ReturnType<typeof flatten>[1];
    let outAxesPerLeaf: number[];
    try {
      let k = 0;
      const wrapped = defs.map((def) =>
        unflatten(
          def,
          Array.from({ length: def.numLeaves }, () => {
            const x = at(leaves, k, "vmap");
            const ax = at(axes, k++, "vmap");
            return ax === null ? x : new BatchTracer(trace, x, ax);
          }),
        ),
      );
      const out = f(...(wrapped as A));
      const [ols, odef] = flattenAs(out, "vmap", "the output");
      outDef = odef;
      outAxesPerLeaf = outAxesFor(options.outAxes, out, ols.length);
      outLeaves = ols.map((l, i) => {
        const x = toLeaf(l, "vmap");
        const oa = at(outAxesPerLeaf, i, "vmap");
        if (x instanceof BatchTracer && x.trace === trace) {
          const nd = x.val.ndim;
          const o = oa < 0 ? oa + nd : oa;
          if (o < 0 || o >= nd) throw new ShapeError(`vmap: outAxes ${oa} out of range for output of rank ${nd - 1}`);
          return moveFromFront(moveToFront(x.val, x.bdim ?? 0), o);
        }
        const nd = x.ndim + 1;
        const o = oa < 0 ? oa + nd : oa;
        if (o < 0 || o >= nd) throw new ShapeError(`vmap: outAxes ${oa} out of range for output of rank ${nd - 1}`);
        return moveFromFront(broadcastPrim(x, [size, ...x.shape]), o);
      });
    } finally {
      endTrace(trace);
    }
    return unflatten(outDef, outLeaves) as ArraysOf<R>;
  };
}

function outAxesFor(spec: number | readonly number[] | undefined, out: unknown, nLeaves: number): number[] {
  if (spec === undefined) return new Array<number>(nLeaves).fill(0);
  if (typeof spec === "number") return new Array<number>(nLeaves).fill(spec);
  if (!Array.isArray(out) || out.length !== spec.length)
    throw new NablaError(`vmap: outAxes has ${spec.length} entries but the output is not an array of that length`);
  return out.flatMap((o, i) => new Array<number>(flatten(o)[0].length).fill(at(spec, i, "outAxesFor")));
}

/** vmap over flat lists with every input and output batched at axis 0 (for rows of higher-order primitives). */
export function vmapFlat(f: (xs: NDArray[]) => NDArray[], xs: NDArray[]): NDArray[] {
  return vmap((...ys: NDArray[]) => f(ys))(...xs) as NDArray[];
}
