// Normalisation of change records and signed change records [docs/protocol.md#record-normalisation].
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  normaliseChangeRecord,
  normaliseChangeRecords,
  normaliseSectionData,
  normaliseSignedRecord,
  recordHash,
  RecordError,
} from '../../src/records/index.js';

const CREATED = '2021-05-17T10:00:00Z';
const HASH = 'd3eb785faac5fafa52a51a5fc044309b450090eca330ac432de660274fac1dc2';

function rec(section: string, data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'hd-1', section, data, created_at: CREATED, ...extra };
}

function schemaError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RecordError, `expected a RecordError, got ${String(err)}`);
    assert.equal(err.code, 'schema');
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('change record envelope', () => {
  it('keeps declared keys only, emits canonical created_at', () => {
    const r = normaliseChangeRecord(
      { name: 'hd-1', section: 'groups', data: ['a'], created_at: '2021-05-17T10:00:00.000+00:00', extra: 1 },
      0,
    );
    assert.deepEqual(r, { name: 'hd-1', section: 'groups', data: ['a'], created_at: CREATED });
    assert.deepEqual(Object.keys(r), ['name', 'section', 'data', 'created_at']);
  });

  it('accepts an empty name, requires the other fields', () => {
    assert.equal(normaliseChangeRecord(rec('groups', [], { name: '' })).name, '');
    schemaError(
      () => normaliseChangeRecord({ section: 'groups', data: [], created_at: CREATED }, 2),
      'record 2 (?/groups): name: is required',
    );
    schemaError(
      () => normaliseChangeRecord(rec('groups', [], { created_at: null })),
      /created_at: is required/,
    );
    schemaError(
      () => normaliseChangeRecord(rec('groups', [], { created_at: 'yesterday' })),
      /created_at: not an RFC 3339/,
    );
    schemaError(
      () => normaliseChangeRecord(rec('groups', undefined), 1),
      'record 1 (hd-1/groups): data: is required',
    );
    schemaError(() => normaliseChangeRecord(rec('groups', 'x')), /data: must be a list/);
    schemaError(() => normaliseChangeRecord(rec('groups', [], { name: 5 })), /name: must be a string/);
    schemaError(() => normaliseChangeRecord('nope', 4), 'record 4: must be an object');
  });

  it('section must be one of the six; properties only when allowed', () => {
    schemaError(
      () => normaliseChangeRecord(rec('properties', [{ displayName: 'HD 1' }]), 7),
      'record 7 (hd-1/properties): section: must be one of channels, certificates, services, preferences, settings, groups',
    );
    schemaError(() => normaliseChangeRecord(rec('Groups', [])), /section: must be one of/);
    const r = normaliseChangeRecord(rec('properties', [{ displayName: 'HD 1', x: 1 }]), 0, {
      allowProperties: true,
    });
    assert.deepEqual(r.data, [{ displayName: 'HD 1' }]);
    assert.deepEqual(normaliseSectionData('properties', [{}], { allowProperties: true }), [
      { displayName: '' },
    ]);
  });

  it('a list of records is normalised with indices in errors', () => {
    assert.equal(normaliseChangeRecords([rec('groups', []), rec('groups', ['x'])]).length, 2);
    schemaError(
      () => normaliseChangeRecords([rec('groups', []), rec('groups', [1])]),
      'record 1 (hd-1/groups): data.0: must be a string',
    );
    schemaError(() => normaliseChangeRecords({}), 'records must be a list');
  });

  it('matches field names case-insensitively like the original (exact spelling wins)', () => {
    const r = normaliseChangeRecord({
      Name: 'hd-1',
      SECTION: 'channels',
      Data: [{ Type: 'grpc_client' }],
      created_at: CREATED,
    });
    assert.deepEqual(r.data, [{ type: 'grpc_client' }]);
    const both = normaliseChangeRecord(rec('channels', [{ TYPE: 'upper', type: 'exact' }]));
    assert.deepEqual(both.data, [{ type: 'exact' }]);
  });
});

