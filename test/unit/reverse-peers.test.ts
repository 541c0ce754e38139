/**
 * Which peers keep reverse streams (docs/protocol.md#servercall) and the proxy-only refusal of
 * _connectionRequest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { newEntry, type DirectoryEntry } from '../../src/core/directory-entry.js';
import { EntryMap, type Directory } from '../../src/directory/directory.js';
import { reverseStreamPeers } from '../../src/channels/reverse/peers.js';
import { GrpcClientChannel } from '../../src/channels/grpc-client.js';
import { CERTS, testCertificates } from '../helpers/network.js';
import { grpcClientSettingsSchema } from '../../src/settings/eps-schema.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import { P2pCallee } from '../../src/channels/p2p/callee.js';
import type { GrpcServer } from '../../src/grpc/server.js';

const grant = (group: string) => [
  {
    name: 's',
    permissions: [{ group, rights: ['call'] }],
    methods: [{ name: 'm', permissions: [], parameters: null }],
  },
];
const server = (settings: object) => ({ type: 'grpc_server', settings: settings as never });
const client = { type: 'grpc_client', settings: null };

function entry(name: string, patch: Partial<DirectoryEntry>): DirectoryEntry {
  return { ...newEntry(name), ...patch };
}

const publicPeer = entry('pub', { groups: ['callers'], channels: [server({ address: 'h:1' })] });
const publicPeerWithClient = entry('pub-c', {
  groups: ['callers'],
  channels: [server({ address: 'h:2' }), client],
});
const proxiedPeer = entry('prox', {
  groups: ['callers'],
  channels: [server({ address: 'h:3', proxy: 'p' })],
});
const internalPeer = entry('int', {
  groups: ['callers'],
  channels: [server({ address: 'h:4', internal: true })],
});
const noAddress = entry('noaddr', { groups: ['callers'], channels: [server({})] });
const notAllowed = entry('other', { groups: ['strangers'], channels: [server({ address: 'h:5' })] });
const all = [publicPeer, publicPeerWithClient, proxiedPeer, internalPeer, noAddress, notAllowed];

test('an operator behind a proxy keeps streams to every permitted peer with a public server', () => {
  const own = entry('me', {
    services: grant('callers'),
    channels: [server({ address: 'x:1', proxy: 'p' }), client],
  });
  assert.deepEqual(reverseStreamPeers(own, [own, ...all]), ['pub', 'pub-c']);
});

test('an operator with a public server opens none to peers that can dial it (they have a gRPC client)', () => {
  const own = entry('me', { services: grant('callers'), channels: [server({ address: 'x:1' }), client] });
  assert.deepEqual(reverseStreamPeers(own, [own, ...all]), ['pub']);
});

test('an operator without any gRPC server keeps streams to all permitted public peers', () => {
  const own = entry('me', { services: grant('callers'), channels: [client] });
  assert.deepEqual(reverseStreamPeers(own, [own, ...all]), ['pub', 'pub-c']);
});

test('an operator keeps a stream to each proxy its entry names, also ones its permissions do not name', () => {
  const proxy1 = entry('p1', { groups: ['callers'], channels: [server({ address: 'h:6' }), client] });
  const proxy2 = entry('p2', { groups: ['proxies'], channels: [server({ address: 'h:7' }), client] });
  const hidden = entry('p3', { groups: ['proxies'], channels: [server({ address: 'h:8', internal: true })] });
  const own = entry('me', {
    services: grant('callers'),
    channels: [server({ address: 'x:1', proxy: 'p1', proxies: ['p2', 'p3', 'gone'] }), client],
  });
  assert.deepEqual(reverseStreamPeers(own, [own, proxy1, proxy2, hidden, ...all]), [
    'p1',
    'pub',
    'pub-c',
    'p2',
  ]);
});

test('a peer only reachable through a proxy is refused when useProxy is false (checklist 42)', async () => {
  await testCertificates();
  const map = new EntryMap();
  map.replace(new Map([['prox', proxiedPeer]]));
  const directory: Directory = {
    entry: (n) => map.entry(n),
    entries: (q) => map.entries(q),
    start: async () => undefined,
    close: async () => undefined,
    onChange: (l) => map.onChange(l),
  };
  const settings = grpcClientSettingsSchema.parse({
    useProxy: false,
    tls: {
      ca_certificate_files: [join(CERTS, 'root.crt')],
      certificate_file: join(CERTS, 'hd-1.crt'),
      key_file: join(CERTS, 'hd-1.key'),
    },
  });
  const channel = new GrpcClientChannel('me', directory, settings);
  assert.equal(channel.canDeliverTo({ operator: 'prox', method: 'm', localId: '1' }), true);
  // A proxy operator never brokers through itself: it reaches the operators it serves over their streams.
  const viaTwo = entry('two', { channels: [server({ address: 'h:9', proxy: 'p', proxies: ['me'] })] });
  map.replace(
    new Map([
      ['prox', proxiedPeer],
      ['two', viaTwo],
    ]),
  );
  assert.equal(channel.canDeliverTo({ operator: 'two', method: 'm', localId: '1' }), false);
  await assert.rejects(
    channel.deliver(
      { method: 'prox.m', id: 'prox.m(1)', params: {} },
      { operator: 'prox', method: 'm', localId: '1' },
      unboundedScope(),
    ),
    /destination is only reachable via proxy but proxying is disabled$/,
  );
  await channel.close();
});

test('_connectionRequest is accepted only from a proxy the own entry lists (`proxy` or `proxies`)', async () => {
  const own = entry('me', { channels: [server({ address: 'x:1', proxy: 'p1', proxies: ['p2'] })] });
  const map = new EntryMap();
  map.replace(new Map([['me', own]]));
  const directory: Directory = {
    entry: (n) => map.entry(n),
    entries: (q) => map.entries(q),
    start: async () => undefined,
    close: async () => undefined,
    onChange: (l) => map.onChange(l),
  };
  const callee = new P2pCallee('me', directory);
  const request = (caller: string, token = Buffer.alloc(31)) => ({
    channel: 'grpc_server',
    endpoint: '127.0.0.1:1',
    token,
    client: { name: 'hd-1' },
    caller,
  });
  const grpcServer = {} as GrpcServer;
  await assert.rejects(
    callee.handle(request('p3'), grpcServer),
    /^Error: connection requests are only accepted from our proxies 'p1', 'p2', not 'p3'$/,
  );
  // Both listed proxies pass the caller check (and then fail on the short token, before any dial).
  for (const proxy of ['p1', 'p2']) {
    await assert.rejects(callee.handle(request(proxy), grpcServer), /token must be 32 bytes/);
  }
});
