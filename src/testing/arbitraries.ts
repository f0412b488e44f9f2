/** fast-check arbitraries for shapes, arrays in a domain, broadcast-compatible shapes and SPD matrices. */
import { at, fmtValue } from "../core/errors.js";
import { readOptions } from "../core/options.js";
import { MAX_NDIM, dtypeArg, intArg, numberArg, shapeArg } from "../ops/validate.js";
import fc from "fast-check";
import * as nb from "../index.js";

type NDArray = nb.NDArray;
type DType = nb.DType;
type Shape = readonly number[];

// ---------------------------------------------------------------------------
// arbitraries

/**
 * Options of {@link arbShape}.
 * @example
 * arbShape({ minRank: 1, maxRank: 2, maxDim: 3 } satisfies ShapeOptions);
 */
export interface ShapeOptions {
  /** Fewest axes (default 0). */
  minRank?: number;
  /** Most axes (default 3). */
  maxRank?: number;
  /** Smallest axis length (default 1). */
  minDim?: number;
  /** Largest axis length (default 4). */
  maxDim?: number;
}

// ---------------------------------------------------------------------------
// option checks: every arbitrary reads its options here, so a typo (`maxrank`), a wrong type or an
// empty range throws a NablaError naming the function called when the arbitrary is built, not a
// TypeError or a fast-check error when it is sampled

const MAX_INT = 2 ** 31 - 1;

/** An integer option in [min, max] (undefined: `dflt`). */
function intOpt(fn: string, name: string, v: unknown, dflt: number, min: number, max = MAX_INT): number {
  return v === undefined ? dflt : intArg(fn, name, v, { min, max }, nb.NablaError);
}

/** A finite number option (undefined stays undefined). */
function numOpt(fn: string, name: string, v: unknown): number | undefined {
  return v === undefined ? undefined : numberArg(fn, name, v, true);
}

/** Throws unless lo <= hi; says which bound was a default. */
function ordered(fn: string, lo: [string, number, unknown], hi: [string, number, unknown]): void {
  const show = ([name, v, given]: [string, number, unknown]) =>
    `${name} ${v}${given === undefined ? " (the default)" : ""}`;
  if (lo[1] > hi[1]) throw new nb.NablaError(`${fn}: ${show(lo)} > ${show(hi)}: the range is empty`);
}

const SHAPE_KEYS = ["minRank", "maxRank", "minDim", "maxDim"] as const;

/** {@link ShapeOptions} read and checked (`prefix` names where they sit, e.g. "shape." in arbArray). */
function shapeOptions(fn: string, opts: unknown, prefix = ""): Required<ShapeOptions> {
  const o = readOptions(fn, opts as ShapeOptions | undefined, SHAPE_KEYS);
  const minRank = intOpt(fn, `${prefix}minRank`, o.minRank, 0, 0, MAX_NDIM);
  const maxRank = intOpt(fn, `${prefix}maxRank`, o.maxRank, 3, 0, MAX_NDIM);
  const minDim = intOpt(fn, `${prefix}minDim`, o.minDim, 1, 0);
  const maxDim = intOpt(fn, `${prefix}maxDim`, o.maxDim, 4, 0);
  ordered(fn, [`${prefix}minRank`, minRank, o.minRank], [`${prefix}maxRank`, maxRank, o.maxRank]);
  ordered(fn, [`${prefix}minDim`, minDim, o.minDim], [`${prefix}maxDim`, maxDim, o.maxDim]);
  return { minRank, maxRank, minDim, maxDim };
}

function shapesOf(o: Required<ShapeOptions>): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: o.minDim, max: o.maxDim }), { minLength: o.minRank, maxLength: o.maxRank });
}

/**
 * Shapes: arrays of axis lengths.
 * @example
 * fc.assert(fc.property(arbShape({ maxRank: 2 }), (s) => s.length <= 2));
 */
export function arbShape(opts: ShapeOptions = {}): fc.Arbitrary<number[]> {
  return shapesOf(shapeOptions("arbShape", opts));
}

