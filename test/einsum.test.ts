/**
 * einsum: against a brute-force plain-JS sum over every index assignment
 * (explicit, implicit, traces, diagonals, broadcast ellipsis, up to four
 * operands), the contraction order, derivatives against finite
 * differences, vmap, dtypes and errors.
 *
 * Tolerance: the reference sums the same products in another order (up to
 * 4·3·4 = 48 products of values in [-1, 1] here): 1e-12 absolute.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";
import { contractionOrder, parseEinsum } from "../src/ops/einsumPlan.js";

const vals = (x: nb.NDArray) => Array.from(x.toTypedArray() as ArrayLike<number>, Number);
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function uniform(seed: number, n: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
}

/**
 * Σ over every assignment of the letters of Π_k x_k[its letters], indexed by
 * the output letters. Letters only, explicit "->"; an axis of extent 1 reads
 * index 0 (broadcasting).
 */
function reference(spec: string, shapes: number[][], data: number[][]): { shape: number[]; data: number[] } {
  const [lhs, out] = spec.split("->") as [string, string];
  const ins = lhs.split(",");
  const ext = new Map<string, number>();
  ins.forEach((t, k) => [...t].forEach((c, ax) => ext.set(c, Math.max(ext.get(c) ?? 1, shapes[k]![ax]!))));
  const letters = [...ext.keys()];
  const shape = [...out].map((c) => ext.get(c)!);
  const res = new Array<number>(size(shape)).fill(0);
  const total = size(letters.map((c) => ext.get(c)!));
  for (let f = 0; f < total; f++) {
    const v = new Map<string, number>();
    let r = f;
    for (const c of letters) {
      v.set(c, r % ext.get(c)!);
      r = Math.floor(r / ext.get(c)!);
    }
    let p = 1;
    ins.forEach((t, k) => {
      let off = 0;
      [...t].forEach((c, ax) => {
        const n = shapes[k]![ax]!;
        off = off * n + (n === 1 ? 0 : v.get(c)!);
      });
      p *= data[k]![off]!;
    });
    let o = 0;
    for (const c of out) o = o * ext.get(c)! + v.get(c)!;
    res[o]! += p;
  }
  return { shape, data: res };
}

describe("einsum against a brute-force sum", () => {
  // [subscripts given to einsum, the same contraction with explicit letters for the reference, shapes]
  const cases: [string, string, number[][]][] = [
    [
      "ij,jk->ik",
      "ij,jk->ik",
      [
        [2, 3],
        [3, 4],
      ],
    ],
    [
      "ij,kj->ik",
      "ij,kj->ik",
      [
        [2, 3],
        [4, 3],
      ],
    ],
    [
      "bij,bjk->bik",
      "bij,bjk->bik",
      [
        [2, 2, 3],
        [2, 3, 2],
      ],
    ],
    ["i,j->ij", "i,j->ij", [[3], [2]]],
    ["ij->", "ij->", [[3, 4]]],
    ["ijk->kji", "ijk->kji", [[2, 3, 4]]],
    ["ii->", "ii->", [[3, 3]]],
    ["ii->i", "ii->i", [[3, 3]]],
    ["iij->ji", "iij->ji", [[3, 3, 2]]],
    [
      "iji,jk->k",
      "iji,jk->k",
      [
        [2, 3, 2],
        [3, 2],
      ],
    ],
    [
      "ij,ij->ij",
      "ij,ij->ij",
      [
        [2, 3],
        [2, 3],
      ],
    ],
    [
      "ij,jk,kl->il",
      "ij,jk,kl->il",
      [
        [2, 3],
        [3, 4],
        [4, 2],
      ],
    ],
    [
      "ab,bc,ca->",
      "ab,bc,ca->",
      [
        [2, 3],
        [3, 4],
        [4, 2],
      ],
    ],
    [
      "ijk,jl,kl->il",
      "ijk,jl,kl->il",
      [
        [2, 3, 4],
        [3, 2],
        [4, 2],
      ],
    ],
    ["i,i,i->i", "i,i,i->i", [[4], [4], [4]]],
    [
      "ab,bc,cd,de->ae",
      "ab,bc,cd,de->ae",
      [
        [2, 3],
        [3, 2],
        [2, 4],
        [4, 3],
      ],
    ],
    // implicit output: the letters occurring once, alphabetically
    [
      "ij,jk",
      "ij,jk->ik",
      [
        [2, 3],
        [3, 4],
      ],
    ],
    ["ba", "ba->ab", [[2, 3]]],
    ["ii", "ii->", [[3, 3]]],
    ["i,i", "i,i->", [[4], [4]]],
    // ellipsis: broadcast leading axes, aligned from the right (size 1 against 5)
    [
      "...ij,...jk->...ik",
      "abij,bjk->abik",
      [
        [2, 1, 3, 4],
        [5, 4, 2],
      ],
    ],
    [
      "...i,...i",
      "ai,ai->a",
      [
        [3, 2],
        [3, 2],
      ],
    ],
    ["i...->...", "ia->a", [[3, 2]]],
    // letters of extent 1 broadcast against the same letter's extent elsewhere (NumPy, jnp.einsum)
    [
      "ij,jk->ik (j of extent 1 in one operand)",
      "ij,jk->ik",
      [
        [2, 1],
        [3, 4],
      ],
    ],
    [
      "ij,ij->ij (each operand broadcast along one letter)",
      "ij,ij->ij",
      [
        [1, 3],
        [2, 1],
      ],
    ],
    ["i,i->", "i,i->", [[1], [4]]],
    ["ii-> (both axes of extent 1)", "ii->", [[1, 1]]],
    ["ii,i->i (a diagonal of extent 1 against 3)", "ii,i->i", [[1, 1], [3]]],
    [
      "bij,bjk->bik (batch letter broadcast)",
      "bij,bjk->bik",
      [
        [1, 2, 3],
        [4, 3, 2],
      ],
    ],
    [
      "ij,jk,kl->il (three operands, two broadcast letters)",
      "ij,jk,kl->il",
      [
        [2, 3],
        [1, 4],
        [4, 1],
      ],
    ],
    ["ab,a->b (a summed letter of extent 1 in one operand)", "ab,a->b", [[3, 2], [1]]],
    ["ab,b->a (the other operand's summed letter)", "ab,b->a", [[3, 1], [4]]],
    [
      "...ij,jk->...ik",
      "aij,jk->aik",
      [
        [2, 3, 1],
        [4, 2],
      ],
    ],
  ];
  it.each(cases)("%s", (label, explicit, shapes) => {
    const spec = label.split(" ")[0]!;
    const data = shapes.map((s, k) => uniform(10 + k, size(s)));
    const got = nb.einsum(spec, ...data.map((d, k) => nb.array(Float64Array.from(d), { shape: shapes[k]! })));
    const want = reference(explicit, shapes, data);
    expect(got.shape).toEqual(want.shape);
    const g = vals(got);
    expect(Math.max(0, ...g.map((v, i) => Math.abs(v - want.data[i]!)))).toBeLessThan(1e-12);
  });
});

