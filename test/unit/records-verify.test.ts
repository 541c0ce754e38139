// Record verification and incremental chain verification [docs/protocol.md#record-verification].
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { ChangeRecord, SignedChangeRecord } from '../../src/core/directory-entry.js';
import type { AppendResult } from '../../src/records/index.js';
import {
  ChainVerifier,
  normaliseSignedRecords,
  recordHash,
  signRecord,
  signRecords,
  TrustStore,
  verifyRecord,
} from '../../src/records/index.js';
import type { TestCa, TestSigner } from '../helpers/records-pki.js';
import { createIntermediate, createRoot, createSigner, createTestPki } from '../helpers/records-pki.js';

const DAY_MS = 86_400_000;
const CREATED = '2021-05-17T10:00:00Z';

const change = (name: string, section: string, data: unknown[]): ChangeRecord => ({
  name,
  section,
  data: data as ChangeRecord['data'],
  created_at: CREATED,
});
const certificates = (name: string, signing: string): ChangeRecord =>
  change(name, 'certificates', [
    { fingerprint: signing, key_usage: 'signing' },
    { fingerprint: 'ab'.repeat(32), key_usage: 'encryption' },
  ]);

function failure(result: AppendResult): { index: number; code: string; reason: string } {
  assert.equal(result.ok, false, 'expected a failure');
  if (result.ok) throw new Error('unreachable');
  return { index: result.index, code: result.code, reason: result.reason };
}

