/**
 * The record tree of the service directory and its best chain [docs/protocol.md#chain-rules], verified
 * incrementally: every chain keeps its own ChainVerifier (pins, tip), so a record extending a chain costs one
 * verification, never a re-verification of the chain. Runs of records extending the same tip are verified as
 * one batch with signatures checked on the thread pool.
 *
 * Rules (the original's, made strict where its result could never be used by a client):
 * - a record with an empty parent starts a chain; the chain is valid up to its first invalid record (the
 *   original keeps going with gaps, which every client then rejects);
 * - a record whose parent is unknown is an orphan and never served (the original treats it as a root);
 * - at a fork the first valid child in store order continues the chain (a fork cannot arise through this
 *   server, only through foreign writers of the store); other branches are kept but never verified;
 * - a second record with an already stored hash is ignored;
 * - best chain: of all valid chains, in store order of their roots, the one whose root `created_at` is
 *   strictly the latest (ties keep the earlier chain; length does not matter), as in the original.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import type { TrustStore, VerifyFailureCode } from '../records/index.js';
import { ChainVerifier, createdAtNanos } from '../records/index.js';

export type NodeStatus = 'valid' | 'invalid' | 'orphan' | 'branch';

export interface RecordNode {
  record: SignedChangeRecord;
  status: NodeStatus;
  /** Why the record is not part of a chain (for logs). */
  reason?: string;
}

export class Chain {
  readonly records: SignedChangeRecord[] = [];
  private readonly positions = new Map<string, number>();

  constructor(
    /** Root `created_at` in nanoseconds since the epoch. */
    readonly rootTime: bigint,
    public verifier: ChainVerifier,
  ) {}

  get tip(): SignedChangeRecord | undefined {
    return this.records[this.records.length - 1];
  }

  get tipHash(): string {
    return this.tip?.hash ?? '';
  }

  /** Index of a record in this chain, or undefined. */
  indexOf(hash: string): number | undefined {
    return this.positions.get(hash);
  }

  push(record: SignedChangeRecord): void {
    this.positions.set(record.hash, this.records.length);
    this.records.push(record);
  }
}

/** A failure while ingesting, reported to the caller for logging. */
export interface IngestProblem {
  hash: string;
  status: Exclude<NodeStatus, 'valid'>;
  code?: VerifyFailureCode;
  reason: string;
}

interface Run {
  chain: Chain | undefined;
  /** Verifier of a new root's chain (undefined when extending `chain`). */
  rootVerifier: ChainVerifier | undefined;
  records: SignedChangeRecord[];
}

export class ChainSet {
  private readonly nodes = new Map<string, RecordNode>();
  private readonly chains: Chain[] = [];
  /** Tip hash → chain, for O(1) extension. */
  private readonly tips = new Map<string, Chain>();
  private bestChain: Chain | undefined;

  constructor(private readonly trust: TrustStore) {}

  get best(): Chain | undefined {
    return this.bestChain;
  }

  /** Number of distinct records known (valid or not). */
  get size(): number {
    return this.nodes.size;
  }

  get chainCount(): number {
    return this.chains.length;
  }

  /** Every valid chain (the status page): its tip, length and whether it is the one served. */
  view(): { tip: string; length: number; best: boolean }[] {
    return this.chains.map((c) => ({ tip: c.tipHash, length: c.records.length, best: c === this.bestChain }));
  }

  has(hash: string): boolean {
    return this.nodes.has(hash);
  }

  node(hash: string): RecordNode | undefined {
    return this.nodes.get(hash);
  }

  /** A fresh verifier for a new root, optionally seeded with pins (reset check, sequence D step 2). */
  newVerifier(initialPins?: ReadonlyMap<string, string>): ChainVerifier {
    return new ChainVerifier(this.trust, initialPins ? { initialPins } : {});
  }

