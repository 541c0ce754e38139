/** PEM helpers with the original's "first block only" semantics [docs/protocol.md#record-signatures]. */
import { RecordError } from './errors.js';

const PEM_BLOCK = /-----BEGIN ([^\r\n-]*)-----\r?\n([\s\S]*?)-----END \1-----/;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;
const PEM_LINE_LENGTH = 64;
/** Optional RFC 1421 headers ("Key: value" lines) that may precede the base64 body. */
const PEM_HEADER_LINE = /^[A-Za-z0-9-]+:.*$/;

export interface PemBlock {
  type: string;
  der: Buffer;
}

/** Decodes the first PEM block of `text`; throws a certificate RecordError when there is none or it is broken. */
export function firstPemBlock(text: string): PemBlock {
  const m = PEM_BLOCK.exec(text);
  if (!m) throw new RecordError('certificate', 'no PEM block found');
  const lines = (m[2] ?? '').split(/\r?\n/);
  while (lines.length > 0 && PEM_HEADER_LINE.test(lines[0] ?? '')) lines.shift();
  const body = lines.join('').replace(/\s+/g, '');
  if (!BASE64_BODY.test(body) || body.length % 4 !== 0) {
    throw new RecordError('certificate', `PEM block of type ${m[1]} is not valid base64`);
  }
  return { type: m[1] ?? '', der: Buffer.from(body, 'base64') };
}

/** Encodes DER as PEM: base64 in 64-character lines, each ending with a newline. */
export function encodePem(der: Uint8Array, type = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  let out = `-----BEGIN ${type}-----\n`;
  for (let i = 0; i < b64.length; i += PEM_LINE_LENGTH) out += `${b64.slice(i, i + PEM_LINE_LENGTH)}\n`;
  return `${out}-----END ${type}-----\n`;
}
