/**
 * `exportOnnx`: the models run in onnxruntime (onnxruntime-node, a
 * devDependency) and give nabla's outputs, and they satisfy ONNX's
 * structural rules, checked on the bytes by a small protobuf reader here
 * (typed graph inputs and outputs, every value produced once, nodes in
 * topological order) — onnxruntime itself re-sorts nodes, so it would not
 * notice an ordering error.
 *
 * Tolerances: float64 1e-12 relative, float32 1e-5 relative (the issue's
 * bounds). onnxruntime's kernels (MatMul, Tanh, reductions) order and round
 * operations differently from nabla's, so results agree to a few ulps of
 * the dtype, not bit for bit; both bounds leave room for that and no more.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { exportOnnx } from "../src/export/index.js";
import { vals } from "./support/assert.js";

type Ort = typeof import("onnxruntime-node");
let ort: Ort | null = null;
let loadError = "";
try {
  ort = await import("onnxruntime-node");
} catch (e) {
  loadError = (e as Error).message;
}
if (ort === null)
  console.warn(`onnxruntime-node cannot load on this machine; ONNX runtime tests skipped: ${loadError}`);

const ORT_TYPE = { float64: "float64", float32: "float32", int32: "int32", bool: "bool" } as const;

/** Runs the exported model of `f` on `args` in onnxruntime; the outputs in order. */
async function runOnnx(
  f: (...a: any[]) => unknown,
  args: unknown[],
  opts: { opset?: number } = {},
): Promise<{ data: number[]; dims: number[]; type: string }[]> {
  const bytes = exportOnnx(f, args, opts);
  checkStructure(bytes);
  const session = await ort!.InferenceSession.create(bytes);
  const leaves = nb.tree.leaves(args) as nb.NDArray[];
  const feeds: Record<string, InstanceType<Ort["Tensor"]>> = {};
  leaves.forEach((x, i) => {
    const data = x.dtype === "bool" ? Uint8Array.from(x.toTypedArray()) : x.toTypedArray();
    feeds[`input_${i}`] = new ort!.Tensor(ORT_TYPE[x.dtype], data as Float64Array, x.shape);
  });
  const out = await session.run(feeds);
  return session.outputNames.map((n) => {
    const t = out[n]!;
    return { data: Array.from(t.data as ArrayLike<number | boolean>, Number), dims: [...t.dims], type: t.type };
  });
}

function expectAgree(got: { data: number[]; dims: number[]; type: string }[], expected: unknown): void {
  const leaves = nb.tree.leaves(expected) as nb.NDArray[];
  expect(got.length).toBe(leaves.length);
  leaves.forEach((x, i) => {
    const g = got[i]!;
    expect(g.dims).toEqual(x.shape);
    expect(g.type).toBe(ORT_TYPE[x.dtype]);
    const tol = x.dtype === "float32" ? 1e-5 : 1e-12;
    vals(x).forEach((v, k) => {
      const u = g.data[k]!;
      if (!(u === v || Math.abs(u - v) <= tol * Math.max(1, Math.abs(v)) || (Number.isNaN(u) && Number.isNaN(v))))
        expect.fail(`output ${i} element ${k}: onnxruntime ${u}, nabla ${v} (tol ${tol})`);
    });
  });
}

// ---------------------------------------------------------------------------
// a protobuf reader for the structural checks (wire types 0, 1, 2, 5)

type Fields = Map<number, (bigint | Uint8Array)[]>;

