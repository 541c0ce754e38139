/**
 * Byte-level mutations in the style of libFuzzer/AFL "havoc": bit flips, interesting values, small
 * arithmetic, block insert/delete/duplicate, dictionary tokens and splices with another corpus entry.
 */
import type { Rng } from './rng.js';

const INTERESTING_8 = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const INTERESTING_16 = [0x0000, 0x0080, 0x00ff, 0x0100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xffff];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 16_384, 16_385, 65_535, 65_536];

export interface MutationContext {
  rng: Rng;
  maxBytes: number;
  dictionary: readonly Buffer[];
  /** Another corpus entry to splice with. */
  other: () => Buffer;
}

function randomBytes(rng: Rng, count: number): Buffer {
  const out = Buffer.allocUnsafe(count);
  for (let i = 0; i < count; i++) out[i] = rng.below(256);
  return out;
}

function insertAt(buf: Buffer, at: number, bytes: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, at), bytes, buf.subarray(at)]);
}

function overwriteAt(buf: Buffer, at: number, bytes: Buffer): Buffer {
  const out = Buffer.from(buf);
  bytes.copy(out, at, 0, Math.min(bytes.length, out.length - at));
  return out;
}

/** One mutation; the result may alias `buf` only when it is a fresh copy already. */
function mutateOnce(buf: Buffer, ctx: MutationContext): Buffer {
  const { rng } = ctx;
  const at = rng.below(buf.length + 1);
  const inside = buf.length > 0 ? rng.below(buf.length) : 0;
  switch (rng.below(12)) {
    case 0: {
      if (buf.length === 0) return randomBytes(rng, 1 + rng.below(8));
      const out = Buffer.from(buf);
      out[inside] = out[inside]! ^ (1 << rng.below(8));
      return out;
    }
    case 1: {
      if (buf.length === 0) return Buffer.from([rng.pick(INTERESTING_8)]);
      const out = Buffer.from(buf);
      out[inside] = rng.pick(INTERESTING_8);
      return out;
    }
    case 2: {
      const v = Buffer.alloc(2);
      v.writeUInt16BE(rng.pick(INTERESTING_16));
      return rng.chance(2) ? overwriteAt(buf, inside, v) : insertAt(buf, at, v);
    }
    case 3: {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(rng.pick(INTERESTING_32));
      return rng.chance(2) ? overwriteAt(buf, inside, v) : insertAt(buf, at, v);
    }
    case 4: {
      if (buf.length === 0) return buf;
      const out = Buffer.from(buf);
      out[inside] = (out[inside]! + rng.below(35) - 17) & 0xff;
      return out;
    }
    case 5:
      return insertAt(buf, at, randomBytes(rng, 1 + rng.below(16)));
    case 6: {
      if (buf.length === 0) return buf;
      const count = 1 + rng.below(Math.min(buf.length - inside, 64));
      return Buffer.concat([buf.subarray(0, inside), buf.subarray(inside + count)]);
    }
    case 7: {
      // Duplicate a block (repeated fields, repeated frames).
      if (buf.length === 0) return buf;
      const count = 1 + rng.below(Math.min(buf.length - inside, 256));
      return insertAt(buf, at, Buffer.from(buf.subarray(inside, inside + count)));
    }
    case 8:
    case 9: {
      if (ctx.dictionary.length === 0) return insertAt(buf, at, randomBytes(rng, 1));
      const token = rng.pick(ctx.dictionary);
      return rng.chance(2) ? insertAt(buf, at, token) : overwriteAt(buf, inside, token);
    }
    case 10: {
      // Splice: a prefix of this entry and a suffix of another.
      const other = ctx.other();
      return Buffer.concat([buf.subarray(0, at), other.subarray(rng.below(other.length + 1))]);
    }
    default:
      return buf.subarray(0, at);
  }
}

/** A mutant of `input` after 1 to 8 stacked mutations, cut to `maxBytes`. */
export function mutate(input: Buffer, ctx: MutationContext): Buffer {
  let buf = input;
  const rounds = 1 << ctx.rng.below(4);
  for (let i = 0; i < rounds; i++) buf = mutateOnce(buf, ctx);
  return buf.length > ctx.maxBytes ? buf.subarray(0, ctx.maxBytes) : buf;
}
