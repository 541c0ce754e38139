/**
 * Binary encoding of one datastore entry [WIRE, docs/protocol.md#datastore], shared by the file and Redis
 * stores: version byte 1, type byte, id length (uint16 LE), id bytes, data bytes up to the end.
 */
import { randomBytes } from 'node:crypto';
import type { DataEntry } from './datastore.js';
import { CodedError } from '../core/errors.js';

export const ENTRY_FORMAT_VERSION = 1;
/** Entry type of a signed change record in the service directory's store. */
export const SIGNED_RECORD_ENTRY_TYPE = 1;
/** Length of the random entry ids the original draws. */
export const ENTRY_ID_BYTES = 16;
const HEADER_BYTES = 4;
const MAX_ID_BYTES = 0xffff;
const MAX_TYPE = 0xff;

export class EntryFormatError extends CodedError<'ERR_DATASTORE_ENTRY_FORMAT'> {
  override readonly name = 'EntryFormatError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DATASTORE_ENTRY_FORMAT', message, options);
  }
}

/** A fresh random 16-byte entry id. */
export function newEntryId(): Buffer {
  return randomBytes(ENTRY_ID_BYTES);
}

export function encodeEntry(entry: DataEntry): Buffer {
  if (!Number.isInteger(entry.type) || entry.type < 0 || entry.type > MAX_TYPE) {
    throw new EntryFormatError(`entry type ${entry.type} does not fit in one byte`);
  }
  if (entry.id.length > MAX_ID_BYTES) {
    throw new EntryFormatError(`entry id of ${entry.id.length} bytes is too long`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = ENTRY_FORMAT_VERSION;
  header[1] = entry.type;
  header.writeUInt16LE(entry.id.length, 2);
  return Buffer.concat([header, entry.id, entry.data]);
}

/** Decodes one entry; the result's buffers are copies, independent of `bytes`. */
export function decodeEntry(bytes: Uint8Array): DataEntry {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES) {
    throw new EntryFormatError(
      `entry of ${buf.length} bytes is shorter than its ${HEADER_BYTES}-byte header`,
    );
  }
  if (buf[0] !== ENTRY_FORMAT_VERSION) {
    throw new EntryFormatError(`unknown entry format version ${buf[0]}`);
  }
  const idLength = buf.readUInt16LE(2);
  // The original's id-length bounds check is wrong (corrupt entries crash it); this one is exact.
  if (HEADER_BYTES + idLength > buf.length) {
    throw new EntryFormatError(`entry id length ${idLength} exceeds the entry (${buf.length} bytes)`);
  }
  return {
    type: buf[1]!,
    id: Buffer.from(buf.subarray(HEADER_BYTES, HEADER_BYTES + idLength)),
    data: Buffer.from(buf.subarray(HEADER_BYTES + idLength)),
  };
}
