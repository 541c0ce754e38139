/**
 * Protobuf encoding of EPS messages in two passes: the first measures every length-delimited part (the
 * sizes are kept in visiting order), the second writes into one buffer of exactly the right size. No part
 * is encoded twice or copied, unlike a writer that forks and joins a buffer per nested message: the
 * Struct of a `_ping` answer has about a hundred nested parts, and this is the hot path of every call.
 * google.protobuf.Struct/Value/ListValue are written as the well-known types [WIRE,
 * docs/protocol.md#struct-encoding]; numbers become doubles.
 */
import type { JsonObject, JsonValue } from '../core/json.js';
import { CodedError } from '../core/errors.js';
import { isConstantJson } from '../core/constant-json.js';

export class CodecError extends CodedError<'ERR_GRPC_CODEC'> {
  constructor(message: string) {
    super('ERR_GRPC_CODEC', message);
    this.name = 'CodecError';
  }
}

/** A message as a list of present fields, in field order. */
export type ProtoField =
  | { readonly no: number; readonly string: string }
  | { readonly no: number; readonly int32: number }
  | { readonly no: number; readonly struct: JsonObject }
  | { readonly no: number; readonly message: readonly ProtoField[] };

export const MAX_STRUCT_DEPTH = 100;
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
/** Above this many UTF-16 units the native byte counter beats a loop in JavaScript. */
const NATIVE_LENGTH_FROM = 48;

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** Bytes of `s` in UTF-8, lone surrogates counted as the 3 bytes of U+FFFD (what Buffer.write puts). */
function utf8Length(s: string): number {
  if (s.length > NATIVE_LENGTH_FROM) return Buffer.byteLength(s, 'utf8');
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** A length-delimited part: its tag, its length prefix and its body. */
function delimited(body: number): number {
  return 1 + varintSize(body) + body;
}

/** First pass: sizes of length-delimited parts, each kept before the parts inside it (no closures: hot). */
class Measure {
  readonly sizes: number[] = [];
  /** The deepest Value depth met, so that a constant's encoding can be checked where it is embedded. */
  deepest = 0;

  fields(fields: readonly ProtoField[]): number {
    let total = 0;
    for (const f of fields) {
      if ('string' in f) total += this.string(f.string);
      else if ('int32' in f) total += 1 + (f.int32 < 0 ? 10 : varintSize(f.int32));
      else {
        const slot = this.reserve();
        const size = 'struct' in f ? this.struct(f.struct, 0) : this.fields(f.message);
        total += this.fill(slot, size);
      }
    }
    return total;
  }

  /** The slot of a part's size, taken before measuring what the part contains. */
  private reserve(): number {
    this.sizes.push(0);
    return this.sizes.length - 1;
  }

  /** Keeps a part's body size; returns the size of the whole part. */
  private fill(slot: number, body: number): number {
    this.sizes[slot] = body;
    return delimited(body);
  }

  /** A string field: its byte length is kept for the second pass. */
  private string(s: string): number {
    const bytes = utf8Length(s);
    this.sizes.push(bytes);
    return delimited(bytes);
  }

  struct(obj: JsonObject, depth: number): number {
    let total = 0;
    // for-in rather than Object.keys: V8 reads obj[key] through its enumeration cache, several times faster
    // on the many object shapes of a Struct. JSON objects have no inherited enumerable keys.
    for (const key in obj) {
      const value = obj[key];
      if (value === undefined) continue;
      const entry = this.reserve();
      const keySize = this.string(key);
      const slot = this.reserve();
      total += this.fill(entry, keySize + this.fill(slot, this.value(value, depth + 1)));
    }
    return total;
  }

  private value(value: JsonValue, depth: number): number {
    if (depth > MAX_STRUCT_DEPTH) throw new CodecError('value nested too deeply');
    if (depth > this.deepest) this.deepest = depth;
    if (value === null || typeof value === 'boolean') return 2;
    if (typeof value === 'number') return 9;
    if (typeof value === 'string') return this.string(value);
    if (Array.isArray(value)) {
      const list = this.reserve();
      let total = 0;
      for (const item of value) {
        const slot = this.reserve();
        total += this.fill(slot, this.value(item, depth + 1));
      }
      return this.fill(list, total);
    }
    if (typeof value === 'object') {
      const slot = this.reserve();
      if (!isConstantJson(value)) return this.fill(slot, this.struct(value, depth + 1));
      const constant = constantStruct(value);
      const deepest = depth + 1 + constant.deepest;
      if (deepest > MAX_STRUCT_DEPTH) throw new CodecError('value nested too deeply');
      if (deepest > this.deepest) this.deepest = deepest;
      return this.fill(slot, constant.body.length);
    }
    throw new CodecError(`cannot encode value of type ${typeof value}`);
  }
}

/** Second pass: writes what the first measured, reading its sizes in the same order. */
class Output {
  readonly buf: Buffer;
  private pos = 0;
  private next = 0;

  constructor(
    size: number,
    private readonly sizes: readonly number[],
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  fields(fields: readonly ProtoField[]): void {
    for (const f of fields) {
      if ('string' in f) this.string(f.no, f.string);
      else if ('int32' in f) this.int32(f.no, f.int32);
      else if ('struct' in f) {
        this.open(f.no);
        this.struct(f.struct);
      } else {
        this.open(f.no);
        this.fields(f.message);
      }
    }
  }

  finish(): Uint8Array {
    if (this.pos !== this.buf.length)
      throw new CodecError(`encoder wrote ${this.pos} of ${this.buf.length} bytes`);
    return this.buf;
  }

  private varint(n: number): void {
    while (n > 0x7f) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }

  /** A negative int32 goes on the wire sign-extended to 64 bits: ten bytes. */
  private int32(no: number, n: number): void {
    this.buf[this.pos++] = (no << 3) | VARINT;
    if (n >= 0) return this.varint(n);
    let low = n >>> 0;
    for (let i = 0; i < 4; i++) {
      this.buf[this.pos++] = (low & 0x7f) | 0x80;
      low >>>= 7;
    }
    // Bits 28..31 of the low word, then ones up to bit 63.
    this.buf[this.pos++] = (low & 0x0f) | 0xf0;
    for (let i = 0; i < 4; i++) this.buf[this.pos++] = 0xff;
    this.buf[this.pos++] = 0x01;
  }

  /** Tag and length prefix of a length-delimited part whose size the first pass measured. */
  private open(no: number): void {
    this.buf[this.pos++] = (no << 3) | LEN;
    this.varint(this.sizes[this.next++]!);
  }

  private string(no: number, s: string): void {
    this.open(no);
    const bytes = this.sizes[this.next - 1]!;
    if (bytes === s.length && bytes <= NATIVE_LENGTH_FROM) {
      for (let i = 0; i < bytes; i++) this.buf[this.pos++] = s.charCodeAt(i);
    } else {
      this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
    }
  }

  struct(obj: JsonObject): void {
    for (const key in obj) {
      const value = obj[key];
      if (value === undefined) continue;
      this.open(1);
      this.string(1, key);
      this.open(2);
      this.value(value);
    }
  }

  private value(value: JsonValue): void {
    if (value === null) {
      this.buf[this.pos++] = (1 << 3) | VARINT;
      this.buf[this.pos++] = 0;
    } else if (typeof value === 'boolean') {
      this.buf[this.pos++] = (4 << 3) | VARINT;
      this.buf[this.pos++] = value ? 1 : 0;
    } else if (typeof value === 'number') {
      this.buf[this.pos++] = (2 << 3) | FIXED64;
      this.pos = this.buf.writeDoubleLE(value, this.pos);
    } else if (typeof value === 'string') {
      this.string(3, value);
    } else if (Array.isArray(value)) {
      this.open(6);
      for (const item of value) {
        this.open(1);
        this.value(item);
      }
    } else {
      this.open(5);
      const constant = constantBodies.get(value);
      if (constant) {
        this.buf.set(constant.body, this.pos);
        this.pos += constant.body.length;
      } else this.struct(value);
    }
  }
}

interface ConstantStruct {
  readonly body: Uint8Array;
  readonly deepest: number;
}

/** Struct bodies of constant objects (core/constant-json.ts), encoded once, dropped with their object. */
const constantBodies = new WeakMap<object, ConstantStruct>();

function constantStruct(obj: JsonObject): ConstantStruct {
  let constant = constantBodies.get(obj);
  if (!constant) {
    const measure = new Measure();
    const size = measure.struct(obj, 0);
    const out = new Output(size, measure.sizes);
    out.struct(obj);
    constant = { body: out.finish(), deepest: measure.deepest };
    constantBodies.set(obj, constant);
  }
  return constant;
}

export function encodeMessage(fields: readonly ProtoField[]): Uint8Array {
  const measure = new Measure();
  const size = measure.fields(fields);
  const out = new Output(size, measure.sizes);
  out.fields(fields);
  return out.finish();
}
