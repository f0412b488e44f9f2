/**
 * The safetensors file format (Hugging Face; read by PyTorch, JAX/Flax, MLX, candle, ...):
 *
 * ```text
 * 8 bytes   N, the header length: an unsigned 64-bit little-endian integer
 * N bytes   the header: UTF-8 JSON beginning with "{", possibly padded with trailing spaces:
 *           { "__metadata__": { string: string, ... },                     (optional)
 *             "<tensor name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *             ... }
 * the rest  the byte buffer: each tensor's elements, row-major and little-endian, at
 *           [begin, end) counted from the first byte after the header
 * ```
 *
 * Reading follows the format's rules strictly: no duplicate names, `__metadata__` maps strings
 * to strings, the tensors' byte ranges tile the buffer exactly (no overlap, no hole, nothing
 * after the last tensor), every range has exactly `prod(shape) × sizeof(dtype)` bytes, and the
 * header is at most 100 000 000 bytes (the reference implementation's limit). A file that
 * breaks a rule is rejected with a `NablaError` before anything is read out of bounds.
 *
 * @internal The public functions are re-exported by `nabla/io`.
 */
import { DTypeError, NDArray, NablaError, ShapeError, TracerError, array } from "../index.js";
import type { DType } from "../index.js";
import { fmtValue } from "../core/errors.js";
import { readOptions } from "../core/options.js";
import { Json, JsonNumber, parseJson } from "./json.js";

/**
 * What `loadSafetensors` returns and `saveSafetensors` writes: `NDArray` leaves in nested
 * arrays and plain objects, with `null`/`undefined` as empty nodes.
 * @example
 * import * as nb from "nabla";
 * import type { SafetensorsTree } from "nabla/io";
 * const tree: SafetensorsTree = { layers: [{ w: nb.ones([2, 2]) }], frozen: null };
 */
export type SafetensorsTree =
  NDArray | null | undefined | readonly SafetensorsTree[] | { readonly [key: string]: SafetensorsTree };

/**
 * Options of {@link saveSafetensors}.
 * @example
 * import type { SaveSafetensorsOptions } from "nabla/io";
 * const options: SaveSafetensorsOptions = { metadata: { format: "pt", epoch: "3" } };
 */
