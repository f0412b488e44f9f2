/**
 * Runs one example: `npm run example -- NAME [--small]` (`--small`: the sizes
 * CI uses). NAME is one of the keys of EXAMPLES.
 */
import * as cnn from "./cnn.js";
import * as logistic from "./logistic.js";
import * as maml from "./maml.js";
import * as mlp from "./mlp.js";
import * as newton from "./newton.js";
import * as perexample from "./perexample.js";
import * as pinn from "./pinn.js";

const EXAMPLES: Record<string, (small: boolean) => unknown> = {
  newton: (small) => newton.main(small ? newton.SMALL : {}),
  perexample: (small) => perexample.main(small ? perexample.SMALL : {}),
  pinn: (small) => pinn.main(small ? pinn.SMALL : {}),
  maml: (small) => maml.main(small ? maml.SMALL : {}),
  // the training examples are small already: --small changes nothing
  logistic: () => logistic.main(),
  mlp: () => mlp.main(),
  cnn: (small) => cnn.main(small ? cnn.SMALL : {}),
};

const [name, ...flags] = process.argv.slice(2);
const example = name === undefined ? undefined : EXAMPLES[name];
if (example === undefined) {
  console.error(`usage: npm run example -- NAME [--small], NAME one of: ${Object.keys(EXAMPLES).join(", ")}`);
  process.exit(2);
}
const t0 = performance.now();
example(flags.includes("--small"));
console.log(`done in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
