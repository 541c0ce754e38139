/**
 * Issue 11, "connection reset before any response byte": hd-1's gRPC client channel calls ls-1's gRPC
 * server channel (both real, TLS on 127.0.0.1) through a TCP relay of the test. The relay is cut after
 * ls-1's handler received a call and before it answered: the call is retried on a new connection with
 * `eps-retry`, ls-1's replay memory lets it wait for the first call's answer, and the handler ran exactly
 * once. When ls-1 "restarted" meanwhile (the retry reaches a server with another instance id), the retry is
 * refused and the caller's error says the call may have been processed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { GrpcClientChannel } from '../../src/channels/grpc-client.js';
import { GrpcServerChannel } from '../../src/channels/grpc-server.js';
import type { Broker } from '../../src/broker/broker.js';
import type { CallScope } from '../../src/broker/channel.js';
import type { EpsRequest } from '../../src/core/messages.js';
import type { Directory } from '../../src/directory/directory.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import { CERTS, pinnedEntries, testCertificates } from '../helpers/network.js';
import { metricValue } from '../helpers/metric-value.js';
import { waitFor, withDeadline } from '../helpers/wait.js';

const WAIT = { timeoutMs: 10_000 };

/** Forwards every connection to `target`; cut() destroys the connections open now. */
class Relay {
  target = 0;
  private readonly open = new Set<net.Socket>();
  readonly server = net.createServer((client) => {
    const upstream = net.connect(this.target, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.on('close', () => this.open.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  cut(): void {
    for (const s of this.open) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** ls-1's gRPC server channel over a broker stand-in that counts calls and answers when told to. */
class Ls1 {
  readonly calls: string[] = [];
  private held: (() => void)[] = [];
  private arrivals: (() => void)[] = [];
  readonly channel: GrpcServerChannel;

  constructor(entries: Map<string, DirectoryEntry>, hold: () => boolean) {
    const broker = {
      ownName: 'ls-1',
      directory: { entry: (n: string) => entries.get(n) },
      deliver: async (request: EpsRequest, _from: unknown, scope: CallScope) => {
        this.calls.push(request.method);
        for (const a of this.arrivals.splice(0)) a();
        if (hold()) {
          // A backend that stops when the call's scope is cancelled (as the real ones do).
          await new Promise<void>((resolve, reject) => {
            this.held.push(resolve);
            scope.cancellation.onCancel(reject);
          });
        }
        return { id: request.id, result: { ran: request.method } };
      },
    } as unknown as Broker;
    this.channel = new GrpcServerChannel(broker, {
      bind_address: '127.0.0.1:0',
      tls: {
        ca_certificate_files: [join(CERTS, 'root.crt')],
        certificate_file: join(CERTS, 'ls-1.crt'),
        key_file: join(CERTS, 'ls-1.key'),
      },
    });
  }

  get port(): number {
    return (this.channel.grpc.server.address() as AddressInfo).port;
  }

  arrived(): Promise<void> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  release(): void {
    for (const r of this.held.splice(0)) r();
  }
}

let relay: Relay;
let entries: Map<string, DirectoryEntry>;
let hd1: GrpcClientChannel;
const servers: Ls1[] = [];
let holding = false;

async function startLs1(): Promise<Ls1> {
  const ls1 = new Ls1(entries, () => holding);
  await ls1.channel.open();
  servers.push(ls1);
  return ls1;
}

const call = (method: string) =>
  hd1.deliver(
    { method, params: {}, id: `${method}-1` },
    { operator: 'ls-1', method } as never,
    unboundedScope(),
  );

before(async () => {
  await testCertificates();
  relay = new Relay();
  relay.server.listen(0, '127.0.0.1');
  await once(relay.server, 'listening');
  entries = pinnedEntries();
  const ls1Entry = entries.get('ls-1')!;
  entries.set('ls-1', {
    ...ls1Entry,
    channels: [{ type: 'grpc_server', settings: { address: `127.0.0.1:${relay.port}` } }],
  });
  hd1 = new GrpcClientChannel('hd-1', { entry: (n: string) => entries.get(n) } as unknown as Directory, {
    tls: {
      ca_certificate_files: [join(CERTS, 'root.crt')],
      certificate_file: join(CERTS, 'hd-1.crt'),
      key_file: join(CERTS, 'hd-1.key'),
    },
    call_timeout: 10,
    connect_timeout: 5,
  });
});

after(async () => {
  await hd1.close();
  for (const s of servers) {
    s.release();
    await s.channel.close();
  }
  await relay.close();
});

test('a call cut off after the server received it is retried and answered once, by the first run', async () => {
  const ls1 = await startLs1();
  relay.target = ls1.port;
  holding = false;
  const warm = await withDeadline(call('warm'), { ...WAIT, what: 'the first call' });
  assert.deepEqual(warm.result, { ran: 'warm' }, 'the connection shows the instance of ls-1');
  const joinedBefore = await metricValue('eps_grpc_replays_total', { outcome: 'joined' });
  holding = true;
  const arrived = ls1.arrived();
  const reply = call('once');
  await withDeadline(arrived, { ...WAIT, what: 'ls-1 to receive the call' });
  relay.cut(); // lost after the call was sent, before any byte of its answer
  await waitFor(
    async () => (await metricValue('eps_grpc_replays_total', { outcome: 'joined' })) > joinedBefore,
    {
      ...WAIT,
      what: 'the retry to join the running call',
    },
  );
  ls1.release();
  const answer = await withDeadline(reply, { ...WAIT, what: 'the retried call' });
  assert.deepEqual(answer.result, { ran: 'once' });
  assert.deepEqual(ls1.calls, ['warm', 'once'], 'the handler ran exactly once for the call');
});

test('a retry that reaches a restarted server (another instance) is refused: the call may have been processed', async () => {
  const first = await startLs1();
  hd1.pool.invalidate('ls-1'); // a new connection, to the first server
  relay.target = first.port;
  holding = false;
  await withDeadline(call('warm'), { ...WAIT, what: 'the first call' });
  holding = true;
  const restarted = await startLs1();
  const arrived = first.arrived();
  const reply = call('lost');
  await withDeadline(arrived, { ...WAIT, what: 'the first server to receive the call' });
  relay.target = restarted.port; // the new connection reaches the new process
  relay.cut();
  await assert.rejects(withDeadline(reply, { ...WAIT, what: 'the refused retry' }), (e: Error) => {
    assert.match(e.message, /another instance/);
    assert.match(e.message, /may have been processed by the peer \(not run again\)/);
    return true;
  });
  assert.deepEqual(restarted.calls, [], 'the restarted server did not run it');
  assert.deepEqual(first.calls, ['warm', 'lost']);
});
