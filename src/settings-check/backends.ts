/**
 * Backend reachability: JSON-RPC backend `endpoint`s, the directory's `endpoints` and Redis `addresses`
 * must accept a TCP connection within CONNECT_TIMEOUT_MS. Only a connect: nothing is sent.
 */
import net from 'node:net';
import { parseHostPort, type HostPort } from '../net/host-port.js';
import { findingAt, mapsIn, type CheckContext, type Finding } from './finding.js';

export const CONNECT_TIMEOUT_MS = 2_000;
const DEFAULT_REDIS_PORT = 6379;

function connect({ host, port }: HostPort): Promise<string | undefined> {
  return new Promise((done) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
      socket.destroy();
      done(`no answer within ${CONNECT_TIMEOUT_MS} ms`);
    });
    socket.once('connect', () => {
      socket.destroy();
      done(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

function urlTarget(value: string): HostPort | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

function redisTarget(value: string): HostPort | undefined {
  if (value.includes('://')) return urlTarget(value.replace(/^rediss?:/, 'http:'));
  try {
    return /:\d+$/.test(value) ? parseHostPort(value) : { host: value, port: DEFAULT_REDIS_PORT };
  } catch {
    return undefined;
  }
}

interface Target {
  path: (string | number)[];
  text: string;
  target: HostPort | undefined;
}

function targetsOf(ctx: CheckContext): Target[] {
  const out: Target[] = [];
  for (const [map, path] of mapsIn(ctx.tree)) {
    if (typeof map.endpoint === 'string') {
      out.push({ path: [...path, 'endpoint'], text: map.endpoint, target: urlTarget(map.endpoint) });
    }
    for (const [key, parse] of [
      ['endpoints', urlTarget],
      ['addresses', redisTarget],
    ] as const) {
      const list = map[key];
      if (!Array.isArray(list)) continue;
      list.forEach((text, index) => {
        if (typeof text === 'string') out.push({ path: [...path, key, index], text, target: parse(text) });
      });
    }
  }
  return out;
}

export async function checkBackends(ctx: CheckContext): Promise<Finding[]> {
  const results = await Promise.all(
    targetsOf(ctx).map(async ({ path, text, target }) => {
      if (target === undefined) return findingAt(ctx, path, 'error', `cannot parse address ${text}`);
      const failure = await connect(target);
      return failure === undefined
        ? undefined
        : findingAt(ctx, path, 'error', `${text} unreachable: ${failure}`);
    }),
  );
  return results.filter((finding): finding is Finding => finding !== undefined);
}
