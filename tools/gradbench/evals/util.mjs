// Helpers shared by the eval modules: JSON input to float64 arrays and results back to JSON.
import * as nb from "nabla";

/** A float64 array from (nested) JSON numbers. */
export const f64 = (data) => nb.array(data, { dtype: "float64" });

/** An int32 array from JSON integers. */
export const i32 = (data) => nb.array(Int32Array.from(data.flat(Infinity)), { shape: shapeOf(data) });

function shapeOf(data) {
  const shape = [];
  for (let d = data; Array.isArray(d); d = d[0]) shape.push(d.length);
  return shape;
}

/** A scalar result as a JS number. */
export const scalar = (x) => x.item();

/** An array result as nested JSON arrays. */
export const nested = (x) => x.toArray();

/** A function of the eval: `prepare` (JSON to arrays), `run` (the timed part), `output` (to JSON). */
export const fn = (prepare, run, output) => ({ prepare, run, output });
