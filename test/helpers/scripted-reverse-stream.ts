/**
 * The server end of a ServerCall stream as the reverse-stream registry sees it, scripted (no sockets):
 * `sent` holds the requests it wrote, `receive` plays an answer of the dialling side, `failSends` makes the
 * next send fail as a closing stream's does, `drop` ends it as a lost connection would. `scriptedContext`
 * is the call context of an accepted stream from `name`.
 */
import type { BidiServerStream, CallContext } from '../../src/grpc/server.js';
import type { PinnedPeer } from '../../src/tls/pinned-peer.js';
import { decodeRequest, encodeResponse, type WireRequest } from '../../src/grpc/codec.js';
import { newEntry } from '../../src/core/directory-entry.js';
import { Deadline } from '../../src/core/deadline.js';
import { Cancellation } from '../../src/core/cancellation.js';

export class ScriptedStream implements BidiServerStream {
  readonly sent: WireRequest[] = [];
  private messageListener?: (payload: Buffer) => void;
  private endListener?: () => void;
  closed = false;
  failSends = false;

  send(payload: Uint8Array): Promise<void> {
    if (this.failSends) {
      this.drop();
      return Promise.reject(new Error('stream closed'));
    }
    this.sent.push(decodeRequest(payload));
    return Promise.resolve();
  }
  end(): void {
    this.closed = true;
  }
  onMessage(listener: (payload: Buffer) => void): void {
    this.messageListener = listener;
  }
  onEnd(listener: () => void): void {
    this.endListener = listener;
  }
  pause(): void {}
  resume(): void {}
  /** The dialling side sends a Response. */
  receive(result: Record<string, unknown>, id = '1'): void {
    this.messageListener!(Buffer.from(encodeResponse({ id, result: result as never })));
  }
  /** The connection under the stream is gone. */
  drop(): void {
    this.closed = true;
    this.endListener?.();
  }
}

/**
 * Only verifyPeer makes a real PinnedPeer (after a TLS handshake); a scripted stream has none, so a
 * stand-in with what the registry reads.
 */
export function scriptedContext(name: string): CallContext {
  const identity = { name, entry: newEntry(name) };
  const peer = {
    identities: [identity],
    identity: (n: string) => (n === name ? identity : undefined),
  } as unknown as PinnedPeer;
  return {
    peer,
    current: () => peer,
    deadline: Deadline.unbounded(),
    cancellation: new Cancellation(),
    headers: {},
    connectionLost: false,
  };
}
