/**
 * The higher-order primitives for user-defined rules, bound by `custom.ts`: `custom_jvp_call`
 * (a function with its own JVP rule), `custom_vjp_call` (a function with its
 * own forward/backward pair) and `custom_vjp_lin` (the linear map that a
 * custom VJP contributes to a linearized graph; its transpose calls the
 * user's backward function). The functions travel in the parameters, so the
 * rules survive staging (`jit`, `makeGraph`) and batching.
 */
import { NablaError, ShapeError, fmtShape, at } from "../core/errors.js";
import { shapesEqual } from "../core/shape.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { StagingTrace } from "../core/graph.js";
import { Aval, BatchResult, Dim, LinearIn, MainTrace, Rule, avalOf, bind, endTrace, newTrace } from "../core/trace.js";
import { zeros } from "../ops/index.js";
import { batchedFront } from "../prims/batching.js";
import { jvpFlat } from "./jvp.js";
import { linearizeFlat, orZeros, transposeGraph } from "./linearize.js";
import { vmapFlat } from "./vmap.js";

export type FlatFn = (xs: NDArray[]) => NDArray[];
export type FlatRule = (primals: NDArray[], tangents: NDArray[]) => [NDArray[], NDArray[]];
export type FlatFwd = (xs: NDArray[]) => [NDArray[], NDArray[]];
export type FlatBwd = (res: NDArray[], cts: NDArray[]) => NDArray[];

/**
 * Taylor mode in normalised coefficients (customJet.ts): operands and their series `[x0, x1, ..., xK]`
 * (null: constant) to the outputs and their coefficients 1..K (null: zero).
 */
export type FlatJet = (
  primals: NDArray[],
  ins: readonly (readonly (NDArray | null)[] | null)[],
  order: number,
) => [NDArray[], ((NDArray | null)[] | null)[]];

export interface CustomJvpParams {
  f: FlatFn;
  rule: FlatRule;
  id: number;
  name: string;
  /** The public function that bound it, for messages (default "customJvp"; customRoot's says so). */
  op?: string;
  /**
   * The series when it is not the jet of `f`, which jet follows otherwise (ignoring `rule`, as JAX):
   * customRoot's, whose `f` is a solver that is not to be differentiated.
   */
  jet?: FlatJet;
}
export interface CustomVjpParams {
  f: FlatFn;
  fwd: FlatFwd;
  bwd: FlatBwd;
  id: number;
  name: string;
  /** Check fwd's primal outputs against f's shapes and dtypes (off when fwd calls f itself, as checkpoint's does). */
  checkFwd: boolean;
}
export interface CustomLinParams {
  bwd: FlatBwd;
  nRes: number;
  outAvals: Aval[];
  id: number;
  name: string;
}

/** Output avals of a flat function, by staging it on inputs of the given avals. */
function stagedAvals(f: FlatFn, avals: Aval[], what: string): Aval[] {
  const t = newTrace(what, (m: MainTrace) => new StagingTrace(m, what));
  try {
    return f(avals.map((a) => t.newInput(a))).map(avalOf);
  } finally {
    endTrace(t);
  }
}

function concreteOuts(outs: NDArray[], what: string): ConcreteArray[] {
  return outs.map((o) => {
    if (!(o instanceof ConcreteArray))
      throw new NablaError(`${what}: the function closes over a traced value; pass it as an argument instead`);
    return o;
  });
}

const zerosOf = (a: Aval | NDArray): NDArray => zeros(a.shape, { dtype: a.dtype });

/** Reverse mode over flat lists: the cotangents of the inputs. */
function vjpFlat(f: FlatFn, primals: NDArray[], cts: (NDArray | null)[]): NDArray[] {
  const lin = linearizeFlat(f, primals, "customVjp");
  return orZeros(transposeGraph(lin.graph, cts), primals);
}

