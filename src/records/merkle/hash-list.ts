/** An append-only list of 32-byte hashes in one growable buffer (no object per hash). */
import { HASH_SIZE } from './hash.js';

const INITIAL_HASHES = 64;

export class HashList {
  private buf = Buffer.allocUnsafe(INITIAL_HASHES * HASH_SIZE);
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) throw new RangeError(`a hash has ${HASH_SIZE} bytes, not ${hash.length}`);
    const end = (this.count + 1) * HASH_SIZE;
    if (end > this.buf.length) {
      const next = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(next, 0, 0, this.count * HASH_SIZE);
      this.buf = next;
    }
    this.buf.set(hash, this.count * HASH_SIZE);
    this.count++;
  }

  /** The hash at `index` (a view: hashes are never overwritten, so it stays valid). */
  get(index: number): Buffer {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new RangeError(`hash ${index} of ${this.count} does not exist`);
    }
    return this.buf.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }
}
