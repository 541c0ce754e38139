/**
 * Real processes for the directory transparency tests: several `sd run` with file stores (one store can be
 * copied to start another sd on a prefix of the chain), records submitted with `eps sd submit-records`
 * (the test operators' signing certificate), and eps nodes of a TestNetwork switched to the api directory of
 * a chosen sd, each with a state file and a metrics port.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from '../../src/core/json.js';
import { CERTS, metricsText, type TestNetwork } from './network.js';
import { freePort, runProgram, startProgram, type Running } from './processes.js';
import { apiSettings } from './records-server.js';

export interface SdProcess {
  url: string;
  store: string;
  process: Running;
}

function writeJson(path: string, value: unknown): string {
  writeFileSync(path, JSON.stringify(value));
  return path;
}

/** Starts an sd named `name` on its own file store (copied from `copyFrom` first, when given). */
export async function startSd(net: TestNetwork, name: string, copyFrom?: SdProcess): Promise<SdProcess> {
  const port = await freePort();
  const dir = join(net.dir, name);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const store = join(dir, 'data', 'records');
  if (copyFrom) copyFileSync(copyFrom.store, store);
  writeJson(join(dir, '001.json'), {
    jsonrpc_server: {
      bind_address: `127.0.0.1:${port}`,
      tls: {
        ca_certificate_files: [join(CERTS, 'root.crt')],
        certificate_file: join(CERTS, 'sd-1.crt'),
        key_file: join(CERTS, 'sd-1.key'),
      },
    },
    directory: {
      datastore: { type: 'file', settings: { filename: store } },
      ca_certificate_files: [join(CERTS, 'root.crt')],
      ca_intermediate_certificate_files: [join(CERTS, 'intermediate.crt')],
    },
  });
  const process = startProgram('sd', ['run'], { SD_SETTINGS: dir });
  await process.waitFor(/Waiting for CTRL-C/);
  return { url: `https://127.0.0.1:${port}/jsonrpc`, store, process };
}

/**
 * Settings of the `eps sd` tools run as hd-1 against `sd` (hd-1's TLS client certificate; with `signing`, its
 * signing certificate chained to the test CA); returns the environment that selects them.
 */
export function toolEnv(net: TestNetwork, sd: SdProcess, signing = false): Record<string, string> {
  const dir = join(net.dir, `tool-${signing ? 'submit' : 'read'}-${sd.process.child.pid}`);
  mkdirSync(dir, { recursive: true });
  const sign = {
    certificate_file: join(CERTS, 'hd-1-sign.crt'),
    key_file: join(CERTS, 'hd-1-sign.key'),
    ca_certificate_file: join(CERTS, 'root.crt'),
    ca_intermediate_certificate_files: [join(CERTS, 'intermediate.crt')],
  };
  writeJson(join(dir, '001.json'), {
    name: 'hd-1',
    channels: [],
    directory: { type: 'api', settings: apiSettings([sd.url]) },
    ...(signing ? { signing: sign } : {}),
  });
  return { EPS_SETTINGS: dir };
}

/** Submits record files to `sd` (signed with hd-1's signing certificate, chained to the test CA). */
export async function submit(net: TestNetwork, sd: SdProcess, files: string[]): Promise<void> {
  const r = await runProgram('eps', ['sd', 'submit-records', ...files], toolEnv(net, sd, true));
  assert.equal(r.code, 0, r.stderr);
}

/** Writes a record file with one services record of `operator` offering `methods` to everyone. */
export function servicesRecord(net: TestNetwork, file: string, operator: string, methods: string[]): string {
  return writeJson(join(net.dir, file), {
    records: [
      {
        name: operator,
        section: 'services',
        data: [
          {
            name: 'svc',
            permissions: [{ group: '*', rights: ['call'] }],
            methods: methods.map((name) => ({ name })),
          },
        ],
        created_at: '2021-05-17T10:00:00Z',
      },
    ],
  });
}

/**
 * Points node `name` at the api directory of `sd` (refresh every second, a state file in the network), with
 * `extra` api directory settings and a metrics listener on `metricsPort` when given.
 */
export function useSd(
  net: TestNetwork,
  name: string,
  sd: SdProcess,
  extra: JsonObject = {},
  metricsPort?: number,
): string {
  const file = join(net.settingsDir(name), '001_default.json');
  const settings = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
  const stateFile = join(net.dir, `${name}.directory.jsonl`);
  settings.directory = {
    type: 'api',
    settings: {
      ...(apiSettings(
        [sd.url],
        { cache_entries_for: 1, state_file: stateFile },
        5,
        name,
      ) as unknown as JsonObject),
      ...extra,
    },
  };
  if (metricsPort !== undefined) settings.metrics = { bind_address: `127.0.0.1:${metricsPort}` };
  writeJson(file, settings);
  return stateFile;
}

/** One sample of a node's metrics (0 when absent). */
export async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = await metricsText(port);
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
