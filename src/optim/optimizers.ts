/**
 * The optimisers of `nabla/optim`, each defined by a per-leaf rule and run by
 * one driver that flattens the trees, checks them against the state, keeps
 * the step count and applies the learning rate (optax's
 * `scale_by_learning_rate`: updates are `−lr(count) · direction`).
 */
import { at as elementAt, fmtShape, fmtValue } from "../core/errors.js";
import * as nb from "../index.js";
import type { NDArray } from "../index.js";
import { arrayLeaves, checkBool, checkNumber, countFloat, floatLeaves, matchingLeaves, readOptions } from "./leaves.js";
import type { ArrayTree, GradientTransformation, LearningRate, StateKind, StateOf } from "./types.js";

const INT32_MAX = 2147483647;

/** What a rule sees besides its leaf: the step count before and after this update, and the learning rate. */
interface Step {
  /** The new count (1 on the first update) as a float64 0-d array (float32 for a count on "webgpu"). */
  readonly t: NDArray;
  /** `−lr(count) · u`, in the dtype of `u` (the schedule is evaluated at the old count). */
  scale(u: NDArray): NDArray;
}

/** One optimiser, leaf by leaf. */
interface Rule {
  /** Per-leaf state slots and their initial values (from the parameter leaf). */
  readonly slots: Readonly<Record<string, (p: NDArray) => NDArray>>;
  /** Whether `update` needs the parameters. */
  readonly needsParams?: boolean;
  /** The update of one leaf and its new slot values. */
  step(
    g: NDArray,
    slots: Readonly<Record<string, NDArray>>,
    p: NDArray | undefined,
    at: Step,
  ): [NDArray, Record<string, NDArray>];
}

function checkLearningRate(op: string, lr: unknown): LearningRate {
  if (typeof lr === "function") return lr as LearningRate;
  if (typeof lr === "number" && Number.isFinite(lr)) return lr;
  throw new nb.NablaError(`${op}: learningRate must be a finite number or a schedule function, got ${String(lr)}`);
}

/** The keys of a state object, sorted, for messages ("count, mu, nu"). */
function stateKeys(keys: readonly string[]): string {
  return keys.length === 0 ? "none" : [...keys].sort().join(", ");
}

/**
 * An optimiser's state, checked: a plain object whose keys are exactly `count` (an int32 scalar) and
 * the optimiser's slots, so that another optimiser's state (adam's given to sgd) or one made with
 * other options (rmsprop's centered state given to an uncentered rmsprop) throws rather than being
 * read in part.
 */
function readState(op: string, state: unknown, slots: readonly string[]): Record<string, unknown> & { count: NDArray } {
  const expected = ["count", ...slots];
  const bad = (why: string): never => {
    throw new nb.NablaError(`${op}: state must be the value returned by init or by a previous update; ${why}`);
  };
  if (state === null || typeof state !== "object" || Array.isArray(state) || state instanceof nb.NDArray)
    return bad(`got ${fmtValue(state)}`);
  const s = state as Record<string, unknown>;
  const keys = Object.keys(s);
  if (keys.length !== expected.length || !expected.every((k) => Object.prototype.hasOwnProperty.call(s, k)))
    return bad(`expected the keys ${stateKeys(expected)}, got ${stateKeys(keys)}`);
  const c = s.count;
  if (!(c instanceof nb.NDArray) || c.dtype !== "int32" || c.ndim !== 0)
    return bad(
      `its count must be an int32 scalar, got ${c instanceof nb.NDArray ? `${c.dtype}${fmtShape(c.shape)}` : fmtValue(c)}`,
    );
  return s as Record<string, unknown> & { count: NDArray };
}

