/**
 * Pytrees: nested containers (JS arrays, plain objects with keys in sorted
 * order, null/undefined as empty, and registered classes) whose leaves are
 * NDArrays and numbers.
 *
 * Trees may come from untrusted data (`JSON.parse`), so every traversal here
 * is iterative (no stack overflow, whatever the depth), object keys are
 * ordinary own keys (`__proto__` included: never a prototype change), cycles
 * and nesting deeper than {@link MAX_TREE_DEPTH} levels throw, and a
 * {@link TreeDef} is immutable.
 */
import { NablaError, ShapeError, at } from "./errors.js";
import { NDArray } from "./ndarray.js";
import type { LeafOf, ReplaceLeaves, TreeDefOf } from "./types.js";

/** @internal The deepest container nesting `flatten` accepts (deeper trees throw ShapeError). */
export const MAX_TREE_DEPTH = 10_000;

type Kind = "leaf" | "array" | "object" | "none" | "custom";

/**
 * The structure of a pytree, without its leaves. Immutable: it is frozen,
 * and so are its `children` and (for objects) its list of keys.
 * @example nb.tree.structure({ a: 1, b: [2, 3] }).toString(); // "{a: *, b: [*, *]}"
 */
export class TreeDef {
  readonly kind: Kind;
  readonly children: readonly TreeDef[];
  /** Sorted keys for objects, `null` or `"undefined"` for none, the registered class's metadata for custom nodes. */
  readonly meta: unknown;
  readonly ctor: Function | null;
  /** Number of leaves. */
  readonly numLeaves: number;
  constructor(kind: Kind, children: readonly TreeDef[] = [], meta: unknown = null, ctor: Function | null = null) {
    this.kind = kind;
    this.children = Object.isFrozen(children) ? children : Object.freeze(children.slice());
    const keys = meta as readonly string[];
    this.meta = kind !== "object" ? meta : Object.isFrozen(keys) ? keys : Object.freeze(keys.slice());
    this.ctor = ctor;
    this.numLeaves = kind === "leaf" ? 1 : this.children.reduce((n, c) => n + c.numLeaves, 0);
    Object.freeze(this);
  }
  /** Same kinds, keys, classes and arity throughout (registered metadata is not compared). */
  equals(other: TreeDef): boolean {
    const stack: [TreeDef, TreeDef][] = [[this, other]];
    for (let pair = stack.pop(); pair !== undefined; pair = stack.pop()) {
      const [a, b] = pair;
      if (a === b) continue;
      if (a.kind !== b.kind || a.ctor !== b.ctor || a.children.length !== b.children.length) return false;
      if (a.kind === "none" && a.meta !== b.meta) return false;
      if (a.kind === "object") {
        const ka = a.meta as readonly string[];
        const kb = b.meta as readonly string[];
        if (ka.some((k, i) => k !== kb[i])) return false;
      }
      a.children.forEach((c, i) => stack.push([c, at(b.children, i, "TreeDef")]));
    }
    return true;
  }
  /** The structure with `*` for each leaf, e.g. `{a: *, b: [*, *]}`. */
  toString(): string {
    return foldDef(
      this,
      () => "*",
      (t, parts) => {
        switch (t.kind) {
          case "none":
            return String(t.meta);
          case "array":
            return `[${parts.join(", ")}]`;
          case "object":
            return `{${(t.meta as string[]).map((k, i) => `${fmtKey(k)}: ${parts[i]}`).join(", ")}}`;
          default:
            return `${classOf(t, "TreeDef.toString").name}(${parts.join(", ")})`;
        }
      },
    );
  }
}

/** Keys print bare when they look like identifiers, JSON-quoted otherwise (so printing is unambiguous). */
function fmtKey(k: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
}

/**
 * Post-order fold over a structure without recursion: `leaf()` for each leaf
 * (left to right, the flatten order), `node(t, childResults)` for containers.
 */
/** @internal */
/** @internal The registered class of a custom node (`fn` names the public function for the internal error). */
export function classOf(t: { readonly ctor: Function | null }, fn: string): Function {
  if (t.ctor === null) throw new NablaError(`${fn}: internal: a custom pytree node without its class`);
  return t.ctor;
}

export function foldDef<R>(def: TreeDef, leaf: () => R, node: (t: TreeDef, parts: R[]) => R): R {
  const frames: { t: TreeDef; parts: R[] }[] = [];
  let ready: R | undefined;
  let next: TreeDef | null = def;
  for (;;) {
    if (next !== null) {
      if (next.kind === "leaf") ready = leaf();
      else if (next.children.length === 0) ready = node(next, []);
      else {
        frames.push({ t: next, parts: [] });
        next = at(next.children, 0, "tree");
        continue;
      }
    }
    const top = frames[frames.length - 1];
    if (top === undefined) return ready as R;
    top.parts.push(ready as R);
    if (top.parts.length < top.t.children.length) next = at(top.t.children, top.parts.length, "tree");
    else {
      frames.pop();
      ready = node(top.t, top.parts);
      next = null;
    }
  }
}

