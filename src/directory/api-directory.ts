/**
 * `api` directory backend [docs/protocol.md#directory-backends]: mirrors the SD's signed chain and
 * serves entries from a verified snapshot, synchronously.
 *
 * - The snapshot is refreshed in the background every `cache_entries_for` seconds (`getRecords` after the
 *   verified tip). The broker reads synchronously, so a lookup never waits for the network; with
 *   `cache_entries_for: 0` the period is MIN_REFRESH_PERIOD_MS instead of "on every lookup".
 * - start() performs the first refresh (waiting at most INITIAL_REFRESH_WAIT_MS, or
 *   STATE_LOADED_REFRESH_WAIT_MS when the state file gave it a verified chain); a failure is logged, not
 *   fatal, and retried with jittered exponential backoff (RETRY_INITIAL_MS doubling up to RETRY_MAX_MS).
 * - Every request has the JSON-RPC client's timeout; endpoints fail over in order (SdApiClient).
 * - Verification is incremental and refuses forks and rollbacks (VerifiedMirror); a refused or failed refresh
 *   keeps the last verified state in use, and routing carries on with it until the SD is back.
 * - onChange listeners run after every change of the entries; the Merkle tree over the chain (tree(), for
 *   proofs and tips) is extended before them, O(new records), so it is built while the chain is loaded.
 * - With `state_file`, the verified chain is kept on disk (MirrorStateFile) and loaded, verified again,
 *   before the first refresh: a rollback or fork across a restart is refused too, and routing works
 *   before the SD answers.
 */
import { readFileSync } from 'node:fs';
import { logger } from '../core/log.js';
import { Backoff } from '../core/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { ChainTree, TrustStore, type RecordTree } from '../records/index.js';
import type { ApiDirectorySettings } from '../settings/index.js';
import { DirectoryRefreshError, SdUnreachableError } from './api-errors.js';
import type { Directory, EntryQuery } from './directory.js';
import { EntryMap } from './directory.js';
import type { DirectoryEntry, SignedChangeRecord } from '../core/directory-entry.js';
import { SdApiClient } from './sd-api-client.js';
import type { IngestOutcome } from './verified-mirror.js';
import { MirrorStateFile } from './mirror-state.js';
import { VerifiedMirror } from './verified-mirror.js';
import { CodedError, errorMessage } from '../core/errors.js';
import { countRefreshFailure, describeDirectory } from './metrics.js';

const log = logger('api-directory');

/** Shortest refresh period (used for `cache_entries_for: 0`). */
export const MIN_REFRESH_PERIOD_MS = 250;
/** start() waits at most this long for the first refresh, then carries on with an empty directory. */
export const INITIAL_REFRESH_WAIT_MS = 10_000;
/**
 * With a verified chain loaded from the state file, start() waits only this long for the first refresh:
 * the node can route with what it had, so a slow or unreachable SD does not delay its start.
 */
export const STATE_LOADED_REFRESH_WAIT_MS = 500;
/** First retry delay after a failed refresh (half of it random); doubles per failure. */
export const RETRY_INITIAL_MS = 100;
/** Longest retry delay after failed refreshes. */
export const RETRY_MAX_MS = 5_000;
/** Part of each retry delay that is random, so that nodes that lost the sd together do not return together. */
export const RETRY_JITTER = 0.5;

export class ApiDirectoryConfigError extends CodedError<'ERR_DIRECTORY_API_CONFIG'> {
  override readonly name = 'ApiDirectoryConfigError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DIRECTORY_API_CONFIG', message, options);
  }
}

export interface ApiDirectoryOptions {
  /** Clock in milliseconds for certificate validity (default Date.now). */
  now?: () => number;
  /** Time source of the refresh and retry timers (default: the system clock; tests use a manual one). */
  clock?: Clock;
}

export interface ApiDirectoryStats {
  /** Records in the verified chain. */
  records: number;
  tip: string;
  /** Records that went through signature verification since start (grows by the new records only). */
  verifiedRecords: number;
  refreshes: number;
  failures: number;
  consecutiveFailures: number;
  /** Time (ms, on the directory's clock) of the last successful refresh, 0 if none yet. */
  lastSuccessAt: number;
  lastError: string | undefined;
  /** Refresh period (ms) from `cache_entries_for`. */
  periodMs: number;
  /** A `state_file` keeps the verified chain across restarts. */
  stateFile: boolean;
}

