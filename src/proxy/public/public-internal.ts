/**
 * One connection on the public proxy's internal port (docs/protocol.md#token-framing):
 * read exactly the 32 token bytes (any segmentation, bounded time; the deadline ends with the token), look
 * the token up in the P2P table first, then in the normal-mode table, and splice: P2P parties are parked
 * until their partner arrives and then joined byte for byte; a private proxy's back-connection is joined
 * to the parked public client after the buffered ClientHello bytes. Unknown, replayed, expired, short or
 * late tokens close the connection.
 */
import type net from 'node:net';
import { logger } from '../../core/log.js';
import type { NormalTokenMeta } from './public-front.js';
import { readToken, TokenError, type TokenTable } from '../shared/tokens.js';
import type { TunnelRegistry } from '../shared/tunnels.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('public-proxy');

/** What a P2P token stands for: who asked for a connection to whom. */
export interface P2pTokenMeta {
  caller: string;
  target: string;
}

export interface InternalContext {
  normalTokens: TokenTable<NormalTokenMeta>;
  p2pTokens: TokenTable<P2pTokenMeta>;
  tunnels: TunnelRegistry;
  tokenTimeoutMs: number;
}

export async function handleInternalConnection(socket: net.Socket, ctx: InternalContext): Promise<void> {
  socket.on('error', (error) => log.debug('internal socket error', { error: error.message }));
  if (!ctx.tunnels.admit(socket)) {
    log.debug('internal connection refused: too many connections in their opening phase');
    return;
  }
  let token: Buffer;
  try {
    token = await readToken(socket, ctx.tokenTimeoutMs);
  } catch (error) {
    log.debug('internal connection closed: no token', { error: errorMessage(error) });
    socket.destroy();
    return;
  } finally {
    ctx.tunnels.settled(socket);
  }

  try {
    if (ctx.p2pTokens.has(token)) {
      const arrival = ctx.p2pTokens.arrive(token, socket);
      if (!arrival.paired) {
        log.debug('P2P party parked', { caller: arrival.meta.caller, target: arrival.meta.target });
        return;
      }
      log.debug('P2P tunnel', { caller: arrival.meta.caller, target: arrival.meta.target });
      // The parked party is the callee (it connects first); it can be told to drain the tunnel.
      void ctx.tunnels.splice(arrival.peer, socket, 'p2p', { party: arrival.meta.target });
      return;
    }
    const { meta, socket: client } = ctx.normalTokens.claim(token);
    if (client === undefined) throw new TokenError('expired', 'the public client is gone');
    log.debug('normal-mode tunnel', { domain: meta.domain, operator: meta.operator });
    void ctx.tunnels.splice(client, socket, 'normal', { initial: meta.hello });
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    log.debug('internal connection closed: token refused', { code: error.code, error: error.message });
    socket.destroy();
  }
}