export const CUSTOM_JVP_CALL: Rule<CustomJvpParams> = {
  name: "custom_jvp_call",
  opaque: true,
  printParams: ({ name }) => ({ name }),
  abstractEval: (avals: Aval[], p: CustomJvpParams) => stagedAvals(p.f, avals, p.op ?? "customJvp"),
  impl: (xs: ConcreteArray[], p: CustomJvpParams) => concreteOuts(p.f(xs), p.op ?? "customJvp"),
  // the user's rule gives the tangents (its primal outputs equal f's)
  jvp: (primals: NDArray[], tangents: (NDArray | null)[], _o: NDArray[], p: CustomJvpParams) =>
    p.rule(primals, orZeros(tangents, primals))[1],
  jvpFull: (primals: NDArray[], tangents: (NDArray | null)[], p: CustomJvpParams): [NDArray[], NDArray[]] =>
    p.rule(primals, orZeros(tangents, primals)),
  vmap(args: NDArray[], dims: Dim[], p: CustomJvpParams, size: number): BatchResult {
    const xs = args.map((a, i) => batchedFront(a, at(dims, i, "CUSTOM_JVP_CALL"), size));
    const n = xs.length;
    const vm = vmapFlat;
    const params: CustomJvpParams = {
      f: (ys) => vm(p.f, ys),
      rule: (ps, ts) => {
        let nOut = 0;
        const both = vm(
          (zs) => {
            const [po, to] = p.rule(zs.slice(0, n), zs.slice(n));
            nOut = po.length;
            return [...po, ...to];
          },
          [...ps, ...ts],
        );
        return [both.slice(0, nOut), both.slice(nOut)];
      },
      id: p.id,
      name: p.name,
    };
    if (p.op !== undefined) params.op = p.op;
    const jet = p.jet;
    if (jet !== undefined) params.jet = (ps, ins, K) => batchedJet(jet, ps, ins, K);
    const outs = bind(CUSTOM_JVP_CALL, xs, params);
    return [outs, outs.map(() => 0)];
  },
};

/**
 * A FlatJet over operands batched at axis 0 (their coefficients too): vmap of the per-example rule, with
 * each nonzero coefficient an operand of its own.
 */
function batchedJet(
  jet: FlatJet,
  ps: NDArray[],
  ins: readonly (readonly (NDArray | null)[] | null)[],
  K: number,
): [NDArray[], ((NDArray | null)[] | null)[]] {
  const n = ps.length;
  const slots: [number, number][] = [];
  const cs: NDArray[] = [];
  ins.forEach((s, i) =>
    s?.forEach((c, k) => {
      if (k === 0 || c === null) return;
      slots.push([i, k]);
      cs.push(c);
    }),
  );
  let nOut = 0;
  const flat = vmapFlat(
    (zs) => {
      const qs = zs.slice(0, n);
      const ss: (NDArray | null)[][] = [];
      slots.forEach(([i, k], j) => {
        const s = (ss[i] ??= [at(qs, i, "customJvp"), ...Array<NDArray | null>(K).fill(null)]);
        s[k] = at(zs, n + j, "customJvp");
      });
      const [o, so] = jet(
        qs,
        qs.map((_, i) => ss[i] ?? null),
        K,
      );
      nOut = o.length;
      // K coefficients per output (zeros for null), to return them as arrays
      return [...o, ...o.flatMap((x, j) => Array.from({ length: K }, (_, k) => so[j]?.[k] ?? zerosOf(x)))];
    },
    [...ps, ...cs],
  );
  const outs = flat.slice(0, nOut);
  return [outs, outs.map((_, j) => flat.slice(nOut + j * K, nOut + (j + 1) * K))];
}

