/**
 * The Merkle tree over a directory chain (records in chain order, leaves as in ./hash.ts) and the directory
 * tip {size, head, root} that sds and peers compare. Proofs are given in a JSON form (hex hashes) that the
 * sd API, the eps and `eps sd verify-proof` share.
 */
import type { SignedChangeRecord } from '../../core/directory-entry.js';
import { recordLeafHash } from './hash.js';
import { MerkleTree } from './tree.js';

/** What a party says its verified directory is: record count, hash of the last record, Merkle root. */
export interface DirectoryTip {
  /** Number of records in the chain (= leaves of the tree). */
  size: number;
  /** Hash of the last record, as in the chain ("" for an empty chain). */
  head: string;
  /** RFC 9162 tree hash of the records, lower-case hex (SHA-256 of no bytes for an empty chain). */
  root: string;
}

/** Proof that the record with `record_hash` is leaf `leaf_index` of the tree of `tree_size` records. */
export interface InclusionProof {
  tree_size: number;
  leaf_index: number;
  record_hash: string;
  /** SHA-256(0x00 || leaf bytes) of the record, hex. */
  leaf_hash: string;
  /** The audit path, deepest first, hex. */
  path: string[];
}

/** Proof that the tree of `first` records is a prefix of the tree of `second` records. */
export interface ConsistencyProof {
  first: number;
  second: number;
  path: string[];
}

const hex = (hashes: readonly Buffer[]): string[] => hashes.map((h) => h.toString('hex'));

/**
 * The tree of one chain, kept next to it: appending a record costs O(log n) at worst. Reading records back
 * by hash uses an index (the first position of a hash, should one ever repeat).
 */
export class RecordTree {
  private readonly tree = new MerkleTree();
  private readonly hashes: string[] = [];
  private readonly positions = new Map<string, number>();

  /** A tree over `records` (in chain order). */
  static of(records: Iterable<SignedChangeRecord>): RecordTree {
    const tree = new RecordTree();
    for (const record of records) tree.append(record);
    return tree;
  }

  get size(): number {
    return this.hashes.length;
  }

  append(record: SignedChangeRecord): void {
    this.tree.append(recordLeafHash(record));
    if (!this.positions.has(record.hash)) this.positions.set(record.hash, this.hashes.length);
    this.hashes.push(record.hash);
  }

  /** The tip of the first `size` records (default: all). */
  tip(size: number = this.size): DirectoryTip {
    const root = this.tree.root(size).toString('hex');
    return { size, head: size === 0 ? '' : this.hashes[size - 1]!, root };
  }

  /** Position of the record with this hash, or undefined. */
  indexOf(recordHash: string): number | undefined {
    return this.positions.get(recordHash);
  }

  /** Inclusion proof of record `index` in the tree of the first `size` records (RangeError when out of range). */
  inclusionProof(index: number, size: number = this.size): InclusionProof {
    const path = this.tree.inclusionProof(index, size);
    return {
      tree_size: size,
      leaf_index: index,
      record_hash: this.hashes[index]!,
      leaf_hash: this.tree.leaf(index).toString('hex'),
      path: hex(path),
    };
  }

  /** Consistency proof from the first `first` records to the first `second` (RangeError when out of range). */
  consistencyProof(first: number, second: number = this.size): ConsistencyProof {
    return { first, second, path: hex(this.tree.consistencyProof(first, second)) };
  }
}
