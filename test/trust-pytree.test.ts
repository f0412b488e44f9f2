// These tests hand nabla deliberately ill-typed or dynamically typed values (untrusted JSON,
// wrong arities, dead tracers) to check the runtime checks; each such line carries a
// `@ts-expect-error` (or a cast through unknown) saying why, and the rest is type-checked.
// The static types are tested in test/types.test.ts.
/**
 * Issue 6, "Immutability and pytrees from untrusted data" and "Transforms
 * check their inputs" (API.md "Semantics settled"): keys are ordinary own
 * keys, cycles / deep nesting / holes / Map / Set / unregistered classes
 * throw NablaError, TreeDef and array metadata are immutable, transforms
 * check their functions, options (read once) and what the functions return,
 * async functions leave no unhandled rejection, and after any error the
 * trace stack is empty.
 *
 * Values are checked against closed forms computed by hand in float64
 * (gradients of sums, products and sin are exact up to one or two roundings,
 * so 1e-12 relative is used).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { traceDepth } from "../src/core/trace.js";
import { expectClose, vals } from "./support/assert.js";

type A = nb.NDArray;
const CF = 1e-12;

/** Runs `f`, expecting a NablaError (subclass `cls`) whose message begins with `prefix`; returns it. */
function throwsNabla(f: () => unknown, prefix: string, cls: new (m: string) => nb.NablaError = nb.NablaError): Error {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  if (err === undefined) return expect.fail(`expected ${cls.name} beginning "${prefix}", nothing was thrown`);
  if (!(err instanceof cls) || !(err instanceof nb.NablaError))
    return expect.fail(`expected ${cls.name} beginning "${prefix}", got ${String(err)}`);
  expect(err.message.startsWith(prefix), `message "${err.message}" should begin with "${prefix}"`).toBe(true);
  return err;
}

/** A chain of `depth` nested one-element arrays around `leaf`. */
function nest(depth: number, leaf: unknown): unknown {
  let x = leaf;
  for (let i = 0; i < depth; i++) x = [x];
  return x;
}

/** The innermost value of a chain built by {@link nest}, and the chain's depth. */
function unnest(x: unknown): [unknown, number] {
  let d = 0;
  while (Array.isArray(x)) {
    x = x[0];
    d++;
  }
  return [x, d];
}

describe("pytrees from untrusted data: keys are ordinary own keys", () => {
  it("grad over JSON with a __proto__ key returns an own __proto__ key holding its gradient", () => {
    const p = JSON.parse('{"__proto__":1,"a":2}') as Record<string, number>;
    const g = nb.grad((q: Record<string, A>) => nb.mul(nb.add(q["__proto__"]!, q.a!), q.a!))(p) as Record<string, A>;
    // d/dp [(p + a) a] = a = 2, d/da = p + 2a = 5
    expect(Object.getPrototypeOf(g)).toBe(Object.prototype);
    expect(Object.keys(g)).toEqual(["__proto__", "a"]);
    expect(Object.prototype.hasOwnProperty.call(g, "__proto__")).toBe(true);
    expectClose(Object.getOwnPropertyDescriptor(g, "__proto__")!.value as A, 2, [], CF);
    expectClose(g.a!, 5, [], CF);
  });

  it("tree.map over JSON cannot set a prototype (isAdmin stays undefined)", () => {
    const out = nb.tree.map((l) => l, JSON.parse('{"__proto__":{"isAdmin":true}}')) as Record<string, unknown>;
    expect(out.isAdmin).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, "__proto__")!.value).toEqual({ isAdmin: true });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it("constructor, prototype, hasOwnProperty and toString are data keys in flatten, unflatten and transforms", () => {
    const text = '{"constructor":1,"prototype":2,"hasOwnProperty":3,"toString":4,"valueOf":{"__proto__":5}}';
    const [leaves, def] = nb.tree.flatten(JSON.parse(text));
    // sorted keys: constructor, hasOwnProperty, prototype, toString, valueOf
    expect(leaves).toEqual([1, 3, 2, 4, 5]);
    const back = nb.tree.unflatten(def, [10, 30, 20, 40, 50]) as Record<string, unknown>;
    expect(JSON.stringify(back)).toBe(
      '{"constructor":10,"hasOwnProperty":30,"prototype":20,"toString":40,"valueOf":{"__proto__":50}}',
    );
    expect(Object.getPrototypeOf(back.valueOf)).toBe(Object.prototype);
    const g = nb.grad((q: Record<string, A>) => nb.sum(nb.stack(nb.tree.leaves(q) as A[])))(JSON.parse(text)) as Record<
      string,
      unknown
    >;
    expect(Object.keys(g).sort()).toEqual(["constructor", "hasOwnProperty", "prototype", "toString", "valueOf"]);
    expectClose(Object.getOwnPropertyDescriptor(g.valueOf, "__proto__")!.value as A, 1, [], CF);
  });

  it("a plain object whose own constructor property names a registered class is still a plain object", () => {
    class Layer {
      constructor(readonly w: A) {}
    }
    let flattenCalls = 0;
    nb.tree.register(
      Layer,
      (l) => {
        flattenCalls++;
        return [[l.w], null];
      },
      (_m, [w]) => new Layer(w as A),
    );
    // the spoofing object is a plain object: its `constructor` key is data, here a function, which is no leaf
    const err = throwsNabla(() => nb.tree.flatten({ constructor: Layer, w: 1 }), "tree.flatten", nb.ShapeError);
    expect(err.message).toContain(".constructor");
    expect(flattenCalls).toBe(0);
    // a real instance whose own constructor property is overwritten is still a Layer
    const real = new Layer(nb.array([1, 2]));
    Object.defineProperty(real, "constructor", { value: Object, enumerable: false });
    expect(nb.tree.structure(real).toString()).toBe("Layer(*)");
    expect(flattenCalls).toBe(1);
    const g = nb.grad((l: Layer) => nb.sum(nb.mul(l.w, l.w)))(real) as Layer;
    expect(g).toBeInstanceOf(Layer);
    expectClose(g.w, [2, 4], [2], CF);
  });

  it("objects with a null prototype are plain objects", () => {
    const o = Object.create(null) as Record<string, number>;
    o.b = 2;
    o.a = 1;
    expect(nb.tree.leaves(o)).toEqual([1, 2]);
  });
});

