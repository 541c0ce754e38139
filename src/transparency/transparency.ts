/**
 * Directory transparency of one eps [docs/transparency.md]: its verified tip travels with the gRPC traffic
 * and peers that know more heal it.
 *
 * - Client side: on every new pooled session (direct or P2P) the tip goes out once in `/EPS/Tip`, and again
 *   on every open session after our chain changed; the answer is the peer's tip. No call waits for it.
 * - Server side: `/EPS/Tip` answers our tip and checks the caller's; `/EPS/Records` serves pages of our
 *   verified chain (MAX_PAGE_RECORDS at most); `/EPS/Consistency` proves that a size of our chain is a
 *   prefix of a larger one (the directory's Merkle tree).
 * - A peer's tip is checked by PeerCheck (heal, fork, unverifiable), at most one check per peer at a time and
 *   MAX_CONCURRENT_CHECKS in all (more are skipped: tips come again with the next connection or change);
 *   a (peer tip, our tip) pair already found consistent, healed or forked is not checked again, an
 *   unverifiable one (or one of a peer we could not connect to: no alarm) not within ALARM_INTERVAL_MS (the
 *   table holds MAX_REMEMBERED_PEERS peers).
 * - Peers that answer UNIMPLEMENTED (original nodes) are left alone: no alarm, no further tips on that session.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { systemClock, type Clock } from '../core/clock.js';
import { Deadline } from '../core/deadline.js';
import { errorMessage } from '../core/errors.js';
import { logger } from '../core/log.js';
import { OUTCOMES } from '../core/outcome.js';
import type { GrpcClientChannel } from '../channels/grpc-client.js';
import type { GrpcServerChannel } from '../channels/grpc-server.js';
import type { PooledSession } from '../grpc/peer-pool.js';
import type { CallContext } from '../grpc/server.js';
import { GrpcError, Status } from '../grpc/status.js';
import { selectIdentity } from '../tls/identity.js';
import {
  answerProofQuery,
  parseConsistencyProof,
  type ConsistencyProof,
  type RecordTree,
} from '../records/index.js';
import { ALARM_INTERVAL_MS, Alarms } from './alarms.js';
import { directoryRecords } from './metrics.js';
import {
  PeerCheck,
  PeerUnreachable,
  type CheckVerdict,
  type PeerSource,
  type VerifiedChain,
} from './peer-check.js';
import { formatTip, sameTip, tipOf, type Tip } from './tip.js';
import * as wire from './wire.js';

const log = logger('transparency');

/** Deadline of one `/EPS/Tip` or `/EPS/Records` call. */
export const TIP_CALL_TIMEOUT_MS = 10_000;
/** Peer checks running at once (each holds at most one page, or one branch of MAX_BRANCH_RECORDS). */
export const MAX_CONCURRENT_CHECKS = 4;
/** Peers whose last checked tips are remembered (oldest forgotten first). */
export const MAX_REMEMBERED_PEERS = 1_024;

/** The chain as transparency needs it: VerifiedChain plus change notification (ApiDirectory). */
export interface TransparentDirectory extends VerifiedChain {
  onChange(listener: () => void): void;
  /** The Merkle tree over chain(), in step with it. */
  tree(): RecordTree;
}

interface Checked {
  key: string;
  verdict: CheckVerdict;
  at: number;
}

export class Transparency {
  readonly alarms: Alarms;
  private readonly check: PeerCheck;
  private readonly running = new Set<string>();
  private readonly checked = new Map<string, Checked>();
  /** Sessions whose peer answered UNIMPLEMENTED: an original node, sent no more tips. */
  private readonly silent = new WeakSet();
  private client: GrpcClientChannel | undefined;
  private pushed: Tip;
  private closed = false;

  constructor(
    private readonly ownName: string,
    private readonly directory: TransparentDirectory,
    private readonly clock: Clock = systemClock,
  ) {
    this.alarms = new Alarms(clock);
    const source: PeerSource = {
      page: (peer, query) =>
        this.ask(peer, wire.RECORDS_PATH, wire.encodeRecordsRequest(query, ownName), (reply) =>
          wire.decodeRecordsResponse(reply, query.limit),
        ),
      consistency: (peer, query) =>
        this.ask(
          peer,
          wire.CONSISTENCY_PATH,
          wire.encodeConsistencyRequest(query, ownName),
          wire.decodeConsistencyResponse,
        ),
    };
    this.check = new PeerCheck(directory, source, this.alarms);
    this.pushed = this.tip();
    directoryRecords.set(this.pushed.size);
    directory.onChange(() => this.onChainChange());
  }

  /** Our verified tip with its Merkle root (the directory's tree follows the chain). */
  tip(): Tip {
    return this.directory.tree().tip();
  }

  /** Sends our tip on each new session of this channel, and fetches records through it. */
  attachClient(channel: GrpcClientChannel): void {
    this.client = channel;
    channel.pool.onSession((peer, pooled) => void this.sendTip(peer, pooled));
  }

  /** Serves `/EPS/Tip` and `/EPS/Records` on this channel. */
  attachServer(channel: GrpcServerChannel): void {
    channel.addUnary(wire.TIP_PATH, (payload, ctx) => this.onTip(payload, ctx));
    channel.addUnary(wire.RECORDS_PATH, (payload, ctx) => this.onRecords(payload, ctx));
    channel.addUnary(wire.CONSISTENCY_PATH, (payload, ctx) => this.onConsistency(payload, ctx));
  }

  close(): void {
    this.closed = true;
  }