/** The transformation that runs `rule` with learning rate `lr`; `name` is the public function's name. */
function optimizer<K extends StateKind>(name: string, lr: LearningRate, rule: Rule): GradientTransformation<K> {
  const slotNames = Object.keys(rule.slots).sort();
  const init = (params: unknown): unknown => {
    const [ps, def] = arrayLeaves(`${name}.init`, "params", params);
    const state: Record<string, unknown> = { count: nb.zeros([], { dtype: "int32" }) };
    for (const k of slotNames) state[k] = nb.tree.unflatten(def, ps.map(elementAt(rule.slots, k, name)));
    return state;
  };
  const update = (updates: unknown, state: unknown, params?: unknown): [unknown, unknown] => {
    const op = `${name}.update`;
    const [gs, def] = floatLeaves(op, "updates", updates);
    const s = readState(op, state, slotNames);
    const slotLeaves = slotNames.map((k) => matchingLeaves(op, `state.${k}`, s[k], def, gs, "updates"));
    let ps: NDArray[] | undefined;
    if (params !== undefined) ps = matchingLeaves(op, "params", params, def, gs, "updates");
    else if (rule.needsParams) throw new nb.NablaError(`${op}: params are required (weight decay uses them)`);
    const count = s.count;
    const next = nb.where(nb.less(count, INT32_MAX), nb.add(count, 1), count);
    const rate = typeof lr === "number" ? null : lr(count);
    const at: Step = {
      t: nb.astype(next, countFloat(next)),
      scale: (u) => (rate === null ? nb.mul(u, -(lr as number)) : nb.mul(u, nb.astype(nb.neg(rate), u.dtype))),
    };
    const out: NDArray[] = [];
    const newSlots: NDArray[][] = slotNames.map(() => []);
    gs.forEach((g, i) => {
      const mine: Record<string, NDArray> = {};
      slotNames.forEach((k, j) => (mine[k] = elementAt(elementAt(slotLeaves, j, name), i, name)));
      const [u, ns] = rule.step(g, mine, ps?.[i], at);
      out.push(nb.astype(u, g.dtype));
      slotNames.forEach((k, j) =>
        elementAt(newSlots, j, name).push(
          nb.astype(elementAt(ns, k, name), elementAt(elementAt(slotLeaves, j, name), i, name).dtype),
        ),
      );
    });
    const newState: Record<string, unknown> = { count: next };
    slotNames.forEach((k, j) => (newState[k] = nb.tree.unflatten(def, elementAt(newSlots, j, name))));
    return [nb.tree.unflatten(def, out), newState];
  };
  return { init, update } as GradientTransformation<K>;
}

const zerosSlot = (p: NDArray): NDArray => nb.zerosLike(p.dtype === "float32" ? p : nb.astype(p, "float64"));
const fullSlot =
  (value: number) =>
  (p: NDArray): NDArray =>
    nb.full(p.shape, value, { dtype: p.dtype === "float32" ? "float32" : "float64" });

/**
 * `1 − b^t`, in the dtype of `like`: as −expm1(t·ln b), which keeps its relative accuracy in float32
 * (the count on "webgpu"), where 1 − b^t would cancel (b = 0.999, t = 1: 1 − fl(0.999) is off by
 * 6e-5 relative). b = 0 gives 1 (t >= 1), b = 1 gives 0, as b^t does.
 */
function biasCorrection(b: number, t: NDArray, like: NDArray): NDArray {
  return nb.astype(nb.neg(nb.expm1(nb.mul(t, Math.log(b)))), like.dtype);
}

/** optax's `trace`: `m' = g + decay·m`; the direction is `m'` or, with Nesterov, `g + decay·m'`. */
function traceStep(g: NDArray, m: NDArray, decay: number, nesterov: boolean): [NDArray, NDArray] {
  const m1 = nb.add(g, nb.mul(m, decay));
  return [nesterov ? nb.add(g, nb.mul(m1, decay)) : m1, m1];
}

// ---------------------------------------------------------------------------
// State types

/**
 * The state of `sgd`: the step count, and the momentum trace when `momentum` is set.
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const s: optim.SgdState<{ w: nb.NDArray }> = optim.sgd(0.1, { momentum: 0.9 }).init({ w: nb.zeros([2]) });
 */
export interface SgdState<P> {
  count: NDArray;
  trace?: ArrayTree<P>;
}
/**
 * The state kind of `sgd`.
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StateOf<optim.SgdKind, { w: number }>;
 */
export interface SgdKind extends StateKind {
  readonly state: SgdState<this["params"]>;
}

/**
 * The state of `adam` and `adamw`: count, first moment `mu`, second moment `nu`.
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const s: optim.AdamState<{ w: nb.NDArray }> = optim.adam(1e-3).init({ w: nb.zeros([2]) });
 */
export interface AdamState<P> {
  count: NDArray;
  mu: ArrayTree<P>;
  nu: ArrayTree<P>;
}
/**
 * The state kind of `adam` and `adamw`.
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StateOf<optim.AdamKind, { w: number }>;
 */
