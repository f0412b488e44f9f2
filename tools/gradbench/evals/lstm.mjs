// lstm: ADBench's LSTM loss (diagonal weights; per layer the forget and output gates read the layer
// input, the input gate and the candidate read the previous hidden state) over a character sequence,
// and its gradient with respect to main_params and extra_params by reverse mode. The recurrence is a
// `scan` over time; the whole objective and gradient are staged with jit.
import * as nb from "nabla";
import { fn, f64, scalar } from "./util.mjs";

/** One layer's gate parameters: rows 2i (weights) and 2i+1 (biases) of main, each split in four. */
function layers(main) {
  const b = main.shape[1] / 4;
  const part = (row, g) => nb.reshape(nb.slice(main, [row, g * b], [row + 1, (g + 1) * b]), [b]);
  return Array.from({ length: main.shape[0] / 2 }, (_, i) => ({
    wf: part(2 * i, 0),
    wi: part(2 * i, 1),
    wo: part(2 * i, 2),
    wc: part(2 * i, 3),
    bf: part(2 * i + 1, 0),
    bi: part(2 * i + 1, 1),
    bo: part(2 * i + 1, 2),
    bc: part(2 * i + 1, 3),
  }));
}

function objective(main, extra, state, sequence) {
  const [c, b] = sequence.shape;
  const ls = layers(main);
  const row = (a, i) => nb.reshape(nb.slice(a, [i, 0], [i + 1, a.shape[1]]), [a.shape[1]]);
  const [inW, outW, outB] = [0, 1, 2].map((i) => row(extra, i));
  const init = ls.map((_, i) => [row(state, 2 * i), row(state, 2 * i + 1)]);
  // what does not depend on the recurrence is computed for all time steps at once: the first
  // layer's input, forget and output gates before the loop, the prediction and loss after it
  const x0 = nb.mul(nb.slice(sequence, [0, 0], [c - 1, b]), inW); // [c−1, b]
  const p0 = ls[0];
  const forget0 = nb.sigmoid(nb.add(nb.mul(x0, p0.wf), p0.bf));
  const outgate0 = nb.sigmoid(nb.add(nb.mul(x0, p0.wo), p0.bo));
  const cellStep = (hidden, cell, forget, outgate, p) => {
    const ingate = nb.sigmoid(nb.add(nb.mul(hidden, p.wi), p.bi));
    const change = nb.tanh(nb.add(nb.mul(hidden, p.wc), p.bc));
    const newCell = nb.add(nb.mul(cell, forget), nb.mul(ingate, change));
    return [nb.mul(outgate, nb.tanh(newCell)), newCell];
  };
  const step = (carry, [forget, outgate]) => {
    const next = [cellStep(carry[0][0], carry[0][1], forget, outgate, p0)];
    for (let i = 1; i < ls.length; i++) {
      const p = ls[i];
      const x = next[i - 1][0];
      const f = nb.sigmoid(nb.add(nb.mul(x, p.wf), p.bf));
      const o = nb.sigmoid(nb.add(nb.mul(x, p.wo), p.bo));
      next.push(cellStep(carry[i][0], carry[i][1], f, o, p));
    }
    return [next, next[ls.length - 1][0]];
  };
  const [, hidden] = nb.scan(step, init, [forget0, outgate0]); // last layer's hidden states [c−1, b]
  const ypred = nb.add(nb.mul(hidden, outW), outB);
  const lse = nb.log(nb.add(nb.sum(nb.exp(ypred), 1, true), 2)); // ADBench's variant: log(Σ exp + 2)
  const targets = nb.slice(sequence, [1, 0], [c, b]);
  return nb.div(nb.neg(nb.sum(nb.mul(targets, nb.sub(ypred, lse)))), (c - 1) * b);
}

const primal = nb.jit(objective);
const jacobian = nb.jit((main, extra, state, sequence) => {
  const [gm, ge] = nb.grad(objective, { argnums: [0, 1] })(main, extra, state, sequence);
  return nb.concatenate([nb.reshape(gm, [-1]), nb.reshape(ge, [-1])]);
});

const prepare = (input) => ["main_params", "extra_params", "state", "sequence"].map((k) => f64(input[k]));

export const functions = {
  objective: fn(prepare, (p) => primal(...p), scalar),
  jacobian: fn(
    prepare,
    (p) => jacobian(...p),
    (g) => g.toArray(),
  ),
};
