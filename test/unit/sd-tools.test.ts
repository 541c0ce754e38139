/** Small parts of the api directory and record tools: signing timestamps, endpoint pairing, SEC1 key loading. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { sdTargets } from '../../src/directory/sd-api-client.js';
import { compareCreatedAt, parseCreatedAt } from '../../src/records/index.js';
import { RecordToolError } from '../../src/records-tools/errors.js';
import { loadSec1PrivateKey } from '../../src/records-tools/signing-identity.js';
import { signingTimes } from '../../src/records-tools/timestamps.js';
import { CERTS, testCertificates } from '../helpers/network.js';

before(async () => {
  await testCertificates();
});

test('signing times are canonical RFC 3339, strictly increasing and at the given instant', () => {
  const now = new Date('2024-02-29T23:59:58.120Z');
  const times = signingTimes(3, now);
  for (const t of times) assert.equal(parseCreatedAt(t).canonical, t);
  assert.ok(compareCreatedAt(times[0]!, times[1]!) < 0);
  assert.ok(compareCreatedAt(times[1]!, times[2]!) < 0);
  const first = parseCreatedAt(times[0]!);
  assert.equal(first.epochSeconds, Math.floor(now.getTime() / 1000));
  assert.equal(first.nanos, 120_000_000);
  assert.equal(parseCreatedAt(times[2]!).nanos, 120_000_002);
});

test('endpoints pair with server names by position, the last name covering the rest', () => {
  assert.deepEqual(
    sdTargets({ endpoints: ['https://a', 'https://b', 'https://c'], server_names: ['x', 'y'] }),
    [
      { endpoint: 'https://a', serverName: 'x' },
      { endpoint: 'https://b', serverName: 'y' },
      { endpoint: 'https://c', serverName: 'y' },
    ],
  );
});

test('signing keys must be SEC1 (EC PRIVATE KEY); PKCS#8 and garbage are refused', () => {
  const key = loadSec1PrivateKey(readFileSync(join(CERTS, 'hd-1-sign.key'), 'utf8'), 'hd-1-sign.key');
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.throws(
    () => loadSec1PrivateKey(readFileSync(join(CERTS, 'hd-1.key'), 'utf8'), 'hd-1.key'),
    (e: unknown) =>
      e instanceof RecordToolError && /PRIVATE KEY PEM block; an EC PRIVATE KEY/.test(e.message),
  );
  assert.throws(() => loadSec1PrivateKey('not a key', 'x'), RecordToolError);
});
