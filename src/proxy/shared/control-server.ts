/**
 * The JSON-RPC control API of a proxy (the server its own EPS calls, docs/protocol.md#proxy-control-api).
 *
 * Security fix (SECURITY.md#trust-boundaries): `_client` in the params names the caller and carries the
 * directory settings used for authorisation, so only the proxy operator's own EPS may call this API. The
 * server therefore requires mutual TLS and accepts a client certificate only if its subject CN or one of
 * its DNS SANs is in `jsonrpc_server.allowed_client_names` (default: the proxy's own `name`, which is the
 * operator whose certificate the own EPS presents). Other callers get HTTP 403 with a JSON-RPC error.
 * `allowed_client_names: []` switches the check off (and then plain HTTP is allowed; a warning is logged).
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { verifyAllowedClient } from '../../tls/pinned-peer.js';
import { logger } from '../../core/log.js';
import { dispatcher, type MethodDefinition } from '../../jsonrpc/dispatcher.js';
import {
  JsonHttpServer,
  type HttpServerConfig,
  type IncomingJson,
  type JsonHandler,
} from '../../jsonrpc/http-server.js';
import { buildResponse, sendJson } from '../../jsonrpc/write.js';
import { CodedError } from '../../core/errors.js';

const log = logger('proxy-api');

/** JSON-RPC error code and HTTP status of a refused caller. */
export const FORBIDDEN_CODE = 403;

export class ControlApiConfigError extends CodedError<'ERR_PROXY_CONTROL_API_CONFIG'> {
  constructor(message: string) {
    super('ERR_PROXY_CONTROL_API_CONFIG', message);
    this.name = 'ControlApiConfigError';
  }
}

export interface ControlServerSettings extends HttpServerConfig {
  allowed_client_names?: string[] | undefined;
}

/** The effective allow-list; throws ControlApiConfigError when it cannot be enforced. */
export function allowedClientNames(settings: ControlServerSettings, ownName: string): string[] {
  const names = settings.allowed_client_names ?? [ownName];
  if (names.length === 0) {
    log.warn(
      'jsonrpc_server.allowed_client_names is empty: any client reaching the control API can claim any ' +
        'identity (_client); use this only on a trusted interface',
      { bind_address: settings.bind_address },
    );
    return names;
  }
  if (settings.tls === undefined || settings.tls.verify_client === false) {
    throw new ControlApiConfigError(
      `jsonrpc_server on ${settings.bind_address} must use TLS with verify_client (client certificates) ` +
        `so that only the own EPS (${names.join(', ')}) can call the proxy; ` +
        'set allowed_client_names: [] to accept any caller (insecure)',
    );
  }
  return names;
}

/** A TLS caller whose certificate passes the peer checks with an allowed name (verifyAllowedClient logs why not). */
function allowedCaller(socket: Socket, allowed: readonly string[]): boolean {
  if (!(socket instanceof TLSSocket)) {
    log.warn('control API call refused: not TLS', { remote: socket.remoteAddress });
    return false;
  }
  try {
    verifyAllowedClient(socket, allowed);
    return true;
  } catch {
    return false;
  }
}

/** Wraps a handler so that only callers presenting an allowed certificate reach it. */
export function guardControlApi(handler: JsonHandler, allowed: readonly string[]): JsonHandler {
  if (allowed.length === 0) return handler;
  return async (incoming: IncomingJson) => {
    if (!allowedCaller(incoming.req.socket, allowed)) {
      sendJson(
        incoming.res,
        FORBIDDEN_CODE,
        buildResponse(
          undefined,
          { code: FORBIDDEN_CODE, message: 'client not allowed to call this proxy' },
          null,
        ),
      );
      return;
    }
    await handler(incoming);
  };
}

/** Builds (does not start) the control API server for `methods`. */
export function createControlServer(
  settings: ControlServerSettings,
  ownName: string,
  methods: Record<string, MethodDefinition>,
): JsonHttpServer {
  const allowed = allowedClientNames(settings, ownName);
  return new JsonHttpServer(settings, guardControlApi(dispatcher(methods), allowed));
}
