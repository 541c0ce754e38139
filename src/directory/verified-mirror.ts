/**
 * The verified local copy of the SD's chain that an `api` directory keeps
 * [docs/protocol.md#directory-backends, done better]: records received from the SD are normalised, verified
 * and applied here, without any network.
 *
 * - Only new records are verified: the ChainVerifier keeps pins and tip, so a refresh costs O(new records).
 * - New records must extend the verified tip (every parent hash is checked, not just the first).
 * - A new root is accepted only as a complete, fully verified chain whose root `created_at` is strictly newer
 *   than the current root (a reset). A shorter copy of our own chain (rollback), an older or equally old
 *   root, or records hanging off an unknown parent (fork) are refused.
 * - Verification and application are all or nothing: on any refusal the previous state stays unchanged.
 */
import type { AppendResult } from '../records/index.js';
import { applyRecords, ChainVerifier, compareCreatedAt, normaliseSignedRecords } from '../records/index.js';
import type { TrustStore } from '../records/index.js';
import { DirectoryRefreshError } from './api-errors.js';
import type { DirectoryEntry, SignedChangeRecord } from '../core/directory-entry.js';
import { errorMessage } from '../core/errors.js';

/** Batches at least this long are verified on the thread pool (keeps the event loop responsive). */
export const ASYNC_VERIFY_THRESHOLD = 64;

export type IngestOutcome =
  | { kind: 'unchanged' }
  | { kind: 'extended'; added: number }
  | { kind: 'reset'; added: number; dropped: number };

export interface VerifiedMirrorOptions {
  /** Clock in milliseconds for certificate validity (default Date.now). */
  now?: () => number;
}

