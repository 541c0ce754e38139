/**
 * Client role, connection errors (RFC 9113 §4 to §6): a server that breaks a MUST whose answer is a
 * connection error gets GOAWAY with the code the RFC names, and every call on the connection fails with
 * UNAVAILABLE. One test per MUST, on the in-memory harness (no TLS, no real time). SECURITY.md's "HTTP/2
 * client role" table lists them by section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, errorName, Flag, FrameType, Setting } from '../../src/grpc/h2/codes.js';
import { ANSWER_HEADERS } from '../helpers/h2-fake-server.js';
import { duplexClient, goaway } from '../helpers/h2-duplex.js';
import { call, expectConnectionError, openCall, type OpenCall } from '../helpers/h2-client-role.js';

const {
  DATA,
  HEADERS,
  PRIORITY,
  RST_STREAM,
  SETTINGS,
  PUSH_PROMISE,
  PING,
  GOAWAY,
  WINDOW_UPDATE,
  CONTINUATION,
} = FrameType;
const { END_STREAM, END_HEADERS, PADDED, ACK } = Flag;
const { PROTOCOL_ERROR, FRAME_SIZE_ERROR, FLOW_CONTROL_ERROR, COMPRESSION_ERROR, ENHANCE_YOUR_CALM } =
  ErrorCode;

function setting(id: number, value: number): Buffer {
  const p = Buffer.alloc(6);
  p.writeUInt16BE(id, 0);
  p.writeUInt32BE(value, 2);
  return p;
}

/** A HEADERS payload with the PADDED flag: pad length byte, fragment, padding. */
function padded(padLength: number, fragment: Buffer, actualPadding = padLength): Buffer {
  return Buffer.concat([Buffer.from([padLength]), fragment, Buffer.alloc(actualPadding)]);
}

