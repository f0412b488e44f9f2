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
 * `kindsFor`); `NABLA_BAD_INPUTS=full` runs every kind in every position
 * (`NABLA_BAD_INPUTS_TRACE=1` prints each call first, to find one that hangs).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

const MODE = process.env.NABLA_BAD_INPUTS ?? "bounded";
const FULL = MODE === "full";

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
  // issue 9, part A (opsA)
  | "offset" // tril/triu k: any integer
  | "shift" // roll: an integer or a list of integers
  | "sections" // split: a count of equal sections or a list of split points
  | "repeats" // repeat: a count or a count per element
  | "ddof"
  | "arrayOrOptions" // meshgrid is variadic: its last argument is an array or the options
  | "fn" // a function given to a transform (the spec calls the transformed function, so its result is checked too)
  | "subscripts" // einsum's spec string
  | "tree" // a pytree of arrays (transform primals, loop carries, tree utilities)
  | "string"; // a format string or a checkpoint name (issue 11, implicit branch)

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
    kinds: ["Infinity", "negInfinity", "fractional", "negative", "bigNegative", "huge", "hugeFloat", "null"],
    why: "API.md: vector norms of any order p, including ±Infinity; null is the default order (NumPy's ord=None)",
  },
  dtype: { kinds: [], why: "no bad kind is a dtype name" },
  options: { kinds: ["object"], why: "{} sets no option" },
  subscripts: { kinds: [], why: "no bad kind is an einsum spec for two 2x2 matrices" },
  key: { kinds: ["int32Array"], why: "an int32 array of shape [2] is a key" },
  string: {
    kinds: ["emptyString", "numericString", "string"],
    why: "any string is a format (no placeholders) or a name",
  },
  // issue 9, part A (opsA)
  offset: { kinds: ["negative", "bigNegative", "huge"], why: "any safe integer is a diagonal offset" },
  shift: {
    kinds: ["negative", "bigNegative", "huge", "bigList", "negList", "hugeList", "int32Array"],
    why: "rolls are cyclic: any safe integers are shifts (a list of two rolls axis 0 twice); an int32 array is a shift too (traced ones allowed, as JAX)",
  },
  sections: {
    kinds: ["bigList", "negList", "hugeList", "int32Array"],
    why: "split points are clamped to the axis and may be negative (NumPy's split); a concrete int32 array [1, 0] is a list of split points",
  },
  repeats: {
    kinds: ["bigList", "int32Array"],
    why: "[1e6, 1e6] repeats each of two rows a million times: valid; so does the int32 array [1, 0] (one count per row)",
  },
  ddof: { kinds: ["huge"], why: "ddof >= n is valid and gives inf or NaN, as NumPy" },
  arrayOrOptions: {
    kinds: [...NUMBERS, "true", ...NUMERIC_LISTS, ...ARRAYS, "object"],
    why: "meshgrid's last argument is one more 1-D coordinate array (any ArrayLike) or the options ({} sets none)",
  },
  fn: {
    kinds: ["function"],
    why: "() => 1 is a constant function, and its output 1 a leaf (grad and valueAndGrad throw GradError for it: checked by the sweep, as any throw must name the function)",
  },
  tree: {
    kinds: [
      ...NUMBERS,
      "true",
      ...NUMERIC_LISTS,
      ...ARRAYS,
      "undefined",
      "null",
      "object",
      "objectWithKeys",
      "ragged",
      "nullList",
      "objectList",
      "deep",
    ],
    why:
      "numbers, booleans and arrays are leaves; null/undefined/{} are empty nodes, lists and plain objects are nodes " +
      "(10,000 levels is the most API.md allows, so `deep` is valid)",
  },
};

