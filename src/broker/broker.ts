/**
 * The message broker: authenticates the hop (`_client`), checks permissions, answers internal methods and
 * hands requests to the first channel that can deliver them [WIRE, docs/protocol.md#broker].
 *
 * Differences from the original (its weak points S1, B1):
 * - the `method` field must name the same operator and method as the addressed ID, so the permission check
 *   always covers the method actually delivered;
 * - loop detection only tracks requests this node relays for others (received from a peer, addressed to a
 *   third operator), so concurrent calls that reuse a local id (say `1`) never collide.
 *
 * Asynchronous calls (async/, docs/protocol.md#asynchronous-calls): an acknowledgement from our backend or
 * from a callee is recorded on the way back; `_respond` (an answer between eps nodes) is checked by
 * async/caller-side.ts instead of the directory's permissions, and only this node may send it.
 */
import { InvalidAddressError, parseAddress, type Address } from '../core/address.js';
import type { JsonObject } from '../core/json.js';
import { ErrorCodes, type EpsRequest, type EpsResponse } from '../core/messages.js';
import { errorMessage } from '../core/errors.js';
import { DeadlineExceededError } from '../core/cancellation.js';
import { logger } from '../core/log.js';
import type { Clock } from '../core/clock.js';
import { classify, OUTCOMES, type FailureKind } from '../core/outcome.js';
import type { Directory } from '../directory/directory.js';
import { canCall } from '../directory/permissions.js';
import type { CallScope, Channel } from './channel.js';
import { BrokerError } from './errors.js';
import {
  directoryMethod,
  DirectoryProofs,
  parseConnectionRequest,
  ping,
  PROOF_QUERY_OF,
  proxyDraining,
  PROXY_DRAINING_METHOD,
} from './internal-methods.js';
import { clientEntryView } from './client-info.js';
import { requestFinished, requestStarted, type Outcome } from './metrics.js';
import { InFlight } from './in-flight.js';
import { CallActivity } from './activity.js';
import { CallMetrics, callStatus } from './call-metrics.js';
import type { AsyncCalls } from '../async/async-calls.js';
import type { AsyncHost, Delivery } from '../async/host.js';
import { AsyncError } from '../async/errors.js';
import { ANSWER_METHOD } from '../async/protocol.js';
import { AsyncDelivery } from './async-delivery.js';

const log = logger('broker');

/** Channel failures after which a request may still reach its recipient later (store and forward). */
const UNREACHABLE_KINDS: ReadonlySet<FailureKind> = new Set([
  'peerUnreachable',
  'noRoute',
  'deadlineExceeded',
]);

/** Upper bound on requests being relayed at once (the loop-detection table is bounded too). */
export const MAX_RELAYED_IN_FLIGHT = 10_000;

export interface ClientRef {
  name: string;
}

export class Broker implements AsyncHost {
  private readonly channels: Channel[] = [];
  private readonly relaying = new Set<string>();
  /** Requests taken and not yet answered (graceful stop waits for none). */
  private readonly inFlight = new InFlight();
  /** Answers on `_respond` that this node's async calls send (applications may not send `_respond`). */
  private readonly ownAnswers = new WeakSet<EpsRequest>();
  /** Requests the outbox sends again (delivered as they are: no acknowledgement bookkeeping, no queuing). */
  private readonly fromOutbox = new WeakSet<EpsRequest>();
  /** Error responses of a channel that could not reach the next hop (the outbox may keep the request). */
  private readonly unreachable = new WeakSet<EpsResponse>();
  readonly activity = new CallActivity(); // recent calls and errors, for the status page
  private readonly proofs: DirectoryProofs;
  private readonly calls: CallMetrics;
  /** Acknowledgements, queuing and repeats of asynchronous calls around delivery (absent without them). */
  private readonly asyncDelivery: AsyncDelivery | undefined;

  constructor(
    readonly ownName: string,
    readonly directory: Directory,
    readonly async?: AsyncCalls,
  ) {
    this.proofs = new DirectoryProofs(directory);
    this.calls = new CallMetrics(ownName, directory, this.activity);
    async?.attach(this);
    if (async)
      this.asyncDelivery = new AsyncDelivery(ownName, async, {
        toChannel: (request, address, scope) => this.toChannel(request, address, scope),
        unreachable: (response) => this.unreachable.has(response),
      });
  }

