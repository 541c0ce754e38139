/**
 * Keeps a RecordTree in step with a chain that grows (and is sometimes replaced by a reset): `sync` appends
 * only the records added since the last call, and rebuilds only when the chain no longer starts with what the
 * tree holds. Same position and same hash means same prefix, because every record names its parent's hash.
 */
import type { SignedChangeRecord } from '../../core/directory-entry.js';
import { RecordTree } from './record-tree.js';

export class ChainTree {
  private tree = new RecordTree();

  /** The tree over `chain` (in chain order); O(new records) when `chain` extends the previous one. */
  sync(chain: readonly SignedChangeRecord[]): RecordTree {
    const size = this.tree.size;
    if (size > chain.length || (size > 0 && chain[size - 1]!.hash !== this.tree.tip().head)) {
      this.tree = new RecordTree();
    }
    for (let i = this.tree.size; i < chain.length; i++) this.tree.append(chain[i]!);
    return this.tree;
  }
}