export interface AdamKind extends StateKind {
  readonly state: AdamState<this["params"]>;
}

/**
 * The state of `rmsprop`: count, mean square `nu`, mean `mu` when centered, momentum trace when set.
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const s: optim.RmspropState<{ w: nb.NDArray }> = optim.rmsprop(1e-3).init({ w: nb.zeros([2]) });
 */
export interface RmspropState<P> {
  count: NDArray;
  nu: ArrayTree<P>;
  mu?: ArrayTree<P>;
  trace?: ArrayTree<P>;
}
/**
 * The state kind of `rmsprop`.
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StateOf<optim.RmspropKind, { w: number }>;
 */
export interface RmspropKind extends StateKind {
  readonly state: RmspropState<this["params"]>;
}

/**
 * The state of `adagrad`: count and the running sum of squared gradients.
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const s: optim.AdagradState<{ w: nb.NDArray }> = optim.adagrad(0.1).init({ w: nb.zeros([2]) });
 */
export interface AdagradState<P> {
  count: NDArray;
  sumOfSquares: ArrayTree<P>;
}
/**
 * The state kind of `adagrad`.
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StateOf<optim.AdagradKind, { w: number }>;
 */
export interface AdagradKind extends StateKind {
  readonly state: AdagradState<this["params"]>;
}

// ---------------------------------------------------------------------------
// Optimisers

/**
 * Stochastic gradient descent, optionally with momentum (optax's `sgd`):
 * without momentum `u = −lr·g`; with momentum `m ← g + momentum·m` and
 * `u = −lr·m`, or with `nesterov` `u = −lr·(g + momentum·m)`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const opt = optim.sgd(0.1, { momentum: 0.9, nesterov: true });
 * const params = { w: nb.array([1, -2]) };
 * let state = opt.init(params);
 * const g = nb.grad((p: typeof params) => nb.sum(nb.square(p.w)))(params);
 * const [updates, next] = opt.update(g, state);
 * state = next;
 * optim.applyUpdates(params, updates);
 */
export function sgd(
  learningRate: LearningRate,
  options?: { momentum?: number; nesterov?: boolean },
): GradientTransformation<SgdKind> {
  const op = "sgd";
  const lr = checkLearningRate(op, learningRate);
  const o = readOptions(op, options, ["momentum", "nesterov"]);
  const momentum = o.momentum === undefined ? undefined : checkNumber(op, "momentum", o.momentum, { lo: 0 });
  const nesterov = checkBool(op, "nesterov", o.nesterov) ?? false;
  if (nesterov && momentum === undefined) throw new nb.NablaError(`${op}: nesterov needs a momentum`);
  return optimizer<SgdKind>(op, lr, {
    slots: momentum === undefined ? {} : { trace: zerosSlot },
    step: (g, s, _p, at) => {
      if (momentum === undefined) return [at.scale(g), {}];
      const [d, m] = traceStep(g, elementAt(s, "trace", op), momentum, nesterov);
      return [at.scale(d), { trace: m }];
    },
  });
}

/**
 * Options of `adam` and `adamw` (optax's defaults: b1 0.9, b2 0.999, eps 1e-8, epsRoot 0).
 * @example
 * import * as optim from "nabla/optim";
 * const o: optim.AdamOptions = { b1: 0.8, eps: 1e-6 };
 * optim.adam(1e-3, o);
 */
export interface AdamOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  /** Added to the second moment inside the square root (default 0). */
  epsRoot?: number;
}

const ADAM_KEYS = ["b1", "b2", "eps", "epsRoot"] as const;

