/** nabla, eager and jit, float32 and float64. */
import type { NDArray } from "../../src/index.js";
import { hostView, nb } from "../lib/nabla.js";
import { type HostArray, type Workload, convertInputs } from "../workloads.js";
import { nablaProgram } from "./nablaWorkloads.js";
import { type Backend, type FloatDType, type HostOutputs, type Mode, type Runner, Unsupported } from "./types.js";

type A = NDArray;

function toNabla(h: HostArray, dtype: FloatDType): A {
  const data = dtype === "float32" ? Float32Array.from(h.data) : Float64Array.from(h.data);
  return nb.array(data, { shape: h.shape });
}

// CPU results read in place, as PyTorch's are (bench/torch_bench.py: numpy() views the result).
// Until 2026-12-03 every timed run copied them out with toTypedArray (W1: about 1 ms of 4-8 MB
// copies into fresh buffers), which PyTorch's runs never did.
const force = (xs: A[]): HostOutputs => xs.map(hostView);

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
