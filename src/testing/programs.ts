/** Random differentiable programs (fast-check `letrec`), for checking transforms on whole programs. */
import { at } from "../core/errors.js";
import { readOptions } from "../core/options.js";
import { intArg, numberArg } from "../ops/validate.js";
import fc from "fast-check";
import * as nb from "../index.js";
import { arbArray } from "./arbitraries.js";

type NDArray = nb.NDArray;

// ---------------------------------------------------------------------------
// random programs

/**
 * A random differentiable program over one input array (from {@link arbProgram}).
 * @example
 * const [p] = fc.sample(arbProgram(), 1);
 * const [x] = fc.sample(p.input, 1);
 * p.f(x).shape; // p.inputShape
 * String(p);    // "x: f64[2,3] ↦ add(sin(x), ...)"
 */
export interface Program {
  /** The program. */
  f: (x: NDArray) => NDArray;
  /** Shape of the input `x` (always 2-D, [m, n]). */
  inputShape: number[];
  /** Inputs for the program: bounded float64 arrays of `inputShape`. */
  input: fc.Arbitrary<NDArray>;
  /** The expression, e.g. `x: f64[2,3] ↦ add(sin(x), mean(x, axis=1))`, with its constants. */
  expr: string;
  /** The same as `expr`, so fast-check prints a failing program readably. */
  toString(): string;
}

/**
 * Options of {@link arbProgram}.
 * @example
 * arbProgram({ maxDepth: 2, maxDim: 2, inputBound: 1 } satisfies ProgramOptions);
 */
export interface ProgramOptions {
  /** Maximum nesting depth of the expression (default 4). */
  maxDepth?: number;
  /** Largest m and n of the [m, n] input (default 3). */
  maxDim?: number;
  /** Bound of the input values: x in [-bound, bound] (default 2). */
  inputBound?: number;
}

interface Node {
  run: (x: NDArray, consts: readonly NDArray[]) => NDArray;
  show: string;
  /** Constant arrays used by the node (indices into the program's constant list, shown as c0, c1, ...). */
  consts: NDArray[];
}

/** Merges child nodes' constants: each child's constants follow the previous child's. */
type Run = (x: NDArray, c: readonly NDArray[]) => NDArray;

function combine<C extends Node[]>(
  children: [...C],
  make: (args: { [K in keyof C]: Run }, shows: { [K in keyof C]: string }) => Node,
): Node {
  const offsets: number[] = [];
  let off = 0;
  for (const ch of children) {
    offsets.push(off);
    off += ch.consts.length;
  }
  const runs = children.map((ch, i) => (x: NDArray, c: readonly NDArray[]) => ch.run(x, c.slice(offsets[i])));
  const shows = children.map((ch, i) => renumber(ch.show, at(offsets, i, "combine")));
  // one run and one show per child, in order: the children's tuple type, mapped
  const node = make(runs as { [K in keyof C]: Run }, shows as { [K in keyof C]: string });
  return { run: node.run, show: node.show, consts: children.flatMap((ch) => ch.consts) };
}

/** Shifts the constant names c<k> of a child's description by `by`. */
function renumber(show: string, by: number): string {
  return by === 0 ? show : show.replace(/\bc(\d+)\b/g, (_m, k: string) => `c${Number(k) + by}`);
}

type Unary = [name: string, f: (a: NDArray) => NDArray];

/** Smooth unary maps, each total on the reals (domain-restricted primitives are guarded). */
const UNARY: Unary[] = [
  ["sin(·)", nb.sin],
  ["cos(·)", nb.cos],
  ["tanh(·)", nb.tanh],
  ["sigmoid(·)", nb.sigmoid],
  ["softplus(·)", nb.softplus],
  ["arctan(·)", nb.arctan],
  ["erf(·)", nb.erf],
  ["square(·)", nb.square],
  ["neg(·)", nb.neg],
  ["exp(tanh(·))", (a) => nb.exp(nb.tanh(a))],
  ["expm1(tanh(·))", (a) => nb.expm1(nb.tanh(a))],
  ["sinh(tanh(·))", (a) => nb.sinh(nb.tanh(a))],
  ["cosh(tanh(·))", (a) => nb.cosh(nb.tanh(a))],
  ["tan(tanh(·))", (a) => nb.tan(nb.tanh(a))],
  ["arcsin(0.9 * tanh(·))", (a) => nb.arcsin(nb.mul(nb.tanh(a), 0.9))],
  ["arccos(0.9 * tanh(·))", (a) => nb.arccos(nb.mul(nb.tanh(a), 0.9))],
  ["log(1 + square(·))", (a) => nb.log(nb.add(1, nb.square(a)))],
  ["log1p(square(·))", (a) => nb.log1p(nb.square(a))],
  ["sqrt(1 + square(·))", (a) => nb.sqrt(nb.add(1, nb.square(a)))],
  ["reciprocal(1 + square(·))", (a) => nb.reciprocal(nb.add(1, nb.square(a)))],
  ["pow(1 + square(·), 1.5)", (a) => nb.pow(nb.add(1, nb.square(a)), 1.5)],
  ["pow(·, 3)", (a) => nb.pow(a, 3)],
];

