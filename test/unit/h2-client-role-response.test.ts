/**
 * Client role, malformed responses (RFC 9113 §8): "Clients MUST NOT accept a malformed response" — each
 * is a stream error: RST_STREAM PROTOCOL_ERROR, the call fails with INTERNAL, and the next call on the
 * same connection is answered. One test per MUST, on the in-memory harness. SECURITY.md's "HTTP/2 client
 * role" table lists them by section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { frame } from '../../src/grpc/framing.js';
import { ANSWER_HEADERS, ANSWER_TRAILERS } from '../helpers/h2-fake-server.js';
import { expectStreamError, openCall, type OpenCall } from '../helpers/h2-client-role.js';

const { DATA, HEADERS } = FrameType;
const { END_STREAM, END_HEADERS } = Flag;
const MESSAGE = frame(Buffer.from('answer'));

type Fields = [string, string][];
const GRPC: Fields = [['content-type', 'application/grpc']];

/** Response headers `fields`, then (unless `end`) a message and good trailers. */
function respond(fields: Fields, end = false) {
  return (h: OpenCall): void => {
    h.peer.send(HEADERS, END_HEADERS | (end ? END_STREAM : 0), h.id, encodeHeaders(fields));
    if (end) return;
    h.peer.send(DATA, 0, h.id, MESSAGE);
    h.peer.send(HEADERS, END_HEADERS | END_STREAM, h.id, ANSWER_TRAILERS);
  };
}

/** Good response headers and message, then trailers `fields` (with END_STREAM unless `end` is false). */
function trailers(fields: Fields, end = true) {
  return (h: OpenCall): void => {
    h.peer.send(HEADERS, END_HEADERS, h.id, ANSWER_HEADERS);
    h.peer.send(DATA, 0, h.id, MESSAGE);
    h.peer.send(HEADERS, END_HEADERS | (end ? END_STREAM : 0), h.id, encodeHeaders(fields));
  };
}

const status = (s: string): Fields => [[':status', s], ...GRPC];

const cases: [section: string, what: string, misbehave: (h: OpenCall) => void][] = [
  ['8.3.2', 'a response without :status', respond(GRPC)],
  ['8.3.2', 'two :status fields', respond([[':status', '200'], [':status', '200'], ...GRPC])],
  ['8.3.2', ':status of four digits', respond(status('2000'))],
  ['8.3.2', ':status that is not a number', respond(status('OK!'))],
  [
    '8.3',
    'a request pseudo-header field (:path) in a response',
    respond([...status('200'), [':path', '/x']]),
  ],
  ['8.3', 'an undefined pseudo-header field (:foo)', respond([[':status', '200'], [':foo', 'bar'], ...GRPC])],
  ['8.3', 'a pseudo-header field after a regular field', respond([...GRPC, [':status', '200']])],
  [
    '8.3',
    'a pseudo-header field in trailers',
    trailers([
      ['grpc-status', '0'],
      [':status', '200'],
    ]),
  ],
  ['8.1', 'trailers without END_STREAM', trailers([['grpc-status', '0']], false)],
  ['8.1', 'an informational (1xx) response with END_STREAM', respond(status('100'), true)],
  ['8.6', '101 (Switching Protocols)', respond(status('101'))],
  [
    '8.1',
    'DATA before the response headers',
    (h) => {
      h.peer.send(DATA, 0, h.id, MESSAGE);
      respond(status('200'))(h);
    },
  ],
  [
    '8.2',
    'an upper-case field name',
    respond([
      [':status', '200'],
      ['Content-Type', 'application/grpc'],
    ]),
  ],
  ['8.2.1', 'a field name with a space', respond([...status('200'), ['grpc status', '0']])],
  ['8.2.1', 'a field name with a colon inside', respond([...status('200'), ['grpc:status', '0']])],
  ['8.2.1', 'a field value with CR LF', respond([...status('200'), ['x-note', 'a\r\nx-injected: 1']])],
  ['8.2.1', 'a field value with NUL', respond([...status('200'), ['x-note', 'a\0b']])],
  ['8.2.1', 'a field value with leading whitespace', respond([...status('200'), ['x-note', ' a']])],
  ['8.2.1', 'an empty field name', respond([...status('200'), ['', 'a']])],
  ['8.2.2', 'connection:', respond([...status('200'), ['connection', 'close']])],
  ['8.2.2', 'keep-alive:', respond([...status('200'), ['keep-alive', 'timeout=5']])],
  ['8.2.2', 'proxy-connection:', respond([...status('200'), ['proxy-connection', 'close']])],
  ['8.2.2', 'transfer-encoding:', respond([...status('200'), ['transfer-encoding', 'chunked']])],
  ['8.2.2', 'upgrade:', respond([...status('200'), ['upgrade', 'h2c']])],
  [
    '8.2.2',
    'a connection-specific field in trailers',
    trailers([
      ['grpc-status', '0'],
      ['connection', 'close'],
    ]),
  ],
  ['8.1.1', 'more DATA than content-length', respond([...status('200'), ['content-length', '3']])],
  ['8.1.1', 'less DATA than content-length', respond([...status('200'), ['content-length', '500']])],
  [
    '8.1.1',
    'content-length with END_STREAM on the headers',
    respond([...status('200'), ['content-length', '5']], true),
  ],
  ['8.1.1', 'a content-length that is not a number', respond([...status('200'), ['content-length', '1e3']])],
];

for (const [section, what, misbehave] of cases) {
  test(`client role §${section}: ${what} → RST_STREAM PROTOCOL_ERROR, call fails, connection stays`, async () => {
    const h = await openCall();
    try {
      misbehave(h);
      const err = await expectStreamError(h, ErrorCode.PROTOCOL_ERROR);
      assert.match(err.details, /malformed response|content-length/);
    } finally {
      h.close();
    }
  });
}

test('client role §8.1: informational (1xx) responses before the final one are skipped', async () => {
  const h = await openCall();
  try {
    h.peer.send(
      HEADERS,
      END_HEADERS,
      h.id,
      encodeHeaders([
        [':status', '103'],
        ['link', '</x>'],
      ]),
    );
    h.peer.send(HEADERS, END_HEADERS, h.id, encodeHeaders([[':status', '100']]));
    h.peer.answer(h.id, Buffer.from('answer'));
    assert.deepEqual(await h.outcome, Buffer.from('answer'));
  } finally {
    h.close();
  }
});

test('client role §8.1.1: a content-length that matches the DATA is accepted', async () => {
  const h = await openCall();
  try {
    respond([...status('200'), ['content-length', String(MESSAGE.length)]])(h);
    assert.deepEqual(await h.outcome, Buffer.from('answer'));
  } finally {
    h.close();
  }
});
