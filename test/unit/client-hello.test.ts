// Tests of the ClientHello parser (hand-built and real node:tls hellos) and of the socket reader.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientHelloError,
  parseClientHello,
  readClientHello,
  type ClientHelloErrorCode,
} from '../../src/tls/client-hello.js';
import {
  PADDING_EXTENSION,
  appendExtension,
  buildHello,
  buildHelloMessage,
  captureClientHello,
  handshakeMessageOf,
  serverNameData,
  wrapRecords,
} from '../helpers/tls-hello.js';
import { activeTimers, listen, pair, waitForBytesRead, type Listener } from '../helpers/net-pair.js';

function sniHello(host: string | Buffer, nameType = 0): Buffer {
  return buildHello({ extensions: [{ type: 0, data: serverNameData(host, nameType) }] });
}

function expectCode(fn: () => unknown, code: ClientHelloErrorCode): void {
  assert.throws(fn, (error: unknown) => error instanceof ClientHelloError && error.code === code);
}

async function expectRejects(promise: Promise<unknown>, code: ClientHelloErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof ClientHelloError && error.code === code);
}

describe('parseClientHello', () => {
  it('reads the SNI vector for localhost from the reference', () => {
    const ext = Buffer.from('0000000e000c0000096c6f63616c686f7374', 'hex');
    assert.equal(ext.length, 18);
    const hello = buildHello({ extensions: [{ type: 0, data: ext.subarray(4) }] });
    const result = parseClientHello(hello);
    assert.equal(result.complete, true);
    assert.ok(result.complete);
    assert.equal(result.serverName, 'localhost');
    assert.equal(result.consumed, hello.length);
    assert.equal(result.recordCount, 1);
  });

  it('parses a real node:tls hello and ignores bytes after it', async () => {
    const hello = await captureClientHello('Service.Example.test');
    const result = parseClientHello(Buffer.concat([hello, Buffer.from('trailing')]));
    assert.ok(result.complete);
    assert.equal(result.serverName, 'Service.Example.test');
    assert.equal(result.consumed, hello.length);
  });

  it('reports no server name for a hello without SNI and for a non-host_name entry', async () => {
    const noSni = await captureClientHello();
    const result = parseClientHello(noSni);
    assert.ok(result.complete);
    assert.equal(result.serverName, undefined);
    const other = parseClientHello(sniHello('example.test', 1));
    assert.ok(other.complete);
    assert.equal(other.serverName, undefined);
    const empty = parseClientHello(buildHello({ extensions: [] }));
    assert.ok(empty.complete);
    assert.equal(empty.serverName, undefined);
  });

  it('returns incomplete with a growing `needed` for every proper prefix', () => {
    const hello = sniHello('a.example.test');
    for (let n = 0; n < hello.length; n++) {
      const result = parseClientHello(hello.subarray(0, n));
      assert.equal(result.complete, false, `prefix ${n}`);
      if (!result.complete) assert.ok(result.needed > n);
    }
  });

  it('reassembles a hello spread over several TLS records', () => {
    const message = buildHelloMessage({ extensions: [{ type: 0, data: serverNameData('multi.example') }] });
    const records = wrapRecords(message, [1, 3, 10, 2]);
    const result = parseClientHello(records);
    assert.ok(result.complete);
    assert.equal(result.serverName, 'multi.example');
    assert.equal(result.recordCount, 5);
    assert.equal(result.helloLength, message.length);
  });

  it('accepts a hello larger than one record when maxBytes allows it', () => {
    const message = appendExtension(
      buildHelloMessage({ extensions: [{ type: 0, data: serverNameData('big.example') }] }),
      { type: PADDING_EXTENSION, data: Buffer.alloc(20_000) },
    );
    const records = wrapRecords(message);
    expectCode(() => parseClientHello(records), 'too-large');
    const result = parseClientHello(records, { maxBytes: 32_000 });
    assert.ok(result.complete);
    assert.equal(result.serverName, 'big.example');
    assert.equal(result.recordCount, 2);
  });

  it('rejects too-large hellos from the header alone', () => {
    const header = Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0x00, 0x50, 0x00]);
    expectCode(() => parseClientHello(header), 'too-large');
    expectCode(() => parseClientHello(header.subarray(0, 9), { maxBytes: 1000 }), 'too-large');
  });

  it('rejects non-handshake data and non-ClientHello handshakes', () => {
    expectCode(() => parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), 'not-handshake');
    expectCode(() => parseClientHello(Buffer.from([0x80, 0x2e, 0x01])), 'not-handshake');
    expectCode(() => parseClientHello(Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0])), 'not-handshake');
  });

  it('rejects invalid records', () => {
    expectCode(() => parseClientHello(Buffer.from([22, 3, 1, 0, 0])), 'malformed');
    expectCode(() => parseClientHello(Buffer.from([22, 3, 1, 0x40, 0x01])), 'malformed');
    const message = buildHelloMessage({ extensions: [] });
    const records = wrapRecords(message, [10]);
    const alert = Buffer.from(records);
    alert[15] = 21;
    expectCode(() => parseClientHello(alert), 'malformed');
  });

  it('requires client_version 0x0303 (parity)', () => {
    expectCode(
      () => parseClientHello(buildHello({ version: 0x0301, extensions: [] })),
      'unsupported-version',
    );
  });

  it('rejects malformed bodies', () => {
    expectCode(() => parseClientHello(buildHello({})), 'malformed'); // no extensions block
    expectCode(
      () => parseClientHello(buildHello({ sessionId: Buffer.alloc(33), extensions: [] })),
      'malformed',
    );
    expectCode(
      () => parseClientHello(buildHello({ cipherSuites: Buffer.from([0x13, 0x01, 0x13]), extensions: [] })),
      'malformed',
    );
    const message = buildHelloMessage({ extensions: [{ type: 0, data: serverNameData('x.test') }] });
    const shortened = Buffer.from(message);
    shortened.writeUIntBE(message.length - 5, 1, 3); // handshake length cuts the last byte off
    expectCode(() => parseClientHello(wrapRecords(shortened.subarray(0, message.length - 1))), 'malformed');
    expectCode(
      () =>
        parseClientHello(
          buildHello({
            extensions: [
              { type: 0, data: serverNameData('a.test') },
              { type: 0, data: serverNameData('b.test') },
            ],
          }),
        ),
      'malformed',
    );
  });

  it('checks the server_name list length in both directions (the original accepted larger ones)', () => {
    const data = serverNameData('example.test');
    const larger = Buffer.from(data);
    larger.writeUInt16BE(data.readUInt16BE(0) + 5);
    const smaller = Buffer.from(data);
    smaller.writeUInt16BE(data.readUInt16BE(0) - 1);
    for (const bad of [larger, smaller, Buffer.from([0]), Buffer.from([0, 0])]) {
      expectCode(() => parseClientHello(buildHello({ extensions: [{ type: 0, data: bad }] })), 'malformed');
    }
    const twoEntries = Buffer.concat([
      serverNameData('a.test').subarray(2),
      serverNameData('b.test').subarray(2),
    ]);
    const list = Buffer.concat([Buffer.from([0, twoEntries.length]), twoEntries]);
    expectCode(() => parseClientHello(buildHello({ extensions: [{ type: 0, data: list }] })), 'malformed');
  });

  it('applies the host name rules', () => {
    for (const good of ['localhost', 'UPPER.Example', '127.0.0.1', 'a-.b', `${'a'.repeat(63)}.x`]) {
      const result = parseClientHello(sniHello(good));
      assert.ok(result.complete);
      assert.equal(result.serverName, good);
    }
    const bad = ['', 'trailing.', 'under_score.x', '-lead.x', 'a..b', `${'a'.repeat(64)}.x`, 'a'.repeat(254)];
    for (const host of bad) expectCode(() => parseClientHello(sniHello(host)), 'malformed');
    expectCode(() => parseClientHello(sniHello(Buffer.from('bücher.de', 'utf8'))), 'malformed');
  });
});

