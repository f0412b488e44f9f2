/**
 * `jit`'s cache key (API.md, "Semantics settled"): pytree structure including
 * the metadata registered classes flatten to, shapes, dtypes, weak types and
 * static arguments. Metadata and static arguments follow one rule: primitives
 * compare by `Object.is` (NaN matches NaN, 0 and -0 differ), arrays and plain
 * objects structurally by the same rule, everything else (functions, class
 * instances, Map, Set, symbols) by identity.
 */
import { TreeDef, classOf, foldDef } from "../core/pytree.js";

const IDS = new WeakMap<object, number>();
const SYMBOL_IDS = new Map<symbol, number>();
let nextId = 0;

function identity(x: object | symbol): string {
  if (typeof x === "symbol") {
    let id = SYMBOL_IDS.get(x);
    if (id === undefined) SYMBOL_IDS.set(x, (id = nextId++));
    return `#${id}`;
  }
  let id = IDS.get(x);
  if (id === undefined) IDS.set(x, (id = nextId++));
  return `#${id}`;
}

function isPlain(x: object): boolean {
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

/**
 * A string that two values share exactly when they are equal under the rule above (a value that
 * contains itself is compared by identity from the repeated node on).
 * @example valueKey([NaN, -0]) !== valueKey([NaN, 0]); valueKey({ a: [1] }) === valueKey({ a: [1] });
 */
export function valueKey(v: unknown): string {
  const open = new Set<object>();
  const rec = (x: unknown): string => {
    switch (typeof x) {
      case "number":
        return Object.is(x, -0) ? "n-0" : `n${x}`;
      case "string":
        return `s${JSON.stringify(x)}`;
      case "boolean":
        return x ? "T" : "F";
      case "undefined":
        return "u";
      case "bigint":
        return `b${x}`;
      case "symbol":
        return identity(x);
      case "function":
        return identity(x);
    }
    if (x === null) return "z";
    const o = x as object;
    if (open.has(o) || !(Array.isArray(o) || isPlain(o))) return identity(o);
    open.add(o);
    try {
      if (Array.isArray(o)) {
        const parts: string[] = [];
        for (let i = 0; i < o.length; i++) parts.push(rec(o[i]));
        return `[${parts.join(",")}]`;
      }
      const r = o as Record<string, unknown>;
      return `{${Object.keys(r)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${rec(r[k])}`)
        .join(",")}}`;
    } finally {
      open.delete(o);
    }
  };
  return rec(v);
}

/** The key of a pytree structure: node kinds, keys, registered classes (by identity) and their metadata. */
export function treeKey(def: TreeDef): string {
  // a fold without recursion: structures may nest 10,000 deep
  return foldDef(
    def,
    () => "*",
    (t, parts) => {
      switch (t.kind) {
        case "none":
          return t.meta === null ? "N" : "U";
        case "array":
          return `[${parts.join(",")}]`;
        case "object":
          return `{${valueKey(t.meta)}:${parts.join(",")}}`;
        default:
          return `${identity(classOf(t, "jit"))}<${valueKey(t.meta)}>(${parts.join(",")})`;
      }
    },
  );
}
