/**
 * The `identity` section of an eps's status [docs/status.md]: its name and, for every certificate its
 * channels present, subject, fingerprint (as the directory pins it), expiry and whether the directory
 * pins it for this operator. The certificate files are read once, when the status source is built.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { errorMessage } from '../../core/errors.js';
import type { Directory } from '../../directory/directory.js';
import { fingerprintOfPem } from '../../tls/fingerprint.js';
import type { ChannelItem } from '../channel-registry.js';

const DAY_MS = 86_400_000;

export interface CertificateStatus {
  channel: string;
  file: string;
  subject?: string;
  fingerprint?: string;
  not_after?: string;
  expires_in_days?: number;
  in_directory?: boolean;
  error?: string;
}

interface Loaded {
  channel: string;
  file: string;
  subject?: string;
  fingerprint?: string;
  notAfter?: number;
  error?: string;
}

function certificateFile(item: ChannelItem): string | undefined {
  const settings: unknown = item.settings;
  if (typeof settings !== 'object' || settings === null || !('tls' in settings)) return undefined;
  const tls: unknown = settings.tls;
  if (typeof tls !== 'object' || tls === null || !('certificate_file' in tls)) return undefined;
  return typeof tls.certificate_file === 'string' ? tls.certificate_file : undefined;
}

function load(channel: string, file: string): Loaded {
  try {
    const pem = readFileSync(file, 'utf8');
    const cert = new X509Certificate(pem);
    return {
      channel,
      file,
      subject: cert.subject.replace(/\n/g, ', '),
      fingerprint: fingerprintOfPem(pem),
      notAfter: Date.parse(cert.validTo),
    };
  } catch (e) {
    return { channel, file, error: errorMessage(e) };
  }
}

export function identityStatus(
  name: string,
  channels: readonly ChannelItem[],
  directory: Directory,
): (now: number) => { name: string; certificates: CertificateStatus[] } {
  const certificates: Loaded[] = [];
  for (const item of channels) {
    const file = certificateFile(item);
    if (file !== undefined) certificates.push(load(item.name, file));
  }
  return (now) => {
    const pinned = new Set((directory.entry(name)?.certificates ?? []).map((c) => c.fingerprint));
    return {
      name,
      certificates: certificates.map((c) => {
        if (c.error !== undefined) return { channel: c.channel, file: c.file, error: c.error };
        const notAfter = c.notAfter ?? 0;
        return {
          channel: c.channel,
          file: c.file,
          ...(c.subject !== undefined ? { subject: c.subject } : {}),
          ...(c.fingerprint !== undefined ? { fingerprint: c.fingerprint } : {}),
          not_after: new Date(notAfter).toISOString(),
          expires_in_days: Math.floor((notAfter - now) / DAY_MS),
          in_directory: c.fingerprint !== undefined && pinned.has(c.fingerprint),
        };
      }),
    };
  };
}
