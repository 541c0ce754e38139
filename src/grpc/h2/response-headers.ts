/**
 * Client side: what makes a response malformed beyond the per-field rules the HPACK decoder applies
 * (RFC 9113 §8.1.1: "Clients MUST NOT accept a malformed response"; a stream error PROTOCOL_ERROR).
 * §8.3.2: exactly one :status, three digits; §8.3: no other pseudo-header field, none in trailers; §8.2.2:
 * no connection-specific field; §8.1: informational (1xx) responses never end the stream, trailers
 * always do, and nothing follows them; §8.1.1: content-length matches the DATA. Called once per header
 * block of a response, on a handful of fields, without allocating.
 */
import type { HeaderMap } from './hpack.js';
import type { H2Stream } from './stream.js';

/** An informational (1xx) response: skipped, the real one follows. */
export const INTERIM = Symbol('informational response');

/** content-length longer than this many digits is refused (2^53 has 16). */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * Checks a header block of a response on `stream` and notes what it started (the final response's
 * headers, its content-length). Returns what is wrong, INTERIM for a 1xx to skip, or undefined.
 */
export function responseBlockProblem(
  stream: H2Stream,
  headers: HeaderMap,
  endStream: boolean,
): string | typeof INTERIM | undefined {
  if (stream.headersReceived) return trailersProblem(stream, headers, endStream);
  const problem = fieldsProblem(headers);
  if (problem !== undefined) return problem;
  const status = headers[':status'];
  if (status === undefined) return 'response without :status';
  if (!validStatus(status)) return `invalid :status ${JSON.stringify(status)}`;
  if (status.charCodeAt(0) === 0x31) {
    if (endStream) return 'informational response with END_STREAM';
    // HTTP/2 has no protocol switch (RFC 9113 §8.6).
    if (status === '101') return '101 (Switching Protocols) in HTTP/2';
    return INTERIM;
  }
  stream.headersReceived = true;
  const length = headers['content-length'];
  if (length !== undefined) {
    stream.bodyLeft = contentLengthValue(length);
    if (stream.bodyLeft < 0) return 'content-length is not a number';
    if (endStream && stream.bodyLeft > 0) return 'DATA does not match content-length';
  }
  return undefined;
}

/** Trailers: they end the stream, hold no pseudo-header field, and close a body of the declared length. */
function trailersProblem(stream: H2Stream, headers: HeaderMap, endStream: boolean): string | undefined {
  if (!endStream) return 'trailers without END_STREAM';
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a) return `pseudo-header field ${name} in trailers`;
    if (connectionSpecific(name)) return `connection-specific header field ${name}`;
  }
  if (stream.bodyLeft > 0) return 'DATA does not match content-length';
  return undefined;
}

/** Pseudo-header fields other than :status, and connection-specific fields. */
function fieldsProblem(headers: HeaderMap): string | undefined {
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a) {
      if (name !== ':status') return `pseudo-header field ${name} in a response`;
    } else if (connectionSpecific(name)) {
      return `connection-specific header field ${name}`;
    }
  }
  return undefined;
}

/** RFC 9113 §8.2.2: fields of HTTP/1.1 connection management, malformed in HTTP/2. */
export function connectionSpecific(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
      return true;
    default:
      return false;
  }
}

/** Three digits, 100 to 599 (a repeated :status arrives joined with ", " and fails here too). */
function validStatus(status: string): boolean {
  if (status.length !== 3) return false;
  const first = status.charCodeAt(0);
  if (first < 0x31 || first > 0x35) return false;
  return isDigit(status.charCodeAt(1)) && isDigit(status.charCodeAt(2));
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A content-length value: -1 unless a plain decimal number (a repeated field is not). */
function contentLengthValue(value: string): number {
  if (value.length === 0 || value.length > MAX_CONTENT_LENGTH_DIGITS) return -1;
  for (let i = 0; i < value.length; i++) if (!isDigit(value.charCodeAt(i))) return -1;
  return Number(value);
}
