/**
 * Debugging (API.md "New transforms and tools"): `debug.print` and
 * `debug.callback` inside jit, vmap and grad, staged as effects that dead-code
 * elimination keeps; `config({ debugNans: true })` eagerly and under jit.
 * Expected values are the inputs themselves (exact), printed by NDArray's
 * own formatting.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as nb from "../src/index.js";
import { compile } from "../src/transforms/plan.js";

type A = nb.NDArray;

/** Runs `f` and returns what it printed with console.log, one string per call. */
function printed(f: () => unknown): string[] {
  const spy = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    f();
    return spy.mock.calls.map((c) => c.map(String).join(" "));
  } finally {
    spy.mockRestore();
  }
}

const shout = (x: A): A => {
  nb.debug.print("x = {} sq = {}", x, nb.mul(x, x));
  return nb.mul(x, 2);
};

describe("debug.print and debug.callback", () => {
  it("eager, and under jit once per call of the compiled function (not at staging)", () => {
    expect(printed(() => shout(nb.array(3)))).toEqual(["x = array(3.) sq = array(9.)"]);
    const j = nb.jit(shout);
    expect(printed(() => [j(nb.array(1)), j(nb.array(2))])).toEqual([
      "x = array(1.) sq = array(1.)",
      "x = array(2.) sq = array(4.)",
    ]);
  });
  it("under vmap: one call per example, in order (also inside jit)", () => {
    const want = ["x = array(1.) sq = array(1.)", "x = array(2.) sq = array(4.)", "x = array(3.) sq = array(9.)"];
    expect(printed(() => nb.vmap(shout)(nb.array([1, 2, 3])))).toEqual(want);
    expect(printed(() => nb.jit(nb.vmap(shout))(nb.array([1, 2, 3])))).toEqual(want);
    // an unbatched value is passed whole to every example's call
    const seen: number[][] = [];
    nb.vmap((x: A) => {
      nb.debug.callback((a: A, b: A) => seen.push([a.item(), ...Array.from(b.toTypedArray())]), x, nb.array([7, 8]));
      return x;
    })(nb.array([5, 6]));
    expect(seen).toEqual([
      [5, 7, 8],
      [6, 7, 8],
    ]);
  });
  it("under grad and jit(grad): primal values, and the derivative is unchanged", () => {
    let g: A | undefined;
    expect(printed(() => (g = nb.grad(shout)(nb.array(4))))).toEqual(["x = array(4.) sq = array(16.)"]);
    expect(g!.item()).toBe(2);
    expect(printed(() => nb.jit(nb.grad(shout))(nb.array(5)))).toEqual(["x = array(5.) sq = array(25.)"]);
    expect(printed(() => nb.jvp(shout, [nb.array(6)], [nb.array(1)]))).toEqual(["x = array(6.) sq = array(36.)"]);
  });
  it("is an effect: staged graphs keep it although nothing uses it", () => {
    const g = nb.makeGraph(shout)(nb.array(1));
    expect(g.equations.map((e) => e.prim)).toContain("debug_callback");
  });
  it("callback receives pytrees of concrete arrays", () => {
    const got: string[] = [];
    nb.jit((x: A) => {
      nb.debug.callback((t: { a: A; b: [A] }) => got.push(`${t.a.item()},${t.b[0].item()}`), { a: x, b: [nb.neg(x)] });
      return x;
    })(nb.array(2));
    expect(got).toEqual(["2,-2"]);
  });
  it("bad input names the function", () => {
    expect(() => nb.debug.print("{} {}", nb.array(1))).toThrow(/^print: the format "\{\} \{\}" needs value 1/);
    expect(() => nb.debug.print(3 as never)).toThrow(/^print: format must be a string/);
    expect(() => nb.debug.callback(3 as never)).toThrow(/^callback: fn must be a function/);
  });
});

