/** nabla, eager and jit, float32 and float64. */
import type { NDArray } from "../../src/index.js";
import { nb } from "../lib/nabla.js";
import { type HostArray, type Workload, convertInputs, param } from "../workloads.js";
import { type Backend, type FloatDType, type HostOutputs, type Mode, type Runner, Unsupported } from "./types.js";

type A = NDArray;

function toNabla(h: HostArray, dtype: FloatDType): A {
  const data = dtype === "float32" ? Float32Array.from(h.data) : Float64Array.from(h.data);
  return nb.array(data, { shape: h.shape });
}

const force = (xs: A[]): HostOutputs => xs.map((x) => x.toTypedArray() as Float32Array | Float64Array);

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

/** Builds `() => outputs` from a function of the workload's arrays; `jit` wraps it in nb.jit. */
function runner(mode: Mode, f: (...args: any[]) => A[], args: unknown[]): Runner {
  const g = mode === "jit" ? nb.jit(f) : f;
  return { run: () => force(g(...args)) };
}

export const nablaBackend: Backend = {
  name: "nabla",
  dtypes: ["float32", "float64"],
  modes: ["eager", "jit"],
  prepare(w: Workload, dtype: FloatDType, mode: Mode): Runner | Unsupported {
    const { input: I } = convertInputs(w, (h) => toNabla(h, dtype));
    switch (w.kind) {
      case "elementwise":
        return runner(mode, (x: A) => [chain(x)], [I("x")]);
      case "matmul":
        return runner(mode, (a: A, b: A) => [nb.matmul(a, b)], [I("a"), I("b")]);
      case "mlpGrad": {
        const params: MlpParams = { w1: I("w1"), b1: I("b1"), w2: I("w2"), b2: I("b2"), w3: I("w3"), b3: I("b3") };
        const g = nb.grad(mlpLoss);
        return runner(
          mode,
          (p: MlpParams, x: A, y: A) => {
            const d = g(p, x, y) as MlpParams;
            return [d.w1, d.b1, d.w2, d.b2, d.w3, d.b3];
          },
          [params, I("x"), I("y")],
        );
      }
      case "gradGradScalar": {
        const g2 = nb.grad(nb.grad((x: A) => nb.mul(nb.sin(x), nb.exp(x))));
        return runner(mode, (x: A) => [g2(x)], [I("x")]);
      }
      case "gradGradVector": {
        const g1 = nb.grad((x: A) => nb.sum(nb.tanh(nb.sin(x))));
        const g2 = nb.grad((x: A) => nb.sum(g1(x)));
        return runner(mode, (x: A) => [g2(x)], [I("x")]);
      }
      case "hessian": {
        const f = (x: A, a: A): A => nb.add(nb.sum(nb.sin(nb.matmul(a, x))), nb.mul(nb.sum(nb.mul(x, x)), 0.5));
        const h = nb.hessian(f);
        return runner(mode, (x: A, a: A) => [h(x, a)], [I("x"), I("a")]);
      }
      case "jvp":
        return runner(mode, (x: A, v: A) => nb.jvp(chain, [x], [v]) as A[], [I("x"), I("v")]);
      case "perExampleGrad": {
        const pg = nb.vmap(nb.grad(exampleLoss), { inAxes: [null, 0, 0] });
        return runner(
          mode,
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
        return runner(mode, (x: A) => [g(x)], [I("x")]);
      }
      case "gradSumElementwise": {
        const g = nb.grad((x: A) => nb.sum(nb.add(nb.mul(nb.tanh(x), x), sq(nb.sin(x)))));
        return runner(mode, (x: A) => [g(x)], [I("x")]);
      }
      case "nthDerivScalar": {
        let f = (x: A): A => nb.mul(nb.sin(x), nb.exp(x));
        for (let k = 0; k < param(w, "order"); k++) f = nb.grad(f) as (x: A) => A;
        return runner(mode, (x: A) => [f(x)], [I("x")]);
      }
      case "rosenbrockHessian": {
        const n = param(w, "n");
        const rosen = (x: A): A => {
          const head = nb.slice(x, [0], [n - 1]);
          const tail = nb.slice(x, [1], [n]);
          return nb.sum(nb.add(nb.mul(sq(nb.sub(tail, sq(head))), 100), sq(nb.sub(1, head))));
        };
        const h = nb.hessian(rosen);
        return runner(mode, (x: A) => [h(x)], [I("x")]);
      }
      case "pinnGrad": {
        type P = { W1: A; W2: A; w3: A };
        const u = (q: P, p: A): A => nb.dot(nb.tanh(nb.matmul(nb.tanh(nb.matmul(p, q.W1)), q.W2)), q.w3);
        const hu = nb.hessian(u, { argnums: 1 });
        const lap = nb.vmap((q: P, p: A) => nb.trace(hu(q, p)), { inAxes: [null, 0] });
        const g = nb.grad((q: P, ps: A) => nb.mean(sq(lap(q, ps))));
        return runner(
          mode,
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
        return runner(mode, (x: A, W: A, b: A) => [j(x, W, b) as A], [I("x"), I("w"), I("b")]);
      }
      default:
        return new Unsupported(`unknown workload kind ${String(w.kind)}`);
    }
  },
};
