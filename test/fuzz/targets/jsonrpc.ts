/**
 * JSON-RPC parser harness: the gateway's request extraction (src/jsonrpc/extract.ts) and the client's reply
 * decoding (client.ts decodeReply), both behind the nesting bound of json-depth.ts. The input is a body.
 * Asserted: extractRequest never throws and answers 400 with an encodable JSON-RPC body or a valid
 * request; decodeReply throws only JsonRpcClientError; whatever is accepted encodes again (encodeJson,
 * which recurses) without error; and the depth scanner agrees with the real nesting of every body that
 * JSON.parse accepts (what it lets through nests at most MAX_JSON_DEPTH levels).
 */
import fc from 'fast-check';
import { decodeReply, JsonRpcClientError } from '../../../src/jsonrpc/client.js';
import { extractRequest, MAX_METHOD_LENGTH } from '../../../src/jsonrpc/extract.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../../../src/jsonrpc/json-depth.js';
import { encodeJson } from '../../../src/jsonrpc/write.js';
import type { Rng } from '../engine/rng.js';
import type { FuzzTarget } from '../engine/types.js';
import { bound, check, onlyTypedErrors } from './checks.js';

/** Nesting of a parsed value, without recursion (the value may be deep: that is the point). */
export function nesting(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    for (const child of Object.values(v)) stack.push([child, here]);
  }
  return deepest;
}

function checkDepthScanner(text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return; // not JSON: the scanner's verdict does not matter, JSON.parse refuses it
  }
  // One way only: a repeated key can make the value shallower than its text, never deeper.
  if (!exceedsJsonDepth(text))
    bound('nesting of a body the depth scanner let through', nesting(parsed), MAX_JSON_DEPTH);
}

function run(input: Buffer): void {
  const extracted = extractRequest('application/json', input);
  if (extracted.ok) {
    const { method, params, id } = extracted.request;
    check('method is a string', typeof method === 'string' && method.length >= 1);
    bound('method bytes', Buffer.byteLength(method), MAX_METHOD_LENGTH);
    check('params is an object', typeof params === 'object' && params !== null && !Array.isArray(params));
    check(
      'id is a string, an integer or absent',
      id === undefined || typeof id === 'string' || Number.isInteger(id),
    );
    encodeJson(extracted.request);
  } else {
    check(`status 400 for a refused body, not ${extracted.status}`, extracted.status === 400);
    encodeJson(extracted.body);
  }
  onlyTypedErrors(() => encodeJson(decodeReply(input)), [JsonRpcClientError]);
  checkDepthScanner(input.toString('utf8'));
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

function seeds(): Buffer[] {
  return [
    json({
      jsonrpc: '2.0',
      method: 'proxy.call',
      params: { to: 'hd-1', payload: { a: [1, 2, { b: 'c' }] } },
      id: 1,
    }),
    json({ jsonrpc: '2.0', method: 'x', params: {}, id: 'abc' }),
    json({ jsonrpc: '2.0', result: { _: [1, 'two'] }, id: '7' }),
    json({ jsonrpc: '2.0', error: { code: -32601, message: 'no such method', data: { why: 'x' } }, id: '1' }),
    Buffer.from(
      `{"jsonrpc":"2.0","method":"m","params":{"s":"\\"[\\\\"},"x":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`,
    ),
  ];
}

function generate(rng: Rng, count: number): Buffer[] {
  const value = fc.jsonValue({ maxDepth: 6 });
  const request = fc.record({
    jsonrpc: fc.oneof(fc.constant('2.0'), value),
    method: fc.oneof(fc.string({ maxLength: 120 }), value),
    params: fc.oneof(fc.dictionary(fc.string(), value), value),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.double()),
  });
  // Nesting around the limit, behind strings with quotes and backslashes (what a depth scanner trips on).
  const tricky = fc.oneof(fc.constantFrom('"', '\\', '\\"', 'a"[', '{"'), fc.string({ maxLength: 6 }));
  const deep = fc
    .tuple(
      fc.integer({ min: MAX_JSON_DEPTH - 2, max: MAX_JSON_DEPTH + 2 }),
      fc.boolean(),
      fc.array(tricky, { maxLength: 3 }),
    )
    .map(([n, arrays, strings]) => {
      const nested = arrays ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
      return `[${[...strings.map((t) => JSON.stringify(t)), nested].join(',')}]`;
    });
  return fc
    .sample(
      fc.oneof(
        request.map((r) => JSON.stringify(r)),
        deep,
        value.map((v) => JSON.stringify(v)),
      ),
      {
        seed: rng.next() | 0,
        numRuns: count,
      },
    )
    .map((text) => Buffer.from(text));
}

export const jsonRpcTarget: FuzzTarget = {
  name: 'jsonrpc',
  maxInputBytes: 16 * 1024,
  sources: ['/src/jsonrpc/extract', '/src/jsonrpc/json-depth', '/src/jsonrpc/client', '/src/jsonrpc/write'],
  dictionary: [
    '"jsonrpc"',
    '"2.0"',
    '"method"',
    '"params"',
    '"id"',
    '"result"',
    '"error"',
    '"code"',
    '{',
    '}',
    '[',
    ']',
    '"',
    '\\',
    '\\"',
    ':',
    ',',
    'null',
    '1e999',
    '-0',
    '\\u0000',
    '"\\ud800"',
  ].map((t) => Buffer.from(t)),
  seeds,
  generate,
  run,
};
