/**
 * The ServerCall wire contract (docs/protocol.md#servercall) with a real eps process on one side and our
 * gRPC layer driven by the test on the other: the dialling side's announcement, identity checks, in-band
 * error codes, and the accepting side's announcement validation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CERTS, pinnedEntries, TestNetwork } from '../helpers/network.js';
import { ls1Server } from '../helpers/grpc-local.js';
import { GrpcServer, type BidiServerStream } from '../../src/grpc/server.js';
import { GrpcSession } from '../../src/grpc/client.js';
import { dialTls } from '../../src/grpc/dial.js';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type WireResponse,
} from '../../src/grpc/codec.js';
import { loadTls } from '../../src/tls/options.js';
import type { GrpcError } from '../../src/grpc/status.js';
import { Deadline } from '../../src/core/deadline.js';
import { withDeadline } from '../helpers/wait.js';

describe('ServerCall wire contract', () => {
  let net: TestNetwork;
  let accepting: GrpcServer;
  const streams: { stream: BidiServerStream; messages: Buffer[]; wake: () => void }[] = [];
  let streamArrived: () => void = () => undefined;

  before(async () => {
    net = new TestNetwork([
      // ls-1 is played by the test (an accepting side with a public gRPC server).
      { name: 'ls-1', groups: ['location-services'], grpcServer: true, gateway: false },
      {
        name: 'hd-2',
        groups: ['health-departments'],
        grpcServer: { proxy: 'public-proxy-1.ga' },
        grpcClient: true,
        services: [
          {
            name: 'internals',
            permissions: [{ group: 'location-services', rights: ['call'] }],
            methods: [{ name: '_ping' }],
          },
        ],
      },
      { name: 'op-1', groups: ['operators'], grpcServer: true, grpcClient: true },
    ]);
    await net.prepare();
    accepting = ls1Server({
      handlers: {
        unary: {},
        bidi: {
          '/EPS/ServerCall': (stream) => {
            const slot = { stream, messages: [] as Buffer[], wake: () => undefined as void };
            stream.onMessage((m) => {
              slot.messages.push(m);
              slot.wake();
            });
            streams.push(slot);
            streamArrived();
          },
        },
      },
    });
    await accepting.listen(`127.0.0.1:${net.ports.get('ls-1')!.grpc}`);
    await net.start('op-1');
  });

  after(async () => {
    await net?.stop();
    await accepting?.close();
  });

  async function next(slot: (typeof streams)[number]): Promise<WireResponse> {
    while (slot.messages.length === 0) {
      const woken = new Promise<void>((r) => (slot.wake = r));
      await withDeadline(woken, { timeoutMs: 5_000, what: 'a message on the reverse stream' });
    }
    return decodeResponse(slot.messages.shift()!);
  }

  test('the dialling side announces itself, answers in order, and uses the in-band codes (items 35, 37-39)', async () => {
    const arrived = new Promise<void>((r) => (streamArrived = r));
    await net.start('hd-2');
    await arrived;
    const slot = streams[0]!;
    // 35: the first message is Response{id:"1", result:{name}}; `features` (ignored by the original's
    // accepting side) says that ours understands cancel and drain notices.
    assert.deepEqual(await next(slot), { id: '1', result: { name: 'hd-2', features: ['cancel', 'drain'] } });
    const send = (method: string, id: string, clientName: string): Promise<void> =>
      slot.stream.send(encodeRequest({ method, id, clientName, params: { n: id } }));
    // Pipelined requests: a permitted ping, an unknown claimed identity, a broker error, another ping.
    await send('hd-2._ping', 'hd-2._ping(1)', 'ls-1');
    await send('hd-2._ping', 'hd-2._ping(2)', 'nobody');
    await send('hd-2._ping', 'hd-2._ping()', 'ls-1');
    await send('hd-2._ping', 'hd-2._ping(4)', '');
    const first = await next(slot);
    assert.equal(first.id, 'hd-2._ping(1)');
    assert.equal((first.result!.params as { _client: { name: string } })._client.name, 'ls-1');
    assert.equal(
      (first.result!.serverInfo as { name: string }).name,
      'hd-2',
      '_ping results arrive intact (B9)',
    );
    // 38: a clientName that is not a pinned name of the accepting side.
    assert.deepEqual(await next(slot), {
      id: 'hd-2._ping(2)',
      error: { code: 404, message: 'no matching client found' },
    });
    // 39: a broker error travels in-band as -100.
    assert.deepEqual(await next(slot), {
      id: 'hd-2._ping()',
      error: { code: -100, message: 'error parsing address: invalid ID format' },
    });
    // An empty clientName maps to the first pinned name.
    const fourth = await next(slot);
    assert.equal((fourth.result!.params as { _client: { name: string } })._client.name, 'ls-1');
  });

  test('the accepting side refuses bad announcements (item 36)', async () => {
    const entries = pinnedEntries();
    const open = async (): Promise<GrpcSession> => {
      const dialled = await dialTls({
        peer: 'op-1',
        tls: loadTls({
          ca_certificate_files: [join(CERTS, 'root.crt')],
          certificate_file: join(CERTS, 'hd-1.crt'),
          key_file: join(CERTS, 'hd-1.key'),
        }),
        lookup: (n) => entries.get(n),
        deadline: Deadline.after(5000),
        host: '127.0.0.1',
        port: net.ports.get('op-1')!.grpc,
      });
      return new GrpcSession('op-1', dialled.socket);
    };
    const ended = (session: GrpcSession, announcement: WireResponse): Promise<GrpcError | undefined> => {
      const stream = session.bidi('/EPS/ServerCall');
      const done = new Promise<GrpcError | undefined>((r) => stream.onEnd(r));
      void stream.send(encodeResponse(announcement));
      return done;
    };
    const session = await open();
    const wrongName = await ended(session, { id: '1', result: { name: 'op-2' } });
    assert.equal(wrongName?.details, 'invalid client name supplied');
    const noName = await ended(session, { id: '1', result: { nom: 'hd-1' } });
    assert.equal(noName?.details, 'invalid client announcement');
    session.close();
    assert.equal(
      decodeRequest(encodeRequest({ method: 'a.b', id: 'a.b(1)', clientName: '', params: {} })).id,
      'a.b(1)',
    );
  });
});
