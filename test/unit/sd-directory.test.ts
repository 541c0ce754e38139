/**
 * The service directory's state over a real file store, in-process: best-chain selection at replay
 * (docs/protocol.md#chain-rules: strictly latest root wins, ties keep the earlier, length does not matter),
 * strict handling of invalid records, orphans and forks, incremental verification (one chain check per new
 * record), and the compare-and-append protocol when another writer gets in between (stale, or retried and
 * accepted). The Merkle tree for proofs is ready after every refresh (built while the store is read).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureLogging } from '../../src/core/log.js';
import type { DataEntry, Datastore } from '../../src/datastore/datastore.js';
import { FileDatastore } from '../../src/datastore/file-store.js';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import type { CertificateInfo, ChainCheck, ChainCheckOptions } from '../../src/records/index.js';
import { certificateFingerprint, RecordTree, TrustStore } from '../../src/records/index.js';
import { ServiceDirectory } from '../../src/sd/directory.js';
import { SubmitError } from '../../src/sd/errors.js';
import { recordToEntry } from '../../src/sd/record-entry.js';
import {
  change,
  copy,
  ensureTestPki,
  loadSigner,
  sign,
  TEST_CERTS,
  type Signer,
} from '../helpers/sd-harness.js';

/** A trust store that counts chain checks (one per record verified). */
class CountingTrust extends TrustStore {
  checks = 0;
  override verify(leaf: CertificateInfo, options?: ChainCheckOptions): ChainCheck {
    this.checks++;
    return super.verify(leaf, options);
  }
}