describe("einsum contraction order", () => {
  const order = (spec: string, shapes: number[][]) => {
    const p = parseEinsum(spec, shapes);
    return contractionOrder(p.inputs, p.output, p.sizes);
  };
  it("three operands: the cheapest of the three pairwise orders", () => {
    // A[100,2] B[2,100] C[100,1]: (AB)C costs 100·2·100 + 100·100·1 = 30000; A(BC) costs 2·100·1 + 100·2·1 = 400
    expect(
      order("ij,jk,kl->il", [
        [100, 2],
        [2, 100],
        [100, 1],
      ]),
    ).toEqual([
      [1, 2],
      [0, 1],
    ]);
    // A[1,100] B[100,2] C[2,100]: (AB)C costs 200 + 200 = 400; A(BC) costs 20000 + 10000
    expect(
      order("ij,jk,kl->il", [
        [1, 100],
        [100, 2],
        [2, 100],
      ]),
    ).toEqual([
      [0, 1],
      [0, 1],
    ]);
    // a vector into the matrix first (2500 + 50) beats the outer product of the two vectors (2500 + 2500);
    // of the two equal-cost orders the first pair found is kept
    expect(order("i,ij,j->", [[50], [50, 50], [50]])).toEqual([
      [0, 1],
      [0, 1],
    ]);
  });
  it("the chosen order gives the same numbers as the left-to-right one (float64 rounding only)", () => {
    const a = nb.array(Float64Array.from(uniform(1, 200)), { shape: [100, 2] });
    const b = nb.array(Float64Array.from(uniform(2, 200)), { shape: [2, 100] });
    const c = nb.array(Float64Array.from(uniform(3, 100)), { shape: [100, 1] });
    const left = nb.matmul(nb.matmul(a, b), c);
    const got = nb.einsum("ij,jk,kl->il", a, b, c);
    // sums of 200 products of magnitude <= 1, two ways: a few hundred roundings of O(10) values
    expect(Math.max(...vals(got).map((v, i) => Math.abs(v - vals(left)[i]!)))).toBeLessThan(1e-11);
  });
});

