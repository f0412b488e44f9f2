/**
 * TensorFlow.js 4.22, cpu and wasm backends, float32 only, eager only.
 * Loaded through `require`: the CommonJS bundle registers the gradients (see PEERS.md).
 */
import { createRequire } from "node:module";
import type * as TFModule from "@tensorflow/tfjs";
import type { Tensor } from "@tensorflow/tfjs";
import { type Workload, convertInputs, param } from "../workloads.js";
import { type Backend, type FloatDType, type HostOutputs, type Mode, type Runner, Unsupported } from "./types.js";

const require = createRequire(import.meta.url);

/** Loads TF.js and the wasm backend; returns null and the reason when they cannot be loaded. */
export function loadTf(): { tf: typeof TFModule; version: string } | { error: string } {
  try {
    const tf = require("@tensorflow/tfjs") as typeof TFModule;
    require("@tensorflow/tfjs-backend-wasm");
    return { tf, version: tf.version.tfjs };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** SIMD and thread facts of the wasm backend (switches TF.js to it). */
export async function describeWasm(tf: typeof TFModule): Promise<string> {
  await tf.setBackend("wasm");
  await tf.ready();
  const wasm = require("@tensorflow/tfjs-backend-wasm") as { getThreadsCount(): number };
  const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true;
  const threads = wasm.getThreadsCount();
  return `${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"}`;
}

const chain = (tf: typeof TFModule, x: Tensor): Tensor => tf.mul(tf.mul(tf.sin(x), tf.exp(x)), tf.tanh(x));

/**
 * Wraps a computation returning tensors: runs it in `tidy`, reads every output back with
 * `dataSync()` and disposes it, so nothing accumulates across runs.
 */
function runner(tf: typeof TFModule, f: () => Tensor[], inputs: Tensor[], note?: string): Runner {
  return {
    run(): HostOutputs {
      const outs = tf.tidy(f);
      const host = outs.map((t) => t.dataSync() as Float32Array);
      tf.dispose(outs);
      return host;
    },
    dispose: () => tf.dispose(inputs),
    ...(note !== undefined ? { note } : {}),
  };
}

function prepare(tf: typeof TFModule, w: Workload): Runner | Unsupported {
  const { input: I, all: inputs } = convertInputs(w, (h) =>
    tf.tensor(Float32Array.from(h.data), [...h.shape], "float32"),
  );
  switch (w.kind) {
    case "elementwise":
      return runner(tf, () => [chain(tf, I("x"))], inputs);
    case "matmul":
      return runner(tf, () => [tf.matMul(I("a"), I("b"))], inputs);
    case "mlpGrad": {
      const [x, y] = [I("x"), I("y")];
      const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, w3: Tensor, b3: Tensor): Tensor => {
        const h1 = tf.tanh(tf.add(tf.matMul(x, w1), b1));
        const h2 = tf.tanh(tf.add(tf.matMul(h1, w2), b2));
        const z = tf.add(tf.matMul(h2, w3), b3);
        return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(z, -1)), 1)));
      };
      const g = tf.grads(loss);
      const params = [I("w1"), I("b1"), I("w2"), I("b2"), I("w3"), I("b3")];
      return runner(tf, () => g(params), inputs);
    }
    case "gradGradScalar": {
      const g2 = tf.grad(tf.grad((x: Tensor) => tf.mul(tf.sin(x), tf.exp(x))));
      return runner(tf, () => [g2(I("x"))], inputs);
    }
    case "gradGradVector": {
      const g1 = tf.grad((x: Tensor) => tf.sum(tf.tanh(tf.sin(x))));
      const g2 = tf.grad((x: Tensor) => tf.sum(g1(x)));
      return runner(tf, () => [g2(I("x"))], inputs);
    }
    case "hessian": {
      const n = param(w, "n");
      const [a, x] = [I("a"), I("x")];
      const f = (v: Tensor): Tensor =>
        tf.add(tf.sum(tf.sin(tf.matMul(a, tf.reshape(v, [n, 1])))), tf.mul(tf.sum(tf.mul(v, v)), 0.5));
      const g = tf.grad(f);
      const basis = tf.tidy(() => tf.unstack(tf.eye(n)));
      // No jacobian or forward mode in TF.js: one Hessian-vector product (grad of <grad f, e_i>) per row.
      const rows = basis.map((e) => tf.grad((v: Tensor) => tf.sum(tf.mul(g(v), e))));
      return runner(tf, () => [tf.stack(rows.map((r) => r(x)))], [...inputs, ...basis], `${n} HVPs (grad of grad·eᵢ)`);
    }
    case "jvp": {
      const [x, v] = [I("x"), I("v")];
      const vjp = tf.grad((t: Tensor) => chain(tf, t));
      // No forward mode in TF.js: J·v = d/du <vjp(u), v> (the "double vjp" trick), a second-order derivative.
      const jv = tf.grad((u: Tensor) => tf.sum(tf.mul(vjp(x, u), v)));
      const u0 = tf.zerosLike(x);
      return runner(tf, () => [chain(tf, x), jv(u0)], [...inputs, u0], "J·v by double vjp (no forward mode)");
    }
    case "perExampleGrad":
      return new Unsupported("no vmap in TF.js");
    case "longChain": {
      const { steps, c } = w.params as { steps: number; c: number };
      const g = tf.grad((x: Tensor) => {
        for (let k = 0; k < steps; k++) x = tf.add(x, tf.mul(tf.sin(x), c));
        return x;
      });
      return runner(tf, () => [g(I("x"))], inputs);
    }
    default:
      tf.dispose(inputs);
      return new Unsupported(`unknown workload kind ${String(w.kind)}`);
  }
}

/** One Backend per TF.js backend name ("cpu", "wasm"). */
export function tfBackend(tf: typeof TFModule, which: "cpu" | "wasm"): Backend {
  return {
    name: `tfjs-${which}`,
    dtypes: ["float32"],
    modes: ["eager"],
    async activate() {
      if (tf.getBackend() !== which) {
        const ok = await tf.setBackend(which);
        if (!ok) throw new Error(`tf.setBackend("${which}") failed`);
      }
      await tf.ready();
    },
    prepare(w: Workload, dtype: FloatDType, _mode: Mode): Runner | Unsupported {
      if (dtype !== "float32") return new Unsupported("TF.js computes in float32 only");
      return prepare(tf, w);
    },
  };
}
