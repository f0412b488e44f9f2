// ht: hand tracking (ADBench). A 22-bone skinned hand model posed by 26 parameters θ (global
// rotation, translation, and finger joint angles); the residuals are observed points minus the
// model's corresponding vertices (simple variant) or points on the corresponding triangles with
// barycentric coordinates us (complicated variant). Only the vertices that the correspondences
// use are skinned. The Jacobian comes from one `linearize` whose linear map is pushed through the
// θ basis (and, in the complicated variant, the two per-correspondence u directions, since that
// block is block-diagonal) in one `vmap`: GradBench's layout is [d/du (2 columns), d/dθ].
import * as nb from "nabla";
import { fn, f64, i32 } from "./util.mjs";

/** Gather indices from [θ (26), 0, 1] into the 25×3 pose parameters (row per pose column). */
function poseIndex(boneCount) {
  const ZERO = 26;
  const ONE = 27;
  const rows = boneCount + 3;
  const idx = new Int32Array(rows * 3).fill(ZERO);
  for (let j = 0; j < 3; j++) {
    idx[0 * 3 + j] = j; // global rotation
    idx[1 * 3 + j] = ONE; // scale
    idx[2 * 3 + j] = 3 + j; // translation
  }
  let t = 6;
  let row = 5;
  for (let finger = 0; finger < 5; finger++) {
    for (let joint = 2; joint <= 4; joint++) {
      idx[row * 3 + 0] = t++;
      if (joint === 2) idx[row * 3 + 1] = t++;
      row++;
    }
    row++;
  }
  return nb.array(idx, { shape: [rows, 3] });
}

/** Rz(angles[:,1]) · Ry(angles[:,2]) · Rx(angles[:,0]) for a batch of (x, z, y) Euler angles: [b, 3, 3]. */
function eulerRotations(angles) {
  const c = nb.cos(angles);
  const s = nb.sin(angles);
  const col = (a, j) => nb.reshape(nb.slice(a, [0, j], [a.shape[0], j + 1]), [a.shape[0]]);
  const [cx, cz, cy] = [0, 1, 2].map((j) => col(c, j));
  const [sx, sz, sy] = [0, 1, 2].map((j) => col(s, j));
  const zero = nb.zerosLike(cx);
  const one = nb.onesLike(cx);
  const mat = (rows) =>
    nb.stack(
      rows.map((r) => nb.stack(r, 1)),
      1,
    );
  const rx = mat([
    [one, zero, zero],
    [zero, cx, nb.neg(sx)],
    [zero, sx, cx],
  ]);
  const ry = mat([
    [cy, zero, sy],
    [zero, one, zero],
    [nb.neg(sy), zero, cy],
  ]);
  const rz = mat([
    [cz, nb.neg(sz), zero],
    [sz, cz, zero],
    [zero, zero, one],
  ]);
  return nb.matmul(nb.matmul(rz, ry), rx);
}

/** Angle-axis rotation c·I + (1 − c)·a aᵀ + s·[a]×; the identity for tiny angles (decided concretely). */
function angleAxisRotation(aa, tiny) {
  if (tiny) return nb.eye(3);
  const norm = nb.sqrt(nb.sum(nb.mul(aa, aa)));
  const a = nb.div(aa, norm);
  const [x, y, z] = [0, 1, 2].map((i) => nb.reshape(nb.slice(a, [i], [i + 1]), []));
  const zero = nb.zerosLike(x);
  const skew = nb.stack([
    nb.stack([zero, nb.neg(z), y]),
    nb.stack([z, zero, nb.neg(x)]),
    nb.stack([nb.neg(y), x, zero]),
  ]);
  const c = nb.cos(norm);
  return nb.add(nb.add(nb.mul(c, nb.eye(3)), nb.mul(nb.sub(1, c), nb.outer(a, a))), nb.mul(nb.sin(norm), skew));
}

