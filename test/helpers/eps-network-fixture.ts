/**
 * The network of real eps processes the eps-network tests run against: hd-1, ls-1 (with the eps-ls
 * locations backend), op-1 (an echo backend, stdout, proxy of demo-app), op-2 (stdout only) and hd-2 (its
 * backend down), with generated certificates.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JsonObject } from '../../src/core/json.js';
import { TestNetwork } from './network.js';
import { freePort, startProgram, type Running } from './processes.js';

/** A JSON-RPC request body. */
export const call = (method: string, params: JsonObject = {}, id: string | number = '1') => ({
  jsonrpc: '2.0',
  method,
  params,
  id,
});

export interface EchoBackend {
  server: http.Server;
  port: number;
  /** Every request delivered to it, in order. */
  seen: JsonObject[];
}

/** A backend that records what eps delivers and answers per method. */
function echoBackend(): Promise<EchoBackend> {
  const seen: JsonObject[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as JsonObject;
      seen.push(msg);
      const reply = (o: object): void => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: 7, ...o }));
      };
      if (msg.method === 'slow') setTimeout(() => reply({ result: 'late' }), 3000);
      else if (msg.method === 'list') reply({ result: [1, 2] });
      else if (msg.method === 'empty') reply({ result: {} });
      else if (msg.method === 'fail') reply({ error: { code: 2, message: 'not found', data: 'foo' } });
      else reply({ result: 'ok' });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, seen }),
    ),
  );
}

export interface LocationsNetwork {
  net: TestNetwork;
  echo: EchoBackend;
  /** hd-1's gateway port. */
  hdPort: number;
  /** ls-1's gRPC port. */
  lsGrpc: number;
  /** hd-1's metrics port. */
  metricsPort: number;
  /** The running eps processes by node name (their output, for log assertions). */
  processes: Map<string, Running>;
  stop(): Promise<void>;
}

/** Starts the network; `nodes` are the eps processes to run (all of them unless told). */
export async function startLocationsNetwork(
  nodes: string[] = ['hd-1', 'ls-1', 'op-1', 'op-2', 'hd-2'],
): Promise<LocationsNetwork> {
  const everyone = [{ group: 'health-departments', rights: ['call'] }];
  const echo = await echoBackend();
  const metricsPort = await freePort();
  const lsPort = await freePort();
  const ls: Running = startProgram('eps-ls', [], { LS_BIND_ADDRESS: `127.0.0.1:${lsPort}` });
  await ls.waitFor(/listening/);
  const net = new TestNetwork([
    {
      name: 'hd-1',
      groups: ['health-departments'],
      grpcServer: true,
      grpcClient: true,
      metricsPort,
      services: [
        { name: 'internals', permissions: everyone, methods: [{ name: '_ping' }, { name: '_directory' }] },
      ],
    },
    {
      name: 'ls-1',
      groups: ['location-services'],
      grpcServer: true,
      backend: `http://127.0.0.1:${lsPort}/jsonrpc`,
      services: [
        {
          name: 'locations',
          permissions: everyone,
          methods: [{ name: 'add' }, { name: 'lookup' }, { name: '_ping' }],
        },
      ],
    },
    {
      name: 'op-1',
      groups: ['operators'],
      grpcServer: true,
      stdout: true,
      backend: `http://127.0.0.1:${echo.port}/jsonrpc`,
      backendTimeout: 1,
      services: [
        {
          name: 'echo',
          permissions: everyone,
          methods: [
            { name: 'echo' },
            { name: 'list' },
            { name: 'empty' },
            { name: 'fail' },
            { name: 'slow' },
            { name: 'requestConnection' },
          ],
        },
      ],
      order: ['jsonrpc_client', 'stdout', 'grpc_server', 'jsonrpc_server'],
    },
    {
      name: 'op-2',
      groups: ['operators'],
      grpcServer: true,
      stdout: true,
      order: ['stdout', 'grpc_server', 'jsonrpc_server'],
      services: [{ name: 'printing', permissions: everyone, methods: [{ name: 'print' }] }],
    },
    {
      name: 'hd-2',
      groups: ['health-departments'],
      grpcServer: true,
      // Nothing listens there: the backend is down.
      backend: `http://127.0.0.1:${await freePort()}/jsonrpc`,
      services: [{ name: 'records', permissions: everyone, methods: [{ name: 'store' }] }],
    },
    // Never started: an operator reachable only through op-1 acting as its proxy.
    { name: 'demo-app', groups: [], grpcServer: { proxy: 'op-1' }, gateway: false },
  ]);
  await net.prepare();
  const started = await Promise.all(nodes.map((n) => net.start(n)));
  return {
    net,
    echo,
    processes: new Map(nodes.map((n, i) => [n, started[i]!])),
    hdPort: net.ports.get('hd-1')!.gateway,
    lsGrpc: net.ports.get('ls-1')!.grpc,
    metricsPort,
    async stop() {
      await net.stop();
      await ls.stop();
      echo.server.close();
    },
  };
}