/**
 * Where the values of {@link arbArray} lie. Every domain is reached by
 * mapping uniform draws into it, never by filtering:
 * - `"bounded"` (default): [min, max], default [-3, 3];
 * - `"any"`: any finite double in [min, max], default [-1e3, 1e3], with
 *   fast-check's bias towards 0, tiny and extreme values;
 * - `"positive"`: [min, max], default [0.1, 10] (min must be > 0);
 * - `"unit"`: [-(1 − margin), 1 − margin] with margin 0.1, e.g. for arcsin;
 * - `"nonzero"`: |v| in [min, max], default [0.1, 3], either sign;
 * - `"integer"`: integers in [min, max], default [-3, 3] (ties for
 *   comparisons, argmax, ...);
 * - `"half"`: multiples of 1/2 in [min, max], default [-3, 3] (rounding ties);
 * - `"distinct"`: pairwise distinct values in [min, max] (default [-3, 3]),
 *   at least (max − min) / (5n) apart for n elements, so no reductions tie.
 * @example
 * arbArray({ shape: [3], domain: "unit" satisfies Domain }); // for arcsin
 */
export type Domain = "bounded" | "any" | "positive" | "unit" | "nonzero" | "integer" | "half" | "distinct";

/**
 * Options of {@link arbArray}.
 * @example
 * arbArray({ shape: { maxRank: 2 }, dtype: "float32", domain: "positive", min: 0.5, max: 2 } satisfies ArrayOptions);
 */
export interface ArrayOptions {
  /** A fixed shape, an arbitrary of shapes, or options for {@link arbShape} (default `{}`). */
  shape?: Shape | fc.Arbitrary<readonly number[]> | ShapeOptions;
  /** Element type (default float64). int32 draws integers, bool draws booleans. */
  dtype?: DType;
  /** Lower bound of the domain (see {@link Domain} for defaults). */
  min?: number;
  /** Upper bound of the domain. */
  max?: number;
  /** The value domain (default "bounded"). */
  domain?: Domain;
}

/** The `shape` option of {@link arbArray}: a fixed shape, an arbitrary of shapes, or {@link ShapeOptions}. */
function shapeArb(fn: string, s: unknown): fc.Arbitrary<readonly number[]> {
  if (s === undefined) return shapesOf(shapeOptions(fn, {}));
  if (Array.isArray(s)) return fc.constant(shapeArg(fn, s, "shape"));
  if (s instanceof fc.Arbitrary) return s as fc.Arbitrary<readonly number[]>;
  if (typeof s !== "object" || s === null)
    throw new nb.NablaError(
      `${fn}: shape must be a shape, an arbitrary of shapes or shape options {minRank, maxRank, minDim, maxDim}, got ${fmtValue(s)}`,
    );
  return shapesOf(shapeOptions(fn, s, "shape."));
}

export const sizeOfShape = (s: Shape): number => s.reduce((p, d) => p * d, 1);

/**
 * Uniform draws in [0, 1] on a grid of 2^-30 (fast-check shrinks them towards 0). Not `fc.double`,
 * whose draws cluster at the ends of the range and at tiny magnitudes, and not biased, so that values
 * spread over the whole domain.
 */
const unitDraw = fc.noBias(fc.integer({ min: 0, max: 2 ** 30 })).map((k) => k / 2 ** 30);

const DOMAINS: readonly Domain[] = ["bounded", "any", "positive", "unit", "nonzero", "integer", "half", "distinct"];

function domainBounds(fn: string, domain: Domain, min: number | undefined, max: number | undefined): [number, number] {
  const dflt: Record<Domain, [number, number]> = {
    bounded: [-3, 3],
    any: [-1e3, 1e3],
    positive: [0.1, 10],
    unit: [-0.9, 0.9],
    nonzero: [0.1, 3],
    integer: [-3, 3],
    half: [-3, 3],
    distinct: [-3, 3],
  };
  const lo = min ?? dflt[domain][0];
  const hi = max ?? dflt[domain][1];
  if (!(lo <= hi)) throw new nb.NablaError(`${fn}: empty domain [${lo}, ${hi}] (min > max)`);
  if ((domain === "positive" || domain === "nonzero") && !(lo > 0))
    throw new nb.NablaError(`${fn}: domain "${domain}" needs min > 0, got ${lo}`);
  if (domain === "integer" && Math.ceil(lo) > Math.floor(hi))
    throw new nb.NablaError(`${fn}: domain "integer" has no integer in [${lo}, ${hi}]`);
  if (domain === "half" && Math.ceil(2 * lo) > Math.floor(2 * hi))
    throw new nb.NablaError(`${fn}: domain "half" has no multiple of 1/2 in [${lo}, ${hi}]`);
  if (
    (domain === "integer" || domain === "half") &&
    !(Number.isSafeInteger(Math.ceil(2 * lo)) && Number.isSafeInteger(Math.floor(2 * hi)))
  )
    throw new nb.NablaError(`${fn}: domain "${domain}" needs bounds within ±2^52, got [${lo}, ${hi}]`);
  return [lo, hi];
}