export interface SaveSafetensorsOptions {
  /** Extra `__metadata__` entries (strings to strings), e.g. `{ format: "pt" }`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * The largest header accepted, in bytes (the limit of the reference implementation).
 * @example
 * import { MAX_HEADER_BYTES } from "nabla/io";
 * MAX_HEADER_BYTES; // 100000000
 */
export const MAX_HEADER_BYTES = 100_000_000;
/**
 * The `__metadata__` key under which nabla stores the tree structure (as JSON).
 * @example
 * import * as nb from "nabla";
 * import { TREE_METADATA_KEY, saveSafetensors, safetensorsMetadata } from "nabla/io";
 * safetensorsMetadata(saveSafetensors([nb.ones([1])]))[TREE_METADATA_KEY]; // '{"v":1,"tree":["0"]}'
 */
export const TREE_METADATA_KEY = "nabla.pytree";
/**
 * The deepest nesting of arrays and objects that `saveSafetensors` writes (deeper throws `NablaError`).
 * @example
 * import * as nb from "nabla";
 * import { MAX_TREE_DEPTH, saveSafetensors } from "nabla/io";
 * let deep: unknown = nb.ones([1]);
 * for (let d = 0; d < MAX_TREE_DEPTH; d++) deep = [deep];
 * saveSafetensors(deep); // fine; one more level throws
 */
export const MAX_TREE_DEPTH = 200;
const TREE_FORMAT_VERSION = 1;
const MAX_ELEMENTS = 2 ** 31 - 1;

// ---------------------------------------------------------------------------
// dtypes

/** How one safetensors dtype is read: its element size, nabla dtype, and element decoder. */
interface FileDType {
  readonly size: number;
  readonly to: DType;
  /** Decodes `n` elements starting at byte `at` of `dv`, or returns the bad element index and value. */
  readonly read: (dv: DataView, at: number, n: number) => Float64Array | Float32Array | Int32Array | Uint8Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE binary16 → number (exact: every half is a float32). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24; // zero and subnormals
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** OCP FP8 E4M3 (the "fn" variant: no infinities, S.1111.111 is NaN) → number. */
function e4m3ToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return sign * m * 2 ** -9;
  return sign * (8 + m) * 2 ** (e - 10);
}

/**
 * An element decoder for small types, one element at a time; `reject` names a value that has no
 * exact counterpart in the target dtype (it is then reported as an {@link Inexact} element).
 */
function each<T extends Float32Array | Int32Array | Uint8Array>(
  make: (n: number) => T,
  size: number,
  get: (dv: DataView, at: number) => number,
  reject?: (v: number) => string | undefined,
): FileDType["read"] {
  return (dv, at, n) => {
    const out = make(n);
    for (let i = 0; i < n; i++) {
      const v = get(dv, at + i * size);
      const why = reject?.(v);
      if (why !== undefined) throw new Inexact(i, why);
      out[i] = v;
    }
    return out;
  };
}

/** Thrown by a decoder when an element has no exact value in the target dtype. */
class Inexact {
  constructor(
    readonly index: number,
    readonly value: string,
  ) {}
}

/** 64-bit integers → int32, exactly or not at all. */
function int64ToInt32(signed: boolean): FileDType["read"] {
  return (dv, at, n) => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const lo = dv.getUint32(at + 8 * i, true);
      const hi = signed ? dv.getInt32(at + 8 * i + 4, true) : dv.getUint32(at + 8 * i + 4, true);
      if ((hi === 0 && lo <= 0x7fffffff) || (hi === -1 && lo >= 0x80000000)) out[i] = lo | 0;
      else {
        const big = (BigInt(hi) << 32n) | BigInt(lo);
        throw new Inexact(i, big.toString());
      }
    }
    return out;
  };
}

/** Copies little-endian storage straight into a typed array (fast path on little-endian hosts). */
function direct<T extends Float64Array | Float32Array | Int32Array>(
  Ctor: { new (b: ArrayBuffer): T; new (n: number): T },
  size: number,
  get: (dv: DataView, at: number) => number,
): FileDType["read"] {
  return (dv, at, n) => {
    if (LITTLE_ENDIAN)
      return new Ctor(dv.buffer.slice(dv.byteOffset + at, dv.byteOffset + at + n * size) as ArrayBuffer);
    const out = new Ctor(n);
    for (let i = 0; i < n; i++) out[i] = get(dv, at + i * size);
    return out;
  };
}

const f32 = (n: number) => new Float32Array(n);
const i32 = (n: number) => new Int32Array(n);
const u8 = (n: number) => new Uint8Array(n);

