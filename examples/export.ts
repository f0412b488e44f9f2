/**
 * Train, export, serve: `npx tsx examples/export.ts`.
 *
 * Fits a small tanh MLP to y = sin(3x) with plain gradient descent (the
 * gradient step itself jitted), exports its forward pass to ONNX with
 * `exportOnnx` and to a JSON graph with `exportGraph`, runs the ONNX model in
 * onnxruntime-node and the graph through `importGraph`, and prints how
 * closely both agree with nabla on points the model was not trained on.
 */
import * as nb from "../src/index.js";
import { exportGraph, exportOnnx, importGraph } from "../src/export/index.js";
import * as ort from "onnxruntime-node";
import { elem } from "./util.js";

type Params = { w1: nb.NDArray; b1: nb.NDArray; w2: nb.NDArray; b2: nb.NDArray };

const HIDDEN = 16;
const keys = nb.random.split(nb.random.key(7), 2);
const k1 = nb.take(keys, 0, 0);
const k2 = nb.take(keys, 1, 0);
let params: Params = {
  w1: nb.mul(nb.random.normal(k1, [1, HIDDEN]), 1.5),
  b1: nb.zeros([HIDDEN]),
  w2: nb.mul(nb.random.normal(k2, [HIDDEN, 1]), 1 / Math.sqrt(HIDDEN)),
  b2: nb.zeros([1]),
};

const forward = (p: Params, x: nb.NDArray) => nb.add(nb.matmul(nb.tanh(nb.add(nb.matmul(x, p.w1), p.b1)), p.w2), p.b2);
const loss = (p: Params, x: nb.NDArray, y: nb.NDArray) => nb.mean(nb.square(nb.sub(forward(p, x), y)));

const xTrain = nb.reshape(nb.linspace(-1, 1, 64), [64, 1]);
const yTrain = nb.sin(nb.mul(xTrain, 3));

const LR = 0.1;
const step = nb.jit((p: Params, x: nb.NDArray, y: nb.NDArray) => {
  const [l, g] = nb.valueAndGrad(loss)(p, x, y) as [nb.NDArray, Params];
  return [l, nb.tree.map((w: nb.NDArray, dw: nb.NDArray) => nb.sub(w, nb.mul(dw, LR)), p, g)] as [nb.NDArray, Params];
});

for (let i = 0; i <= 2000; i++) {
  const [l, next] = step(params, xTrain, yTrain);
  params = next;
  if (i % 500 === 0) console.log(`step ${String(i).padStart(4)}  loss ${l.item().toExponential(3)}`);
}

// export the trained forward pass (parameters are inputs, so the model can be re-weighted without re-exporting)
const xTest = nb.reshape(nb.linspace(-0.95, 0.95, 7), [7, 1]);
const model = exportOnnx(forward, [params, xTest], { inputNames: ["b1", "b2", "w1", "w2", "x"], outputNames: ["y"] });
console.log(`\nONNX model: ${model.length} bytes (opset 17)`);

const session = await ort.InferenceSession.create(model);
const feed = (a: nb.NDArray) => new ort.Tensor("float64", a.toTypedArray() as Float64Array, a.shape);
const out = await session.run({
  b1: feed(params.b1),
  b2: feed(params.b2),
  w1: feed(params.w1),
  w2: feed(params.w2),
  x: feed(xTest),
});
const y = out["y"];
if (y === undefined) throw new Error("the ONNX model has no output y");
const onnxY = Array.from(y.data as Float64Array);
const nablaY = Array.from(forward(params, xTest).toTypedArray());

const file = JSON.stringify(exportGraph(forward, params, xTest));
const importedY = Array.from((importGraph(file)(params, xTest) as nb.NDArray).toTypedArray());
console.log(`JSON graph: ${file.length} characters`);

const maxRel = (a: number[], b: number[]) =>
  Math.max(...a.map((v, i) => Math.abs(v - elem(b, i)) / Math.max(1, Math.abs(elem(b, i)))));
console.log("\n     x      sin(3x)      nabla        onnxruntime");
xTest.toTypedArray().forEach((x, i) => {
  const f = (v: number) => v.toFixed(6).padStart(10);
  console.log(`${f(x)} ${f(Math.sin(3 * x))} ${f(elem(nablaY, i))} ${f(elem(onnxY, i))}`);
});
const rOnnx = maxRel(onnxY, nablaY);
const rJson = maxRel(importedY, nablaY);
console.log(`\nmax relative difference, onnxruntime vs nabla:   ${rOnnx.toExponential(2)}`);
console.log(`max relative difference, importGraph vs nabla:   ${rJson.toExponential(2)}`);
if (!(rOnnx <= 1e-12 && rJson <= 1e-12)) {
  console.error("disagreement above 1e-12");
  process.exit(1);
}
console.log("agreement within 1e-12 (float64)");
