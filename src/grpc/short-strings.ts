/**
 * Decoding of the short strings a Struct is made of (keys such as "name", "groups", "key_usage", and
 * repeated values) through a small table of recently seen ones. Every string of a decoded message used to
 * cost a call into Node's native UTF-8 decoder, most of a `_ping` answer's decoding time; a hit here is a
 * hash and a byte comparison in JavaScript. Bounded: SLOTS entries of at most MAX_BYTES bytes each.
 */
const SLOTS = 1024;
const MAX_BYTES = 32;

const slotBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SLOTS);
const slotText: string[] = new Array<string>(SLOTS);

function sameBytes(a: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

/** UTF-8 text of buf[start, end); the caller has checked the bounds. */
export function utf8Text(buf: Uint8Array, start: number, end: number): string {
  if (end - start > MAX_BYTES)
    return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
  // FNV-1a over the bytes picks the slot.
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
  const slot = (hash >>> 0) & (SLOTS - 1);
  const known = slotBytes[slot];
  if (known !== undefined && sameBytes(known, buf, start, end)) return slotText[slot]!;
  const text = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
  // A copy: on a Buffer, slice() is a view, which would pin the whole received chunk and change with it.
  slotBytes[slot] = Uint8Array.prototype.slice.call(buf, start, end);
  slotText[slot] = text;
  return text;
}
