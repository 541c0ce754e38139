// Property-based fuzzing of the ClientHello reader (readClientHello) with fast-check: real and mutated
// hellos cut at random TCP split points, over an in-memory stream and over real TCP. The parser itself
// (random bytes, mutations, truncations, re-fragmented records) is the client-hello fuzz target
// (test/fuzz/targets/client-hello.ts, kept corpus in fuzz/corpus/client-hello/).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import {
  ClientHelloError,
  parseClientHello,
  readClientHello,
  type ClientHelloParseResult,
  type ClientHelloRead,
} from '../../src/tls/client-hello.js';
import {
  PADDING_EXTENSION,
  appendExtension,
  captureClientHello,
  handshakeMessageOf,
  wrapRecords,
} from '../helpers/tls-hello.js';
import { listen, pair, type Listener } from '../helpers/net-pair.js';
import { waitFor } from '../helpers/wait.js';

/** Parses, allowing only ClientHelloError to escape (anything else fails the property). */
function parseOrError(buf: Buffer): ClientHelloParseResult | ClientHelloError {
  try {
    return parseClientHello(buf);
  } catch (error) {
    if (error instanceof ClientHelloError) return error;
    throw error;
  }
}

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let buf = Buffer.from(input);
  for (const m of mutations) {
    if (buf.length === 0) break;
    const at = m.at % buf.length;
    if (m.kind === 'set') buf[at] = m.value;
    else if (m.kind === 'truncate') buf = buf.subarray(0, at);
    else if (m.kind === 'insert') buf = Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
    else buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.count)]);
  }
  return buf;
}

/** Cuts a buffer into chunks at the given (unsorted, possibly repeated) positions. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (buf.length === 0 ? 0 : c % buf.length)))]
    .filter((c) => c > 0)
    .sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const point of points) {
    chunks.push(buf.subarray(last, point));
    last = point;
  }
  chunks.push(buf.subarray(last));
  return chunks.filter((c) => c.length > 0);
}

function summary(result: ClientHelloRead | ClientHelloParseResult | ClientHelloError): unknown {
  if (result instanceof ClientHelloError) return { error: result.code };
  if ('complete' in result && !result.complete) return { complete: false };
  return {
    serverName: result.serverName,
    helloLength: result.helloLength,
    recordCount: result.recordCount,
    consumed: result.consumed,
  };
}

/** Feeds chunks into an in-memory duplex (one per macrotask) and ends it; the reader must settle. */
async function readChunks(chunks: Buffer[]): Promise<ClientHelloRead | ClientHelloError> {
  const stream = new PassThrough();
  const reading = readClientHello(stream, { timeoutMs: 30_000, requireServerName: false }).catch(
    (error: unknown) => {
      if (error instanceof ClientHelloError) return error;
      throw error;
    },
  );
  for (const chunk of chunks) {
    stream.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  stream.end();
  const result = await reading;
  stream.destroy();
  return result;
}

describe('ClientHello reader fuzzing', () => {
  let hellos: Buffer[] = [];
  let listener: Listener;

  before(async () => {
    const withSni = await captureClientHello('fuzz.example.test');
    const withoutSni = await captureClientHello();
    const big = wrapRecords(
      appendExtension(handshakeMessageOf(withSni), { type: PADDING_EXTENSION, data: Buffer.alloc(3000, 0) }),
    );
    hellos = [withSni, withoutSni, big];
    listener = await listen();
  });
  after(async () => {
    await listener.close();
  });

  const helloArb = (): fc.Arbitrary<Buffer> => fc.nat({ max: 2 }).map((i) => hellos[i] ?? Buffer.alloc(0));

  it('the reader gives the unsplit result for any split points (in-memory stream)', async () => {
    await fc.assert(
      fc.asyncProperty(
        helloArb(),
        fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (hello, sizes, cuts) => {
          const records = wrapRecords(handshakeMessageOf(hello), sizes);
          const whole = await readChunks([records]);
          const pieces = await readChunks(split(records, cuts));
          assert.deepEqual(summary(pieces), summary(whole));
          assert.deepEqual(summary(whole), summary(parseClientHello(records)));
          if (!(pieces instanceof ClientHelloError)) assert.ok(pieces.buffered.equals(records));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the reader settles on mutated input split anywhere, with the parser verdict (in-memory stream)', async () => {
    await fc.assert(
      fc.asyncProperty(
        helloArb(),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (hello, mutations, cuts) => {
          const buf = mutate(hello, mutations);
          const result = await readChunks(split(buf, cuts));
          if (result instanceof ClientHelloError) {
            assert.notEqual(result.code, 'timeout');
            const verdict = parseOrError(buf);
            const context = `${result.message} / ${verdict instanceof ClientHelloError ? verdict.message : JSON.stringify(verdict)}`;
            if (verdict instanceof ClientHelloError) assert.equal(result.code, verdict.code, context);
            else assert.equal(result.code, 'closed', context);
          } else {
            assert.deepEqual(summary(result), summary(parseClientHello(buf)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the reader gives the same result over real TCP for random splits', async () => {
    await fc.assert(
      fc.asyncProperty(
        helloArb(),
        fc.boolean(),
        fc.array(mutationArb, { maxLength: 2 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (hello, doMutate, mutations, cuts) => {
          const buf = doMutate ? mutate(hello, mutations) : hello;
          const { client, server } = await pair(listener, { noDelay: true });
          let settled = false;
          const reading = readClientHello(server, { timeoutMs: 30_000, requireServerName: false })
            .catch((error: unknown) => {
              if (error instanceof ClientHelloError) return error;
              throw error;
            })
            .finally(() => {
              settled = true;
            });
          let sent = 0;
          for (const chunk of split(buf, cuts)) {
            if (settled) break;
            client.write(chunk);
            sent += chunk.length;
            await waitFor(() => settled || server.bytesRead >= sent, {
              timeoutMs: 5_000,
              what: 'the server to read the chunk',
              intervalMs: 0,
            });
          }
          client.end();
          const result = await reading;
          client.destroy();
          server.destroy();
          const verdict = parseOrError(buf);
          if (result instanceof ClientHelloError) {
            assert.notEqual(result.code, 'timeout');
            assert.equal(result.code, verdict instanceof ClientHelloError ? verdict.code : 'closed');
          } else {
            assert.deepEqual(summary(result), summary(verdict));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
