/**
 * Real processes end to end: `sd run` (file store) filled with `eps sd submit-records`, two `eps server run`
 * nodes (hd-1 → op-1 over gRPC) using the api directory. Routing keeps working while the SD is stopped, and
 * records submitted after the SD restarts reach both nodes without restarting them. A node restarted while the
 * SD is down routes at once with the verified chain of its `state_file`.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { CERTS, gatewayRequest, TestNetwork } from '../helpers/network.js';
import { freePort, runProgram, startProgram, type Running } from '../helpers/processes.js';
import { apiSettings } from '../helpers/records-server.js';
import { waitFor } from '../helpers/wait.js';

const POLL_MS = 200;
const PICK_UP_TIMEOUT_MS = 20_000;

const everyone = [{ group: 'health-departments', rights: ['call'] }];
let net: TestNetwork;
let backend: http.Server;
let sd: Running | undefined;
let sdSettings = '';
let submitter = '';
let sdUrl = '';
/** hd-1 as started by the first test (the second one restarts it). */
let firstHd1: Running | undefined;

const call = (method: string): JsonObject => ({ jsonrpc: '2.0', method, params: {}, id: '1' });

async function startSd(): Promise<Running> {
  const p = startProgram('sd', ['run'], { SD_SETTINGS: sdSettings });
  await p.waitFor(/Waiting for CTRL-C/);
  return p;
}

function writeJson(path: string, value: unknown): string {
  writeFileSync(path, JSON.stringify(value));
  return path;
}

before(async () => {
  backend = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as { method: string };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: `op-1 did ${msg.method}` }));
    });
  });
  backend.listen(0, '127.0.0.1');
  await new Promise((r) => backend.once('listening', r));

  net = new TestNetwork([
    { name: 'hd-1', groups: ['health-departments'], grpcClient: true, grpcServer: true },
    {
      name: 'op-1',
      groups: ['operators'],
      grpcServer: true,
      backend: `http://127.0.0.1:${(backend.address() as AddressInfo).port}/jsonrpc`,
      services: [{ name: 'echo', permissions: everyone, methods: [{ name: 'a' }] }],
      order: ['jsonrpc_client', 'grpc_server', 'jsonrpc_server'],
    },
  ]);
  await net.prepare();

  const sdPort = await freePort();
  sdUrl = `https://127.0.0.1:${sdPort}/jsonrpc`;
  sdSettings = join(net.dir, 'sd');
  mkdirSync(sdSettings);
  writeJson(join(sdSettings, '001.json'), {
    jsonrpc_server: {
      bind_address: `127.0.0.1:${sdPort}`,
      tls: {
        ca_certificate_files: [join(CERTS, 'root.crt')],
        certificate_file: join(CERTS, 'sd-1.crt'),
        key_file: join(CERTS, 'sd-1.key'),
      },
    },
    directory: {
      datastore: { type: 'file', settings: { filename: join(net.dir, 'sd-data', 'records') } },
      ca_certificate_files: [join(CERTS, 'root.crt')],
      ca_intermediate_certificate_files: [join(CERTS, 'intermediate.crt')],
    },
  });

  // Both nodes switch from the generated json directory to the api directory (refresh every second).
  for (const name of ['hd-1', 'op-1']) {
    const file = join(net.settingsDir(name), '001_default.json');
    const settings = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
    settings.directory = {
      type: 'api',
      settings: apiSettings(
        [sdUrl],
        { cache_entries_for: 1, state_file: join(net.dir, `${name}.directory.jsonl`) },
        5,
        name,
      ) as unknown as JsonObject,
    };
    writeJson(file, settings);
  }
  submitter = join(net.dir, 'submitter');
  mkdirSync(submitter);
  writeJson(join(submitter, '001.json'), {
    name: 'hd-1',
    channels: [],
    directory: { type: 'api', settings: apiSettings([sdUrl]) },
    signing: {
      certificate_file: join(CERTS, 'hd-1-sign.crt'),
      key_file: join(CERTS, 'hd-1-sign.key'),
      ca_certificate_file: join(CERTS, 'root.crt'),
      ca_intermediate_certificate_files: [join(CERTS, 'intermediate.crt')],
    },
  });
});

