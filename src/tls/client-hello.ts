/**
 * TLS ClientHello reading for the TLS-passthrough proxy: collects the first bytes of a connection until the
 * complete ClientHello handshake message has arrived (split over any number of TCP segments and TLS records),
 * extracts the SNI host name without terminating TLS, and hands back every byte read so it can be replayed
 * to the target. Acceptance rules follow the original proxy (docs/protocol.md#sni-routing) except that
 * every length field is checked against the bytes actually present (the original's server-name-list check
 * was inverted) and record/handshake lengths delimit the message.
 */
import type { Duplex } from 'node:stream';
import { CodedError } from '../core/errors.js';

/** TLS record header: content type (1), legacy version (2), fragment length (2). */
export const TLS_RECORD_HEADER_BYTES = 5;
/** Largest fragment a TLS record may carry (2^14). */
export const TLS_MAX_FRAGMENT_BYTES = 16_384;
/** Default cap on the bytes a ClientHello (records included) may occupy: one full record. */
export const DEFAULT_MAX_CLIENT_HELLO_BYTES = TLS_MAX_FRAGMENT_BYTES + TLS_RECORD_HEADER_BYTES;
/** Default deadline for the whole ClientHello to arrive (the original's 5 s read deadline). */
export const DEFAULT_CLIENT_HELLO_TIMEOUT_MS = 5_000;
/** Longest accepted SNI host name. */
export const MAX_SERVER_NAME_LENGTH = 253;

const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_TYPE_CLIENT_HELLO = 1;
const HANDSHAKE_HEADER_BYTES = 4;
const REQUIRED_CLIENT_VERSION = 0x0303;
const RANDOM_BYTES = 32;
const MAX_SESSION_ID_BYTES = 32;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
/** Labels of 1–63 characters from A–Z a–z 0–9 '-', not starting with '-', separated by single dots. */
const HOST_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$/;

export type ClientHelloErrorCode =
  /** The first record is not a TLS handshake record, or the handshake message is not a ClientHello. */
  | 'not-handshake'
  /** A length or field does not fit the data, or a field value is invalid. */
  | 'malformed'
  /** client_version is not 0x0303 (parity with the original). */
  | 'unsupported-version'
  /** No usable server_name (host_name) in the hello; only raised by readClientHello. */
  | 'no-sni'
  /** The hello would need more bytes than the configured maximum. */
  | 'too-large'
  /** The hello did not complete before the deadline. */
  | 'timeout'
  /** The connection ended, failed or was closed before the hello was complete. */
  | 'closed';

/** Every failure of ClientHello parsing or reading. `code` tells the failure classes apart. */
export class ClientHelloError extends CodedError<ClientHelloErrorCode> {
  constructor(code: ClientHelloErrorCode, message: string, options?: ErrorOptions) {
    super(code, `ClientHello ${code}: ${message}`, options);
    this.name = 'ClientHelloError';
  }
}

/** What was learnt from a complete ClientHello. */
export interface ClientHelloInfo {
  /** Host name of the first server_name extension, as sent (case preserved); absent when none. */
  serverName?: string;
  /** client_version field (always 0x0303 here). */
  clientVersion: number;
  /** Size of the ClientHello handshake message, header included. */
  helloLength: number;
  /** Number of TLS records the message was spread over. */
  recordCount: number;
  /** Buffer offset just after the last record holding part of the hello. */
  consumed: number;
}

export type ClientHelloParseResult =
  /** More bytes are needed; nothing can change before the buffer holds at least `needed` bytes. */
  { complete: false; needed: number } | ({ complete: true } & ClientHelloInfo);

export interface ParseClientHelloOptions {
  /** Cap on the bytes (records included) the hello may occupy; default DEFAULT_MAX_CLIENT_HELLO_BYTES. */
  maxBytes?: number;
}

function malformed(message: string): ClientHelloError {
  return new ClientHelloError('malformed', message);
}