describe('section schemas', () => {
  it('undeclared keys do not change the hash', () => {
    const plain = normaliseChangeRecord(
      rec('services', [{ name: 'internals', permissions: [], methods: [{ name: '_ping' }] }]),
    );
    const decorated = normaliseChangeRecord(
      rec('services', [
        { name: 'internals', description: 'x', methods: [{ name: '_ping', params: [1, 2], docs: { a: 1 } }] },
      ]),
    );
    assert.deepEqual(decorated.data, plain.data);
    assert.equal(recordHash(decorated), recordHash(plain));
  });

  it('defaults are invisible to the hash', () => {
    const bare = normaliseChangeRecord(rec('settings', [{ settings: { a: 1 } }]));
    assert.deepEqual(bare.data, [{ operator: '', service: '', environment: '', settings: { a: 1 } }]);
    const explicit = {
      name: 'hd-1',
      section: 'settings',
      data: [{ settings: { a: 1 } }],
      created_at: CREATED,
    };
    // hashing the raw (un-normalised) data gives the same value, because "" vanishes
    assert.equal(recordHash(bare), recordHash(explicit));
  });

  it('rights: only "call", no duplicates, non-array becomes []', () => {
    const perms = (rights: unknown): unknown =>
      normaliseChangeRecord(rec('services', [{ name: 's', permissions: [{ group: 'g', rights }] }])).data;
    assert.deepEqual(perms(['call']), [
      { name: 's', permissions: [{ group: 'g', rights: ['call'] }], methods: [] },
    ]);
    for (const lenient of [undefined, null, 'call', 5, {}]) {
      assert.deepEqual(perms(lenient), [
        { name: 's', permissions: [{ group: 'g', rights: [] }], methods: [] },
      ]);
    }
    schemaError(
      () =>
        normaliseChangeRecord(
          rec('services', [{ name: 's', permissions: [{ group: 'g', rights: ['call', 'write'] }] }]),
          3,
        ),
      'record 3 (hd-1/services): data.0.permissions.0.rights.1: must be "call"',
    );
    schemaError(() => perms(['CALL']), /rights\.0: must be "call"/);
    schemaError(() => perms(['call', 'call']), /rights\.1: duplicate right "call"/);
    schemaError(() => perms([1]), /rights\.0: must be a string/);
  });

  it('the hash changes when a non-array rights value is normalised to []', () => {
    const raw = rec('services', [{ name: 's', permissions: [{ group: 'g', rights: 'call' }] }]);
    assert.notEqual(recordHash(normaliseChangeRecord(raw)), recordHash(raw as never));
  });

  it('services: nested methods, parameters and validators', () => {
    const [service] = normaliseSectionData('services', [
      {
        name: 'locations',
        methods: [
          {
            name: 'add',
            permissions: [{ group: 'ops', rights: ['call'] }],
            parameters: [
              {
                name: 'p',
                validators: [{ type: 'IsString', parameters: { min: 0, x: null } }, { type: 'IsInt' }],
              },
              { name: 'q', validators: '' },
            ],
          },
          { name: 'check', parameters: [] },
        ],
      },
    ]);
    assert.deepEqual(service, {
      name: 'locations',
      permissions: [],
      methods: [
        {
          name: 'add',
          permissions: [{ group: 'ops', rights: ['call'] }],
          parameters: [
            {
              name: 'p',
              validators: [{ type: 'IsString', parameters: { min: 0, x: null } }, { type: 'IsInt' }],
            },
            { name: 'q' },
          ],
        },
        { name: 'check', permissions: [], parameters: [] },
      ],
    });
    schemaError(() => normaliseSectionData('services', [{ methods: [] }]), 'data.0.name: is required');
    schemaError(
      () => normaliseSectionData('services', [{ name: 's', methods: [{ name: 'm', parameters: [{}] }] }]),
      'data.0.methods.0.parameters.0.name: is required',
    );
    schemaError(() => normaliseSectionData('services', ['s']), 'data.0: must be an object');
  });

  it('channels: settings optional, kept verbatim; "" and null mean absent', () => {
    assert.deepEqual(
      normaliseSectionData('channels', [
        { type: 'grpc_server', settings: { address: 'x', nested: { off: false, n: 0, z: null } } },
        { type: 'grpc_client', settings: '' },
        { type: 'grpc_client', settings: null },
      ]),
      [
        { type: 'grpc_server', settings: { address: 'x', nested: { off: false, n: 0, z: null } } },
        { type: 'grpc_client' },
        { type: 'grpc_client' },
      ],
    );
    schemaError(
      () => normaliseSectionData('channels', [{ type: 'x', settings: [] }]),
      'data.0.settings: must be an object',
    );
    schemaError(() => normaliseSectionData('channels', [{}]), 'data.0.type: is required');
  });

  it('a "__proto__" key in free-form settings stays a plain data key', () => {
    const [channel] = normaliseSectionData('channels', [
      JSON.parse('{"type":"t","settings":{"__proto__":{"a":1}}}'),
    ]);
    const settings = (channel as { settings: Record<string, unknown> }).settings;
    assert.equal(Object.getPrototypeOf(settings), Object.prototype);
    assert.deepEqual(Object.keys(settings), ['__proto__']);
  });

  it('certificates, groups, preferences', () => {
    assert.deepEqual(
      normaliseSectionData('certificates', [{ fingerprint: 'AB', key_usage: 'signing', x: 1 }]),
      [{ fingerprint: 'AB', key_usage: 'signing' }],
    );
    schemaError(
      () => normaliseSectionData('certificates', [{ fingerprint: 'ab' }]),
      'data.0.key_usage: is required',
    );
    assert.deepEqual(normaliseSectionData('groups', ['a', '']), ['a', '']);
    schemaError(() => normaliseSectionData('groups', [null]), 'data.0: is required');
    assert.deepEqual(normaliseSectionData('preferences', [{ service: 's', settings: { a: [1] } }]), [
      { operator: '', service: 's', environment: '', settings: { a: [1] } },
    ]);
    schemaError(
      () => normaliseSectionData('preferences', [{ preferences: {} }]),
      'data.0.settings: is required',
    );
  });
});

