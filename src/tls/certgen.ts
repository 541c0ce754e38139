/**
 * Generates the development/test PKI into a folder, in pure Node (no openssl): root CA, intermediate CA and,
 * per operator, a TLS certificate, an `-alt` twin, a record-signing certificate and its `-alt` twin, plus
 * the directory record file pinning their fingerprints (docs/operations.md#development-pki). Keys are
 * generated in parallel.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  generateEcKeyPair,
  generateRsaKeyPair,
  privateKeyPem,
  type GeneratedKeyPair,
} from './certgen-keys.js';
import {
  createIntermediateAuthority,
  createRootAuthority,
  issueSigningCertificate,
  issueTlsCertificate,
  type CertificateAuthority,
} from './certgen-issue.js';
import { writeCertificateRecords, type OperatorFingerprints } from './certgen-records.js';
import { verifyGeneratedPki, type LeafToVerify } from './certgen-verify.js';
import { fingerprintOfPem } from './fingerprint.js';
import {
  CERTIFICATE_RECORDS_FILE,
  INTERMEDIATE_FILES,
  isSigningKind,
  LEAF_KINDS,
  leafBaseName,
  PKI_OPERATOR_NAMES,
  ROOT_FILES,
  signingGroupOf,
  type LeafKind,
} from './pki-plan.js';

export { CertificateGenerationError } from './certgen-verify.js';

/** Private keys are readable by the owner only. */
const KEY_FILE_MODE = 0o600;

export interface GenerateCertificatesOptions {
  /** Folder receiving the key and certificate files (created if missing; same-named files are replaced). */
  certsDir: string;
  /**
   * Where to write the directory records; default `<certsDir>/../directory/002_certificates.json`
   * (as the original script); `null` writes none.
   */
  recordsFile?: string | null;
  /** Operators to issue for; default PKI_OPERATOR_NAMES. */
  names?: readonly string[];
  /** Reference time for validity periods and `created_at`; default now. */
  now?: Date;
  /** Size of the RSA keys; default RSA_MODULUS_BITS (tests that do not use the keys for TLS pass less). */
  rsaModulusBits?: number;
}

export interface GeneratedCertificates {
  certsDir: string;
  recordsFile: string | null;
  /** Per operator, in `names` order: fingerprints of NAME-sign.crt and NAME.crt. */
  fingerprints: OperatorFingerprints[];
  /** Number of files written into certsDir. */
  fileCount: number;
  /** Wall-clock time of the whole generation, in milliseconds. */
  durationMs: number;
}

interface LeafPlan {
  name: string;
  kind: LeafKind;
  keys: GeneratedKeyPair;
}

async function issue(ca: CertificateAuthority, leaf: LeafPlan, now: Date): Promise<LeafToVerify> {
  const issued = isSigningKind(leaf.kind)
    ? await issueSigningCertificate(ca, leaf.name, signingGroupOf(leaf.name), leaf.keys, now)
    : await issueTlsCertificate(ca, leaf.name, leaf.keys, now);
  return {
    label: leafBaseName(leaf.name, leaf.kind),
    chainPem: issued.certificatePem + ca.certificatePem,
    keyPem: privateKeyPem(leaf.keys),
  };
}

export function defaultRecordsFile(certsDir: string): string {
  return join(certsDir, '..', 'directory', CERTIFICATE_RECORDS_FILE);
}

export async function generateCertificates(
  options: GenerateCertificatesOptions,
): Promise<GeneratedCertificates> {
  const started = performance.now();
  const now = options.now ?? new Date();
  const names = options.names ?? PKI_OPERATOR_NAMES;
  const certsDir = options.certsDir;
  const recordsFile = options.recordsFile === undefined ? defaultRecordsFile(certsDir) : options.recordsFile;

  await mkdir(certsDir, { recursive: true });
  const rsaKeyPair = (): Promise<GeneratedKeyPair> => generateRsaKeyPair(options.rsaModulusBits);
  const caKeys = Promise.all([rsaKeyPair(), rsaKeyPair()]);
  const leafKeys = Promise.all(
    names.flatMap((name) =>
      LEAF_KINDS.map(async (kind): Promise<LeafPlan> => {
        const keys = isSigningKind(kind) ? await generateEcKeyPair() : await rsaKeyPair();
        return { name, kind, keys };
      }),
    ),
  );
  const [[rootKeys, intermediateKeys], leafPlans] = await Promise.all([caKeys, leafKeys]);
  const root = await createRootAuthority(rootKeys, now);
  const intermediate = await createIntermediateAuthority(root, intermediateKeys, now);
  const leaves = await Promise.all(leafPlans.map((leaf) => issue(intermediate, leaf, now)));

  const rootFiles = { certPem: root.certificatePem, keyPem: privateKeyPem(rootKeys) };
  const intermediateFiles = { certPem: intermediate.certificatePem, keyPem: privateKeyPem(intermediateKeys) };
  verifyGeneratedPki(rootFiles, intermediateFiles, leaves);

  const files: Array<[string, string, boolean]> = [
    [ROOT_FILES.crt, rootFiles.certPem, false],
    [ROOT_FILES.key, rootFiles.keyPem, true],
    [INTERMEDIATE_FILES.crt, intermediateFiles.certPem, false],
    [INTERMEDIATE_FILES.key, intermediateFiles.keyPem, true],
    ...leaves.flatMap((leaf): Array<[string, string, boolean]> => [
      [`${leaf.label}.crt`, leaf.chainPem, false],
      [`${leaf.label}.key`, leaf.keyPem, true],
    ]),
  ];
  await Promise.all(
    files.map(([file, content, secret]) =>
      writeFile(join(certsDir, file), content, secret ? { mode: KEY_FILE_MODE } : {}),
    ),
  );

  const chainOf = new Map(leaves.map((leaf) => [leaf.label, leaf.chainPem]));
  const fingerprints = names.map((name): OperatorFingerprints => {
    const chain = (kind: LeafKind): string => chainOf.get(leafBaseName(name, kind)) ?? '';
    return { name, signing: fingerprintOfPem(chain('sign')), encryption: fingerprintOfPem(chain('tls')) };
  });
  if (recordsFile !== null) await writeCertificateRecords(recordsFile, fingerprints, now);

  return {
    certsDir,
    recordsFile,
    fingerprints,
    fileCount: files.length,
    durationMs: Math.round(performance.now() - started),
  };
}
