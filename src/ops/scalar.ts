/**
 * The scalar functions behind the elementwise primitives. The kernels and the
 * fused loops that `jit` generates both use these, so the two agree to the bit.
 */
import { erf } from "../core/kernels.js";

function logistic(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}
function softplus(v: number): number {
  return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
}
/** Round half to even, as NumPy. */
function round(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export const UNARY = {
  neg: (v: number) => -v,
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  expm1: Math.expm1,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  tanh: Math.tanh,
  sinh: Math.sinh,
  cosh: Math.cosh,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  sqrt: Math.sqrt,
  erf,
  logistic,
  softplus,
  abs: Math.abs,
  sign: (v: number) => (v > 0 ? 1 : v < 0 ? -1 : v),
  floor: Math.floor,
  ceil: Math.ceil,
  round,
  not: (v: number) => (v ? 0 : 1),
  stop_gradient: (v: number) => v,
} satisfies Record<string, (v: number) => number>;

export const BINARY = {
  add: (x: number, y: number) => x + y,
  sub: (x: number, y: number) => x - y,
  mul: (x: number, y: number) => x * y,
  div: (x: number, y: number) => x / y,
  pow: Math.pow,
  max: (x: number, y: number) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)),
  min: (x: number, y: number) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)),
  atan2: Math.atan2,
  eq: (x: number, y: number) => (x === y ? 1 : 0),
  ne: (x: number, y: number) => (x !== y ? 1 : 0),
  lt: (x: number, y: number) => (x < y ? 1 : 0),
  le: (x: number, y: number) => (x <= y ? 1 : 0),
  gt: (x: number, y: number) => (x > y ? 1 : 0),
  ge: (x: number, y: number) => (x >= y ? 1 : 0),
  and: (x: number, y: number) => x & y,
  or: (x: number, y: number) => x | y,
} satisfies Record<string, (x: number, y: number) => number>;

export type UnaryName = keyof typeof UNARY;
export type BinaryName = keyof typeof BINARY;
