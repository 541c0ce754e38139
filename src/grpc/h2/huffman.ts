/**
 * HPACK Huffman decoding (RFC 7541 §5.2, Appendix B). The code is canonical, so it is fully determined by
 * each symbol's code length: the table below lists those lengths (symbols 0..255, then EOS = 256) and the
 * codes are rebuilt from them at start-up. We never Huffman-encode (plain literals are always allowed).
 */
import { CodedError } from '../../core/errors.js';

export class HuffmanError extends CodedError<'ERR_H2_HUFFMAN'> {
  constructor(message: string) {
    super('ERR_H2_HUFFMAN', message);
  }
}

// prettier-ignore
const LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // ' ' .. '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // '0' .. '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // '@' .. 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 'P' .. '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // '`' .. 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 'p' .. 127
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30, // EOS
];

export const EOS = 256;

/** Canonical codes: symbols sorted by (length, value) get consecutive codes. */
export function huffmanCodes(): { code: number; bits: number }[] {
  const order = LENGTHS.map((bits, sym) => ({ sym, bits })).sort((a, b) => a.bits - b.bits || a.sym - b.sym);
  const codes = new Array<{ code: number; bits: number }>(LENGTHS.length);
  let code = 0;
  let prev = order[0]!.bits;
  for (const { sym, bits } of order) {
    code *= 2 ** (bits - prev);
    prev = bits;
    codes[sym] = { code, bits };
    code++;
  }
  return codes;
}

/** Binary decoding tree in a flat array: node n has children at [2n] and [2n+1]; a leaf holds -(sym+1). */
const tree = buildTree();

function buildTree(): Int32Array {
  const nodes: number[] = [0, 0];
  let count = 1;
  for (const [sym, { code, bits }] of huffmanCodes().entries()) {
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = 2 * node + bit;
      if (i === 0) {
        nodes[slot] = -(sym + 1);
      } else {
        if (nodes[slot] === 0) {
          nodes[slot] = count++;
          nodes.push(0, 0);
        }
        node = nodes[slot]!;
      }
    }
  }
  return Int32Array.from(nodes);
}

/**
 * Decodes a Huffman-coded string literal; rejects EOS inside the data and invalid padding (RFC 7541 §5.2).
 */
export function huffmanDecode(input: Uint8Array): string {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let n = 0;
  let node = 0;
  // Bits read since the last complete symbol, and whether they were all ones (only an EOS prefix may pad).
  let pending = 0;
  let allOnes = true;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    for (let shift = 7; shift >= 0; shift--) {
      const bit = (byte >> shift) & 1;
      const next = tree[2 * node + bit]!;
      pending++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) throw new HuffmanError('Huffman string contains EOS');
        out[n++] = sym;
        node = 0;
        pending = 0;
        allOnes = true;
      } else {
        node = next;
      }
    }
  }
  if (pending > 7) throw new HuffmanError('Huffman padding longer than 7 bits');
  if (!allOnes) throw new HuffmanError('Huffman padding is not a prefix of EOS');
  return out.toString('latin1', 0, n);
}
