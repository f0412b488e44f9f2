/**
 * The operand counts of the WebGPU kernels and WGSL expressions are checked where they are
 * handed over as tuples (kernel() in src/kernels/webgpu/kernel.ts, fixed() in elementwise.ts):
 * a wrong count is a NablaError naming the primitive, thrown before any GPU work (so these run
 * in Node, without a device).
 */
import { describe, expect, it } from "vitest";
import { NablaError } from "../src/core/errors.js";
import { hasLength } from "../src/core/tuple.js";
import type { GpuContext, GpuTensor } from "../src/kernels/webgpu/kernel.js";
import { EXPRS } from "../src/kernels/webgpu/elementwise.js";
import { GPU_KERNELS } from "../src/prims/gpuTable.js";

/** A context whose every use fails the test: the checks must throw before touching it. */
const noCtx = new Proxy({} as GpuContext, {
  get: (_t, k) => {
    throw new Error(`the context was used (${String(k)})`);
  },
});
const tensor = (shape: number[]): GpuTensor => ({ buffer: {} as GpuTensor["buffer"], shape, dtype: "float32" });
const aval = (shape: number[]) => ({ shape, dtype: "float32" as const, weak: false });

describe("webgpu operand counts", () => {
  it("hasLength narrows only at the exact length", () => {
    expect(hasLength([1, 2], 2)).toBe(true);
    expect(hasLength([1, 2], 1)).toBe(false);
    expect(hasLength([], 0)).toBe(true);
  });

  it("a kernel given too few or too many operands or outputs throws NablaError naming it", () => {
    const x = tensor([2, 3]);
    const cases: [string, () => unknown][] = [
      ["transpose", () => GPU_KERNELS.transpose(noCtx, [], { perm: [1, 0] }, [aval([3, 2])])],
      ["transpose", () => GPU_KERNELS.transpose(noCtx, [x, x], { perm: [1, 0] }, [aval([3, 2])])],
      ["transpose", () => GPU_KERNELS.transpose(noCtx, [x], { perm: [1, 0] }, [])],
      ["matmul", () => GPU_KERNELS.matmul(noCtx, [x], {}, [aval([2, 2])])],
      ["scatter_max", () => GPU_KERNELS.scatter_max(noCtx, [x, x], {}, [aval([2, 3])])],
    ];
    for (const [prim, run] of cases) {
      expect(run).toThrow(NablaError);
      expect(run).toThrow(new RegExp(`^${prim}: internal: the webgpu kernel takes`));
    }
  });

  it("a WGSL expression given the wrong number of operands throws NablaError", () => {
    expect(EXPRS.add(["a", "b"], ["float32", "float32"], "float32")).toBe("(a + b)");
    expect(() => EXPRS.add(["a"], ["float32"], "float32")).toThrow(NablaError);
    expect(() => EXPRS.select(["c", "a"], ["bool", "float32"], "float32")).toThrow(/WGSL expression of 3 operand/);
    expect(() => EXPRS.neg(["a"], [], "float32")).toThrow(NablaError);
  });
});
