// hello: square(x) = x·x and double(x) = d/dx square(x) = 2x, by reverse mode.
import * as nb from "nabla";
import { fn, f64, scalar } from "./util.mjs";

const square = (x) => nb.mul(x, x);
const dsquare = nb.grad(square);

export const functions = {
  square: fn(f64, square, scalar),
  double: fn(f64, dsquare, scalar),
};
