/**
 * Generated bad-input tests over the export list (API.md "Semantics settled":
 * every argument is validated at the API boundary).
 *
 * Every public function of the "." entry (`import * as nb`, including
 * `nb.linalg`, `nb.random`, `nb.tree`) and every NDArray method is called
 * with a valid argument list in which one argument at a time is replaced by a
 * bad value of each kind below. Each call must either
 *   - throw an `nb.NablaError` whose message begins with the name of the
 *     function called (`det:` or `linalg.det:`; methods: the method name), or
 *   - succeed, but only when the (function, argument, kind) combination is a
 *     legitimate input by the explicit allow-list below (each entry says why).
 * Any other exception (TypeError, RangeError, ...) or an unexpected success
 * fails the test. After the sweep the library must still work and the trace
 * stack be empty.
 *
 * Bounded by default (a deterministic subset of kinds per argument, see
 * `kindsFor`); `NABLA_BAD_INPUTS=full` runs every kind in every position, and
 * `NABLA_BAD_INPUTS=pending` also runs the pending transforms below.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

const MODE = process.env.NABLA_BAD_INPUTS ?? "bounded";
const FULL = MODE === "full" || MODE === "pending";

// ---------------------------------------------------------------------------
// the bad argument kinds

const deep = (): unknown => {
  let d: unknown = 1;
  for (let i = 0; i < 10_000; i++) d = [d];
  return d;
};

/** Each kind makes a fresh value (so no call can spoil another's input). */
const KINDS = {
  undefined: () => undefined,
  null: () => null,
  NaN: () => NaN,
  Infinity: () => Infinity,
  negInfinity: () => -Infinity,
  fractional: () => 1.5,
  negative: () => -1,
  bigNegative: () => -7,
  huge: () => 2 ** 31,
  hugeFloat: () => 1e300,
  true: () => true,
  emptyString: () => "",
  numericString: () => "0",
  string: () => "a",
  object: () => ({}),
  objectWithKeys: () => ({ a: 1 }),
  date: () => new Date(0),
  map: () => new Map([[0, 1]]),
  function: () => () => 1,
  symbol: () => Symbol("bad"),
  bigint: () => 10n,
  ragged: () => [[1, 2], [3]],
  // eslint-disable-next-line no-sparse-arrays
  holey: () => [1, , 3],
  cyclic: () => {
    const a: unknown[] = [1];
    a.push(a);
    return a;
  },
  selfCyclic: () => {
    const a: unknown[] = [];
    a.push(a);
    return a;
  },
  deep,
  stringList: () => ["a", "b"],
  nullList: () => [null, 1],
  bigintList: () => [1n, 2n],
  symbolList: () => [Symbol("x")],
  objectList: () => [{}, {}],
  uint8: () => new Uint8Array([1, 2]),
  bigList: () => [1e6, 1e6],
  negList: () => [-2, 2],
  fracList: () => [1.5, 0],
  nanList: () => [NaN, 0],
  hugeList: () => [2 ** 31, 0],
  wrongShape: () => nb.ones([3]),
  boolArray: () => nb.array([true, false]),
  int32Array: () => nb.array([1, 0], { dtype: "int32" }),
  scalar0d: () => nb.array(2),
  empty: () => nb.zeros([0]),
} satisfies Record<string, () => unknown>;
type Kind = keyof typeof KINDS;
const ALL_KINDS = Object.keys(KINDS) as Kind[];

// ---------------------------------------------------------------------------
// parameter kinds and what is legitimate for each (the allow-list)