describe("einsum transforms, dtypes and errors", () => {
  const m = (seed: number, shape: number[]) => nb.array(Float64Array.from(uniform(seed, size(shape))), { shape });
  it.each(["ij,jk,kl->il", "iij->ji", "...i,...i->...", "ab,bc,ca->"])(
    "%s: order 2 against finite differences",
    (spec) => {
      const shapes: Record<string, number[][]> = {
        "ij,jk,kl->il": [
          [2, 3],
          [3, 2],
          [2, 2],
        ],
        "iij->ji": [[2, 2, 3]],
        "...i,...i->...": [[2, 3], [3]],
        "ab,bc,ca->": [
          [2, 3],
          [3, 2],
          [2, 2],
        ],
      };
      const args = shapes[spec]!.map((s, k) => m(20 + k, s));
      checkGrads((...xs: nb.NDArray[]) => nb.einsum(spec, ...xs), args, { order: 2 });
    },
  );

  it("broadcast letters: order 2 against finite differences; vmap equals a loop", () => {
    // the extent-1 operand's derivative sums over the broadcast letter
    checkGrads((a: nb.NDArray, b: nb.NDArray) => nb.einsum("ij,jk->ik", a, b), [m(30, [2, 1]), m(31, [3, 2])], {
      order: 2,
    });
    checkGrads((a: nb.NDArray, b: nb.NDArray) => nb.einsum("ii,ij->j", a, b), [m(32, [1, 1]), m(33, [3, 1])], {
      order: 2,
    });
    const a = m(34, [1, 3]);
    const vs = m(35, [4, 2, 1]);
    const f = (v: nb.NDArray) => nb.einsum("ij,jk->ik", v, a);
    const batched = vals(nb.vmap(f)(vs) as nb.NDArray);
    const loop = [0, 1, 2, 3].flatMap((k) => vals(f(nb.take(vs, nb.array(k, { dtype: "int32" }), 0))));
    expect(Math.max(...batched.map((v, i) => Math.abs(v - loop[i]!)))).toBeLessThan(1e-15);
  });

  it("vmap over one operand equals a loop; ints stay int32, bools count as int32", () => {
    const a = m(1, [3, 2]);
    const vs = m(2, [4, 2]);
    const batched = vals(nb.vmap((v: nb.NDArray) => nb.einsum("ij,j->i", a, v))(vs) as nb.NDArray);
    const loop = [0, 1, 2, 3].flatMap((k) =>
      vals(nb.einsum("ij,j->i", a, nb.take(vs, nb.array(k, { dtype: "int32" }), 0))),
    );
    expect(Math.max(...batched.map((v, i) => Math.abs(v - loop[i]!)))).toBeLessThan(1e-15);
    const i = nb.einsum("i,i->", nb.array([1, 2, 3], { dtype: "int32" }), nb.array([4, 5, 6], { dtype: "int32" }));
    expect(i.dtype).toBe("int32");
    expect(i.item()).toBe(32);
    expect(nb.einsum("i->", nb.array([true, true, false])).item()).toBe(2);
  });

  it.each([
    [
      "too few operands",
      () => nb.einsum("ij,jk->ik", nb.ones([2, 2])),
      /^einsum: subscripts "ij,jk->ik" name 2 operand\(s\), 1 given/,
    ],
    ["no operand", () => nb.einsum("->"), /^einsum: .*at least one operand/],
    [
      "a rank mismatch",
      () => nb.einsum("ij->i", nb.ones([2])),
      /^einsum: operand 0 of shape \[2\] does not match its subscripts "ij"/,
    ],
    [
      "an extent mismatch",
      () => nb.einsum("ij,jk->ik", nb.ones([2, 3]), nb.ones([2, 2])),
      /^einsum: index "j" has extents 3 and 2/,
    ],
    [
      "a repeated letter of unequal extents within one operand (NumPy raises too)",
      () => nb.einsum("ii->i", nb.ones([1, 3])),
      /^einsum: index "i" repeats in operand 0 of shape \[1,3\] with extents 1 and 3/,
    ],
    ["a bad character", () => nb.einsum("i1->i", nb.ones([2, 2])), /^einsum: .*"1" is not a letter/],
    ["an output letter in no input", () => nb.einsum("ij->k", nb.ones([2, 2])), /^einsum: output index "k"/],
    ["a repeated output letter", () => nb.einsum("ij->ii", nb.ones([2, 2])), /^einsum: output index "i" .* repeats/],
    [
      "an ellipsis missing from the output",
      () => nb.einsum("...i->i", nb.ones([2, 2])),
      /^einsum: .*"\.\.\." in the inputs but not the output/,
    ],
    ["two ellipses", () => nb.einsum("......->", nb.ones([2, 2])), /^einsum: .*more than one "\.\.\."/],
  ] as const)("%s", (_name, f, msg) => {
    expect(f).toThrow(nb.NablaError);
    expect(f).toThrow(msg);
  });
});
