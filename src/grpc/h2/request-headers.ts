/**
 * Server side: what makes a request's header block, or its trailers, malformed beyond the per-field rules
 * the HPACK decoder applies (header-fields.ts): RFC 9113 §8.2.2 (connection-specific fields, TE), §8.3.1
 * (the request pseudo-header fields) and §8.1.1 (content-length). A malformed request is a stream error
 * PROTOCOL_ERROR (streams.ts refuses it with RST_STREAM before the application sees it). Called once per
 * request, without allocating.
 */
import { hasConnectionSpecificField } from './header-fields.js';
import type { DecodedBlock, HeaderMap } from './hpack.js';

/** content-length longer than this many digits is refused (2^53 has 16; no request body comes near). */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * What is wrong with a request's header block (undefined: nothing). Looks fields up by name rather than
 * walking them: the decoder counted the pseudo-header fields and rejected repeated ones, so a count that
 * differs from the known ones present means one it does not know (or a response's :status).
 */
export function requestProblem(block: DecodedBlock): string | undefined {
  const headers = block.headers;
  const method = headers[':method'];
  const scheme = headers[':scheme'];
  const path = headers[':path'];
  const authority = headers[':authority'];
  const known =
    (method === undefined ? 0 : 1) +
    (scheme === undefined ? 0 : 1) +
    (path === undefined ? 0 : 1) +
    (authority === undefined ? 0 : 1);
  if (block.pseudoCount !== known) return 'a pseudo-header field that is not one of a request';
  if (hasConnectionSpecificField(headers)) return 'a connection-specific header field';
  const te = headers['te'];
  if (te !== undefined && te !== 'trailers') return 'te other than "trailers"';
  if (headers['content-length'] !== undefined && contentLength(headers) < 0) {
    return 'content-length is not a number';
  }
  if (!method) return 'no :method';
  if (method === 'CONNECT') {
    // CONNECT names only an authority (§8.5); refused further on (not a gRPC call), but not malformed.
    if (scheme !== undefined || path !== undefined) return 'CONNECT with :scheme or :path';
    return authority ? undefined : 'CONNECT without :authority';
  }
  if (!scheme) return 'no :scheme';
  if (!path) return 'no :path';
  if (path.charCodeAt(0) !== 0x2f && !(path === '*' && method === 'OPTIONS')) return ':path not absolute';
  return undefined;
}

/** What is wrong with trailers (of a request or a response): they end the stream and hold no pseudo-header field (§8.1). */
export function trailersProblem(block: DecodedBlock, endStream: boolean): string | undefined {
  if (!endStream) return 'trailers without END_STREAM';
  return block.pseudoCount > 0 ? 'a pseudo-header field in trailers' : undefined;
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
