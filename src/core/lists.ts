/**
 * Arrays allocated by a builtin instead of a literal, for lists that live as long as one trace or
 * one transformed call (issue 8). V8 tracks survival per allocation site (array and object
 * literals, `new Array`): once most objects of a site outlive a scavenge it allocates every later
 * one in the old generation ("pretenuring"). After a long `grad` (a 10k-op chain, whose trace
 * lists survive many scavenges) the per-trace lists of every later small `grad` were allocated
 * old, and what they referenced survived scavenges through them until a full collection:
 * `grad(x => x * x)(3)` went from 2.7 to 5.5 µs a call, half of it in the collector. A builtin's
 * arrays (`slice`) carry no allocation site, so they start young and die young.
 */
const EMPTY: readonly never[] = [];

/** A new empty array, not from an allocation site. */
export function freshList<T>(): T[] {
  return EMPTY.slice();
}

const ZERO: readonly number[] = [0];

/** A new `[0]`, not from an allocation site. */
export function zeroList(): number[] {
  return ZERO.slice();
}
