/** Starting and stopping TCP listeners (also TLS, HTTP, HTTP/2 servers), with bind failures reported. */
import net from 'node:net';
import { parseHostPort } from './host-port.js';
import { CodedError } from '../core/errors.js';

export class ListenError extends CodedError<'ERR_NET_LISTEN'> {
  constructor(address: string, options: { cause: unknown }) {
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super('ERR_NET_LISTEN', `error binding to address '${address}': ${why}`, options);
    this.name = 'ListenError';
  }
}

/** Listens on `address` (host:port); rejects with ListenError when the bind fails. */
export async function listenOn(server: net.Server, address: string): Promise<net.AddressInfo> {
  const { host, port } = parseHostPort(address);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(new ListenError(address, { cause: error }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server.address() as net.AddressInfo;
}

/** Stops accepting; existing connections are the caller's business. */
export function closeServer(server: net.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}
