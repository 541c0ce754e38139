// Tests of the development PKI generator (src/tls/certgen.ts) and the fingerprint helpers, on a PKI
// generated into a temporary folder: files, chains, extensions, validity, records and real TLS handshakes.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { generateCertificates, type GeneratedCertificates } from '../../src/tls/certgen.js';
import {
  derToCertificatePem,
  fingerprintOfDer,
  fingerprintOfPem,
  PemCertificateError,
  readFirstCertificateDer,
  readFirstCertificatePem,
} from '../../src/tls/fingerprint.js';
import {
  CERTIFICATE_RECORDS_FILE,
  expectedCertificateFiles,
  INTERMEDIATE_VALIDITY_DAYS,
  LEAF_KINDS,
  leafFiles,
  PKI_OPERATOR_NAMES,
  ROOT_VALIDITY_DAYS,
} from '../../src/tls/pki-plan.js';
import { x509 } from '../../src/tls/x509-provider.js';

const HOUR_MS = 60 * 60 * 1000;

let tmp: string;
let certsDir: string;
let result: GeneratedCertificates;
const generatedAt = new Date();

async function text(file: string): Promise<string> {
  return readFile(join(certsDir, file), 'utf8');
}

async function cert(file: string): Promise<X509Certificate> {
  return new X509Certificate(await text(file));
}

async function peculiar(file: string): Promise<x509.X509Certificate> {
  return new x509.X509Certificate(readFirstCertificatePem(await text(file)));
}

