/** nabla, eager and jit, float32 and float64. */
import type { NDArray } from "../../src/index.js";
import { nb } from "../lib/nabla.js";
import { type HostArray, type Workload, convertInputs } from "../workloads.js";
import { nablaProgram } from "./nablaWorkloads.js";
import { type Backend, type FloatDType, type HostOutputs, type Mode, type Runner, Unsupported } from "./types.js";

type A = NDArray;

function toNabla(h: HostArray, dtype: FloatDType): A {
  const data = dtype === "float32" ? Float32Array.from(h.data) : Float64Array.from(h.data);
  return nb.array(data, { shape: h.shape });
}

const force = (xs: A[]): HostOutputs => xs.map((x) => x.toTypedArray() as Float32Array | Float64Array);

export const nablaBackend: Backend = {
  name: "nabla",
  dtypes: ["float32", "float64"],
  modes: ["eager", "jit"],
  prepare(w: Workload, dtype: FloatDType, mode: Mode): Runner | Unsupported {
    const { input: I } = convertInputs(w, (h) => toNabla(h, dtype));
    const p = nablaProgram(nb, w, I);
    if (p instanceof Unsupported) return p;
    const g = mode === "jit" ? nb.jit(p.f) : p.f;
    return { run: () => force(g(...p.args)) };
  },
};
