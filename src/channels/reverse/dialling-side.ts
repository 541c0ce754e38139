/**
 * Dialling side (D) of `ServerCall` reverse streams [WIRE, docs/protocol.md#servercall]: keeps one stream
 * open to each peer that may call us but cannot dial us, announces our name, serves the requests that arrive
 * and answers them in arrival order (requests are processed concurrently, bounded, answers are released in
 * order so that pipelining accepting sides — and the original's lock-step ones — match them correctly).
 *
 * Improvements over the original: streams are re-opened with short exponential backoff (not the next 60 s round),
 * peer changes in the directory are picked up immediately, no busy loop on a cleanly ended stream (B8),
 * and `_ping`/`_directory` results are delivered intact (B9).
 *
 * Each request gets a deadline of its own here, REVERSE_CALL_TIMEOUT_MS (how long an accepting side of
 * ours waits for the answer; the wire carries no deadline), and a cancellation fired by the accepting
 * side's cancel notice (accepting-side.ts) or when the stream ends, so a caller that gave up leaves no
 * backend request running.
 *
 * A drain notice from the peer (accepting-side.ts) says that the peer's public proxy at the named endpoint
 * is stopping; the stream authenticates the sender, so the P2P tunnels that this peer brokered for us there
 * get GOAWAY (Channel.drainTunnels, p2p/callee.ts). Nobody else can make our tunnels drain.
 */
import { errorMessage } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import { OUTCOMES, type FailureKind } from '../../core/outcome.js';
import { Backoff } from '../../core/backoff.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { Deadline } from '../../core/deadline.js';
import { CallCancelledError, Cancellation, type CallScope } from '../../core/cancellation.js';
import type { EpsResponse } from '../../core/messages.js';
import type { Broker } from '../../broker/broker.js';
import type { Directory } from '../../directory/directory.js';
import { decodeRequest, encodeResponse, type WireRequest, type WireResponse } from '../../grpc/codec.js';
import type { ClientBidi } from '../../grpc/client.js';
import type { PooledSession } from '../../grpc/peer-pool.js';
import { selectIdentity } from '../../tls/identity.js';
import { PinnedPeer, recheckPeer } from '../../tls/pinned-peer.js';
import { toWireResponse } from '../../grpc/convert.js';
import { reverseStreamPeers } from './peers.js';
import { reverseStreamsOpen } from './metrics.js';
import {
  CANCEL_FEATURE,
  CANCEL_NOTICE_METHOD,
  DRAIN_FEATURE,
  DRAIN_NOTICE_METHOD,
  REVERSE_CALL_TIMEOUT_MS,
} from './accepting-side.js';

const log = logger('reverse-dial');

export const MAINTENANCE_INTERVAL_MS = 60_000;
/**
 * Re-opening a stream backs off from 100 ms doubling up to 400 ms, half of it random: nothing in this
 * process asks for the stream (the calls come from the peer), so the maximum is what bounds how soon a
 * restarted peer (a proxy) is served again: its callers' brokering, waiting meanwhile, follows within the
 * pool's demand gap (200 ms), so both fit in 1 s of listening; a dead peer gets at most ~4 attempts a second.
 */
export const REOPEN_BACKOFF = Object.freeze({ initialMs: 100, maxMs: 400, jitter: 0.5 });
/** A stream that lived this long (it worked) resets the backoff: its end is retried after initialMs. */
export const STREAM_LIVED_MS = 5_000;
/**
 * Requests served at once per reverse stream (our accepting side never sends more; Go ones send one);
 * at the bound the stream is paused (flow control holds the rest back).
 */
export const MAX_CONCURRENT_PER_STREAM = 256;
export const CONNECT_TIMEOUT_MS = 10_000;

export type SessionProvider = (peer: string, deadline: Deadline) => Promise<PooledSession>;

/** Keeps the stream to one peer open (exported for tests). */
export class PeerLoop {
  private stopped = false;
  private stream?: ClientBidi;
  private wake?: () => void;
  /** Since when the current stream is open (clock ms); undefined while there is none. */
  upSince: number | undefined;
  /** Why the last stream ended or could not open. */
  lastError: string | undefined;

  constructor(
    readonly peer: string,
    private readonly ownName: string,
    private readonly broker: Broker,
    private readonly session: SessionProvider,
    private readonly clock: Clock = systemClock,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.stream?.cancel();
    this.wake?.();
  }

  private async run(): Promise<void> {
    const backoff = new Backoff({ ...REOPEN_BACKOFF, clock: this.clock });
    while (!this.stopped) {
      const started = backoff.clock.now();
      let error: Error | undefined;
      try {
        const pooled = await this.session(this.peer, Deadline.after(CONNECT_TIMEOUT_MS));
        if (this.stopped) break;
        this.upSince = this.clock.now();
        error = await this.serve(pooled);
      } catch (e) {
        error = e as Error;
      }
      this.upSince = undefined;
      this.lastError = error?.message;
      if (this.stopped) break;
      // A stream that lived a while resets the backoff.
      if (backoff.clock.now() - started > STREAM_LIVED_MS) backoff.reset();
      const delay = backoff.fail();
      log.debug('reverse stream down, retrying', {
        peer: this.peer,
        error: error?.message,
        inMs: Math.round(delay),
      });
      const sleep = backoff.sleep(delay);
      this.wake = sleep.wake;
      await sleep.done;
    }
  }