describe('signed record envelope', () => {
  const signed = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    hash: HASH,
    signature: { r: '1234567890', s: '98765432101', c: 'PEM', extra: true },
    record: rec('groups', ['health-departments']),
    ...extra,
  });

  it('defaults parent_hash to "" and keeps the declared keys', () => {
    const s = normaliseSignedRecord(signed({ position: 3 }));
    assert.deepEqual(s, {
      parent_hash: '',
      hash: HASH,
      signature: { r: '1234567890', s: '98765432101', c: 'PEM' },
      record: { name: 'hd-1', section: 'groups', data: ['health-departments'], created_at: CREATED },
    });
    assert.deepEqual(Object.keys(s), ['parent_hash', 'hash', 'signature', 'record']);
    assert.equal(normaliseSignedRecord(signed({ parent_hash: null })).parent_hash, '');
    assert.equal(normaliseSignedRecord(signed({ parent_hash: HASH })).parent_hash, HASH);
  });

  it('validates hashes and signature numbers', () => {
    schemaError(
      () => normaliseSignedRecord(signed({ parent_hash: HASH.toUpperCase() }), 5),
      /^record 5 \(hd-1\/groups\): parent_hash: must be empty or 64 lower-case hex/,
    );
    schemaError(
      () => normaliseSignedRecord(signed({ hash: HASH.slice(2) })),
      /hash: must be 64 hex characters/,
    );
    schemaError(() => normaliseSignedRecord(signed({ hash: undefined })), /hash: is required/);
    // upper-case hex passes the schema (it just never verifies)
    assert.equal(normaliseSignedRecord(signed({ hash: HASH.toUpperCase() })).hash, HASH.toUpperCase());
    schemaError(() => normaliseSignedRecord(signed({ signature: null })), /signature: is required/);
    schemaError(
      () => normaliseSignedRecord(signed({ signature: { r: '123', s: '12345678901', c: 'x' } })),
      /signature\.r: must be a decimal integer of 10 to 100 digits/,
    );
    schemaError(
      () => normaliseSignedRecord(signed({ signature: { r: '12345678901', s: '12345678901' } })),
      /signature\.c: is required/,
    );
    schemaError(
      () => normaliseSignedRecord(signed({ record: rec('groups', [{}]) }), 0),
      'record 0 (hd-1/groups): data.0: must be a string',
    );
    schemaError(() => normaliseSignedRecord(signed({ record: undefined })), /record: is required/);
  });
});
