/**
 * `npm run bench`: every benchmark, figures and same-run ratios printed to stdout.
 * `npm run bench -- eps records` runs only the named sections; `--seconds N` shortens load phases.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';

type Section = { name: string; run: (seconds: number) => Promise<string[]> };

const sections: Section[] = [
  { name: 'eps', run: async (s) => (await import('./eps.js')).benchEps(s) },
  { name: 'grpc', run: async (s) => (await import('./grpc.js')).benchGrpc(s) },
  { name: 'server-cpu', run: async () => (await import('./server-cpu.js')).benchServerCpu() },
  { name: 'codec', run: async () => (await import('./codec.js')).benchCodec() },
  { name: 'records', run: async () => (await import('./records.js')).benchRecords() },
  { name: 'merkle', run: async () => (await import('./merkle.js')).benchMerkle() },
  { name: 'directory', run: async () => (await import('./directory.js')).benchDirectory() },
  { name: 'p2p', run: async (s) => (await import('./p2p.js')).benchP2p(s) },
  { name: 'deadline', run: async () => (await import('./deadline.js')).benchDeadline() },
  { name: 'async', run: async (s) => (await import('./async.js')).benchAsync(s) },
  {
    name: 'async-redis',
    run: async (s) => (await import('./async.js')).benchAsync(s, 10_000, 'redis'),
  },
  { name: 'transparency', run: async (s) => (await import('./transparency.js')).benchTransparency(s) },
];

const args = process.argv.slice(2);
const secIdx = args.indexOf('--seconds');
const seconds = secIdx >= 0 ? Number(args[secIdx + 1]) : 10;
const wanted = args.filter((a, i) => !a.startsWith('--') && (secIdx < 0 || i !== secIdx + 1));

console.log(
  `# ${new Date().toISOString()}  node ${process.version}  ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'})  load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const section of sections) {
  if (wanted.length > 0 && !wanted.includes(section.name)) continue;
  console.log(`\n## ${section.name}`);
  for (const line of await section.run(seconds)) console.log(line);
}
