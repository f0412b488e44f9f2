/**
 * A small WebAssembly binary encoder: LEB128 integers, sections, function
 * bodies built instruction by instruction (`Code`), and whole modules with
 * function imports, an imported or exported memory, and exported functions.
 * Only what nabla's generated kernels use is here (i32/f64 scalars, SIMD
 * v128 with f64x2/f32x4/i64x2 lanes, locals, blocks, loops). Module bytes are
 * produced at run time, so no toolchain and no binary blobs are needed; the
 * opcodes are those of the WebAssembly 2.0 core specification (SIMD is
 * prefix 0xfd followed by a LEB128 opcode).
 */
import { at } from "../../core/errors.js";

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

export function uleb(n: number, out: number[]): void {
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

export function sleb(n: number, out: number[]): void {
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

export function leb(n: number): number[] {
  const out: number[] = [];
  uleb(n, out);
  return out;
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  for (const b of body) out.push(b);
}

export function vec(items: number[][]): number[] {
  const out: number[] = [];
  uleb(items.length, out);
  for (const it of items) for (const b of it) out.push(b);
  return out;
}

export function name(s: string): number[] {
  const out: number[] = [];
  uleb(s.length, out);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}

/** Scalar (non-SIMD) opcodes used by the kernels. */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  call: 0x10,
  void: 0x40,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32LtU: 0x49,
  i32GtU: 0x4b,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Mul: 0x6c,
  i32WrapI64: 0xa7,
  f64Load: 0x2b,
  f32Load: 0x2a,
  f32Store: 0x38,
  f64Store: 0x39,
  f64Add: 0xa0,
  f64PromoteF32: 0xbb,
  f32DemoteF64: 0xb6,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const SIMD = {
  load: 0x00,
  load32Splat: 0x09,
  load64Splat: 0x0a,
  store: 0x0b,
  const: 0x0c,
  i8x16Shuffle: 0x0d,
  f32x4Splat: 0x13,
  f64x2Splat: 0x14,
  i64x2ExtractLane: 0x1d,
  f32x4ExtractLane: 0x1f,
  f32x4ReplaceLane: 0x20,
  f64x2ExtractLane: 0x21,
  f64x2ReplaceLane: 0x22,
  i32x4Eq: 0x37,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  f64x2Eq: 0x47,
  f64x2Ne: 0x48,
  f64x2Lt: 0x49,
  f64x2Gt: 0x4a,
  f64x2Le: 0x4b,
  f64x2Ge: 0x4c,
  not: 0x4d,
  and: 0x4e,
  andnot: 0x4f,
  or: 0x50,
  xor: 0x51,
  bitselect: 0x52,
  anyTrue: 0x53,
  load64Lane: 0x57,
  store64Lane: 0x5b,
  load64Zero: 0x5d,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  f64x2Ceil: 0x74,
  f64x2Floor: 0x75,
  f64x2Trunc: 0x7a,
  f64x2Nearest: 0x94,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  i64x2Neg: 0xc1,
  i64x2ExtendLowI32x4S: 0xc7,
  i64x2Shl: 0xcb,
  i64x2ShrS: 0xcc,
  i64x2ShrU: 0xcd,
  i64x2Add: 0xce,
  i64x2Sub: 0xd1,
  i64x2Eq: 0xd6,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  f32x4Pmin: 0xea,
  f64x2Abs: 0xec,
  f64x2Neg: 0xed,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f64x2Min: 0xf4,
  f64x2Max: 0xf5,
  f64x2Pmin: 0xf6,
  f64x2Pmax: 0xf7,
  i32x4TruncSatF64x2SZero: 0xfc,
} as const;

/** Builds one function body's instruction stream. */
export class Code {
  readonly b: number[] = [];
  get(i: number): this {
    this.b.push(0x20);
    uleb(i, this.b);
    return this;
  }
  set(i: number): this {
    this.b.push(0x21);
    uleb(i, this.b);
    return this;
  }
  tee(i: number): this {
    this.b.push(0x22);
    uleb(i, this.b);
    return this;
  }
  i32(v: number): this {
    this.b.push(0x41);
    sleb(v, this.b);
    return this;
  }
  /** An f64 constant (`f64.const`). */
  f64(v: number): this {
    this.b.push(0x44);
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.b.push(dv.getUint8(i));
    return this;
  }
  op(o: number): this {
    this.b.push(o);
    return this;
  }
  /** A scalar memory instruction with its memarg (alignment exponent, offset). */
  mem(o: number, align: number, offset: number): this {
    this.b.push(o);
    uleb(align, this.b);
    uleb(offset, this.b);
    return this;
  }
  simd(o: number, memarg?: [align: number, offset: number]): this {
    this.b.push(0xfd);
    uleb(o, this.b);
    if (memarg) {
      uleb(memarg[0], this.b);
      uleb(memarg[1], this.b);
    }
    return this;
  }
  /** A SIMD instruction with one lane-index immediate (extract/replace lane). */
  lane(o: number, lane: number): this {
    this.simd(o);
    this.b.push(lane);
    return this;
  }
  /** `v128.const` of 16 bytes. */
  v128(bytes: ArrayLike<number>): this {
    this.simd(SIMD.const);
    for (let i = 0; i < 16; i++) this.b.push(at(bytes, i, "v128.const") & 0xff);
    return this;
  }
  v128zero(): this {
    return this.v128(new Uint8Array(16));
  }
  /** `local[i] += c` on an i32 local. */
  addConst(i: number, c: number): this {
    return this.get(i).i32(c).op(OP.i32Add).set(i);
  }
}

/** A function body: its locals (runs of [count, type]) and its code (an `end` is appended). */
export function body(locals: readonly (readonly [count: number, type: number])[], code: Code): number[] {
  const b = vec(locals.filter(([n]) => n > 0).map(([n, t]) => [...leb(n), t]));
  for (const x of code.b) b.push(x);
  b.push(OP.end);
  const out: number[] = [];
  uleb(b.length, out);
  for (const x of b) out.push(x);
  return out;
}

/** A function type: parameter and result value types. */
export interface FuncType {
  params: readonly number[];
  results: readonly number[];
}

export interface ModuleSpec {
  /** Imported functions ("module"."name"), indices 0..imports.length-1. */
  imports?: readonly { module: string; name: string; type: FuncType }[];
  /**
   * The memory: imported as env.mem (optionally shared, with the limits a shared memory must
   * declare: threads), or defined here (min pages) and exported as "mem".
   */
  memory: { import: true; shared?: { minPages: number; maxPages: number } } | { import: false; minPages: number };
  /** Defined functions, indices following the imports; each exported under its name. */
  funcs: readonly { name: string; type: FuncType; body: number[] }[];
}

/** Encodes a whole module. */
export function moduleBytes(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const imports = spec.imports ?? [];
  const types: FuncType[] = [];
  const key = (t: FuncType) => `${t.params.join(",")}:${t.results.join(",")}`;
  const typeIndex = (t: FuncType): number => {
    const i = types.findIndex((u) => key(u) === key(t));
    if (i >= 0) return i;
    types.push(t);
    return types.length - 1;
  };
  // import types first: their indices come before the defined functions'
  const typedImports = imports.map((im) => ({ ...im, typeIdx: typeIndex(im.type) }));
  const funcTypes = spec.funcs.map((f) => typeIndex(f.type));
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  section(1, vec(types.map((t) => [0x60, ...vec(t.params.map((p) => [p])), ...vec(t.results.map((r) => [r]))])), out);
  const imps: number[][] = typedImports.map((im) => [...name(im.module), ...name(im.name), 0x00, ...leb(im.typeIdx)]);
  if (spec.memory.import) {
    // limits: flag 0x00 (min only) or 0x03 (shared, min and max)
    const sh = spec.memory.shared;
    const limits = sh === undefined ? [0x00, 0x01] : [0x03, ...leb(sh.minPages), ...leb(sh.maxPages)];
    imps.push([...name("env"), ...name("mem"), 0x02, ...limits]);
  }
  if (imps.length > 0) section(2, vec(imps), out);
  section(3, vec(funcTypes.map((t) => leb(t))), out);
  if (!spec.memory.import) section(5, vec([[0x00, ...leb(spec.memory.minPages)]]), out);
  const exps = spec.funcs.map((f, i) => [...name(f.name), 0x00, ...leb(imports.length + i)]);
  if (!spec.memory.import) exps.unshift([...name("mem"), 0x02, 0x00]);
  section(7, vec(exps), out);
  section(10, vec(spec.funcs.map((f) => f.body)), out);
  return new Uint8Array(out);
}
