/**
 * Our gRPC over our own HTTP/2 against grpc-go (the original's gRPC stack), both directions: a grpc-go
 * server with the original's server options, called by our client, and a grpc-go client with the
 * original's client options calling our server; then the same at the eps level - a grpc-go client sending
 * the Request an original eps would send to a real `eps` process, and a real `eps` calling a grpc-go
 * server answering as an original eps would. The peer (test/interop/grpc-go) is built here with Debian's
 * golang-go and golang-google-grpc-dev, which .ci/run installs; without `go` the test is skipped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcSession } from '../../src/grpc/client.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { decodeResponse, encodeRequest, encodeResponse } from '../../src/grpc/codec.js';
import { CERTS, gatewayRequest, TestNetwork } from '../helpers/network.js';
import { grpcSession, ls1Server } from '../helpers/grpc-local.js';
import { buildGrpcGoPeer, grpcGoSkip } from '../helpers/grpc-go-peer.js';
import { freePort, runProgram, startProgram } from '../helpers/processes.js';
import { metric, startSd, submit, useSd, type SdProcess } from '../helpers/transparency-net.js';
import { Deadline } from '../../src/core/deadline.js';

describe('interoperability with grpc-go', { skip: grpcGoSkip }, () => {
  let dir: string;
  let peerBinary: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'grpc-go-'));
    peerBinary = buildGrpcGoPeer(dir);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('our client calls a grpc-go server: unary, 200 at once, 3 MiB, status, deadline, bidi', async () => {
    const server = startProgram(peerBinary, ['-mode', 'serve', '-certs', CERTS]);
    let session: GrpcSession | undefined;
    try {
      await server.waitFor(/listening \d+/);
      const port = Number(/listening (\d+)/.exec(server.output())![1]);
      session = await grpcSession(port);
      const s = session;

      assert.equal(
        (await s.unary('/EPS/Call', Buffer.from('hello'), Deadline.after(5000))).toString(),
        'hello',
      );
      const many = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          s.unary('/EPS/Call', Buffer.from(`m${i}`), Deadline.after(10_000)),
        ),
      );
      assert.deepEqual(
        many.map((b) => b.toString()),
        Array.from({ length: 200 }, (_, i) => `m${i}`),
      );
      const big = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = i % 251;
      assert.ok((await s.unary('/EPS/Call', big, Deadline.after(20_000))).equals(big), '3 MiB echoed intact');

      const failed = await s
        .unary('/EPS/Fail', Buffer.alloc(0), Deadline.after(5000))
        .catch((e: unknown) => e);
      assert.ok(failed instanceof GrpcError);
      assert.equal(failed.code, 7);
      assert.equal(failed.details, 'denied ✓ 100%');

      const slow = await s.unary('/EPS/Slow', Buffer.alloc(0), Deadline.after(300)).catch((e: unknown) => e);
      assert.ok(slow instanceof GrpcError);
      assert.equal(slow.code, Status.DEADLINE_EXCEEDED);

      const stream = s.bidi('/EPS/ServerCall');
      const received: string[] = [];
      const ended = new Promise<GrpcError | undefined>((resolve) => stream.onEnd(resolve));
      stream.onMessage((m) => received.push(m.toString()));
      for (const m of ['a', 'b', 'c', 'end']) await stream.send(Buffer.from(m));
      assert.equal(await ended, undefined, 'grpc-go ended the stream with status OK');
      assert.deepEqual(received, ['a', 'b', 'c']);
      assert.equal(s.closed, false, 'the connection is still usable');
      assert.equal(
        (await s.unary('/EPS/Call', Buffer.from('again'), Deadline.after(5000))).toString(),
        'again',
      );
    } finally {
      session?.destroy();
      await server.stop();
    }
  });

  test('a grpc-go client, as an original eps would, calls a real eps: pinning, clientName, _ping', async () => {
    const all = [{ group: 'health-departments', rights: ['call'] }];
    const net = new TestNetwork([
      { name: 'hd-1', groups: ['health-departments'] },
      { name: 'hd-2', groups: ['health-departments'] },
      {
        name: 'ls-1',
        groups: ['location-services'],
        grpcServer: true,
        gateway: false,
        services: [{ name: 'internals', permissions: all, methods: [{ name: '_ping' }] }],
      },
    ]);
    try {
      await net.prepare();
      await net.start('ls-1');
      const address = `127.0.0.1:${net.ports.get('ls-1')!.grpc}`;
      const call = (name: string, clientName: string): ReturnType<typeof runProgram> =>
        runProgram(peerBinary, [
          ...['-mode', 'call', '-certs', CERTS, '-address', address, '-name', name, '-server-name', 'ls-1'],
          ...[
            '-request',
            Buffer.from(
              encodeRequest({ method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName, params: {} }),
            ).toString('hex'),
          ],
        ]);
      const ok = await call('hd-1', 'hd-1');
      assert.equal(ok.code, 0, ok.stderr);
      const reply = decodeResponse(Buffer.from(ok.stdout.trim(), 'hex'));
      assert.equal(reply.id, 'ls-1._ping(1)');
      assert.equal(reply.error, undefined);
      assert.match(JSON.stringify(reply.result), /"name":"ls-1"/);
      // hd-2's certificate claiming to be hd-1: refused (the claimed name must be on the certificate).
      const forged = await call('hd-2', 'hd-1');
      assert.notEqual(forged.code, 0);
      assert.match(forged.stderr, /no matching client/);
    } finally {
      await net.stop();
    }
  });

  test('a real eps calls a grpc-go server that answers as an original eps would', async () => {
    const net = new TestNetwork([
      { name: 'hd-1', groups: ['health-departments'], grpcClient: { call_timeout: 10 } },
      { name: 'ls-1', groups: ['location-services'], grpcServer: true, gateway: false },
    ]);
    const answer = Buffer.from(encodeResponse({ id: 'ls-1.lookup(1)', result: { found: true } })).toString(
      'hex',
    );
    let server: Awaited<ReturnType<typeof startProgram>> | undefined;
    try {
      await net.prepare();
      // The Go server must listen on the address the directory gives for ls-1.
      const port = net.ports.get('ls-1')!.grpc;
      server = startProgram(peerBinary, [
        '-mode',
        'serve',
        '-certs',
        CERTS,
        '-port',
        String(port),
        '-answer',
        answer,
      ]);
      await server.waitFor(/listening \d+/);
      await net.start('hd-1');
      const r = await gatewayRequest(net.ports.get('hd-1')!.gateway, {
        jsonrpc: '2.0',
        method: 'ls-1.lookup',
        params: { name: 'x' },
        id: 1,
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.result, { found: true });
    } finally {
      await server?.stop();
      await net.stop();
    }
  });

  test('a real eps exchanging directory tips calls a grpc-go server that knows none: no alarm', async () => {
    const metricsPort = await freePort();
    const net = new TestNetwork([
      { name: 'hd-1', groups: ['health-departments'], grpcClient: { call_timeout: 10 }, metricsPort },
      { name: 'ls-1', groups: ['location-services'], grpcServer: true, gateway: false },
    ]);
    const answer = Buffer.from(encodeResponse({ id: 'ls-1.lookup(1)', result: { found: true } })).toString(
      'hex',
    );
    let server: Awaited<ReturnType<typeof startProgram>> | undefined;
    let sd: SdProcess | undefined;
    try {
      await net.prepare();
      sd = await startSd(net, 'sd');
      await submit(net, sd, [
        '--reset',
        join(net.dir, 'directory/001_base.json'),
        join(net.dir, 'directory/002_certificates.json'),
      ]);
      useSd(net, 'hd-1', sd);
      const port = net.ports.get('ls-1')!.grpc;
      server = startProgram(peerBinary, [
        '-mode',
        'serve',
        '-certs',
        CERTS,
        '-port',
        String(port),
        '-answer',
        answer,
      ]);
      await server.waitFor(/listening \d+/);
      const hd1 = await net.start('hd-1', {}, ['--level', 'debug']);
      for (let i = 0; i < 2; i++) {
        const r = await gatewayRequest(net.ports.get('hd-1')!.gateway, {
          jsonrpc: '2.0',
          method: 'ls-1.lookup',
          params: { name: 'x' },
          id: 1,
        });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.result, { found: true });
      }
      await hd1.waitFor(/peer does not exchange directory tips/);
      for (const kind of ['withheld', 'fork', 'unverifiable']) {
        assert.equal(await metric(metricsPort, 'eps_directory_alarms_total', `{kind="${kind}"}`), 0, kind);
      }
      assert.ok((await metric(metricsPort, 'eps_directory_records')) > 0);
    } finally {
      await server?.stop();
      await sd?.process.stop();
      await net.stop();
    }
  });

  test('a grpc-go client calls our server: unary, 200 at once, 3 MiB, status, deadline, bidi', async () => {
    const server = ls1Server({
      handlers: {
        unary: {
          '/EPS/Call': async (p) => Buffer.concat([Buffer.from('re:'), p]),
          '/EPS/Fail': () => Promise.reject(GrpcError.foreign(7, 'denied ✓ 100%')),
          '/EPS/Slow': () => new Promise<Uint8Array>(() => undefined),
        },
        bidi: {
          '/EPS/ServerCall': (stream) => {
            stream.onMessage((m) => void stream.send(m));
            stream.onEnd(() => stream.end(Status.OK));
          },
        },
      },
    });
    const port = (await server.listen('127.0.0.1:0')).port;
    try {
      const run = await runProgram(
        peerBinary,
        ['-mode', 'run', '-certs', CERTS, '-address', `127.0.0.1:${port}`, '-calls', '200'],
        {},
        60_000,
      );
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      assert.deepEqual(result, {
        calls: 200,
        echoed: 200,
        bigEchoed: true,
        failCode: 'PermissionDenied',
        failMessage: 'denied ✓ 100%',
        slowCode: 'DeadlineExceeded',
        stream: ['a', 'b', 'c'],
        streamEnd: 'EOF',
      });
    } finally {
      await server.close();
    }
  });
});
