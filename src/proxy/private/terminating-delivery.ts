/**
 * Terminating delivery on the private proxy (docs/protocol.md#normal-mode): TLS is run as server on the
 * back-connection itself with `internal_endpoint.tls` (HTTP/1.1 only via ALPN; client certificates per
 * `verify_client`), exactly one HTTP request is read and forwarded (plain HTTP or validated JSON-RPC), then
 * the connection is closed. One HTTPS server object (never listening) serves all connections; each connection
 * has a deadline of `internal_endpoint.timeout` for the handshake, the request and the reply, after which it
 * is destroyed.
 */
import https from 'node:https';
import type net from 'node:net';
import { logger } from '../../core/log.js';
import type { InternalEndpointSettings } from '../../settings/proxy-schema.js';
import { baseContextOptions, loadTls, serverAuthOptions } from '../../tls/options.js';
import type { Delivery } from './delivery.js';
import { httpForwarder, jsonRpcForwarder, type RequestForwarder } from './forwarders.js';

const log = logger('private-proxy');

/** Time granted to the client to close after the reply before the socket is destroyed. */
export const CLOSE_GRACE_MS = 1_000;

export class TerminatingDelivery implements Delivery {
  readonly mode = 'terminating' as const;
  /** Never listens: back-connections are handed to it as 'connection' events. */
  private readonly server: https.Server;
  private readonly live = new Set<net.Socket>();

  constructor(
    settings: InternalEndpointSettings,
    private readonly timeoutMs: number,
  ) {
    if (settings.tls === undefined) throw new Error('terminating delivery needs internal_endpoint.tls');
    const loaded = loadTls(settings.tls);
    const forward: RequestForwarder =
      settings.jsonrpc_client?.endpoint !== undefined
        ? jsonRpcForwarder(
            {
              endpoint: settings.jsonrpc_client.endpoint,
              path: settings.jsonrpc_path,
              tls: settings.jsonrpc_client.tls,
            },
            timeoutMs,
          )
        : httpForwarder(settings.address, timeoutMs);
    this.server = https.createServer(
      { ...baseContextOptions(loaded), ...serverAuthOptions(loaded), ALPNProtocols: ['http/1.1'] },
      (req, res) => {
        res.shouldKeepAlive = false;
        res.once('finish', () => {
          const socket = req.socket;
          socket.end();
          setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
        });
        forward(req, res).catch((error: Error) => {
          log.error('request forwarding failed', { error: error.message });
          res.destroy();
        });
      },
    );
    this.server.on('tlsClientError', (error) => log.debug('TLS handshake failed', { error: error.message }));
    this.server.on('clientError', (error, socket) => {
      log.debug('HTTP client error', { error: error.message });
      socket.destroy();
    });
  }

  deliver(socket: net.Socket): Promise<void> {
    return new Promise((resolve) => {
      this.live.add(socket);
      const timer = setTimeout(() => {
        log.debug('terminated connection timed out');
        socket.destroy();
      }, this.timeoutMs);
      socket.once('close', () => {
        clearTimeout(timer);
        this.live.delete(socket);
        resolve();
      });
      this.server.emit('connection', socket);
    });
  }

  close(): void {
    for (const socket of this.live) socket.destroy();
    this.live.clear();
  }
}
