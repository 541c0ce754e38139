/**
 * Store and forward (docs/protocol.md#store-and-forward): requests and answers of our application whose
 * next hop could not be reached wait here, durably (a BoundedTable in the configured store), and are sent
 * again, unchanged, with exponential backoff per peer (core/backoff.ts), until the peer takes them or their
 * time to live ends. What the peer answers is handed to `OutboxHandlers`; an expiry (or an answer the
 * caller's eps refuses) goes to `undeliverable`, never nowhere. At least once on the wire: the receiving eps
 * drops repeats by request id (async/received.ts, async/caller-side.ts).
 */
import { Backoff } from '../core/backoff.js';
import { Cancellation } from '../core/cancellation.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { Deadline } from '../core/deadline.js';
import { errorMessage } from '../core/errors.js';
import type { JsonObject } from '../core/json.js';
import { logger } from '../core/log.js';
import type { EpsResponse } from '../core/messages.js';
import type { BoundedTable } from './bounded-table.js';
import { keyOf, refOf } from './outbox-keys.js';
import { AsyncError, type AsyncErrorCode } from './errors.js';
import { HandOverRetries, inParallel, SWEEP_CONCURRENCY } from './hand-over-retry.js';
import type { AsyncHost } from './host.js';
import { noticesDropped, outboxDelivered, outboxExpired, outboxRetries } from './metrics.js';
import { isConfirmation, isTryLater } from './protocol.js';
import type { OutboxRecord } from './records.js';

const log = logger('outbox');

/** Settled `async.outbox` settings (defaults in settings/eps-schema.ts), durations in seconds. */
export interface OutboxSettings {
  ttl: number;
  method_ttl: Record<string, number>;
  retry_initial: number;
  retry_max: number;
  concurrency: number;
}

export interface OutboxHandlers {
  /** The peer's response to a queued message; throwing leaves the message queued (sent again later). */
  delivered(record: OutboxRecord, response: EpsResponse | null): Promise<void>;
  /**
   * A queued message that will never be delivered: its time to live ended, or the peer refused it.
   * Throws unless our backend took the notice (the message is kept and the notice tried again, bounded).
   */
  undeliverable(record: OutboxRecord, error: AsyncError): Promise<void>;
  /** Whether the store takes writes (the lease, lease-keeper.ts); nothing is sent otherwise. */ writable(): boolean;
}

/** How one delivery attempt ended: done, the peer unreachable (its queue waits), or only this one waits. */
type Attempt = 'done' | 'retry' | 'later';

interface PeerQueue {
  /** Keys of the peer's messages, oldest first. */
  keys: Set<string>;
  backoff: Backoff;
  timer: TimerHandle | undefined;
  running: boolean;
}

export class Outbox {
  private readonly queues = new Map<string, PeerQueue>();
  /** Messages that failed on their own (the peer was reached): each waits its own backoff. */
  private readonly waits = new Map<string, Backoff>();
  /** `undelivered` notices our backend has not taken yet. */
  private readonly notices: HandOverRetries;
  private closed = false;

  constructor(
    readonly table: BoundedTable<OutboxRecord>,
    private readonly settings: OutboxSettings,
    private readonly clock: Clock,
    private readonly host: () => AsyncHost,
    private readonly deliveryTimeoutMs: number,
    private readonly handlers: OutboxHandlers,
  ) {
    this.notices = new HandOverRetries(clock);
  }

  /** The time to live of a queued request: what the caller asked for, else by method, else the default. */
  ttlSeconds(method: string, asked: number | undefined): number {
    return asked ?? this.settings.method_ttl[method] ?? this.settings.ttl;
  }

