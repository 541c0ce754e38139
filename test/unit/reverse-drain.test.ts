/**
 * The drain notice between eps nodes (issue 11): the proxy operator's node answers `_proxyDraining` only
 * for its own operator and sends `_drain` on the reverse streams of dialling sides that announced "drain"
 * and name it as proxy; a dialling side that gets the notice tells its channels which proxy (the stream's
 * authenticated peer, never a name from the message) drains, and the callee sends GOAWAY on exactly the
 * tunnels that proxy brokered at that endpoint. Scripted streams and fake tunnel handles: no sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReverseStreamRegistry } from '../../src/channels/reverse/accepting-side.js';
import { PeerLoop } from '../../src/channels/reverse/dialling-side.js';
import { P2pCallee } from '../../src/channels/p2p/callee.js';
import { Broker } from '../../src/broker/broker.js';
import type { Channel } from '../../src/broker/channel.js';
import { BrokerError } from '../../src/broker/errors.js';
import { encodeRequest } from '../../src/grpc/codec.js';
import type { ClientBidi } from '../../src/grpc/client.js';
import type { PooledSession } from '../../src/grpc/peer-pool.js';
import type { InjectedConnection } from '../../src/grpc/injected.js';
import { newEntry } from '../../src/core/directory-entry.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import type { EpsRequest } from '../../src/core/messages.js';
import net from 'node:net';
import { once } from 'node:events';
import { ManualClock } from '../helpers/manual-clock.js';
import { ScriptedStream, scriptedContext } from '../helpers/scripted-reverse-stream.js';
import { waitFor } from '../helpers/wait.js';
import { fixedDirectory } from '../helpers/fixed-directory.js';

const PROXY = 'public-proxy-1.ga';

test('the accepting side sends the notice only to dialling sides that take it and name us', () => {
  const registry = new ReverseStreamRegistry(PROXY);
  const streams = new Map<string, ScriptedStream>();
  for (const [name, features] of [
    ['hd-1', ['cancel', 'drain']],
    ['hd-2', ['cancel', 'drain']],
    ['op-2', undefined], // an original dialling side
    ['ls-1', ['cancel', 'drain']], // does not name us as its proxy
  ] as const) {
    const stream = new ScriptedStream();
    registry.handle(stream, scriptedContext(name));
    stream.receive(features ? { name, features: [...features] } : { name });
    streams.set(name, stream);
  }
  const told = registry.announceDrain('localhost:9999', (peer) => peer !== 'ls-1');
  assert.deepEqual(told.sort(), ['hd-1', 'hd-2']);
  assert.deepEqual(streams.get('hd-2')!.sent, [
    { method: '_drain', id: '0', params: { endpoint: 'localhost:9999' }, clientName: PROXY },
  ]);
  assert.deepEqual(streams.get('op-2')!.sent, [], 'an original dialling side never gets a notice');
  assert.deepEqual(streams.get('ls-1')!.sent, []);
});

test('a registered reverse stream is reported once per opening (the outbox is woken for that peer)', () => {
  const registry = new ReverseStreamRegistry(PROXY);
  const opened: string[] = [];
  registry.onOpened = (peer) => opened.push(peer);
  const stream = new ScriptedStream();
  registry.handle(stream, scriptedContext('hd-2'));
  assert.deepEqual(opened, [], 'not before the announcement');
  stream.receive({ name: 'hd-2', features: ['cancel', 'drain'] });
  const forged = new ScriptedStream();
  registry.handle(forged, scriptedContext('hd-1'));
  forged.receive({ name: 'hd-2' }); // a name its certificate does not carry: refused, not reported
  assert.deepEqual(opened, ['hd-2']);
});

/** The client end of a ServerCall stream as the dialling side uses it. */
class ScriptedBidi {
  readonly sent: Uint8Array[] = [];
  private listener?: (payload: Buffer) => void;
  onMessage(listener: (payload: Buffer) => void): void {
    this.listener = listener;
  }
  onEnd(): void {}
  send(payload: Uint8Array): Promise<void> {
    this.sent.push(payload);
    return Promise.resolve();
  }
  pause(): void {}
  resume(): void {}
  cancel(): void {}
  receive(method: string, params: Record<string, string>): void {
    this.listener!(Buffer.from(encodeRequest({ method, params, id: '0', clientName: 'anyone' })));
  }
}

test('a dialling side hands the notice to its channels with the peer of the stream; no answer', async () => {
  const stream = new ScriptedBidi();
  const drained: [string, string][] = [];
  const channel = { drainTunnels: (proxy: string, endpoint: string) => (drained.push([proxy, endpoint]), 2) };
  const broker = { registered: [channel] } as unknown as Broker;
  const pooled = { session: { bidi: () => stream as unknown as ClientBidi }, peer: {}, route: '' };
  const loop = new PeerLoop(
    PROXY,
    'hd-2',
    broker,
    async () => pooled as unknown as PooledSession,
    new ManualClock(),
  );
  loop.start();
  try {
    await waitFor(() => stream.sent.length === 1, {
      timeoutMs: 5000,
      what: 'the announcement',
      intervalMs: 0,
    });
    stream.receive('_drain', { endpoint: 'localhost:9999' });
    // The params may not name another proxy: only the stream's peer counts.
    stream.receive('_drain', { endpoint: 'localhost:9998', proxy: 'public-proxy-2.ga' });
    stream.receive('_drain', {});
    assert.deepEqual(drained, [
      [PROXY, 'localhost:9999'],
      [PROXY, 'localhost:9998'],
    ]);
    assert.equal(stream.sent.length, 1, 'a notice is not answered');
  } finally {
    loop.stop();
  }
});

