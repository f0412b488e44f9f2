/**
 * Taylor mode versus nested forward mode (issue 11): the 8th derivative of
 * f(x) = sin(x)·exp(x)·tanh(x) at x = 0.7 by one `jet` of order 8 and by
 * eight nested `jvp`s, eager and under `jit` (default and "full" passes). Both are checked first against
 * a reference built in plain JS by Leibniz's rule from closed forms
 * ((sin·exp)^(j) = 2^(j/2) e^x sin(x + jπ/4); tanh^(j) = P_j(tanh x) with
 * P_0 = y, P_{j+1} = P_j'(y)(1 - y²), integer coefficients), then timed in
 * CPU time (median of batches after warm-up). Reports, never asserts, time.
 *
 * The same for a power chain p(x) = ((x^2.5)^1.2)^0.8 (= x^2.4, reference the
 * falling factorial 2.4·1.4·…·(2.4-K+1)·x^(2.4-K)): pow's Taylor rule (the ODE
 * x z' = y x' z, O(K²)) against nested jvp.
 *
 *   npm run bench -- --only jet
 */
import type { NDArray } from "../src/index.js";
import { nb } from "./lib/nabla.js";

const K = 8;
const X0 = 0.7;

const f = (x: NDArray): NDArray => nb.mul(nb.mul(nb.sin(x), nb.exp(x)), nb.tanh(x));

/** d^K f(X0) by Leibniz from the closed forms (plain JS, independent of nabla). */
function reference(): number {
  const polys: number[][] = [[0, 1]];
  for (let k = 1; k <= K; k++) {
    const dp = polys[k - 1]!.slice(1).map((c, i) => c * (i + 1));
    const q = Array<number>(dp.length + 2).fill(0);
    dp.forEach((c, i) => {
      q[i] = q[i]! + c;
      q[i + 2] = q[i + 2]! - c;
    });
    polys.push(q);
  }
  const y = Math.tanh(X0);
  const tanhD = (j: number) => polys[j]!.reduceRight((acc, c) => acc * y + c, 0);
  const sinExpD = (j: number) => 2 ** (j / 2) * Math.exp(X0) * Math.sin(X0 + (j * Math.PI) / 4);
  let binom = 1;
  let s = 0;
  for (let j = 0; j <= K; j++) {
    s += binom * sinExpD(j) * tanhD(K - j);
    binom = (binom * (K - j)) / (j + 1);
  }
  return s;
}

const powChain = (x: NDArray): NDArray => nb.pow(nb.pow(nb.pow(x, 2.5), 1.2), 0.8);

/** d^K x^2.4 at X0 (plain JS). */
function powReference(): number {
  let c = 1;
  for (let i = 0; i < K; i++) c *= 2.4 - i;
  return c * X0 ** (2.4 - K);
}

const byJetOf =
  (g: (x: NDArray) => NDArray) =>
  (x: NDArray): NDArray => {
    const terms = [nb.onesLike(x), ...Array.from({ length: K - 1 }, () => nb.zerosLike(x))];
    return nb.jet(g, [x], [terms])[1][K - 1]!;
  };

const byNestedJvpOf =
  (g: (x: NDArray) => NDArray) =>
  (x: NDArray): NDArray => {
    let h = g;
    for (let k = 0; k < K; k++) {
      const prev = h;
      h = (v: NDArray) => nb.jvp(prev, [v], [nb.onesLike(v)])[1];
    }
    return h(x);
  };

/** Median CPU milliseconds per call over `batches` batches of `calls` calls, after warm-up. */
function ms(run: () => void, calls: number, batches: number): number {
  const w0 = performance.now();
  for (let i = 0; i < 2 || performance.now() - w0 < 500; i++) run();
  const t: number[] = [];
  for (let b = 0; b < batches; b++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) run();
    const c = process.cpuUsage(c0);
    t.push((c.user + c.system) / 1000 / calls);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1]!;
}

export interface JetRow {
  /** The function differentiated. */
  readonly fn: string;
  readonly mode: "eager" | "jit" | 'jit, optimize "full"';
  readonly jetMs: number;
  readonly nestedMs: number;
}

/** Checks both routes against the reference, then times them eagerly and under jit. */
function measureOne(fn: string, g: (x: NDArray) => NDArray, want: number, batches: number): JetRow[] {
  const x = nb.array(X0);
  const byJet = byJetOf(g);
  const byNestedJvp = byNestedJvpOf(g);
  const routes: [string, (v: NDArray) => NDArray][] = [
    ["jet", byJet],
    ["nested jvp", byNestedJvp],
    ["jit(jet)", nb.jit(byJet)],
    ["jit(nested jvp)", nb.jit(byNestedJvp)],
    ["jit(jet) full", nb.jit(byJet, { optimize: "full" })],
    ["jit(nested jvp) full", nb.jit(byNestedJvp, { optimize: "full" })],
  ];
  for (const [name, r] of routes) {
    const got = r(x).item();
    // float64: both evaluate a polynomial in the elementary functions' values of a few hundred rounded
    // terms; optimize "full" reassociates nested jvp's sums of the power chain's large terms (1.3e-11 seen)
    if (!(Math.abs(got - want) <= 1e-10 * Math.abs(want)))
      throw new Error(`jet bench ${fn} ${name}: got ${got}, expected ${want}`);
  }
  const [jet, nested, jitJet, jitNested, fullJet, fullNested] = routes.map(([, r], i) =>
    ms(() => r(x), i < 2 ? 1 : 50, batches),
  );
  return [
    { fn, mode: "eager", jetMs: jet!, nestedMs: nested! },
    { fn, mode: "jit", jetMs: jitJet!, nestedMs: jitNested! },
    { fn, mode: 'jit, optimize "full"', jetMs: fullJet!, nestedMs: fullNested! },
  ];
}

/** Both workloads (sin·exp·tanh and the power chain), each checked then timed eagerly and under jit. */
export function measureJet(batches = 7): JetRow[] {
  return [
    ...measureOne("sin·exp·tanh", f, reference(), batches),
    ...measureOne("((x^2.5)^1.2)^0.8", powChain, powReference(), batches),
  ];
}

/** A text table of the figures. */
export function jetTable(rows: readonly JetRow[]): string[][] {
  return rows.map((r) => [
    `8th derivative of ${r.fn}, ${r.mode}`,
    `${r.jetMs.toFixed(3)} ms`,
    `${r.nestedMs.toFixed(3)} ms`,
    `${(r.nestedMs / r.jetMs).toFixed(1)}x`,
  ]);
}
