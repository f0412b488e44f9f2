// det: the determinant of an ℓ×ℓ matrix by expansion by minors (Laplace expansion along the first
// row, recursively), and its gradient by reverse mode.
//
// Vectorised: the minors needed by the expansion are the determinants of the bottom r rows
// restricted to a set S of r columns. All C(ℓ, r) minors of one size form one array; level r is
// computed from level r − 1 in one gather-multiply-sum:
//   minor_r(S) = Σ_p (−1)^p A[ℓ−r, S_p] · minor_{r−1}(S \ {S_p}).
// The index tables depend only on ℓ and are built once per size, outside the timed part.
import * as nb from "nabla";
import { fn, f64, nested, scalar } from "./util.mjs";

const tables = new Map();

/** Per level r = 2..ℓ: gather indices into A, into the previous level, and the cofactor signs. */
function expansionTables(ell) {
  let t = tables.get(ell);
  if (t) return t;
  // subsets of {0..ℓ−1} as bit masks, grouped by size; index of each mask within its size
  const bySize = Array.from({ length: ell + 1 }, () => []);
  const indexOf = new Int32Array(1 << ell);
  for (let mask = 1; mask < 1 << ell; mask++) {
    let pop = 0;
    for (let m = mask; m; m &= m - 1) pop++;
    indexOf[mask] = bySize[pop].length;
    bySize[pop].push(mask);
  }
  const levels = [];
  for (let r = 2; r <= ell; r++) {
    const masks = bySize[r];
    const row = ell - r;
    const aIdx = new Int32Array(masks.length * r);
    const childIdx = new Int32Array(masks.length * r);
    const signs = new Float64Array(masks.length * r);
    masks.forEach((mask, s) => {
      let p = 0;
      for (let c = 0; c < ell; c++) {
        if (!(mask & (1 << c))) continue;
        aIdx[s * r + p] = row * ell + c;
        childIdx[s * r + p] = indexOf[mask & ~(1 << c)];
        signs[s * r + p] = p % 2 === 0 ? 1 : -1;
        p++;
      }
    });
    const shape = [masks.length, r];
    levels.push({
      aIdx: nb.array(aIdx, { shape }),
      childIdx: nb.array(childIdx, { shape }),
      signs: nb.array(signs, { shape }),
    });
  }
  // level 1: the bottom row's entries, in the order of the size-1 masks (column c has mask 1 << c)
  const firstIdx = nb.array(Int32Array.from(bySize[1], (mask) => (ell - 1) * ell + Math.log2(mask)));
  t = { firstIdx, levels };
  tables.set(ell, t);
  return t;
}

/** det(A) of the flat row-major A by expansion by minors. */
function detByMinors(a, t) {
  let minors = nb.take(a, t.firstIdx);
  for (const { aIdx, childIdx, signs } of t.levels)
    minors = nb.sum(nb.mul(nb.mul(nb.take(a, aIdx), signs), nb.take(minors, childIdx)), 1);
  return nb.reshape(minors, []);
}

const primal = nb.jit(detByMinors);
const gradient = nb.jit(nb.grad(detByMinors));
const prepare = (input) => ({ a: f64(input.A), t: expansionTables(input.ell) });

export const functions = {
  primal: fn(prepare, ({ a, t }) => primal(a, t), scalar),
  gradient: fn(prepare, ({ a, t }) => gradient(a, t), nested),
};