type Param =
  | "array" // any ArrayLike (API.md: every operation argument accepts ArrayLike)
  | "list" // a list of ArrayLikes (concatenate, stack)
  | "indices" // an ArrayLike of integer indices
  | "axis" // one integer axis (may be negative)
  | "axisOrNull" // one integer axis, or null = the flattened array (as JAX's axis=None)
  | "axes" // an axis or a list of axes, or null = all axes
  | "bool"
  | "shape"
  | "newShape" // reshape: a shape with one -1 allowed
  | "perm"
  | "ints" // slice begin/end: integers, clamped to the shape
  | "reps"
  | "padWidth"
  | "int" // a count (linspace num, eye n/m, random.split n)
  | "seed"
  | "number" // a JS number parameter (arange, linspace bounds)
  | "fill" // full's fill value: a number or boolean
  | "ord"
  | "dtype"
  | "options"
  | "key"
  // issue 11 (implicit branch)
  | "fn" // a callback the call may never invoke (a derivative rule's solver)
  | "tree" // a pytree of arrays
  | "string"; // a format string

const NUMBERS: Kind[] = [
  "NaN",
  "Infinity",
  "negInfinity",
  "fractional",
  "negative",
  "bigNegative",
  "huge",
  "hugeFloat",
];
const NUMERIC_LISTS: Kind[] = ["bigList", "negList", "fracList", "nanList", "hugeList"];
const ARRAYS: Kind[] = ["wrongShape", "boolArray", "int32Array", "scalar0d", "empty"];

/** Kinds that are valid input for a parameter kind (the call may still throw a NablaError, e.g. on a shape mismatch). */
const LEGIT: Record<Param, { kinds: readonly Kind[]; why: string }> = {
  array: {
    kinds: [...NUMBERS, "true", ...NUMERIC_LISTS, ...ARRAYS],
    why: "every JS number or boolean is a 0-d ArrayLike, numeric lists are 1-D ArrayLikes, and NDArrays of any shape or dtype are arrays",
  },
  list: {
    kinds: [...NUMERIC_LISTS, "ragged"],
    why: "a list of numbers is a list of 0-d arrays; [[1, 2], [3]] is a list of two 1-D arrays",
  },
  indices: {
    kinds: [
      "negative",
      "bigNegative",
      "true",
      "bigList",
      "negList",
      "wrongShape",
      "boolArray",
      "int32Array",
      "scalar0d",
      "empty",
    ],
    why: "integral values in int32 range are indices (negative count from the end, out-of-range are clamped), bools are 0/1, integral float arrays convert",
  },
  axis: { kinds: ["negative"], why: "-1 is the last axis" },
  axisOrNull: {
    kinds: ["negative", "null"],
    why: "-1 is the last axis; null means the flattened array (JAX's axis=None)",
  },
  axes: { kinds: ["negative", "null"], why: "-1 is the last axis; null means all axes (JAX's axis=None)" },
  bool: { kinds: ["true"], why: "a boolean flag" },
  shape: { kinds: ["hugeList"], why: "[2^31, 0] has no elements: a valid empty shape" },
  newShape: { kinds: [], why: "no bad kind is a shape of 4 elements" },
  perm: { kinds: [], why: "no bad kind is a permutation of two axes" },
  ints: { kinds: ["bigList", "negList", "hugeList"], why: "integer bounds are clamped to the shape (NumPy slicing)" },
  reps: { kinds: ["hugeList"], why: "[2^31, 0] repeats into an empty array: valid" },
  padWidth: { kinds: [], why: "no bad kind is a non-negative width of modest size" },
  int: { kinds: [], why: "no bad kind is a non-negative count of modest size" },
  seed: { kinds: ["huge"], why: "2^31 is a non-negative safe integer seed" },
  number: {
    kinds: ["fractional", "negative", "bigNegative", "huge", "hugeFloat"],
    why: "finite JS numbers are valid bounds (too many values give a ShapeError)",
  },
  fill: { kinds: [...NUMBERS, "true"], why: "any JS number or boolean fills a float64 array" },
  ord: {
    kinds: ["Infinity", "negInfinity", "fractional", "negative", "bigNegative", "huge", "hugeFloat"],
    why: "API.md: vector norms of any order p, including ±Infinity",
  },
  dtype: { kinds: [], why: "no bad kind is a dtype name" },
  options: { kinds: ["object"], why: "{} sets no option" },
  key: { kinds: ["int32Array"], why: "an int32 array of shape [2] is a key" },
  // issue 11 (implicit branch)
  fn: { kinds: ["function"], why: "any function is a valid callback" },
  string: { kinds: ["emptyString", "numericString", "string"], why: "any string is a format (no placeholders)" },
  tree: {
    kinds: [
      ...NUMBERS,
      "true",
      ...NUMERIC_LISTS,
      ...ARRAYS,
      "null",
      "object",
      "objectWithKeys",
      "ragged",
      "deep",
      "nullList",
      "objectList",
    ],
    why: "arrays, numbers, booleans, nested lists and plain objects of them (null: a tree with no leaves) are pytrees",
  },
};

