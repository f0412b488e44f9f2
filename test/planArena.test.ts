/**
 * jit plans reuse the storage of dead intermediates (issue 8, W5; `Arena` in
 * src/core/dtype.ts): what a plan returns is never reused by a later run, an
 * output fed back as the next run's input is not overwritten, and results are
 * eager's bit for bit (Object.is per element) over repeated runs, in float32
 * and float64, also where a fused loop's broadcast operands are tiled straight
 * into the compiled loop's memory. A callback that keeps the arrays it is given sees them
 * unchanged after later runs (plans with callbacks do not reuse storage).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { Arena, allocate, withArena } from "../src/core/dtype.js";
import { seeded } from "./support/rng.js";

type A = nb.NDArray;

function rand(shape: number[], dtype: nb.DType, seed: number): A {
  const r = seeded(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const xs = Array.from({ length: n }, () => (r() < 0.02 ? [NaN, Infinity, -0][r.int(0, 3)]! : r(-2, 2)));
  return nb.reshape(nb.array(xs, { dtype }), shape);
}

function same(a: A, b: A): string[] {
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  const bad: string[] = [];
  if (x.length !== y.length) return [`length ${x.length} vs ${y.length}`];
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) bad.push(`${i}: ${x[i]} vs ${y[i]}`);
  return bad.slice(0, 5);
}

/** A program with large intermediates: broadcasts, reshapes (aliases), transposes, partial sums, matmuls. */
function prog(x: A, w: A): A[] {
  const h = nb.tanh(nb.matmul(x, w)); // [64, 32]
  const b = nb.mul(nb.reshape(h, [64, 1, 32]), nb.reshape(nb.sin(x), [64, 32, 1])); // [64, 32, 32]
  const s = nb.sum(b, 1); // [64, 32], a middle axis
  const t = nb.transpose(nb.exp(nb.mul(s, 0.1)), [1, 0]); // [32, 64]
  const y = nb.add(nb.matmul(t, x), w); // [32, 32]
  return [y, nb.reshape(s, [32, 64]), x, nb.sum(nb.mul(b, b))];
}

