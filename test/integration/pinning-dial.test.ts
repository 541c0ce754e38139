/**
 * Issue 10 finding 2, the dialling end: no setting lets an unpinned server in. Real TLS servers on
 * 127.0.0.1 present a CA-valid but unpinned certificate, a self-signed one (pinned), an expired one
 * (pinned) and one for another name (pinned for the dialled operator); every path that dials a server —
 * first dial, P2P caller (TLS over a socket we connected), pooled session and its reconnect — refuses each,
 * with `insecure_skip_verify` false and true, and writes exactly one log line naming the peer and the reason.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../helpers/metric-value.js';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dialTls, type DialResult } from '../../src/grpc/dial.js';
import { loadTls } from '../../src/tls/options.js';
import {
  PeerRefusedError,
  PinnedPeer,
  recheckPeer,
  type PeerRefusalCode,
} from '../../src/tls/pinned-peer.js';
import { Deadline } from '../../src/core/deadline.js';
import { GrpcClientChannel } from '../../src/channels/grpc-client.js';
import type { Directory } from '../../src/directory/directory.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { CERTS, pinnedEntries, testCertificates } from '../helpers/network.js';
import { FakePeer } from '../helpers/h2-fake-server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import {
  entriesPinning,
  hostileCerts,
  issuePeerCert,
  LogCapture,
  type HostileCerts,
} from '../helpers/peer-certs.js';

/** Server-side sockets still open, destroyed at the end (server.close() waits for them). */
const open = new Set<tls.TLSSocket>();

/** An HTTP/2-speaking TLS server presenting `cert`. */
async function serve(cert: string | Buffer, key: string | Buffer): Promise<tls.Server> {
  const server = tls.createServer({ cert, key, ALPNProtocols: ['h2'] });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    new FakePeer(socket).settings();
  });
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const portOf = (s: tls.Server): number => (s.address() as { port: number }).port;

const tlsSettings = (skip: boolean) => ({
  ca_certificate_files: [join(CERTS, 'root.crt')],
  certificate_file: join(CERTS, 'hd-1.crt'),
  key_file: join(CERTS, 'hd-1.key'),
  insecure_skip_verify: skip,
});

type Route = 'first dial' | 'P2P caller';

async function dial(
  route: Route,
  port: number,
  map: Map<string, DirectoryEntry>,
  skip: boolean,
): Promise<DialResult> {
  const common = { peer: 'ls-1', tls: loadTls(tlsSettings(skip)), lookup: (n: string) => map.get(n) };
  if (route === 'first dial') {
    return dialTls({ ...common, deadline: Deadline.after(5000), host: '127.0.0.1', port });
  }
  // As the P2P caller: TLS over a TCP connection that we opened first (there through the proxy).
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return dialTls({ ...common, deadline: Deadline.after(5000), socket });
}

