/** Shape arithmetic: sizes, strides, broadcasting, axis normalisation. */
import { ShapeError, fmtShape } from "./errors.js";

/** A shape: one non-negative integer per axis. */
export type Shape = readonly number[];

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
    acc *= shape[i]!;
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
      const d = s[i]!;
      const o = out[off + i]!;
      if (o === 1) out[off + i] = d;
      else if (d !== 1 && d !== o)
        throw new ShapeError(`${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together`);
    }
  }
  return out;
}

/** Normalises one possibly negative axis for an array of rank `ndim`. */
export function normAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim)
    throw new ShapeError(`${op}: axis ${axis} is out of bounds for an array of rank ${ndim}`);
  return axis < 0 ? axis + ndim : axis;
}

/** Normalises `axis` (undefined = all axes) to sorted unique non-negative axes. */
export function normAxes(op: string, axis: number | readonly number[] | undefined | null, ndim: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : axis;
  const out = list.map((a) => normAxis(op, a, ndim));
  if (new Set(out).size !== out.length) throw new ShapeError(`${op}: repeated axis in [${list.join(",")}]`);
  return out.sort((a, b) => a - b);
}

export function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new ShapeError(`${op}: invalid shape ${JSON.stringify(shape)}`);
  return shape.slice() as number[];
}
