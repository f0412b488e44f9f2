/** Shape primitives: reshape, broadcast, transpose, slice, pad, concatenate, reverse. */
import { DTypeError, ShapeError, at, fmtShape } from "../core/errors.js";
import { ConcreteArray, storageOf } from "../core/ndarray.js";
import { broadcastShapes, shapesEqual, sizeOf } from "../core/shape.js";
import { LinearIn, bind } from "../core/trace.js";
import * as K from "../kernels/movement.js";
import * as O from "./wrap.js";
import { batchedFront, moveToFront, shiftAxes } from "./batching.js";
import { LinearRule, isLin, sameAval } from "./rule.js";
import type { Params } from "./table.js";

function checkPerm(perm: number[], nd: number): void {
  const ok = perm.length === nd && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!ok) throw new ShapeError(`transpose: perm [${perm.join(",")}] is not a permutation of ${nd} axes`);
}

export const RESHAPE: LinearRule<Params["reshape"], 1, 1> = {
  name: "reshape",
  abstractEval([a], { shape }) {
    if (sizeOf(shape) !== sizeOf(a.shape))
      throw new ShapeError(`reshape: cannot reshape ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
    return [{ shape, dtype: a.dtype, weak: a.weak }];
  },
  impl: ([x], { shape }) => [new ConcreteArray(storageOf(x), shape, x.dtype, x.weakType)],
  jvp: (_p, [dx = null], _o, { shape }) => [dx === null ? null : O.reshape(dx, shape)],
  transpose: ([ct = null], [a]) => [ct === null ? null : O.reshape(ct, (a as LinearIn).aval.shape)],
  vmap: shiftAxes(
    () => RESHAPE,
    ({ shape }, n) => ({ shape: [n, ...shape] }),
  ),
};

// NumPy broadcast_to
export const BROADCAST: LinearRule<Params["broadcast"], 1, 1> = {
  name: "broadcast",
  abstractEval([a], { shape }) {
    const s = broadcastShapes("broadcastTo", a.shape, shape);
    if (!shapesEqual(s, shape))
      throw new ShapeError(`broadcastTo: cannot broadcast ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
    return [{ shape, dtype: a.dtype, weak: a.weak }];
  },
  impl: ([x], { shape }) => [K.broadcastTo(x, shape)],
  jvp: (_p, [dx = null], _o, { shape }) => [dx === null ? null : O.broadcastPrim(dx, shape)],
  transpose: ([ct = null], [a]) => [ct === null ? null : O.sumToShape(ct, (a as LinearIn).aval.shape)],
  vmap([x], [d], { shape }) {
    const f = moveToFront(x, d);
    const core = f.shape.slice(1);
    const lifted = O.reshape(f, [
      at(f.shape, 0, "broadcast"),
      ...new Array<number>(shape.length - core.length).fill(1),
      ...core,
    ]);
    return [[O.broadcastPrim(lifted, [at(f.shape, 0, "broadcast"), ...shape])], [0]];
  },
};

export const TRANSPOSE: LinearRule<Params["transpose"], 1, 1> = {
  name: "transpose",
  abstractEval([a], { perm }) {
    checkPerm(perm, a.shape.length);
    return [{ shape: perm.map((p) => at(a.shape, p, "transpose")), dtype: a.dtype, weak: a.weak }];
  },
  impl: ([x], { perm }) => [K.transpose(x, perm)],
  jvp: (_p, [dx = null], _o, { perm }) => [dx === null ? null : O.transposePrim(dx, perm)],
  transpose([ct = null], _a, { perm }) {
    if (ct === null) return [null];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [O.transposePrim(ct, inv)];
  },
  vmap: shiftAxes(
    () => TRANSPOSE,
    ({ perm }) => ({ perm: [0, ...perm.map((p) => p + 1)] }),
  ),
};

export const SLICE: LinearRule<Params["slice"], 1, 1> = {
  name: "slice",
  abstractEval([a], { begin, end }) {
    const s = a.shape;
    const ok =
      begin.length === s.length &&
      end.length === s.length &&
      begin.every(
        (b, i) =>
          Number.isInteger(b) &&
          Number.isInteger(end[i]) &&
          0 <= b &&
          b <= at(end, i, "slice") &&
          at(end, i, "slice") <= at(s, i, "slice"),
      );
    if (!ok)
      throw new ShapeError(
        `slice: begin [${begin.join(",")}] / end [${end.join(",")}] invalid for shape ${fmtShape(s)}`,
      );
    return [{ shape: begin.map((b, i) => at(end, i, "slice") - b), dtype: a.dtype, weak: a.weak }];
  },
  impl: ([x], { begin, end }) => [K.slice(x, begin, end)],
  jvp: (_p, [dx = null], _o, { begin, end }) => [dx === null ? null : O.slicePrim(dx, begin, end)],
  transpose([ct = null], [a], { begin, end }) {
    if (ct === null) return [null];
    const s = (a as LinearIn).aval.shape;
    return [
      O.padPrim(
        ct,
        begin,
        end.map((e, i) => at(s, i, "slice") - e),
      ),
    ];
  },
  vmap: shiftAxes(
    () => SLICE,
    ({ begin, end }, n) => ({ begin: [0, ...begin], end: [n, ...end] }),
  ),
};

// zero padding (the transpose of slice)
export const PAD: LinearRule<Params["pad"], 1, 1> = {
  name: "pad",
  abstractEval([a], { lo, hi }) {
    const s = a.shape;
    if (lo.length !== s.length || hi.length !== s.length || ![...lo, ...hi].every((v) => Number.isInteger(v) && v >= 0))
      throw new ShapeError(`pad: widths [${lo.join(",")}] / [${hi.join(",")}] invalid for shape ${fmtShape(s)}`);
    return [{ shape: s.map((d, i) => d + at(lo, i, "pad") + at(hi, i, "pad")), dtype: a.dtype, weak: a.weak }];
  },
  impl: ([x], { lo, hi }) => [K.pad(x, lo, hi)],
  jvp: (_p, [dx = null], _o, { lo, hi }) => [dx === null ? null : O.padPrim(dx, lo, hi)],
  transpose([ct = null], [a], { lo }) {
    if (ct === null) return [null];
    const s = (a as LinearIn).aval.shape;
    return [
      O.slicePrim(
        ct,
        lo,
        lo.map((l, i) => l + at(s, i, "pad")),
      ),
    ];
  },
  vmap: shiftAxes(
    () => PAD,
    ({ lo, hi }) => ({ lo: [0, ...lo], hi: [0, ...hi] }),
  ),
};

// joins operands along an axis; linear, its transpose slices. A primitive for speed (a pad of every
// operand to the full length and their sum is a pass per operand over the whole output)
export const CONCATENATE: LinearRule<Params["concatenate"], number, 1> = {
  name: "concatenate",
  abstractEval(avals, { axis }) {
    const first = avals[0];
    if (first === undefined) throw new ShapeError("concatenate: needs at least one array");
    const nd = first.shape.length;
    if (axis < 0 || axis >= nd) throw new ShapeError(`concatenate: axis ${axis} out of range for rank ${nd}`);
    let total = 0;
    for (const a of avals) {
      if (a.dtype !== first.dtype) throw new DTypeError(`concatenate: dtypes differ (${first.dtype} and ${a.dtype})`);
      if (a.shape.length !== nd || a.shape.some((d, i) => i !== axis && d !== first.shape[i]))
        throw new ShapeError(
          `concatenate: shapes ${avals.map((v) => fmtShape(v.shape)).join(", ")} differ off axis ${axis}`,
        );
      total += at(a.shape, axis, "concatenate");
    }
    const shape = first.shape.slice();
    shape[axis] = total;
    return [{ shape, dtype: first.dtype, weak: avals.every((a) => a.weak) }];
  },
  impl: (xs, { axis }, [o]) => [K.concatenate(xs, axis, o.dtype)],
  jvp(xs, dxs, _o, { axis }) {
    if (dxs.every((d) => d === null)) return [null];
    return [
      O.concatPrim(
        dxs.map((d, i) => d ?? O.zeros(at(xs, i, "concatenate").shape, at(xs, i, "concatenate").dtype)),
        axis,
      ),
    ];
  },
  transpose([ct = null], args, { axis }) {
    let off = 0;
    return args.map((a) => {
      const s = (isLin(a) ? a.aval.shape : a.shape).slice();
      const begin = s.map(() => 0);
      begin[axis] = off;
      off += at(s, axis, "concatenate");
      if (!isLin(a) || ct === null) return null;
      const end = s.slice();
      end[axis] = off;
      return O.slicePrim(ct, begin, end);
    });
  },
  vmap: (xs, ds, { axis }, n) => [
    bind(
      CONCATENATE,
      xs.map((x, i) => batchedFront(x, at(ds, i, "concatenate"), n)),
      { axis: axis + 1 },
    ),
    [0],
  ],
};

// reverses the order along axes; linear and its own transpose. A primitive for speed (a gather
// with reversed indices reads an index array per element).
export const REV: LinearRule<Params["rev"], 1, 1> = {
  name: "rev",
  abstractEval([a], { axes }) {
    for (const ax of axes)
      if (ax < 0 || ax >= a.shape.length)
        throw new ShapeError(`flip: axis ${ax} out of range for shape ${fmtShape(a.shape)}`);
    return sameAval(a);
  },
  impl: ([x], { axes }) => [K.rev(x, axes)],
  jvp: (_p, [dx = null], _o, { axes }) => [dx === null ? null : O.revPrim(dx, axes)],
  transpose: ([ct = null], _a, { axes }) => [ct === null ? null : O.revPrim(ct, axes)],
  vmap: shiftAxes(
    () => REV,
    ({ axes }) => ({ axes: axes.map((a) => a + 1) }),
  ),
};
