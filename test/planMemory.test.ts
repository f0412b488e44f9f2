/**
 * jit plans' memory and in-place reads (src/transforms/plan.ts, issue 8 W4):
 * - buffers a plan keeps from call to call (fused loops' results, tiled and
 *   padded copies) never show through in a returned array: every call's
 *   outputs stay what they were after later calls with other arguments, also
 *   when an output shares a kept buffer's storage (a reshape) or a call runs
 *   inside another (a debug callback calling the jitted function);
 * - pads fused into loops (read in place by the JS loop, or from a padded
 *   copy by the compiled one), broadcasts read in place, and transposes
 *   written by the loop give eager evaluation's values bit for bit, on dense
 *   random inputs with NaN, ±Infinity, ±0 and subnormals, in float64 and
 *   float32, through the JS and the WebAssembly loops.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectIdentical } from "./support/assert.js";
import { seeded } from "./support/rng.js";
import * as nb from "../src/index.js";
import { compile } from "../src/transforms/plan.js";
import { evalGraph } from "../src/core/graph.js";
import type { ConcreteArray } from "../src/core/ndarray.js";
import { setWasmMinSize, wasmMinSize } from "../src/kernels/wasm/elementwise.js";

type A = nb.NDArray;

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 5e-324, -2.5e-310, 1e-40, 3e38];
/** Dense random values in [-3, 3), about one in `every` a special value. */
function values(n: number, seed: number, every = 7): number[] {
  const r = seeded(seed);
  return Array.from({ length: n }, () =>
    r() * every < 1 ? (SPECIAL[Math.floor(r() * SPECIAL.length)] ?? 0) : r() * 6 - 3,
  );
}

const DTYPES = ["float64", "float32"] as const;

/** Zero padding with `lo` / `hi` elements before / after on each axis. */
const padLoHi = (x: A, lo: number[], hi: number[]): A =>
  nb.pad(
    x,
    lo.map((l, i): [number, number] => [l, hi[i] ?? 0]),
  );

describe("kept buffers never show through in returned arrays", () => {
  it("outputs of earlier calls are unchanged by later calls (fused results, reshaped aliases, transposes)", () => {
    const n = 300;
    const f = (x: A, y: A): A[] => {
      const a = nb.mul(nb.add(x, 1), y); // a fused loop's result, read by later loops (a kept buffer)
      const b = nb.reshape(nb.sub(a, nb.mul(a, a)), [30, 10]); // an output sharing a loop result's storage
      const c = nb.sum(nb.mul(a, 3), 0);
      const d = nb.transpose(nb.reshape(nb.add(nb.mul(a, 2), x), [30, 10])); // written transposed by the loop
      const e = padLoHi(nb.reshape(nb.mul(a, y), [30, 10]), [0, 1], [2, 0]);
      // a reshape run as its own equation (after a slice ends the loop): an output sharing a's kept buffer
      const s = nb.sin(nb.slice(a, [0], [100]));
      return [b, nb.mul(c, x), d, nb.add(e, 1), s, nb.reshape(a, [30, 10])];
    };
    for (const dtype of DTYPES) {
      const g = nb.jit(f);
      const calls = [1, 2, 3].map((k) => {
        const x = nb.array(values(n, 11 * k), { dtype });
        const y = nb.array(values(n, 13 * k + 1), { dtype });
        return { x, y, got: g(x, y) };
      });
      // after every call ran: each call's outputs are still eager evaluation's values for its arguments
      for (const { x, y, got } of calls) f(x, y).forEach((want, i) => expectIdentical(want, got[i]!));
    }
  });

  it("a call made inside another (a debug callback calling the jitted function) leaves the outer call's values intact", () => {
    const n = 64;
    let inner: A[] | null = null;
    let depth = 0;
    // no special values here: a NaN in the sum would make every output NaN, whatever q holds
    const other = nb.array(values(n, 99, 1e9));
    const f = (x: A): A[] => {
      const q = nb.add(nb.mul(x, 3), 1); // a kept buffer, read after the callback
      const r = nb.mul(q, 2);
      nb.debug.callback((_r: A) => {
        if (depth === 0) {
          depth++;
          inner = g(other);
          depth--;
        }
      }, r);
      const s = nb.sum(r);
      const t = nb.sub(q, s);
      return [nb.mul(t, t), s];
    };
    const g = nb.jit(f);
    const x = nb.array(values(n, 5, 1e9));
    const got = g(x);
    expect(inner).not.toBeNull();
    f(x).forEach((want, i) => expectIdentical(want, got[i]!));
    f(other).forEach((want, i) => expectIdentical(want, inner![i]!));
  });
});