function adamRule(op: string, o: Partial<AdamOptions>, weightDecay: number | null): Rule {
  const b1 = checkNumber(op, "b1", o.b1 ?? 0.9, { lo: 0, hi: 1 });
  const b2 = checkNumber(op, "b2", o.b2 ?? 0.999, { lo: 0, hi: 1 });
  const eps = checkNumber(op, "eps", o.eps ?? 1e-8, { lo: 0 });
  const epsRoot = checkNumber(op, "epsRoot", o.epsRoot ?? 0, { lo: 0 });
  return {
    slots: { mu: zerosSlot, nu: zerosSlot },
    needsParams: weightDecay !== null,
    step: (g, s, p, at) => {
      const mu = nb.add(nb.mul(elementAt(s, "mu", op), b1), nb.mul(g, 1 - b1));
      const nu = nb.add(nb.mul(elementAt(s, "nu", op), b2), nb.mul(nb.square(g), 1 - b2));
      const muHat = nb.div(mu, biasCorrection(b1, at.t, g));
      const nuHat = nb.div(nu, biasCorrection(b2, at.t, g));
      let d = nb.div(muHat, nb.add(nb.sqrt(nb.add(nuHat, epsRoot)), eps));
      if (weightDecay !== null) {
        if (p === undefined) throw new nb.NablaError(`${op}: internal: weight decay without the parameters`);
        d = nb.add(d, nb.mul(nb.astype(p, g.dtype), weightDecay));
      }
      return [at.scale(d), { mu, nu }];
    },
  };
}

/**
 * Adam (Kingma & Ba 2015) with optax's bias correction:
 * `m ← b1·m + (1−b1)·g`, `v ← b2·v + (1−b2)·g²`, `m̂ = m/(1−b1^t)`,
 * `v̂ = v/(1−b2^t)` with `t` the step number from 1, and
 * `u = −lr · m̂ / (√(v̂ + epsRoot) + eps)`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const opt = optim.adam(1e-2);
 * let params = { w: nb.array([1, -2]), b: nb.array(0.5) };
 * let state = opt.init(params);
 * const loss = (p: typeof params) => nb.add(nb.sum(nb.square(p.w)), nb.square(p.b));
 * const step = nb.jit((p: typeof params, s: typeof state) => {
 *   const [u, s2] = opt.update(nb.grad(loss)(p), s);
 *   return [optim.applyUpdates(p, u), s2] as const;
 * });
 * [params, state] = step(params, state);
 */
export function adam(learningRate: LearningRate, options?: AdamOptions): GradientTransformation<AdamKind> {
  const lr = checkLearningRate("adam", learningRate);
  return optimizer<AdamKind>("adam", lr, adamRule("adam", readOptions("adam", options, ADAM_KEYS), null));
}

/**
 * AdamW (Loshchilov & Hutter 2019) as optax defines it: Adam's direction
 * plus decoupled weight decay, both scaled by the learning rate:
 * `u = −lr · (m̂ / (√(v̂ + epsRoot) + eps) + weightDecay · p)`.
 * `update` needs the parameters.
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const opt = optim.adamw(1e-2, { weightDecay: 1e-2 });
 * const params = [nb.array([1, 2])];
 * const state = opt.init(params);
 * const [updates] = opt.update([nb.array([0.5, -0.5])], state, params);
 * optim.applyUpdates(params, updates);
 */
export function adamw(
  learningRate: LearningRate,
  options?: AdamOptions & { weightDecay?: number },
): GradientTransformation<AdamKind> {
  const op = "adamw";
  const lr = checkLearningRate(op, learningRate);
  const o = readOptions(op, options, [...ADAM_KEYS, "weightDecay"]);
  const wd = checkNumber(op, "weightDecay", o.weightDecay ?? 1e-4);
  return optimizer<AdamKind>(op, lr, adamRule(op, o, wd));
}

/**
 * RMSprop (Tieleman & Hinton 2012) as optax's `rmsprop`:
 * `ν ← decay·ν + (1−decay)·g²` (ν starts at `initialScale`, default 0),
 * direction `g / √(ν + eps)`; `centered` subtracts the square of the running
 * mean `μ ← decay·μ + (1−decay)·g` inside the root. The direction is scaled
 * by `−lr`, then (with `momentum`) passed through optax's `trace`.
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const opt = optim.rmsprop(1e-2, { decay: 0.9, momentum: 0.5 });
 * const params = { w: nb.array([1, 2]) };
 * const [updates] = opt.update({ w: nb.array([1, -1]) }, opt.init(params));
 * optim.applyUpdates(params, updates);
 */
