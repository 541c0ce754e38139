/**
 * Test helpers for TLS ClientHello bytes: capture a real hello from node:tls, build hellos by hand, and
 * re-wrap a handshake message into TLS records of chosen sizes. Independent of src/tls/client-hello.ts.
 */
import net from 'node:net';
import tls from 'node:tls';

const RECORD_HEADER = 5;
const MAX_FRAGMENT = 16_384;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}

/** Connects a node:tls client (with `servername` when given) to a throw-away server; returns its first record. */
export async function captureClientHello(servername?: string): Promise<Buffer> {
  const server = net.createServer();
  const hello = new Promise<Buffer>((resolve, reject) => {
    server.once('connection', (socket) => {
      let data = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (data.length >= RECORD_HEADER && data.length >= RECORD_HEADER + data.readUInt16BE(3)) {
          resolve(data.subarray(0, RECORD_HEADER + data.readUInt16BE(3)));
          socket.destroy();
        }
      });
      socket.on('error', reject);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = tls.connect({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
    ...(servername ? { servername } : {}),
  });
  client.on('error', () => undefined);
  try {
    return await hello;
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Concatenates the fragments of consecutive handshake records (the whole buffer must be records). */
export function handshakeMessageOf(records: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < records.length) {
    const length = records.readUInt16BE(offset + 3);
    parts.push(records.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length));
    offset += RECORD_HEADER + length;
  }
  return Buffer.concat(parts);
}

/** Wraps a handshake message into handshake records with the given fragment sizes (last one takes the rest). */
export function wrapRecords(message: Buffer, fragmentSizes: number[] = []): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  let i = 0;
  while (offset < message.length) {
    const wanted = fragmentSizes[i++] ?? MAX_FRAGMENT;
    const size = Math.max(1, Math.min(wanted, MAX_FRAGMENT, message.length - offset));
    out.push(Buffer.from([22, 3, 1]), u16(size), message.subarray(offset, offset + size));
    offset += size;
  }
  return Buffer.concat(out);
}

export interface Extension {
  type: number;
  data: Buffer;
}

export interface HelloFields {
  version?: number;
  sessionId?: Buffer;
  cipherSuites?: Buffer;
  compression?: Buffer;
  /** undefined = no extensions block at all */
  extensions?: Extension[];
}

/** Builds a ClientHello handshake message (header included). */
export function buildHelloMessage(fields: HelloFields): Buffer {
  const parts = [
    u16(fields.version ?? 0x0303),
    Buffer.alloc(32, 7),
    Buffer.from([fields.sessionId?.length ?? 0]),
    fields.sessionId ?? Buffer.alloc(0),
  ];
  const suites = fields.cipherSuites ?? Buffer.from([0x13, 0x01, 0x13, 0x02]);
  parts.push(u16(suites.length), suites);
  const compression = fields.compression ?? Buffer.from([0]);
  parts.push(Buffer.from([compression.length]), compression);
  if (fields.extensions !== undefined) {
    const exts = Buffer.concat(
      fields.extensions.map((e) => Buffer.concat([u16(e.type), u16(e.data.length), e.data])),
    );
    parts.push(u16(exts.length), exts);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

/** Builds a complete single-record (or multi-record when large) ClientHello. */
export function buildHello(fields: HelloFields): Buffer {
  return wrapRecords(buildHelloMessage(fields));
}

/** server_name extension data holding the given entries (default: one host_name). */
export function serverNameData(host: string | Buffer, nameType = 0): Buffer {
  const name = typeof host === 'string' ? Buffer.from(host, 'latin1') : host;
  const entry = Buffer.concat([Buffer.from([nameType]), u16(name.length), name]);
  return Buffer.concat([u16(entry.length), entry]);
}

/** Returns a copy of a ClientHello handshake message with an extension appended (lengths fixed up). */
export function appendExtension(message: Buffer, extension: Extension): Buffer {
  let pos = 4 + 2 + 32;
  pos += 1 + message.readUInt8(pos);
  pos += 2 + message.readUInt16BE(pos);
  pos += 1 + message.readUInt8(pos);
  const extLengthAt = pos;
  const added = Buffer.concat([u16(extension.type), u16(extension.data.length), extension.data]);
  const out = Buffer.concat([message, added]);
  out.writeUInt16BE(message.readUInt16BE(extLengthAt) + added.length, extLengthAt);
  out.writeUIntBE(out.length - 4, 1, 3);
  return out;
}

/** Extension type of TLS padding (RFC 7685), handy for growing a hello. */
export const PADDING_EXTENSION = 21;
