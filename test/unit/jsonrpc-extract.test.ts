import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractRequest } from '../../src/jsonrpc/extract.js';
import { encodeJson } from '../../src/jsonrpc/write.js';

const json = 'application/json';
const ex = (body: unknown, ct = json) =>
  extractRequest(ct, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
const reason = (r: ReturnType<typeof extractRequest>): string => {
  assert.equal(r.ok, false);
  if (r.ok) return '';
  return r.body.error!.message;
};

test('wrong content type and non-object bodies give the exact -32700 reply (checklist 1, 2)', () => {
  const expected = '{"jsonrpc":"2.0,","error":{"code":-32700,"message":"JSON required"},"id":null}';
  for (const r of [ex({}, 'text/plain'), ex([]), ex('"x"'), ex('{bad'), ex('5')]) {
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.status, 400);
      assert.equal(encodeJson(r.body), expected);
    }
  }
  const ok = { jsonrpc: '2.0', method: 'a.b', params: {} };
  assert.equal(ex(ok, 'application/json; charset=utf-8').ok, true);
  assert.equal(ex(ok, 'APPLICATION/JSON').ok, true);
});

test('missing params gives the exact form error (checklist 3)', () => {
  const r = ex({ jsonrpc: '2.0', method: 'a.b' });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(
      encodeJson(r.body),
      '{"jsonrpc":"2.0,","error":{"code":-32600,"message":"invalid request: invalid input data: params(not a map)","data":{"message":"invalid input data: params(not a map)","code":"FORM-ERROR","data":{"params":"not a map"},"traceback":[]}},"id":null}',
    );
  }
});

test('field validation reasons (checklist 4, 5, 6)', () => {
  assert.match(
    reason(ex({ jsonrpc: '1.0', method: 'a.b', params: {} })),
    /jsonrpc\(invalid choice, must be one of: 2.0\)/,
  );
  assert.match(
    reason(ex({ jsonrpc: '2.0', method: 'x'.repeat(101), params: {} })),
    /method\(must be at most 100 characters long\)/,
  );
  assert.match(
    reason(ex({ jsonrpc: '2.0', method: '', params: {} })),
    /method\(must be at least 1 characters long\)/,
  );
  for (const id of ['5.5', '2147483648', 'true', '{}']) {
    assert.match(
      reason(ex(`{"jsonrpc":"2.0","method":"a.b","params":{},"id":${id}}`)),
      /id\(no possible option worked out\)/,
    );
  }
  for (const id of ['5', '5.0', '1e3']) {
    const r = ex(`{"jsonrpc":"2.0","method":"a.b","params":{},"id":${id}}`);
    assert.equal(r.ok, true);
    if (r.ok) assert.equal(typeof r.request.id, 'number');
  }
  const long = ex({ jsonrpc: '2.0', method: 'a.b', params: {}, id: 'x'.repeat(1025) });
  assert.equal(long.ok, false);
});
