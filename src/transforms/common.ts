/** Argument handling shared by the transforms. */
import { zeroList } from "../core/lists.js";
import { DTypeError, GradError, NablaError, ShapeError, fmtShape, at } from "../core/errors.js";
import { isFloat } from "../core/dtype.js";
import { ConcreteArray, NDArray } from "../core/ndarray.js";
import { array, zeros } from "../ops/creation.js";
import { runtimeOf } from "../core/device.js";
import { asArray } from "../ops/operand.js";
import { TreeDef, describe, flattenAs, rejectThenable, unflatten } from "../core/pytree.js";
import { shapesEqual } from "../core/shape.js";
import { readOptions } from "../core/options.js";

/** A pytree leaf as an NDArray: JS numbers become weakly typed 0-d float64 arrays. */
export function toLeaf(x: unknown, op: string): NDArray {
  if (x instanceof NDArray) {
    // a tracer whose transform has returned cannot be an argument or a result of another transform
    x.assertLive(op);
    return x;
  }
  // bare JS numbers are weakly typed under every transform, as in eager code (API.md, Semantics settled)
  if (typeof x === "number") return asArray(x);
  if (typeof x === "boolean") return array(x);
  if (x instanceof Float64Array || x instanceof Float32Array || x instanceof Int32Array) return array(x);
  throw new DTypeError(
    `${op}: unsupported leaf (${describe(x)}); leaves are arrays, numbers and Float64/Float32/Int32 arrays`,
  );
}

/**
 * Zeros of `like`'s shape and dtype where `like` lives (a symbolic zero a transform returns): on the
 * CPU, or placed (uncommitted) on the device of a concrete device array.
 */
export function zerosAt(like: NDArray): NDArray {
  const z = zeros(like.shape, { dtype: like.dtype });
  if (!(like instanceof ConcreteArray) || like.device === "cpu" || !(z instanceof ConcreteArray)) return z;
  return runtimeOf(like.device)?.place(z, "zeros") ?? z;
}

/** Flattens a pytree of arrays; `what` names the tree in messages ("the arguments", "the output"). */
export function flattenToArrays(tree: unknown, op: string, what?: string): [NDArray[], TreeDef] {
  const [ls, def] = flattenAs(tree, op, what);
  const out = new Array<NDArray>(ls.length);
  for (let i = 0; i < ls.length; i++) out[i] = toLeaf(ls[i], op);
  return [out, def];
}

export function requireFloat(op: string, xs: readonly NDArray[], what = "input"): void {
  // a loop, not forEach with a closure: on every call of a grad (issue 8)
  for (let i = 0; i < xs.length; i++) {
    const x = at(xs, i, op);
    if (!isFloat(x.dtype))
      throw new DTypeError(
        `${op}: can only differentiate with respect to float arrays, but ${what} leaf ${i} has dtype ${x.dtype} (shape ${fmtShape(x.shape)})`,
      );
  }
}

/** Checks that `ts` matches `ps` leaf for leaf in shape, converting number leaves to the primal dtype. */
export function matchLeaves(op: string, what: string, ps: readonly NDArray[], ts: readonly unknown[]): NDArray[] {
  if (ts.length !== ps.length) throw new ShapeError(`${op}: expected ${ps.length} ${what} leaves, got ${ts.length}`);
  return ts.map((t, i) => {
    const p = at(ps, i, "matchLeaves");
    let a = toLeaf(t, op);
    if (!shapesEqual(a.shape, p.shape))
      throw new ShapeError(`${op}: ${what} leaf ${i} has shape ${fmtShape(a.shape)}, expected ${fmtShape(p.shape)}`);
    if (a.dtype !== p.dtype) {
      // only a bare JS number takes the primal's dtype; an int32 or bool array is never silently converted
      if (typeof t === "number") a = a.astype(p.dtype);
      else
        throw new DTypeError(
          `${op}: ${what} leaf ${i} has dtype ${a.dtype}, expected ${p.dtype} (shape ${fmtShape(p.shape)})`,
        );
    }
    return a;
  });
}

export function checkStructure(op: string, what: string, expected: TreeDef, got: TreeDef): void {
  if (!expected.equals(got)) throw new ShapeError(`${op}: ${what} has structure ${got}, expected ${expected}`);
}