interface Registration {
  flatten(x: unknown): [children: unknown[], meta: unknown];
  unflatten(meta: unknown, children: unknown[]): unknown;
}
const REGISTRY = new Map<Function, Registration>();

/**
 * Registers a class as a pytree container.
 * @example
 * class Point { constructor(public x: NDArray, public y: NDArray) {} }
 * nb.tree.register(Point, (p) => [[p.x, p.y], null], (_m, [x, y]) => new Point(x, y));
 */
export function register<C>(
  ctor: abstract new (...args: never[]) => C,
  flatten: (x: C) => [children: unknown[], meta: unknown],
  unflatten: (meta: unknown, children: unknown[]) => C,
): void {
  [ctor, flatten, unflatten].forEach((f, i) => {
    if (typeof f !== "function")
      throw new NablaError(
        `tree.register: expected ${["a class", "a flatten function", "an unflatten function"][i]}, got ${describe(f)}`,
      );
  });
  // instances are matched by their prototype: an arrow or method function (no prototype object) has none
  const proto: unknown = (ctor as { prototype?: unknown }).prototype;
  if (proto === null || typeof proto !== "object")
    throw new NablaError(
      `tree.register: expected a class, got ${describe(ctor)}, which has no prototype (not a constructor)`,
    );
  REGISTRY.set(ctor, { flatten: flatten as Registration["flatten"], unflatten });
}

/** A short description of a JS value for messages. */
export function describe(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === "object" || typeof x === "function") {
    const proto = Object.getPrototypeOf(x) as object | null;
    if (proto === null || proto === Object.prototype) return "a plain object";
    const name = ownCtor(x)?.name;
    if (typeof x === "function") return `function ${x.name || "(anonymous)"}`;
    return name ? `an instance of ${name}` : Object.prototype.toString.call(x);
  }
  if (typeof x === "string") return `string ${JSON.stringify(x.length > 40 ? x.slice(0, 40) + "..." : x)}`;
  if (typeof x === "symbol") return String(x);
  if (typeof x === "bigint") return `bigint ${x}n`;
  return `${typeof x} ${String(x)}`;
}

/** The class of an object as its prototype states it (an own `constructor` key of the object itself is data). */
function ownCtor(x: object): Function | undefined {
  const proto = Object.getPrototypeOf(x) as object | null;
  if (proto === null) return undefined;
  const c = Object.getOwnPropertyDescriptor(proto, "constructor")?.value as unknown;
  return typeof c === "function" ? c : undefined;
}

function isPlainObject(x: object): x is Record<string, unknown> {
  const p = Object.getPrototypeOf(x) as unknown;
  return p === Object.prototype || p === null;
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    x !== null &&
    (typeof x === "object" || typeof x === "function") &&
    typeof (x as { then?: unknown }).then === "function"
  );
}

/**
 * @internal If `x` is a Promise (or thenable), marks it handled (so its rejection is not left unhandled)
 * and throws NablaError: transforms need synchronous functions.
 */
export function rejectThenable(x: unknown, op: string, what: string): void {
  if (!isThenable(x)) return;
  try {
    x.then(undefined, () => undefined);
  } catch {
    // a thenable whose `then` throws: nothing to mark handled
  }
  throw new NablaError(
    `${op}: ${what} is a Promise; transforms need synchronous functions (an async function cannot be traced)`,
  );
}

interface Frame {
  value: object;
  kind: "array" | "object" | "custom";
  items: readonly unknown[];
  meta: unknown;
  ctor: Function | null;
  defs: TreeDef[];
}

/** Where the frame stack points, as `[0].a[2]`, for messages (shortened when long). */
function pathOf(frames: readonly Frame[]): string {
  const parts = frames.map((f) => {
    const i = f.defs.length;
    if (f.kind === "object") {
      const k = at(f.meta as string[], i, "flatten");
      return /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
    }
    return f.kind === "custom" ? `<${classOf(f, "flatten").name}>[${i}]` : `[${i}]`;
  });
  return parts.length > 12 ? parts.slice(0, 6).join("") + "..." + parts.slice(-6).join("") : parts.join("");
}

