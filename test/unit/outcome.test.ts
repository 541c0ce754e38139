import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { CodedError, errorMessage } from '../../src/core/errors.js';
import { ErrorCodes } from '../../src/core/messages.js';
import {
  classify,
  FAILURE_KINDS,
  kindOfNodeCode,
  OUTCOMES,
  type FailureKind,
} from '../../src/core/outcome.js';
import { BrokerError } from '../../src/broker/errors.js';
import { NoRouteError, PeerDisconnectedError } from '../../src/broker/channel-errors.js';
import { ErrorCode } from '../../src/grpc/h2/codes.js';
import { StreamError } from '../../src/grpc/h2/errors.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { JsonRpcClientError } from '../../src/jsonrpc/client.js';

// The whole table, written out: these are the codes on the wire (the original's), so a change here is a
// change of the protocol. Columns: JSON-RPC, reverse-stream answer, gRPC status, HTTP/2 stream code.
const EXPECTED: Record<FailureKind, [number, number, number, string]> = {
  permissionDenied: [403, 403, Status.UNKNOWN, 'INTERNAL_ERROR'],
  rejected: [1, -100, Status.UNKNOWN, 'INTERNAL_ERROR'],
  noRoute: [500, -100, Status.UNAVAILABLE, 'REFUSED_STREAM'],
  unknownClient: [404, 404, Status.UNKNOWN, 'INTERNAL_ERROR'],
  unauthenticated: [500, -100, Status.UNAVAILABLE, 'INTERNAL_ERROR'],
  peerUnreachable: [500, -100, Status.UNAVAILABLE, 'REFUSED_STREAM'],
  deadlineExceeded: [500, -100, Status.DEADLINE_EXCEEDED, 'CANCEL'],
  cancelled: [500, -100, Status.CANCELLED, 'CANCEL'],
  protocolViolation: [500, -100, Status.INTERNAL, 'PROTOCOL_ERROR'],
  backendError: [500, -100, Status.UNKNOWN, 'INTERNAL_ERROR'],
  resourceExhausted: [500, -100, Status.RESOURCE_EXHAUSTED, 'ENHANCE_YOUR_CALM'],
  internal: [-32603, -100, Status.INTERNAL, 'INTERNAL_ERROR'],
};

test('the outcome table gives every kind its codes on each surface', () => {
  assert.deepEqual([...FAILURE_KINDS].sort(), Object.keys(EXPECTED).sort());
  for (const kind of FAILURE_KINDS) {
    const o = OUTCOMES[kind];
    assert.deepEqual([o.jsonRpc, o.reverseStream, o.grpc, o.stream], EXPECTED[kind], kind);
  }
});

test('the table names only codes that exist: JSON-RPC codes, gRPC statuses, RFC 9113 error codes', () => {
  const jsonRpc = new Set<number>(Object.values(ErrorCodes));
  const statuses = new Set<number>(Object.values(Status));
  for (const kind of FAILURE_KINDS) {
    const o = OUTCOMES[kind];
    assert.ok(jsonRpc.has(o.jsonRpc) && jsonRpc.has(o.reverseStream), kind);
    assert.ok(statuses.has(o.grpc), kind);
    assert.equal(typeof ErrorCode[o.stream], 'number', kind);
  }
});

test('classify: our errors by the kind they declare, also as the cause of a wrapper', () => {
  assert.equal(
    classify(new BrokerError('ERR_NO_CHANNEL', 'no channel can deliver this request')),
    'rejected',
  );
  assert.equal(classify(new NoRouteError('cannot deliver gRPC request')), 'noRoute');
  assert.equal(classify(new PeerDisconnectedError()), 'peerUnreachable');
  for (const kind of FAILURE_KINDS) {
    const declared = Object.assign(new Error('x'), { failure: kind });
    assert.equal(classify(declared), kind);
    assert.equal(classify(new Error('wrapped', { cause: declared })), kind);
  }
  assert.equal(
    classify(new JsonRpcClientError('ERR_JSONRPC_TIMEOUT', 'no response within 5s')),
    'deadlineExceeded',
  );
  assert.equal(
    classify(new JsonRpcClientError('ERR_JSONRPC_INVALID_RESPONSE', 'invalid JSON in response')),
    'protocolViolation',
  );
  assert.equal(
    classify(new JsonRpcClientError('ERR_JSONRPC_RESPONSE_TOO_LARGE', 'response larger')),
    'resourceExhausted',
  );
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(
    classify(new JsonRpcClientError('ERR_JSONRPC_TRANSPORT', refused.message, { cause: refused })),
    'peerUnreachable',
  );
});

