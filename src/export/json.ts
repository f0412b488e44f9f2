/**
 * `exportGraph` / `importGraph`: a staged program as versioned JSON and back.
 *
 * Export stages the function with `makeGraph` and writes its graph (see
 * schema.ts and docs/export.md). Import never evaluates code from the data:
 * it looks primitives up by name in the primitive table, checks every
 * parameter's type, re-runs every equation's shape and dtype rule and
 * compares the result with the recorded aval, and rebuilds a Graph that
 * `evalGraph` runs through `bind` — so the imported function is
 * differentiable, batchable and stageable like any other.
 */
import { DTypeError, NablaError, ShapeError, fmtShape, at } from "../core/errors.js";
import type { ArraysOf, Returned } from "../core/types.js";
import { DType, allocate, isDType } from "../core/dtype.js";
import { Equation, Graph, Var, evalGraph } from "../core/graph.js";
import { ConcreteArray, NDArray, storageOf } from "../core/ndarray.js";
import { TreeDef, classOf, flatten } from "../core/pytree.js";
import { Aval, Rule, avalOf, fmtAval } from "../core/trace.js";
import { RULES } from "../prims/table.js";
import { WHILE_LOOP, WhileParams } from "../transforms/loopRules.js";
import { COND, type CondParams } from "../transforms/condRule.js";
import { makeGraph } from "../transforms/makeGraph.js";
import { jit } from "../transforms/jit.js";
import { fnArg, flattenToArrays, unflatten } from "../transforms/common.js";
import { PRIM_SPECS, PrimSpec, checkParams } from "./params.js";
import {
  AvalJSON,
  ConstJSON,
  EquationJSON,
  GRAPH_FORMAT,
  GRAPH_VERSION,
  GraphBodyJSON,
  GraphJSON,
  ScalarJSON,
  TreeJSON,
  VarJSON,
} from "./schema.js";

const EX = "exportGraph";
const IM = "importGraph";

/** Largest number of elements an aval of an imported file may have. */
const MAX_ELEMENTS = 2 ** 28;
/** Deepest nesting of sub-graphs an imported file may have. */
const MAX_DEPTH = 32;

/** The staged graph of `f` at the example arguments, with the input and output pytree structures. */
export function stage(
  op: string,
  f: (...args: never[]) => unknown,
  exampleArgs: readonly unknown[],
): { graph: Graph; inDef: TreeDef; outDef: TreeDef } {
  // a function (not async, not a class) whose result is checked on each call, in `op`'s name
  const g = fnArg(op, f);
  const [, inDef] = flattenToArrays(exampleArgs, op);
  // the output structure, recorded when makeGraph traces f (before it returns; the last trace counts)
  const outDefs: TreeDef[] = [];
  const graph = makeGraph((...a: unknown[]) => {
    const out = g(...(a as never[]));
    outDefs.push(flatten(out)[1]);
    return out;
  })(...exampleArgs);
  graph.consts.forEach((_, i) => constAt(graph, i, op));
  return { graph, inDef, outDef: at(outDefs, outDefs.length - 1, op) };
}

/** Constant `i` of a staged graph, which an exported program must have concrete. */
export function constAt(g: Graph, i: number, op: string): ConcreteArray {
  const c = at(g.consts, i, op);
  if (!(c instanceof ConcreteArray))
    throw new NablaError(
      `${op}: the program closes over a traced value (constant ${i}, ${fmtAval(avalOf(c))}); export it outside other transforms`,
    );
  return c;
}

// ---------------------------------------------------------------------------
// export

function avalJSON(a: Aval): AvalJSON {
  return { shape: a.shape.slice(), dtype: a.dtype, weak: a.weak };
}

function scalarJSON(v: number): ScalarJSON {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  if (Object.is(v, -0)) return "-0";
  return v;
}

