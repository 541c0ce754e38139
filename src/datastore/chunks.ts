/**
 * Chunk layer of the file datastore [WIRE, docs/protocol.md#datastore]: an encoded entry is cut into pieces
 * of at most 231 bytes, each written as a chunk `01 | count u16 | index u16 | id length u16 | chunk id |
 * payload length u16 | payload` (little-endian). ChunkScanner parses a byte stream of chunks incrementally
 * and tells complete entries apart from a trailing partial chunk or an entry whose chunks are not all there
 * yet.
 */
import { randomBytes } from 'node:crypto';

export const CHUNK_VERSION = 1;
/** Largest payload per chunk (255 minus the original's 24-byte header constant). */
export const MAX_CHUNK_PAYLOAD = 231;
export const CHUNK_ID_BYTES = 16;
/** Chunks per entry are counted in a uint16. */
export const MAX_CHUNKS_PER_ENTRY = 0xffff;
/** Fixed part of a chunk header before the chunk id: version, count, index, id length. */
const PREFIX_BYTES = 7;
const LENGTH_BYTES = 2;
/** Ids longer than this are treated as corruption (the original always writes 16). */
const MAX_ACCEPTED_ID_BYTES = 64;

/** All chunks of one entry, concatenated (each chunk is written as one unit by the store). */
export function encodeChunks(entryBytes: Buffer, chunkId: Buffer = randomBytes(CHUNK_ID_BYTES)): Buffer {
  const count = Math.max(1, Math.ceil(entryBytes.length / MAX_CHUNK_PAYLOAD));
  if (count > MAX_CHUNKS_PER_ENTRY) {
    throw new RangeError(
      `entry of ${entryBytes.length} bytes needs more than ${MAX_CHUNKS_PER_ENTRY} chunks`,
    );
  }
  const parts: Buffer[] = [];
  for (let index = 0; index < count; index++) {
    const payload = entryBytes.subarray(index * MAX_CHUNK_PAYLOAD, (index + 1) * MAX_CHUNK_PAYLOAD);
    const header = Buffer.alloc(PREFIX_BYTES + chunkId.length + LENGTH_BYTES);
    header[0] = CHUNK_VERSION;
    header.writeUInt16LE(count, 1);
    header.writeUInt16LE(index, 3);
    header.writeUInt16LE(chunkId.length, 5);
    chunkId.copy(header, PREFIX_BYTES);
    header.writeUInt16LE(payload.length, PREFIX_BYTES + chunkId.length);
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

export interface ScannedEntry {
  /** Absolute file offset of the entry's first chunk. */
  offset: number;
  /** The reassembled entry bytes (the entry encoding of docs/protocol.md#datastore). */
  bytes: Buffer;
}

/** How the scanned bytes ended: at an entry boundary, inside an entry, or at bytes that are not a chunk. */
export type ScanEnd = 'clean' | 'partial' | 'invalid';

export interface ScanResult {
  /** Complete entries, in the order of their first chunk. */
  entries: ScannedEntry[];
  /** Absolute offset just after the last entry boundary (every entry before it is complete). */
  boundary: number;
  end: ScanEnd;
  /** For `invalid`: where the bad chunk starts and what is wrong with it. */
  problem?: { offset: number; reason: string };
}

interface PendingEntry {
  offset: number;
  count: number;
  next: number;
  pieces: Buffer[];
}

/**
 * Incremental parser: feed consecutive file bytes with `push`, then read `result()`. Entries whose chunks
 * interleave with other entries are supported (the original reads them); an entry only counts once all of its
 * `count` chunks arrived, so a reader never consumes an entry that a writer is still writing.
 */
export class ChunkScanner {
  private carry: Buffer = Buffer.alloc(0);
  private position: number;
  private boundaryOffset: number;
  private readonly pending = new Map<string, PendingEntry>();
  private completedWhilePending: ScannedEntry[] = [];
  private readonly committed: ScannedEntry[] = [];
  private problem: { offset: number; reason: string } | undefined;

  constructor(startOffset: number) {
    this.position = startOffset;
    this.boundaryOffset = startOffset;
  }

  push(data: Buffer): void {
    if (this.problem) return;
    let buf = this.carry.length === 0 ? data : Buffer.concat([this.carry, data]);
    let at = 0;
    while (!this.problem) {
      const size = this.chunkAt(buf, at);
      if (size === 0) break;
      at += size;
    }
    buf = buf.subarray(at);
    // Keep a copy, so the caller may reuse its read buffer.
    this.carry = Buffer.from(buf);
  }

  result(): ScanResult {
    const result: ScanResult = {
      entries: this.committed,
      boundary: this.boundaryOffset,
      end: this.problem ? 'invalid' : this.carry.length > 0 || this.pending.size > 0 ? 'partial' : 'clean',
    };
    if (this.problem) result.problem = this.problem;
    return result;
  }

  /** Parses the chunk at `at`; returns its size, or 0 when it is incomplete or invalid. */
  private chunkAt(buf: Buffer, at: number): number {
    const available = buf.length - at;
    if (available < PREFIX_BYTES) return 0;
    const start = this.position;
    const version = buf[at]!;
    const count = buf.readUInt16LE(at + 1);
    const index = buf.readUInt16LE(at + 3);
    const idLength = buf.readUInt16LE(at + 5);
    if (version !== CHUNK_VERSION) return this.invalid(start, `unknown chunk version ${version}`);
    if (count === 0 || index >= count) return this.invalid(start, `chunk index ${index} of ${count}`);
    if (idLength === 0 || idLength > MAX_ACCEPTED_ID_BYTES) {
      return this.invalid(start, `chunk id length ${idLength}`);
    }
    const lengthAt = at + PREFIX_BYTES + idLength;
    if (buf.length < lengthAt + LENGTH_BYTES) return 0;
    const payloadLength = buf.readUInt16LE(lengthAt);
    const size = PREFIX_BYTES + idLength + LENGTH_BYTES + payloadLength;
    if (available < size) return 0;

    const id = buf.toString('hex', at + PREFIX_BYTES, lengthAt);
    const payload = buf.subarray(lengthAt + LENGTH_BYTES, at + size);
    let entry = this.pending.get(id);
    if (index === 0) {
      if (entry) return this.invalid(start, `chunk id ${id} reused before its entry was complete`);
      entry = { offset: start, count, next: 0, pieces: [] };
      this.pending.set(id, entry);
    } else if (!entry || entry.next !== index || entry.count !== count) {
      return this.invalid(start, `chunk ${index} of ${count} of chunk id ${id} is out of order`);
    }
    entry.pieces.push(Buffer.from(payload));
    entry.next++;
    this.position += size;
    if (entry.next === entry.count) {
      this.pending.delete(id);
      this.completedWhilePending.push({ offset: entry.offset, bytes: Buffer.concat(entry.pieces) });
    }
    if (this.pending.size === 0 && this.completedWhilePending.length > 0) {
      this.completedWhilePending.sort((a, b) => a.offset - b.offset);
      this.committed.push(...this.completedWhilePending);
      this.completedWhilePending = [];
      this.boundaryOffset = this.position;
    }
    return size;
  }

  private invalid(offset: number, reason: string): number {
    this.problem = { offset, reason };
    return 0;
  }
}
