/**
 * The `api` directory against a real JSON-RPC HTTPS server (mutual TLS) serving records signed with the test
 * PKI: cold load, incremental refresh (only new records verified), refusal of rollbacks and forks, acceptance
 * of a newer reset chain, keeping the last state while the SD is down and recovering when it returns,
 * endpoint failover and request timeouts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import {
  ApiDirectory,
  INITIAL_REFRESH_WAIT_MS,
  MIN_REFRESH_PERIOD_MS,
  RETRY_INITIAL_MS,
  STATE_LOADED_REFRESH_WAIT_MS,
} from '../../src/directory/api-directory.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { DirectoryRefreshError, SdUnreachableError } from '../../src/directory/api-errors.js';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import { testCertificates } from '../helpers/network.js';
import { apiSettings, groupRecords, RecordsServer, signWith } from '../helpers/records-server.js';

const T0 = '2021-05-17T10:00:00Z';
const T1 = '2021-06-01T10:00:00Z';
const T_OLD = '2021-01-01T10:00:00Z';

let server: RecordsServer;

before(async () => {
  await testCertificates();
});

after(async () => {
  await server?.stop();
});

async function freshServer(chain: SignedChangeRecord[]): Promise<RecordsServer> {
  await server?.stop();
  server = new RecordsServer();
  server.chain = chain;
  await server.start(0);
  return server;
}

/** An api directory closed when test `t` ends; its refresh and retry timers run on `clock` if given. */
function directory(t: TestContext, settings = apiSettings([server.url]), clock?: ManualClock): ApiDirectory {
  const d = new ApiDirectory(settings, clock ? { clock } : {});
  t.after(() => d.close());
  return d;
}

/** Resolves on the next onChange of `d`. */
function nextChange(d: ApiDirectory): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    d.onChange(() => {
      if (!done) {
        done = true;
        resolve();
      }
    });
  });
}

test('cold load verifies every record, a refresh verifies only the new ones', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(20, T0), '');
  await freshServer(base);
  const d = directory(t);
  await d.start();
  assert.equal(d.entries().length, 20);
  assert.deepEqual(d.entry('op-3')?.groups, ['g', 'n-3']);
  assert.equal(d.stats().verifiedRecords, 20);
  assert.equal(d.stats().tip, base[19]!.hash);

  const more = signWith('hd-1-sign', groupRecords(3, T0, 20, 'h'), base[19]!.hash);
  server.chain.push(...more);
  const changed = nextChange(d);
  const outcome = await d.refresh();
  await changed;
  assert.deepEqual(outcome, { kind: 'extended', added: 3 });
  assert.equal(d.stats().verifiedRecords, 23, 'only the 3 new records were verified');
  assert.equal(d.entries().length, 23);
  assert.deepEqual(d.entry('op-22')?.groups, ['h', 'n-22']);
  const last = server.calls.filter((c) => c.method === 'getRecords').at(-1);
  assert.equal(last?.params.after, base[19]!.hash, 'asks only for records after its tip');

  assert.deepEqual(await d.refresh(), { kind: 'unchanged' });
  assert.equal(d.stats().verifiedRecords, 23);
});

test('background refresh (cache_entries_for 0 → minimum period) picks up new records and signals a change', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(2, T0), '');
  await freshServer(base);
  const d = directory(t, apiSettings([server.url], { cache_entries_for: 0 }));
  await d.start();
  assert.equal(d.entries().length, 2);
  const changed = nextChange(d);
  server.chain.push(...signWith('hd-1-sign', groupRecords(1, T0, 2), base[1]!.hash));
  await changed;
  assert.equal(d.entries().length, 3);
  assert.equal(d.stats().verifiedRecords, 3);
});

test('a rollback (shorter copy of the chain, or an older root) is refused and the state kept', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(5, T0), '');
  await freshServer(base);
  const d = directory(t);
  await d.start();
  assert.equal(d.entries().length, 5);
  const before = d.entries();

  server.chain = base.slice(0, 3); // the server "forgot" our tip and serves a prefix
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'rollback',
  );
  assert.deepEqual(d.entries(), before);
  assert.equal(d.stats().tip, base[4]!.hash);

  server.chain = signWith('hd-1-sign', groupRecords(2, T_OLD, 50), ''); // a reset with an older root
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'rollback',
  );
  server.chain = signWith('hd-1-sign', groupRecords(2, T0, 60), ''); // same root time: not strictly newer
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'rollback',
  );
  assert.equal(d.entries().length, 5);
  assert.equal(d.entry('op-50'), undefined);
  assert.equal(d.stats().consecutiveFailures, 3);
});

