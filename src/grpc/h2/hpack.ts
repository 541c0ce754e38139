/**
 * HPACK header compression (RFC 7541) as far as a gRPC endpoint needs it: a full decoder (static and
 * dynamic table, Huffman strings, size updates, bounded header lists) and a minimal encoder that only emits
 * literals without indexing, so our peers' decoders never have to keep state for us.
 */
import { huffmanDecode, HuffmanError } from './huffman.js';
import { fieldProblem, FromStatic, isPseudoHeader } from './header-fields.js';
import { CodedError } from '../../core/errors.js';

export class HpackError extends CodedError<'ERR_H2_HPACK'> {
  constructor(message: string) {
    super('ERR_H2_HPACK', message);
  }
}

// prettier-ignore
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''],
  ['cache-control', ''], ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''],
  ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''],
  ['if-match', ''], ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''],
  ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

/** Static table index of a name (first entry with that name), for the encoder. */
export const STATIC_NAME_INDEX: ReadonlyMap<string, number> = new Map(
  [...STATIC_TABLE.entries()].reverse().map(([i, [name]]) => [name, i + 1]),
);

const ENTRY_OVERHEAD = 32;
const EMPTY = new Uint8Array(0);

/** What of a field with name index `index` comes from the static table (only valid names there). */
function nameFrom(index: number): FromStatic {
  return index > 0 && index <= STATIC_TABLE.length ? FromStatic.NAME : FromStatic.NOTHING;
}

/** Decoded header fields; a repeated name keeps its values joined by ", " (grpc headers never repeat). */
export type HeaderMap = Record<string, string>;

export interface DecodedBlock {
  headers: HeaderMap;
  /** True when the block was larger than the allowed header list size (its fields are then dropped). */
  oversized: boolean;
  /** The first field that breaks RFC 9113's field rules (header-fields.ts): the block is malformed. */
  malformed: string | undefined;
  /** How many pseudo-header fields the block held (request-headers.ts compares it with those it knows). */
  pseudoCount: number;
}

export class HpackDecoder {
  /** Dynamic table, newest entry last. */
  private readonly entries: [string, string][] = [];
  private size = 0;
  private maxSize: number;

  /** `limit` is our SETTINGS_HEADER_TABLE_SIZE: the largest table the peer may ask for. */
  constructor(
    private readonly limit = 4096,
    private readonly maxListBytes = 65_536,
  ) {
    this.maxSize = limit;
  }

  // The block being decoded and what is known of it so far. decode() runs to completion on one block at a
  // time, so these live on the decoder instead of in closures allocated for every block of every call.
  private block: Uint8Array = EMPTY;
  private pos = 0;
  private headers: HeaderMap = Object.create(null) as HeaderMap;
  private listBytes = 0;
  private oversized = false;
  private malformed: string | undefined;
  private regularSeen = false;
  private pseudoCount = 0;

