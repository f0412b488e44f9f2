/**
 * Device functions on the CPU alone (no WebGPU in Node): `devicePut` of
 * tracers is the identity on values, as JAX's staged `device_put`, under
 * grad, jvp, vmap, jit and jet; to a device not initialised it throws
 * DeviceError. The webgpu side is test/webgpu.test.ts. Expected values are
 * closed forms, compared exactly where the computation is the same
 * float64 operations (identity added or not).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

type A = nb.NDArray;

const x = nb.array([0.5, -1, 2]);
const xs = [0.5, -1, 2];
/** sum(sin(x²)) with devicePut(·, "cpu") around x². */
const viaPut = (v: A) => nb.sum(nb.sin(nb.devicePut(nb.mul(v, v), "cpu")));

describe("devicePut of tracers on the CPU", () => {
  it("is the identity under grad, jvp, vmap, jit and jet (values of the closed forms)", () => {
    // d/dx sum(sin(x²)) = 2x cos(x²): the same float64 operations as without devicePut
    const g = nb.grad(viaPut)(x).toArray() as number[];
    const want = nb
      .grad((v: A) => nb.sum(nb.sin(nb.mul(v, v))))(x)
      .toArray() as number[];
    expect(g).toEqual(want);
    // the closed form in float64: a few roundings of values below 4 in magnitude, |error| < 5e-15
    g.forEach((v, i) => expect(v).toBeCloseTo(2 * xs[i]! * Math.cos(xs[i]! ** 2), 14));
    // the sum of the three terms: |error| < 5e-14
    const [, t] = nb.jvp(viaPut, [x], [nb.onesLike(x)]);
    expect(t.item()).toBeCloseTo(
      xs.reduce((a, v) => a + 2 * v * Math.cos(v * v), 0),
      13,
    );
    expect(nb.jit(viaPut)(x).item()).toBe(viaPut(x).item());
    expect(nb.jit(nb.grad(viaPut))(x).toArray()).toEqual(want);
    expect(
      nb
        .vmap((v: A) => nb.devicePut(nb.mul(v, 3), "cpu"))(x)
        .toArray(),
    ).toEqual([1.5, -3, 6]);
    const [y, [d1]] = nb.jet((v: A) => nb.devicePut(nb.exp(v), "cpu"), [x], [[nb.onesLike(x)]]);
    expect(d1!.toArray()).toEqual(y.toArray());
  });

  it("to a device not initialised throws DeviceError naming init, inside transforms as outside", () => {
    expect(() => nb.devicePut(x, "webgpu")).toThrow(nb.DeviceError);
    expect(() => nb.grad((v: A) => nb.sum(nb.devicePut(v, "webgpu")))(x)).toThrow(/devicePut: .*init\("webgpu"\)/);
    expect(() => nb.jit((v: A) => nb.devicePut(v, "webgpu"))(x)).toThrow(nb.DeviceError);
  });
});
