/**
 * Accepting side (A) of `ServerCall` reverse streams [WIRE, docs/protocol.md#servercall]: an operator without
 * inbound connectivity (D) dials us, announces its name, and we deliver requests for D over the stream.
 *
 * The original allowed one request in flight per stream. We pipeline: requests are sent as they come and
 * responses are matched in order (first in, first out). Original D nodes answer strictly in order, and
 * ours answer in order too (see dialling-side.ts), so this stays wire-compatible.
 *
 * Deadlines and cancellation: the ServerCall messages have no field for either (the original's wire). We
 * wait for an answer until the caller's deadline (at most REVERSE_CALL_TIMEOUT_MS) or until the caller
 * gives up, then stop waiting (the slot stays, so the order holds). A dialling side of ours announces
 * `"features": ["cancel"]`; to such a side we then also send a cancel notice, `Request{method: "_cancel",
 * id: "<n>"}` for the n-th request on the stream, and it aborts that request's work (its answer still
 * comes, in order). Original dialling sides never get a notice.
 *
 * Drain notices (ours): when our operator's public proxy stops, a dialling side of ours that announced
 * `"drain"` and names us as its proxy gets `Request{method: "_drain", id: "0", params: {"endpoint": …}}`
 * (no answer) and sends GOAWAY on its P2P tunnels through that proxy (p2p/callee.ts), before the proxy cuts
 * them. Original dialling sides never get one.
 *
 * Safe retries: a request that was never sent on the stream (it had ended, or ended while the request was
 * still queued) is sent once more on the peer's next stream, which calls wait for a little while after an
 * end (reopen-wait.ts). A request that was sent and then lost with its stream may have been processed: it
 * fails, and its error says so.
 */
import type { Address } from '../../core/address.js';
import { isJsonObject, type JsonObject } from '../../core/json.js';
import { logger } from '../../core/log.js';
import type { EpsRequest, EpsResponse } from '../../core/messages.js';
import { decodeResponse, encodeRequest } from '../../grpc/codec.js';
import type { BidiServerStream, CallContext } from '../../grpc/server.js';
import { errorMessage } from '../../core/errors.js';
import { MAY_HAVE_BEEN_PROCESSED, OUTCOMES } from '../../core/outcome.js';
import { PeerDisconnectedError } from '../../broker/channel-errors.js';
import type { CallScope } from '../../broker/channel.js';
import { DeadlineExceededError, watchScope } from '../../core/cancellation.js';
import { fromWireResponse } from '../../grpc/convert.js';
import { paramsForPeer } from '../../broker/client-info.js';
import { ReopenWaits } from './reopen-wait.js';
import { systemClock, type Clock } from '../../core/clock.js';

import { reverseStreamsOpen } from './metrics.js';
const log = logger('reverse-accept');

export const REVERSE_CALL_TIMEOUT_MS = 30_000;
export const MAX_IN_FLIGHT_PER_STREAM = 256;
export const ANNOUNCEMENT_TIMEOUT_MS = 10_000;
export const MAX_REVERSE_STREAMS = 10_000;
/** The method of a cancel notice (never a valid addressed method, which always has an operator part). */
export const CANCEL_NOTICE_METHOD = '_cancel';
/** What a dialling side of ours announces it understands (`result.features` of the announcement). */
export const CANCEL_FEATURE = 'cancel';
/** The method of a drain notice (our public proxy at `params.endpoint` is stopping). */
export const DRAIN_NOTICE_METHOD = '_drain';
/** A dialling side that announces this takes drain notices. */
export const DRAIN_FEATURE = 'drain';
/** A request never sent on the stream goes once more on the peer's next stream: the first and one more. */
export const MAX_ATTEMPTS = 2;

const unsent = (why: string): PeerDisconnectedError =>
  new PeerDisconnectedError(`client disconnected: ${why} before the request was sent`, true);
const lost = (why: string): PeerDisconnectedError =>
  new PeerDisconnectedError(`client disconnected: ${why} before the answer; ${MAY_HAVE_BEEN_PROCESSED}`);
const ENDED = 'the reverse stream ended';

interface Pending {
  resolve: (r: EpsResponse) => void;
  reject: (e: Error) => void;
  /** Stops watching the caller's deadline and cancellation. */
  stop: () => void;
  settled: boolean;
  /** The request was handed to the stream in full (from then on the peer may have processed it). */
  written: boolean;
}

class AcceptedStream {
  private readonly fifo: Pending[] = [];
  /** When it was registered (ms, on the registry's clock). */
  openedAt = 0;
  /** Requests sent on this stream so far (the number a cancel notice names). */
  private sent = 0;