  /** Checks currently running (bounded by MAX_CONCURRENT_CHECKS). */
  get checksRunning(): number {
    return this.running.size;
  }

  private onChainChange(): void {
    const tip = this.tip();
    directoryRecords.set(tip.size);
    if (sameTip(tip, this.pushed)) return;
    this.pushed = tip;
    if (!this.client || this.closed) return;
    for (const [peer, pooled] of this.client.pool.sessions()) void this.sendTip(peer, pooled);
  }

  private async sendTip(peer: string, pooled: PooledSession): Promise<void> {
    if (this.closed || this.silent.has(pooled.session)) return;
    let theirs: Tip;
    try {
      const payload = wire.encodeTipRequest(this.tip(), this.ownName);
      const reply = await pooled.session.unary(
        wire.TIP_PATH,
        payload,
        Deadline.after(TIP_CALL_TIMEOUT_MS, this.clock),
      );
      theirs = wire.decodeTipResponse(reply);
    } catch (e) {
      if (e instanceof GrpcError && e.code === Status.UNIMPLEMENTED) {
        this.silent.add(pooled.session);
        log.debug('peer does not exchange directory tips', { peer });
      } else {
        log.debug('directory tip exchange failed', { peer, error: errorMessage(e) });
      }
      return;
    }
    this.consider(peer, theirs);
  }

  private async onTip(payload: Buffer, ctx: CallContext): Promise<Uint8Array> {
    const { request, caller } = this.accept(payload, ctx, wire.decodeTipRequest, 'bad directory tip');
    const ours = wire.encodeTipResponse(this.tip());
    this.consider(caller, request.tip);
    return ours;
  }

  private async onRecords(payload: Buffer, ctx: CallContext): Promise<Uint8Array> {
    const { request } = this.accept(payload, ctx, wire.decodeRecordsRequest, 'bad records query');
    const chain = this.directory.chain();
    const { from, limit } = request.query;
    const page: readonly SignedChangeRecord[] = chain.slice(from, from + limit);
    return wire.encodeRecordsResponse(tipOf(chain), page);
  }

  private async onConsistency(payload: Buffer, ctx: CallContext): Promise<Uint8Array> {
    const { request } = this.accept(payload, ctx, wire.decodeConsistencyRequest, 'bad consistency query');
    let proof: ConsistencyProof;
    try {
      proof = parseConsistencyProof(answerProofQuery(this.directory.tree(), 'consistency', request.params));
    } catch (e) {
      throw new GrpcError(Status.INVALID_ARGUMENT, `cannot prove consistency: ${errorMessage(e)}`);
    }
    return wire.encodeConsistencyResponse(proof);
  }

  /** Decodes a request of a pinned peer and names the caller (the identity its `clientName` selects). */
  private accept<T extends { clientName: string }>(
    payload: Buffer,
    ctx: CallContext,
    decode: (payload: Buffer) => T,
    what: string,
  ): { request: T; caller: string } {
    let request: T;
    try {
      request = decode(payload);
    } catch (e) {
      throw new GrpcError(OUTCOMES.protocolViolation.grpc, `${what}: ${errorMessage(e)}`);
    }
    const identity = selectIdentity(ctx.peer.identities, request.clientName);
    if (!identity) throw new GrpcError(OUTCOMES.unknownClient.grpc, 'no matching client');
    return { request, caller: identity.name };
  }

  /** Starts a check of the peer's tip unless it is known, running, or too many run. */
  private consider(peer: string, theirs: Tip): void {
    // Without a gRPC client channel no peer can be asked for records: its tip is not examined at all.
    if (this.closed || peer === this.ownName || !this.client) return;
    const key = `${theirs.size}/${theirs.head} ${this.directory.chain().length}/${this.tip().head}`;
    const known = this.checked.get(peer);
    if (known?.key === key) {
      const again = known.verdict === 'unverifiable' || known.verdict === 'unreachable';
      const retry = again && this.clock.now() - known.at >= ALARM_INTERVAL_MS;
      if (!retry) return;
    }
    if (this.running.has(peer)) return;
    if (this.running.size >= MAX_CONCURRENT_CHECKS) {
      log.debug('too many directory checks running; skipping this tip', { peer, tip: formatTip(theirs) });
      return;
    }
    this.running.add(peer);
    void this.check
      .run(peer, theirs)
      .then((verdict) => {
        log.debug('directory tip checked', { peer, tip: formatTip(theirs), verdict });
        this.remember(peer, { key, verdict, at: this.clock.now() });
      })
      .finally(() => this.running.delete(peer));
  }

  private remember(peer: string, checked: Checked): void {
    this.checked.delete(peer);
    if (this.checked.size >= MAX_REMEMBERED_PEERS) this.checked.delete(this.checked.keys().next().value!);
    this.checked.set(peer, checked);
  }

  /** One request to `peer` on a pooled session (PeerUnreachable when there is none to be had). */
  private async ask<T>(
    peer: string,
    path: string,
    payload: Uint8Array,
    decode: (reply: Buffer) => T,
  ): Promise<T> {
    const client = this.client;
    if (!client) throw new PeerUnreachable('no gRPC client channel to reach the peer');
    const deadline = Deadline.after(TIP_CALL_TIMEOUT_MS, this.clock);
    let pooled: PooledSession;
    try {
      pooled = await client.session(peer, deadline);
    } catch (e) {
      throw new PeerUnreachable(`no connection to ${peer}: ${errorMessage(e)}`);
    }
    return decode(await pooled.session.unary(path, payload, deadline));
  }
}
