/**
 * Issue 10 finding 2: no setting lets an unpinned server in. A real TLS server presents a certificate that
 * is valid under the test CA but not pinned for 'ls-1' in the directory (or a self-signed one); dials with
 * `insecure_skip_verify` false and true are refused with an error naming the peer, and so is the gRPC
 * client's reconnect after the directory unpins a pooled session's certificate.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { dialTls, DialError } from '../../src/grpc/dial.js';
import { loadTls } from '../../src/tls/options.js';
import { Deadline } from '../../src/core/deadline.js';
import { GrpcClientChannel } from '../../src/channels/grpc-client.js';
import type { Directory } from '../../src/directory/directory.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { x509 } from '../../src/tls/x509-provider.js';
import { CERTS, pinnedEntries, testCertificates } from '../helpers/network.js';
import { FakePeer } from '../helpers/h2-fake-server.js';

/** A self-signed certificate for 'ls-1' (no CA involved). */
async function selfSigned(): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=ls-1',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'ls-1' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}

/** An HTTP/2-speaking TLS server presenting `cert`. */
async function serve(cert: string | Buffer, key: string | Buffer): Promise<tls.Server> {
  const server = tls.createServer({ cert, key, ALPNProtocols: ['h2'] });
  server.on('secureConnection', (socket: tls.TLSSocket) => new FakePeer(socket).settings());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const portOf = (s: tls.Server): number => (s.address() as { port: number }).port;

/** The directory with ls-1 at `port`; `pinned` false replaces ls-1's encryption fingerprint. */
function entries(port: number, pinned: boolean): Map<string, DirectoryEntry> {
  const map = pinnedEntries();
  const ls1 = map.get('ls-1')!;
  map.set('ls-1', {
    ...ls1,
    channels: [{ type: 'grpc_server', settings: { address: `127.0.0.1:${port}` } }],
    certificates: pinned
      ? ls1.certificates
      : ls1.certificates.map((c) =>
          c.key_usage === 'encryption' ? { ...c, fingerprint: 'ab'.repeat(32) } : c,
        ),
  });
  return map;
}

const tlsSettings = (skip: boolean) => ({
  ca_certificate_files: [join(CERTS, 'root.crt')],
  certificate_file: join(CERTS, 'hd-1.crt'),
  key_file: join(CERTS, 'hd-1.key'),
  insecure_skip_verify: skip,
});

function dial(port: number, map: Map<string, DirectoryEntry>, skip: boolean): Promise<unknown> {
  return dialTls({
    peer: 'ls-1',
    tls: loadTls(tlsSettings(skip)),
    lookup: (n) => map.get(n),
    deadline: Deadline.after(5000),
    host: '127.0.0.1',
    port,
  });
}

const notPinned = (e: unknown): boolean => {
  assert.ok(e instanceof DialError, `expected a DialError, got ${String(e)}`);
  assert.equal(e.code, 'ERR_DIAL_NOT_PINNED');
  assert.match(e.message, /server certificate is not pinned for operator 'ls-1'/);
  return true;
};

describe('pinning cannot be switched off', () => {
  let caValid: tls.Server;
  let selfSignedServer: tls.Server;

  before(async () => {
    await testCertificates();
    caValid = await serve(readFileSync(join(CERTS, 'ls-1.crt')), readFileSync(join(CERTS, 'ls-1.key')));
    const own = await selfSigned();
    selfSignedServer = await serve(own.cert, own.key);
  });

  after(() => {
    caValid.close();
    selfSignedServer.close();
  });

  for (const skip of [false, true]) {
    test(`a CA-valid but unpinned server is refused (insecure_skip_verify: ${skip})`, async () => {
      const port = portOf(caValid);
      await assert.rejects(dial(port, entries(port, false), skip), notPinned);
    });
  }

  test('a pinned server is accepted with insecure_skip_verify: true', async () => {
    const port = portOf(caValid);
    const dialled = (await dial(port, entries(port, true), true)) as { socket: tls.TLSSocket };
    dialled.socket.destroy();
  });

  test('a self-signed server is refused with a clear error, not a TypeError', async () => {
    const port = portOf(selfSignedServer);
    await assert.rejects(dial(port, entries(port, false), true), notPinned);
    await assert.rejects(dial(port, entries(port, false), false), (e: unknown) => {
      assert.ok(e instanceof DialError && !(e.cause instanceof TypeError));
      assert.match(e.message, /self[- ]signed certificate/);
      return true;
    });
  });

  test('the reconnect after unpinning refuses the new session too (insecure_skip_verify: true)', async () => {
    const port = portOf(caValid);
    let map = entries(port, true);
    const directory = { entry: (n: string) => map.get(n) } as unknown as Directory;
    const channel = new GrpcClientChannel('hd-1', directory, {
      tls: tlsSettings(true),
      call_timeout: 5,
      connect_timeout: 5,
    });
    try {
      const first = await channel.session('ls-1', Deadline.after(5000));
      assert.ok(first.session);
      map = entries(port, false);
      await assert.rejects(channel.session('ls-1', Deadline.after(5000)), notPinned);
    } finally {
      await channel.close();
    }
  });
});
