/**
 * The eager fast paths of issue 8 keep every semantic check: 0-d kernels,
 * the one broadcast check of binary operations, two-operand promotion,
 * immutable arrays without Object.freeze, CSE through per-variable use lists,
 * pytree fast paths and transposition tables indexed by variable id. Each
 * fast path is compared with the general path it short-cuts (or a closed
 * form), and its error cases (dead tracers, bad shapes) are exercised on it.
 *
 * Values: 0-d results are compared exactly with the same JS arithmetic (the
 * kernels call the same scalar functions, so the bits agree); derivatives of
 * polynomials exactly (every operation is exact in float64 for these small
 * integers).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { promote, type DType } from "../src/core/dtype.js";
import { promoted } from "../src/prims/wrap.js";
import { ConcreteArray, scalar, storageOf } from "../src/core/ndarray.js";
import type { StagingTracer } from "../src/core/graph.js";
import { RULES } from "../src/prims/table.js";
import { LinearIn, bind1, dispatch1, dispatchPair, type Rule } from "../src/core/trace.js";
import { NO_PARAMS } from "../src/core/graph.js";

type A = nb.NDArray;

/** A tracer leaked out of its grad (its transform has returned). */
function leakedTracer(): A {
  let leaked: A | null = null;
  nb.grad((x: A) => {
    leaked = x;
    return nb.mul(x, x);
  })(2);
  return leaked!;
}

describe("0-d kernels", () => {
  it("unary and binary 0-d results are the scalar functions' bits, 0-d and size-1 alike", () => {
    for (const v of [0.3, -0, 1e-300, -2.5, Infinity, NaN]) {
      expect(Object.is(nb.sin(v).item(), Math.sin(v))).toBe(true);
      expect(Object.is(nb.sin(nb.array([v])).item(), Math.sin(v))).toBe(true);
      expect(Object.is(nb.mul(v, 3).item(), v * 3)).toBe(true);
      expect(Object.is(nb.mul(nb.array([[v]]), nb.array([3])).item(), v * 3)).toBe(true);
    }
  });

  it("int32 0-d products wrap to 32 bits (the int32 scalar function, not the float one)", () => {
    const a = nb.array(65537, { dtype: "int32" });
    // 65537² = 4295098369 = 2^32 + 131073: wraps to 131073
    expect(nb.mul(a, a).item()).toBe(131073);
    expect(nb.mul(a, a).dtype).toBe("int32");
    // 46341² = 2147488281 > 2^31 - 1: wraps to -2147479015
    const b = nb.array(46341, { dtype: "int32" });
    expect(nb.mul(b, b).item()).toBe(-2147479015);
  });

  it("0-d operands broadcast to the other operand's shape", () => {
    expect(nb.add(nb.array(1), nb.array([[1, 2]])).shape).toEqual([1, 2]);
    expect(nb.add(nb.array([[1, 2]]), 1).shape).toEqual([1, 2]);
    expect(nb.add(nb.array([[1], [2]]), nb.array([1, 2, 3])).shape).toEqual([2, 3]);
  });
});

