import * as nb from "./src/index.js";
const i32 = (v: number | number[]) => nb.array(v, { dtype: "int32" });
const x = nb.arange(5);
console.log(nb.jit((a: nb.NDArray, s: nb.NDArray) => nb.roll(a, s))(x, i32(2)).toString());
console.log(nb.roll(x, 2).toString());
console.log(nb.jit((a: nb.NDArray, s: nb.NDArray) => nb.roll(a, s))(x, i32(-7)).toString(), nb.roll(x, -7).toString());
const m = nb.reshape(nb.arange(12), [3, 4]);
console.log(nb.jit((a: nb.NDArray, s: nb.NDArray) => nb.roll(a, s, [0, 1]))(m, i32([1, -1])).toString(), nb.roll(m, [1, -1], [0, 1]).toString());
console.log((nb.vmap((s: nb.NDArray) => nb.roll(x, s))(i32([0, 1, 2])) as nb.NDArray).toString());
console.log(nb.jit((a: nb.NDArray, r: nb.NDArray) => nb.repeat(a, r, 0, { totalRepeatLength: 6 }))(nb.array([1, 2, 3]), i32([1, 0, 3])).toString());
console.log(nb.jit((a: nb.NDArray, r: nb.NDArray) => nb.repeat(a, r, 0, { totalRepeatLength: 3 }))(nb.array([1, 2, 3]), i32([2, 2, 2])).toString());
console.log(nb.repeat(nb.array([1, 2, 3]), [1, 0, 3], 0, { totalRepeatLength: 6 }).toString());
try { nb.jit((a: nb.NDArray, r: nb.NDArray) => nb.repeat(a, r))(nb.array([1, 2, 3]), i32([1, 0, 3])); } catch (e) { console.log(String(e)); }
try { nb.jit((a: nb.NDArray, r: nb.NDArray) => nb.split(a, r))(nb.array([1, 2, 3]), i32([1])); } catch (e) { console.log(String(e)); }
console.log(nb.split(nb.arange(6), i32([2, 4])).map(String));
