/**
 * One connection on the public proxy's TLS port (normal mode, docs/protocol.md#sni-routing): read the
 * ClientHello (any segmentation, bounded size and time; the deadline ends once it is read), route its SNI
 * name to a non-expired announcement, park the socket under a fresh token and ask the announcing private
 * proxy, through the own EPS, to connect back. Every rejection is a silent close; nothing is ever written
 * to the client before splicing. The parked socket is released on every failure path.
 */
import type net from 'node:net';
import { logger } from '../../core/log.js';
import { ClientHelloError, readClientHello } from '../../tls/client-hello.js';
import type { AnnouncementTable } from '../shared/announcements.js';
import type { EpsCaller } from '../shared/eps-link.js';
import { TokenError, type TokenTable } from '../shared/tokens.js';
import type { TunnelRegistry } from '../shared/tunnels.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('public-proxy');

/** What a parked public client waits with: the bytes to replay and where the token was sent. */
export interface NormalTokenMeta {
  domain: string;
  operator: string;
  hello: Buffer;
}

export interface FrontContext {
  announcements: AnnouncementTable;
  tokens: TokenTable<NormalTokenMeta>;
  tunnels: TunnelRegistry;
  eps: EpsCaller;
  /** Advertised address of the internal listener (`internal_endpoint`). */
  internalEndpoint: string;
  helloTimeoutMs: number;
  maxHelloBytes?: number | undefined;
}

export async function handleFrontConnection(socket: net.Socket, ctx: FrontContext): Promise<void> {
  socket.on('error', (error) => log.debug('public client socket error', { error: error.message }));
  if (!ctx.tunnels.admit(socket)) {
    log.debug('public connection refused: too many connections in their opening phase');
    return;
  }
  let serverName: string;
  let hello: Buffer;
  try {
    const read = await readClientHello(socket, {
      timeoutMs: ctx.helloTimeoutMs,
      ...(ctx.maxHelloBytes === undefined ? {} : { maxBytes: ctx.maxHelloBytes }),
    });
    serverName = read.serverName ?? '';
    hello = read.buffered;
  } catch (error) {
    const code = error instanceof ClientHelloError ? error.code : 'error';
    log.debug('public connection closed: no usable ClientHello', { code, error: errorMessage(error) });
    socket.destroy();
    return;
  } finally {
    ctx.tunnels.settled(socket);
  }

  const route = ctx.announcements.route(serverName);
  if (route === undefined) {
    log.debug('public connection closed: domain not announced', { domain: serverName });
    socket.destroy();
    return;
  }

  let token: string;
  try {
    token = ctx.tokens.issue({ domain: route.domain, operator: route.owner, hello }, socket).base64;
  } catch (error) {
    log.warn('public connection closed: cannot park it', { error: errorMessage(error) });
    socket.destroy();
    return;
  }

  const method = `${route.owner}.incomingConnection`;
  try {
    const reply = await ctx.eps.call(method, {
      domain: route.domain,
      token,
      endpoint: ctx.internalEndpoint,
    });
    if (reply.error === undefined) return;
    log.info('private proxy refused the connection', {
      domain: route.domain,
      operator: route.owner,
      code: reply.error.code,
      error: reply.error.message,
    });
  } catch (error) {
    log.warn('cannot notify the private proxy', { domain: route.domain, error: errorMessage(error) });
  }
  // Failure: release the parked client unless the private proxy already connected back (then the tunnel lives).
  try {
    ctx.tokens.revoke(token);
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
  }
}