  /**
   * Decodes one complete header block. Throws HpackError on a malformed block (a connection error: the
   * table state is then unknown). An oversized list is still decoded to keep the table in step.
   */
  decode(block: Uint8Array): DecodedBlock {
    this.block = block;
    this.pos = 0;
    this.headers = Object.create(null) as HeaderMap;
    this.listBytes = 0;
    this.oversized = false;
    this.malformed = undefined;
    this.regularSeen = false;
    this.pseudoCount = 0;
    let fieldSeen = false;
    while (this.pos < block.length) {
      const b = block[this.pos]!;
      if (b & 0x80) {
        const index = this.int(7);
        const [name, value] = this.lookup(index);
        this.add(name, value, index <= STATIC_TABLE.length ? FromStatic.FIELD : FromStatic.NOTHING);
      } else if (b & 0x40) {
        const index = this.int(6);
        const name = index === 0 ? this.str() : this.lookup(index)[0];
        const value = this.str();
        this.insert(name, value);
        this.add(name, value, nameFrom(index));
      } else if (b & 0x20) {
        if (fieldSeen) throw new HpackError('table size update after a header field');
        const size = this.int(5);
        if (size > this.limit) throw new HpackError(`table size update ${size} above ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): both carry a 4-bit name index.
        const index = this.int(4);
        const name = index === 0 ? this.str() : this.lookup(index)[0];
        this.add(name, this.str(), nameFrom(index));
      }
      fieldSeen = true;
    }
    const decoded = {
      headers: this.headers,
      oversized: this.oversized,
      malformed: this.malformed,
      pseudoCount: this.pseudoCount,
    };
    this.block = EMPTY;
    return decoded;
  }

  private int(prefixBits: number): number {
    const block = this.block;
    const mask = (1 << prefixBits) - 1;
    let value = block[this.pos++]! & mask;
    if (value < mask) return value;
    for (let m = 0; ; m += 7) {
      if (this.pos >= block.length) throw new HpackError('truncated integer');
      if (m > 21) throw new HpackError('integer too large');
      const b = block[this.pos++]!;
      value += (b & 0x7f) * 2 ** m;
      if ((b & 0x80) === 0) return value;
    }
  }

  private str(): string {
    const block = this.block;
    if (this.pos >= block.length) throw new HpackError('truncated string');
    const huffman = (block[this.pos]! & 0x80) !== 0;
    const len = this.int(7);
    if (this.pos + len > block.length) throw new HpackError('string longer than the header block');
    const start = this.pos;
    this.pos += len;
    if (!huffman) return Buffer.from(block.buffer, block.byteOffset + start, len).toString('latin1');
    try {
      return huffmanDecode(block.subarray(start, start + len));
    } catch (e) {
      throw new HpackError((e as HuffmanError).message);
    }
  }

  private add(name: string, value: string, fromStatic: FromStatic): void {
    this.listBytes += name.length + value.length + ENTRY_OVERHEAD;
    if (this.listBytes > this.maxListBytes) this.oversized = true;
    if (this.oversized) return;
    const prev = this.headers[name];
    const pseudo = isPseudoHeader(name);
    if (pseudo) this.pseudoCount++;
    this.malformed ??= fieldProblem(
      name,
      value,
      fromStatic,
      pseudo && this.regularSeen,
      pseudo && prev !== undefined,
    );
    if (!pseudo) this.regularSeen = true;
    this.headers[name] = prev === undefined ? value : `${prev}, ${value}`;
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const entry = this.entries[this.entries.length - 1 - (index - STATIC_TABLE.length - 1)];
    if (!entry) throw new HpackError(`index ${index} outside the tables`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(size);
    // An entry larger than the whole table empties it and is not added (RFC 7541 §4.4).
    if (size > this.maxSize) return;
    this.entries.push([name, value]);
    this.size += size;
  }

  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.maxSize) {
      const [name, value] = this.entries.shift()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }

  get tableSize(): number {
    return this.size;
  }
}

/** Appends an HPACK integer with an N-bit prefix; `first` holds the representation's flag bits. */
function pushInt(out: number[], first: number, prefixBits: number, value: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  value -= max;
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

function pushString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'latin1');
  pushInt(out, 0, 7, bytes.length);
  for (const b of bytes) out.push(b);
}

/** Dynamic table size update to 0: tells the peer's decoder we keep no table, whatever its settings. */
export const TABLE_SIZE_ZERO = 0x20;

/**
 * Encodes header fields as literals without indexing (static-table names where they exist). Pseudo-headers
 * must come first; a field whose name and value are both in the static table is sent as one index byte.
 */
export function encodeHeaders(fields: readonly (readonly [string, string])[], tableSizeZero = false): Buffer {
  const out: number[] = tableSizeZero ? [TABLE_SIZE_ZERO] : [];
  for (const [name, value] of fields) {
    const full = STATIC_TABLE.findIndex(([n, v]) => n === name && v === value);
    if (full >= 0 && value !== '') {
      pushInt(out, 0x80, 7, full + 1);
      continue;
    }
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex !== undefined) {
      pushInt(out, 0x00, 4, nameIndex);
    } else {
      out.push(0x00);
      pushString(out, name);
    }
    pushString(out, value);
  }
  return Buffer.from(out);
}

/** Longest name or value appendLiterals writes with a one-byte length (HPACK's 7-bit prefix). */
const SHORT_STRING = 127;

/**
 * `block` followed by `fields` as literals without indexing with literal names, the same bytes as
 * encodeHeaders for names outside the static table: the per-call part of a request's header block, in one
 * allocation and without encodeHeaders' search of the static table. Names and values are latin1.
 */
export function appendLiterals(block: Buffer, fields: readonly (readonly [string, string])[]): Buffer {
  let size = block.length;
  for (const [name, value] of fields) {
    if (name.length >= SHORT_STRING || value.length >= SHORT_STRING || STATIC_NAME_INDEX.has(name)) {
      return Buffer.concat([block, encodeHeaders(fields)]);
    }
    size += 3 + name.length + value.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = block.copy(out, 0);
  for (const [name, value] of fields) {
    out[at++] = 0x00;
    out[at++] = name.length;
    at += out.write(name, at, 'latin1');
    out[at++] = value.length;
    at += out.write(value, at, 'latin1');
  }
  return out;
}
