/**
 * A real `sd run` process with the file store: the five methods and their shapes, resets and best-chain
 * selection, every bad input of issue 3 (store unchanged after each), restarts, metrics
 * [docs/protocol.md#sd-api].
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { certificateFingerprint } from '../../src/records/index.js';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import { freePort } from '../helpers/processes.js';
import { sdBed, startFileSd, type SdBed } from '../helpers/sd-file-store.js';
import {
  change,
  copy,
  DEV_CERTS,
  expiredSigner,
  loadSigner,
  sign,
  startSd,
  type RunningSd,
  type Signer,
} from '../helpers/sd-harness.js';

const ENTRY_KEYS = [
  'name',
  'groups',
  'channels',
  'services',
  'certificates',
  'settings',
  'preferences',
  'records',
  'properties',
];
const MAX_BODY = 64 * 1024;

describe('sd run (file store)', () => {
  let bed: SdBed;
  let storeFile: string;
  let settings: string;
  let sd: RunningSd;
  let admin: Signer;
  let metricsPort: number;

  before(async () => {
    bed = await sdBed('sd-api');
    admin = bed.admin;
    metricsPort = await freePort();
    const started = await startFileSd(bed.dir, 'data', { maxBodyBytes: MAX_BODY, metricsPort });
    ({ store: storeFile, settings } = started);
    sd = started;
  });

  after(async () => {
    await sd?.stop();
    await bed?.cleanup();
  });

  /** Submits and asserts "ok". */
  async function submit(records: SignedChangeRecord[]): Promise<void> {
    const reply = await sd.client.call('submitRecords', { records: records as never });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.result, 'ok');
  }

  async function tipHash(): Promise<string> {
    const tip = (await sd.client.result('getTip')) as SignedChangeRecord | undefined;
    return tip?.hash ?? '';
  }

  /** Submits, expects a -32603 rejection matching `message`, and checks nothing changed. */
  async function rejected(records: unknown[], message: RegExp, code = -32603): Promise<void> {
    const before = await sd.client.records();
    const size = statSync(storeFile).size;
    const reply = await sd.client.call('submitRecords', { records: records as never });
    assert.equal(reply.status, 400);
    const error = reply.body.error as { code: number; message: string };
    assert.equal(error.code, code, JSON.stringify(error));
    assert.match(error.message, message);
    assert.deepEqual(await sd.client.records(), before, 'served records unchanged');
    assert.equal(statSync(storeFile).size, size, 'store file unchanged');
  }

  test('an empty directory: getTip has no result, getRecords and getEntries are empty', async () => {
    const tip = await sd.client.call('getTip');
    assert.equal(tip.status, 200);
    assert.deepEqual(Object.keys(tip.body), ['jsonrpc', 'id']);
    assert.deepEqual(await sd.client.result('getRecords', {}), []);
    assert.deepEqual(await sd.client.result('getEntries'), []);
    const missing = await sd.client.call('getEntry', { name: 'hd-1' });
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body.error, { code: 404, message: 'not found' });
  });

  test('bad input: a certificate from another CA (checked before any pin exists)', async () => {
    const other = loadSigner('hd-1-sign', DEV_CERTS);
    const records = sign([change('hd-1', 'groups', [])], '', other);
    await rejected(
      records,
      /^record 0 .*certificate not issued by a trusted CA: certificate chain not valid/,
    );
  });

  test('submitRecords, getTip, getRecords(after), getEntries and getEntry', async () => {
    const chain = sign(
      [
        change('hd-1', 'groups', ['health-departments']),
        change('hd-1', 'certificates', [
          { fingerprint: certificateFingerprint(admin.pem), key_usage: 'signing' },
        ]),
        change('ls-1', 'services', [
          { name: 'locations', description: 'dropped', methods: [{ name: 'add', params: [] }] },
        ]),
      ],
      '',
      admin,
    );
    await submit(chain);

    const tip = (await sd.client.result('getTip')) as unknown as SignedChangeRecord;
    assert.deepEqual(Object.keys(tip), ['parent_hash', 'hash', 'signature', 'record']);
    assert.deepEqual(Object.keys(tip.record), ['name', 'section', 'data', 'created_at']);
    assert.deepEqual(tip, chain[2]);

    assert.deepEqual(await sd.client.records(), chain);
    assert.deepEqual(await sd.client.records(chain[0]!.hash), chain.slice(1));
    assert.deepEqual(await sd.client.records(chain[2]!.hash), []);
    assert.deepEqual(await sd.client.records('ab'.repeat(32)), chain, 'unknown hash: the whole chain');
    assert.deepEqual(await sd.client.result('getRecords', { after: null }), chain);
    const badAfter = await sd.client.call('getRecords', { after: 'XYZ' });
    assert.equal((badAfter.body.error as { code: number }).code, -32602);

    const entries = (await sd.client.result('getEntries')) as { name: string }[];
    assert.deepEqual(entries.map((e) => e.name).sort(), ['hd-1', 'ls-1']);
    for (const e of entries) assert.deepEqual(Object.keys(e), ENTRY_KEYS);
    const hd1 = (await sd.client.result('getEntry', { name: 'hd-1' })) as Record<string, unknown>;
    assert.deepEqual(hd1.groups, ['health-departments']);
    assert.equal(hd1.preferences, null);
    assert.deepEqual(hd1.properties, { displayName: '' });
    assert.deepEqual(hd1.records, chain.slice(0, 2));
    const ls1 = (await sd.client.result('getEntry', { name: 'ls-1' })) as { services: unknown };
    assert.deepEqual(ls1.services, [
      {
        name: 'locations',
        permissions: [],
        methods: [{ name: 'add', permissions: [], parameters: null }],
      },
    ]);

    // Appending to the tip.
    const next = sign([change('hd-1', 'channels', [{ type: 'grpc_client' }])], tip.hash, admin);
    await submit(next);
    assert.equal(await tipHash(), next[0]!.hash);
  });

  test('unknown methods and missing params are refused like the original', async () => {
    const unknown = await sd.client.call('reset');
    assert.deepEqual(unknown.body.error, { code: -32601, message: 'method not found' });
    const noRecords = await sd.client.call('submitRecords', {});
    assert.equal((noRecords.body.error as { code: number }).code, -32602);
    const noName = await sd.client.call('getEntry', {});
    assert.equal((noName.body.error as { code: number }).code, -32602);
  });

  test('unlike the original, a signed properties record is accepted and takes effect', async () => {
    const props = sign(
      [change('hd-1', 'properties', [{ displayName: 'Health Department 1' }])],
      await tipHash(),
      admin,
    );
    await submit(props);
    const entry = await sd.client.call('getEntry', { name: 'hd-1' });
    assert.deepEqual((entry.body.result as { properties: unknown }).properties, {
      displayName: 'Health Department 1',
    });
  });

  describe('bad input (store unchanged after each)', () => {
    test('a changed byte in the data', async () => {
      const [record] = sign([change('hd-1', 'groups', ['health-departments', 'x'])], await tipHash(), admin);
      const tampered = copy(record!);
      tampered.record.data[1] = 'y';
      await rejected([tampered], /^record 0 \(hash [0-9a-f]{12}…\): invalid hash value/);
    });

    test('a wrong parent hash', async () => {
      const records = sign([change('hd-1', 'groups', [])], 'cd'.repeat(32), admin);
      await rejected(records, /^record 0 .*stale append: parent hash c{1}d.* is not the current tip/);
    });

    test('a broken chain inside one submission', async () => {
      const first = sign([change('hd-1', 'groups', ['a'])], await tipHash(), admin);
      const second = sign([change('hd-1', 'groups', ['b'])], 'ef'.repeat(32), admin);
      await rejected([...first, ...second], /^record 1 .*records do not form a chain/);
    });

    test('an unpinned signing key (hd-1 is pinned to hd-1-sign)', async () => {
      const alt = loadSigner('hd-1-sign-alt');
      const records = sign([change('hd-1', 'groups', [])], await tipHash(), alt);
      await rejected(records, /^record 0 .*signing key is not the pinned one/);
    });

    test('a non-admin signer', async () => {
      const records = sign([change('hd-2', 'groups', [])], await tipHash(), loadSigner('hd-2-sign'));
      await rejected(records, /^record 0 .*signer is not an sd-admin/);
    });

    test('an expired certificate', async () => {
      const expired = await expiredSigner('hd-9');
      const records = sign([change('hd-9', 'groups', [])], await tipHash(), expired);
      await rejected(records, /^record 0 .*certificate expired/);
    });

    test('a malformed PEM certificate', async () => {
      const [record] = sign([change('hd-1', 'groups', [])], await tipHash(), admin);
      const broken = copy(record!);
      broken.signature!.c = '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n';
      await rejected([broken], /^record 0 .*invalid signing certificate/);
      broken.signature!.c = 'no PEM block here';
      await rejected([broken], /^record 0 .*invalid signing certificate/);
    });

    test('a malformed `proxies` in a grpc_server channel (a well-formed one is stored)', async () => {
      const server = (proxies: unknown) => ({
        type: 'grpc_server',
        settings: { address: 'localhost:8889', proxy: 'public-proxy-1.ga', proxies },
      });
      const bad = sign(
        [change('hd-2', 'channels', [{ type: 'grpc_client' }, server('public-proxy-2.ga')])],
        await tipHash(),
        admin,
      );
      await rejected(
        bad,
        /^invalid params: record 0 \(hd-2, channels\): grpc_server\.settings\.proxies must be a list of operator names, not a string$/,
        -32602,
      );
      await submit(
        sign([change('hd-2', 'channels', [server(['public-proxy-2.ga'])])], await tipHash(), admin),
      );
    });

    test('a replayed old record', async () => {
      const records = await sd.client.records();
      await rejected([records[1]], /^record 0 .*replayed record/);
      await rejected([records[0]], /^record 0 .*replayed record/);
    });

    test('a malformed JSON body', async () => {
      const size = statSync(storeFile).size;
      const reply = await sd.client.raw('{"jsonrpc": "2.0", "method": "submitRecords", "params": {');
      assert.equal(reply.status, 400);
      assert.deepEqual(reply.body, {
        jsonrpc: '2.0,',
        error: { code: -32700, message: 'JSON required' },
        id: null,
      });
      assert.equal(statSync(storeFile).size, size);
    });

    test('an oversized submission (body limit and record limit)', async () => {
      const size = statSync(storeFile).size;
      const big = await sd.client.announce(MAX_BODY + 1);
      assert.equal(big.status, 413);
      assert.equal((big.body.error as { code: number }).code, -32600);
      assert.match((big.body.error as { message: string }).message, /too large/);

      const many = await sd.client.call('submitRecords', {
        records: Array.from({ length: 10_001 }, () => 0),
      });
      assert.equal(many.status, 400);
      assert.equal((many.body.error as { code: number }).code, -32602);
      assert.match((many.body.error as { message: string }).message, /at most 10000 records/);
      assert.equal(statSync(storeFile).size, size);
    });

    test('a record failing in the middle of a batch stores none of the batch', async () => {
      const good = sign(
        [change('hd-1', 'groups', ['one']), change('hd-1', 'groups', ['two'])],
        await tipHash(),
        admin,
      );
      const bad = copy(good);
      bad[1]!.record.data[0] = 'three';
      await rejected(bad, /^record 1 .*invalid hash value/);
    });
  });

  describe('resets', () => {
    test('an older reset root is refused; a newer one replaces the served chain', async () => {
      const oldTip = await tipHash();
      const records = await sd.client.records();
      const oldRootTime = records[0]!.record.created_at;
      const stale = sign([change('op-1', 'groups', ['a'], '2020-01-01T00:00:00Z')], '', admin);
      await rejected(stale, /^record 0 .*outdated reset: new root created_at .* is not later/);

      // The reset is checked against the current pins: hd-1's alternative key may not reset.
      const alt = sign([change('op-1', 'groups', ['a'])], '', loadSigner('hd-1-sign-alt'));
      await rejected(alt, /^record 0 .*signing key is not the pinned one/);

      const reset = sign([change('op-1', 'groups', ['operators']), change('op-2', 'groups', [])], '', admin);
      assert.ok(reset[0]!.record.created_at > oldRootTime);
      await submit(reset);
      assert.equal(await tipHash(), reset[1]!.hash);
      assert.deepEqual(await sd.client.records(oldTip), reset, 'a client on the old chain gets the new one');
      const names = ((await sd.client.result('getEntries')) as { name: string }[]).map((e) => e.name).sort();
      assert.deepEqual(names, ['op-1', 'op-2'], 'entries of the old chain are gone');
    });
  });

  test('metrics are served when configured', async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /sd_submissions_total\{outcome="ok"\} \d+/);
    assert.match(text, /sd_best_chain_records 2/);
  });

  test('a restart replays the store into the same state', async () => {
    const records = await sd.client.records();
    const entries = await sd.client.result('getEntries');
    assert.equal(await sd.stop(), 0);
    assert.equal(statSync(storeFile).mode & 0o777, 0o600);
    sd = await startSd(settings);
    assert.match(sd.process.output(), /Replayed \d+ stored records .*serving 2 records/);
    assert.deepEqual(await sd.client.records(), records);
    assert.deepEqual(await sd.client.result('getEntries'), entries);
  });
});
