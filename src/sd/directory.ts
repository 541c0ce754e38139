/**
 * State of the service directory server [docs/protocol.md#chain-rules]: the records read from the datastore,
 * the best chain and the entries built from it, plus appending. Improvements over the original:
 * - reads are incremental and so is verification (chains.ts): reloading costs O(new records);
 * - a submission is verified as a whole against the tip it was checked with (parent hashes included) and
 *   written with `appendIfCount`, so it is stored completely or not at all and two sd processes on one store
 *   can never fork the chain; when the store moved on meanwhile, it is re-read and checked once more;
 * - a reset root that would lose the best-chain selection, or a record already stored, is refused before
 *   anything is written (the original stores it and then answers "new record not found");
 * - every rejection names the record and the rule;
 * - the Merkle tree of the best chain (proof-methods.ts) follows every refresh, O(new records), so it is built
 *   while the store is read at start and the first proof request finds it ready.
 */
import type { DirectoryEntry, SignedChangeRecord } from '../core/directory-entry.js';
import type { Datastore } from '../datastore/datastore.js';
import { logger } from '../core/log.js';
import type { ChainVerifier, TrustStore } from '../records/index.js';
import { applyRecords, ChainTree, createdAtNanos, type RecordTree } from '../records/index.js';
import { Chain, ChainSet } from './chains.js';
import { StaleAppendError, StoreUnavailableError, SubmitError } from './errors.js';
import { SerialQueue } from '../core/serial.js';
import { entryToRecord, recordToEntry } from './record-entry.js';
import { errorMessage } from '../core/errors.js';

const log = logger('sd');

/** Write attempts per submission when other records are stored concurrently. */
export const SUBMIT_ATTEMPTS = 2;
/** Problems of one reload logged individually; the rest are counted. */
const MAX_LOGGED_PROBLEMS = 20;

export interface RefreshSummary {
  /** Store entries read by this refresh. */
  entries: number;
  /** Records of the best chain afterwards. */
  bestLength: number;
  chains: number;
  rejected: number;
}

interface Prepared {
  chain: Chain | undefined;
  verifier: ChainVerifier;
  records: SignedChangeRecord[];
}

export class ServiceDirectory {
  private readonly chains: ChainSet;
  /** Store entries consumed so far (the count appendIfCount compares with). */
  private storeCount = 0;
  private entries = new Map<string, DirectoryEntry>();
  private appliedChain: Chain | undefined;
  private appliedCount = 0;
  private readonly lock = new SerialQueue();
  private readonly merkle = new ChainTree();
  private merkleTree: RecordTree = this.merkle.sync([]);
  /** Time of the last successful refresh (ms since the epoch). */
  lastRefresh = 0;

  constructor(
    private readonly store: Datastore,
    trust: TrustStore,
  ) {
    this.chains = new ChainSet(trust);
  }

  /** Reads whatever is new in the store (waits for a running submission). */
  refresh(): Promise<RefreshSummary> {
    return this.lock.run(() => this.refreshLocked());
  }

  /** Like refresh, but does nothing when a submission or refresh is running (for the timer). */
  async refreshIfIdle(): Promise<RefreshSummary | undefined> {
    if (this.lock.busy) return undefined;
    return this.refresh();
  }

  /** Verifies and stores `records` (normalised) as one unit; throws SubmitError and friends. */
  submit(records: SignedChangeRecord[]): Promise<void> {
    return this.lock.run(async () => {
      await this.refreshLocked();
      if (records.length === 0) return;
      for (let attempt = 1; ; attempt++) {
        const prepared = await this.prepare(records);
        const written = await this.storeCall(() =>
          this.store.appendIfCount(this.storeCount, records.map(recordToEntry)),
        );
        if (written) {
          await this.refreshLocked(prepared);
          this.confirm(records);
          return;
        }
        if (attempt >= SUBMIT_ATTEMPTS) throw new StaleAppendError();
        log.debug('store moved on while submitting; re-reading and checking again');
        await this.refreshLocked();
      }
    });
  }

  tip(): SignedChangeRecord | undefined {
    return this.chains.best?.tip;
  }

  /**
   * getRecords: records strictly after `after` in the best chain; all of them when `after` is "" or unknown.
   */
  recordsAfter(after: string): SignedChangeRecord[] {
    const chain = this.chains.best;
    if (!chain) return [];
    const index = after === '' ? undefined : chain.indexOf(after);
    return index === undefined ? chain.records.slice() : chain.records.slice(index + 1);
  }

  /** The best chain's records, oldest first (a read-only view; no copy). */
  bestChain(): readonly SignedChangeRecord[] {
    return this.chains.best?.records ?? [];
  }

  /** The Merkle tree over the best chain as of the last refresh (docs/protocol.md#directory-tree). */
  tree(): RecordTree {
    return this.merkleTree;
  }

  allEntries(): DirectoryEntry[] {
    return [...this.entries.values()];
  }

  entry(name: string): DirectoryEntry | undefined {
    return this.entries.get(name);
  }

  /** Every valid chain in the store (the status page). */
  chainsView(): { tip: string; length: number; best: boolean }[] {
    return this.chains.view();
  }

