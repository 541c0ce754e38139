/**
 * Raw gRPC calls to a real `eps` (ls-1 answering `_ping` over `/EPS/Call`), from this process with two
 * clients measured in alternating slices: ours (own HTTP/2, src/grpc/h2) and @grpc/grpc-js (node:http2,
 * i.e. nghttp2). The CPU columns show what one call costs the client and the server.
 * Run alone: node --import tsx bench/grpc.ts [seconds]
 */
import { pathToFileURL } from 'node:url';
import { CERTS } from '../test/helpers/network.js';
import { pingNetwork } from './ping-network.js';
import { grpcSession } from '../test/helpers/grpc-local.js';
import { foreignCall, foreignClient } from '../test/helpers/grpc-foreign.js';
import { decodeResponse, encodeRequest } from '../src/grpc/codec.js';
import { compareLoads, formatLoad, processCpu, type LoadResult, warmUp } from './load.js';
import { Deadline } from '../src/core/deadline.js';

export async function benchGrpc(seconds = 10): Promise<string[]> {
  const net = pingNetwork();
  const lines: string[] = [];
  try {
    await net.prepare();
    const ls1 = await net.start('ls-1');
    const port = net.ports.get('ls-1')!.grpc;
    const cpu = processCpu([ls1.child.pid!]);
    const request = encodeRequest({
      method: 'ls-1._ping',
      id: 'ls-1._ping(n:1)',
      clientName: 'hd-1',
      params: {},
    });
    const ours = await grpcSession(port);
    const theirs = foreignClient(port, CERTS, 'hd-1', 'ls-1');
    const oursOnce = async (): Promise<boolean> => {
      const reply = decodeResponse(await ours.unary('/EPS/Call', request, Deadline.after(30_000)));
      return reply.error === undefined;
    };
    const theirsOnce = async (): Promise<boolean> => {
      const reply = await foreignCall(theirs, {
        method: 'ls-1._ping',
        id: 'ls-1._ping(n:1)',
        clientName: 'hd-1',
      });
      return reply.error === undefined || reply.error === null;
    };
    for (const c of [1, 16]) {
      await warmUp(c, oursOnce);
      await warmUp(c, theirsOnce);
      const [a, b] = await compareLoads(
        c,
        seconds,
        { label: 'gRPC call, ours', once: oursOnce },
        { label: 'gRPC call, @grpc/grpc-js', once: theirsOnce },
        5,
        cpu,
      );
      lines.push(formatLoad(a), formatLoad(b));
      lines.push(
        `${'  ratio ours/grpc-js throughput'.padEnd(34)} c=${String(c).padStart(2)}  ${(a.rps / b.rps).toFixed(2)}`,
      );
      for (const r of [a, b]) lines.push(cpuLine(r));
    }
    ours.destroy();
    theirs.close();
  } finally {
    await net.stop();
  }
  return lines;
}

function cpuLine(r: LoadResult): string {
  const [client, server] = (r.cpuUsPerRequest ?? []).map((us) => us.toFixed(0).padStart(4));
  const who = r.label.replace('gRPC call, ', '');
  return `${`  CPU µs/call, ${who}`.padEnd(34)} c=${String(r.concurrency).padStart(2)}  client ${client}  ls-1 ${server}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const line of await benchGrpc(Number(process.argv[2] ?? 10))) console.log(line);
}
