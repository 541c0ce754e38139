/**
 * Asynchronous calls between real eps processes over direct gRPC (docs/protocol.md#asynchronous-calls):
 * ls-1's backend acknowledges, ls-1's application answers later with `respond`, hd-1's backend receives
 * `respond` with its application's own id. Forged, repeated, unknown and expired answers are refused and
 * change nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CERTS, TestNetwork } from '../helpers/network.js';
import { asyncBackend, type AsyncBackend } from '../helpers/async-backend.js';
import {
  callAcknowledged,
  errorCode,
  gateway,
  respond,
  respondsFor,
  rpc,
  status,
  STEP_MS,
} from '../helpers/async-flow.js';
import { foreignCall, foreignClient, fromStruct } from '../helpers/grpc-foreign.js';
import { waitFor } from '../helpers/wait.js';
import type { JsonObject } from '../../src/core/json.js';

const HEALTH = [{ group: 'health-departments', rights: ['call'] }];

describe('asynchronous calls over direct gRPC', () => {
  let net: TestNetwork;
  let hdBackend: AsyncBackend;
  let lsBackend: AsyncBackend;
  let hdPort = 0;
  let lsPort = 0;

  before(async () => {
    hdBackend = await asyncBackend();
    lsBackend = await asyncBackend();
    net = new TestNetwork([
      {
        name: 'hd-1',
        groups: ['health-departments'],
        grpcServer: true,
        grpcClient: true,
        backend: hdBackend.url,
      },
      {
        name: 'ls-1',
        groups: ['location-services'],
        grpcServer: true,
        grpcClient: true,
        backend: lsBackend.url,
        services: [{ name: 'locations', permissions: HEALTH, methods: [{ name: 'locate' }] }],
      },
      // Only an identity (never started): the third operator that forges an answer.
      { name: 'op-1', groups: ['health-departments'], grpcServer: true },
    ]);
    await net.prepare();
    await Promise.all([net.start('hd-1'), net.start('ls-1')]);
    hdPort = net.ports.get('hd-1')!.gateway;
    lsPort = net.ports.get('ls-1')!.gateway;
  });

  after(async () => {
    await net?.stop();
    await hdBackend?.close();
    await lsBackend?.close();
  });

  test("acknowledged now, answered later: hd-1's backend gets respond with its own id, once", async () => {
    const ack = await callAcknowledged(hdPort, 'hd-1', 'ls-1.locate', 41);
    assert.equal((ack._async as JsonObject).request, 'ls-1.locate(n:41)');
    const delivered = lsBackend.calls('locate').find((m) => m.id === 'ls-1.locate(n:41)');
    const params = delivered?.params as JsonObject;
    assert.equal((params._client as JsonObject).name, 'hd-1');
    assert.deepEqual(params._caller, params._client);

    const answered = await respond(lsPort, 'ls-1', 'ls-1.locate(n:41)', { result: { lat: 52.5 } });
    assert.equal(answered.status, 200, answered.text);
    assert.deepEqual(answered.json.result, { delivered: true, caller: 'hd-1' });
    const [got] = await respondsFor(hdBackend, 41);
    const p = got!.params as JsonObject;
    assert.deepEqual(p.result, { lat: 52.5 });
    assert.equal(p.request, 'ls-1.locate(n:41)');
    assert.equal((p._client as JsonObject).name, 'ls-1');
    assert.equal((await status(hdPort, 'hd-1', 'ls-1.locate(n:41)')).awaited !== null, true);
  });

  test('a second respond is refused and nothing reaches hd-1 again', async () => {
    await callAcknowledged(hdPort, 'hd-1', 'ls-1.locate', 'second');
    const first = await respond(lsPort, 'ls-1', 'ls-1.locate(second)', { result: 1 });
    assert.equal(first.status, 200, first.text);
    const again = await respond(lsPort, 'ls-1', 'ls-1.locate(second)', { result: 2 });
    assert.equal(errorCode(again), 'ERR_ASYNC_ALREADY_ANSWERED', again.text);
    const got = await respondsFor(hdBackend, 'second');
    assert.equal(got.length, 1);
    assert.equal((got[0]!.params as JsonObject).result, 1);
  });

  test('respond to an unknown id, or without a string id, is a clear error', async () => {
    const unknown = await respond(lsPort, 'ls-1', 'ls-1.locate(never)', { result: 1 });
    assert.equal(errorCode(unknown), 'ERR_ASYNC_UNKNOWN_ID', unknown.text);
    assert.match((unknown.json.error as JsonObject).message as string, /no request ls-1\.locate\(never\)/);
    const numeric = await gateway(lsPort, 'ls-1', rpc('respond', { result: 1 }, 5));
    assert.equal(errorCode(numeric), 'ERR_ASYNC_INVALID', numeric.text);
  });

  test('an answer forged by a third operator is refused; the real one still arrives', async () => {
    await callAcknowledged(hdPort, 'hd-1', 'ls-1.locate', 'forge-me');
    const c = foreignClient(net.ports.get('hd-1')!.grpc, CERTS, 'op-1', 'hd-1');
    const forged = await foreignCall(c, {
      method: 'hd-1._respond',
      id: 'hd-1._respond(x)',
      clientName: 'op-1',
      params: { id: 'ls-1.locate(forge-me)', result: 'fake' },
    });
    // The identity comes from TLS only: naming ls-1 as the client, or as `_client`/`_caller` in the
    // params, does not make op-1's answer ls-1's.
    await assert.rejects(
      foreignCall(c, {
        method: 'hd-1._respond',
        id: 'hd-1._respond(y)',
        clientName: 'ls-1',
        params: { id: 'ls-1.locate(forge-me)', result: 'fake' },
      }),
      /no matching client/,
    );
    const spoofed = await foreignCall(c, {
      method: 'hd-1._respond',
      id: 'hd-1._respond(z)',
      clientName: 'op-1',
      params: {
        id: 'ls-1.locate(forge-me)',
        result: 'fake',
        _client: { name: 'ls-1' },
        _caller: { name: 'ls-1' },
      },
    });
    c.close();
    assert.equal(forged.error?.code, 403, JSON.stringify(forged));
    assert.equal(fromStruct(forged.error?.data).code, 'ERR_ASYNC_NOT_RECIPIENT');
    assert.equal(fromStruct(spoofed.error?.data).code, 'ERR_ASYNC_NOT_RECIPIENT', JSON.stringify(spoofed));
    // Applications may not send the reserved method either.
    const direct = await gateway(
      hdPort,
      'hd-1',
      rpc('hd-1._respond', { id: 'ls-1.locate(forge-me)', result: 2 }, 1),
    );
    assert.equal(errorCode(direct), 'ERR_ASYNC_RESERVED', direct.text);
    assert.equal(hdBackend.calls('respond').filter((m) => m.id === 'forge-me').length, 0);

    const real = await respond(lsPort, 'ls-1', 'ls-1.locate(forge-me)', {
      error: { code: 5, message: 'unknown person' },
    });
    assert.equal(real.status, 200, real.text);
    const [got] = await respondsFor(hdBackend, 'forge-me');
    assert.deepEqual((got!.params as JsonObject).error, { code: 5, message: 'unknown person' });
  });

  test("a third operator reusing hd-1's request id reads, replaces and wipes nothing of hd-1's", async () => {
    const id = 'ls-1.locate(reused)';
    const ack = await gateway(hdPort, 'hd-1', rpc('ls-1.locate', { person: 'p', _async: true }, 'reused'));
    assert.equal((ack.json.result as JsonObject)?.for, 'hd-1', ack.text);
    const lsGrpc = net.ports.get('ls-1')!.grpc;
    // The same id, marked, from op-1 (real TLS with op-1's certificate): its own first arrival, not a
    // repeat of hd-1's (which would hand it hd-1's remembered answer).
    const c = foreignClient(lsGrpc, CERTS, 'op-1', 'ls-1');
    const call = (clientName: string) =>
      foreignCall(c, { method: 'ls-1.locate', id, clientName, params: { person: 'q', _async: true } });
    try {
      const other = await call('op-1');
      assert.equal(fromStruct(other.result).for, 'op-1', JSON.stringify(other));
      // Claiming hd-1's name in the message is refused: the identity is op-1's certificate.
      await assert.rejects(call('hd-1'), /no matching client/);
    } finally {
      c.close();
    }
    assert.equal(lsBackend.calls('locate').filter((m) => m.id === id).length, 2, 'once per operator');
    // hd-1's memory is intact: its repeat is answered from it and does not reach ls-1's backend again.
    const h = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
    try {
      const repeat = await foreignCall(h, {
        method: 'ls-1.locate',
        id,
        clientName: 'hd-1',
        params: { _async: true },
      });
      assert.equal(fromStruct(repeat.result).for, 'hd-1', JSON.stringify(repeat));
    } finally {
      h.close();
    }
    assert.equal(lsBackend.calls('locate').filter((m) => m.id === id).length, 2);
    // Two callers wait under the id: respond names the one it answers; hd-1 gets its answer once.
    const vague = await respond(lsPort, 'ls-1', id, { result: 1 });
    assert.equal(errorCode(vague), 'ERR_ASYNC_INVALID', vague.text);
    const answered = await respond(lsPort, 'ls-1', id, { result: 'for hd-1', caller: 'hd-1' });
    assert.deepEqual(answered.json.result, { delivered: true, caller: 'hd-1' }, answered.text);
    const [got] = await respondsFor(hdBackend, 'reused');
    assert.equal((got!.params as JsonObject).result, 'for hd-1');
    const mine = await gateway(lsPort, 'ls-1', rpc('_status', { id, caller: 'op-1' }, 1));
    assert.equal(((mine.json.result as JsonObject).pending as JsonObject).state, 'pending');
    // `delivered: true` came after hd-1's eps handed the answer over: nothing more is on its way.
    assert.equal(hdBackend.calls('respond').filter((m) => m.id === 'reused').length, 1);
  });

  test("after the time to live: respond is refused and hd-1's backend gets the expiry as an error", async () => {
    lsBackend.ackTtl = 0.3;
    try {
      await callAcknowledged(hdPort, 'hd-1', 'ls-1.locate', 'short');
    } finally {
      lsBackend.ackTtl = undefined;
    }
    await waitFor(
      async () =>
        ((await status(lsPort, 'ls-1', 'ls-1.locate(short)')).pending as JsonObject).state === 'expired',
      {
        timeoutMs: STEP_MS,
        what: 'the pending request to expire',
      },
    );
    const late = await respond(lsPort, 'ls-1', 'ls-1.locate(short)', { result: 'late' });
    assert.equal(errorCode(late), 'ERR_ASYNC_EXPIRED', late.text);
    const [got] = await respondsFor(hdBackend, 'short');
    const error = (got!.params as JsonObject).error as JsonObject;
    assert.equal((error.data as JsonObject).code, 'ERR_ASYNC_EXPIRED');
    assert.match(error.message as string, /no answer from ls-1/);
  });
});