// jvpFull is required: the row's jvp delegates to it
export const CUSTOM_VJP_CALL: Rule<CustomVjpParams> & Required<Pick<Rule<CustomVjpParams>, "jvpFull">> = {
  name: "custom_vjp_call",
  opaque: true,
  printParams: ({ name, checkFwd }) => ({ name, checkFwd }),
  abstractEval: (avals: Aval[], p: CustomVjpParams) => stagedAvals(p.f, avals, "customVjp"),
  impl: (xs: ConcreteArray[], p: CustomVjpParams) => concreteOuts(p.f(xs), "customVjp"),
  // forward pass through the user's fwd; the tangent map is a custom_vjp_lin over the residuals
  jvp(primals: NDArray[], tangents: (NDArray | null)[], _o: NDArray[], p: CustomVjpParams) {
    return CUSTOM_VJP_CALL.jvpFull(primals, tangents, p)[1];
  },
  jvpFull(primals: NDArray[], tangents: (NDArray | null)[], p: CustomVjpParams): [NDArray[], NDArray[]] {
    const [outs, res] = p.fwd(primals);
    if (p.checkFwd) {
      const want = stagedAvals(p.f, primals.map(avalOf), "customVjp");
      const got = outs.map(avalOf);
      const fmt = (as: Aval[]) => as.map((a) => `${a.dtype}${fmtShape(a.shape)}`).join(", ");
      if (
        want.length !== got.length ||
        want.some(
          (w, i) => w.dtype !== at(got, i, "customVjp").dtype || !shapesEqual(w.shape, at(got, i, "customVjp").shape),
        )
      )
        throw new ShapeError(
          `customVjp: fwd's primal output (${fmt(got)}) does not match the function's output (${fmt(want)})`,
        );
    }
    const lin: CustomLinParams = { bwd: p.bwd, nRes: res.length, outAvals: outs.map(avalOf), id: p.id, name: p.name };
    return [outs, bind(CUSTOM_VJP_LIN, [...res, ...orZeros(tangents, primals)], lin)];
  },
  vmap(args: NDArray[], dims: Dim[], p: CustomVjpParams, size: number): BatchResult {
    const xs = args.map((a, i) => batchedFront(a, at(dims, i, "customVjp"), size));
    const vm = vmapFlat;
    const params: CustomVjpParams = {
      f: (ys) => vm(p.f, ys),
      fwd: (ys) => {
        let nOut = 0;
        const both = vm((zs) => {
          const [o, r] = p.fwd(zs);
          nOut = o.length;
          return [...o, ...r];
        }, ys);
        return [both.slice(0, nOut), both.slice(nOut)];
      },
      bwd: (res, cts) => {
        const nr = res.length;
        return vm((zs) => p.bwd(zs.slice(0, nr), zs.slice(nr)), [...res, ...cts]);
      },
      id: p.id,
      name: p.name,
      checkFwd: p.checkFwd,
    };
    const outs = bind(CUSTOM_VJP_CALL, xs, params);
    return [outs, outs.map(() => 0)];
  },
};

/** The forward action t ↦ J t of a custom VJP, obtained by transposing the (linear) backward function. */
export function linForward(p: CustomLinParams, args: NDArray[]): NDArray[] {
  const res = args.slice(0, p.nRes);
  const ts = args.slice(p.nRes);
  const cts0 = p.outAvals.map(zerosOf);
  return vjpFlat((cts) => p.bwd(res, cts), cts0, ts);
}

export const CUSTOM_VJP_LIN: Rule<CustomLinParams> = {
  name: "custom_vjp_lin",
  opaque: true,
  printParams: ({ nRes, name }) => ({ nRes, name }),
  abstractEval: (_avals: Aval[], p: CustomLinParams) => p.outAvals,
  impl: (xs: ConcreteArray[], p: CustomLinParams) => concreteOuts(linForward(p, xs), "customVjp"),
  jvp: (primals: NDArray[], tangents: (NDArray | null)[], _o: NDArray[], p: CustomLinParams) =>
    jvpFlat((xs) => linForward(p, xs), primals, tangents)[1],
  transpose(cts: (NDArray | null)[], args: (NDArray | LinearIn)[], p: CustomLinParams): (NDArray | null)[] {
    const res = args.slice(0, p.nRes) as NDArray[];
    if (res.some((r) => !(r instanceof NDArray))) throw new NablaError("customVjp: residuals must not be linear");
    if (cts.every((c) => c === null)) return args.map(() => null);
    const ctIn = p.bwd(
      res,
      cts.map((c, i) => c ?? zerosOf(at(p.outAvals, i, "customVjp"))),
    );
    return [...res.map(() => null), ...ctIn];
  },
  vmap(args: NDArray[], dims: Dim[], p: CustomLinParams, size: number): BatchResult {
    const xs = args.map((a, i) => batchedFront(a, at(dims, i, "customVjp"), size));
    const outs = vmapFlat((ys) => linForward(p, ys), xs);
    return [outs, outs.map(() => 0)];
  },
};
