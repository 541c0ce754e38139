/**
 * Issue 13, /healthz and /readyz of the real `eps server run` and `proxy run public` processes: once they
 * serve, /readyz is 200 with every check named and passed, and /healthz is 200.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/processes.js';
import { TestNetwork } from '../helpers/network.js';
import { check, getHealth } from '../helpers/health-probe.js';

let net: TestNetwork;
let epsMetrics: number;

before(async () => {
  epsMetrics = await freePort();
  net = new TestNetwork([{ name: 'hd-1', grpcServer: true, metricsPort: epsMetrics }]);
  await net.prepare();
});

after(async () => {
  await net?.stop();
});

test('eps server run: /readyz names settings, listeners and the directory, all ok', async () => {
  await net.start('hd-1');
  const reply = await getHealth(epsMetrics, '/readyz');
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.deepEqual(
    reply.body.checks.map((c) => [c.name, c.ok]),
    [
      ['settings', true],
      ['listeners', true],
      ['directory', true],
    ],
  );
  assert.equal(check(reply, 'listeners').detail, '2 of 2 channels open');
  assert.match(check(reply, 'directory').detail, /^json directory loaded: \d+ entries$/);
  assert.equal((await getHealth(epsMetrics, '/healthz')).status, 200);
});

test('proxy run public: /readyz is 200 once its listeners are up', async () => {
  const ports = { tls: await freePort(), internal: await freePort(), control: await freePort() };
  const dir = net.writePublicProxy('hd-1', ports);
  const metricsPort = await freePort();
  const file = join(dir, '001_default.json');
  const settings = JSON.parse(readFileSync(file, 'utf8')) as object;
  writeFileSync(file, JSON.stringify({ ...settings, metrics: { bind_address: `127.0.0.1:${metricsPort}` } }));
  await net.startProxy('public', dir);
  const reply = await getHealth(metricsPort, '/readyz');
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.deepEqual(check(reply, 'listeners'), {
    name: 'listeners',
    ok: true,
    detail: 'public proxy listening',
  });
  assert.equal((await getHealth(metricsPort, '/healthz')).status, 200);
});
