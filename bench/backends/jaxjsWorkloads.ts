/**
 * The workloads as jax-js programs, independent of the device (the wasm backend,
 * bench/backends/jaxjs.ts, forces outputs with dataSync; the WebGPU page, bench/webgpu/page.ts,
 * with `await y.data()`). jax-js arrays are consumed by every operation, so the functions pass
 * `.ref` wherever a value is used again, and `args()` gives fresh references of the inputs.
 */
import type * as JaxModule from "@jax-js/jax";
import type { Array as JArray } from "@jax-js/jax";
import { type Workload, param } from "../workloads.js";
import { Unsupported } from "./types.js";

type Jax = typeof JaxModule;

/** One workload as a function of its arrays, and a maker of fresh references to its arguments. */
export interface JaxProgram {
  readonly f: (...args: any[]) => JArray[];
  readonly args: () => unknown[];
  readonly note?: string;
}

/** The program of workload `w`, its inputs (kept by the caller until disposal) looked up by `I`. */
export function jaxProgram(jax: Jax, w: Workload, I: (name: string) => JArray): JaxProgram | Unsupported {
  const np = jax.numpy;
  const chain = (x: JArray): JArray => np.sin(x.ref).mul(np.exp(x.ref)).mul(np.tanh(x));
  const runner = (f: (...args: any[]) => JArray[], args: () => unknown[]): JaxProgram => ({ f, args });

  switch (w.kind) {
    case "elementwise":
      return runner(
        (x: JArray) => [chain(x)],
        () => [I("x").ref],
      );
    case "matmul":
      return runner(
        (a: JArray, b: JArray) => [np.matmul(a, b)],
        () => [I("a").ref, I("b").ref],
      );
    case "mlpGrad": {
      type P = Record<"w1" | "b1" | "w2" | "b2" | "w3" | "b3", JArray>;
      const loss = (p: P, x: JArray, y: JArray): JArray => {
        const h1 = np.tanh(np.matmul(x, p.w1).add(p.b1));
        const h2 = np.tanh(np.matmul(h1, p.w2).add(p.b2));
        const z = np.matmul(h2, p.w3).add(p.b3);
        return np.mean(np.sum(y.mul(jax.nn.logSoftmax(z, -1)), 1)).neg();
      };
      const g = jax.grad(loss as any) as unknown as (p: P, x: JArray, y: JArray) => P;
      return runner(
        (p: P, x: JArray, y: JArray) => {
          const d = g(p, x, y);
          return [d.w1, d.b1, d.w2, d.b2, d.w3, d.b3];
        },
        () => [
          { w1: I("w1").ref, b1: I("b1").ref, w2: I("w2").ref, b2: I("b2").ref, w3: I("w3").ref, b3: I("b3").ref },
          I("x").ref,
          I("y").ref,
        ],
      );
    }
    case "gradGradScalar": {
      const g2 = jax.grad(jax.grad((x: JArray) => np.sin(x.ref).mul(np.exp(x))) as any) as unknown as (
        x: JArray,
      ) => JArray;
      return runner(
        (x: JArray) => [g2(x)],
        () => [I("x").ref],
      );
    }
    case "gradGradVector": {
      const g1 = jax.grad((x: JArray) => np.sum(np.tanh(np.sin(x)))) as (x: JArray) => JArray;
      const g2 = jax.grad((x: JArray) => np.sum(g1(x))) as unknown as (x: JArray) => JArray;
      return runner(
        (x: JArray) => [g2(x)],
        () => [I("x").ref],
      );
    }
    case "hessian": {
      // jax-js's hessian takes a function of one 1-D array: A is closed over.
      const a = I("a");
      const f = (x: JArray): JArray => np.sum(np.sin(np.matmul(a.ref, x.ref))).add(np.sum(x.ref.mul(x)).mul(0.5));
      const h = jax.hessian(f) as (x: JArray) => JArray;
      return runner(
        (x: JArray) => [h(x)],
        () => [I("x").ref],
      );
    }
    case "jvp":
      return runner(
        (x: JArray, v: JArray) => jax.jvp(chain, [x], [v]) as JArray[],
        () => [I("x").ref, I("v").ref],
      );
    case "perExampleGrad": {
      type P = { w: JArray; u: JArray };
      const loss = (p: P, x: JArray, y: JArray): JArray => {
        const h = np.tanh(np.matmul(x, p.w));
        const r = np.sum(h.mul(p.u)).sub(y);
        return r.ref.mul(r);
      };
      const pg = jax.vmap(jax.grad(loss as any) as any, [null, 0, 0]) as (p: P, x: JArray, y: JArray) => P;
      return runner(
        (p: P, x: JArray, y: JArray) => {
          const d = pg(p, x, y);
          return [d.w, d.u];
        },
        () => [{ w: I("w").ref, u: I("u").ref }, I("x").ref, I("y").ref],
      );
    }
    case "longChain": {
      const { steps, c } = w.params as { steps: number; c: number };
      const g = jax.grad((x: JArray) => {
        for (let k = 0; k < steps; k++) x = x.ref.add(np.sin(x).mul(c));
        return x;
      }) as (x: JArray) => JArray;
      return runner(
        (x: JArray) => [g(x)],
        () => [I("x").ref],
      );
    }
    case "gradSumElementwise": {
      const g = jax.grad((x: JArray) => {
        const s = np.sin(x.ref);
        return np.sum(np.tanh(x.ref).mul(x).add(s.ref.mul(s)));
      }) as (x: JArray) => JArray;
      return runner(
        (x: JArray) => [g(x)],
        () => [I("x").ref],
      );
    }
    case "nthDerivScalar": {
      let f = (x: JArray): JArray => np.sin(x.ref).mul(np.exp(x));
      for (let k = 0; k < param(w, "order"); k++) f = jax.grad(f as any) as unknown as (x: JArray) => JArray;
      return runner(
        (x: JArray) => [f(x)],
        () => [I("x").ref],
      );
    }
    case "rosenbrockHessian": {
      const n = param(w, "n");
      const rosen = (x: JArray): JArray => {
        const head = x.ref.slice([0, n - 1]);
        const tail = x.slice([1, n]);
        const d = tail.sub(head.ref.mul(head.ref));
        const e = np.subtract(1, head);
        return np.sum(d.ref.mul(d).mul(100).add(e.ref.mul(e)));
      };
      const h = jax.hessian(rosen) as (x: JArray) => JArray;
      return runner(
        (x: JArray) => [h(x)],
        () => [I("x").ref],
      );
    }
    case "pinnGrad": {
      type P = { W1: JArray; W2: JArray; w3: JArray };
      // jax-js's hessian takes a function of one array: the parameters are closed over.
      const u = (q: P, p: JArray): JArray =>
        np.dot(np.tanh(np.matmul(np.tanh(np.matmul(p, q.W1.ref)), q.W2.ref)), q.w3.ref);
      const g = jax.grad(((q: P, ps: JArray) => {
        const lap = jax.vmap((p: JArray) => np.trace(jax.hessian((pp: JArray) => u(q, pp))(p)), [0]) as (
          ps: JArray,
        ) => JArray;
        const l = lap(ps);
        return np.mean(l.ref.mul(l));
      }) as any) as unknown as (q: P, ps: JArray) => P;
      return runner(
        (q: P, ps: JArray) => {
          const d = g(q, ps);
          return [d.W1, d.W2, d.w3];
        },
        () => [{ W1: I("W1").ref, W2: I("W2").ref, w3: I("w3").ref }, I("p").ref],
      );
    }
    case "jacobian": {
      const W = I("w");
      const b = I("b");
      const f = (x: JArray): JArray => np.tanh(np.matmul(W.ref, x).add(b.ref));
      if (w.params.forward !== 1) {
        const j = jax.jacrev(f) as (x: JArray) => JArray;
        return runner(
          (x: JArray) => [j(x)],
          () => [I("x").ref],
        );
      }
      const j = jax.jacfwd(f) as (x: JArray) => JArray;
      return {
        ...runner(
          (x: JArray) => [np.transpose(j(x))],
          () => [I("x").ref],
        ),
        note: "jax-js 0.1.25's jacfwd returns the transposed Jacobian (in × out); transposed back inside the function",
      };
    }
    default:
      return new Unsupported(`unknown workload kind ${String(w.kind)}`);
  }
}
