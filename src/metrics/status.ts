/**
 * The status page on the metrics listener [docs/status.md]: `/` (a static page), `/status.js` and
 * `/status.css` (its script and style), and `/status.json`, the data the page shows, from the program's
 * status source. The page is read-only and fetches /status.json; a strict Content-Security-Policy allows
 * only these same-origin files, so even a rendering bug cannot run injected script.
 */
import type http from 'node:http';
import { errorMessage } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { STATUS_PAGE_CSS, STATUS_PAGE_HTML } from './status-page.js';
import { STATUS_PAGE_SCRIPT } from './status-script.js';

export type StatusProgram = 'eps' | 'sd' | 'proxy';

/** What a program reports; its fields become /status.json's top-level sections. */
export interface StatusSource {
  program: StatusProgram;
  /** The node's name (eps: operator name; proxy: its operator; sd: "sd"). */
  name: string;
  sections(): Record<string, unknown> | Promise<Record<string, unknown>>;
}

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const STATIC: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML },
  '/index.html': { type: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML },
  '/status.js': { type: 'text/javascript; charset=utf-8', body: STATUS_PAGE_SCRIPT },
  '/status.css': { type: 'text/css; charset=utf-8', body: STATUS_PAGE_CSS },
};

/** The whole /status.json document. */
export async function statusDocument(source: StatusSource): Promise<Record<string, unknown>> {
  return {
    program: source.program,
    name: source.name,
    version: VERSION,
    generated_at: new Date().toISOString(),
    uptime_s: Math.round(process.uptime()),
    ...(await source.sections()),
  };
}

/** Answers the page's paths; false for any other path (the caller answers it). */
export function serveStatus(
  path: string,
  res: http.ServerResponse,
  source: StatusSource | undefined,
): boolean {
  const file = STATIC[path];
  if (file !== undefined) {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': file.type }).end(file.body);
    return true;
  }
  if (path !== '/status.json') return false;
  const json = { ...SECURITY_HEADERS, 'Content-Type': 'application/json' };
  if (source === undefined) {
    res.writeHead(503, json).end(JSON.stringify({ error: 'no status source' }) + '\n');
    return true;
  }
  statusDocument(source).then(
    (doc) => res.writeHead(200, json).end(JSON.stringify(doc) + '\n'),
    (e: unknown) => res.writeHead(500, json).end(JSON.stringify({ error: errorMessage(e) }) + '\n'),
  );
  return true;
}