test('classify: a gRPC status, ours or any number from a peer', () => {
  const expected: [number, FailureKind][] = [
    [Status.CANCELLED, 'cancelled'],
    [Status.UNKNOWN, 'backendError'],
    [Status.INVALID_ARGUMENT, 'protocolViolation'],
    [Status.DEADLINE_EXCEEDED, 'deadlineExceeded'],
    [Status.RESOURCE_EXHAUSTED, 'resourceExhausted'],
    [Status.UNIMPLEMENTED, 'protocolViolation'],
    [Status.INTERNAL, 'internal'],
    [Status.UNAVAILABLE, 'peerUnreachable'],
    [7, 'backendError'],
    [99, 'backendError'],
  ];
  for (const [status, kind] of expected) {
    assert.equal(classify(GrpcError.foreign(status, 'd')), kind, `status ${status}`);
  }
  // The text grpc-go prints for statuses we do not name stays the same.
  assert.equal(GrpcError.foreign(7, 'denied').message, 'rpc error: code = Code(7) desc = denied');
});

test('classify: HTTP/2 stream resets give the gRPC status of gRPC over HTTP/2', () => {
  const cases: [StreamError, FailureKind, number][] = [
    [
      new StreamError(ErrorCode.REFUSED_STREAM, 'connection closing', true),
      'peerUnreachable',
      Status.UNAVAILABLE,
    ],
    [
      new StreamError(ErrorCode.INTERNAL_ERROR, 'socket closed', false, true),
      'peerUnreachable',
      Status.UNAVAILABLE,
    ],
    [new StreamError(ErrorCode.CANCEL, 'reset'), 'cancelled', Status.CANCELLED],
    [new StreamError(ErrorCode.ENHANCE_YOUR_CALM, 'calm'), 'resourceExhausted', Status.RESOURCE_EXHAUSTED],
    [new StreamError(ErrorCode.PROTOCOL_ERROR, 'bad'), 'protocolViolation', Status.INTERNAL],
    [new StreamError(ErrorCode.NO_ERROR, 'early end'), 'protocolViolation', Status.INTERNAL],
    [new StreamError(ErrorCode.REFUSED_STREAM, 'reset by us'), 'protocolViolation', Status.INTERNAL],
    [new StreamError(ErrorCode.FLOW_CONTROL_ERROR, 'window'), 'protocolViolation', Status.INTERNAL],
  ];
  for (const [err, kind, status] of cases) {
    assert.equal(classify(err), kind, err.message);
    assert.equal(OUTCOMES[kind].grpc, status, err.message);
  }
});

test('classify: Node socket, DNS and TLS errors by their code, never by their message', () => {
  const codes: [string, FailureKind][] = [
    ['ECONNREFUSED', 'peerUnreachable'],
    ['ECONNRESET', 'peerUnreachable'],
    ['ECONNABORTED', 'peerUnreachable'],
    ['ETIMEDOUT', 'peerUnreachable'],
    ['EPIPE', 'peerUnreachable'],
    ['EHOSTUNREACH', 'peerUnreachable'],
    ['ENETUNREACH', 'peerUnreachable'],
    ['ENOTFOUND', 'peerUnreachable'],
    ['EAI_AGAIN', 'peerUnreachable'],
    ['ERR_SOCKET_CLOSED', 'peerUnreachable'],
    ['ERR_STREAM_DESTROYED', 'peerUnreachable'],
    ['ABORT_ERR', 'cancelled'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'unauthenticated'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'unauthenticated'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'unauthenticated'],
    ['CERT_HAS_EXPIRED', 'unauthenticated'],
    ['CERT_UNTRUSTED', 'unauthenticated'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unauthenticated'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unauthenticated'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'unauthenticated'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'unauthenticated'],
  ];
  for (const [code, kind] of codes) {
    assert.equal(kindOfNodeCode(code), kind, code);
    assert.equal(classify(Object.assign(new Error('some text'), { code })), kind, code);
  }
  assert.equal(kindOfNodeCode('EEXIST'), undefined);
  assert.equal(classify(Object.assign(new Error('x'), { code: 'EEXIST' })), 'internal');
  assert.equal(classify(new Error('connect ECONNREFUSED 127.0.0.1:1')), 'internal');
  assert.equal(classify(new Error('cannot deliver gRPC request')), 'internal');
  assert.equal(classify('a string'), 'internal');
  assert.equal(classify(undefined), 'internal');
});

test('classify: a real refused connection is an unreachable peer', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const err = await new Promise<unknown>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => reject(new Error('no connection error within 5 s')), 5000);
    socket.once('error', (e) => {
      clearTimeout(timer);
      resolve(e);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error('port unexpectedly open'));
    });
  });
  assert.equal(classify(err), 'peerUnreachable');
});

test('CodedError keeps code, message and cause; errorMessage of anything thrown', () => {
  const cause = new Error('inner');
  const e = new CodedError('ERR_X', 'outer', { cause });
  assert.equal(e.code, 'ERR_X');
  assert.equal(e.message, 'outer');
  assert.equal(e.cause, cause);
  assert.equal(new BrokerError('ERR_INVALID_ID', 'm').name, 'BrokerError');
  assert.equal(errorMessage(new Error('boom')), 'boom');
  assert.equal(errorMessage('plain'), 'plain');
  assert.equal(errorMessage(42), '42');
});
