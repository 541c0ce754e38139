/**
 * The asynchronous example application (examples/eps-ls-async.ts) between real eps processes: hd-1's
 * application calls ls-1.lookup, ls-1's backend acknowledges and answers through ls-1's gateway a moment
 * later, hd-1's backend prints the answer with the application's own id.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { answerPrinter, asyncLocations } from '../../examples/eps-ls-async.js';
import { JsonRpcClient } from '../../src/jsonrpc/client.js';
import type { JsonHttpServer } from '../../src/jsonrpc/http-server.js';
import { gateway, rpc, STEP_MS } from '../helpers/async-flow.js';
import { CERTS, TestNetwork } from '../helpers/network.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const HEALTH = [{ group: 'health-departments', rights: ['call'] }];
let net: TestNetwork;
const servers: JsonHttpServer[] = [];
const printed: string[] = [];

before(async () => {
  const [lsBackend, hdBackend] = [await freePort(), await freePort()];
  net = new TestNetwork([
    {
      name: 'hd-1',
      groups: ['health-departments'],
      grpcServer: true,
      grpcClient: true,
      backend: `http://127.0.0.1:${hdBackend}/jsonrpc`,
    },
    {
      name: 'ls-1',
      groups: ['location-services'],
      grpcServer: true,
      grpcClient: true,
      backend: `http://127.0.0.1:${lsBackend}/jsonrpc`,
      services: [{ name: 'locations', permissions: HEALTH, methods: [{ name: 'lookup' }] }],
    },
  ]);
  await net.prepare();
  const lsGateway = new JsonRpcClient(
    {
      endpoint: `https://127.0.0.1:${net.ports.get('ls-1')!.gateway}/jsonrpc`,
      tls: {
        ca_certificate_files: [join(CERTS, 'root.crt')],
        certificate_file: join(CERTS, 'ls-1.crt'),
        key_file: join(CERTS, 'ls-1.key'),
      },
      timeout: 10,
    },
    { serverName: 'ls-1' },
  );
  servers.push(asyncLocations(`127.0.0.1:${lsBackend}`, lsGateway, 200));
  servers.push(answerPrinter(`127.0.0.1:${hdBackend}`, (line) => printed.push(line)));
  for (const s of servers) await s.listen();
  await Promise.all([net.start('hd-1'), net.start('ls-1')]);
});

after(async () => {
  await net?.stop();
  for (const s of servers) await s.close();
});

test('lookup is acknowledged at once and answered with respond a moment later', async () => {
  const port = net.ports.get('hd-1')!.gateway;
  const ack = await gateway(port, 'hd-1', rpc('ls-1.lookup', { name: 'Ginos' }, 'req-1'));
  assert.equal(ack.status, 200, ack.text);
  assert.deepEqual((ack.json.result as { _async: object })._async, {
    ttl: 3600,
    request: 'ls-1.lookup(req-1)',
  });
  await waitFor(() => printed.length > 0, { timeoutMs: STEP_MS, what: 'the answer at hd-1' });
  assert.match(
    printed[0]!,
    /^respond for id "req-1": \{"result":\{"name":"Ginos","id":"loc-5"\},"request":"ls-1\.lookup\(req-1\)"\}$/,
  );
});