  get stats(): { records: number; chains: number; stored: number; bestLength: number } {
    return {
      records: this.chains.size,
      chains: this.chains.chainCount,
      stored: this.storeCount,
      bestLength: this.chains.best?.records.length ?? 0,
    };
  }

  private async refreshLocked(prepared?: Prepared): Promise<RefreshSummary> {
    const entries = await this.storeCall(() => this.store.readNew());
    this.storeCount += entries.length;
    const records: SignedChangeRecord[] = [];
    let undecodable = 0;
    for (const entry of entries) {
      const decoded = entryToRecord(entry);
      if (decoded.ok) records.push(decoded.record);
      else {
        undecodable++;
        if (undecodable <= MAX_LOGGED_PROBLEMS) log.warn(`skipping a store entry: ${decoded.reason}`);
      }
    }
    let rest = records;
    if (prepared?.chain && this.isPrefix(prepared.records, records)) {
      // Our own submission, verified before it was written: no second verification.
      if (this.chains.adopt(prepared.chain, prepared.records, prepared.verifier)) {
        rest = records.slice(prepared.records.length);
      }
    }
    const problems = rest.length > 0 ? await this.chains.addAll(rest) : [];
    problems
      .slice(0, MAX_LOGGED_PROBLEMS)
      .forEach((p) =>
        log.warn(`stored record ${p.hash} is not served: ${p.reason}`, { status: p.status, code: p.code }),
      );
    if (problems.length > MAX_LOGGED_PROBLEMS) {
      log.warn(`${problems.length - MAX_LOGGED_PROBLEMS} more stored records are not served`);
    }
    this.updateEntries();
    this.merkleTree = this.merkle.sync(this.bestChain());
    this.lastRefresh = Date.now();
    return {
      entries: entries.length,
      bestLength: this.chains.best?.records.length ?? 0,
      chains: this.chains.chainCount,
      rejected: problems.length + undecodable,
    };
  }

  private isPrefix(prefix: SignedChangeRecord[], records: SignedChangeRecord[]): boolean {
    return prefix.length <= records.length && prefix.every((r, i) => records[i]!.hash === r.hash);
  }

  /** Applies new best-chain records to the entries; rebuilds them when the best chain changed (reset). */
  private updateEntries(): void {
    const best = this.chains.best;
    if (best !== this.appliedChain) {
      this.entries = new Map();
      this.appliedChain = best;
      this.appliedCount = 0;
    }
    if (!best || best.records.length === this.appliedCount) return;
    const fresh = best.records.slice(this.appliedCount);
    try {
      // applyRecords replaces touched entries by copies: entries handed out before never change.
      applyRecords(this.entries, fresh);
    } catch (err) {
      log.error(`cannot apply records to entries: ${errorMessage(err)}`);
    }
    this.appliedCount = best.records.length;
  }

  /** Checks a submission against the current state without writing anything. */
  private async prepare(records: SignedChangeRecord[]): Promise<Prepared> {
    const seen = new Set<string>();
    records.forEach((r, i) => {
      if (this.chains.has(r.hash) || seen.has(r.hash)) {
        throw new SubmitError(i, r.hash, 'replayed', 'a record with this hash is already stored');
      }
      seen.add(r.hash);
      if (i > 0 && r.parent_hash !== records[i - 1]!.hash) {
        const why =
          r.parent_hash === ''
            ? 'only the first record of a submission may be a root (empty parent hash)'
            : `parent hash ${r.parent_hash} is not the hash of record ${i - 1} (${records[i - 1]!.hash})`;
        throw new SubmitError(i, r.hash, 'broken-chain', why);
      }
    });
    const first = records[0]!;
    const best = this.chains.best;
    let chain: Chain | undefined;
    let verifier: ChainVerifier;
    if (first.parent_hash === '') {
      if (best && createdAtNanos(first.record.created_at) <= best.rootTime) {
        throw new SubmitError(
          0,
          first.hash,
          'outdated-reset',
          `new root created_at ${first.record.created_at} is not later than the current root's ` +
            `${best.records[0]!.record.created_at}, so the new chain would never be served`,
        );
      }
      // Sequence D step 2: a reset is checked against the pins of the chain it replaces.
      verifier = this.chains.newVerifier(best?.verifier.pins());
    } else {
      if (!best || first.parent_hash !== best.tipHash) {
        throw new SubmitError(
          0,
          first.hash,
          'parent',
          `parent hash ${first.parent_hash} is not the current tip ${best?.tipHash || '(empty directory)'}`,
        );
      }
      chain = best;
      verifier = best.verifier.clone();
    }
    const result = await verifier.appendAsync(records);
    if (!result.ok) {
      const bad = records[result.index]!;
      throw new SubmitError(result.index, bad.hash, result.code, result.reason);
    }
    return { chain, verifier, records };
  }

  /** After writing: the submitted records must now be served (they can only lose to a concurrent reset). */
  private confirm(records: SignedChangeRecord[]): void {
    const last = records.at(-1)!;
    if (this.chains.best?.indexOf(last.hash) === undefined) {
      throw new SubmitError(
        records.length - 1,
        last.hash,
        'superseded',
        'stored, but a newer chain stored at the same time is served instead',
      );
    }
  }

  private async storeCall<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new StoreUnavailableError(err as Error);
    }
  }
}