describe("pytrees: cycles, depth, holes, Map/Set and unregistered classes throw NablaError", () => {
  it("a cyclic array or object throws ShapeError naming the function called, not RangeError", () => {
    const a: unknown[] = [1];
    a.push(a);
    const e1 = throwsNabla(() => nb.tree.leaves(a), "tree.leaves", nb.ShapeError);
    expect(e1.message).toContain("cyclic");
    const o: Record<string, unknown> = { x: 1 };
    o.y = [{ z: o }];
    // a cyclic object, which no parameter type describes
    // @ts-expect-error -- a Record<string, unknown> where the parameter is { x: A }
    const e2 = throwsNabla(() => nb.grad((p: { x: A }) => p.x)(o), "grad", nb.ShapeError);
    expect(e2.message).toContain("cyclic");
    expect(e2.message).toContain("[0].y[0].z");
    throwsNabla(() => nb.jit((p: unknown) => p)(o), "jit", nb.ShapeError);
    throwsNabla(() => nb.vmap((p: unknown) => p)(o), "vmap", nb.ShapeError);
    throwsNabla(() => nb.tree.map((l) => l, o), "tree.map", nb.ShapeError);
  });

  it("a registered class whose flatten returns the instance itself is a cycle", () => {
    class Loop {}
    nb.tree.register(
      Loop,
      (l) => [[l], null],
      () => new Loop(),
    );
    expect(throwsNabla(() => nb.tree.structure(new Loop()), "tree.structure", nb.ShapeError).message).toContain(
      "cyclic",
    );
  });

  it("shared subtrees (a DAG) are not cycles", () => {
    const shared = [1, 2];
    expect(nb.tree.leaves({ a: shared, b: shared })).toEqual([1, 2, 1, 2]);
  });

  it("10,000 levels of nesting work; deeper throws ShapeError, however deep", () => {
    const ok = nest(10_000, 7);
    const [leaves, def] = nb.tree.flatten(ok);
    expect(leaves).toEqual([7]);
    expect(def.numLeaves).toBe(1);
    expect(def.equals(nb.tree.structure(nest(10_000, 8)))).toBe(true);
    expect(def.equals(nb.tree.structure(nest(9_999, 8)))).toBe(false);
    expect(def.toString().length).toBe(2 * 10_000 + 1);
    expect(unnest(nb.tree.unflatten(def, [9]))).toEqual([9, 10_000]);
    for (const depth of [10_001, 100_000]) {
      const e = throwsNabla(() => nb.tree.leaves(nest(depth, 1)), "tree.leaves", nb.ShapeError);
      expect(e.message).toContain("deeper than 10000");
    }
    throwsNabla(() => nb.grad((x: unknown) => unnest(x)[0])(nest(20_000, 1)), "grad", nb.ShapeError);
  });

  it("grad, jit and vmap handle a 5,000-deep argument without overflowing the stack", () => {
    const x = nest(5_000, nb.array([1, 2]));
    const f = (t: unknown) => nb.sum(nb.sin(unnest(t)[0] as A));
    const [g, d] = unnest(nb.grad(f)(x));
    expect(d).toBe(5_000);
    expectClose(g as A, [Math.cos(1), Math.cos(2)], [2], CF);
    expectClose(nb.jit(f)(x) as A, Math.sin(1) + Math.sin(2), [], CF);
    const [v, dv] = unnest(nb.vmap((t: unknown) => unnest(t)[0])(x));
    expect(dv).toBe(0);
    expectClose(v as A, [1, 2], [2], CF);
  });

  it("holey arrays throw naming the hole's index", () => {
    // eslint-disable-next-line no-sparse-arrays
    const holey = [1, , 3];
    expect(throwsNabla(() => nb.tree.leaves(holey), "tree.leaves", nb.ShapeError).message).toContain("index 1");
    expect(throwsNabla(() => nb.grad((x: A[]) => x[0]!)(new Array(2)), "grad").message).toContain("index 0");
  });

  it("Map, Set and unregistered class instances throw, suggesting tree.register", () => {
    class Params {
      w = 1;
    }
    const cases: [string, () => unknown][] = [
      ["tree.flatten", () => nb.tree.flatten(new Map([["w", 1]]))],
      ["tree.leaves", () => nb.tree.leaves({ s: new Set([1]) })],
      ["grad", () => nb.grad((p: { w: A }) => p.w)(new Params())],
      ["jit", () => nb.jit((p: unknown) => p)(new Map())],
      ["vmap", () => nb.vmap((p: unknown) => p)(new Set())],
      ["jvp", () => nb.jvp((p: unknown) => p, [new Params()], [new Params()])],
    ];
    for (const [name, f] of cases) expect(throwsNabla(f, name, nb.ShapeError).message).toContain("tree.register");
  });

  it("leaves that are not numbers or arrays throw naming the function and the value", () => {
    expect(throwsNabla(() => nb.tree.leaves({ a: "x" }), "tree.leaves", nb.ShapeError).message).toContain('"x"');
    throwsNabla(() => nb.tree.leaves([Symbol("s")]), "tree.leaves", nb.ShapeError);
    throwsNabla(() => nb.tree.leaves([10n]), "tree.leaves", nb.ShapeError);
    // @ts-expect-error -- a function is not an array (the call must throw)
    throwsNabla(() => nb.grad((x: A) => x)(() => 1), "grad", nb.ShapeError);
    // @ts-expect-error -- a Uint8Array is not an array argument (the call must throw)
    throwsNabla(() => nb.grad((x: A) => nb.sum(x))(new Uint8Array(2)), "grad", nb.DTypeError);
  });

  it("nb.array of a cyclic or over-deep nested literal throws ShapeError (no hang, no RangeError)", () => {
    const a: unknown[] = [];
    a.push(a);
    throwsNabla(() => nb.array(a as never), "array", nb.ShapeError);
    // the message names the function the user called (API.md): add, not array
    throwsNabla(() => nb.add(a as never, 1), "add", nb.ShapeError);
    expect(nb.array(nest(64, 1) as never).shape).toEqual(new Array(64).fill(1));
    throwsNabla(() => nb.array(nest(65, 1) as never), "array", nb.ShapeError);
  });

  it("tree.unflatten, tree.map and tree.register check their arguments", () => {
    throwsNabla(() => nb.tree.unflatten({} as nb.tree.TreeDef, []), "tree.unflatten", nb.ShapeError);
    throwsNabla(() => nb.tree.unflatten(nb.tree.structure([1, 2]), [1]), "tree.unflatten", nb.ShapeError);
    throwsNabla(() => nb.tree.map(5 as never, [1]), "tree.map: expected a function");
    throwsNabla(() => nb.tree.register(class {}, 5 as never, () => 1), "tree.register");
  });
});

