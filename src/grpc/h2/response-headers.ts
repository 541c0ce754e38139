/**
 * Client side: what makes a response malformed beyond the per-field rules the HPACK decoder applies
 * (header-fields.ts). RFC 9113 §8.1.1: "Clients MUST NOT accept a malformed response"; it is a stream
 * error PROTOCOL_ERROR. §8.3.2: exactly one :status, three digits; §8.3: no other pseudo-header field, none in trailers; §8.2.2:
 * no connection-specific field; §8.1: informational (1xx) responses never end the stream, trailers
 * always do, and nothing follows them; §8.1.1: content-length matches the DATA. Called once per header
 * block of a response, without walking the fields (the decoder counted the pseudo-header fields and
rejected repeated ones) or allocating.
 */
import { hasConnectionSpecificField } from './header-fields.js';
import type { DecodedBlock } from './hpack.js';
import { contentLength, trailersProblem } from './request-headers.js';
import type { H2Stream } from './stream.js';

/** An informational (1xx) response: skipped, the real one follows. */
export const INTERIM = Symbol('informational response');

/**
 * Checks a header block of a response on `stream` and notes what it started (the final response's
 * headers, its content-length). Returns what is wrong, INTERIM for a 1xx to skip, or undefined.
 */
export function responseBlockProblem(
  stream: H2Stream,
  block: DecodedBlock,
  endStream: boolean,
): string | typeof INTERIM | undefined {
  if (stream.headersReceived) return trailersOfResponseProblem(stream, block, endStream);
  const headers = block.headers;
  const status = headers[':status'];
  if (status === undefined) return 'response without :status';
  if (block.pseudoCount !== 1) return 'a pseudo-header field that is not one of a response';
  if (hasConnectionSpecificField(headers)) return 'a connection-specific header field';
  if (!validStatus(status)) return `invalid :status ${JSON.stringify(status)}`;
  if (status.charCodeAt(0) === 0x31) {
    if (endStream) return 'informational response with END_STREAM';
    // HTTP/2 has no protocol switch (RFC 9113 §8.6).
    if (status === '101') return '101 (Switching Protocols) in HTTP/2';
    return INTERIM;
  }
  stream.headersReceived = true;
  if (headers['content-length'] !== undefined) {
    stream.bodyLeft = contentLength(headers);
    if (stream.bodyLeft < 0) return 'content-length is not a number';
    if (endStream && stream.bodyLeft > 0) return 'DATA does not match content-length';
  }
  return undefined;
}

/** Trailers: as a request's (request-headers.ts), no connection-specific field, the body complete. */
function trailersOfResponseProblem(
  stream: H2Stream,
  block: DecodedBlock,
  endStream: boolean,
): string | undefined {
  const problem = trailersProblem(block, endStream);
  if (problem !== undefined) return problem;
  if (hasConnectionSpecificField(block.headers)) return 'a connection-specific header field in trailers';
  if (stream.bodyLeft > 0) return 'DATA does not match content-length';
  return undefined;
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