interface Spec {
  /** A valid argument list (fresh each call). */
  args: () => unknown[];
  params: readonly Param[];
  /** Arguments from this index on are optional: undefined means the default. */
  required?: number;
}

const M = () =>
  nb.array([
    [1, 2],
    [3, 4],
  ]);
const S = () =>
  nb.array([
    [2, 1],
    [1, 2],
  ]);
const KEY = () => nb.random.key(0);

const unary = (): Spec => ({ args: () => [M()], params: ["array"] });
const binary = (): Spec => ({ args: () => [M(), M()], params: ["array", "array"] });
const reduction = (): Spec => ({ args: () => [M(), 0, false], params: ["array", "axes", "bool"], required: 1 });
const argReduction = (): Spec => ({
  args: () => [M(), 0, false],
  params: ["array", "axisOrNull", "bool"],
  required: 1,
});
const sorting = (): Spec => ({ args: () => [M(), -1, false], params: ["array", "axis", "bool"], required: 1 });
const squareMatrix = (): Spec => ({ args: () => [S()], params: ["array"] });

const SPECS: Record<string, Spec> = {
  array: { args: () => [[1, 2], {}], params: ["array", "options"], required: 1 },
  zeros: { args: () => [[2], {}], params: ["shape", "options"], required: 1 },
  ones: { args: () => [[2], {}], params: ["shape", "options"], required: 1 },
  full: { args: () => [[2], 1, {}], params: ["shape", "fill", "options"], required: 2 },
  zerosLike: unary(),
  onesLike: unary(),
  arange: { args: () => [0, 3, 1], params: ["number", "number", "number"], required: 1 },
  linspace: { args: () => [0, 1, 3], params: ["number", "number", "int"] },
  eye: { args: () => [2, 2, {}], params: ["int", "int", "options"], required: 1 },
  astype: { args: () => [M(), "float32"], params: ["array", "dtype"] },
  where: {
    args: () => [
      nb.array([
        [true, false],
        [false, true],
      ]),
      M(),
      M(),
    ],
    params: ["array", "array", "array"],
  },
  clip: { args: () => [M(), 0, 3], params: ["array", "array", "array"] },
  stopGradient: unary(),
  sum: reduction(),
  mean: reduction(),
  prod: reduction(),
  max: reduction(),
  min: reduction(),
  logsumexp: reduction(),
  argmax: argReduction(),
  argmin: argReduction(),
  softmax: { args: () => [M(), -1], params: ["array", "axis"], required: 1 },
  logSoftmax: { args: () => [M(), -1], params: ["array", "axis"], required: 1 },
  reshape: { args: () => [M(), [4]], params: ["array", "newShape"] },
  transpose: { args: () => [M(), [1, 0]], params: ["array", "perm"], required: 1 },
  broadcastTo: { args: () => [M(), [2, 2]], params: ["array", "shape"] },
  expandDims: { args: () => [M(), 0], params: ["array", "axis"] },
  squeeze: { args: () => [nb.ones([1, 2]), 0], params: ["array", "axes"], required: 1 },
  concatenate: { args: () => [[M(), M()], 0], params: ["list", "axis"], required: 1 },
  stack: { args: () => [[M(), M()], 0], params: ["list", "axis"], required: 1 },
  slice: { args: () => [M(), [0, 0], [1, 1]], params: ["array", "ints", "ints"] },
  flip: { args: () => [M(), 0], params: ["array", "axes"], required: 1 },
  tile: { args: () => [M(), [2, 1]], params: ["array", "reps"] },
  pad: { args: () => [M(), 1, { value: 0 }], params: ["array", "padWidth", "options"], required: 2 },
  take: { args: () => [M(), [0, 1], 0], params: ["array", "indices", "axisOrNull"], required: 2 },
  takeAlongAxis: {
    args: () => [M(), nb.array([[0], [1]], { dtype: "int32" }), 1],
    params: ["array", "indices", "axis"],
  },
  argsort: sorting(),
  sort: sorting(),
  cumsum: { args: () => [M(), 0], params: ["array", "axisOrNull"], required: 1 },
  cumprod: { args: () => [M(), 0], params: ["array", "axisOrNull"], required: 1 },
  matmul: binary(),
  dot: binary(),
  outer: binary(),
  diag: unary(),
  trace: unary(),
  "linalg.solve": { args: () => [S(), [1, 2]], params: ["array", "array"] },
  "linalg.triangularSolve": {
    args: () => [S(), [1, 2], { lower: true }],
    params: ["array", "array", "options"],
    required: 2,
  },
  "linalg.inv": squareMatrix(),
  "linalg.det": squareMatrix(),
  "linalg.slogdet": squareMatrix(),
  "linalg.cholesky": squareMatrix(),
  "linalg.eigh": squareMatrix(),
  "linalg.qr": squareMatrix(),
  "linalg.norm": { args: () => [M(), 2, undefined, false], params: ["array", "ord", "axes", "bool"], required: 1 },
  "random.key": { args: () => [0], params: ["seed"] },
  "random.split": { args: () => [KEY(), 2], params: ["key", "int"], required: 1 },
  "random.uniform": { args: () => [KEY(), [2], {}], params: ["key", "shape", "options"], required: 1 },
  "random.normal": { args: () => [KEY(), [2], {}], params: ["key", "shape", "options"], required: 1 },
  "random.bernoulli": { args: () => [KEY(), 0.5, [2]], params: ["key", "array", "shape"], required: 1 },
};
for (const name of [
  "neg exp log log1p expm1 sin cos tan tanh sinh cosh arcsin arccos arctan sqrt square reciprocal abs sign",
  "floor ceil round sigmoid relu softplus erf logicalNot",
]
  .join(" ")
  .split(" "))
  SPECS[name] = unary();