  /**
   * Adds records read from the store, in store order, verifying what extends a chain. Returns the records
   * that were not accepted into a chain (duplicates are skipped silently).
   */
  async addAll(records: readonly SignedChangeRecord[]): Promise<IngestProblem[]> {
    const problems: IngestProblem[] = [];
    let run: Run | undefined;
    for (const record of records) {
      if (this.nodes.has(record.hash)) continue;
      if (run && record.parent_hash !== '' && record.parent_hash === run.records.at(-1)!.hash) {
        this.nodes.set(record.hash, { record, status: 'branch' });
        run.records.push(record);
        continue;
      }
      if (run) await this.flush(run, problems);
      run = undefined;
      this.nodes.set(record.hash, { record, status: 'branch' });
      if (record.parent_hash === '') {
        run = { chain: undefined, rootVerifier: this.newVerifier(), records: [record] };
        continue;
      }
      const chain = this.tips.get(record.parent_hash);
      if (chain) {
        run = { chain, rootVerifier: undefined, records: [record] };
        continue;
      }
      this.reject(record, this.nodes.has(record.parent_hash) ? 'branch' : 'orphan', problems);
    }
    if (run) await this.flush(run, problems);
    this.chooseBest();
    return problems;
  }

  /**
   * Adds records that were verified against `chain` before they were written (submitRecords): `verifier` is
   * the state after them. Returns false (and changes nothing) when they do not extend `chain`'s tip.
   */
  adopt(chain: Chain, records: readonly SignedChangeRecord[], verifier: ChainVerifier): boolean {
    if (records.length === 0 || records[0]!.parent_hash !== chain.tipHash) return false;
    if (records.some((r) => this.nodes.has(r.hash))) return false;
    if (verifier.tip !== records.at(-1)!.hash) return false;
    this.tips.delete(chain.tipHash);
    for (const record of records) {
      this.nodes.set(record.hash, { record, status: 'valid' });
      chain.push(record);
    }
    chain.verifier = verifier;
    this.tips.set(chain.tipHash, chain);
    this.chooseBest();
    return true;
  }

  private async flush(run: Run, problems: IngestProblem[]): Promise<void> {
    const verifier = run.chain?.verifier ?? run.rootVerifier!;
    let result = await verifier.appendAsync(run.records);
    let accepted = run.records.length;
    if (!result.ok) {
      accepted = result.index;
      const failed = run.records[result.index]!;
      const node = this.nodes.get(failed.hash)!;
      node.status = 'invalid';
      node.reason = result.reason;
      problems.push({ hash: failed.hash, status: 'invalid', code: result.code, reason: result.reason });
      for (const later of run.records.slice(result.index + 1)) {
        this.reject(later, 'branch', problems, 'follows an invalid record');
      }
      if (accepted > 0) {
        // All-or-nothing verifier: commit the valid prefix (rare path; verifies the prefix again).
        result = await verifier.appendAsync(run.records.slice(0, accepted));
        if (!result.ok)
          throw new Error(`verification of a prefix that passed before failed: ${result.reason}`);
      }
    }
    if (accepted === 0) return;
    let chain = run.chain;
    if (!chain) {
      chain = new Chain(createdAtNanos(run.records[0]!.record.created_at), verifier);
      this.chains.push(chain);
    } else {
      this.tips.delete(chain.tipHash);
    }
    for (const record of run.records.slice(0, accepted)) {
      this.nodes.get(record.hash)!.status = 'valid';
      chain.push(record);
    }
    this.tips.set(chain.tipHash, chain);
  }

  private reject(
    record: SignedChangeRecord,
    status: 'orphan' | 'branch',
    problems: IngestProblem[],
    why?: string,
  ): void {
    const reason =
      why ??
      (status === 'orphan'
        ? `parent ${record.parent_hash} is not in the store`
        : `parent ${record.parent_hash} is not the tip of a valid chain (fork or follows an invalid record)`);
    const node = this.nodes.get(record.hash)!;
    node.status = status;
    node.reason = reason;
    problems.push({ hash: record.hash, status, reason });
  }

  private chooseBest(): void {
    let best: Chain | undefined;
    for (const chain of this.chains) {
      if (!best || chain.rootTime > best.rootTime) best = chain;
    }
    this.bestChain = best;
  }
}
