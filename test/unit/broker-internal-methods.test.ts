/** The methods the broker answers itself (_ping, _directory, _connectionRequest), on the shared fixture. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../src/core/messages.js';
import { broker, FakeChannel, OWN, rejectsWith, request } from '../helpers/broker-fixture.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import type { JsonObject } from '../../src/core/json.js';

test('_ping is answered by the broker with the local ID, the params and the own entry', async () => {
  const channel = new FakeChannel('jsonrpc_client', [OWN, 'ls-1']);
  const b = broker(channel);
  const response = await b.deliver(
    request('eps-1._ping(p1)', { hello: 'x' }),
    { name: 'hd-1' },
    unboundedScope(),
  );
  assert.equal(response?.id, 'p1');
  const result = response?.result as JsonObject;
  assert.equal(typeof result.version, 'string');
  assert.equal(typeof result.timestamp, 'string');
  assert.equal((result.params as JsonObject).hello, 'x');
  assert.equal((result.serverInfo as JsonObject).name, OWN);
  assert.equal('records' in (result.serverInfo as JsonObject), false);
  assert.equal(channel.delivered.length, 0);
  // Only the addressed operator answers: a _ping for another operator goes out through a channel.
  await b.deliver(request('ls-1._ping(p2)'), { name: OWN }, unboundedScope());
  assert.equal(channel.delivered.length, 1);
});

test('internal methods are permission-checked like any other', async () => {
  const response = await broker().deliver(request('eps-1._ping(p1)'), { name: 'xx-1' }, unboundedScope());
  assert.equal(response?.error?.code, ErrorCodes.permissionDenied);
});

test('_directory returns the entries matching the query; bad query fields are broker errors', async () => {
  const b = broker(new FakeChannel('jsonrpc_client', []));
  const response = await b.deliver(
    request('eps-1._directory(d)', { group: 'health-departments' }),
    { name: OWN },
    unboundedScope(),
  );
  assert.equal(response?.id, 'd');
  const names = (response?.result?.entries as JsonObject[]).map((e) => e.name);
  assert.deepEqual(names, ['hd-1', 'ls-1']);
  await rejectsWith(
    b.deliver(request('eps-1._directory(d)', { group: 5 }), { name: OWN }, unboundedScope()),
    'error handling internal request: invalid input data: group(expected a string)',
  );
});

test('_connectionRequest goes to the channel that accepts it, with the authenticated caller', async () => {
  const refusing = new FakeChannel('grpc_client', []);
  const accepting = new FakeChannel('grpc_server', []);
  accepting.acceptConnectionRequests = true;
  const b = broker(refusing, accepting);
  const params = {
    channel: 'grpc_server',
    endpoint: 'ep',
    token: Buffer.from('token').toString('base64'),
    client: { name: 'hd-1', entry: { name: 'hd-1', channels: [] } },
    _client: { name: 'forged' },
  };
  assert.equal(
    await b.deliver(request('eps-1._connectionRequest(c)', params), { name: 'hd-1' }, unboundedScope()),
    null,
  );
  assert.equal(refusing.connectionRequests.length, 1);
  const accepted = accepting.connectionRequests[0]!;
  assert.equal(accepted.caller, 'hd-1');
  assert.equal(accepted.token.toString(), 'token');
  refusing.acceptConnectionRequests = false;
  accepting.acceptConnectionRequests = false;
  await rejectsWith(
    b.deliver(request('eps-1._connectionRequest(c)', params), { name: 'hd-1' }, unboundedScope()),
    'error handling internal request: no channel accepted the request',
  );
  await rejectsWith(
    b.deliver(
      request('eps-1._connectionRequest(c)', { ...params, token: 'not base64!' }),
      { name: 'hd-1' },
      unboundedScope(),
    ),
    /^error handling internal request: invalid input data: token\(illegal base64 data at input byte/,
  );
});
