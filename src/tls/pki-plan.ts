/**
 * What the development/test PKI contains: operator names, subject attributes, validity periods and the
 * file names written per operator (docs/operations.md#development-pki). Pure data, no I/O.
 */

/** Operators that get TLS and signing certificates, in the order their directory records are written. */
export const PKI_OPERATOR_NAMES = [
  'op-1',
  'op-2',
  'hd-1',
  'hd-2',
  'ls-1',
  'internal-server',
  'public-proxy-1.ga',
  'public-proxy-2.ga',
  'private-proxy-1.ga',
  'sd-1',
  'demo-app',
] as const;

/** Group whose signing certificates may write service-directory records. */
export const SD_ADMIN_GROUP = 'sd-admin';
/** Operators whose signing certificate carries the sd-admin group. */
export const SD_ADMIN_OPERATORS: ReadonlySet<string> = new Set(['hd-1']);

export const ROOT_COMMON_NAME = 'Testing-Development';
export const INTERMEDIATE_COMMON_NAME = 'intermediate';

/** Subject attributes shared by every certificate; only CN varies. */
export const SUBJECT_BASE: ReadonlyArray<readonly [string, string]> = [
  ['C', 'DE'],
  ['ST', 'Berlin'],
  ['L', 'Berlin'],
  ['O', 'IRIS'],
  ['OU', 'IT'],
];

export const RSA_MODULUS_BITS = 2048;
export const EC_NAMED_CURVE = 'P-256';

/** Validity in days; each issuer outlives everything it signs. */
export const ROOT_VALIDITY_DAYS = 1024;
export const INTERMEDIATE_VALIDITY_DAYS = 1000;
export const LEAF_VALIDITY_DAYS = 500;
/** notBefore is set this far in the past so peers with a slightly late clock accept fresh certificates. */
export const CLOCK_SKEW_TOLERANCE_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** Bytes of randomness in certificate serial numbers. */
export const SERIAL_NUMBER_BYTES = 16;

export const ROOT_FILES = { key: 'root.key', crt: 'root.crt' } as const;
export const INTERMEDIATE_FILES = { key: 'intermediate.key', crt: 'intermediate.crt' } as const;
/** File name of the generated directory records, inside the environment's `directory` folder. */
export const CERTIFICATE_RECORDS_FILE = '002_certificates.json';

/** The four certificate kinds issued per operator. */
export type LeafKind = 'tls' | 'tls-alt' | 'sign' | 'sign-alt';
export const LEAF_KINDS: readonly LeafKind[] = ['tls', 'tls-alt', 'sign', 'sign-alt'];

export interface KeyCertFiles {
  key: string;
  crt: string;
}

const LEAF_SUFFIX: Readonly<Record<LeafKind, string>> = {
  tls: '',
  'tls-alt': '-alt',
  sign: '-sign',
  'sign-alt': '-sign-alt',
};

/** File base name of one certificate kind: `NAME`, `NAME-alt`, `NAME-sign`, `NAME-sign-alt`. */
export function leafBaseName(name: string, kind: LeafKind): string {
  return `${name}${LEAF_SUFFIX[kind]}`;
}

export function leafFiles(name: string, kind: LeafKind): KeyCertFiles {
  const base = leafBaseName(name, kind);
  return { key: `${base}.key`, crt: `${base}.crt` };
}

export function isSigningKind(kind: LeafKind): boolean {
  return kind === 'sign' || kind === 'sign-alt';
}

/** Group written into the `iris-group://` URI of an operator's signing certificates ('' = none). */
export function signingGroupOf(name: string): string {
  return SD_ADMIN_OPERATORS.has(name) ? SD_ADMIN_GROUP : '';
}

/** Every file name a complete certs folder holds, for the given operators. */
export function expectedCertificateFiles(names: readonly string[] = PKI_OPERATOR_NAMES): string[] {
  const files: string[] = [ROOT_FILES.key, ROOT_FILES.crt, INTERMEDIATE_FILES.key, INTERMEDIATE_FILES.crt];
  for (const name of names) {
    for (const kind of LEAF_KINDS) {
      const f = leafFiles(name, kind);
      files.push(f.key, f.crt);
    }
  }
  return files;
}