  /** After the table is loaded: every stored message is queued again; `keep` drops the others. */
  async resume(keep: (record: OutboxRecord) => boolean): Promise<void> {
    for (const [key, row] of [...this.table.entries()]) {
      if (row.value.failed) continue; // its notice is tried by the sweep
      if (keep(row.value)) this.enqueue(key, row.value.peer);
      else {
        log.warn('queued message never acknowledged to the application is dropped', {
          id: refOf(row.value),
        });
        await this.table.delete(key);
      }
    }
    for (const peer of this.queues.keys()) void this.pump(peer);
  }

  /**
   * Queues a message durably (ERR_ASYNC_FULL when a bound would be passed; nothing is queued then). `ref`
   * is the id of the request it concerns (the request itself, or the request an answer answers).
   */
  async add(
    kind: OutboxRecord['kind'],
    ref: string,
    peer: string,
    request: OutboxRecord['request'],
    expires: number,
  ): Promise<void> {
    const key = keyOf(kind, ref, peer);
    await this.table.put(key, { peer, kind, request, queued: this.clock.now(), expires });
    log.info('queued for a peer that cannot be reached now', { id: ref, kind, peer });
    const q = this.enqueue(key, peer);
    // The peer just failed: the first new attempt waits like a retry.
    if (!q.running && q.backoff.attempts === 0) this.retryLater(peer, q);
  }

  /** Removes a queued request (one whose queuing could not be completed). */
  async remove(id: string): Promise<void> {
    const key = keyOf('request', id);
    const peer = this.table.get(key)?.peer;
    await this.table.delete(key);
    if (peer) this.queues.get(peer)?.keys.delete(key);
  }

  /**
   * `peer` showed that it is up (it called us): its queue, waiting for the next retry, is sent now (the
   * backoff of a restarted peer can be up to `retry_max`).
   */
  wake(peer: string): void {
    const q = this.queues.get(peer);
    if (!q || q.running || this.closed || q.backoff.attempts === 0) return;
    log.debug('peer is back; its queue is sent now', { peer });
    q.backoff.reset();
    void this.pump(peer);
  }

  /** Messages waiting for `peer` (a new marked request to it joins them instead of trying on its own). */
  waiting(peer: string): number {
    return this.queues.get(peer)?.keys.size ?? 0;
  }

  /** A queued request of ours, or a queued answer to request `id` (the first of any caller's). */
  get(kind: OutboxRecord['kind'], id: string): OutboxRecord | undefined {
    if (kind === 'request') return this.table.get(keyOf(kind, id));
    for (const peer of this.table.peerNames()) {
      const record = this.table.get(keyOf(kind, id, peer));
      if (record) return record;
    }
    return undefined;
  }

  /** Per peer: queued messages and the age of the oldest (for /metrics). */
  depths(): { peer: string; messages: number; oldestMs: number }[] {
    const now = this.clock.now();
    return [...this.queues].map(([peer, q]) => {
      const first = q.keys.values().next().value;
      const oldest = first === undefined ? undefined : this.table.get(first);
      return { peer, messages: q.keys.size, oldestMs: oldest ? now - oldest.queued : 0 };
    });
  }

  /**
   * Messages whose time to live ended are given up; pending `undelivered` notices are handed to our
   * backend, SWEEP_CONCURRENCY at a time, each with its own bounded retries.
   */
  async expireDue(): Promise<number> {
    const now = this.clock.now();
    const due = [...this.table.entries()].filter(([, row]) => !row.value.failed && row.value.expires <= now);
    for (const [key, row] of due) await this.expire(key, row.value);
    const notices = [...this.table.entries()].filter(
      ([key, row]) => row.value.failed && this.notices.due(key),
    );
    await inParallel(notices, SWEEP_CONCURRENCY, ([key, row]) => this.notify(key, row.value));
    return due.length;
  }

  close(): void {
    this.closed = true;
    for (const q of this.queues.values()) this.clock.clearTimeout(q.timer);
  }