function treeJSON(def: TreeDef): TreeJSON {
  switch (def.kind) {
    case "leaf":
      return "leaf";
    case "none":
      return { none: def.meta === null ? "null" : "undefined" };
    case "array":
      return { array: def.children.map(treeJSON) };
    case "object":
      return { object: (def.meta as string[]).map((k, i) => [k, treeJSON(at(def.children, i, "exportGraph"))]) };
    case "custom":
      throw new NablaError(
        `${EX}: a registered pytree class (${classOf(def, EX).name}) in the arguments or result cannot be exported; use arrays and plain objects`,
      );
  }
}

/** How one higher-order primitive's parameters (which carry graphs) are written and read. */
interface HigherOrder {
  rule: Rule;
  write(params: unknown, body: (g: Graph) => GraphBodyJSON): Record<string, unknown>;
  read(params: Record<string, unknown>, body: (j: unknown, what: string) => Graph, inAvals: Aval[]): unknown;
}

const nat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function sameAvals(a: readonly Aval[], b: readonly Aval[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = at(b, i, "importGraph"); // the lengths are equal
      return x.dtype === y.dtype && x.shape.length === y.shape.length && x.shape.every((d, j) => d === y.shape[j]);
    })
  );
}

const HIGHER_ORDER: Record<string, HigherOrder> = {
  // operands: the predicate, then what both branches take (each branch a closed graph over them)
  cond: {
    rule: COND as Rule,
    write: (p, body) => {
      const c = p as CondParams;
      return { whenFalse: body(c.whenFalse), whenTrue: body(c.whenTrue) };
    },
    read(p, body, ins) {
      if (Object.keys(p).sort().join(",") !== "whenFalse,whenTrue" || ins.length < 1)
        throw new NablaError(`${IM}: cond needs parameters whenFalse, whenTrue (graphs) and a predicate operand`);
      const whenFalse = body(p["whenFalse"], "cond whenFalse");
      const whenTrue = body(p["whenTrue"], "cond whenTrue");
      const xs = ins.slice(1);
      for (const g of [whenFalse, whenTrue])
        if (
          !sameAvals(
            g.inVars.map((v) => v.aval),
            xs,
          )
        )
          throw new ShapeError(`${IM}: cond's branch inputs do not match its operands`);
      return { whenFalse, whenTrue } satisfies CondParams;
    },
  },
  while_loop: {
    rule: WHILE_LOOP as Rule,
    write: (p, body) => {
      const w = p as WhileParams;
      return { cond: body(w.cond), body: body(w.body), nCond: w.nCond, nBody: w.nBody };
    },
    read(p, body, ins) {
      const keys = Object.keys(p).sort().join(",");
      if (
        keys !== "body,cond,nBody,nCond" ||
        !nat(p["nCond"]) ||
        !nat(p["nBody"]) ||
        p["nCond"] + p["nBody"] > ins.length
      )
        throw new NablaError(
          `${IM}: while_loop needs parameters cond, body (graphs) and nCond, nBody (operand counts)`,
        );
      const nc = p["nCond"];
      const nb = p["nBody"];
      const cond = body(p["cond"], "while_loop cond");
      const bodyG = body(p["body"], "while_loop body");
      const carry = ins.slice(nc + nb);
      const condIns = [...ins.slice(0, nc), ...carry];
      const bodyIns = [...ins.slice(nc, nc + nb), ...carry];
      if (
        !sameAvals(
          cond.inVars.map((v) => v.aval),
          condIns,
        ) ||
        !sameAvals(
          bodyG.inVars.map((v) => v.aval),
          bodyIns,
        )
      )
        throw new ShapeError(`${IM}: while_loop's cond or body inputs do not match its operands`);
      if (cond.outs[0]?.aval.dtype !== "bool") throw new DTypeError(`${IM}: while_loop's condition must return bool`);
      return { cond, body: bodyG, nCond: nc, nBody: nb } satisfies WhileParams;
    },
  },
};

const FUNCTION_PRIMS = new Set(["custom_jvp_call", "custom_vjp_call", "custom_vjp_lin"]);

