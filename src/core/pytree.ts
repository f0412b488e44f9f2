/**
 * Pytrees: nested containers (JS arrays, plain objects with keys in sorted
 * order, null/undefined as empty, and registered classes) whose leaves are
 * NDArrays and numbers.
 */
import { ShapeError } from "./errors.js";
import { NDArray } from "./ndarray.js";
import type { LeafOf, ReplaceLeaves, TreeDefOf } from "./types.js";

/**
 * The structure of a pytree, without its leaves.
 * @example nb.tree.structure({ a: 1, b: [2, 3] }).toString(); // "{a: *, b: [*, *]}"
 */
export class TreeDef {
  constructor(
    readonly kind: "leaf" | "array" | "object" | "none" | "custom",
    readonly children: readonly TreeDef[] = [],
    readonly meta: unknown = null,
    readonly ctor: Function | null = null,
  ) {}
  /** Number of leaves. */
  get numLeaves(): number {
    let n = 0;
    const stack: TreeDef[] = [this];
    while (stack.length) {
      const t = stack.pop()!;
      if (t.kind === "leaf") n++;
      else stack.push(...t.children);
    }
    return n;
  }
  equals(other: TreeDef): boolean {
    return this.toString() === other.toString();
  }
  toString(): string {
    switch (this.kind) {
      case "leaf":
        return "*";
      case "none":
        return String(this.meta);
      case "array":
        return `[${this.children.map(String).join(", ")}]`;
      case "object":
        return `{${(this.meta as string[]).map((k, i) => `${k}: ${this.children[i]}`).join(", ")}}`;
      case "custom":
        return `${this.ctor!.name}(${this.children.map(String).join(", ")})`;
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
  REGISTRY.set(ctor, { flatten: flatten as Registration["flatten"], unflatten });
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object") return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

/** Leaves in order and the structure. @example nb.tree.flatten({ b: 1, a: [2, 3] }); // [[2, 3, 1], def] */
export function flatten<T>(tree: T): [LeafOf<T>[], TreeDefOf<T>];
export function flatten(tree: unknown): [unknown[], TreeDef] {
  const leaves: unknown[] = [];
  const rec = (x: unknown): TreeDef => {
    if (x instanceof NDArray || typeof x === "number" || typeof x === "boolean") {
      leaves.push(x);
      return LEAF;
    }
    if (x === null || x === undefined) return x === null ? NONE_NULL : NONE_UNDEF;
    if (Array.isArray(x)) return new TreeDef("array", x.map(rec));
    if (ArrayBuffer.isView(x)) {
      leaves.push(x);
      return LEAF;
    }
    const reg = typeof x === "object" ? REGISTRY.get((x as object).constructor) : undefined;
    if (reg !== undefined) {
      const [children, meta] = reg.flatten(x);
      return new TreeDef("custom", children.map(rec), meta, (x as object).constructor);
    }
    if (isPlainObject(x)) {
      const keys = Object.keys(x).sort();
      return new TreeDef(
        "object",
        keys.map((k) => rec(x[k])),
        keys,
      );
    }
    throw new ShapeError(`tree.flatten: unsupported pytree node ${Object.prototype.toString.call(x)}`);
  };
  const def = rec(tree);
  return [leaves, def];
}

const LEAF = new TreeDef("leaf");
const NONE_NULL = new TreeDef("none", [], null);
const NONE_UNDEF = new TreeDef("none", [], "undefined");

/**
 * Rebuilds a tree of structure `def` from leaves.
 * @example
 * const [leaves, def] = nb.tree.flatten({ a: 1, b: [2, 3] });
 * nb.tree.unflatten(def, leaves.map((x) => nb.mul(x, 2)));
 */
export function unflatten<T, L>(def: TreeDefOf<T>, leaves: readonly L[]): ReplaceLeaves<T, L>;
export function unflatten(def: TreeDef, leaves: readonly unknown[]): unknown {
  let i = 0;
  const rec = (t: TreeDef): unknown => {
    switch (t.kind) {
      case "leaf":
        if (i >= leaves.length) throw new ShapeError(`tree.unflatten: too few leaves for ${def}`);
        return leaves[i++];
      case "none":
        return t.meta === null ? null : undefined;
      case "array":
        return t.children.map(rec);
      case "object": {
        const o: Record<string, unknown> = {};
        (t.meta as string[]).forEach((k, j) => (o[k] = rec(t.children[j]!)));
        return o;
      }
      case "custom":
        return REGISTRY.get(t.ctor!)!.unflatten(t.meta, t.children.map(rec));
    }
  };
  const out = rec(def);
  if (i !== leaves.length) throw new ShapeError(`tree.unflatten: ${leaves.length} leaves for a structure with ${i}`);
  return out;
}

/** The leaves of a tree, in flatten order. @example nb.tree.leaves({ b: 2, a: [1] }); // [1, 2] */
export function leaves<T>(tree: T): LeafOf<T>[];
export function leaves(tree: unknown): unknown[] {
  return flatten(tree)[0];
}

/** The structure of a tree. @example nb.tree.structure([1, { x: 2 }]).numLeaves; // 2 */
export function structure<T>(tree: T): TreeDefOf<T>;
export function structure(tree: unknown): TreeDef {
  return flatten(tree)[1];
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
  const [ls, def] = flatten(tree);
  const others = rest.map((r) => {
    const [l, d] = flatten(r);
    if (!d.equals(def)) throw new ShapeError(`tree.map: structures differ: ${def} and ${d}`);
    return l;
  });
  return unflatten(
    def,
    ls.map((l, i) => f(l, ...others.map((o) => o[i]))),
  );
}
