/**
 * The workloads as nabla programs, independent of where they run: `nablaProgram` returns the
 * function and its arguments for one workload (the CPU backend, bench/backends/nabla.ts, forces the
 * outputs with toTypedArray; the WebGPU page, bench/webgpu/page.ts, with `await x.data()`).
 */
import type { NDArray } from "../../src/index.js";
import { type Workload, param } from "../workloads.js";
import { Unsupported } from "./types.js";

type Nabla = typeof import("../../src/index.js");
type A = NDArray;

/** One workload as a function of its arrays and the arguments to call it with. */
export interface NablaProgram {
  readonly f: (...args: any[]) => A[];
  readonly args: unknown[];
}

/** The program of workload `w` over nabla module `nb`, its inputs looked up by `I` (already converted and placed). */
export function nablaProgram(nb: Nabla, w: Workload, I: (name: string) => A): NablaProgram | Unsupported {
  /** x² as x·x (nabla has no `square`). */
  const sq = (x: A): A => nb.mul(x, x);

  /** The elementwise chain sin(x)·exp(x)·tanh(x). */
  const chain = (x: A): A => nb.mul(nb.mul(nb.sin(x), nb.exp(x)), nb.tanh(x));

  interface MlpParams {
    w1: A;
    b1: A;
    w2: A;
    b2: A;
    w3: A;
    b3: A;
  }

  function mlpLoss(p: MlpParams, x: A, y: A): A {
    const h1 = nb.tanh(nb.add(nb.matmul(x, p.w1), p.b1));
    const h2 = nb.tanh(nb.add(nb.matmul(h1, p.w2), p.b2));
    const z = nb.add(nb.matmul(h2, p.w3), p.b3);
    return nb.neg(nb.mean(nb.sum(nb.mul(y, nb.logSoftmax(z, -1)), 1)));
  }

  function exampleLoss(p: { w: A; u: A }, x: A, y: A): A {
    const h = nb.tanh(nb.matmul(x, p.w));
    const r = nb.sub(nb.sum(nb.mul(h, p.u)), y);
    return nb.mul(r, r);
  }

  const prog = (f: (...args: any[]) => A[], args: unknown[]): NablaProgram => ({ f, args });
  switch (w.kind) {
    case "elementwise":
      return prog((x: A) => [chain(x)], [I("x")]);
    case "matmul":
      return prog((a: A, b: A) => [nb.matmul(a, b)], [I("a"), I("b")]);
    case "mlpGrad": {
      const params: MlpParams = { w1: I("w1"), b1: I("b1"), w2: I("w2"), b2: I("b2"), w3: I("w3"), b3: I("b3") };
      const g = nb.grad(mlpLoss);
      return prog(
        (p: MlpParams, x: A, y: A) => {
          const d = g(p, x, y) as MlpParams;
          return [d.w1, d.b1, d.w2, d.b2, d.w3, d.b3];
        },
        [params, I("x"), I("y")],
      );
    }
    case "gradGradScalar": {
      const g2 = nb.grad(nb.grad((x: A) => nb.mul(nb.sin(x), nb.exp(x))));
      return prog((x: A) => [g2(x)], [I("x")]);
    }
    case "gradGradVector": {
      const g1 = nb.grad((x: A) => nb.sum(nb.tanh(nb.sin(x))));
      const g2 = nb.grad((x: A) => nb.sum(g1(x)));
      return prog((x: A) => [g2(x)], [I("x")]);
    }
    case "hessian": {
      const f = (x: A, a: A): A => nb.add(nb.sum(nb.sin(nb.matmul(a, x))), nb.mul(nb.sum(nb.mul(x, x)), 0.5));
      const h = nb.hessian(f);
      return prog((x: A, a: A) => [h(x, a)], [I("x"), I("a")]);
    }
    case "jvp":
      return prog((x: A, v: A) => nb.jvp(chain, [x], [v]) as A[], [I("x"), I("v")]);
    case "perExampleGrad": {
      const pg = nb.vmap(nb.grad(exampleLoss), { inAxes: [null, 0, 0] });
      return prog(
        (p: { w: A; u: A }, x: A, y: A) => {
          const d = pg(p, x, y) as { w: A; u: A };
          return [d.w, d.u];
        },
        [{ w: I("w"), u: I("u") }, I("x"), I("y")],
      );
    }
    case "longChain": {
      const { steps, c } = w.params as { steps: number; c: number };
      const g = nb.grad((x: A) => {
        for (let k = 0; k < steps; k++) x = nb.add(x, nb.mul(nb.sin(x), c));
        return x;
      });
      return prog((x: A) => [g(x)], [I("x")]);
    }
    case "gradSumElementwise": {
      const g = nb.grad((x: A) => nb.sum(nb.add(nb.mul(nb.tanh(x), x), sq(nb.sin(x)))));
      return prog((x: A) => [g(x)], [I("x")]);
    }
    case "nthDerivScalar": {
      let f = (x: A): A => nb.mul(nb.sin(x), nb.exp(x));
      for (let k = 0; k < param(w, "order"); k++) f = nb.grad(f) as (x: A) => A;
      return prog((x: A) => [f(x)], [I("x")]);
    }
    case "rosenbrockHessian": {
      const n = param(w, "n");
      const rosen = (x: A): A => {
        const head = nb.slice(x, [0], [n - 1]);
        const tail = nb.slice(x, [1], [n]);
        return nb.sum(nb.add(nb.mul(sq(nb.sub(tail, sq(head))), 100), sq(nb.sub(1, head))));
      };
      const h = nb.hessian(rosen);
      return prog((x: A) => [h(x)], [I("x")]);
    }
    case "pinnGrad": {
      type P = { W1: A; W2: A; w3: A };
      const u = (q: P, p: A): A => nb.dot(nb.tanh(nb.matmul(nb.tanh(nb.matmul(p, q.W1)), q.W2)), q.w3);
      const hu = nb.hessian(u, { argnums: 1 });
      const lap = nb.vmap((q: P, p: A) => nb.trace(hu(q, p)), { inAxes: [null, 0] });
      const g = nb.grad((q: P, ps: A) => nb.mean(sq(lap(q, ps))));
      return prog(
        (q: P, ps: A) => {
          const d = g(q, ps) as P;
          return [d.W1, d.W2, d.w3];
        },
        [{ W1: I("W1"), W2: I("W2"), w3: I("w3") }, I("p")],
      );
    }
    case "jacobian": {
      const jac = w.params.forward === 1 ? nb.jacfwd : nb.jacrev;
      const j = jac((x: A, W: A, b: A) => nb.tanh(nb.add(nb.matmul(W, x), b)));
      return prog((x: A, W: A, b: A) => [j(x, W, b) as A], [I("x"), I("w"), I("b")]);
    }
    default:
      return new Unsupported(`unknown workload kind ${String(w.kind)}`);
  }
}
