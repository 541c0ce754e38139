/** GETs a health endpoint (/healthz, /readyz) of a metrics listener and parses its JSON body. */
import http from 'node:http';
import { waitFor, withDeadline } from './wait.js';
import type { ReadinessReport } from '../../src/metrics/readiness.js';

export interface HealthReply {
  status: number;
  body: ReadinessReport & { uptime_s?: number };
}

export function getHealth(port: number, path: '/healthz' | '/readyz'): Promise<HealthReply> {
  const request = new Promise<HealthReply>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as HealthReply['body'] });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
  });
  return withDeadline(request, { timeoutMs: 5_000, what: `GET ${path}` });
}

/** The named check of a /readyz reply (fails the test when absent). */
export function check(reply: HealthReply, name: string): { ok: boolean; detail: string } {
  const found = reply.body.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check '${name}' in ${JSON.stringify(reply.body)}`);
  return found;
}

/** Polls /readyz until it answers `status` (within 15 s); the last reply. */
export async function readyzUntil(port: number, status: number, what: string): Promise<HealthReply> {
  let last: HealthReply | undefined;
  await waitFor(
    async () => {
      last = await getHealth(port, '/readyz');
      return last.status === status;
    },
    { timeoutMs: 15_000, what, intervalMs: 100 },
  );
  return last!;
}
