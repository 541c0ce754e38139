/**
 * The network of the deadline tests: a backend that sleeps 60 s, reached three ways from a gateway with a
 * 1 s deadline. hd-1 calls op-1 directly (gRPC) and hd-2 through a P2P tunnel; the proxy operator calls
 * hd-2 over hd-2's reverse stream (ServerCall); op-1 calls its own backend. Every eps node serves metrics, so a test can see that no
 * request is left in any broker.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { CERTS, metricsText, TestNetwork } from './network.js';
import { HD2_SERVICES, HEALTH_DEPARTMENTS, PROXY_OPERATOR, proxyOperatorSpec } from './p2p-network.js';
import { freePort } from './processes.js';
import { waitFor } from './wait.js';

const P = PROXY_OPERATOR;
export const BACKEND_SLEEP_MS = 60_000;
export const GATEWAY_DEADLINE_S = 1;

/** One request the sleeping backend received. */
export interface BackendRequest {
  /** The JSON-RPC id: the addressed ID, e.g. `op-1.sleep(direct-1)`. */
  id: string;
  receivedAt: number;
  /** When its connection closed before an answer (performance.now()), if it did. */
  abortedAt?: number;
}

export interface SleepingBackend {
  port: number;
  requests: BackendRequest[];
  /** Requests still open (neither answered nor aborted). */
  open(): number;
  /** The request with this id, once it has arrived (waits at most `timeoutMs`). */
  arrived(id: string, timeoutMs?: number): Promise<BackendRequest>;
  close(): void;
}

