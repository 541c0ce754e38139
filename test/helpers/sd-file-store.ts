/**
 * Real `sd run` processes on file stores for the tests that need several of them or a copy of one's store
 * (a prefix of its chain, a fork): a temporary folder with the admin signer, an sd per label, and
 * submissions signed onto an sd's current tip.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeRecord, SignedChangeRecord } from '../../src/core/directory-entry.js';
import { stopAll } from './processes.js';
import {
  ensureTestPki,
  loadSigner,
  sign,
  startSd,
  writeSdSettings,
  type RunningSd,
  type SdSettingsOptions,
  type Signer,
} from './sd-harness.js';

export interface FileSd extends RunningSd {
  /** The store file. */
  store: string;
  /** The settings folder (to start the sd again on the same store). */
  settings: string;
  /** Its JSON-RPC URL. */
  url: string;
}

export interface SdBed {
  dir: string;
  /** The test admin's signer (hd-1-sign, in the sd-admin group). */
  admin: Signer;
  /** Stops every process started and removes the folder. */
  cleanup(): Promise<void>;
}

/** The test PKI, the admin signer and a temporary folder named after `prefix`. */
export async function sdBed(prefix: string): Promise<SdBed> {
  await ensureTestPki();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return {
    dir,
    admin: loadSigner('hd-1-sign'),
    cleanup: async () => {
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts `sd run` on the file store `dir/label/sd.records`, copied from `copyFrom` first when given, with the
 * other `options` of writeSdSettings.
 */
export async function startFileSd(
  dir: string,
  label: string,
  options: { copyFrom?: string } & Omit<SdSettingsOptions, 'store'> = {},
): Promise<FileSd> {
  const { copyFrom, ...rest } = options;
  const store = join(dir, label, 'sd.records');
  mkdirSync(join(dir, label), { recursive: true });
  if (copyFrom !== undefined) copyFileSync(copyFrom, store);
  const settings = writeSdSettings(join(dir, label, 'settings'), {
    ...rest,
    store: { type: 'file', filename: store },
  });
  const sd = await startSd(settings);
  return { ...sd, store, settings, url: `https://127.0.0.1:${sd.port}/jsonrpc` };
}

/** Signs `changes` onto the sd's current tip and submits them (asserts "ok"); returns the signed records. */
export async function submitChanges(
  sd: RunningSd,
  changes: ChangeRecord[],
  signer: Signer,
): Promise<SignedChangeRecord[]> {
  const tip = (await sd.client.result('getTip')) as SignedChangeRecord | undefined;
  const records = sign(changes, tip?.hash ?? '', signer);
  const reply = await sd.client.call('submitRecords', { records: records as never });
  assert.equal(reply.body.result, 'ok', JSON.stringify(reply.body));
  return records;
}