describe("tree.structure returns an immutable value", () => {
  it("the hang scenario: making a leaf's structure its own child is impossible, later transforms work", () => {
    const s = nb.tree.structure(1) as unknown as { kind: string; children: unknown[] };
    // ESM test files are strict: writes to frozen objects throw TypeError
    expect(() => {
      s.kind = "array";
    }).toThrow(TypeError);
    expect(() => s.children.push(s)).toThrow(TypeError);
    expect(s.kind).toBe("leaf");
    expect(s.children).toHaveLength(0);
    // this used to loop forever (numLeaves of a self-containing "array")
    const g = nb.vmap(nb.grad((x: A) => nb.sin(x)))(nb.array([1, 2])) as A;
    expectClose(g, [Math.cos(1), Math.cos(2)], [2], CF);
    expectClose(nb.grad((x: A) => nb.mul(x, x))(3) as A, 6, [], CF);
  });

  it("keys, children and counts of a structure cannot be changed", () => {
    const s = nb.tree.structure({ a: 1, b: [2, 3] });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.children)).toBe(true);
    expect(Object.isFrozen(s.meta)).toBe(true);
    expect(() => (s.meta as string[]).push("c")).toThrow(TypeError);
    expect(() => {
      (s as { numLeaves: number }).numLeaves = 0;
    }).toThrow(TypeError);
    expect(s.toString()).toBe("{a: *, b: [*, *]}");
    const g = nb.grad((t: { a: A; b: A[] }) => nb.add(t.a, nb.mul(t.b[0]!, t.b[1]!)))({ a: 1, b: [2, 3] }) as {
      a: A;
      b: A[];
    };
    expectClose(g.a, 1, [], CF);
    expectClose(g.b[0]!, 3, [], CF);
    expectClose(g.b[1]!, 2, [], CF);
  });

  it("structures with keys that need quoting print unambiguously", () => {
    const a = nb.tree.structure({ "a: *, b": 1 });
    const b = nb.tree.structure({ a: 1, b: 2 });
    expect(a.toString()).not.toBe(b.toString());
    expect(a.equals(b)).toBe(false);
  });
});

