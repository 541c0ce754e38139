/**
 * Our gRPC client (own HTTP/2 client) against a @grpc/grpc-js server: unary calls, statuses with
 * percent-encoded messages, deadlines sent as grpc-timeout, many concurrent calls and a ServerCall stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/grpc/codec.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { CERTS } from '../helpers/network.js';
import { foreignServer } from '../helpers/grpc-foreign.js';
import { grpcSession } from '../helpers/grpc-local.js';
import { Deadline } from '../../src/core/deadline.js';

test('our client and a grpc-js server: calls, errors, deadlines, concurrency and a bidi stream', async () => {
  const server = await foreignServer(CERTS, 'ls-1');
  const session = await grpcSession(server.port);
  try {
    const call = async (method: string, timeoutMs = 5000): Promise<unknown> => {
      const reply = await session.unary(
        '/EPS/Call',
        encodeRequest({ method, id: '1', clientName: 'hd-1', params: { n: 1, s: 'ü' } }),
        Deadline.after(timeoutMs),
      );
      return decodeResponse(reply).result;
    };
    assert.deepEqual(await call('ls-1.add'), { echo: 'ls-1.add', params: { n: 1, s: 'ü' } });

    const failed = await call('fail').catch((e: unknown) => e);
    assert.ok(failed instanceof GrpcError);
    assert.equal(failed.code, 7);
    assert.equal(failed.details, 'denied ✓ 100%');

    const slow = await call('slow', 300).catch((e: unknown) => e);
    assert.ok(slow instanceof GrpcError);
    assert.equal(slow.code, Status.DEADLINE_EXCEEDED);

    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => call(`m${i}`)));
    assert.deepEqual(
      many.map((r) => (r as { echo: string }).echo),
      Array.from({ length: 200 }, (_, i) => `m${i}`),
    );

    const stream = session.bidi('/EPS/ServerCall');
    const received: string[] = [];
    const ended = new Promise<GrpcError | undefined>((resolve) => stream.onEnd(resolve));
    stream.onMessage((payload) => received.push(decodeRequest(payload).method));
    for (const id of ['a', 'b', 'c']) await stream.send(encodeResponse({ id }));
    await stream.send(encodeResponse({ id: 'end' }));
    assert.equal(await ended, undefined, 'the server ended the stream with status OK');
    assert.deepEqual(received, ['a', 'b', 'c']);
    assert.equal(session.closed, false);
  } finally {
    session.destroy();
    await server.close();
  }
});
