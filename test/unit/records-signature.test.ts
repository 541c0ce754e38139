// ECDSA signatures, certificates and chains [docs/protocol.md#record-signatures].
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  ecdsaSign,
  ecdsaVerify,
  loadSigningCertificate,
  normaliseChangeRecord,
  parseCertificate,
  RecordError,
  recordHash,
  signData,
  signingMessage,
  signRecord,
  TrustStore,
  verifySignedData,
} from '../../src/records/index.js';
import type { TestCa, TestSigner } from '../helpers/records-pki.js';
import { createIntermediate, createRoot, createSigner } from '../helpers/records-pki.js';

const DAY_MS = 86_400_000;
const b64url = (hex: string): string => Buffer.from(hex, 'hex').toString('base64url');

describe('ECDSA verification vector', () => {
  const d = 'e5eb09bc232327cdee5d9d457772a37b012ff956232a5ffde713b444d8a090ed';
  const x = 'acd25e6bf3fb06ee67654a3bc0f76671e18df1e810bfddbf97a15fcfc3473452';
  const y = 'ae13566ce2bc81ae907e0ded396ce5da85d135f44dff4eca307049c60506fd86';
  const r = '92016657208164958154180020019124343651287670514346079952763543319154824396527';
  const s = '39880136609665253552674019141603304037043280086022171333962379205619936856890';
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(x), y: b64url(y) },
    format: 'jwk',
  });
  const record = normaliseChangeRecord({
    name: 'hd-1',
    section: 'groups',
    data: ['health-departments'],
    created_at: '2021-05-17T10:00:00Z',
  });
  const message = signingMessage('', recordHash(record), record);

  it('the published r and s verify over the signing message E(M)', () => {
    assert.equal(ecdsaVerify(message, { r, s }, publicKey, 32), true);
  });

  it('a changed message, r or s does not verify', () => {
    const changed = Buffer.from(message);
    const last = changed.length - 1;
    changed.writeUInt8(changed.readUInt8(last) ^ 1, last);
    assert.equal(ecdsaVerify(changed, { r, s }, publicKey, 32), false);
    assert.equal(ecdsaVerify(message, { r, s: (BigInt(s) + 1n).toString() }, publicKey, 32), false);
    assert.equal(ecdsaVerify(message, { r: '1'.repeat(100), s }, publicKey, 32), false);
    assert.throws(() => ecdsaVerify(message, { r: '12a', s }, publicKey, 32), RecordError);
  });

  it('the vector key signs in the same format (random nonce) and verifies', () => {
    const key = createPrivateKey({
      key: { kty: 'EC', crv: 'P-256', x: b64url(x), y: b64url(y), d: b64url(d) },
      format: 'jwk',
    });
    const sig = ecdsaSign(message, key);
    assert.match(sig.r, /^\d{10,100}$/);
    assert.match(sig.s, /^\d{10,100}$/);
    assert.equal(ecdsaVerify(message, sig, publicKey, 32), true);
  });
});

