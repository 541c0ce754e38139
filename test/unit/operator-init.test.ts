/**
 * `eps operator init` (src/operator/): on the dev network the requests are signed by the dev intermediate at
 * once and the settings load; running it again keeps keys, certificates and settings; on another network
 * only requests are written until the CA's certificates are put in place; bad input is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/processes.js';
import { initOperator } from '../../src/operator/init.js';
import {
  OPERATOR_DEFAULTS,
  OperatorInitError,
  type OperatorInitOptions,
} from '../../src/operator/options.js';
import { x509 } from '../../src/tls/x509-provider.js';
import { loadAuthority, readSigningRequest } from '../../src/tls/certgen-csr.js';
import { issueTlsCertificate, issueSigningCertificate } from '../../src/tls/certgen-issue.js';
import { fingerprintOfPem } from '../../src/tls/fingerprint.js';
import { loadEpsSettings } from '../../src/settings/index.js';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';

const DEV_CERTS = join(REPO_ROOT, 'settings/dev/certs');

function options(dir: string, extra: Partial<OperatorInitOptions> = {}): OperatorInitOptions {
  return { ...OPERATOR_DEFAULTS, name: 'hd-9', dir, networkDir: REPO_ROOT, proxies: [], ...extra };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'eps-operator-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface RecordFile {
  records: { name: string; section: string; data: unknown[] }[];
}
const readRecords = (dir: string): RecordFile =>
  JSON.parse(readFileSync(join(dir, 'records/hd-9.json'), 'utf8')) as RecordFile;

test('dev network: keys, requests, certificates from the dev CA, settings that load, records', async (t) => {
  await ensureCertificates(REPO_ROOT, 'dev');
  const dir = join(tempDir(t), 'hd-9');
  const result = await initOperator(
    options(dir, { grpc: 'localhost:18890', proxies: ['public-proxy-1.ga'] }),
  );
  assert.equal(result.certified, true);
  assert.equal(statSync(join(dir, 'certs/hd-9.key')).mode & 0o777, 0o600);

  const root = new X509Certificate(readFileSync(join(DEV_CERTS, 'root.crt')));
  const intermediate = new X509Certificate(readFileSync(join(DEV_CERTS, 'intermediate.crt')));
  const tls = new X509Certificate(readFileSync(join(dir, 'certs/hd-9.crt')));
  const sign = new X509Certificate(readFileSync(join(dir, 'certs/hd-9-sign.crt')));
  for (const cert of [tls, sign]) {
    assert.ok(cert.verify(intermediate.publicKey), 'issued by the dev intermediate');
    assert.match(cert.subject, /CN=hd-9/);
  }
  assert.ok(intermediate.verify(root.publicKey));
  assert.match(tls.subjectAltName ?? '', /DNS:hd-9/);
  assert.match(sign.subjectAltName ?? '', /URI:iris-name:\/\/hd-9/);

  const settings = await loadEpsSettings(dir);
  assert.equal(settings.name, 'hd-9');
  assert.deepEqual(
    settings.channels.map((c) => c.type),
    ['jsonrpc_client', 'grpc_server', 'grpc_client', 'jsonrpc_server'],
  );

  const { records } = readRecords(dir);
  assert.deepEqual(
    records.map((r) => r.section),
    ['channels', 'groups', 'services', 'certificates'],
  );
  assert.deepEqual(records[0]!.data[1], {
    type: 'grpc_server',
    settings: { address: 'localhost:18890', proxy: 'public-proxy-1.ga' },
  });
  assert.deepEqual(records[1]!.data, ['health-departments']);
  assert.deepEqual(records[3]!.data, [
    {
      fingerprint: fingerprintOfPem(readFileSync(join(dir, 'certs/hd-9-sign.crt'), 'utf8')),
      key_usage: 'signing',
    },
    {
      fingerprint: fingerprintOfPem(readFileSync(join(dir, 'certs/hd-9.crt'), 'utf8')),
      key_usage: 'encryption',
    },
  ]);

  // Again: nothing the operator may already have handed out changes.
  const before = ['certs/hd-9.key', 'certs/hd-9.crt', 'certs/hd-9-sign.crt', '001_default.yml'].map((f) =>
    readFileSync(join(dir, f), 'utf8'),
  );
  const again = await initOperator(options(dir));
  assert.deepEqual(again.kept.sort(), [
    '001_default.yml',
    'certs/hd-9-sign.crt',
    'certs/hd-9-sign.key',
    'certs/hd-9.crt',
    'certs/hd-9.key',
  ]);
  assert.deepEqual(
    ['certs/hd-9.key', 'certs/hd-9.crt', 'certs/hd-9-sign.crt', '001_default.yml'].map((f) =>
      readFileSync(join(dir, f), 'utf8'),
    ),
    before,
  );
});

test('another network: requests only, then the CA certificates complete the records', async (t) => {
  await ensureCertificates(REPO_ROOT, 'dev');
  const dir = join(tempDir(t), 'hd-9');
  const other = options(dir, {
    network: 'prod',
    sdEndpoints: ['https://sd.example.org:3322/jsonrpc'],
    sdNames: ['sd-prod'],
    caFile: join(DEV_CERTS, 'root.crt'),
    intermediateFile: join(DEV_CERTS, 'intermediate.crt'),
    grpc: '0.0.0.0:4444',
    advertise: 'hd-9.example.org:4444',
  });
  const first = await initOperator(other);
  assert.equal(first.certified, false);
  assert.ok(!first.written.some((f) => f.endsWith('.crt') && f.includes('hd-9')));
  assert.deepEqual(
    readRecords(dir).records.map((r) => r.section),
    ['channels', 'groups', 'services'],
  );
  assert.deepEqual(readRecords(dir).records[0]!.data[1], {
    type: 'grpc_server',
    settings: { address: 'hd-9.example.org:4444' },
  });
  assert.match(
    readFileSync(join(dir, '001_default.yml'), 'utf8'),
    /endpoints: \['https:\/\/sd\.example\.org/,
  );

  // The network's CA signs the requests (here: the dev intermediate, by hand).
  const ca = await loadAuthority(
    readFileSync(join(DEV_CERTS, 'intermediate.crt'), 'utf8'),
    readFileSync(join(DEV_CERTS, 'intermediate.key'), 'utf8'),
  );
  const now = new Date();
  const tlsKey = await readSigningRequest(readFileSync(join(dir, 'certs/hd-9.csr'), 'utf8'), 'hd-9');
  const signKey = await readSigningRequest(readFileSync(join(dir, 'certs/hd-9-sign.csr'), 'utf8'), 'hd-9');
  await assert.rejects(
    readSigningRequest(readFileSync(join(dir, 'certs/hd-9.csr'), 'utf8'), 'hd-1'),
    /CN=hd-9/,
  );
  // Another network's CA gets the name only, not the dev PKI's organisation and place.
  for (const file of ['certs/hd-9.csr', 'certs/hd-9-sign.csr']) {
    const request = new x509.Pkcs10CertificateRequest(readFileSync(join(dir, file), 'utf8'));
    assert.equal(request.subject, 'CN=hd-9', file);
  }
  const tls = await issueTlsCertificate(ca, 'hd-9', tlsKey, now);
  const sign = await issueSigningCertificate(ca, 'hd-9', '', signKey, now);
  writeFileSync(join(dir, 'certs/hd-9.crt'), tls.certificatePem + ca.certificatePem);
  writeFileSync(join(dir, 'certs/hd-9-sign.crt'), sign.certificatePem + ca.certificatePem);

  const second = await initOperator(other);
  assert.equal(second.certified, true);
  const certificates = readRecords(dir).records.find((r) => r.section === 'certificates');
  assert.deepEqual(certificates?.data, [
    { fingerprint: fingerprintOfPem(sign.certificatePem), key_usage: 'signing' },
    { fingerprint: fingerprintOfPem(tls.certificatePem), key_usage: 'encryption' },
  ]);
});

test('bad input is refused with the flag it concerns', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(initOperator(options(dir, { name: 'bad name' })), OperatorInitError);
  await assert.rejects(initOperator(options(dir, { grpc: 'no-port' })), /--grpc must be HOST:PORT/);
  await assert.rejects(initOperator(options(dir, { backend: 'ftp://x' })), /--backend/);
  await assert.rejects(initOperator(options(dir, { network: 'prod' })), /--sd-endpoint is required/);
  // On a network of several machines, peers cannot dial the default localhost:4444.
  const prod = { network: 'prod', sdEndpoints: ['https://sd.example.org/jsonrpc'], sdNames: ['sd-prod'] };
  await assert.rejects(
    initOperator(options(dir, { ...prod, caFile: join(DEV_CERTS, 'root.crt') })),
    /cannot dial localhost:4444; give --advertise/,
  );
});
