/**
 * The client's part of safe retries after a lost connection (grpc/client.ts, grpc/replay-headers.ts) on the
 * in-memory HTTP/2 harness: a marked call carries `eps-call-token`, its retry the same token and
 * `eps-retry: <instance>;<age>`; a call lost before any answer byte on a connection whose server showed a
 * well-formed `eps-instance` may be retried (`replayOn`); without one (an original Go peer), with a
 * malformed one, or after the call's response headers arrived, it may not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType, Flag, Setting } from '../../src/grpc/h2/codes.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { Deadline } from '../../src/core/deadline.js';
import { GrpcError } from '../../src/grpc/status.js';
import { frame } from '../../src/grpc/framing.js';
import { parseRetry, type CallMark } from '../../src/grpc/replay-headers.js';
import { duplexClient, framesBeforePong, type DuplexClient } from '../helpers/h2-duplex.js';

const { HEADERS, DATA } = FrameType;
const INSTANCE = 'AAAAAAAAAAAAAAAAAAAAAA';

function marked(h: DuplexClient, mark: CallMark): Promise<Buffer | GrpcError> {
  return h.session
    .unary('/EPS/Call', Buffer.from('x'), Deadline.after(60_000, h.clock), undefined, mark)
    .catch((e: unknown) => {
      assert.ok(e instanceof GrpcError, String(e));
      return e;
    });
}

/** Answers `streamId` with response headers carrying `instance` (none: as an original Go peer). */
function answer(h: DuplexClient, streamId: number, instance?: string): void {
  const fields: [string, string][] = [
    [':status', '200'],
    ['content-type', 'application/grpc'],
  ];
  if (instance !== undefined) fields.push(['eps-instance', instance]);
  h.peer.send(HEADERS, Flag.END_HEADERS, streamId, encodeHeaders(fields));
  h.peer.send(DATA, 0, streamId, frame(Buffer.from('ok')));
  h.peer.send(HEADERS, Flag.END_HEADERS | Flag.END_STREAM, streamId, encodeHeaders([['grpc-status', '0']]));
}

/** How the connection is lost: the peer's EOF, unless a test says otherwise. */
type Loss = (h: DuplexClient) => Promise<void> | void;
const peerEof: Loss = (h) => void h.peer.socket.destroy();
const KEEPALIVE = { pingIntervalMs: 1000, pingTimeoutMs: 500 };

/** Our socket fails with a Node error `code` (as a TCP reset or a local timeout would). */
function socketError(code: string): Loss {
  return (h) => void h.socket.destroy(Object.assign(new Error(`read ${code}`), { code }));
}

/**
 * One answered call (showing `instance`), then one failed with a trailers-only response (no instance),
 * then a marked call lost with the connection (`lose`); its error.
 */
async function lostAfter(
  instance: string | undefined,
  headersFirst = false,
  lose: Loss = peerEof,
): Promise<GrpcError> {
  const h = duplexClient({ keepalive: KEEPALIVE });
  try {
    h.peer.settings();
    const first = marked(h, { token: 'first' });
    answer(h, (await h.peer.request()).streamId, instance);
    assert.ok(Buffer.isBuffer(await first));
    const failing = marked(h, { token: 'failing' });
    const status = encodeHeaders([
      [':status', '200'],
      ['grpc-status', '2'],
    ]);
    h.peer.send(HEADERS, Flag.END_HEADERS | Flag.END_STREAM, (await h.peer.request()).streamId, status);
    assert.ok((await failing) instanceof GrpcError);
    const mark: CallMark = { token: 'tok' };
    const lost = marked(h, mark);
    const req = await h.peer.request();
    assert.equal(req.headers['eps-call-token'], 'tok');
    assert.equal(req.headers['eps-retry'], undefined);
    if (headersFirst) {
      h.peer.send(HEADERS, Flag.END_HEADERS, req.streamId, encodeHeaders([[':status', '200']]));
      await h.clock.advance(0);
    }
    await lose(h);
    const err = await lost;
    assert.ok(err instanceof GrpcError);
    assert.match(err.message, /may have been processed/);
    return err;
  } finally {
    h.close();
  }
}

test('a call lost before any answer byte, on a connection that showed its instance, may be retried', async () => {
  const err = await lostAfter(INSTANCE);
  assert.equal(err.replayOn, INSTANCE);
  assert.equal(err.unprocessed, false);
});

test('a connection reset by the peer (ECONNRESET, EPIPE) allows the retry as its EOF does', async () => {
  assert.equal((await lostAfter(INSTANCE, false, socketError('ECONNRESET'))).replayOn, INSTANCE);
  assert.equal((await lostAfter(INSTANCE, false, socketError('EPIPE'))).replayOn, INSTANCE);
});

test('a connection we ended ourselves (keepalive timeout, local socket error, destroy): no retry', async () => {
  // The original may still be on its way (kernel buffers, a relay) and arrive after the retry was forgotten.
  const keepaliveTimeout: Loss = async (h) => {
    await h.clock.advance(KEEPALIVE.pingIntervalMs);
    await h.clock.advance(KEEPALIVE.pingTimeoutMs);
  };
  for (const lose of [keepaliveTimeout, socketError('ETIMEDOUT'), (h: DuplexClient) => h.session.destroy()]) {
    const err = await lostAfter(INSTANCE, false, lose);
    assert.equal(err.replayOn, undefined, err.message);
  }
});

test('no instance (an original Go peer), a malformed one, or response headers seen: no retry', async () => {
  assert.equal((await lostAfter(undefined)).replayOn, undefined);
  assert.equal((await lostAfter('short')).replayOn, undefined);
  assert.equal((await lostAfter(`${INSTANCE} x`)).replayOn, undefined);
  assert.equal((await lostAfter(INSTANCE, true)).replayOn, undefined);
});

test('a retry carries the same token and eps-retry with the instance and an age that grows', async () => {
  const h = duplexClient();
  try {
    h.peer.settings();
    const mark: CallMark = { token: 'tok', retryOf: INSTANCE, firstSentAt: performance.now() - 1500 };
    const retried = marked(h, mark);
    const req = await h.peer.request();
    assert.equal(req.headers['eps-call-token'], 'tok');
    const claim = parseRetry(req.headers['eps-retry'] ?? '');
    assert.equal(claim?.instance, INSTANCE);
    assert.ok(claim !== undefined && claim.ageMs >= 1500, `age ${claim?.ageMs}`);
    answer(h, req.streamId);
    assert.ok(Buffer.isBuffer(await retried));
  } finally {
    h.close();
  }
});

test('a retry that waits for a stream slot measures its age when it starts, not when it was queued', async () => {
  const h = duplexClient();
  try {
    h.peer.settings([[Setting.MAX_CONCURRENT_STREAMS, 1]]);
    await framesBeforePong(h.peer, 'settled'); // our side has applied the peer's SETTINGS
    const first = marked(h, { token: 'first' });
    const firstReq = await h.peer.request();
    const mark: CallMark = { token: 'tok', retryOf: INSTANCE, firstSentAt: performance.now() };
    const retried = marked(h, mark); // waits: the only slot is taken
    const WAITED_MS = 200;
    await new Promise((r) => setTimeout(r, WAITED_MS));
    answer(h, firstReq.streamId);
    assert.ok(Buffer.isBuffer(await first));
    const req = await h.peer.request();
    const claim = parseRetry(req.headers['eps-retry'] ?? '');
    assert.ok(claim !== undefined && claim.ageMs >= WAITED_MS, `age ${claim?.ageMs}`);
    answer(h, req.streamId);
    assert.ok(Buffer.isBuffer(await retried));
  } finally {
    h.close();
  }
});