  private enqueue(key: string, peer: string): PeerQueue {
    let q = this.queues.get(peer);
    if (!q) {
      const backoff = new Backoff({
        initialMs: this.settings.retry_initial * 1000,
        maxMs: this.settings.retry_max * 1000,
        clock: this.clock,
      });
      q = { keys: new Set(), backoff, timer: undefined, running: false };
      this.queues.set(peer, q);
    }
    q.keys.add(key);
    return q;
  }

  private retryLater(peer: string, q: PeerQueue): void {
    const delay = q.backoff.fail();
    this.clock.clearTimeout(q.timer);
    q.timer = this.clock.setTimeout(() => void this.pump(peer), delay);
    q.timer.unref();
  }

  /**
   * Sends the peer's messages, `concurrency` at a time, until the queue is empty or the peer cannot be
   * reached (then the whole queue waits). A message that fails on its own waits alone, the others go on.
   */
  private async pump(peer: string): Promise<void> {
    const q = this.queues.get(peer);
    if (!q || q.running || this.closed) return;
    q.running = true;
    this.clock.clearTimeout(q.timer);
    try {
      while (!this.closed && this.handlers.writable() && q.keys.size > 0) {
        const batch: string[] = [];
        let nextMs = Infinity;
        for (const key of q.keys) {
          if (batch.length >= this.settings.concurrency) break;
          const wait = this.waits.get(key)?.waitMs() ?? 0;
          if (wait <= 0) batch.push(key);
          else nextMs = Math.min(nextMs, wait);
        }
        if (batch.length === 0) {
          this.wakeIn(peer, q, nextMs);
          return;
        }
        const attempts = await Promise.all(batch.map((key) => this.attempt(key)));
        if (attempts.includes('retry')) {
          outboxRetries.inc({ peer });
          if (!this.closed) this.retryLater(peer, q);
          return;
        }
        q.backoff.reset();
      }
      if (q.keys.size === 0) this.queues.delete(peer);
    } catch (e) {
      log.error('outbox delivery failed', { peer, error: errorMessage(e) });
      if (!this.closed) this.retryLater(peer, q);
    } finally {
      q.running = false;
    }
  }

  private wakeIn(peer: string, q: PeerQueue, ms: number): void {
    this.clock.clearTimeout(q.timer);
    q.timer = this.clock.setTimeout(() => void this.pump(peer), ms);
    q.timer.unref();
  }

  /** This message alone waits (its own backoff, retry_initial doubling to retry_max). */
  private later(key: string): Attempt {
    let wait = this.waits.get(key);
    if (!wait) {
      wait = new Backoff({
        initialMs: this.settings.retry_initial * 1000,
        maxMs: this.settings.retry_max * 1000,
        clock: this.clock,
      });
      this.waits.set(key, wait);
    }
    wait.fail();
    return 'later';
  }

  private async attempt(key: string): Promise<Attempt> {
    const record = this.table.get(key);
    if (!record) {
      this.queues.get(this.peerOfKey(key) ?? '')?.keys.delete(key);
      return 'done';
    }
    if (record.expires <= this.clock.now()) {
      await this.expire(key, record);
      return 'done';
    }
    const id = refOf(record);
    const scope = {
      deadline: Deadline.after(this.deliveryTimeoutMs, this.clock),
      cancellation: new Cancellation(),
    };
    let response: EpsResponse | null;
    try {
      const delivery = await this.host().send(this.outgoing(record), scope);
      if (delivery.unreachable) {
        log.debug('peer still unreachable', { id, peer: record.peer });
        return 'retry';
      }
      if (isTryLater(delivery.response)) {
        log.debug('peer asks to send this one again later', { id, peer: record.peer });
        return this.later(key);
      }
      response = delivery.response;
      await this.handlers.delivered(record, response);
    } catch (e) {
      log.warn('queued message not delivered yet; retried', {
        id,
        peer: record.peer,
        error: errorMessage(e),
      });
      return this.later(key);
    }
    if (record.kind === 'answer' && !isConfirmation(response)) {
      const why = response?.error?.message ?? 'no confirmation (a node without asynchronous calls?)';
      outboxDelivered.inc({ peer: record.peer, kind: record.kind, outcome: 'refused' });
      log.warn('queued answer refused by the caller', { id, caller: record.peer, error: why });
      const error = new AsyncError(
        'ERR_ASYNC_NOT_CONFIRMED',
        `${record.peer} did not accept the answer to ${id}: ${why}`,
      );
      await this.fail(key, record, error);
      return 'done';
    }
    await this.drop(key, record);
    outboxDelivered.inc({ peer: record.peer, kind: record.kind, outcome: 'delivered' });
    log.info('queued message delivered', { id, kind: record.kind, peer: record.peer });
    return 'done';
  }