/** The state of one iterative flatten: the open containers (the path from the root) and the leaves so far. */
class Flattener {
  readonly leaves: unknown[] = [];
  readonly frames: Frame[] = [];
  readonly onPath = new Set<object>();
  constructor(
    readonly op: string,
    readonly what: string,
  ) {}

  where(): string {
    const p = pathOf(this.frames);
    return p === "" ? `in ${this.what}` : `at ${p} in ${this.what}`;
  }

  fail(msg: string): never {
    throw new ShapeError(`${this.op}: ${msg} (${this.where()})`);
  }

  open(value: object, kind: Frame["kind"], items: readonly unknown[], meta: unknown, ctor: Function | null): null {
    if (this.onPath.has(value)) this.fail(`cyclic structure (${describe(value)} contains itself)`);
    if (this.frames.length >= MAX_TREE_DEPTH) this.fail(`nesting deeper than ${MAX_TREE_DEPTH} levels`);
    this.onPath.add(value);
    this.frames.push({ value, kind, items, meta, ctor, defs: [] });
    return null;
  }

  /** A TreeDef for an atom, or null after opening a frame for a container. */
  visit(x: unknown): TreeDef | null {
    if (x instanceof NDArray || typeof x === "number" || typeof x === "boolean") {
      this.leaves.push(x);
      return LEAF;
    }
    if (x === null) return NONE_NULL;
    if (x === undefined) return NONE_UNDEF;
    if (typeof x !== "object")
      return this.fail(`unsupported leaf (${describe(x)}); leaves are NDArrays, numbers and booleans`);
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++)
        if (!Object.prototype.hasOwnProperty.call(x, i))
          this.fail(`holey array: index ${i} of an array of length ${x.length} is empty`);
      return this.open(x, "array", x as unknown[], null, null);
    }
    if (ArrayBuffer.isView(x)) {
      this.leaves.push(x);
      return LEAF;
    }
    if (isPlainObject(x)) {
      // own enumerable keys only; reading x[k] reads the own property, `__proto__` included
      const keys = Object.keys(x).sort();
      const items = new Array<unknown>(keys.length);
      for (let i = 0; i < keys.length; i++) items[i] = x[at(keys, i, "Flattener")];
      return this.open(x, "object", items, Object.freeze(keys), null);
    }
    const ctor = ownCtor(x);
    const reg = ctor === undefined ? undefined : REGISTRY.get(ctor);
    if (ctor !== undefined && reg !== undefined) {
      const r = reg.flatten(x);
      if (!Array.isArray(r) || r.length !== 2 || !Array.isArray(r[0]))
        this.fail(`the flatten function registered for ${ctor.name} must return [children, meta], got ${describe(r)}`);
      return this.open(x, "custom", r[0], r[1], ctor);
    }
    rejectThenable(x, this.op, `the value ${this.where()}`);
    if (x instanceof Map || x instanceof Set)
      return this.fail(
        `${describe(x)} is not a pytree node; convert it to a plain object or array, or wrap it in a class registered with tree.register`,
      );
    return this.fail(
      `${describe(x)} is not a pytree node; register its class with tree.register(ctor, flatten, unflatten)`,
    );
  }

  run(tree: unknown): [unknown[], TreeDef] {
    const frames = this.frames;
    let done = this.visit(tree);
    for (;;) {
      const top = frames[frames.length - 1];
      if (done !== null) {
        if (top === undefined) return [this.leaves, done];
        top.defs.push(done);
        done = null;
      } else if (top === undefined) throw new NablaError("tree: internal: no open node while flattening");
      else if (top.defs.length < top.items.length) done = this.visit(top.items[top.defs.length]);
      else {
        frames.pop();
        this.onPath.delete(top.value);
        done = new TreeDef(top.kind, Object.freeze(top.defs), top.meta, top.ctor);
      }
    }
  }
}

/**
 * @internal Flattens a tree; errors begin with `op` (the public function the user called) and say
 * where in the tree (`what` names the tree, e.g. "the arguments").
 */
export function flattenAs(tree: unknown, op: string, what = "the tree"): [unknown[], TreeDef] {
  // fast paths (the arguments and results of most transformed calls): a leaf, or a short
  // dense array of leaves, whose structures are shared
  if (isAtomLeaf(tree)) return [[tree], LEAF];
  if (Array.isArray(tree) && tree.length < FLAT_DEFS.length) {
    const n = tree.length;
    let flat = true;
    for (let i = 0; i < n && flat; i++) flat = isAtomLeaf(tree[i]) && Object.prototype.hasOwnProperty.call(tree, i);
    if (flat) return [tree.slice(), at(FLAT_DEFS, n, "flattenAs")];
  }
  return new Flattener(op, what).run(tree);
}

