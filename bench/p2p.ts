/**
 * P2P benchmarks (issue 4), all with the real `proxy run public` process:
 * - P2P `hd-2._ping` through hd-1's gateway vs local `hd-1._ping`, concurrency 1 and 16;
 * - cold brokering latency: the first call from a freshly started hd-1 to hd-2, p50 over N runs;
 * - bulk relay throughput through the proxy vs a direct loopback TLS connection between the same endpoints;
 * - proxy memory per idle tunnel (1,000 tunnels).
 * Run alone: node --import tsx bench/p2p.ts [seconds]
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { CERTS, TestNetwork, gatewayRequest, tlsBlock } from '../test/helpers/network.js';
import { freePort, type Running } from '../test/helpers/processes.js';
import { compareLoads, formatLoad, warmUp } from './load.js';
import { p2pNetwork, PROXY_OPERATOR as P } from '../test/helpers/p2p-network.js';
import { callControl } from '../test/helpers/proxy-fixtures.js';
import { gatewayCaller } from './gateway-client.js';

async function untilOk(port: number, method: string): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 600; i++) {
    const r = await gatewayRequest(port, { jsonrpc: '2.0', method, params: {}, id: i });
    if (r.status === 200) return performance.now() - t0;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${method} never succeeded`);
}

export async function benchP2pCalls(seconds = 10, coldRuns = 20): Promise<string[]> {
  const lines: string[] = [];
  const { net, proxyDir } = await p2pNetwork({ call_timeout: 30 });
  try {
    await net.start(P);
    await net.startProxy('public', proxyDir);
    await net.start('hd-2');
    let hd1: Running = await net.start('hd-1');
    const port = net.ports.get('hd-1')!.gateway;
    await untilOk(port, 'hd-2._ping');
    for (const c of [1, 16]) {
      const client = gatewayCaller(CERTS, 'hd-1', port, c);
      await warmUp(c, () => client.call('hd-2._ping'));
      await warmUp(c, () => client.call('hd-1._ping'));
      const [local, p2p] = await compareLoads(
        c,
        seconds,
        { label: 'local hd-1._ping (gateway)', once: () => client.call('hd-1._ping') },
        { label: 'P2P hd-2._ping (gateway+proxy)', once: () => client.call('hd-2._ping') },
      );
      client.close();
      lines.push(formatLoad(local), formatLoad(p2p));
      lines.push(
        `  ratio P2P/local throughput         c=${String(c).padStart(2)}  ${(p2p.rps / local.rps).toFixed(2)}`,
      );
    }
    // Cold brokering: a fresh hd-1 (no sessions at all) makes its first call to hd-2.
    const cold: number[] = [];
    for (let i = 0; i < coldRuns; i++) {
      await hd1.stop();
      hd1 = await net.start('hd-1');
      const t0 = performance.now();
      const r = await gatewayRequest(port, { jsonrpc: '2.0', method: 'hd-2._ping', params: {}, id: 1 });
      if (r.status !== 200) throw new Error(`cold call failed: ${r.text}`);
      cold.push(performance.now() - t0);
    }
    cold.sort((a, b) => a - b);
    lines.push(
      `cold first call hd-1 -> hd-2 (brokering + 2 TLS handshakes), ${coldRuns} runs: ` +
        `p50 ${cold[Math.floor(cold.length / 2)]!.toFixed(1)} ms, min ${cold[0]!.toFixed(1)} ms, max ${cold.at(-1)!.toFixed(1)} ms`,
    );
  } finally {
    await net.stop();
  }
  return lines;
}

/** Plays the proxy operator's eps for `_connectionRequest`: connects as B with the token, as TLS server. */
class FakeCallee {
  readonly server: https.Server;
  readonly accepted: tls.TLSSocket[] = [];
  readonly raw: net.Socket[] = [];
  tlsServer = true;

  constructor() {
    const ctx = tlsBlock(P);
    this.server = https.createServer(
      {
        cert: readFileSync(ctx.certificate_file as string),
        key: readFileSync(ctx.key_file as string),
        ca: readFileSync(join(CERTS, 'root.crt')),
        requestCert: true,
      },
      (req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          const msg = JSON.parse(body) as { params: { endpoint: string; token: string } };
          const [host, port] = msg.params.endpoint.split(':');
          const sock = net.connect(Number(port), host, () => {
            sock.write(Buffer.from(msg.params.token, 'base64'));
            if (this.tlsServer) {
              const secure = new tls.TLSSocket(sock, {
                isServer: true,
                cert: readFileSync(join(CERTS, 'hd-2.crt')),
                key: readFileSync(join(CERTS, 'hd-2.key')),
              });
              this.accepted.push(secure);
            } else this.raw.push(sock);
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ jsonrpc: '2.0', result: {}, id: '' }));
          });
        });
      },
    );
  }
}

/** Asks the proxy for a P2P token as hd-1 would, dials the internal endpoint and presents the token. */
async function openTunnelSide(control: number): Promise<net.Socket> {
  const reply = await callControl(control, 'requestConnection', {
    to: 'hd-2',
    channel: 'grpc_server',
    _client: client,
  });
  const details = reply.body.result as { token: string; endpoint: string } | undefined;
  if (!details) throw new Error(`requestConnection failed: ${JSON.stringify(reply.body)}`);
  const [host, port] = details.endpoint.split(':');
  const socket = net.connect(Number(port), host);
  await once(socket, 'connect');
  socket.write(Buffer.from(details.token, 'base64'));
  return socket;
}

