/**
 * `importGraph` on bad files: every malformed, truncated, tampered or
 * newer-version file throws a NablaError whose message begins with
 * `importGraph` (never a TypeError, never a wrong result).
 *
 * The targeted cases each break one rule of the schema. The fast-check suite
 * mutates valid files: a mutated file either imports and computes exactly
 * what the original did, or throws NablaError (at import or at the call).
 * The mutations are the ones that cannot turn a file into a *different valid
 * program* (replacing a value by one of another JSON type, deleting a field,
 * deleting or duplicating an entry of a definition list, swapping adjacent
 * equations, truncating the text); editing a number in place, by contrast,
 * can give another valid program (a constant 2 becomes 3), which no loader
 * can tell from the original.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as nb from "../src/index.js";
import { exportGraph, importGraph, type GraphJSON } from "../src/export/index.js";
import { expectSame } from "./support/export.js";
import { fcSettings } from "./support/rng.js";

const { SEED, RUNS } = fcSettings({ seed: 20261202, runs: 10 });

const c = nb.array([[0.5, -1, 2]]);
const f1 = (x: nb.NDArray, i: nb.NDArray) => nb.sum(nb.mul(nb.take(nb.cumsum(nb.tanh(nb.add(x, c)), 1), i, 1), 3), 0);
const x1 = nb.array([
  [1, 2, 3],
  [0.1, -0.2, 0.3],
]);
const i1 = nb.array([2, 0], { dtype: "int32" });
const f2 = (p: { w: nb.NDArray }, x: nb.NDArray) =>
  nb.whileLoop(
    (v: nb.NDArray) => nb.less(nb.max(v), 4),
    (v: nb.NDArray) => nb.add(nb.matmul(v, p.w), 0.5),
    x,
  );
const p2 = {
  w: nb.array([
    [1.1, 0],
    [0.2, 0.9],
  ]),
};
const x2 = nb.array([[0.5, 0.25]]);

const CASES: { f: (...a: any[]) => unknown; args: unknown[] }[] = [
  { f: f1, args: [x1, i1] },
  { f: f2, args: [p2, x2] },
  { f: nb.grad((x: nb.NDArray) => nb.sum(nb.sin(nb.transpose(x)))), args: [x1] },
];

const fresh = (k: number): GraphJSON => JSON.parse(JSON.stringify(exportGraph(CASES[k]!.f, ...CASES[k]!.args)));

/** Import must throw a NablaError beginning with importGraph. */
function expectRejected(file: unknown, pattern?: RegExp): void {
  let err: unknown = null;
  try {
    importGraph(file as GraphJSON);
  } catch (e) {
    err = e;
  }
  expect(err, "importGraph accepted a bad file").toBeInstanceOf(nb.NablaError);
  expect((err as Error).message).toMatch(/^importGraph: /);
  if (pattern) expect((err as Error).message).toMatch(pattern);
}

type J = any;
const edit = (k: number, change: (j: J) => void): J => {
  const j = fresh(k) as J;
  change(j);
  return j;
};