/** The dtypes nabla reads, by safetensors name. */
const READ: Readonly<Record<string, FileDType>> = {
  F64: { size: 8, to: "float64", read: direct(Float64Array, 8, (dv, a) => dv.getFloat64(a, true)) },
  F32: { size: 4, to: "float32", read: direct(Float32Array, 4, (dv, a) => dv.getFloat32(a, true)) },
  F16: { size: 2, to: "float32", read: each(f32, 2, (dv, a) => halfToNumber(dv.getUint16(a, true))) },
  BF16: {
    size: 2,
    to: "float32",
    // bfloat16 is the top half of a float32: widen the bits (keeps NaN payloads too)
    read: (dv, at, n) => {
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(at + 2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    },
  },
  F8_E5M2: { size: 1, to: "float32", read: each(f32, 1, (dv, a) => halfToNumber(dv.getUint8(a) << 8)) },
  F8_E4M3: { size: 1, to: "float32", read: each(f32, 1, (dv, a) => e4m3ToNumber(dv.getUint8(a))) },
  I32: { size: 4, to: "int32", read: direct(Int32Array, 4, (dv, a) => dv.getInt32(a, true)) },
  I16: { size: 2, to: "int32", read: each(i32, 2, (dv, a) => dv.getInt16(a, true)) },
  U16: { size: 2, to: "int32", read: each(i32, 2, (dv, a) => dv.getUint16(a, true)) },
  I8: { size: 1, to: "int32", read: each(i32, 1, (dv, a) => dv.getInt8(a)) },
  U8: { size: 1, to: "int32", read: each(i32, 1, (dv, a) => dv.getUint8(a)) },
  U32: {
    size: 4,
    to: "int32",
    read: each(
      i32,
      4,
      (dv, a) => dv.getUint32(a, true),
      (v) => (v > 0x7fffffff ? String(v) : undefined),
    ),
  },
  I64: { size: 8, to: "int32", read: int64ToInt32(true) },
  U64: { size: 8, to: "int32", read: int64ToInt32(false) },
  BOOL: {
    size: 1,
    to: "bool",
    read: each(
      u8,
      1,
      (dv, a) => dv.getUint8(a),
      (b) => (b > 1 ? `byte ${b}` : undefined),
    ),
  },
};

/** The reader of a safetensors dtype name; undefined for a name nabla does not read (own keys only). */
function fileDType(name: string): FileDType | undefined {
  return Object.hasOwn(READ, name) ? READ[name] : undefined;
}

/** Dtypes of the format that nabla cannot read (sub-byte or exotic floats, complex). */
const UNSUPPORTED = new Set(["F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64", "C128", "F8_E4M3FNUZ", "F8_E5M2FNUZ"]);

/** The safetensors dtype written for each nabla dtype. */
const WRITE: Readonly<Record<DType, { name: string; size: number }>> = {
  float64: { name: "F64", size: 8 },
  float32: { name: "F32", size: 4 },
  int32: { name: "I32", size: 4 },
  bool: { name: "BOOL", size: 1 },
};

// ---------------------------------------------------------------------------
// tensor names

/**
 * The tensor name of a pytree path: the keys and indices joined by `"."`, with `"%"` written
 * `"%25"` and `"."` written `"%2E"` inside a key (so the name splits back into the same keys),
 * and the one name the format reserves, `"__metadata__"`, written `"%5F_metadata__"`.
 * @example
 * import { safetensorsName } from "nabla/io";
 * safetensorsName(["layers", 0, "w"]); // "layers.0.w"
 * safetensorsName(["a.b", "c%"]);      // "a%2Eb.c%25"
 */
export function safetensorsName(path: readonly (string | number)[]): string {
  if (!Array.isArray(path))
    throw new NablaError(`safetensorsName: path must be an array of keys and indices, got ${fmtValue(path)}`);
  for (let i = 0; i < path.length; i++) {
    if (!Object.hasOwn(path, i)) throw new NablaError(`safetensorsName: path has a hole at index ${i} (a holey array)`);
    const k: unknown = path[i];
    if (typeof k !== "string" && !(typeof k === "number" && Number.isSafeInteger(k) && k >= 0))
      throw new NablaError(
        `safetensorsName: path[${i}] must be a string key or a non-negative integer index, got ${fmtValue(k)}`,
      );
  }
  const name = path.map((k) => String(k).replace(/%/g, "%25").replace(/\./g, "%2E")).join(".");
  return name === "__metadata__" ? "%5F_metadata__" : name;
}

/**
 * The pytree path (keys and indices, as strings) that {@link safetensorsName} encoded.
 * @example
 * import { safetensorsPath } from "nabla/io";
 * safetensorsPath("layers.0.w"); // ["layers", "0", "w"]
 * safetensorsPath("a%2Eb.c%25"); // ["a.b", "c%"]
 */
export function safetensorsPath(name: string): string[] {
  if (typeof name !== "string") throw new NablaError(`safetensorsPath: name must be a string, got ${fmtValue(name)}`);
  // the pattern matches these three escapes only
  return name.split(".").map((k) => k.replace(/%(?:25|2E|5F)/g, (m) => (m === "%25" ? "%" : m === "%2E" ? "." : "_")));
}

// ---------------------------------------------------------------------------
// writing

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function quote(s: string): string {
  return JSON.stringify(s);
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "function") return "a function";
  if (typeof x === "object") {
    const name = (x as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "" ? `an instance of ${name}` : typeof x;
  }
  return `a ${typeof x}`;
}

/** Sets an own enumerable property (so a "__proto__" key is a key, not the prototype). */
export function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(x: object): boolean {
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

interface Leaf {
  readonly name: string;
  readonly x: NDArray;
}

/** Writes `tree` as safetensors bytes; `fn` names the public function in error messages. */
export function encodeSafetensors(tree: unknown, options: SaveSafetensorsOptions | undefined, fn: string): Uint8Array {
  // read once, before the tree: a typo (`metdata`) would otherwise drop the metadata silently
  const opts = readOptions(fn, options, ["metadata"]);
  const leaves: Leaf[] = [];
  const ancestors = new Set<object>();
  const at = (path: string[]) => (path.length === 0 ? "the root" : quote(path.join(".")));
  const checkText = (s: string, what: string) => {
    if (LONE_SURROGATE.test(s))
      throw new NablaError(`${fn}: ${what} ${quote(s)} is not valid Unicode (lone surrogate)`);
  };
  // The skeleton is written as JSON text directly (never via an object, so a "__proto__" key is just a key).
  const walk = (x: unknown, path: string[]): string => {
    if (x instanceof NDArray) {
      const name = safetensorsName(path);
      leaves.push({ name, x });
      return quote(name);
    }
    if (x === null) return "null";
    if (x === undefined) return "false";
    if (typeof x !== "object" || !(Array.isArray(x) || isPlainObject(x)))
      throw new NablaError(
        `${fn}: the leaf at ${at(path)} is ${describe(x)}; only NDArray leaves in arrays and plain objects can be saved` +
          (typeof x === "number" || typeof x === "boolean" ? " (wrap numbers with nb.array)" : "") +
          (typeof x === "object" ? " (registered pytree classes are not saved: convert them to plain objects)" : ""),
      );
    if (ancestors.has(x)) throw new NablaError(`${fn}: the tree contains a cycle at ${at(path)}`);
    if (path.length >= MAX_TREE_DEPTH)
      throw new NablaError(`${fn}: the tree is nested deeper than ${MAX_TREE_DEPTH} levels at ${at(path)}`);
    ancestors.add(x);
    let out: string;
    if (Array.isArray(x)) {
      const parts: string[] = [];
      for (let i = 0; i < x.length; i++) {
        // as tree.flatten: a hole is not an `undefined` entry (it would load back as one)
        if (!Object.hasOwn(x, i))
          throw new NablaError(
            `${fn}: holey array at ${at(path)}: index ${i} of an array of length ${x.length} is empty`,
          );
        parts.push(walk(x[i], [...path, String(i)]));
      }
      out = `[${parts.join(",")}]`;
    } else {
      const parts: string[] = [];
      for (const k of Object.keys(x)) {
        checkText(k, "key");
        parts.push(`${quote(k)}:${walk((x as Record<string, unknown>)[k], [...path, k])}`);
      }
      out = `{${parts.join(",")}}`;
    }
    ancestors.delete(x);
    return out;
  };
  const skeleton = walk(tree, []);

  const meta: [string, string][] = [];
  const user: unknown = opts.metadata;
  if (user !== undefined) {
    if (user === null || typeof user !== "object" || !isPlainObject(user))
      throw new NablaError(`${fn}: options.metadata must be an object of strings, got ${describe(user)}`);
    for (const [k, v] of Object.entries(user)) {
      if (typeof v !== "string")
        throw new NablaError(`${fn}: options.metadata[${quote(k)}] must be a string, got ${describe(v)}`);
      if (k === TREE_METADATA_KEY) throw new NablaError(`${fn}: options.metadata key ${quote(k)} is reserved by nabla`);
      checkText(k, "metadata key");
      checkText(v, "metadata value");
      meta.push([k, v]);
    }
  }
  meta.push([TREE_METADATA_KEY, `{"v":${TREE_FORMAT_VERSION},"tree":${skeleton}}`]);

  // Tensors in decreasing element size, then by name (as the reference writer does), so that
  // with the header padded to a multiple of 8 every tensor starts aligned to its element size.
  const tensors = leaves.map(({ name, x }) => {
    const w = (WRITE as Record<string, { name: string; size: number } | undefined>)[x.dtype];
    if (w === undefined)
      throw new DTypeError(`${fn}: the array at ${quote(name)} has dtype ${x.dtype}, which is not saved`);
    let data;
    try {
      data = x.toTypedArray();
    } catch (e) {
      if (e instanceof TracerError)
        throw new TracerError(`${fn}: the array at ${quote(name)} is a traced value without a concrete value`);
      throw e;
    }
    return { name, dtype: w, shape: x.shape, data };
  });
  tensors.sort((a, b) => b.dtype.size - a.dtype.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries = [`"__metadata__":{${meta.map(([k, v]) => `${quote(k)}:${quote(v)}`).join(",")}}`];
  let offset = 0;
  const placed = tensors.map((t) => {
    const begin = offset;
    offset += t.data.byteLength;
    entries.push(
      `${quote(t.name)}:{"dtype":"${t.dtype.name}","shape":[${t.shape.join(",")}],"data_offsets":[${begin},${offset}]}`,
    );
    return { ...t, begin };
  });
  const headerText = new TextEncoder().encode(`{${entries.join(",")}}`);
  const n = headerText.length + ((8 - (headerText.length % 8)) % 8);
  if (n > MAX_HEADER_BYTES)
    throw new NablaError(`${fn}: the header would take ${n} bytes, more than the format's ${MAX_HEADER_BYTES}`);

  let out: Uint8Array;
  try {
    out = new Uint8Array(8 + n + offset);
  } catch (_e) {
    throw new NablaError(`${fn}: a file of ${8 + n + offset} bytes is more than this JS engine can allocate at once`);
  }
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true); // the high 32 bits stay 0: n ≤ 10^8
  out.set(headerText, 8);
  out.fill(0x20, 8 + headerText.length, 8 + n);
  const start = 8 + n;
  for (const t of placed) {
    const at = start + t.begin;
    const d = t.data;
    if (LITTLE_ENDIAN || d instanceof Uint8Array) out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    else if (d instanceof Float64Array) d.forEach((v, i) => dv.setFloat64(at + 8 * i, v, true));
    else if (d instanceof Float32Array) d.forEach((v, i) => dv.setFloat32(at + 4 * i, v, true));
    else d.forEach((v, i) => dv.setInt32(at + 4 * i, v, true));
  }
  return out;
}

// ---------------------------------------------------------------------------
// reading

/** One tensor of a validated header; `begin`/`end` are absolute offsets in the file. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A validated header. */
export interface Header {
  readonly tensors: readonly TensorEntry[];
  readonly metadata: ReadonlyMap<string, string> | null;
}

function toBytes(bytes: unknown, fn: string): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw new NablaError(`${fn}: expected the file's bytes as a Uint8Array or ArrayBuffer, got ${describe(bytes)}`);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** Parses and validates the header of a safetensors file; every check happens before any data is read. */
export function readHeader(input: unknown, fn: string): { bytes: Uint8Array; header: Header } {
  const bytes = toBytes(input, fn);
  const len = bytes.length;
  if (len < 8) throw new NablaError(`${fn}: truncated file: ${len} bytes, too short for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi >= 2 ** 21)
    throw new NablaError(
      `${fn}: header length 0x${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")} is beyond 2^53 (not a safetensors file?)`,
    );
  const n = hi * 2 ** 32 + lo;
  if (n > MAX_HEADER_BYTES)
    throw new NablaError(`${fn}: header length ${n} is more than the format's limit of ${MAX_HEADER_BYTES} bytes`);
  if (8 + n > len)
    throw new NablaError(`${fn}: header length ${n} runs past the end of the file (${len} bytes): truncated file?`);
  if (n === 0 || bytes[8] !== 0x7b) throw new NablaError(`${fn}: the header must begin with "{"`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch (_e) {
    throw new NablaError(`${fn}: the header is not valid UTF-8`);
  }
  const json = parseJson(text, `${fn}: the header is not valid JSON`);
  if (!(json instanceof Map)) throw new NablaError(`${fn}: the header must be a JSON object`);
  const dataLen = len - 8 - n;

  let metadata: Map<string, string> | null = null;
  const tensors: TensorEntry[] = [];
  for (const [name, info] of json) {
    if (name === "__metadata__") {
      if (info === null) continue;
      if (!(info instanceof Map)) throw new NablaError(`${fn}: "__metadata__" must be an object of strings`);
      metadata = new Map();
      for (const [k, v] of info) {
        if (typeof v !== "string") throw new NablaError(`${fn}: "__metadata__" value of ${quote(k)} is not a string`);
        metadata.set(k, v);
      }
      continue;
    }
    const what = `tensor ${quote(name)}`;
    if (!(info instanceof Map))
      throw new NablaError(`${fn}: ${what} must be described by an object {dtype, shape, data_offsets}`);
    const dtype = info.get("dtype");
    if (typeof dtype !== "string") throw new DTypeError(`${fn}: ${what} has no dtype string`);
    const fd = fileDType(dtype);
    if (fd === undefined)
      throw new DTypeError(
        UNSUPPORTED.has(dtype)
          ? `${fn}: ${what} has dtype ${dtype}, which nabla cannot read`
          : `${fn}: ${what} has unknown dtype ${quote(dtype)}`,
      );
    const integer = (v: Json | undefined, field: string): number => {
      const raw = v instanceof JsonNumber ? v.raw : JSON.stringify(v === undefined ? null : v instanceof Map ? {} : v);
      if (!(v instanceof JsonNumber)) throw new NablaError(`${fn}: ${what}: ${field} must be an integer, got ${raw}`);
      if (raw.startsWith("-")) throw new ShapeError(`${fn}: ${what}: ${field} is negative (${raw})`);
      if (!/^(?:0|[1-9][0-9]*)$/.test(raw))
        throw new NablaError(`${fn}: ${what}: ${field} must be an integer, got ${raw}`);
      if (v.value > Number.MAX_SAFE_INTEGER) throw new NablaError(`${fn}: ${what}: ${field} is too large (${raw})`);
      return v.value;
    };
    const shapeJ = info.get("shape");
    if (!Array.isArray(shapeJ)) throw new ShapeError(`${fn}: ${what} has no shape array`);
    const shape = shapeJ.map((d, k) => integer(d, `shape[${k}]`));
    // (a zero anywhere makes the tensor empty; otherwise stop multiplying once past the limit)
    let count = shape.includes(0) ? 0 : 1;
    for (const d of shape) if (count <= MAX_ELEMENTS) count *= d;
    if (shape.some((d) => d > MAX_ELEMENTS) || count > MAX_ELEMENTS)
      throw new ShapeError(`${fn}: ${what} has shape ${fmtShape(shape)}: more than 2^31 - 1 elements`);
    const offJ = info.get("data_offsets");
    if (!Array.isArray(offJ) || offJ.length !== 2)
      throw new NablaError(`${fn}: ${what}: data_offsets must be an array [begin, end]`);
    const begin = integer(offJ[0], "data_offsets[0]");
    const end = integer(offJ[1], "data_offsets[1]");
    if (end < begin) throw new NablaError(`${fn}: ${what}: data_offsets [${begin},${end}] end before they begin`);
    if (end > dataLen)
      throw new NablaError(
        `${fn}: ${what}: data_offsets [${begin},${end}] run past the end of the data (${dataLen} bytes): truncated file?`,
      );
    if (end - begin !== count * fd.size)
      throw new ShapeError(
        `${fn}: ${what} (${dtype}, shape ${fmtShape(shape)}) needs ${count * fd.size} bytes, but data_offsets [${begin},${end}] span ${end - begin}`,
      );
    tensors.push({ name, dtype, shape, begin: 8 + n + begin, end: 8 + n + end });
  }

  // The ranges must tile the buffer: sorted by offset, each starts where the previous ended.
  const byOffset = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 8 + n;
  let prev: TensorEntry | null = null;
  for (const t of byOffset) {
    if (t.begin < expected)
      throw new NablaError(
        `${fn}: tensor ${quote(t.name)} overlaps ${prev === null ? "the header" : `tensor ${quote(prev.name)}`} in the byte buffer`,
      );
    if (t.begin > expected)
      throw new NablaError(
        `${fn}: bytes [${expected - 8 - n},${t.begin - 8 - n}) of the buffer belong to no tensor (the buffer must have no holes)`,
      );
    expected = t.end;
    prev = t;
  }
  if (expected !== len)
    throw new NablaError(
      `${fn}: ${len - expected} bytes after the last tensor belong to no tensor (the buffer must be fully indexed)`,
    );
  tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { bytes, header: { tensors, metadata } };
}

/** Decodes one validated tensor to an NDArray. */
function decodeTensor(bytes: Uint8Array, t: TensorEntry, fn: string): NDArray {
  const fd = fileDType(t.dtype);
  if (fd === undefined) throw new DTypeError(`${fn}: tensor ${quote(t.name)} has unknown dtype ${quote(t.dtype)}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = (t.end - t.begin) / fd.size;
  let data;
  try {
    data = fd.read(dv, t.begin, n);
  } catch (e) {
    if (e instanceof Inexact)
      throw new DTypeError(
        `${fn}: tensor ${quote(t.name)} (${t.dtype}) holds ${e.value} at element ${e.index}, which ${fd.to} cannot represent`,
      );
    throw e;
  }
  if (data instanceof Uint8Array) return array(new Int32Array(data), { shape: t.shape }).astype("bool");
  return array(data, { shape: t.shape });
}

/** Rebuilds the tree that `encodeSafetensors` described in its metadata. */
function rebuild(json: Json, arrays: ReadonlyMap<string, NDArray>, fn: string): SafetensorsTree {
  const bad = (msg: string): never => {
    throw new NablaError(`${fn}: metadata ${quote(TREE_METADATA_KEY)} ${msg}`);
  };
  if (!(json instanceof Map)) return bad("is not an object");
  const v = json.get("v");
  if (!(v instanceof JsonNumber) || v.raw !== String(TREE_FORMAT_VERSION))
    return bad(`has format version ${v instanceof JsonNumber ? v.raw : "(none)"}; this nabla reads version 1`);
  const used = new Set<string>();
  const node = (j: Json | undefined): SafetensorsTree => {
    if (j === null) return null;
    if (j === false) return undefined;
    if (typeof j === "string") {
      const x = arrays.get(j);
      if (x === undefined) return bad(`names tensor ${quote(j)}, which the file does not have`);
      if (used.has(j)) return bad(`names tensor ${quote(j)} twice`);
      used.add(j);
      return x;
    }
    if (Array.isArray(j)) return j.map(node);
    if (j instanceof Map) {
      const out: Record<string, SafetensorsTree> = {};
      for (const [k, c] of j) setOwn(out, k, node(c));
      return out;
    }
    return bad("is not a tree description");
  };
  const tree = node(json.get("tree"));
  for (const name of arrays.keys()) if (!used.has(name)) bad(`does not mention tensor ${quote(name)}`);
  return tree;
}

/** Reads safetensors bytes; `fn` names the public function in error messages. */
export function decodeSafetensors(input: unknown, fn: string): SafetensorsTree {
  const { bytes, header } = readHeader(input, fn);
  const arrays = new Map(header.tensors.map((t) => [t.name, decodeTensor(bytes, t, fn)] as const));
  const treeText = header.metadata?.get(TREE_METADATA_KEY);
  if (treeText === undefined) {
    const flat: Record<string, SafetensorsTree> = {};
    for (const [k, x] of arrays) setOwn(flat, k, x);
    return flat;
  }
  return rebuild(parseJson(treeText, `${fn}: metadata ${quote(TREE_METADATA_KEY)} is not valid JSON`), arrays, fn);
}
