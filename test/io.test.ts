/**
 * nabla/io: the safetensors format.
 *
 * Files read here are assembled by hand from the format's specification (8-byte little-endian
 * header length, UTF-8 JSON header, row-major little-endian data): the expected values of F16,
 * BF16, FP8 and integer payloads are worked out by hand from their bit patterns, never produced by
 * the code under test. Files written by `saveSafetensors` are checked against the specification
 * with `JSON.parse` and byte arithmetic, and round trips are compared bit for bit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import * as nb from "../src/index.js";
import {
  loadFile,
  loadSafetensors,
  safetensorsMetadata,
  safetensorsName,
  safetensorsPath,
  saveFile,
  saveSafetensors,
  MAX_TREE_DEPTH,
} from "../src/io/index.js";
import * as nodeIo from "../src/io/index.js";
import * as browserIo from "../src/io/index.browser.js";
import { nablaError } from "./support/assert.js";

const enc = new TextEncoder();

// ---------------------------------------------------------------------------
// hand-built files

/** Little-endian bytes of an unsigned integer bit pattern of `n` bytes (n ≤ 4, or 8 via two words). */
function le(bits: number, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(Math.floor(bits / 2 ** (8 * k)) % 256);
  return out;
}

/**
 * A safetensors file assembled from the specification: 8 bytes of header length (two 32-bit
 * little-endian words, `lo` and `hi`, which default to the header's byte length), the header
 * text, then the data bytes.
 */
function handFile(header: string | Uint8Array, data: readonly number[] = [], length?: { lo: number; hi: number }) {
  const h = typeof header === "string" ? enc.encode(header) : header;
  return new Uint8Array([...le(length?.lo ?? h.length, 4), ...le(length?.hi ?? 0, 4), ...h, ...data]);
}

/** The float32 bit patterns of a float32 array. */
function bits32(x: nb.NDArray): number[] {
  const t = x.toTypedArray();
  return Array.from(new Uint32Array(t.buffer, t.byteOffset, t.length));
}

/** Every element equals the expected number exactly (Object.is: -0 and NaN count). */
function expectExact(x: nb.NDArray, expected: readonly number[], dtype: nb.DType, shape: readonly number[]) {
  expect(x).toBeInstanceOf(nb.NDArray);
  expect(x.dtype).toBe(dtype);
  expect(x.shape).toEqual(shape);
  const got = Array.from(x.toTypedArray(), Number);
  expect(got.length).toBe(expected.length);
  got.forEach((v, i) => {
    if (!Object.is(v, expected[i])) expect.fail(`element ${i}: got ${v}, expected ${expected[i]}`);
  });
}

function flat(tree: unknown): Record<string, nb.NDArray> {
  expect(Object.getPrototypeOf(tree)).toBe(Object.prototype);
  return tree as Record<string, nb.NDArray>;
}

/** Loads a hand-built file holding one tensor of 16-bit patterns and checks each decoded value. */
function expectHalfCases(dtype: "F16" | "BF16", cases: readonly [number, number][], shape: readonly number[]) {
  const header = `{"x":{"dtype":"${dtype}","shape":[${shape.join(",")}],"data_offsets":[0,${2 * cases.length}]}}`;
  const x = flat(
    loadSafetensors(
      handFile(
        header,
        cases.flatMap(([b]) => le(b, 2)),
      ),
    ),
  ).x!;
  expectExact(
    x,
    cases.map(([, v]) => v),
    "float32",
    shape,
  );
  return x;
}