describe('certificates', () => {
  let root: TestCa;
  let intermediate: TestCa;
  let admin: TestSigner;

  before(async () => {
    root = await createRoot();
    intermediate = await createIntermediate(root);
    admin = await createSigner(intermediate, {
      name: 'hd-1',
      groups: ['sd-admin', '', 'ops'],
      dnsNames: ['hd-1'],
    });
  });

  it('extracts name, groups, DNS names and the fingerprint', () => {
    const cert = loadSigningCertificate(admin.pem);
    assert.equal(cert.irisName, 'hd-1');
    assert.deepEqual(cert.irisGroups, ['sd-admin', 'ops']);
    assert.deepEqual(cert.dnsNames, ['hd-1']);
    assert.equal(cert.fingerprint, admin.fingerprint);
    assert.match(cert.fingerprint, /^[0-9a-f]{64}$/);
    // canonical PEM: 64-character lines
    for (const line of cert.pem.trim().split('\n').slice(1, -1)) assert.ok(line.length <= 64);
    assert.equal(cert.pem, `${cert.pem.trim()}\n`);
  });

  it('uses only the first PEM block (leaf with the intermediate appended)', () => {
    const bundle = `${admin.pem}\n${intermediate.pem}`;
    assert.equal(loadSigningCertificate(bundle).fingerprint, admin.fingerprint);
  });

  it('malformed PEM is a clean RecordError', () => {
    const cases: [string, RegExp][] = [
      ['', /no PEM block found/],
      ['not a certificate at all', /no PEM block found/],
      ['-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n', /not valid base64/],
      ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /cannot be parsed/],
      [
        '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n',
        /type EC PRIVATE KEY, not CERTIFICATE/,
      ],
      [admin.pem.slice(0, 200), /no PEM block found/],
    ];
    for (const [pem, message] of cases) {
      assert.throws(
        () => loadSigningCertificate(pem),
        (err: unknown) =>
          err instanceof RecordError && err.code === 'certificate' && message.test(err.message),
        JSON.stringify(pem.slice(0, 40)),
      );
      // a cached failure fails the same way again
      assert.throws(() => parseCertificate(pem), RecordError);
    }
  });

  it('requires digitalSignature and an ECDSA key for signing', async () => {
    const noDs = await createSigner(intermediate, { name: 'x', groups: ['sd-admin'], keyUsage: 0x04 });
    assert.throws(() => loadSigningCertificate(noDs.pem), /key usage does not include digitalSignature/);
    const rsa = await createSigner(intermediate, { name: 'x', groups: ['sd-admin'], rsa: true });
    assert.throws(() => loadSigningCertificate(rsa.pem), /key is rsa, not ECDSA/);
    // the CA certificate itself parses fine as a generic certificate
    assert.equal(parseCertificate(root.pem).isCa, true);
  });
});

