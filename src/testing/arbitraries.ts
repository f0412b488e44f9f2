/** fast-check arbitraries for shapes, arrays in a domain, broadcast-compatible shapes and SPD matrices. */
import { at } from "../core/errors.js";
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

/**
 * Shapes: arrays of axis lengths.
 * @example
 * fc.assert(fc.property(arbShape({ maxRank: 2 }), (s) => s.length <= 2));
 */
export function arbShape(opts: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 3, minDim = 1, maxDim = 4 } = opts;
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });
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

function shapeArb(s: ArrayOptions["shape"]): fc.Arbitrary<readonly number[]> {
  if (s === undefined) return arbShape();
  if (Array.isArray(s)) return fc.constant(s as readonly number[]);
  if (s instanceof fc.Arbitrary) return s;
  return arbShape(s as ShapeOptions);
}

export const sizeOfShape = (s: Shape): number => s.reduce((p, d) => p * d, 1);

/**
 * Uniform draws in [0, 1] on a grid of 2^-30 (fast-check shrinks them towards 0). Not `fc.double`,
 * whose draws cluster at the ends of the range and at tiny magnitudes, and not biased, so that values
 * spread over the whole domain.
 */
const unitDraw = fc.noBias(fc.integer({ min: 0, max: 2 ** 30 })).map((k) => k / 2 ** 30);

function domainBounds(domain: Domain, min: number | undefined, max: number | undefined): [number, number] {
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
  if (!(lo <= hi)) throw new RangeError(`arbArray: empty domain [${lo}, ${hi}]`);
  if ((domain === "positive" || domain === "nonzero") && !(lo > 0))
    throw new RangeError(`arbArray: domain "${domain}" needs min > 0, got ${lo}`);
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
  const dtype = opts.dtype ?? "float64";
  const domain: Domain = dtype === "int32" ? "integer" : (opts.domain ?? "bounded");
  const [lo, hi] = dtype === "bool" ? [0, 1] : domainBounds(domain, opts.min, opts.max);
  return shapeArb(opts.shape).chain((shape) => {
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
  const { maxRank = 3, maxDim = 4 } = opts;
  return arbShape({ maxRank, maxDim }).chain((full) => {
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
  const shapes = arbBroadcastShapes(2, opts).map((s) => [s[0], s[1]] as [number[], number[]]);
  const arrays = opts.arrays;
  if (arrays === undefined) return shapes;
  const [oa, ob] = Array.isArray(arrays)
    ? (arrays as [ArrayOptions, ArrayOptions])
    : [arrays as ArrayOptions, arrays as ArrayOptions];
  return shapes.chain(([sa, sb]) => fc.tuple(arbArray({ ...oa, shape: sa }), arbArray({ ...ob, shape: sb })));
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
  const opts: SpdOptions = typeof nOrOpts === "number" ? { n: nOrOpts } : nOrOpts;
  const sizes = opts.n !== undefined ? fc.constant(opts.n) : fc.integer({ min: opts.minN ?? 1, max: opts.maxN ?? 4 });
  const dtype = opts.dtype ?? "float64";
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