/** `sleep` answers after 60 s (unless the request is aborted first); anything else (`wake`) at once. */
export async function sleepingBackend(): Promise<SleepingBackend> {
  const requests: BackendRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id: string; method: string };
      const reply = (): void => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: 'awake' }));
      };
      if (msg.method !== 'sleep') return reply();
      const seen: BackendRequest = { id: msg.id, receivedAt: performance.now() };
      requests.push(seen);
      const timer = setTimeout(reply, BACKEND_SLEEP_MS);
      res.on('close', () => {
        clearTimeout(timer);
        if (!res.writableFinished) seen.abortedAt = performance.now();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    open: () => requests.filter((r) => r.abortedAt === undefined).length,
    async arrived(id, timeoutMs = 5000) {
      await waitFor(() => requests.some((r) => r.id === id), {
        timeoutMs,
        what: `the backend to receive ${id}`,
      });
      return requests.find((r) => r.id === id)!;
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

const SLEEPER = {
  name: 'sleeper',
  permissions: [...HEALTH_DEPARTMENTS, { group: 'proxy-providers', rights: ['call'] }],
  methods: [{ name: 'sleep' }, { name: 'wake' }],
};

export interface DeadlineNetwork {
  net: TestNetwork;
  backend: SleepingBackend;
  /** Metrics port by node name. */
  metrics: Map<string, number>;
  stop(): Promise<void>;
}

export async function deadlineNetwork(): Promise<DeadlineNetwork> {
  const backend = await sleepingBackend();
  const endpoint = `http://127.0.0.1:${backend.port}/jsonrpc`;
  const control = await freePort();
  const metrics = new Map<string, number>();
  for (const n of [P, 'hd-1', 'hd-2', 'op-1']) metrics.set(n, await freePort());
  // Backend and gRPC timeouts far beyond the gateway's deadline: only the deadline can end the calls.
  const slowHops = { call_timeout: 60, connect_timeout: 5 };
  const net = new TestNetwork([
    {
      ...proxyOperatorSpec(control),
      grpcClient: slowHops,
      gatewayCallTimeout: GATEWAY_DEADLINE_S,
      metricsPort: metrics.get(P)!,
    },
    {
      name: 'hd-1',
      groups: ['health-departments'],
      grpcServer: { proxy: P },
      grpcClient: slowHops,
      gatewayCallTimeout: GATEWAY_DEADLINE_S,
      metricsPort: metrics.get('hd-1')!,
    },
    {
      name: 'hd-2',
      groups: ['health-departments'],
      grpcServer: { proxy: P },
      grpcClient: slowHops,
      backend: endpoint,
      backendTimeout: BACKEND_SLEEP_MS / 1000,
      services: [...HD2_SERVICES, SLEEPER],
      metricsPort: metrics.get('hd-2')!,
    },
    {
      name: 'op-1',
      groups: ['operators'],
      grpcServer: true,
      backend: endpoint,
      backendTimeout: BACKEND_SLEEP_MS / 1000,
      services: [SLEEPER],
      gatewayCallTimeout: GATEWAY_DEADLINE_S,
      metricsPort: metrics.get('op-1')!,
    },
  ]);
  await net.prepare();
  const proxyDir = net.writePublicProxy(P, { tls: await freePort(), internal: await freePort(), control });
  await net.start('op-1');
  await net.start('hd-2');
  const operator = await net.start(P);
  await net.startProxy('public', proxyDir);
  await net.start('hd-1');
  await operator.waitFor(/reverse stream registered" peer=hd-2/);
  return {
    net,
    backend,
    metrics,
    async stop() {
      await net.stop();
      backend.close();
    },
  };
}

/** Requests in a node's broker that are not answered yet (the eps_requests_in_flight gauge, all origins). */
export async function inFlight(metricsPort: number): Promise<number> {
  const text = await metricsText(metricsPort);
  let sum = 0;
  for (const m of text.matchAll(/^eps_requests_in_flight\{[^}]*\} (\d+)/gm)) sum += Number(m[1]);
  return sum;
}

function tlsOptions(node: string): https.RequestOptions {
  return {
    host: '127.0.0.1',
    path: '/jsonrpc',
    method: 'POST',
    servername: node,
    ca: readFileSync(join(CERTS, 'root.crt')),
    cert: readFileSync(join(CERTS, `${node}.crt`)),
    key: readFileSync(join(CERTS, `${node}.key`)),
    checkServerIdentity: () => undefined,
    headers: { 'Content-Type': 'application/json' },
  };
}

export interface TimedReply {
  status: number;
  json: Record<string, unknown>;
  /** From sending the request on an open connection to the complete answer. */
  elapsedMs: number;
}

/**
 * Calls a gateway over one kept-alive TLS connection (with the node's own client certificate), so that
 * a timed call measures the gateway and not a TLS handshake: `warm()` opens the connection first.
 */
export function gatewayClient(
  port: number,
  node: string,
): { call: (body: object) => Promise<TimedReply>; close: () => void } {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (body: object): Promise<TimedReply> =>
    new Promise((resolve, reject) => {
      const req = https.request({ ...tlsOptions(node), port, agent }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(text) as Record<string, unknown>,
            elapsedMs: performance.now() - started,
          }),
        );
      });
      req.on('error', reject);
      let started = performance.now();
      // Timed from the moment the connection is there (a new one is opened only by the first call).
      req.on('socket', (socket) => {
        if (!socket.connecting) started = performance.now();
        else socket.once('secureConnect', () => (started = performance.now()));
      });
      req.end(JSON.stringify(body));
    });
  return { call, close: () => agent.destroy() };
}

/**
 * A gateway request (with the node's own client certificate) that the test can abandon: `disconnect()`
 * destroys the connection while the call is in flight.
 */
export function abandonableRequest(
  port: number,
  node: string,
  body: object,
): { disconnect: () => void; done: Promise<unknown> } {
  const req = https.request({ ...tlsOptions(node), port, agent: false });
  const done = new Promise((resolve) => {
    req.on('response', resolve);
    req.on('error', resolve);
    req.on('close', resolve);
  });
  req.end(JSON.stringify(body));
  return { disconnect: () => req.destroy(), done };
}
