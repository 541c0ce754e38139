/**
 * The original's structured hash [WIRE, docs/protocol.md#structured-hash]: a token stream without length
 * prefixes where null/false/+0/""/[] vanish ("⊥"), objects are written value-before-key in UTF-8 byte order
 * of their keys, and the record / signing-message envelopes are Go structs. Exposes the record hash, the
 * signing message and the generic signed-data message.
 */
import { createHash } from 'node:crypto';
import type { JsonValue } from '../core/json.js';
import type { ChangeRecord } from '../core/directory-entry.js';
import { RecordError } from './errors.js';
import { parseCreatedAt } from './time.js';

const TOKEN_PREFIX = Buffer.from('string', 'latin1');
const INITIAL_CAPACITY = 1024;
/** Go's 10-byte varint buffer: zigzag(1) = 2, then padding. */
const TRUE_PAYLOAD = Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const FLOAT_TRAILER_BYTES = 2;
/** Strings up to this length are tried as ASCII first when writing tokens. */
const SHORT_TOKEN_LENGTH = 64;

/** Growable byte buffer the encoder writes into. */
export class ByteWriter {
  /** Empties the writer, keeping its buffer for reuse. */
  reset(): this {
    this.length = 0;
    return this;
  }

  private buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
  length = 0;

  private ensure(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  /** Writes TOK(text): the six bytes `string` and the UTF-8 bytes of `text`. */
  token(text: string): void {
    const n = text.length;
    this.ensure(TOKEN_PREFIX.length + n * 3);
    const buf = this.buf;
    let at = this.length + TOKEN_PREFIX.copy(buf, this.length);
    if (n <= SHORT_TOKEN_LENGTH) {
      // Short ASCII strings (keys, names) are copied by hand: cheaper than a call into Buffer.write.
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        this.length = at + n;
        return;
      }
    }
    at += buf.write(text, at, 'utf8');
    this.length = at;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  float(x: number): void {
    this.ensure(8 + FLOAT_TRAILER_BYTES);
    this.buf.writeDoubleLE(x, this.length);
    this.buf.fill(0, this.length + 8, this.length + 8 + FLOAT_TRAILER_BYTES);
    this.length += 8 + FLOAT_TRAILER_BYTES;
  }

  /** A copy of the bytes written so far. */
  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/** Shared scratch writer: encoding is synchronous, so one buffer serves every call (results are copied out). */
const scratch = new ByteWriter();

/** Compares two strings by the byte order of their UTF-8 encodings (= code point order). */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Move surrogates above U+E000..U+FFFF so UTF-16 unit order becomes code point order.
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** Appends E(value) to the writer; writes nothing for ⊥. */
export function encodeInto(w: ByteWriter, value: JsonValue): void {
  if (value === null || value === false) return;
  if (value === true) {
    w.token('bool');
    w.bytes(TRUE_PAYLOAD);
  } else if (typeof value === 'number') {
    if (Object.is(value, 0)) return;
    w.token('float');
    w.float(value);
  } else if (typeof value === 'string') {
    if (value !== '') w.token(value);
  } else if (Array.isArray(value)) {
    if (value.length === 0) return;
    w.token('list');
    for (let i = 0; i < value.length; i++) {
      w.token(String(i));
      encodeInto(w, value[i] as JsonValue);
    }
  } else {
    w.token('map');
    const keys = Object.keys(value).sort(compareUtf8);
    for (const key of keys) {
      const before = w.length;
      encodeInto(w, value[key] as JsonValue);
      if (w.length !== before && key !== '') w.token(key);
    }
  }
}

/** E(value), or null for ⊥. */
export function encodeValue(value: JsonValue): Buffer | null {
  const w = scratch.reset();
  encodeInto(w, value);
  return w.length === 0 ? null : w.result();
}

/** Lower-case hex SHA-256 of E(value); a ⊥ top-level value is an error, as in Go. */
export function structuredHash(value: JsonValue): string {
  const encoded = encodeValue(value);
  if (encoded === null) throw new RecordError('hash', 'cannot hash an empty value (null)');
  return sha256Hex(encoded);
}

/**
 * E(R) for a change record viewed as the Go struct {created_at, data, name, section}; `created_at` is
 * hashed in its canonical rendering. Throws a RecordError for an invalid timestamp.
 */
export function encodeRecord(record: ChangeRecord): Buffer {
  const w = scratch.reset();
  writeRecord(w, record);
  if (w.length === 0) throw new RecordError('hash', 'cannot hash an empty record (null)');
  return w.result();
}

function writeRecord(w: ByteWriter, record: ChangeRecord): void {
  const createdAt = parseCreatedAt(record.created_at);
  const start = w.length;
  w.token('map');
  const fieldsStart = w.length;
  if (!createdAt.isZero) {
    w.token(createdAt.canonical);
    w.token('created_at');
  }
  writeField(w, record.data, 'data');
  writeField(w, record.name, 'name');
  writeField(w, record.section, 'section');
  // A Go struct whose fields are all zero is ⊥ (never happens for a valid section, kept for exactness).
  if (w.length === fieldsStart) w.length = start;
}

function writeField(w: ByteWriter, value: JsonValue, key: string): void {
  const before = w.length;
  encodeInto(w, value);
  if (w.length !== before) w.token(key);
}

/** Record hash: lower-case hex SHA-256 of E(R). */
export function recordHash(record: ChangeRecord): string {
  return sha256Hex(encodeRecord(record));
}

/**
 * Signing message E(M) for M = {hash, parent_hash, record}. `record` may be given already encoded
 * (the bytes of `encodeRecord`) to avoid encoding it twice.
 */
export function signingMessage(parentHash: string, hash: string, record: ChangeRecord | Uint8Array): Buffer {
  const encodedRecord = record instanceof Uint8Array ? record : encodeRecord(record);
  const w = scratch.reset();
  w.token('map');
  if (hash !== '') {
    w.token(hash);
    w.token('hash');
  }
  if (parentHash !== '') {
    w.token(parentHash);
    w.token('parent_hash');
  }
  if (encodedRecord.length > 0) {
    w.bytes(encodedRecord);
    w.token('record');
  }
  return w.result();
}

/** Message signed by `eps sd sign`: E(data) of the arbitrary JSON value, ⊥ is an error. */
export function signedDataMessage(data: JsonValue): Buffer {
  const encoded = encodeValue(data);
  if (encoded === null) throw new RecordError('hash', 'cannot sign an empty value (null)');
  return encoded;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
