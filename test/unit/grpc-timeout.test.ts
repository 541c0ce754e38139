/** grpc-timeout header values: parsing per the gRPC-over-HTTP/2 grammar and encoding that fits 8 digits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeGrpcTimeout, parseGrpcTimeout } from '../../src/grpc/timeout.js';

test('every unit is parsed to milliseconds', () => {
  assert.equal(parseGrpcTimeout('2H'), 7_200_000);
  assert.equal(parseGrpcTimeout('3M'), 180_000);
  assert.equal(parseGrpcTimeout('5S'), 5000);
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('1500u'), 1.5);
  assert.equal(parseGrpcTimeout('2000000n'), 2);
  assert.equal(parseGrpcTimeout('0m'), 0);
  assert.equal(parseGrpcTimeout('00000001S'), 1000, 'leading zeros count as digits');
  assert.equal(parseGrpcTimeout('99999999H'), 99_999_999 * 3_600_000);
});

test('malformed values are ignored (no deadline)', () => {
  for (const bad of [
    '',
    'm',
    '10',
    '123456789m', // 9 digits
    '10x',
    '10 m',
    ' 10m',
    '10m ',
    '-5S',
    '1.5S',
    '+5S',
    '10mm',
    '１０m', // full-width digits
    '0x10m',
  ]) {
    assert.equal(parseGrpcTimeout(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(parseGrpcTimeout(undefined), undefined);
});

test('encoding keeps milliseconds while they fit, rounds up, and never sends 0', () => {
  assert.equal(encodeGrpcTimeout(30_000), '30000m');
  assert.equal(encodeGrpcTimeout(0.2), '1m');
  assert.equal(encodeGrpcTimeout(1.01), '2m');
  assert.equal(encodeGrpcTimeout(0), '1m');
  assert.equal(encodeGrpcTimeout(-50), '1m');
  assert.equal(encodeGrpcTimeout(99_999_999), '99999999m');
});

test('huge timeouts move to a coarser unit, rounded up, and are capped at 99999999H', () => {
  assert.equal(encodeGrpcTimeout(100_000_000), '100000S');
  assert.equal(encodeGrpcTimeout(100_000_001), '100001S');
  assert.equal(encodeGrpcTimeout(99_999_999_001), '1666667M');
  assert.equal(encodeGrpcTimeout(1e14), '27777778H');
  assert.equal(encodeGrpcTimeout(1e20), '99999999H');
  assert.equal(encodeGrpcTimeout(Infinity), '99999999H');
});

test('property: an encoded timeout parses back to at least the timeout, and fits the grammar', () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1e18, noNaN: true }), (ms) => {
      const header = encodeGrpcTimeout(ms);
      assert.match(header, /^\d{1,8}[HMSm]$/);
      const back = parseGrpcTimeout(header)!;
      assert.ok(back >= Math.min(ms, 99_999_999 * 3_600_000), `${ms} -> ${header}`);
    }),
  );
});
