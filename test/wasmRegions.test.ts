/**
 * The allocator of resident regions in a kernel memory (src/kernels/wasm/memory.ts `Regions`):
 * against a model that tracks every byte, over random sequences of takes and gives: regions never
 * overlap, stay 16-byte aligned and within the limit, a freed region is reused, neighbours merge
 * (a region as large as everything freed fits again), and `end` is the first byte past the
 * highest region in use.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Regions, align16 } from "../src/kernels/wasm/memory.js";

describe("Regions", () => {
  it("best fit from freed blocks, else past the end; merging lowers the end", () => {
    const r = new Regions(1024);
    const a = r.take(100, 1 << 20);
    const b = r.take(40, 1 << 20);
    const c = r.take(16, 1 << 20);
    expect([a, b, c]).toEqual([1024, 1024 + 112, 1024 + 112 + 48]);
    expect(r.end).toBe(1024 + 112 + 48 + 16);
    r.give(1024, 100);
    // 40 bytes fit the freed 112-byte block
    expect(r.take(40, 1 << 20)).toBe(1024);
    r.give(1024, 40);
    r.give(1024 + 112, 40);
    // merged: 160 bytes from the base
    expect(r.take(160, 1 << 20)).toBe(1024);
    r.give(1024, 160);
    r.give(1024 + 160, 16);
    expect(r.end).toBe(1024);
    expect(r.freeBytes).toBe(0);
    // the limit
    expect(r.take(1000, 2000)).toBeNull();
    expect(r.take(976, 2000)).toBe(1024);
  });

  it("random takes and gives against a byte model", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 300 }), fc.nat()), { maxLength: 120 }),
        (script) => {
          const base = 64;
          const limit = base + 4096;
          const r = new Regions(base);
          const live: { at: number; bytes: number }[] = [];
          for (const [take, bytes, pick] of script) {
            if (take || live.length === 0) {
              const at = r.take(bytes, limit);
              if (at === null) {
                // it may fail only when no free block and no room at the end fits
                expect(r.end + align16(bytes)).toBeGreaterThan(limit);
                continue;
              }
              expect(at % 16).toBe(0);
              expect(at).toBeGreaterThanOrEqual(base);
              expect(at + bytes).toBeLessThanOrEqual(limit);
              for (const l of live) expect(at + bytes <= l.at || l.at + l.bytes <= at).toBe(true);
              live.push({ at, bytes });
            } else {
              const [g] = live.splice(pick % live.length, 1);
              if (g !== undefined) r.give(g.at, g.bytes);
            }
            const top = live.reduce((m, l) => Math.max(m, l.at + align16(l.bytes)), base);
            expect(r.end).toBe(top);
            // every byte below the end is in use or free
            const used = live.reduce((s, l) => s + align16(l.bytes), 0);
            expect(used + r.freeBytes).toBe(r.end - base);
          }
          // all given back: nothing in use, the end at the base
          for (const l of live) r.give(l.at, l.bytes);
          expect(r.end).toBe(base);
          expect(r.freeBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