const client = { name: 'hd-1', entry: { name: 'hd-1', channels: [] } };

/** Sends `bytes` from `socket` to `receiver` and returns the seconds it took until all had arrived. */
async function transfer(socket: tls.TLSSocket, receiver: tls.TLSSocket, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    const onData = (d: Buffer): void => {
      received += d.length;
      if (received < bytes) return;
      receiver.off('data', onData);
      resolve();
    };
    receiver.on('data', onData);
  });
  const t0 = performance.now();
  let sent = 0;
  while (sent < bytes) {
    if (!socket.write(chunk)) await once(socket, 'drain');
    sent += chunk.length;
  }
  await done;
  return (performance.now() - t0) / 1000;
}

export async function benchRelay(totalMiB = 256, tunnels = 1000): Promise<string[]> {
  const lines: string[] = [];
  const control = await freePort();
  const callee = new FakeCallee();
  callee.server.listen(0, '127.0.0.1');
  await once(callee.server, 'listening');
  const fakeEps = (callee.server.address() as net.AddressInfo).port;
  const proxyNet = new TestNetwork([{ name: P, gateway: false }]);
  await proxyNet.prepare();
  proxyNet.ports.set(P, { gateway: fakeEps, grpc: 0 });
  const proxyDir = proxyNet.writePublicProxy(P, {
    tls: await freePort(),
    internal: await freePort(),
    control,
  });
  const proxy = await proxyNet.startProxy('public', proxyDir);
  const clientTls = {
    ca: readFileSync(join(CERTS, 'root.crt')),
    cert: readFileSync(join(CERTS, 'hd-1.crt')),
    key: readFileSync(join(CERTS, 'hd-1.key')),
    servername: 'hd-2',
  };
  try {
    const bytes = totalMiB * 1024 * 1024;
    // Direct: A dials B's TLS server on loopback.
    const direct = tls.createServer({
      cert: readFileSync(join(CERTS, 'hd-2.crt')),
      key: readFileSync(join(CERTS, 'hd-2.key')),
    });
    direct.listen(0, '127.0.0.1');
    await once(direct, 'listening');
    const accepted = once(direct, 'secureConnection') as Promise<[tls.TLSSocket]>;
    const a = tls.connect({
      ...clientTls,
      host: '127.0.0.1',
      port: (direct.address() as net.AddressInfo).port,
    });
    await once(a, 'secureConnect');
    const [b] = await accepted;
    // Relayed: both dial the proxy's internal endpoint with the token; B is the TLS server.
    const raw = await openTunnelSide(control);
    const ra = tls.connect({ ...clientTls, socket: raw });
    await once(ra, 'secureConnect');
    const rb = callee.accepted.at(-1)!;
    // Alternating rounds, so that the shared machine's slow drifts hit both paths alike.
    const rounds = 4;
    let directSeconds = 0;
    let relaySeconds = 0;
    for (let i = 0; i < rounds; i++) {
      directSeconds += await transfer(a, b, bytes / rounds);
      relaySeconds += await transfer(ra, rb, bytes / rounds);
    }
    const directMiBs = totalMiB / directSeconds;
    const relayMiBs = totalMiB / relaySeconds;
    a.destroy();
    direct.close();
    ra.destroy();
    lines.push(`bulk ${totalMiB} MiB A->B, direct loopback TLS:   ${directMiBs.toFixed(0)} MiB/s`);
    lines.push(`bulk ${totalMiB} MiB A->B, through public proxy: ${relayMiBs.toFixed(0)} MiB/s`);
    lines.push(`  ratio relay/direct: ${(relayMiBs / directMiBs).toFixed(2)}`);

    // Memory: the proxy holding N idle tunnels (raw paired sockets; the proxy relays ciphertext only).
    callee.tlsServer = false;
    const rss = (): number => {
      const status = readFileSync(`/proc/${proxy.child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
    };
    await new Promise((r) => setTimeout(r, 500));
    const before = rss();
    const keep: net.Socket[] = [];
    for (let i = 0; i < tunnels; i++) {
      const s = await openTunnelSide(control);
      keep.push(s);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const after = rss();
    lines.push(
      `public proxy RSS with ${tunnels} idle tunnels: +${((after - before) / 1024 / 1024).toFixed(1)} MiB ` +
        `(${((after - before) / tunnels / 1024).toFixed(1)} KiB per tunnel; RSS ${(before / 1024 / 1024).toFixed(0)} -> ${(after / 1024 / 1024).toFixed(0)} MiB)`,
    );
    for (const s of [...keep, ...callee.raw]) s.destroy();
  } finally {
    for (const s of callee.accepted) s.destroy();
    callee.server.close();
    await proxyNet.stop();
  }
  return lines;
}

export async function benchP2p(seconds = 10): Promise<string[]> {
  return [...(await benchP2pCalls(seconds)), ...(await benchRelay())];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const which = process.argv[3];
  const lines =
    which === 'relay'
      ? await benchRelay()
      : which === 'calls'
        ? await benchP2pCalls(Number(process.argv[2] ?? 10))
        : await benchP2p(Number(process.argv[2] ?? 10));
  for (const line of lines) console.log(line);
}
