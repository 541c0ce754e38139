/**
 * Steps of the client-role protocol tests (test/unit/h2-client-role-*.test.ts): a GrpcSession on the
 * in-memory harness with one unary call open, and the two reactions RFC 9113 asks of it: a connection
 * error (GOAWAY with a code, every call fails) or a stream error (RST_STREAM with a code, this call fails,
 * the next call on the same connection is answered).
 */
import assert from 'node:assert/strict';
import { Deadline } from '../../src/core/deadline.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { errorName } from '../../src/grpc/h2/codes.js';
import { duplexClient, goaway, reset, type DuplexClient } from './h2-duplex.js';
import type { FakePeer } from './h2-fake-server.js';

export interface OpenCall extends DuplexClient {
  /** The call's stream id. */
  id: number;
  /** How the call ended: its answer, or the GrpcError it failed with. */
  outcome: Promise<Buffer | GrpcError>;
}

/** A session that has the server's SETTINGS and one unary call whose request the server has read. */
export async function openCall(): Promise<OpenCall> {
  const h = duplexClient();
  h.peer.settings();
  const outcome = call(h);
  const req = await h.peer.request();
  return { ...h, id: req.streamId, outcome };
}

/** A unary call on the harness's session; never rejects (a failure resolves to its GrpcError). */
export function call(h: DuplexClient, message = 'x', deadlineMs = 60_000): Promise<Buffer | GrpcError> {
  return h.session
    .unary('/EPS/Call', Buffer.from(message), Deadline.after(deadlineMs, h.clock))
    .catch((e: unknown) => {
      assert.ok(e instanceof GrpcError, `the call failed with ${String(e)}, not a GrpcError`);
      return e;
    });
}

function failure(result: Buffer | GrpcError): GrpcError {
  assert.ok(result instanceof GrpcError, 'the call should have failed');
  return result;
}

const name = (code: number): string => errorName(code as Parameters<typeof errorName>[0]);

/**
 * The connection ended with GOAWAY `code` and was closed; the open call failed UNAVAILABLE naming the
 * protocol error.
 */
export async function expectConnectionError(h: OpenCall, code: number): Promise<GrpcError> {
  const away = await goaway(h.peer);
  assert.equal(name(away.code), name(code), `GOAWAY ${away.debug}`);
  const err = failure(await h.outcome);
  assert.equal(err.code, Status.UNAVAILABLE);
  assert.match(err.details, /HTTP\/2 protocol error/);
  assert.equal(h.session.closed, true);
  // §5.4.1: after the GOAWAY of a connection error, the connection is closed.
  await assert.rejects(
    h.peer.next(() => false),
    /connection closed/,
  );
  return err;
}

/**
 * The call's stream was reset with `code` and the call failed with `status` (INTERNAL for a malformed
 * response); the connection stays: a second call on it is answered.
 */
export async function expectStreamError(
  h: OpenCall,
  code: number,
  status = Status.INTERNAL,
): Promise<GrpcError> {
  assert.equal(name(await reset(h.peer, h.id)), name(code));
  const err = failure(await h.outcome);
  assert.equal(err.code, status, err.details);
  await expectAnswered(h);
  return err;
}

/** A new call on the same connection is answered as usual. */
export async function expectAnswered(h: DuplexClient): Promise<void> {
  assert.equal(h.session.closed, false, 'the connection should still be open');
  const next = call(h, 'next');
  const req = await h.peer.request();
  h.peer.answer(req.streamId, Buffer.from('fine'));
  assert.deepEqual(await next, Buffer.from('fine'));
}

/** Sends a u32-payload frame of any type with flags (FakePeer.u32 has no flags). */
export function sendU32(peer: FakePeer, type: number, flags: number, streamId: number, value: number): void {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(value, 0);
  peer.send(type, flags, streamId, p);
}