const cases: [section: string, what: string, misbehave: (h: OpenCall) => void, code: number][] = [
  // §4.2 frame size
  [
    '4.2',
    'a frame above SETTINGS_MAX_FRAME_SIZE',
    (h) => h.peer.send(DATA, 0, h.id, Buffer.alloc(16_385)),
    FRAME_SIZE_ERROR,
  ],
  // §4.3 field blocks
  [
    '4.3',
    'HPACK index 0',
    (h) => h.peer.send(HEADERS, END_HEADERS, h.id, Buffer.from([0x80])),
    COMPRESSION_ERROR,
  ],
  [
    '4.3',
    'HPACK index beyond both tables',
    (h) => h.peer.send(HEADERS, END_HEADERS, h.id, Buffer.from([0xbf])),
    COMPRESSION_ERROR,
  ],
  [
    '4.3',
    'an HPACK table size update above our SETTINGS_HEADER_TABLE_SIZE',
    (h) => h.peer.send(HEADERS, END_HEADERS, h.id, Buffer.from([0x3f, 0xe1, 0x3f, 0x88])),
    COMPRESSION_ERROR,
  ],
  [
    '4.3',
    'an HPACK table size update after a field',
    (h) => h.peer.send(HEADERS, END_HEADERS, h.id, Buffer.from([0x88, 0x20])),
    COMPRESSION_ERROR,
  ],
  [
    '4.3',
    'Huffman padding that is not the EOS prefix',
    (h) => h.peer.send(HEADERS, END_HEADERS, h.id, Buffer.from([0x88, 0x0f, 0x11, 0x81, 0x00])),
    COMPRESSION_ERROR,
  ],
  [
    '4.3',
    'an HPACK string longer than the block',
    (h) => h.peer.send(HEADERS, END_HEADERS, h.id, Buffer.from([0x88, 0x0f, 0x11, 0x05, 0x61])),
    COMPRESSION_ERROR,
  ],
  [
    '4.3',
    'a field block interrupted by another frame',
    (h) => {
      h.peer.send(HEADERS, 0, h.id, Buffer.from([0x88]));
      h.peer.send(PING, 0, 0, Buffer.alloc(8));
    },
    PROTOCOL_ERROR,
  ],
  [
    '4.3',
    'a field block interrupted by a frame of an unknown type',
    (h) => {
      h.peer.send(HEADERS, 0, h.id, Buffer.from([0x88]));
      h.peer.send(0xfa, 0, h.id, Buffer.alloc(3));
    },
    PROTOCOL_ERROR,
  ],
  // §5.1, §5.1.1 stream states and identifiers
  [
    '5.1.1',
    'HEADERS on an even (server-initiated) stream',
    (h) => h.peer.send(HEADERS, END_HEADERS, 2, ANSWER_HEADERS),
    PROTOCOL_ERROR,
  ],
  [
    '5.1',
    'HEADERS on an idle stream the client never opened',
    (h) => h.peer.send(HEADERS, END_HEADERS, h.id + 2, ANSWER_HEADERS),
    PROTOCOL_ERROR,
  ],
  ['5.1', 'DATA on an idle stream', (h) => h.peer.send(DATA, 0, h.id + 2, Buffer.from('x')), PROTOCOL_ERROR],
  [
    '5.1',
    'RST_STREAM on an idle stream',
    (h) => h.peer.u32(RST_STREAM, h.id + 2, ErrorCode.CANCEL),
    PROTOCOL_ERROR,
  ],
  ['5.1', 'WINDOW_UPDATE on an idle stream', (h) => h.peer.u32(WINDOW_UPDATE, h.id + 2, 100), PROTOCOL_ERROR],
  // §6.1 DATA
  ['6.1', 'DATA on stream 0', (h) => h.peer.send(DATA, 0, 0, Buffer.from('x')), PROTOCOL_ERROR],
  [
    '6.1',
    'DATA padding as long as the payload',
    (h) => h.peer.send(DATA, PADDED, h.id, Buffer.from([3, 0, 0])),
    PROTOCOL_ERROR,
  ],
  // §6.2 HEADERS
  ['6.2', 'HEADERS on stream 0', (h) => h.peer.send(HEADERS, END_HEADERS, 0, ANSWER_HEADERS), PROTOCOL_ERROR],
  [
    '6.2',
    'HEADERS padding longer than the payload',
    (h) => h.peer.send(HEADERS, END_HEADERS | PADDED, h.id, padded(200, ANSWER_HEADERS, 2)),
    PROTOCOL_ERROR,
  ],
  [
    '6.2',
    'HEADERS with the PRIORITY flag but no room for its fields',
    (h) => h.peer.send(HEADERS, END_HEADERS | Flag.PRIORITY, h.id, Buffer.from([0, 0])),
    FRAME_SIZE_ERROR,
  ],
  // §6.3 PRIORITY
  [
    '6.3',
    'PRIORITY on stream 0',
    (h) => h.peer.send(PRIORITY, 0, 0, Buffer.from([0, 0, 0, 1, 16])),
    PROTOCOL_ERROR,
  ],
  // §6.4 RST_STREAM
  ['6.4', 'RST_STREAM on stream 0', (h) => h.peer.u32(RST_STREAM, 0, ErrorCode.CANCEL), PROTOCOL_ERROR],
  [
    '6.4',
    'RST_STREAM of 3 bytes',
    (h) => h.peer.send(RST_STREAM, 0, h.id, Buffer.alloc(3)),
    FRAME_SIZE_ERROR,
  ],
  // §6.5 SETTINGS
  [
    '6.5',
    'SETTINGS on a stream',
    (h) => h.peer.send(SETTINGS, 0, h.id, setting(Setting.MAX_FRAME_SIZE, 20_000)),
    PROTOCOL_ERROR,
  ],
  ['6.5', 'SETTINGS of 5 bytes', (h) => h.peer.send(SETTINGS, 0, 0, Buffer.alloc(5)), FRAME_SIZE_ERROR],
  [
    '6.5',
    'a SETTINGS acknowledgement with a payload',
    (h) => h.peer.send(SETTINGS, ACK, 0, setting(Setting.MAX_FRAME_SIZE, 20_000)),
    FRAME_SIZE_ERROR,
  ],
  [
    '6.5.2',
    'SETTINGS_ENABLE_PUSH = 1 from a server',
    (h) => h.peer.settings([[Setting.ENABLE_PUSH, 1]]),
    PROTOCOL_ERROR,
  ],
  ['6.5.2', 'SETTINGS_ENABLE_PUSH = 2', (h) => h.peer.settings([[Setting.ENABLE_PUSH, 2]]), PROTOCOL_ERROR],
  [
    '6.5.2',
    'SETTINGS_INITIAL_WINDOW_SIZE = 2^31',
    (h) => h.peer.settings([[Setting.INITIAL_WINDOW_SIZE, 2 ** 31]]),
    FLOW_CONTROL_ERROR,
  ],
  [
    '6.5.2',
    'SETTINGS_MAX_FRAME_SIZE = 16383',
    (h) => h.peer.settings([[Setting.MAX_FRAME_SIZE, 16_383]]),
    PROTOCOL_ERROR,
  ],
  [
    '6.5.2',
    'SETTINGS_MAX_FRAME_SIZE = 2^24',
    (h) => h.peer.settings([[Setting.MAX_FRAME_SIZE, 2 ** 24]]),
    PROTOCOL_ERROR,
  ],
  // §6.6 PUSH_PROMISE
  [
    '6.6',
    'PUSH_PROMISE although push is disabled',
    (h) => h.peer.send(PUSH_PROMISE, END_HEADERS, h.id, Buffer.from([0, 0, 0, 2, 0x82])),
    PROTOCOL_ERROR,
  ],
  // §6.7 PING
  ['6.7', 'PING of 7 bytes', (h) => h.peer.send(PING, 0, 0, Buffer.alloc(7)), FRAME_SIZE_ERROR],
  ['6.7', 'PING on a stream', (h) => h.peer.send(PING, 0, h.id, Buffer.alloc(8)), PROTOCOL_ERROR],
  // §6.8 GOAWAY
  ['6.8', 'GOAWAY on a stream', (h) => h.peer.send(GOAWAY, 0, h.id, Buffer.alloc(8)), PROTOCOL_ERROR],
  ['6.8', 'GOAWAY of 7 bytes', (h) => h.peer.send(GOAWAY, 0, 0, Buffer.alloc(7)), FRAME_SIZE_ERROR],
  // §6.9 WINDOW_UPDATE
  ['6.9', 'WINDOW_UPDATE of 0 for the connection', (h) => h.peer.u32(WINDOW_UPDATE, 0, 0), PROTOCOL_ERROR],
  [
    '6.9',
    'WINDOW_UPDATE of 3 bytes',
    (h) => h.peer.send(WINDOW_UPDATE, 0, h.id, Buffer.alloc(3)),
    FRAME_SIZE_ERROR,
  ],
  [
    '6.9.1',
    'a connection window above 2^31-1',
    (h) => {
      h.peer.u32(WINDOW_UPDATE, 0, 0x7fffffff);
      h.peer.u32(WINDOW_UPDATE, 0, 0x7fffffff);
    },
    FLOW_CONTROL_ERROR,
  ],
  [
    '6.9.2',
    'SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream window above 2^31-1',
    (h) => {
      h.peer.u32(WINDOW_UPDATE, h.id, 0x7fffffff - 65_535);
      h.peer.settings([[Setting.INITIAL_WINDOW_SIZE, 65_545]]);
    },
    FLOW_CONTROL_ERROR,
  ],
  // §6.10 CONTINUATION
  [
    '6.10',
    'CONTINUATION without HEADERS',
    (h) => h.peer.send(CONTINUATION, END_HEADERS, h.id, Buffer.from([0x88])),
    PROTOCOL_ERROR,
  ],
  [
    '6.10',
    'CONTINUATION after a HEADERS frame that had END_HEADERS',
    (h) => {
      h.peer.send(HEADERS, END_HEADERS, h.id, ANSWER_HEADERS);
      h.peer.send(CONTINUATION, END_HEADERS, h.id, Buffer.from([0x88]));
    },
    PROTOCOL_ERROR,
  ],
  [
    '6.10',
    'CONTINUATION on another stream',
    (h) => {
      h.peer.send(HEADERS, 0, h.id, Buffer.from([0x88]));
      h.peer.send(CONTINUATION, END_HEADERS, h.id + 2, Buffer.from([0x88]));
    },
    PROTOCOL_ERROR,
  ],
  [
    '6.10',
    'CONTINUATION on stream 0',
    (h) => {
      h.peer.send(HEADERS, 0, h.id, Buffer.from([0x88]));
      h.peer.send(CONTINUATION, END_HEADERS, 0, Buffer.from([0x88]));
    },
    PROTOCOL_ERROR,
  ],
  [
    '6.10',
    'a CONTINUATION flood (limit, CVE-2023-45288)',
    (h) => {
      h.peer.send(HEADERS, 0, h.id, Buffer.from([0x88]));
      for (let i = 0; i < 20; i++) h.peer.send(CONTINUATION, 0, h.id, Buffer.alloc(0));
    },
    ENHANCE_YOUR_CALM,
  ],
];

