/**
 * The gRPC server (own HTTP/2) the h2-server tests script raw frames against, and the request and
 * handshake steps every scripted client of it takes.
 */
import assert from 'node:assert/strict';
import type { GrpcServer } from '../../src/grpc/server.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { Flag, FrameType, type Setting } from '../../src/grpc/h2/codes.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { ls1Server } from './grpc-local.js';
import { pinnedEntries } from './network.js';
import type { FakePeer } from './h2-fake-server.js';

/** What '/EPS/Call' answers to the message 'big': larger than every default window. */
export const BIG_ANSWER = Buffer.alloc(300_000, 0x42);

/**
 * ls-1's gRPC server on a free port, with 1 MiB messages, a 2 MiB per-connection budget for unread data and
 * handlers that echo, measure, never answer or throw. `entries` is the directory it identifies peers with.
 */
export async function startScriptedServer(
  entries: Map<string, DirectoryEntry> = pinnedEntries(),
): Promise<{ server: GrpcServer; port: number }> {
  const server = ls1Server(
    {
      maxMessageBytes: 1024 * 1024,
      maxConnectionBufferBytes: 2 * 1024 * 1024,
      handlers: {
        unary: {
          '/EPS/Size': async (payload) => Buffer.from(`size ${payload.length}`),
          '/EPS/Call': async (payload) =>
            payload.toString() === 'big' ? BIG_ANSWER : Buffer.concat([Buffer.from('re:'), payload]),
          '/EPS/Never': () => new Promise<Uint8Array>(() => undefined),
        },
        bidi: {
          '/EPS/Broken': () => {
            throw new Error('handler bug');
          },
        },
      },
    },
    entries,
  );
  const port = (await server.listen('127.0.0.1:0')).port;
  return { server, port };
}

/** The header block of a gRPC request to ls-1. */
export function grpcRequest(path = '/EPS/Call', extra: [string, string][] = []): Buffer {
  return encodeHeaders([
    [':method', 'POST'],
    [':scheme', 'https'],
    [':path', path],
    [':authority', 'ls-1'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ]);
}

/** The client's half of the SETTINGS exchange: send ours, read the server's, acknowledge it. */
export async function handshake(peer: FakePeer, settings: [Setting, number][] = []): Promise<void> {
  peer.settings(settings);
  const s = await peer.next((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
  assert.ok(s.payload.length % 6 === 0);
  peer.send(FrameType.SETTINGS, Flag.ACK, 0);
}
