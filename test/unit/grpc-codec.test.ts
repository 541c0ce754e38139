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