describe("loadSafetensors: files built by hand from the specification", () => {
  it("F32, F64 and I32 payloads, a 0-d tensor, an empty tensor, padding and __metadata__", () => {
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"model.layers.0.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},' +
      '"scalar":{"dtype":"F64","shape":[],"data_offsets":[16,24]},' +
      '"empty":{"dtype":"F64","shape":[0,3],"data_offsets":[24,24]},' +
      '"ints":{"dtype":"I32","shape":[3],"data_offsets":[24,36]}}   ';
    const data = [
      // F32 1.0 = 0x3F800000, -2.0 = 0xC0000000, -0 = 0x80000000, +inf = 0x7F800000
      ...le(0x3f800000, 4),
      ...le(0xc0000000, 4),
      ...le(0x80000000, 4),
      ...le(0x7f800000, 4),
      // F64 0.5 = 0x3FE0000000000000
      ...[0, 0, 0, 0, 0, 0, 0xe0, 0x3f],
      // I32 -1, 2^31 - 1, -2^31
      ...le(0xffffffff, 4),
      ...le(0x7fffffff, 4),
      ...le(0x80000000, 4),
    ];
    const t = flat(loadSafetensors(handFile(header, data)));
    expect(Object.keys(t).sort()).toEqual(["empty", "ints", "model.layers.0.weight", "scalar"]);
    expectExact(t["model.layers.0.weight"]!, [1, -2, -0, Infinity], "float32", [2, 2]);
    expectExact(t.scalar!, [0.5], "float64", []);
    expectExact(t.empty!, [], "float64", [0, 3]);
    expectExact(t.ints!, [-1, 2 ** 31 - 1, -(2 ** 31)], "int32", [3]);
    expect(safetensorsMetadata(handFile(header, data))).toEqual({ format: "pt" });
  });

  it("F64 specials: subnormals, NaN and ±0 keep their bits", () => {
    const header = '{"x":{"dtype":"F64","shape":[5],"data_offsets":[0,40]}}';
    const data = [
      ...[1, 0, 0, 0, 0, 0, 0, 0], // 0x0000000000000001 = 2^-1074, the smallest subnormal
      ...[0, 0, 0, 0, 0, 0, 0x10, 0], // 0x0010000000000000 = 2^-1022, the smallest normal
      ...[0, 0, 0, 0, 0, 0, 0xf8, 0x7f], // 0x7FF8000000000000 = NaN
      ...[0, 0, 0, 0, 0, 0, 0, 0x80], // -0
      ...[0, 0, 0, 0, 0, 0, 0xf0, 0xff], // -inf
    ];
    expectExact(
      flat(loadSafetensors(handFile(header, data))).x!,
      [2 ** -1074, 2 ** -1022, NaN, -0, -Infinity],
      "float64",
      [5],
    );
  });

  it("F16 reads as float32 exactly", () => {
    // sign | 5-bit exponent (bias 15) | 10-bit fraction
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x0001, 2 ** -24], // smallest subnormal: 1 × 2^-24
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x7bff, 65504], // largest finite: (1 + 1023/1024) × 2^15
      [0x3555, 0.333251953125], // (1 + 341/1024) × 2^-2
      [0x8000, -0],
      [0x7e00, NaN],
    ];
    expectHalfCases("F16", cases, [cases.length]);
  });

  it("BF16 reads as float32 exactly (its bits are the float32's top half)", () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc040, -3], // -(1 + 0.5) × 2^1
      [0x4049, 3.140625], // (1 + 73/128) × 2^1
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x0001, 2 ** -133], // a float32 subnormal: 2^16 × 2^-149
      [0x8000, -0],
      [0x7fc0, NaN],
    ];
    const x = expectHalfCases("BF16", cases, [2, 4]);
    expect(bits32(x)).toEqual(cases.map(([b]) => b * 65536));
  });

  it("FP8 E5M2 and E4M3 read as float32 exactly", () => {
    const e5m2: [number, number][] = [
      [0x3c, 1],
      [0xc0, -2],
      [0x7c, Infinity],
      [0x01, 2 ** -16], // subnormal: 1 × 2^-16
    ];
    const e4m3: [number, number][] = [
      [0x38, 1], // exponent 7 (bias 7), fraction 0
      [0xb8, -1],
      [0x7e, 448], // the largest: (1 + 6/8) × 2^8
      [0x08, 2 ** -6], // the smallest normal
      [0x01, 2 ** -9], // the smallest subnormal: 1/8 × 2^-6
      [0x7f, NaN], // S.1111.111
      [0x80, -0],
    ];
    const header =
      `{"a":{"dtype":"F8_E5M2","shape":[4],"data_offsets":[0,4]},` +
      `"b":{"dtype":"F8_E4M3","shape":[7],"data_offsets":[4,11]}}`;
    const t = flat(
      loadSafetensors(
        handFile(
          header,
          [...e5m2, ...e4m3].map(([b]) => b),
        ),
      ),
    );
    expectExact(
      t.a!,
      e5m2.map(([, v]) => v),
      "float32",
      [4],
    );
    expectExact(
      t.b!,
      e4m3.map(([, v]) => v),
      "float32",
      [7],
    );
  });

  it("integer dtypes read as int32, and BOOL as bool", () => {
    const header =
      '{"u8":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},' +
      '"i8":{"dtype":"I8","shape":[2],"data_offsets":[2,4]},' +
      '"i16":{"dtype":"I16","shape":[2],"data_offsets":[4,8]},' +
      '"u16":{"dtype":"U16","shape":[1],"data_offsets":[8,10]},' +
      '"u32":{"dtype":"U32","shape":[1],"data_offsets":[10,14]},' +
      '"i64":{"dtype":"I64","shape":[3],"data_offsets":[14,38]},' +
      '"u64":{"dtype":"U64","shape":[1],"data_offsets":[38,46]},' +
      '"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[46,49]}}';
    const data = [
      ...[0, 255], // U8
      ...[0x80, 0x7f], // I8: -128, 127
      ...le(0x8000, 2),
      ...le(0x7fff, 2), // I16: -32768, 32767
      ...le(0xffff, 2), // U16: 65535
      ...le(0x7fffffff, 4), // U32: 2^31 - 1
      ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // I64 -1
      ...[0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff], // I64 -2^31
      ...[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0], // I64 2^31 - 1
      ...[42, 0, 0, 0, 0, 0, 0, 0], // U64 42
      ...[1, 0, 1], // BOOL
    ];
    const t = flat(loadSafetensors(handFile(header, data)));
    expectExact(t.u8!, [0, 255], "int32", [2]);
    expectExact(t.i8!, [-128, 127], "int32", [2]);
    expectExact(t.i16!, [-32768, 32767], "int32", [2]);
    expectExact(t.u16!, [65535], "int32", [1]);
    expectExact(t.u32!, [2 ** 31 - 1], "int32", [1]);
    expectExact(t.i64!, [-1, -(2 ** 31), 2 ** 31 - 1], "int32", [3]);
    expectExact(t.u64!, [42], "int32", [1]);
    expect(t.mask!.dtype).toBe("bool");
    expect(t.mask!.toArray()).toEqual([true, false, true]);
  });

  it("64-bit and unsigned 32-bit values outside int32 throw DTypeError naming the tensor", () => {
    const one = (dtype: string, bytes: number[]) =>
      handFile(`{"big":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,${bytes.length}]}}`, bytes);
    const cases: [string, number[], string][] = [
      ["I64", [0, 0, 0, 0x80, 0, 0, 0, 0], "2147483648"], // 2^31
      ["I64", [0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff], "-2147483649"], // -2^31 - 1
      ["U64", [0, 0, 0, 0, 1, 0, 0, 0], "4294967296"], // 2^32
      ["U32", le(0x80000000, 4), "2147483648"],
    ];
    for (const [dtype, bytes, value] of cases) {
      expect(() => loadSafetensors(one(dtype, bytes))).toThrow(nb.DTypeError);
      expect(() => loadSafetensors(one(dtype, bytes))).toThrow(
        new RegExp(`^loadSafetensors: tensor "big" \\(${dtype}\\) holds ${value}`),
      );
    }
    expect(() => loadSafetensors(one("BOOL", [2]))).toThrow(/^loadSafetensors: .*byte 2/);
  });

  it("reads tensors whose data is not aligned to their element size, in any header order", () => {
    // header of 61 bytes: the F64 tensor starts at file offset 69 + 4, not a multiple of 8
    const header =
      '{"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]},"a":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}';
    const data = [...le(7, 4), ...[0, 0, 0, 0, 0, 0, 0xf0, 0xbf]]; // I32 7; F64 -1 = 0xBFF0000000000000
    const t = flat(loadSafetensors(handFile(header, data)));
    expectExact(t.a!, [7], "int32", []);
    expectExact(t.b!, [-1], "float64", [1]);
  });

  it("reads a view into a larger buffer using only the view's bytes", () => {
    const file = handFile('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', le(0x40400000, 4)); // 3.0
    const big = new Uint8Array(file.length + 64).fill(0xaa);
    big.set(file, 32);
    expectExact(flat(loadSafetensors(big.subarray(32, 32 + file.length))).x!, [3], "float32", [1]);
    expectExact(flat(loadSafetensors(file.slice().buffer)).x!, [3], "float32", [1]);
    // the same file cut short by one byte: the bytes after the view must not be used
    expect(() => loadSafetensors(big.subarray(32, 32 + file.length - 1))).toThrow(
      /^loadSafetensors: .*run past the end/,
    );
  });

  it("does not alias or modify the bytes it reads", () => {
    const file = handFile('{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    const copy = file.slice();
    const x = flat(loadSafetensors(file)).x!;
    expect(file).toEqual(copy);
    file.fill(0);
    expectExact(x, [1], "float64", [1]);
  });
});