describe("importGraph rejects", () => {
  it("non-objects, other formats and newer versions", () => {
    for (const bad of [null, 1, "x", [], {}, { format: "onnx" }, true]) expectRejected(bad);
    expectRejected(
      edit(0, (j) => (j.version = 2)),
      /version 2, newer than this nabla reads \(1\)/,
    );
    expectRejected(
      edit(0, (j) => (j.version = "1")),
      /version/,
    );
    expectRejected(
      edit(0, (j) => (j.format = "nabla.graph2")),
      /format/,
    );
  });

  it("truncated text at every length", () => {
    const text = JSON.stringify(fresh(0));
    for (let n = 0; n < text.length; n += 7) expectRejected(text.slice(0, n));
  });

  it("unknown primitives, including names of Object.prototype", () => {
    for (const name of ["sinx", "__proto__", "constructor", "toString", "hasOwnProperty", "custom_jvp_call"])
      expectRejected(
        edit(0, (j) => (j.graph.equations[0].prim = name)),
        /unknown primitive/,
      );
  });

  it("a recorded aval that the shape rule contradicts", () => {
    expectRejected(
      edit(0, (j) => (j.graph.equations[0].outs[0].aval.shape = [2, 4])),
      /records f64\[2,4\]/,
    );
    expectRejected(edit(0, (j) => (j.graph.equations[0].outs[0].aval.dtype = "float32")));
    expectRejected(edit(0, (j) => (j.graph.equations[0].outs[0].aval.weak = true)));
    expectRejected(
      edit(0, (j) => (j.graph.equations[0].outs[0].aval.dtype = "complex128")),
      /dtype/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.equations[0].outs[0].aval.shape = [-2, 3])),
      /non-negative/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.equations[0].outs[0].aval.shape = [1e6, 1e6])),
      /more than/,
    );
  });

  it("parameters that do not validate", () => {
    const cumsum = (j: J) => j.graph.equations.find((e: J) => e.prim === "cumsum");
    expectRejected(
      edit(0, (j) => (cumsum(j).params.axis = 5)),
      /cumsum: axis 5 out of range/,
    );
    expectRejected(
      edit(0, (j) => (cumsum(j).params.axis = -1)),
      /kind nat/,
    );
    expectRejected(
      edit(0, (j) => (cumsum(j).params.axis = "1")),
      /kind nat/,
    );
    expectRejected(
      edit(0, (j) => (cumsum(j).params.reverse = 0)),
      /kind bool/,
    );
    expectRejected(
      edit(0, (j) => delete cumsum(j).params.reverse),
      /reverse/,
    );
    expectRejected(
      edit(0, (j) => (cumsum(j).params.extra = 1)),
      /no parameter "extra"/,
    );
    expectRejected(
      edit(0, (j) => (cumsum(j).params = [1])),
      /field params is missing or malformed/,
    );
    const sum = (j: J) => j.graph.equations.find((e: J) => e.prim === "reduce_sum");
    expectRejected(
      edit(0, (j) => (sum(j).params.axes = [0, 0])),
      /kind axes/,
    );
    expectRejected(
      edit(0, (j) => (sum(j).params.axes = [1.5])),
      /kind axes/,
    );
    expectRejected(
      edit(0, (j) => (sum(j).inputs = [...sum(j).inputs, 0])),
      /takes 1 operand/,
    );
    const loop = (j: J) => j.graph.equations.find((e: J) => e.prim === "while_loop");
    expectRejected(
      edit(1, (j) => (loop(j).params.nCond = 99)),
      /while_loop/,
    );
    expectRejected(
      edit(1, (j) => (loop(j).params.cond = 7)),
      /graph must be an object/,
    );
    expectRejected(edit(1, (j) => (loop(j).params.body.inputs[0].aval.shape = [3, 3])));
    expectRejected(
      edit(1, (j) => (loop(j).params.cond.equations[0].prim = "eval")),
      /unknown primitive/,
    );
  });

  it("literals whose data does not match their aval", () => {
    expectRejected(
      edit(0, (j) => j.graph.consts[0].data.pop()),
      /2 data elements for shape \[1,3\]/,
    );
    expectRejected(
      edit(0, (j) => j.graph.consts[0].data.push(1)),
      /data elements/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.consts[0].data[0] = "1")),
      /not a number/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.consts[0].data[0] = null)),
      /not a number/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.consts[0].aval.dtype = "int32")),
      /not a int32 value/,
    );
    expectRejected(
      edit(0, (j) => {
        j.graph.consts[0].aval.dtype = "float32";
        j.graph.consts[0].data[0] = 0.1;
      }),
      /not a float32 value/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.consts[0].aval.dtype = "bool")),
      /not a bool value/,
    );
    expectRejected(
      edit(0, (j) => delete j.graph.consts[0].data),
      /data/,
    );
  });

  it("out-of-range variable references, use before definition, cycles and redefinitions", () => {
    expectRejected(
      edit(0, (j) => (j.graph.equations[1].inputs[0] = 999)),
      /not defined before its use/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.equations[1].inputs[0] = -1)),
      /not defined/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.equations[1].inputs[0] = "0")),
      /not defined/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.outputs = [999])),
      /not defined/,
    );
    // use before definition: the first two (dependent) equations swapped
    expectRejected(
      edit(0, (j) => j.graph.equations.splice(0, 2, j.graph.equations[1], j.graph.equations[0])),
      /not defined before its use/,
    );
    // a cycle: an equation reading its own output
    expectRejected(
      edit(0, (j) => (j.graph.equations[0].inputs = [j.graph.equations[0].outs[0].id])),
      /not defined before its use/,
    );
    expectRejected(
      edit(0, (j) => (j.graph.equations[0].outs[0].id = 0)),
      /defined twice/,
    );
  });

  it("pytree structures that do not fit the graph", () => {
    expectRejected(
      edit(0, (j) => (j.inTree = { array: ["leaf"] })),
      /leaves for 2 graph inputs/,
    );
    expectRejected(
      edit(0, (j) => (j.outTree = { array: ["leaf", "leaf"] })),
      /leaves/,
    );
    expectRejected(
      edit(0, (j) => (j.inTree = "leaf")),
      /argument structure/,
    );
    expectRejected(
      edit(1, (j) => (j.inTree.array[0].object[0][0] = 5)),
      /object entry/,
    );
    expectRejected(
      edit(
        1,
        (j) =>
          (j.inTree = {
            array: [
              {
                object: [
                  ["w", "leaf"],
                  ["a", { none: "null" }],
                ],
              },
              "leaf",
            ],
          }),
      ),
      /sorted/,
    );
    expectRejected(
      edit(1, (j) => (j.inTree.array[1] = { none: "nil" })),
      /pytree/,
    );
  });
});