export function rmsprop(
  learningRate: LearningRate,
  options?: {
    decay?: number;
    eps?: number;
    initialScale?: number;
    centered?: boolean;
    momentum?: number;
    nesterov?: boolean;
  },
): GradientTransformation<RmspropKind> {
  const op = "rmsprop";
  const lr = checkLearningRate(op, learningRate);
  const o = readOptions(op, options, ["decay", "eps", "initialScale", "centered", "momentum", "nesterov"]);
  const decay = checkNumber(op, "decay", o.decay ?? 0.9, { lo: 0, hi: 1 });
  const eps = checkNumber(op, "eps", o.eps ?? 1e-8, { lo: 0 });
  const initialScale = checkNumber(op, "initialScale", o.initialScale ?? 0, { lo: 0 });
  const centered = checkBool(op, "centered", o.centered) ?? false;
  const momentum = o.momentum === undefined ? undefined : checkNumber(op, "momentum", o.momentum, { lo: 0 });
  const nesterov = checkBool(op, "nesterov", o.nesterov) ?? false;
  if (nesterov && momentum === undefined) throw new nb.NablaError(`${op}: nesterov needs a momentum`);
  const slots: Record<string, (p: NDArray) => NDArray> = { nu: fullSlot(initialScale) };
  if (centered) slots.mu = zerosSlot;
  if (momentum !== undefined) slots.trace = zerosSlot;
  return optimizer<RmspropKind>(op, lr, {
    slots,
    step: (g, s, _p, at) => {
      const next: Record<string, NDArray> = {};
      const nu = (next.nu = nb.add(nb.mul(elementAt(s, "nu", op), decay), nb.mul(nb.square(g), 1 - decay)));
      let ms = nu;
      if (centered) {
        const mu = (next.mu = nb.add(nb.mul(elementAt(s, "mu", op), decay), nb.mul(g, 1 - decay)));
        ms = nb.sub(nu, nb.square(mu));
      }
      let u = at.scale(nb.div(g, nb.sqrt(nb.add(ms, eps))));
      if (momentum !== undefined) [u, next.trace] = traceStep(u, elementAt(s, "trace", op), momentum, nesterov);
      return [u, next];
    },
  });
}

/**
 * Adagrad (Duchi, Hazan & Singer 2011) as optax's `adagrad`: `s ← s + g²`
 * (starting at `initialAccumulatorValue`, default 0.1) and
 * `u = −lr · g / √(s + eps)` (0 where `s` is 0).
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const opt = optim.adagrad(0.1);
 * const params = nb.array([1, 2]);
 * const [updates] = opt.update(nb.array([0.3, -0.4]), opt.init(params));
 * optim.applyUpdates(params, updates);
 */
export function adagrad(
  learningRate: LearningRate,
  options?: { initialAccumulatorValue?: number; eps?: number },
): GradientTransformation<AdagradKind> {
  const op = "adagrad";
  const lr = checkLearningRate(op, learningRate);
  const o = readOptions(op, options, ["initialAccumulatorValue", "eps"]);
  const init = checkNumber(op, "initialAccumulatorValue", o.initialAccumulatorValue ?? 0.1, { lo: 0 });
  const eps = checkNumber(op, "eps", o.eps ?? 1e-7, { lo: 0 });
  return optimizer<AdagradKind>(op, lr, {
    slots: { sumOfSquares: fullSlot(init) },
    step: (g, s, _p, at) => {
      const sum = nb.add(elementAt(s, "sumOfSquares", op), nb.square(g));
      const inv = nb.where(nb.greater(sum, 0), nb.reciprocal(nb.sqrt(nb.add(sum, eps))), 0);
      return [at.scale(nb.mul(g, inv)), { sumOfSquares: sum }];
    },
  });
}

// ---------------------------------------------------------------------------
// Combinators

/**
 * The state kind of `clipByGlobalNorm` (no state: an empty object).
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StateOf<optim.EmptyKind, { w: number }>; // {}
 */
export interface EmptyKind extends StateKind {
  readonly state: Record<string, never>;
}

