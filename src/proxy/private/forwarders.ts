/**
 * What the private proxy does with the one HTTP request of a terminated connection
 * (docs/protocol.md#normal-mode): b1) plain HTTP forwarding to
 * `http://<internal_endpoint.address><path>[?query]`; b2) validated JSON-RPC forwarding: only the JSON-RPC
 * path, only valid JSON-RPC 2.0 requests, ids normalised like the EPS gateway does, POSTed to
 * `internal_endpoint.jsonrpc_client.endpoint`, response relayed verbatim. Upstream failures answer 502;
 * bodies beyond the limit 413.
 */
import type http from 'node:http';
import type tls from 'node:tls';
import { logger } from '../../core/log.js';
import { extractRequest } from '../../jsonrpc/extract.js';
import { normaliseId } from '../../jsonrpc/ids.js';
import { sendJson } from '../../jsonrpc/write.js';
import { baseContextOptions, loadTls, type TlsConfig } from '../../tls/options.js';
import {
  BodyTooLargeError,
  endToEndHeaders,
  readBody,
  requestUpstream,
  sendJsonReply,
  sendReply,
  type UpstreamRequest,
} from './http-forwarding.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('private-proxy');

export type RequestForwarder = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

async function relay(res: http.ServerResponse, request: UpstreamRequest): Promise<void> {
  try {
    const reply = await requestUpstream(request);
    sendReply(res, reply.status, endToEndHeaders(reply.headers), reply.body);
  } catch (error) {
    log.warn('upstream request failed', { url: request.url.href, error: errorMessage(error) });
    sendJsonReply(res, 502, { message: 'bad gateway' });
  }
}

async function readOrRefuse(
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<Buffer | undefined> {
  try {
    return await readBody(req);
  } catch (error) {
    if (error instanceof BodyTooLargeError) sendJsonReply(res, 413, { message: 'request body too large' });
    else res.destroy();
    return undefined;
  }
}

/** b1: every path, method, query, header and body re-issued as plain HTTP to `address`. */
export function httpForwarder(address: string, timeoutMs: number): RequestForwarder {
  return async (req, res) => {
    const body = await readOrRefuse(req, res);
    if (body === undefined) return;
    const url = new URL(req.url ?? '/', `http://${address}`);
    await relay(res, {
      url,
      method: req.method ?? 'GET',
      headers: endToEndHeaders(req.headers),
      body,
      timeoutMs,
    });
  };
}

export interface JsonRpcForwarderSettings {
  endpoint: string;
  /** Path accepted from clients (literal). */
  path: string;
  tls?: TlsConfig | undefined;
}

/** b2: validated JSON-RPC forwarding. */
export function jsonRpcForwarder(settings: JsonRpcForwarderSettings, timeoutMs: number): RequestForwarder {
  const url = new URL(settings.endpoint);
  let tlsOptions: tls.ConnectionOptions | undefined;
  if (settings.tls !== undefined) {
    const loaded = loadTls(settings.tls);
    tlsOptions = { ...baseContextOptions(loaded) };
    if (settings.tls.server_name !== undefined) tlsOptions.servername = settings.tls.server_name;
  }
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== settings.path) {
      req.resume();
      sendJsonReply(res, 404, { message: 'not found' });
      return;
    }
    const body = await readOrRefuse(req, res);
    if (body === undefined) return;
    const extracted = extractRequest(req.headers['content-type'], body);
    if (!extracted.ok) {
      res.shouldKeepAlive = false;
      sendJson(res, extracted.status, extracted.body);
      return;
    }
    const { method, params, id } = extracted.request;
    const forwarded = Buffer.from(JSON.stringify({ jsonrpc: '2.0', method, params, id: normaliseId(id) }));
    const headers = { ...endToEndHeaders(req.headers), 'content-type': 'application/json' };
    await relay(res, {
      url,
      method: 'POST',
      headers,
      body: forwarded,
      timeoutMs,
      ...(tlsOptions === undefined ? {} : { tls: tlsOptions }),
    });
  };
}