describe("binary operations check once, and still check", () => {
  it("incompatible shapes throw ShapeError naming the public function", () => {
    expect(() => nb.notEqual(nb.zeros([2]), nb.zeros([3]))).toThrow(/^notEqual: shapes \[2\] and \[3\]/);
    expect(() => nb.arctan2(nb.zeros([2, 2]), nb.zeros([3]))).toThrow(nb.ShapeError);
  });

  it("a dead tracer throws TracerError on the eager and the traced paths", () => {
    const t = leakedTracer();
    expect(() => nb.mul(t, 2)).toThrow(nb.TracerError);
    expect(() => nb.add(2, t)).toThrow(nb.TracerError);
    expect(() => nb.sin(t)).toThrow(nb.TracerError);
    // mixed with a live tracer of another transform
    expect(() => nb.grad((x: A) => nb.mul(x, t))(1)).toThrow(nb.TracerError);
    expect(() => nb.jit((x: A) => nb.add(x, t))(1)).toThrow(nb.TracerError);
  });

  it("two-operand promotion agrees with promote() on every dtype, weakness and integrality", () => {
    const dtypes: DType[] = ["bool", "int32", "float32", "float64"];
    const values = [0, 2, 0.5];
    for (const da of dtypes)
      for (const db of dtypes)
        for (const wa of [false, true])
          for (const wb of [false, true])
            for (const va of values)
              for (const vb of values) {
                const a = scalar(da === "bool" ? Number(va !== 0) : va, da, wa);
                const b = scalar(db === "bool" ? Number(vb !== 0) : vb, db, wb);
                const integral = (x: ConcreteArray) => x.weakType && Number.isInteger(x.item());
                const want = promote("t", [
                  { dtype: da, weak: wa, integral: integral(a) },
                  { dtype: db, weak: wb, integral: integral(b) },
                ]).dtype;
                expect(
                  promoted("t", [a, b]),
                  `${da}${wa ? "(weak)" : ""} ${va}, ${db}${wb ? "(weak)" : ""} ${vb}`,
                ).toBe(want);
              }
  });
});

describe("immutable arrays", () => {
  it("shape, dtype and storage cannot be reassigned; the shape is frozen", () => {
    const x = nb.array([1, 2]) as unknown as Record<string, unknown>;
    expect(() => (x.shape = [3])).toThrow(TypeError);
    expect(() => (x.dtype = "int32")).toThrow(TypeError);
    expect(() => (x.data = new Float64Array(2))).toThrow(TypeError);
    expect(() => (x.weakType = true)).toThrow(TypeError);
    expect(Object.isFrozen(nb.array([1, 2]).shape)).toBe(true);
    expect(Object.isFrozen(nb.array(1).shape)).toBe(true);
    expect(nb.array([1, 2]).toArray()).toEqual([1, 2]);
  });
});

describe("CSE through per-variable use lists", () => {
  const count = (f: (x: A, y: A) => A): number => nb.makeGraph(f)(nb.zeros([3]), nb.zeros([3])).equations.length;

  it("merges repeated and commuted parameterless equations, not different ones", () => {
    // mul(x, y) twice and mul(y, x): one mul; then the add of it to itself
    expect(count((x, y) => nb.add(nb.mul(x, y), nb.mul(y, x)))).toBe(2);
    // sub does not commute: two subs and an add
    expect(count((x, y) => nb.add(nb.sub(x, y), nb.sub(y, x)))).toBe(3);
    // same operands, different primitives: mul, add, and the final add
    expect(count((x, y) => nb.add(nb.mul(x, y), nb.add(x, y)))).toBe(3);
    // unary: sin(x) twice is one sin
    expect(count((x) => nb.mul(nb.sin(x), nb.sin(x)))).toBe(2);
  });

  it("merges beyond a variable's first 16 equations (the keyed overflow)", () => {
    const f = (x: A, y: A): A => {
      const once = (): A[] => Array.from({ length: 30 }, (_, k) => nb.mul(nb.add(x, k), y));
      const a = once();
      const b = once();
      let s = a[0]!;
      for (let k = 1; k < 30; k++) s = nb.add(s, a[k]!);
      // merged: the same variable (a new tracer of it, as eager evaluation returns a new array)
      for (let k = 0; k < 30; k++) expect((b[k] as StagingTracer).v).toBe((a[k] as StagingTracer).v);
      return s;
    };
    // 30 adds of x and a literal, 30 muls by y (each the newest operand of its mul), 29 adds
    expect(count(f)).toBe(89);
  });

  it("equations with parameters are still merged by key", () => {
    expect(count((x) => nb.add(nb.sum(x, 0), nb.sum(x, 0)))).toBe(2);
    // keepdims is reduce_sum then reshape; the reduce_sum is shared: reduce_sum, reshape, add
    expect(count((x) => nb.add(nb.sum(x, 0, true), nb.sum(x, 0)))).toBe(3);
    // different axes parameters are different equations: two reduce_sums, one add
    expect(nb.makeGraph((x: A) => nb.add(nb.sum(x, 0), nb.sum(x, 1)))(nb.zeros([3, 3])).equations.length).toBe(3);
  });
});

