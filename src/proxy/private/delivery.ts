/**
 * Delivery of a back-connection's stream on the private proxy (docs/protocol.md#normal-mode). Pass-through
 * mode (a): dial the configured internal endpoint — and only it — and splice; the upstream terminates TLS
 * itself. The terminating mode (b) is in terminating-delivery.ts.
 */
import type net from 'node:net';
import { logger } from '../../core/log.js';
import { dial } from './dial.js';
import type { TunnelRegistry } from '../shared/tunnels.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('private-proxy');

export interface Delivery {
  readonly mode: 'pass-through' | 'terminating';
  /** Serves the stream arriving on `socket`; resolves when the socket is done. Never rejects. */
  deliver(socket: net.Socket): Promise<void>;
  /** Tears down everything still being served. */
  close(): void;
}

export class PassThroughDelivery implements Delivery {
  readonly mode = 'pass-through' as const;

  constructor(
    private readonly address: string,
    private readonly connectTimeoutMs: number,
    private readonly tunnels: TunnelRegistry,
  ) {}

  async deliver(socket: net.Socket): Promise<void> {
    let upstream: net.Socket;
    try {
      upstream = await dial(this.address, this.connectTimeoutMs);
    } catch (error) {
      log.warn('internal endpoint unreachable', { address: this.address, error: errorMessage(error) });
      socket.destroy();
      return;
    }
    upstream.on('error', (error) => log.debug('upstream socket error', { error: error.message }));
    await this.tunnels.splice(socket, upstream, 'pass-through');
  }

  close(): void {
    this.tunnels.destroyAll();
  }
}
