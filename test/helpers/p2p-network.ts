/**
 * The seed's P2P network with OS-chosen ports: the proxy operator public-proxy-1.ga (eps + public proxy),
 * hd-1 and hd-2, both reachable only through the proxy; shared by the P2P tests and benchmarks. With two
 * proxy operators (twoProxyNetwork), hd-1 and hd-2 name both (`proxy` + `proxies`).
 */
import { TestNetwork, type NodeSpec } from './network.js';
import { freePort } from './processes.js';

export const PROXY_OPERATOR = 'public-proxy-1.ga';
export const SECOND_PROXY_OPERATOR = 'public-proxy-2.ga';
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

export function proxyOperatorSpec(controlPort: number, name: string = P): NodeSpec {
  return {
    name,
    groups: ['proxy-providers'],
    grpcServer: true,
    grpcClient: true,
    backend: `https://127.0.0.1:${controlPort}/jsonrpc`,
    backendTls: name,
    services: [
      { name: 'hd-proxy', permissions: HEALTH_DEPARTMENTS, methods: [{ name: 'requestConnection' }] },
    ],
    order: ['grpc_server', 'grpc_client', 'jsonrpc_server', 'jsonrpc_client'],
  };
}

export async function p2pNetwork(
  hd1Client: boolean | Record<string, number> = true,
  /** Metrics listener ports by node name (nodes without one have no metrics listener). */
  metricsPorts: Record<string, number> = {},
): Promise<{ net: TestNetwork; proxyDir: string }> {
  const control = await freePort();
  const withMetrics = (spec: NodeSpec): NodeSpec => {
    const port = metricsPorts[spec.name];
    return port === undefined ? spec : { ...spec, metricsPort: port };
  };
  const specs: NodeSpec[] = [
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
  ];
  const net = new TestNetwork(specs.map(withMetrics));
  await net.prepare();
  const proxyDir = net.writePublicProxy(P, { tls: await freePort(), internal: await freePort(), control });
  return { net, proxyDir };
}

export interface ProxyPorts {
  tls: number;
  internal: number;
  control: number;
}

/**
 * Two proxy operators (eps + public proxy each), hd-1 and hd-2 reachable through both (`proxy` = the first,
 * `proxies` = [the second]), and `extra` nodes (their `proxy`/`proxies` as given). Returns each proxy's
 * settings folder.
 */
export async function twoProxyNetwork(
  extra: NodeSpec[] = [],
): Promise<{ net: TestNetwork; proxyDirs: [string, string] }> {
  const ports: ProxyPorts[] = [];
  for (let i = 0; i < 2; i++)
    ports.push({ tls: await freePort(), internal: await freePort(), control: await freePort() });
  const both = { proxy: P, proxies: [SECOND_PROXY_OPERATOR] };
  const net = new TestNetwork([
    proxyOperatorSpec(ports[0]!.control, P),
    proxyOperatorSpec(ports[1]!.control, SECOND_PROXY_OPERATOR),
    {
      name: 'hd-1',
      groups: ['health-departments'],
      grpcServer: both,
      grpcClient: true,
      services: [{ name: 'internals', permissions: HEALTH_DEPARTMENTS, methods: [{ name: '_ping' }] }],
    },
    {
      name: 'hd-2',
      groups: ['health-departments'],
      grpcServer: both,
      grpcClient: true,
      services: HD2_SERVICES,
    },
    ...extra,
  ]);
  await net.prepare();
  const proxyDirs: [string, string] = [
    net.writePublicProxy(P, ports[0]!),
    net.writePublicProxy(SECOND_PROXY_OPERATOR, ports[1]!),
  ];
  return { net, proxyDirs };
}
