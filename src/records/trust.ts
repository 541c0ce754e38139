/**
 * Certificate chain verification for record signing [docs/protocol.md#record-signatures]: a path from the
 * leaf through configured intermediates to a configured root, every signature checked, intermediates must be
 * CAs, path-length constraints hold, every certificate either lacks an EKU extension or allows code signing,
 * and all certificates are valid at the current time. Optionally the leaf must carry a DNS name (CLI use).
 * Path building does not depend on time and is cached per leaf; the validity window is checked on every use.
 */
import { isIP } from 'node:net';
import type { CertificateInfo } from './certificate.js';
import { parseCertificates } from './certificate.js';
import { BoundedCache } from './lru.js';

/** How many leaf certificates' chains are remembered per trust store. */
export const CHAIN_CACHE_SIZE = 1024;
/** Upper bound on intermediates in one path (Go has no hard limit; real chains have one or two). */
export const MAX_INTERMEDIATES = 8;
/** Upper bound on alternative paths explored per leaf. */
export const MAX_CANDIDATE_CHAINS = 16;
const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const EKU_ANY = '2.5.29.37.0';

export type ChainCheck =
  { ok: true; chain: CertificateInfo[] } | { ok: false; expired: boolean; reason: string };

export interface ChainCheckOptions {
  /** Require this DNS name (or IP address) in the leaf's SANs, with Go's host name matching rules. */
  dnsName?: string;
  /** Current time in milliseconds (default: Date.now()). */
  now?: number;
}

interface PathResult {
  chains: CertificateInfo[][];
  /** Why no structurally valid path exists (when `chains` is empty). */
  reason: string;
}

export class TrustStore {
  private readonly paths = new BoundedCache<string, PathResult>(CHAIN_CACHE_SIZE);

  constructor(
    readonly roots: readonly CertificateInfo[],
    readonly intermediates: readonly CertificateInfo[] = [],
  ) {}

  /** Builds a store from PEM texts; each contributes only its first certificate. Throws a RecordError. */
  static fromPem(roots: readonly string[], intermediates: readonly string[] = []): TrustStore {
    return new TrustStore(parseCertificates(roots), parseCertificates(intermediates));
  }

  /** Checks that `leaf` chains to a root now (and carries `dnsName`, if given). */
  verify(leaf: CertificateInfo, options: ChainCheckOptions = {}): ChainCheck {
    if (options.dnsName !== undefined && !matchesName(leaf, options.dnsName)) {
      return { ok: false, expired: false, reason: `certificate is not valid for name ${options.dnsName}` };
    }
    let paths = this.paths.get(leaf.fingerprint);
    if (paths === undefined) {
      paths = this.buildPaths(leaf);
      this.paths.set(leaf.fingerprint, paths);
    }
    if (paths.chains.length === 0) return { ok: false, expired: false, reason: paths.reason };
    const now = options.now ?? Date.now();
    for (const chain of paths.chains) {
      if (chain.every((c) => c.notBefore <= now && now <= c.notAfter)) return { ok: true, chain };
    }
    return timeFailure(paths.chains[0] ?? [leaf], now);
  }

  private buildPaths(leaf: CertificateInfo): PathResult {
    if (this.roots.some((root) => root.fingerprint === leaf.fingerprint)) {
      const problem = chainProblem([leaf]);
      return problem ? { chains: [], reason: problem } : { chains: [[leaf]], reason: '' };
    }
    const chains: CertificateInfo[][] = [];
    let reason = 'certificate signed by unknown authority';
    const extend = (chain: CertificateInfo[]): void => {
      const last = chain[chain.length - 1]!;
      for (const root of this.roots) {
        if (chains.length >= MAX_CANDIDATE_CHAINS) return;
        if (!issuedBy(last, root)) continue;
        const candidate = [...chain, root];
        const problem = chainProblem(candidate);
        if (problem) reason = problem;
        else chains.push(candidate);
      }
      if (chain.length - 1 >= MAX_INTERMEDIATES) return;
      for (const intermediate of this.intermediates) {
        if (chains.length >= MAX_CANDIDATE_CHAINS) return;
        if (chain.some((c) => c.fingerprint === intermediate.fingerprint)) continue;
        if (issuedBy(last, intermediate)) extend([...chain, intermediate]);
      }
    };
    extend([leaf]);
    return { chains, reason };
  }
}

function issuedBy(child: CertificateInfo, parent: CertificateInfo): boolean {
  if (child.issuer !== parent.subject) return false;
  try {
    return child.cert.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Structural checks of a complete chain (leaf first, root last), as Go's path validation does them. */
function chainProblem(chain: CertificateInfo[]): string | undefined {
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const isIntermediate = i > 0 && i < chain.length - 1;
    if (isIntermediate && !c.isCa) return `intermediate ${c.subject} is not a CA`;
    // Go: the number of intermediates below a CA must not exceed its path length.
    if (i > 0 && c.maxPathLength !== undefined && i - 1 > c.maxPathLength) {
      return `path length constraint of ${c.subject} exceeded`;
    }
    const eku = c.extKeyUsages;
    if (eku !== undefined && !eku.includes(EKU_CODE_SIGNING) && !eku.includes(EKU_ANY)) {
      return `certificate ${c.subject} does not allow code signing (extended key usage)`;
    }
  }
  return undefined;
}

function timeFailure(chain: CertificateInfo[], now: number): ChainCheck {
  const leaf = chain[0]!;
  if (now > leaf.notAfter) return { ok: false, expired: true, reason: 'certificate expired' };
  if (now < leaf.notBefore) return { ok: false, expired: false, reason: 'certificate is not yet valid' };
  const bad = chain.find((c) => now < c.notBefore || now > c.notAfter);
  const what = bad && now > bad.notAfter ? 'expired' : 'is not yet valid';
  return { ok: false, expired: false, reason: `issuer certificate ${bad?.subject ?? ''} ${what}` };
}

/** Go's VerifyHostname: DNS SANs only (no common name), `*.` wildcards for one whole left-most label. */
function matchesName(leaf: CertificateInfo, name: string): boolean {
  if (isIP(name)) return leaf.cert.checkIP(name) !== undefined;
  return (
    leaf.cert.checkHost(name, {
      subject: 'never',
      wildcards: true,
      partialWildcards: false,
      multiLabelWildcards: false,
    }) !== undefined
  );
}
