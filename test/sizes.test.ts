/**
 * Results too large for a typed array (more than 2^31 - 1 elements) are a ShapeError before
 * anything is allocated, eagerly and when staged, whichever operation asks for them; and
 * `toArray` of an axis longer than a JS array holds is a ShapeError, not a crash of V8.
 * The size checks allocate nothing (operands of at most 1e5 elements); the toArray test 128 MB.
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

const A = nb.zeros([1e5, 1]);
const B = nb.zeros([1, 1e5]);
const v = nb.zeros([1e5]);

function shapeError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(nb.ShapeError);
    return (e as Error).message;
  }
  return expect.fail("expected a ShapeError");
}

describe("outputs of more than 2^31 - 1 elements", () => {
  it("matmul eagerly, under jit and in makeGraph: ShapeError naming matmul, the result and the operands", () => {
    const want =
      /^matmul: the result \[100000,100000\] would have 10000000000 elements, more than the limit 2\^31 - 1 \(operands f64\[100000,1\], f64\[1,100000\]\)/;
    expect(shapeError(() => nb.matmul(A, B))).toMatch(want);
    expect(shapeError(() => nb.jit(nb.matmul)(A, B))).toMatch(want);
    expect(shapeError(() => nb.makeGraph(nb.matmul)(A, B))).toMatch(want);
    // batched: [3, 1e5, 1] @ [1, 1e5]
    expect(shapeError(() => nb.matmul(nb.zeros([3, 1e5, 1]), B))).toMatch(/^matmul: the result \[3,100000,100000\]/);
  });

  it("einsum names itself; concatenate of many arrays lists a few operands and their count", () => {
    expect(shapeError(() => nb.einsum("i,j->ij", v, v))).toMatch(/^einsum: shape \[100000,100000\]/);
    const msg = shapeError(() => nb.concatenate(new Array<nb.NDArray>(1e5).fill(v)));
    expect(msg).toMatch(/^concatenate: the result \[10000000000\] would have 10000000000 elements/);
    expect(msg).toMatch(/f64\[100000\], \.\.\. \(100000 operands\)\)$/);
    expect(msg.length).toBeLessThan(300);
    expect(shapeError(() => nb.take(nb.zeros([1, 1e5]), nb.zeros([1e5], { dtype: "int32" }), 0))).toMatch(
      /the result \[100000,100000\]/,
    );
  });

  it("a result of exactly 2^31 - 1 elements is not refused by the check (it is only a bound)", () => {
    // 2^31 - 1 = 7 · 31 · 151 · 65537: staged only (makeGraph allocates nothing)
    const g = nb.makeGraph(nb.matmul)(nb.zeros([7 * 31, 1]), nb.zeros([1, 151 * 65537]));
    expect(g.outs[0]!.aval.shape).toEqual([217, 9896087]);
  });
});

describe("Jacobians of more than 2^31 - 1 entries", () => {
  it("jacfwd, jacrev and hessian refuse before building the basis, naming themselves and the shapes", () => {
    const x = nb.zeros([1e5]);
    for (const [name, t] of [
      ["jacfwd", nb.jacfwd],
      ["jacrev", nb.jacrev],
    ] as const)
      expect(shapeError(() => t(nb.sin)(x))).toMatch(
        new RegExp(
          `^${name}: the Jacobian of outputs \\[100000\\] with respect to inputs \\[100000\\] would have 10000000000 elements`,
        ),
      );
    expect(shapeError(() => nb.hessian((v: nb.NDArray) => nb.sum(nb.sin(v)))(x))).toMatch(/^hessian: the Jacobian/);
  });
});

describe("toArray", () => {
  it("an axis longer than a JS array can hold is a ShapeError pointing to toTypedArray", () => {
    const x = nb.zeros([2 ** 27], { dtype: "bool" }); // 128 MB of storage, more elements than a JS array takes
    expect(shapeError(() => x.toArray())).toMatch(
      /^toArray: shape \[134217728\] has an axis of 134217728 elements.*toTypedArray/,
    );
  });
});
