/**
 * `eps sd ...`: service directory record tools [docs/operations.md#record-tools]:
 * `get-entries [--name N]`, `get-records [--after HASH]`, `submit-records [--reset] FILE...`, `sign FILE`,
 * `verify FILE NAME`, and `verify-proof` / `audit` (eps-sd-proofs.ts). All but verify-proof load the EPS
 * settings (EPS_SETTINGS) first; failures exit 1 with a clear message.
 */
import type { Command } from 'commander';
import { logger } from '../core/log.js';
import { ApiDirectory } from '../directory/api-directory.js';
import { JsonDirectory } from '../directory/json-directory.js';
import { SdApiClient } from '../directory/sd-api-client.js';
import type { DirectoryEntry, SignedChangeRecord } from '../core/directory-entry.js';
import { normaliseSignedRecords } from '../records/index.js';
import { RecordToolError } from '../records-tools/errors.js';
import { signJsonFile, verifyJsonFile } from '../records-tools/signed-data.js';
import { requireApiDirectory, submitRecordFiles } from '../records-tools/submit.js';
import { loadEpsSettings, type EpsSettings } from '../settings/index.js';
import { CliError, unknownCommandHandler } from './common.js';
import { registerProofCommands } from './eps-sd-proofs.js';

const log = logger('eps-sd');
const HASH_ARGUMENT = /^([a-f0-9]{64}|)$/;

/** Runs a tool body, turning its typed errors into CLI errors (exit 1, message only). */
async function tool<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof RecordToolError) throw new CliError(err.message);
    throw err;
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Entries of the configured directory (json: read the files; api: fetch and verify the whole chain). */
async function loadEntries(settings: EpsSettings, name: string | undefined): Promise<DirectoryEntry[]> {
  const query = name === undefined ? undefined : { operator: name };
  if (settings.directory.type === 'json') {
    const directory = new JsonDirectory(settings.directory.settings.path);
    await directory.start();
    try {
      return directory.entries(query).filter((e) => name === undefined || e.name === name);
    } finally {
      await directory.close();
    }
  }
  const directory = new ApiDirectory(settings.directory.settings);
  try {
    await directory.refresh();
    return directory.entries(query).filter((e) => name === undefined || e.name === name);
  } finally {
    await directory.close();
  }
}

async function loadRecords(settings: EpsSettings, after: string): Promise<SignedChangeRecord[]> {
  const client = new SdApiClient(requireApiDirectory(settings, 'records can only be read from'));
  try {
    return normaliseSignedRecords(await client.getRecords(after), { allowProperties: true });
  } finally {
    client.close();
  }
}

export function registerSdCommands(program: Command): void {
  const sd = program.command('sd').description('service directory record tools');

  sd.command('get-entries')
    .description('print the directory entries (all, or one operator) as a JSON array')
    .option('--name <name>', 'only the entry of this operator')
    .action(async (opts: { name?: string }) => {
      const settings = await loadEpsSettings();
      printJson(await tool(() => loadEntries(settings, opts.name)));
    });

  sd.command('get-records')
    .description('print the signed records of the service directory as a JSON array (api directory only)')
    .option('--after <hash>', 'only the records after this record hash (all records if unknown)', '')
    .action(async (opts: { after: string }) => {
      if (!HASH_ARGUMENT.test(opts.after)) throw new CliError('--after must be 64 lower-case hex characters');
      const settings = await loadEpsSettings();
      printJson(await tool(() => loadRecords(settings, opts.after)));
    });

  sd.command('submit-records')
    .description(
      'sign the change records of FILE... (one chain, in order) with the signing settings and submit them',
    )
    .argument('[files...]', 'files holding {"records": [change record, ...]}')
    .option('--reset', 'start a new chain (the first record gets an empty parent hash)', false)
    .action(async (files: string[], opts: { reset: boolean }) => {
      if (files.length === 0) throw new CliError('please specify a filename');
      const settings = await loadEpsSettings();
      const result = await tool(() => submitRecordFiles(settings, files, { reset: opts.reset }));
      log.info('records submitted', {
        records: result.records.length,
        parent: result.parent || '(new root)',
        tip: result.records[result.records.length - 1]?.hash,
        endpoint: result.endpoint,
      });
    });

  sd.command('sign')
    .description('sign the JSON object in FILE; prints {"signature": {r, s, c}, "data": object}')
    .argument('[file]', 'file holding a JSON object')
    .action(async (file: string | undefined) => {
      if (file === undefined) throw new CliError('please specify a filename');
      const settings = await loadEpsSettings();
      printJson(await tool(() => signJsonFile(settings, file)));
    });

  sd.command('verify')
    .description(
      'verify a signed-data FILE whose signing certificate must be valid for NAME (exit 0 valid, 1 not)',
    )
    .argument('[file]', 'file holding {"signature": ..., "data": ...}')
    .argument('[name]', 'expected signer DNS name')
    .action(async (file: string | undefined, name: string | undefined) => {
      if (file === undefined) throw new CliError('please specify a filename');
      if (name === undefined) throw new CliError('please specify a name');
      const settings = await loadEpsSettings();
      const check = await tool(() => verifyJsonFile(settings, file, name));
      if (!check.ok) throw new CliError(`Signature is not valid! ${check.reason}`);
      log.info('Signature is ok!', { signer: check.signer.irisName });
    });

  registerProofCommands(sd);
  unknownCommandHandler(sd);
}