for (const name of "add sub mul div pow maximum minimum arctan2 equal notEqual less lessEqual greater greaterEqual logicalAnd logicalOr".split(
  " ",
))
  SPECS[name] = binary();

/**
 * Transforms and pytree utilities: validated by the transforms/pytree work
 * (another branch). Each name here is an `it.todo` until that work is merged;
 * the lead empties this list afterwards (`NABLA_BAD_INPUTS=pending` runs them).
 */
const PENDING_TRANSFORMS: readonly string[] = [
  "grad",
  "valueAndGrad",
  "jvp",
  "vjp",
  "linearize",
  "jacfwd",
  "jacrev",
  "hessian",
  "vmap",
  "jit",
  "makeGraph",
  "customJvp",
  "customVjp",
  "checkpoint",
  "cond",
  "whileLoop",
  "forLoop",
  "scan",
  "tree.map",
  "tree.flatten",
  "tree.unflatten",
  "tree.leaves",
  "tree.structure",
  "tree.register",
];

/**
 * Reductions of empty arrays: the numerics branch defines them (logsumexp([]) = -inf, softmax of a
 * [0, 4] batch); until it is merged these throw "max: ..." from inside. Skipped here, listed as todo.
 */
const PENDING_NUMERICS: readonly string[] = ["logsumexp(0, empty)", "softmax(0, empty)", "logSoftmax(0, empty)"];

