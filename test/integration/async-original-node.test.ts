/**
 * `respond` towards an original node (docs/protocol.md#asynchronous-calls, item 3) in a mixed network: ls-1
 * is the grpc-go peer (test/interop/grpc-go, the original's gRPC stack), calling our hd-1 as an original eps
 * would and answering every call as the original answers a method it does not offer (403 "Permission
 * denied"). hd-1's backend acknowledges; hd-1's application's `respond` fails with ERR_ASYNC_NOT_CONFIRMED
 * and the request stays pending; an answer queued while ls-1 is down and refused when it is back ends as
 * an `undelivered` notice at hd-1's backend. Nothing is lost silently.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerRequest } from '../../src/async/protocol.js';
import type { JsonObject } from '../../src/core/json.js';
import { decodeResponse, encodeRequest, encodeResponse } from '../../src/grpc/codec.js';
import { asyncBackend, type AsyncBackend } from '../helpers/async-backend.js';
import { errorCode, respond, status, STEP_MS } from '../helpers/async-flow.js';
import { fileStore, type StoreSetup } from '../helpers/async-pair.js';
import { buildGrpcGoPeer, grpcGoSkip } from '../helpers/grpc-go-peer.js';
import { CERTS, TestNetwork } from '../helpers/network.js';
import { runProgram, startProgram, type Running } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const LOCATION = [{ group: 'location-services', rights: ['call'] }];

describe('respond towards an original node', { skip: grpcGoSkip }, () => {
  let dir: string;
  let peer: string;
  let store: StoreSetup;
  let backend: AsyncBackend;
  let net: TestNetwork;
  let original: Running | undefined;
  let hdPort = 0;

  /** The original ls-1: answers every call with 403, as the original answers `_respond` it does not offer. */
  const startOriginal = async (): Promise<void> => {
    const request = answerRequest('ls-1', 'hd-1.locate(7)', { result: null });
    const refusal = encodeResponse({
      id: request.id,
      error: { code: 403, message: "Permission denied for method '_respond' and client 'hd-1'" },
    });
    original = startProgram(peer, [
      ...['-mode', 'serve', '-certs', CERTS, '-port', String(net.ports.get('ls-1')!.grpc)],
      ...['-answer', Buffer.from(refusal).toString('hex')],
    ]);
    await original.waitFor(/listening \d+/);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'grpc-go-'));
    peer = buildGrpcGoPeer(dir);
    store = fileStore();
    backend = await asyncBackend();
    net = new TestNetwork([
      {
        name: 'hd-1',
        groups: ['health-departments'],
        grpcServer: true,
        grpcClient: { connect_timeout: 1 },
        backend: backend.url,
        services: [{ name: 'locations', permissions: LOCATION, methods: [{ name: 'locate' }] }],
        async: { store: store.store, outbox: { retry_initial: 0.1, retry_max: 0.5 } },
      },
      // Published in the directory; the grpc-go peer listens on its address instead of an eps.
      { name: 'ls-1', groups: ['location-services'], grpcServer: true },
    ]);
    await net.prepare();
    await net.start('hd-1');
    hdPort = net.ports.get('hd-1')!.gateway;
  });

  after(async () => {
    await original?.stop();
    await net?.stop();
    await backend?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an original node's request is acknowledged; its refusal of the answer is a clear error", async () => {
    // What an original eps sends for its application's call of hd-1.locate (the mark passes as a param).
    const call = encodeRequest({
      method: 'hd-1.locate',
      id: 'hd-1.locate(7)',
      clientName: 'ls-1',
      params: { person: 'p-7', _async: true },
    });
    const sent = await runProgram(peer, [
      ...['-mode', 'call', '-certs', CERTS, '-name', 'ls-1', '-server-name', 'hd-1'],
      ...['-address', `127.0.0.1:${net.ports.get('hd-1')!.grpc}`],
      ...['-request', Buffer.from(call).toString('hex')],
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    const ack = decodeResponse(Buffer.from(sent.stdout.trim(), 'hex'));
    assert.equal((ack.result?._async as JsonObject | undefined)?.request, 'hd-1.locate(7)', sent.stdout);

    await startOriginal();
    const refused = await respond(hdPort, 'hd-1', 'hd-1.locate(7)', { result: { lat: 1 } });
    assert.equal(errorCode(refused), 'ERR_ASYNC_NOT_CONFIRMED', refused.text);
    assert.match(
      (refused.json.error as JsonObject).message as string,
      /ls-1 did not accept the answer to hd-1\.locate\(7\): Permission denied for method '_respond'/,
    );
    // Not lost: still pending, so the application may answer again (or by another way).
    const pending = (await status(hdPort, 'hd-1', 'hd-1.locate(7)')).pending as JsonObject;
    assert.equal(pending.state, 'pending');
    assert.equal(pending.caller, 'ls-1');
  });

  test('an answer queued while the original node is down and refused later ends as `undelivered`', async () => {
    await original?.stop();
    original = undefined;
    const queued = await respond(hdPort, 'hd-1', 'hd-1.locate(7)', { result: { lat: 2 } });
    assert.deepEqual(queued.json.result, { delivered: false, queued: true, caller: 'ls-1' }, queued.text);
    await startOriginal();
    const notices = (): JsonObject[] => backend.calls('undelivered').filter((m) => m.id === 'hd-1.locate(7)');
    await waitFor(() => notices().length > 0, {
      timeoutMs: STEP_MS,
      what: "the undelivered notice at hd-1's backend",
    });
    const params = notices()[0]!.params as JsonObject;
    assert.equal(params.caller, 'ls-1');
    const error = params.error as JsonObject;
    assert.equal((error.data as JsonObject).code, 'ERR_ASYNC_NOT_CONFIRMED', JSON.stringify(params));
    assert.match(error.message as string, /Permission denied/);
  });
});