type Binary = [name: string, f: (a: NDArray, b: NDArray) => NDArray];

/** Smooth binary maps (denominators and bases kept away from 0). */
const BINARY: Binary[] = [
  ["add(·, ·)", nb.add],
  ["sub(·, ·)", nb.sub],
  ["mul(·, ·)", nb.mul],
  ["div(·, 1 + square(·))", (a, b) => nb.div(a, nb.add(1, nb.square(b)))],
  ["pow(1 + square(·), tanh(·))", (a, b) => nb.pow(nb.add(1, nb.square(a)), nb.tanh(b))],
  ["arctan2(·, 1 + square(·))", (a, b) => nb.arctan2(a, nb.add(1, nb.square(b)))],
];

function fill(template: string, args: readonly string[]): string {
  let i = 0;
  return template.replace(/·/g, () => args[i++] ?? "?");
}

/**
 * Random differentiable programs `f: [m, n] -> [m, n]` built with
 * `fc.letrec` from smooth unary maps (domain-guarded log, sqrt, arcsin,
 * pow, ...), add/sub/mul/div with safe denominators, keepdims reductions
 * (sum, mean, prod, logsumexp) broadcast back, softmax/logSoftmax,
 * reshape+transpose, matmul chains, rolls (slice + concatenate) and `where`
 * with a constant mask. `toString()` prints the expression and its constants
 * for failure messages.
 * @example
 * fc.assert(
 *   fc.property(arbProgram().chain((p) => p.input.map((x) => [p, x] as const)), ([p, x]) => {
 *     checkGrads(p.f, [x], { order: 2 });
 *   }),
 * );
 */
