/**
 * The RFC 9113 rules on header fields and requests as the HPACK decoder and the server apply them
 * (src/grpc/h2/header-fields.ts, request-headers.ts), and what a closed stream's late frames get
 * (closed-streams.ts), without sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeaders, HpackDecoder } from '../../src/grpc/h2/hpack.js';
import { contentLength, requestProblem, trailersProblem } from '../../src/grpc/h2/request-headers.js';
import { CloseCause, ClosedStreams } from '../../src/grpc/h2/closed-streams.js';
import { ConnectionError } from '../../src/grpc/h2/errors.js';
import { ErrorCode } from '../../src/grpc/h2/codes.js';
import { CLOSED_STREAMS_REMEMBERED } from '../../src/grpc/h2/limits.js';

const decode = (fields: [string, string][]) => new HpackDecoder().decode(encodeHeaders(fields));
const GRPC: [string, string][] = [
  [':method', 'POST'],
  [':scheme', 'https'],
  [':path', '/EPS/Call'],
  [':authority', 'ls-1'],
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
];

test('a gRPC request is well-formed; so are CONNECT with only :authority and OPTIONS *', () => {
  const grpc = decode(GRPC);
  assert.equal(grpc.malformed, undefined);
  assert.equal(grpc.pseudoCount, 4);
  assert.equal(requestProblem(grpc), undefined);
  assert.equal(
    requestProblem(
      decode([
        [':method', 'CONNECT'],
        [':authority', 'ls-1:443'],
      ]),
    ),
    undefined,
  );
  const options = decode([
    [':method', 'OPTIONS'],
    [':scheme', 'https'],
    [':path', '*'],
  ]);
  assert.equal(requestProblem(options), undefined);
});

test('field rules: names, values, order and repetition of pseudo-header fields', () => {
  const cases: [string, [string, string][], RegExp][] = [
    ['upper case', [...GRPC, ['X-A', '1']], /invalid header field name/],
    ['empty name', [...GRPC, ['', '1']], /invalid header field name/],
    ['a bare colon', [[':', 'x'], ...GRPC], /invalid header field name/],
    ['NUL in a value', [...GRPC, ['x-a', 'a\0b']], /invalid value/],
    ['CR in a value', [...GRPC, ['x-a', 'a\rb']], /invalid value/],
    ['trailing tab', [...GRPC, ['x-a', 'a\t']], /invalid value/],
    ['pseudo after regular', [...GRPC, [':authority', 'x']], /after a regular field/],
    ['repeated pseudo', [[':path', '/'], ...GRPC], /repeated/],
  ];
  for (const [what, fields, problem] of cases) assert.match(decode(fields).malformed ?? '', problem, what);
  // Regular fields may repeat (joined with ", "), and a value may hold inner spaces.
  const fine = decode([...GRPC, ['x-a', 'b c'], ['x-a', 'd']]);
  assert.equal(fine.malformed, undefined);
  assert.equal(fine.headers['x-a'], 'b c, d');
});

test('request rules: pseudo-header fields, connection-specific fields, TE, content-length', () => {
  const without = (name: string) => GRPC.filter(([n]) => n !== name);
  const cases: [string, [string, string][], RegExp][] = [
    [':status in a request', [[':status', '200'], ...GRPC], /not one of a request/],
    ['unknown pseudo', [[':protocol', 'x'], ...GRPC], /not one of a request/],
    ['keep-alive', [...GRPC, ['keep-alive', '5']], /connection-specific/],
    ['proxy-connection', [...GRPC, ['proxy-connection', 'x']], /connection-specific/],
    ['upgrade', [...GRPC, ['upgrade', 'h2c']], /connection-specific/],
    ['te: trailers, gzip', [...without('te'), ['te', 'trailers, gzip']], /te other/],
    ['content-length -1', [...GRPC, ['content-length', '-1']], /content-length/],
    [
      'CONNECT with :path',
      [
        [':method', 'CONNECT'],
        [':authority', 'a'],
        [':path', '/'],
      ],
      /CONNECT/,
    ],
    ['CONNECT without :authority', [[':method', 'CONNECT']], /CONNECT/],
    ['empty :method', [[':method', ''], ...without(':method')], /no :method/],
    ['empty :scheme', [[':scheme', ''], ...without(':scheme')], /no :scheme/],
    [':path *, not OPTIONS', [[':path', '*'], ...without(':path')], /not absolute/],
  ];
  for (const [what, fields, problem] of cases) {
    const block = decode(fields);
    assert.match(block.malformed ?? requestProblem(block) ?? '', problem, what);
  }
});

test('content-length: decimal digits only; trailers must end the stream and hold no pseudo-header field', () => {
  const length = (value: string) => contentLength(decode([['content-length', value]]).headers);
  assert.equal(length('0'), 0);
  assert.equal(length('4194304'), 4194304);
  assert.equal(length(''), -1);
  assert.equal(length('1e3'), -1);
  assert.equal(length('1, 1'), -1);
  assert.equal(length('9'.repeat(16)), -1);
  assert.equal(contentLength(decode(GRPC).headers), -1);
  assert.equal(trailersProblem(decode([['x-a', '1']]), true), undefined);
  assert.match(trailersProblem(decode([['x-a', '1']]), false) ?? '', /END_STREAM/);
  assert.match(trailersProblem(decode([[':path', '/']]), true) ?? '', /pseudo-header/);
});

test('late frames for closed streams: by how the stream ended, and only while it is remembered', () => {
  const closed = new ClosedStreams();
  closed.record(1, CloseCause.RESET_BY_US);
  closed.record(3, CloseCause.RESET_BY_PEER);
  closed.record(5, CloseCause.ENDED);
  assert.equal(closed.lateFrame(1, 'DATA'), false, 'ignored: we reset it');
  assert.equal(closed.lateFrame(1, 'HEADERS'), false);
  assert.equal(closed.lateFrame(3, 'DATA'), true, 'stream error: the peer reset it');
  const connectionError = (id: number, type: 'DATA' | 'HEADERS', code: ErrorCode) =>
    assert.throws(
      () => closed.lateFrame(id, type),
      (e: unknown) => e instanceof ConnectionError && e.code === code,
    );
  connectionError(5, 'DATA', ErrorCode.STREAM_CLOSED);
  connectionError(5, 'HEADERS', ErrorCode.STREAM_CLOSED);
  assert.equal(closed.lateFrame(7, 'DATA'), false, 'not remembered: DATA ignored');
  connectionError(7, 'HEADERS', ErrorCode.PROTOCOL_ERROR);
  // The ring holds CLOSED_STREAMS_REMEMBERED; the oldest record makes room for a new one.
  for (let i = 3; i < CLOSED_STREAMS_REMEMBERED; i++) closed.record(101 + 2 * i, CloseCause.ENDED);
  assert.equal(closed.cause(1), CloseCause.RESET_BY_US, 'full, nothing forgotten yet');
  closed.record(99_999, CloseCause.ENDED);
  assert.equal(closed.cause(1), CloseCause.UNKNOWN, 'the oldest is forgotten');
  assert.equal(closed.cause(3), CloseCause.RESET_BY_PEER);
  assert.equal(closed.cause(99_999), CloseCause.ENDED);
});