interface Spec {
  /** A valid argument list (fresh each call). */
  args: () => unknown[];
  params: readonly Param[];
  /** Arguments from this index on are optional: undefined means the default. */
  required?: number;
  /** For transforms: calls what the transform returned (a transformed function), so that lazy checks run too. */
  call?: (made: unknown) => unknown;
  /** Kinds legitimate at one position of this function only (position -> kinds), each with its reason in a comment. */
  legit?: Record<number, readonly Kind[]>;
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
  take: {
    args: () => [M(), [0, 1], 0, { mode: "clip" }],
    params: ["array", "indices", "axisOrNull", "options"],
    required: 2,
  },
  takeAlongAxis: {
    args: () => [M(), nb.array([[0], [1]], { dtype: "int32" }), 1, { mode: "wrap" }],
    params: ["array", "indices", "axis", "options"],
    required: 3,
  },
  argsort: sorting(),
  sort: sorting(),
  cumsum: { args: () => [M(), 0], params: ["array", "axisOrNull"], required: 1 },
  cumprod: { args: () => [M(), 0], params: ["array", "axisOrNull"], required: 1 },
  matmul: binary(),
  dot: binary(),
  // opsB (issue 9)
  conv: {
    args: () => [nb.ones([1, 1, 3]), nb.ones([1, 1, 2]), {}],
    params: ["array", "array", "options"],
    required: 2,
  },
  at: { args: () => [M(), nb.array([0], { dtype: "int32" })], params: ["array", "indices"] },
  einsum: { args: () => ["ij,jk->ik", M(), M()], params: ["subscripts", "array", "array"] },
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
  // opsC: linear algebra
  "linalg.svd": { args: () => [M(), {}], params: ["array", "options"], required: 1 },
  "linalg.eigvalsh": squareMatrix(),
  "linalg.lu": squareMatrix(),
  "linalg.expm": squareMatrix(),
  "linalg.pinv": { args: () => [M(), 1e-15], params: ["array", "number"], required: 1 },
  "linalg.lstsq": { args: () => [M(), [1, 2], 1e-15], params: ["array", "array", "number"], required: 2 },
  "linalg.norm": { args: () => [M(), 2, undefined, false], params: ["array", "ord", "axes", "bool"], required: 1 },
  "random.key": { args: () => [0], params: ["seed"] },
  "random.split": { args: () => [KEY(), 2], params: ["key", "int"], required: 1 },
  "random.uniform": { args: () => [KEY(), [2], {}], params: ["key", "shape", "options"], required: 1 },
  "random.normal": { args: () => [KEY(), [2], {}], params: ["key", "shape", "options"], required: 1 },
  "random.bernoulli": { args: () => [KEY(), 0.5, [2]], params: ["key", "array", "shape"], required: 1 },
  // issue 9, part A (opsA)
  std: { args: () => [M(), 0, false, 0], params: ["array", "axes", "bool", "ddof"], required: 1 },
  var: { args: () => [M(), 0, false, 0], params: ["array", "axes", "bool", "ddof"], required: 1 },
  nanToNum: { args: () => [M(), { nan: 0 }], params: ["array", "options"], required: 1 },
  isclose: { args: () => [M(), M(), { rtol: 1e-5 }], params: ["array", "array", "options"], required: 2 },
  allclose: { args: () => [M(), M(), { atol: 1e-8 }], params: ["array", "array", "options"], required: 2 },
  tril: { args: () => [M(), 0], params: ["array", "offset"], required: 1 },
  triu: { args: () => [M(), 0], params: ["array", "offset"], required: 1 },
  split: { args: () => [M(), 2, 0], params: ["array", "sections", "axis"], required: 2 },
  roll: { args: () => [M(), 1, 0], params: ["array", "shift", "axisOrNull"], required: 2 },
  repeat: { args: () => [M(), 2, 0, {}], params: ["array", "repeats", "axisOrNull", "options"], required: 2 },
  meshgrid: {
    args: () => [[1, 2], [3, 4], { indexing: "ij" }],
    params: ["array", "array", "arrayOrOptions"],
    required: 2,
  },
  xlogy: binary(),
  xlog1py: binary(),
  // opsC: random
  "random.randint": { args: () => [KEY(), [2], 0, 5], params: ["key", "shape", "array", "array"] },
  "random.permutation": { args: () => [KEY(), 4, 0, false], params: ["key", "array", "axis", "bool"], required: 2 },
  "random.shuffle": { args: () => [KEY(), M(), 0], params: ["key", "array", "axis"], required: 2 },
  "random.categorical": { args: () => [KEY(), M(), -1, [2]], params: ["key", "array", "axis", "shape"], required: 2 },
  "random.choice": {
    args: () => [KEY(), 3, [2], true, [0.2, 0.3, 0.5], 0],
    params: ["key", "array", "shape", "bool", "array", "axis"],
    required: 2,
  },
  "random.truncatedNormal": {
    args: () => [KEY(), -1, 1, [2], {}],
    params: ["key", "array", "array", "shape", "options"],
    required: 3,
  },
};
for (const name of "isnan isinf isfinite lgamma digamma erfc erfinv logit".split(" ")) SPECS[name] = unary();
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