export function arbProgram(opts: ProgramOptions = {}): fc.Arbitrary<Program> {
  const fn = "arbProgram";
  const o = readOptions(fn, opts, ["maxDepth", "maxDim", "inputBound"]);
  const maxDepth =
    o.maxDepth === undefined ? 4 : intArg(fn, "maxDepth", o.maxDepth, { min: 0, max: 64 }, nb.NablaError);
  const maxDim = o.maxDim === undefined ? 3 : intArg(fn, "maxDim", o.maxDim, { min: 1, max: 46340 }, nb.NablaError);
  const inputBound = o.inputBound === undefined ? 2 : numberArg(fn, "inputBound", o.inputBound, true);
  if (!(inputBound >= 0)) throw new nb.NablaError(`${fn}: inputBound must be a finite number >= 0, got ${inputBound}`);
  const dims = fc.tuple(fc.integer({ min: 1, max: maxDim }), fc.integer({ min: 1, max: maxDim }));
  return dims.chain(([m, n]) => {
    const shape = [m, n];
    const constArr = arbArray({ shape, min: -1, max: 1 });
    const axis = fc.constantFrom(0, 1);
    const depth = fc.createDepthIdentifier();
    const nodes = fc.letrec<{ top: Node; node: Node; leaf: Node; unary: Node; binary: Node; structural: Node }>(
      (tie) => ({
        // the program itself is never a bare leaf
        top: fc.oneof(
          { depthIdentifier: depth, withCrossShrink: true },
          tie("unary"),
          tie("binary"),
          tie("structural"),
        ),
        node: fc.oneof(
          { maxDepth, depthIdentifier: depth, withCrossShrink: true },
          tie("leaf"),
          tie("unary"),
          tie("binary"),
          tie("structural"),
        ),
        leaf: fc.oneof(
          { weight: 3, arbitrary: fc.constant<Node>({ run: (x) => x, show: "x", consts: [] }) },
          {
            weight: 1,
            arbitrary: constArr.map((c): Node => ({
              run: (_x, cs) => at(cs, 0, "arbProgram"),
              show: "c0",
              consts: [c],
            })),
          },
        ),
        unary: fc
          .tuple(fc.constantFrom(...UNARY), tie("node"))
          .map(([[name, g], a]) =>
            combine([a], ([ra], [sa]) => ({ run: (x, c) => g(ra(x, c)), show: fill(name, [sa]), consts: [] })),
          ),
        binary: fc.tuple(fc.constantFrom(...BINARY), tie("node"), tie("node")).map(([[name, g], a, b]) =>
          combine([a, b], ([ra, rb], [sa, sb]) => ({
            run: (x, c) => g(ra(x, c), rb(x, c)),
            show: fill(name, [sa, sb]),
            consts: [],
          })),
        ),
        structural: fc.oneof(
          // keepdims reductions broadcast back to [m, n]
          fc.tuple(fc.constantFrom("sum", "mean", "prod", "logsumexp"), axis, tie("node")).map(([op, ax, a]) =>
            combine([a], ([ra], [sa]) => ({
              run: (x, c) => {
                const v = ra(x, c);
                const r =
                  op === "sum"
                    ? nb.sum(v, ax, true)
                    : op === "mean"
                      ? nb.mean(v, ax, true)
                      : op === "prod"
                        ? nb.prod(v, ax, true)
                        : nb.logsumexp(v, ax, true);
                return nb.broadcastTo(r, shape);
              },
              show: `broadcastTo(${op}(${sa}, axis=${ax}, keepdims), [${shape}])`,
              consts: [],
            })),
          ),
          fc.tuple(fc.constantFrom("softmax", "logSoftmax"), axis, tie("node")).map(([op, ax, a]) =>
            combine([a], ([ra], [sa]) => ({
              run: (x, c) => (op === "softmax" ? nb.softmax(ra(x, c), ax) : nb.logSoftmax(ra(x, c), ax)),
              show: `${op}(${sa}, axis=${ax})`,
              consts: [],
            })),
          ),
          tie("node").map((a) =>
            combine([a], ([ra], [sa]) => ({
              run: (x, c) => nb.transpose(nb.reshape(ra(x, c), [n, m])),
              show: `transpose(reshape(${sa}, [${n},${m}]))`,
              consts: [],
            })),
          ),
          fc.tuple(tie("node"), tie("node"), tie("node")).map(([a, b, d]) =>
            combine([a, b, d], ([ra, rb, rd], [sa, sb, sd]) => ({
              run: (x, c) => nb.div(nb.matmul(nb.matmul(ra(x, c), nb.transpose(rb(x, c))), rd(x, c)), m * n),
              show: `div(matmul(matmul(${sa}, transpose(${sb})), ${sd}), ${m * n})`,
              consts: [],
            })),
          ),
          fc.tuple(axis, fc.integer({ min: 1, max: maxDim }), tie("node")).map(([ax, k0, a]) => {
            const len = at(shape, ax, "arbProgram");
            const k = k0 % len;
            return combine([a], ([ra], [sa]) => ({
              run: (x, c) => {
                const v = ra(x, c);
                if (k === 0) return v;
                const end = shape.slice();
                const begin = [0, 0];
                end[ax] = len - k;
                begin[ax] = len - k;
                return nb.concatenate([nb.slice(v, begin, shape), nb.slice(v, [0, 0], end)], ax);
              },
              show: `roll(${sa}, ${k}, axis=${ax})`,
              consts: [],
            }));
          }),
          fc
            .tuple(fc.array(fc.boolean(), { minLength: m * n, maxLength: m * n }), tie("node"), tie("node"))
            .map(([mask, a, b]) =>
              combine([a, b], ([ra, rb], [sa, sb]) => {
                const cond = nb.array(mask, { shape });
                return {
                  run: (x, c) => nb.where(cond, ra(x, c), rb(x, c)),
                  show: `where([${mask.map((v) => (v ? 1 : 0)).join("")}], ${sa}, ${sb})`,
                  consts: [],
                };
              }),
            ),
        ),
      }),
    );
    return nodes.top.map((node): Program => {
      const consts = node.consts;
      const expr =
        `x: f64[${m},${n}] ↦ ${node.show}` +
        consts.map((c, i) => `\n  c${i} = ${c.toString().replace(/\s+/g, " ")}`).join("");
      const program: Program = {
        f: (x: NDArray) => node.run(x, consts),
        inputShape: shape,
        input: arbArray({ shape, min: -inputBound, max: inputBound }),
        expr,
        toString: () => expr,
      };
      Object.defineProperty(program, fc.toStringMethod, { value: () => expr, enumerable: false });
      return program;
    });
  });
}