  /**
   * AsyncHost: an answer of our application, or a request from the outbox, routed to the other operator
   * like any request (a request from the outbox is never queued again here).
   */
  async send(request: EpsRequest, scope: CallScope): Promise<Delivery> {
    if (request.method.endsWith(`.${ANSWER_METHOD}`)) this.ownAnswers.add(request);
    else this.fromOutbox.add(request);
    // The outbox keeps what does not arrive: no waiting for an unreachable peer here (failFast).
    const response = await this.deliver(request, { name: this.ownName }, { ...scope, failFast: true });
    return { response, unreachable: response !== null && this.unreachable.has(response) };
  }

  /** AsyncHost: a `respond` call for our own backend (the first channel delivering to us). */
  async toBackend(request: EpsRequest, scope: CallScope): Promise<EpsResponse | null> {
    const address = parseAddress(request.id);
    const own = { ...address, operator: this.ownName };
    const channel = this.channels.find((c) => c.canDeliverTo(own));
    if (!channel) throw new BrokerError('ERR_NO_CHANNEL', 'no channel can deliver this request');
    return channel.deliver(request, own, scope);
  }

  register(channel: Channel): void {
    if (this.channels.some((c) => c.type === channel.type)) {
      throw new Error(`channel of same type already exists: ${channel.type}`);
    }
    this.channels.push(channel);
  }

  get registered(): readonly Channel[] {
    return this.channels;
  }

  /**
   * Routes one request; `scope` is the caller's deadline and cancellation, handed to the channel that
   * delivers (every channel gives up and stops its work when the scope ends).
   */
  async deliver(
    request: EpsRequest,
    client: ClientRef | undefined,
    scope: CallScope,
  ): Promise<EpsResponse | null> {
    const started = performance.now();
    const entry = client?.name === this.ownName ? 'local' : 'peer';
    requestStarted(entry);
    this.inFlight.enter();
    let outcome: Outcome = 'failed';
    try {
      const response = await this.route(request, client, scope);
      outcome = response === null ? 'none' : response.error ? 'error' : 'ok';
      this.calls.record(request, client?.name, callStatus(response), started, response?.error);
      return response;
    } catch (e) {
      this.calls.record(request, client?.name, 'failed', started, e);
      throw e;
    } finally {
      requestFinished(entry, outcome, started);
      this.inFlight.leave();
    }
  }

  /** Requests taken and not yet answered. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Resolves true once no request is in the broker, or false after `ms` (graceful shutdown's bound). */
  whenIdle(ms: number, clock?: Clock): Promise<boolean> {
    return this.inFlight.whenIdle(ms, clock);
  }