for (const [section, what, misbehave, code] of cases) {
  test(`client role §${section}: ${what} → GOAWAY ${errorName(code as ErrorCode)}, calls fail UNAVAILABLE`, async () => {
    const h = await openCall();
    try {
      misbehave(h);
      await expectConnectionError(h, code);
    } finally {
      h.close();
    }
  });
}

for (const [what, flags] of [
  ['DATA', 0],
  ['HEADERS', END_HEADERS],
] as const) {
  test(`client role §5.1: ${what} on a stream the server had ended (END_STREAM) → GOAWAY STREAM_CLOSED`, async () => {
    const h = await openCall();
    try {
      h.peer.answer(h.id, Buffer.from('answer'));
      assert.deepEqual(await h.outcome, Buffer.from('answer'));
      h.peer.send(
        what === 'DATA' ? DATA : HEADERS,
        flags | END_STREAM,
        h.id,
        what === 'DATA' ? Buffer.from('late') : ANSWER_HEADERS,
      );
      assert.equal((await goaway(h.peer)).code, ErrorCode.STREAM_CLOSED);
      assert.equal(h.session.closed, true);
    } finally {
      h.close();
    }
  });
}

test('client role §3.4: a server whose first frame is not SETTINGS → GOAWAY PROTOCOL_ERROR', async () => {
  const h = duplexClient();
  try {
    const outcome = call(h);
    await h.peer.request();
    h.peer.send(PING, 0, 0, Buffer.alloc(8));
    await expectConnectionError({ ...h, id: 1, outcome }, PROTOCOL_ERROR);
  } finally {
    h.close();
  }
});

test('client role §6.5.3: SETTINGS are acknowledged; an unknown setting is ignored', async () => {
  const h = await openCall();
  try {
    h.peer.send(SETTINGS, 0, 0, Buffer.concat([setting(0x99, 7), setting(Setting.MAX_FRAME_SIZE, 20_000)]));
    const ack = await h.peer.next((f) => f.type === SETTINGS && (f.flags & ACK) !== 0);
    assert.equal(ack.payload.length, 0);
    h.peer.answer(h.id, Buffer.from('ok'));
    assert.deepEqual(await h.outcome, Buffer.from('ok'));
  } finally {
    h.close();
  }
});
