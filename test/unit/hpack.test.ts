import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeHeaders, HpackDecoder, HpackError } from '../../src/grpc/h2/hpack.js';
import { huffmanCodes, huffmanDecode, HuffmanError } from '../../src/grpc/h2/huffman.js';
import { huffmanEncode } from '../helpers/h2-fake-server.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('Huffman code rebuilt from the lengths matches RFC 7541 Appendix B', () => {
  const codes = huffmanCodes();
  assert.equal(codes.length, 257);
  const known: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [32, 0x14, 6],
    [48, 0x0, 5],
    [97, 0x3, 5],
    [92, 0x7fff0, 19],
    [199, 0x1ffffec, 25],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, bits] of known) assert.deepEqual(codes[sym], { code, bits }, `symbol ${sym}`);
});

test('Huffman strings of RFC 7541 C.4 decode; every byte value round-trips', () => {
  assert.equal(huffmanDecode(hex('f1e3c2e5f23a6ba0ab90f4ff')), 'www.example.com');
  assert.equal(huffmanDecode(hex('a8eb10649cbf')), 'no-cache');
  assert.equal(huffmanDecode(hex('25a849e95ba97d7f')), 'custom-key');
  assert.equal(huffmanDecode(hex('25a849e95bb8e8b4bf')), 'custom-value');
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
  assert.equal(huffmanDecode(huffmanEncode(all)), all);
  assert.equal(huffmanDecode(Buffer.alloc(0)), '');
});

test('Huffman rejects EOS in the data, padding over 7 bits and padding that is not all ones', () => {
  assert.throws(() => huffmanDecode(hex('ffffffff')), HuffmanError); // EOS (30 ones) inside the data
  assert.throws(() => huffmanDecode(hex('1fff')), HuffmanError); // 'a' then 11 bits of padding
  assert.throws(() => huffmanDecode(hex('1e')), HuffmanError); // 'a' then padding 110
});

test('RFC 7541 C.3 requests without Huffman: fields and dynamic table sizes', () => {
  const d = new HpackDecoder();
  const base = { ':method': 'GET', ':scheme': 'http', ':path': '/', ':authority': 'www.example.com' };
  assert.deepEqual({ ...d.decode(hex('828684410f7777772e6578616d706c652e636f6d')).headers }, base);
  assert.equal(d.tableSize, 57);
  assert.deepEqual(
    { ...d.decode(hex('828684be58086e6f2d6361636865')).headers },
    {
      ...base,
      'cache-control': 'no-cache',
    },
  );
  assert.equal(d.tableSize, 110);
  const third = d.decode(hex('828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565')).headers;
  assert.deepEqual(
    { ...third },
    {
      ':method': 'GET',
      ':scheme': 'https',
      ':path': '/index.html',
      ':authority': 'www.example.com',
      'custom-key': 'custom-value',
    },
  );
  assert.equal(d.tableSize, 164);
});

test('RFC 7541 C.4 requests with Huffman decode like C.3', () => {
  const d = new HpackDecoder();
  assert.equal(d.decode(hex('828684418cf1e3c2e5f23a6ba0ab90f4ff')).headers[':authority'], 'www.example.com');
  assert.equal(d.decode(hex('828684be5886a8eb10649cbf')).headers['cache-control'], 'no-cache');
  const third = d.decode(hex('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf')).headers;
  assert.equal(third['custom-key'], 'custom-value');
  assert.equal(third[':authority'], 'www.example.com');
  assert.equal(d.tableSize, 164);
});

test('RFC 7541 C.5 responses evict entries from a 256-octet table', () => {
  const d = new HpackDecoder(256);
  const first = d.decode(
    hex(`4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d`),
  ).headers;
  assert.deepEqual(
    { ...first },
    {
      ':status': '302',
      'cache-control': 'private',
      date: 'Mon, 21 Oct 2013 20:13:21 GMT',
      location: 'https://www.example.com',
    },
  );
  assert.equal(d.tableSize, 222);
  assert.equal(d.decode(hex('4803333037c1c0bf')).headers[':status'], '307');
  assert.equal(d.tableSize, 222);
  const third = d.decode(
    hex(`88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31`),
  ).headers;
  assert.equal(third[':status'], '200');
  assert.equal(third['content-encoding'], 'gzip');
  assert.equal(third['set-cookie'], 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1');
  assert.equal(d.tableSize, 215);
});

test('our encoder: literals without indexing that a fresh decoder reads back, table left empty', () => {
  const fields: [string, string][] = [
    [':method', 'POST'],
    [':scheme', 'https'],
    [':path', '/EPS/Call'],
    [':authority', 'ls-1'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ['user-agent', 'eps-ts/0.1'],
    ['grpc-timeout', '30000m'],
    ['x-long', 'v'.repeat(300)],
  ];
  const block = encodeHeaders(fields, true);
  assert.equal(block[0], 0x20, 'starts with a table size update to 0');
  const d = new HpackDecoder();
  assert.deepEqual(Object.entries(d.decode(block).headers), fields);
  assert.equal(d.tableSize, 0);
});

test('malformed header blocks are HpackErrors; an oversized list is flagged but still decoded', () => {
  const bad = [
    '80', // index 0
    'ff00', // index 127: outside both tables
    '7f', // truncated integer
    'ffffffffffff7f', // integer too large
    '0003616263', // name longer than the block
    '00838cffff0161', // Huffman name with EOS
    '3fe21f', // table size update above 4096
    '8220', // table size update after a field
  ];
  for (const b of bad) assert.throws(() => new HpackDecoder().decode(hex(b)), HpackError, b);
  const d = new HpackDecoder(4096, 100);
  const big = d.decode(
    encodeHeaders([
      ['a', 'x'.repeat(80)],
      ['b', 'y'],
    ]),
  );
  assert.equal(big.oversized, true);
  const small = d.decode(encodeHeaders([['a', 'x']]));
  assert.deepEqual({ ...small.headers }, { a: 'x' });
});

test('fuzz: any byte string either decodes or fails with an HpackError, never another exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const d = new HpackDecoder(4096, 4096);
      try {
        const { headers } = d.decode(Buffer.from(bytes));
        for (const [name, value] of Object.entries(headers)) {
          assert.equal(typeof name, 'string');
          assert.equal(typeof value, 'string');
        }
      } catch (e) {
        assert.ok(e instanceof HpackError, `unexpected ${String(e)}`);
      }
      assert.ok(d.tableSize <= 4096);
    }),
    { numRuns: 5000 },
  );
});
