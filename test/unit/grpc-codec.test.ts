import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import fc from 'fast-check';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  CodecError,
} from '../../src/grpc/codec.js';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import { constantJson } from '../../src/core/constant-json.js';

// The reference implementation: protobufjs loading our proto file (well-known Struct from its bundle).
const root = protobuf.loadSync(new URL('../../proto/eps.proto', import.meta.url).pathname);
const Request = root.lookupType('Request');
const Response = root.lookupType('Response');

function toStruct(obj: JsonObject): unknown {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v);
  return { fields };
}
function toValue(v: JsonValue): unknown {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

const sample: JsonObject = {
  s: 'text',
  n: 1.5,
  i: 42,
  neg: -7,
  b: true,
  f: false,
  z: null,
  list: [1, 'two', null, [3], { four: 4 }],
  nested: { a: { b: { c: 'deep' } } },
  empty: {},
  emptyList: [],
  unicode: 'äöü €',
};

test('our Request encoding decodes with protobufjs to the same values', () => {
  const bytes = encodeRequest({ method: 'ls-1.add', params: sample, id: 'ls-1.add(1)', clientName: 'hd-1' });
  const decoded = Request.toObject(Request.decode(bytes), { defaults: false }) as Record<string, unknown>;
  assert.equal(decoded.method, 'ls-1.add');
  assert.equal(decoded.id, 'ls-1.add(1)');
  assert.equal(decoded.clientName, 'hd-1');
  const ours = decodeRequest(Request.encode(Request.fromObject(decoded)).finish());
  assert.deepEqual(ours.params, sample);
});

test('protobufjs-encoded messages decode with our codec', () => {
  const reqBytes = Request.encode(
    Request.fromObject({ method: 'm.x', id: 'm.x(1)', clientName: 'c', params: toStruct(sample) }),
  ).finish();
  const req = decodeRequest(reqBytes);
  assert.deepEqual(req, { method: 'm.x', id: 'm.x(1)', clientName: 'c', params: sample });

  const resBytes = Response.encode(
    Response.fromObject({ id: 'x', error: { code: -100, message: 'bad', data: toStruct({ a: 1 }) } }),
  ).finish();
  assert.deepEqual(decodeResponse(resBytes), {
    id: 'x',
    error: { code: -100, message: 'bad', data: { a: 1 } },
  });
});

test('absent and empty Struct fields are distinguished on our side', () => {
  assert.equal(decodeResponse(encodeResponse({ id: 'a' })).result, undefined);
  assert.deepEqual(decodeResponse(encodeResponse({ id: 'a', result: {} })).result, {});
  const noParams = decodeRequest(Request.encode(Request.fromObject({ id: 'a.b(1)' })).finish());
  assert.deepEqual(noParams.params, {});
});

test('a "__proto__" key is kept as data and never changes the prototype', () => {
  const params = JSON.parse('{"__proto__":"x","a":1}') as JsonObject;
  const req = decodeRequest(encodeRequest({ method: 'a.b', params, id: 'a.b(1)', clientName: '' }));
  assert.equal(Object.getPrototypeOf(req.params), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(req.params, '__proto__')?.value, 'x');
});

test('garbage bytes give a CodecError, never another exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      for (const fn of [decodeRequest, decodeResponse]) {
        try {
          fn(bytes);
        } catch (e) {
          assert.ok(e instanceof CodecError, String(e));
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test('random JSON round-trips through our codec', () => {
  const json = fc
    .jsonValue({ maxDepth: 4 })
    .filter((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
  fc.assert(
    fc.property(json, (value) => {
      const params = JSON.parse(JSON.stringify(value)) as JsonObject;
      const back = decodeRequest(encodeRequest({ method: 'a.b', params, id: 'a.b(1)', clientName: '' }));
      assert.deepEqual(back.params, params);
    }),
    { numRuns: 300 },
  );
});

// Our two-pass writer must put exactly the bytes of protobufjs' reflection encoder, short and long strings
// (both sides switch to another string writer at some length), every JSON shape, negative error codes.
const wellFormedText = fc.string({ unit: 'grapheme', maxLength: 80 });
const jsonObject = fc
  .jsonValue({ maxDepth: 4 })
  .filter((v): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v))
  .map((v) => JSON.parse(JSON.stringify(v)) as JsonObject)
  // The reference builds plain objects, where "__proto__" is no key (it has its own test above).
  .filter((v) => !JSON.stringify(v).includes('"__proto__"'));

test('our encoding is byte for byte the reference encoding', () => {
  fc.assert(
    fc.property(jsonObject, wellFormedText, wellFormedText, fc.integer(), (params, id, text, code) => {
      const req = { method: 'a.b', params, id, clientName: text };
      const reference = Request.encode(Request.fromObject({ ...req, params: toStruct(params) })).finish();
      assert.deepEqual(Buffer.from(encodeRequest(req)), Buffer.from(reference));
      const res = { id, error: { code: code | 0, message: text, data: params } };
      const refRes = Response.encode(
        Response.fromObject({ id, error: { code: code | 0, message: text, data: toStruct(params) } }),
      ).finish();
      assert.deepEqual(Buffer.from(encodeResponse(res)), Buffer.from(refRes));
      const ok = Response.encode(Response.fromObject({ id, result: toStruct(params) })).finish();
      assert.deepEqual(Buffer.from(encodeResponse({ id, result: params })), Buffer.from(ok));
    }),
    { numRuns: 500 },
  );
});

test('long and non-ASCII strings, numbers at the edges and the int32 extremes keep their values', () => {
  const params: JsonObject = {
    long: 'x'.repeat(70_000),
    longUnicode: '€😀'.repeat(5_000),
    nums: [0, -0, 1e308, -1e-308, Number.MAX_SAFE_INTEGER, 0.1],
  };
  const back = decodeRequest(encodeRequest({ method: 'a.b', params, id: 'ü', clientName: '' }));
  assert.deepEqual(back, { method: 'a.b', params, id: 'ü', clientName: '' });
  for (const code of [-2147483648, -1, 2147483647, -32601]) {
    assert.equal(
      decodeResponse(encodeResponse({ id: 'x', error: { code, message: 'm' } })).error?.code,
      code,
    );
  }
});

test('a lone surrogate is sent as U+FFFD, and a value nested too deeply is refused', () => {
  const back = decodeRequest(
    encodeRequest({ method: 'a.b', params: { s: 'a\ud800b' }, id: '', clientName: '' }),
  );
  assert.equal(back.params.s, 'a\ufffdb');
  let deep: JsonValue = 1;
  for (let i = 0; i < 60; i++) deep = { d: deep };
  assert.throws(
    () => encodeRequest({ method: 'a.b', params: { deep }, id: '', clientName: '' }),
    (e: unknown) => e instanceof CodecError && /nested too deeply/.test(e.message),
  );
});

test('a constant object (kept encoding) gives the same bytes as a plain one, is frozen, and keeps the depth bound', () => {
  const view = { name: 'hd-1', groups: ['a', 'b'], settings: { n: 1, deep: { x: [null, true] } } };
  const constant = constantJson(view);
  assert.notEqual(constant, view);
  const wrap = (entry: JsonObject): Uint8Array =>
    encodeResponse({ id: 'x', result: { serverInfo: entry, params: { _client: { name: 'hd-1', entry } } } });
  assert.deepEqual(Buffer.from(wrap(constant)), Buffer.from(wrap(view)));
  assert.deepEqual(Buffer.from(wrap(constant)), Buffer.from(wrap(view)), 'second use, from the kept bytes');
  assert.throws(() => {
    (constant.settings as JsonObject).n = 2;
  }, TypeError);
  // 45 levels of {d: ...} around a constant 10 levels deep: only the sum is over the bound.
  let inner: JsonValue = 1;
  for (let i = 0; i < 10; i++) inner = { d: inner };
  const deepConstant = constantJson(inner as JsonObject);
  let outer: JsonValue = deepConstant;
  for (let i = 0; i < 45; i++) outer = { d: outer };
  assert.throws(
    () => encodeRequest({ method: 'a.b', params: { outer }, id: '', clientName: '' }),
    (e: unknown) => e instanceof CodecError && /nested too deeply/.test(e.message),
  );
  let shallow: JsonValue = deepConstant;
  for (let i = 0; i < 30; i++) shallow = { d: shallow };
  assert.ok(encodeRequest({ method: 'a.b', params: { shallow }, id: '', clientName: '' }).length > 0);
});

test('short strings decode right through the table of recent ones, collisions included', () => {
  // 5,000 distinct short keys and values over 1,024 table slots: many share a slot.
  const params: JsonObject = {};
  for (let i = 0; i < 5_000; i++) params[`k${i.toString(36)}`] = `v${(i * 7919).toString(36)}é`;
  const bytes = encodeRequest({ method: 'a.b', params, id: 'a.b(1)', clientName: 'hd-1' });
  for (let round = 0; round < 2; round++) assert.deepEqual(decodeRequest(bytes).params, params);
  // Invalid UTF-8 reads as Buffer reads it (U+FFFD), the first time and from the table.
  const invalid = Buffer.from([0x1a, 0x03, 0x61, 0xff, 0x62]); // field 3 (id), 3 bytes: a, 0xff, b
  for (let round = 0; round < 2; round++) assert.equal(decodeRequest(invalid).id, 'a\ufffdb');
});

test('the table of short strings keeps copies: a received buffer changed later does not change what it decodes', () => {
  // Two ids in the same slot of the 1,024 (FNV-1a of their bytes, as src/grpc/short-strings.ts picks it).
  const slot = (text: string): number => {
    let hash = 0x811c9dc5;
    for (const byte of Buffer.from(text)) hash = Math.imul(hash ^ byte, 0x01000193);
    return (hash >>> 0) & 1023;
  };
  // Same length (a shorter or longer one never matches), same slot.
  const id = (i: number): string => `id-${i.toString(36).padStart(4, '0')}`;
  const first = id(0);
  let i = 1;
  while (slot(id(i)) !== slot(first)) i++;
  const second = id(i);
  const message = (id: string): Buffer =>
    Buffer.from(encodeRequest({ method: 'a.b', params: {}, id, clientName: '' }));
  const received = message(first);
  assert.equal(decodeRequest(received).id, first);
  // The receive buffer is reused for the other id: a table holding a view would now match it.
  message(second).copy(received);
  assert.equal(decodeRequest(message(second)).id, second);
});