  constructor(
    readonly name: string,
    private readonly stream: BidiServerStream,
    private readonly ownName: string,
    private readonly timeoutMs: number,
    private readonly ctx: CallContext,
    /** What the dialling side announced it understands (CANCEL_FEATURE, DRAIN_FEATURE). */
    private readonly features: ReadonlySet<string>,
  ) {}

  get closed(): boolean {
    return this.stream.closed;
  }

  onResponse(payload: Buffer): void {
    const pending = this.fifo.shift();
    if (!pending) {
      log.warn('unexpected response on reverse stream', { peer: this.name });
      return;
    }
    pending.stop();
    if (pending.settled) return; // given up earlier; its slot is consumed now
    pending.settled = true;
    try {
      pending.resolve(fromWireResponse(decodeResponse(payload)));
    } catch (e) {
      pending.reject(new Error(`error receiving gRPC response: ${errorMessage(e)}`));
    }
  }

  async call(request: EpsRequest, scope: CallScope): Promise<EpsResponse> {
    if (this.closed) throw unsent(ENDED);
    if (scope.cancellation.reason) throw scope.cancellation.reason;
    // The dialling side's certificate must still be pinned for the announced name (directory changes).
    if (!this.ctx.current()?.identity(this.name)) {
      const unpinned = new PeerDisconnectedError('client disconnected: certificate no longer pinned');
      this.fail(unpinned);
      throw unpinned;
    }
    if (this.fifo.length >= MAX_IN_FLIGHT_PER_STREAM)
      throw new Error('too many requests in flight on reverse stream');
    let payload: Uint8Array;
    try {
      payload = encodeRequest({
        method: request.method,
        params: paramsForPeer(request.params),
        id: request.id,
        clientName: this.ownName,
      });
    } catch (e) {
      throw new Error(`error serializing params for gRPC: ${errorMessage(e)}`, { cause: e });
    }
    const seq = ++this.sent;
    const deadline = scope.deadline.within(this.timeoutMs);
    let mine: Pending | undefined;
    const result = new Promise<EpsResponse>((resolve, reject) => {
      const pending: Pending = { resolve, reject, settled: false, written: false, stop: () => undefined };
      mine = pending;
      const bounded = { deadline, cancellation: scope.cancellation };
      pending.stop = watchScope(bounded, `the reverse stream to ${this.name}`, (reason) => {
        if (pending.settled) return;
        pending.settled = true;
        pending.stop();
        const ownTimeout = reason instanceof DeadlineExceededError && deadline !== scope.deadline;
        reject(
          ownTimeout
            ? new Error(`error receiving gRPC response: no response within ${this.timeoutMs} ms`)
            : reason,
        );
        this.sendCancelNotice(seq);
      });
      this.fifo.push(pending);
    });
    try {
      await this.stream.send(payload);
      if (mine) mine.written = true;
    } catch (e) {
      this.fail(`the reverse stream failed (${errorMessage(e)})`);
    }
    return result;
  }

  /** Asks a dialling side of ours to abort the work of the `seq`-th request (no answer to the notice). */
  private sendCancelNotice(seq: number): void {
    if (!this.features.has(CANCEL_FEATURE)) return;
    this.notice(CANCEL_NOTICE_METHOD, String(seq), {});
  }

  /** Tells a dialling side of ours that our proxy at `endpoint` stops; false if it takes no such notice. */
  sendDrainNotice(endpoint: string): boolean {
    if (!this.features.has(DRAIN_FEATURE) || this.closed) return false;
    this.notice(DRAIN_NOTICE_METHOD, '0', { endpoint });
    return true;
  }

  private notice(method: string, id: string, params: JsonObject): void {
    if (this.closed) return;
    const notice = encodeRequest({ method, params, id, clientName: this.ownName });
    this.stream.send(notice).catch(() => undefined);
  }

  /**
   * Fails every outstanding request (stream gone) and ends the stream as UNAVAILABLE: with `why` (a
   * string), each request by whether it was written (may have been processed) or not (may go again).
   */
  fail(why: Error | string): void {
    for (const p of this.fifo.splice(0)) {
      p.stop();
      if (!p.settled) {
        p.settled = true;
        p.reject(typeof why !== 'string' ? why : p.written ? lost(why) : unsent(why));
      }
    }
    const message = typeof why === 'string' ? why : why.message;
    if (!this.stream.closed) this.stream.end(OUTCOMES.peerUnreachable.grpc, message);
  }
}

export class ReverseStreamRegistry {
  /** Runs when a peer's stream is registered (the eps wakes what its outbox keeps for that peer). */
  onOpened: ((peer: string) => void) | undefined;

  private readonly streams = new Map<string, AcceptedStream>();
  private readonly reopening: ReopenWaits<AcceptedStream>;

