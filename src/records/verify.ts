/**
 * Record verification [docs/protocol.md#record-verification] with signing-key pinning: `verifyRecord` as the
 * original defines it (pins from a list of prior records), and `ChainVerifier`, which keeps pins and tip
 * incrementally (O(new records) per append), additionally requires every record to extend the current tip and
 * applies a batch atomically.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { RecordError } from './errors.js';
import { pinFromRecords, pinnedBy } from './pins.js';
import type { PreparedRecord, VerifyFailure, VerifyFailureCode } from './record-check.js';
import { failure, prepareRecord } from './record-check.js';
import { ecdsaVerify, ecdsaVerifyAsync } from './signature.js';
import type { TrustStore } from './trust.js';

export type { VerifyFailure, VerifyFailureCode } from './record-check.js';

/** Signature checks queued on the thread pool at most at once by `appendAsync`. */
export const ASYNC_VERIFY_WINDOW = 512;

export interface VerifyOptions {
  /** Clock in milliseconds, for certificate validity (default Date.now). */
  now?: () => number;
}

export type VerifyResult = { ok: true; signer: string } | VerifyFailure;

export type AppendResult =
  { ok: true } | { ok: false; index: number; code: VerifyFailureCode; reason: string };

/**
 * Verification of one record: `prior` are the records before it (used only for the pin). Like the original
 * this does not look at `parent_hash`; use ChainVerifier for chains. Never throws for bad records.
 */
export function verifyRecord(
  record: SignedChangeRecord,
  prior: readonly SignedChangeRecord[],
  trust: TrustStore,
  options: VerifyOptions = {},
): VerifyResult {
  const now = (options.now ?? Date.now)();
  const prepared = prepareRecord(record, (name) => pinFromRecords(prior, name), trust, now);
  if (!prepared.ok) return prepared;
  const checked = checkSignature(prepared);
  return checked.ok ? { ok: true, signer: prepared.signer } : checked;
}

export interface ChainVerifierOptions extends VerifyOptions {
  /** Pins to start from, e.g. the current chain's pins when verifying a reset (sequence D step 2). */
  initialPins?: ReadonlyMap<string, string>;
}

/** Verification state of one chain: pins (signer name → signing fingerprint), tip hash and length. */
export class ChainVerifier {
  private pinMap: Map<string, string>;
  private tipHash = '';
  private count = 0;
  private version = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly trust: TrustStore,
    private readonly options: ChainVerifierOptions = {},
  ) {
    this.pinMap = new Map(options.initialPins ?? []);
  }

  /** Hash of the last accepted record ("" while empty). */
  get tip(): string {
    return this.tipHash;
  }

  /** Number of accepted records. */
  get length(): number {
    return this.count;
  }

  pinFor(name: string): string | undefined {
    return this.pinMap.get(name);
  }

  /** A copy of the current pins. */
  pins(): Map<string, string> {
    return new Map(this.pinMap);
  }

  /**
   * The state a verifier reaches after `records`, which must already have been verified in this order (a
   * prefix of a verified chain): pins and tip are replayed without any check, O(n) with no cryptography.
   */
  static ofVerified(
    trust: TrustStore,
    records: readonly SignedChangeRecord[],
    options: ChainVerifierOptions = {},
  ): ChainVerifier {
    const verifier = new ChainVerifier(trust, options);
    for (const record of records) {
      const pin = pinnedBy(record);
      if (pin !== undefined) verifier.pinMap.set(record.record.name, pin);
    }
    verifier.tipHash = records.at(-1)?.hash ?? verifier.tipHash;
    verifier.count += records.length;
    return verifier;
  }

  /** An independent copy; appending to it leaves this verifier unchanged. */
  clone(): ChainVerifier {
    const copy = new ChainVerifier(this.trust, { ...this.options, initialPins: this.pinMap });
    copy.tipHash = this.tipHash;
    copy.count = this.count;
    return copy;
  }

  /** Verifies and appends `records` in order; all or nothing (a failure leaves the state unchanged). */
  append(records: readonly SignedChangeRecord[]): AppendResult {
    const batch = this.startBatch();
    const prepared: PreparedRecord[] = [];
    let stopped: AppendResult | undefined;
    for (let i = 0; i < records.length && !stopped; i++) {
      const result = batch.step(records[i]!);
      if (result.ok) prepared.push(result);
      else stopped = { ok: false, index: i, code: result.code, reason: result.reason };
    }
    // Signatures of the records before a structural failure come first: the earliest failure wins.
    for (let i = 0; i < prepared.length; i++) {
      const checked = checkSignature(prepared[i]!);
      if (!checked.ok) return { ok: false, index: i, code: checked.code, reason: checked.reason };
    }
    if (stopped) return stopped;
    this.commit(batch);
    return { ok: true };
  }

  /**
   * Same result as `append`, but signatures are verified on libuv's thread pool while the main thread prepares
   * the next records (uses several cores). Calls are serialised; a synchronous `append` in between makes the
   * pending batch fail without changing the state.
   */
  appendAsync(records: readonly SignedChangeRecord[]): Promise<AppendResult> {
    const run = this.queue.then(() => this.appendAsyncNow(records));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendAsyncNow(records: readonly SignedChangeRecord[]): Promise<AppendResult> {
    const version = this.version;
    const batch = this.startBatch();
    const signatures: Promise<{ ok: true } | VerifyFailure>[] = [];
    let stopped: AppendResult | undefined;
    for (let i = 0; i < records.length && !stopped; i++) {
      const result = batch.step(records[i]!);
      if (!result.ok) {
        stopped = { ok: false, index: i, code: result.code, reason: result.reason };
        break;
      }
      signatures.push(checkSignatureAsync(result));
      // Bound the work queued on the pool (memory), without draining it completely.
      if (i >= ASYNC_VERIFY_WINDOW) await signatures[i - ASYNC_VERIFY_WINDOW];
    }
    const results = await Promise.all(signatures);
    const bad = results.findIndex((r) => !r.ok);
    if (bad >= 0) {
      const f = results[bad] as VerifyFailure;
      return { ok: false, index: bad, code: f.code, reason: f.reason };
    }
    if (stopped) return stopped;
    if (version !== this.version) {
      return {
        ok: false,
        index: 0,
        code: 'parent',
        reason: 'the chain changed while the batch was being verified',
      };
    }
    this.commit(batch);
    return { ok: true };
  }

  private startBatch(): Batch {
    return new Batch(this.pinMap, this.tipHash, this.count, this.trust, (this.options.now ?? Date.now)());
  }

  private commit(batch: Batch): void {
    this.pinMap = batch.pins;
    this.tipHash = batch.tip;
    this.count = batch.length;
    this.version++;
  }
}

