/**
 * hd-1 and ls-1 as real eps processes for asynchronous-call tests with restarts: both over direct gRPC,
 * each with a recording backend (async-backend.ts); ls-1 offers `locate` and `lookup` to health
 * departments. The outbox retries quickly (0.1 s, at most 0.5 s), so a restarted peer is found again at once.
 * Nodes are started, stopped and killed by name; the tables live in the given store (default: a file
 * store in a folder of its own).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../../src/core/json.js';
import { asyncBackend, type AsyncBackend } from './async-backend.js';
import { gateway, rpc, STEP_MS } from './async-flow.js';
import { TestNetwork } from './network.js';
import { freePort, type Running } from './processes.js';
import { startRedis } from './sd-harness.js';
import { waitFor } from './wait.js';

const HEALTH = [{ group: 'health-departments', rights: ['call'] }];
/** Retries every 0.1 s at first, at most every 0.5 s: a restarted peer is found again at once. */
const OUTBOX = { retry_initial: 0.1, retry_max: 0.5 };

export type Node = 'hd-1' | 'ls-1';

/** Where the nodes keep their tables: the `async.store` settings, and what to stop afterwards. */
export interface StoreSetup {
  store: JsonObject;
  close(): Promise<void>;
}

export interface PairOptions {
  /** The store of both nodes (default: a file store in a temporary folder). */
  store?: StoreSetup;
  /** More `async` settings per node (bounds, ...), merged over the store and the outbox's retries. */
  async?: Partial<Record<Node, JsonObject>>;
  /** Which nodes run after `startPair` (default: both). */
  running?: Node[];
  /** More `grpc_client` settings of both nodes, over the connect timeout of 1 s. */
  grpcClient?: JsonObject;
}

export class AsyncPair {
  readonly procs = new Map<Node, Running>();
  hdPort = 0;
  lsPort = 0;

  private constructor(
    readonly net: TestNetwork,
    readonly hdBackend: AsyncBackend,
    readonly lsBackend: AsyncBackend,
    /** hd-1's metrics listener; ls-1's is `lsMetricsPort`. */
    readonly metricsPort: number,
    readonly lsMetricsPort: number,
    private readonly store: StoreSetup,
  ) {}

  static async start(options: PairOptions = {}): Promise<AsyncPair> {
    const hdBackend = await asyncBackend();
    const lsBackend = await asyncBackend();
    const store = options.store ?? fileStore();
    const metricsPort = await freePort();
    const lsMetricsPort = await freePort();
    const settings = (node: Node): JsonObject => ({
      store: store.store,
      outbox: OUTBOX,
      ...options.async?.[node],
    });
    const grpcClient = { connect_timeout: 1, ...options.grpcClient };
    const net = new TestNetwork([
      {
        name: 'hd-1',
        groups: ['health-departments'],
        grpcServer: true,
        grpcClient,
        backend: hdBackend.url,
        metricsPort,
        async: settings('hd-1'),
      },
      {
        name: 'ls-1',
        groups: ['location-services'],
        grpcServer: true,
        grpcClient,
        backend: lsBackend.url,
        metricsPort: lsMetricsPort,
        services: [
          { name: 'locations', permissions: HEALTH, methods: [{ name: 'locate' }, { name: 'lookup' }] },
        ],
        async: settings('ls-1'),
      },
    ]);
    const pair = new AsyncPair(net, hdBackend, lsBackend, metricsPort, lsMetricsPort, store);
    await net.prepare();
    pair.hdPort = net.ports.get('hd-1')!.gateway;
    pair.lsPort = net.ports.get('ls-1')!.gateway;
    await Promise.all((options.running ?? ['hd-1', 'ls-1']).map((n) => pair.startNode(n)));
    return pair;
  }

  async startNode(name: Node): Promise<void> {
    this.procs.set(name, await this.net.start(name));
  }

  async stopNode(name: Node, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.procs.get(name)?.stop(signal);
    this.procs.delete(name);
  }

  /** hd-1's application sends a marked request (`_async` with `ttl`) with JSON-RPC id `id`; its reply. */
  async marked(method: string, id: string, ttl = 120): Promise<JsonObject> {
    const r = await gateway(this.hdPort, 'hd-1', rpc(method, { person: id, _async: { ttl } }, id));
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  /** Waits until `operator`'s outbox is empty (nothing more will be sent again). */
  drained(operator: Node): Promise<void> {
    const port = operator === 'hd-1' ? this.hdPort : this.lsPort;
    return waitFor(
      async () => {
        const r = await gateway(port, operator, rpc('_status', {}, 1));
        return ((r.json.result as JsonObject).outbox as JsonObject).entries === 0;
      },
      // A restarted peer is dialled again within the gRPC client's reconnect backoff (at most 10 s).
      { timeoutMs: 2 * STEP_MS, what: `the outbox of ${operator} to drain`, intervalMs: 50 },
    );
  }

  /** The requests with eps request id `id` that reached ls-1's backend. */
  /** The log lines of `node`'s current process that name request `id`. */
  logLines(node: Node, id: string): string[] {
    const output = this.procs.get(node)?.output() ?? '';
    return output.split('\n').filter((line) => line.includes(`id="${id}"`) || line.includes(`id=${id} `));
  }

  atLs(id: string): JsonObject[] {
    return this.lsBackend.calls('locate').filter((m) => m.id === id);
  }

  async close(): Promise<void> {
    await this.net.stop();
    await this.hdBackend.close();
    await this.lsBackend.close();
    await this.store.close();
  }
}

/** A file store in a temporary folder of its own, removed at close. */
export function fileStore(): StoreSetup {
  const dir = mkdtempSync(join(tmpdir(), 'eps-outbox-'));
  return {
    store: { type: 'file', settings: { directory: dir } },
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Both nodes' tables in one real redis-server, which outlives every restart and kill of the eps processes. */
export async function redisStore(): Promise<StoreSetup> {
  const redis = await startRedis();
  return {
    store: {
      type: 'redis',
      settings: { addresses: [`127.0.0.1:${redis.port}`], password: '', key: 'eps-async-test' },
    },
    close: () => redis.stop(),
  };
}
