/**
 * Entry encoding and the file datastore [WIRE, docs/protocol.md#datastore]: exact bytes,
 * restart, torn tails (cut mid-chunk, entries missing chunks, zero-filled) truncated with a log line,
 * corruption reported, compare-and-append across instances, and the stale lock takeover.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { configureLogging } from '../../src/core/log.js';
import type { DataEntry } from '../../src/datastore/datastore.js';
import { ChunkScanner, encodeChunks, MAX_CHUNK_PAYLOAD } from '../../src/datastore/chunks.js';
import { decodeEntry, encodeEntry, EntryFormatError } from '../../src/datastore/entry-codec.js';
import { FileLock, LOCK_WAIT_TIMEOUT_MS } from '../../src/datastore/file-lock.js';
import { FileDatastore } from '../../src/datastore/file-store.js';
import { waitFor, withDeadline } from '../helpers/wait.js';

const entry = (n: number, size = 40): DataEntry => ({
  type: 1,
  id: Buffer.alloc(16, n),
  data: Buffer.alloc(size, 0x61 + (n % 26)),
});

describe('entry encoding', () => {
  test('version, type, id length LE16, id, data', () => {
    const bytes = encodeEntry({ type: 1, id: Buffer.alloc(16, 0xaa), data: Buffer.from('{"a":1}') });
    assert.deepEqual(
      bytes,
      Buffer.concat([Buffer.from([1, 1, 16, 0]), Buffer.alloc(16, 0xaa), Buffer.from('{"a":1}')]),
    );
    assert.deepEqual(decodeEntry(bytes), {
      type: 1,
      id: Buffer.alloc(16, 0xaa),
      data: Buffer.from('{"a":1}'),
    });
  });

  test('broken entries are refused with a reason', () => {
    assert.throws(() => decodeEntry(Buffer.from([1, 1])), EntryFormatError);
    assert.throws(() => decodeEntry(Buffer.from([2, 1, 0, 0])), /version 2/);
    assert.throws(() => decodeEntry(Buffer.from([1, 1, 200, 0, 1, 2])), /id length 200/);
  });
});

describe('chunks', () => {
  test('a chunk is 01 | count | index | 10 00 | id | len | payload, at most 231 payload bytes', () => {
    const id = Buffer.alloc(16, 7);
    const payload = Buffer.alloc(MAX_CHUNK_PAYLOAD + 10, 0x42);
    const bytes = encodeChunks(payload, id);
    assert.equal(bytes.length, 256 + 25 + 10, 'a full chunk is 256 bytes');
    assert.deepEqual(
      bytes.subarray(0, 25),
      Buffer.concat([Buffer.from([1, 2, 0, 0, 0, 16, 0]), id, Buffer.from([231, 0])]),
    );
    assert.deepEqual(
      bytes.subarray(256, 281),
      Buffer.concat([Buffer.from([1, 2, 0, 1, 0, 16, 0]), id, Buffer.from([10, 0])]),
    );
  });

  test('the scanner reassembles interleaved chunks in order of the first chunk', () => {
    const a = encodeChunks(Buffer.alloc(300, 1), Buffer.alloc(16, 1));
    const b = encodeChunks(Buffer.alloc(10, 2), Buffer.alloc(16, 2));
    const scanner = new ChunkScanner(0);
    // a0, b0, a1
    scanner.push(Buffer.concat([a.subarray(0, 256), b, a.subarray(256)]));
    const result = scanner.result();
    assert.equal(result.end, 'clean');
    assert.deepEqual(
      result.entries.map((e) => e.bytes.length),
      [300, 10],
    );
  });

  test('byte-by-byte feeding gives the same result', () => {
    const all = Buffer.concat([0, 1, 2].map((n) => encodeChunks(encodeEntry(entry(n, 500)))));
    const scanner = new ChunkScanner(0);
    for (const byte of all) scanner.push(Buffer.from([byte]));
    const result = scanner.result();
    assert.equal(result.end, 'clean');
    assert.equal(result.entries.length, 3);
    assert.equal(result.boundary, all.length);
  });
});

describe('file datastore', () => {
  let dir: string;
  let file: string;
  let logs: string[];

  before(() => {
    configureLogging({ write: (line) => logs.push(line) });
  });
  after(() => {
    configureLogging({ write: (line) => process.stderr.write(line + '\n') });
  });
  beforeEach(() => {
    logs = [];
    dir = mkdtempSync(join(tmpdir(), 'file-store-'));
    file = join(dir, 'nested', 'folder', 'store.records');
  });
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });

  async function opened(): Promise<FileDatastore> {
    const store = new FileDatastore(file);
    await store.open();
    return store;
  }

  test('creates folders and a 0600 file; appends survive a reopen', async (t) => {
    t.after(cleanup);
    const store = await opened();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(await store.readNew(), []);
    await store.append([entry(1), entry(2, 1000)]);
    assert.deepEqual(await store.readNew(), [entry(1), entry(2, 1000)]);
    assert.deepEqual(await store.readNew(), []);
    await store.close();

    const again = await opened();
    assert.deepEqual(await again.readNew(), [entry(1), entry(2, 1000)]);
    await again.close();
    assert.deepEqual(
      logs.filter((l) => /torn/.test(l)),
      [],
    );
  });

  test('the file holds exactly the chunk format (readable by the original)', async (t) => {
    t.after(cleanup);
    const store = await opened();
    await store.append([entry(3, 10)]);
    await store.close();
    const bytes = readFileSync(file);
    assert.equal(bytes.length, 25 + 4 + 16 + 10);
    assert.deepEqual(bytes.subarray(0, 7), Buffer.from([1, 1, 0, 0, 0, 16, 0]));
    assert.deepEqual(bytes.subarray(23, 29), Buffer.from([30, 0, 1, 1, 16, 0]));
  });

  test('a file cut in the middle of a chunk loses only the torn entry, with a warning', async (t) => {
    t.after(cleanup);
    const store = await opened();
    await store.append([entry(1), entry(2)]);
    await store.close();
    const full = statSync(file).size;
    const firstEnd = full / 2;
    truncateSync(file, firstEnd + 30); // inside the second entry's only chunk

    const reopened = await opened();
    assert.deepEqual(await reopened.readNew(), [entry(1)]);
    assert.equal(statSync(file).size, firstEnd);
    const warning = logs.find((l) => /torn tail/.test(l));
    assert.ok(warning, logs.join('\n'));
    assert.match(warning, new RegExp(`dropped 30 bytes after offset ${firstEnd}`));
    // Appending after the repair works and is read back.
    await reopened.append([entry(4)]);
    assert.deepEqual(await reopened.readNew(), [entry(4)]);
    await reopened.close();
  });

  test('an entry missing its last chunks is dropped; a zero-filled tail too', async (t) => {
    t.after(cleanup);
    const store = await opened();
    await store.append([entry(1, 10)]);
    await store.close();
    const good = statSync(file).size;
    const big = encodeChunks(encodeEntry(entry(2, 600)));
    appendFileSync(file, big.subarray(0, 256 * 2)); // two complete chunks of three
    let reopened = await opened();
    assert.deepEqual(await reopened.readNew(), [entry(1, 10)]);
    assert.equal(statSync(file).size, good);
    assert.match(logs.join('\n'), /dropped 512 bytes/);
    await reopened.close();

    appendFileSync(file, Buffer.alloc(4096));
    reopened = await opened();
    assert.deepEqual(await reopened.readNew(), [entry(1, 10)]);
    assert.equal(statSync(file).size, good);
    assert.match(logs.join('\n'), /zero-filled bytes at offset \d+\), dropped 4096 bytes/);
    await reopened.close();
  });

  test('garbage that is not a torn tail is reported, not dropped', async (t) => {
    t.after(cleanup);
    const store = await opened();
    await store.append([entry(1, 10)]);
    await store.close();
    appendFileSync(file, Buffer.from('this is not a chunk at all'));
    const size = statSync(file).size;
    await assert.rejects(opened(), /invalid chunk data at offset 55 \(unknown chunk version 116\)/);
    assert.equal(statSync(file).size, size);
  });

  test('a reader never consumes an entry that is still being written', async (t) => {
    t.after(cleanup);
    const store = await opened();
    const bytes = encodeChunks(encodeEntry(entry(5, 600)));
    appendFileSync(file, bytes.subarray(0, 300)); // another process's write in progress
    assert.deepEqual(await store.readNew(), []);
    appendFileSync(file, bytes.subarray(300));
    assert.deepEqual(await store.readNew(), [entry(5, 600)]);
    await store.close();
  });

  test('appendIfCount is a compare-and-append across instances', async (t) => {
    t.after(cleanup);
    const a = await opened();
    const b = await opened();
    assert.equal(await a.appendIfCount(0, [entry(1)]), true);
    assert.equal(await b.appendIfCount(0, [entry(2)]), false, 'b has not seen entry 1');
    assert.equal(await b.appendIfCount(1, [entry(2)]), true);
    assert.deepEqual(await a.readNew(), [entry(1), entry(2)]);
    // Racing appends on the same count: exactly one wins.
    const results = await Promise.all([a.appendIfCount(2, [entry(3)]), b.appendIfCount(2, [entry(4)])]);
    assert.deepEqual(results.filter(Boolean).length, 1);
    assert.equal((await b.readNew()).length, 3);
    await a.close();
    await b.close();
  });

  test('a lock file left by a dead process is taken over', async (t) => {
    t.after(cleanup);
    const store = await opened();
    writeFileSync(`${file}.lock`, `999999999 ${(await import('node:os')).hostname()} 0 dead\n`);
    await store.append([entry(1)]);
    assert.match(logs.join('\n'), /removed stale lock/);
    assert.throws(() => statSync(`${file}.lock`), /ENOENT/);
    await store.close();
  });

  test('an empty lock file (a holder killed while creating it) is taken over at once', async (t) => {
    t.after(cleanup);
    const store = await opened();
    writeFileSync(`${file}.lock`, '');
    await withDeadline(store.append([entry(1)]), {
      timeoutMs: 5_000,
      what: 'the append past the empty lock',
    });
    assert.match(logs.join('\n'), /removed stale lock/);
    assert.throws(() => statSync(`${file}.lock`), /ENOENT/);
    assert.deepEqual(
      readdirSync(dirname(file)).filter((n) => n.includes('.lock')),
      [],
      'no lock file or temporary owner file left',
    );
    await store.close();
  });

  test('a live lock holder blocks appends; the wait gives up at the lock timeout, not before', async (t) => {
    t.after(cleanup);
    const store = await opened();
    const lock = new FileLock(`${file}.lock`);
    await lock.acquire();
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
    const started = Date.now();
    let failure: unknown;
    let settled = false;
    void store.append([entry(1)]).then(
      () => (settled = true),
      (error: unknown) => {
        failure = error;
        settled = true;
      },
    );
    // Move the clock in steps, each followed by a real pause for the lock's file I/O between its polls.
    while (Date.now() - started < LOCK_WAIT_TIMEOUT_MS - 100) {
      t.mock.timers.tick(100);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, `gave up after ${Date.now() - started} ms`);
    }
    await waitFor(
      () => {
        if (!settled) t.mock.timers.tick(25);
        return settled;
      },
      { timeoutMs: 5_000, what: 'the append to give up waiting for the lock' },
    );
    assert.ok(Date.now() - started >= LOCK_WAIT_TIMEOUT_MS);
    assert.match(
      String(failure),
      new RegExp(`could not lock .* within ${LOCK_WAIT_TIMEOUT_MS} ms: held by pid ${process.pid}`),
    );
    t.mock.timers.reset();
    await lock.release();
    await store.append([entry(1)]);
    assert.deepEqual(await store.readNew(), [entry(1)]);
    await store.close();
  });
});
