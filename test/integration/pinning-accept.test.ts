/**
 * Issue 10 finding 2, the accepting end: the gRPC server (its port, and sockets it serves for P2P as the
 * callee) refuses clients presenting a CA-valid but unpinned certificate, a self-signed one (pinned), an
 * expired one (pinned) and one for another name (pinned under hd-1), with verify_client true and false,
 * before any call, with exactly one log line naming the client and the reason; and a client unpinned while
 * its connection is open gets its next call refused, also logged once. A refused client's ServerCall
 * stream never registers. Real TLS on 127.0.0.1.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpcServer } from '../../src/grpc/server.js';
import { GrpcSession } from '../../src/grpc/client.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { loadTls } from '../../src/tls/options.js';
import type { PeerRefusalCode } from '../../src/tls/pinned-peer.js';
import { Deadline } from '../../src/core/deadline.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { CERTS, testCertificates } from '../helpers/network.js';
import { metricValue } from '../helpers/metric-value.js';
import { waitFor, withDeadline } from '../helpers/wait.js';
import { ReverseStreamRegistry } from '../../src/channels/reverse/accepting-side.js';
import { encodeResponse } from '../../src/grpc/codec.js';
import {
  entriesPinning,
  hostileCerts,
  LogCapture,
  type HostileCerts,
  type PeerCert,
} from '../helpers/peer-certs.js';

const WAIT = { timeoutMs: 5000 };

/** ls-1's gRPC server; '/EPS/Call' answers with the caller's pinned names, ServerCall streams go to `reverse`. */
async function ls1(
  verifyClient: boolean,
  entries: () => Map<string, DirectoryEntry>,
  reverse: ReverseStreamRegistry,
): Promise<GrpcServer> {
  const server = new GrpcServer({
    tls: loadTls({
      ca_certificate_files: [join(CERTS, 'root.crt')],
      certificate_file: join(CERTS, 'ls-1.crt'),
      key_file: join(CERTS, 'ls-1.key'),
    }),
    verifyClient,
    lookup: (n) => entries().get(n),
    handlers: {
      unary: {
        '/EPS/Call': async (_p, ctx) =>
          Buffer.from([...new Set(ctx.peer.identities.map((i) => i.name))].join(',')),
      },
      bidi: { '/EPS/ServerCall': (stream, ctx) => reverse.handle(stream, ctx) },
    },
  });
  await server.listen('127.0.0.1:0');
  return server;
}

const portOf = (s: GrpcServer): number => (s.server.address() as net.AddressInfo).port;

function clientOptions(cert: PeerCert | 'hd-1'): tls.ConnectionOptions {
  const own = cert === 'hd-1';
  return {
    servername: 'ls-1',
    ca: readFileSync(join(CERTS, 'root.crt')),
    cert: own ? readFileSync(join(CERTS, 'hd-1.crt')) : cert.cert,
    key: own ? readFileSync(join(CERTS, 'hd-1.key')) : cert.key,
    ALPNProtocols: ['h2'],
  };
}

type Route = 'gRPC port' | 'P2P callee';

/** A TLS client connection to `server` along `route`, presenting `cert`. */
async function connect(route: Route, server: GrpcServer, cert: PeerCert | 'hd-1'): Promise<tls.TLSSocket> {
  if (route === 'gRPC port') {
    return tls.connect({ ...clientOptions(cert), host: '127.0.0.1', port: portOf(server) });
  }
  // As in P2P: the callee dials out (here to a stand-in for the proxy) and serves that socket as TLS server;
  // the caller's TLS runs over the proxy's side of the connection.
  const proxy = net.createServer();
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const accepted = once(proxy, 'connection') as Promise<[net.Socket]>;
  const callee = net.connect((proxy.address() as net.AddressInfo).port, '127.0.0.1');
  await once(callee, 'connect');
  const [callerSide] = await accepted;
  proxy.close();
  server.inject(callee);
  return tls.connect({ ...clientOptions(cert), socket: callerSide });
}

/** Resolves once the socket is closed (the server refused it). */
async function closedByServer(socket: tls.TLSSocket): Promise<void> {
  socket.on('error', () => undefined);
  if (!socket.destroyed) await withDeadline(once(socket, 'close'), { ...WAIT, what: 'the server to close' });
}

function assertOneRefusal(log: LogCapture, code: PeerRefusalCode, names: string): void {
  const lines = log.lines.filter((l) => l.level === 'warn' || l.level === 'info');
  assert.equal(lines.length, 1, `one log line, got ${JSON.stringify(lines)}`);
  assert.equal(lines[0]?.component, 'pinning');
  assert.equal(lines[0]?.code, code);
  assert.equal(lines[0]?.peer, names);
  assert.ok(typeof lines[0]?.reason === 'string' && lines[0].reason.length > 0);
}

