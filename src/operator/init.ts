/**
 * `eps operator init`: writes the settings folder of a new operator (docs/first-hour.md). Keys are created
 * once; requests for the network's CA are written beside them; on the dev network the dev intermediate CA
 * signs them at once; the change records for the directory's administrator are written last (with the
 * certificate fingerprints once the certificates exist). Running it again keeps the keys and the settings
 * file and refreshes the rest — e.g. after the CA of another network returned the certificates.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { packageRoot } from '../core/version.js';
import { createSigningRequest, loadAuthority, readSigningRequest } from '../tls/certgen-csr.js';
import { issueSigningCertificate, issueTlsCertificate } from '../tls/certgen-issue.js';
import { ensureCertificates } from '../tls/ensure-certs.js';
import { fingerprintOfPem } from '../tls/fingerprint.js';
import { INTERMEDIATE_FILES, ROOT_FILES } from '../tls/pki-plan.js';
import { certificateOf, loadOrCreateKey } from './key-files.js';
import { checkOperatorOptions, OperatorInitError, type OperatorInitOptions } from './options.js';
import { operatorRecords } from './records-template.js';
import { operatorSettingsYaml, type NetworkSettings } from './settings-template.js';

/** The dev network's service directory (settings/dev/roles/sd-1). */
export const DEV_SD_ENDPOINT = 'https://localhost:3322/jsonrpc';
export const DEV_SD_NAME = 'sd-1';

export interface OperatorInitResult {
  dir: string;
  /** Files written or kept, relative to dir. */
  written: string[];
  kept: string[];
  /** True when the certificates exist (dev network: signed by the dev CA). */
  certified: boolean;
  recordsFile: string;
}

interface Network extends NetworkSettings {
  /** The CA that signs at once (dev), or none: the requests go to the network's CA. */
  signer?: { certificatePem: string; keyPem: string };
  rootPem: string;
  intermediatePem?: string;
}

async function devNetwork(o: OperatorInitOptions): Promise<Network> {
  const root = o.networkDir === undefined ? packageRoot() : resolve(o.networkDir);
  if (root === undefined) throw new OperatorInitError('cannot find the package; name it with --network-dir');
  const pki = await ensureCertificates(root, 'dev').catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EACCES' && e.code !== 'EROFS') throw e;
    throw new OperatorInitError(
      `the dev CA cannot be created in ${join(root, 'settings/dev')} (${e.code}): give --network-dir ` +
        'the folder your dev network runs from (the DIR of `eps demo --dir DIR`)',
    );
  });
  const read = (file: string): Promise<string> => readFile(join(pki.certsDir, file), 'utf8');
  const intermediatePem = await read(INTERMEDIATE_FILES.crt);
  return {
    sdEndpoints: [DEV_SD_ENDPOINT],
    sdNames: [DEV_SD_NAME],
    intermediate: true,
    rootPem: await read(ROOT_FILES.crt),
    intermediatePem,
    signer: { certificatePem: intermediatePem, keyPem: await read(INTERMEDIATE_FILES.key) },
  };
}

async function otherNetwork(o: OperatorInitOptions): Promise<Network> {
  const read = (file: string): Promise<string> =>
    readFile(resolve(file), 'utf8').catch((e: Error) => {
      throw new OperatorInitError(`cannot read ${file}: ${e.message}`);
    });
  return {
    sdEndpoints: o.sdEndpoints ?? [],
    sdNames: o.sdNames ?? [],
    intermediate: o.intermediateFile !== undefined,
    rootPem: await read(o.caFile ?? ''),
    ...(o.intermediateFile === undefined ? {} : { intermediatePem: await read(o.intermediateFile) }),
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function initOperator(o: OperatorInitOptions): Promise<OperatorInitResult> {
  checkOperatorOptions(o);
  const now = o.now ?? new Date();
  const dir = resolve(o.dir);
  const certs = join(dir, 'certs');
  const written: string[] = [];
  const kept: string[] = [];
  const write = async (rel: string, text: string): Promise<void> => {
    await writeFile(join(dir, rel), text);
    written.push(rel);
  };
  await mkdir(certs, { recursive: true });
  await mkdir(join(dir, 'records'), { recursive: true });
  await mkdir(o.dataDir === undefined ? join(dir, 'data') : resolve(o.dataDir), { recursive: true });

  const net = o.network === 'dev' ? await devNetwork(o) : await otherNetwork(o);
  await write('certs/root.crt', net.rootPem);
  if (net.intermediatePem !== undefined) await write('certs/intermediate.crt', net.intermediatePem);
  const ca = net.signer && (await loadAuthority(net.signer.certificatePem, net.signer.keyPem));

  const chains: Partial<Record<'tls' | 'sign', string>> = {};
  for (const kind of ['tls', 'sign'] as const) {
    const base = kind === 'tls' ? o.name : `${o.name}-sign`;
    const key = await loadOrCreateKey(join(certs, `${base}.key`), kind === 'tls' ? 'rsa' : 'ec');
    (key.created ? written : kept).push(`certs/${base}.key`);
    const csr = await createSigningRequest(kind, o.name, '', key.pair, o.network === 'dev' ? 'dev' : 'cn');
    await write(`certs/${base}.csr`, csr);
    let chain = await certificateOf(join(certs, `${base}.crt`), key.pair, now);
    if (chain === undefined && ca !== undefined) {
      chain = await issueFromRequest(ca, kind, o.name, csr, now);
      await write(`certs/${base}.crt`, chain);
    } else if (chain !== undefined) {
      kept.push(`certs/${base}.crt`);
    }
    if (chain !== undefined) chains[kind] = chain;
  }

  const settingsFile = '001_default.yml';
  if (await exists(join(dir, settingsFile))) kept.push(settingsFile);
  else await write(settingsFile, operatorSettingsYaml(o, net));

  const fingerprints =
    chains.tls !== undefined && chains.sign !== undefined
      ? { name: o.name, signing: fingerprintOfPem(chains.sign), encryption: fingerprintOfPem(chains.tls) }
      : undefined;
  const recordsFile = `records/${o.name}.json`;
  const records = operatorRecords(o, fingerprints, now);
  await write(recordsFile, JSON.stringify({ records }, null, 2) + '\n');
  return { dir, written, kept, certified: fingerprints !== undefined, recordsFile: join(dir, recordsFile) };
}

/** Issues what the request asks for with the dev CA: the request's key, the operator's name. */
async function issueFromRequest(
  ca: Awaited<ReturnType<typeof loadAuthority>>,
  kind: 'tls' | 'sign',
  name: string,
  csr: string,
  now: Date,
): Promise<string> {
  const subject = await readSigningRequest(csr, name);
  const issued =
    kind === 'tls'
      ? await issueTlsCertificate(ca, name, subject, now)
      : await issueSigningCertificate(ca, name, '', subject, now);
  return issued.certificatePem + ca.certificatePem;
}
