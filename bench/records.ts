// Micro-benchmark of the record library: cold verification of 1,000 and 10,000 signed records (sync and on
// the thread pool) and the cost of appending 10 records to an already verified chain of 1,000 / 10,000.
// Run alone: node --import tsx bench/records.ts
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { JsonValue } from '../src/core/json.js';
import type { ChangeRecord, SignedChangeRecord } from '../src/core/directory-entry.js';
import {
  ChainVerifier,
  clearCertificateCache,
  normaliseSignedRecords,
  signRecords,
  TrustStore,
} from '../src/records/index.js';
import { createTestPki } from '../test/helpers/records-pki.js';

const SIZES = [1_000, 10_000] as const;
const APPEND_COUNT = 10;
const APPEND_REPEATS = 20;
const CREATED = '2021-05-17T10:00:00Z';

/** A realistic mix of sections for `count` records across a few dozen operators. */
function changeRecords(count: number, offset = 0, signingFingerprint = ''): ChangeRecord[] {
  const out: ChangeRecord[] = [];
  for (let i = offset; i < offset + count; i++) {
    const name = `op-${i % 40}`;
    const kind = i % 4;
    const data: JsonValue[] =
      i === 0
        ? [{ fingerprint: signingFingerprint, key_usage: 'signing' }]
        : kind === 0
          ? [
              { type: 'grpc_server', settings: { address: `${name}.local:${4000 + (i % 1000)}` } },
              { type: 'grpc_client' },
            ]
          : kind === 1
            ? [
                {
                  name: 'locations',
                  permissions: [{ group: 'health-departments', rights: ['call'] }],
                  methods: [
                    { name: 'add' },
                    { name: 'check', permissions: [{ group: 'ops', rights: ['call'] }] },
                  ],
                },
              ]
            : kind === 2
              ? [{ fingerprint: (i % 256).toString(16).padStart(2, '0').repeat(32), key_usage: 'encryption' }]
              : ['health-departments', `group-${i % 7}`];
    const section = i === 0 ? 'certificates' : ['channels', 'services', 'certificates', 'groups'][kind]!;
    out.push({ name: i === 0 ? 'hd-1' : name, section, data, created_at: CREATED });
  }
  return out;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function fresh(wire: string): SignedChangeRecord[] {
  // what a client holds after receiving the records: new strings, normalised
  return normaliseSignedRecords(JSON.parse(wire));
}

export async function benchRecords(): Promise<string[]> {
  const lines: string[] = [`records benchmark (node ${process.version}, ${availableParallelism()} cpus)`];
  const { root, intermediate, admin } = await createTestPki();
  const pems = { roots: [root.pem], intermediates: [intermediate.pem] };

  let start = process.hrtime.bigint();
  const max = SIZES[SIZES.length - 1]!;
  const all = signRecords(changeRecords(max, 0, admin.fingerprint), '', admin.key, admin.pem);
  lines.push(`signing ${max} records: ${ms(start).toFixed(0)} ms`);

  for (const size of SIZES) {
    const wire = JSON.stringify(all.slice(0, size));
    const cold = (): { trust: TrustStore; verifier: ChainVerifier } => {
      clearCertificateCache();
      const trust = TrustStore.fromPem(pems.roots, pems.intermediates);
      return { trust, verifier: new ChainVerifier(trust) };
    };

    start = process.hrtime.bigint();
    const records = fresh(wire);
    const normaliseMs = ms(start);
    let { verifier } = cold();
    start = process.hrtime.bigint();
    const sync = verifier.append(records);
    const syncMs = ms(start);
    if (!sync.ok) throw new Error(`verification failed: ${sync.reason}`);

    const again = fresh(wire);
    ({ verifier } = cold());
    start = process.hrtime.bigint();
    const async = await verifier.appendAsync(again);
    const asyncMs = ms(start);
    if (!async.ok) throw new Error(`verification failed: ${async.reason}`);

    const rate = (n: number, t: number): string =>
      `${Math.round((n / t) * 1000).toLocaleString('en')} records/s`;
    lines.push(
      `cold verify ${size}: JSON.parse+normalise ${normaliseMs.toFixed(0)} ms, verify ${syncMs.toFixed(0)} ms sync ` +
        `(${rate(size, normaliseMs + syncMs)}), ${asyncMs.toFixed(0)} ms on the thread pool (${rate(size, normaliseMs + asyncMs)})`,
    );

    // incremental: 10 new records on top of a verified chain of `size`
    const extra = signRecords(changeRecords(APPEND_COUNT, size), verifier.tip, admin.key, admin.pem);
    const extraWire = JSON.stringify(extra);
    let total = 0;
    for (let i = 0; i < APPEND_REPEATS; i++) {
      const copy = verifier.clone();
      const batch = fresh(extraWire);
      start = process.hrtime.bigint();
      const result = copy.append(batch);
      total += ms(start);
      if (!result.ok) throw new Error(`append failed: ${result.reason}`);
    }
    const appendMs = total / APPEND_REPEATS;
    lines.push(
      `append ${APPEND_COUNT} on top of ${size}: ${appendMs.toFixed(2)} ms ` +
        `(full re-verification as in the original: ${((syncMs * (size + APPEND_COUNT)) / size).toFixed(0)} ms)`,
    );
  }
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await benchRecords()) console.log(line);
}