  /** The message as sent now: a request tells the callee how long it is still worth answering. */
  private outgoing(record: OutboxRecord): OutboxRecord['request'] {
    const { method, id, params } = record.request;
    const copy: JsonObject = { ...params };
    if (record.kind === 'request') {
      const left = Math.max(1, Math.ceil((record.expires - this.clock.now()) / 1000));
      copy._async = { ttl: left };
    }
    return { method, id, params: copy };
  }

  private async expire(key: string, record: OutboxRecord): Promise<void> {
    outboxExpired.inc({ peer: record.peer, kind: record.kind });
    const id = refOf(record);
    log.warn('queued message expired undelivered', { id, kind: record.kind, peer: record.peer });
    const error = new AsyncError(
      'ERR_ASYNC_UNDELIVERED',
      `${record.peer} could not be reached within the time to live of ${id}`,
    );
    // A request's expiry reaches our backend through its awaited record (caller-side.ts).
    if (record.kind === 'request') await this.drop(key, record);
    else await this.fail(key, record, error);
  }

  /**
   * An answer that will never be delivered: kept (durably) until our backend took the notice. One that
   * cannot be kept (a bound) gets a single notice: nothing is left to try it again.
   */
  private async fail(key: string, record: OutboxRecord, error: AsyncError): Promise<void> {
    const failed: OutboxRecord = { ...record, failed: { code: error.code, message: error.message } };
    const kept = await this.table.put(key, failed).then(
      () => true,
      async (e: unknown) => {
        log.error('undelivered answer cannot be kept for its notice; the notice is tried once', {
          id: refOf(record),
          error: errorMessage(e),
        });
        await this.drop(key, record);
        return false;
      },
    );
    this.queues.get(record.peer)?.keys.delete(key);
    this.waits.delete(key);
    await this.notify(key, failed, kept);
  }

  /**
   * Hands the `undelivered` notice of a failed answer to our backend; drops the answer once it took it.
   * `kept`: the answer is in the table, so a refused notice is tried again by the sweep (bounded).
   */
  private async notify(key: string, record: OutboxRecord, kept = true): Promise<void> {
    const { code, message } = record.failed!;
    const id = refOf(record);
    try {
      await this.handlers.undeliverable(record, new AsyncError(code as AsyncErrorCode, message));
    } catch (e) {
      if (kept && this.notices.failed(key, record.expires)) {
        log.warn('undelivered notice not taken by the backend; retried', {
          id,
          attempts: this.notices.attempts(key),
          error: errorMessage(e),
        });
        return;
      }
      log.error('undelivered notice never taken by the backend; given up', { id, error: errorMessage(e) });
      noticesDropped.inc({ kind: 'undelivered' });
    }
    this.notices.done(key);
    if (this.table.get(key)) await this.drop(key, record);
  }

  private async drop(key: string, record: OutboxRecord): Promise<void> {
    await this.table.delete(key);
    this.queues.get(record.peer)?.keys.delete(key);
    this.waits.delete(key);
  }

  private peerOfKey(key: string): string | undefined {
    for (const [peer, q] of this.queues) if (q.keys.has(key)) return peer;
    return undefined;
  }
}
