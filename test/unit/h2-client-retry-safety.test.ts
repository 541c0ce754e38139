/**
 * Which failed calls the client may send again (GrpcError.unprocessed) and which may have been processed
 * (never repeated, and the error says so), one case each, on the in-memory HTTP/2 harness: a refused
 * stream, a GOAWAY below the call's stream, a call still queued when the connection is lost — provably not
 * processed; a call sent and then lost with its connection, or below a GOAWAY's last id when the connection
 * then goes — may have been processed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, FrameType, Setting } from '../../src/grpc/h2/codes.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { duplexClient } from '../helpers/h2-duplex.js';
import { call, openCall } from '../helpers/h2-client-role.js';

const { GOAWAY, RST_STREAM } = FrameType;

function failed(result: Buffer | GrpcError): GrpcError {
  assert.ok(result instanceof GrpcError, 'the call should have failed');
  return result;
}

const goawayPayload = (lastStreamId: number): Buffer => {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId, 0);
  p.writeUInt32BE(ErrorCode.NO_ERROR, 4);
  return p;
};

test('REFUSED_STREAM: not processed, may be sent again', async () => {
  const h = await openCall();
  try {
    h.peer.u32(RST_STREAM, h.id, ErrorCode.REFUSED_STREAM);
    const err = failed(await h.outcome);
    assert.equal(err.code, Status.UNAVAILABLE);
    assert.equal(err.unprocessed, true);
  } finally {
    h.close();
  }
});

test('GOAWAY with a last stream id below the call: not processed, may be sent again', async () => {
  const h = await openCall();
  try {
    h.peer.send(GOAWAY, 0, 0, goawayPayload(h.id - 1));
    const err = failed(await h.outcome);
    assert.equal(err.unprocessed, true);
  } finally {
    h.close();
  }
});

test('a call queued for a stream slot when the connection is lost was never sent: may be sent again', async () => {
  const h = duplexClient();
  try {
    h.peer.settings([[Setting.MAX_CONCURRENT_STREAMS, 1]]);
    const first = call(h, 'first');
    await h.peer.request();
    const queued = call(h, 'queued');
    await h.clock.advance(0);
    h.peer.socket.destroy();
    const queuedErr = failed(await queued);
    assert.equal(queuedErr.unprocessed, true, queuedErr.message);
    assert.match(queuedErr.message, /before the call was sent/);
    const firstErr = failed(await first);
    assert.equal(firstErr.unprocessed, false);
  } finally {
    h.close();
  }
});

test('a call sent and then lost with its connection, no answer byte: may have been processed, and says so', async () => {
  const h = await openCall();
  try {
    h.peer.socket.destroy();
    const err = failed(await h.outcome);
    assert.equal(err.code, Status.UNAVAILABLE);
    assert.equal(err.unprocessed, false, 'never repeated silently');
    assert.match(err.message, /may have been processed/);
  } finally {
    h.close();
  }
});

test('a call at or below a GOAWAY that the server then drops: may have been processed', async () => {
  const h = await openCall();
  try {
    h.peer.send(GOAWAY, 0, 0, goawayPayload(h.id));
    await h.clock.advance(0);
    h.peer.socket.destroy();
    const err = failed(await h.outcome);
    assert.equal(err.unprocessed, false);
    assert.match(err.message, /may have been processed/);
  } finally {
    h.close();
  }
});