function isAtomLeaf(x: unknown): boolean {
  return x instanceof NDArray || typeof x === "number" || typeof x === "boolean";
}

/** Leaves in order and the structure. @example nb.tree.flatten({ b: 1, a: [2, 3] }); // [[2, 3, 1], def] */
export function flatten<T>(tree: T): [LeafOf<T>[], TreeDefOf<T>];
export function flatten(tree: unknown): [unknown[], TreeDef] {
  return flattenAs(tree, "tree.flatten");
}

const LEAF = new TreeDef("leaf");
const NONE_NULL = new TreeDef("none", [], null);
const NONE_UNDEF = new TreeDef("none", [], "undefined");
/** The structures of arrays of 0 to 8 leaves. */
const FLAT_DEFS: readonly TreeDef[] = Array.from(
  { length: 9 },
  (_, n) => new TreeDef("array", Object.freeze(Array.from({ length: n }, () => LEAF))),
);

/** @internal Rebuilds a tree; errors begin with `op`. */
export function unflattenAs(def: TreeDef, leaves: readonly unknown[], op: string): unknown {
  if (!(def instanceof TreeDef)) throw new ShapeError(`${op}: expected a TreeDef, got ${describe(def)}`);
  if (!Array.isArray(leaves)) throw new ShapeError(`${op}: expected an array of leaves, got ${describe(leaves)}`);
  if (leaves.length !== def.numLeaves)
    throw new ShapeError(`${op}: ${leaves.length} leaves for a structure with ${def.numLeaves} (${def})`);
  if (def.kind === "leaf") return leaves[0];
  if (def === FLAT_DEFS[def.children.length]) return leaves.slice();
  let i = 0;
  return foldDef<unknown>(
    def,
    () => leaves[i++],
    (t, parts) => {
      switch (t.kind) {
        case "none":
          return t.meta === null ? null : undefined;
        case "array":
          return parts;
        case "object":
          // defines own properties (never calls the `__proto__` setter)
          return Object.fromEntries((t.meta as string[]).map((k, j) => [k, parts[j]]));
        default: {
          const ctor = classOf(t, op);
          const reg = REGISTRY.get(ctor);
          if (reg === undefined) throw new ShapeError(`${op}: class ${ctor.name} is not registered`);
          return reg.unflatten(t.meta, parts);
        }
      }
    },
  );
}

/**
 * Rebuilds a tree of structure `def` from leaves.
 * @example
 * const [leaves, def] = nb.tree.flatten({ a: 1, b: [2, 3] });
 * nb.tree.unflatten(def, leaves.map((x) => nb.mul(x, 2)));
 */
export function unflatten<T, L>(def: TreeDefOf<T>, leaves: readonly L[]): ReplaceLeaves<T, L>;
export function unflatten(def: TreeDef, leaves: readonly unknown[]): unknown {
  return unflattenAs(def, leaves, "tree.unflatten");
}

/** The leaves of a tree, in flatten order. @example nb.tree.leaves({ b: 2, a: [1] }); // [1, 2] */
export function leaves<T>(tree: T): LeafOf<T>[];
export function leaves(tree: unknown): unknown[] {
  return flattenAs(tree, "tree.leaves")[0];
}

/** The structure of a tree (an immutable value). @example nb.tree.structure([1, { x: 2 }]).numLeaves; // 2 */
export function structure<T>(tree: T): TreeDefOf<T>;
export function structure(tree: unknown): TreeDef {
  return flattenAs(tree, "tree.structure")[1];
}

/**
 * Maps `f` over the leaves of one or more trees of the same structure.
 * @example nb.tree.map((x) => nb.mul(x, 2), { a: 1, b: [2] });
 */
export function map<T, R, Rest extends unknown[] = []>(
  f: (leaf: NoInfer<LeafOf<T>>, ...others: { [K in keyof Rest]: NoInfer<LeafOf<Rest[K]>> }) => R,
  tree: T,
  ...rest: Rest
): ReplaceLeaves<T, R>;
export function map(f: (...leaves: any[]) => unknown, tree: unknown, ...rest: unknown[]): unknown {
  if (typeof f !== "function") throw new NablaError(`tree.map: expected a function, got ${describe(f)}`);
  const [ls, def] = flattenAs(tree, "tree.map");
  const others = rest.map((r) => {
    const [l, d] = flattenAs(r, "tree.map");
    if (!d.equals(def)) throw new ShapeError(`tree.map: structures differ: ${def} and ${d}`);
    return l;
  });
  return unflattenAs(
    def,
    ls.map((l, i) => f(l, ...others.map((o) => o[i]))),
    "tree.map",
  );
}