describe("constants with the same elements are read once", () => {
  it("equal constants (in different shapes) are one input; constants differing in one element stay two", () => {
    const n = 300;
    const base = values(n, 21, 1e9);
    base[5] = 0;
    // differences only at elements the plan's hash does not sample (every fourth here): a zero of the
    // other sign, and another value
    const changed = base.slice();
    changed[5] = -0;
    changed[7] = (changed[7] ?? 0) + 1;
    for (const dtype of DTYPES) {
      const a = nb.array(base, { dtype });
      const same = nb.reshape(nb.array(base, { dtype }), [30, 10]);
      const other = nb.reshape(nb.array(changed, { dtype }), [30, 10]);
      const f = (x: A) => {
        const y = nb.reshape(nb.mul(x, a), [30, 10]);
        return nb.sub(nb.add(nb.mul(y, same), other), nb.mul(y, y));
      };
      const x = nb.array(values(n, 22), { dtype });
      expectIdentical(f(x), nb.jit(f)(x));
      // one difference at a time
      for (const k of [5, 7]) {
        const one = base.slice();
        one[k] = changed[k] ?? 0;
        const o = nb.reshape(nb.array(one, { dtype }), [30, 10]);
        const h = (z: A) => nb.add(nb.mul(nb.reshape(nb.mul(z, a), [30, 10]), o), same);
        expectIdentical(h(x), nb.jit(h)(x));
      }
    }
  });
});