describe("pytree fast paths", () => {
  it("a leaf and flat arrays of leaves have the general path's structure", () => {
    expect(nb.tree.structure(1).toString()).toBe("*");
    expect(nb.tree.structure([1, nb.array(2), true]).toString()).toBe("[*, *, *]");
    expect(nb.tree.structure([1, 2]).equals(nb.tree.structure([nb.array([1]), 3]))).toBe(true);
    expect(nb.tree.structure([1, 2]).equals(nb.tree.structure([1, [2]]))).toBe(false);
    const [leaves, def] = nb.tree.flatten([1, 2]);
    expect(nb.tree.unflatten(def, leaves)).toEqual([1, 2]);
    expect(nb.tree.unflatten(nb.tree.structure(5), [7])).toBe(7);
  });

  it("holey and undefined items still take the general path", () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => nb.tree.flatten([1, , 2])).toThrow(nb.ShapeError);
    expect(nb.tree.structure([1, undefined]).toString()).not.toBe("[*, *]");
  });

  it("returned lists are fresh (the caller's array is not kept)", () => {
    const xs = [1, 2];
    const [leaves] = nb.tree.flatten(xs);
    expect(leaves).not.toBe(xs);
  });
});

describe("transposition tables", () => {
  it("gradients through one trace (dense ids) and through cond and jit (other graphs) are right", () => {
    // d/dx (x³ + 2x) = 3x² + 2: 29 at 3
    const f = (x: A): A => nb.add(nb.mul(nb.mul(x, x), x), nb.mul(x, 2));
    expect(nb.grad(f)(3).item()).toBe(29);
    expect(nb.grad(nb.jit(f))(3).item()).toBe(29);
    expect(nb.jit(nb.grad(f))(3).item()).toBe(29);
    const g = (x: A): A =>
      nb.cond(
        nb.greater(x, 0),
        (y: A) => f(y),
        (y: A) => nb.neg(y),
        x,
      );
    expect(nb.grad(g)(3).item()).toBe(29);
    expect(nb.grad(g)(-3).item()).toBe(-1);
    expect(nb.grad(nb.grad(f))(3).item()).toBe(18);
  });
});