function bodyJSON(g: Graph): GraphBodyJSON {
  const ids = new Map<Var, number>();
  const def = (v: Var): VarJSON => {
    const id = ids.size;
    ids.set(v, id);
    return { id, aval: avalJSON(v.aval) };
  };
  const inputs = g.inVars.map(def);
  const consts: ConstJSON[] = g.constVars.map((v, i) => {
    const c = constAt(g, i, EX);
    return { ...def(v), data: Array.from(storageOf(c), scalarJSON) };
  });
  const equations: EquationJSON[] = g.equations.map((e) => {
    const inputs = e.inputs.map((v) => {
      const id = ids.get(v);
      if (id === undefined)
        throw new NablaError(`exportGraph: internal: equation ${e.prim} reads an undefined variable`);
      return id;
    });
    let params: Record<string, unknown>;
    const ho = Object.hasOwn(HIGHER_ORDER, e.prim) ? HIGHER_ORDER[e.prim] : undefined;
    if (ho !== undefined) params = ho.write(e.params, bodyJSON);
    else if (Object.hasOwn(PRIM_SPECS, e.prim))
      params = JSON.parse(JSON.stringify(e.params)) as Record<string, unknown>;
    else if (FUNCTION_PRIMS.has(e.prim))
      throw new NablaError(
        `${EX}: the primitive ${e.prim} carries JavaScript functions (custom rules, checkpoint) and cannot be exported; export the function without customJvp/customVjp/checkpoint, or a derivative of it`,
      );
    else throw new NablaError(`${EX}: the primitive ${e.prim} cannot be exported`);
    return { prim: e.prim, params, inputs, outs: e.outs.map(def) };
  });
  const outputs = g.outs.map((v) => {
    if (v === null) throw new NablaError(`${EX}: a symbolic-zero output cannot be exported`);
    const id = ids.get(v);
    if (id === undefined) throw new NablaError(`exportGraph: internal: an output is an undefined variable`);
    return id;
  });
  return { inputs, consts, equations, outputs };
}

/**
 * Writes the staged program of `f` at the shapes and dtypes of the example
 * arguments as versioned JSON (format `nabla.graph`, see docs/export.md):
 * equations with primitive names and parameters, avals, and constants with
 * their data. `JSON.stringify` of the result is the file.
 * @example
 * const json = exportGraph((x) => nb.sum(nb.sin(x)), nb.zeros([3]));
 * json.graph.equations.map((e) => e.prim); // ["sin", "reduce_sum"]
 * importGraph(json)(nb.array([0, 1, 2])); // same as nb.sum(nb.sin(...))
 */
export function exportGraph(f: (...args: never[]) => unknown, ...exampleArgs: unknown[]): GraphJSON {
  const { graph, inDef, outDef } = stage(EX, f, exampleArgs);
  return {
    format: GRAPH_FORMAT,
    version: GRAPH_VERSION,
    inTree: treeJSON(inDef),
    outTree: treeJSON(outDef),
    graph: bodyJSON(graph),
  };
}

// ---------------------------------------------------------------------------
// import

