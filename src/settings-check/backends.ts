/**
 * Backend reachability: JSON-RPC backend `endpoint`s (or their HTTP `proxy_url` when one is set: the
 * endpoint is then reached through it), the directory's `endpoints`, Redis `addresses`, and the proxies'
 * targets — the private proxy's `internal_endpoint.address` and `allowed_public_endpoints` (errors), the
 * public proxy's advertised `internal_endpoint` (a warning: it is this proxy's own listener, down while the
 * proxy is) — must accept a TCP connection within CONNECT_TIMEOUT_MS. Only a connect: nothing is sent.
 */
import net from 'node:net';
import { isJsonObject, type JsonObject } from '../core/json.js';
import { parseHostPort, type HostPort } from '../net/host-port.js';
import { DEFAULT_PRIVATE_ENDPOINT_ADDRESS } from '../settings/proxy-schema.js';
import { findingAt, mapsIn, type CheckContext, type Finding, type FindingLevel } from './finding.js';

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

function hostPortTarget(value: string): HostPort | undefined {
  try {
    return parseHostPort(value);
  } catch {
    return undefined;
  }
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
  /** Level of the finding when it cannot be reached (default error), and a hint appended to it. */
  level?: FindingLevel;
  hint?: string;
}

const stringsOf = (list: unknown): [string, number][] =>
  Array.isArray(list)
    ? list.flatMap((text: unknown, index) =>
        typeof text === 'string' ? [[text, index] as [string, number]] : [],
      )
    : [];

/** The targets of a proxy section: the public proxy's advertised internal endpoint, the private one's. */
function proxyTargets(map: JsonObject, path: (string | number)[]): Target[] {
  const out: Target[] = [];
  const internal = map.internal_endpoint;
  if (typeof internal === 'string') {
    out.push({
      path: [...path, 'internal_endpoint'],
      text: internal,
      target: hostPortTarget(internal),
      level: 'warning',
      hint: " (this proxy's advertised internal endpoint: fine while the proxy is not running)",
    });
  } else if (isJsonObject(internal)) {
    const address =
      typeof internal.address === 'string' ? internal.address : DEFAULT_PRIVATE_ENDPOINT_ADDRESS;
    out.push({
      path: [...path, 'internal_endpoint', 'address'],
      text: address,
      target: hostPortTarget(address),
    });
  }
  for (const [text, index] of stringsOf(map.allowed_public_endpoints)) {
    out.push({ path: [...path, 'allowed_public_endpoints', index], text, target: hostPortTarget(text) });
  }
  return out;
}

function targetsOf(ctx: CheckContext): Target[] {
  const out: Target[] = [];
  for (const [map, path] of mapsIn(ctx.tree)) {
    if (typeof map.proxy_url === 'string') {
      out.push({ path: [...path, 'proxy_url'], text: map.proxy_url, target: urlTarget(map.proxy_url) });
    } else if (typeof map.endpoint === 'string') {
      out.push({ path: [...path, 'endpoint'], text: map.endpoint, target: urlTarget(map.endpoint) });
    }
    for (const [text, index] of stringsOf(map.endpoints)) {
      out.push({ path: [...path, 'endpoints', index], text, target: urlTarget(text) });
    }
    for (const [text, index] of stringsOf(map.addresses)) {
      out.push({ path: [...path, 'addresses', index], text, target: redisTarget(text) });
    }
    if (path.length === 1 && (path[0] === 'public' || path[0] === 'private')) {
      out.push(...proxyTargets(map, path));
    }
  }
  return out;
}

export async function checkBackends(ctx: CheckContext): Promise<Finding[]> {
  const results = await Promise.all(
    targetsOf(ctx).map(async ({ path, text, target, level = 'error', hint = '' }) => {
      if (target === undefined) return findingAt(ctx, path, 'error', `cannot parse address ${text}`);
      const failure = await connect(target);
      return failure === undefined
        ? undefined
        : findingAt(ctx, path, level, `${text} unreachable: ${failure}${hint}`);
    }),
  );
  return results.filter((finding): finding is Finding => finding !== undefined);
}
