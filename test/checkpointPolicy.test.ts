/**
 * Checkpoint policies (API.md "New transforms and tools", "Conventions"):
 * `checkpoint(f, { policy })` with `checkpointPolicies.{nothingSaveable,
 * dotsSaveable, saveOnlyTheseNames}`, `checkpointName`, nested checkpoints.
 *
 * Memory is measured by a deterministic proxy: the bytes of the residuals
 * that reverse mode retains between the forward and the backward pass, i.e.
 * the constants of the linearised graph (distinct buffers), for a chain of
 * n = 100 layers tanh(W x). Gradients are compared with the un-checkpointed
 * gradient: the same operations in the same order, so they agree to 1e-13
 * relative (a few roundings of O(1) values).
 */
import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";
import { linearizeFlat } from "../src/transforms/linearize.js";
import { ConcreteArray, storageOf } from "../src/core/ndarray.js";
import { expectClose, vals } from "./support/assert.js";

type A = nb.NDArray;
const d = 8;
const n = 100;
const W = nb.mul(nb.random.normal(nb.random.key(0), [d, d]), 1 / Math.sqrt(d));
const layer = (x: A): A => nb.tanh(nb.matmul(W, x));
const chain =
  (k: number, fn: (x: A) => A) =>
  (x: A): A => {
    for (let i = 0; i < k; i++) x = fn(x);
    return x;
  };

/** Bytes of the distinct residual buffers reverse mode keeps for f at x. */
function residualBytes(f: (x: A) => A, x: A): number {
  const lin = linearizeFlat((xs) => [f(xs[0]!)], [x], "test");
  const seen = new Set<unknown>();
  let bytes = 0;
  for (const c of lin.graph.consts) {
    const key = c instanceof ConcreteArray ? storageOf(c) : c;
    if (seen.has(key)) continue;
    seen.add(key);
    bytes += c.size * 8;
  }
  return bytes;
}

const x0 = nb.linspace(-1, 1, d);
const plain = chain(n, layer);
const every10 = chain(n / 10, nb.checkpoint(chain(10, layer)));
const nested = nb.checkpoint(chain(10, nb.checkpoint(chain(10, layer))));
const dots = chain(n / 10, nb.checkpoint(chain(10, layer), { policy: nb.checkpointPolicies.dotsSaveable }));
const named = chain(
  n / 10,
  nb.checkpoint(
    chain(10, (x) => nb.checkpointName(layer(x), "h")),
    { policy: nb.checkpointPolicies.saveOnlyTheseNames("h") },
  ),
);
const none = chain(n / 10, nb.checkpoint(chain(10, layer), { policy: nb.checkpointPolicies.nothingSaveable }));
const loss = (f: (x: A) => A) => (x: A) => nb.sum(f(x));

describe("checkpoint policies", () => {
  const want = vals(nb.grad(loss(plain))(x0));
  it("every policy and nesting gives the un-checkpointed gradient (also under jit and vmap)", () => {
    for (const f of [every10, nested, dots, named, none]) expectClose(nb.grad(loss(f))(x0), want, [d], 1e-13);
    expectClose(nb.jit(nb.grad(loss(dots)))(x0), want, [d], 1e-13);
    const batch = nb.vmap(nb.grad(loss(named)))(nb.stack([x0, x0]));
    expectClose(batch, [...want, ...want], [2, d], 1e-13);
  });
  it("derivatives reach values the checkpointed function closes over (a traced W)", () => {
    const lossW = (ck: (f: (x: A) => A) => (x: A) => A) => (w: A) =>
      nb.sum(
        chain(
          4,
          ck((x: A) => nb.tanh(nb.matmul(w, x))),
        )(x0),
      );
    const ref = vals(nb.grad(lossW((f) => f))(W));
    // the staged (policy) path closure-converts traced values; the default path (no policy) re-runs f
    // eagerly and, as before this change, rejects a closed-over traced value
    for (const policy of [nb.checkpointPolicies.dotsSaveable, nb.checkpointPolicies.saveOnlyTheseNames("h")])
      expectClose(nb.grad(lossW((f) => nb.checkpoint(f, { policy })))(W), ref, [d, d], 1e-13);
  });
  it("retained residual memory: none ≫ every 10 layers ≫ nested; saving policies keep what they save", () => {
    const b = {
      plain: residualBytes(plain, x0),
      every10: residualBytes(every10, x0),
      nested: residualBytes(nested, x0),
      dots: residualBytes(dots, x0),
      named: residualBytes(named, x0),
    };
    const vec = d * 8;
    // without checkpoints every layer's tanh output is kept (n vectors, plus W)
    expect(b.plain).toBeGreaterThanOrEqual(n * vec);
    // a checkpoint every 10 layers keeps the 10 block inputs
    expect(b.every10).toBe((n / 10) * vec);
    // nested: only the outer checkpoint's input
    expect(b.nested).toBe(vec);
    // dotsSaveable keeps each block's input and its 10 matrix products (W itself is not copied)
    expect(b.dots).toBe((n + n / 10) * vec);
    // saveOnlyTheseNames("h") keeps the 100 tagged layer outputs; each block's input is the previous block's
    // last tagged output (the same buffer), so only the first input adds to them
    expect(b.named).toBe((n + 1) * vec);
  });
  it("checkpointName is the identity in value and derivative; bad input names the function", () => {
    const x = nb.array([0.5, -1]);
    expectClose(nb.checkpointName(x, "x"), [0.5, -1], [2], 0);
    expectClose(nb.grad((v: A) => nb.sum(nb.mul(nb.checkpointName(v, "v"), v)))(x), [1, -2], [2], 0);
    expect(() => nb.checkpointName(x, 3 as never)).toThrow(/^checkpointName: name must be a string/);
    expect(() => nb.checkpoint(layer, { policy: "dots" as never })).toThrow(/^checkpoint: policy must be one of/);
  });
});
