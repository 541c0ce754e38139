/**
 * CPU one served call costs a real `eps` (ls-1 answering `_ping` over `/EPS/Call`), read from the kernel's
 * account of the process (/proc/PID/stat) over fixed numbers of calls from one client of ours. Steadier
 * than calls per second on a shared machine: another process's load slows the calls, but hardly changes
 * what each one costs ls-1. Compare builds by running it in each checkout, alternating.
 * Run alone: node --import tsx bench/server-cpu.ts [calls per slice]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { TestNetwork } from '../test/helpers/network.js';
import { grpcSession } from '../test/helpers/grpc-local.js';
import { encodeRequest } from '../src/grpc/codec.js';
import { Deadline } from '../src/core/deadline.js';

const SLICES = 4;
const CONCURRENCY = [1, 16];
/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
}

export async function benchServerCpu(calls = 30_000): Promise<string[]> {
  const all = [{ group: 'health-departments', rights: ['call'] }];
  const net = new TestNetwork([
    { name: 'hd-1', groups: ['health-departments'], grpcServer: true },
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
    const pid = (await net.start('ls-1')).child.pid!;
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
        const before = cpuMicros(pid);
        await run(calls, c);
        perCall.push((cpuMicros(pid) - before) / calls);
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
