import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Child processes, not threads: isolation for the process-global trace stack, and
    // full-size stacks for the deep-graph tests. Two workers for a two-core machine.
    pool: "forks",
    maxWorkers: 2,
    // Property tests recurse to third order over many random inputs; allow them time.
    testTimeout: 60_000,
    // The package test builds dist/ in a beforeAll hook.
    hookTimeout: 120_000,
  },
});
