/**
 * HTTP plumbing of the private proxy's terminating mode (docs/protocol.md#normal-mode): bounded body reading,
 * removal of hop-by-hop headers, one upstream request with a timeout and a bounded, fully buffered response,
 * and the reply to the client (always `Connection: close`: one request per proxied connection).
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type tls from 'node:tls';
import { CodedError } from '../../core/errors.js';

/** Largest request or response body forwarded (both are buffered). */
export const MAX_FORWARD_BODY_BYTES = 16 * 1024 * 1024;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

export class BodyTooLargeError extends CodedError<'ERR_PROXY_BODY_TOO_LARGE'> {
  constructor(limit: number) {
    super('ERR_PROXY_BODY_TOO_LARGE', `body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export class UpstreamError extends CodedError<'ERR_PROXY_UPSTREAM'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROXY_UPSTREAM', message, options);
    this.name = 'UpstreamError';
  }
}

/** Reads a whole body; rejects with BodyTooLargeError beyond `limit` bytes. */
export function readBody(stream: Readable, limit: number = MAX_FORWARD_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stream.destroy(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
    stream.once('close', () => {
      if (!stream.readableEnded) reject(new UpstreamError('stream closed before the body was complete'));
    });
  });
}

/** End-to-end headers only (hop-by-hop ones and those named in `Connection` removed). */
export function endToEndHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ''),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

export interface UpstreamRequest {
  url: URL;
  method: string;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
  timeoutMs: number;
  /** TLS options for https upstreams. */
  tls?: tls.ConnectionOptions;
}

export interface UpstreamReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends one request on a fresh connection and buffers the response. Rejects with UpstreamError. */
export function requestUpstream(request: UpstreamRequest): Promise<UpstreamReply> {
  const secure = request.url.protocol === 'https:';
  const send = secure ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      request.url,
      {
        method: request.method,
        headers: { ...request.headers, 'content-length': request.body.length },
        agent: false,
        ...(secure ? request.tls : {}),
      },
      (res) => {
        readBody(res).then(
          (body) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body }),
          (error: unknown) =>
            reject(new UpstreamError(`reading the upstream response failed`, { cause: error })),
        );
      },
    );
    const timer = setTimeout(
      () => req.destroy(new UpstreamError(`no upstream response within ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    req.once('close', () => clearTimeout(timer));
    req.once('error', (error) =>
      reject(error instanceof UpstreamError ? error : new UpstreamError(error.message, { cause: error })),
    );
    req.end(request.body);
  });
}

/** Writes a buffered reply to the client and marks the connection for closing. */
export function sendReply(
  res: http.ServerResponse,
  status: number,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
): void {
  if (res.headersSent || res.destroyed) return;
  res.shouldKeepAlive = false;
  res.writeHead(status, { ...headers, 'content-length': body.length, connection: 'close' });
  res.end(body);
}

/** A small JSON reply (errors of the proxy itself). */
export function sendJsonReply(res: http.ServerResponse, status: number, value: unknown): void {
  sendReply(res, status, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(value)));
}
