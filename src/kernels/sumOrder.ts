/**
 * The order of a full sum (reduce_sum over every axis), one order for every kernel that computes
 * one: the eager reduce kernel, `jit`'s fused JS loops and its compiled WebAssembly loops (on one
 * thread or on the pool). The elements are added in ascending index order into float64 partial
 * sums of {@link SUM_CHUNK} consecutive elements (each starting from 0), then the partial sums are
 * added in ascending order (starting from 0). A sum of at most SUM_CHUNK elements is the plain
 * left-to-right fold. The chunks depend only on the length, so a sum split over threads (one
 * partial per chunk) gives the same bits for every thread count, and eager and jit give the same
 * bits.
 */
export const SUM_CHUNK = 8192;
