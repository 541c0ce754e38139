/**
 * Certificate checks: every settings block with a `certificate_file` (TLS blocks, the signing block) must
 * name a readable certificate whose key matches, that is valid now (expired → error, expiring within
 * EXPIRY_WARNING_DAYS → warning) and whose chain verifies to the configured CA files.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { JsonObject } from '../core/json.js';
import { fingerprintOfDer } from '../tls/fingerprint.js';
import { DAY_MS } from '../tls/pki-plan.js';
import { findingAt, mapsIn, type CheckContext, type Finding } from './finding.js';

export const EXPIRY_WARNING_DAYS = 30;
const CERTIFICATE_BLOCKS = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A leaf certificate found in the settings (for the directory check). */
export interface OwnCertificate {
  readonly path: readonly (string | number)[];
  readonly fingerprint: string;
  /** A signing certificate (the `signing` block) rather than a TLS one. */
  readonly signing: boolean;
}

export interface CertificateResult {
  readonly findings: Finding[];
  readonly leaves: OwnCertificate[];
  /** Blocks checked (certificate, key and CA files): a block that repeats one reports nothing again. */
  readonly checked: Set<string>;
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

async function readText(file: string): Promise<string> {
  return readFile(resolve(file), 'utf8');
}

function why(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}

function parseCertificates(pem: string): X509Certificate[] {
  return (pem.match(CERTIFICATE_BLOCKS) ?? []).map((block) => new X509Certificate(block));
}

function date(text: string): string {
  return new Date(Date.parse(text)).toISOString();
}

/** Expired → error, expiring within EXPIRY_WARNING_DAYS → warning, else nothing. */
function expiryFinding(
  ctx: CheckContext,
  at: readonly (string | number)[],
  cert: X509Certificate,
  what: string,
): Finding | undefined {
  const notAfter = Date.parse(cert.validTo);
  if (notAfter <= ctx.now) return findingAt(ctx, at, 'error', `${what} expired on ${date(cert.validTo)}`);
  if (notAfter - ctx.now <= EXPIRY_WARNING_DAYS * DAY_MS) {
    return findingAt(ctx, at, 'warning', `${what} expires on ${date(cert.validTo)}`);
  }
  return undefined;
}

/** True when `leaf` chains through `pool` to one of `roots` (each link issued and signature verified). */
function chainVerifies(
  leaf: X509Certificate,
  pool: readonly X509Certificate[],
  roots: readonly X509Certificate[],
): boolean {
  let current = leaf;
  for (let depth = 0; depth <= pool.length; depth++) {
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root !== undefined) return true;
    const next = pool.find((c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey));
    if (next === undefined) return false;
    current = next;
  }
  return false;
}

async function loadCas(
  ctx: CheckContext,
  block: JsonObject,
  path: (string | number)[],
  key: string,
  findings: Finding[],
): Promise<X509Certificate[]> {
  const out: X509Certificate[] = [];
  const value = block[key];
  const files = strings(value);
  for (const [index, file] of files.entries()) {
    const at = Array.isArray(value) ? [...path, key, index] : [...path, key];
    try {
      const certs = parseCertificates(await readText(file));
      if (certs.length === 0) findings.push(findingAt(ctx, at, 'error', `no certificate in ${file}`));
      for (const cert of certs) {
        const expiry = expiryFinding(ctx, at, cert, `CA certificate ${cert.subject.replace(/\n/g, ', ')}`);
        if (expiry !== undefined) findings.push(expiry);
      }
      out.push(...certs);
    } catch (error) {
      findings.push(findingAt(ctx, at, 'error', `cannot read CA file ${file}: ${why(error)}`));
    }
  }
  return out;
}

async function checkBlock(
  ctx: CheckContext,
  block: JsonObject,
  path: (string | number)[],
  result: CertificateResult,
): Promise<void> {
  const { findings } = result;
  const certFile = block.certificate_file;
  if (typeof certFile !== 'string') return;
  const certPath = [...path, 'certificate_file'];
  // Several TLS blocks often share one certificate: its findings are reported once, at the first block.
  const same = JSON.stringify([
    certFile,
    block.key_file,
    block.ca_certificate_files,
    block.ca_certificate_file,
  ]);
  const repeated = result.checked.has(same);
  result.checked.add(same);
  if (repeated) return; // same leaf: its fingerprint is checked once too
  let chain: X509Certificate[];
  try {
    chain = parseCertificates(await readText(certFile));
  } catch (error) {
    findings.push(
      findingAt(ctx, certPath, 'error', `cannot read certificate ${resolve(certFile)}: ${why(error)}`),
    );
    return;
  }
  const leaf = chain[0];
  if (leaf === undefined) {
    findings.push(findingAt(ctx, certPath, 'error', `no certificate in ${certFile}`));
    return;
  }
  result.leaves.push({
    path: certPath,
    fingerprint: fingerprintOfDer(leaf.raw),
    signing: path[0] === 'signing',
  });
  const expiry = expiryFinding(ctx, certPath, leaf, 'certificate');
  if (expiry !== undefined) findings.push(expiry);
  if (Date.parse(leaf.validFrom) > ctx.now) {
    findings.push(findingAt(ctx, certPath, 'error', `certificate not valid before ${date(leaf.validFrom)}`));
  }
  if (typeof block.key_file === 'string') {
    const keyPath = [...path, 'key_file'];
    try {
      const key = createPrivateKey(await readText(block.key_file));
      if (!leaf.checkPrivateKey(key)) {
        findings.push(findingAt(ctx, keyPath, 'error', `private key does not match ${certFile}`));
      }
    } catch (error) {
      findings.push(
        findingAt(ctx, keyPath, 'error', `cannot read private key ${block.key_file}: ${why(error)}`),
      );
    }
  }
  const caKey = 'ca_certificate_files' in block ? 'ca_certificate_files' : 'ca_certificate_file';
  const roots = await loadCas(ctx, block, path, caKey, findings);
  const intermediates = await loadCas(ctx, block, path, 'ca_intermediate_certificate_files', findings);
  if (roots.length > 0 && !chainVerifies(leaf, [...chain.slice(1), ...intermediates], roots)) {
    findings.push(
      findingAt(
        ctx,
        certPath,
        'error',
        `certificate ${certFile} does not verify to the configured CA (${leaf.issuer.replace(/\n/g, ', ')})`,
      ),
    );
  }
}

/** Checks every certificate block of the settings tree. */
export async function checkCertificates(ctx: CheckContext): Promise<CertificateResult> {
  const result: CertificateResult = { findings: [], leaves: [], checked: new Set() };
  for (const [block, path] of mapsIn(ctx.tree)) await checkBlock(ctx, block, path, result);
  return result;
}
