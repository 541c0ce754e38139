/**
 * Asynchronous calls between real eps processes (hd-1 -> gRPC -> ls-1, file store):
 * - round trips per second at c=16: hd-1's application calls ls-1.locate (ls-1's backend acknowledges),
 *   ls-1's application answers with `respond`, hd-1's backend receives it; against synchronous calls
 *   (ls-1.lookup, answered at once) in alternating slices of the same run;
 * - store and forward: 10,000 marked requests queued at hd-1 while ls-1 is down, then the time from
 *   starting ls-1 to hd-1's empty outbox (and to ls-1 being ready, for comparison).
 * `async-redis` runs the same with both nodes' tables in one real redis-server (every write a fenced script,
 * docs/operations.md "The fence in Redis"; no persistence configured, so it measures the round trips to Redis).
 * Run alone: node --import tsx bench/async.ts [seconds] [queued] [file|redis]
 */
import { spawnSync } from 'node:child_process';
import type { JsonObject } from '../src/core/json.js';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { CERTS, TestNetwork } from '../test/helpers/network.js';
import { startRedis, type RedisServer } from '../test/helpers/sd-harness.js';
import type { Running } from '../test/helpers/processes.js';
import { compareLoads, formatLoad, warmUp } from './load.js';
import { gatewayCaller, type GatewayCaller } from './gateway-client.js';

/** Parallel gateway calls while queuing (each queued request costs two fsynced writes at hd-1). */
const QUEUE_CONCURRENCY = 32;
const DRAIN_TIMEOUT_MS = 10 * 60_000;

interface Backend {
  url: string;
  /** Resolves when `respond` for request `id` arrives. */
  answered(id: string): Promise<void>;
  locates: number;
  close(): Promise<void>;
}

