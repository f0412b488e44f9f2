/* global process, console, performance */
// Interleaved A/B of W2 (issue 8) between two compiled builds loaded into one process: runs
// alternate between the builds, so both see the same machine load; prints wall and CPU
// medians per run and the largest relative difference of their results.
//   npx tsc -p tsconfig.build.json --outDir /tmp/a --declaration false --sourceMap false
//   echo '{"type":"module"}' > /tmp/a/package.json   (the same for the other build, /tmp/b)
//   AB_BASE=/tmp/a AB_NEW=/tmp/b node bench/abW2.mjs [float32|float64] [eager|jit] [runs] [threads]
const [dtype = "float32", mode = "jit", runs = "40", threads = "1"] = process.argv.slice(2);
const builds = { base: `${process.env.AB_BASE}/index.js`, new: `${process.env.AB_NEW}/index.js` };
const mods = {};
for (const [k, p] of Object.entries(builds)) mods[k] = await import(p);
const [B, D, H, C] = [128, 784, 512, 10];
function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
const host = (n, seed, lo, hi) => {
  const r = lcg(seed);
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
};
const data = {
  x: host(B * D, 1, 0, 1),
  w1: host(D * H, 2, -0.05, 0.05),
  w2: host(H * H, 3, -0.05, 0.05),
  w3: host(H * C, 4, -0.05, 0.05),
};
const y = new Float64Array(B * C);
for (let b = 0; b < B; b++) y[b * C + ((b * 7) % C)] = 1;
const cells = {};
for (const [k, nb] of Object.entries(mods)) {
  nb.config({ threads: Number(threads) });
  const T = dtype === "float32" ? Float32Array : Float64Array;
  const A = (d, shape) => nb.array(T.from(d), { shape });
  const p = {
    w1: A(data.w1, [D, H]),
    b1: A(new Float64Array(H), [H]),
    w2: A(data.w2, [H, H]),
    b2: A(new Float64Array(H), [H]),
    w3: A(data.w3, [H, C]),
    b3: A(new Float64Array(C), [C]),
  };
  const x = A(data.x, [B, D]);
  const yy = A(y, [B, C]);
  const loss = (p, x, y) => {
    const h1 = nb.tanh(nb.add(nb.matmul(x, p.w1), p.b1));
    const h2 = nb.tanh(nb.add(nb.matmul(h1, p.w2), p.b2));
    const z = nb.add(nb.matmul(h2, p.w3), p.b3);
    return nb.neg(nb.mean(nb.sum(nb.mul(y, nb.logSoftmax(z, -1)), 1)));
  };
  const g = nb.grad(loss);
  const f = (p, x, y) => {
    const d = g(p, x, y);
    return [d.w1, d.b1, d.w2, d.b2, d.w3, d.b3];
  };
  const run = mode === "jit" ? nb.jit(f) : f;
  cells[k] = () => run(p, x, yy).map((a) => a.toTypedArray());
}
// same results?
const ra = cells.base(),
  rb = cells.new();
let maxd = 0;
ra.forEach((a, i) => a.forEach((v, j) => (maxd = Math.max(maxd, Math.abs(v - rb[i][j]) / (Math.abs(v) + 1e-3)))));
for (let i = 0; i < 5; i++) {
  cells.base();
  cells.new();
}
const t = { base: [], new: [] },
  c = { base: [], new: [] };
for (let i = 0; i < Number(runs); i++)
  for (const k of i % 2 ? ["base", "new"] : ["new", "base"]) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    cells[k]();
    const cu = process.cpuUsage(c0);
    t[k].push(performance.now() - t0);
    c[k].push((cu.user + cu.system) / 1000);
  }
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1].toFixed(2);
const q = (xs, p) => xs.sort((a, b) => a - b)[Math.floor(p * xs.length)].toFixed(2);
console.log(
  `${dtype} ${mode} threads=${threads}: wall base ${med(t.base)} [${q(t.base, 0.25)}-${q(t.base, 0.75)}] new ${med(t.new)} [${q(t.new, 0.25)}-${q(t.new, 0.75)}] ms; cpu base ${med(c.base)} new ${med(c.new)} ms; max rel diff ${maxd.toExponential(1)}`,
);
process.exit(0);
