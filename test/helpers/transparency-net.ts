/**
 * Real processes for the directory transparency tests: several `sd run` with file stores (one store can be
 * copied to start another sd on a prefix of the chain), records submitted with `eps sd submit-records`
 * (the test operators' signing certificate), and eps nodes of a TestNetwork switched to the api directory of
 * a chosen sd, each with a state file and a metrics port (NodeMetrics reads them).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from '../../src/core/json.js';
import { CERTS, metricsText, type TestNetwork } from './network.js';
import { freePort, runProgram } from './processes.js';
import { apiSettings } from './records-server.js';
import { startFileSd, type FileSd } from './sd-file-store.js';

function writeJson(path: string, value: unknown): string {
  writeFileSync(path, JSON.stringify(value));
  return path;
}

/** An sd with a file store (`url`, `store`, `process`; see sd-file-store.ts). */
export type SdProcess = FileSd;

/** Starts an sd named `name` on its own file store (copied from `copyFrom` first, when given). */
export function startSd(net: TestNetwork, name: string, copyFrom?: SdProcess): Promise<SdProcess> {
  return startFileSd(net.dir, name, copyFrom ? { copyFrom: copyFrom.store } : {});
}

/**
 * Two sds with file stores where `short` holds a prefix of `long`'s chain: the network's base records go to
 * `long`, `short` starts on a copy of its store, then the record file `more` goes to `long` only.
 */
export async function prefixSds(
  net: TestNetwork,
  more: string,
): Promise<{ long: SdProcess; short: SdProcess }> {
  const long = await startSd(net, 'sd-long');
  await submit(net, long, [
    '--reset',
    join(net.dir, 'directory/001_base.json'),
    join(net.dir, 'directory/002_certificates.json'),
  ]);
  const short = await startSd(net, 'sd-short', long);
  await submit(net, long, [more]);
  return { long, short };
}

/** The metrics listeners of some nodes: their ports, verified chain sizes and alarm counters. */
export class NodeMetrics {
  readonly ports = new Map<string, number>();

  static async of(names: string[]): Promise<NodeMetrics> {
    const metrics = new NodeMetrics();
    for (const name of names) metrics.ports.set(name, await freePort());
    return metrics;
  }

  port(name: string): number {
    const port = this.ports.get(name);
    if (port === undefined) throw new Error(`no metrics port for ${name}`);
    return port;
  }

  /** eps_directory_records of `name`. */
  records(name: string): Promise<number> {
    return metric(this.port(name), 'eps_directory_records');
  }

  /** eps_directory_alarms_total{kind} of `name`. */
  alarms(name: string, kind: 'withheld' | 'fork' | 'unverifiable'): Promise<number> {
    return metric(this.port(name), 'eps_directory_alarms_total', `{kind="${kind}"}`);
  }
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
