/**
 * The pure merge rules (docs/settings.md#merging) and origin lookup, including properties checked on
 * generated trees: null never overrides, merging into nothing copies, inputs are never mutated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { JsonValue } from '../../src/core/json.js';
import { mergeSettings } from '../../src/settings/merge.js';
import { collectOrigins, originOf, stampOrigins } from '../../src/settings/origins.js';

/** JSON trees whose map keys never end in `!` (so merging them is a plain copy). */
const plainJson: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.string(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.string().filter((key) => !key.endsWith('!') && key !== '__proto__'),
      tie('value'),
      { maxKeys: 4, noNullPrototype: true },
    ),
  ),
})).value;

describe('settings merge rules', () => {
  it('merges maps, concatenates lists, replaces scalars, keeps A over a null B', () => {
    const a = { m: { x: 1, l: [1] }, s: 'a', k: 'keep', n: null, t: [1] };
    const b = { m: { y: 2, l: [2] }, s: 'b', k: null, n: 'set', t: { now: 'map' } };
    assert.deepEqual(mergeSettings(a, b), {
      m: { x: 1, l: [1, 2], y: 2 },
      s: 'b',
      k: 'keep',
      n: 'set',
      t: { now: 'map' },
    });
  });

  it('replaces wholesale with key! at any depth, also where the key is new', () => {
    const a = { a: { b: { c: [1, 2], d: 1 } } };
    assert.deepEqual(mergeSettings(a, { a: { 'b!': { c: [3] } } }), { a: { b: { c: [3] } } });
    assert.deepEqual(mergeSettings(a, { a: { b: { 'c!': [3] } } }), { a: { b: { c: [3], d: 1 } } });
    assert.deepEqual(mergeSettings({}, { fresh: { 'inner!': [1] } }), { fresh: { inner: [1] } });
    assert.deepEqual(mergeSettings({ l: [1] }, { l: [{ 'x!': 1 }] }), { l: [1, { x: 1 }] });
  });

  it('stores the key __proto__ as an ordinary key', () => {
    const over = JSON.parse('{"__proto__": {"polluted": true}}') as JsonValue;
    const merged = mergeSettings({}, over) as Record<string, unknown>;
    assert.deepEqual(Object.keys(merged), ['__proto__']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('never lets a null override and copies into nothing unchanged', () => {
    fc.assert(
      fc.property(plainJson, (value) => {
        assert.deepEqual(mergeSettings(value, null), value);
        assert.deepEqual(mergeSettings(undefined, value), value);
      }),
    );
  });

  it('never mutates its inputs and concatenates list lengths', () => {
    fc.assert(
      fc.property(plainJson, plainJson, (a, b) => {
        const before = [structuredClone(a), structuredClone(b)];
        const merged = mergeSettings(a, b);
        assert.deepEqual([a, b], before);
        if (Array.isArray(a) && Array.isArray(b))
          assert.equal((merged as JsonValue[]).length, a.length + b.length);
      }),
    );
  });
});

describe('settings origins', () => {
  it('follows values through merges and blames a missing key on its parent', () => {
    const a: JsonValue = { tls: { ca: ['/a'] }, list: [1] };
    const b: JsonValue = { tls: { key: '/k' }, list: [2] };
    stampOrigins(a, '/one.yml');
    stampOrigins(b, '/two.yml');
    const origins = collectOrigins(mergeSettings(a, b));
    assert.equal(origins.get('tls'), '/two.yml');
    assert.equal(origins.get('tls.ca.0'), '/one.yml');
    assert.equal(origins.get('tls.key'), '/two.yml');
    assert.equal(origins.get('list.1'), '/two.yml');
    assert.equal(originOf(origins, ['tls', 'ca', 'missing']), '/one.yml');
    assert.equal(originOf(origins, ['nothing']), undefined);
  });
});