describe('certificate chains', () => {
  let root: TestCa;
  let intermediate: TestCa;
  let trust: TrustStore;

  before(async () => {
    // like the dev PKI: RSA root and intermediate, ECDSA leaves
    root = await createRoot('Dev Root', { rsa: true });
    intermediate = await createIntermediate(root, 'Dev Intermediate', { rsa: true });
    trust = TrustStore.fromPem([root.pem], [intermediate.pem]);
  });

  const check = (signer: TestSigner, t = trust, options = {}): ReturnType<TrustStore['verify']> =>
    t.verify(loadSigningCertificate(signer.pem), options);

  it('accepts a leaf without EKU, or with codeSigning / anyExtendedKeyUsage', async () => {
    assert.equal(check(await createSigner(intermediate, { name: 'a' })).ok, true);
    assert.equal(
      check(await createSigner(intermediate, { name: 'b', extKeyUsages: ['1.3.6.1.5.5.7.3.3'] })).ok,
      true,
    );
    assert.equal(
      check(await createSigner(intermediate, { name: 'c', extKeyUsages: ['2.5.29.37.0'] })).ok,
      true,
    );
  });

  it('rejects a leaf whose EKU does not allow code signing', async () => {
    const result = check(
      await createSigner(intermediate, { name: 'd', extKeyUsages: ['1.3.6.1.5.5.7.3.1'] }),
    );
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, /does not allow code signing/);
  });

  it('rejects an intermediate whose EKU does not allow code signing, or which is not a CA', async () => {
    const serverOnly = await createIntermediate(root, 'Server Only', { extKeyUsages: ['1.3.6.1.5.5.7.3.1'] });
    const leaf1 = await createSigner(serverOnly, { name: 'e' });
    const r1 = check(leaf1, TrustStore.fromPem([root.pem], [serverOnly.pem]));
    assert.match(r1.ok ? '' : r1.reason, /does not allow code signing/);

    const notCa = await createIntermediate(root, 'Not A CA', { ca: false });
    const leaf2 = await createSigner(notCa, { name: 'f' });
    const r2 = check(leaf2, TrustStore.fromPem([root.pem], [notCa.pem]));
    assert.match(r2.ok ? '' : r2.reason, /is not a CA/);
  });

  it('rejects a certificate from another CA and works without intermediates when none are needed', async () => {
    const otherRoot = await createRoot('Other Root');
    const otherIntermediate = await createIntermediate(otherRoot, 'Dev Intermediate');
    const foreign = await createSigner(otherIntermediate, { name: 'hd-1', groups: ['sd-admin'] });
    const result = check(foreign);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, /unknown authority/);
    const direct = await createSigner(root, { name: 'g' });
    assert.equal(check(direct, TrustStore.fromPem([root.pem])).ok, true);
    assert.equal(check(direct, TrustStore.fromPem([])).ok, false);
  });

  it('checks validity at the current time, for the leaf and the intermediates', async () => {
    const leaf = await createSigner(intermediate, { name: 'h' });
    assert.equal(check(leaf, trust, { now: Date.now() + 400 * DAY_MS }).ok, false); // intermediate expired
    const r = check(leaf, trust, { now: Date.now() + 400 * DAY_MS });
    assert.match(r.ok ? '' : r.reason, /issuer certificate .*Dev Intermediate.* expired/);
    const expired = await createSigner(intermediate, {
      name: 'i',
      notBefore: new Date(Date.now() - 10 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const e = check(expired);
    assert.deepEqual(e, { ok: false, expired: true, reason: 'certificate expired' });
  });

  it('optionally requires a DNS name (CLI sign/verify)', async () => {
    const leaf = await createSigner(intermediate, { name: 'hd-1', dnsNames: ['hd-1', '*.hd-1.local'] });
    assert.equal(check(leaf, trust, { dnsName: 'hd-1' }).ok, true);
    assert.equal(check(leaf, trust, { dnsName: 'HD-1' }).ok, true);
    assert.equal(check(leaf, trust, { dnsName: 'x.hd-1.local' }).ok, true);
    assert.equal(check(leaf, trust, { dnsName: 'a.b.hd-1.local' }).ok, false);
    const wrong = check(leaf, trust, { dnsName: 'hd-2' });
    assert.deepEqual(wrong, { ok: false, expired: false, reason: 'certificate is not valid for name hd-2' });
  });
});

describe('generic signed data (eps sd sign / verify)', () => {
  it('round trip with a DNS name; tampering, wrong name and junk fail cleanly', async () => {
    const root = await createRoot();
    const intermediate = await createIntermediate(root);
    const signer = await createSigner(intermediate, { name: 'hd-1', dnsNames: ['hd-1'] });
    const trust = TrustStore.fromPem([root.pem], [intermediate.pem]);
    const envelope = signData({ hello: 'world', n: [1, 2] }, signer.key, signer.pem);
    assert.deepEqual(Object.keys(envelope), ['signature', 'data']);
    const copy = JSON.parse(JSON.stringify(envelope)) as unknown;
    const ok = verifySignedData(copy, trust, { dnsName: 'hd-1' });
    assert.equal(ok.ok, true);
    assert.equal(ok.ok && ok.signer.irisName, 'hd-1');

    const tampered = { ...envelope, data: { hello: 'world!', n: [1, 2] } };
    assert.deepEqual(verifySignedData(tampered, trust, { dnsName: 'hd-1' }), {
      ok: false,
      reason: 'invalid signature',
    });
    const wrongName = verifySignedData(envelope, trust, { dnsName: 'hd-2' });
    assert.equal(wrongName.ok, false);
    for (const junk of [
      null,
      5,
      {},
      { signature: { r: 1 } },
      { signature: { ...envelope.signature, c: 'x' }, data: {} },
    ]) {
      assert.equal(verifySignedData(junk, trust).ok, false);
    }
  });

  it('signRecord refuses a key that does not belong to the certificate', async () => {
    const root = await createRoot();
    const a = await createSigner(root, { name: 'a', groups: ['sd-admin'] });
    const b = await createSigner(root, { name: 'b', groups: ['sd-admin'] });
    const record = { name: 'a', section: 'groups', data: [], created_at: '2021-05-17T10:00:00Z' };
    assert.throws(() => signRecord(record, '', b.key, a.pem), /does not belong to the signing certificate/);
    const signed = signRecord(record, '', a.key, a.pem);
    assert.equal(signed.signature?.c, loadSigningCertificate(a.pem).pem);
  });
});
