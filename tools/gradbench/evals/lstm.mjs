// lstm: ADBench's LSTM loss (diagonal weights; per layer the forget and output gates read the layer
// input, the input gate and the candidate read the previous hidden state) over a character sequence,
// and its gradient with respect to main_params and extra_params by reverse mode. The time loop is a
// `scan` over (input, next character) pairs; the whole objective and gradient are staged with jit.
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
  const inputs = nb.slice(sequence, [0, 0], [c - 1, b]);
  const targets = nb.slice(sequence, [1, 0], [c, b]);
  const step = (carry, [input, target]) => {
    let x = nb.mul(input, inW);
    const next = carry.map(([hidden, cell], i) => {
      const p = ls[i];
      const forget = nb.sigmoid(nb.add(nb.mul(x, p.wf), p.bf));
      const ingate = nb.sigmoid(nb.add(nb.mul(hidden, p.wi), p.bi));
      const outgate = nb.sigmoid(nb.add(nb.mul(x, p.wo), p.bo));
      const change = nb.tanh(nb.add(nb.mul(hidden, p.wc), p.bc));
      const newCell = nb.add(nb.mul(cell, forget), nb.mul(ingate, change));
      const newHidden = nb.mul(outgate, nb.tanh(newCell));
      x = newHidden;
      return [newHidden, newCell];
    });
    const ypred = nb.add(nb.mul(x, outW), outB);
    const lse = nb.log(nb.add(nb.sum(nb.exp(ypred)), 2)); // ADBench's variant: log(Σ exp + 2)
    return [next, nb.sum(nb.mul(target, nb.sub(ypred, lse)))];
  };
  const [, terms] = nb.scan(step, init, [inputs, targets]);
  return nb.div(nb.neg(nb.sum(terms)), (c - 1) * b);
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