  /** Runs one stream until it ends; resolves with the reason. */
  private serve(pooled: PooledSession): Promise<Error | undefined> {
    const stream = pooled.session.bidi('/EPS/ServerCall');
    this.stream = stream;
    reverseStreamsOpen.inc({ side: 'dialled' });
    let order: Promise<void> = Promise.resolve();
    let inFlight = 0;
    /** Requests received on this stream (a cancel notice names one by this number). */
    let received = 0;
    const working = new Map<number, Cancellation>();
    const done = new Promise<Error | undefined>((resolve) =>
      stream.onEnd((err) => {
        reverseStreamsOpen.dec({ side: 'dialled' });
        // Nobody can take the answers any more: stop the work still running for this stream.
        const gone = new CallCancelledError(`the reverse stream to ${this.peer} ended`);
        for (const c of working.values()) c.cancel(gone);
        resolve(err ?? new Error('stream ended'));
      }),
    );
    stream.onMessage((payload) => {
      let req: WireRequest | undefined;
      let invalid: unknown;
      try {
        req = decodeRequest(payload);
      } catch (e) {
        invalid = e;
      }
      if (req?.method === CANCEL_NOTICE_METHOD) {
        const why = `the caller on the reverse stream from ${this.peer} gave up`;
        working.get(Number(req.id))?.cancel(new CallCancelledError(why));
        return;
      }
      if (req?.method === DRAIN_NOTICE_METHOD) return this.drain(req.params.endpoint);
      const seq = ++received;
      // At the bound we stop reading: further requests wait in the stream's flow-control window and the
      // accepting side cannot send more until an answer is out, so it can never make us run more at once.
      // (Cancel notices are read in the same order, so a paused stream delivers them once it resumes.)
      if (++inFlight >= MAX_CONCURRENT_PER_STREAM) stream.pause();
      const scope: CallScope = {
        deadline: Deadline.after(REVERSE_CALL_TIMEOUT_MS),
        cancellation: new Cancellation(),
      };
      working.set(seq, scope.cancellation);
      const answer = this.answer(req, invalid, pooled, scope);
      order = order
        .then(() => answer)
        .then((wire) => stream.send(encodeResponse(wire)))
        .catch((e: Error) =>
          log.debug('cannot answer on reverse stream', { peer: this.peer, error: e.message }),
        )
        .finally(() => {
          if (inFlight-- === MAX_CONCURRENT_PER_STREAM) stream.resume();
          working.delete(seq);
        });
    });
    stream
      .send(
        encodeResponse({
          id: '1',
          result: { name: this.ownName, features: [CANCEL_FEATURE, DRAIN_FEATURE] },
        }),
      )
      .then(() => log.info('reverse stream open', { peer: this.peer }))
      .catch(() => undefined);
    return done;
  }

  /** The peer's proxy at `endpoint` stops: its tunnels to us go away (no answer to a notice). */
  private drain(endpoint: unknown): void {
    if (typeof endpoint !== 'string' || endpoint === '') {
      log.warn('drain notice without an endpoint ignored', { peer: this.peer });
      return;
    }
    let told = 0;
    for (const ch of this.broker.registered) told += ch.drainTunnels?.(this.peer, endpoint) ?? 0;
    log.info('drain notice: the proxy is stopping', { peer: this.peer, endpoint, tunnels: told });
  }

  private async answer(
    req: WireRequest | undefined,
    invalid: unknown,
    pooled: PooledSession,
    scope: CallScope,
  ): Promise<WireResponse> {
    if (!req) return failed('', 'protocolViolation', `invalid request: ${errorMessage(invalid)}`);
    // The server's pinned names as the directory has them now (the calling side is the server we dialled).
    const now = recheckPeer(pooled.peer, { lookup: (n) => this.broker.directory.entry(n) });
    const identity = now instanceof PinnedPeer ? selectIdentity(now.identities, req.clientName) : undefined;
    if (!identity) return failed(req.id, 'unknownClient', 'no matching client found');
    let outcome: EpsResponse | null;
    try {
      outcome = await this.broker.deliver(
        { method: req.method, params: req.params, id: req.id },
        { name: identity.name },
        scope,
      );
    } catch (e) {
      return failed(req.id, 'rejected', errorMessage(e));
    }
    try {
      return toWireResponse(req.id, outcome);
    } catch (e) {
      return failed(req.id, 'backendError', `error converting response: ${errorMessage(e)}`);
    }
  }
}

/** An error answer on the reverse stream, its code from the outcome table. */
function failed(id: string, kind: FailureKind, message: string): WireResponse {
  return { id, error: { code: OUTCOMES[kind].reverseStream, message } };
}

export class ReverseStreamKeeper {
  private readonly loops = new Map<string, PeerLoop>();
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly ownName: string,
    private readonly directory: Directory,
    private readonly broker: Broker,
    private readonly session: SessionProvider,
    private readonly clock: Clock = systemClock,
  ) {}

  open(): void {
    this.maintain();
    this.directory.onChange(() => this.maintain());
    this.timer = setInterval(() => this.maintain(), MAINTENANCE_INTERVAL_MS);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const loop of this.loops.values()) loop.stop();
    this.loops.clear();
  }

  get peers(): string[] {
    return [...this.loops.keys()];
  }

  /** The streams we keep to peers (the status page). */
  view(): { peer: string; upSince: number | undefined; lastError: string | undefined }[] {
    return [...this.loops.values()].map((l) => ({
      peer: l.peer,
      upSince: l.upSince,
      lastError: l.lastError,
    }));
  }

  maintain(): void {
    if (this.closed) return;
    const own = this.directory.entry(this.ownName);
    const wanted = new Set(own ? reverseStreamPeers(own, this.directory.entries()) : []);
    for (const [peer, loop] of this.loops) {
      if (!wanted.has(peer)) {
        loop.stop();
        this.loops.delete(peer);
      }
    }
    for (const peer of wanted) {
      if (this.loops.has(peer)) continue;
      const loop = new PeerLoop(peer, this.ownName, this.broker, this.session, this.clock);
      this.loops.set(peer, loop);
      loop.start();
    }
  }
}