  private async route(
    request: EpsRequest,
    client: ClientRef | undefined,
    scope: CallScope,
  ): Promise<EpsResponse | null> {
    if (!client) throw new BrokerError('ERR_NO_CLIENT_INFO', 'client info missing');
    const callerEntry = this.directory.entry(client.name);
    if (!callerEntry) {
      throw new BrokerError(
        'ERR_UNKNOWN_CALLER',
        `error retrieving directory entry for client '${client.name}': no directory entry found`,
      );
    }
    const own = this.directory.entry(this.ownName);
    if (!own)
      throw new BrokerError('ERR_NO_OWN_ENTRY', 'error retrieving own entry: no directory entry found');
    this.async?.peerSeen(client.name); // a peer that calls us is up: its queued messages go now

    // The receiver's view of the caller always wins; nothing a caller sends can claim another identity.
    // `_caller` (the original documentation's name) is the same authenticated value.
    const params: JsonObject = request.params;
    params._client = { name: client.name, entry: clientEntryView(callerEntry) };
    params._caller = params._client;

    let address: Address;
    try {
      address = parseAddress(request.id);
    } catch (e) {
      if (e instanceof InvalidAddressError)
        throw new BrokerError('ERR_INVALID_ID', 'error parsing address: invalid ID format');
      throw e;
    }
    if (request.method !== `${address.operator}.${address.method}`) {
      throw new BrokerError(
        'ERR_METHOD_MISMATCH',
        `method '${request.method}' does not match the addressed ID '${request.id}'`,
      );
    }
    if (!this.directory.entry(address.operator)) {
      throw new BrokerError(
        'ERR_UNKNOWN_RECIPIENT',
        `error retrieving directory entry for recipient '${address.operator}': no directory entry found`,
      );
    }

    if (address.method === ANSWER_METHOD && this.async) {
      if (client.name === this.ownName && !this.ownAnswers.has(request))
        return new AsyncError(
          'ERR_ASYNC_RESERVED',
          `${ANSWER_METHOD} is reserved for eps nodes; applications answer with "respond"`,
        ).toResponse(request.id);
      if (address.operator === this.ownName) return this.async.receiveAnswer(request, client.name);
    }

    if (own.name !== callerEntry.name && !canCall(callerEntry, own, address.method)) {
      return {
        id: request.id,
        error: {
          code: OUTCOMES.permissionDenied.jsonRpc,
          message: `Permission denied for method '${address.method}' and client '${client.name}'`,
        },
      };
    }

    const relayed = client.name !== this.ownName && address.operator !== this.ownName;
    if (relayed) {
      if (this.relaying.has(request.id)) {
        throw new BrokerError(
          'ERR_DELIVERY_LOOP',
          `request ${request.id} is already being processed (maybe a delivery loop)`,
        );
      }
      if (this.relaying.size >= MAX_RELAYED_IN_FLIGHT)
        throw new BrokerError('ERR_RELAY_LIMIT', 'too many relayed requests in flight');
      this.relaying.add(request.id);
    }
    try {
      if (address.operator === this.ownName) {
        const internal = await this.internal(request, address, own);
        if (internal !== undefined) return internal;
      }
      if (this.asyncDelivery && !this.fromOutbox.has(request))
        return await this.asyncDelivery.deliver(request, address, client.name, scope);
      return await this.toChannel(request, address, scope);
    } finally {
      if (relayed) this.relaying.delete(request.id);
    }
  }

  /** Internal methods; `undefined` means "not internal, go on to the channels". */
  private async internal(
    request: EpsRequest,
    address: Address,
    own: import('../core/directory-entry.js').DirectoryEntry,
  ): Promise<EpsResponse | null | undefined> {
    try {
      switch (address.method) {
        case '_ping':
          return ping(request, address, own);
        case '_directory':
          return directoryMethod(request, address, this.directory);
        case '_connectionRequest': {
          const cr = parseConnectionRequest(
            request.params,
            (request.params._client as { name: string }).name,
          );
          for (const ch of this.channels) {
            if (ch.handleConnectionRequest && (await ch.handleConnectionRequest(cr))) return null;
          }
          throw new Error('no channel accepted the request');
        }
        case PROXY_DRAINING_METHOD:
          return proxyDraining(request, address, this.ownName, (endpoint) =>
            this.channels.flatMap((ch) => ch.announceProxyDrain?.(endpoint) ?? []),
          );
        default: {
          const query = PROOF_QUERY_OF.get(address.method);
          return query === undefined ? undefined : this.proofs.answer(request, address, query);
        }
      }
    } catch (e) {
      throw new BrokerError('ERR_INTERNAL_METHOD', `error handling internal request: ${errorMessage(e)}`);
    }
  }

  private async toChannel(
    request: EpsRequest,
    address: Address,
    scope: CallScope,
  ): Promise<EpsResponse | null> {
    for (let i = 0; i < this.channels.length; i++) {
      const channel = this.channels[i]!;
      if (!channel.canDeliverTo(address)) continue;
      try {
        // A caller that already left (or whose time is up) starts no work.
        if (scope.cancellation.reason) throw scope.cancellation.reason;
        if (scope.deadline.expired) throw new DeadlineExceededError(`broker of ${this.ownName}`);
        return await channel.deliver(request, address, scope);
      } catch (e) {
        const cause = errorMessage(e);
        log.debug('channel delivery failed', {
          channel: channel.type,
          id: request.id,
          cause,
          kind: classify(e),
        });
        // Whatever the kind, a failure inside a channel is an error response with code 500 (the original's).
        const failed: EpsResponse = {
          id: request.id,
          error: {
            code: ErrorCodes.channelError,
            message: `Channel ${i} encountered an error delivering the message: ${cause}`,
          },
        };
        if (UNREACHABLE_KINDS.has(classify(e))) this.unreachable.add(failed);
        return failed;
      }
    }
    throw new BrokerError('ERR_NO_CHANNEL', 'no channel can deliver this request');
  }
}