test('a fork (diverging chain with our root, or records after an unknown parent) is refused', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(4, T0), '');
  await freshServer(base);
  const d = directory(t);
  await d.start();

  const branch = signWith('hd-1-sign', groupRecords(3, T0, 10), base[1]!.hash);
  server.chain = [...base.slice(0, 2), ...branch]; // our tip is unknown → the whole (forked) chain comes back
  await assert.rejects(d.refresh(), (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'fork');

  const dangling = signWith('hd-1-sign', groupRecords(1, T0, 20), 'ab'.repeat(32));
  server.chain = base;
  server.responder = (r) => (r.method === 'getRecords' ? { result: dangling as never } : undefined);
  await assert.rejects(d.refresh(), (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'fork');

  // Records extending our tip, but the second one skips a link: the whole batch is refused.
  const next = signWith('hd-1-sign', groupRecords(2, T0, 30), base[3]!.hash);
  const skipping = signWith('hd-1-sign', groupRecords(1, T0, 32), 'cd'.repeat(32));
  server.responder = (r) =>
    r.method === 'getRecords' ? { result: [...next, ...skipping] as never } : undefined;
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'verify',
  );
  server.responder = undefined;
  assert.equal(d.entries().length, 4);
  assert.equal(d.entry('op-30'), undefined);
  assert.equal(d.stats().tip, base[3]!.hash);
});

test('bad records are refused as a whole: tampered data, non-admin signer, malformed response', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(2, T0), '');
  await freshServer(base);
  const d = directory(t);
  await d.start();

  const good = signWith('hd-1-sign', groupRecords(2, T0, 2), base[1]!.hash);
  const tampered = structuredClone(good);
  tampered[1]!.record.data = ['evil'];
  server.chain = [...base, ...tampered];
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'verify',
  );
  assert.equal(d.entry('op-2'), undefined, 'the good record before the bad one is not applied either');

  server.chain = [...base, ...signWith('hd-2-sign', groupRecords(1, T0, 2), base[1]!.hash)];
  await assert.rejects(d.refresh(), /not in group sd-admin/);

  server.responder = () => ({ result: [{ hash: 'x' }] });
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'schema',
  );
  server.responder = undefined;

  server.chain = [...base, ...good];
  assert.deepEqual(await d.refresh(), { kind: 'extended', added: 2 });
  assert.equal(d.entries().length, 4);
});

test('a properly signed newer chain (reset) replaces the entries', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(3, T0), '');
  await freshServer(base);
  const d = directory(t);
  await d.start();
  assert.ok(d.entry('op-0'));

  const newer = signWith('hd-1-sign', groupRecords(2, T1, 100), '');
  const bad = structuredClone(newer);
  bad[1]!.signature!.r = '1234567890123';
  server.chain = bad;
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'verify',
  );
  assert.ok(d.entry('op-0'), 'a newer chain that does not fully verify is not used');

  server.chain = newer;
  const changed = nextChange(d);
  assert.deepEqual(await d.refresh(), { kind: 'reset', added: 2, dropped: 3 });
  await changed;
  assert.equal(d.entry('op-0'), undefined, 'operators of the old chain are gone');
  assert.deepEqual(
    d.entries().map((e) => e.name),
    ['op-100', 'op-101'],
  );
  assert.equal(d.stats().tip, newer[1]!.hash);
});

test('while the SD is down the last verified state stays; it recovers by itself when the SD returns', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(3, T0), '');
  await freshServer(base);
  const clock = new ManualClock();
  const d = directory(t, apiSettings([server.url], { cache_entries_for: 0 }), clock);
  await d.start();
  assert.equal(d.entries().length, 3);

  await server.stop();
  await assert.rejects(d.refresh(), (e: unknown) => e instanceof SdUnreachableError);
  assert.equal(d.entries().length, 3, 'still routing with the last verified entries');
  assert.ok(d.entry('op-1'));
  assert.ok(d.stats().consecutiveFailures >= 1);

  server.chain.push(...signWith('hd-1-sign', groupRecords(2, T0, 3), base[2]!.hash));
  const changed = nextChange(d);
  await server.start(); // same port
  // The next background refresh (every MIN_REFRESH_PERIOD_MS with cache_entries_for: 0) finds it back.
  await clock.advance(MIN_REFRESH_PERIOD_MS);
  await changed;
  assert.equal(d.entries().length, 5);
  assert.equal(d.stats().consecutiveFailures, 0);
  assert.equal(d.stats().verifiedRecords, 5);
});

test('a start with the SD unreachable is not fatal: empty directory, loaded once it answers', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(2, T0), '');
  await freshServer(base);
  await server.stop();
  const clock = new ManualClock();
  const d = directory(t, apiSettings([server.url], { cache_entries_for: 0 }), clock);
  await d.start();
  assert.equal(d.entries().length, 0);
  const changed = nextChange(d);
  await server.start();
  // The failed first refresh is retried after half to all of RETRY_INITIAL_MS (jitter), not before.
  await clock.advance(RETRY_INITIAL_MS / 2 - 1);
  assert.equal(d.entries().length, 0);
  assert.equal(d.stats().refreshes, 1);
  await clock.advance(RETRY_INITIAL_MS / 2 + 1);
  await changed;
  assert.equal(d.entries().length, 2);
});

