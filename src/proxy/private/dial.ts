/**
 * Outbound TCP connections of the private proxy with a connect timeout: the back-connection to the public
 * proxy's internal endpoint, which starts with the 32 raw token bytes in a single write [WIRE,
 * docs/protocol.md#token-framing], and the connection to the internal upstream.
 */
import net from 'node:net';
import { CodedError, errorMessage } from '../../core/errors.js';
import type { FailureKind } from '../../core/outcome.js';
import { parseHostPort } from '../../net/host-port.js';
import { TOKEN_BYTES } from '../shared/tokens.js';

export type ProxyDialErrorCode =
  'ERR_PROXY_DIAL_ADDRESS' | 'ERR_PROXY_DIAL_TIMEOUT' | 'ERR_PROXY_DIAL_SOCKET' | 'ERR_PROXY_DIAL_TOKEN';

/** Kinds (core/outcome.ts); a socket failure has its kind from its cause (the Node error code). */
const FAILURE: Record<ProxyDialErrorCode, FailureKind | undefined> = {
  ERR_PROXY_DIAL_ADDRESS: 'internal',
  ERR_PROXY_DIAL_TIMEOUT: 'peerUnreachable',
  ERR_PROXY_DIAL_SOCKET: undefined,
  ERR_PROXY_DIAL_TOKEN: 'internal',
};

/** The private proxy could not connect (not grpc/dial.ts's DialError, which dials gRPC peers). */
export class ProxyDialError extends CodedError<ProxyDialErrorCode> {
  readonly failure: FailureKind | undefined;

  constructor(code: ProxyDialErrorCode, address: string, why: string, options?: ErrorOptions) {
    super(code, `cannot connect to ${address}: ${why}`, options);
    this.failure = FAILURE[code];
    this.name = 'ProxyDialError';
  }
}

/** Connects to `address` (host:port); rejects with ProxyDialError on failure or after `timeoutMs`. */
export function dial(address: string, timeoutMs: number): Promise<net.Socket> {
  let target;
  try {
    target = parseHostPort(address);
  } catch (error) {
    return Promise.reject(
      new ProxyDialError('ERR_PROXY_DIAL_ADDRESS', address, errorMessage(error), { cause: error }),
    );
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(new ProxyDialError('ERR_PROXY_DIAL_SOCKET', address, error.message, { cause: error }));
    };
    const timer = setTimeout(() => {
      socket.off('error', onError);
      socket.on('error', () => undefined);
      socket.destroy();
      reject(new ProxyDialError('ERR_PROXY_DIAL_TIMEOUT', address, `no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Dials the public proxy's internal endpoint and presents the token. */
export async function connectBack(endpoint: string, token: Buffer, timeoutMs: number): Promise<net.Socket> {
  if (token.length !== TOKEN_BYTES)
    throw new ProxyDialError('ERR_PROXY_DIAL_TOKEN', endpoint, `token must be ${TOKEN_BYTES} bytes`);
  const socket = await dial(endpoint, timeoutMs);
  socket.write(token);
  return socket;
}
