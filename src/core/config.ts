/**
 * Library-wide settings read by the core (set through the public `config`):
 * `debugNans` makes `bind` check every primitive's outputs for NaN (under jit,
 * staging records each equation's call site and the graph runs equation by
 * equation through `bind`, unoptimised and unfused).
 */
export interface Settings {
  /** Throw at the first primitive that produces NaN from inputs without NaN. */
  debugNans: boolean;
  /** Threads kernels use, the calling one included (the kernels' pool owns the value; config reports it). */
  threads: number;
}

export const SETTINGS: Settings = { debugNans: false, threads: 1 };

/** debugNans under jit: the recorded call site of the equation being evaluated (null: none). */
let SITE: string | null = null;

/** debugNans: where the primitive being evaluated was called (a staged equation's recorded site, else the stack's). */
export function debugSite(): string {
  return SITE ?? callSite();
}

/** debugNans: runs `f` with `site` as the call site reported for the primitives it evaluates. */
export function withSite<T>(site: string | undefined, f: () => T): T {
  if (site === undefined) return f();
  const prev = SITE;
  SITE = site;
  try {
    return f();
  } finally {
    SITE = prev;
  }
}

/** The first stack frame outside the library: where the user called it ("unknown" when the stack says nothing). */
export function callSite(): string {
  // V8 keeps 10 frames by default: too few below a transform or a device's dispatch
  const E = Error as { stackTraceLimit?: number };
  const limit = E.stackTraceLimit;
  if (typeof limit === "number") E.stackTraceLimit = Math.max(limit, 100);
  let stack: string;
  try {
    stack = new Error().stack ?? "";
  } finally {
    if (typeof limit === "number") E.stackTraceLimit = limit;
  }
  // the library's root directory (src/ or dist/), from this module's own location (src/core/config);
  // bundled into another file, that file (a bundle holding the caller's code too cannot tell it apart)
  const here = new URL(import.meta.url).pathname;
  const root = /\/core\/config\.[jt]s$/.test(here) ? new URL("../", import.meta.url).pathname : here;
  for (const line of stack.split("\n").slice(1)) {
    const l = line.trim();
    if (!l.startsWith("at ") || l.includes(root) || l.includes("node:") || l.includes("/node_modules/")) continue;
    return l.slice(3);
  }
  return "unknown";
}