// ---------------------------------------------------------------------------
// mutations of valid files

type Path = (string | number)[];

/** Every path into a JSON value, with the value there. */
function paths(j: unknown, at: Path = [], out: [Path, unknown][] = []): [Path, unknown][] {
  out.push([at, j]);
  if (Array.isArray(j)) j.forEach((v, i) => paths(v, [...at, i], out));
  else if (j !== null && typeof j === "object") for (const [k, v] of Object.entries(j)) paths(v, [...at, k], out);
  return out;
}

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Lists whose entries define or reference things (deleting or duplicating one cannot give another valid program). */
const DEFINITION_LISTS = new Set(["inputs", "consts", "equations", "outputs", "outs", "data", "array", "object"]);

type Mutation =
  | { op: "retype"; at: number; value: unknown }
  | { op: "delete"; at: number }
  | { op: "duplicate"; at: number }
  | { op: "swap"; at: number };

/** Applies a mutation; returns false when it does not apply at that path (the file is then unchanged). */
function mutate(j: J, m: Mutation): boolean {
  const all = paths(j).slice(1);
  const [path, value] = all[m.at % all.length]!;
  const parent = path.slice(0, -1).reduce((o: J, k) => o[k], j);
  const key = path[path.length - 1]!;
  const listName = path[path.length - 2];
  const inList = Array.isArray(parent) && typeof listName === "string" && DEFINITION_LISTS.has(listName);
  switch (m.op) {
    case "retype":
      if (kind(m.value) === kind(value) && typeof value !== "string") return false;
      parent[key] = m.value;
      return true;
    case "delete":
      if (Array.isArray(parent)) {
        if (!inList) return false;
        parent.splice(key as number, 1);
      } else delete parent[key];
      return true;
    case "duplicate":
      if (!inList) return false;
      parent.splice(key as number, 0, JSON.parse(JSON.stringify(value)));
      return true;
    case "swap": {
      // adjacent equations: independent ones commute, dependent ones are used before definition
      if (listName !== "equations" || (key as number) + 1 >= parent.length) return false;
      const k = key as number;
      [parent[k], parent[k + 1]] = [parent[k + 1], parent[k]];
      return true;
    }
  }
}

const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("retype" as const),
    at: fc.nat(),
    value: fc.constantFrom<unknown>(null, {}, [], true, "x", 1.5, -1, [0], { id: 0 }),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("swap" as const), at: fc.nat() }),
);

it("mutated files either compute what the original did or throw NablaError", () => {
  const originals = CASES.map((k) => k.f(...k.args));
  fc.assert(
    fc.property(fc.nat({ max: CASES.length - 1 }), fc.array(arbMutation, { minLength: 1, maxLength: 3 }), (k, ms) => {
      const j = fresh(k);
      ms.forEach((m) => mutate(j, m));
      let out: unknown;
      try {
        out = importGraph(j)(...CASES[k]!.args);
      } catch (e) {
        if (!(e instanceof nb.NablaError)) throw e;
        expect(e.message).toMatch(/^importGraph: /);
        return;
      }
      expectSame(out, originals[k]);
    }),
    { seed: SEED, numRuns: 40 * RUNS },
  );
});