function fail(msg: string): never {
  throw new NablaError(`${IM}: ${msg}`);
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function field<T>(o: Record<string, unknown>, k: string, what: string, ok: (v: unknown) => v is T): T {
  const v = o[k];
  if (!Object.hasOwn(o, k) || !ok(v))
    fail(`${what}: field ${k} is missing or malformed (${JSON.stringify(v)?.slice(0, 60)})`);
  return v;
}

const isArr = (v: unknown): v is unknown[] => Array.isArray(v);

function readAval(j: unknown, what: string): Aval {
  if (!isObj(j)) fail(`${what}: the aval must be an object`);
  const shape = field(j, "shape", what, isArr);
  if (!shape.every(nat)) fail(`${what}: the shape ${JSON.stringify(shape)} must list non-negative integers`);
  const dtype = field(j, "dtype", what, isDType);
  const weak = field(j, "weak", what, (v): v is boolean => typeof v === "boolean");
  let n = 1;
  for (const d of shape) n *= d;
  if (n > MAX_ELEMENTS) fail(`${what}: shape ${fmtShape(shape)} has more than ${MAX_ELEMENTS} elements`);
  return { shape, dtype, weak };
}

function readScalar(v: unknown, dtype: DType, what: string): number {
  let x: number;
  if (typeof v === "number") x = v;
  else if (v === "NaN") x = NaN;
  else if (v === "Infinity") x = Infinity;
  else if (v === "-Infinity") x = -Infinity;
  else if (v === "-0") x = -0;
  else fail(`${what}: data element ${JSON.stringify(v)} is not a number`);
  const ok =
    dtype === "float64"
      ? true
      : dtype === "float32"
        ? Number.isNaN(x) || Math.fround(x) === x
        : dtype === "int32"
          ? x === (x | 0) && !Object.is(x, -0)
          : x === 0 || x === 1;
  if (!ok) fail(`${what}: data element ${JSON.stringify(v)} is not a ${dtype} value`);
  return x;
}

function readTree(j: unknown, depth = 0): TreeDef {
  if (depth > 64) fail("the pytree structure is nested too deeply");
  if (j === "leaf") return new TreeDef("leaf");
  if (!isObj(j)) fail(`malformed pytree structure ${JSON.stringify(j)?.slice(0, 60)}`);
  const keys = Object.keys(j);
  if (keys.length === 1 && keys[0] === "none" && (j["none"] === "null" || j["none"] === "undefined"))
    return new TreeDef("none", [], j["none"] === "null" ? null : "undefined");
  if (keys.length === 1 && keys[0] === "array" && isArr(j["array"]))
    return new TreeDef(
      "array",
      j["array"].map((c) => readTree(c, depth + 1)),
    );
  if (keys.length === 1 && keys[0] === "object" && isArr(j["object"])) {
    const entries = j["object"];
    const names: string[] = [];
    const children: TreeDef[] = [];
    for (const e of entries) {
      if (!isArr(e) || e.length !== 2 || typeof e[0] !== "string") fail("malformed object entry in a pytree structure");
      if (names.length > 0 && !(at(names, names.length - 1, "importGraph") < e[0]))
        fail("object keys of a pytree structure must be distinct and sorted");
      names.push(e[0]);
      children.push(readTree(e[1], depth + 1));
    }
    return new TreeDef("object", children, names);
  }
  fail(`malformed pytree structure ${JSON.stringify(j).slice(0, 60)}`);
}

/** Re-raises an error of a shape rule as the same kind of NablaError, beginning with importGraph. */
function rethrow(e: unknown, what: string): never {
  const msg = e instanceof Error ? e.message : String(e);
  const C = e instanceof ShapeError ? ShapeError : e instanceof DTypeError ? DTypeError : NablaError;
  throw new C(`${IM}: ${what}: ${msg}`);
}

/** A primitive's rule with how its parameters are read: a higher-order row's own reader, or a spec. */
type Lookup =
  { rule: Rule; ho: HigherOrder; spec?: undefined } | { rule: Rule; ho?: undefined; spec: PrimSpec<unknown> };

function lookupRule(prim: string, what: string): Lookup {
  if (Object.hasOwn(HIGHER_ORDER, prim)) {
    const ho = at(HIGHER_ORDER, prim, "importGraph");
    return { rule: ho.rule, ho };
  }
  if (Object.hasOwn(PRIM_SPECS, prim) && Object.hasOwn(RULES, prim)) {
    const rules = RULES as Record<string, Rule>;
    const specs = PRIM_SPECS as Record<string, PrimSpec<unknown>>;
    return { rule: at(rules, prim, "importGraph"), spec: at(specs, prim, "importGraph") };
  }
  fail(`${what}: unknown primitive ${JSON.stringify(prim)?.slice(0, 60)}`);
}

function readBody(j: unknown, where: string, depth: number): Graph {
  if (depth > MAX_DEPTH) fail(`${where}: sub-graphs are nested too deeply`);
  if (!isObj(j)) fail(`${where}: the graph must be an object`);
  const vars = new Map<number, Var>();
  let nextId = 0;
  const define = (d: unknown, what: string): Var => {
    if (!isObj(d)) fail(`${what}: a variable must be an object with id and aval`);
    const id = field(d, "id", what, nat);
    if (vars.has(id)) fail(`${what}: variable ${id} is defined twice`);
    const v = new Var(readAval(d["aval"], what), nextId++);
    vars.set(id, v);
    return v;
  };
  const use = (id: unknown, what: string): Var => {
    const v = typeof id === "number" ? vars.get(id) : undefined;
    if (v === undefined) fail(`${what}: variable ${JSON.stringify(id)} is not defined before its use`);
    return v;
  };
  const inVars = field(j, "inputs", where, isArr).map((d, i) => define(d, `${where} input ${i}`));
  const constVars: Var[] = [];
  const consts: NDArray[] = [];
  field(j, "consts", where, isArr).forEach((d, i) => {
    const what = `${where} constant ${i}`;
    const v = define(d, what);
    const data = field(d as Record<string, unknown>, "data", what, isArr);
    const n = v.aval.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n)
      fail(`${what}: ${data.length} data elements for shape ${fmtShape(v.aval.shape)} (${n} elements)`);
    const store = allocate(v.aval.dtype, n);
    data.forEach((x, k) => (store[k] = readScalar(x, v.aval.dtype, what)));
    constVars.push(v);
    consts.push(new ConcreteArray(store, v.aval.shape.slice(), v.aval.dtype, v.aval.weak));
  });
  const equations: Equation[] = field(j, "equations", where, isArr).map((ej, i) => {
    const what = `${where} equation ${i}`;
    if (!isObj(ej)) fail(`${what}: an equation must be an object`);
    const prim = field(ej, "prim", what, (v): v is string => typeof v === "string");
    const found = lookupRule(prim, what);
    const { rule } = found;
    const ins = field(ej, "inputs", what, isArr).map((id) => use(id, `${what} (${prim})`));
    const pj = field(ej, "params", what, isObj);
    const inAvals = ins.map((v) => v.aval);
    const params = found.ho
      ? found.ho.read(pj, (g, sub) => readBody(g, `${what} (${sub})`, depth + 1), inAvals)
      : checkParams(`${IM}: ${what}`, prim, found.spec, pj, ins.length);
    let avals: Aval[];
    try {
      avals = rule.abstractEval(inAvals, params);
    } catch (e) {
      rethrow(e, `${what} (${prim})`);
    }
    const outsJ = field(ej, "outs", what, isArr);
    if (outsJ.length !== avals.length)
      fail(`${what}: ${prim} has ${avals.length} output(s), the file lists ${outsJ.length}`);
    const outs = outsJ.map((d, k) => {
      const v = define(d, `${what} output ${k}`);
      const a = at(avals, k, "importGraph");
      if (!sameAvals([v.aval], [a]) || v.aval.weak !== a.weak)
        throw new ShapeError(
          `${IM}: ${what}: ${prim} gives ${fmtAval(a)}${a.weak ? " (weak)" : ""} for output ${k}, the file records ${fmtAval(v.aval)}${v.aval.weak ? " (weak)" : ""}`,
        );
      return v;
    });
    return { prim: rule.name, rule, inputs: ins, params, outs };
  });
  const outs = field(j, "outputs", where, isArr).map((id, k) => use(id, `${where} output ${k}`));
  return new Graph(inVars, constVars, consts, equations, outs);
}

