/**
 * The eps's internal proof methods (`_treeTip`, `_inclusionProof`, `_consistencyProof`) through the broker,
 * over a directory with a verified chain that grows and is reset, and over one without a chain (json).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newEntry, type DirectoryEntry, type SignedChangeRecord } from '../../src/core/directory-entry.js';
import type { JsonObject } from '../../src/core/json.js';
import type { EpsResponse } from '../../src/core/messages.js';
import { Broker } from '../../src/broker/broker.js';
import { BrokerError } from '../../src/broker/errors.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import { matchesQuery, type Directory, type EntryQuery } from '../../src/directory/directory.js';
import {
  checkConsistencyProof,
  checkInclusionProof,
  parseConsistencyProof,
  parseDirectoryTip,
  parseInclusionProof,
  recordHash,
  ChainTree,
  RecordTree,
} from '../../src/records/index.js';

const OWN = 'eps-1';

function chain(n: number, tag: string): SignedChangeRecord[] {
  const out: SignedChangeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const record = {
      name: `op-${tag}-${i}`,
      section: 'groups',
      data: [tag],
      created_at: '2026-01-01T00:00:00Z',
    };
    out.push({ parent_hash: out.at(-1)?.hash ?? '', hash: recordHash(record), signature: null, record });
  }
  return out;
}

class ChainDirectory implements Directory {
  records: SignedChangeRecord[] = [];
  private readonly own: DirectoryEntry = newEntry(OWN);
  entry(name: string): DirectoryEntry | undefined {
    return name === OWN ? this.own : undefined;
  }
  entries(query?: EntryQuery): DirectoryEntry[] {
    return [this.own].filter((e) => matchesQuery(e, query));
  }
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  onChange(): void {}
  chain(): readonly SignedChangeRecord[] {
    return this.records;
  }
  private readonly merkle = new ChainTree();
  tree(): RecordTree {
    return this.merkle.sync(this.records);
  }
}

async function ask(b: Broker, method: string, params: JsonObject = {}): Promise<EpsResponse | null> {
  return b.deliver(
    { id: `${OWN}.${method}(q)`, method: `${OWN}.${method}`, params },
    { name: OWN },
    unboundedScope(),
  );
}

test('the tree follows the chain as it grows and when it is reset; proofs verify', async () => {
  const directory = new ChainDirectory();
  const b = new Broker(OWN, directory);
  assert.deepEqual(parseDirectoryTip((await ask(b, '_treeTip'))?.result), new RecordTree().tip());

  directory.records = chain(10, 'a');
  const tip10 = parseDirectoryTip((await ask(b, '_treeTip'))?.result);
  assert.deepEqual(tip10, RecordTree.of(directory.records).tip());
  directory.records = chain(25, 'a');
  const response = await ask(b, '_treeTip');
  assert.equal(response?.id, 'q');
  const tip25 = parseDirectoryTip(response?.result);
  assert.equal(tip25.size, 25);
  const consistency = parseConsistencyProof((await ask(b, '_consistencyProof', { first: 10 }))?.result);
  assert.deepEqual(checkConsistencyProof(consistency, tip10, tip25), { ok: true });
  const hash = directory.records[17]!.hash;
  const inclusion = parseInclusionProof((await ask(b, '_inclusionProof', { hash }))?.result);
  assert.deepEqual(checkInclusionProof(inclusion, tip25), { ok: true });

  directory.records = chain(12, 'reset');
  assert.deepEqual(
    parseDirectoryTip((await ask(b, '_treeTip'))?.result),
    RecordTree.of(directory.records).tip(),
  );
});

test('bad parameters and a directory without a chain are broker errors with the reason', async () => {
  const directory = new ChainDirectory();
  directory.records = chain(3, 'a');
  const b = new Broker(OWN, directory);
  const rejects = (p: Promise<unknown>, message: RegExp): Promise<void> =>
    assert.rejects(p, (e: unknown) => e instanceof BrokerError && message.test(e.message));
  await rejects(ask(b, '_inclusionProof', { index: 3 }), /invalid input data: record 3 is not in the tree/);
  await rejects(ask(b, '_consistencyProof', {}), /invalid input data: first/);

  const json = new ChainDirectory() as Directory;
  Object.defineProperty(json, 'tree', { value: undefined });
  await rejects(ask(new Broker(OWN, json), '_treeTip'), /no verified record chain \(json directory\)/);
});