test('endpoints fail over in order; every request has a timeout', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(2, T0), '');
  await freshServer(base);

  // A port that refuses connections, then the real server.
  const closed = net.createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadPort = (closed.address() as net.AddressInfo).port;
  closed.close();
  await once(closed, 'close');
  const d = directory(t, apiSettings([`https://127.0.0.1:${deadPort}/jsonrpc`, server.url]));
  await d.start();
  assert.equal(d.entries().length, 2);
  assert.equal(d.client.currentTarget.endpoint, server.url);

  // A server that accepts connections and never answers.
  const silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const silentPort = (silent.address() as net.AddressInfo).port;
  try {
    const slow = directory(t, apiSettings([`https://127.0.0.1:${silentPort}/jsonrpc`], {}, 0.3));
    const started = Date.now();
    await assert.rejects(
      slow.refresh(),
      (e: unknown) => e instanceof SdUnreachableError && /within/.test(e.message),
    );
    assert.ok(Date.now() - started < 3000, 'gave up after the client timeout');
  } finally {
    silent.close();
  }
});

test('state_file: the verified chain survives a restart, serves before the SD answers, and a rollback across the restart is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'api-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateFile = join(dir, 'directory.jsonl');
  const base = signWith('hd-1-sign', groupRecords(5, T0), '');
  await freshServer([...base]);
  const first = directory(t, apiSettings([server.url], { state_file: stateFile }));
  await first.start();
  const more = signWith('hd-1-sign', groupRecords(2, T0, 5, 'h'), base[4]!.hash);
  server.chain.push(...more);
  await first.refresh();
  await first.close();
  const lines = readFileSync(stateFile, 'utf8').trim().split('\n');
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as SignedChangeRecord).hash),
    [...base, ...more].map((r) => r.hash),
    'one record per line, the 2 new ones appended',
  );

  // Restart while the SD is down: the entries come from the file (verified again).
  await server.stop();
  const second = directory(t, apiSettings([server.url], { state_file: stateFile }));
  await second.start();
  assert.equal(second.entries().length, 7);
  assert.equal(second.stats().tip, more[1]!.hash);

  // The SD comes back having "forgotten" the last records: refused although this process never saw them.
  await freshServer(base.slice(0, 3));
  const refreshed = directory(t, apiSettings([server.url], { state_file: stateFile }));
  await refreshed.start();
  await assert.rejects(
    refreshed.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'rollback',
  );
  assert.equal(refreshed.entries().length, 7);
});

test('state_file: with a verified chain loaded, start() waits for a silent SD only briefly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'api-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateFile = join(dir, 'directory.jsonl');
  await freshServer(signWith('hd-1-sign', groupRecords(3, T0), ''));
  const first = directory(t, apiSettings([server.url], { state_file: stateFile }));
  await first.start();
  await first.close();

  // An SD that accepts connections and never answers (its request timeout is far beyond the waits here).
  const silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => silent.close());
  const url = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/jsonrpc`;
  const started = (d: ApiDirectory): { done: () => boolean } => {
    let done = false;
    void d.start().then(() => (done = true));
    return { done: () => done };
  };
  const clock = new ManualClock();
  const withState = directory(t, apiSettings([url], { state_file: stateFile }, 60), clock);
  const a = started(withState);
  await clock.advance(STATE_LOADED_REFRESH_WAIT_MS - 1);
  assert.equal(a.done(), false);
  await clock.advance(1);
  await clock.advance(0);
  assert.equal(a.done(), true, 'started after STATE_LOADED_REFRESH_WAIT_MS');
  assert.equal(withState.entries().length, 3, 'routing with the state file');

  const clock2 = new ManualClock();
  const without = directory(t, apiSettings([url], {}, 60), clock2);
  const b = started(without);
  await clock2.advance(STATE_LOADED_REFRESH_WAIT_MS);
  assert.equal(b.done(), false, 'without a state file it waits for the SD longer');
  await clock2.advance(INITIAL_REFRESH_WAIT_MS - STATE_LOADED_REFRESH_WAIT_MS);
  await clock2.advance(0);
  assert.equal(b.done(), true);
  assert.equal(without.entries().length, 0);
});

test('state_file: a torn last line is dropped and repaired; a file that does not verify is ignored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'api-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateFile = join(dir, 'directory.jsonl');
  const base = signWith('hd-1-sign', groupRecords(4, T0), '');
  const text = base.map((r) => JSON.stringify(r) + '\n').join('');
  writeFileSync(stateFile, text + JSON.stringify(base[0]).slice(0, 40));
  await freshServer(base);
  const torn = directory(t, apiSettings([server.url], { state_file: stateFile }));
  await torn.start();
  assert.equal(torn.entries().length, 4);
  assert.equal(readFileSync(stateFile, 'utf8'), text, 'rewritten without the torn tail');
  await torn.close();

  const tampered = base.map((r) => ({ ...r }));
  tampered[2] = { ...tampered[2]!, record: { ...tampered[2]!.record, data: ['forged'] } };
  writeFileSync(stateFile, tampered.map((r) => JSON.stringify(r) + '\n').join(''));
  const checked = directory(t, apiSettings([server.url], { state_file: stateFile }));
  await checked.start();
  assert.equal(checked.entries().length, 4, 'the chain came from the SD instead');
  assert.equal(readFileSync(stateFile, 'utf8'), text, 'and replaced the forged file');
});