after(async () => {
  await sd?.stop();
  await net?.stop();
  backend?.close();
});

async function submit(args: string[]): Promise<void> {
  const r = await runProgram('eps', ['sd', 'submit-records', ...args], { EPS_SETTINGS: submitter });
  assert.equal(r.code, 0, r.stderr);
}

test('eps routes with the api directory, also while the SD is down, and picks up records after it restarts', async () => {
  sd = await startSd();
  await submit([
    '--reset',
    join(net.dir, 'directory/001_base.json'),
    join(net.dir, 'directory/002_certificates.json'),
  ]);
  const entries = await runProgram('eps', ['sd', 'get-entries', '--name', 'op-1'], {
    EPS_SETTINGS: submitter,
  });
  assert.equal(entries.code, 0, entries.stderr);
  assert.deepEqual(
    (JSON.parse(entries.stdout) as DirectoryEntry[]).map((e) => e.services.map((s) => s.name)),
    [['echo']],
  );

  const op1 = await net.start('op-1');
  const hd1 = await net.start('hd-1');
  firstHd1 = hd1;
  const port = net.ports.get('hd-1')!.gateway;
  const first = await gatewayRequest(port, call('op-1.a'));
  assert.equal(first.status, 200, `${first.text}\nop-1:\n${op1.output()}\nhd-1:\n${hd1.output()}`);
  assert.equal(first.json.result, 'op-1 did a');
  const notYet = await gatewayRequest(port, call('op-1.b'));
  assert.notEqual(notYet.status, 200, 'method b is not offered yet');

  await sd.stop();
  sd = undefined;
  await hd1.waitFor(/service directory refresh failed; keeping the last verified state/);
  const whileDown = await gatewayRequest(port, call('op-1.a'));
  assert.equal(whileDown.status, 200, whileDown.text);
  assert.equal(whileDown.json.result, 'op-1 did a');

  sd = await startSd();
  const newer = writeJson(join(net.dir, 'b.json'), {
    records: [
      {
        name: 'op-1',
        section: 'services',
        data: [{ name: 'echo', permissions: everyone, methods: [{ name: 'a' }, { name: 'b' }] }],
        created_at: '2021-05-17T10:00:00Z',
      },
    ],
  });
  await submit([newer]);

  // Both nodes refresh by themselves; poll the observable effect (another process's internal event).
  let reply: Awaited<ReturnType<typeof gatewayRequest>> | undefined;
  await waitFor(
    async () => {
      reply = await gatewayRequest(port, call('op-1.b'));
      return reply.status === 200;
    },
    { timeoutMs: PICK_UP_TIMEOUT_MS, what: 'op-1.b to be callable after the refresh', intervalMs: POLL_MS },
  );
  assert.equal(reply?.json.result, 'op-1 did b');
  assert.match(hd1.output(), /service directory refresh works again/);
});

test('a node restarted while the SD is down routes with its state file at once', async () => {
  assert.ok(sd, 'the previous test left the SD running');
  assert.equal(await sd.stop(), 0, 'the sd stops cleanly on SIGTERM');
  sd = undefined;
  assert.ok(firstHd1);
  await firstHd1.stop();
  const hd1 = await net.start('hd-1');
  assert.match(hd1.output(), /directory state loaded and verified/);
  // The very first call after the node listens routes with the loaded chain, including the newer record.
  const reply = await gatewayRequest(net.ports.get('hd-1')!.gateway, call('op-1.b'));
  assert.equal(reply.status, 200, `${reply.text}\nhd-1:\n${hd1.output()}`);
  assert.equal(reply.json.result, 'op-1 did b');
});
