/**
 * `/healthz` and `/readyz` on the metrics listener [docs/operations.md#health-endpoints]. `/healthz` answers
 * 200 whenever the process answers at all (its event loop runs); `/readyz` runs the readiness checks and
 * answers 200 when all pass, 503 otherwise; both with a JSON body.
 */
import type http from 'node:http';
import type { Readiness } from './readiness.js';

const JSON_TYPE = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };

function reply(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, JSON_TYPE).end(JSON.stringify(body) + '\n');
}

/** Answers `/healthz` and `/readyz`; false for any other path (the caller answers it). */
export function serveHealth(
  path: string,
  res: http.ServerResponse,
  readiness: Readiness | undefined,
): boolean {
  if (path === '/healthz') {
    reply(res, 200, { status: 'alive', uptime_s: Math.round(process.uptime()) });
    return true;
  }
  if (path !== '/readyz') return false;
  if (readiness === undefined) {
    reply(res, 503, {
      status: 'not ready',
      checks: [{ name: 'readiness', ok: false, detail: 'not set up' }],
    });
    return true;
  }
  readiness.evaluate().then(
    (report) => reply(res, report.status === 'ready' ? 200 : 503, report),
    (e: Error) => reply(res, 500, { status: 'not ready', error: e.message }),
  );
  return true;
}
