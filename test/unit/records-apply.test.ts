// Applying records to entries [docs/protocol.md#applying-records, with our preferences/properties fixes].
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectoryEntry, SignedChangeRecord } from '../../src/core/directory-entry.js';
import {
  applyChangeRecords,
  applyRecords,
  normaliseChangeRecord,
  RecordError,
  wrapUnsigned,
} from '../../src/records/index.js';

const CREATED = '2021-05-17T10:00:00Z';
const signed = (name: string, section: string, data: unknown[], options = {}): SignedChangeRecord =>
  wrapUnsigned(normaliseChangeRecord({ name, section, data, created_at: CREATED }, undefined, options));

describe('applyRecords', () => {
  it('creates entries with the initial values and replaces whole sections', () => {
    const entries = new Map<string, DirectoryEntry>();
    const first = signed('hd-1', 'groups', ['a', 'b']);
    applyRecords(entries, [first]);
    assert.deepEqual(entries.get('hd-1'), {
      name: 'hd-1',
      groups: ['a', 'b'],
      channels: [],
      services: [],
      certificates: [],
      settings: [],
      preferences: null,
      records: [first],
      properties: { displayName: '' },
    });
    const second = signed('hd-1', 'groups', ['c']);
    const third = signed('hd-1', 'groups', []);
    applyRecords(entries, [second]);
    assert.deepEqual(entries.get('hd-1')!.groups, ['c']);
    applyRecords(entries, [third]);
    assert.deepEqual(entries.get('hd-1')!.groups, []);
    assert.deepEqual(entries.get('hd-1')!.records, [first, second, third]);
  });

  it('converts elements into the typed entry structure', () => {
    const entries = applyRecords(new Map(), [
      signed('hd-1', 'channels', [
        { type: 'grpc_client' },
        { type: 'grpc_server', settings: { address: 'x' } },
      ]),
      signed('hd-1', 'certificates', [{ fingerprint: 'ab', key_usage: 'signing' }]),
      signed('hd-1', 'services', [
        {
          name: 's',
          permissions: [{ group: '*', rights: ['call'] }],
          methods: [
            { name: 'm', parameters: [{ name: 'p', validators: [{ type: 'IsString' }] }, { name: 'q' }] },
            { name: 'n' },
          ],
        },
      ]),
      signed('hd-1', 'settings', [{ service: 'proxy', settings: { allowed_domains: ['.x'] } }]),
    ]);
    const entry = entries.get('hd-1')!;
    assert.deepEqual(entry.channels, [
      { type: 'grpc_client', settings: null },
      { type: 'grpc_server', settings: { address: 'x' } },
    ]);
    assert.deepEqual(entry.certificates, [{ fingerprint: 'ab', key_usage: 'signing' }]);
    assert.deepEqual(entry.services, [
      {
        name: 's',
        permissions: [{ group: '*', rights: ['call'] }],
        methods: [
          {
            name: 'm',
            permissions: [],
            parameters: [
              { name: 'p', validators: [{ type: 'IsString', parameters: null }] },
              { name: 'q', validators: null },
            ],
          },
          { name: 'n', permissions: [], parameters: null },
        ],
      },
    ]);
    assert.deepEqual(entry.settings, [
      { operator: '', service: 'proxy', environment: '', settings: { allowed_domains: ['.x'] } },
    ]);
    assert.equal(entry.records.length, 4);
  });

  it('keeps the preferences payload (the original drops it)', () => {
    const entries = applyRecords(new Map(), [
      signed('op-1', 'preferences', [
        { service: 'locations', environment: 'prod', settings: { lang: 'de' } },
      ]),
    ]);
    assert.deepEqual(entries.get('op-1')!.preferences, [
      { operator: '', service: 'locations', environment: 'prod', preferences: { lang: 'de' } },
    ]);
  });

  it('applies properties records (accepted only with allowProperties)', () => {
    const entries = applyRecords(new Map(), [
      signed('hd-1', 'properties', [{ displayName: 'Health Department 1' }], { allowProperties: true }),
    ]);
    assert.deepEqual(entries.get('hd-1')!.properties, { displayName: 'Health Department 1' });
    applyRecords(entries, [signed('hd-1', 'properties', [], { allowProperties: true })]);
    assert.deepEqual(entries.get('hd-1')!.properties, { displayName: '' });
  });

  it('is copy-on-write: entries handed out earlier never change', () => {
    const entries = applyRecords(new Map(), [signed('hd-1', 'groups', ['a'])]);
    const before = entries.get('hd-1')!;
    const snapshot = structuredClone(before);
    applyRecords(entries, [signed('hd-1', 'groups', ['b']), signed('hd-2', 'groups', ['c'])]);
    assert.deepEqual(before, snapshot);
    assert.notEqual(entries.get('hd-1'), before);
    assert.deepEqual(entries.get('hd-1')!.groups, ['b']);
    assert.equal(entries.get('hd-1')!.records.length, 2);
    assert.deepEqual([...entries.keys()], ['hd-1', 'hd-2']);
  });

  it('an unknown section is a RecordError naming the record', () => {
    const bogus: SignedChangeRecord = wrapUnsigned({
      name: 'hd-1',
      section: 'bogus',
      data: [],
      created_at: CREATED,
    });
    assert.throws(
      () => applyRecords(new Map(), [signed('hd-1', 'groups', []), bogus]),
      (err: unknown) =>
        err instanceof RecordError &&
        err.message === 'record 1 (hd-1/bogus): section: cannot apply unknown section "bogus"',
    );
  });

  it('unsigned JSON-directory records are wrapped with empty hashes and a null signature', () => {
    const record = normaliseChangeRecord({ name: 'ls-1', section: 'groups', data: [], created_at: CREATED });
    const entries = applyChangeRecords(new Map(), [record]);
    assert.deepEqual(entries.get('ls-1')!.records, [{ parent_hash: '', hash: '', signature: null, record }]);
    assert.deepEqual(JSON.parse(JSON.stringify(entries.get('ls-1')!.records[0])), {
      parent_hash: '',
      hash: '',
      signature: null,
      record: { name: 'ls-1', section: 'groups', data: [], created_at: CREATED },
    });
  });
});