const CASES: { cert: keyof HostileCerts; code: PeerRefusalCode; names: string }[] = [
  { cert: 'unpinned', code: 'ERR_CERT_PEER_NOT_PINNED', names: 'hd-1' },
  { cert: 'selfSigned', code: 'ERR_CERT_PEER_SELF_SIGNED', names: 'hd-1' },
  { cert: 'expired', code: 'ERR_CERT_PEER_EXPIRED', names: 'hd-1' },
  { cert: 'otherName', code: 'ERR_CERT_PEER_NOT_PINNED', names: 'stranger-1' },
];

describe('accepted clients: pinning without exceptions', () => {
  let hostile: HostileCerts;
  let log: LogCapture;
  let entries: Map<string, DirectoryEntry>;
  const servers = new Map<boolean, GrpcServer>();
  const reverse = new ReverseStreamRegistry('ls-1');

  before(async () => {
    await testCertificates();
    hostile = await hostileCerts('hd-1');
    entries = entriesPinning(
      'hd-1',
      [hostile.selfSigned, hostile.expired, hostile.otherName].map((c) => c.fingerprint),
    );
    for (const verify of [true, false]) servers.set(verify, await ls1(verify, () => entries, reverse));
    log = new LogCapture();
  });

  beforeEach(() => log.clear());

  after(async () => {
    log.stop();
    for (const s of servers.values()) await s.close();
  });

  for (const route of ['gRPC port', 'P2P callee'] as const) {
    for (const verify of [true, false]) {
      for (const { cert, code, names } of CASES) {
        test(`${route}, verify_client ${verify}: a ${cert} client certificate is refused with ${code}`, async () => {
          const refusals = { path: route === 'gRPC port' ? 'grpc_server' : 'p2p_callee', reason: code };
          const counted = await metricValue('tls_peer_refusals_total', refusals);
          const socket = await connect(route, servers.get(verify)!, hostile[cert]);
          const session = new GrpcSession('ls-1', socket);
          const call = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(WAIT.timeoutMs));
          await assert.rejects(call, (e: unknown) => e instanceof GrpcError && e.code !== Status.OK);
          await closedByServer(socket);
          assertOneRefusal(log, code, names);
          assert.equal(await metricValue('tls_peer_refusals_total', refusals), counted + 1);
        });
      }
      test(`${route}, verify_client ${verify}: the pinned client is served`, async () => {
        const socket = await connect(route, servers.get(verify)!, 'hd-1');
        const session = new GrpcSession('ls-1', socket);
        const reply = await session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(WAIT.timeoutMs));
        assert.equal(reply.toString(), 'hd-1');
        session.close();
        assert.equal(log.refusals().length, 0);
      });
    }
  }

  /** Opens a ServerCall stream as `cert` and announces hd-1; resolves when the stream ends or is registered. */
  async function announce(cert: PeerCert | 'hd-1'): Promise<{ session: GrpcSession; socket: tls.TLSSocket }> {
    const socket = await connect('gRPC port', servers.get(false)!, cert);
    const session = new GrpcSession('ls-1', socket);
    const stream = session.bidi('/EPS/ServerCall');
    const ended = new Promise<void>((resolve) => stream.onEnd(() => resolve()));
    stream.send(encodeResponse({ id: '1', result: { name: 'hd-1' } })).catch(() => undefined);
    await withDeadline(
      Promise.race([ended, waitFor(() => reverse.has('hd-1'), { ...WAIT, what: 'the registration' })]),
      { ...WAIT, what: 'the ServerCall stream to end or register' },
    );
    return { session, socket };
  }

  for (const { cert, code, names } of CASES) {
    test(`ServerCall, verify_client false: a ${cert} client never registers a reverse stream`, async () => {
      const { session, socket } = await announce(hostile[cert]);
      await closedByServer(socket);
      assert.equal(reverse.has('hd-1'), false);
      assertOneRefusal(log, code, names);
      session.close();
    });
  }

  test('ServerCall: the pinned client registers its reverse stream', async () => {
    const { session } = await announce('hd-1');
    assert.equal(reverse.has('hd-1'), true);
    assert.equal(log.refusals().length, 0);
    session.close();
    await waitFor(() => !reverse.has('hd-1'), { ...WAIT, what: 'the stream to end' });
  });

  test('a client unpinned while connected: its next call is refused, logged once, connection closed', async () => {
    const socket = await connect('gRPC port', servers.get(true)!, 'hd-1');
    const session = new GrpcSession('ls-1', socket);
    const call = (): Promise<Buffer> =>
      session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(WAIT.timeoutMs));
    assert.equal((await call()).toString(), 'hd-1');
    const pinned = entries;
    entries = new Map(pinned);
    const hd1 = pinned.get('hd-1')!;
    entries.set('hd-1', {
      ...hd1,
      certificates: hd1.certificates.filter((c) => c.key_usage !== 'encryption'),
    });
    try {
      await assert.rejects(call(), (e: unknown) => e instanceof GrpcError && e.code === Status.UNAVAILABLE);
      await closedByServer(socket);
      assertOneRefusal(log, 'ERR_CERT_PEER_NOT_PINNED', 'hd-1');
      assert.equal(log.refusals()[0]?.session, 'open');
    } finally {
      entries = pinned;
      session.close();
    }
  });
});