  constructor(
    private readonly ownName: string,
    private readonly timeoutMs = REVERSE_CALL_TIMEOUT_MS,
    private readonly clock: Clock = systemClock,
  ) {
    this.reopening = new ReopenWaits(MAX_REVERSE_STREAMS, clock);
  }

  get size(): number {
    return this.streams.size;
  }

  /** The streams peers keep to us (the status page); `since` in ms on the registry's clock. */
  view(): { peer: string; since: number }[] {
    return [...this.streams.values()]
      .filter((s) => !s.closed)
      .map((s) => ({ peer: s.name, since: s.openedAt }));
  }

  has(name: string): boolean {
    const s = this.streams.get(name);
    return s !== undefined && !s.closed;
  }

  /**
   * Ends every stream (graceful stop, after the calls in flight finished): the dialling sides see the end
   * at once and re-open to our successor, instead of holding our connections open until they are cut.
   */
  closeAll(): void {
    for (const s of this.streams.values()) s.fail('the server is stopping');
    this.streams.clear();
  }

  /**
   * Our proxy at `endpoint` is stopping: a drain notice to every dialling side that takes one and for
   * which `namesUs` holds (its entry names our operator as proxy). Returns the names told.
   */
  announceDrain(endpoint: string, namesUs: (peer: string) => boolean): string[] {
    const told: string[] = [];
    for (const [name, s] of this.streams) {
      if (namesUs(name) && s.sendDrainNotice(endpoint)) told.push(name);
    }
    return told;
  }

  /** Also while a stream that just ended may come back (the call then waits for it). */
  canDeliverTo(address: Address): boolean {
    const name = address.operator;
    return name !== this.ownName && (this.has(name) || this.reopening.expecting(name));
  }

  async deliver(request: EpsRequest, address: Address, scope: CallScope): Promise<EpsResponse> {
    for (let attempt = 1; ; attempt++) {
      const s = this.streams.get(address.operator);
      const stream = s && !s.closed ? s : await this.reopening.wait(address.operator, scope);
      try {
        return await stream.call(request, scope);
      } catch (e) {
        const again =
          attempt < MAX_ATTEMPTS &&
          e instanceof PeerDisconnectedError &&
          e.unprocessed &&
          !scope.deadline.expired &&
          !scope.cancellation.cancelled;
        if (!again) throw e;
        log.debug('request not sent on the reverse stream; trying its next stream', {
          peer: address.operator,
        });
      }
    }
  }

  /** The `/EPS/ServerCall` handler. */
  handle(stream: BidiServerStream, ctx: CallContext): void {
    let registered: AcceptedStream | undefined;
    const announceTimer = setTimeout(() => {
      stream.end(OUTCOMES.rejected.grpc, "can't receive handshake packet: timeout");
    }, ANNOUNCEMENT_TIMEOUT_MS);
    stream.onMessage((payload) => {
      if (registered) {
        registered.onResponse(payload);
        return;
      }
      clearTimeout(announceTimer);
      let name: unknown;
      let features: unknown;
      try {
        const announcement = decodeResponse(payload);
        name = isJsonObject(announcement.result) ? announcement.result.name : undefined;
        features = isJsonObject(announcement.result) ? announcement.result.features : undefined;
      } catch {
        name = undefined;
      }
      if (typeof name !== 'string') {
        stream.end(OUTCOMES.rejected.grpc, 'invalid client announcement');
        return;
      }
      if (!ctx.peer.identity(name)) {
        stream.end(OUTCOMES.unknownClient.grpc, 'invalid client name supplied');
        return;
      }
      if (!this.streams.has(name) && this.streams.size >= MAX_REVERSE_STREAMS) {
        stream.end(OUTCOMES.resourceExhausted.grpc, 'too many reverse streams');
        return;
      }
      const understood = new Set(
        Array.isArray(features) ? features.filter((f): f is string => typeof f === 'string') : [],
      );
      registered = new AcceptedStream(name, stream, this.ownName, this.timeoutMs, ctx, understood);
      registered.openedAt = this.clock.now();
      const previous = this.streams.get(name);
      this.streams.set(name, registered);
      if (!previous) reverseStreamsOpen.inc({ side: 'accepted' });
      previous?.fail('a new reverse stream replaced this one');
      this.reopening.streamOpened(name, registered);
      log.info('reverse stream registered', { peer: name });
      this.onOpened?.(name);
    });
    stream.onEnd(() => {
      clearTimeout(announceTimer);
      if (!registered) return;
      registered.fail(ENDED);
      // Only forget the registration if it is still ours (fixes the original's B2 race).
      if (this.streams.get(registered.name) === registered) {
        this.streams.delete(registered.name);
        reverseStreamsOpen.dec({ side: 'accepted' });
        this.reopening.streamEnded(registered.name);
        log.info('reverse stream ended', { peer: registered.name });
      }
    });
  }
}
