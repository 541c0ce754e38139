/**
 * Real eps processes (ls-1, op-2) called over gRPC by an independent client (@grpc/grpc-js) with
 * generated certificates: the gRPC service of docs/protocol.md#grpc-service (pinning, claimed names, ids,
 * message size).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import { CERTS } from '../helpers/network.js';
import { foreignCall, foreignClient, fromStruct } from '../helpers/grpc-foreign.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { startLocationsNetwork, type LocationsNetwork } from '../helpers/eps-network-fixture.js';
import type { JsonObject } from '../../src/core/json.js';

describe('eps network: gRPC from an independent client (@grpc/grpc-js)', () => {
  let network: LocationsNetwork;
  let net: LocationsNetwork['net'];
  let lsGrpc = 0;

  before(async () => {
    network = await startLocationsNetwork(['ls-1', 'op-2']);
    ({ net, lsGrpc } = network);
  });

  after(async () => {
    await network?.stop();
  });

  test('Call with a valid pinned certificate (checklist 26, 30)', async () => {
    const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
    const reply = await foreignCall(c, {
      method: 'ls-1._ping',
      id: 'ls-1._ping(1)',
      clientName: 'hd-1',
      params: {},
    });
    c.close();
    assert.equal(reply.id, 'ls-1._ping(1)');
    const result = fromStruct(reply.result);
    assert.equal(((result.params as JsonObject)._client as JsonObject).name, 'hd-1');
    assert.equal((result.serverInfo as JsonObject).name, 'ls-1');
  });

  test('permission denied is a response with code 403 and no data (checklist 27)', async () => {
    const c = foreignClient(lsGrpc, CERTS, 'op-1', 'ls-1');
    const reply = await foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'op-1' });
    c.close();
    assert.equal(reply.error?.code, 403);
    assert.equal(reply.error?.message, "Permission denied for method '_ping' and client 'op-1'");
    assert.equal(reply.error?.data, undefined);
  });

  test('a claimed name not on the certificate fails with "no matching client" (checklist 28)', async () => {
    const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
    await assert.rejects(
      foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'op-1' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNKNOWN && e.details === 'no matching client',
    );
    const ok = await foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: '' });
    assert.equal(((fromStruct(ok.result).params as JsonObject)._client as JsonObject).name, 'hd-1');
    c.close();
  });

  test('unparsable ids and method/id mismatch are refused (checklist 29, weak point S1)', async () => {
    const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
    await assert.rejects(
      foreignCall(c, { method: 'ls-1.add', id: 'ls-1.add()', clientName: 'hd-1' }),
      (e: grpc.ServiceError) =>
        e.code === grpc.status.UNKNOWN &&
        e.details === 'error handling gRPC request: error parsing address: invalid ID format',
    );
    await assert.rejects(
      foreignCall(c, { method: 'ls-1.dropTables', id: 'ls-1.add(1)', clientName: 'hd-1', params: {} }),
      (e: grpc.ServiceError) =>
        e.code === grpc.status.UNKNOWN && /does not match the addressed ID/.test(e.details),
    );
    c.close();
  });

  test('a valid certificate that is not pinned, or from another CA, fails (checklist 32)', async () => {
    const alt = foreignClient(lsGrpc, CERTS, 'hd-1-alt', 'ls-1');
    await assert.rejects(
      foreignCall(alt, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'hd-1' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
    );
    alt.close();
    const dev = join(REPO_ROOT, 'settings/dev/certs');
    const other = foreignClient(lsGrpc, dev, 'hd-1', 'ls-1');
    await assert.rejects(
      foreignCall(other, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'hd-1' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
    );
    other.close();
  });

  test('messages over 4 MiB are rejected with RESOURCE_EXHAUSTED (checklist 34)', async () => {
    const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
    await assert.rejects(
      foreignCall(c, {
        method: 'ls-1._ping',
        id: 'ls-1._ping(1)',
        clientName: 'hd-1',
        params: { big: 'x'.repeat(4_300_000) },
      }),
      (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED,
    );
    const ok = await foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'hd-1' });
    assert.equal(ok.id, 'ls-1._ping(1)');
    c.close();
  });

  test('a local delivery without response yields only the id (checklist 31)', async () => {
    const c = foreignClient(net.ports.get('op-2')!.grpc, CERTS, 'hd-1', 'op-2');
    const reply = await foreignCall(c, {
      method: 'op-2.print',
      id: 'op-2.print(1)',
      clientName: 'hd-1',
      params: {},
    });
    c.close();
    assert.equal(reply.id, 'op-2.print(1)');
    assert.equal(reply.result, undefined);
    assert.equal(reply.error, undefined);
  });
});