/**
 * Rescales the updates so that their global L2 norm (over all leaves) is at
 * most `maxNorm`: `u · maxNorm / ‖u‖` when `‖u‖ ≥ maxNorm`, else `u`
 * unchanged (optax's `clip_by_global_norm`).
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const clip = optim.clipByGlobalNorm(1);
 * const [u] = clip.update({ a: nb.array([3]), b: nb.array([4]) }, clip.init({}));
 * u.a.item(); // 0.6
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyKind> {
  const op = "clipByGlobalNorm";
  checkNumber(op, "maxNorm", maxNorm, { lo: 0, openLo: true });
  const init = (): Record<string, never> => ({});
  const update = (updates: unknown, state: unknown): [unknown, unknown] => {
    const [gs, def] = floatLeaves(`${op}.update`, "updates", updates);
    // as the optimisers' states (readState): exactly the keys init gives, here none
    if (state === null || typeof state !== "object" || Array.isArray(state) || Object.keys(state).length !== 0)
      throw new nb.NablaError(
        `${op}.update: state must be the value returned by init (an empty object), got ${
          state === null || typeof state !== "object" || Array.isArray(state)
            ? fmtValue(state)
            : `an object with the keys ${stateKeys(Object.keys(state))}`
        }`,
      );
    const dt = countFloat(...gs);
    const norm = nb.sqrt(
      gs.reduce<NDArray>((acc, g) => nb.add(acc, nb.astype(nb.sum(nb.square(g)), dt)), nb.zeros([], { dtype: dt })),
    );
    const keep = nb.less(norm, maxNorm);
    const out = gs.map((g) => nb.where(keep, g, nb.mul(g, nb.astype(nb.div(maxNorm, norm), g.dtype))));
    return [nb.tree.unflatten(def, out), {}];
  };
  return { init, update } as GradientTransformation<EmptyKind>;
}

/**
 * The state kind of `chain(...)`: the tuple of its parts' states.
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StateOf<optim.ChainKind<[optim.EmptyKind, optim.AdamKind]>, { w: number }>;
 */
export interface ChainKind<Ks extends readonly StateKind[]> extends StateKind {
  readonly state: StatesOf<Ks, this["params"]>;
}

/**
 * The tuple of states of transformations of kinds `Ks` for parameters `P`.
 * @example
 * import type * as optim from "nabla/optim";
 * type S = optim.StatesOf<[optim.EmptyKind, optim.SgdKind], { w: number }>;
 */
export type StatesOf<Ks extends readonly StateKind[], P> = {
  -readonly [I in keyof Ks]: Ks[I] extends StateKind ? StateOf<Ks[I], P> : never;
};

/**
 * Applies transformations in sequence (optax's `chain`); the state is the
 * array of their states.
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * const opt = optim.chain(optim.clipByGlobalNorm(1), optim.adam(1e-3));
 * const params = { w: nb.array([1, 2]) };
 * const [updates, state] = opt.update({ w: nb.array([30, 40]) }, opt.init(params));
 * optim.applyUpdates(params, updates);
 */
export function chain<Ks extends readonly StateKind[]>(
  ...transforms: { [I in keyof Ks]: GradientTransformation<Ks[I]> }
): GradientTransformation<ChainKind<Ks>> {
  transforms.forEach((t, i) => {
    const g = t as unknown as Partial<GradientTransformation>;
    if (g === null || typeof g !== "object" || typeof g.init !== "function" || typeof g.update !== "function")
      throw new nb.NablaError(`chain: argument ${i} is not a gradient transformation ({ init, update })`);
  });
  const ts = transforms as unknown as readonly GradientTransformation[];
  const init = (params: unknown): unknown[] => ts.map((t) => t.init(params));
  const update = (updates: unknown, state: unknown, params?: unknown): [unknown, unknown[]] => {
    if (!Array.isArray(state) || state.length !== ts.length)
      throw new nb.NablaError(`chain.update: state must be the array of ${ts.length} states returned by init`);
    let u = updates;
    const states = ts.map((t, i) => {
      const [u2, s2] = t.update(u, state[i], params);
      u = u2;
      return s2;
    });
    return [u, states];
  };
  return { init, update } as unknown as GradientTransformation<ChainKind<Ks>>;
}

/**
 * `params + updates`, leaf by leaf, each result in its parameter's dtype
 * (optax's `apply_updates`).
 *
 * @example
 * import * as nb from "nabla";
 * import * as optim from "nabla/optim";
 * optim.applyUpdates({ w: nb.array([1, 2]) }, { w: nb.array([0.5, 0.5]) }).w.toArray(); // [1.5, 2.5]
 */
export function applyUpdates<P>(params: P, updates: NoInfer<ArrayTree<P>>): ArrayTree<P> {
  const op = "applyUpdates";
  const [ps, def] = arrayLeaves(op, "params", params);
  const us = matchingLeaves(op, "updates", updates, def, ps, "params");
  const out = ps.map((p, i) => nb.astype(nb.add(p, elementAt(us, i, "applyUpdates")), p.dtype));
  return nb.tree.unflatten(def, out) as ArrayTree<P>;
}