function keyUsageOf(c: x509.X509Certificate): number | undefined {
  return c.getExtension(x509.KeyUsagesExtension)?.usages;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'eps-certgen-'));
  certsDir = join(tmp, 'certs');
  const started = performance.now();
  result = await generateCertificates({ certsDir, now: generatedAt });
  const elapsed = Math.round(performance.now() - started);
  console.log(`generated ${result.fileCount} files in ${elapsed} ms (reported ${result.durationMs} ms)`);
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('generated files', () => {
  it('writes every key and certificate file and the record file next to certs/', async () => {
    const expected = expectedCertificateFiles(PKI_OPERATOR_NAMES);
    assert.equal(expected.length, 4 + PKI_OPERATOR_NAMES.length * 8);
    assert.equal(result.fileCount, expected.length);
    for (const file of expected) assert.ok((await text(file)).startsWith('-----BEGIN '), file);
    assert.equal(result.recordsFile, join(tmp, 'directory', CERTIFICATE_RECORDS_FILE));
  });

  it('writes leaf files as leaf followed by the intermediate', async () => {
    const intermediate = await text('intermediate.crt');
    for (const name of PKI_OPERATOR_NAMES) {
      for (const kind of LEAF_KINDS) {
        const chain = await text(leafFiles(name, kind).crt);
        assert.equal(chain.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2);
        assert.ok(chain.endsWith(intermediate));
      }
    }
  });

  it('writes TLS keys as PKCS#8 and signing keys as SEC1 "EC PRIVATE KEY"', async () => {
    for (const name of PKI_OPERATOR_NAMES) {
      for (const kind of LEAF_KINDS) {
        const pem = await text(leafFiles(name, kind).key);
        const signing = kind === 'sign' || kind === 'sign-alt';
        assert.ok(pem.startsWith(signing ? '-----BEGIN EC PRIVATE KEY-----' : '-----BEGIN PRIVATE KEY-----'));
        const key = createPrivateKey(pem);
        assert.equal(key.asymmetricKeyType, signing ? 'ec' : 'rsa');
        if (signing) assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
        else assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
      }
    }
    assert.ok((await text('root.key')).startsWith('-----BEGIN PRIVATE KEY-----'));
  });

  it('gives the -alt twins their own keys', async () => {
    const tls1 = await cert('hd-1.crt');
    const tlsAlt = await cert('hd-1-alt.crt');
    assert.notEqual(
      tls1.publicKey.export({ type: 'spki', format: 'pem' }),
      tlsAlt.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    assert.equal(tlsAlt.subject, tls1.subject);
    const sign = await cert('hd-1-sign.crt');
    const signAlt = await cert('hd-1-sign-alt.crt');
    assert.notEqual(sign.fingerprint256, signAlt.fingerprint256);
    assert.equal(signAlt.subjectAltName, sign.subjectAltName);
  });
});

describe('chains', () => {
  it('root is self-signed CA, intermediate is a CA with path length 0 signed by the root', async () => {
    const root = await cert('root.crt');
    const intermediate = await cert('intermediate.crt');
    assert.ok(root.ca && intermediate.ca);
    assert.ok(root.checkIssued(root) && root.verify(root.publicKey));
    assert.ok(intermediate.checkIssued(root) && intermediate.verify(root.publicKey));
    assert.match(root.subject, /CN=Testing-Development/);
    const constraints = (await peculiar('intermediate.crt')).getExtension(x509.BasicConstraintsExtension);
    assert.equal(constraints?.ca, true);
    assert.equal(constraints?.pathLength, 0);
    const usages = x509.KeyUsageFlags;
    assert.equal(
      keyUsageOf(await peculiar('intermediate.crt')),
      usages.digitalSignature | usages.keyCertSign | usages.cRLSign,
    );
  });

  it('every leaf verifies against the intermediate and not against the root directly', async () => {
    const root = await cert('root.crt');
    const intermediate = await cert('intermediate.crt');
    for (const name of PKI_OPERATOR_NAMES) {
      for (const kind of LEAF_KINDS) {
        const leaf = await cert(leafFiles(name, kind).crt);
        assert.ok(leaf.checkIssued(intermediate), `${name} ${kind}`);
        assert.ok(leaf.verify(intermediate.publicKey), `${name} ${kind}`);
        assert.ok(!leaf.checkIssued(root));
        assert.ok(!leaf.ca);
        assert.ok(leaf.checkPrivateKey(createPrivateKey(await text(leafFiles(name, kind).key))));
      }
    }
  });

  it('no certificate outlives its issuer, and notBefore lies about an hour in the past', async () => {
    const root = await cert('root.crt');
    const intermediate = await cert('intermediate.crt');
    const leaf = await cert('sd-1.crt');
    const to = (c: X509Certificate): number => Date.parse(c.validTo);
    assert.ok(to(leaf) < to(intermediate) && to(intermediate) < to(root));
    const day = 24 * HOUR_MS;
    assert.ok(Math.abs(to(intermediate) - generatedAt.getTime() - INTERMEDIATE_VALIDITY_DAYS * day) < 2000);
    assert.ok(Math.abs(to(root) - generatedAt.getTime() - ROOT_VALIDITY_DAYS * day) < 2000);
    for (const c of [root, intermediate, leaf]) {
      assert.ok(Math.abs(Date.parse(c.validFrom) - (generatedAt.getTime() - HOUR_MS)) < 2000);
    }
  });

  it('uses distinct random serial numbers', async () => {
    const serials = await Promise.all(['root.crt', 'intermediate.crt', 'hd-1.crt', 'hd-1-alt.crt'].map(cert));
    assert.equal(new Set(serials.map((c) => c.serialNumber)).size, 4);
  });
});

describe('extensions', () => {
  it('TLS leaves: CN and SANs NAME and *.NAME.local, key usage, server and client auth', async () => {
    for (const name of PKI_OPERATOR_NAMES) {
      for (const file of [`${name}.crt`, `${name}-alt.crt`]) {
        const c = await cert(file);
        assert.match(c.subject, new RegExp(`^C=DE\\nST=Berlin\\nL=Berlin\\nO=IRIS\\nOU=IT\\nCN=${name}$`));
        assert.equal(c.subjectAltName, `DNS:${name}, DNS:*.${name}.local`);
        assert.deepEqual(c.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // Node: EKU OIDs
        const flags = x509.KeyUsageFlags;
        assert.equal(keyUsageOf(await peculiar(file)), flags.digitalSignature | flags.keyEncipherment);
      }
    }
  });

  it('signing leaves: iris-name / iris-group URIs and DNS name, digitalSignature only, no EKU', async () => {
    for (const name of PKI_OPERATOR_NAMES) {
      for (const file of [`${name}-sign.crt`, `${name}-sign-alt.crt`]) {
        const c = await cert(file);
        const group = name === 'hd-1' ? 'sd-admin' : '';
        assert.equal(c.subjectAltName, `URI:iris-name://${name}, URI:iris-group://${group}, DNS:${name}`);
        assert.equal(c.keyUsage, undefined);
        const p = await peculiar(file);
        assert.equal(p.getExtension(x509.ExtendedKeyUsageExtension), null);
        assert.equal(keyUsageOf(p), x509.KeyUsageFlags.digitalSignature);
        assert.equal(c.publicKey.asymmetricKeyType, 'ec');
      }
    }
  });

  it('only hd-1 carries the sd-admin group', async () => {
    const admins: string[] = [];
    for (const name of PKI_OPERATOR_NAMES) {
      if ((await cert(`${name}-sign.crt`)).subjectAltName?.includes('iris-group://sd-admin'))
        admins.push(name);
    }
    assert.deepEqual(admins, ['hd-1']);
  });
});

describe('fingerprints and directory records', () => {
  it('fingerprintOfPem equals Node fingerprint256 without colons, lower-cased', async () => {
    for (const file of ['root.crt', 'hd-1.crt', 'hd-1-sign.crt', 'public-proxy-1.ga-alt.crt']) {
      const pem = await text(file);
      const expected = new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
      assert.equal(fingerprintOfPem(pem), expected);
      assert.match(expected, /^[0-9a-f]{64}$/);
      assert.equal(fingerprintOfDer(new X509Certificate(pem).raw), expected);
    }
  });

  it('readFirstCertificatePem returns the leaf of a chain, normalised, and skips other blocks', async () => {
    const chain = await text('hd-1.crt');
    const leaf = readFirstCertificatePem(chain);
    assert.equal(leaf.match(/-----BEGIN CERTIFICATE-----/g)?.length, 1);
    assert.ok(chain.startsWith(leaf));
    assert.equal(derToCertificatePem(readFirstCertificateDer(chain)), leaf);
    const keyThenCert = (await text('hd-1.key')) + chain;
    assert.equal(readFirstCertificatePem(keyThenCert), leaf);
    assert.throws(() => readFirstCertificatePem(privateKeyOnlyPem()), PemCertificateError);
    assert.throws(
      () => fingerprintOfPem('-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n'),
      PemCertificateError,
    );
  });

  it('002_certificates.json pins the signing and TLS leaf of every operator', async () => {
    const raw = await readFile(join(tmp, 'directory', CERTIFICATE_RECORDS_FILE), 'utf8');
    const parsed = JSON.parse(raw) as { records: Array<Record<string, unknown>> };
    assert.deepEqual(
      parsed.records.map((r) => r.name),
      [...PKI_OPERATOR_NAMES],
    );
    const createdAt = generatedAt.toISOString().slice(0, 19) + 'Z';
    for (const record of parsed.records) {
      const name = String(record.name);
      assert.equal(record.section, 'certificates');
      assert.equal(record.created_at, createdAt);
      assert.deepEqual(Object.keys(record), ['name', 'section', 'data', 'created_at']);
      assert.deepEqual(record.data, [
        { fingerprint: fingerprintOfPem(await text(`${name}-sign.crt`)), key_usage: 'signing' },
        { fingerprint: fingerprintOfPem(await text(`${name}.crt`)), key_usage: 'encryption' },
      ]);
    }
    assert.deepEqual(
      result.fingerprints.map((f) => f.name),
      [...PKI_OPERATOR_NAMES],
    );
  });
});

function privateKeyOnlyPem(): string {
  return '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
}

describe('TLS handshake with the generated certificates', () => {
  let server: tls.Server;
  let port: number;
  const sockets = new Set<Socket>();

  before(async () => {
    server = tls.createServer({
      key: await text('hd-1.key'),
      cert: await text('hd-1.crt'),
      ca: await text('root.crt'),
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.on('secureConnection', (s: tls.TLSSocket) => s.end());
    server.on('tlsClientError', () => {
      // The client aborts the failing handshakes; nothing to do on the server side.
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  });

  async function connect(servername: string): Promise<tls.TLSSocket> {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername,
      ca: await text('root.crt'),
      key: await text('op-1.key'),
      cert: await text('op-1.crt'),
    });
    try {
      await once(socket, 'secureConnect');
      return socket;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  it('succeeds with servername NAME and with a name under *.NAME.local, mutually authenticated', async () => {
    for (const servername of ['hd-1', 'x.hd-1.local']) {
      const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
      const socket = await connect(servername);
      assert.ok(socket.authorized);
      assert.equal(socket.getPeerCertificate().subject.CN, 'hd-1');
      const [serverSide] = await accepted;
      assert.ok(serverSide.authorized);
      assert.equal(serverSide.getPeerCertificate().subject.CN, 'op-1');
      socket.destroy();
    }
  });

  it('fails when the servername is another operator', async () => {
    await assert.rejects(connect('hd-2'), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      return true;
    });
  });

  it('fails when the client trusts another CA', async () => {
    const otherTmp = await mkdtemp(join(tmpdir(), 'eps-certgen-other-'));
    try {
      const other = await generateCertificates({ certsDir: otherTmp, names: ['op-1'], recordsFile: null });
      assert.equal(other.recordsFile, null);
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'hd-1',
        ca: await readFile(join(otherTmp, 'root.crt'), 'utf8'),
      });
      await assert.rejects(once(socket, 'secureConnect'), (err: NodeJS.ErrnoException) => {
        assert.match(String(err.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
        return true;
      });
      socket.destroy();
    } finally {
      await rm(otherTmp, { recursive: true, force: true });
    }
  });
});
