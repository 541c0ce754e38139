/**
 * Record verification [20-service-directory §5.5] with signing-key pinning (§5.4): `verifyRecord` as the
 * original defines it (pins from a list of prior records), and `ChainVerifier`, which keeps pins and tip
 * incrementally (O(new records) per append), additionally requires every record to extend the current tip and
 * applies a batch atomically.
 */
import type { SignedChangeRecord } from '../directory/entry.js';
import { RecordError } from './errors.js';
import { pinFromRecords, pinnedBy } from './pins.js';
import type { PreparedRecord, VerifyFailure, VerifyFailureCode } from './record-check.js';
import { failure, prepareRecord } from './record-check.js';
import { ecdsaVerify, ecdsaVerifyAsync } from './signature.js';
import type { TrustStore } from './trust.js';

export type { VerifyFailure, VerifyFailureCode } from './record-check.js';

/** Signatures verified concurrently on the thread pool by `appendAsync`. */
export const ASYNC_VERIFY_WINDOW = 256;

export interface VerifyOptions {
  /** Clock in milliseconds, for certificate validity (default Date.now). */
  now?: () => number;
}

export type VerifyResult = { ok: true; signer: string } | VerifyFailure;

export type AppendResult =
  { ok: true } | { ok: false; index: number; code: VerifyFailureCode; reason: string };

/**
 * §5.5 for one record: `prior` are the records before it (used only for the pin). Like the original this does
 * not look at `parent_hash`; use ChainVerifier for chains. Never throws for bad records.
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

  /** An independent copy; appending to it leaves this verifier unchanged. */
  clone(): ChainVerifier {
    const copy = new ChainVerifier(this.trust, { ...this.options, initialPins: this.pinMap });
    copy.tipHash = this.tipHash;
    copy.count = this.count;
    return copy;
  }

  /** Verifies and appends `records` in order; all or nothing (a failure leaves the state unchanged). */
  append(records: readonly SignedChangeRecord[]): AppendResult {
    const batch = this.checkBatch(records);
    for (let i = 0; i < batch.prepared.length; i++) {
      const checked = checkSignature(batch.prepared[i]!);
      if (!checked.ok) return { ok: false, index: i, code: checked.code, reason: checked.reason };
    }
    if (batch.failure) return batch.failure;
    this.commit(batch.state, records.length);
    return { ok: true };
  }

  /**
   * Same result as `append`, but signatures are verified concurrently on libuv's thread pool. Calls are
   * serialised; a synchronous `append` in between makes the pending batch fail without changing the state.
   */
  appendAsync(records: readonly SignedChangeRecord[]): Promise<AppendResult> {
    const run = this.queue.then(() => this.appendAsyncNow(records));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendAsyncNow(records: readonly SignedChangeRecord[]): Promise<AppendResult> {
    const version = this.version;
    const batch = this.checkBatch(records);
    for (let start = 0; start < batch.prepared.length; start += ASYNC_VERIFY_WINDOW) {
      const window = batch.prepared.slice(start, start + ASYNC_VERIFY_WINDOW);
      const results = await Promise.all(window.map((p) => checkSignatureAsync(p)));
      const bad = results.findIndex((r) => !r.ok);
      if (bad >= 0) {
        const f = results[bad] as VerifyFailure;
        return { ok: false, index: start + bad, code: f.code, reason: f.reason };
      }
    }
    if (batch.failure) return batch.failure;
    if (version !== this.version) {
      return {
        ok: false,
        index: 0,
        code: 'parent',
        reason: 'the chain changed while the batch was being verified',
      };
    }
    this.commit(batch.state, records.length);
    return { ok: true };
  }

  /**
   * Runs everything but the ECDSA step over the batch against a working copy of the state. Stops at the first
   * failure; `prepared` holds the records before it, whose signatures still have to be checked.
   */
  private checkBatch(records: readonly SignedChangeRecord[]): {
    prepared: PreparedRecord[];
    failure: AppendResult | undefined;
    state: { pins: Map<string, string>; tip: string };
  } {
    const now = (this.options.now ?? Date.now)();
    let pins = this.pinMap;
    let pinsCopied = false;
    let tip = this.tipHash;
    let length = this.count;
    const prepared: PreparedRecord[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const parentProblem = checkParent(record.parent_hash, tip, length);
      const result = parentProblem ?? prepareRecord(record, (name) => pins.get(name), this.trust, now);
      if (!result.ok) {
        return {
          prepared,
          failure: { ok: false, index: i, code: result.code, reason: result.reason },
          state: { pins, tip },
        };
      }
      prepared.push(result);
      const pin = pinnedBy(record);
      if (pin !== undefined) {
        if (!pinsCopied) {
          pins = new Map(pins);
          pinsCopied = true;
        }
        pins.set(record.record.name, pin);
      }
      tip = record.hash;
      length++;
    }
    return { prepared, failure: undefined, state: { pins, tip } };
  }

  private commit(state: { pins: Map<string, string>; tip: string }, added: number): void {
    this.pinMap = state.pins;
    this.tipHash = state.tip;
    this.count += added;
    this.version++;
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