/** Bounds-checked big-endian cursor over one slice. */
class Cursor {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private take(n: number, what: string): number {
    if (n > this.remaining()) throw malformed(`truncated ${what}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    return this.buf.readUInt8(this.take(1, what));
  }

  u16(what: string): number {
    return this.buf.readUInt16BE(this.take(2, what));
  }

  skip(n: number, what: string): void {
    this.take(n, what);
  }

  /** A cursor over the next n bytes; this cursor moves past them. */
  sub(n: number, what: string): Cursor {
    const at = this.take(n, what);
    return new Cursor(this.buf, at, at + n);
  }

  bytes(n: number, what: string): Buffer {
    const at = this.take(n, what);
    return this.buf.subarray(at, at + n);
  }
}

/** Reads the first `count` bytes spread over several fragments (count ≤ total length). */
function peek(fragments: Buffer[], count: number): Buffer {
  const out = Buffer.alloc(count);
  let filled = 0;
  for (const fragment of fragments) {
    if (filled >= count) break;
    filled += fragment.copy(out, filled, 0, Math.min(fragment.length, count - filled));
  }
  return out;
}

/** Validates the 4-byte handshake header; returns the full message length (header included). */
function checkHandshakeHeader(header: Buffer, maxBytes: number): number {
  const type = header.readUInt8(0);
  if (type !== HANDSHAKE_TYPE_CLIENT_HELLO) {
    throw new ClientHelloError('not-handshake', `handshake message type ${type} is not ClientHello`);
  }
  const messageLength = HANDSHAKE_HEADER_BYTES + header.readUIntBE(1, 3);
  if (TLS_RECORD_HEADER_BYTES + messageLength > maxBytes) {
    throw new ClientHelloError(
      'too-large',
      `ClientHello of ${messageLength} bytes exceeds ${maxBytes} bytes`,
    );
  }
  return messageLength;
}

/**
 * Parses a buffer holding the first bytes of a connection. Returns `{complete: false}` while the hello is
 * incomplete but still plausible, the hello's details once complete, and throws ClientHelloError (never
 * anything else) as soon as the bytes cannot be a valid ClientHello. Bytes after the hello are ignored.
 */
export function parseClientHello(buf: Buffer, options: ParseClientHelloOptions = {}): ClientHelloParseResult {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES;
  const incomplete = (needed: number): ClientHelloParseResult => {
    if (needed > maxBytes) {
      throw new ClientHelloError('too-large', `ClientHello records exceed ${maxBytes} bytes`);
    }
    return { complete: false, needed };
  };
  if (buf.length === 0) return incomplete(1);
  if (buf[0] !== CONTENT_TYPE_HANDSHAKE) {
    throw new ClientHelloError('not-handshake', `record content type ${buf[0]} is not handshake (22)`);
  }

  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  let messageLength: number | undefined;
  let offset = 0;
  while (messageLength === undefined || handshakeBytes < messageLength) {
    if (offset + TLS_RECORD_HEADER_BYTES > buf.length) {
      if (offset < buf.length && buf[offset] !== CONTENT_TYPE_HANDSHAKE) {
        throw malformed(`record of content type ${buf[offset]} inside the ClientHello`);
      }
      return incomplete(offset + TLS_RECORD_HEADER_BYTES);
    }
    const contentType = buf.readUInt8(offset);
    if (contentType !== CONTENT_TYPE_HANDSHAKE) {
      throw malformed(`record of content type ${contentType} inside the ClientHello`);
    }
    const fragmentLength = buf.readUInt16BE(offset + 3);
    if (fragmentLength === 0 || fragmentLength > TLS_MAX_FRAGMENT_BYTES) {
      throw malformed(`invalid record length ${fragmentLength}`);
    }
    const start = offset + TLS_RECORD_HEADER_BYTES;
    const end = start + fragmentLength;
    if (end > maxBytes) {
      throw new ClientHelloError('too-large', `ClientHello records exceed ${maxBytes} bytes`);
    }
    const fragment = buf.subarray(start, Math.min(end, buf.length));
    if (messageLength === undefined && handshakeBytes + fragment.length >= HANDSHAKE_HEADER_BYTES) {
      const header = peek([...fragments, fragment], HANDSHAKE_HEADER_BYTES);
      messageLength = checkHandshakeHeader(header, maxBytes);
    }
    if (end > buf.length) {
      // Ask for the handshake header first when it is still unseen, so it is checked as early as possible.
      const headerEnd = start + HANDSHAKE_HEADER_BYTES - handshakeBytes;
      return incomplete(messageLength === undefined ? Math.min(end, headerEnd) : end);
    }
    fragments.push(fragment);
    handshakeBytes += fragmentLength;
    offset = end;
  }

  const message = Buffer.concat(fragments).subarray(HANDSHAKE_HEADER_BYTES, messageLength);
  const body = parseHelloBody(new Cursor(message));
  return {
    complete: true,
    ...body,
    helloLength: messageLength,
    recordCount: fragments.length,
    consumed: offset,
  };
}

/** Parses the ClientHello body (after the handshake header), which must be consumed exactly. */
function parseHelloBody(cursor: Cursor): { serverName?: string; clientVersion: number } {
  const clientVersion = cursor.u16('client_version');
  if (clientVersion !== REQUIRED_CLIENT_VERSION) {
    throw new ClientHelloError(
      'unsupported-version',
      `client_version 0x${clientVersion.toString(16).padStart(4, '0')} is not 0x0303`,
    );
  }
  cursor.skip(RANDOM_BYTES, 'random');
  const sessionIdLength = cursor.u8('session_id length');
  if (sessionIdLength > MAX_SESSION_ID_BYTES) throw malformed(`session_id of ${sessionIdLength} bytes`);
  cursor.skip(sessionIdLength, 'session_id');
  const cipherSuitesLength = cursor.u16('cipher_suites length');
  if (cipherSuitesLength % 2 !== 0) throw malformed('odd cipher_suites length');
  cursor.skip(cipherSuitesLength, 'cipher_suites');
  cursor.skip(cursor.u8('compression_methods length'), 'compression_methods');
  if (cursor.remaining() === 0) throw malformed('no extensions block');
  const extensionsLength = cursor.u16('extensions length');
  if (extensionsLength !== cursor.remaining()) {
    throw malformed(
      `extensions length ${extensionsLength} does not match the ${cursor.remaining()} bytes left`,
    );
  }
  let serverName: string | undefined;
  let sawServerName = false;
  while (cursor.remaining() > 0) {
    const type = cursor.u16('extension type');
    const data = cursor.sub(cursor.u16('extension length'), 'extension data');
    if (type !== EXTENSION_SERVER_NAME) continue;
    if (sawServerName) throw malformed('duplicate server_name extension');
    sawServerName = true;
    serverName = parseServerNameExtension(data);
  }
  return serverName === undefined ? { clientVersion } : { clientVersion, serverName };
}

/** Parses server_name extension data; returns the host name, or undefined for a non-host_name entry. */
function parseServerNameExtension(data: Cursor): string | undefined {
  const listLength = data.u16('server_name list length');
  if (listLength !== data.remaining()) {
    throw malformed(
      `server_name list length ${listLength} does not match the ${data.remaining()} bytes left`,
    );
  }
  const nameType = data.u8('server_name type');
  if (nameType !== NAME_TYPE_HOST_NAME) return undefined;
  const hostLength = data.u16('host_name length');
  if (hostLength !== data.remaining()) {
    throw malformed('server_name list must hold exactly one host_name');
  }
  if (hostLength > MAX_SERVER_NAME_LENGTH) throw malformed(`host name of ${hostLength} bytes is too long`);
  const host = data.bytes(hostLength, 'host_name').toString('latin1');
  if (!HOST_NAME_PATTERN.test(host)) throw malformed('invalid host name');
  return host;
}

export interface ReadClientHelloOptions {
  /** Deadline for the complete hello, from the call; default DEFAULT_CLIENT_HELLO_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Cap on the hello's bytes (records included); default DEFAULT_MAX_CLIENT_HELLO_BYTES. */
  maxBytes?: number;
  /** Reject hellos without a host name with code 'no-sni' (default true). */
  requireServerName?: boolean;
}

export interface ClientHelloRead extends ClientHelloInfo {
  /** Every byte taken from the socket so far (the hello plus anything sent with it), for replay. */
  buffered: Buffer;
}

/**
 * Reads from `socket` until a complete ClientHello has arrived and parses it. Never writes to the socket and
 * never destroys it (the caller closes it on failure). Bytes not yet taken stay in the socket, which is left
 * paused with no listeners or timers of this function attached. Rejects with ClientHelloError only.
 */
export function readClientHello(
  socket: Duplex,
  options: ReadClientHelloOptions = {},
): Promise<ClientHelloRead> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_HELLO_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES;
  const requireServerName = options.requireServerName ?? true;

  return new Promise<ClientHelloRead>((resolve, reject) => {
    let chunks: Buffer[] = [];
    let total = 0;
    let needed = 1;
    let done = false;

    const finish = (error: ClientHelloError | undefined, result?: ClientHelloRead): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error !== undefined) reject(error);
      else if (result !== undefined) resolve(result);
    };
    const closedError = (what: string, cause?: unknown): ClientHelloError =>
      new ClientHelloError(
        'closed',
        `connection ${what} after ${total} bytes, before the hello was complete`,
        {
          cause,
        },
      );

    const examine = (): void => {
      const buffered = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks);
      chunks = [buffered];
      const parsed = parseClientHello(buffered, { maxBytes });
      if (!parsed.complete) {
        needed = parsed.needed;
        return;
      }
      const { complete: _complete, ...info } = parsed;
      if (info.serverName === undefined && requireServerName) {
        throw new ClientHelloError('no-sni', 'the ClientHello names no host (server_name)');
      }
      finish(undefined, { ...info, buffered });
    };

    function onReadable(): void {
      try {
        while (!done) {
          const chunk: unknown = socket.read();
          if (chunk === null) return;
          if (!Buffer.isBuffer(chunk)) throw malformed('stream delivered non-binary data');
          chunks.push(chunk);
          total += chunk.length;
          if (total >= needed) examine();
        }
      } catch (error) {
        finish(error instanceof ClientHelloError ? error : malformed(String(error)));
      }
    }
    function onEnd(): void {
      finish(closedError('ended'));
    }
    function onError(error: Error): void {
      finish(closedError('failed', error));
    }
    function onClose(): void {
      finish(closedError('closed'));
    }
    const timer = setTimeout(() => {
      finish(
        new ClientHelloError('timeout', `no complete ClientHello within ${timeoutMs} ms (${total} bytes)`),
      );
    }, timeoutMs);

    if (socket.destroyed || socket.readableEnded) {
      finish(closedError('already closed'));
      return;
    }
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
