/**
 * A strict JSON reader for safetensors headers (RFC 8259, as `serde_json` reads it).
 *
 * `JSON.parse` is not enough for an untrusted header: it keeps the last of duplicate keys
 * silently (the format forbids duplicates), turns a `"__proto__"` key into a prototype when
 * the result is copied, and accepts lone surrogates in `\u` escapes. This reader rejects
 * duplicates and lone surrogates, caps the nesting depth (so hostile input cannot overflow the
 * stack), keeps objects as `Map`s (so no key is special) and keeps each number's source text
 * (so integer fields can insist on integer syntax).
 *
 * @internal Not exported from any entry.
 */
import { NablaError } from "../index.js";

/** A JSON number with its source text (`1`, `1.0` and `1e0` are different texts). */
export class JsonNumber {
  constructor(
    readonly value: number,
    readonly raw: string,
  ) {}
}

/** A parsed JSON value; objects are `Map`s in source order. */
export type Json = null | boolean | string | JsonNumber | Json[] | Map<string, Json>;

/** The deepest nesting of arrays and objects accepted. */
export const MAX_JSON_DEPTH = 256;

const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const LITERALS = [
  ["true", true],
  ["false", false],
  ["null", null],
] as const;

/** Whether a UTF-16 code unit can occur in a JSON number: `+ - . 0-9 E e`. */
function numberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}

/**
 * Parses `text` as one JSON value followed only by whitespace. Errors are `NablaError`s whose
 * message begins with `${what}: `.
 */
export function parseJson(text: string, what: string): Json {
  let i = 0;
  const fail = (msg: string): never => {
    throw new NablaError(`${what}: ${msg} at offset ${i}`);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const hex4 = (): number => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("bad \\u escape");
    i += 4;
    return parseInt(h, 16);
  };
  const str = (): string => {
    i++; // opening quote
    let out = "";
    let start = i;
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      i += 2;
      if (e === "u") {
        const u = hex4();
        if (u >= 0xdc00 && u <= 0xdfff) fail("lone surrogate in \\u escape");
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text.slice(i, i + 2) !== "\\u") fail("lone surrogate in \\u escape");
          i += 2;
          const lo = hex4();
          if (lo < 0xdc00 || lo > 0xdfff) fail("lone surrogate in \\u escape");
          out += String.fromCharCode(u, lo);
        } else out += String.fromCharCode(u);
      } else {
        const r = e === undefined ? undefined : ESCAPES[e];
        if (r === undefined) fail("bad escape in string");
        out += r;
      }
      start = i;
    }
  };
  const value = (depth: number): Json => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
      i++;
      ws();
      const close = c === "{" ? "}" : "]";
      const obj = c === "{" ? new Map<string, Json>() : null;
      const arr: Json[] = [];
      if (text[i] !== close)
        for (;;) {
          if (obj !== null) {
            ws();
            if (text[i] !== '"') fail("expected a string key");
            const k = str();
            if (obj.has(k)) fail(`duplicate key ${JSON.stringify(k)}`);
            ws();
            if (text[i] !== ":") fail("expected ':'");
            i++;
            obj.set(k, value(depth + 1));
          } else arr.push(value(depth + 1));
          ws();
          if (text[i] === ",") i++;
          else if (text[i] === close) break;
          else fail(`expected ',' or '${close}'`);
        }
      i++;
      return obj ?? arr;
    }
    if (c === '"') return str();
    for (const [word, v] of LITERALS)
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    let end = i;
    while (end < text.length && numberChar(text.charCodeAt(end))) end++;
    const raw = text.slice(i, end);
    if (!NUMBER.test(raw)) return fail(i >= text.length ? "unexpected end" : "unexpected character");
    i = end;
    return new JsonNumber(Number(raw), raw);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail("unexpected text after the JSON value");
  return v;
}
