/**
 * What a graph file may say about each first-order primitive: how many
 * operands it takes and the JSON type of each parameter. `importGraph`
 * checks parameters against this table before it runs a primitive's shape
 * rule, so a tampered file cannot hand a shape rule a value of the wrong
 * type (the shape rules check ranges, not types). The table is typed against
 * the primitive table's `Params`, so a new primitive without an entry here
 * fails to compile.
 */
import { NablaError } from "../core/errors.js";
import { isDType } from "../core/dtype.js";
import type { Params, Prim } from "../prims/table.js";

/** The JSON type of one parameter. */
/** `axes`: distinct non-negative integers (axes and permutations). */
export type ParamKind = "nat" | "nats" | "axes" | "bool" | "dtype";

/** A primitive's operand count (`"many"`: one or more) and parameter kinds. */
export interface PrimSpec<P> {
  readonly arity: number | "many";
  readonly params: { readonly [K in keyof P]-?: ParamKind };
}

const U = { arity: 1, params: {} } as const;
const B = { arity: 2, params: {} } as const;
const AXES = { arity: 1, params: { axes: "axes" } } as const;
const AXIS = { arity: 1, params: { axis: "nat" } } as const;

/** Every first-order primitive's operand count and parameter kinds. */
export const PRIM_SPECS = {
  neg: U,
  exp: U,
  log: U,
  log1p: U,
  expm1: U,
  sin: U,
  cos: U,
  tan: U,
  tanh: U,
  sinh: U,
  cosh: U,
  asin: U,
  acos: U,
  atan: U,
  sqrt: U,
  abs: U,
  sign: U,
  floor: U,
  ceil: U,
  round: U,
  erf: U,
  logistic: U,
  softplus: U,
  stop_gradient: U,
  not: U,
  add: B,
  sub: B,
  mul: B,
  div: B,
  pow: B,
  max: B,
  min: B,
  atan2: B,
  eq: B,
  ne: B,
  lt: B,
  le: B,
  gt: B,
  ge: B,
  and: B,
  or: B,
  select: { arity: 3, params: {} },
  convert: { arity: 1, params: { dtype: "dtype" } },
  reduce_sum: AXES,
  reduce_max: AXES,
  reduce_min: AXES,
  argmax: AXIS,
  argmin: AXIS,
  reshape: { arity: 1, params: { shape: "nats" } },
  broadcast: { arity: 1, params: { shape: "nats" } },
  transpose: { arity: 1, params: { perm: "axes" } },
  slice: { arity: 1, params: { begin: "nats", end: "nats" } },
  pad: { arity: 1, params: { lo: "nats", hi: "nats" } },
  concatenate: { arity: "many", params: { axis: "nat" } },
  matmul: B,
  gather: { arity: 2, params: { axis: "nat" } },
  scatter_add: { arity: 2, params: { axis: "nat", size: "nat" } },
  cumsum: { arity: 1, params: { axis: "nat", reverse: "bool" } },
  rev: AXES,
  argsort: { arity: 1, params: { axis: "nat", descending: "bool" } },
  solve: B,
  triangular_solve: { arity: 2, params: { lower: "bool", transposeA: "bool" } },
  slogdet: U,
  det: U,
  cofactor: U,
  cholesky: U,
  qr: U,
  eigh: U,
  // opsC: linear algebra
  svd: { arity: 1, params: { fullMatrices: "bool" } },
  lu: U,
  expm: U,
  expm_frechet: B,
  random_bits: { arity: 1, params: { shape: "nats" } },
  random_uniform: { arity: 1, params: { shape: "nats", dtype: "dtype" } },
  // special functions (issue 9, opsA)
  lgamma: U,
  digamma: U,
  polygamma: B,
  erfc: U,
  erfinv: U,
  xlogy: B,
  xlog1py: B,
} satisfies { [P in Prim]: PrimSpec<Params[P]> };

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const isNat = (v: unknown): v is number => isInt(v) && v >= 0;

function matches(kind: ParamKind, v: unknown): boolean {
  switch (kind) {
    case "nat":
      return isNat(v);
    case "axes":
      return Array.isArray(v) && v.every(isNat) && new Set(v).size === v.length;
    case "nats":
      return Array.isArray(v) && v.every(isNat);
    case "bool":
      return typeof v === "boolean";
    case "dtype":
      return isDType(v);
  }
}

/**
 * Checks a primitive's parameters and operand count against its spec and
 * returns a fresh copy of the parameters (arrays copied), or throws a
 * NablaError beginning with `where`.
 */
export function checkParams(
  where: string,
  prim: string,
  spec: PrimSpec<unknown>,
  params: unknown,
  nIn: number,
): object {
  if (spec.arity === "many" ? nIn < 1 : nIn !== spec.arity)
    throw new NablaError(
      `${where}: ${prim} takes ${spec.arity === "many" ? "one or more" : spec.arity} operand(s), the file gives ${nIn}`,
    );
  if (params === null || typeof params !== "object" || Array.isArray(params))
    throw new NablaError(`${where}: the parameters of ${prim} must be an object`);
  const kinds = spec.params as Record<string, ParamKind>;
  const given = params as Record<string, unknown>;
  for (const k of Object.keys(given))
    if (!Object.hasOwn(kinds, k)) throw new NablaError(`${where}: ${prim} has no parameter ${JSON.stringify(k)}`);
  const out: Record<string, unknown> = {};
  for (const [k, kind] of Object.entries(kinds)) {
    const v = given[k];
    if (!Object.hasOwn(given, k) || !matches(kind, v))
      throw new NablaError(`${where}: parameter ${k} of ${prim} must be of kind ${kind}, got ${JSON.stringify(v)}`);
    out[k] = Array.isArray(v) ? v.slice() : v;
  }
  return out;
}