describe('readClientHello on real sockets', () => {
  let listener: Listener;
  let realHello: Buffer;
  before(async () => {
    listener = await listen();
    realHello = await captureClientHello('reader.example.test');
  });
  after(async () => {
    await listener.close();
  });

  it('returns the server name and every byte read, and leaves no timer behind', async () => {
    const { client, server } = await pair(listener);
    const timersBefore = activeTimers();
    const endListeners = server.listenerCount('end');
    const reading = readClientHello(server, { timeoutMs: 5_000 });
    const sent = Buffer.concat([realHello, Buffer.from('early data')]);
    client.write(sent);
    const result = await reading;
    assert.equal(result.serverName, 'reader.example.test');
    assert.equal(result.consumed, realHello.length);
    assert.ok(sent.subarray(0, result.buffered.length).equals(result.buffered));
    assert.equal(activeTimers(), timersBefore);
    assert.equal(server.listenerCount('readable'), 0);
    assert.equal(server.listenerCount('end'), endListeners);
    // Bytes not taken yet stay in the socket for whoever continues.
    const rest =
      result.buffered.length < sent.length ? sent.subarray(result.buffered.length) : Buffer.alloc(0);
    if (rest.length > 0) {
      const more = await new Promise<Buffer>((resolve) => server.once('data', resolve));
      assert.ok(rest.subarray(0, more.length).equals(more));
    }
    client.destroy();
  });

  it('accumulates a hello split over TCP segments and TLS records', async () => {
    const { client, server } = await pair(listener, { noDelay: true });
    const records = wrapRecords(handshakeMessageOf(realHello), [7, 100]);
    const reading = readClientHello(server);
    const cuts = [3, 5, 12, 60, 200, records.length];
    let sent = 0;
    for (const cut of cuts) {
      client.write(records.subarray(sent, cut));
      sent = cut;
      await waitForBytesRead(server, sent);
    }
    const result = await reading;
    assert.equal(result.serverName, 'reader.example.test');
    assert.equal(result.recordCount, 3);
    assert.ok(result.buffered.equals(records));
    client.destroy();
  });

  it('rejects a hello that grows past maxBytes', async () => {
    const { client, server } = await pair(listener);
    const big = wrapRecords(
      appendExtension(handshakeMessageOf(realHello), { type: PADDING_EXTENSION, data: Buffer.alloc(3000) }),
      [500],
    );
    const reading = readClientHello(server, { maxBytes: 2048 });
    client.write(big);
    await expectRejects(reading, 'too-large');
    client.destroy();
  });

  it('times out at its deadline when no complete ClientHello arrives', async (t) => {
    const { client, server } = await pair(listener);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let settled = false;
    const reading = readClientHello(server, { timeoutMs: 10_000 }).finally(() => (settled = true));
    const partial = wrapRecords(handshakeMessageOf(realHello)).subarray(0, 20);
    client.write(partial);
    await waitForBytesRead(server, partial.length);
    t.mock.timers.tick(9_999);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'still waiting just before the deadline');
    t.mock.timers.tick(1);
    await expectRejects(reading, 'timeout');
    assert.equal(server.destroyed, false, 'the caller decides what to do with the socket');
    client.destroy();
  });

  it('fails with closed when the peer ends mid-hello, and no-sni without a server name', async () => {
    const first = await pair(listener);
    const reading = readClientHello(first.server);
    first.client.end(realHello.subarray(0, 40));
    await expectRejects(reading, 'closed');

    const second = await pair(listener);
    const noSni = await captureClientHello();
    const reading2 = readClientHello(second.server);
    second.client.write(noSni);
    await expectRejects(reading2, 'no-sni');

    const third = await pair(listener);
    const reading3 = readClientHello(third.server, { requireServerName: false });
    third.client.write(noSni);
    const result = await reading3;
    assert.equal(result.serverName, undefined);
    first.client.destroy();
    second.client.destroy();
    third.client.destroy();
  });

  it('rejects plain HTTP at once', async () => {
    const { client, server } = await pair(listener);
    const reading = readClientHello(server, { timeoutMs: 5_000 });
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await expectRejects(reading, 'not-handshake');
    client.destroy();
  });
});
