/** The contract between the broker and its channels (ways in and out of an eps server). */
import type { Address } from '../core/address.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import type { JsonObject } from '../core/json.js';
import type { ChannelType } from '../settings/eps-schema.js';
import type { CallScope } from '../core/cancellation.js';

/** Deadline and cancellation of one delivery (core/cancellation.ts), passed unchanged to every hop. */
export type { CallScope };

/** The channel types are the ones the settings schema accepts (one list, in settings/eps-schema.ts). */
export type { ChannelType };

/** Validated params of `_connectionRequest` [WIRE, docs/protocol.md#internal-methods]. */
export interface ConnectionRequest {
  channel: string;
  endpoint: string;
  token: Buffer;
  client: JsonObject;
  /** The authenticated operator that sent the request (from the broker, never from the caller). */
  caller: string;
}

export interface Channel {
  readonly type: ChannelType;
  open(): Promise<void>;
  /**
   * Graceful shutdown, first step (channels with a listener): refuse new connections and tell connected
   * peers to go away (GOAWAY); calls in flight go on until close().
   */
  stopAccepting?(): void;
  close(): Promise<void>;
  /** Whether this channel would deliver a request with this address (first "yes" wins). */
  canDeliverTo(address: Address): boolean;
  /**
   * Delivers; `null` means "delivered, no response" (e.g. stdout). Throws on failure. Gives up (throws)
   * once `scope`'s deadline passes or it is cancelled, and stops the work it started for the request
   * (stream reset, backend request aborted): nothing keeps running for a caller that left.
   */
  deliver(request: EpsRequest, address: Address, scope: CallScope): Promise<EpsResponse | null>;
  /** Only the gRPC server channel takes connection requests; returns false when not its channel. */
  handleConnectionRequest?(request: ConnectionRequest): Promise<boolean>;
  /**
   * Proxy operator's node: our public proxy at `endpoint` is stopping; sends a drain notice on every
   * reverse stream whose dialling side understands one and names us as its proxy. Returns their names.
   */
  announceProxyDrain?(endpoint: string): string[];
  /**
   * P2P callee: the authenticated proxy operator `proxy` stops its proxy at `endpoint`; its tunnels to us
   * get GOAWAY. Returns how many.
   */
  drainTunnels?(proxy: string, endpoint: string): number;
}