/** A backend for both sides: acknowledges `locate`, answers `lookup` at once, takes `respond`. */
async function backend(): Promise<Backend> {
  const waiting = new Map<string, () => void>();
  const early = new Set<string>();
  const b: Backend = {
    url: '',
    locates: 0,
    answered: (id) =>
      early.delete(id) ? Promise.resolve() : new Promise((resolve) => waiting.set(id, resolve)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as { method: string; id: unknown; params: { request?: string } };
      let result: unknown = 'sync';
      if (msg.method === 'locate') {
        b.locates++;
        result = { _async: true };
      } else if (msg.method === 'respond' && msg.params.request) {
        const done = waiting.get(msg.params.request);
        waiting.delete(msg.params.request);
        if (done) done();
        else early.add(msg.params.request);
        result = 'thanks';
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  b.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jsonrpc`;
  return b;
}

export type AsyncBenchStore = 'file' | 'redis';

export async function benchAsync(
  seconds = 10,
  queued = 10_000,
  storeKind: AsyncBenchStore = 'file',
): Promise<string[]> {
  const hdBackend = await backend();
  const lsBackend = await backend();
  const health = [{ group: 'health-departments', rights: ['call'] }];
  const bounds = { max_entries: 1_000_000, max_entries_per_peer: 1_000_000, max_bytes_per_peer: 1 << 30 };
  const stateDir = mkdtempSync(join(tmpdir(), 'eps-bench-async-'));
  let redis: RedisServer | undefined;
  if (storeKind === 'redis') {
    if (spawnSync('redis-server', ['--version']).error) return ['  SKIPPED: redis-server is not installed'];
    redis = await startRedis();
  }
  const store: JsonObject = redis
    ? { type: 'redis', settings: { addresses: [`127.0.0.1:${redis.port}`], password: '', key: 'eps-bench' } }
    : { type: 'file', settings: { directory: stateDir } };
  const net = new TestNetwork([
    {
      name: 'hd-1',
      groups: ['health-departments'],
      grpcServer: true,
      grpcClient: { call_timeout: 30, connect_timeout: 2 },
      backend: hdBackend.url,
      async: { store, outbox: { retry_initial: 0.1, retry_max: 1 }, ...bounds },
    },
    {
      name: 'ls-1',
      groups: ['location-services'],
      grpcServer: true,
      grpcClient: { call_timeout: 30 },
      backend: lsBackend.url,
      services: [
        { name: 'locations', permissions: health, methods: [{ name: 'locate' }, { name: 'lookup' }] },
      ],
      async: { store, ...bounds },
    },
  ]);
  const lines: string[] = [];
  let hd: GatewayCaller | undefined;
  let ls: GatewayCaller | undefined;
  try {
    await net.prepare();
    await net.start('hd-1');
    let ls1: Running = await net.start('ls-1');
    const hdPort = net.ports.get('hd-1')!.gateway;
    const lsPort = net.ports.get('ls-1')!.gateway;
    hd = gatewayCaller(CERTS, 'hd-1', hdPort, 16);
    ls = gatewayCaller(CERTS, 'ls-1', lsPort, 16);
    let n = 0;
    const roundTrip = async (): Promise<boolean> => {
      const id = `rt-${++n}`;
      const request = `ls-1.locate(${id})`;
      const ack = await hd!.request('ls-1.locate', { person: id }, id);
      if (!ack.text.includes('"_async"')) throw new Error(`not acknowledged: ${ack.text.slice(0, 200)}`);
      const arrived = hdBackend.answered(request);
      const answer = await ls!.request('respond', { result: { person: id } }, request);
      if (!answer.text.includes('"delivered":true')) throw new Error(`respond: ${answer.text.slice(0, 200)}`);
      await arrived;
      return true;
    };
    const sync = (): Promise<boolean> => hd!.call('ls-1.lookup', { person: 'p' });
    await warmUp(16, roundTrip);
    await warmUp(16, sync);
    const [rt, direct] = await compareLoads(
      16,
      seconds,
      { label: 'async round trip (ack+respond)', once: roundTrip },
      { label: 'sync call ls-1.lookup', once: sync },
    );
    lines.push(formatLoad(rt), formatLoad(direct));
    lines.push(`${'  ratio async/sync throughput'.padEnd(34)} c=16  ${(rt.rps / direct.rps).toFixed(2)}`);

    // Store and forward: queue while ls-1 is down, then time its restart to hd-1's empty outbox.
    await ls1.stop();
    const queueStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: QUEUE_CONCURRENCY }, async () => {
        while (next < queued) {
          const id = `q-${next++}`;
          const r = await hd!.request('ls-1.locate', { person: id, _async: true }, id);
          if (!r.text.includes('"queued":true')) throw new Error(`not queued: ${r.text.slice(0, 200)}`);
        }
      }),
    );
    const queueSeconds = (performance.now() - queueStart) / 1000;
    lines.push(
      `${`  queued ${queued} marked requests`.padEnd(34)}       ${(queued / queueSeconds).toFixed(0).padStart(6)} req/s  (ls-1 down)`,
    );
    const locatesBefore = lsBackend.locates;
    const restart = performance.now();
    ls1 = await net.start('ls-1');
    const ready = performance.now() - restart;
    const deadline = restart + DRAIN_TIMEOUT_MS;
    for (;;) {
      const r = await hd.request('_status', {});
      if (/"outbox":\{"entries":0,/.test(r.text)) break;
      if (performance.now() > deadline) throw new Error(`outbox not drained: ${r.text}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const drained = performance.now() - restart;
    lines.push(
      `${'  restart of ls-1 to drained outbox'.padEnd(34)}       ${(drained / 1000).toFixed(2)} s  ` +
        `(ls-1 ready after ${(ready / 1000).toFixed(2)} s; ${queued} messages, ` +
        `${(queued / ((drained - ready) / 1000)).toFixed(0)} msg/s after ready; ` +
        `${lsBackend.locates - locatesBefore} reached ls-1's backend)`,
    );
  } finally {
    hd?.close();
    ls?.close();
    await net.stop();
    await hdBackend.close();
    await lsBackend.close();
    await redis?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const lines = await benchAsync(
    Number(process.argv[2] ?? 10),
    Number(process.argv[3] ?? 10_000),
    process.argv[4] === 'redis' ? 'redis' : 'file',
  );
  for (const line of lines) console.log(line);
}
