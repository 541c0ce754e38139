/**
 * The operator's key material in `DIR/certs`: a key is created once and kept on every later run (so a
 * request or a certificate already handed out stays valid), its request is written next to it, and a
 * certificate file counts only when it belongs to the key.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import {
  generateEcKeyPair,
  generateRsaKeyPair,
  privateKeyPem,
  type GeneratedKeyPair,
} from '../tls/certgen-keys.js';
import { OperatorInitError } from './options.js';

/** Private keys are readable by the owner only. */
export const KEY_FILE_MODE = 0o600;

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The key in `file`, or a new one of `kind` written there; `created` tells which. */
export async function loadOrCreateKey(
  file: string,
  kind: 'rsa' | 'ec',
): Promise<{ pair: GeneratedKeyPair; created: boolean }> {
  const pem = await readText(file);
  if (pem === undefined) {
    const pair = kind === 'rsa' ? await generateRsaKeyPair() : await generateEcKeyPair();
    await writeFile(file, privateKeyPem(pair), { mode: KEY_FILE_MODE, flag: 'wx' });
    return { pair, created: true };
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new OperatorInitError(`${file} is not a private key: ${(e as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== kind) {
    throw new OperatorInitError(`${file} holds a ${privateKey.asymmetricKeyType} key, not ${kind}`);
  }
  return { pair: { kind, privateKey, publicKey: createPublicKey(privateKey) }, created: false };
}

/** The certificate chain in `file` if it exists, is valid now and belongs to `pair`. */
export async function certificateOf(
  file: string,
  pair: GeneratedKeyPair,
  now: Date,
): Promise<string | undefined> {
  const pem = await readText(file);
  if (pem === undefined) return undefined;
  try {
    const cert = new X509Certificate(pem);
    const valid = Date.parse(cert.validTo) > now.getTime() && cert.checkPrivateKey(pair.privateKey);
    return valid ? pem : undefined;
  } catch {
    return undefined;
  }
}