/** Normalises argnums against the number of arguments. */
export function normArgnums(op: string, argnums: number | readonly number[] | undefined, nargs: number): number[] {
  // the default (every call of a grad without argnums): no list to map
  // (a builtin's copy, not a literal: see ../core/lists.ts)
  if (argnums === undefined && nargs > 0) return zeroList();
  const list = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : argnums.slice();
  if (list.length === 0) throw new GradError(`${op}: argnums must not be empty`);
  const out = list.map((k) => {
    if (!Number.isInteger(k) || k < -nargs || k >= nargs)
      throw new GradError(`${op}: argnums ${String(k)} is out of range for a call with ${nargs} argument(s)`);
    return k < 0 ? k + nargs : k;
  });
  // one argnum cannot repeat: no Set to build (the common case, on every call of a grad)
  if (out.length > 1 && new Set(out).size !== out.length)
    throw new GradError(`${op}: argnums [${list.join(", ")}] names an argument twice (for ${nargs} argument(s))`);
  return out;
}

export { unflatten };

// ---------------------------------------------------------------------------
// Checks at the entry of each transform: functions, options (read once, when
// the transform is created) and what the user's functions return.

function isAsyncFunction(f: Function): boolean {
  const tag = Object.prototype.toString.call(f);
  return tag === "[object AsyncFunction]" || tag === "[object AsyncGeneratorFunction]";
}

/**
 * Checks that `f` is a (synchronous) function and returns it wrapped so that
 * what it returns is checked on every call: a Promise throws NablaError at
 * once (and is marked handled, so no unhandled rejection is left behind),
 * and so does `undefined` (a forgotten `return`) unless `check` decides
 * otherwise. `what` names the argument in messages ("f", "rule", "bodyFn").
 */
export function fnArg<F extends (...args: never[]) => unknown>(
  op: string,
  f: F,
  what = "f",
  check: (result: unknown) => void = (r) => {
    if (r === undefined)
      throw new NablaError(`${op}: ${what} returned undefined (a missing return?); expected a pytree of arrays`);
  },
): F {
  const named = what === "f" ? "" : ` for ${what}`;
  if (typeof f !== "function") throw new NablaError(`${op}: expected a function${named}, got ${describe(f)}`);
  if (isAsyncFunction(f))
    throw new NablaError(`${op}: ${what} is an async function; transforms need synchronous functions`);
  if (/^class\b/.test(Function.prototype.toString.call(f)))
    throw new NablaError(
      `${op}: expected a function${named}, got class ${f.name || "(anonymous)"} (call it with new inside a function)`,
    );
  const guarded = function (this: unknown, ...args: unknown[]): unknown {
    const r = f.apply(this, args as never[]);
    rejectThenable(r, op, `the result of ${what}`);
    check(r);
    return r;
  };
  Object.defineProperty(guarded, "name", { value: f.name });
  return guarded as unknown as F;
}

// the one options validator (core/options.ts), for the transforms that import it from here
export { readOptions };

function isIntegerList(x: unknown): x is readonly number[] {
  return Array.isArray(x) && x.every((k) => Number.isInteger(k));
}

/** `argnums` as given (a number or a list), validated and copied; range is checked per call by {@link normArgnums}. */
export function argnumsOption<O extends { argnums?: number | readonly number[] }>(
  op: string,
  options: O | undefined,
  keys: readonly string[] = ["argnums"],
): O {
  const o = readOptions(op, options, keys);
  const a: unknown = o.argnums;
  if (a === undefined || Number.isInteger(a)) return o;
  if (!isIntegerList(a))
    throw new GradError(`${op}: argnums must be an integer or an array of integers, got ${describe(a)}`);
  if (a.length === 0) throw new GradError(`${op}: argnums must not be empty`);
  if (new Set(a).size !== a.length) throw new GradError(`${op}: argnums [${a.join(", ")}] names an argument twice`);
  return Object.freeze({ ...o, argnums: Object.freeze(a.slice()) });
}

/**
 * grad's and valueAndGrad's options, read once, and `f` wrapped so that an
 * output that has left the graph (a JS number, e.g. after `.item()`) or is
 * missing (`undefined`: a forgotten `return`) throws GradError.
 */
export function gradArgs<
  F extends (...args: never[]) => unknown,
  O extends { argnums?: number | readonly number[]; hasAux?: boolean },
