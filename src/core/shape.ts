/** Shape arithmetic: sizes, strides, broadcasting, axis normalisation. */
import { ShapeError, fmtShape, fmtValue, at } from "./errors.js";

/** A shape: one non-negative integer per axis. */
export type Shape = readonly number[];

/** The most elements an array may have (typed-array lengths are int32 here): 2^31 - 1. */
export const MAX_SIZE = 2 ** 31 - 1;
/** The most axes an array may have (as NumPy). */
export const MAX_NDIM = 64;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= at(shape, i, "stridesOf");
  }
  return s;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting of several shapes; throws ShapeError naming `op`. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  let nd = 0;
  for (const s of shapes) nd = Math.max(nd, s.length);
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes) {
    const off = nd - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = at(s, i, "broadcastShapes");
      const o = at(out, off + i, "broadcastShapes");
      if (o === 1) out[off + i] = d;
      else if (d !== 1 && d !== o)
        throw new ShapeError(`${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together`);
    }
  }
  if (sizeOf(out) > MAX_SIZE)
    throw new ShapeError(
      `${op}: shapes ${shapes.map(fmtShape).join(" and ")} broadcast to ${fmtShape(out)}, more than 2^31 - 1 elements`,
    );
  return out;
}

/** Normalises one possibly negative axis (a JS integer) for an array of rank `ndim`. */
export function normAxis(op: string, axis: unknown, ndim: number): number {
  if (typeof axis !== "number" || !Number.isInteger(axis))
    throw new ShapeError(`${op}: axis must be an integer, got ${fmtValue(axis)}`);
  if (axis < -ndim || axis >= ndim)
    throw new ShapeError(`${op}: axis ${axis} is out of bounds for an array of rank ${ndim}`);
  return axis < 0 ? axis + ndim : axis;
}

/** Normalises `axis` (undefined or null = all axes; a number or an array of numbers) to sorted unique non-negative axes. */
export function normAxes(op: string, axis: unknown, ndim: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: ndim }, (_, i) => i);
  if (typeof axis !== "number" && !Array.isArray(axis))
    throw new ShapeError(`${op}: axis must be an integer or an array of integers, got ${fmtValue(axis)}`);
  const list: readonly unknown[] = typeof axis === "number" ? [axis] : axis;
  if (list.length > ndim) throw new ShapeError(`${op}: ${list.length} axes given for an array of rank ${ndim}`);
  const out: number[] = [];
  for (let i = 0; i < list.length; i++) {
    if (!(i in list)) throw new ShapeError(`${op}: axis list has a hole at index ${i}`);
    out.push(normAxis(op, list[i], ndim));
  }
  if (new Set(out).size !== out.length) throw new ShapeError(`${op}: repeated axis in [${list.join(",")}]`);
  return out.sort((a, b) => a - b);
}

/** A shape argument: an array of at most 64 non-negative safe integers with at most 2^31 - 1 elements. */
export function checkShape(op: string, shape: unknown, arg = "shape"): number[] {
  if (!Array.isArray(shape))
    throw new ShapeError(`${op}: ${arg} must be an array of non-negative integers, got ${fmtValue(shape)}`);
  if (shape.length > MAX_NDIM)
    throw new ShapeError(`${op}: ${arg} has ${shape.length} axes, more than the limit ${MAX_NDIM}`);
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (!(i in shape) || typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)
      throw new ShapeError(
        `${op}: ${arg}[${i}] must be a non-negative integer, got ${i in shape ? fmtValue(d) : "a hole"}`,
      );
    out.push(d);
  }
  if (sizeOf(out) > MAX_SIZE)
    throw new ShapeError(`${op}: ${arg} ${fmtShape(out)} has ${sizeOf(out)} elements, more than the limit 2^31 - 1`);
  return out;
}