/** Values of `n` elements in the domain, as plain numbers. */
function arbValues(n: number, domain: Domain, lo: number, hi: number): fc.Arbitrary<number[]> {
  const many = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: n, maxLength: n });
  const lerp = (u: number) => lo + (hi - lo) * u;
  switch (domain) {
    case "bounded":
    case "positive":
      return many(unitDraw.map(lerp));
    case "unit":
      return many(unitDraw.map(lerp));
    case "any":
      return many(
        fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v)),
      );
    case "nonzero":
      return many(fc.tuple(unitDraw, fc.boolean()).map(([u, neg]) => (neg ? -1 : 1) * lerp(u)));
    case "integer":
      return many(fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }));
    case "half":
      return many(fc.integer({ min: Math.ceil(2 * lo), max: Math.floor(2 * hi) }).map((k) => k / 2));
    case "distinct": {
      // n cells of width w; element i sits in cell perm[i], jittered within the middle 4/5 of it
      const w = (hi - lo) / Math.max(n, 1);
      const perm = fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: n, maxLength: n },
      );
      return fc
        .tuple(perm, many(unitDraw))
        .map(([p, us]) => p.map((cell, i) => lo + w * (cell + 0.1 + 0.8 * at(us, i, "arbValues"))));
    }
  }
}

/** Builds an NDArray from plain values (rounded to the dtype). */
function makeArray(vals: readonly number[], shape: Shape, dtype: DType): NDArray {
  const data = dtype === "bool" ? vals.map((v) => v !== 0) : vals.slice();
  if (shape.length === 0) return nb.array(at<number | boolean>(data, 0, "makeArray"), { dtype });
  if (dtype === "bool") return nb.array(data as boolean[], { dtype }).reshape(shape);
  return nb.array(Float64Array.from(data as number[]), { dtype, shape });
}

/**
 * NDArrays of a given or random shape whose values lie in a {@link Domain}
 * (built by mapping into the domain, never by filtering).
 * @example
 * fc.assert(fc.property(arbArray({ shape: [3], domain: "positive" }), (x) => nb.min(x).item() > 0));
 */
export function arbArray(opts: ArrayOptions = {}): fc.Arbitrary<NDArray> {
  return arrayArb("arbArray", opts, ARRAY_KEYS);
}

const ARRAY_KEYS = ["shape", "dtype", "min", "max", "domain"] as const;

/** The values options of {@link arbArray} (all but `shape`) read and checked, naming `fn`. */
function valueOptions(
  fn: string,
  opts: unknown,
  keys: readonly string[],
): { o: ArrayOptions; dtype: DType; domain: Domain; lo: number; hi: number } {
  const o = readOptions(fn, opts as ArrayOptions | undefined, keys);
  const dtype = dtypeArg(fn, o.dtype, "float64");
  if (o.domain !== undefined && !DOMAINS.includes(o.domain))
    throw new nb.NablaError(
      `${fn}: unknown domain ${fmtValue(o.domain)} (the domains are ${DOMAINS.map((d) => JSON.stringify(d)).join(", ")})`,
    );
  const min = numOpt(fn, "min", o.min);
  const max = numOpt(fn, "max", o.max);
  const domain: Domain = dtype === "int32" ? "integer" : (o.domain ?? "bounded");
  const [lo, hi] = dtype === "bool" ? [0, 1] : domainBounds(fn, domain, min, max);
  if (dtype === "int32" && (Math.ceil(lo) < -(2 ** 31) || Math.floor(hi) > MAX_INT))
    throw new nb.NablaError(`${fn}: int32 values must lie in [-2^31, 2^31 - 1], got bounds [${lo}, ${hi}]`);
  return { o, dtype, domain, lo, hi };
}

