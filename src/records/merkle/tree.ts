/**
 * An append-only Merkle tree in the shape of RFC 9162 §2.1: tree hash of the first n leaves, inclusion proofs
 * (§2.1.3.1) and consistency proofs (§2.1.4.1) for any size up to the current one.
 *
 * It keeps the hash of every complete, aligned subtree (level h holds the subtrees of 2^h leaves), about 2n
 * hashes in all. Appending a leaf adds O(1) hashes amortised (at most log2 n); a root or a proof then needs
 * only the subtrees on the right edge that are incomplete: O(log n) node hashes for a root, O(log² n) at
 * worst for a proof (in practice far fewer), and a proof holds at most about 2·log2 n hashes.
 */
import { EMPTY_ROOT, nodeHash, splitPoint } from './hash.js';
import { HashList } from './hash-list.js';

export class MerkleTree {
  /** levels[h].get(i): the hash of leaves [i·2^h, (i+1)·2^h). */
  private readonly levels: HashList[] = [new HashList()];
  private rootCache: { size: number; root: Buffer } = { size: 0, root: EMPTY_ROOT };

  /** A tree holding `leafHashes` (already leaf-hashed) in order. */
  static of(leafHashes: Iterable<Uint8Array>): MerkleTree {
    const tree = new MerkleTree();
    for (const hash of leafHashes) tree.append(hash);
    return tree;
  }

  /** Number of leaves. */
  get size(): number {
    return this.levels[0]!.length;
  }

  /** Appends one leaf hash (SHA-256(0x00 || leaf bytes), see `leafHash`). */
  append(leafHash: Uint8Array): void {
    this.levels[0]!.push(leafHash);
    // Every time a level gets an even count, its last two hashes form a complete subtree one level up.
    for (let h = 0; this.levels[h]!.length % 2 === 0; h++) {
      const level = this.levels[h]!;
      const n = level.length;
      if (h + 1 === this.levels.length) this.levels.push(new HashList());
      this.levels[h + 1]!.push(nodeHash(level.get(n - 2), level.get(n - 1)));
    }
  }

  /** The leaf hash at `index`. */
  leaf(index: number): Buffer {
    return this.levels[0]!.get(index);
  }

  /** MTH of the first `size` leaves (default: all). */
  root(size: number = this.size): Buffer {
    this.checkSize(size, 'tree size');
    if (size === this.rootCache.size) return this.rootCache.root;
    const root = size === 0 ? EMPTY_ROOT : this.range(0, size);
    if (size === this.size) this.rootCache = { size, root };
    return root;
  }

  /** PATH(index, D[size]): the audit path of leaf `index` in the tree of the first `size` leaves. */
  inclusionProof(index: number, size: number = this.size): Buffer[] {
    this.checkSize(size, 'tree size');
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new RangeError(`leaf index ${index} is not in a tree of size ${size}`);
    }
    const path: Buffer[] = [];
    this.path(index, 0, size, path);
    return path;
  }

  /** PROOF(first, D[second]): proves that the tree of size `first` is a prefix of the tree of size `second`. */
  consistencyProof(first: number, second: number = this.size): Buffer[] {
    this.checkSize(second, 'tree size');
    if (!Number.isInteger(first) || first < 0 || first > second) {
      throw new RangeError(`first size ${first} must be between 0 and the second size ${second}`);
    }
    const proof: Buffer[] = [];
    // The empty tree and the tree itself are trivially consistent: no hashes (RFC 9162 §2.1.4.1 needs 0 < m).
    if (first > 0 && first < second) this.subproof(first, 0, second, true, proof);
    return proof;
  }

  private checkSize(size: number, what: string): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`${what} ${size} is not between 0 and ${this.size}`);
    }
  }

  /** MTH of leaves [start, end), end > start, from the cached complete subtrees. */
  private range(start: number, end: number): Buffer {
    const n = end - start;
    if ((n & (n - 1)) === 0 && start % n === 0) return this.levels[31 - Math.clz32(n)]!.get(start / n);
    const k = splitPoint(n);
    return nodeHash(this.range(start, start + k), this.range(start + k, end));
  }

  /** Appends to `out` the audit path of leaf `index` in the subtree [start, end), deepest hash first. */
  private path(index: number, start: number, end: number, out: Buffer[]): void {
    const n = end - start;
    if (n === 1) return;
    const k = splitPoint(n);
    if (index < start + k) {
      this.path(index, start, start + k, out);
      out.push(this.range(start + k, end));
    } else {
      this.path(index, start + k, end, out);
      out.push(this.range(start, start + k));
    }
  }

  /** SUBPROOF(m, D[start:end], complete) of RFC 9162 §2.1.4.1, m counted from `start`. */
  private subproof(m: number, start: number, end: number, complete: boolean, out: Buffer[]): void {
    const n = end - start;
    if (m === n) {
      if (!complete) out.push(this.range(start, end));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.subproof(m, start, start + k, complete, out);
      out.push(this.range(start + k, end));
    } else {
      this.subproof(m - k, start + k, end, false, out);
      out.push(this.range(start, start + k));
    }
  }
}