/** A real store whose compare-and-append first lets `beforeAppend` run (another writer getting in). */
class InterleavingStore implements Datastore {
  beforeAppend: (() => Promise<void>) | undefined;
  constructor(private readonly inner: Datastore) {}
  open(): Promise<void> {
    return this.inner.open();
  }
  append(entries: DataEntry[]): Promise<void> {
    return this.inner.append(entries);
  }
  async appendIfCount(expected: number, entries: DataEntry[]): Promise<boolean> {
    const hook = this.beforeAppend;
    this.beforeAppend = undefined;
    await hook?.();
    return this.inner.appendIfCount(expected, entries);
  }
  readNew(): Promise<DataEntry[]> {
    return this.inner.readNew();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const at = (second: number): string => `2030-01-01T00:00:${String(second).padStart(2, '0')}Z`;

describe('service directory state', () => {
  let dir: string;
  let admin: Signer;
  let trust: CountingTrust;
  let n = 0;
  const opened: Datastore[] = [];

  async function open<T extends Datastore>(store: T): Promise<T> {
    await store.open();
    opened.push(store);
    return store;
  }

  before(async () => {
    await ensureTestPki();
    configureLogging({ level: 'error' });
    admin = loadSigner('hd-1-sign');
    const pem = (f: string): string => readFileSync(join(TEST_CERTS, f), 'utf8');
    const base = TrustStore.fromPem([pem('root.crt')], [pem('intermediate.crt')]);
    trust = new CountingTrust(base.roots, base.intermediates);
    dir = mkdtempSync(join(tmpdir(), 'sd-state-'));
  });
  after(async () => {
    await Promise.all(opened.map((s) => s.close()));
    configureLogging({ level: 'info' });
    rmSync(dir, { recursive: true, force: true });
  });

  async function storeWith(records: SignedChangeRecord[]): Promise<{ file: string; store: FileDatastore }> {
    const file = join(dir, `store-${n++}.records`);
    const store = await open(new FileDatastore(file));
    await store.append(records.map(recordToEntry));
    return { file, store };
  }

  async function replay(records: SignedChangeRecord[]): Promise<ServiceDirectory> {
    const { store } = await storeWith(records);
    const directory = new ServiceDirectory(store, trust);
    await directory.refresh();
    return directory;
  }

  test('the chain whose root is strictly the latest wins, whatever the store order and length', async () => {
    const older = sign([change('a', 'groups', [], at(1)), change('a', 'groups', ['x'], at(2))], '', admin);
    const newer = sign([change('b', 'groups', [], at(5))], '', admin);
    const tie = sign([change('c', 'groups', [], at(5))], '', admin);
    const directory = await replay([...newer, ...older, ...tie]);
    assert.deepEqual(directory.recordsAfter(''), newer, 'latest root; the tie keeps the earlier chain');
    assert.deepEqual(
      directory.allEntries().map((e) => e.name),
      ['b'],
    );
    assert.equal(directory.stats.chains, 3);
  });

  test('a chain is served up to its first invalid record; orphans and forks are never served', async () => {
    const chain = sign(
      [
        change('a', 'groups', ['1'], at(1)),
        change('a', 'groups', ['2'], at(2)),
        change('a', 'groups', ['3'], at(3)),
      ],
      '',
      admin,
    );
    const broken = copy(chain);
    broken[1]!.record.data = ['tampered'];
    const orphan = sign([change('o', 'groups', [], at(9))], 'ab'.repeat(32), admin);
    const fork = sign([change('f', 'groups', [], at(4))], chain[0]!.hash, admin);
    const directory = await replay([broken[0]!, broken[1]!, broken[2]!, ...orphan, ...fork]);
    // Record 1 is invalid; the fork on record 0 is its first valid child, so it continues the chain.
    assert.deepEqual(directory.recordsAfter(''), [chain[0], fork[0]]);
  });

  test('verification is incremental: one chain check per new record', async () => {
    const records = sign(
      Array.from({ length: 200 }, (_, i) => change(`op-${i}`, 'groups', [`g${i}`])),
      '',
      admin,
    );
    const { store } = await storeWith(records);
    const directory = new ServiceDirectory(store, trust);
    trust.checks = 0;
    await directory.refresh();
    assert.equal(trust.checks, 200);
    assert.equal(directory.stats.bestLength, 200);

    trust.checks = 0;
    await directory.submit(sign([change('next', 'groups', [])], records.at(-1)!.hash, admin));
    assert.equal(trust.checks, 1, 'a submission is verified once, not re-verified after writing');

    const other = new ServiceDirectory(await open(new FileDatastore(store.filename)), trust);
    await other.refresh();
    const extra = sign([change('more', 'groups', [])], other.tip()!.hash, admin);
    await other.submit(extra);
    trust.checks = 0;
    await directory.refresh();
    assert.equal(trust.checks, 1, 'a record written by someone else costs one verification');
    assert.equal(directory.tip()?.hash, extra[0]!.hash);
  });

  test('the Merkle tree follows the best chain at every refresh: at start, after a submission, after a reset', async () => {
    const records = sign(
      Array.from({ length: 40 }, (_, i) => change(`t-${i}`, 'groups', [], at(10))),
      '',
      admin,
    );
    const directory = await replay(records);
    const expect = (): void =>
      assert.deepEqual(directory.tree().tip(), RecordTree.of(directory.recordsAfter('')).tip());
    assert.equal(directory.tree().size, 40, 'built while the store was read, before any proof request');
    expect();
    await directory.submit(sign([change('t-next', 'groups', [], at(11))], records.at(-1)!.hash, admin));
    assert.equal(directory.tree().size, 41);
    expect();
    await directory.submit(sign([change('t-reset', 'groups', [], at(20))], '', admin));
    assert.equal(directory.tree().size, 1, 'a reset rebuilds the tree over the new chain');
    expect();
  });

  test('another writer in between: a stale append is refused; a still-valid reset is retried and stored', async () => {
    const root = sign([change('hd-1', 'groups', [], at(1))], '', admin);
    const { file } = await storeWith(root);
    const storeA = await open(new InterleavingStore(new FileDatastore(file)));
    const a = new ServiceDirectory(storeA, trust);
    const b = new ServiceDirectory(await open(new FileDatastore(file)), trust);
    await a.refresh();
    await b.refresh();

    const fromA = sign([change('a', 'groups', [])], root[0]!.hash, admin);
    const fromB = sign([change('b', 'groups', [])], root[0]!.hash, admin);
    storeA.beforeAppend = () => b.submit(fromB);
    await assert.rejects(a.submit(fromA), (err: SubmitError) => {
      assert.ok(err instanceof SubmitError);
      assert.equal(err.rule, 'parent');
      assert.match(err.message, /^record 0 \(hash [0-9a-f]{12}…\): stale append: parent hash/);
      return true;
    });
    assert.equal(a.tip()?.hash, fromB[0]!.hash);

    const reset = sign([change('new', 'groups', [], at(30))], '', admin);
    const appended = sign([change('b2', 'groups', [])], fromB[0]!.hash, admin);
    storeA.beforeAppend = () => b.submit(appended);
    await a.submit(reset);
    assert.equal(a.tip()?.hash, reset[0]!.hash);
    await b.refresh();
    assert.equal(b.tip()?.hash, reset[0]!.hash);
  });

  test('the pin of the replaced chain applies to a reset', async () => {
    const root = sign(
      [
        change(
          'hd-1',
          'certificates',
          [{ fingerprint: certificateFingerprint(admin.pem), key_usage: 'signing' }],
          at(1),
        ),
      ],
      '',
      admin,
    );
    const directory = await replay(root);
    const alt = sign([change('x', 'groups', [], at(40))], '', loadSigner('hd-1-sign-alt'));
    await assert.rejects(directory.submit(alt), /record 0 .*signing key is not the pinned one/);
  });
});
