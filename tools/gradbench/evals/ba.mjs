// ba: bundle adjustment (ADBench). Per observation i (camera i mod n, point i mod m, weight w_i,
// feature f): reprojection error w_i·(project(cam, X) − f) with Rodrigues rotation, perspective
// division, radial distortion and focal length/principal point; weight error 1 − w_i².
// `jacobian` is the sparse (2p + p) × (11n + 3m + p) Jacobian in CSR form: each observation's 2×15
// block (camera, point, weight) by `vmap` over observations of a reverse-mode Jacobian (2 vjps per
// observation), the weight errors' diagonal by one jvp. GradBench's output keeps the first block
// and the last entry of rows, cols and vals (the input repeats one camera, point and weight).
import * as nb from "nabla";
import { fn, f64 } from "./util.mjs";

const part = (v, lo, hi) => nb.slice(v, [lo], [hi]);
const at = (v, i) => nb.reshape(part(v, i, i + 1), []);

function cross(a, b) {
  const [a0, a1, a2] = [0, 1, 2].map((i) => at(a, i));
  const [b0, b1, b2] = [0, 1, 2].map((i) => at(b, i));
  return nb.stack([
    nb.sub(nb.mul(a1, b2), nb.mul(a2, b1)),
    nb.sub(nb.mul(a2, b0), nb.mul(a0, b2)),
    nb.sub(nb.mul(a0, b1), nb.mul(a1, b0)),
  ]);
}

/** Rotates pt by the angle-axis vector rot; the first-order formula where the angle is 0. */
function rodrigues(rot, pt) {
  const sqtheta = nb.sum(nb.mul(rot, rot));
  const nonzero = nb.notEqual(sqtheta, 0);
  // the untaken branch must not divide by zero (NaN would reach derivatives through `where`)
  const theta = nb.sqrt(nb.where(nonzero, sqtheta, 1));
  const w = nb.div(rot, theta);
  const cos = nb.cos(theta);
  const tmp = nb.mul(nb.sum(nb.mul(w, pt)), nb.sub(1, cos));
  const full = nb.add(nb.add(nb.mul(pt, cos), nb.mul(cross(w, pt), nb.sin(theta))), nb.mul(w, tmp));
  const small = nb.add(pt, cross(rot, pt));
  return nb.where(nonzero, full, small);
}

function project(cam, x) {
  const xcam = rodrigues(part(cam, 0, 3), nb.sub(x, part(cam, 3, 6)));
  const p = nb.div(part(xcam, 0, 2), at(xcam, 2));
  const rsq = nb.sum(nb.mul(p, p));
  const distortion = nb.add(nb.add(1, nb.mul(at(cam, 9), rsq)), nb.mul(at(cam, 10), nb.mul(rsq, rsq)));
  return nb.add(nb.mul(nb.mul(p, distortion), at(cam, 6)), part(cam, 7, 9));
}

/** One observation's weighted reprojection error (2 numbers). */
const reprojError = (cam, x, w, feat) => nb.mul(w, nb.sub(project(cam, x), feat));
const weightError = (w) => nb.sub(1, nb.mul(w, w));

const errors = nb.jit(nb.vmap(reprojError));
// per observation: [d err/d cam (2×11), d err/d X (2×3), d err/d w (2)]
const blocks = nb.jit(nb.vmap(nb.jacrev(reprojError, { argnums: [0, 1, 2] })));

function prepare(input) {
  const { n, m, p } = input;
  const camIdx = Int32Array.from({ length: p }, (_, i) => i % n);
  const ptIdx = Int32Array.from({ length: p }, (_, i) => i % m);
  return {
    n,
    m,
    p,
    camIdx,
    ptIdx,
    cams: nb.broadcastTo(f64(input.cam), [n, 11]),
    points: nb.broadcastTo(f64(input.x), [m, 3]),
    w: nb.full([p], input.w),
    feats: nb.broadcastTo(f64(input.feat), [p, 2]),
  };
}

/** The per-observation operands gathered by the observation indices. */
const gathered = (q) => [nb.take(q.cams, nb.array(q.camIdx), 0), nb.take(q.points, nb.array(q.ptIdx), 0), q.w, q.feats];

function objective(q) {
  return { reproj: errors(...gathered(q)), wErr: weightError(q.w) };
}

function jacobian(q) {
  const { n, m, p, camIdx, ptIdx } = q;
  const [dCam, dX, dW] = blocks(...gathered(q)).map((b) => b.toTypedArray());
  const [, dwErr] = nb.jvp(weightError, [q.w], [nb.onesLike(q.w)]);
  const dWerr = dwErr.toTypedArray();
  // CSR assembly: rows 2i, 2i+1 hold 15 entries each; row 2p + i holds the weight error's one
  const perRow = 15;
  const nnz = 2 * p * perRow + p;
  const rows = new Int32Array(3 * p + 1);
  const cols = new Int32Array(nnz);
  const vals = new Float64Array(nnz);
  let k = 0;
  for (let i = 0; i < p; i++) {
    for (let r = 0; r < 2; r++) {
      const row = 2 * i + r;
      rows[row + 1] = rows[row] + perRow;
      for (let c = 0; c < 11; c++) {
        cols[k] = 11 * camIdx[i] + c;
        vals[k++] = dCam[(i * 2 + r) * 11 + c];
      }
      for (let c = 0; c < 3; c++) {
        cols[k] = 11 * n + 3 * ptIdx[i] + c;
        vals[k++] = dX[(i * 2 + r) * 3 + c];
      }
      cols[k] = 11 * n + 3 * m + i;
      vals[k++] = dW[i * 2 + r];
    }
  }
  for (let i = 0; i < p; i++) {
    rows[2 * p + i + 1] = rows[2 * p + i] + 1;
    cols[k] = 11 * n + 3 * m + i;
    vals[k++] = dWerr[i];
  }
  return { rows, cols, vals };
}

/** GradBench's compressed form: the first observation's 30 entries and the last entry. */
const compress = (a) => [...Array.from(a.subarray(0, 30)), a[a.length - 1]];

export const functions = {
  objective: fn(prepare, objective, ({ reproj, wErr }) => {
    const e = reproj.toTypedArray();
    const we = wErr.toTypedArray();
    return {
      reproj_error: { elements: [e[0], e[1]], repeated: e.length / 2 },
      w_err: { element: we[0], repeated: we.length },
    };
  }),
  jacobian: fn(prepare, jacobian, ({ rows, cols, vals }) => ({
    rows: compress(rows),
    cols: compress(cols),
    vals: compress(vals),
  })),
};
