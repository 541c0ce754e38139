/**
 * The seed's P2P network with OS-chosen ports: the proxy operator public-proxy-1.ga (eps + public proxy),
 * hd-1 and hd-2, both reachable only through the proxy; shared by the P2P tests and benchmarks.
 */
import { TestNetwork, type NodeSpec } from './network.js';
import { freePort } from './processes.js';

export const PROXY_OPERATOR = 'public-proxy-1.ga';
const P = PROXY_OPERATOR;
export const HEALTH_DEPARTMENTS = [{ group: 'health-departments', rights: ['call'] }];

/** hd-2's services: `_connectionRequest` for the proxy operator, `_ping` for health departments. */
export const HD2_SERVICES = [
  {
    name: 'connection-requests',
    permissions: [{ group: 'proxy-providers', rights: ['call'] }],
    methods: [{ name: '_connectionRequest' }],
  },
  { name: 'internals', permissions: HEALTH_DEPARTMENTS, methods: [{ name: '_ping' }] },
];

export function proxyOperatorSpec(controlPort: number): NodeSpec {
  return {
    name: P,
    groups: ['proxy-providers'],
    grpcServer: true,
    grpcClient: true,
    backend: `https://127.0.0.1:${controlPort}/jsonrpc`,
    backendTls: P,
    services: [
      { name: 'hd-proxy', permissions: HEALTH_DEPARTMENTS, methods: [{ name: 'requestConnection' }] },
    ],
    order: ['grpc_server', 'grpc_client', 'jsonrpc_server', 'jsonrpc_client'],
  };
}

export async function p2pNetwork(
  hd1Client: boolean | Record<string, number> = true,
): Promise<{ net: TestNetwork; proxyDir: string }> {
  const control = await freePort();
  const net = new TestNetwork([
    proxyOperatorSpec(control),
    {
      name: 'hd-1',
      groups: ['health-departments'],
      grpcServer: { proxy: P },
      grpcClient: hd1Client,
      services: [{ name: 'internals', permissions: HEALTH_DEPARTMENTS, methods: [{ name: '_ping' }] }],
    },
    {
      name: 'hd-2',
      groups: ['health-departments'],
      grpcServer: { proxy: P },
      grpcClient: true,
      services: HD2_SERVICES,
    },
  ]);
  await net.prepare();
  const proxyDir = net.writePublicProxy(P, { tls: await freePort(), internal: await freePort(), control });
  return { net, proxyDir };
}
