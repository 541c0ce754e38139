/** What the asynchronous calls need from the broker that owns them (broker/broker.ts implements it). */
import type { CallScope } from '../core/cancellation.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';

/** What became of a request sent to another operator. */
export interface Delivery {
  response: EpsResponse | null;
  /** The next hop could not be reached (no connection, no route, no answer in time): worth queuing. */
  unreachable: boolean;
}

export interface AsyncHost {
  readonly ownName: string;
  /** Routes a request of the own operator (an answer on `_respond`, a queued request) to another operator. */
  send(request: EpsRequest, scope: CallScope): Promise<Delivery>;
  /** Hands a request (the `respond` call) to the channel that delivers to the own backend. */
  toBackend(request: EpsRequest, scope: CallScope): Promise<EpsResponse | null>;
}