/** Working copy of a verifier's state while a batch is checked (pins copied on first change). */
class Batch {
  private pinsCopied = false;

  constructor(
    public pins: Map<string, string>,
    public tip: string,
    public length: number,
    private readonly trust: TrustStore,
    private readonly now: number,
  ) {}

  /** Everything but the ECDSA step for the next record; on success the record becomes the working tip. */
  step(record: SignedChangeRecord): PreparedRecord | VerifyFailure {
    const parentProblem = checkParent(record.parent_hash, this.tip, this.length);
    if (parentProblem) return parentProblem;
    const result = prepareRecord(record, (name) => this.pins.get(name), this.trust, this.now);
    if (!result.ok) return result;
    const pin = pinnedBy(record);
    if (pin !== undefined) {
      if (!this.pinsCopied) {
        this.pins = new Map(this.pins);
        this.pinsCopied = true;
      }
      this.pins.set(record.record.name, pin);
    }
    this.tip = record.hash;
    this.length++;
    return result;
  }
}

function checkParent(parentHash: string, tip: string, length: number): VerifyFailure | undefined {
  if (parentHash === '') {
    return length === 0
      ? undefined
      : failure('parent', `root record (empty parent hash) does not extend tip ${tip}`);
  }
  if (parentHash !== tip)
    return failure('parent', `parent hash ${parentHash} does not match tip ${tip || '(none)'}`);
  return undefined;
}

function checkSignature(p: PreparedRecord): { ok: true } | VerifyFailure {
  try {
    return ecdsaVerify(p.message, p, p.cert.publicKey, p.cert.coordinateBytes)
      ? { ok: true }
      : failure('signature', 'invalid signature');
  } catch (err) {
    if (err instanceof RecordError) return failure('signature', err.message);
    throw err;
  }
}

async function checkSignatureAsync(p: PreparedRecord): Promise<{ ok: true } | VerifyFailure> {
  try {
    return (await ecdsaVerifyAsync(p.message, p, p.cert.publicKey, p.cert.coordinateBytes))
      ? { ok: true }
      : failure('signature', 'invalid signature');
  } catch (err) {
    if (err instanceof RecordError) return failure('signature', err.message);
    throw err;
  }
}