const sq = (x: nb.NDArray) => nb.sum(nb.mul(x, x));
const id = (x: unknown) => x;
/** Calls a transformed function of one array argument. */
const on =
  (...a: unknown[]) =>
  (g: unknown) =>
    (g as (...b: unknown[]) => unknown)(...a);
const TRANSFORM_SPECS: Record<string, Spec> = {
  grad: { args: () => [sq, {}], params: ["fn", "options"], required: 1, call: on(M()) },
  valueAndGrad: { args: () => [sq, {}], params: ["fn", "options"], required: 1, call: on(M()) },
  jvp: { args: () => [nb.sin, [M()], [M()]], params: ["fn", "list", "list"] },
  vjp: { args: () => [id, M()], params: ["fn", "tree"] },
  linearize: { args: () => [id, M()], params: ["fn", "tree"] },
  jacfwd: { args: () => [nb.sin, {}], params: ["fn", "options"], required: 1, call: on(M()) },
  jacrev: { args: () => [nb.sin, {}], params: ["fn", "options"], required: 1, call: on(M()) },
  hessian: { args: () => [sq, {}], params: ["fn", "options"], required: 1, call: on(M()) },
  vmap: { args: () => [nb.sin, {}], params: ["fn", "options"], required: 1, call: on(M()) },
  jit: { args: () => [nb.sin, {}], params: ["fn", "options"], required: 1, call: on(M()) },
  makeGraph: { args: () => [nb.sin], params: ["fn"], call: on(M()) },
  customJvp: {
    args: () => [nb.sin, (p: nb.NDArray[]) => [nb.sin(p[0]!), nb.zeros([2, 2])]],
    params: ["fn", "fn"],
    call: on(M()),
  },
  customVjp: {
    args: () => [nb.sin, (x: nb.NDArray) => [nb.sin(x), x], () => [nb.zeros([2, 2])]],
    params: ["fn", "fn", "fn"],
    call: on(M()),
  },
  checkpoint: { args: () => [nb.sin], params: ["fn"], call: on(M()) },
  cond: { args: () => [true, () => M(), () => M()], params: ["array", "fn", "fn"] },
  whileLoop: {
    args: () => [() => false, id, M()],
    params: ["fn", "fn", "tree"],
    // the body never runs when the condition is false at once, so any function is a valid body
    legit: { 1: ["function"] },
  },
  forLoop: {
    args: () => [0, 2, (_i: unknown, x: unknown) => x, M()],
    params: ["int", "int", "fn", "tree"],
    // bounds are any int32 integers: a negative bound gives a shifted or empty range
    legit: { 0: ["negative", "bigNegative"], 1: ["negative", "bigNegative"] },
  },
  scan: { args: () => [(c: unknown, x: unknown) => [c, x], M(), M()], params: ["fn", "tree", "array"] },
  // issue 11 (jet branch)
  jet: { args: () => [nb.sin, [M()], [[M()]]], params: ["fn", "list", "list"] },
  // issue 11 (implicit branch)
  customRoot: {
    args: () => [(x: unknown) => x, M(), (_f: unknown, x0: unknown) => x0, (_g: unknown, y: unknown) => y],
    params: ["fn", "tree", "fn", "fn"],
  },
  customLinearSolve: {
    args: () => [(x: unknown) => x, M(), (_mv: unknown, b: unknown) => b, (_mv: unknown, b: unknown) => b],
    params: ["fn", "tree", "fn", "fn"],
    required: 3,
  },
  linearTranspose: { args: () => [(x: unknown) => x, M()], params: ["fn", "tree"] },
  associativeScan: { args: () => [nb.add, M(), {}], params: ["fn", "tree", "options"], required: 2 },
  "debug.print": { args: () => ["{}", M()], params: ["string", "tree"], required: 1 },
  "debug.callback": { args: () => [() => {}, M()], params: ["fn", "tree"], required: 1 },
  config: { args: () => [{}], params: ["options"], required: 0 },
  // devices (docs/webgpu.md): a device name is "cpu" or "webgpu"; anything else throws DeviceError
  init: { args: () => ["cpu"], params: ["string"] },
  devices: { args: () => [], params: [] },
  defaultDevice: { args: () => ["cpu"], params: ["string"], required: 0 },
  devicePut: { args: () => [M(), "cpu"], params: ["tree", "string"], legit: { 0: ["uint8"] } },
  deviceGet: { args: () => [[M()]], params: ["tree"], legit: { 0: ["uint8"] } },
  checkpointName: { args: () => [M(), "h"], params: ["array", "string"] },
  "checkpointPolicies.saveOnlyTheseNames": { args: () => ["h"], params: ["string"], required: 0 },
  "tree.map": {
    args: () => [id, [M()]],
    params: ["fn", "tree"],
    // tree.map applies any function to the leaves: () => 1 maps every leaf to 1
    legit: { 0: ["function"], 1: ["uint8"] },
  },
  "tree.flatten": { args: () => [[M()]], params: ["tree"], legit: { 0: ["uint8"] } },
  "tree.unflatten": {
    args: () => [nb.tree.structure([1]), [M()]],
    params: ["options", "list"],
    // a one-leaf structure puts the one list entry, whatever it is, at its leaf (as jax.tree_util.tree_unflatten)
    legit: { 1: ["deep", "selfCyclic", "symbolList"] },
  },
  "tree.leaves": { args: () => [[M()]], params: ["tree"], legit: { 0: ["uint8"] } },
  "tree.structure": { args: () => [[M()]], params: ["tree"], legit: { 0: ["uint8"] } },
  "tree.register": {
    args: () => [class Unused {}, () => [[], null], () => ({})],
    params: ["options", "fn", "fn"],
    // register stores the flatten/unflatten functions; () => 1 is checked when a registered instance is flattened
    legit: { 1: ["function"], 2: ["function"] },
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
  DeviceError: "an error class",
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
  if (spec.legit?.[pos]?.includes(kind)) return true;
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
        : () => (spec.call ? spec.call(f(...args)) : f(...args));
      // NABLA_BAD_INPUTS_TRACE=1 prints each call before it runs (to find a call that hangs)
      if (process.env.NABLA_BAD_INPUTS_TRACE) process.stderr.write(`${label}\n`);
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
    it(`${name}`, () => {
      expect(sweep(name, FUNCTIONS.get(name)!, spec)).toEqual([]);
    });
  }

  it("after all those errors the library still works (the trace stack is empty)", () => {
    const g = nb.grad((x: nb.NDArray) => nb.sum(nb.mul(x, x)))(nb.array([1, 2]));
    expect(Array.from(g.toTypedArray())).toEqual([2, 4]);
    // a traced value from a fresh transform sees no stale trace: jit of the same works too
    const j = nb.jit((x: nb.NDArray) => nb.mul(x, 3))(nb.array([1, 2]));
    expect(Array.from(j.toTypedArray())).toEqual([3, 6]);
  });
});