describe("pads, broadcasts and transposes in fused loops equal eager evaluation bit for bit", () => {
  // pads along one axis (read in place) and along two (a padded copy), sums of pads (the transpose of
  // slices), vectors broadcast along leading axes (read in place) and along a middle axis (a tiled copy),
  // transposes written by the loop; each loop's operations chosen so that both the JS loop (a few cheap
  // operations) and the compiled one (a transcendental, or many operations) are taken
  const programs: [string, (x: A, v: A, w: A) => A][] = [
    [
      "sum of pads along the last axis, transposed (the Hessian-by-slices tail)",
      (x, v) => {
        const q = nb.mul(nb.reshape(x, [12, 1, 29]), v);
        const w = nb.sub(q, nb.mul(v, v));
        const z = nb.add(padLoHi(q, [0, 0, 1], [0, 0, 0]), padLoHi(w, [0, 0, 0], [0, 0, 1]));
        return nb.transpose(nb.reshape(z, [12, 30]));
      },
    ],
    [
      "pads along the first axis and along two axes, with a transcendental",
      (x, v) => {
        const m = nb.reshape(x, [12, 29]);
        const a = padLoHi(m, [2, 0], [1, 3]);
        const b = padLoHi(nb.mul(m, v), [0, 3], [3, 0]);
        return nb.sin(nb.mul(nb.add(a, b), padLoHi(nb.broadcastTo(v, [12, 29]), [3, 3], [0, 0])));
      },
    ],
    [
      "a broadcast along a middle axis (a tiled copy) and leading axes (in place), many cheap operations",
      (x, v, w) => {
        const m = nb.reshape(x, [12, 29]);
        const u = nb.reshape(w, [12, 1]);
        let y = nb.add(nb.mul(m, v), u);
        for (let k = 0; k < 6; k++) y = nb.sub(nb.mul(y, v), nb.mul(u, y));
        return nb.transpose(nb.neg(y));
      },
    ],
    [
      "a pad read by a folded sum and a transposed output of a 3-d value",
      (x, v) => {
        const t = nb.reshape(x, [4, 3, 29]);
        const p = padLoHi(nb.mul(t, v), [0, 0, 2], [0, 0, 0]);
        const s = nb.sum(nb.mul(p, p));
        return nb.add(nb.transpose(nb.add(p, 1), [2, 0, 1]), s);
      },
    ],
    [
      "folded sums over in-place reads (a repeated vector; pads), the first operand of their loops",
      (x, v) => {
        const m = nb.reshape(x, [12, 29]);
        const a = nb.sum(nb.mul(nb.add(m, v), m)); // v read in place (input 1), the sum folded into the loop
        const a0 = nb.sum(nb.mul(nb.add(v, m), m)); // v as input 0
        const mm = nb.mul(m, m);
        const b = nb.sub(nb.mul(m, v), v);
        const c = nb.sum(nb.mul(nb.add(padLoHi(b, [0, 1], [0, 0]), 2), padLoHi(mm, [0, 0], [0, 1])));
        return nb.add(nb.add(a, a0), c);
      },
    ],
  ];
  const n = 12 * 29;
  let minSize = 0;
  beforeAll(() => {
    minSize = wasmMinSize();
  });
  afterAll(() => {
    setWasmMinSize(minSize);
  });
  for (const threshold of ["default", 0] as const) {
    it.each(programs)(`%s (WebAssembly threshold ${threshold})`, (_name, f) => {
      setWasmMinSize(threshold === "default" ? minSize : 0);
      try {
        for (const dtype of DTYPES)
          for (const seed of [1, 2, 3]) {
            const x = nb.array(values(n, seed), { dtype }).reshape([12, 29]);
            const v = nb.array(values(29, seed + 100, 5), { dtype });
            const w = nb.array(values(12, seed + 200, 5), { dtype });
            const g = nb.makeGraph(f)(x, v, w);
            const plan = compile(g);
            expect(plan.fusedGroups).toBeGreaterThan(0);
            const args = [x, v, w] as ConcreteArray[];
            const first = plan.run(args)[0]!;
            // twice: the second run reuses the kept buffers
            const second = plan.run(args)[0]!;
            const want = f(x, v, w);
            expectIdentical(want, first);
            expectIdentical(want, second);
            expectIdentical(evalGraph(g, [x, v, w])[0]!, first);
            expectIdentical(want, nb.jit(f)(x, v, w));
          }
      } finally {
        setWasmMinSize(minSize);
      }
    });
  }

  it("the Rosenbrock Hessian at W4's size (compiled and JS loops, a transposed output) equals eager, with special values", () => {
    const n = 200;
    const rosen = (x: A) => {
      const head = nb.slice(x, [0], [n - 1]);
      const tail = nb.slice(x, [1], [n]);
      const d = nb.sub(tail, nb.mul(head, head));
      const e = nb.sub(1, head);
      return nb.sum(nb.add(nb.mul(nb.mul(d, d), 100), nb.mul(e, e)));
    };
    const h = nb.hessian(rosen);
    const hj = nb.jit(h);
    for (const dtype of DTYPES)
      for (const seed of [7, 8]) {
        const x = nb.array(values(n, seed, seed === 7 ? 1e9 : 20), { dtype });
        expectIdentical(h(x), hj(x));
      }
    // the plan of a third-order graph (the gradient of a function of the Hessian) against
    // equation-by-equation evaluation of the same graph
    const x = nb.array(values(n, 9, 1e9).map((v) => v / 2));
    const g3 = nb.makeGraph(nb.grad((z: A) => nb.sum(nb.mul(h(z), nb.sin(z)))))(x);
    expectIdentical(evalGraph(g3, [x])[0]!, compile(g3).run([x as ConcreteArray])[0]!);
  });
});
