import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDatastore } from '../../src/datastore/file-store.js';
import { RedisDatastore } from '../../src/datastore/redis-store.js';
import { recordToEntry } from '../../src/sd/record-entry.js';
import { change, ensureTestPki, loadSigner, sign, startSd, startRedis, writeSdSettings } from './sd-harness.js';
import { stopAll } from './processes.js';

await ensureTestPki();
const admin = loadSigner('hd-1-sign');
const dir = mkdtempSync(join(tmpdir(), 'sd-measure-'));
const N = 10_000;
let t = performance.now();
const records = sign(Array.from({ length: N }, (_, i) => change(`op-${i % 50}`, 'groups', [`g${i}`])), '', admin);
console.log(`signed ${N} records in ${Math.round(performance.now() - t)} ms`);
const file = join(dir, 'sd.records');
const fs = new FileDatastore(file);
await fs.open();
await fs.append(records.map(recordToEntry));
await fs.close();
const redis = await startRedis();
const rs = new RedisDatastore({ addresses: [`127.0.0.1:${redis.port}`], password: '', database: 0, key: 'sd-entries', master_name: '' });
await rs.open();
await rs.append(records.map(recordToEntry));
await rs.close();

function pct(xs: number[], p: number): number { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]!; }

for (const [label, store] of [['file', { type: 'file' as const, filename: file }], ['redis', { type: 'redis' as const, port: redis.port }]] as const) {
  t = performance.now();
  const sd = await startSd(writeSdSettings(join(dir, label), { store }));
  const startMs = performance.now() - t;
  console.log(label, 'startup (process spawn to serving) ms', Math.round(startMs), '|', /Replayed.*/.exec(sd.process.output())![0]);
  t = performance.now();
  const all = await sd.client.records();
  console.log(label, `getRecords of ${all.length} records: ${Math.round(performance.now() - t)} ms`);
  let parent = all.at(-1)!.hash;
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const r = sign([change('x', 'groups', [`${label}${i}`])], parent, admin);
    const s = performance.now();
    const reply = await sd.client.call('submitRecords', { records: r as never });
    lat.push(performance.now() - s);
    if (reply.body.result !== 'ok') throw new Error(JSON.stringify(reply.body));
    parent = r[0]!.hash;
  }
  console.log(label, `submit 1 record: p50 ${pct(lat, 0.5).toFixed(2)} ms, p95 ${pct(lat, 0.95).toFixed(2)} ms`);
  const batch = sign(Array.from({ length: 1000 }, (_, i) => change('y', 'groups', [`b${i}`])), parent, admin);
  t = performance.now();
  const reply = await sd.client.call('submitRecords', { records: batch as never });
  console.log(label, `submit batch of 1000: ${Math.round(performance.now() - t)} ms`, reply.body.result ?? reply.body.error);
  await sd.stop();
}
await redis.stop();
await stopAll();
rmSync(dir, { recursive: true, force: true });