/** Reads the record-signing roots and intermediates (first certificate of each file). */
export function loadRecordTrust(settings: ApiDirectorySettings): TrustStore {
  const read = (file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ApiDirectoryConfigError(
        `cannot read record-signing CA file '${file}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  };
  try {
    return TrustStore.fromPem(
      settings.ca_certificate_files.map(read),
      settings.ca_intermediate_certificate_files.map(read),
    );
  } catch (err) {
    if (err instanceof ApiDirectoryConfigError) throw err;
    throw new ApiDirectoryConfigError(`invalid record-signing CA certificate: ${errorMessage(err)}`);
  }
}

export class ApiDirectory implements Directory {
  readonly client: SdApiClient;
  private readonly mirror: VerifiedMirror;
  private readonly map = new EntryMap();
  private readonly merkle = new ChainTree();
  private readonly periodMs: number;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private readonly clock: Clock;
  private running = false;
  private readonly retry: Backoff;
  private counters = { refreshes: 0, failures: 0, consecutiveFailures: 0, lastSuccessAt: 0 };
  private lastError: string | undefined;
  private readonly state: MirrorStateFile | undefined;
  private readonly trust: TrustStore;
  private readonly now: (() => number) | undefined;
  /** Records of the mirror that the state file holds, in order (-1: unknown, rewrite on the next save). */
  private persisted = 0;

  /** Reads the CA and TLS files; throws ApiDirectoryConfigError (or a TLS error) when they are unusable. */
  constructor(settings: ApiDirectorySettings, options: ApiDirectoryOptions = {}) {
    this.trust = loadRecordTrust(settings);
    this.now = options.now;
    this.mirror = new VerifiedMirror(this.trust, options.now ? { now: options.now } : {});
    this.client = new SdApiClient(settings);
    this.periodMs = Math.max(settings.cache_entries_for * 1000, MIN_REFRESH_PERIOD_MS);
    this.clock = options.clock ?? systemClock;
    this.retry = new Backoff({
      initialMs: RETRY_INITIAL_MS,
      maxMs: RETRY_MAX_MS,
      jitter: RETRY_JITTER,
      clock: this.clock,
    });
    this.state = settings.state_file ? new MirrorStateFile(settings.state_file) : undefined;
  }

  entry(name: string): DirectoryEntry | undefined {
    return this.map.entry(name);
  }

  entries(query?: EntryQuery): DirectoryEntry[] {
    return this.map.entries(query);
  }

  onChange(listener: () => void): void {
    this.map.onChange(listener);
  }

  /** First refresh (bounded wait, failure only logged), then background refreshes until close(). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const startedAt = this.clock.now();
    describeDirectory({
      ageSeconds: () => (this.clock.now() - (this.counters.lastSuccessAt || startedAt)) / 1000,
    });
    const loaded = await this.loadState();
    const first = this.cycle();
    const waitMs = loaded ? STATE_LOADED_REFRESH_WAIT_MS : INITIAL_REFRESH_WAIT_MS;
    let waitTimer: TimerHandle | undefined;
    const waited = new Promise<void>((resolve) => {
      waitTimer = this.clock.setTimeout(() => {
        const message = loaded
          ? 'first service directory refresh is taking long; routing with the verified state file meanwhile'
          : 'first service directory refresh is taking long; starting with the current state';
        log.warn(message, { waited_ms: waitMs });
        resolve();
      }, waitMs);
    });
    await Promise.race([first, waited]);
    this.clock.clearTimeout(waitTimer);
  }

  async close(): Promise<void> {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    // Closing the client aborts a request in flight, so close() never waits for a request timeout.
    this.client.close();
    await this.queue;
  }

  /**
   * Fetches and verifies what is new now (serialised with the background refreshes). Rejects with
   * SdUnreachableError, SdRpcError or DirectoryRefreshError; the last verified state then stays in use.
   */
  refresh(): Promise<IngestOutcome> {
    const run = this.queue.then(() => this.refreshNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The SD endpoints, for log lines and alarms that name the SD. */
  get sdName(): string {
    return this.client.targets.map((t) => t.endpoint).join(', ');
  }

  /** The verified chain, oldest first (read-only view; the tip is its last record). */
  chain(): readonly SignedChangeRecord[] {
    return this.mirror.records();
  }

  /**
   * Records a peer served to extend our verified tip: verified exactly like records from the SD (same
   * mirror, same rules, serialised with the refreshes), applied and persisted in the same state file. Only
   * an extension of our tip is taken (never a reset); anything else rejects with DirectoryRefreshError.
   */
  extendFromPeer(records: readonly SignedChangeRecord[], peer: string): Promise<IngestOutcome> {
    const run = this.queue.then(async () => {
      const first = records[0];
      if (first !== undefined && first.parent_hash !== this.mirror.tip) {
        throw new DirectoryRefreshError(
          'fork',
          `records from ${peer} do not extend the verified tip ${this.mirror.tip || '(empty)'}`,
        );
      }
      const outcome = await this.mirror.ingestRecords(records);
      this.adopt(outcome);
      return outcome;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The Merkle tree over chain() (RFC 9162 shape), in step with it. */
  tree(): RecordTree {
    return this.merkle.sync(this.mirror.records());
  }

  /** A peer's branch after `common` (our prefix), verified apart from our chain (VerifiedMirror.verifyBranch). */
  verifyBranch(common: readonly SignedChangeRecord[], branch: readonly SignedChangeRecord[]): Promise<void> {
    return this.mirror.verifyBranch(common, branch);
  }

  stats(): ApiDirectoryStats {
    return {
      records: this.mirror.length,
      tip: this.mirror.tip,
      verifiedRecords: this.mirror.verifiedRecords,
      ...this.counters,
      lastError: this.lastError,
      periodMs: this.periodMs,
      stateFile: this.state !== undefined,
    };
  }

  /**
   * Loads and verifies the state file; a missing, unreadable or unverifiable one leaves the mirror empty.
   * True when it gave the mirror records.
   */
  private async loadState(): Promise<boolean> {
    if (!this.state) return false;
    const file = this.state.path;
    try {
      const { records, tornTail } = this.state.load();
      if (tornTail) log.warn('directory state file ends with an incomplete record; it is dropped', { file });
      if (records.length > 0) {
        await this.mirror.ingest(records);
        this.publish();
        log.info('directory state loaded and verified', {
          file,
          records: records.length,
          tip: this.mirror.tip,
        });
      }
      this.persisted = records.length;
      if (tornTail) this.state.rewrite(this.mirror.records());
      return records.length > 0;
    } catch (err) {
      // The SD's chain will be loaded instead; the file is rewritten with it.
      log.error('directory state file is unusable; starting without it', {
        file,
        error: errorMessage(err),
      });
      this.persisted = -1;
      return false;
    }
  }

  /** Writes what the state file lacks: the new records (append) or, after a reset or a bad file, all. */
  private saveState(outcome: IngestOutcome): void {
    if (!this.state || outcome.kind === 'unchanged') return;
    const chain = this.mirror.records();
    try {
      if (outcome.kind === 'extended' && this.persisted === chain.length - outcome.added) {
        this.state.append(chain.slice(this.persisted));
      } else {
        this.state.rewrite(chain);
      }
      this.persisted = chain.length;
    } catch (err) {
      this.persisted = -1;
      log.error('cannot write the directory state file', {
        file: this.state.path,
        error: errorMessage(err),
      });
    }
  }

  /** One background step: refresh, then schedule the next one (period on success, backoff on failure). */
  private async cycle(): Promise<void> {
    let delay = this.periodMs;
    try {
      await this.refresh();
      this.retry.reset();
    } catch {
      delay = this.retry.fail();
    }
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => void this.cycle(), delay);
    this.timer.unref();
  }

  private async refreshNow(): Promise<IngestOutcome> {
    this.counters.refreshes++;
    let outcome: IngestOutcome;
    try {
      const raw = await this.client.getRecords(this.mirror.tip);
      outcome = await this.mirror.ingest(raw);
    } catch (err) {
      this.onFailure(err as Error);
      throw err;
    }
    if (this.counters.consecutiveFailures > 0) {
      log.info('service directory refresh works again', {
        after_failures: this.counters.consecutiveFailures,
      });
    }
    this.counters.consecutiveFailures = 0;
    this.counters.lastSuccessAt = this.clock.now();
    this.lastError = undefined;
    if (outcome.kind === 'unchanged') return outcome;
    if (outcome.kind === 'reset') {
      log.warn('service directory was reset: switched to a newer chain', {
        records: outcome.added,
        dropped: outcome.dropped,
        tip: this.mirror.tip,
      });
    } else {
      log.debug('service directory records verified', { added: outcome.added, tip: this.mirror.tip });
    }
    this.adopt(outcome);
    return outcome;
  }

  /** Publishes a verified change: the entries the broker reads, then the state file. */
  private adopt(outcome: IngestOutcome): void {
    if (outcome.kind === 'unchanged') return;
    this.publish();
    this.saveState(outcome);
  }

  /** The tree follows the chain first, then the entries the broker reads (their listeners may read both). */
  private publish(): void {
    this.merkle.sync(this.mirror.records());
    this.map.replace(new Map(this.mirror.entries()));
  }

  private onFailure(err: Error): void {
    countRefreshFailure(err);
    this.counters.failures++;
    this.counters.consecutiveFailures++;
    const repeated = this.lastError === err.message;
    this.lastError = err.message;
    const fields = {
      error: err.message,
      failures: this.counters.consecutiveFailures,
      records: this.mirror.length,
    };
    if (err instanceof DirectoryRefreshError && repeated) {
      // The same refusal every period (e.g. an SD that still withholds records a peer gave us): said once.
      log.debug('service directory still serves the refused records', fields);
    } else if (err instanceof DirectoryRefreshError) {
      // Refused records are always worth an error line: someone is serving a bad or rolled-back chain.
      log.error('refused records from the service directory; keeping the last verified state', fields);
    } else if (err instanceof SdUnreachableError && repeated) {
      log.debug('service directory still unreachable', fields);
    } else {
      log.warn('service directory refresh failed; keeping the last verified state', fields);
    }
  }
}
