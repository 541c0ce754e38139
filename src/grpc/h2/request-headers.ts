/**
 * Server side: what makes a request's header block, or its trailers, malformed beyond the per-field rules
 * the HPACK decoder applies (header-fields.ts): RFC 9113 §8.2.2 (connection-specific fields, TE), §8.3.1
 * (the request pseudo-header fields) and §8.1.1 (content-length). A malformed request is a stream error
 * PROTOCOL_ERROR (streams.ts refuses it with RST_STREAM before the application sees it). Called once per
 * request; walks the decoded fields without allocating.
 */
import type { HeaderMap } from './hpack.js';
import { connectionSpecific, isPseudoHeader } from './header-fields.js';

/** content-length longer than this many digits is refused (2^53 has 16; no request body comes near). */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/** What is wrong with a request's header block (undefined: nothing). */
export function requestProblem(headers: HeaderMap): string | undefined {
  for (const name in headers) {
    if (isPseudoHeader(name)) {
      if (name !== ':method' && name !== ':scheme' && name !== ':path' && name !== ':authority') {
        return `pseudo-header field ${name} is not one of a request`;
      }
      continue;
    }
    if (connectionSpecific(name)) return `connection-specific header field ${name}`;
    switch (name) {
      case 'te':
        if (headers[name] !== 'trailers') return 'te other than "trailers"';
        break;
      case 'content-length':
        if (contentLength(headers) < 0) return 'content-length is not a number';
        break;
    }
  }
  const method = headers[':method'];
  if (!method) return 'no :method';
  if (method === 'CONNECT') {
    // CONNECT names only an authority (§8.5); refused further on (not a gRPC call), but not malformed.
    if (headers[':scheme'] !== undefined || headers[':path'] !== undefined)
      return 'CONNECT with :scheme or :path';
    if (!headers[':authority']) return 'CONNECT without :authority';
    return undefined;
  }
  if (!headers[':scheme']) return 'no :scheme';
  const path = headers[':path'];
  if (!path) return 'no :path';
  if (path.charCodeAt(0) !== 0x2f && !(path === '*' && method === 'OPTIONS')) return ':path not absolute';
  return undefined;
}

/** What is wrong with trailers (either side's): they end the stream and hold no pseudo-header field (§8.1). */
export function trailersProblem(headers: HeaderMap, endStream: boolean): string | undefined {
  if (!endStream) return 'trailers without END_STREAM';
  for (const name in headers) if (isPseudoHeader(name)) return `pseudo-header field ${name} in trailers`;
  return undefined;
}

/** The request's content-length: -1 when absent or not a plain decimal number (a repeated field is not). */
export function contentLength(headers: HeaderMap): number {
  const value = headers['content-length'];
  if (value === undefined || value.length === 0 || value.length > MAX_CONTENT_LENGTH_DIGITS) return -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(value);
}
