/** Nested-jvp references for the jet tests. */
import * as nb from "../../src/index.js";

type A = nb.NDArray;

/** k! as a float. */
export const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));

/**
 * Per order k = 1..K (default: the number of input terms), the outputs' k-th t-derivatives of
 * t ↦ g(xs + Σ_j d_j t^j / j!) at 0, by K nested jvps.
 */
export function nestedAll(g: (xs: A[]) => A[], xs: A[], ds: A[][], K = ds[0]?.length ?? 0): A[][] {
  const at = (t: A): A[] =>
    g(
      xs.map((x, i) =>
        (ds[i] ?? []).reduce((acc, d, j) => nb.add(acc, nb.mul(d, nb.div(nb.pow(t, j + 1), fact(j + 1)))), x),
      ),
    );
  const out: A[][] = [];
  let h: (t: A) => A[] = at;
  for (let k = 1; k <= K; k++) {
    const prev = h;
    h = (t: A) => nb.jvp(prev, [t], [nb.onesLike(t)])[1];
    out.push(h(nb.array(0)));
  }
  return out;
}