const sq = (x: nb.NDArray) => nb.sum(nb.mul(x, x));
const TRANSFORM_SPECS: Record<string, Spec> = {
  grad: { args: () => [sq, {}], params: ["options", "options"], required: 1 },
  valueAndGrad: { args: () => [sq, {}], params: ["options", "options"], required: 1 },
  jvp: { args: () => [nb.sin, [M()], [M()]], params: ["options", "list", "list"] },
  vjp: { args: () => [nb.sin, M()], params: ["options", "array"] },
  linearize: { args: () => [nb.sin, M()], params: ["options", "array"] },
  jacfwd: { args: () => [nb.sin, {}], params: ["options", "options"], required: 1 },
  jacrev: { args: () => [nb.sin, {}], params: ["options", "options"], required: 1 },
  hessian: { args: () => [sq, {}], params: ["options", "options"], required: 1 },
  vmap: { args: () => [nb.sin, {}], params: ["options", "options"], required: 1 },
  jit: { args: () => [nb.sin, {}], params: ["options", "options"], required: 1 },
  makeGraph: { args: () => [nb.sin], params: ["options"] },
  customJvp: { args: () => [nb.sin, () => [M(), M()]], params: ["options", "options"] },
  customVjp: { args: () => [nb.sin, () => [M(), M()], () => [M()]], params: ["options", "options", "options"] },
  checkpoint: { args: () => [nb.sin], params: ["options"] },
  cond: { args: () => [true, () => M(), () => M()], params: ["array", "options", "options"] },
  whileLoop: { args: () => [() => false, (x: unknown) => x, M()], params: ["options", "options", "array"] },
  forLoop: { args: () => [0, 2, (_i: unknown, x: unknown) => x, M()], params: ["int", "int", "options", "array"] },
  scan: { args: () => [(c: unknown, x: unknown) => [c, x], M(), M()], params: ["options", "array", "array"] },
  // issue 11 (implicit branch)
  customRoot: {
    args: () => [(x: unknown) => x, M(), (_f: unknown, x0: unknown) => x0, (_g: unknown, y: unknown) => y],
    params: ["options", "tree", "options", "fn"],
  },
  customLinearSolve: {
    args: () => [(x: unknown) => x, M(), (_mv: unknown, b: unknown) => b, (_mv: unknown, b: unknown) => b],
    params: ["options", "tree", "options", "fn"],
    required: 3,
  },
  linearTranspose: { args: () => [(x: unknown) => x, M()], params: ["options", "tree"] },
  associativeScan: { args: () => [nb.add, M(), {}], params: ["options", "tree", "options"], required: 2 },
  "debug.print": { args: () => ["{}", M()], params: ["string", "tree"], required: 1 },
  "debug.callback": { args: () => [() => {}, M()], params: ["fn", "tree"], required: 1 },
  config: { args: () => [{}], params: ["options"], required: 0 },
  checkpointName: { args: () => [M(), "h"], params: ["array", "string"] },
  "checkpointPolicies.saveOnlyTheseNames": { args: () => ["h"], params: ["string"], required: 0 },
  "tree.map": { args: () => [(x: unknown) => x, [M()]], params: ["options", "array"] },
  "tree.flatten": { args: () => [[M()]], params: ["array"] },
  "tree.unflatten": { args: () => [nb.tree.structure([1]), [M()]], params: ["options", "list"] },
  "tree.leaves": { args: () => [[M()]], params: ["array"] },
  "tree.structure": { args: () => [[M()]], params: ["array"] },
  "tree.register": {
    args: () => [class Unused {}, () => [[], null], () => ({})],
    params: ["options", "options", "options"],
  },
};

/** Exports that are not functions to call with arguments: classes and namespaces. */
const NOT_FUNCTIONS: Record<string, string> = {
  NDArray: "the array class (abstract; arrays come from nb.array and the operations)",
  Graph: "the result class of makeGraph (not constructed by users)",
  NablaError: "an error class: any message is valid",
  ShapeError: "an error class",
  DTypeError: "an error class",
  TracerError: "an error class",
  GradError: "an error class",
  "tree.TreeDef": "the result class of tree.structure (not constructed by users)",
};

