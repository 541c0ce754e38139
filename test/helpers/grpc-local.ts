/**
 * Our gRPC endpoints as tests and benchmarks set them up again and again: a TLS connection (ALPN h2) to a
 * local server presenting ls-1's certificate, a GrpcSession over it, and a GrpcServer with ls-1's
 * certificate that accepts the operators pinned in the test directory records.
 */
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpcSession } from '../../src/grpc/client.js';
import { GrpcServer, type GrpcServerOptions } from '../../src/grpc/server.js';
import { loadTls } from '../../src/tls/options.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { CERTS, pinnedEntries } from './network.js';

/** Connects to 127.0.0.1:`port` expecting ls-1's certificate, with `as`'s client certificate (none: undefined). */
export async function tlsConnect(
  port: number,
  as: string | undefined = 'hd-1',
  servername = 'ls-1',
): Promise<tls.TLSSocket> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername,
    ca: readFileSync(join(CERTS, 'root.crt')),
    ...(as === undefined
      ? {}
      : { cert: readFileSync(join(CERTS, `${as}.crt`)), key: readFileSync(join(CERTS, `${as}.key`)) }),
    ALPNProtocols: ['h2'],
  });
  await once(socket, 'secureConnect');
  return socket;
}

/** A GrpcSession to `peer` (default ls-1) at `port`, as `as` (default hd-1). */
export async function grpcSession(port: number, peer = 'ls-1', as = 'hd-1'): Promise<GrpcSession> {
  return new GrpcSession(peer, await tlsConnect(port, as, peer));
}

/** A GrpcServer with ls-1's certificate; peers are identified against `entries` (default: all pinned). */
export function ls1Server(
  options: Omit<GrpcServerOptions, 'tls' | 'verifyClient' | 'lookup'>,
  entries: Map<string, DirectoryEntry> = pinnedEntries(),
): GrpcServer {
  return new GrpcServer({
    tls: loadTls({
      ca_certificate_files: [join(CERTS, 'root.crt')],
      certificate_file: join(CERTS, 'ls-1.crt'),
      key_file: join(CERTS, 'ls-1.key'),
    }),
    verifyClient: true,
    lookup: (n) => entries.get(n),
    ...options,
  });
}
