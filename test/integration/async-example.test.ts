/**
 * The asynchronous example application (examples/eps-ls-async.ts) between real eps processes: hd-1's
 * application calls ls-1.lookup, ls-1's backend acknowledges and answers through ls-1's gateway a moment
 * later, hd-1's backend prints the answer with the application's own id. An answer that cannot reach hd-1
 * within the time to live comes back to the example's ls-1 backend as an `undelivered` notice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { answerPrinter, asyncLocations, type AnswerTiming } from '../../examples/eps-ls-async.js';
import { JsonRpcClient } from '../../src/jsonrpc/client.js';
import type { JsonHttpServer } from '../../src/jsonrpc/http-server.js';
import { gateway, rpc, STEP_MS } from '../helpers/async-flow.js';
import { CERTS, TestNetwork } from '../helpers/network.js';
import { freePort, type Running } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const HEALTH = [{ group: 'health-departments', rights: ['call'] }];
let net: TestNetwork;
const servers: JsonHttpServer[] = [];
const printed: string[] = [];
/** What the example's ls-1 backend shows (its `undelivered` notices). */
const shown: string[] = [];
const timing: AnswerTiming = { answerAfterMs: 200, ttlSeconds: 3600 };
let hd1: Running;

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
  servers.push(asyncLocations(`127.0.0.1:${lsBackend}`, lsGateway, timing, (line) => shown.push(line)));
  servers.push(answerPrinter(`127.0.0.1:${hdBackend}`, (line) => printed.push(line)));
  for (const s of servers) await s.listen();
  [hd1] = await Promise.all([net.start('hd-1'), net.start('ls-1')]);
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

test("an answer hd-1 never takes comes back to ls-1's backend as `undelivered`", async () => {
  // Acknowledged for 3 s, answered after 1.5 s: hd-1 is gone by then, the answer waits in ls-1's outbox.
  Object.assign(timing, { answerAfterMs: 1500, ttlSeconds: 3 });
  const ack = await gateway(
    net.ports.get('hd-1')!.gateway,
    'hd-1',
    rpc('ls-1.lookup', { name: 'Late' }, 'req-2'),
  );
  assert.equal(ack.status, 200, ack.text);
  await hd1.stop('SIGKILL');
  const notice = (): string | undefined =>
    shown.find((l) => l.startsWith('undelivered for id "ls-1.lookup(req-2)"'));
  await waitFor(() => notice() !== undefined, {
    timeoutMs: timing.ttlSeconds * 1000 + STEP_MS,
    what: "the undelivered notice at ls-1's backend",
  });
  assert.match(notice()!, /"caller":"hd-1".*"code":"ERR_ASYNC_UNDELIVERED"/);
});
