/**
 * Gateway and gRPC mesh throughput (measured in alternating slices, see compareLoads):
 * (hd-1 gateway -> gRPC -> ls-1), real eps processes, concurrency 1 and 16.
 * Run alone: node --import tsx bench/eps.ts [seconds]
 */
import { pathToFileURL } from 'node:url';
import { CERTS, TestNetwork } from '../test/helpers/network.js';
import { compareLoads, formatLoad, processCpu, type LoadResult, warmUp } from './load.js';
import { gatewayCaller } from './gateway-client.js';

export async function benchEps(seconds = 10): Promise<string[]> {
  const all = [{ group: 'health-departments', rights: ['call'] }];
  const net = new TestNetwork([
    {
      name: 'hd-1',
      groups: ['health-departments'],
      grpcServer: true,
      grpcClient: { call_timeout: 30 },
      services: [{ name: 'internals', permissions: all, methods: [{ name: '_ping' }] }],
    },
    {
      name: 'ls-1',
      groups: ['location-services'],
      grpcServer: true,
      services: [{ name: 'internals', permissions: all, methods: [{ name: '_ping' }] }],
    },
  ]);
  const lines: string[] = [];
  try {
    await net.prepare();
    const hd1 = await net.start('hd-1');
    const ls1 = await net.start('ls-1');
    const port = net.ports.get('hd-1')!.gateway;
    const cpu = processCpu([hd1.child.pid!, ls1.child.pid!]);
    for (const c of [1, 16]) {
      const client = gatewayCaller(CERTS, 'hd-1', port, c);
      await warmUp(c, () => client.call('ls-1._ping'));
      await warmUp(c, () => client.call('hd-1._ping'));
      const [local, remote] = await compareLoads(
        c,
        seconds,
        { label: 'local hd-1._ping (gateway)', once: () => client.call('hd-1._ping') },
        { label: 'remote ls-1._ping (gateway+gRPC)', once: () => client.call('ls-1._ping') },
        5,
        cpu,
      );
      client.close();
      lines.push(formatLoad(local), formatLoad(remote), ratio(remote, local));
      for (const r of [local, remote]) if (r.cpuUsPerRequest) lines.push(cpuLine(r));
    }
  } finally {
    await net.stop();
  }
  return lines;
}

/** CPU per request of the load generator (this process), hd-1 and ls-1: where a request's cost goes. */
function cpuLine(r: LoadResult): string {
  const [gen, hd1, ls1] = (r.cpuUsPerRequest ?? []).map((us) => us.toFixed(0).padStart(4));
  return `${`  CPU µs/request, ${r.label.split(' ')[0]}`.padEnd(34)} c=${String(r.concurrency).padStart(2)}  client ${gen}  hd-1 ${hd1}  ls-1 ${ls1}`;
}

function ratio(remote: LoadResult, local: LoadResult): string {
  return `${'  ratio remote/local throughput'.padEnd(34)} c=${String(remote.concurrency).padStart(2)}  ${(remote.rps / local.rps).toFixed(2)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const line of await benchEps(Number(process.argv[2] ?? 10))) console.log(line);
}
