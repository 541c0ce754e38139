// Structured hash test vectors [docs/protocol.md#structured-hash].
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { JsonValue } from '../../src/core/json.js';
import {
  canonicalCreatedAt,
  compareCreatedAt,
  createdAtNanos,
  createdAtNow,
  encodeRecord,
  encodeValue,
  normaliseChangeRecord,
  recordHash,
  RecordError,
  signedDataMessage,
  signingMessage,
  structuredHash,
} from '../../src/records/index.js';

/** Builds the expected bytes from a string in which `\xNN` escapes denote raw bytes. */
function bytes(spec: string): Buffer {
  const parts: number[] = [];
  for (let i = 0; i < spec.length;) {
    if (spec.startsWith('\\x', i)) {
      parts.push(parseInt(spec.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      const cp = spec.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      parts.push(...Buffer.from(ch, 'utf8'));
      i += ch.length;
    }
  }
  return Buffer.from(parts);
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const zeros = (n: number): string => '\\x00'.repeat(n);

describe('primitive encodings', () => {
  const vectors: [string, JsonValue, string | null, string][] = [
    ['"abc"', 'abc', 'stringabc', 'dc62e19fceb003169ed88b2a93ff5d9c2918565bf3eb0baedf167050120df455'],
    [
      'true',
      true,
      `stringbool\\x02${zeros(9)}`,
      '486375aa36298e5fb72e4373df7e4e1e125610d53253e17941014335d5818ff5',
    ],
    [
      '1.5',
      1.5,
      'stringfloat\\x00\\x00\\x00\\x00\\x00\\x00\\xf8\\x3f\\x00\\x00',
      '68af337a90f121d064ea47b7684f11661c619dccd7ec8a07b149c6d4eff7563d',
    ],
    ['{}', {}, 'stringmap', '27a7e2aa5b770cf24141d0eb0b2a158bada504045a4d64188ff3620445cae00b'],
    [
      '{"a":{}}',
      { a: {} },
      'stringmapstringmapstringa',
      'b92d547e204e3f4dc95861f4a2634567bee0beeeeae2d033a43b082f2575e13a',
    ],
    [
      '["a",null,"b"]',
      ['a', null, 'b'],
      'stringliststring0stringastring1string2stringb',
      '252439c01406393ef681da50ff30b701ea8e6a3985f8d2ee29adc84b6551b985',
    ],
    [
      '["x","",["y"]]',
      ['x', '', ['y']],
      'stringliststring0stringxstring1string2stringliststring0stringy',
      'ec93120dde10a28d67331c8a61a37359e0749c3773a8e438a79b876bfe1f8a74',
    ],
    [
      'zero values vanish',
      JSON.parse('{"b":"x","a":"y","c":null,"d":false,"e":0,"f":""}') as JsonValue,
      'stringmapstringystringastringxstringb',
      'a6b68356a877458a4c99416fced18e3c4081006ff3c4ddbaa9504627a49c663f',
    ],
    [
      'empty key',
      { '': 'v', k: 'w' },
      'stringmapstringvstringwstringk',
      '52e589521e97d2b570dc3102fb66794dccab0eccc8b6f1a5e0d54ca4f5618081',
    ],
    [
      '[true,false,null,0,-0,2]',
      [true, false, null, 0, -0, 2],
      `stringliststring0stringbool\\x02${zeros(9)}string1string2string3string4stringfloat${zeros(7)}` +
        `\\x80\\x00\\x00string5stringfloat${zeros(7)}\\x40\\x00\\x00`,
      '3211ace6cef02f53c90a93aae00fe7b6ee51d2d9d185d2ad961adeb1a12cf6f6',
    ],
    [
      'UTF-8 key order',
      { z: '1', é: '2', '～': '3', '😀': '4' },
      'stringmapstring1stringzstring2stringéstring3string～string4string😀',
      '01a33d16185568d0c5117c2678f00ec99baf6a73ea3efec4810850884b63cbd6',
    ],
    [
      'floats',
      JSON.parse('{"n":1e21,"m":0.1,"l":-3}') as JsonValue,
      null,
      '776f1d21469f4225deab686d7bf53374b4085547c713faef600cec685a0c089f',
    ],
  ];
  for (const [title, value, encoding, digest] of vectors) {
    it(title, () => {
      const encoded = encodeValue(value);
      assert.ok(encoded);
      if (encoding !== null) assert.deepEqual(encoded, bytes(encoding));
      assert.equal(sha(encoded), digest);
      assert.equal(structuredHash(value), digest);
    });
  }

  it('null, false, 0, "" and [] encode to nothing and cannot be hashed at top level', () => {
    for (const value of [null, false, 0, '', []] as JsonValue[]) {
      assert.equal(encodeValue(value), null);
      assert.throws(() => structuredHash(value), RecordError);
      assert.throws(() => signedDataMessage(value), RecordError);
    }
  });

  it('2 and 2.0 encode identically; -0 is not omitted', () => {
    assert.deepEqual(encodeValue(JSON.parse('2.0') as number), encodeValue(2));
    assert.deepEqual(encodeValue({ a: -0 }), bytes(`stringmapstringfloat${zeros(7)}\\x80\\x00\\x00stringa`));
  });

  it('signed data message is E(data)', () => {
    assert.deepEqual(signedDataMessage({ a: 'b' }), bytes('stringmapstringbstringa'));
  });
});

function record(
  section: string,
  data: unknown,
  createdAt = '2021-05-17T10:00:00Z',
): ReturnType<typeof normaliseChangeRecord> {
  return normaliseChangeRecord({ name: 'hd-1', section, data, created_at: createdAt });
}

describe('record hashes', () => {
  it('1: groups, with E(R) bytes, independent of created_at spelling', () => {
    const r = record('groups', ['health-departments']);
    assert.deepEqual(
      encodeRecord(r),
      bytes(
        'stringmapstring2021-05-17T10:00:00Zstringcreated_atstringliststring0stringhealth-departments' +
          'stringdatastringhd-1stringnamestringgroupsstringsection',
      ),
    );
    const expected = 'd3eb785faac5fafa52a51a5fc044309b450090eca330ac432de660274fac1dc2';
    assert.equal(recordHash(r), expected);
    for (const t of ['2021-05-17T10:00:00+00:00', '2021-05-17T10:00:00.000Z', '2021-05-17T10:00:00-00:00']) {
      const variant = record('groups', ['health-departments'], t);
      assert.equal(variant.created_at, '2021-05-17T10:00:00Z');
      assert.equal(recordHash(variant), expected);
      // recordHash canonicalises by itself, too
      assert.equal(recordHash({ ...r, created_at: t }), expected);
    }
  });

  it('2: groups with an empty string element', () => {
    assert.equal(
      recordHash(record('groups', ['health-departments', ''])),
      '441f51ab2f7b785eab87461576e92ae819c0137eef3f45541697fcb786f0878c',
    );
  });

  it('3: groups, empty data', () => {
    assert.equal(
      recordHash(record('groups', [])),
      '3f81576c7a6fc29c0daaf7ac2e2844b082d1b2e80356a30ceb53a490445f2fad',
    );
  });

  it('4: offset and fraction are kept in the canonical time', () => {
    const r = record('groups', ['health-departments'], '2021-05-17T12:00:00.500+02:00');
    assert.equal(r.created_at, '2021-05-17T12:00:00.5+02:00');
    assert.equal(recordHash(r), 'd9e2d709fa94bb997fcb2319403c34f9e54275f68479f3025c45c2b80068dcd1');
  });

  it('5: channels, with E(R) bytes', () => {
    const r = record('channels', [
      { type: 'grpc_client' },
      {
        type: 'grpc_server',
        settings: {
          address: 'localhost:8888',
          proxy: 'public-proxy-1.ga',
          port: 0,
          n: 1.5,
          flag: true,
          off: false,
          nil: null,
        },
      },
    ]);
    assert.deepEqual(
      encodeRecord(r),
      bytes(
        'stringmapstring2021-05-17T10:00:00Zstringcreated_atstringliststring0stringmapstringgrpc_client' +
          'stringtypestring1stringmapstringmapstringlocalhost:8888stringaddressstringbool\\x02' +
          zeros(9) +
          'stringflagstringfloat\\x00\\x00\\x00\\x00\\x00\\x00\\xf8?\\x00\\x00stringnstringpublic-proxy-1.ga' +
          'stringproxystringsettingsstringgrpc_serverstringtypestringdatastringhd-1stringnamestringchannels' +
          'stringsection',
      ),
    );
    assert.equal(recordHash(r), 'afed8a39b0e98aa8fe00ab08629a37556ce6bbbf4556bd98eb777a9e6289aab1');
  });

  it('6: services, undeclared keys stripped and defaults added', () => {
    const r = record('services', [
      {
        name: 'internals',
        description: 'stripped',
        permissions: [{ group: 'health-departments', rights: ['call'] }],
        methods: [{ name: '_ping', params: [1] }],
      },
    ]);
    assert.deepEqual(r.data, [
      {
        name: 'internals',
        permissions: [{ group: 'health-departments', rights: ['call'] }],
        methods: [{ name: '_ping', permissions: [] }],
      },
    ]);
    assert.equal(recordHash(r), '44fc165bad75f6893e6d2cbe925a5d6ab178f479ea68ed9b2d55393a54bbdccd');
  });

  it('7: settings, operator default added', () => {
    const r = record('settings', [
      {
        service: 'proxy',
        environment: 'production',
        settings: { allowed_domains: ['.internal-server.local'] },
      },
    ]);
    assert.deepEqual(r.data[0], {
      operator: '',
      service: 'proxy',
      environment: 'production',
      settings: { allowed_domains: ['.internal-server.local'] },
    });
    assert.equal(recordHash(r), 'f6ff6c906da7392ed075776e7019bb2b3fd4db7c5d6e23527a3bcc886cc1bfa3');
  });
});

describe('signing messages', () => {
  const root = record('groups', ['health-departments']);
  const rootHash = 'd3eb785faac5fafa52a51a5fc044309b450090eca330ac432de660274fac1dc2';

  it('1: root record, empty parent omitted', () => {
    const m = signingMessage('', rootHash, root);
    assert.deepEqual(
      m,
      Buffer.concat([
        bytes(`stringmapstring${rootHash}stringhash`),
        encodeRecord(root),
        bytes('stringrecord'),
      ]),
    );
    assert.equal(sha(m), 'cdec6acac6b60074e169ce41538fecaabd6e4353ae3fba12212ff29bfb091453');
    // a pre-encoded record gives the same message
    assert.deepEqual(signingMessage('', rootHash, encodeRecord(root)), m);
  });

  it('2: child record with parent hash', () => {
    const child = record('channels', [
      { type: 'grpc_client' },
      {
        type: 'grpc_server',
        settings: {
          address: 'localhost:8888',
          proxy: 'public-proxy-1.ga',
          port: 0,
          n: 1.5,
          flag: true,
          off: false,
          nil: null,
        },
      },
    ]);
    const childHash = recordHash(child);
    const m = signingMessage(rootHash, childHash, child);
    assert.deepEqual(
      m,
      Buffer.concat([
        bytes(`stringmapstring${childHash}stringhashstring${rootHash}stringparent_hash`),
        encodeRecord(child),
        bytes('stringrecord'),
      ]),
    );
    assert.equal(sha(m), '3ed59393c2f867cf02e73cc8ac4cbaf9b66c099a5f8cd7a8b3eb47856ec32487');
  });
});

describe('canonical created_at', () => {
  it('renders Go RFC3339Nano', () => {
    const cases: [string, string][] = [
      ['2021-05-17T10:00:00+00:00', '2021-05-17T10:00:00Z'],
      ['2021-05-17T10:00:00.000Z', '2021-05-17T10:00:00Z'],
      ['2021-05-17T12:00:00.500+02:00', '2021-05-17T12:00:00.5+02:00'],
      ['2021-05-17T10:00:04.1234567891Z', '2021-05-17T10:00:04.123456789Z'],
      ['2021-05-17T10:00:04.120-05:30', '2021-05-17T10:00:04.12-05:30'],
      ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59Z'],
    ];
    for (const [input, expected] of cases) assert.equal(canonicalCreatedAt(input), expected);
  });

  it('rejects what Go rejects', () => {
    for (const bad of [
      '2021-05-17t10:00:00Z',
      '2021-05-17T10:00:00z',
      '2021-05-17T10:00:00',
      '2021-05-17 10:00:00Z',
      '2021-05-17T10:00:00.Z',
      '2021-02-29T10:00:00Z',
      '2021-13-01T10:00:00Z',
      '2021-05-17T24:00:00Z',
      '2021-05-17T10:00:60Z',
      '2021-05-17T10:00:00,5Z',
    ]) {
      assert.throws(() => canonicalCreatedAt(bad), RecordError, bad);
    }
  });

  it('orders instants across offsets and fractions', () => {
    assert.equal(compareCreatedAt('2021-05-17T12:00:00+02:00', '2021-05-17T10:00:00Z'), 0);
    assert.ok(compareCreatedAt('2021-05-17T10:00:00.000000001Z', '2021-05-17T10:00:00Z') > 0);
    assert.ok(compareCreatedAt('2021-05-17T11:59:59+02:00', '2021-05-17T10:00:00Z') < 0);
    assert.equal(createdAtNanos('1970-01-01T00:00:01.5Z'), 1_500_000_000n);
    assert.equal(createdAtNanos('1970-01-01T01:00:00+01:00'), 0n);
  });

  it('stamps the current local time in canonical form', () => {
    const now = createdAtNow();
    assert.equal(canonicalCreatedAt(now), now);
    assert.ok(Math.abs(Number(createdAtNanos(now) / 1_000_000n) - Date.now()) < 5_000);
  });

  it("Go's zero time is omitted from the record hash like any zero value", () => {
    const zero = { name: 'hd-1', section: 'groups', data: ['a'], created_at: '0001-01-01T00:00:00Z' };
    assert.deepEqual(
      encodeRecord(zero),
      bytes('stringmapstringliststring0stringastringdatastringhd-1stringnamestringgroupsstringsection'),
    );
    assert.deepEqual(encodeRecord({ ...zero, created_at: '0001-01-01T01:00:00+01:00' }), encodeRecord(zero));
  });
});
