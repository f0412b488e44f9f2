/** Plain-JS reference helpers shared by the tests (no nabla inside, so they can serve as references). */

/** Number of elements of a shape. */
export const sizeOf = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** Row-major multi-index of flat index `i`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return idx;
}

/** Row-major flat index of a multi-index. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let k = 0; k < shape.length; k++) i = i * shape[k]! + idx[k]!;
  return i;
}

/** Central-difference Jacobian of a plain-JS function R^n -> R^m, row-major [m, n]. */
export function fdJacobian(f: (x: number[]) => number[], x: number[], h = 1e-5): number[] {
  const m = f(x).length;
  const J = new Array<number>(m * x.length).fill(0);
  for (let j = 0; j < x.length; j++) {
    const xp = x.slice();
    const xm = x.slice();
    xp[j]! += h;
    xm[j]! -= h;
    const fp = f(xp);
    const fm = f(xm);
    for (let i = 0; i < m; i++) J[i * x.length + j] = (fp[i]! - fm[i]!) / (2 * h);
  }
  return J;
}