describe('record chains', () => {
  let root: TestCa;
  let intermediate: TestCa;
  let admin: TestSigner;
  let adminAlt: TestSigner;
  let operator: TestSigner;
  let trust: TrustStore;
  let chain: SignedChangeRecord[];

  before(async () => {
    ({ root, intermediate, admin, adminAlt, operator } = await createTestPki());
    trust = TrustStore.fromPem([root.pem], [intermediate.pem]);
    chain = signRecords(
      [
        change('hd-1', 'groups', ['health-departments']),
        certificates('hd-1', admin.fingerprint),
        change('hd-1', 'channels', [{ type: 'grpc_server', settings: { address: 'localhost:8888' } }]),
      ],
      '',
      admin.key,
      admin.pem,
    );
  });

  const verifier = (records: SignedChangeRecord[] = chain): ChainVerifier => {
    const v = new ChainVerifier(trust);
    assert.deepEqual(v.append(records), { ok: true });
    return v;
  };

  it('sign → JSON → normalise → verify round trip', () => {
    const received = normaliseSignedRecords(JSON.parse(JSON.stringify(chain)));
    assert.deepEqual(received, chain);
    const v = new ChainVerifier(trust);
    assert.deepEqual(v.append(received), { ok: true });
    assert.equal(v.tip, chain[2]!.hash);
    assert.equal(v.length, 3);
    assert.equal(v.pinFor('hd-1'), admin.fingerprint);
    assert.equal(chain[1]!.parent_hash, chain[0]!.hash);
    assert.equal(chain[0]!.hash, recordHash(chain[0]!.record));
  });

  it('verifyRecord (original semantics) accepts every record given its prior records', () => {
    chain.forEach((record, i) => {
      assert.deepEqual(verifyRecord(record, chain.slice(0, i), trust), { ok: true, signer: 'hd-1' });
    });
  });

  it('a changed byte in data is an invalid hash; a matching hash with the old signature is an invalid signature', () => {
    const tampered: SignedChangeRecord = {
      ...chain[0]!,
      record: { ...chain[0]!.record, data: ['health-departmentz'] },
    };
    assert.deepEqual(failure(new ChainVerifier(trust).append([tampered])), {
      index: 0,
      code: 'hash',
      reason: 'invalid hash value',
    });
    const rehashed = { ...tampered, hash: recordHash(tampered.record) };
    assert.deepEqual(failure(new ChainVerifier(trust).append([rehashed])), {
      index: 0,
      code: 'signature',
      reason: 'invalid signature',
    });
    assert.equal(verifyRecord(rehashed, [], trust).ok, false);
  });

  it('an upper-case hash or a missing signature does not verify', () => {
    const upper = { ...chain[0]!, hash: chain[0]!.hash.toUpperCase() };
    assert.equal(failure(new ChainVerifier(trust).append([upper])).code, 'hash');
    const unsigned = { ...chain[0]!, signature: null };
    assert.equal(failure(new ChainVerifier(trust).append([unsigned])).code, 'unsigned');
  });

  it('a wrong parent hash is refused with both hashes named', () => {
    const v = verifier();
    const stranger = randomBytes(32).toString('hex');
    const record = signRecord(change('hd-1', 'groups', []), stranger, admin.key, admin.pem);
    assert.deepEqual(failure(v.append([record])), {
      index: 0,
      code: 'parent',
      reason: `parent hash ${stranger} does not match tip ${chain[2]!.hash}`,
    });
    // a non-root record cannot start an empty chain either
    assert.equal(failure(new ChainVerifier(trust).append([chain[1]!])).code, 'parent');
  });

  it('a replayed old record does not extend the tip', () => {
    const v = verifier();
    const result = failure(v.append([chain[1]!]));
    assert.equal(result.code, 'parent');
    assert.match(result.reason, /^parent hash [0-9a-f]{64} does not match tip [0-9a-f]{64}$/);
    assert.equal(failure(v.append([chain[0]!])).code, 'parent'); // a root only starts an empty chain
    assert.equal(v.length, 3);
  });

  it('after a pin exists, a record signed by another (-alt) certificate of the same name is refused', () => {
    const v = verifier();
    const alt = signRecord(change('hd-1', 'groups', ['x']), v.tip, adminAlt.key, adminAlt.pem);
    assert.deepEqual(failure(v.append([alt])), {
      index: 0,
      code: 'pin',
      reason: 'signing certificate does not match the pinned fingerprint for hd-1',
    });
    assert.equal(verifyRecord(alt, chain, trust).ok, false);
    // without the pinning record before it (trust on first use), the same certificate is fine
    const fresh = signRecord(change('hd-1', 'groups', ['x']), '', adminAlt.key, adminAlt.pem);
    assert.deepEqual(new ChainVerifier(trust).append([fresh]), { ok: true });
    assert.deepEqual(verifyRecord(alt, chain.slice(0, 1), trust), { ok: true, signer: 'hd-1' });
  });

  it('a verifier replayed from a verified prefix (ofVerified) judges what follows like one that verified it', () => {
    const replayed = ChainVerifier.ofVerified(trust, chain.slice(0, 2));
    const checked = verifier(chain.slice(0, 2));
    assert.deepEqual([replayed.tip, replayed.length], [checked.tip, checked.length]);
    assert.deepEqual(replayed.pins(), checked.pins());
    const alt = signRecord(change('hd-1', 'groups', ['x']), replayed.tip, adminAlt.key, adminAlt.pem);
    assert.equal(failure(replayed.append([alt])).code, 'pin', 'the pin set in the prefix holds');
    assert.equal(failure(replayed.append([chain[0]!])).code, 'parent');
    assert.deepEqual(replayed.append([chain[2]!]), { ok: true });
    assert.equal(ChainVerifier.ofVerified(trust, []).tip, '');
  });

  it('pins follow the last signing fingerprint; records without one keep it; other names do not touch it', () => {
    const v = verifier();
    const keep = signRecords(
      [
        change('hd-1', 'certificates', [{ fingerprint: 'cd'.repeat(32), key_usage: 'encryption' }]),
        certificates('op-1', operator.fingerprint),
      ],
      v.tip,
      admin.key,
      admin.pem,
    );
    assert.deepEqual(v.append(keep), { ok: true });
    assert.equal(v.pinFor('hd-1'), admin.fingerprint);
    assert.equal(v.pinFor('op-1'), operator.fingerprint);
    // rotate the pin to the -alt certificate: afterwards only -alt may sign as hd-1
    const [rotate] = signRecords([certificates('hd-1', adminAlt.fingerprint)], v.tip, admin.key, admin.pem);
    assert.deepEqual(v.append([rotate!]), { ok: true });
    const byOld = signRecord(change('hd-1', 'groups', []), v.tip, admin.key, admin.pem);
    assert.equal(failure(v.append([byOld])).code, 'pin');
    const byNew = signRecord(change('hd-1', 'groups', []), v.tip, adminAlt.key, adminAlt.pem);
    assert.deepEqual(v.append([byNew]), { ok: true });
  });

  it('a signer outside sd-admin is refused, whatever it writes', () => {
    const v = verifier();
    const record = signRecord(
      change('op-1', 'channels', [{ type: 'grpc_client' }]),
      v.tip,
      operator.key,
      operator.pem,
    );
    assert.deepEqual(failure(v.append([record])), {
      index: 0,
      code: 'not-admin',
      reason: 'signer op-1 is not in group sd-admin',
    });
    assert.equal(verifyRecord(record, chain, trust).ok, false);
  });

  it('an expired signing certificate is refused', async () => {
    const expired = await createSigner(intermediate, {
      name: 'hd-2',
      groups: ['sd-admin'],
      notBefore: new Date(Date.now() - 30 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const v = verifier();
    const record = signRecord(change('hd-2', 'groups', []), v.tip, expired.key, expired.pem);
    assert.deepEqual(failure(v.append([record])), {
      index: 0,
      code: 'expired',
      reason: 'certificate expired',
    });
    // and records that were fine become invalid once the clock passes the intermediate's end
    const later = new ChainVerifier(trust, { now: () => Date.now() + 400 * DAY_MS });
    assert.equal(failure(later.append(chain)).code, 'chain');
  });

  it('a certificate from another CA is refused', async () => {
    const otherRoot = await createRoot('Other Root');
    const otherIntermediate = await createIntermediate(otherRoot, 'Test Intermediate');
    const foreign = await createSigner(otherIntermediate, { name: 'hd-9', groups: ['sd-admin'] });
    const v = verifier();
    const record = signRecord(change('hd-9', 'groups', []), v.tip, foreign.key, foreign.pem);
    assert.deepEqual(failure(v.append([record])), {
      index: 0,
      code: 'chain',
      reason: 'certificate chain not valid: certificate signed by unknown authority',
    });
    assert.equal(failure(new ChainVerifier(TrustStore.fromPem([])).append(chain)).code, 'chain');
  });

  it('a malformed certificate PEM is a clean failure, never a crash', () => {
    const v = verifier();
    const record = signRecord(change('hd-1', 'groups', []), v.tip, admin.key, admin.pem);
    for (const c of ['', 'garbage', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n']) {
      const broken = { ...record, signature: { ...record.signature!, c } };
      const result = failure(v.append([broken]));
      assert.equal(result.code, 'certificate');
      assert.match(result.reason, /^invalid signing certificate: /);
      assert.equal(verifyRecord(broken, [], trust).ok, false);
    }
    assert.equal(v.length, 3);
  });

  it('a failing batch leaves the state unchanged; the good prefix can be appended afterwards', () => {
    const v = verifier();
    const [good, bad] = signRecords(
      [change('hd-1', 'groups', ['a']), change('hd-1', 'groups', ['b'])],
      v.tip,
      admin.key,
      admin.pem,
    );
    const badCopy = { ...bad!, record: { ...bad!.record, data: ['c'] } };
    assert.deepEqual(failure(v.append([good!, badCopy])), {
      index: 1,
      code: 'hash',
      reason: 'invalid hash value',
    });
    assert.equal(v.tip, chain[2]!.hash);
    assert.equal(v.length, 3);
    assert.deepEqual(v.append([good!]), { ok: true });
    assert.deepEqual(v.append([bad!]), { ok: true });
    assert.equal(v.length, 5);
  });

  it('the earliest failure wins, including signature failures before a later structural failure', () => {
    const v = verifier();
    const [a, b] = signRecords(
      [change('hd-1', 'groups', ['a']), change('hd-1', 'groups', ['b'])],
      v.tip,
      admin.key,
      admin.pem,
    );
    const badSignature = {
      ...a!,
      signature: { ...a!.signature!, s: (BigInt(a!.signature!.s) + 1n).toString() },
    };
    const badHash = { ...b!, hash: 'ff'.repeat(32) };
    assert.deepEqual(failure(v.append([badSignature, badHash])), {
      index: 0,
      code: 'signature',
      reason: 'invalid signature',
    });
  });

  it('clone() gives an independent verifier', () => {
    const v = verifier(chain.slice(0, 2));
    const copy = v.clone();
    assert.deepEqual(copy.append([chain[2]!]), { ok: true });
    assert.equal(copy.length, 3);
    assert.equal(v.length, 2);
    assert.equal(v.tip, chain[1]!.hash);
    assert.deepEqual(v.append([chain[2]!]), { ok: true });
  });

  it('initialPins apply to a reset chain (pins of the current chain, sequence D)', () => {
    const current = verifier();
    const reset = new ChainVerifier(trust, { initialPins: current.pins() });
    const byAlt = signRecord(change('hd-1', 'groups', []), '', adminAlt.key, adminAlt.pem);
    assert.equal(failure(reset.append([byAlt])).code, 'pin');
    const byAdmin = signRecord(change('hd-1', 'groups', []), '', admin.key, admin.pem);
    assert.deepEqual(reset.append([byAdmin]), { ok: true });
  });

  it('appendAsync gives the same results as append', async () => {
    const v = new ChainVerifier(trust);
    assert.deepEqual(await v.appendAsync(chain), { ok: true });
    assert.equal(v.tip, chain[2]!.hash);
    const [a, b] = signRecords(
      [change('hd-1', 'groups', ['a']), change('hd-1', 'groups', ['b'])],
      v.tip,
      admin.key,
      admin.pem,
    );
    const badSignature = {
      ...b!,
      signature: { ...b!.signature!, r: (BigInt(b!.signature!.r) + 1n).toString() },
    };
    assert.deepEqual(failure(await v.appendAsync([a!, badSignature])), {
      index: 1,
      code: 'signature',
      reason: 'invalid signature',
    });
    assert.equal(v.length, 3);
    const [p, q] = await Promise.all([v.appendAsync([a!]), v.appendAsync([b!])]);
    assert.deepEqual([p, q], [{ ok: true }, { ok: true }]);
    assert.equal(v.tip, b!.hash);
    assert.equal(failure(await v.appendAsync([chain[1]!])).code, 'parent');
  });
});