// Round 2 of issue 8: number-backed float64 0-d arrays, shared 0-d abstract values, bare single
// entries in the staging trace's CSE use lists and literal table.
describe("number-backed float64 0-d arrays", () => {
  it("hold the same bits as typed storage, made once on first read and never shared out", () => {
    for (const v of [0.3, -0, 1e-300, 5e-324, -2.5, Infinity, NaN]) {
      const y = nb.sin(v);
      // the element before and after the storage is made
      expect(Object.is(y.item(), Math.sin(v))).toBe(true);
      const s = storageOf(y as ConcreteArray);
      expect(s).toBeInstanceOf(Float64Array);
      expect(s.length).toBe(1);
      expect(Object.is(s[0], Math.sin(v))).toBe(true);
      expect(storageOf(y as ConcreteArray)).toBe(s);
      expect(Object.is(y.item(), Math.sin(v))).toBe(true);
      // public copies are fresh: writing to one changes nothing
      const c = y.toTypedArray();
      c[0] = 99;
      expect(Object.is(y.item(), Math.sin(v))).toBe(true);
      expect(Object.is(y.toArray(), Math.sin(v))).toBe(true);
      expect(y.shape).toEqual([]);
      expect(y.dtype).toBe("float64");
    }
  });

  it("keep weakness, and other dtypes keep typed storage with their rounding", () => {
    expect(nb.mul(2, 3).weakType).toBe(true);
    expect(nb.mul(nb.array(2), 3).weakType).toBe(false);
    expect(nb.add(nb.mul(2, 3), nb.array(1, { dtype: "float32" })).dtype).toBe("float32");
    const f = nb.sin(nb.array(0.1, { dtype: "float32" }));
    expect(f.item()).toBe(Math.fround(Math.sin(Math.fround(0.1))));
    expect(nb.mul(nb.array(7, { dtype: "int32" }), 3).item()).toBe(21);
  });

  it("work where the storage is read: movement, concatenation, reductions, jit", () => {
    const a = nb.sin(0.3);
    const b = nb.cos(0.3);
    expect(nb.reshape(a, [1, 1]).toArray()).toEqual([[Math.sin(0.3)]]);
    expect(nb.stack([a, b]).toArray()).toEqual([Math.sin(0.3), Math.cos(0.3)]);
    // (s + s) + s: s + s = 2s is exact, so one rounding, as in s * 3
    expect(nb.sum(nb.broadcastTo(a, [3])).item()).toBe(Math.sin(0.3) * 3);
    expect(
      nb
        .jit((x: A) => nb.mul(x, b))(a)
        .item(),
    ).toBe(Math.sin(0.3) * Math.cos(0.3));
  });

  it("the gradient of a scalar chain matches its closed form", () => {
    // x ← x + c·sin(x), 300 steps: d = Π (1 + c cos x_k). Reverse mode multiplies the factors in
    // the other order: 300 roundings of each product, ≤ ~600 ulp ≈ 1.3e-13 relative (float64).
    const c = 0.001;
    const chain = (x: A): A => {
      for (let k = 0; k < 300; k++) x = nb.add(x, nb.mul(nb.sin(x), c));
      return x;
    };
    let v = 0.3;
    let d = 1;
    for (let k = 0; k < 300; k++) {
      d *= 1 + c * Math.cos(v);
      v = v + c * Math.sin(v);
    }
    expect(Math.abs(chain(nb.array(0.3)).item() - v)).toBeLessThanOrEqual(1e-12 * Math.abs(v));
    expect(Math.abs(nb.grad(chain)(0.3).item() - d)).toBeLessThanOrEqual(1e-12 * Math.abs(d));
  });
});

describe("shared 0-d abstract values and staging tables", () => {
  it("0-d variables share one frozen aval per dtype and weakness; printing is unchanged", () => {
    const g = nb.makeGraph((x: A) => nb.mul(nb.sin(x), nb.cos(x)))(nb.array(0.5));
    const avals = [...g.inVars, ...g.equations.flatMap((e) => e.outs)].map((v) => v.aval);
    for (const a of avals) {
      expect(a).toBe(avals[0]);
      expect(Object.isFrozen(a)).toBe(true);
      expect(a).toEqual({ shape: [], dtype: "float64", weak: false });
    }
    expect(g.toString()).toBe(
      "{ lambda a:f64[] . let b:f64[] = sin a ; c:f64[] = cos a ; d:f64[] = mul b c in ( d ) }",
    );
  });

  it("equal literals of several dtypes or weaknesses stay distinct, and each is found again", () => {
    const strong2 = nb.array(2, { dtype: "float32" });
    // mul(x, weak 2) and mul(x, strong 2) differ; the second mul(x, weak 2) is the first again:
    // two muls and two adds
    const g = nb.makeGraph((x: A) => nb.add(nb.add(nb.mul(x, 2), nb.mul(x, strong2)), nb.mul(x, 2)))(
      nb.zeros([2], { dtype: "float32" }),
    );
    expect(g.equations.map((e) => e.prim)).toEqual(["mul", "mul", "add", "add"]);
    // d/dx (2x + 2x + 2x) = 6
    expect(
      nb
        .grad((x: A) => nb.add(nb.add(nb.mul(x, 2), nb.mul(x, nb.array(2))), nb.mul(x, 2)))(1)
        .item(),
    ).toBe(6);
  });
});