/** Skinned positions [3, nv] of the model's vertices `verts` under θ. */
function skinnedVertices(theta, model, verts, tiny) {
  const nb_ = model.parents.length;
  const pose = nb.take(nb.concatenate([theta, nb.array([0, 1])]), model.poseIdx); // [25, 3]
  const rot = eulerRotations(nb.slice(pose, [3, 0], [3 + nb_, 3])); // [22, 3, 3]
  const rot4 = nb.concatenate(
    [nb.concatenate([rot, nb.zeros([nb_, 3, 1])], 2), nb.broadcastTo(nb.array([[[0, 0, 0, 1]]]), [nb_, 1, 4])],
    1,
  );
  const relatives = nb.matmul(model.baseRelatives, rot4); // [22, 4, 4]
  const rel = (i) => nb.reshape(nb.slice(relatives, [i, 0, 0], [i + 1, 4, 4]), [4, 4]);
  const absolutes = [];
  model.parents.forEach((p, i) => absolutes.push(p === -1 ? rel(i) : nb.matmul(absolutes[p], rel(i))));
  const transforms = nb.matmul(nb.stack(absolutes), model.inverseBaseAbsolutes); // [22, 4, 4]
  const base = nb.take(model.basePositions, verts, 0); // [nv, 4]
  const weights = nb.take(model.weights, verts, 0); // [nv, 22]
  const perBone = nb.slice(nb.matmul(transforms, nb.transpose(base)), [0, 0, 0], [nb_, 3, verts.shape[0]]); // [22, 3, nv]
  let positions = nb.sum(nb.mul(perBone, nb.expandDims(nb.transpose(weights), 1)), 0); // [3, nv]
  if (model.isMirrored) positions = nb.mul(positions, nb.array([[-1], [1], [1]]));
  const scale = nb.slice(pose, [1, 0], [2, 3]); // scales the columns of the global rotation
  const global = nb.mul(angleAxisRotation(nb.slice(theta, [0], [3]), tiny), scale);
  const translation = nb.reshape(nb.slice(pose, [2, 0], [3, 3]), [3, 1]);
  return nb.add(nb.matmul(global, positions), translation);
}

/** Residuals points − model points, flattened per correspondence (x, y, z). */
function residuals(theta, us, q, tiny) {
  let model;
  if (us === null) model = skinnedVertices(theta, q.model, q.correspondences, tiny);
  else {
    // barycentric points u0·v0 + u1·v1 + (1 − u0 − u1)·v2 on the corresponding triangles
    const nc = q.correspondences.shape[0];
    const tri = nb.take(q.model.triangles, q.correspondences, 0); // [nc, 3]
    const v = nb.reshape(skinnedVertices(theta, q.model, nb.reshape(tri, [-1]), tiny), [3, nc, 3]);
    const u0 = nb.slice(us, [0, 0], [nc, 1]);
    const u1 = nb.slice(us, [0, 1], [nc, 2]);
    const bary = nb.concatenate([u0, u1, nb.sub(nb.sub(1, u0), u1)], 1); // [nc, 3]
    model = nb.sum(nb.mul(v, bary), 2); // [3, nc]
  }
  return nb.reshape(nb.sub(q.points, nb.transpose(model)), [-1]);
}

function prepare(input) {
  const m = input.data.model;
  const us = input.us.length > 0 ? f64(input.us) : null;
  return {
    theta: f64(input.theta),
    us,
    // the tiny-angle branch of the global rotation, decided on the concrete θ
    tiny: Math.hypot(...input.theta.slice(0, 3)) < 1e-4,
    correspondences: i32(input.data.correspondences),
    points: f64(input.data.points),
    model: {
      parents: m.parents,
      isMirrored: m.is_mirrored,
      poseIdx: poseIndex(m.parents.length),
      baseRelatives: f64(m.base_relatives),
      inverseBaseAbsolutes: f64(m.inverse_base_absolutes),
      basePositions: f64(m.base_positions),
      weights: f64(m.weights),
      triangles: i32(m.triangles),
    },
  };
}

function jacobian(q) {
  const nt = q.theta.shape[0];
  if (q.us === null) {
    const [, lin] = nb.linearize((theta) => residuals(theta, null, q, q.tiny), q.theta);
    return nb.transpose(nb.vmap(lin)(nb.eye(nt))); // [3 nc, 26]
  }
  const [, lin] = nb.linearize((theta, us) => residuals(theta, us, q, q.tiny), q.theta, q.us);
  const nc = q.us.shape[0];
  // directions: d/du0 and d/du1 of every correspondence at once (block-diagonal), then each θ_j
  const dTheta = nb.concatenate([nb.zeros([2, nt]), nb.eye(nt)]);
  const uDir = (j) => nb.broadcastTo(nb.array(j === 0 ? [1, 0] : [0, 1]), [1, nc, 2]);
  const dUs = nb.concatenate([uDir(0), uDir(1), nb.zeros([nt, nc, 2])]);
  return nb.transpose(nb.vmap(lin)(dTheta, dUs)); // [3 nc, 2 + 26]
}

export const functions = {
  objective: fn(
    prepare,
    (q) => residuals(q.theta, q.us, q, q.tiny),
    (r) => r.toArray(),
  ),
  jacobian: fn(prepare, jacobian, (j) => j.toArray()),
};