// ---------------------------------------------------------------------------
// enumeration

function publicFunctions(): Map<string, (...a: unknown[]) => unknown> {
  const out = new Map<string, (...a: unknown[]) => unknown>();
  const walk = (obj: object, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const name = prefix + k;
      if (typeof v === "function") out.set(name, v as (...a: unknown[]) => unknown);
      else if (v !== null && typeof v === "object" && prefix === "") walk(v, `${k}.`);
    }
  };
  walk(nb, "");
  for (const n of Object.keys(NOT_FUNCTIONS)) out.delete(n);
  return out;
}

/** NDArray methods that take arguments (the operation of the same name with the array as first argument). */
function methodNames(): string[] {
  return Object.getOwnPropertyNames(nb.NDArray.prototype).filter((n) => {
    const d = Object.getOwnPropertyDescriptor(nb.NDArray.prototype, n)!;
    return typeof d.value === "function" && Object.hasOwn(SPECS, n);
  });
}

/** A deterministic subset of kinds per (function, position) in bounded mode: a rotating third of them. */
function kindsFor(fn: string, pos: number): Kind[] {
  if (FULL) return ALL_KINDS;
  let h = pos * 31;
  for (const c of fn) h = (h * 33 + c.charCodeAt(0)) >>> 0;
  return ALL_KINDS.filter((_, i) => (i + h) % 3 === 0);
}

function isLegit(spec: Spec, pos: number, kind: Kind): boolean {
  if (kind === "undefined" && pos >= (spec.required ?? spec.params.length)) return true;
  return LEGIT[spec.params[pos]!].kinds.includes(kind);
}

const fmtKind = (k: Kind) => k;

/** Runs one call; returns a failure description or null. */
function check(label: string, expectName: RegExp, call: () => unknown, legit: boolean): string | null {
  try {
    call();
  } catch (e) {
    if (!(e instanceof nb.NablaError))
      return `${label}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`;
    if (!expectName.test(e.message)) return `${label}: message does not start with the function name: ${e.message}`;
    return null;
  }
  return legit ? null : `${label}: succeeded, but this bad input is not on the allow-list`;
}