/** Asserts a PeerRefusedError with `code` and exactly one verifier log line saying who and why. */
function refusedOnce(log: LogCapture, code: PeerRefusalCode) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof PeerRefusedError, `expected a PeerRefusedError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.peer, 'ls-1');
    const lines = log.lines.filter((l) => l.level === 'warn' || l.level === 'info');
    assert.equal(lines.length, 1, `one log line, got ${JSON.stringify(lines)}`);
    assert.equal(lines[0]?.peer, 'ls-1');
    assert.equal(lines[0]?.code, code);
    assert.ok(typeof lines[0]?.reason === 'string' && lines[0].reason.length > 0);
    return true;
  };
}

const CASES: { cert: keyof HostileCerts; code: PeerRefusalCode }[] = [
  { cert: 'unpinned', code: 'ERR_CERT_PEER_NOT_PINNED' },
  { cert: 'selfSigned', code: 'ERR_CERT_PEER_SELF_SIGNED' },
  { cert: 'expired', code: 'ERR_CERT_PEER_EXPIRED' },
  { cert: 'otherName', code: 'ERR_CERT_PEER_NAME_MISMATCH' },
];

describe('dialled servers: pinning without exceptions', () => {
  let hostile: HostileCerts;
  const servers = new Map<keyof HostileCerts | 'good', tls.Server>();
  let log: LogCapture;
  /** ls-1 pins its own certificate and the self-signed, expired and other-name ones, not 'unpinned'. */
  let map: Map<string, DirectoryEntry>;

  before(async () => {
    await testCertificates();
    hostile = await hostileCerts('ls-1');
    servers.set(
      'good',
      await serve(readFileSync(join(CERTS, 'ls-1.crt')), readFileSync(join(CERTS, 'ls-1.key'))),
    );
    for (const c of CASES) servers.set(c.cert, await serve(hostile[c.cert].cert, hostile[c.cert].key));
    map = entriesPinning(
      'ls-1',
      [hostile.selfSigned, hostile.expired, hostile.otherName].map((c) => c.fingerprint),
    );
    log = new LogCapture();
  });

  beforeEach(() => log.clear());

  after(() => {
    log.stop();
    for (const s of servers.values()) s.close();
    for (const socket of open) socket.destroy();
  });

  for (const route of ['first dial', 'P2P caller'] as const) {
    for (const skip of [false, true]) {
      for (const { cert, code } of CASES) {
        test(`${route}, insecure_skip_verify ${skip}: a ${cert} server certificate is refused with ${code}`, async () => {
          const refusals = { path: route === 'first dial' ? 'grpc_client' : 'p2p_caller', reason: code };
          const counted = await metricValue('tls_peer_refusals_total', refusals);
          await assert.rejects(dial(route, portOf(servers.get(cert)!), map, skip), refusedOnce(log, code));
          assert.equal(await metricValue('tls_peer_refusals_total', refusals), counted + 1);
        });
      }
      test(`${route}, insecure_skip_verify ${skip}: the pinned server is accepted`, async () => {
        const dialled = await dial(route, portOf(servers.get('good')!), map, skip);
        assert.equal(dialled.peer.identity('ls-1')?.name, 'ls-1');
        dialled.socket.destroy();
        assert.equal(log.refusals().length, 0);
      });
    }
  }

  test('an open session is re-checked against the clock too: past notAfter it no longer passes', async () => {
    const dialled = await dial('first dial', portOf(servers.get('good')!), map, false);
    dialled.socket.destroy();
    const lookup = (n: string): DirectoryEntry | undefined => map.get(n);
    assert.ok(recheckPeer(dialled.peer, { operator: 'ls-1', lookup }) instanceof PinnedPeer);
    const later = recheckPeer(dialled.peer, {
      operator: 'ls-1',
      lookup,
      clock: new ManualClock(dialled.peer.notAfter + 1),
    });
    assert.ok(!(later instanceof PinnedPeer) && later.code === 'ERR_CERT_PEER_EXPIRED');
    assert.equal(log.refusals().length, 0, 'a re-check logs nothing by itself');
  });

  test('insecure_skip_verify skips only the chain: a pinned certificate of another CA', async () => {
    const other = await issuePeerCert({ names: ['ls-1'], otherCa: true });
    const server = await serve(other.cert, other.key);
    const pinning = entriesPinning('ls-1', [other.fingerprint]);
    try {
      await assert.rejects(
        dial('first dial', portOf(server), pinning, false),
        refusedOnce(log, 'ERR_CERT_PEER_UNTRUSTED'),
      );
      log.clear();
      const dialled = await dial('first dial', portOf(server), pinning, true);
      dialled.socket.destroy();
      await assert.rejects(dial('first dial', portOf(server), map, true), (e: unknown) => {
        assert.ok(e instanceof PeerRefusedError && e.code === 'ERR_CERT_PEER_NOT_PINNED');
        return true;
      });
    } finally {
      server.close();
    }
  });

  for (const skip of [false, true]) {
    test(`pooled session: after unpinning, the reconnect is refused with one log line (insecure_skip_verify ${skip})`, async () => {
      const port = portOf(servers.get('good')!);
      let entries = withAddress(pinnedEntries(), port);
      const directory = { entry: (n: string) => entries.get(n) } as unknown as Directory;
      const channel = new GrpcClientChannel('hd-1', directory, {
        tls: tlsSettings(skip),
        call_timeout: 5,
        connect_timeout: 5,
      });
      try {
        const first = await channel.session('ls-1', Deadline.after(5000));
        assert.equal(await channel.session('ls-1', Deadline.after(5000)), first, 'reused while pinned');
        entries = withAddress(unpin(pinnedEntries(), 'ls-1'), port);
        log.clear();
        await assert.rejects(
          channel.session('ls-1', Deadline.after(5000)),
          refusedOnce(log, 'ERR_CERT_PEER_NOT_PINNED'),
        );
        assert.ok(first.session.closed, 'the pooled session was closed');
      } finally {
        await channel.close();
      }
    });
  }
});

function withAddress(map: Map<string, DirectoryEntry>, port: number): Map<string, DirectoryEntry> {
  const ls1 = map.get('ls-1')!;
  map.set('ls-1', {
    ...ls1,
    channels: [{ type: 'grpc_server', settings: { address: `127.0.0.1:${port}` } }],
  });
  return map;
}

function unpin(map: Map<string, DirectoryEntry>, name: string): Map<string, DirectoryEntry> {
  const entry = map.get(name)!;
  map.set(name, { ...entry, certificates: entry.certificates.filter((c) => c.key_usage !== 'encryption') });
  return map;
}
