// Benchmark of the api directory's verification path (VerifiedMirror: JSON.parse of the getRecords answer,
// normalisation, incremental chain verification, application to entries), without the network:
// cold verification of 1,000 and 10,000 records, and a refresh bringing 10 new records on top of 1,000 and of
// 10,000 (O(new records): both should cost the same within noise).
// Run alone: node --import tsx bench/directory.ts
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { JsonValue } from '../src/core/json.js';
import type { ChangeRecord, SignedChangeRecord } from '../src/core/directory-entry.js';
import { VerifiedMirror } from '../src/directory/verified-mirror.js';
import { clearCertificateCache, signRecords, TrustStore } from '../src/records/index.js';
import { createTestPki } from '../test/helpers/records-pki.js';

const SIZES = [1_000, 10_000] as const;
const COLD_RUNS = 3;
const NEW_RECORDS = 10;
const REFRESH_RUNS = 20;
const CREATED = '2021-05-17T10:00:00Z';
const OPERATORS = 40;

/** A mix of sections over a few dozen operators; record 0 pins the admin's signing certificate. */
function changeRecords(count: number, offset: number, adminFingerprint: string): ChangeRecord[] {
  const out: ChangeRecord[] = [];
  for (let i = offset; i < offset + count; i++) {
    const name = `op-${i % OPERATORS}`;
    const kind = i % 3;
    let record: ChangeRecord;
    if (i === 0) {
      record = {
        name: 'hd-1',
        section: 'certificates',
        data: [{ fingerprint: adminFingerprint, key_usage: 'signing' }],
        created_at: CREATED,
      };
    } else if (kind === 0) {
      const data: JsonValue[] = [
        { type: 'grpc_server', settings: { address: `${name}.local:${4000 + (i % 1000)}` } },
        { type: 'grpc_client' },
      ];
      record = { name, section: 'channels', data, created_at: CREATED };
    } else if (kind === 1) {
      const data: JsonValue[] = [
        {
          name: 'locations',
          permissions: [{ group: 'health-departments', rights: ['call'] }],
          methods: [{ name: 'add' }, { name: 'check', permissions: [{ group: 'ops', rights: ['call'] }] }],
        },
      ];
      record = { name, section: 'services', data, created_at: CREATED };
    } else {
      record = {
        name,
        section: 'groups',
        data: ['health-departments', `group-${i % 7}`],
        created_at: CREATED,
      };
    }
    out.push(record);
  }
  return out;
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function benchDirectory(): Promise<string[]> {
  const lines: string[] = [
    `api directory verification (VerifiedMirror; node ${process.version}, ${availableParallelism()} cpus)`,
  ];
  const { root, intermediate, admin } = await createTestPki();
  const roots = [root.pem];
  const intermediates = [intermediate.pem];
  const max = SIZES[SIZES.length - 1]!;
  const chain = signRecords(changeRecords(max, 0, admin.fingerprint), '', admin.key, admin.pem);
  const refreshCosts: number[] = [];

  for (const size of SIZES) {
    const wire = JSON.stringify(chain.slice(0, size));
    const cold: number[] = [];
    let mirror: VerifiedMirror | undefined;
    for (let run = 0; run < COLD_RUNS; run++) {
      clearCertificateCache();
      mirror = new VerifiedMirror(TrustStore.fromPem(roots, intermediates));
      const start = process.hrtime.bigint();
      await mirror.ingest(JSON.parse(wire));
      cold.push(elapsedMs(start));
    }
    const coldMs = median(cold);
    lines.push(
      `cold ${size.toLocaleString('en')} records: ${coldMs.toFixed(0)} ms ` +
        `(${Math.round((size / coldMs) * 1000).toLocaleString('en')} records/s; median of ${COLD_RUNS}; ` +
        `parse + normalise + verify + apply)`,
    );

    // Refreshes bringing NEW_RECORDS new records each, on top of the verified chain of `size`.
    const m = mirror!;
    let parent: string = chain[size - 1]!.hash;
    const batches: string[] = [];
    for (let run = 0; run < REFRESH_RUNS; run++) {
      const offset = max + run * NEW_RECORDS;
      const batch: SignedChangeRecord[] = signRecords(
        changeRecords(NEW_RECORDS, offset, admin.fingerprint),
        parent,
        admin.key,
        admin.pem,
      );
      parent = batch[batch.length - 1]!.hash;
      batches.push(JSON.stringify(batch));
    }
    const verifiedBefore = m.verifiedRecords;
    const costs: number[] = [];
    for (const wireBatch of batches) {
      const start = process.hrtime.bigint();
      const outcome = await m.ingest(JSON.parse(wireBatch));
      costs.push(elapsedMs(start));
      if (outcome.kind !== 'extended') throw new Error(`refresh failed: ${outcome.kind}`);
    }
    const refreshMs = median(costs);
    refreshCosts.push(refreshMs);
    const verifiedPerRefresh = (m.verifiedRecords - verifiedBefore) / REFRESH_RUNS;
    lines.push(
      `refresh with ${NEW_RECORDS} new records on top of ${size.toLocaleString('en')}: ${refreshMs.toFixed(2)} ms ` +
        `(median of ${REFRESH_RUNS}; ${verifiedPerRefresh} records verified per refresh; the original re-verifies ` +
        `all ${(size + NEW_RECORDS).toLocaleString('en')}: ~${(((coldMs * (size + NEW_RECORDS)) / size) | 0).toLocaleString('en')} ms)`,
    );
  }
  const [small, large] = refreshCosts;
  if (small !== undefined && large !== undefined) {
    lines.push(
      `refresh cost ratio 10,000 / 1,000: ${(large / small).toFixed(2)} (1.00 = independent of chain length)`,
    );
  }
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await benchDirectory()) console.log(line);
}
