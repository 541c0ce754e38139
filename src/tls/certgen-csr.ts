/**
 * Certificate signing requests for a new operator (`eps operator init`) and their signing by a CA kept in
 * files (the dev network's intermediate): a request names the operator in its subject and carries the
 * SANs the issued certificate will have; issuing from a request checks its signature and its name, then
 * issues exactly what the dev PKI issues (certgen-issue.ts).
 */
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { x509 } from './x509-provider.js';
import { subjectName, type CertificateAuthority } from './certgen-issue.js';
import { RSA_SIGNING_ALGORITHM, type GeneratedKeyPair, type SubjectPublicKey } from './certgen-keys.js';
import { CertificateGenerationError } from './certgen-verify.js';

const ECDSA_SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const EC_IMPORT_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** The two kinds of certificate an operator requests: TLS (RSA key) and record signing (ECDSA key). */
export type RequestKind = 'tls' | 'sign';

async function webCryptoPair(pair: GeneratedKeyPair): Promise<CryptoKeyPair> {
  const algorithm = pair.kind === 'ec' ? EC_IMPORT_ALGORITHM : RSA_SIGNING_ALGORITHM;
  const pkcs8 = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']),
  };
}

function requestedNames(kind: RequestKind, name: string, group: string): x509.JsonGeneralNames {
  return kind === 'tls'
    ? [
        { type: 'dns', value: name },
        { type: 'dns', value: `*.${name}.local` },
      ]
    : [
        { type: 'url', value: `iris-name://${name}` },
        { type: 'url', value: `iris-group://${group}` },
        { type: 'dns', value: name },
      ];
}

/** PEM of a PKCS#10 request for NAME, signed with the pair's private key. */
export async function createSigningRequest(
  kind: RequestKind,
  name: string,
  group: string,
  pair: GeneratedKeyPair,
  /** `dev`: the dev PKI's subject attributes; `cn`: CN=NAME only, for another network's CA to complete. */
  subject: 'dev' | 'cn' = 'dev',
): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject === 'dev' ? subjectName(name) : [{ CN: [name] }],
    keys: await webCryptoPair(pair),
    signingAlgorithm: pair.kind === 'ec' ? ECDSA_SIGNING_ALGORITHM : RSA_SIGNING_ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension(requestedNames(kind, name, group))],
  });
  return csr.toString('pem') + '\n';
}

/** The public key of a request after checking its signature and that its subject is CN=NAME. */
export async function readSigningRequest(pem: string, name: string): Promise<SubjectPublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (e) {
    throw new CertificateGenerationError(`not a certificate signing request: ${(e as Error).message}`);
  }
  if (!(await csr.verify())) throw new CertificateGenerationError('the request signature is invalid');
  const cn = csr.subjectName.getField('CN');
  if (cn.length !== 1 || cn[0] !== name) {
    throw new CertificateGenerationError(`the request is for CN=${cn.join(',')}, not ${name}`);
  }
  const der = Buffer.from(csr.publicKey.rawData);
  return { publicKey: createPublicKey({ key: der, format: 'der', type: 'spki' }) };
}

/** A CA from its certificate and RSA private key files' contents (e.g. the dev intermediate). */
export async function loadAuthority(certificatePem: string, keyPem: string): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(certificatePem);
  const key = createPrivateKey(keyPem);
  if (key.asymmetricKeyType !== 'rsa') throw new CertificateGenerationError('the CA key is not an RSA key');
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, RSA_SIGNING_ALGORITHM, false, ['sign']);
  const spki = new Uint8Array(cert.publicKey.rawData);
  const mine = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  if (Buffer.compare(Buffer.from(spki), Buffer.from(mine)) !== 0) {
    throw new CertificateGenerationError('the CA key does not belong to the CA certificate');
  }
  return {
    name: cert.subjectName.toJSON(),
    certificatePem: cert.toString('pem') + '\n',
    notAfter: cert.notAfter,
    signingKey,
    spki,
  };
}
