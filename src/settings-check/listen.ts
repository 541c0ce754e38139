/**
 * Listen-address checks: every `*bind_address` key must parse as host:port and be bindable. A port already
 * in use is reported as info only, since the check runs beside the node it checks.
 */
import net from 'node:net';
import { parseHostPort, type HostPort } from '../net/host-port.js';
import { findingAt, mapsIn, type CheckContext, type Finding } from './finding.js';

/** Bound on one trial bind. */
export const BIND_TIMEOUT_MS = 2_000;

function tryBind({ host, port }: HostPort): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((done) => {
    const server = net.createServer();
    const timer = setTimeout(() => {
      server.close();
      done(Object.assign(new Error('bind timed out'), { code: 'ETIMEDOUT' }));
    }, BIND_TIMEOUT_MS);
    server.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done(error);
    });
    server.listen({ host: host === '' ? undefined : host, port, exclusive: true }, () => {
      clearTimeout(timer);
      server.close(() => done(undefined));
    });
  });
}

async function checkAddress(
  ctx: CheckContext,
  path: (string | number)[],
  value: string,
): Promise<Finding | undefined> {
  let address: HostPort;
  try {
    address = parseHostPort(value, '');
  } catch (error) {
    return findingAt(ctx, path, 'error', error instanceof Error ? error.message : String(error));
  }
  const error = await tryBind(address);
  if (error === undefined) return undefined;
  if (error.code === 'EADDRINUSE')
    return findingAt(ctx, path, 'info', `${value} is in use (by the running node?)`);
  return findingAt(ctx, path, 'error', `cannot listen on ${value}: ${error.code ?? error.message}`);
}

export async function checkListenAddresses(ctx: CheckContext): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [map, path] of mapsIn(ctx.tree)) {
    for (const [key, value] of Object.entries(map)) {
      if (!key.endsWith('bind_address') || typeof value !== 'string') continue;
      const finding = await checkAddress(ctx, [...path, key], value);
      if (finding !== undefined) findings.push(finding);
    }
  }
  return findings;
}
