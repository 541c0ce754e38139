/**
 * CPU one served call costs a real `eps` (ls-1 answering `_ping` over `/EPS/Call`), read from the kernel's
 * account of the process (/proc/PID/stat) over fixed numbers of calls from one client of ours. Steadier
 * than calls per second on a shared machine: another process's load slows the calls, but hardly changes
 * what each one costs ls-1. Compare builds by running it in each checkout, alternating.
 * Run alone: node --import tsx bench/server-cpu.ts [calls per slice]
 */
import { pathToFileURL } from 'node:url';
import { pingNetwork } from './ping-network.js';
import { processCpu } from './load.js';
import { grpcSession } from '../test/helpers/grpc-local.js';
import { encodeRequest } from '../src/grpc/codec.js';
import { Deadline } from '../src/core/deadline.js';

const SLICES = 4;
const CONCURRENCY = [1, 16];

export async function benchServerCpu(calls = 30_000): Promise<string[]> {
  const net = pingNetwork();
  const lines: string[] = [];
  try {
    await net.prepare();
    const sample = processCpu([(await net.start('ls-1')).child.pid!]);
    if (!sample) return ['server-cpu: needs /proc (Linux); not measured'];
    const ls1Ms = (): number => sample()[1]!;
    const request = encodeRequest({
      method: 'ls-1._ping',
      id: 'ls-1._ping(n:1)',
      clientName: 'hd-1',
      params: {},
    });
    const session = await grpcSession(net.ports.get('ls-1')!.grpc);
    const run = async (n: number, concurrency: number): Promise<void> => {
      let left = n;
      const worker = async (): Promise<void> => {
        while (left-- > 0) await session.unary('/EPS/Call', request, Deadline.after(30_000));
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    };
    for (const c of CONCURRENCY) {
      await run(calls / 3, c); // warm-up
      const perCall: number[] = [];
      for (let i = 0; i < SLICES; i++) {
        const before = ls1Ms();
        await run(calls, c);
        perCall.push(((ls1Ms() - before) * 1000) / calls);
      }
      lines.push(
        `${'ls-1 CPU µs per served _ping'.padEnd(34)} c=${String(c).padStart(2)}  min ${Math.min(...perCall).toFixed(1)}  slices ${perCall.map((x) => x.toFixed(1)).join(' ')}`,
      );
    }
    session.destroy();
  } finally {
    await net.stop();
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const calls = Number(process.argv[2] ?? 30_000);
  for (const line of await benchServerCpu(calls)) console.log(line);
}