function readMessage(b: Uint8Array): Fields {
  const out: Fields = new Map();
  let i = 0;
  const varint = (): bigint => {
    let r = 0n;
    let s = 0n;
    for (;;) {
      const c = b[i++]!;
      r |= BigInt(c & 0x7f) << s;
      s += 7n;
      if (!(c & 0x80)) return r;
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    let v: bigint | Uint8Array;
    if (wire === 0) v = varint();
    else if (wire === 2) {
      const n = Number(varint());
      v = b.subarray(i, i + n);
      i += n;
    } else if (wire === 5) {
      v = b.subarray(i, i + 4);
      i += 4;
    } else if (wire === 1) {
      v = b.subarray(i, i + 8);
      i += 8;
    } else throw new Error(`wire type ${wire}`);
    if (!out.has(field)) out.set(field, []);
    out.get(field)!.push(v);
  }
  return out;
}
const dec = new TextDecoder();
const strs = (m: Fields, f: number): string[] => (m.get(f) ?? []).map((v) => dec.decode(v as Uint8Array));
const msgs = (m: Fields, f: number): Fields[] => (m.get(f) ?? []).map((v) => readMessage(v as Uint8Array));

/** ONNX structural rules: typed inputs/outputs, single assignment, topological order (sub-graphs included). */
function checkStructure(bytes: Uint8Array): void {
  const model = readMessage(bytes);
  expect(Number(model.get(1)![0])).toBeGreaterThanOrEqual(8); // ir_version
  expect(msgs(model, 8).map((o) => Number(o.get(2)![0]))[0]).toBeGreaterThanOrEqual(17); // opset
  const all = new Set<string>(); // every name in the model: no value is produced twice, even in a sub-graph
  checkGraph(msgs(model, 7)[0]!, new Set(), all);
}

function checkGraph(graph: Fields, outer: ReadonlySet<string>, all: Set<string>): void {
  const typed = (vi: Fields) => {
    const tensor = msgs(msgs(vi, 2)[0]!, 1)[0]!;
    expect(Number(tensor.get(1)![0])).toBeGreaterThan(0); // elem_type
    expect(tensor.has(2)).toBe(true); // shape
    return strs(vi, 1)[0]!;
  };
  const visible = new Set(outer);
  const define = (name: string) => {
    expect(all.has(name), `value ${name} produced twice`).toBe(false);
    all.add(name);
    visible.add(name);
  };
  msgs(graph, 11).map(typed).forEach(define);
  msgs(graph, 5).forEach((t) => define(strs(t, 8)[0]!));
  for (const node of msgs(graph, 1)) {
    for (const x of strs(node, 1))
      if (x !== "") expect(visible.has(x), `${strs(node, 4)[0]} reads ${x} before it is produced`).toBe(true);
    for (const a of msgs(node, 5)) for (const g of msgs(a, 6)) checkGraph(g, visible, all);
    strs(node, 2).forEach(define);
  }
  for (const o of msgs(graph, 12).map(typed)) expect(visible.has(o)).toBe(true);
}

// ---------------------------------------------------------------------------

const mlpParams = (dtype: "float32" | "float64") => ({
  w1: nb.array(
    [
      [0.3, -0.2, 0.5, 0.1],
      [0.1, 0.4, -0.6, 0.2],
      [-0.5, 0.3, 0.2, 0.7],
    ],
    { dtype },
  ),
  b1: nb.array([0.05, -0.1, 0.2, 0], { dtype }),
  w2: nb.array([[0.7], [-0.3], [0.2], [0.4]], { dtype }),
  b2: nb.array([0.1], { dtype }),
});
type P = ReturnType<typeof mlpParams>;
const mlp = (p: P, x: nb.NDArray) => nb.add(nb.matmul(nb.tanh(nb.add(nb.matmul(x, p.w1), p.b1)), p.w2), p.b2);
const loss = (p: P, x: nb.NDArray, y: nb.NDArray) => nb.mean(nb.square(nb.sub(mlp(p, x), y)));
const xs = (dtype: "float32" | "float64") =>
  nb.array(
    [
      [0.5, -1, 0.2],
      [1.5, 0.2, -0.4],
      [-0.3, 0.8, 1],
      [0, 1, -2],
      [2, -0.5, 0.3],
    ],
    { dtype },
  );
const ys = (dtype: "float32" | "float64") => nb.array([[1], [0], [-1], [0.5], [0.25]], { dtype });

describe.skipIf(ort === null)("exportOnnx models in onnxruntime", () => {
  for (const dtype of ["float64", "float32"] as const) {
    it(`an MLP forward pass (${dtype})`, async () => {
      const args = [mlpParams(dtype), xs(dtype)];
      expectAgree(await runOnnx(mlp, args), mlp(...(args as [P, nb.NDArray])));
    });

    it(`the MLP loss and its gradient (${dtype})`, async () => {
      const args = [mlpParams(dtype), xs(dtype), ys(dtype)] as [P, nb.NDArray, nb.NDArray];
      const vg = nb.valueAndGrad(loss);
      expectAgree(await runOnnx(vg, args), vg(...args));
    });
  }

  it("a Hessian-vector product of the MLP loss", async () => {
    const p = mlpParams("float64");
    const v = nb.tree.map((w: nb.NDArray) => nb.cos(w), p) as P;
    const hvp = (q: P, d: P) => nb.jvp((r: P) => nb.grad(loss)(r, xs("float64"), ys("float64")), [q], [d])[1];
    expectAgree(await runOnnx(hvp, [p, v]), hvp(p, v));
  });

  it("shape, indexing, comparison, select, reduction, cumsum and convert primitives, and their derivatives", async () => {
    const idx = nb.array([2, 0, -1, 5], { dtype: "int32" }); // out-of-range indices are clamped, as nabla does
    const f = (x: nb.NDArray, i: nb.NDArray) => {
      const a = nb.take(x, i, 1); // gather
      const b = nb.cumsum(nb.flip(x, 0), 1); // rev, cumsum
      const c = nb.pad(nb.slice(x, [0, 1], [2, 3]), [
        [1, 0],
        [0, 2],
      ]); // slice, pad
      const d = nb.concatenate([nb.transpose(x), nb.reshape(x, [3, 2])], 1);
      const e = nb.where(nb.greater(x, 0.2), nb.softplus(x), nb.expm1(nb.log1p(nb.abs(x))));
      const m = nb.max(x, 1);
      const am = nb.argmax(x, 1);
      const r = nb.round(nb.mul(x, 3)).astype("int32");
      const s = nb.logicalAnd(nb.lessEqual(x, 0.5), nb.notEqual(x, 0));
      const q = nb.mul(nb.broadcastTo(nb.sum(x, 0), [2, 3]), nb.exp(nb.neg(nb.square(x))));
      return { a, b, c, d, e, m, am, r, s, q };
    };
    const x = nb.array([
      [0.5, -1.25, 2],
      [0.1, 0, 0.3],
    ]);
    expectAgree(await runOnnx(f, [x, idx]), f(x, idx));
    // the gradient brings scatter_add (the transpose of gather) and friends
    const g = nb.grad((y: nb.NDArray, i: nb.NDArray) => {
      const o = f(y, i);
      return nb.add(nb.add(nb.sum(nb.mul(o.a, o.a)), nb.sum(nb.sin(o.b))), nb.add(nb.sum(o.e), nb.sum(o.q)));
    });
    expectAgree(await runOnnx(g, [x, idx]), g(x, idx));
  });

  it("a program with cond (an ONNX If) and one with scan (unrolled when staged), with gradients", async () => {
    const withCond = (x: nb.NDArray) =>
      nb.cond(
        nb.greater(nb.sum(x), 0),
        (v: nb.NDArray) => nb.mul(nb.sin(v), 2),
        (v: nb.NDArray) => nb.square(v),
        x,
      );
    for (const x of [nb.array([0.5, 1]), nb.array([-0.5, -1])]) {
      expectAgree(await runOnnx(withCond, [x]), withCond(x));
      const g = nb.grad((v: nb.NDArray) => nb.sum(withCond(v)));
      expectAgree(await runOnnx(g, [x]), g(x));
    }
    const withScan = (c0: nb.NDArray, xs: nb.NDArray) =>
      nb.scan((c: nb.NDArray, x: nb.NDArray) => [nb.tanh(nb.add(nb.mul(c, 0.9), x)), nb.mul(c, x)], c0, xs);
    const args = [
      nb.array([0.1, -0.2]),
      nb.array([
        [1, 2],
        [0.5, -1],
        [0.3, 0.3],
      ]),
    ] as const;
    expectAgree(await runOnnx(withScan, [...args]), withScan(...args));
    const gs = nb.grad((c: nb.NDArray, xs: nb.NDArray) => nb.sum(withScan(c, xs)[1]), { argnums: [0, 1] });
    expectAgree(await runOnnx(gs, [...args]), gs(...args));
  });

  it("a staged whileLoop as an ONNX Loop (constants from the outer graph, zero or more iterations)", async () => {
    const w = nb.array([
      [1.1, 0.2],
      [-0.1, 0.9],
    ]);
    const f = (x: nb.NDArray, limit: nb.NDArray) =>
      nb.whileLoop(
        ([v, n]: [nb.NDArray, nb.NDArray]) => nb.logicalAnd(nb.less(nb.sum(nb.abs(v)), limit), nb.less(n, 50)),
        ([v, n]: [nb.NDArray, nb.NDArray]): [nb.NDArray, nb.NDArray] => [nb.add(nb.matmul(v, w), 0.25), nb.add(n, 1)],
        [x, nb.array(0, { dtype: "int32" })],
      );
    const prims = nb
      .makeGraph(f)(nb.zeros([1, 2]), nb.array(1))
      .equations.map((e) => e.prim);
    expect(prims).toContain("while_loop");
    for (const [x, limit] of [
      [nb.array([[0.5, -0.25]]), nb.array(10)],
      [nb.array([[0.5, -0.25]]), nb.array(0.1)], // condition false at once: no iteration
    ] as const)
      expectAgree(await runOnnx(f, [x, limit]), f(x, limit));
  });

  // --- take modes, atan2, argsort, W5 (issue 13) ---

  it("take in each mode (fill: NaN, clip, wrap) with indices past both ends", async () => {
    const x = nb.array([
      [0.5, -1.25, 2, 4],
      [0.1, 0, 0.3, -7],
    ]);
    const idx = nb.array(
      [
        [3, -1, -4, 4],
        [-5, 9, 0, -9],
      ],
      { dtype: "int32" },
    );
    for (const mode of ["fill", "clip", "wrap"] as const) {
      const f = (a: nb.NDArray, i: nb.NDArray) => [nb.take(a, i, 1, { mode }), nb.take(a, i, null, { mode })];
      const want = f(x, idx);
      expectAgree(await runOnnx(f, [x, idx]), want);
    }
    // the modes do differ on these indices (so the loop above checks three programs, not one)
    const m = (mode: nb.TakeMode) => vals(nb.take(x, idx, 1, { mode }));
    expect(m("fill").some(Number.isNaN)).toBe(true);
    expect(m("clip")).not.toEqual(m("wrap"));
  });

  it("atan2 in every quadrant, on the axes, at ±0 and ±∞ (signs of zero exact), and its gradient", async () => {
    const pts: [number, number][] = [];
    for (const y of [1.5, -1.5, 0, -0, Infinity, -Infinity, NaN, 1e-300])
      for (const x of [2, -2, 0, -0, Infinity, -Infinity, NaN, -1e-300]) pts.push([y, x]);
    for (const dtype of ["float64", "float32"] as const) {
      const y = nb.array(
        pts.map((p) => p[0]),
        { dtype },
      );
      const x = nb.array(
        pts.map((p) => p[1]),
        { dtype },
      );
      const got = await runOnnx(nb.arctan2, [y, x]);
      const want = nb.arctan2(y, x);
      expectAgree(got, want);
      // the closed form, value by value: Math.atan2 (rounded to the dtype); zeros compared with Object.is
      const round = dtype === "float32" ? Math.fround : (v: number) => v;
      got[0]!.data.forEach((v, k) => {
        const [py, px] = pts[k]!;
        const w = round(Math.atan2(round(py), round(px)));
        if (w === 0 || Number.isNaN(w)) expect(Object.is(v, w), `atan2(${py}, ${px}) = ${v}, want ${w}`).toBe(true);
        // float64: atan(y/x) ± π rounds within 2 ulps of π; float32 likewise in its precision
        else
          expect(Math.abs(v - w), `atan2(${py}, ${px})`).toBeLessThanOrEqual(
            (dtype === "float32" ? 4e-7 : 1e-15) * Math.abs(w),
          );
      });
    }
    const finite = pts.filter(
      ([a, b]) => Number.isFinite(a) && Number.isFinite(b) && (a !== 0 || b !== 0) && Math.abs(b) > 1,
    );
    const gy = nb.array(finite.map((p) => p[0]));
    const gx = nb.array(finite.map((p) => p[1]));
    const g = nb.grad((a: nb.NDArray, b: nb.NDArray) => nb.sum(nb.arctan2(a, b)), { argnums: [0, 1] });
    expectAgree(await runOnnx(g, [gy, gx]), g(gy, gx));
  });

  it("argsort ascending and descending along each axis: stable on ties, NaNs last ascending and first descending, int32 and bool keys", async () => {
    const x = nb.array([
      [3, 1, NaN, 1, -2, 3],
      [NaN, 0, 0, -Infinity, NaN, Infinity],
      [5, 4, 3, 2, 1, 0],
    ]);
    for (const descending of [false, true])
      for (const axis of [0, 1, -1]) {
        const f = (a: nb.NDArray) => nb.argsort(a, axis, descending);
        expectAgree(await runOnnx(f, [x]), f(x));
      }
    // the reference order of row 0 ascending, written out: -2, then the two 1s in index order, the two 3s, NaN
    expect(vals(nb.argsort(x, 1)).slice(0, 6)).toEqual([4, 1, 3, 0, 5, 2]);
    const xi = nb.array([[2, -1, 2, 0]], { dtype: "int32" });
    const xb = nb.array([[true, false, true, false]]);
    for (const a of [xi, xb]) {
      const f = (v: nb.NDArray) => [nb.argsort(v, 1), nb.argsort(v, 1, true)];
      expectAgree(await runOnnx(f, [a]), f(a));
    }
  });

  it("tan, arcsin, arccos, cosh, arctan in float64 (composed where onnxruntime has only float32 kernels) and float32", async () => {
    const f = (x: nb.NDArray, u: nb.NDArray) => [
      nb.tan(x),
      nb.arcsin(u),
      nb.arccos(u),
      nb.cosh(x),
      nb.arctan(x),
      nb.cosh(nb.mul(x, 100)), // up to |x| = 705: near the end of float64's range
    ];
    const xs64 = [-7.05, -1.5, -0.3, -0, 0, 1e-8, 0.7, 1.2, 3, 7.05];
    const us64 = [-1, -0.999999, -0.5, -1e-9, 0, 0.25, 0.9, 0.999999, 1, 1e-300];
    for (const dtype of ["float64", "float32"] as const) {
      const x = nb.array(xs64, { dtype });
      const u = nb.array(us64, { dtype });
      expectAgree(await runOnnx(f, [x, u]), f(x, u));
    }
  });

  // W5 of issue 8 at a smaller size (2-16-16-1, 24 points; the benchmark uses 2-32-32-1 and 256 points):
  // u(p) = tanh(tanh(p·W1)·W2)·w3, loss = mean over points of (Δu)², Δu = trace of vmap(hessian(u)).
  for (const dtype of ["float64", "float32"] as const)
    it(`W5: the PINN loss mean((Δu)²) and its gradient wrt the parameters (${dtype})`, async () => {
      const wave = (n: number, m: number, s: number) =>
        nb.array(
          Array.from({ length: n * m }, (_, k) => 0.6 * Math.sin(1.3 * k + s)),
          { shape: [n, m], dtype },
        );
      type Q = { W1: nb.NDArray; W2: nb.NDArray; w3: nb.NDArray };
      const q: Q = { W1: wave(2, 16, 0.1), W2: wave(16, 16, 0.7), w3: nb.reshape(wave(16, 1, 1.9), [16]) };
      const ps = wave(24, 2, 2.3);
      const u = (r: Q, p: nb.NDArray) => nb.dot(nb.tanh(nb.matmul(nb.tanh(nb.matmul(p, r.W1)), r.W2)), r.w3);
      const hu = nb.hessian(u, { argnums: 1 });
      const lap = nb.vmap((r: Q, p: nb.NDArray) => nb.trace(hu(r, p)), { inAxes: [null, 0] });
      const w5 = nb.valueAndGrad((r: Q, pts: nb.NDArray) => nb.mean(nb.square(lap(r, pts))));
      const want = w5(q, ps);
      // the loss is not trivially small (so the relative bound means something)
      expect(Math.abs(want[0].item())).toBeGreaterThan(1e-3);
      expectAgree(await runOnnx(w5, [q, ps]), want);
    });

  it("opset 18 (reduction axes as inputs)", async () => {
    const f = (x: nb.NDArray) => [nb.max(x, 0), nb.min(x, 1), nb.sum(x)];
    const x = nb.array([
      [0.5, -1.25, 2],
      [0.1, 0, 0.3],
    ]);
    expectAgree(await runOnnx(f, [x], { opset: 18 }), f(x));
  });
});

describe("exportOnnx", () => {
  it("names inputs and outputs as asked", () => {
    const bytes = exportOnnx((x: nb.NDArray) => nb.sin(x), [nb.zeros([2])], { inputNames: ["x"], outputNames: ["y"] });
    const graph = msgs(readMessage(bytes), 7)[0]!;
    expect(msgs(graph, 11).map((v) => strs(v, 1)[0])).toEqual(["x"]);
    expect(msgs(graph, 12).map((v) => strs(v, 1)[0])).toEqual(["y"]);
    checkStructure(bytes);
  });

  it("throws NablaError naming every primitive ONNX cannot express", () => {
    const f = (a: nb.NDArray, b: nb.NDArray) => nb.add(nb.linalg.solve(a, b), nb.linalg.det(a));
    const call = () => exportOnnx(f, [nb.eye(2), nb.ones([2, 1])]);
    expect(call).toThrow(nb.NablaError);
    expect(call).toThrow(/^exportOnnx: ONNX cannot express the primitive\(s\) solve, det/);
    const rand = (k: nb.NDArray) => nb.random.uniform(k, [2]);
    expect(() => exportOnnx(rand, [nb.random.key(0)])).toThrow(/^exportOnnx: .* random_uniform/);
    // inside a loop body too
    const loop = (x: nb.NDArray) =>
      nb.whileLoop(
        (v: nb.NDArray) => nb.less(nb.sum(v), 4),
        (v: nb.NDArray) => nb.add(v, nb.linalg.cholesky(nb.eye(2))),
        x,
      );
    expect(() => exportOnnx(loop, [nb.ones([2, 2])])).toThrow(/^exportOnnx: .* cholesky/);
  });

  it("checks its options", () => {
    const f = (x: nb.NDArray) => nb.sin(x);
    expect(() => exportOnnx(f, [nb.zeros([2])], { opset: 12 })).toThrow(/^exportOnnx: opset 12/);
    expect(() => exportOnnx(f, [nb.zeros([2])], { inputNames: ["a", "b"] })).toThrow(/^exportOnnx: inputNames/);
    expect(() => exportOnnx(f, [nb.zeros([2])], { inputNames: ["a"], outputNames: ["a"] })).toThrow(/distinct/);
  });
});