function nameRegex(name: string): RegExp {
  const short = name.includes(".") ? name.split(".")[1]! : name;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^(${esc(name)}|${esc(short)})\\b`);
}

function sweep(name: string, f: (...a: unknown[]) => unknown, spec: Spec, methodOf?: string): string[] {
  const failures: string[] = [];
  for (let pos = methodOf ? 1 : 0; pos < spec.params.length; pos++) {
    for (const kind of kindsFor(name, pos)) {
      const args = spec.args();
      args[pos] = KINDS[kind]();
      const label = methodOf
        ? `x.${methodOf}(arg ${pos - 1} = ${fmtKind(kind)})`
        : `${name}(arg ${pos} = ${fmtKind(kind)})`;
      const call = methodOf
        ? () => (args[0] as Record<string, (...a: unknown[]) => unknown>)[methodOf]!(...args.slice(1))
        : () => f(...args);
      if (PENDING_NUMERICS.includes(`${methodOf ?? name}(${pos}, ${kind})`) && MODE !== "pending") continue;
      const r = check(label, nameRegex(name), call, isLegit(spec, pos, kind));
      if (r !== null) failures.push(r);
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------

const FUNCTIONS = publicFunctions();

describe("every public function and method: bad inputs throw a NablaError naming it", () => {
  it("the export list is fully specified (a new export needs a spec here)", () => {
    const missing = [...FUNCTIONS.keys()].filter((n) => !(n in SPECS) && !(n in TRANSFORM_SPECS));
    expect(missing).toEqual([]);
    // and every spec names a real export
    expect(Object.keys(SPECS).filter((n) => !FUNCTIONS.has(n))).toEqual([]);
    expect(Object.keys(TRANSFORM_SPECS).filter((n) => !FUNCTIONS.has(n))).toEqual([]);
    // the valid base calls are valid
    for (const [n, s] of Object.entries(SPECS)) expect(() => FUNCTIONS.get(n)!(...s.args()), n).not.toThrow();
  });

  for (const [name, spec] of Object.entries(SPECS)) {
    it(`${name}`, () => {
      expect(sweep(name, FUNCTIONS.get(name)!, spec)).toEqual([]);
    });
  }

  it("NDArray methods name the method", () => {
    const names = methodNames();
    expect(names.length).toBeGreaterThan(60);
    const failures = names.flatMap((m) => sweep(m, FUNCTIONS.get(m)!, SPECS[m]!, m));
    expect(failures).toEqual([]);
  });

  for (const [name, spec] of Object.entries(TRANSFORM_SPECS)) {
    if (PENDING_TRANSFORMS.includes(name) && MODE !== "pending") {
      it.todo(`pending (transforms/pytree validation branch): ${name}`);
      continue;
    }
    it(`${name}`, () => {
      expect(sweep(name, FUNCTIONS.get(name)!, spec)).toEqual([]);
    });
  }

  for (const p of PENDING_NUMERICS) it.todo(`pending (numerics branch): ${p}`);

  it("after all those errors the library still works (the trace stack is empty)", () => {
    const g = nb.grad((x: nb.NDArray) => nb.sum(nb.mul(x, x)))(nb.array([1, 2]));
    expect(Array.from(g.toTypedArray())).toEqual([2, 4]);
    // a traced value from a fresh transform sees no stale trace: jit of the same works too
    const j = nb.jit((x: nb.NDArray) => nb.mul(x, 3))(nb.array([1, 2]));
    expect(Array.from(j.toTypedArray())).toEqual([3, 6]);
  });
});

describe("the examples of issue 6", () => {
  const msg = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(nb.NablaError);
      return (e as Error).message;
    }
    return expect.fail("expected a NablaError");
  };
  it("messages name the function called, not the one it delegates to", () => {
    expect(msg(() => nb.zeros([-1]))).toMatch(/^zeros: /);
    expect(msg(() => nb.zeros([1e6, 1e6]))).toMatch(/^zeros: .*2\^31 - 1/);
    expect(msg(() => nb.sum(nb.zeros([2, 2]), "0" as never))).toMatch(/^sum: axis/);
    expect(msg(() => nb.zeros([2, 2]).sum("0" as never))).toMatch(/^sum: axis/);
    expect(msg(() => nb.neg("1" as never))).toMatch(/^neg: /);
    expect(msg(() => nb.where([true, false], [1, 2], [1, 2, 3]))).toMatch(/^where: /);
    expect(msg(() => nb.linalg.det([1, 2]))).toMatch(/^det: /);
    expect(msg(() => nb.slice(nb.zeros([3, 3]), 0 as never, 2 as never))).toMatch(/^slice: begin/);
    expect(msg(() => nb.arange(NaN))).toMatch(/^arange: /);
    expect(msg(() => nb.arange(2 ** 31 - 1, 2 ** 31 + 1))).toMatch(/^arange: .*int32/);
    expect(msg(() => nb.full([2], "a" as never))).toMatch(/^full: /);
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(msg(() => nb.array(cyclic as never))).toMatch(/^array: .*cyclic/);
    // eslint-disable-next-line no-sparse-arrays
    expect(msg(() => nb.add([1, , 3] as never, 1))).toMatch(/^add: .*hole at element \[1\]/);
  });
  it("printing costs no more than the elements it shows", () => {
    const t0 = performance.now();
    expect(nb.zeros([1e9, 0]).toString()).toBe("array([], shape=[1000000000,0])");
    expect(nb.zeros([1e6, 0], { dtype: "int32" }).toString()).toBe("array([], shape=[1000000,0], dtype=int32)");
    expect(nb.zeros([0]).toString()).toBe("array([])");
    // generous bound for a loaded 2-core machine; before the fix [1e6, 0] alone took 1.4 s and [1e9, 0] aborted
    expect(performance.now() - t0).toBeLessThan(200);
  });
});