describe("the float64 0-d fast path of scalarF64 rows", () => {
  // Every row marked scalarF64 promises that its shape rule and kernel, on float64 0-d operands,
  // give the float64 0-d array of its scalar function, weak when every operand is. Checked here
  // against the row's own shape rule and kernel (the path the fast path skips), bit for bit.
  const rows = Object.values(RULES).filter((r) => (r as Rule).scalarF64 === true) as Rule[];
  const values = [0.3, -0, 0, 1.5, -2.25, 1e-310, 700, Infinity, -Infinity, NaN];

  it("covers the elementwise arithmetic and unary float rows", () => {
    const names = rows.map((r) => r.name);
    for (const n of ["add", "sub", "mul", "div", "pow", "max", "min", "atan2", "neg", "sin", "tanh", "erf"])
      expect(names).toContain(n);
    // comparisons (bool results) and int32 kernels are not marked
    expect(names).not.toContain("lt");
    expect(names).not.toContain("convert");
  });

  it("agrees with the row's shape rule and kernel on every weakness and special value", () => {
    for (const row of rows) {
      const arity = row.scalar!.length;
      for (const wa of [false, true])
        for (const wb of [false, true])
          for (const u of values)
            for (const v of arity === 2 ? values : [0]) {
              const args =
                arity === 2 ? [scalar(u, "float64", wa), scalar(v, "float64", wb)] : [scalar(u, "float64", wa)];
              const avals = row.abstractEval(args, {});
              const [want] = row.impl(args, {}, avals);
              const got = bind1(row, args, {});
              expect(got.shape).toEqual([]);
              expect(got.dtype).toBe(want!.dtype);
              expect(got.weakType).toBe(want!.weakType);
              expect(got.weakType).toBe(avals[0]!.weak);
              if (!Object.is(got.item(), want!.item()))
                throw new Error(`${row.name}(${u}, ${v}): ${got.item()} vs ${want!.item()}`);
            }
    }
  });

  it("stages the abstract values the shape rule gives", () => {
    for (const row of rows) {
      const arity = row.scalar!.length;
      for (const wa of [false, true])
        for (const wb of [false, true]) {
          const args = arity === 2 ? [scalar(1, "float64", wa), scalar(2, "float64", wb)] : [scalar(1, "float64", wa)];
          const [want] = row.abstractEval(args, {});
          const g = nb.makeGraph((...xs: A[]) => bind1(row, xs, {}))(...args);
          const out = g.equations[g.equations.length - 1]!.outs[0]!.aval;
          expect(out.shape).toEqual([]);
          expect(out.dtype).toBe(want!.dtype);
        }
    }
  });

  it("is not taken for float32, other shapes, or under debugNans", () => {
    const f32 = nb.array(2, { dtype: "float32" });
    expect(nb.mul(f32, f32).dtype).toBe("float32");
    expect(nb.sin(nb.array([0.5])).shape).toEqual([1]);
    expect(() => nb.add(nb.array(1), nb.array(1, { dtype: "float32" }))).not.toThrow();
    nb.config({ debugNans: true });
    try {
      expect(() => nb.log(nb.array(-1))).toThrow(/log: produced NaN/);
    } finally {
      nb.config({ debugNans: false });
    }
  });
});