function arrayArb(fn: string, opts: unknown, keys: readonly string[]): fc.Arbitrary<NDArray> {
  const { o, dtype, domain, lo, hi } = valueOptions(fn, opts, keys);
  return shapeArb(fn, o.shape).chain((shape) => {
    const n = sizeOfShape(shape);
    const vals =
      dtype === "bool"
        ? fc.array(fc.boolean(), { minLength: n, maxLength: n }).map((bs) => bs.map(Number))
        : arbValues(n, domain, lo, hi);
    return vals.map((v) => makeArray(v, shape, dtype));
  });
}

/**
 * Options of {@link arbBroadcastPair} and {@link arbBroadcastShapes}.
 * @example
 * arbBroadcastShapes(2, { maxRank: 2, maxDim: 3 } satisfies BroadcastOptions);
 */
export interface BroadcastOptions {
  /** Most axes of the broadcast result (default 3). */
  maxRank?: number;
  /** Largest axis length (default 4). */
  maxDim?: number;
}

/**
 * `count` shapes that broadcast together (NumPy rules): each is the common
 * shape with some leading axes dropped and some axes set to 1.
 * @example
 * fc.sample(arbBroadcastShapes(3), 1); // e.g. [[[2, 1, 3], [3], [1, 1]]]
 */
export function arbBroadcastShapes(count: number, opts: BroadcastOptions = {}): fc.Arbitrary<number[][]> {
  intArg("arbBroadcastShapes", "count", count, { min: 0, max: MAX_INT }, nb.NablaError);
  return broadcastShapes(
    "arbBroadcastShapes",
    count,
    broadcastOptions("arbBroadcastShapes", opts, ["maxRank", "maxDim"]),
  );
}

/** {@link BroadcastOptions} read and checked (`keys`: the keys `fn` takes). */
function broadcastOptions(fn: string, opts: unknown, keys: readonly string[]): Required<BroadcastOptions> {
  const o = readOptions(fn, opts as BroadcastOptions | undefined, keys);
  const maxRank = intOpt(fn, "maxRank", o.maxRank, 3, 0, MAX_NDIM);
  const maxDim = intOpt(fn, "maxDim", o.maxDim, 4, 1);
  return { maxRank, maxDim };
}