function checkArgs(inDef: TreeDef, graph: Graph, args: unknown[]): NDArray[] {
  const [leaves, def] = flattenToArrays(args, IM);
  if (!def.equals(inDef))
    throw new ShapeError(`${IM}: the imported function takes arguments of structure ${inDef}, got ${def}`);
  leaves.forEach((x, i) => {
    const a = at(graph.inVars, i, "checkArgs").aval;
    if (x.dtype !== a.dtype)
      throw new DTypeError(
        `${IM}: argument leaf ${i} has dtype ${x.dtype}, the graph expects ${a.dtype} (shape ${fmtShape(a.shape)})`,
      );
    if (x.ndim !== a.shape.length || x.shape.some((d, k) => d !== a.shape[k]))
      throw new ShapeError(
        `${IM}: argument leaf ${i} has shape ${fmtShape(x.shape)}, the graph expects ${fmtShape(a.shape)}`,
      );
  });
  return leaves;
}

/** Reads and checks a graph file: the Graph and its pytree structures. */
export function readGraph(file: unknown): { graph: Graph; inDef: TreeDef; outDef: TreeDef } {
  try {
    let json = file;
    if (typeof file === "string")
      try {
        json = JSON.parse(file) as unknown;
      } catch (e) {
        fail(`the text is not valid JSON (truncated?): ${(e as Error).message}`);
      }
    if (!isObj(json)) fail("the file must be a JSON object");
    if (json["format"] !== GRAPH_FORMAT) fail(`the format must be ${JSON.stringify(GRAPH_FORMAT)}`);
    const version = json["version"];
    if (!nat(version) || version < 1) fail(`malformed version ${JSON.stringify(version)}`);
    if (version > GRAPH_VERSION)
      fail(`the file has format version ${version}, newer than this nabla reads (${GRAPH_VERSION}); upgrade nabla`);
    const graph = readBody(json["graph"], "graph", 0);
    const inDef = readTree(json["inTree"]);
    const outDef = readTree(json["outTree"]);
    if (inDef.kind !== "array") fail("the argument structure must be an array (the argument list)");
    if (inDef.numLeaves !== graph.inVars.length)
      fail(`the argument structure has ${inDef.numLeaves} leaves for ${graph.inVars.length} graph inputs`);
    if (outDef.numLeaves !== graph.outs.length)
      fail(`the result structure has ${outDef.numLeaves} leaves for ${graph.outs.length} graph outputs`);
    return { graph, inDef, outDef };
  } catch (e) {
    if (e instanceof NablaError) throw e;
    rethrow(e, "malformed file");
  }
}