describe("options objects: one validator, one message format, in ops, transforms, nabla/optim and nabla/nn", () => {
  const msg = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(nb.NablaError);
      return (e as Error).message;
    }
    return expect.fail("expected a NablaError");
  };
  it("an unknown key names the function, the key and every known option", () => {
    expect(msg(() => nb.linalg.svd(nb.eye(2), { full: true } as never))).toBe(
      'svd: unknown option "full" (the options are "fullMatrices", "computeUv")',
    );
    expect(msg(() => nb.vmap(nb.sin, { inaxes: 0 } as never))).toBe(
      'vmap: unknown option "inaxes" (the options are "inAxes", "outAxes")',
    );
  });
  it("anything but a plain object is rejected with the same message, naming what was given", async () => {
    const { adam } = await import("../src/optim/index.js");
    const { gelu } = await import("../src/nn/index.js");
    const bad: [unknown, string][] = [
      [null, "null"],
      [3, "3"],
      [[1], "an array of length 1"],
      [new Date(0), "an instance of Date"],
    ];
    for (const [v, what] of bad) {
      const end = `: options must be a plain object, got ${what}`;
      expect(msg(() => nb.linalg.svd(nb.eye(2), v as never))).toBe(`svd${end}`);
      expect(msg(() => nb.grad(nb.sin, v as never))).toBe(`grad${end}`);
      expect(msg(() => adam(0.1, v as never))).toBe(`adam${end}`);
      expect(msg(() => gelu(1, v as never))).toBe(`gelu${end}`);
    }
  });
  it("a hole in vmap's inAxes is rejected when the options are read, like an explicit undefined", () => {
    // eslint-disable-next-line no-sparse-arrays
    const holey = [, 0] as unknown as number[];
    expect(msg(() => nb.vmap(nb.add, { inAxes: holey }))).toBe(
      "vmap: inAxes entries must be integers or null, got undefined",
    );
    expect(() => nb.vmap(nb.add, { inAxes: holey })).toThrow(nb.ShapeError);
  });
  it("the transforms' options: unknown keys and non-boolean flags, in the ops' message format", () => {
    // checkpoint took any key ({ polcy }) and ignored it
    expect(msg(() => nb.checkpoint(nb.sin, { polcy: null } as never))).toBe(
      'checkpoint: unknown option "polcy" (the options are "policy")',
    );
    for (const [name, make] of [
      ["grad", (o: unknown) => nb.grad(nb.sin, o as never)],
      ["valueAndGrad", (o: unknown) => nb.valueAndGrad(nb.sin, o as never)],
      ["jacfwd", (o: unknown) => nb.jacfwd(nb.sin, o as never)],
      ["jacrev", (o: unknown) => nb.jacrev(nb.sin, o as never)],
      ["hessian", (o: unknown) => nb.hessian(nb.sin, o as never)],
      ["checkpoint", (o: unknown) => nb.checkpoint(nb.sin, o as never)],
    ] as const)
      expect(msg(() => make({ argnum: 0 }))).toMatch(
        new RegExp(`^${name}: unknown option "argnum" \\(the options are `),
      );
    // a flag is a boolean: 1 and "yes" are mistakes, not truthy (the same words as an op's flag, sum's keepdims)
    expect(msg(() => nb.sum(nb.ones([2]), 0, "yes" as never))).toBe(
      'sum: keepdims must be true or false, got the string "yes"',
    );
    expect(msg(() => nb.grad((y: nb.NDArray) => [nb.sum(y), 1], { hasAux: "yes" as never }))).toBe(
      'grad: hasAux must be true or false, got the string "yes"',
    );
    expect(msg(() => nb.grad((y: nb.NDArray) => [nb.sum(y), 1], { hasAux: 1 as never })(nb.ones([2])))).toBe(
      "grad: hasAux must be true or false, got 1",
    );
    expect(msg(() => nb.valueAndGrad(nb.sin, { hasAux: 0 as never }))).toBe(
      "valueAndGrad: hasAux must be true or false, got 0",
    );
  });
  it("the options are read once: mutating the object afterwards changes nothing", () => {
    const o: { inAxes: number | null } = { inAxes: 0 };
    const f = nb.vmap((x: nb.NDArray) => nb.mul(x, 2), o);
    o.inAxes = null;
    expect(Array.from(f(nb.array([1, 2])).toTypedArray())).toEqual([2, 4]);
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
  it("transforms and loops: options, bounds and conditions are checked where they are given", () => {
    expect(msg(() => nb.grad((x: nb.NDArray) => x, new Date(0) as never))).toMatch(
      /^grad: options must be a plain object/,
    );
    expect(msg(() => nb.jacfwd(nb.sin, null as never))).toMatch(/^jacfwd: options must be a plain object, got null$/);
    expect(msg(() => nb.vmap(nb.sin, { inaxes: 0 } as never))).toMatch(/^vmap: unknown option "inaxes"/);
    // a number condition would loop forever; lax.while_loop also requires a boolean
    expect(
      msg(() =>
        nb.whileLoop(
          () => 1 as never,
          (x) => x,
          0,
        ),
      ),
    ).toMatch(/^whileLoop: .*boolean.*float64/);
    expect(msg(() => nb.forLoop(0, 2 ** 31, (_i, x) => x, 0))).toMatch(/^forLoop: upper must be an integer/);
    expect(
      msg(() =>
        nb.whileLoop(
          () => false,
          (x) => x,
          ["a"] as never,
        ),
      ),
    ).toMatch(/^whileLoop: .*string/);
    expect(
      msg(() =>
        nb.tree.register(
          (() => 1) as never,
          () => [[], null],
          () => ({}),
        ),
      ),
    ).toMatch(/^tree.register: expected a class/);
    expect(msg(() => nb.linalg.norm([1, 2], [Symbol("x")] as never))).toMatch(/^norm: ord must be/);
    // softmax over an empty axis: no elements, no error (as jax.nn.softmax)
    expect(nb.softmax(nb.zeros([0])).shape).toEqual([0]);
    expect(nb.softmax(nb.zeros([3, 0]), 1).shape).toEqual([3, 0]);
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