function broadcastShapes(fn: string, count: number, o: Required<BroadcastOptions>): fc.Arbitrary<number[][]> {
  const { maxRank, maxDim } = o;
  return shapesOf(shapeOptions(fn, { maxRank, maxDim })).chain((full) => {
    const one = fc
      .tuple(
        fc.integer({ min: 0, max: full.length }),
        fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
      )
      .map(([drop, ones]) => full.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
    return fc.array(one, { minLength: count, maxLength: count });
  });
}

/**
 * Two shapes that NumPy-broadcast together or, given array options, two
 * arrays of such shapes (one options object for both, or a pair).
 * @example
 * arbBroadcastPair();                                          // Arbitrary<[number[], number[]]>
 * arbBroadcastPair({ arrays: [{}, { domain: "nonzero" }] });   // Arbitrary<[NDArray, NDArray]>
 */
export function arbBroadcastPair(opts?: BroadcastOptions & { arrays?: undefined }): fc.Arbitrary<[number[], number[]]>;
export function arbBroadcastPair(
  opts: BroadcastOptions & {
    arrays: Omit<ArrayOptions, "shape"> | readonly [Omit<ArrayOptions, "shape">, Omit<ArrayOptions, "shape">];
  },
): fc.Arbitrary<[NDArray, NDArray]>;
export function arbBroadcastPair(
  opts: BroadcastOptions & {
    arrays?: Omit<ArrayOptions, "shape"> | readonly [Omit<ArrayOptions, "shape">, Omit<ArrayOptions, "shape">];
  } = {},
): fc.Arbitrary<[number[], number[]]> | fc.Arbitrary<[NDArray, NDArray]> {
  const fn = "arbBroadcastPair";
  const o = readOptions(fn, opts, ["maxRank", "maxDim", "arrays"]);
  const shapes = broadcastShapes(
    fn,
    2,
    broadcastOptions(fn, { maxRank: o.maxRank, maxDim: o.maxDim }, ["maxRank", "maxDim"]),
  ).map((s) => [at(s, 0, fn), at(s, 1, fn)] as [number[], number[]]);
  const arrays: unknown = o.arrays;
  if (arrays === undefined) return shapes;
  if (Array.isArray(arrays) && (arrays.length !== 2 || !Object.hasOwn(arrays, 0) || !Object.hasOwn(arrays, 1)))
    throw new nb.NablaError(
      `${fn}: arrays must be one options object for both arrays or a pair of them, got an array of length ${arrays.length}`,
    );
  const [oa, ob]: unknown[] = Array.isArray(arrays) ? arrays : [arrays, arrays];
  // the shape comes from the broadcast pair: a `shape` key is refused, not ignored
  const valueKeys = ARRAY_KEYS.filter((k) => k !== "shape");
  valueOptions(fn, oa, valueKeys);
  valueOptions(fn, ob, valueKeys);
  return shapes.chain(([sa, sb]) =>
    fc.tuple(
      arrayArb(fn, { ...(oa as object), shape: sa }, ARRAY_KEYS),
      arrayArb(fn, { ...(ob as object), shape: sb }, ARRAY_KEYS),
    ),
  );
}

/**
 * Options of {@link arbSpdMatrix}.
 * @example
 * arbSpdMatrix({ minN: 2, maxN: 5, dtype: "float32" } satisfies SpdOptions);
 */
export interface SpdOptions {
  /** Fixed size n (else drawn from [minN, maxN]). */
  n?: number;
  /** Smallest size (default 1). */
  minN?: number;
  /** Largest size (default 4). */
  maxN?: number;
  /** float64 (default) or float32. */
  dtype?: "float32" | "float64";
}

/**
 * Symmetric positive-definite n×n matrices A·Aᵀ + n·I with A's entries
 * between -1 and 1: every eigenvalue lies in [n, n + n²], so the condition number is
 * at most n + 1.
 * @example
 * fc.assert(fc.property(arbSpdMatrix(3), (m) => nb.linalg.cholesky(m).shape[0] === 3));
 */
export function arbSpdMatrix(nOrOpts: number | SpdOptions = {}): fc.Arbitrary<NDArray> {
  const fn = "arbSpdMatrix";
  const opts = readOptions(fn, typeof nOrOpts === "number" ? { n: nOrOpts } : nOrOpts, ["n", "minN", "maxN", "dtype"]);
  // n² entries per matrix: n is capped where n·n stays within the array size limit
  const MAX_N = 46340;
  if (opts.n !== undefined && (opts.minN !== undefined || opts.maxN !== undefined))
    throw new nb.NablaError(`${fn}: give either n or minN/maxN, not both`);
  const n = opts.n === undefined ? undefined : intOpt(fn, "n", opts.n, 0, 0, MAX_N);
  const minN = intOpt(fn, "minN", opts.minN, 1, 0, MAX_N);
  const maxN = intOpt(fn, "maxN", opts.maxN, 4, 0, MAX_N);
  ordered(fn, ["minN", minN, opts.minN], ["maxN", maxN, opts.maxN]);
  const dtype = opts.dtype ?? "float64";
  if (dtype !== "float64" && dtype !== "float32")
    throw new nb.NablaError(`${fn}: dtype must be "float64" or "float32", got ${fmtValue(dtype)}`);
  const sizes = n !== undefined ? fc.constant(n) : fc.integer({ min: minN, max: maxN });
  return sizes.chain((n) =>
    fc
      .array(
        unitDraw.map((u) => 2 * u - 1),
        { minLength: n * n, maxLength: n * n },
      )
      .map((a) => {
        const m = new Float64Array(n * n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = i === j ? n : 0;
            for (let k = 0; k < n; k++) s += at(a, i * n + k, "arbSpdMatrix") * at(a, j * n + k, "arbSpdMatrix");
            m[i * n + j] = s;
          }
        return nb.array(m, { shape: [n, n], dtype });
      }),
  );
}
