/**
 * A small expression language for the browser demo: functions of x built
 * from numbers, `x`, `pi`, `e`, + − * / ^ (right-associative), unary minus,
 * parentheses and calls of nabla's unary operations (`sin(x)`). Parsed by
 * recursive descent into a tree and compiled to a function over nabla arrays
 * (so every transform applies to it). Nothing is evaluated as JS source.
 */
import * as nb from "../src/index.js";

/** The syntax tree. */
export type Expr =
  | { kind: "num"; value: number }
  | { kind: "x" }
  | { kind: "neg"; arg: Expr }
  | { kind: "bin"; op: "+" | "-" | "*" | "/" | "^"; left: Expr; right: Expr }
  | { kind: "call"; fn: string; arg: Expr };

/** A syntax error, with the 0-based offset in the source where it was found. */
export class ParseError extends Error {
  override name = "ParseError";
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} (at column ${position + 1})`);
  }
}

type Unary = (x: nb.NDArray | number) => nb.NDArray;

/** The functions an expression may call, each a differentiable nabla operation. */
export const FUNCTIONS: ReadonlyMap<string, Unary> = new Map<string, Unary>([
  ["sin", nb.sin],
  ["cos", nb.cos],
  ["tan", nb.tan],
  ["exp", nb.exp],
  ["log", nb.log],
  ["log1p", nb.log1p],
  ["expm1", nb.expm1],
  ["sqrt", nb.sqrt],
  ["square", nb.square],
  ["tanh", nb.tanh],
  ["sinh", nb.sinh],
  ["cosh", nb.cosh],
  ["arcsin", nb.arcsin],
  ["arccos", nb.arccos],
  ["arctan", nb.arctan],
  ["asin", nb.arcsin],
  ["acos", nb.arccos],
  ["atan", nb.arctan],
  ["sigmoid", nb.sigmoid],
  ["softplus", nb.softplus],
  ["relu", nb.relu],
  ["abs", nb.abs],
  ["sign", nb.sign],
  ["erf", nb.erf],
  ["reciprocal", nb.reciprocal],
]);

const CONSTANTS: ReadonlyMap<string, number> = new Map([
  ["pi", Math.PI],
  ["e", Math.E],
]);

interface Token {
  kind: "num" | "name" | "op" | "end";
  text: string;
  pos: number;
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (let c = src.charAt(i); i < src.length; c = src.charAt(i)) {
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num !== null) {
      tokens.push({ kind: "num", text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_]\w*/.exec(src.slice(i));
    if (name !== null) {
      tokens.push({ kind: "name", text: name[0], pos: i });
      i += name[0].length;
      continue;
    }
    if ("+-*/^()".includes(c)) {
      tokens.push({ kind: "op", text: c, pos: i });
      i++;
      continue;
    }
    throw new ParseError(`unexpected character "${c}"`, i);
  }
  tokens.push({ kind: "end", text: "end of input", pos: src.length });
  return tokens;
}

/**
 * Parses an expression. Grammar (lowest precedence first):
 * sum := product (("+" | "-") product)*; product := unary (("*" | "/") unary)*;
 * unary := "-" unary | power; power := atom ("^" unary)?;
 * atom := number | "x" | constant | name "(" sum ")" | "(" sum ")".
 */
export function parse(src: string): Expr {
  const tokens = tokenize(src);
  let k = 0;
  // the last token is "end"; reading past it reads it again
  const end: Token = { kind: "end", text: "end of input", pos: src.length };
  const peek = () => tokens[k] ?? end;
  const next = () => tokens[k++] ?? end;
  const isOp = (t: Token, ops: string) => t.kind === "op" && ops.includes(t.text);
  const expect = (text: string) => {
    const t = next();
    if (t.kind !== "op" || t.text !== text) throw new ParseError(`expected "${text}" but found "${t.text}"`, t.pos);
  };

  // a left-associative chain: operand (op operand)*
  const chain = (ops: "+-" | "*/", operand: () => Expr) => (): Expr => {
    let left = operand();
    while (isOp(peek(), ops)) {
      const op = next().text as "+" | "-" | "*" | "/";
      left = { kind: "bin", op, left, right: operand() };
    }
    return left;
  };
  const product = chain("*/", () => unary());
  const sum = chain("+-", product);
  const unary = (): Expr => {
    if (isOp(peek(), "-")) {
      next();
      return { kind: "neg", arg: unary() };
    }
    return power();
  };
  const power = (): Expr => {
    const base = atom();
    if (isOp(peek(), "^")) {
      next();
      return { kind: "bin", op: "^", left: base, right: unary() };
    }
    return base;
  };
  const atom = (): Expr => {
    const t = next();
    if (t.kind === "num") return { kind: "num", value: Number(t.text) };
    if (t.kind === "name") {
      if (t.text === "x") return { kind: "x" };
      const c = CONSTANTS.get(t.text);
      if (c !== undefined) return { kind: "num", value: c };
      if (!FUNCTIONS.has(t.text)) {
        const known = [...FUNCTIONS.keys()].join(", ");
        throw new ParseError(`unknown name "${t.text}" (use x, pi, e or one of ${known})`, t.pos);
      }
      expect("(");
      const arg = sum();
      expect(")");
      return { kind: "call", fn: t.text, arg };
    }
    if (isOp(t, "(")) {
      const inner = sum();
      expect(")");
      return inner;
    }
    throw new ParseError(`expected a number, x, a function call or "(" but found "${t.text}"`, t.pos);
  };

  const tree = sum();
  const rest = peek();
  if (rest.kind !== "end") throw new ParseError(`unexpected "${rest.text}"`, rest.pos);
  return tree;
}

const BINARY = {
  "+": nb.add,
  "-": nb.sub,
  "*": nb.mul,
  "/": nb.div,
  "^": nb.pow,
} as const;

/** Compiles a tree to a function of x over nabla arrays (differentiable, batchable). */
export function compile(e: Expr): (x: nb.NDArray) => nb.NDArray {
  const go = (e: Expr, x: nb.NDArray): nb.NDArray | number => {
    switch (e.kind) {
      case "num":
        return e.value;
      case "x":
        return x;
      case "neg":
        return nb.neg(go(e.arg, x));
      case "bin":
        return BINARY[e.op](go(e.left, x), go(e.right, x));
      case "call": {
        const fn = FUNCTIONS.get(e.fn);
        if (fn === undefined) throw new Error(`unknown function ${e.fn}`);
        return fn(go(e.arg, x));
      }
    }
  };
  return (x) => {
    const y = go(e, x);
    return typeof y === "number" ? nb.array(y) : y;
  };
}

/** Prints a tree back as source with every operation parenthesised (shows how it was read). */
export function show(e: Expr): string {
  switch (e.kind) {
    case "num":
      return String(e.value);
    case "x":
      return "x";
    case "neg":
      return `(-${show(e.arg)})`;
    case "bin":
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case "call":
      return `${e.fn}(${show(e.arg)})`;
  }
}

/** What the page plots: the grid, f and its first three derivatives there, and the graph of f′. */
export interface Analysis {
  xs: number[];
  /** f, f′, f″, f‴ at xs (NaN where undefined, e.g. log of a negative number). */
  series: [number[], number[], number[], number[]];
  /** `makeGraph(grad(f))` staged at a scalar, printed. */
  graph: string;
}

/**
 * Parses `src`, and computes f, f′ = grad(f), f″ = grad(grad(f)) and f‴ on n
 * evenly spaced points of [lo, hi], each batched over the grid by `vmap`.
 * Throws ParseError for a syntax error.
 */
export function analyse(src: string, lo: number, hi: number, n: number): Analysis {
  const f = compile(parse(src));
  const d1 = nb.grad(f);
  const d2 = nb.grad(d1);
  const fns = [f, d1, d2, nb.grad(d2)];
  const grid = nb.linspace(lo, hi, n);
  const series = fns.map((g) => Array.from(nb.vmap(g)(grid).toTypedArray())) as Analysis["series"];
  return {
    xs: Array.from(grid.toTypedArray()),
    series,
    graph: nb.makeGraph(d1)(0).toString(),
  };
}