describe.each(["float32", "float64"] as const)("%s", (dtype) => {
  it("repeated runs equal eager bitwise; earlier outputs stay unchanged", () => {
    const f = nb.jit(prog);
    const w = rand([32, 32], dtype, 2);
    const kept: { got: A[]; want: A[] }[] = [];
    for (let k = 0; k < 4; k++) {
      const x = rand([64, 32], dtype, 10 + k);
      const want = prog(x, w);
      const got = f(x, w);
      kept.push({ got, want });
      got.forEach((g, i) => expect(same(g, want[i]!)).toEqual([]));
    }
    for (const { got, want } of kept) got.forEach((g, i) => expect(same(g, want[i]!)).toEqual([]));
  });

  it("outputs fed back as inputs (a training loop) are not overwritten", () => {
    const step = (x: A, w: A): A[] => {
      const y = prog(x, w)[0];
      if (y === undefined) throw new Error("prog returned no outputs");
      return [nb.tanh(nb.matmul(x, nb.mul(y, 0.01))), nb.mul(w, 0.5)];
    };
    const f = nb.jit(step);
    let x = rand([64, 32], dtype, 3);
    let w = rand([32, 32], dtype, 4);
    let ex = x;
    let ew = w;
    const history: [A, A][] = [];
    for (let k = 0; k < 5; k++) {
      [x, w] = f(x, w) as [A, A];
      [ex, ew] = step(ex, ew) as [A, A];
      history.push([x, ex]);
      expect(same(x, ex)).toEqual([]);
      expect(same(w, ew)).toEqual([]);
    }
    for (const [g, e] of history) expect(same(g, e)).toEqual([]);
  });

  it("a W5-like gradient (vmap of hessian) over repeated runs equals eager bitwise", () => {
    type P = { W1: A; W2: A; w3: A };
    const u = (q: P, p: A): A => nb.dot(nb.tanh(nb.matmul(nb.tanh(nb.matmul(p, q.W1)), q.W2)), q.w3);
    const hu = nb.hessian(u, { argnums: 1 });
    const lap = nb.vmap((q: P, p: A) => nb.trace(hu(q, p)), { inAxes: [null, 0] });
    const g = (q: P, ps: A): A[] => {
      const d = nb.grad((q: P, ps: A) => {
        const l = lap(q, ps);
        return nb.mean(nb.mul(l, l));
      })(q, ps) as P;
      return [d.W1, d.W2, d.w3];
    };
    const jg = nb.jit(g);
    const q = { W1: rand([2, 16], dtype, 5), W2: rand([16, 16], dtype, 6), w3: rand([16], dtype, 7) };
    for (let k = 0; k < 3; k++) {
      const ps = rand([128, 2], dtype, 20 + k);
      const want = g(q, ps);
      jg(q, ps).forEach((x, i) => expect(same(x, want[i]!)).toEqual([]));
    }
  });

  it("fused loops with broadcast variable operands (tiled into the compiled loop's memory) equal eager bitwise", () => {
    const f = (x: A, y: A, z: A, c: A): A[] => {
      const yb = nb.reshape(nb.exp(nb.mul(y, 0.5)), [256, 1, 32]); // a variable, broadcast over a middle axis
      const zb = nb.sin(z); // a variable [2, 32], broadcast over a leading axis
      const h = nb.tanh(nb.add(nb.mul(x, yb), zb));
      return [nb.mul(nb.sub(h, yb), nb.add(zb, c)), nb.sum(nb.mul(h, yb))];
    };
    const jf = nb.jit(f);
    const c = rand([32], dtype, 40); // a constant-like operand (an argument): broadcast too
    for (let k = 0; k < 3; k++) {
      const x = rand([256, 2, 32], dtype, 41 + k);
      const y = rand([256, 32], dtype, 51 + k);
      const z = rand([2, 32], dtype, 61 + k);
      const want = f(x, y, z, c);
      jf(x, y, z, c).forEach((g, i) => expect(same(g, want[i]!)).toEqual([]));
    }
  });

  it("buffers the plan keeps from call to call (fused results, tiled copies) are never handed out by the arena", () => {
    // fused loops' results (kept by the plan's memory) and equations' results (the arena's) of one
    // dtype and length, alive at overlapping times: a kept buffer also released to the arena would
    // be handed out while its loop still uses it, here or in the next run
    const f = (x: A, v: A): A[] => {
      const a = nb.mul(nb.exp(nb.mul(x, 0.25)), 0.5); // fused, kept
      const m1 = nb.matmul(a, x); // an equation: the arena's
      const b = nb.add(nb.sin(m1), nb.mul(a, nb.reshape(v, [1, 64]))); // fused, a tiled operand
      const t = nb.transpose(b, [1, 0]); // an equation (b read again below)
      const m2 = nb.matmul(b, nb.mul(t, 0.01));
      const c = nb.sub(nb.tanh(m2), nb.mul(b, t)); // fused, kept
      const r = nb.sum(nb.reshape(c, [64, 8, 8]), 2); // a partial reduction (the arena's when large)
      const d = nb.add(nb.matmul(c, a), nb.mul(m1, 0.5));
      return [nb.sum(nb.mul(d, c)), r, nb.mul(d, b)];
    };
    const jf = nb.jit(f);
    const runs: { got: A[]; want: A[] }[] = [];
    for (let k = 0; k < 5; k++) {
      const x = nb.mul(rand([64, 64], dtype, 70 + k), 0.5);
      const v = rand([64], dtype, 80 + k);
      const want = f(x, v);
      const got = jf(x, v);
      got.forEach((g, i) => expect(same(g, want[i]!)).toEqual([]));
      runs.push({ got, want });
    }
    for (const { got, want } of runs) got.forEach((g, i) => expect(same(g, want[i]!)).toEqual([]));
  });

  it("arrays given to a callback inside jit stay unchanged after later runs", () => {
    const seen: A[] = [];
    const f = nb.jit((x: A) => {
      const h = nb.exp(nb.mul(x, 0.5));
      nb.debug.callback((v: A) => void seen.push(v), h);
      return nb.sum(nb.mul(nb.sin(h), h));
    });
    const xs = [0, 1, 2].map((k) => rand([4096], dtype, 30 + k));
    for (const x of xs) f(x);
    expect(seen.length).toBe(3);
    seen.forEach((v, k) => expect(same(v, nb.exp(nb.mul(xs[k]!, 0.5)))).toEqual([]));
  });
});

describe("Arena", () => {
  it("hands out zeroed buffers, and reuses only buffers it handed out in the current run", () => {
    const arena = new Arena();
    const a = withArena(arena, () => allocate("float64", 2048));
    a.fill(7);
    const other = new Float64Array(2048);
    arena.release(other.buffer); // not handed out: ignored
    arena.release(a.buffer);
    const b = withArena(arena, () => allocate("float64", 2048));
    expect(b).toBe(a);
    expect(b.every((v) => v === 0)).toBe(true);
    const c = withArena(arena, () => allocate("float64", 2048));
    expect(c).not.toBe(a);
    expect(c).not.toBe(other);
    // a new run: buffers handed out before are not released
    arena.handed = new Map();
    arena.release(c.buffer);
    expect(withArena(arena, () => allocate("float64", 2048))).not.toBe(c);
    // small arrays and arrays allocated without the arena never come from it
    expect(withArena(arena, () => allocate("float64", 16)).length).toBe(16);
    expect(allocate("float64", 2048)).not.toBe(a);
  });
});