describe("config({ debugNans: true })", () => {
  afterEach(() => nb.config({ debugNans: false }));
  const f = (x: A): A => nb.log(nb.sub(x, 3)); // NaN for x < 3
  it("eagerly: names the primitive, its input shapes and the user's call site", () => {
    expect(nb.config({ debugNans: true }).debugNans).toBe(true);
    let msg = "";
    try {
      f(nb.array([1, 5]));
    } catch (e) {
      expect(e).toBeInstanceOf(nb.NablaError);
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^log: produced NaN from inputs without NaN \(f64\[2\]\) at .*debug\.test\.ts:\d+/);
  });
  it("under jit: the NaN result names the primitive and its call site", () => {
    nb.config({ debugNans: true });
    expect(() => nb.jit(f)(nb.array([1, 5]))).toThrow(/^log: produced NaN .*debug\.test\.ts:\d+/);
    // a NaN that comes from the inputs is not the primitive's doing
    expect(
      Number.isNaN(
        nb
          .jit(f)(nb.array([NaN]))
          .item(),
      ),
    ).toBe(true);
    expect(Number.isNaN(nb.log(NaN).item())).toBe(true);
    // no NaN: no error
    expect(
      nb
        .jit(f)(nb.array([4]))
        .item(),
    ).toBe(0);
  });

  /** The line of this file holding `marker` (1-based), for the call site a message must name. */
  const lineOf = (marker: string): number =>
    readFileSync(fileURLToPath(import.meta.url), "utf8")
      .split("\n")
      .findIndex((l) => l.includes(marker) && !l.includes("lineOf")) + 1;
  /** The message of the NablaError `run` throws. */
  const thrown = (run: () => unknown): string => {
    try {
      run();
    } catch (e) {
      expect(e).toBeInstanceOf(nb.NablaError);
      return (e as Error).message;
    }
    return expect.fail("expected a NablaError");
  };

  it("under jit: a NaN the output never shows (masked by where, inside a fused loop, in a cond branch) is found", () => {
    // sqrt(x - 3) is NaN where x < 3; where() hides it from the result, so only a per-equation check sees it
    const masked = (x: A): A => {
      const r = nb.mul(nb.sqrt(nb.sub(x, 3)), 2); // masked-nan-site
      return nb.where(nb.greater(x, 3), r, 0);
    };
    const x = nb.array([1, 5, 7]);
    const line = lineOf("masked-nan-site");
    nb.config({ debugNans: true });
    // eager and jit name the same primitive, shapes and line
    const eager = thrown(() => masked(x));
    const jitted = thrown(() => nb.jit(masked)(x));
    for (const msg of [eager, jitted]) {
      expect(msg).toMatch(/^sqrt: produced NaN from inputs without NaN \(f64\[3\]\) at /);
      expect(msg).toMatch(new RegExp(`debug\\.test\\.ts:${line}:`));
    }
    // the same program's plan fuses the chain into one loop when debugNans is off (so the check above
    // ran through the unfused path), and the jitted result is then the masked one, without error
    nb.config({ debugNans: false });
    expect(compile(nb.makeGraph(masked, { optimize: true })(x)).fusedGroups).toBeGreaterThan(0);
    expect(nb.jit(masked)(x).toArray()).toEqual([0, 2 * Math.sqrt(2), 2 * Math.sqrt(4)]);
    nb.config({ debugNans: true });
    // inside a cond branch under jit (the branch's graph runs through its own plan)
    const inCond = (v: A): A =>
      nb.cond(
        nb.greater(nb.sum(v), 0),
        (u: A) => nb.where(nb.greater(u, 0), nb.log(u), 0), // cond-nan-site
        (u: A) => u,
        v,
      );
    const condMsg = thrown(() => nb.jit(inCond)(nb.array([-1, 4])));
    expect(condMsg).toMatch(/^log: produced NaN from inputs without NaN \(f64\[2\]\)/);
    expect(condMsg).toMatch(new RegExp(`debug\\.test\\.ts:${lineOf("cond-nan-site")}:`));
    // grad under jit: the backward pass's NaN (d sqrt at 0 is ∞, times the zero cotangent of the masked
    // branch: ∞ · 0) is reported with the primitive that made it
    const g = nb.jit(nb.grad((v: A) => nb.sum(nb.where(nb.greater(v, 0), nb.sqrt(v), 0))));
    expect(thrown(() => g(nb.array([0, 4])))).toMatch(/^\w+: produced NaN from inputs without NaN/);
    nb.config({ debugNans: false });
    expect(Number.isNaN(Array.from(g(nb.array([0, 4])).toTypedArray())[0]!)).toBe(true);
  });
  it("off by default and after config({ debugNans: false }); threads is stored and validated", () => {
    expect(Number.isNaN(f(nb.array([1])).item())).toBe(true);
    expect(nb.config({ threads: 4 }).threads).toBe(4);
    expect(nb.config().threads).toBe(4);
    nb.config({ threads: 1 });
    expect(() => nb.config({ threads: 0 })).toThrow(/^config: threads/);
    expect(() => nb.config({ debugNans: "yes" as never })).toThrow(/^config: debugNans must be a boolean/);
  });
});