/** A tunnel handle that records close() and can be ended. */
function handle(): InjectedConnection & { closed: number; end: () => void } {
  const listeners: (() => void)[] = [];
  return {
    closed: 0,
    close() {
      this.closed++;
    },
    onClose: (l) => listeners.push(l),
    end: () => listeners.splice(0).forEach((l) => l()),
  };
}

test('the callee sends GOAWAY on the tunnels of that proxy and endpoint only', async () => {
  const own = newEntry('hd-2');
  own.channels = [{ type: 'grpc_server', settings: { address: 'x:1', proxy: PROXY, proxies: ['p2'] } }];
  const callee = new P2pCallee('hd-2', fixedDirectory([own]));
  const handles = { a: handle(), b: handle(), other: handle(), gone: handle() };
  let n = 0;
  const injected = [handles.a, handles.b, handles.other, handles.gone];
  const server = { inject: () => injected[n++]! } as never;
  // The proxy's internal port, as far as the callee's dial goes.
  const listener = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as { port: number }).port;
  const request = (caller: string, endpoint: string) => ({
    channel: 'grpc_server',
    endpoint,
    token: Buffer.alloc(32),
    client: {},
    caller,
  });
  try {
    await callee.handle(request(PROXY, `127.0.0.1:${port}`), server);
    await callee.handle(request(PROXY, `127.0.0.1:${port}`), server);
    await callee.handle(request('p2', `127.0.0.1:${port}`), server);
    await callee.handle(request(PROXY, `localhost:${port}`), server);
  } finally {
    listener.close();
  }
  handles.gone.end(); // this tunnel already ended: nothing to tell
  assert.equal(callee.tunnelCount, 3);
  assert.equal(callee.drain('p2', `127.0.0.1:1`), 0, 'another endpoint of p2: none');
  assert.equal(callee.drain(PROXY, `127.0.0.1:${port}`), 2);
  assert.deepEqual(
    [handles.a.closed, handles.b.closed, handles.other.closed, handles.gone.closed],
    [1, 1, 0, 0],
  );
  assert.equal(callee.drain(PROXY, `127.0.0.1:${port}`), 0, 'told once');
  handles.a.end();
  handles.b.end();
  assert.equal(callee.tunnelCount, 1, 'the tunnel of the other proxy lives on');
});

test('a callee whose only proxy stops keeps its tunnels (no other proxy to broker through)', async () => {
  const own = newEntry('hd-2');
  own.channels = [{ type: 'grpc_server', settings: { address: 'x:1', proxy: PROXY } }];
  const callee = new P2pCallee('hd-2', fixedDirectory([own]));
  const tunnel = handle();
  const server = { inject: () => tunnel } as never;
  const listener = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const endpoint = `127.0.0.1:${(listener.address() as { port: number }).port}`;
  try {
    await callee.handle(
      { channel: 'grpc_server', endpoint, token: Buffer.alloc(32), client: {}, caller: PROXY },
      server,
    );
  } finally {
    listener.close();
  }
  assert.equal(callee.drain(PROXY, endpoint), 0);
  assert.equal(tunnel.closed, 0, 'no GOAWAY: the tunnel carries calls until the proxy ends it');
  assert.equal(callee.tunnelCount, 1);
});

const PROXY_ENTRY = newEntry(PROXY);

function proxyBroker(announce: (endpoint: string) => string[]): Broker {
  const broker = new Broker(PROXY, fixedDirectory([PROXY_ENTRY, newEntry('hd-2')]));
  broker.register({ type: 'grpc_server', announceProxyDrain: announce } as unknown as Channel);
  return broker;
}

const draining = (endpoint?: string): EpsRequest => ({
  method: `${PROXY}._proxyDraining`,
  id: `${PROXY}._proxyDraining(1)`,
  params: endpoint === undefined ? {} : { endpoint },
});

test('_proxyDraining from the own operator: notices sent, the answer names who was told', async () => {
  const endpoints: string[] = [];
  const broker = proxyBroker((endpoint) => (endpoints.push(endpoint), ['hd-2', 'hd-1', 'hd-2']));
  const response = await broker.deliver(draining('localhost:9999'), { name: PROXY }, unboundedScope());
  assert.deepEqual(response, { id: '1', result: { notified: ['hd-2', 'hd-1'] } });
  assert.deepEqual(endpoints, ['localhost:9999']);
  await assert.rejects(
    broker.deliver(draining(), { name: PROXY }, unboundedScope()),
    /endpoint\(is required\)/,
  );
});

test('_proxyDraining from another operator is refused: nobody else can make tunnels drain', async () => {
  let announced = 0;
  const broker = proxyBroker(() => (announced++, []));
  // Granted by the directory or not, the method answers only the own operator.
  PROXY_ENTRY.services = [
    {
      name: 'internals',
      permissions: [{ group: '*', rights: ['call'] }],
      methods: [{ name: '_proxyDraining', permissions: [], parameters: null }],
    },
  ];
  await assert.rejects(
    broker.deliver(draining('localhost:9999'), { name: 'hd-2' }, unboundedScope()),
    (e: unknown) => e instanceof BrokerError && /only accepted from the own operator/.test(e.message),
  );
  assert.equal(announced, 0);
});