// ---------------------------------------------------------------------------
// bad files

/** Asserts that loading throws an error of class `cls` whose message begins "loadSafetensors: " and matches `re`. */
function expectBad(bytes: Uint8Array, re: RegExp, cls: typeof nb.NablaError = nb.NablaError) {
  let err: unknown;
  try {
    loadSafetensors(bytes);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${cls.name} matching ${re}`).toBeInstanceOf(cls);
  const msg = (err as Error).message;
  expect(msg.startsWith("loadSafetensors: "), msg).toBe(true);
  expect(msg).toMatch(re);
}

const T = (info: string) => `{"t":${info}}`;

describe("loadSafetensors: bad files throw NablaError", () => {
  it("truncated before the header length", () => {
    for (const n of [0, 1, 7]) expectBad(new Uint8Array(n), /truncated/);
  });

  it("header length past the end of the file, beyond 2^53, or beyond the format's limit", () => {
    expectBad(handFile("{}", [], { lo: 1, hi: 0 }), /header is not valid JSON/); // "{" alone
    expectBad(handFile("{}", [], { lo: 100, hi: 0 }), /header length 100 runs past the end of the file \(10 bytes\)/);
    expectBad(handFile("{}", [], { lo: 0, hi: 0x200000 }), /beyond 2\^53/); // 2^53
    expectBad(handFile("{}", [], { lo: 0xffffffff, hi: 0xffffffff }), /beyond 2\^53/);
    expectBad(handFile("{}", [], { lo: 0, hi: 1 }), /header length 4294967296 is more than the format's limit/);
    expectBad(handFile("{}", [], { lo: 100_000_001, hi: 0 }), /more than the format's limit/);
    const full = handFile(T('{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'), le(0x3f800000, 4).concat(le(0, 4)));
    for (let cut = 8; cut < full.length; cut++) expectBad(full.subarray(0, cut), /./);
  });

  it("a header that is not UTF-8, not JSON, or not an object", () => {
    expectBad(handFile(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), /not valid UTF-8/);
    expectBad(handFile(""), /must begin with "\{"/);
    expectBad(handFile(" {}"), /must begin with "\{"/);
    expectBad(handFile("[1,2]"), /must begin with "\{"/);
    expectBad(handFile("\ufeff{}"), /must begin with "\{"/);
    for (const h of ["{", "{abc}", "{}x", '{"a":1,}', "{'a':1}", '{"a":01}', '{"a":"\\x"}', '{"a":"\u0001"}', "{} {}"])
      expectBad(handFile(h), /header is not valid JSON/);
    expectBad(handFile('{"\\ud800":{}}'), /lone surrogate/);
    const deep = `{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    expectBad(handFile(deep), /nesting deeper than/);
  });

  it("duplicate names", () => {
    const info = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    expectBad(handFile(`{"a":${info},"a":${info}}`, le(0, 4)), /duplicate key "a"/);
    expectBad(handFile(`{"__metadata__":{},"__metadata__":{}}`), /duplicate key "__metadata__"/);
    expectBad(handFile(`{"__metadata__":{"k":"1","k":"2"}}`), /duplicate key "k"/);
  });

  it("bad __metadata__ and bad tensor descriptions", () => {
    expectBad(handFile('{"__metadata__":[]}'), /"__metadata__" must be an object of strings/);
    expectBad(handFile('{"__metadata__":{"a":1}}'), /"__metadata__" value of "a" is not a string/);
    expectBad(handFile(T("[]")), /tensor "t" must be described by an object/);
    expectBad(handFile(T("3")), /tensor "t" must be described by an object/);
    expectBad(handFile(T('{"shape":[],"data_offsets":[0,0]}')), /no dtype/, nb.DTypeError);
    expectBad(handFile(T('{"dtype":"F128","shape":[],"data_offsets":[0,0]}')), /unknown dtype "F128"/, nb.DTypeError);
    expectBad(handFile(T('{"dtype":"f32","shape":[],"data_offsets":[0,0]}')), /unknown dtype "f32"/, nb.DTypeError);
    // names inherited from Object.prototype are no dtypes either (they once reached the size check)
    for (const name of ["constructor", "toString", "__proto__"])
      expectBad(
        handFile(T(`{"dtype":"${name}","shape":[1],"data_offsets":[0,8]}`), le(0, 8)),
        new RegExp(`unknown dtype "${name}"`),
        nb.DTypeError,
      );
    expectBad(handFile(T('{"dtype":"F8_E8M0","shape":[],"data_offsets":[0,1]}'), [0]), /cannot read/, nb.DTypeError);
    expectBad(handFile(T('{"dtype":"F32","data_offsets":[0,0]}')), /no shape array/, nb.ShapeError);
    expectBad(handFile(T('{"dtype":"F32","shape":[],"data_offsets":[0]}')), /data_offsets must be an array/);
    expectBad(handFile(T('{"dtype":"F32","shape":[],"data_offsets":[0,4,8]}')), /data_offsets must be an array/);
    expectBad(handFile(T('{"dtype":"F32","shape":[],"data_offsets":["0",4]}'), le(0, 4)), /must be an integer/);
  });

  it("bad shape entries: negative, fractional, non-integer syntax, too large", () => {
    const withShape = (s: string) => handFile(T(`{"dtype":"F32","shape":${s},"data_offsets":[0,4]}`), le(0, 4));
    expectBad(withShape("[-1]"), /shape\[0\] is negative \(-1\)/, nb.ShapeError);
    expectBad(withShape("[1.5]"), /shape\[0\] must be an integer, got 1.5/);
    expectBad(withShape("[1.0]"), /shape\[0\] must be an integer, got 1.0/);
    expectBad(withShape("[1e0]"), /shape\[0\] must be an integer, got 1e0/);
    expectBad(withShape("[null]"), /shape\[0\] must be an integer, got null/);
    expectBad(withShape("[9007199254740993]"), /shape\[0\] is too large/);
    expectBad(withShape("[65536,65536]"), /shape \[65536,65536\]: more than 2\^31 - 1 elements/, nb.ShapeError);
    expectBad(withShape("[0,4294967296]"), /more than 2\^31 - 1 elements/, nb.ShapeError);
    const manyDims = `[${Array(40)
      .fill(2 ** 31 - 1)
      .join(",")}]`; // a product that overflows to Infinity
    expectBad(withShape(manyDims), /more than 2\^31 - 1 elements/, nb.ShapeError);
    const empty = `[${Array(40)
      .fill(2 ** 31 - 1)
      .join(",")},0]`; // ... unless a zero makes it empty
    expectBad(
      handFile(T(`{"dtype":"F32","shape":${empty},"data_offsets":[0,4]}`), le(0, 4)),
      /needs 0 bytes/,
      nb.ShapeError,
    );
  });

  it("offsets out of range, end before begin, overlapping, with holes, or not covering the data", () => {
    const f32 = (offsets: string) => `{"dtype":"F32","shape":[1],"data_offsets":${offsets}}`;
    const two = (a: string, b: string) => `{"a":${f32(a)},"b":${f32(b)}}`;
    expectBad(handFile(T(f32("[0,4]")), [0, 0]), /run past the end of the data \(2 bytes\)/);
    expectBad(handFile(T(f32("[8,4]")), le(0, 4)), /end before they begin/);
    expectBad(handFile(T(f32("[-4,0]")), le(0, 4)), /negative/, nb.ShapeError);
    expectBad(handFile(two("[0,4]", "[0,4]"), le(0, 8)), /overlaps/);
    expectBad(handFile(two("[0,4]", "[2,6]"), le(0, 8)), /overlaps/);
    expectBad(handFile(two("[0,4]", "[6,10]"), le(0, 10)), /bytes \[4,6\) of the buffer belong to no tensor/);
    expectBad(handFile(T(f32("[2,6]")), le(0, 6)), /bytes \[0,2\) of the buffer belong to no tensor/);
    expectBad(handFile(T(f32("[0,4]")), le(0, 5)), /1 bytes after the last tensor/);
    expectBad(handFile("{}", [0]), /1 bytes after the last tensor/);
    expectBad(
      handFile(T('{"dtype":"F32","shape":[2],"data_offsets":[0,4]}'), le(0, 4)),
      /needs 8 bytes/,
      nb.ShapeError,
    );
    expectBad(
      handFile(T('{"dtype":"F64","shape":[0],"data_offsets":[0,8]}'), le(0, 8)),
      /needs 0 bytes/,
      nb.ShapeError,
    );
  });

  it("a nabla tree description that does not match the tensors", () => {
    const file = (tree: string) => {
      const meta = JSON.stringify({ "nabla.pytree": tree });
      return handFile(`{"__metadata__":${meta},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, le(0, 4));
    };
    expect(flat(loadSafetensors(file('{"v":1,"tree":{"w":"a"}}'))).w!.shape).toEqual([]);
    expectBad(file("{"), /metadata "nabla.pytree" is not valid JSON/);
    expectBad(file("[]"), /metadata "nabla.pytree" is not an object/);
    expectBad(file('{"v":2,"tree":"a"}'), /format version 2/);
    expectBad(file('{"v":1,"tree":"b"}'), /names tensor "b", which the file does not have/);
    expectBad(file('{"v":1,"tree":["a","a"]}'), /names tensor "a" twice/);
    expectBad(file('{"v":1,"tree":[]}'), /does not mention tensor "a"/);
    expectBad(file('{"v":1,"tree":["a",1]}'), /is not a tree description/);
  });

  it("input that is not bytes", () => {
    for (const bad of ["abc", 42, null, [1, 2, 3], new Int32Array(4)])
      expect(() => loadSafetensors(bad as unknown as Uint8Array)).toThrow(
        /^loadSafetensors: expected the file's bytes/,
      );
    expect(() => safetensorsMetadata(new Uint8Array(2))).toThrow(/^safetensorsMetadata: truncated/);
  });

  it("random byte mutations and truncations of valid files load or throw NablaError, never anything else", () => {
    const hand = handFile(
      '{"__metadata__":{"format":"pt"},"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},' +
        '"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"i":{"dtype":"I64","shape":[1],"data_offsets":[6,14]},' +
        '"m":{"dtype":"BOOL","shape":[2],"data_offsets":[14,16]}}  ',
      [...le(0x3c00, 2), ...le(0xc000, 2), ...le(0x3f80, 2), ...[5, 0, 0, 0, 0, 0, 0, 0], 1, 0],
    );
    const ours = saveSafetensors({
      w: [nb.array([[1, 2, 3]]), nb.array(new Float32Array([0.5]))],
      n: nb.array([1, 2], { dtype: "int32" }),
      m: { "a.b": nb.array([true]), e: nb.zeros([0, 2]) },
      u: null,
    });
    // JSON punctuation and digits as mutation bytes reach deeper validation than random bytes alone
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...enc.encode('0123456789,:[]{}"-.e ')));
    const edit = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte }),
      fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), byte }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(hand, ours),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat()),
        (file, edits, cut) => {
          const bytes = Array.from(file);
          for (const e of edits) {
            const at = e.at % (bytes.length + 1);
            if (e.kind === "set" && at < bytes.length) bytes[at] = e.byte;
            else if (e.kind === "insert") bytes.splice(at, 0, e.byte);
            else bytes.splice(at, 1);
          }
          const input = new Uint8Array(cut === null ? bytes : bytes.slice(0, cut % (bytes.length + 1)));
          try {
            loadSafetensors(input);
          } catch (err) {
            if (!(err instanceof nb.NablaError)) throw err;
            expect(err.message.startsWith("loadSafetensors: ")).toBe(true);
          }
        },
      ),
      { numRuns: 1500, seed: 20261201 },
    );
  });
});

// ---------------------------------------------------------------------------
// writing and round trips

/** Same dtype, shape and bytes. */
function expectSameArray(got: unknown, want: nb.NDArray, at: string) {
  expect(got, at).toBeInstanceOf(nb.NDArray);
  const g = got as nb.NDArray;
  expect([at, g.dtype, g.shape]).toEqual([at, want.dtype, want.shape]);
  const a = g.toTypedArray();
  const b = want.toTypedArray();
  expect([at, Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))]).toEqual([
    at,
    Array.from(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
  ]);
}

/** The same nested plain objects and arrays, null/undefined in the same places, bit-identical leaves. */
function expectSameTree(got: unknown, want: unknown, at = "root") {
  if (want instanceof nb.NDArray) return expectSameArray(got, want, at);
  if (want === null || want === undefined) return expect(got, at).toBe(want);
  if (Array.isArray(want)) {
    expect(Array.isArray(got), at).toBe(true);
    expect((got as unknown[]).length, at).toBe(want.length);
    want.forEach((w, i) => expectSameTree((got as unknown[])[i], w, `${at}[${i}]`));
    return;
  }
  expect(Object.getPrototypeOf(got), at).toBe(Object.prototype);
  const keys = Object.keys(want as object).sort();
  expect(Object.keys(got as object).sort(), at).toEqual(keys);
  for (const k of keys)
    expectSameTree(
      (got as Record<string, unknown>)[k],
      (want as Record<string, unknown>)[k],
      `${at}.${JSON.stringify(k)}`,
    );
}

/** Sets an own property even for the key "__proto__". */
function own(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** The header of a file, parsed independently of the reader (JSON.parse and byte arithmetic). */
function headerOf(bytes: Uint8Array): { n: number; header: Record<string, any> } {
  const n = bytes[0]! + bytes[1]! * 2 ** 8 + bytes[2]! * 2 ** 16 + bytes[3]! * 2 ** 24;
  expect(Array.from(bytes.subarray(4, 8))).toEqual([0, 0, 0, 0]);
  return { n, header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

const SPECIALS64 = [-0, NaN, Infinity, -Infinity, 2 ** -1074, 2 ** -1022, Number.MAX_VALUE, 0.1];
const SPECIALS32 = [-0, NaN, Infinity, -Infinity, 2 ** -149, 2 ** -126, 3.4028234663852886e38, 0.1];

const EVERYTHING = {
  layers: [
    { w: nb.array(new Float64Array(SPECIALS64), { shape: [2, 4] }), b: nb.array(new Float32Array(SPECIALS32)) },
    { w: nb.array(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1])), b: nb.array([true, false, true]) },
  ],
  scalars: {
    f64: nb.array(3.5),
    f32: nb.array(new Float32Array([0.25]), { shape: [] }),
    i32: nb.array(7, { dtype: "int32" }),
  },
  bool0: nb.array(true),
  empty: [
    nb.zeros([0, 3]),
    nb.zeros([0], { dtype: "int32" }),
    nb.zeros([2, 0], { dtype: "bool" }),
    nb.zeros([0], { dtype: "float32" }),
  ],
  nothing: null,
  missing: undefined,
  emptyList: [],
  emptyObject: {},
  keys: own([
    ["a.b", nb.array([1])],
    ["%2E", nb.array([2])],
    ["100%", nb.array([3])],
    ["__proto__", nb.array([4])],
    ["__metadata__", nb.array([5])],
    ["", nb.array([6])],
    ["ünïcødé ✓ 🚀", nb.array([7])],
    ['a"b\\c\n', nb.array([8])],
  ]),
};

describe("saveSafetensors → loadSafetensors", () => {
  it("round-trips nested trees of every dtype bit for bit: 0-d, empty, -0, NaN, ±Infinity, subnormals", () => {
    const bytes = saveSafetensors(EVERYTHING);
    expectSameTree(loadSafetensors(bytes), EVERYTHING);
  });

  it("round-trips a top-level __metadata__ key and other awkward keys as keys", () => {
    const tree = own([
      ["__metadata__", nb.array([1])],
      ["%5F_metadata__", nb.array([2])],
      ["__proto__", { x: nb.array([3]) }],
    ]);
    const back = loadSafetensors(saveSafetensors(tree));
    expectSameTree(back, tree);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it("round-trips a single array, an empty tree and null", () => {
    for (const t of [nb.array([[1, 2]]), {}, [], null, [[], { a: [null, undefined] }]])
      expectSameTree(loadSafetensors(saveSafetensors(t)), t);
  });

  it("writes a file that follows the specification", () => {
    const bytes = saveSafetensors(EVERYTHING, { metadata: { format: "pt", note: "ünï" } });
    const { n, header } = headerOf(bytes);
    expect(n % 8).toBe(0); // padded with spaces to a multiple of 8
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.startsWith("{")).toBe(true);
    expect(/^[^ ]*\} *$/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""'))).toBe(true);
    const { __metadata__: meta, ...tensors } = header;
    expect(meta.format).toBe("pt");
    expect(meta.note).toBe("ünï");
    expect(Object.values(meta).every((v) => typeof v === "string")).toBe(true);
    const size: Record<string, number> = { F64: 8, F32: 4, I32: 4, BOOL: 1 };
    const infos = Object.values(tensors) as { dtype: string; shape: number[]; data_offsets: [number, number] }[];
    expect(infos.length).toBe(20); // 4 + 3 + 1 + 4 + 8 leaves
    infos.sort((a, b) => a.data_offsets[0] - b.data_offsets[0] || a.data_offsets[1] - b.data_offsets[1]);
    let end = 0;
    for (const t of infos) {
      expect(Object.keys(size)).toContain(t.dtype);
      expect(t.data_offsets[0]).toBe(end); // contiguous, no holes, no overlap
      expect(t.data_offsets[1] - t.data_offsets[0]).toBe(t.shape.reduce((p, d) => p * d, 1) * size[t.dtype]!);
      expect((8 + n + t.data_offsets[0]) % size[t.dtype]!).toBe(0); // aligned to the element size
      end = t.data_offsets[1];
    }
    expect(8 + n + end).toBe(bytes.length);
    // tensor names are the escaped paths
    expect(Object.keys(tensors)).toEqual(
      expect.arrayContaining([
        "layers.0.w",
        "layers.1.b",
        "scalars.f64",
        "bool0",
        "empty.0",
        "keys.a%2Eb",
        "keys.%252E",
        "keys.100%25",
        "keys.__proto__",
        "keys.__metadata__",
        "keys.",
      ]),
    );
    expect(tensors["layers.0.w"]).toEqual({ dtype: "F64", shape: [2, 4], data_offsets: expect.any(Array) });
    // the data are little-endian: layers.1.w holds -2^31 first
    const w = tensors["layers.1.w"] as { data_offsets: [number, number] };
    expect(Array.from(bytes.subarray(8 + n + w.data_offsets[0], 8 + n + w.data_offsets[0] + 4))).toEqual([
      0, 0, 0, 0x80,
    ]);
  });

  it("user metadata round-trips through safetensorsMetadata; the tree description is stored beside it", () => {
    const bytes = saveSafetensors({ w: nb.ones([1]) }, { metadata: { format: "pt", "": "empty key" } });
    const meta = safetensorsMetadata(bytes);
    expect(meta.format).toBe("pt");
    expect(meta[""]).toBe("empty key");
    expect(JSON.parse(meta["nabla.pytree"]!)).toEqual({ v: 1, tree: { w: "w" } });
    expect(safetensorsMetadata(saveSafetensors([nb.ones([1])]))["nabla.pytree"]).toBe('{"v":1,"tree":["0"]}');
    const nested = { a: [null, { "b.c": nb.ones([1]) }], u: undefined };
    expect(JSON.parse(safetensorsMetadata(saveSafetensors(nested))["nabla.pytree"]!)).toEqual({
      v: 1,
      tree: { a: [null, { "b.c": "a.1.b%2Ec" }], u: false },
    });
  });

  it("a file without nabla's tree description loads flat, with dotted names kept as keys", () => {
    const header =
      '{"a.b":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}';
    const t = flat(loadSafetensors(handFile(header, [...le(0x3f800000, 4), ...le(0x40000000, 4)])));
    expect(Object.keys(t).sort()).toEqual(["a", "a.b"]);
    expectExact(t["a.b"]!, [1], "float32", []);
    expectExact(t.a!, [2], "float32", []);
  });

  it("property: random trees of random arrays (random bit patterns) round-trip exactly", () => {
    const key = fc.oneof(
      fc.string({ unit: "binary", maxLength: 4 }),
      fc.constantFrom(".", "%", "%2E", "__proto__", "__metadata__", "", "0"),
    );
    const shape = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });
    const leaf = fc.tuple(fc.constantFrom("float64", "float32", "int32", "bool"), shape).chain(([dtype, s]) => {
      const n = s.reduce((p, d) => p * d, 1);
      const width = dtype === "float64" ? 8 : dtype === "bool" ? 1 : 4;
      return fc.uint8Array({ minLength: n * width, maxLength: n * width }).map((raw) => {
        if (dtype === "bool")
          return nb.array(new Int32Array(Array.from(raw, (b) => b & 1)), { shape: s }).astype("bool");
        const buf = raw.slice().buffer;
        const typed =
          dtype === "float64"
            ? new Float64Array(buf)
            : dtype === "float32"
              ? new Float32Array(buf)
              : new Int32Array(buf);
        return nb.array(typed, { shape: s });
      });
    });
    const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
      tree: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie("tree"), { maxLength: 3 }),
        fc.uniqueArray(fc.tuple(key, tie("tree")), { maxLength: 3, selector: (e) => e[0] }).map(own),
      ),
    }));
    fc.assert(
      fc.property(tree, (t) => {
        expectSameTree(loadSafetensors(saveSafetensors(t)), t);
      }),
      { numRuns: 200, seed: 9 },
    );
  });

  it("property: tensor names split back into the path that made them", () => {
    const seg = fc.oneof(
      fc.string({ unit: "binary", maxLength: 5 }),
      fc.constantFrom(".", "%", "%25", "%2E", "%5F", "__metadata__"),
    );
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 4 }), (path) => {
        const name = safetensorsName(path);
        expect(name).not.toBe("__metadata__");
        expect(safetensorsPath(name)).toEqual(path);
      }),
      { numRuns: 500, seed: 3 },
    );
    expect(safetensorsName(["layers", 0, "w"])).toBe("layers.0.w");
    expect(safetensorsName(["a.b", "c%"])).toBe("a%2Eb.c%25");
    expect(safetensorsName(["__metadata__"])).toBe("%5F_metadata__");
    expect(safetensorsName(["x", "__metadata__"])).toBe("x.__metadata__");
  });

  it("does not modify the tree it saves", () => {
    const tree = { a: [nb.array([1, 2])], b: nb.array(new Float32Array([3])) };
    const before = { keys: Object.keys(tree), a: tree.a[0]!.toArray(), b: tree.b.toArray(), len: tree.a.length };
    saveSafetensors(tree);
    expect({ keys: Object.keys(tree), a: tree.a[0]!.toArray(), b: tree.b.toArray(), len: tree.a.length }).toEqual(
      before,
    );
  });
});

describe("saveSafetensors: what cannot be saved throws NablaError", () => {
  class Point {
    constructor(
      readonly x: nb.NDArray,
      readonly y: nb.NDArray,
    ) {}
  }
  nb.tree.register(
    Point,
    (p: Point) => [[p.x, p.y], null],
    (_m: unknown, [x, y]: unknown[]) => new Point(x as nb.NDArray, y as nb.NDArray),
  );

  const expectSaveError = (tree: unknown, re: RegExp, cls: typeof nb.NablaError = nb.NablaError, options?: object) => {
    let err: unknown;
    try {
      saveSafetensors(tree, options as never);
    } catch (e) {
      err = e;
    }
    expect(err, String(re)).toBeInstanceOf(cls);
    expect((err as Error).message).toMatch(/^saveSafetensors: /);
    expect((err as Error).message).toMatch(re);
  };

  it("non-array leaves, class instances (registered or not), cycles, too deep trees", () => {
    expectSaveError({ a: { lr: 0.1 } }, /the leaf at "a\.lr" is a number; .* \(wrap numbers with nb\.array\)/);
    expectSaveError([true], /the leaf at "0" is a boolean/);
    expectSaveError({ s: "text" }, /is a string/);
    expectSaveError({ f: () => 1 }, /is a function/);
    expectSaveError(
      { p: new Point(nb.array(1), nb.array(2)) },
      /instance of Point.*registered pytree classes are not saved/,
    );
    expectSaveError({ m: new Map() }, /instance of Map/);
    expectSaveError(new Float64Array(2), /the leaf at the root is an instance of Float64Array/);
    const cyclic: Record<string, unknown> = { w: nb.array([1]) };
    cyclic.self = cyclic;
    expectSaveError(cyclic, /cycle at "self"/);
    let deep: unknown = nb.array([1]);
    for (let d = 0; d < MAX_TREE_DEPTH; d++) deep = [deep];
    expect(() => saveSafetensors(deep)).not.toThrow();
    expectSaveError([deep], /nested deeper than 200/);
  });

  it("bad metadata, invalid Unicode in keys", () => {
    const tree = { w: nb.array([1]) };
    expectSaveError(tree, /options\.metadata\["n"\] must be a string/, nb.NablaError, { metadata: { n: 1 } });
    expectSaveError(tree, /options\.metadata must be an object/, nb.NablaError, { metadata: "x" });
    expectSaveError(tree, /"nabla\.pytree" is reserved/, nb.NablaError, { metadata: { "nabla.pytree": "{}" } });
    expectSaveError({ "\ud800": nb.array([1]) }, /not valid Unicode/);
    expectSaveError(tree, /not valid Unicode/, nb.NablaError, { metadata: { k: "\udc00" } });
  });

  it("a traced value under jit throws TracerError", () => {
    let err: unknown;
    try {
      nb.jit((x: nb.NDArray) => {
        saveSafetensors({ x });
        return x;
      })(nb.array([1, 2]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(nb.TracerError);
    expect((err as Error).message).toMatch(/^saveSafetensors: the array at "x" is a traced value/);
  });
});

// ---------------------------------------------------------------------------
// files

describe("saveFile / loadFile (Node)", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nabla-io-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("round-trip through a file whose bytes are those of saveSafetensors", () => {
    const path = join(dir, "params.safetensors");
    saveFile(path, EVERYTHING, { metadata: { format: "pt" } });
    expect(Array.from(readFileSync(path))).toEqual(
      Array.from(saveSafetensors(EVERYTHING, { metadata: { format: "pt" } })),
    );
    expectSameTree(loadFile(path), EVERYTHING);
  });

  it("file-system errors and bad files throw NablaError naming the function and the path", () => {
    const missing = join(dir, "missing.safetensors");
    expect(() => loadFile(missing)).toThrow(nb.NablaError);
    expect(() => loadFile(missing)).toThrow(/^loadFile: cannot read ".*missing\.safetensors": .*ENOENT/);
    expect(() => saveFile(join(dir, "no", "such", "dir", "x.safetensors"), { w: nb.array([1]) })).toThrow(
      /^saveFile: cannot write ".*x\.safetensors"/,
    );
    const bad = join(dir, "bad.safetensors");
    writeFileSync(bad, new Uint8Array([1, 2, 3]));
    expect(() => loadFile(bad)).toThrow(/^loadFile: truncated file/);
    expect(() => saveFile(join(dir, "y"), { a: 1 })).toThrow(/^saveFile: the leaf at "a" is a number/);
    expect(() => loadFile(3 as unknown as string)).toThrow(/^loadFile: the path must be a string/);
  });
});

describe("the browser build of nabla/io", () => {
  it("has the same exports; its file functions throw NablaError", () => {
    expect(Object.keys(browserIo).sort()).toEqual(Object.keys(nodeIo).sort());
    expect(() => browserIo.saveFile("x", {})).toThrow(/^saveFile: needs Node's file system/);
    expect(() => browserIo.loadFile("x")).toThrow(nb.NablaError);
    const back = browserIo.loadSafetensors(browserIo.saveSafetensors({ w: nb.array([1]) }));
    expectSameTree(back, { w: nb.array([1]) });
  });

  it("bundles for browsers without any Node module", async () => {
    const result = await build({
      entryPoints: [join(import.meta.dirname, "..", "src", "io", "index.browser.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((f) => f.endsWith("src/io/codec.ts"))).toBe(true);
    expect(inputs.filter((f) => f.startsWith("node:") || f.endsWith("src/io/node.ts"))).toEqual([]);
    expect(result.outputFiles[0]!.text).not.toMatch(/node:fs/);
  });
});

describe("bad input: nabla/io", () => {
  it("holey arrays are refused as tree.flatten refuses them (a hole is not an undefined entry)", () => {
    // eslint-disable-next-line no-sparse-arrays
    const holey = [nb.ones([1]), , nb.zeros([1])];
    expect(() => nb.tree.flatten(holey)).toThrow(/hole/); // the rule saveSafetensors follows
    const e = nablaError(() => saveSafetensors({ s: holey }), "saveSafetensors");
    expect(e.message).toContain("hole");
    expect(e.message).toContain("index 1");
    expect(e.message).toContain('"s"');
    // deeper, and at the root
    nablaError(() => saveSafetensors({ a: [{ b: new Array(2) }] }), "saveSafetensors");
    nablaError(() => saveSafetensors(new Array(1)), "saveSafetensors");
    // an explicit undefined entry is still a kept empty node
    const back = loadSafetensors(saveSafetensors([nb.ones([1]), undefined])) as unknown[];
    expect(back.length).toBe(2);
    expect(1 in back).toBe(true);
    expect(back[1]).toBeUndefined();
  });

  it("unknown option keys are refused (a typo would drop the metadata silently), and metadata must be a plain object", () => {
    const tree = { a: nb.ones([1]) };
    const e = nablaError(() => saveSafetensors(tree, { metdata: { k: "v" } } as never), "saveSafetensors");
    expect(e.message).toBe('saveSafetensors: unknown option "metdata" (the options are "metadata")');
    nablaError(() => saveSafetensors(tree, 3 as never), "saveSafetensors");
    nablaError(() => saveSafetensors(tree, { metadata: new Map([["k", "v"]]) } as never), "saveSafetensors");
    const dir = mkdtempSync(join(tmpdir(), "nabla-io-opts-"));
    try {
      const path = join(dir, "x.safetensors");
      nablaError(() => saveFile(path, tree, { metdata: {} } as never), "saveFile");
      nablaError(() => saveFile(path, [nb.ones([1]), , nb.ones([1])]), "saveFile"); // eslint-disable-line no-sparse-arrays
      expect(() => readFileSync(path)).toThrow(); // nothing written
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("safetensorsName and safetensorsPath check their arguments", () => {
    nablaError(() => safetensorsName("a" as never), "safetensorsName");
    nablaError(() => safetensorsName(undefined as never), "safetensorsName");
    nablaError(() => safetensorsName([{}] as never), "safetensorsName");
    nablaError(() => safetensorsName([1.5]), "safetensorsName"); // "1.5" would split back into two keys
    nablaError(() => safetensorsName([-1]), "safetensorsName");
    nablaError(() => safetensorsName(new Array(1)), "safetensorsName");
    nablaError(() => safetensorsPath(3 as never), "safetensorsPath");
    nablaError(() => safetensorsPath(["a"] as never), "safetensorsPath");
    expect(safetensorsName(["layers", 0, "w"])).toBe("layers.0.w");
  });
});