>(op: string, f: F, options: O | undefined): [F, O] {
  const o = argnumsOption(op, options, ["argnums", "hasAux"]);
  const hasAux = Boolean(o.hasAux);
  const where = hasAux ? "the output of f (the first element of [output, aux])" : "the result of f";
  const g = fnArg(op, f, "f", (r) => {
    const out: unknown = hasAux && Array.isArray(r) && r.length === 2 ? r[0] : r;
    if (typeof out === "number" || typeof out === "boolean")
      throw new GradError(
        `${op}: ${where} is a JS ${typeof out} (${String(out)}), not an array: the value has left the graph ` +
          `(e.g. through item() or valueOf()), so it has no gradient; return the NDArray instead`,
      );
    if (out === undefined)
      throw new GradError(`${op}: ${where} is undefined (a missing return?); expected a scalar float array`);
  });
  return [g, o];
}

/** Throws unless every entry is an integer or null (vmap's inAxes). */
function checkAxisEntry(op: string, name: string, a: unknown, nullable: boolean): void {
  if (Number.isInteger(a) || (nullable && a === null)) return;
  throw new ShapeError(`${op}: ${name} entries must be integers${nullable ? " or null" : ""}, got ${describe(a)}`);
}

/** vmap's inAxes/outAxes, validated (integers, or null for unmapped inputs) and copied. */
export function vmapOptions<O extends { inAxes?: unknown; outAxes?: unknown }>(op: string, options: O | undefined): O {
  const o = readOptions(op, options, ["inAxes", "outAxes"]);
  const copy: Record<string, unknown> = { ...o };
  const specs: [string, boolean][] = [
    ["inAxes", true],
    ["outAxes", false],
  ];
  for (const [name, nullable] of specs) {
    const v: unknown = (o as Record<string, unknown>)[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      // by index, not forEach: a hole ([, 0]) is an entry too, and not an axis
      for (let i = 0; i < v.length; i++) checkAxisEntry(op, name, v[i], nullable);
      copy[name] = Object.freeze(v.slice());
    } else checkAxisEntry(op, name, v, nullable);
  }
  return Object.freeze(copy) as O;
}

/** jit's staticArgnums, validated (non-negative integers, no repeats) and copied. */
export function jitOptions<O extends { staticArgnums?: readonly number[] }>(op: string, options: O | undefined): O {
  const o = readOptions(op, options, ["staticArgnums", "cacheSize", "optimize", "device"]);
  const s: unknown = o.staticArgnums;
  if (s === undefined) return o;
  if (!isIntegerList(s) || s.some((k) => k < 0))
    throw new NablaError(`${op}: staticArgnums must be an array of non-negative integers, got ${describe(s)}`);
  if (new Set(s).size !== s.length) throw new NablaError(`${op}: staticArgnums [${s.join(", ")}] repeats an index`);
  return Object.freeze({ ...o, staticArgnums: Object.freeze(s.slice()) });
}

/** Per call: every static argument index must name an argument. */
export function checkStaticArgnums(op: string, staticArgnums: readonly number[] | undefined, nargs: number): void {
  for (const k of staticArgnums ?? [])
    if (k >= nargs)
      throw new NablaError(`${op}: staticArgnums ${k} is out of range for a call with ${nargs} argument(s)`);
}

/** Throws unless `x` is a JS array (e.g. jvp's list of primals). */
export function listArg(op: string, name: string, x: unknown): void {
  if (!Array.isArray(x))
    throw new ShapeError(`${op}: ${name} must be an array (one entry per argument), got ${describe(x)}`);
}

/** scan's options, read once: `length` a non-negative safe integer, `reverse` a boolean. */
export function scanOptions<O extends { length?: number; reverse?: boolean }>(op: string, options: O | undefined): O {
  const o = readOptions(op, options, ["length", "reverse"]);
  const n: unknown = o.length;
  if (n !== undefined && !(Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 2 ** 31 - 1))
    throw new ShapeError(`${op}: length must be an integer in [0, 2^31 - 1], got ${describe(n)}`);
  if (o.reverse !== undefined && typeof o.reverse !== "boolean")
    throw new NablaError(`${op}: reverse must be a boolean, got ${describe(o.reverse)}`);
  return o;
}