export class VerifiedMirror {
  private verifier: ChainVerifier;
  private chain: SignedChangeRecord[] = [];
  private entryMap = new Map<string, DirectoryEntry>();
  private verifiedCount = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly trust: TrustStore,
    private readonly options: VerifiedMirrorOptions = {},
  ) {
    this.verifier = this.freshVerifier();
  }

  /**
   * A mirror holding `records`, a prefix of a chain that was verified already (our own): the verifier's
   * state and the entries are replayed without checking signatures or certificates, so that records after
   * it are verified exactly as they would have been then. Used to verify a peer's branch after our common
   * prefix without verifying the prefix again.
   */
  static ofVerified(
    trust: TrustStore,
    records: readonly SignedChangeRecord[],
    options: VerifiedMirrorOptions = {},
  ): VerifiedMirror {
    const mirror = new VerifiedMirror(trust, options);
    mirror.verifier = ChainVerifier.ofVerified(trust, records, options.now ? { now: options.now } : {});
    mirror.chain = [...records];
    mirror.entryMap = mirror.apply(new Map(), records);
    return mirror;
  }

  /**
   * Verifies a peer's branch after `common`, a prefix of our chain, with the same trust and rules in a
   * separate mirror (ours is untouched); rejects when it fails. The prefix is not verified again (replayed,
   * no signatures) unless our chain no longer starts with it (a reset came in between): then prefix and
   * branch are verified from scratch.
   */
  async verifyBranch(
    common: readonly SignedChangeRecord[],
    branch: readonly SignedChangeRecord[],
  ): Promise<void> {
    const n = common.length;
    // Same hash at the same position: the same prefix (every record names its parent's hash).
    if (n === 0 || this.chain[n - 1]?.hash === common[n - 1]!.hash) {
      await VerifiedMirror.ofVerified(this.trust, common, this.options).ingestRecords(branch);
    } else {
      await new VerifiedMirror(this.trust, this.options).ingestRecords([...common, ...branch]);
    }
  }

  /** Hash of the last verified record ("" while empty). */
  get tip(): string {
    return this.verifier.tip;
  }

  /** Number of verified records held. */
  get length(): number {
    return this.chain.length;
  }

  /** How many records went through verification so far (for tests and metrics: proves O(new)). */
  get verifiedRecords(): number {
    return this.verifiedCount;
  }

  /** The verified chain, oldest first. */
  records(): readonly SignedChangeRecord[] {
    return this.chain;
  }

  /** The current entries. A new map is made on every change; a returned map is never modified. */
  entries(): ReadonlyMap<string, DirectoryEntry> {
    return this.entryMap;
  }

  /** Normalises a raw `getRecords` result and ingests it. Calls are serialised. */
  ingest(raw: unknown): Promise<IngestOutcome> {
    return this.serialised(() => this.ingestNow(this.normalise(raw)));
  }

  /** Ingests already normalised records (in chain order). Calls are serialised. */
  ingestRecords(records: readonly SignedChangeRecord[]): Promise<IngestOutcome> {
    return this.serialised(() => this.ingestNow(records));
  }

  private serialised<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private normalise(raw: unknown): SignedChangeRecord[] {
    try {
      return normaliseSignedRecords(raw, { allowProperties: true });
    } catch (err) {
      throw new DirectoryRefreshError(
        'schema',
        `service directory sent malformed records: ${errorMessage(err)}`,
      );
    }
  }

  private async ingestNow(records: readonly SignedChangeRecord[]): Promise<IngestOutcome> {
    const first = records[0];
    if (first === undefined) return { kind: 'unchanged' };
    if (first.parent_hash === this.tip) return this.extend(records);
    if (first.parent_hash !== '') {
      throw new DirectoryRefreshError(
        'fork',
        `refusing records that do not extend the verified tip ${this.tip}: the first one has parent ${first.parent_hash}`,
      );
    }
    const root = this.chain[0]!;
    if (first.hash === root.hash) return this.sameRoot(records);
    if (compareCreatedAt(first.record.created_at, root.record.created_at) <= 0) {
      throw new DirectoryRefreshError(
        'rollback',
        `refusing a chain whose root (created_at ${first.record.created_at}) is not newer than the verified ` +
          `root (created_at ${root.record.created_at})`,
      );
    }
    return this.reset(records);
  }

  /** The SD sent a whole chain with our root: fine if it contains our chain and more, else refused. */
  private async sameRoot(records: readonly SignedChangeRecord[]): Promise<IngestOutcome> {
    const ours = this.chain;
    const common = Math.min(ours.length, records.length);
    for (let i = 0; i < common; i++) {
      if (ours[i]!.hash !== records[i]!.hash) {
        throw new DirectoryRefreshError(
          'fork',
          `refusing a chain that forks from the verified chain at record ${i} (${ours[i]!.hash} vs ${records[i]!.hash})`,
        );
      }
    }
    if (records.length < ours.length) {
      throw new DirectoryRefreshError(
        'rollback',
        `refusing a rollback: the service directory offered ${records.length} of our ${ours.length} verified records`,
      );
    }
    return this.extend(records.slice(ours.length));
  }

  private async extend(records: readonly SignedChangeRecord[]): Promise<IngestOutcome> {
    if (records.length === 0) return { kind: 'unchanged' };
    const verifier = this.verifier.clone();
    await this.verify(verifier, records);
    const entries = this.apply(new Map(this.entryMap), records);
    this.verifier = verifier;
    for (const record of records) this.chain.push(record);
    this.entryMap = entries;
    return { kind: 'extended', added: records.length };
  }

  private async reset(records: readonly SignedChangeRecord[]): Promise<IngestOutcome> {
    const verifier = this.freshVerifier();
    await this.verify(verifier, records);
    const entries = this.apply(new Map(), records);
    const dropped = this.chain.length;
    this.verifier = verifier;
    this.chain = [...records];
    this.entryMap = entries;
    return { kind: 'reset', added: records.length, dropped };
  }

  private async verify(verifier: ChainVerifier, records: readonly SignedChangeRecord[]): Promise<void> {
    this.verifiedCount += records.length;
    const result: AppendResult =
      records.length >= ASYNC_VERIFY_THRESHOLD
        ? await verifier.appendAsync(records)
        : verifier.append(records);
    if (!result.ok) {
      const bad = records[result.index];
      const label = bad ? ` ${bad.hash} (${bad.record.name}/${bad.record.section})` : '';
      throw new DirectoryRefreshError(
        'verify',
        `record ${result.index} of the batch${label} failed verification (${result.code}): ${result.reason}`,
      );
    }
  }

  private apply(
    entries: Map<string, DirectoryEntry>,
    records: readonly SignedChangeRecord[],
  ): Map<string, DirectoryEntry> {
    try {
      return applyRecords(entries, records);
    } catch (err) {
      throw new DirectoryRefreshError('apply', `cannot apply records: ${errorMessage(err)}`);
    }
  }

  private freshVerifier(): ChainVerifier {
    return new ChainVerifier(this.trust, this.options.now ? { now: this.options.now } : {});
  }
}
