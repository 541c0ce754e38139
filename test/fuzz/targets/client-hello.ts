/**
 * ClientHello parser harness (src/tls/client-hello.ts, the proxy's SNI reader): the input is the first bytes
 * of a connection. Asserted: only ClientHelloError escapes; an incomplete verdict asks for more bytes than
 * are there and no more than the cap; a complete one stays inside the buffer with a valid host name; every
 * proper prefix of a complete hello is incomplete (never an error); re-cutting the same handshake message
 * into other TLS records gives the same server name and hello length. Parsed with the default cap and a
 * small one (512 bytes), so the "too-large" path is reached too.
 */
import fc from 'fast-check';
import {
  ClientHelloError,
  DEFAULT_MAX_CLIENT_HELLO_BYTES,
  MAX_SERVER_NAME_LENGTH,
  parseClientHello,
  type ClientHelloParseResult,
} from '../../../src/tls/client-hello.js';
import {
  PADDING_EXTENSION,
  appendExtension,
  buildHelloMessage,
  serverNameData,
  captureClientHello,
  handshakeMessageOf,
  wrapRecords,
} from '../../helpers/tls-hello.js';
import type { Rng } from '../engine/rng.js';
import type { FuzzTarget } from '../engine/types.js';
import { bound, check, onlyTypedErrors, same } from './checks.js';

const HOST = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$/;
const SMALL_CAP = 512;

function parse(buf: Buffer, maxBytes: number): ClientHelloParseResult | undefined {
  let result: ClientHelloParseResult | undefined;
  onlyTypedErrors(() => {
    result = parseClientHello(buf, { maxBytes });
  }, [ClientHelloError]);
  return result;
}

function checkOne(buf: Buffer, maxBytes: number): void {
  const result = parse(buf, maxBytes);
  if (!result) return;
  if (!result.complete) {
    check(`needed ${result.needed} exceeds the ${buf.length} bytes there`, result.needed > buf.length);
    bound('bytes asked for', result.needed, maxBytes);
    return;
  }
  bound('consumed', result.consumed, Math.min(buf.length, maxBytes));
  bound('hello length', result.helloLength, result.consumed);
  check('at least one record', result.recordCount >= 1);
  if (result.serverName !== undefined) {
    check(`server name ${JSON.stringify(result.serverName)} is a host name`, HOST.test(result.serverName));
    bound('server name length', result.serverName.length, MAX_SERVER_NAME_LENGTH);
  }
  const records = buf.subarray(0, result.consumed);
  for (const cut of [result.consumed - 1, result.consumed >> 1, 5]) {
    if (cut <= 0 || cut >= result.consumed) continue;
    const prefix = parse(records.subarray(0, cut), maxBytes);
    check(`prefix of ${cut} bytes is incomplete`, prefix !== undefined && !prefix.complete);
  }
  const sizes = [1 + (buf[result.consumed - 1]! % 200), 1 + (buf[7 % buf.length]! % 50), 300];
  const again = wrapRecords(handshakeMessageOf(records), sizes);
  if (again.length > maxBytes) return;
  const refragmented = parse(again, maxBytes);
  check('re-cut hello parses complete', refragmented?.complete === true);
  if (refragmented?.complete) {
    same(
      're-cut hello',
      [refragmented.serverName, refragmented.helloLength],
      [result.serverName, result.helloLength],
    );
  }
}

function run(input: Buffer): void {
  checkOne(input, DEFAULT_MAX_CLIENT_HELLO_BYTES);
  checkOne(input, SMALL_CAP);
}

async function seeds(): Promise<Buffer[]> {
  const withSni = await captureClientHello('fuzz.example.test');
  const withoutSni = await captureClientHello();
  const message = handshakeMessageOf(withSni);
  return [
    withSni,
    withoutSni,
    wrapRecords(message, [40, 1, 100]),
    wrapRecords(appendExtension(message, { type: PADDING_EXTENSION, data: Buffer.alloc(3000) })),
  ];
}

/** Plausible record and handshake headers in front of random bytes, as the old property test had. */
const plausibleArb = fc
  .tuple(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 700 }))
  .map(([bytes, length]) =>
    Buffer.concat([
      Buffer.from([22, 3, 1, length >> 8, length & 0xff, 1, 0, (length - 4) >> 8, 0, 3, 3]),
      bytes,
    ]),
  );

/** Well-formed hellos carrying odd server names (edge characters, lengths, name types, several entries). */
const hostArb = fc.oneof(
  fc.stringMatching(/^[-.a-zA-Z0-9_]{0,70}$/),
  fc.constantFrom(
    '-a.test',
    'a-.test',
    'a..b',
    '.a',
    'a.',
    'A'.repeat(63),
    'a'.repeat(64),
    `${'a.'.repeat(126)}a`,
    'a\0b',
  ),
);
const builtArb = fc
  .tuple(
    hostArb,
    fc.constantFrom(0, 0, 1, 255),
    fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 3 }),
    fc.boolean(),
  )
  .map(([host, nameType, sizes, twice]) => {
    const sni = serverNameData(host, nameType);
    const extensions = [{ type: 0, data: twice ? Buffer.concat([sni, sni.subarray(2)]) : sni }];
    return wrapRecords(buildHelloMessage({ extensions }), sizes);
  });

function generate(rng: Rng, count: number): Buffer[] {
  return fc.sample(fc.oneof(plausibleArb, builtArb), { seed: rng.next() | 0, numRuns: count });
}

export const clientHelloTarget: FuzzTarget = {
  name: 'client-hello',
  maxInputBytes: DEFAULT_MAX_CLIENT_HELLO_BYTES + 64,
  sources: ['/src/tls/client-hello'],
  dictionary: [
    Buffer.from([22, 3, 1]),
    Buffer.from([0, 0]),
    Buffer.from([3, 3]),
    Buffer.from('example.test'),
    Buffer.from([0xff, 0xff]),
  ],
  seeds,
  generate,
  run,
};