describe("primitives applied without operand lists (Trace.apply1)", () => {
  // The rows with jvpUnary / jvpBinary are applied by forward mode and staging through
  // `dispatchPair` (no lists); `dispatch1` with a list takes the general processPrimitive path.
  // Both must give the same values, tangents (bits) and staged graphs (printed IR).
  const rows = Object.values(RULES).filter(
    (r) => (r as Rule).jvpUnary !== undefined || (r as Rule).jvpBinary !== undefined,
  ) as Rule[];
  const pair =
    (row: Rule) =>
    (...xs: A[]): A =>
      dispatchPair(row, xs[0]!, xs[1], NO_PARAMS);
  const listed =
    (row: Rule) =>
    (...xs: A[]): A =>
      dispatch1(row, xs, NO_PARAMS);
  const same = (a: A, b: A): void => {
    expect(a.shape).toEqual(b.shape);
    expect(a.dtype).toBe(b.dtype);
    const x = a.toArray();
    const y = b.toArray();
    expect(Object.is(x, y) || JSON.stringify(x) === JSON.stringify(y)).toBe(true);
  };

  it("cover the four arithmetic rows and the unary float rows, and only one-output rows", () => {
    const names = rows.map((r) => r.name);
    for (const n of ["add", "sub", "mul", "div", "sin", "cos", "exp", "log", "tanh", "sqrt", "logistic"])
      expect(names).toContain(n);
    for (const r of rows) {
      const arity = r.jvpUnary !== undefined ? 1 : 2;
      const args = Array.from({ length: arity }, () => scalar(0.5, "float64", false));
      expect(r.abstractEval(args, NO_PARAMS)).toHaveLength(1);
    }
  });

  it("give the list path's values, tangents, gradients and staged graphs", () => {
    const operands = (arity: number, shape: number[], dtype: DType): A[] =>
      [0.7, 1.3].slice(0, arity).map((v) => nb.full(shape, v, { dtype }));
    for (const row of rows) {
      const arity = row.jvpUnary !== undefined ? 1 : 2;
      for (const shape of [[], [3]])
        for (const dtype of ["float64", "float32"] as DType[]) {
          const xs = operands(arity, shape, dtype);
          const ts = xs.map((x) => nb.full(x.shape, 0.25, { dtype }));
          const [fp, fl] = [pair(row), listed(row)];
          same(fp(...xs), fl(...xs));
          const [yp, dp] = nb.jvp(fp, xs, ts);
          const [yl, dl] = nb.jvp(fl, xs, ts);
          same(yp, yl);
          same(dp, dl);
          // one operand a constant (closed over): the other's tangent alone
          const [, cp] = nb.jvp((x: A) => fp(x, ...xs.slice(1)), [xs[0]!], [ts[0]!]);
          const [, cl] = nb.jvp((x: A) => fl(x, ...xs.slice(1)), [xs[0]!], [ts[0]!]);
          same(cp, cl);
          const loss = (f: (...a: A[]) => A) => (x: A) => nb.sum(f(x, ...xs.slice(1)));
          same(nb.grad(loss(fp))(xs[0]!), nb.grad(loss(fl))(xs[0]!));
          same(nb.jit(nb.grad(loss(fp)))(xs[0]!), nb.jit(nb.grad(loss(fl)))(xs[0]!));
          const gp = nb.makeGraph((...a: A[]) => nb.jvp(fp, a.slice(0, arity), a.slice(arity)))(...xs, ...ts);
          const gl = nb.makeGraph((...a: A[]) => nb.jvp(fl, a.slice(0, arity), a.slice(arity)))(...xs, ...ts);
          expect(String(gp)).toBe(String(gl));
          const hp = nb.makeGraph(nb.grad(loss(fp)))(xs[0]!);
          const hl = nb.makeGraph(nb.grad(loss(fl)))(xs[0]!);
          expect(String(hp)).toBe(String(hl));
        }
    }
  });

  it("stage identities, CSE and the dead-tracer check as the list path does", () => {
    const g = nb.makeGraph((x: A) => nb.add(nb.mul(x, 1), nb.mul(nb.sin(x), nb.sin(x))))(nb.zeros([2]));
    // x * 1 is x; sin(x) staged once: sin, mul, add
    expect(g.equations.map((e) => e.prim)).toEqual(["sin", "mul", "add"]);
    const t = leakedTracer();
    expect(() => dispatchPair(RULES.sin as Rule, t, undefined, NO_PARAMS)).toThrow(nb.TracerError);
    expect(() => nb.grad((x: A) => nb.mul(x, t))(1)).toThrow(nb.TracerError);
  });
});

