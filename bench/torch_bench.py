"""PyTorch CPU side of `npm run bench` (run by bench/backends/torch.ts).

Reads a spec (workloads, input files of raw float64, dtypes, timing rule,
intra-op threads), sets torch's threads (torch.set_num_threads; the caller
also sets OMP_NUM_THREADS and MKL_NUM_THREADS), runs each workload once (its outputs are written back as float64 files and
checked by the TypeScript side), then times it with the same rule as the
TypeScript harness: warm-up runs, then runs until both a minimum count and a
time budget are reached. Writes results.json into the spec's outdir: the
threads torch used ({threads, interop, backend}) and the cells.
"""

import json
import math
import sys
import time

import numpy as np
import torch

try:  # torch >= 2.0
    from torch.func import grad, hessian, jacfwd, jacrev, jvp, vmap
except ImportError:  # torch 1.13 (Debian's python3-torch) ships these as functorch
    from functorch import grad, hessian, jacfwd, jacrev, jvp, vmap


def chain(x):
    return torch.sin(x) * torch.exp(x) * torch.tanh(x)


def build(kind, params, I):
    """Returns (fn, note): fn() computes the workload and returns a list of tensors."""
    if kind == "elementwise":
        return (lambda: [chain(I["x"])]), None
    if kind == "matmul":
        return (lambda: [I["a"] @ I["b"]]), None
    if kind == "mlpGrad":
        names = ["w1", "b1", "w2", "b2", "w3", "b3"]
        ps = [I[n].clone().requires_grad_(True) for n in names]
        x, y = I["x"], I["y"]

        def run():
            w1, b1, w2, b2, w3, b3 = ps
            h1 = torch.tanh(x @ w1 + b1)
            h2 = torch.tanh(h1 @ w2 + b2)
            z = h2 @ w3 + b3
            loss = -(y * torch.log_softmax(z, -1)).sum(1).mean()
            return list(torch.autograd.grad(loss, ps))

        return run, None
    if kind == "gradGradScalar":
        g2 = grad(grad(lambda x: torch.sin(x) * torch.exp(x)))
        return (lambda: [g2(I["x"])]), None
    if kind == "gradGradVector":
        g1 = grad(lambda x: torch.tanh(torch.sin(x)).sum())
        g2 = grad(lambda x: g1(x).sum())
        return (lambda: [g2(I["x"])]), None
    if kind == "hessian":
        a = I["a"]
        h = hessian(lambda x: torch.sin(a @ x).sum() + 0.5 * (x * x).sum())
        return (lambda: [h(I["x"])]), None
    if kind == "jvp":
        return (lambda: list(jvp(chain, (I["x"],), (I["v"],)))), None
    if kind == "perExampleGrad":

        def loss(p, x, y):
            h = torch.tanh(x @ p["w"])
            r = (h * p["u"]).sum() - y
            return r * r

        pg = vmap(grad(loss), in_dims=(None, 0, 0))
        p = {"w": I["w"], "u": I["u"]}

        def run():
            d = pg(p, I["x"], I["y"])
            return [d["w"], d["u"]]

        return run, None
    if kind == "longChain":
        steps, c = int(params["steps"]), params["c"]
        x0 = I["x"]

        def run():
            x = x0.clone().requires_grad_(True)
            v = x
            for _ in range(steps):
                v = v + torch.sin(v) * c
            return [torch.autograd.grad(v, x)[0]]

        return run, None
    if kind == "gradSumElementwise":
        g = grad(lambda x: (torch.tanh(x) * x + torch.sin(x) ** 2).sum())
        return (lambda: [g(I["x"])]), None
    if kind == "nthDerivScalar":
        f = lambda x: torch.sin(x) * torch.exp(x)
        for _ in range(int(params["order"])):
            f = grad(f)
        return (lambda: [f(I["x"])]), None
    if kind == "rosenbrockHessian":
        h = hessian(lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())
        return (lambda: [h(I["x"])]), None
    if kind == "pinnGrad":

        def u(q, p):
            return torch.tanh(torch.tanh(p @ q[0]) @ q[1]) @ q[2]

        lap = vmap(lambda q, p: torch.trace(hessian(u, argnums=1)(q, p)), in_dims=(None, 0))
        g = grad(lambda q, ps: (lap(q, ps) ** 2).mean())
        q = (I["W1"], I["W2"], I["w3"])
        return (lambda: list(g(q, I["p"]))), None
    if kind == "jacobian":
        w, b = I["w"], I["b"]
        jac = jacfwd if params["forward"] == 1 else jacrev
        j = jac(lambda x: torch.tanh(w @ x + b))
        return (lambda: [j(I["x"])]), None
    return None, "unknown workload kind " + kind


