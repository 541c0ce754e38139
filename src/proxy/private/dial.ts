/**
 * Outbound TCP connections of the private proxy with a connect timeout: the back-connection to the public
 * proxy's internal endpoint, which starts with the 32 raw token bytes in a single write [WIRE, 30-proxy
 * §6.3], and the connection to the internal upstream.
 */
import net from 'node:net';
import { parseHostPort } from '../../net/host-port.js';
import { TOKEN_BYTES } from '../shared/tokens.js';

export class DialError extends Error {
  constructor(address: string, why: string, options?: { cause?: unknown }) {
    super(`cannot connect to ${address}: ${why}`, options);
    this.name = 'DialError';
  }
}

/** Connects to `address` (host:port); rejects with DialError on failure or after `timeoutMs`. */
export function dial(address: string, timeoutMs: number): Promise<net.Socket> {
  let target;
  try {
    target = parseHostPort(address);
  } catch (error) {
    return Promise.reject(new DialError(address, (error as Error).message, { cause: error }));
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(new DialError(address, error.message, { cause: error }));
    };
    const timer = setTimeout(() => {
      socket.off('error', onError);
      socket.on('error', () => undefined);
      socket.destroy();
      reject(new DialError(address, `no connection within ${timeoutMs} ms`));
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
  if (token.length !== TOKEN_BYTES) throw new DialError(endpoint, `token must be ${TOKEN_BYTES} bytes`);
  const socket = await dial(endpoint, timeoutMs);
  socket.write(token);
  return socket;
}
