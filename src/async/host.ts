/** What the asynchronous calls need from the broker that owns them (broker/broker.ts implements it). */
import type { CallScope } from '../core/cancellation.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';

export interface AsyncHost {
  readonly ownName: string;
  /** Routes a request of the own operator (an answer on `_respond`) to another operator. */
  send(request: EpsRequest, scope: CallScope): Promise<EpsResponse | null>;
  /** Hands a request (the `respond` call) to the channel that delivers to the own backend. */
  toBackend(request: EpsRequest, scope: CallScope): Promise<EpsResponse | null>;
}