/**
 * Loads a graph written by {@link exportGraph} (the object, or its JSON
 * text) as a function equal to
 * `jit(f)` at the exported signature; `grad`, `jvp`, `vmap` and `jit` of it
 * work. Malformed, truncated, tampered or newer-version files throw
 * NablaError (no code in the data is ever evaluated); arguments whose shapes
 * or dtypes differ from the exported ones throw ShapeError / DTypeError.
 * The file's types are not known statically: the result is typed
 * `(...args: unknown[]) => NDArray` unless the caller states the signature,
 * `importGraph<(p: Params, x: NDArray) => [NDArray, NDArray]>(json)` (an
 * assertion, as with `JSON.parse`; the avals are checked at run time).
 * @typeParam F - the signature of the exported function (default: arrays in, one array out)
 * @example
 * const f = (x: nb.NDArray) => nb.sum(nb.mul(x, x));
 * const g = importGraph(JSON.parse(JSON.stringify(exportGraph(f, nb.zeros([2])))));
 * g(nb.array([1, 2])); // array(5.)
 * nb.grad(g)(nb.array([1, 2])); // array([2., 4.])
 */
export function importGraph<F extends (...args: never[]) => unknown = (...args: unknown[]) => NDArray>(
  json: GraphJSON | string,
): F {
  const { graph, inDef, outDef } = readGraph(json);
  return jit(
    (...args: unknown[]): ArraysOf<Returned> =>
      unflatten(outDef, evalGraph(graph, checkArgs(inDef, graph, args))) as ArraysOf<Returned>,
  ) as unknown as F;
}
