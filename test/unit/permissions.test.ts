import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newEntry, type DirectoryEntry } from '../../src/core/directory-entry.js';
import { canCall, getPeers, grpcServerSettings } from '../../src/directory/permissions.js';

function entry(name: string, patch: Partial<DirectoryEntry>): DirectoryEntry {
  return { ...newEntry(name), ...patch };
}

const callee = entry('ls-1', {
  services: [
    {
      name: 'locations',
      permissions: [{ group: 'health-departments', rights: ['call'] }],
      methods: [
        { name: 'add', permissions: [], parameters: null },
        { name: 'check', permissions: [{ group: 'auditors', rights: ['call'] }], parameters: null },
      ],
    },
    {
      name: 'second',
      permissions: [{ group: 'auditors', rights: ['call'] }],
      methods: [{ name: 'add', permissions: [], parameters: null }],
    },
    {
      name: 'public',
      permissions: [{ group: '*', rights: ['call'] }],
      methods: [{ name: 'ping', permissions: [], parameters: null }],
    },
    {
      name: 'norights',
      permissions: [{ group: 'auditors', rights: [] }],
      methods: [{ name: 'nr', permissions: [], parameters: null }],
    },
  ],
});
const hd = entry('hd-1', { groups: ['health-departments'] });
const auditor = entry('au-1', { groups: ['auditors'] });
const nobody = entry('x', { groups: [] });

test('service-level and method-level permissions grant call (checklist 47)', () => {
  assert.equal(canCall(hd, callee, 'add'), true);
  assert.equal(canCall(auditor, callee, 'check'), true);
  assert.equal(canCall(hd, callee, 'check'), true);
});

test('only the first service listing a method counts', () => {
  assert.equal(canCall(auditor, callee, 'add'), false);
});

test('"*" grants everyone; unknown methods and missing rights deny', () => {
  assert.equal(canCall(nobody, callee, 'ping'), true);
  assert.equal(canCall(hd, callee, 'unknown'), false);
  assert.equal(canCall(auditor, callee, 'nr'), false);
});

test('getPeers with incomingOnly lists the operators whose groups the base grants something', () => {
  const peers = getPeers(callee, [callee, hd, auditor, nobody], true).map((e) => e.name);
  assert.deepEqual(peers, ['hd-1', 'au-1']);
});

test('grpc_server settings without an address are unusable', () => {
  assert.equal(
    grpcServerSettings(entry('a', { channels: [{ type: 'grpc_server', settings: {} }] })),
    undefined,
  );
  assert.deepEqual(
    grpcServerSettings(
      entry('a', { channels: [{ type: 'grpc_server', settings: { address: 'h:1', proxy: 'p' } }] }),
    ),
    { address: 'h:1', internal: false, proxy: 'p', proxies: ['p'] },
  );
});