MIN_SAMPLE_MS = 1.0  # as bench/lib/measure.ts: shorter runs are timed in batches of back-to-back runs


def measure(run, m):
    for _ in range(m["warmup"]):
        run()
    batch = 1
    c0 = time.perf_counter()
    run()
    once = (time.perf_counter() - c0) * 1000
    if once < MIN_SAMPLE_MS:
        batch = min(10000, math.ceil(MIN_SAMPLE_MS / max(once, 1e-4)))
        for _ in range(batch):
            run()
    samples = []
    spent = 0.0
    while len(samples) < m["maxRuns"]:
        t0 = time.perf_counter()
        for _ in range(batch):
            run()
        total = (time.perf_counter() - t0) * 1000
        dt = total / batch
        samples.append(dt)
        spent += total
        if len(samples) >= m["minRuns"] and spent >= m["budgetMs"]:
            break
        if len(samples) >= 3 and spent >= 3 * m["budgetMs"]:
            break
    return samples


def main():
    spec = json.load(open(sys.argv[1]))
    outdir = spec["outdir"]
    torch.set_num_threads(int(spec["threads"]))
    info = torch.__config__.parallel_info()
    backend = next((l.split(":", 1)[1].strip() for l in info.splitlines() if "parallel backend" in l), "?")
    threads = {"threads": torch.get_num_threads(), "interop": torch.get_num_interop_threads(), "backend": backend}
    sys.stderr.write("  torch threads %(threads)d, interop %(interop)d, backend %(backend)s\n" % threads)
    results = []
    for w in spec["workloads"]:
        for dtype in spec["dtypes"]:
            tdt = torch.float32 if dtype == "float32" else torch.float64
            cell = {"id": w["id"], "dtype": dtype}
            try:
                I = {
                    name: torch.from_numpy(np.fromfile(inp["file"], dtype="<f8").reshape(inp["shape"])).to(tdt)
                    for name, inp in w["inputs"].items()
                }
                fn, note = build(w["kind"], w["params"], I)
                if note is not None:
                    cell["note"] = note
                if fn is None:
                    cell.update(status="unsupported", message=note)
                    results.append(cell)
                    continue

                def run():
                    # numpy() views the (already computed) CPU result: forcing without a copy.
                    return [t.detach().numpy() for t in fn()]

                t0 = time.perf_counter()
                outs = run()
                cell["firstRunMs"] = (time.perf_counter() - t0) * 1000
                files = []
                for k, o in enumerate(outs):
                    f = "%s/%s.%s.out%d.f64" % (outdir, w["id"], dtype, k)
                    np.asarray(o, dtype="<f8").reshape(-1).tofile(f)
                    files.append(f)
                cell["outputs"] = files
                cell["samplesMs"] = measure(run, spec["measure"])
                cell["status"] = "ok"
            except Exception as e:  # reported as "throws", like the in-process backends
                cell.update(status="throws", message="%s: %s" % (type(e).__name__, e))
            results.append(cell)
            sys.stderr.write("  torch %-22s %s %s\n" % (w["id"], dtype, cell["status"]))
    json.dump({"threads": threads, "cells": results}, open(outdir + "/results.json", "w"))


if __name__ == "__main__":
    main()
