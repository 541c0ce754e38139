/**
 * The documented networks verbatim: `npm run demo -- --once --all` starts the seed's P2P network with the
 * dev settings on the documented ports (sd-1, public-proxy-1 and -2, hd-1, hd-2, public-proxy-eps-1 and -2),
 * runs the sd setup, pings hd-2 through hd-1's gateway, also runs the getting-started and private-proxy demos,
 * pings hd-2 once more with public-proxy-1 stopped (through public-proxy-2), and reaches the private
 * proxy's domain through public-proxy-2's TLS port.
 * The fixed dev ports are shared with the other dev-network tests through lockDevPorts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/processes.js';
import { lockDevPorts } from '../helpers/dev-ports-lock.js';

test('npm run demo -- --once --all succeeds and prints every answer', { timeout: 540_000 }, async (t) => {
  t.after(await lockDevPorts());
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/src/demo/demo.js'), '--once', '--all'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), 200_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, `demo failed:\n${stderr}`);
  // The seed's ping: hd-2 answered through the proxy, with hd-1 as the authenticated caller.
  const answers = stdout.split(/\n(?=\{)/).map((t) => JSON.parse(t) as Record<string, unknown>);
  const ping = answers[0] as {
    result: {
      serverInfo: { name: string };
      params: { _client: { name: string } };
      version: string;
      timestamp: string;
    };
  };
  assert.equal(ping.result.serverInfo.name, 'hd-2');
  assert.equal(ping.result.params._client.name, 'hd-1');
  assert.equal(typeof ping.result.version, 'string');
  assert.equal(typeof ping.result.timestamp, 'string');
  assert.deepEqual(answers[1], { jsonrpc: '2.0', result: 'ok', id: '2' });
  assert.deepEqual(answers[2], { jsonrpc: '2.0', result: { name: 'Ginos', id: 'af5ca4da5caa' }, id: '3' });
  assert.deepEqual(answers[3], { jsonrpc: '2.0', result: 'ok', id: '4' });
  assert.deepEqual(answers[4], { message: 'success' });
  const failover = answers[5] as typeof ping & { id: string };
  assert.equal(failover.id, '5');
  assert.equal(failover.result.serverInfo.name, 'hd-2');
  assert.match(stderr, /hd-2\._ping again with public-proxy-1 stopped: through public-proxy-2 \(HTTP 200\)/);
  // The private proxy's domain, announced to public-proxy-2 too, answers on its TLS port.
  assert.deepEqual(answers[6], { jsonrpc: '2.0', result: 'ok', id: '6' });
  assert.deepEqual(answers[7], { message: 'success' });
  assert.match(stderr, /--resolve test\.internal-server\.local:4434:127\.0\.0\.1/);
  assert.match(
    stderr,
    /curl --cert settings\/dev\/certs\/hd-1\.crt .*--resolve hd-1:5555:127\.0\.0\.1 https:\/\/hd-1:5555\/jsonrpc/,
  );
  assert.match(
    stderr,
    /curl --cacert settings\/dev\/certs\/root\.crt --resolve test\.internal-server\.local:4433:127\.0\.0\.1/,
  );
});
