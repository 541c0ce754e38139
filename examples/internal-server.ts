/**
 * Example internal service behind the private proxy (`internal-server`)
 * [docs/operations.md#example-services]. POST with a JSON object body → 200 echoing it (keys sorted); POST
 * with anything else → 500; other methods → 200 {"message":"success"}. Environment: IS_BIND_ADDRESS (default
 * localhost:7777, the address private-proxy-1 forwards to), USE_TLS (non-empty: serve TLS with the dev
 * internal-server cert), IS_CERT_DIR (default settings/dev/certs).
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isJsonObject, type JsonValue } from '../src/core/json.js';
import { configureLogging, logger } from '../src/core/log.js';
import { parseHostPort } from '../src/net/host-port.js';

const log = logger('internal-server');
const MAX_BODY = 1024 * 1024;

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isJsonObject(value)) {
    const out: Record<string, JsonValue> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]!);
    return out;
  }
  return value;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function handleInternal(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'POST') {
    req.resume();
    reply(res, 200, { message: 'success' });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    try {
      const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonValue;
      if (!isJsonObject(value)) throw new Error('not an object');
      reply(res, 200, sortKeys(value));
    } catch {
      reply(res, 500, { message: 'internal server error' });
    }
  });
}

export function createInternalServer(useTls: boolean, certDir: string): http.Server {
  if (!useTls) return http.createServer(handleInternal);
  return https.createServer(
    {
      cert: readFileSync(join(certDir, 'internal-server.crt')),
      key: readFileSync(join(certDir, 'internal-server.key')),
      minVersion: 'TLSv1.2',
    },
    handleInternal,
  );
}

const isMain =
  process.argv[1]?.endsWith('internal-server.js') || process.argv[1]?.endsWith('internal-server.ts');
if (isMain) {
  configureLogging({ service: 'IS_' });
  const bind = process.env.IS_BIND_ADDRESS ?? 'localhost:7777';
  const certDir = process.env.IS_CERT_DIR ?? join(process.cwd(), 'settings/dev/certs');
  const server = createInternalServer(Boolean(process.env.USE_TLS), certDir);
  server.requestTimeout = 30_000;
  const { host, port } = parseHostPort(bind);
  server.listen(port, host, () => log.info(`internal server listening on ${bind}`));
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