describe("liveness from reads (build without the liveness walk)", () => {
  // build skips the walk when every variable an equation or constant made is read or is an
  // output; otherwise it walks and drops what is dead. Both cases, and the cases that must walk.
  const prims = (g: { equations: readonly { prim: string }[] }): string[] => g.equations.map((e) => e.prim);

  it("keeps every equation and constant of a graph where all are read", () => {
    const c = nb.array([1, 2]);
    const g = nb.makeGraph((x: A) => nb.mul(nb.add(x, c), nb.sin(x)))(nb.zeros([2]));
    expect(prims(g)).toEqual(["add", "sin", "mul"]);
    expect(g.consts).toHaveLength(1);
  });

  it("drops equations whose results nothing reads, and chains of them", () => {
    const g = nb.makeGraph((x: A) => {
      nb.exp(nb.cos(x)); // dead: cos is read only by the dead exp
      return nb.sin(x);
    })(nb.zeros([2]));
    expect(prims(g)).toEqual(["sin"]);
  });

  it("drops constants only a dead equation or nothing reads", () => {
    const c = nb.array([3, 4]);
    const g = nb.makeGraph((x: A) => {
      nb.mul(x, c); // dead, and with it the constant
      return nb.sin(x);
    })(nb.zeros([2]));
    expect(g.consts).toHaveLength(0);
    expect(prims(g)).toEqual(["sin"]);
  });

  it("an output read by nothing else, repeated outputs and outputs that are inputs need no walk", () => {
    const g = nb.makeGraph((x: A) => {
      const s = nb.sin(x);
      return [s, s, x, nb.cos(s)];
    })(nb.zeros([2]));
    expect(prims(g)).toEqual(["sin", "cos"]);
  });

  it("a staging error caught inside the function leaves no equation behind", () => {
    const g = nb.makeGraph((x: A) => {
      try {
        nb.matmul(x, nb.zeros([3, 3]));
      } catch {
        // the shape error: nothing was staged for it
      }
      return nb.sin(x);
    })(nb.zeros([2, 2]));
    expect(prims(g)).toEqual(["sin"]);
  });

  it("gradients through dead code are right, eagerly and under jit", () => {
    const f = (x: A): A => {
      nb.mul(nb.exp(x), 3); // dead
      return nb.mul(x, x);
    };
    expect(nb.grad(f)(3).item()).toBe(6);
    expect(nb.jit(nb.grad(f))(3).item()).toBe(6);
  });
});

describe("transposition per linear operand (Rule.transposeOperand)", () => {
  // transposeGraph calls transposeOperand per linear operand of add, sub, mul, div and neg; the
  // row's list `transpose` is the general path. vjp through the fast path must give its bits.
  const rows = Object.values(RULES).filter((r) => (r as Rule).transposeOperand !== undefined) as Rule[];

  it("covers add, sub, mul, div and neg", () => {
    expect(rows.map((r) => r.name).sort()).toEqual(["add", "div", "mul", "neg", "sub"]);
  });

  it("vjp gives the row's list transpose, for each operand linear", () => {
    const x = nb.array([0.7, -1.3, 2.5]);
    const c = nb.array([1.1, 0.3, -4]);
    const ct = nb.array([0.25, -3, 1.5]);
    for (const row of rows) {
      const arity = row.name === "neg" ? 1 : 2;
      for (let j = 0; j < arity; j++) {
        if (row.name === "div" && j === 1) continue; // not linear in the denominator
        const f = (t: A): A => bind1(row, arity === 1 ? [t] : j === 0 ? [t, c] : [c, t], {});
        const [, pull] = nb.vjp(f, x);
        const got = pull(ct)[0]!;
        const lin = new LinearIn({ shape: [3], dtype: "float64", weak: false });
        const want = row.transpose!([ct], arity === 1 ? [lin] : j === 0 ? [lin, c] : [c, lin], {})[j]!;
        expect(got.toArray()).toEqual(want.toArray());
      }
    }
  });

  it("sums the two cotangents of an operand used twice, and rejects a linear denominator", () => {
    expect(
      nb
        .grad((t: A) => nb.add(t, t))(3)
        .item(),
    ).toBe(2);
    expect(
      nb
        .grad((t: A) => nb.sub(t, t))(3)
        .item(),
    ).toBe(0);
    expect(
      nb
        .grad((t: A) => nb.mul(nb.add(t, t), 3))(3)
        .item(),
    ).toBe(6);
    expect(
      nb
        .grad((t: A) => nb.div(nb.mul(t, 6), 3))(3)
        .item(),
    ).toBe(2);
    // linear_transpose of a function dividing by its linear input
    expect(() => nb.linearTranspose((t: A) => nb.div(2, t), nb.array(1))(nb.array(1))).toThrow();
  });
});
