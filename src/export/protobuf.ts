/**
 * A minimal Protocol Buffers writer: exactly the wire types an ONNX
 * ModelProto needs (varints, 64-bit signed integers, 32-bit floats, and
 * length-delimited strings, bytes and sub-messages). We write it ourselves
 * rather than depend on a protobuf library because the subset is tiny (a
 * hundred lines), the "." entry and `nabla/export` stay free of runtime
 * dependencies, and no .proto compilation step enters the build.
 *
 * Fields are written in the order the caller adds them; repeated scalars are
 * written unpacked (one key per element), which every proto2 and proto3
 * parser accepts.
 */

const encoder = new TextEncoder();

/** A message under construction: append fields, then take `bytes()`. */
export class ProtoWriter {
  private readonly chunks: number[] = [];
  private readonly parts: Uint8Array[] = [];

  private flush(): void {
    if (this.chunks.length > 0) {
      this.parts.push(Uint8Array.from(this.chunks));
      this.chunks.length = 0;
    }
  }

  private varint(v: bigint): void {
    // two's complement in 64 bits for negatives, as protobuf int64 requires
    let x = BigInt.asUintN(64, v);
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.chunks.push(b);
    } while (x !== 0n);
  }

  private key(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  /** An int32/int64/enum/bool field (varint wire type). */
  int(field: number, v: number | bigint | boolean): this {
    this.key(field, 0);
    this.varint(typeof v === "bigint" ? v : BigInt(typeof v === "boolean" ? (v ? 1 : 0) : v));
    return this;
  }

  /** A float field (32-bit little-endian). */
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.chunks.push(...b);
    return this;
  }

  /** A bytes field. */
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(BigInt(b.length));
    this.flush();
    this.parts.push(b);
    return this;
  }

  /** A string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, encoder.encode(s));
  }

  /** An embedded message field. */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** The encoded message: every field so far, in order. */
  finish(): Uint8Array {
    this.flush();
    const n = this.parts.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
