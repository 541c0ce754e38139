/**
 * Pinning is re-checked on every call, not only when a connection opens: pooled sessions and reverse
 * streams live long, so a certificate that the directory stops pinning must stop working at once (the
 * original opened a new connection per call and got this for free).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatewayRequest, TestNetwork } from '../helpers/network.js';
import type { Running } from '../helpers/processes.js';
import type { JsonObject } from '../../src/core/json.js';

const everyone = [{ group: 'health-departments', rights: ['call'] }];
const ping = { jsonrpc: '2.0', method: 'ls-1._ping', params: {}, id: 1 };

describe('revoking a certificate in the directory', () => {
  let net: TestNetwork;
  let hd1: Running;
  let ls1: Running;
  let file = '';
  let original = '';

  before(async () => {
    net = new TestNetwork([
      { name: 'hd-1', groups: ['health-departments'], grpcClient: true },
      {
        name: 'ls-1',
        groups: ['location-services'],
        grpcServer: true,
        services: [{ name: 'internals', permissions: everyone, methods: [{ name: '_ping' }] }],
      },
    ]);
    await net.prepare();
    hd1 = await net.start('hd-1');
    ls1 = await net.start('ls-1');
    file = join(net.dir, 'directory/002_certificates.json');
    original = readFileSync(file, 'utf8');
  });

  after(async () => {
    await net?.stop();
  });

  /** Writes the certificate records and waits until both nodes have reloaded their directory. */
  async function rewrite(content: string): Promise<void> {
    const reloads = (p: Running): number => (p.output().match(/entries reloaded/g) ?? []).length;
    const counts = [reloads(hd1), reloads(ls1)];
    writeFileSync(file, content);
    await hd1.waitFor(new RegExp(`(entries reloaded[\\s\\S]*){${counts[0]! + 1}}`));
    await ls1.waitFor(new RegExp(`(entries reloaded[\\s\\S]*){${counts[1]! + 1}}`));
  }

  /** Replaces `name`'s encryption fingerprint in the directory. */
  async function unpin(name: string): Promise<void> {
    const records = JSON.parse(original) as {
      records: { name: string; data: { key_usage: string; fingerprint: string }[] }[];
    };
    for (const r of records.records) {
      if (r.name !== name) continue;
      for (const c of r.data) if (c.key_usage === 'encryption') c.fingerprint = 'ab'.repeat(32);
    }
    await rewrite(JSON.stringify(records));
  }

  async function restore(): Promise<void> {
    await rewrite(original);
    assert.equal((await gatewayRequest(net.ports.get('hd-1')!.gateway, ping)).status, 200);
  }

  test('the caller drops a pooled session whose server certificate is no longer pinned', async () => {
    const port = net.ports.get('hd-1')!.gateway;
    assert.equal((await gatewayRequest(port, ping)).status, 200);
    await unpin('ls-1');
    const r = await gatewayRequest(port, ping);
    assert.equal(r.status, 400);
    assert.match(
      (r.json.error as JsonObject).message as string,
      /peer 'ls-1' refused \(ERR_CERT_PEER_NOT_PINNED\)/,
    );
    await restore();
  });

  test('the callee refuses calls on an open connection once the caller is no longer pinned', async () => {
    const port = net.ports.get('hd-1')!.gateway;
    assert.equal((await gatewayRequest(port, ping)).status, 200);
    await unpin('hd-1');
    const r = await gatewayRequest(port, ping);
    assert.equal(r.status, 400);
    assert.match((r.json.error as JsonObject).message as string, /code = Unavailable/);
    await ls1.waitFor(/TLS peer refused.*code=ERR_CERT_PEER_NOT_PINNED.*session=open/);
    await restore();
  });
});