describe("immutability of arrays", () => {
  it("shape is frozen and dtype read-only: assignments throw and change nothing", () => {
    const x = nb.array([
      [1, 2],
      [3, 4],
    ]);
    expect(() => {
      (x.shape as number[])[0] = 3;
    }).toThrow(TypeError);
    expect(() => {
      (x as { dtype: string }).dtype = "int32";
    }).toThrow(TypeError);
    expect(() => (x.shape as number[]).push(1)).toThrow(TypeError);
    expect(() => {
      (x as unknown as { data: unknown }).data = new Float64Array(4);
    }).toThrow(TypeError);
    expect(x.shape).toEqual([2, 2]);
    expect(x.dtype).toBe("float64");
    expect(vals(nb.sum(x, 0))).toEqual([4, 6]);
  });

  it("a caller's shape array is copied, not frozen in place", () => {
    const s = [2, 3];
    const z = nb.zeros(s);
    expect(Object.isFrozen(s)).toBe(false);
    s[0] = 9;
    expect(z.shape).toEqual([2, 3]);
  });

  it("storage is unreachable: no own property, key or method hands out the internal buffer", () => {
    const x = nb.array([1, 2, 3, 4]);
    // the storage is a #private field: not an own property, not enumerable, not a symbol key
    for (const k of Reflect.ownKeys(x)) {
      const v = (x as unknown as Record<PropertyKey, unknown>)[k];
      expect(ArrayBuffer.isView(v), `own key ${String(k)}`).toBe(false);
    }
    expect(Object.values(x).some((v) => ArrayBuffer.isView(v))).toBe(false);
    // `x.data` is the public async copy method (API.md "Devices"); indexing it writes nothing to x
    expect(typeof x.data).toBe("function");
    expect(() => {
      (x.data as unknown as number[])[0] = 99;
    }).toThrow(TypeError);
    expect(vals(x)).toEqual([1, 2, 3, 4]);
    // toTypedArray is a fresh copy every time
    const t1 = x.toTypedArray();
    const t2 = x.toTypedArray();
    expect(t1).not.toBe(t2);
    t1[0] = 99;
    t1.fill(7);
    expect(vals(x)).toEqual([1, 2, 3, 4]);
    expect(Array.from(t2)).toEqual([1, 2, 3, 4]);
    // a reshape shares storage internally; it is unreachable from either array too
    const r = nb.reshape(x, [2, 2]);
    r.toTypedArray()[0] = 99;
    expect(vals(x)).toEqual([1, 2, 3, 4]);
    expect(r.toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it("await x.data() resolves to a fresh copy of the elements with the dtype's typed array", async () => {
    const cases: [A, new (n: number) => ArrayBufferView, number[]][] = [
      [nb.array([1.5, -2]), Float64Array, [1.5, -2]],
      [nb.array([1.5, -2], { dtype: "float32" }), Float32Array, [1.5, -2]],
      [nb.array([3, -4], { dtype: "int32" }), Int32Array, [3, -4]],
      [nb.array([true, false]), Uint8Array, [1, 0]],
    ];
    for (const [x, Ctor, want] of cases) {
      const p = x.data();
      expect(p).toBeInstanceOf(Promise);
      const d = await p;
      expect(d).toBeInstanceOf(Ctor);
      expect(Array.from(d as ArrayLike<number>)).toEqual(want);
      d[0] = 99;
      const again = await x.data();
      expect(again).not.toBe(d);
      expect(Array.from(again as ArrayLike<number>)).toEqual(want);
    }
    // a 0-d array and an empty one
    expect(Array.from(await nb.array(7).data())).toEqual([7]);
    expect((await nb.zeros([0, 3]).data()).length).toBe(0);
  });

  it("x.data() of a tracer under jit rejects with TracerError (no concrete value)", async () => {
    let p: Promise<unknown> | undefined;
    nb.jit((x: A) => {
      p = x.data();
      p.catch(() => {}); // awaited below; keep Node from reporting it before then
      return x;
    })(nb.array([1, 2]));
    await expect(p).rejects.toBeInstanceOf(nb.TracerError);
    await expect(p).rejects.toThrow(/^data/);
  });

  it("io and export writers copy: editing what they return leaves the array unchanged", async () => {
    const io = await import("../src/io/index.js");
    const ex = await import("../src/export/index.js");
    const w = nb.array([1, 2, 3]);
    const bytes = io.saveSafetensors({ w });
    bytes.fill(0);
    expect(vals(w)).toEqual([1, 2, 3]);
    const back = io.loadSafetensors(io.saveSafetensors({ w })) as { w: A };
    back.w.toTypedArray()[0] = 42;
    expect(vals(back.w)).toEqual([1, 2, 3]);
    const g = ex.exportGraph((x: A) => nb.add(x, w), nb.zeros([3]));
    (g.graph.consts[0]!.data as number[])[0] = 42;
    expect(vals(w)).toEqual([1, 2, 3]);
    expect(vals(nb.add(nb.zeros([3]), w))).toEqual([1, 2, 3]);
  });

  it("tracers' shape and dtype cannot be changed from inside a transform", () => {
    let tried = 0;
    const f = (x: A) => {
      expect(() => {
        (x.shape as number[])[0] = 5;
      }).toThrow(TypeError);
      expect(() => {
        (x as { dtype: string }).dtype = "int32";
      }).toThrow(TypeError);
      expect(x.shape).toEqual([2]);
      tried++;
      return nb.sum(nb.mul(x, x));
    };
    expectClose(nb.grad(f)(nb.array([1, 2])) as A, [2, 4], [2], CF);
    expectClose(nb.jit(f)(nb.array([1, 2])) as A, 5, [], CF);
    expectClose(nb.vmap(f)(nb.array([[1, 2]])) as A, [5], [1], CF);
    expect(tried).toBe(3);
  });
});

/** The identity with a customVjp rule, `fn` put in slot 0 (f), 1 (fwd) or 2 (bwd). */
function customVjpWith(slot: number, fn: never): (x: unknown) => unknown {
  const parts: unknown[] = [(x: A) => x, (x: A) => [x, null], (_r: unknown, ct: A) => [ct]];
  parts[slot] = fn;
  const [f, fwd, bwd] = parts as Parameters<typeof nb.customVjp>;
  return nb.customVjp(f, fwd, bwd);
}

/**
 * Every transform and function-taking control-flow entry, called with `fn` in the slot under test
 * (rules are only called when differentiating, hence the grads).
 */
const FN_SLOTS: [string, (fn: never) => unknown][] = [
  ["grad", (fn) => nb.grad(fn)(1)],
  ["valueAndGrad", (fn) => nb.valueAndGrad(fn)(1)],
  ["jvp", (fn) => nb.jvp(fn, [1], [1])],
  ["vjp", (fn) => nb.vjp(fn, 1)],
  ["linearize", (fn) => nb.linearize(fn, 1)],
  ["jacfwd", (fn) => nb.jacfwd(fn)(1)],
  ["jacrev", (fn) => nb.jacrev(fn)(1)],
  ["hessian", (fn) => nb.hessian(fn)(1)],
  ["vmap", (fn) => nb.vmap(fn)(nb.array([1, 2]))],
  ["jit", (fn) => nb.jit(fn)(1)],
  ["makeGraph", (fn) => nb.makeGraph(fn)(1)],
  ["customJvp", (fn) => nb.customJvp(fn, ([x], [dx]) => [x, dx])(1)],
  ["customJvp", (fn) => nb.grad(nb.customJvp((x: A) => x, fn))(1)],
  ["customVjp", (fn) => customVjpWith(0, fn)(1)],
  ["customVjp", (fn) => nb.grad(customVjpWith(1, fn))(1)],
  ["customVjp", (fn) => nb.grad(customVjpWith(2, fn))(1)],
  ["checkpoint", (fn) => nb.checkpoint(fn)(1)],
  ["cond", (fn) => nb.cond(true, fn, (x: A) => x, nb.array(1))],
  ["cond", (fn) => nb.cond(false, (x: A) => x, fn, nb.array(1))],
  ["whileLoop", (fn) => nb.whileLoop(fn, (v: A) => nb.add(v, 1), nb.array(0))],
  ["whileLoop", (fn) => nb.whileLoop((v: A) => nb.less(v, 1), fn, nb.array(0))],
  ["forLoop", (fn) => nb.forLoop(0, 2, fn, 0)],
  ["scan", (fn) => nb.scan(fn, 0, nb.array([1, 2]))],
];

describe("transforms check that they are given functions", () => {
  it.each(FN_SLOTS.map(([name, call], i) => [name, i, call] as const))(
    "%s (slot %i) throws NablaError 'expected a function' for non-functions",
    (name, _i, call) => {
      const bad: [unknown, string][] = [
        [5, "got number 5"],
        ["f", 'got string "f"'],
        [null, "got null"],
        [undefined, "got undefined"],
        [{}, "got a plain object"],
        [Symbol("s"), "got Symbol(s)"],
        [3n, "got bigint 3n"],
        [class Model {}, "got class Model"],
      ];
      for (const [v, what] of bad) {
        const e = throwsNabla(() => call(v as never), `${name}: expected a function`);
        expect(e.message).toContain(what);
      }
    },
  );

  it("grad(5) throws at once, when the transform is created", () => {
    expect(throwsNabla(() => nb.grad(5 as never), "grad: expected a function, got number").message).toBe(
      "grad: expected a function, got number 5",
    );
  });

  it.each(FN_SLOTS.map(([name, call], i) => [name, i, call] as const))(
    "%s (slot %i): a forgotten return (undefined) says which transform and what came back",
    (name, _i, call) => {
      const e = throwsNabla(() => call((() => undefined) as never), `${name}: `);
      expect(e.message).toContain("undefined");
      expect(e.message).toContain("missing return");
    },
  );

  it("outputs that are not pytrees of arrays name the transform and the value", () => {
    const cases: [string, () => unknown, string][] = [
      ["jit", () => nb.jit((_: A) => "abc")(1), '"abc"'],
      ["vmap", () => nb.vmap((_: A) => new Map())(nb.array([1])), "Map"],
      ["jvp", () => nb.jvp(() => ({ a: [Symbol("q")] }), [1], [1]), "Symbol(q)"],
      ["grad", () => nb.grad((_: A) => new Set())(1), "Set"],
      ["makeGraph", () => nb.makeGraph((_: A) => [() => 1])(1), "function"],
    ];
    for (const [name, f, what] of cases) {
      const e = throwsNabla(f, name);
      expect(e.message).toContain(what);
      expect(e.message).toContain("the output");
    }
  });

  it("grad of a function returning a JS number throws GradError (the value left the graph)", () => {
    const e = throwsNabla(() => nb.grad((x: A) => x.sum().item())(nb.array([1, 2])), "grad", nb.GradError);
    expect(e.message).toContain("left the graph");
    throwsNabla(() => nb.valueAndGrad((x: A) => x.sum().item())(nb.array([1, 2])), "valueAndGrad", nb.GradError);
    throwsNabla(() => nb.grad((x: A) => [+x, 0], { hasAux: true })(1), "grad", nb.GradError);
    throwsNabla(() => nb.grad((_: A) => true)(1), "grad", nb.GradError);
    // a constant (but real) array output still has a zero gradient
    expectClose(nb.grad((_: A) => nb.array(1))(2), 0, [], CF);
  });
});

describe("async functions: a clear NablaError at once, no unhandled rejection", () => {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", listener);
  });
  afterEach(() => {
    process.off("unhandledRejection", listener);
  });
  const settle = () => new Promise((r) => setTimeout(r, 30));

  it.each(FN_SLOTS.map(([name, call], i) => [name, i, call] as const))(
    "%s (slot %i): async functions throw at once; functions returning rejected Promises too, leaving no rejection",
    async (name, _i, call) => {
      throwsNabla(() => call((async () => nb.array(1)) as never), `${name}: `);
      throwsNabla(() => call((async () => Promise.reject(new Error("late rejection"))) as never), `${name}: `);
      let made = 0;
      const rejecting = () => {
        made++;
        return Promise.reject(new Error("late rejection"));
      };
      const e = throwsNabla(() => call(rejecting as never), `${name}: `);
      expect(e.message).toContain("Promise");
      expect(made).toBeGreaterThan(0);
      await settle();
      expect(unhandled).toEqual([]);
    },
  );
});

describe("argnums, inAxes, outAxes, staticArgnums and other options are validated", () => {
  const mul2 = (a: number | A, b: number | A) => nb.mul(a, b);

  it("argnums naming an argument twice throws GradError (at creation or, for negative aliases, at the call)", () => {
    throwsNabla(() => nb.grad(mul2, { argnums: [0, 0] }), "grad", nb.GradError);
    throwsNabla(() => nb.valueAndGrad(mul2, { argnums: [1, 1] }), "valueAndGrad", nb.GradError);
    throwsNabla(() => nb.jacfwd(mul2, { argnums: [0, 0] }), "jacfwd", nb.GradError);
    throwsNabla(() => nb.jacrev(mul2, { argnums: [0, 0] }), "jacrev", nb.GradError);
    throwsNabla(() => nb.hessian(mul2, { argnums: [0, 0] }), "hessian", nb.GradError);
    const g = nb.grad(mul2, { argnums: [1, -1] });
    throwsNabla(() => g(1, 2), "grad", nb.GradError);
  });

  it("argnums must be integers (or a non-empty array of them) in range", () => {
    for (const argnums of [1.5, "0", NaN, [0, 0.5], [], null, { 0: 0 }])
      throwsNabla(() => nb.grad(mul2, { argnums } as never), "grad", nb.GradError);
    throwsNabla(() => nb.grad(mul2, { argnums: 2 })(1, 2), "grad", nb.GradError);
    throwsNabla(() => nb.jacrev(mul2, { argnums: [-3] })(1, 2), "jacrev", nb.GradError);
    expectClose(nb.grad(mul2, { argnums: -1 })(3, 4) as A, 3, [], CF);
  });

  it("vmap's inAxes and outAxes must be integers (null for unmapped inputs); outAxes 1.5 throws", () => {
    const id = (x: A) => x;
    throwsNabla(() => nb.vmap(id, { outAxes: 1.5 }), "vmap", nb.ShapeError);
    throwsNabla(() => nb.vmap(id, { outAxes: [0, NaN] }), "vmap", nb.ShapeError);
    throwsNabla(() => nb.vmap(id, { outAxes: null } as never), "vmap", nb.ShapeError);
    throwsNabla(() => nb.vmap(id, { inAxes: "0" } as never), "vmap", nb.ShapeError);
    throwsNabla(() => nb.vmap(mul2, { inAxes: [0, 0.5] }), "vmap", nb.ShapeError);
    throwsNabla(() => nb.vmap(id, { inAxes: [[0]] } as never), "vmap", nb.ShapeError);
    throwsNabla(() => nb.vmap(id, { outAxes: 2 })(nb.zeros([3, 2])), "vmap", nb.ShapeError);
    throwsNabla(() => nb.vmap(id, { inAxes: 2 })(nb.zeros([3, 2])), "vmap", nb.ShapeError);
  });

  it("jit's staticArgnums must be non-negative integers naming arguments; [5] for a 2-argument call throws", () => {
    const f = nb.jit(mul2, { staticArgnums: [5] });
    throwsNabla(() => f(1, 2), "jit: staticArgnums 5 is out of range");
    throwsNabla(() => nb.jit(mul2, { staticArgnums: [1.5] }), "jit");
    throwsNabla(() => nb.jit(mul2, { staticArgnums: [-1] }), "jit");
    throwsNabla(() => nb.jit(mul2, { staticArgnums: 0 } as never), "jit");
    throwsNabla(() => nb.jit(mul2, { staticArgnums: [1, 1] }), "jit");
    expectClose(nb.jit(mul2, { staticArgnums: [1] })(nb.array(2), 3) as A, 6, [], CF);
  });

  it("options that are not objects throw NablaError naming the transform", () => {
    throwsNabla(() => nb.grad(mul2, 5 as never), "grad: options");
    throwsNabla(() => nb.vmap(mul2, null as never), "vmap: options");
    throwsNabla(() => nb.jit(mul2, "x" as never), "jit: options");
    throwsNabla(() => nb.jacfwd(mul2, [0] as never), "jacfwd: options");
  });

  it("jvp needs lists of primals and tangents", () => {
    // @ts-expect-error -- primals must be a list; a bare number must throw
    throwsNabla(() => nb.jvp(nb.sin, 1, [1]), "jvp: primals", nb.ShapeError);
    throwsNabla(() => nb.jvp(nb.sin, [1], 1 as never), "jvp: tangents", nb.ShapeError);
  });

  it("scan's length must be a non-negative integer (Infinity no longer hangs)", () => {
    // a scan that ran instead of throwing stops itself after a few steps (no hang if the check regressed)
    let steps = 0;
    const f = (c: A) => {
      if (++steps > 10) throw new Error("scan ran with an invalid length");
      return [c, c] as [A, A];
    };
    const one = nb.array(1);
    for (const length of [Infinity, -1, 1.5, NaN, "3"])
      throwsNabla(() => nb.scan(f, one, null, { length } as never), "scan", nb.ShapeError);
    throwsNabla(() => nb.scan(f, one, null, { length: 2, reverse: "yes" } as never), "scan");
    expect(vals(nb.scan(f, one, null, { length: 2 })[1] as A)).toEqual([1, 1]);
  });
});

describe("transform options are read once, when the transform is created", () => {
  it("grad: changing argnums or hasAux afterwards changes nothing", () => {
    const opts: { argnums: number | number[]; hasAux?: boolean } = { argnums: 0 };
    const g = nb.grad((a: number | A, b: number | A) => nb.mul(a, b), opts);
    opts.argnums = 1;
    expectClose(g(3, 4) as A, 4, [], CF);
    const list = [0];
    const g2 = nb.grad((a: number | A, b: number | A) => nb.mul(a, b), { argnums: list });
    list.push(1);
    const r = g2(3, 4) as A[];
    expect(r).toHaveLength(1);
    expectClose(r[0]!, 4, [], CF);
    const auxOpts = { hasAux: true };
    const ga = nb.grad((x: A) => [nb.mul(x, x), "aux"], auxOpts);
    auxOpts.hasAux = false;
    // hasAux was true when ga was created; the options' type (boolean) cannot carry that
    const [gx, aux] = ga(3) as unknown as [A, string];
    expectClose(gx, 6, [], CF);
    expect(aux).toBe("aux");
  });

  it("vmap: changing inAxes or outAxes afterwards changes nothing", () => {
    const inAxes: (number | null)[] = [0, null];
    const opts: { inAxes: (number | null)[]; outAxes: number } = { inAxes, outAxes: 0 };
    const f = nb.vmap((x: A, y: A) => nb.mul(x, y), opts);
    inAxes[0] = null;
    inAxes[1] = 0;
    opts.outAxes = 1;
    const out = f(nb.array([1, 2, 3]), nb.array([10, 20])) as A;
    // x mapped ([1, 2, 3] row by row), y unmapped: out[i] = x[i] * y, stacked on axis 0
    expect(out.shape).toEqual([3, 2]);
    expect(vals(out)).toEqual([10, 20, 20, 40, 30, 60]);
  });

  it("jit: changing staticArgnums afterwards changes nothing", () => {
    const opts = { staticArgnums: [1] as number[] };
    const f = nb.jit((x: A, n: number) => nb.forLoop(0, n, (_i, v: A) => nb.add(v, x), nb.zerosLike(x)), opts);
    opts.staticArgnums = [];
    expectClose(f(nb.array(2), 3) as A, 6, [], CF);
    opts.staticArgnums.push(0);
    expectClose(f(nb.array(2), 4) as A, 8, [], CF);
  });

  it("jacfwd/jacrev/hessian: changing argnums afterwards changes nothing", () => {
    const f = (a: number | A, b: number | A) => nb.mul(nb.mul(a, a), b);
    for (const [name, t] of [
      ["jacfwd", nb.jacfwd],
      ["jacrev", nb.jacrev],
    ] as const) {
      const opts: { argnums: number } = { argnums: 1 };
      const j = t(f, opts);
      opts.argnums = 0;
      // d(a² b)/db = a² = 9
      expect(name).toMatch(/^jac/);
      expectClose(j(3, 5) as A, 9, [], CF);
    }
    const opts: { argnums: number } = { argnums: 0 };
    const h = nb.hessian(f, opts);
    opts.argnums = 1;
    // d²(a² b)/da² = 2b = 10
    expectClose(h(3, 5) as A, 10, [], CF);
  });
});

describe("after any thrown error the library still works (the trace stack is empty)", () => {
  const boom = (): never => {
    throw new Error("user error");
  };
  const failures: [string, () => unknown][] = [
    [
      "grad of vmap of jit, user error inside",
      () => nb.grad((x: A) => nb.sum(nb.vmap(nb.jit((_: A) => boom()))(x)))(nb.array([1, 2])),
    ],
    [
      "jit of grad of vmap, shape error inside",
      () => nb.jit(nb.grad((x: A) => nb.sum(nb.vmap((y: A) => nb.add(y, nb.zeros([3])))(x))))(nb.zeros([2, 2])),
    ],
    ["item() under jit inside grad", () => nb.grad(nb.jit((x: A) => (x.item() > 0 ? x : nb.neg(x))))(1)],
    [
      "jvp inside vmap inside hessian, user error",
      () => nb.hessian((x: A) => nb.sum(nb.vmap((y: A) => nb.jvp(() => boom(), [y], [y])[1])(x)))(nb.array([1, 2])),
    ],
    [
      "customVjp bwd returns the wrong structure",
      () =>
        nb.grad(
          nb.customVjp(
            (x: A) => nb.sin(x),
            (x: A) => [nb.sin(x), x],
            // @ts-expect-error -- a cotangent list of the wrong structure (the call must throw)
            () => [1, 2],
          ),
        )(1),
    ],
    [
      "customJvp rule throws inside jit inside jacfwd",
      () =>
        nb.jacfwd(
          nb.jit(
            nb.customJvp(
              (x: A) => x,
              () => boom(),
            ),
          ),
        )(nb.array([1])),
    ],
    [
      "cond branches disagree under vmap inside grad",
      () =>
        nb.grad((x: A) =>
          nb.sum(
            nb.vmap((y: A) =>
              nb.cond(
                nb.greater(y, 0),
                (v: A) => v,
                () => nb.zeros([2]),
                y,
              ),
            )(x),
          ),
        )(nb.array([1, -1])),
    ],
    ["scan body throws inside linearize", () => nb.linearize((x: A) => nb.scan(() => boom(), x, nb.array([1, 2])), 1)],
    [
      "whileLoop body returns a Promise inside jit",
      () =>
        nb.jit((x: A) =>
          nb.whileLoop(
            (v: A) => nb.less(v, 3),
            () => Promise.resolve(1) as never,
            x,
          ),
        )(0),
    ],
    ["grad of a non-scalar inside vjp", () => nb.vjp((x: A) => nb.grad((y: A) => y)(x), nb.array([1, 2]))],
    [
      "escaped tracer used later",
      () => {
        let t: A | undefined;
        nb.grad((y: A) => ((t = y), y))(1);
        return nb.mul(t!, 2);
      },
    ],
  ];

  it.each(failures)("%s: throws, leaves depth 0, then grad and jit(grad) work", (_name, f) => {
    expect(traceDepth()).toBe(0);
    expect(f).toThrow();
    expect(traceDepth()).toBe(0);
    const g = (x: A) => nb.sum(nb.mul(nb.sin(x), x));
    // d/dx sum(x sin x) = sin x + x cos x
    const expected = [1, 2].map((v) => Math.sin(v) + v * Math.cos(v));
    expectClose(nb.grad(g)(nb.array([1, 2])) as A, expected, [2], CF);
    expectClose(nb.jit(nb.grad(g))(nb.array([1, 2])) as A, expected, [2], CF);
    expectClose(nb.vmap(nb.grad((x: A) => nb.mul(nb.sin(x), x)))(nb.array([1, 2])) as A, expected, [2], CF);
    expect(traceDepth()).toBe(0);
  });

  it("a jitted function that threw while staging is not poisoned: the next valid call stages and runs", () => {
    let fail = true;
    const f = nb.jit((x: A) => {
      if (fail) boom();
      return nb.mul(x, 3);
    });
    expect(() => f(nb.array([1, 2]))).toThrow("user error");
    fail = false;
    expect(vals(f(nb.array([1, 2])) as A)).toEqual([3, 6]);
    expect(traceDepth()).toBe(0);
  });
});
